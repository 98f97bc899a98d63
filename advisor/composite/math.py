"""The composite loss of a multitask network: one head block per target, one weighted sum.

The network's last layer concatenates each target's raw outputs (target ``t`` owns the
columns of its own loss's width); the composite's per-row value is ``sum_t w_t l_t`` and its
raw gradient the concatenation of ``w_t dl_t/draw_t``, so scikit-learn's backward pass through
the shared hidden layers sums the targets' gradients. The weights come from the weighting:

- ``fixed``: ``w_t = 1 / L_t(0)``, the loss of the constant best prediction (the output bias
  the loss starts from, :meth:`LossMath.init_bias`), so every target starts at 1;
- ``uncertainty`` (Kendall, Gal & Cipolla, CVPR 2018): the objective is
  ``sum_t exp(-s_t) L_t + s_t`` with learnable log variances ``s_t``. For a fixed network its
  optimum in ``s_t`` is ``s_t = log L_t`` (the derivative ``-exp(-s_t) L_t + 1`` is zero
  there), so the proxy fits ``s_t`` in closed form once per epoch from the per-target mean
  training losses: ``w_t = exp(-s_t) = 1 / L_t``, and the value carries ``+ sum_t s_t``;
- ``gradnorm`` (Chen et al., ICML 2018): ``w_t = a_t / L_t(0)`` with task weights ``a_t``
  (summing to the number of targets, starting at 1) that balance the targets' gradient norms
  at the last shared layer against their training rates; the proxy sets them between epochs
  from per-target gradients it computes from the fitted network (:mod:`.gradnorm`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..losses._base import LossMath

WEIGHTINGS: tuple[str, ...] = ("fixed", "uncertainty", "gradnorm")
#: Weightings the proxy experiment trains: all of them.
TRAINED_WEIGHTINGS: tuple[str, ...] = WEIGHTINGS
#: GradNorm's asymmetry: how strongly slower-training targets are pushed (Chen et al. use
#: 1.5 in their NYUv2 experiments). The experiment and the loss objects share it.
GRADNORM_ALPHA = 1.5
#: Per-target losses at or below this are not divided by (a perfect or negative-valued loss).
LOSS_FLOOR = 1e-8


class CompositeMath(LossMath):
    """The weighted sum of per-target losses over concatenated outputs (see the module)."""

    def __init__(self, parts: Sequence[LossMath], widths: Sequence[int],
                 weights: Sequence[float] | None = None, log_variances: Sequence[float] | None = None) -> None:
        super().__init__({}, "multitask", loss_id="composite")
        self.parts = tuple(parts)
        self.widths = tuple(int(width) for width in widths)
        self.edges = np.concatenate([[0], np.cumsum(self.widths)]).astype(int)
        self.weights = np.ones(len(self.parts)) if weights is None else np.asarray(weights, float)
        self.log_variances = (None if log_variances is None
                              else np.asarray(log_variances, dtype=np.float64))

    def n_outputs(self, profile: object = None) -> int:
        return int(self.edges[-1])

    def columns(self, index: int) -> slice:
        """The output (and encoded target) columns of target ``index``."""
        return slice(int(self.edges[index]), int(self.edges[index + 1]))

    def part_values(self, raw: np.ndarray, target: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each target's unweighted per-row loss and raw gradient."""
        return [part.loss_gradient(raw[:, self.columns(index)], target[:, self.columns(index)])
                for index, part in enumerate(self.parts)]

    def part_means(self, raw: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Each target's mean unweighted loss."""
        return np.array([float(np.mean(values)) for values, _ in self.part_values(raw, target)])

    def loss_gradient(self, raw: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values = np.zeros(len(raw))
        grads = []
        for weight, (part_value, part_grad) in zip(self.weights, self.part_values(raw, target)):
            values = values + weight * part_value
            grads.append(weight * part_grad)
        if self.log_variances is not None:
            values = values + float(np.sum(self.log_variances))
        return values, np.hstack(grads)

    def init_bias(self, target: np.ndarray) -> np.ndarray:
        biases = []
        for index, part in enumerate(self.parts):
            bias = part.init_bias(target[:, self.columns(index)])
            width = self.widths[index]
            biases.append(np.zeros(width) if bias is None
                          else np.broadcast_to(np.asarray(bias, dtype=np.float64), (width,)))
        return np.concatenate(biases)

    def constant_raw(self, target: np.ndarray) -> np.ndarray:
        """The raw outputs of the network before training: the starting bias on every row."""
        return np.tile(self.init_bias(target), (len(target), 1))

    def set_uncertainty(self, means: np.ndarray) -> None:
        """Kendall's log variances at their closed-form optimum ``s_t = log L_t``."""
        self.log_variances = np.log(np.maximum(means, LOSS_FLOOR))
        self.weights = np.exp(-self.log_variances)

    def set_gradnorm(self, task_weights: np.ndarray, start: np.ndarray) -> None:
        """GradNorm's weights ``a_t / L_t(0)`` for task weights ``a_t`` (:mod:`.gradnorm`)."""
        self.task_weights = np.asarray(task_weights, dtype=np.float64)
        self.weights = self.task_weights * fixed_weights(start)


def fixed_weights(means: np.ndarray) -> np.ndarray:
    """``1 / L_t(0)``; a weight of 1 where the starting loss is not positive and finite."""
    usable = np.isfinite(means) & (means > LOSS_FLOOR)
    return np.where(usable, 1.0 / np.where(usable, means, 1.0), 1.0)
