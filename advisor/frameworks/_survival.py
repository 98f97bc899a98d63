"""The loss objects' formulas of the survival losses (see ``_registry`` for the contract).

The target is the survival target as the user has it: ``(batch, 2)`` = [duration, event]
(1: the event happened at the duration; 0: censored then), the form the snippets take. The
catalog's math trains on its own encoding of that pair (a signed column for ``cox``, one
column per interval for the discrete-time losses), made for scikit-learn's proxy; here the
pair is encoded in-framework, as the snippets do: the interval of each duration from the
candidate's cut points (``params["times"]``, derived once on the whole target), and the risk
sets of ``cox`` from pairwise comparisons of the batch's durations.

``cox`` and ``deephit`` are batch losses (:attr:`LossMath.batch_loss`): their value is a
function of the whole batch, and, as ``soft_f1``'s formula does, every row carries it, so the
mean over the rows is the batch loss and its gradient the catalog's. Shuffle the rows so that
every batch holds events (a batch without events has loss 0 under ``cox``).
"""

from __future__ import annotations

from typing import Any

from ..errors import TargetError
from ._registry import formula

#: Stands in for -inf in masked log-sum-exps (finite, so no inf - inf in any backend's gradient).
_MASKED = -1e30


def survival_columns(ops: Any, outputs: Any, target: Any, loss_id: str) -> tuple[Any, Any]:
    """(durations, 0/1 events) of the ``(batch, 2)`` target, in the outputs' dtype; any other
    shape is a :class:`TargetError` saying which form the loss takes."""
    if ops.ndim(target) != 2 or target.shape[-1] != 2:
        raise TargetError(f"{loss_id} takes the survival target as (batch, 2) = [duration, event "
                          f"(1 = event, 0 = censored)], got shape {tuple(target.shape)}")
    pair = ops.cast(target, outputs.dtype)
    return ops.take(pair, 0, axis=1), ops.take(pair, 1, axis=1)  # contiguous columns


def _intervals(ops: Any, outputs: Any, time: Any, event: Any, params: dict[str, Any]) -> Any:
    """Each row's interval of the grid (``_survival_target.interval_index``: the number of cut
    points strictly below its duration), an event past the last cut counted in the last
    interval; an integer tensor ``(batch,)``."""
    cuts = [float(cut) for cut in params["times"]]
    index = ops.searchsorted(ops.constant(cuts, outputs), time, side="left")
    return ops.where(event > 0.5, ops.minimum(index, len(cuts) - 1), index)


def _columns(ops: Any, outputs: Any, width: int) -> Any:
    """0, 1, ..., width - 1 as a ``(1, width)`` row of the outputs' dtype."""
    return ops.reshape(ops.constant([float(k) for k in range(width)], outputs), (1, width))


# ----- Cox partial likelihood --------------------------------------------------------------------
@formula("cox")
def cox(ops: Any, log_risk: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """The negative partial log-likelihood of the batch over its number of events, Breslow's
    or Efron's ties (``params["ties"]``), as ``_cox.partial_likelihood`` with unit weights:
    ``-(1 / D) sum_{events i} [eta_i - log(R(t_i) - c (l_i / d_i) E(t_i))]``, ``R`` the risk
    set's sum of exp(eta), ``E`` the tied events', ``l_i`` 0..d_i - 1 among them (Efron:
    c = 1; Breslow: c = 0). Every row carries the batch's value."""
    time, event = survival_columns(ops, log_risk, target, "cox")
    eta = log_risk[:, 0]
    at_risk = time[None, :] >= time[:, None]                  # [i, j]: j still at risk at t_i
    log_risk_set = ops.logsumexp(ops.where(at_risk, eta[None, :], _MASKED), axis=1)
    log_denominator = log_risk_set
    if str(params.get("ties", "breslow")) == "efron":
        # the events tied at t_i leave the risk set in equal parts: l_i / d_i of their risk
        tied = (time[None, :] == time[:, None]) & (event[None, :] > 0.5)
        tied_float = ops.cast(tied, eta.dtype)
        count = ops.maximum(ops.sum(tied_float, axis=1), 1.0)
        rank = ops.sum(ops.tril(tied_float, -1), axis=1)     # 0..d - 1 among the tied events
        fraction = ops.where(event > 0.5, rank / count, 0.0)  # censored rows: no tie term
        log_tied = ops.logsumexp(ops.where(tied, eta[None, :], _MASKED), axis=1)
        log_denominator = log_risk_set + ops.log1p(-fraction * ops.exp(log_tied - log_risk_set))
    events = ops.sum(event)
    loss = -ops.sum(event * (eta - log_denominator)) / ops.maximum(events, 1.0)
    return loss * ops.ones_like(eta)


# ----- discrete time -------------------------------------------------------------------------------
@formula("logistic_hazard")
def logistic_hazard(ops: Any, logits: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """A binary cross-entropy per interval each row was at risk in: 0 for the intervals
    before its own, 1 for its own if it had its event there (a censored row is not at risk
    in its own interval)."""
    time, event = survival_columns(ops, logits, target, "logistic_hazard")
    width = logits.shape[-1]
    index = ops.cast(_intervals(ops, logits, time, event, params), logits.dtype)[:, None]
    k = _columns(ops, logits, width)
    hit = (k == index) & (event[:, None] > 0.5)
    at_risk = ops.cast((k < index) | hit, logits.dtype)
    bce = ops.softplus(logits) - ops.cast(hit, logits.dtype) * logits
    return ops.sum(at_risk * bce, axis=-1)


@formula("deephit")
def deephit(ops: Any, logits: Any, target: Any, params: dict[str, Any], task: str) -> Any:
    """alpha x the mean likelihood loss + (1 - alpha) x the ranking term over the batch's
    n x n pairs: the likelihood of an event is the mass of its interval, of a censored row
    the mass from its interval on; the pair (i, k) counts when i had its event before k's
    time, with exp(-(F_i(j_i) - F_k(j_i)) / sigma). Every row carries the batch's value."""
    alpha, sigma = float(params["alpha"]), float(params["sigma"])
    time, event = survival_columns(ops, logits, target, "deephit")
    is_event = event > 0.5
    index = _intervals(ops, logits, time, event, params)
    row_index = ops.cast(index, logits.dtype)
    bins = _columns(ops, logits, logits.shape[-1])
    marked = ops.where(is_event[:, None], bins == row_index[:, None], bins >= row_index[:, None])
    log_pmf = ops.log_softmax(logits, axis=-1)
    nll = -ops.logsumexp(ops.where(marked, log_pmf, _MASKED), axis=1)
    cif = ops.cumsum(ops.exp(log_pmf), axis=1)
    at_index = ops.take(cif, index, axis=1)                   # [k, i] = F_k(interval of i)
    own = ops.diagonal(at_index)                              # F_i(interval of i)
    same = row_index[:, None] == row_index[None, :]
    later = (row_index[:, None] < row_index[None, :]) | (same & ~is_event[None, :])
    pairs = ops.cast(is_event[:, None] & later, logits.dtype)  # [i, k]: i's event before k's time
    rank = ops.mean(pairs * ops.exp(-(own[:, None] - ops.transpose(at_index)) / sigma))
    loss = alpha * ops.mean(nll) + (1.0 - alpha) * rank
    return loss * ops.ones_like(time)
