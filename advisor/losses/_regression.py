"""Regression losses on the identity link: squared, absolute, Huber, log-cosh and quantile.

They let the proxy train on a standardised target (:attr:`LossMath.standardize_target`).
Also the shared machinery of every loss on numeric targets (:class:`NumericMath`); the
log-scale losses and deviances live in ``_deviance``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _math
from ._activation import (
    NONNEGATIVE_OUTPUT_NEGATIVE_TARGET,
    SIGMOID_ON_EXCLUSIVE_CLASSES,
    SIGMOID_TARGET_OUTSIDE_UNIT_INTERVAL,
    SOFTMAX_READS_CLASS_PROBABILITIES,
    TANH_TARGET_OUTSIDE_RANGE,
    Veto,
)
from ._base import LossMath, ParamSpec
from ._snippets import num
from ._spec import LossSpec

if TYPE_CHECKING:  # pragma: no cover
    from ..profile import Profile


NOT_A_NUMBER = Veto(SOFTMAX_READS_CLASS_PROBABILITIES, "a softmax output sums to one across its "
                                                       "units and cannot predict a numeric value")
OUTSIDE_THE_SIGMOID = Veto(SIGMOID_TARGET_OUTSIDE_UNIT_INTERVAL, "a sigmoid output lies in (0, 1) but "
                                                                 "the target spans [{target_min:g}, {target_max:g}]")
#: Any activation whose range holds the target can feed an identity link.
IDENTITY_VETOES: tuple[Veto, ...] = (
    NOT_A_NUMBER,
    Veto(SIGMOID_ON_EXCLUSIVE_CLASSES,
         "the level ranks run from 0 to {n_classes:.0f} - 1, beyond a sigmoid's (0, 1)"),
    OUTSIDE_THE_SIGMOID,
    Veto(TANH_TARGET_OUTSIDE_RANGE, "a tanh output lies in (-1, 1) but the target does not"),
    Veto(NONNEGATIVE_OUTPUT_NEGATIVE_TARGET,
         "a {activation} output is never negative but the target goes down to {target_min:g}"),
)


def _n_targets(profile: Profile) -> int:
    """Target columns of a numeric profile (1, or k for multi-output regression)."""
    y = np.asarray(profile.y)
    return int(y.shape[1]) if y.ndim == 2 else 1


def _as_values(raw: np.ndarray) -> np.ndarray:
    """(n,) for a single output, (n, k) otherwise."""
    return raw[:, 0] if raw.shape[1] == 1 else raw


def _facts_number(profile: Profile, name: str, default: float = 0.0) -> float:
    """A numeric fact as a finite float (``default`` when missing or not finite)."""
    value = profile.facts.get(name, default)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return default
    return value if math.isfinite(value) else default


#: Any activation whose range holds the target can feed an identity link; the vetoes rule
#: out the pairs whose range the target leaves. On ordinal levels a sigmoid never fits.
IDENTITY_ACTIVATIONS = frozenset({"linear", "relu", "softplus", "sigmoid", "tanh", "exp"})


def per_task(tasks: tuple[str, ...], activations: frozenset[str]) -> dict[str, frozenset[str]]:
    """The activations a numeric loss sits on, per task (a sigmoid never on ordinal levels)."""
    return {task: activations - ({"sigmoid"} if task == "ordinal" else set()) for task in tasks}


class NumericMath(LossMath):
    """Shared width, encoding and prediction of the losses on numeric targets."""

    def n_outputs(self, profile):
        return _n_targets(profile)

    def encode_target(self, y, profile):
        y = np.asarray(y, dtype=np.float64)
        self.check_target_range(y)
        return y.reshape(len(y), -1)

    def predict(self, raw):
        return _as_values(self.link.inverse(raw))


class IdentityMath(NumericMath):
    """Identity-link loss on r = raw - target; subclasses give the value and gradient in r.

    ``mse`` and ``mae`` also serve ordinal targets: they then regress the class index, and
    :meth:`predict` returns class probabilities that put the mass on the two levels around
    the clipped prediction (their expectation is the prediction), so the argmax is the
    nearest level. That is a decision device, not a calibrated probability.
    """

    standardize_target = True

    def residual_loss(self, residual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-element value and gradient in the residual r = raw - target."""
        raise NotImplementedError

    def loss_gradient(self, raw, target):
        residual = np.asarray(raw, dtype=np.float64) - target
        loss, grad = self.residual_loss(residual)
        return loss.sum(axis=1), grad

    def encode_target(self, y, profile):
        if self.task == "ordinal":
            return np.asarray(y, dtype=np.float64).reshape(-1, 1)
        return super().encode_target(y, profile)

    def predict(self, raw):
        raw = np.asarray(raw, dtype=np.float64)
        if self.task != "ordinal":
            return _as_values(raw)
        n_classes = int(self.params["n_classes"])
        level = np.clip(raw[:, 0], 0.0, n_classes - 1)
        lower = np.floor(level).astype(int)
        upper = np.minimum(lower + 1, n_classes - 1)
        weight_up = level - lower
        probabilities = np.zeros((raw.shape[0], n_classes))
        rows = np.arange(raw.shape[0])
        probabilities[rows, lower] += 1.0 - weight_up
        probabilities[rows, upper] += weight_up
        return probabilities

    def predict_class(self, raw):
        """The nearest level of the clipped prediction."""
        n_classes = int(self.params["n_classes"])
        return np.clip(np.rint(np.asarray(raw, dtype=np.float64)[:, 0]), 0, n_classes - 1).astype(int)


def derive_identity(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """On ordinal targets, the number of levels the prediction is clipped to."""
    if profile.task == "ordinal":
        return {"n_classes": len(profile.classes)}
    return {}


def standardise_note(framework: str, task: str, params: dict[str, Any], profile: Profile) -> dict[str, Any]:
    """The note on training with a standardised target (or on the level index)."""
    if task == "ordinal":
        return {"note": f"# target: the level's index as a float (0..{len(profile.classes) - 1}); "
                        "predicted level = round(clip(prediction))"}
    mean = _math.round_sig(_facts_number(profile, "target_mean"))
    std = _math.round_sig(_facts_number(profile, "target_std", 1.0)) or 1.0
    return {"note": f"# standardise the target for training: (y - {num(mean)}) / {num(std)}; "
                    f"map predictions back with * {num(std)} + {num(mean)}"}


class SquaredErrorMath(IdentityMath):
    """Half squared error."""

    def residual_loss(self, residual):
        return 0.5 * residual ** 2, residual


class AbsoluteErrorMath(IdentityMath):
    """Absolute error; the subgradient sign(r) (0 at the kink)."""

    def residual_loss(self, residual):
        return np.abs(residual), np.sign(residual)


class HuberMath(IdentityMath):
    """Quadratic within delta of the target, linear beyond; delta in target units."""

    def for_scale(self, scale):
        """delta is in target units: divide it by the scale of a standardised target."""
        delta = np.asarray(self.params["delta"], dtype=np.float64) / np.asarray(scale, dtype=np.float64)
        scaled = float(delta) if delta.ndim == 0 else delta
        return type(self)({**self.params, "delta": scaled}, self.task, loss_id=self.id)

    def residual_loss(self, residual):
        delta = np.asarray(self.params["delta"], dtype=np.float64)
        size = np.abs(residual)
        loss = np.where(size <= delta, 0.5 * residual ** 2, delta * (size - 0.5 * delta))
        return loss, np.clip(residual, -delta, delta)


#: 95 % efficiency under Gaussian errors (Huber 1964).
HUBER_TUNING = 1.345


def derive_delta(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """1.345 x robust scale (1.4826 MAD); 1.345 x std when the MAD is 0; else 1.0."""
    robust = float(profile.robust_scale or 0.0)
    std = _facts_number(profile, "target_std")
    if math.isfinite(robust) and robust > 0:
        return {"delta": HUBER_TUNING * robust, "delta_source": "1.345 x robust scale (1.4826 MAD)"}
    if std > 0:
        return {"delta": HUBER_TUNING * std, "delta_source": "1.345 x standard deviation (MAD is 0)"}
    return {"delta": 1.0, "delta_source": "default (the target has no spread)"}


def huber_snippet_values(framework: str, task: str, params: dict[str, Any], profile: Profile) -> dict[str, Any]:
    """delta on the standardised scale the proxy trains on."""
    std = _math.round_sig(_facts_number(profile, "target_std", 1.0)) or 1.0
    return {"standardised_delta": _math.round_sig(params["delta"] / std)}


class LogCoshMath(IdentityMath):
    """log(cosh(r)), written so that it never overflows."""

    def residual_loss(self, residual):
        size = np.abs(residual)
        return size + np.log1p(np.exp(-2.0 * size)) - math.log(2.0), np.tanh(residual)


class QuantileMath(IdentityMath):
    """Pinball loss, one output per level; for a k-column target the outputs are ordered
    target-major (target 0's levels first)."""

    def n_outputs(self, profile):
        return _n_targets(profile) * len(self.params["quantiles"])

    def encode_target(self, y, profile):
        """The target repeated once per level (n, k * levels), target-major, so that every
        output column has its own copy (and its own standardisation in the proxy)."""
        return np.repeat(super().encode_target(y, profile), len(self.params["quantiles"]), axis=1)

    def loss_gradient(self, raw, target):
        raw = np.asarray(raw, dtype=np.float64)
        levels = np.asarray(self.params["quantiles"], dtype=np.float64)
        if raw.shape != target.shape or raw.shape[1] % levels.size:
            raise ValueError(f"quantile loss: raw {raw.shape} and target {target.shape} do not fit "
                             f"{levels.size} level(s); encode the target with encode_target")
        tau = np.tile(levels, raw.shape[1] // levels.size)
        residual = target - raw
        loss = np.maximum(tau * residual, (tau - 1.0) * residual)
        grad = np.where(residual > 0.0, -tau, 1.0 - tau)
        return loss.sum(axis=1), grad

    def predict(self, raw):
        """Each row's levels in order, so they never cross: the predictions of a target, sorted
        and handed to its levels from the lowest up (the rearrangement of Chernozhukov,
        Fernandez-Val & Galichon 2010, which never moves an estimate further from the true
        quantile curve)."""
        raw = np.asarray(raw, dtype=np.float64)
        levels = np.asarray(self.params["quantiles"], dtype=np.float64)
        blocks = np.sort(raw.reshape(raw.shape[0], -1, levels.size), axis=2)
        rank = np.argsort(np.argsort(levels, kind="stable"), kind="stable")  # level -> sorted slot
        return _as_values(blocks[:, :, rank].reshape(raw.shape))


QUANTILES = ParamSpec("quantiles", [0.5], 0.0, 1.0, "Quantile levels, one output each; the median "
                      "when none is asked for.", closed="neither")


def derive_quantiles(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """The levels asked for (options, else the profile's), else the median."""
    from ..options import check_quantiles

    asked = options.get("quantiles") or profile.quantiles
    return {"quantiles": list(check_quantiles(asked) if asked else QUANTILES.default)}


MSE = LossSpec(
    id="mse",
    title="Mean squared error",
    description="Half squared error 0.5 (z - y)^2: elicits the mean (Gneiting 2011). On ordinal "
                "targets it regresses the level's index.",
    activations=per_task(("regression", "count", "proportion", "ordinal"), IDENTITY_ACTIVATIONS),
    math=SquaredErrorMath,
    formula="0.5 (z - y)^2 (the 0.5 does not change the minimiser)",
    citation=("Gneiting (JASA 2011), Making and Evaluating Point Forecasts; PyTorch MSELoss, "
              "Keras MeanSquaredError"),
    vetoes=IDENTITY_VETOES,
    derivation=derive_identity,
    snippet_values=standardise_note,
)

MAE = LossSpec(
    id="mae",
    title="Mean absolute error",
    description="Absolute error |z - y|: elicits the median, robust to heavy contamination. "
                "Non-smooth at z = y: the gradient is the subgradient sign(z - y) (0 at the kink).",
    activations=per_task(("regression", "count", "ordinal"), IDENTITY_ACTIVATIONS),
    math=AbsoluteErrorMath,
    formula="|z - y|",
    citation=("Gneiting (JASA 2011), Making and Evaluating Point Forecasts; PyTorch L1Loss, "
              "Keras MeanAbsoluteError"),
    vetoes=IDENTITY_VETOES,
    derivation=derive_identity,
    snippet_values=standardise_note,
)

HUBER = LossSpec(
    id="huber",
    title="Huber loss",
    description="Huber loss: quadratic within delta of the target, linear beyond. delta = 1.345 * "
                "robust scale (1.4826 MAD, in target units): 95 % efficiency under Gaussian errors "
                "while bounding the pull of outliers. Falls back to 1.345 * std, then 1.0.",
    activations=per_task(("regression", "count"), IDENTITY_ACTIVATIONS),
    math=HuberMath,
    formula="0.5 r^2 if |r| <= delta else delta (|r| - delta / 2), r = z - y",
    citation=("Huber (Annals of Mathematical Statistics 1964), Robust Estimation of a "
              "Location Parameter; PyTorch HuberLoss, Keras Huber"),
    vetoes=IDENTITY_VETOES,
    params=(ParamSpec("delta", 1.0, 0.0, None, "Where the loss turns linear, in target units: "
                      "1.345 x robust scale (1.4826 MAD).", closed="neither"),),
    derivation=derive_delta,
    snippet_values=huber_snippet_values,
)

LOG_COSH = LossSpec(
    id="log_cosh",
    title="Log-cosh loss",
    description="log(cosh(z - y)): about r^2 / 2 near zero and |r| - log 2 far away. "
                "Scale-dependent, so train on a standardised target.",
    activations=per_task(("regression",), IDENTITY_ACTIVATIONS),
    math=LogCoshMath,
    formula="log(cosh(r)) = |r| + log(1 + exp(-2 |r|)) - log 2, r = z - y",
    citation="Keras documentation, keras.losses.LogCosh (regression losses)",
    vetoes=IDENTITY_VETOES,
    derivation=derive_identity,
    snippet_values=standardise_note,
)

QUANTILE = LossSpec(
    id="quantile",
    title="Quantile (pinball) loss",
    description="Pinball (quantile) loss, one output per level tau: elicits the tau-quantile. "
                "Levels come from options['quantiles'] (else the profile's quantiles, else the "
                "median, 0.5). With several levels the per-sample loss is the sum over levels. "
                "Non-smooth at r = 0: the gradient is the subgradient (-tau above the prediction, "
                "1 - tau below). For a k-column target the outputs are ordered target-major "
                "(target 0's levels first), and the encoded target repeats each column once per level. "
                "Several levels are sorted per row at prediction time, so they never cross "
                "(rearrangement, Chernozhukov, Fernandez-Val & Galichon 2010).",
    activations=per_task(("regression", "count"), IDENTITY_ACTIVATIONS),
    math=QuantileMath,
    formula="max(tau r, (tau - 1) r), r = y - z, one output per level tau",
    citation=("Koenker & Bassett (Econometrica 1978), Regression Quantiles; Romano, Patterson "
              "& Candes (NeurIPS 2019), Conformalized Quantile Regression; Chernozhukov, "
              "Fernandez-Val & Galichon (Econometrica 2010), Quantile and Probability Curves "
              "without Crossing"),
    vetoes=IDENTITY_VETOES,
    params=(QUANTILES,),
    derivation=derive_quantiles,
    snippet_values=standardise_note,
)
