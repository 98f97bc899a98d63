"""The composite's code to paste: each target's loss from the catalog's template, then the
weighted combination, in PyTorch or Keras 3.

The combinations start where the loss objects (:mod:`advisor.torch.composite`,
:mod:`advisor.keras.composite`) start, with the experiment's starting losses ``L_t(0)`` when
it ran (1 otherwise, marked to replace): ``fixed`` weights ``1 / L_t(0)``; ``uncertainty``
log variances ``log L_t(0)``; ``gradnorm`` task weights 1 on ``L_t / L_t(0)``, with
GradNorm's step (Chen et al., ICML 2018) in PyTorch. Keras has no backend-agnostic per-task
gradient, so its GradNorm snippet says to train that weighting in PyTorch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .math import GRADNORM_ALPHA

#: Kendall's optimum is s_t = log L_t: the learned weights follow each loss's level, so a
#: template that drops a constant of y (the Tweedie and Poisson ones do) learns other weights
#: than the loss objects, which keep it (and a loss that can go negative has no optimum).
LEVEL_NOTE = ("# the learned weights follow each loss's level (s_t -> log L_t): a template above that\n"
              "# drops a constant of y learns other weights than rec.best.to_torch() / to_keras()")


def composite_snippet(framework: str, weighting: str, planned: list[dict[str, Any]],
                      formula: str, initial: Sequence[float] | None = None) -> str:
    """Code to paste: each target's loss from the catalog's template, then the combination."""
    from ..losses import CATALOG
    from . import identifier

    blocks, names, spans, start = [], [], [], 0
    for item in planned:
        profile = item["part"].profile
        text = CATALOG[item["loss"]].snippet(framework, item["params"], profile)
        if "loss_fn" in text:
            name = f"loss_fn_{identifier(item['part'].column)}"
            text = text.replace("loss_fn", name)
        else:  # the template defines its loss as a function: call that one
            found = re.search(r"^def (\w+)\(", text, flags=re.MULTILINE)
            name = found.group(1) if found else "loss_fn"
        text = "\n".join(line for line in text.splitlines()
                         if not line.startswith("model.compile"))
        blocks.append(f"# ----- target {item['part'].column!r} -----\n{text}")
        names.append(name)
        spans.append((start, start + item["outputs"]))
        start += item["outputs"]
    heads = ", ".join(f"{item['part'].column!r} [:, {low}:{high}]"
                      for item, (low, high) in zip(planned, spans))
    header = (f"# loss-advisor: composite loss of {len(planned)} targets, {weighting} weighting: "
              f"{formula}\n# Output layer: the targets' heads concatenated: {heads}\n")
    known = initial is not None
    losses0 = "[" + ", ".join(f"{value:.6g}" for value in (initial or [1.0] * len(names))) + "]"
    note = ("  # L_t(0): each target's loss at the start, from the experiment" if known else
            "  # L_t(0): replace by each target's loss at the start (the constant best prediction)")
    if framework == "keras":
        combine = _keras_combine(weighting, names, spans, losses0, note)
    else:
        combine = _torch_combine(weighting, names, spans, losses0, note)
    return header + "\n\n".join(blocks) + "\n\n" + combine


def _torch_combine(weighting: str, names: list[str], spans: list[tuple[int, int]],
                   losses0: str, note: str) -> str:
    calls = ", ".join(f"{name}(outputs[:, {low}:{high}], targets[{index}])"
                      for index, (name, (low, high)) in enumerate(zip(names, spans)))
    parts = ("import torch\nfrom torch import nn\n\n"
             f"initial = torch.tensor({losses0}){note}\n\n"
             "def part_losses(outputs, targets):\n"
             "    \"\"\"Each target's own mean loss on its block of the outputs.\"\"\"\n"
             f"    return torch.stack([{calls}])\n\n")
    if weighting == "uncertainty":
        return parts + (f"{LEVEL_NOTE}\n"
                        "log_vars = nn.Parameter(torch.log(initial))  # s_t: give them to the optimizer\n\n"
                        "def composite_loss(outputs, targets):\n"
                        "    return torch.sum(torch.exp(-log_vars) * part_losses(outputs, targets) + log_vars)\n")
    if weighting == "fixed":
        return parts + ("def composite_loss(outputs, targets):\n"
                        "    return torch.sum(part_losses(outputs, targets) / initial)\n")
    return parts + (
        f"task_weights = nn.Parameter(torch.ones({len(names)}))  # GradNorm's a_t, on their own optimizer\n"
        "weight_optimizer = torch.optim.Adam([task_weights], lr=0.025)\n"
        f"ALPHA = {GRADNORM_ALPHA}  # GradNorm's asymmetry\n\n"
        "def composite_loss(losses):\n"
        "    return torch.sum(task_weights / initial * losses)\n\n"
        "def gradnorm_loss(losses, shared_weight):\n"
        "    \"\"\"Chen et al. 2018: each target's gradient norm at the last shared layer's weight,\n"
        "    pulled to the mean norm times its relative inverse training rate ** ALPHA.\"\"\"\n"
        "    weighted = task_weights / initial * losses\n"
        "    norms = torch.stack([torch.linalg.vector_norm(torch.autograd.grad(\n"
        "        weighted[t], shared_weight, retain_graph=True, create_graph=True)[0])\n"
        "        for t in range(len(losses))])\n"
        "    rate = (losses / initial).detach()\n"
        "    target = (norms.mean() * (rate / rate.mean()) ** ALPHA).detach()\n"
        "    return torch.sum(torch.abs(norms - target))\n\n"
        "# one training step (shared_weight: e.g. model.hidden[-1].weight):\n"
        "# losses = part_losses(model(x), targets)\n"
        "# (weight_grad,) = torch.autograd.grad(gradnorm_loss(losses, shared_weight), task_weights,\n"
        "#                                     retain_graph=True)\n"
        "# optimizer.zero_grad(); composite_loss(losses).backward(); optimizer.step()\n"
        "# task_weights.grad = weight_grad; weight_optimizer.step()\n"
        "# with torch.no_grad(): task_weights.mul_(len(task_weights) / task_weights.sum())\n")


def _keras_combine(weighting: str, names: list[str], spans: list[tuple[int, int]],
                   losses0: str, note: str) -> str:
    if weighting == "fixed":
        return ("# Keras: one output per target; model.compile sums the losses with loss_weights\n"
                f"initial = {losses0}{note}\n"
                f"model.compile(optimizer=\"adam\", loss=[{', '.join(names)}],\n"
                "              loss_weights=[1.0 / value for value in initial])\n")
    if weighting == "gradnorm":
        return ("# GradNorm needs each target's gradient at the shared layer inside the training step,\n"
                "# which Keras 3 has no backend-agnostic API for: train this weighting in PyTorch\n"
                "# (the PyTorch snippet, or rec.best.to_torch()), or use the fixed or uncertainty\n"
                "# weighting in Keras.\n")
    calls = ", ".join(f"ops.mean({name}(targets[:, {index}:{index + 1}], outputs[:, {low}:{high}]))"
                      for index, (name, (low, high)) in enumerate(zip(names, spans)))
    return ("import math\n\nimport keras\nfrom keras import ops\n\n"
            f"initial = {losses0}{note}\n{LEVEL_NOTE}\n\n\n"
            "class UncertaintyWeighting(keras.layers.Layer):\n"
            "    \"\"\"Kendall et al. 2018: sum_t exp(-s_t) L_t + s_t, the log variances s_t trained with\n"
            "    the network. A Keras loss holds no weights: this layer holds them and adds the\n"
            "    loss (add_loss); it returns the outputs unchanged.\"\"\"\n\n"
            "    def build(self, input_shape):\n"
            "        self.log_vars = self.add_weight(shape=(len(initial),), name=\"log_vars\",\n"
            "            initializer=keras.initializers.Constant([math.log(value) for value in initial]))\n\n"
            "    def call(self, targets, outputs):\n"
            f"        losses = ops.stack([{calls}])\n"
            "        self.add_loss(ops.sum(ops.exp(-self.log_vars) * losses + self.log_vars))\n"
            "        return outputs\n\n\n"
            "# features = keras.Input((n_features,)); targets = keras.Input((n_targets,))  # one column per target\n"
            "# outputs = keras.layers.Dense(n_outputs)(keras.layers.Dense(64, activation=\"relu\")(features))\n"
            "# model = keras.Model([features, targets], UncertaintyWeighting()(targets, outputs))\n"
            "# model.compile(optimizer=\"adam\"); model.fit([X, Y], epochs=...)  # no loss=: the layer adds it\n")
