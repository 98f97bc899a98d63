"""The loss objects' formulas of the classification losses (see ``_registry`` for the contract).

Each mirrors its ``LossMath`` in ``advisor/losses`` term for term (same clipping, same
per-row sum over outputs), so an object's value is the catalog's per-row loss; the softmax
form takes class indices or one-hot rows, the sigmoid form 0/1 labels (or fractions) shaped
like the logits.
"""

from __future__ import annotations

from typing import Any

from ..losses._classification import SOFTMAX_TASKS
from ..losses._f1 import F1_EPSILON
from ..losses._math import PROBABILITY_FLOOR
from ._registry import formula


# ----- targets and the shared cross-entropies ------------------------------------------------------
def one_hot_target(ops: Any, logits: Any, target: Any) -> Any:
    """One-hot (or soft) rows for the K logits: class indices ``(batch,)`` / ``(batch, 1)`` are
    encoded, rows already K wide are taken as they are."""
    width = logits.shape[-1]
    if ops.ndim(target) == 2 and target.shape[-1] == width:
        return ops.cast(target, logits.dtype)
    return ops.one_hot(ops.reshape(target, (-1,)), width, logits)


def label_target(ops: Any, logits: Any, target: Any) -> Any:
    """0/1 labels (or fractions) shaped like the logits."""
    return ops.reshape(ops.cast(target, logits.dtype), (-1, logits.shape[-1]))


def bce(ops: Any, logits: Any, labels: Any, pos_weight: Any = 1.0) -> Any:
    """Sigmoid cross-entropy per element (``pos_weight`` on the positive term)."""
    return -(pos_weight * labels * ops.log_sigmoid(logits)
             + (1.0 - labels) * ops.log_sigmoid(-logits))


def softmax_ce(ops: Any, logits: Any, rows: Any) -> Any:
    """Softmax cross-entropy per row against one-hot or soft rows."""
    return -ops.sum(rows * ops.log_softmax(logits, axis=-1), axis=-1)


def _sign(labels: Any) -> Any:
    """0/1 labels as -1/+1."""
    return 2.0 * labels - 1.0


# ----- the cross-entropy family --------------------------------------------------------------------
@formula("cross_entropy", "cross_entropy+threshold", "cross_entropy+logit_adjustment")
def cross_entropy(ops: Any, logits: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """Softmax cross-entropy, or sigmoid cross-entropy summed over the outputs; a plan trains
    with it too (its decision rule is applied to the outputs after training: the candidate's
    ``decision`` and the snippet's tuning step)."""
    if task in SOFTMAX_TASKS:
        return softmax_ce(ops, logits, one_hot_target(ops, logits, target))
    return ops.sum(bce(ops, logits, label_target(ops, logits, target)), axis=-1)


@formula("weighted_cross_entropy")
def weighted_cross_entropy(ops: Any, logits: Any, target: Any, params: dict[str, Any],
                           task: str) -> Any:
    """Cross-entropy times the true class's weight, or with ``pos_weight`` on the positives."""
    if task in SOFTMAX_TASKS:
        rows = one_hot_target(ops, logits, target)
        loss = softmax_ce(ops, logits, rows)
        weights = params.get("class_weights")
        if weights is None:
            return loss
        return loss * ops.sum(rows * ops.constant(weights, logits), axis=-1)
    pos_weight = params.get("pos_weight")
    weight = 1.0 if pos_weight is None else ops.constant(pos_weight, logits)
    return ops.sum(bce(ops, logits, label_target(ops, logits, target), weight), axis=-1)


@formula("label_smoothing")
def label_smoothing(ops: Any, logits: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """Cross-entropy against the target smoothed towards uniform by ``epsilon``."""
    epsilon = float(params["epsilon"])
    if task in SOFTMAX_TASKS:
        rows = one_hot_target(ops, logits, target)
        return softmax_ce(ops, logits, (1.0 - epsilon) * rows + epsilon / logits.shape[-1])
    labels = label_target(ops, logits, target)
    return ops.sum(bce(ops, logits, (1.0 - epsilon) * labels + epsilon / 2.0), axis=-1)


@formula("generalized_cross_entropy")
def generalized_cross_entropy(ops: Any, logits: Any, target: Any, params: dict[str, Any],
                              task: str) -> Any:
    """(1 - p_y^q) / q on the softmax, or on one sigmoid logit per output."""
    q = float(params["q"])
    if task in SOFTMAX_TASKS:
        rows = one_hot_target(ops, logits, target)
        log_p_y = ops.sum(rows * ops.log_softmax(logits, axis=-1), axis=-1)
        return (1.0 - ops.exp(q * log_p_y)) / q
    labels = label_target(ops, logits, target)
    return ops.sum((1.0 - ops.exp(q * ops.log_sigmoid(_sign(labels) * logits))) / q, axis=-1)


@formula("hinge")
def hinge(ops: Any, scores: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """Binary hinge on -1/+1 labels, or the multi-margin loss (torch's MultiMarginLoss)."""
    margin = float(params["margin"])
    if task in SOFTMAX_TASKS:
        rows = one_hot_target(ops, scores, target)
        true_score = ops.sum(rows * scores, axis=-1, keepdims=True)
        gaps = ops.maximum(margin - true_score + scores, 0.0) * (1.0 - rows)
        return ops.sum(gaps, axis=-1) / scores.shape[-1]
    labels = label_target(ops, scores, target)
    return ops.sum(ops.maximum(margin - _sign(labels) * scores, 0.0), axis=-1)


# ----- focusing losses -----------------------------------------------------------------------------
@formula("focal")
def focal(ops: Any, logits: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """-alpha_t (1 - p_t)^gamma log p_t, softmax or per sigmoid output."""
    gamma = float(params["gamma"])
    alpha = params.get("alpha")
    if task in SOFTMAX_TASKS:
        rows = one_hot_target(ops, logits, target)
        log_p = ops.log_softmax(logits, axis=-1)
        log_p_y = ops.sum(rows * log_p, axis=-1)
        miss = ops.sum(ops.exp(log_p) * (1.0 - rows), axis=-1)  # 1 - p_y without cancellation
        alpha_y = 1.0 if alpha is None else ops.sum(rows * ops.constant(alpha, logits), axis=-1)
        return -alpha_y * miss ** gamma * log_p_y
    labels = label_target(ops, logits, target)
    signed = _sign(labels) * logits
    if alpha is None:
        alpha_t: Any = 1.0
    else:
        weight = ops.constant(alpha, logits)
        alpha_t = weight * labels + (1.0 - weight) * (1.0 - labels)
    loss = -alpha_t * ops.sigmoid(-signed) ** gamma * ops.log_sigmoid(signed)
    return ops.sum(loss, axis=-1)


@formula("asymmetric")
def asymmetric(ops: Any, logits: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """Focal positives, shifted-probability negatives (p_m = max(p - clip, 0)), per label."""
    gamma_pos, gamma_neg = float(params["gamma_pos"]), float(params["gamma_neg"])
    clip = float(params["clip"])
    labels = label_target(ops, logits, target)
    p, miss = ops.sigmoid(logits), ops.sigmoid(-logits)
    loss_pos = -(miss ** gamma_pos) * ops.log_sigmoid(logits)
    active = p > clip
    shifted = ops.where(active, p - clip, 1.0)  # 1 where inactive: no 0^g in the gradient
    log_one_minus = ops.log(miss + clip) if clip > 0 else ops.log_sigmoid(-logits)
    loss_neg = ops.where(active, -(shifted ** gamma_neg) * log_one_minus, 0.0)
    return ops.sum(labels * loss_pos + (1.0 - labels) * loss_neg, axis=-1)


@formula("poly1")
def poly1(ops: Any, logits: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """Cross-entropy + epsilon (1 - p_t), softmax or per sigmoid output."""
    epsilon = float(params["epsilon"])
    if task in SOFTMAX_TASKS:
        rows = one_hot_target(ops, logits, target)
        miss = ops.sum(ops.softmax(logits, axis=-1) * (1.0 - rows), axis=-1)
        return softmax_ce(ops, logits, rows) + epsilon * miss
    signed = _sign(label_target(ops, logits, target)) * logits
    return ops.sum(-ops.log_sigmoid(signed) + epsilon * ops.sigmoid(-signed), axis=-1)


# ----- long-tail margins and adjustments, the F1 surrogate, CORAL -----------------------------------
@formula("logit_adjusted")
def logit_adjusted(ops: Any, logits: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """Cross-entropy on z + tau log(prior) (softmax) or z + tau logit(prior) (sigmoid)."""
    tau = float(params["tau"])
    priors = ops.clip(ops.constant(params["priors"], logits), PROBABILITY_FLOOR,
                      1.0 - PROBABILITY_FLOOR)
    if task in SOFTMAX_TASKS:
        rows = one_hot_target(ops, logits, target)
        return softmax_ce(ops, logits + tau * ops.log(priors), rows)
    adjusted = logits + tau * (ops.log(priors) - ops.log1p(-priors))
    return ops.sum(bce(ops, adjusted, label_target(ops, logits, target)), axis=-1)


@formula("ldam")
def ldam(ops: Any, logits: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """Softmax cross-entropy on s (z - Delta_y e_y); one logit: softplus(-s (t z - Delta_y))."""
    scale = float(params["scale"])
    margins = ops.constant(params["margins"], logits)
    if task in SOFTMAX_TASKS:
        rows = one_hot_target(ops, logits, target)
        return softmax_ce(ops, scale * (logits - rows * margins), rows)
    labels = label_target(ops, logits, target)
    margin = labels * margins[1] + (1.0 - labels) * margins[0]
    return ops.sum(-ops.log_sigmoid(scale * (_sign(labels) * logits - margin)), axis=-1)


@formula("soft_f1")
def soft_f1(ops: Any, logits: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """1 - the batch's soft F1, averaged over labels; every row carries the batch's value."""
    labels = label_target(ops, logits, target)
    p = ops.sigmoid(logits)
    true_positive = ops.sum(p * labels, axis=0)
    denominator = ops.sum(p, axis=0) + ops.sum(labels, axis=0) + F1_EPSILON  # 2TP + FP + FN
    loss = 1.0 - ops.mean(2.0 * true_positive / denominator)
    return loss * ops.ones_like(ops.sum(logits, axis=-1))


@formula("coral")
def coral(ops: Any, logits: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """Sigmoid cross-entropy on the K - 1 cumulative levels y > k, from class indices."""
    labels = ops.reshape(ops.cast(target, logits.dtype), (-1, 1))
    thresholds = ops.constant(list(range(logits.shape[-1])), logits)
    levels = ops.cast(labels > thresholds, logits.dtype)
    return ops.sum(bce(ops, logits, levels), axis=-1)


# ----- group-aware losses (the target is [label, group index] per row) -------------------------------
def _label_and_group(ops: Any, logits: Any, target: Any) -> tuple[Any, Any]:
    """Class index (or 0/1 label) and group index per row of a ``(batch, 2)`` target."""
    columns = ops.reshape(ops.cast(target, logits.dtype), (-1, 2))
    label, group = ops.split(columns, 2, 1)
    return ops.reshape(label, (-1,)), ops.reshape(group, (-1,))


def _group_cross_entropy(ops: Any, logits: Any, label: Any, task: str) -> Any:
    if task in SOFTMAX_TASKS:
        return softmax_ce(ops, logits, ops.one_hot(ops.cast(label, "int64"), logits.shape[-1], logits))
    return ops.sum(bce(ops, logits, ops.reshape(label, (-1, 1))), axis=-1)


@formula("group_reweighted_cross_entropy")
def group_reweighted_cross_entropy(ops: Any, logits: Any, target: Any, params: dict[str, Any],
                                   task: str) -> Any:
    """Cross-entropy times the weight of the row's (group, class) cell."""
    label, group = _label_and_group(ops, logits, target)
    table = params["group_weights"]
    weights = ops.constant([value for row in table for value in row], logits)
    cell = ops.cast(group * len(table[0]) + label, "int64")
    return ops.take(weights, cell) * _group_cross_entropy(ops, logits, label, task)


def group_dro_start(params: dict[str, Any]) -> list[float]:
    """The starting group weights q: ``group_weights`` normalised, uniform unless given (the
    catalog's ``GroupDROMath`` starts from the same)."""
    count = int(params.get("n_groups") or 1)
    start = params.get("group_weights") or [1.0] * count
    return [float(value) / float(sum(start)) for value in start]


def group_dro_losses(ops: Any, logits: Any, target: Any, params: dict[str, Any],
                     task: str) -> tuple[Any, Any]:
    """(L_g: the batch's mean cross-entropy in each group, 0 for a group absent from the
    batch; the per-row cross-entropy)."""
    label, group = _label_and_group(ops, logits, target)
    member = ops.one_hot(ops.cast(group, "int64"), len(group_dro_start(params)), logits)
    per_row = _group_cross_entropy(ops, logits, label, task)
    totals = ops.maximum(ops.sum(member, axis=0), 1.0)
    return ops.sum(member * ops.reshape(per_row, (-1, 1)), axis=0) / totals, per_row


def group_dro_step(ops: Any, q: Any, group_loss: Any, eta: float) -> Any:
    """Sagawa et al.'s exponentiated-gradient step ``q_g exp(eta L_g)``, renormalised, on the
    group losses held fixed (no gradient flows through q): ``GroupDROMath.advance``."""
    step = q * ops.exp(eta * ops.stop_gradient(group_loss))
    return step / ops.sum(step)


def group_dro_value(ops: Any, q: Any, group_loss: Any, per_row: Any) -> Any:
    """``sum_g q_g L_g``, carried by every row of the batch."""
    return ops.sum(q * group_loss) * ops.ones_like(per_row)


@formula("group_dro")
def group_dro(ops: Any, logits: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """sum_g q_g L_g over the batch at the starting group weights (uniform unless given);
    every row carries the batch's value. The framework objects built from it hold q as state
    and step it before each training call (``advisor.torch`` / ``advisor.keras``'s
    ``GroupDROLoss``); this function alone is the loss at one q."""
    group_loss, per_row = group_dro_losses(ops, logits, target, params, task)
    return group_dro_value(ops, ops.constant(group_dro_start(params), logits), group_loss, per_row)
