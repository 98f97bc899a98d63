"""Regression and count losses: squared, absolute, robust, quantile, log-scale and deviances.

Identity-link losses (mse, mae, huber, log_cosh, quantile) let the proxy train on a
standardised target (:attr:`Loss.standardize_target`); log-link deviances (poisson, gamma,
tweedie) model the log of the mean, start their bias at log(mean) and predict with exp;
msle models log1p(y) and predicts with expm1. Per-sample values are half deviances (zero at
a perfect prediction), so they compare with scikit-learn's ``mean_*_deviance`` / 2.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import TargetError
from . import _math
from ._activation import (
    NONNEGATIVE_OUTPUT_NEGATIVE_TARGET,
    RELU_ZERO_BREAKS_LOG_LOSSES,
    SIGMOID_ON_EXCLUSIVE_CLASSES,
    SIGMOID_TARGET_OUTSIDE_UNIT_INTERVAL,
    SOFTMAX_READS_CLASS_PROBABILITIES,
    TANH_CANNOT_GIVE_A_POSITIVE_MEAN,
    TANH_TARGET_OUTSIDE_RANGE,
    Veto,
)
from ._base import Loss, ParamSpec, TargetInterval
from ._snippets import num

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


def _log_link_vetoes(softmax_reason: str, relu_reason: str) -> tuple[Veto, ...]:
    """The vetoes of a deviance on log(mean): only a positive, unbounded mean fits."""
    return (
        Veto(SOFTMAX_READS_CLASS_PROBABILITIES, softmax_reason),
        Veto(SIGMOID_TARGET_OUTSIDE_UNIT_INTERVAL,
             "a sigmoid output caps the predicted mean below 1 but the target reaches {target_max:g}"),
        Veto(TANH_CANNOT_GIVE_A_POSITIVE_MEAN, "a tanh output is not a positive, unbounded mean"),
        Veto(RELU_ZERO_BREAKS_LOG_LOSSES, relu_reason),
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


class _NumericLoss(Loss):
    """Shared width, encoding and prediction of the losses on numeric targets."""

    link = "identity"
    activations = frozenset({"linear", "relu", "softplus"})

    def n_outputs(self, profile):
        return _n_targets(profile)

    def _check_range(self, y: np.ndarray) -> None:
        if not self.in_target_range(y):
            raise TargetError(
                f"loss {self.id} needs {self.target_interval} but the target has values from "
                f"{np.nanmin(y):g} to {np.nanmax(y):g}; pick a loss whose range fits the target")

    def encode_target(self, y, profile):
        y = np.asarray(y, dtype=np.float64)
        self._check_range(y)
        return y.reshape(len(y), -1)

    def predict(self, raw, params):
        return _as_values(np.asarray(raw, dtype=np.float64))


class _IdentityLoss(_NumericLoss):
    """Identity-link loss on r = raw - target; subclasses give the value and gradient in r.

    ``mse`` and ``mae`` also serve ordinal targets: they then regress the class index, and
    :meth:`predict` returns class probabilities that put the mass on the two levels around
    the clipped prediction (their expectation is the prediction), so the argmax is the
    nearest level. That is a decision device, not a calibrated probability.

    Any output activation can feed an identity-link loss when the target lies in the
    activation's range (sigmoid: [0, 1], tanh: [-1, 1], relu/softplus/exp: >= 0); the rules
    in rules/activation.toml veto the pairs whose range the target leaves.
    """

    activations = frozenset({"linear", "relu", "softplus", "sigmoid", "tanh", "exp"})
    vetoes = IDENTITY_VETOES

    standardize_target = True

    def accepts_activation(self, task, activation):
        """Not a sigmoid on ordinal levels: their ranks run past 1."""
        return super().accepts_activation(task, activation) and (task, activation) != ("ordinal", "sigmoid")

    def _derive(self, profile, options):
        if profile.task == "ordinal":
            return {"task": "ordinal", "n_classes": len(profile.classes)}
        return {}

    def _residual_loss(self, residual: np.ndarray, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def loss_gradient(self, raw, target, params):
        residual = np.asarray(raw, dtype=np.float64) - target
        loss, grad = self._residual_loss(residual, params)
        return loss.sum(axis=1), grad

    def encode_target(self, y, profile):
        if profile.task == "ordinal":
            return np.asarray(y, dtype=np.float64).reshape(-1, 1)
        return super().encode_target(y, profile)

    def predict(self, raw, params):
        raw = np.asarray(raw, dtype=np.float64)
        if params.get("task") != "ordinal":
            return _as_values(raw)
        n_classes = int(params["n_classes"])
        level = np.clip(raw[:, 0], 0.0, n_classes - 1)
        lower = np.floor(level).astype(int)
        upper = np.minimum(lower + 1, n_classes - 1)
        weight_up = level - lower
        probabilities = np.zeros((raw.shape[0], n_classes))
        rows = np.arange(raw.shape[0])
        probabilities[rows, lower] += 1.0 - weight_up
        probabilities[rows, upper] += weight_up
        return probabilities

    def predict_class(self, raw, params):
        """The nearest level of the clipped prediction."""
        n_classes = int(params["n_classes"])
        return np.clip(np.rint(np.asarray(raw, dtype=np.float64)[:, 0]), 0, n_classes - 1).astype(int)

    def _snippet_values(self, framework, task, params, profile):
        """The note on training with a standardised target (or on the level index)."""
        if task == "ordinal":
            return {"note": f"# target: the level's index as a float (0..{len(profile.classes) - 1}); "
                            "predicted level = round(clip(prediction))"}
        mean = _math.round_sig(_facts_number(profile, "target_mean"))
        std = _math.round_sig(_facts_number(profile, "target_std", 1.0)) or 1.0
        return {"note": f"# standardise the target for training: (y - {num(mean)}) / {num(std)}; "
                        f"map predictions back with * {num(std)} + {num(mean)}"}


class MeanSquaredError(_IdentityLoss):
    """Half squared error 0.5 (z - y)^2: elicits the mean (Gneiting 2011)."""

    id = "mse"
    title = "Mean squared error"
    tasks = frozenset({"regression", "count", "proportion", "ordinal"})
    formula = "0.5 (z - y)^2 (the 0.5 does not change the minimiser)"
    citation = ("Gneiting (JASA 2011), Making and Evaluating Point Forecasts; PyTorch MSELoss, "
                "Keras MeanSquaredError")

    def _residual_loss(self, residual, params):
        return 0.5 * residual ** 2, residual


class MeanAbsoluteError(_IdentityLoss):
    """Absolute error |z - y|: elicits the median, robust to heavy contamination.

    Non-smooth at z = y: the gradient is the subgradient sign(z - y) (0 at the kink).
    """

    id = "mae"
    title = "Mean absolute error"
    tasks = frozenset({"regression", "count", "ordinal"})
    formula = "|z - y|"
    citation = ("Gneiting (JASA 2011), Making and Evaluating Point Forecasts; PyTorch L1Loss, "
                "Keras MeanAbsoluteError")

    def _residual_loss(self, residual, params):
        return np.abs(residual), np.sign(residual)


class Huber(_IdentityLoss):
    """Huber loss: quadratic within delta of the target, linear beyond.

    ``delta = 1.345 * robust scale`` (1.4826 MAD, in target units): 95 % efficiency under
    Gaussian errors while bounding the pull of outliers. Falls back to 1.345 * std, then 1.0.
    """

    id = "huber"
    title = "Huber loss"
    tasks = frozenset({"regression", "count"})
    formula = "0.5 r^2 if |r| <= delta else delta (|r| - delta / 2), r = z - y"
    citation = ("Huber (Annals of Mathematical Statistics 1964), Robust Estimation of a "
                "Location Parameter; PyTorch HuberLoss, Keras Huber")
    params = (
        ParamSpec("delta", 1.0, 0.0, None, "Where the loss turns linear, in target units: "
                  "1.345 x robust scale (1.4826 MAD).", closed="neither"),
    )
    TUNING = 1.345

    def _derive(self, profile, options):
        robust = float(profile.robust_scale or 0.0)
        std = _facts_number(profile, "target_std")
        if math.isfinite(robust) and robust > 0:
            return {"delta": self.TUNING * robust, "delta_source": "1.345 x robust scale (1.4826 MAD)"}
        if std > 0:
            return {"delta": self.TUNING * std, "delta_source": "1.345 x standard deviation (MAD is 0)"}
        return {"delta": 1.0, "delta_source": "default (the target has no spread)"}

    def params_for_scale(self, params, scale):
        """delta is in target units: divide it by the scale of a standardised target."""
        scaled = dict(params)
        scaled["delta"] = np.asarray(self.param(params, "delta"), dtype=np.float64) / np.asarray(scale, dtype=np.float64)
        if scaled["delta"].ndim == 0:
            scaled["delta"] = float(scaled["delta"])
        return scaled

    def _snippet_values(self, framework, task, params, profile):
        """delta on the standardised scale the proxy trains on."""
        std = _math.round_sig(_facts_number(profile, "target_std", 1.0)) or 1.0
        return {"standardised_delta": _math.round_sig(params["delta"] / std)}

    def _residual_loss(self, residual, params):
        delta = np.asarray(self.param(params, "delta"), dtype=np.float64)
        size = np.abs(residual)
        loss = np.where(size <= delta, 0.5 * residual ** 2, delta * (size - 0.5 * delta))
        return loss, np.clip(residual, -delta, delta)


class LogCosh(_IdentityLoss):
    """log(cosh(z - y)): about r^2 / 2 near zero and |r| - log 2 far away.

    Scale-dependent, so train on a standardised target.
    """

    id = "log_cosh"
    title = "Log-cosh loss"
    tasks = frozenset({"regression"})
    formula = "log(cosh(r)) = |r| + log(1 + exp(-2 |r|)) - log 2, r = z - y"
    citation = "Keras documentation, keras.losses.LogCosh (regression losses)"

    def _residual_loss(self, residual, params):
        size = np.abs(residual)
        return size + np.log1p(np.exp(-2.0 * size)) - math.log(2.0), np.tanh(residual)


class Quantile(_IdentityLoss):
    """Pinball (quantile) loss, one output per level tau: elicits the tau-quantile.

    Levels come from ``options["quantiles"]`` (else the profile's ``quantiles``, else the
    median, 0.5). With several levels the per-sample loss is the sum over levels. Non-smooth
    at r = 0: the gradient is the subgradient (-tau above the prediction, 1 - tau below).
    For a k-column target the outputs are ordered target-major (target 0's levels first), and
    :meth:`encode_target` repeats each target column once per level. The proxy's levels
    (:meth:`n_outputs`, :meth:`encode_target`) are the profile's ``quantiles`` (else 0.5):
    pass the same levels to :meth:`derive`.
    """

    id = "quantile"
    title = "Quantile (pinball) loss"
    tasks = frozenset({"regression", "count"})
    formula = "max(tau r, (tau - 1) r), r = y - z, one output per level tau"
    citation = ("Koenker & Bassett (Econometrica 1978), Regression Quantiles; Romano, Patterson "
                "& Candes (NeurIPS 2019), Conformalized Quantile Regression")
    params = (
        ParamSpec("quantiles", [0.5], 0.0, 1.0, "Quantile levels, one output each; the median "
                  "when none is asked for.", closed="neither"),
    )

    def _levels(self, profile: Profile, options: dict[str, Any] | None = None) -> tuple[float, ...]:
        from ..options import check_quantiles

        asked = (options or {}).get("quantiles") or profile.quantiles
        return check_quantiles(asked) if asked else tuple(self.param_spec("quantiles").default)

    def _derive(self, profile, options):
        return {"quantiles": list(self._levels(profile, options))}

    def n_outputs(self, profile):
        return _n_targets(profile) * len(self._levels(profile))

    def _snippet_width(self, params, profile):
        return _n_targets(profile) * len(params["quantiles"])

    def encode_target(self, y, profile):
        """The target repeated once per level (n, k * levels), target-major, so that every
        output column has its own copy (and its own standardisation in the proxy)."""
        return np.repeat(super().encode_target(y, profile), len(self._levels(profile)), axis=1)

    def loss_gradient(self, raw, target, params):
        raw = np.asarray(raw, dtype=np.float64)
        levels = np.asarray(params.get("quantiles") or self.param_spec("quantiles").default,
                            dtype=np.float64)
        if raw.shape != target.shape or raw.shape[1] % levels.size:
            raise ValueError(f"quantile loss: raw {raw.shape} and target {target.shape} do not fit "
                             f"{levels.size} level(s); encode the target with encode_target")
        tau = np.tile(levels, raw.shape[1] // levels.size)
        residual = target - raw
        loss = np.maximum(tau * residual, (tau - 1.0) * residual)
        grad = np.where(residual > 0.0, -tau, 1.0 - tau)
        return loss.sum(axis=1), grad


class MeanSquaredLogError(_NumericLoss):
    """Squared error on the log1p scale: fits relative error, needs y > -1.

    The proxy regresses log1p(y) (the encoded target) and predicts with expm1; note that
    expm1 of the predicted log underestimates the mean (a log-link deviance does not).
    """

    id = "msle"
    title = "Mean squared logarithmic error"
    tasks = frozenset({"regression", "count"})
    activations = frozenset({"linear", "relu", "softplus", "sigmoid", "exp"})  # y > -1 only
    vetoes = (NOT_A_NUMBER, OUTSIDE_THE_SIGMOID,
              Veto(TANH_CANNOT_GIVE_A_POSITIVE_MEAN, "a tanh output is bounded in (-1, 1) and can go negative"))
    link = "log1p"
    target_interval = TargetInterval(-1.0, math.inf, low_inclusive=False)
    formula = "0.5 (z - log(1 + y))^2, prediction expm1(z)"
    citation = ("Keras MeanSquaredLogarithmicError; Gneiting (JASA 2011) on the functional a "
                "log-scale loss elicits")

    def _derive(self, profile, options):
        return {}

    def encode_target(self, y, profile):
        return np.log1p(super().encode_target(y, profile))

    def loss_gradient(self, raw, target, params):
        residual = np.asarray(raw, dtype=np.float64) - target
        return (0.5 * residual ** 2).sum(axis=1), residual

    def predict(self, raw, params):
        return _as_values(np.expm1(np.asarray(raw, dtype=np.float64)))

    def init_bias(self, target, params):
        """The constant that minimises the loss: the mean of log1p(y)."""
        return np.asarray(target, dtype=np.float64).mean(axis=0)


class _LogLinkLoss(_NumericLoss):
    """Deviances on z = log(mean): predict exp(z), start the bias at log(mean(y))."""

    link = "log"
    activations = frozenset({"linear", "exp", "softplus"})

    def accepts_activation(self, task, activation):
        # exp/softplus outputs feed the mean form of the loss (e.g. log_input=False)
        return activation in ("auto", "linear", "exp", "softplus")

    def _mean_and_log(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        log_mean = np.clip(np.asarray(raw, dtype=np.float64), -_math.LOG_LINK_CLIP, _math.LOG_LINK_CLIP)
        return np.exp(log_mean), log_mean

    def _derive(self, profile, options):
        mean = _facts_number(profile, "target_mean")
        return {"init_bias": math.log(mean) if mean > 0 else None}

    def predict(self, raw, params):
        return _as_values(self._mean_and_log(raw)[0])

    def init_bias(self, target, params):
        """log of the training target's mean, per output (floored so an all-zero column works)."""
        mean = np.asarray(target, dtype=np.float64).mean(axis=0)
        return np.log(np.maximum(mean, 1e-8))

    def _snippet_values(self, framework, task, params, profile):
        """The lines that start the output bias at the log of the mean target."""
        bias = params.get("init_bias")
        if bias is None:
            return {"bias": "# (the target's mean is 0: leave the output bias at its default)"}
        if framework == "pytorch":
            return {"bias": f"INIT_BIAS = {num(bias)}  # log of the mean target\n"
                            "# start the output bias there: with torch.no_grad(): output_layer.bias.fill_(INIT_BIAS)"}
        return {"bias": f"INIT_BIAS = {num(bias)}  # log of the mean target\n"
                        "# output layer bias: bias_initializer=keras.initializers.Constant(INIT_BIAS)"}


class Poisson(_LogLinkLoss):
    """Half Poisson deviance with a log link: counts with variance about equal to the mean."""

    id = "poisson"
    title = "Poisson deviance"
    tasks = frozenset({"count", "regression"})
    vetoes = _log_link_vetoes(
        "a softmax output sums to one across its units and cannot predict a mean count",
        "a ReLU output can be exactly 0, where the Poisson deviance of a positive count is infinite; "
        "use exp or softplus")
    target_interval = TargetInterval(0.0)
    formula = "exp(z) - y z + y log y - y (half deviance), mean exp(z)"
    citation = ("McCullagh & Nelder (1989), Generalized Linear Models; PyTorch PoissonNLLLoss, "
                "Keras Poisson")
    params = (ParamSpec("init_bias", None, None, None, "Starting output bias: log of the mean target."),)

    def output_activation(self, task, framework):
        return "exp" if framework == "keras" else "linear"

    def loss_gradient(self, raw, target, params):
        mean, log_mean = self._mean_and_log(raw)
        loss = mean - target * log_mean + _math.xlogy(target, target) - target
        return loss.sum(axis=1), mean - target


class GammaDeviance(_LogLinkLoss):
    """Half Gamma deviance with a log link: strictly positive targets, multiplicative errors."""

    id = "gamma"
    title = "Gamma deviance"
    tasks = frozenset({"regression"})
    vetoes = _log_link_vetoes(
        "a softmax output sums to one across its units and cannot predict a positive mean",
        "a ReLU output can be exactly 0, where the Gamma deviance is infinite; use exp or softplus")
    target_interval = TargetInterval(0.0, math.inf, low_inclusive=False)
    formula = "y exp(-z) + z - log y - 1 (half deviance), mean exp(z)"
    citation = ("McCullagh & Nelder (1989), Generalized Linear Models; scikit-learn "
                "HalfGammaLoss / mean_gamma_deviance")
    params = (ParamSpec("init_bias", None, None, None, "Starting output bias: log of the mean target."),)

    def loss_gradient(self, raw, target, params):
        mean, log_mean = self._mean_and_log(raw)
        ratio = target / mean
        loss = ratio + log_mean - np.log(target) - 1.0
        return loss.sum(axis=1), 1.0 - ratio


class Tweedie(_LogLinkLoss):
    """Half Tweedie deviance with 1 < power < 2 and a log link: zeros mixed with positive
    amounts (compound Poisson-Gamma).

    ``power`` is the profile's estimate (the slope of log variance on log mean) clipped to
    [1.1, 1.9]; 1.5 when it could not be estimated.
    """

    id = "tweedie"
    title = "Tweedie deviance"
    tasks = frozenset({"count", "regression"})
    vetoes = _log_link_vetoes(
        "a softmax output sums to one across its units and cannot predict a mean",
        "a ReLU output can be exactly 0, where the Tweedie deviance of a positive target is infinite; "
        "use exp or softplus")
    target_interval = TargetInterval(0.0)
    formula = ("exp((2-p) z)/(2-p) - y exp((1-p) z)/(1-p) + y^(2-p)/((1-p)(2-p)) "
               "(half deviance), mean exp(z)")
    citation = ("Jorgensen (1987), Exponential Dispersion Models; Dunn & Smyth (2005), Series "
                "evaluation of Tweedie densities; scikit-learn HalfTweedieLoss")
    params = (
        ParamSpec("power", 1.5, 1.0, 2.0, "Variance power p in Var = phi mu^p: the estimate "
                  "clipped to [1.1, 1.9], 1.5 when not estimable.", closed="neither"),
        ParamSpec("init_bias", None, None, None, "Starting output bias: log of the mean target."),
    )
    POWER_RANGE = (1.1, 1.9)

    def _derive(self, profile, options):
        estimate = _facts_number(profile, "tweedie_power")
        low, high = self.POWER_RANGE
        if estimate <= 0:
            power, source = self.param_spec("power").default, "default (not estimable from the data)"
        elif low <= estimate <= high:
            power, source = estimate, "estimated from the mean-variance relation"
        else:
            power = min(max(estimate, low), high)
            source = f"estimate {_math.round_sig(estimate)} clipped to [{low}, {high}]"
        derived = {"power": power, "power_estimate": estimate, "power_source": source}
        derived.update(super()._derive(profile, options))
        return derived

    def loss_gradient(self, raw, target, params):
        power = float(self.param(params, "power"))
        _, log_mean = self._mean_and_log(raw)
        high = np.exp((2.0 - power) * log_mean)
        low = np.exp((1.0 - power) * log_mean)
        constant = np.power(target, 2.0 - power) / ((1.0 - power) * (2.0 - power))
        loss = high / (2.0 - power) - target * low / (1.0 - power) + constant
        return loss.sum(axis=1), high - target * low


REGRESSION_LOSSES: tuple[Loss, ...] = (
    MeanSquaredError(), MeanAbsoluteError(), Huber(), LogCosh(), Quantile(),
    MeanSquaredLogError(), Poisson(), GammaDeviance(), Tweedie(),
)
