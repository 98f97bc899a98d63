"""The composite loss of a multitask recommendation as one Keras 3 layer.

``rec.best.to_keras()`` on a multitask result (and :func:`advisor.keras.load_loss` on its
saved JSON) returns :class:`CompositeLoss`: each target's own loss (the catalog formula of
:class:`advisor.keras.AdvisorLoss`, on ``keras.ops``) on its block of the network's
concatenated outputs, summed with the weighting's weights, exactly as
:class:`advisor.torch.composite.CompositeLoss` does:

- ``fixed``: ``sum_t L_t / L_t(0)``, the starting losses ``L_t(0)`` from the experiment, as
  constants;
- ``uncertainty`` (Kendall, Gal & Cipolla, CVPR 2018): ``sum_t exp(-s_t) L_t + s_t`` with the
  log variances ``s_t`` trainable weights of the layer, started at ``log L_t(0)``.

**Why a layer.** A ``keras.losses.Loss`` holds no trainable weights (the optimizer trains the
model's variables only), and Kendall's log variances must train with the network. The
idiomatic Keras 3 way is the endpoint layer: the layer holds the ``s_t``, computes the loss
from the targets and the outputs and hands it to Keras with ``add_loss``; the model takes
the targets as a second input and compiles without ``loss=``::

    composite = rec.best.to_keras()          # or advisor.keras.load_loss("rec.json")
    features = keras.Input((n_features,))
    targets = keras.Input((n_targets,))      # one column per target, in composite.columns order
    outputs = keras.layers.Dense(composite.n_outputs)(keras.layers.Dense(64, activation="relu")(features))
    model = keras.Model([features, targets], composite(targets, outputs))
    model.compile(optimizer="adam")          # the layer adds the loss
    model.fit([X, Y], epochs=20)

The layer returns the outputs unchanged, so the trained model predicts as usual (feed any
``Y`` of the right shape, or rebuild ``keras.Model(features, outputs)`` for inference). The
fixed weighting uses the same layer (it has no weights then).

**GradNorm is refused.** GradNorm (Chen et al., ICML 2018) differentiates each target's
gradient norm at a shared layer with respect to the task weights inside the training step:
a second-order, per-task gradient that ``keras.ops`` does not offer across backends (it needs
``tf.GradientTape``, ``jax.grad`` or ``torch.autograd`` by name). The error says to train that
weighting with ``rec.best.to_torch()`` (or the PyTorch snippet), or to pick the fixed or
uncertainty candidate for Keras.
"""

from __future__ import annotations

import math
from typing import Any

import keras

from ..composite.math import LOSS_FLOOR
from ..errors import OptionError
from ..frameworks import LossSetting, loss_setting

__all__ = ["CompositeLoss", "KERAS_WEIGHTINGS"]

#: The weightings Keras builds (GradNorm needs per-task gradients Keras 3 has no
#: backend-agnostic API for: see the module).
KERAS_WEIGHTINGS = ("fixed", "uncertainty")


@keras.saving.register_keras_serializable(package="advisor")
class CompositeLoss(keras.layers.Layer):
    """The weighted sum of per-target catalog losses over concatenated outputs, added to the
    model with ``add_loss`` (see the module). ``params``: a multitask candidate's ``params``;
    other keyword arguments go to ``keras.layers.Layer`` (``name``, ``dtype``)."""

    def __init__(self, params: dict[str, Any], **options: Any) -> None:
        super().__init__(**options)
        weighting = str(params.get("weighting"))
        if weighting == "gradnorm":
            raise OptionError("Keras composite weighting", weighting, KERAS_WEIGHTINGS,
                              hint="GradNorm needs per-task gradients Keras 3 has no "
                                   "backend-agnostic API for: use rec.best.to_torch() (or the "
                                   "PyTorch snippet), or the fixed or uncertainty candidate")
        if weighting not in KERAS_WEIGHTINGS:
            raise OptionError("Keras composite weighting", weighting, KERAS_WEIGHTINGS)
        self.composite_params = dict(params)
        self.weighting = weighting
        targets = params["targets"]
        self.columns = tuple(str(item["column"]) for item in targets)
        self.settings: tuple[LossSetting, ...] = tuple(
            loss_setting(item["loss"], item["params"], item["task"]) for item in targets)
        edges = [0]
        for item in targets:
            edges.append(edges[-1] + int(item["outputs"]))
        self.edges = tuple(edges)
        self.n_outputs = edges[-1]
        initial = params.get("initial_losses") or [1.0] * len(targets)
        # as the torch object: a starting loss that is not positive counts as 1
        self.initial_losses = tuple(float(value) if value > LOSS_FLOOR else 1.0 for value in initial)
        if weighting == "uncertainty":
            self.log_vars = self.add_weight(
                shape=(len(targets),), name="log_vars", trainable=True,
                initializer=keras.initializers.Constant([math.log(v) for v in self.initial_losses]))

    def loss_weights(self) -> Any:
        """Each target's current weight: ``1 / L_t(0)`` (fixed) or ``exp(-s_t)`` (uncertainty)."""
        if self.weighting == "uncertainty":
            return keras.ops.exp(-self.log_vars)
        return keras.ops.convert_to_tensor([1.0 / value for value in self.initial_losses],
                                           dtype=self.compute_dtype)

    def part_losses(self, y_true: Any, y_pred: Any) -> Any:
        """Each target's own (unweighted) mean loss, shape ``(n_targets,)``; ``y_true`` has one
        column per target (in :attr:`columns` order), ``y_pred`` the concatenated raw outputs."""
        from . import OPS

        y_pred = keras.ops.convert_to_tensor(y_pred, dtype=self.compute_dtype)
        y_true = keras.ops.convert_to_tensor(y_true, dtype=self.compute_dtype)
        values = []
        for index, setting in enumerate(self.settings):
            block = y_pred[:, self.edges[index]:self.edges[index + 1]]
            rows = setting.formula(OPS, block, y_true[:, index], setting.params, setting.task)
            # sum / count, not ops.mean: the torch backend's mean loses float64 precision
            count = keras.ops.cast(keras.ops.shape(rows)[0], rows.dtype)
            values.append(keras.ops.sum(rows) / count)
        return keras.ops.stack(values)

    def composite_value(self, y_true: Any, y_pred: Any) -> Any:
        """The combined loss: ``sum_t w_t L_t`` (``+ sum_t s_t`` for uncertainty)."""
        losses = self.part_losses(y_true, y_pred)
        value = keras.ops.sum(keras.ops.cast(self.loss_weights(), losses.dtype) * losses)
        if self.weighting == "uncertainty":
            value = value + keras.ops.cast(keras.ops.sum(self.log_vars), losses.dtype)
        return value

    def call(self, y_true: Any, y_pred: Any) -> Any:
        """Add the combined loss to the model (``add_loss``); the outputs pass through."""
        self.add_loss(self.composite_value(y_true, y_pred))
        return y_pred

    def compute_output_shape(self, y_true_shape: Any, y_pred_shape: Any) -> Any:
        return y_pred_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "params": self.composite_params}

    def __repr__(self) -> str:
        return (f"<advisor.keras.CompositeLoss weighting={self.weighting}, "
                f"targets={', '.join(self.columns)}>")
