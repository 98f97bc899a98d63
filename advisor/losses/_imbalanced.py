"""Losses for imbalanced regression: Balanced MSE (BMC) and mse / mae with LDS weights.

When the few very large, old or expensive rows are where errors matter, a plain squared
error fits the dense bulk and shrinks the rare region towards it. Two remedies from the
imbalanced-regression literature, both identity-link (the proxy trains them on a
standardised target):

- ``balanced_mse``: Balanced MSE of Ren, Zhang, Zhang & Liu (CVPR 2022), batch-based Monte
  Carlo variant (BMC), which needs no label prior: the batch's own targets stand in for it.
  Row i's loss is ``-2 sigma^2 log softmax_j(-(z_i - y_j)^2 / (2 sigma^2))[i]`` over the
  targets y_j of its batch (the paper's code, scaled by ``2 sigma^2``). Its value depends on
  the whole batch: the proxy's backprop hands one minibatch to :meth:`BalancedMseMath.
  loss_gradient`; a call on more than :data:`BMC_BLOCK_ROWS` rows (validation, evaluation)
  is cut into ``ceil(n / 1000)`` consecutive batches of nearly equal size, so memory stays
  bounded (one 1,000 x 1,000 matrix at a time).
- ``lds_mse`` / ``lds_mae``: squared and absolute error weighted by label distribution
  smoothing (Yang et al., ICML 2021): a row weighs the inverse square root of the smoothed
  label density at its target, normalised to mean 1 over the rows.

The bins, the kernel and its bandwidth come from :mod:`advisor.label_density`, the same as
the facts ``target_density_ratio`` / ``target_rare_share`` and the metric ``balanced_mae``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import label_density as lds
from . import _math
from ._base import ParamSpec
from ._regression import (
    IDENTITY_ACTIVATIONS,
    IDENTITY_VETOES,
    AbsoluteErrorMath,
    NumericMath,
    SquaredErrorMath,
    per_task,
    standardise_note,
)
from ._spec import LossSpec

if TYPE_CHECKING:  # pragma: no cover
    from ..profile import Profile

#: Tasks the imbalanced-regression losses apply to.
IMBALANCED_TASKS = ("regression", "count")
#: Rows of one BMC batch when a call holds more (memory: one block x block matrix at a time).
BMC_BLOCK_ROWS = 1000


def _columns(profile: Profile) -> np.ndarray:
    """The profile's numeric target as ``(n, k)`` floats."""
    y = np.asarray(profile.y, dtype=np.float64)
    return y.reshape(len(y), -1)


def _column_scale(profile: Profile) -> tuple[list[float], list[float]]:
    """Per-column mean and std of the target (std 1 for a constant column), rounded; computed
    on values scaled to [-1, 1], as the profile does, so that no square overflows."""
    y = _columns(profile)
    scale = np.max(np.abs(y), axis=0) if len(y) else np.ones(y.shape[1])
    scale = np.where(scale > 0, scale, 1.0)
    unit = y / scale
    means = [_math.round_sig(float(value)) for value in unit.mean(axis=0) * scale]
    stds = [_math.round_sig(float(value)) or 1.0 for value in unit.std(axis=0) * scale]
    return means, stds


# ----- LDS-weighted squared and absolute error -------------------------------------------------
class LdsWeightedMixin:
    """Per-element LDS weights on an identity-link residual loss (``residual_loss``).

    ``bin_edges`` holds each target column's ``n_bins + 1`` edges one after the other,
    ``bin_weights`` each column's ``n_bins`` weights; a target beyond the edges takes its end
    bin's weight. The weight depends on the target only, so the gradient is the weighted one.
    """

    params: dict[str, Any]
    task: str
    id: str

    def _tables(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        """(edges ``(k, n_bins + 1)``, weights ``(k, n_bins)``) for a ``width``-column target."""
        n_bins = int(self.params["n_bins"])
        edges = np.asarray(self.params["bin_edges"], dtype=np.float64).reshape(-1, n_bins + 1)
        weights = np.asarray(self.params["bin_weights"], dtype=np.float64).reshape(-1, n_bins)
        if edges.shape[0] != width or weights.shape[0] != width:
            raise ValueError(f"{self.id}: LDS tables for {edges.shape[0]} target column(s), "
                             f"the target has {width}; derive the loss on this target")
        return edges, weights

    def lds_weights(self, target: np.ndarray) -> np.ndarray:
        """The LDS weight of every element of ``target`` ``(n, k)``."""
        edges, weights = self._tables(target.shape[1])
        return np.column_stack([weights[column][lds.bin_index(target[:, column], edges[column])]
                                for column in range(target.shape[1])])

    def loss_gradient(self, raw, target):
        residual = np.asarray(raw, dtype=np.float64) - target
        loss, grad = self.residual_loss(residual)
        weights = self.lds_weights(target)
        return (weights * loss).sum(axis=1), weights * grad

    def for_standardized(self, center, scale):
        """The edges move with the target: (edge - center) / scale per column."""
        center = np.asarray(center, dtype=np.float64).reshape(-1, 1)
        scale = np.asarray(scale, dtype=np.float64).reshape(-1, 1)
        edges, _ = self._tables(max(center.shape[0], scale.shape[0]))
        moved = ((edges - center) / scale).ravel()
        return type(self)({**self.params, "bin_edges": moved}, self.task, loss_id=self.id)

    def for_scale(self, scale):
        width = np.size(scale)
        return self.for_standardized(np.zeros(width), np.broadcast_to(scale, (width,)))


class LdsSquaredErrorMath(LdsWeightedMixin, SquaredErrorMath):
    """Half squared error, each element weighted by its LDS weight."""


class LdsAbsoluteErrorMath(LdsWeightedMixin, AbsoluteErrorMath):
    """Absolute error, each element weighted by its LDS weight."""


def derive_lds_weights(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """Per column: the label-density bins and their weights smoothed^-1/2, mean 1 over rows.

    Every column gets the same number of bins (the fewest any column's own rule gives), so
    the tables are rectangular.
    """
    y = _columns(profile)
    power = lds.DEFAULT_WEIGHT_POWER
    n_bins = min(lds.n_bins_for(column) for column in y.T)
    edges, weights = [], []
    for column in y.T:
        column_edges = lds.bin_edges(column, n_bins=n_bins)
        edges.extend(column_edges.tolist())
        weights.extend(lds.label_density(column, column_edges).weights(power).tolist())
    return {"n_bins": n_bins, "bin_edges": edges, "bin_weights": weights, "weight_power": power}


def lds_snippet_values(framework: str, task: str, params: dict[str, Any], profile: Profile) -> dict[str, Any]:
    """Per-column mean and std for the standardised target, and the table shape."""
    means, stds = _column_scale(profile)
    return {**standardise_note(framework, task, params, profile), "means": means, "stds": stds,
            "n_columns": len(means), "absolute": False}


def lds_mae_snippet_values(framework: str, task: str, params: dict[str, Any], profile: Profile) -> dict[str, Any]:
    """As :func:`lds_snippet_values`, for the absolute error."""
    return {**lds_snippet_values(framework, task, params, profile), "absolute": True}


LDS_PARAMS = (
    ParamSpec("n_bins", None, 1, None, "Equal-width label bins per target column: "
              "clip(round(sqrt(n)), 10, 100), at most one per whole number."),
    ParamSpec("bin_edges", None, None, None, "Each target column's n_bins + 1 bin edges in target "
              "units, one column after the other."),
    ParamSpec("bin_weights", None, 0.0, None, "Each column's per-bin LDS weights: smoothed "
              "density^-weight_power, mean 1 over the rows.", closed="neither"),
    ParamSpec("weight_power", lds.DEFAULT_WEIGHT_POWER, 0.0, 1.0, "Exponent of the inverse "
              "density: 1/2 (inverse square root, the paper's default), 1 (inverse)."),
)
_LDS_TEXT = ("Bins: clip(round(sqrt(n)), 10, 100) equal-width bins over the target's range (at "
             "most one per whole number); kernel: Gaussian, sigma = 2 bins, 5 taps (the paper's "
             "defaults); a row's weight is the smoothed density at its target to the power -1/2, "
             "normalised to mean 1 over the rows.")
_LDS_CITATION = ("Yang, Zha, Chen, Wang & Katabi (ICML 2021), Delving into Deep Imbalanced "
                 "Regression (label distribution smoothing)")

LDS_MSE = LossSpec(
    id="lds_mse",
    title="Mean squared error with LDS weights",
    description="mse with LDS weights: half squared error, each row weighted by the inverse square "
                "root of the label density at its target after label distribution smoothing, so "
                "the rare target regions pull as hard as the dense bulk. " + _LDS_TEXT,
    activations=per_task(IMBALANCED_TASKS, IDENTITY_ACTIVATIONS),
    math=LdsSquaredErrorMath,
    formula="w(y) 0.5 (z - y)^2, w(y) = (K * hist)(bin(y))^-1/2 / mean over rows",
    citation=_LDS_CITATION,
    vetoes=IDENTITY_VETOES,
    params=LDS_PARAMS,
    derivation=derive_lds_weights,
    snippet_values=lds_snippet_values,
)

LDS_MAE = LossSpec(
    id="lds_mae",
    title="Mean absolute error with LDS weights",
    description="mae with LDS weights: absolute error, each row weighted by the inverse square root "
                "of the label density at its target after label distribution smoothing. "
                "Subgradient sign(z - y) at the kink, times the weight. " + _LDS_TEXT,
    activations=per_task(IMBALANCED_TASKS, IDENTITY_ACTIVATIONS),
    math=LdsAbsoluteErrorMath,
    formula="w(y) |z - y|, w(y) = (K * hist)(bin(y))^-1/2 / mean over rows",
    citation=_LDS_CITATION,
    vetoes=IDENTITY_VETOES,
    params=LDS_PARAMS,
    derivation=derive_lds_weights,
    snippet_values=lds_mae_snippet_values,
)


# ----- Balanced MSE, batch-based Monte Carlo ---------------------------------------------------
class BalancedMseMath(NumericMath):
    """BMC: each row's prediction classifies its own target among the batch's targets.

    ``noise_sigma`` (one per target column, target units) is the paper's label-noise scale;
    the paper learns it, the proxy keeps it fixed at the data-derived value. Several target
    columns: the sum of the per-column losses.
    """

    standardize_target = True

    def for_scale(self, scale):
        """sigma is in target units: divide it by the scale of a standardised target."""
        sigma = np.asarray(self.params["noise_sigma"], dtype=np.float64) / np.asarray(scale, dtype=np.float64)
        scaled = float(sigma) if sigma.ndim == 0 else sigma
        return type(self)({**self.params, "noise_sigma": scaled}, self.task, loss_id=self.id)

    def loss_gradient(self, raw, target):
        raw = np.asarray(raw, dtype=np.float64)
        sigma = np.broadcast_to(np.asarray(self.params["noise_sigma"], dtype=np.float64), (raw.shape[1],))
        loss, grad = np.zeros(raw.shape[0]), np.zeros_like(raw)
        for rows in _math.row_blocks(raw.shape[0], BMC_BLOCK_ROWS):
            for column in range(raw.shape[1]):
                value, slope = _bmc(raw[rows, column], target[rows, column], float(sigma[column]))
                loss[rows] += value
                grad[rows, column] = slope
        return loss, grad


def _bmc(z: np.ndarray, y: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """One batch's BMC value and gradient for one column (``2 sigma^2`` times the paper's)."""
    noise_var = 2.0 * sigma * sigma
    gap = z[:, None] - y[None, :]
    log_p = _math.log_softmax(-gap * gap / noise_var)
    value = -noise_var * np.diagonal(log_p)
    slope = 2.0 * (z - y) - 2.0 * np.sum(np.exp(log_p) * gap, axis=1)
    return value, slope


def derive_noise_sigma(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """sigma = the LDS kernel's bandwidth (2 bins of :mod:`advisor.label_density`), per column.

    The label noise is unknown before training; the smoothing bandwidth is the scale on which
    the label density is already taken to be smooth, in target units.
    """
    sigmas = [lds.label_density(column).kernel_bandwidth for column in _columns(profile).T]
    return {"noise_sigma": sigmas[0] if len(sigmas) == 1 else sigmas,
            "noise_sigma_source": "the LDS kernel bandwidth: 2 label bins"}


def bmc_snippet_values(framework: str, task: str, params: dict[str, Any], profile: Profile) -> dict[str, Any]:
    """sigma per column in target units, and the std that standardises it."""
    sigma = params["noise_sigma"]
    _, stds = _column_scale(profile)
    return {**standardise_note(framework, task, params, profile),
            "sigmas": sigma if isinstance(sigma, list) else [sigma], "stds": stds}


BALANCED_MSE = LossSpec(
    id="balanced_mse",
    title="Balanced MSE (batch-based Monte Carlo)",
    description="Balanced MSE (BMC): the squared error made balanced across the target's range by "
                "a likelihood whose label prior is the batch's own targets: each prediction must "
                "pick its own target out of the batch's, so the dense region stops pulling the "
                "rare ones towards it. noise_sigma = the LDS kernel bandwidth (2 label bins, "
                "target units); the paper learns sigma, the proxy keeps it fixed. Depends on the "
                "batch: calls on more than 1,000 rows are split into batches of at most 1,000.",
    activations=per_task(IMBALANCED_TASKS, IDENTITY_ACTIVATIONS),
    math=BalancedMseMath,
    formula="-2 sigma^2 log softmax_j(-(z_i - y_j)^2 / (2 sigma^2))[j = i], j over the batch",
    citation=("Ren, Zhang, Zhang & Liu (CVPR 2022), Balanced MSE for Imbalanced Visual "
              "Regression (batch-based Monte Carlo, BMC)"),
    vetoes=IDENTITY_VETOES,
    params=(ParamSpec("noise_sigma", 1.0, 0.0, None, "Label-noise scale in target units: the LDS "
                      "kernel bandwidth (2 label bins).", closed="neither"),),
    derivation=derive_noise_sigma,
    snippet_values=bmc_snippet_values,
)
