"""Losses that predict a distribution, not one number: Gaussian NLL (beta-NLL) and ZILN.

Both have several outputs per target column, described in words by their spec's
``outputs`` (what each output means) and ``prediction`` (how the outputs become the one
number :meth:`LossMath.predict` returns, so every point metric still applies);
:meth:`LossMath.predictive` returns the whole predictive distribution, which the
distribution metrics (``gaussian_nll``, ``crps``) score.

Output layout for k target columns: block-major, e.g. ``gaussian_nll`` has the k means,
then the k log-variances; ``ziln`` the k logits, the k mu, the k raw sigmas. The encoded
target repeats the target once per block, as the quantile loss repeats it per level.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from . import _math
from ._activation import SOFTMAX_READS_CLASS_PROBABILITIES, SQUASHED_DISTRIBUTION_HEAD, Veto
from ._base import ParamSpec, TargetInterval
from ._predictive import Gaussian, ZeroInflatedLogNormal
from ._regression import (
    NOT_A_NUMBER,
    NumericMath,
    _as_values,
    _facts_number,
    _n_targets,
    per_task,
    standardise_note,
)
from ._spec import LossSpec

if TYPE_CHECKING:  # pragma: no cover
    from ..profile import Profile

#: Log-variances are clipped to this range (on the standardised target the proxy trains on,
#: exp(+-30) covers any spread); the gradient is the one of the clipped value.
LOG_VARIANCE_CLIP = 30.0
#: sigma = softplus(raw) + SIGMA_FLOOR: a lognormal never collapses onto one value.
SIGMA_FLOOR = 1e-3
_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


def _blocks(array: np.ndarray, count: int) -> list[np.ndarray]:
    """The ``count`` equal column blocks of a 2-D array."""
    width = array.shape[1] // count
    return [array[:, index * width:(index + 1) * width] for index in range(count)]


class GaussianNLLMath(NumericMath):
    """Gaussian negative log-likelihood on (mean, log variance), beta-weighted.

    Per element: w * 0.5 (s + (y - mu)^2 / exp(s)) with s the log variance and
    w = exp(beta s) = var^beta held constant in the gradient (a stop-gradient, as in Seitzer
    et al. 2022): for beta > 0 the returned gradient is the beta-NLL's, not the derivative
    of the returned value (:attr:`stop_gradient`); for beta = 0 it is both.
    """

    standardize_target = True
    #: The gradient treats the weight var^beta as a constant (``weight_at`` fixes it).
    stop_gradient: ClassVar[bool] = True
    BLOCKS = 2

    def n_outputs(self, profile):
        return self.BLOCKS * super().n_outputs(profile)

    def encode_target(self, y, profile):
        """The target once per block (n, 2k): each output column has its copy and its scale."""
        return np.tile(super().encode_target(y, profile), (1, self.BLOCKS))

    def loss_gradient(self, raw, target, *, weight_at: np.ndarray | None = None):
        """``weight_at`` (raw outputs, default ``raw``) is where var^beta is read: fixing it
        gives the function whose derivative the returned gradient is."""
        raw = np.asarray(raw, dtype=np.float64)
        mean, log_var = _blocks(raw, 2)
        truth = _blocks(np.asarray(target, dtype=np.float64), 2)[0]
        clipped = np.clip(log_var, -LOG_VARIANCE_CLIP, LOG_VARIANCE_CLIP)
        inside = np.abs(log_var) < LOG_VARIANCE_CLIP
        weight_log_var = clipped if weight_at is None else np.clip(
            _blocks(np.asarray(weight_at, dtype=np.float64), 2)[1], -LOG_VARIANCE_CLIP, LOG_VARIANCE_CLIP)
        weight = np.exp(float(self.params["beta"]) * weight_log_var)
        residual = mean - truth
        ratio = residual ** 2 * np.exp(-clipped)
        loss = weight * 0.5 * (clipped + ratio)
        grad = np.hstack([weight * residual * np.exp(-clipped),
                          np.where(inside, weight * 0.5 * (1.0 - ratio), 0.0)])
        return loss.sum(axis=1), grad

    def init_bias(self, target):
        """The mean and the log of the variance of each training column."""
        truth = _blocks(np.asarray(target, dtype=np.float64), 2)[0]
        return np.concatenate([truth.mean(axis=0), np.log(np.maximum(truth.var(axis=0), 1e-12))])

    def unstandardize(self, raw, center, scale):
        """Means as any identity output; log-variances shift by 2 log(scale)."""
        mean, log_var = _blocks(np.asarray(raw, dtype=np.float64), 2)
        center_mean, _ = _blocks(np.reshape(center, (1, -1)), 2)
        scale_mean, scale_var = _blocks(np.reshape(scale, (1, -1)), 2)
        return np.hstack([mean * scale_mean + center_mean, log_var + 2.0 * np.log(scale_var)])

    def predict(self, raw):
        """The predicted mean."""
        return _as_values(_blocks(np.asarray(raw, dtype=np.float64), 2)[0])

    def predictive(self, raw):
        mean, log_var = _blocks(np.asarray(raw, dtype=np.float64), 2)
        std = np.exp(0.5 * np.clip(log_var, -2.0 * _math.LOG_LINK_CLIP, 2.0 * _math.LOG_LINK_CLIP))
        return Gaussian(_as_values(mean), _as_values(std))


BETA = ParamSpec("beta", 0.5, 0.0, 1.0, "Weight exponent of the beta-NLL, var^beta under a "
                 "stop-gradient: 0 is the plain Gaussian NLL, 0.5 the recommended beta-NLL, 1 "
                 "gives the mean the gradient of squared error.")


def derive_beta(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """beta = 0.5 (Seitzer et al. 2022: robust across their benchmarks); an explicit
    ``options['beta']`` wins."""
    asked = options.get("beta")
    if asked is not None:
        return {"beta": float(asked), "beta_source": "asked for"}
    return {"beta": BETA.default, "beta_source": "beta-NLL default (Seitzer et al. 2022)"}


class ZILNMath(NumericMath):
    """Zero-inflated lognormal: BCE on 1{y > 0} plus the lognormal NLL of the positive y.

    Outputs per target column: the logit of P(y > 0), mu and a raw sigma (sigma =
    softplus(raw) + 1e-3). The prediction is the mean p exp(mu + sigma^2 / 2), its log
    capped at ``log_cap`` (log of the largest training target + 1).
    """

    target_interval = TargetInterval(0.0)
    BLOCKS = 3

    def n_outputs(self, profile):
        return self.BLOCKS * super().n_outputs(profile)

    def encode_target(self, y, profile):
        """The target once per block (n, 3k)."""
        return np.tile(super().encode_target(y, profile), (1, self.BLOCKS))

    def loss_gradient(self, raw, target):
        logit, mu, sigma_raw = _blocks(np.asarray(raw, dtype=np.float64), 3)
        truth = _blocks(np.asarray(target, dtype=np.float64), 3)[0]
        positive = (truth > 0).astype(np.float64)
        classification = np.logaddexp(0.0, logit) - positive * logit
        sigma = np.logaddexp(0.0, sigma_raw) + SIGMA_FLOOR
        log_y = np.log(np.where(truth > 0, truth, 1.0))
        gap = log_y - mu
        regression = positive * (log_y + np.log(sigma) + _HALF_LOG_TWO_PI + 0.5 * (gap / sigma) ** 2)
        grad_sigma = positive * (1.0 / sigma - gap ** 2 / sigma ** 3)
        grad = np.hstack([_math.sigmoid(logit) - positive, -positive * gap / sigma ** 2,
                          grad_sigma * _math.sigmoid(sigma_raw)])
        return (classification + regression).sum(axis=1), grad

    def init_bias(self, target):
        """Logit of the positive share, mean of log y over the positives, softplus^-1 of
        their log std (per column)."""
        truth = _blocks(np.asarray(target, dtype=np.float64), 3)[0]
        return np.concatenate(ziln_bias(truth))

    def _parts(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """p, mu capped so that the log of the mean stays below ``log_cap``, sigma."""
        logit, mu, sigma_raw = _blocks(np.asarray(raw, dtype=np.float64), 3)
        sigma = np.logaddexp(0.0, sigma_raw) + SIGMA_FLOOR
        log_p = _math.log_sigmoid(logit)
        cap = self.params.get("log_cap")
        limit = _math.LOG_LINK_CLIP if cap is None else min(float(cap), _math.LOG_LINK_CLIP)
        mu = np.minimum(mu, limit - log_p - 0.5 * sigma ** 2)
        return np.exp(log_p), mu, sigma

    def predict(self, raw):
        """The mean p exp(mu + sigma^2 / 2), at most exp(log_cap)."""
        p, mu, sigma = self._parts(raw)
        return _as_values(p * np.exp(mu + 0.5 * sigma ** 2))

    def predictive(self, raw):
        p, mu, sigma = self._parts(raw)
        return ZeroInflatedLogNormal(_as_values(p), _as_values(mu), _as_values(sigma))


def ziln_bias(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(logit of P(y > 0), mean of log y, softplus^-1 of the std of log y) per column of a 2-D
    target; (0, 1 - 1e-3 sigma) parts where a column has no (or one) positive value."""
    truth = np.asarray(y, dtype=np.float64)
    positive = truth > 0
    count = positive.sum(axis=0)
    logs = np.log(np.where(positive, truth, 1.0))
    mean_log = np.divide((logs * positive).sum(axis=0), count, out=np.zeros(truth.shape[1]),
                         where=count > 0)
    spread = np.divide((((logs - mean_log) * positive) ** 2).sum(axis=0), count,
                       out=np.ones(truth.shape[1]), where=count > 1)
    sigma = np.maximum(np.sqrt(spread), 0.05)
    share = positive.mean(axis=0)
    return _math.logit(share), mean_log, np.log(np.expm1(sigma - SIGMA_FLOOR))


def derive_ziln(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """The log cap (log of the largest target + 1) and the starting output bias from the data."""
    y = np.asarray(profile.y, dtype=np.float64)
    logit, mean_log, sigma_raw = ziln_bias(y.reshape(len(y), -1))
    return {"log_cap": _math.log_cap(_facts_number(profile, "target_max")),
            "init_bias": [*logit.tolist(), *mean_log.tolist(), *sigma_raw.tolist()]}


def ziln_snippet_values(framework: str, task: str, params: dict[str, Any], profile: Profile) -> dict[str, Any]:
    """The number of target columns (the outputs come in blocks of that width)."""
    return {"n_targets": _n_targets(profile)}


def _ziln_output_layer(framework: str, width: int) -> str:
    if framework == "pytorch":
        return (f"nn.Linear(hidden_units, {width}) with no activation; it returns "
                "[logit of P(y > 0), mu, raw sigma] per target")
    return (f"keras.layers.Dense({width}) with no activation; it returns "
            "[logit of P(y > 0), mu, raw sigma] per target")


def _gaussian_output_layer(framework: str, width: int) -> str:
    if framework == "pytorch":
        return f"nn.Linear(hidden_units, {width}) with no activation; it returns [mean, log variance] per target"
    return f"keras.layers.Dense({width}) with no activation; it returns [mean, log variance] per target"


GAUSSIAN_NLL = LossSpec(
    id="gaussian_nll",
    title="Gaussian negative log-likelihood (beta-NLL)",
    description="Heteroscedastic regression: the network predicts a mean and a log variance "
                "per target, trained on the Gaussian negative log-likelihood with each row "
                "weighted by var^beta under a stop-gradient (beta-NLL, Seitzer et al. 2022; "
                "beta = 0 is the plain NLL, whose mean fit stalls where the variance is large). "
                "The point prediction is the mean; the predicted variance gives intervals and "
                "the distribution metrics (gaussian_nll, crps). Train on a standardised target "
                "and add 2 log(std) to the log variance when mapping back.",
    activations=per_task(("regression", "count"), frozenset({"linear"})),
    math=GaussianNLLMath,
    formula=("stopgrad(var^beta) * 0.5 (log var + (y - mu)^2 / var), outputs mu and "
             "s = log var"),
    citation=("Nix & Weigend (ICNN 1994), Estimating the Mean and Variance of the Target "
              "Probability Distribution; Seitzer, Tavakoli, Antic & Martius (ICLR 2022), On the "
              "Pitfalls of Heteroscedastic Uncertainty Estimation with Probabilistic Neural "
              "Networks; PyTorch GaussianNLLLoss"),
    vetoes=(NOT_A_NUMBER,
            Veto(SQUASHED_DISTRIBUTION_HEAD, "the {activation} output would bound the log variance "
                 "(and the mean): both outputs must be linear")),
    params=(BETA,),
    derivation=derive_beta,
    snippet_values=standardise_note,
    output_layer=_gaussian_output_layer,
    outputs=(("mean", "the predicted mean mu, in the target's units (identity)"),
             ("log_variance", "s = log of the predicted variance; std = exp(s / 2)")),
    prediction="the mean mu; the predictive distribution is Normal(mu, exp(s))",
)

ZILN = LossSpec(
    id="ziln",
    title="Zero-inflated lognormal (ZILN)",
    description="For non-negative targets with many exact zeros beside a heavy positive tail "
                "(customer value, claim amounts): one logit for P(y > 0) trained with binary "
                "cross-entropy, and a lognormal (mu, sigma = softplus) for the positive values "
                "trained with its negative log-likelihood. The prediction is the mean "
                "p exp(mu + sigma^2 / 2), its log capped at log(max y) + 1 so that an "
                "extrapolating network never predicts more than e times the largest training "
                "target. The output bias starts at the data's positive share and log-moments.",
    activations=per_task(("regression", "count"), frozenset({"linear"})),
    math=ZILNMath,
    formula=("BCE(1{y > 0}, sigmoid(l)) + 1{y > 0} (log y + log sigma + log(2 pi) / 2 + "
             "(log y - mu)^2 / (2 sigma^2)), sigma = softplus(s); mean sigmoid(l) "
             "exp(mu + sigma^2 / 2)"),
    citation=("Wang, Liu & Miao (2019), A Deep Probabilistic Model for Customer Lifetime Value "
              "Prediction, arXiv:1912.07753"),
    vetoes=(Veto(SOFTMAX_READS_CLASS_PROBABILITIES, "a softmax output sums to one across its units "
                                                    "and cannot give a logit, mu and sigma"),
            Veto(SQUASHED_DISTRIBUTION_HEAD, "the {activation} output would bound the logit of "
                 "P(y > 0) and mu: the three outputs must be linear")),
    params=(ParamSpec("log_cap", None, None, None, "Cap on the log of the predicted mean: log of "
                      "the largest training target + 1."),
            ParamSpec("init_bias", None, None, None, "Starting output bias: logit of the positive "
                      "share, mean of log y over the positives, softplus^-1 of their log std.")),
    derivation=derive_ziln,
    snippet_values=ziln_snippet_values,
    output_layer=_ziln_output_layer,
    outputs=(("logit", "l = logit of P(y > 0)"),
             ("mu", "mu = mean of log y given y > 0"),
             ("sigma_raw", "s with sigma = softplus(s), the std of log y given y > 0")),
    prediction="the mean sigmoid(l) exp(mu + sigma^2 / 2), its log capped at log_cap",
)
