"""Log-scale losses and deviances: msle on log1p(y); Poisson, Gamma and Tweedie on log(mean).

The deviances model the log of the mean, start their bias at log(mean) and predict with
exp; msle models log1p(y) and predicts with expm1. Per-sample values are half deviances
(zero at a perfect prediction), so they compare with scikit-learn's ``mean_*_deviance`` / 2.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _math
from ._activation import (
    RELU_ZERO_BREAKS_LOG_LOSSES,
    SIGMOID_TARGET_OUTSIDE_UNIT_INTERVAL,
    SOFTMAX_READS_CLASS_PROBABILITIES,
    TANH_CANNOT_GIVE_A_POSITIVE_MEAN,
    Veto,
)
from ._base import ParamSpec, TargetInterval
from ._link import LOG, LOG1P
from ._regression import NOT_A_NUMBER, OUTSIDE_THE_SIGMOID, NumericMath, _facts_number, per_task
from ._snippets import num
from ._spec import LossSpec

if TYPE_CHECKING:  # pragma: no cover
    from ..profile import Profile

LOG_LINK_ACTIVATIONS = frozenset({"linear", "exp", "softplus"})


def _log_link_vetoes(softmax_reason: str, relu_reason: str) -> tuple[Veto, ...]:
    """The vetoes of a deviance on log(mean): only a positive, unbounded mean fits."""
    return (
        Veto(SOFTMAX_READS_CLASS_PROBABILITIES, softmax_reason),
        Veto(SIGMOID_TARGET_OUTSIDE_UNIT_INTERVAL,
             "a sigmoid output caps the predicted mean below 1 but the target reaches {target_max:g}"),
        Veto(TANH_CANNOT_GIVE_A_POSITIVE_MEAN, "a tanh output is not a positive, unbounded mean"),
        Veto(RELU_ZERO_BREAKS_LOG_LOSSES, relu_reason),
    )


def capped(raw: np.ndarray, cap: float | None) -> np.ndarray:
    """Log-scale raw outputs bounded by the derived ``log_cap`` (unchanged without one)."""
    raw = np.asarray(raw, dtype=np.float64)
    return raw if cap is None else np.minimum(raw, float(cap))


class SquaredLogErrorMath(NumericMath):
    """Squared error on log1p(y); predictions expm1(min(z, log_cap))."""

    LINK = LOG1P
    target_interval = TargetInterval(-1.0, math.inf, low_inclusive=False)

    def predict(self, raw):
        return super().predict(capped(raw, self.params.get("log_cap")))

    def encode_target(self, y, profile):
        return self.link.link(super().encode_target(y, profile))

    def loss_gradient(self, raw, target):
        residual = np.asarray(raw, dtype=np.float64) - target
        return (0.5 * residual ** 2).sum(axis=1), residual

    def init_bias(self, target):
        """The constant that minimises the loss: the mean of log1p(y)."""
        return np.asarray(target, dtype=np.float64).mean(axis=0)


class LogLinkMath(NumericMath):
    """Deviances on z = log(mean): predict exp(min(z, log_cap)), start the bias at log(mean(y))."""

    LINK = LOG

    def predict(self, raw):
        return super().predict(capped(raw, self.params.get("log_cap")))

    def _mean_and_log(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        log_mean = np.clip(np.asarray(raw, dtype=np.float64), -_math.LOG_LINK_CLIP, _math.LOG_LINK_CLIP)
        return np.exp(log_mean), log_mean

    def init_bias(self, target):
        """log of the training target's mean, per output (floored so an all-zero column works)."""
        mean = np.asarray(target, dtype=np.float64).mean(axis=0)
        return self.link.link(np.maximum(mean, 1e-8))


def derive_log_cap(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """The prediction-time bound of the log-scale output: log(max y) + 1 (log1p for msle)."""
    return {"log_cap": _math.log_cap(_facts_number(profile, "target_max"))}


def derive_msle(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """msle's bound on log1p-scale predictions."""
    return {"log_cap": _math.log_cap(_facts_number(profile, "target_max"), log1p=True)}


def derive_init_bias(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """The starting output bias, log of the mean target (None when the mean is 0), and the
    prediction-time cap of the log-mean."""
    mean = _facts_number(profile, "target_mean")
    return {"init_bias": math.log(mean) if mean > 0 else None, **derive_log_cap(profile, options)}


def log_bias_lines(framework: str, task: str, params: dict[str, Any], profile: Profile) -> dict[str, Any]:
    """The lines that start the output bias at the log of the mean target, and the capped
    prediction."""
    lines = cap_lines(framework, params.get("log_cap"), "exp")
    bias = params.get("init_bias")
    if bias is None:
        return {"bias": "# (the target's mean is 0: leave the output bias at its default)", **lines}
    if framework == "pytorch":
        return {"bias": f"INIT_BIAS = {num(bias)}  # log of the mean target\n"
                        "# start the output bias there: with torch.no_grad(): output_layer.bias.fill_(INIT_BIAS)",
                **lines}
    return {"bias": f"INIT_BIAS = {num(bias)}  # log of the mean target\n"
                    "# output layer bias: bias_initializer=keras.initializers.Constant(INIT_BIAS)", **lines}


INIT_BIAS = ParamSpec("init_bias", None, None, None, "Starting output bias: log of the mean target.")
LOG_CAP = ParamSpec("log_cap", None, None, None, "Largest log-scale output used at prediction "
                    "time: log of the largest training target + 1, so no prediction exceeds e times "
                    "the largest target seen (an extrapolating log link can otherwise blow up).")


def cap_lines(framework: str, cap: float | None, inverse: str) -> dict[str, str]:
    """The cap's constant (``cap``) and the prediction line that uses it (``prediction``),
    for a model whose output is on the log scale and a prediction ``inverse`` (exp, expm1)."""
    module = "torch" if framework == "pytorch" else "ops"
    if cap is None:
        return {"cap": "# (the target has no positive maximum: no cap on the log-scale output)",
                "prediction": f"prediction = {module}.{inverse}(model(x))"}
    bounded = "model(x).clamp(max=LOG_CAP)" if framework == "pytorch" else "ops.minimum(model(x), LOG_CAP)"
    scale = "log1p" if inverse == "expm1" else "log"
    return {"cap": f"LOG_CAP = {num(cap)}  # {scale} of the largest training target + 1: no "
                   "prediction above about e x the largest target seen",
            "prediction": f"prediction = {module}.{inverse}({bounded})"}


def msle_lines(framework: str, task: str, params: dict[str, Any], profile: Profile) -> dict[str, Any]:
    """msle's cap on the log1p-scale prediction."""
    return cap_lines(framework, params.get("log_cap"), "expm1")


class PoissonMath(LogLinkMath):
    """Half Poisson deviance on log(mean)."""

    target_interval = TargetInterval(0.0)

    def loss_gradient(self, raw, target):
        mean, log_mean = self._mean_and_log(raw)
        loss = mean - target * log_mean + _math.xlogy(target, target) - target
        return loss.sum(axis=1), mean - target


class GammaMath(LogLinkMath):
    """Half Gamma deviance on log(mean)."""

    target_interval = TargetInterval(0.0, math.inf, low_inclusive=False)

    def loss_gradient(self, raw, target):
        mean, log_mean = self._mean_and_log(raw)
        ratio = target / mean
        loss = ratio + log_mean - np.log(target) - 1.0
        return loss.sum(axis=1), 1.0 - ratio


class TweedieMath(LogLinkMath):
    """Half Tweedie deviance with 1 < power < 2 on log(mean)."""

    target_interval = TargetInterval(0.0)

    def loss_gradient(self, raw, target):
        power = float(self.params["power"])
        _, log_mean = self._mean_and_log(raw)
        high = np.exp((2.0 - power) * log_mean)
        low = np.exp((1.0 - power) * log_mean)
        constant = np.power(target, 2.0 - power) / ((1.0 - power) * (2.0 - power))
        loss = high / (2.0 - power) - target * low / (1.0 - power) + constant
        return loss.sum(axis=1), high - target * low


POWER = ParamSpec("power", 1.5, 1.0, 2.0, "Variance power p in Var = phi mu^p: the estimate "
                  "clipped to [1.1, 1.9], 1.5 when not estimable.", closed="neither")
POWER_RANGE = (1.1, 1.9)


def derive_power(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """The profile's power estimate clipped to [1.1, 1.9]; 1.5 when not estimable."""
    estimate = _facts_number(profile, "tweedie_power")
    low, high = POWER_RANGE
    if estimate <= 0:
        power, source = POWER.default, "default (not estimable from the data)"
    elif low <= estimate <= high:
        power, source = estimate, "estimated from the mean-variance relation"
    else:
        power = min(max(estimate, low), high)
        source = f"estimate {_math.round_sig(estimate)} clipped to [{low}, {high}]"
    return {"power": power, "power_estimate": estimate, "power_source": source,
            **derive_init_bias(profile, options)}


MSLE = LossSpec(
    id="msle",
    title="Mean squared logarithmic error",
    description="Squared error on the log1p scale: fits relative error, needs y > -1. The proxy "
                "regresses log1p(y) (the encoded target) and predicts with expm1; note that expm1 "
                "of the predicted log underestimates the mean (a log-link deviance does not).",
    activations=per_task(("regression", "count"), frozenset({"linear", "relu", "softplus", "sigmoid", "exp"})),
    math=SquaredLogErrorMath,
    formula="0.5 (z - log(1 + y))^2, prediction expm1(min(z, log_cap))",
    citation=("Keras MeanSquaredLogarithmicError; Gneiting (JASA 2011) on the functional a "
              "log-scale loss elicits"),
    vetoes=(NOT_A_NUMBER, OUTSIDE_THE_SIGMOID,
            Veto(TANH_CANNOT_GIVE_A_POSITIVE_MEAN, "a tanh output is bounded in (-1, 1) and can go negative")),
    params=(LOG_CAP,),
    derivation=derive_msle,
    snippet_values=msle_lines,
)

POISSON = LossSpec(
    id="poisson",
    title="Poisson deviance",
    description="Half Poisson deviance with a log link: counts with variance about equal to the mean.",
    activations=per_task(("count", "regression"), LOG_LINK_ACTIVATIONS),
    math=PoissonMath,
    formula="exp(z) - y z + y log y - y (half deviance), mean exp(min(z, log_cap))",
    citation=("McCullagh & Nelder (1989), Generalized Linear Models; PyTorch PoissonNLLLoss, "
              "Keras Poisson"),
    vetoes=_log_link_vetoes(
        "a softmax output sums to one across its units and cannot predict a mean count",
        "a ReLU output can be exactly 0, where the Poisson deviance of a positive count is infinite; "
        "use exp or softplus"),
    params=(INIT_BIAS, LOG_CAP),
    derivation=derive_init_bias,
    snippet_values=log_bias_lines,
    output_activations={"keras": "exp"},
)

GAMMA = LossSpec(
    id="gamma",
    title="Gamma deviance",
    description="Half Gamma deviance with a log link: strictly positive targets, multiplicative errors.",
    activations=per_task(("regression",), LOG_LINK_ACTIVATIONS),
    math=GammaMath,
    formula="y exp(-z) + z - log y - 1 (half deviance), mean exp(min(z, log_cap))",
    citation=("McCullagh & Nelder (1989), Generalized Linear Models; scikit-learn "
              "HalfGammaLoss / mean_gamma_deviance"),
    vetoes=_log_link_vetoes(
        "a softmax output sums to one across its units and cannot predict a positive mean",
        "a ReLU output can be exactly 0, where the Gamma deviance is infinite; use exp or softplus"),
    params=(INIT_BIAS, LOG_CAP),
    derivation=derive_init_bias,
    snippet_values=log_bias_lines,
)

TWEEDIE = LossSpec(
    id="tweedie",
    title="Tweedie deviance",
    description="Half Tweedie deviance with 1 < power < 2 and a log link: zeros mixed with "
                "positive amounts (compound Poisson-Gamma). power is the profile's estimate (the "
                "slope of log variance on log mean) clipped to [1.1, 1.9]; 1.5 when it could not "
                "be estimated.",
    activations=per_task(("count", "regression"), LOG_LINK_ACTIVATIONS),
    math=TweedieMath,
    formula=("exp((2-p) z)/(2-p) - y exp((1-p) z)/(1-p) + y^(2-p)/((1-p)(2-p)) "
             "(half deviance), mean exp(min(z, log_cap))"),
    citation=("Jorgensen (1987), Exponential Dispersion Models; Dunn & Smyth (2005), Series "
              "evaluation of Tweedie densities; scikit-learn HalfTweedieLoss"),
    vetoes=_log_link_vetoes(
        "a softmax output sums to one across its units and cannot predict a mean",
        "a ReLU output can be exactly 0, where the Tweedie deviance of a positive target is infinite; "
        "use exp or softplus"),
    params=(POWER, INIT_BIAS, LOG_CAP),
    derivation=derive_power,
    snippet_values=log_bias_lines,
)
