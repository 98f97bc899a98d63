"""The loss objects' formulas of the numeric losses (see ``_registry`` for the contract).

Each mirrors its ``LossMath`` in ``advisor/losses``: identity-link losses on the residual in
target units (parameters such as Huber's delta, Balanced MSE's sigma and the LDS bin edges
are in target units, as derived), log-link deviances on z = log(mean) clipped as the catalog
clips it, and the distribution losses on their blocks of outputs. The target is the target
as the user has it, ``(batch,)`` or ``(batch, columns)`` (msle takes y, not log1p(y)).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import TargetError
from ..losses._distribution import LOG_VARIANCE_CLIP, SIGMA_FLOOR
from ..losses._math import LOG_LINK_CLIP
from ._registry import formula


def target_columns(ops: Any, outputs: Any, target: Any, width: int | None = None) -> Any:
    """The target as ``(batch, width)`` of the outputs' dtype (width: the outputs' own)."""
    columns = outputs.shape[-1] if width is None else width
    return ops.reshape(ops.cast(target, outputs.dtype), (-1, columns))


def _residual(ops: Any, outputs: Any, target: Any) -> Any:
    return outputs - target_columns(ops, outputs, target)


# ----- identity link: functions of the residual ---------------------------------------------------
@formula("mse")
def mse(ops: Any, outputs: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """Half squared error 0.5 r^2 (on ordinal targets: of the level's index)."""
    return ops.sum(0.5 * ops.square(_residual(ops, outputs, target)), axis=-1)


@formula("mae")
def mae(ops: Any, outputs: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """Absolute error |r|."""
    return ops.sum(ops.abs(_residual(ops, outputs, target)), axis=-1)


@formula("huber")
def huber(ops: Any, outputs: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """Quadratic within delta of the target, linear beyond (delta in target units)."""
    delta = ops.constant(params["delta"], outputs)
    residual = _residual(ops, outputs, target)
    size = ops.abs(residual)
    loss = ops.where(size <= delta, 0.5 * ops.square(residual), delta * (size - 0.5 * delta))
    return ops.sum(loss, axis=-1)


@formula("log_cosh")
def log_cosh(ops: Any, outputs: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """log(cosh(r)) written so that it never overflows."""
    size = ops.abs(_residual(ops, outputs, target))
    return ops.sum(size + ops.log1p(ops.exp(-2.0 * size)) - math.log(2.0), axis=-1)


@formula("quantile")
def quantile(ops: Any, outputs: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """Pinball loss, one output per level, target-major (target 0's levels first)."""
    levels = [float(level) for level in params["quantiles"]]
    n_targets = outputs.shape[-1] // len(levels)
    truth = ops.repeat(target_columns(ops, outputs, target, n_targets), len(levels), axis=-1)
    tau = ops.constant(levels * n_targets, outputs)
    residual = truth - outputs
    return ops.sum(ops.maximum(tau * residual, (tau - 1.0) * residual), axis=-1)


# ----- imbalanced regression ----------------------------------------------------------------------
def _lds_weights(ops: Any, truth: Any, params: dict[str, Any], loss_id: str) -> Any:
    """The LDS weight of every element of ``truth`` ``(batch, k)``: its bin's weight, a value
    beyond the edges taking its end bin's (``label_density.bin_index``)."""
    n_bins = int(params["n_bins"])
    edges = np.asarray(params["bin_edges"], dtype=np.float64).reshape(-1, n_bins + 1)
    weights = np.asarray(params["bin_weights"], dtype=np.float64).reshape(-1, n_bins)
    if edges.shape[0] != truth.shape[-1]:
        raise TargetError(f"{loss_id}: LDS tables for {edges.shape[0]} target column(s), the "
                          f"target has {truth.shape[-1]}; derive the loss on this target")
    columns = [ops.take(ops.constant(weights[j].tolist(), truth),
                        ops.digitize(truth[:, j], edges[j, 1:-1].tolist()))
               for j in range(edges.shape[0])]
    return ops.stack(columns, axis=1)


@formula("lds_mse")
def lds_mse(ops: Any, outputs: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """Half squared error, each element weighted by the LDS weight of its target."""
    truth = target_columns(ops, outputs, target)
    weights = _lds_weights(ops, truth, params, "lds_mse")
    return ops.sum(weights * 0.5 * ops.square(outputs - truth), axis=-1)


@formula("lds_mae")
def lds_mae(ops: Any, outputs: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """Absolute error, each element weighted by the LDS weight of its target."""
    truth = target_columns(ops, outputs, target)
    weights = _lds_weights(ops, truth, params, "lds_mae")
    return ops.sum(weights * ops.abs(outputs - truth), axis=-1)


@formula("balanced_mse")
def balanced_mse(ops: Any, outputs: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """BMC: -2 sigma^2 log softmax_j(-(z_i - y_j)^2 / (2 sigma^2))[i] over the batch's targets,
    summed over the target columns (sigma in target units, one per column)."""
    truth = target_columns(ops, outputs, target)
    width = outputs.shape[-1]
    sigmas = np.broadcast_to(np.asarray(params["noise_sigma"], dtype=np.float64), (width,))
    total = 0.0
    for j in range(width):
        noise_var = 2.0 * float(sigmas[j]) ** 2
        gap = outputs[:, j:j + 1] - ops.transpose(truth[:, j:j + 1])
        log_p = ops.log_softmax(-ops.square(gap) / noise_var, axis=-1)
        total = total - noise_var * ops.diagonal(log_p)
    return total


# ----- log link: deviances on z = log(mean) -----------------------------------------------------
def _log_mean(ops: Any, outputs: Any) -> Any:
    return ops.clip(outputs, -LOG_LINK_CLIP, LOG_LINK_CLIP)


@formula("msle")
def msle(ops: Any, outputs: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """0.5 (z - log1p(y))^2: the outputs are on the log1p scale, the target is y."""
    return ops.sum(0.5 * ops.square(outputs - ops.log1p(target_columns(ops, outputs, target))),
                   axis=-1)


@formula("poisson")
def poisson(ops: Any, outputs: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """Half Poisson deviance exp(z) - y z + y log y - y (0 for a perfect prediction)."""
    truth = target_columns(ops, outputs, target)
    log_mean = _log_mean(ops, outputs)
    y_log_y = ops.where(truth > 0, truth * ops.log(ops.where(truth > 0, truth, 1.0)), 0.0)
    return ops.sum(ops.exp(log_mean) - truth * log_mean + y_log_y - truth, axis=-1)


@formula("gamma")
def gamma(ops: Any, outputs: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """Half Gamma deviance y exp(-z) + z - log y - 1 (y > 0)."""
    truth = target_columns(ops, outputs, target)
    log_mean = _log_mean(ops, outputs)
    return ops.sum(truth * ops.exp(-log_mean) + log_mean - ops.log(truth) - 1.0, axis=-1)


@formula("tweedie")
def tweedie(ops: Any, outputs: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """Half Tweedie deviance with 1 < power < 2, its constant of y included."""
    power = float(params["power"])
    truth = target_columns(ops, outputs, target)
    log_mean = _log_mean(ops, outputs)
    constant = truth ** (2.0 - power) / ((1.0 - power) * (2.0 - power))
    loss = (ops.exp((2.0 - power) * log_mean) / (2.0 - power)
            - truth * ops.exp((1.0 - power) * log_mean) / (1.0 - power) + constant)
    return ops.sum(loss, axis=-1)


# ----- predictive distributions -------------------------------------------------------------------
@formula("gaussian_nll")
def gaussian_nll(ops: Any, outputs: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """beta-NLL on [means, log variances]: 0.5 (s + (y - mu)^2 / e^s) var^beta, the weight
    held constant in the gradient (beta = 0: the plain Gaussian NLL)."""
    mean, log_var = ops.split(outputs, 2, axis=-1)
    truth = target_columns(ops, outputs, target, mean.shape[-1])
    clipped = ops.clip(log_var, -LOG_VARIANCE_CLIP, LOG_VARIANCE_CLIP)
    weight = ops.exp(float(params["beta"]) * ops.stop_gradient(clipped))
    nll = 0.5 * (clipped + ops.square(truth - mean) * ops.exp(-clipped))
    return ops.sum(weight * nll, axis=-1)


@formula("ziln")
def ziln(ops: Any, outputs: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """Zero-inflated lognormal NLL on [logits of P(y > 0), mu, raw sigmas]."""
    logit, mu, sigma_raw = ops.split(outputs, 3, axis=-1)
    truth = target_columns(ops, outputs, target, logit.shape[-1])
    positive = ops.cast(truth > 0, outputs.dtype)
    classification = ops.softplus(logit) - positive * logit
    sigma = ops.softplus(sigma_raw) + SIGMA_FLOOR
    log_y = ops.log(ops.where(truth > 0, truth, 1.0))
    lognormal = (log_y + ops.log(sigma) + 0.5 * math.log(2.0 * math.pi)
                 + 0.5 * ops.square((log_y - mu) / sigma))
    return ops.sum(classification + positive * lognormal, axis=-1)
