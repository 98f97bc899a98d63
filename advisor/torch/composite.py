"""The composite loss of a multitask recommendation as one ``torch.nn.Module``.

``rec.best.to_torch()`` on a multitask result returns :class:`CompositeLoss`: the targets'
own loss objects (:func:`advisor.torch.make_loss`, one per target) applied to their blocks
of the network's concatenated outputs, summed with the weighting's weights:

- ``fixed``: ``w_t = 1 / L_t(0)`` (the losses at the start, from the experiment), a buffer;
- ``uncertainty`` (Kendall et al., CVPR 2018): ``sum_t exp(-s_t) L_t + s_t`` with the log
  variances ``s_t`` an ``nn.Parameter`` (started at ``log L_t(0)``): train them with the
  network;
- ``gradnorm`` (Chen et al., ICML 2018): learnable task weights, an ``nn.Parameter``, trained
  by :meth:`CompositeLoss.gradnorm_loss` on their own optimizer and renormalised to sum to
  the number of targets after each step (:meth:`CompositeLoss.renormalize`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..composite.math import GRADNORM_ALPHA  # one constant for the experiment and the objects


class CompositeLoss(torch.nn.Module):
    """The weighted sum of per-target loss objects over concatenated outputs."""

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__()
        from . import make_loss

        self.weighting = str(params["weighting"])
        targets = params["targets"]
        self.columns = tuple(str(item["column"]) for item in targets)
        self.parts = torch.nn.ModuleList(make_loss(item["loss"], item["params"], item["task"])
                                         for item in targets)
        edges = [0]
        for item in targets:
            edges.append(edges[-1] + int(item["outputs"]))
        self.edges = tuple(edges)
        initial = torch.as_tensor(params.get("initial_losses") or [1.0] * len(targets),
                                  dtype=torch.float64)
        initial = torch.where(initial > 1e-8, initial, torch.ones_like(initial))
        self.register_buffer("initial_losses", initial)
        if self.weighting == "uncertainty":
            self.log_vars = torch.nn.Parameter(torch.log(initial))
        elif self.weighting == "gradnorm":
            self.task_weights = torch.nn.Parameter(torch.ones(len(targets), dtype=torch.float64))
        elif self.weighting != "fixed":
            raise ValueError(f"weighting must be fixed, uncertainty or gradnorm; got {self.weighting!r}")

    def weights(self) -> torch.Tensor:
        """Each target's current weight."""
        initial: torch.Tensor = self.initial_losses  # type: ignore[assignment]
        if self.weighting == "uncertainty":
            return torch.exp(-self.log_vars)
        if self.weighting == "gradnorm":
            return self.task_weights / initial
        return torch.reciprocal(initial)

    def part_losses(self, outputs: torch.Tensor, targets: Any) -> torch.Tensor:
        """Each target's own (unweighted) mean loss, shape ``(n_targets,)``.

        ``targets``: one tensor per target (a sequence), or a 2-D tensor with one column per
        target in the order of :attr:`columns`."""
        values = []
        for index, part in enumerate(self.parts):
            target = targets[index] if isinstance(targets, Sequence) else targets[:, index]
            values.append(part(outputs[:, self.edges[index]:self.edges[index + 1]], target))
        return torch.stack(values)

    def forward(self, outputs: torch.Tensor, targets: Any) -> torch.Tensor:
        losses = self.part_losses(outputs, targets)
        value = torch.sum(self.weights().to(losses.dtype) * losses)
        if self.weighting == "uncertainty":
            value = value + torch.sum(self.log_vars).to(losses.dtype)
        return value

    def gradnorm_loss(self, losses: torch.Tensor, shared: torch.Tensor,
                      alpha: float = GRADNORM_ALPHA) -> torch.Tensor:
        """GradNorm's loss for the task weights: the L1 distance of each task's gradient norm
        at the ``shared`` layer's weight from the mean norm times the task's relative inverse
        training rate to the power ``alpha`` (the target is held constant)."""
        weights = self.weights().to(losses.dtype)
        norms = torch.stack([
            torch.linalg.vector_norm(torch.autograd.grad(weights[index] * losses[index], shared,
                                                         retain_graph=True, create_graph=True)[0])
            for index in range(len(losses))])
        initial: torch.Tensor = self.initial_losses  # type: ignore[assignment]
        ratio = (losses / initial.to(losses.dtype)).detach()
        target = (norms.mean() * (ratio / ratio.mean()) ** alpha).detach()
        return torch.sum(torch.abs(norms - target))

    @torch.no_grad()
    def renormalize(self) -> None:
        """GradNorm's weights back to summing to the number of targets."""
        if self.weighting == "gradnorm":
            self.task_weights.mul_(len(self.parts) / self.task_weights.sum())

    def extra_repr(self) -> str:
        return f"weighting={self.weighting}, targets={', '.join(self.columns)}"
