"""The Cox partial likelihood (DeepSurv): a risk score trained on the risk sets of a batch.

Cox (1972) leaves the baseline hazard out: the loss of an event at ``t_i`` compares its risk
``exp(eta_i)`` with the risks of every row still at risk at ``t_i`` (its risk set), so the
network learns only a ranking. DeepSurv (Katzman et al., BMC Medical Research Methodology
2018) puts a network in place of the linear predictor ``eta``. Tied event times are handled
with Breslow's approximation (every tied event sees the whole risk set) or Efron's (the tied
events leave the risk set in equal parts, closer to the exact likelihood when ties are many).

The loss is the negative partial log-likelihood over the rows of a batch, divided by the
batch's (weighted) number of events: a batch loss (:attr:`CoxMath.batch_loss`), every row
carries it and its gradient is ``S`` times the exact one (``S`` the batch's total weight),
as the proxy expects. A call on more than :data:`COX_BLOCK_ROWS` rows (validation,
evaluation) is cut into consecutive batches of nearly equal size, as ``soft_f1`` does.

Encoding: the network has one output (``eta``), and scikit-learn sizes the output layer from
the target's width, so ``(t, d)`` is one signed column: ``t`` for an event, ``-(1 + t)`` for
a censored row. The snippets take the two columns as they are.

The risk score needs no baseline, but a survival curve does: after training, the Breslow
estimator of the cumulative baseline hazard (scikit-survival's ``BreslowEstimator``) is fitted
on the training rows (:meth:`CoxMath.after_training`), and ``S(t | x) = exp(-H0(t) exp(eta))``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._activation import SOFTMAX_READS_CLASS_PROBABILITIES, SQUASHED_SURVIVAL_HEAD, Veto
from ._base import LossMath, ParamSpec
from ._math import row_blocks
from ._spec import LossSpec
from ._survival_target import (
    TIMES,
    derive_times,
    survival_pair,
    survival_prediction,
    survival_snippet_values,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..profile import Profile

#: Rows of one batch when a call holds more.
COX_BLOCK_ROWS = 1000
#: From this share of tied event times, Efron's approximation is derived instead of Breslow's.
EFRON_TIED_SHARE = 0.05
#: eta is clipped here before exp in the survival curve.
ETA_CLIP = 50.0

TIES = ParamSpec("ties", "breslow", None, None, "How tied event times share their risk set: "
                 "breslow (each tied event sees the whole set) or efron (the tied events leave "
                 "it in equal parts).")


def encode_cox(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """(t, d) -> one column: t for an event, -(1 + t) for a censored row."""
    return np.where(event > 0.5, time, -1.0 - time).reshape(-1, 1)


def decode_cox(code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of :func:`encode_cox`: (durations, 0/1 event indicators)."""
    code = np.asarray(code, dtype=np.float64).reshape(-1)
    event = (code >= 0.0).astype(np.float64)
    return np.where(event > 0.5, code, -code - 1.0), event


def partial_likelihood(eta: np.ndarray, time: np.ndarray, event: np.ndarray, weight: np.ndarray,
                       efron: bool) -> tuple[float, np.ndarray]:
    """The negative partial log-likelihood of one batch over its weighted number of events,
    and its gradient w.r.t. ``eta``; (0, zeros) for a batch without events.

    Per distinct event time ``g`` with ``d_g`` events ``D_g`` of total weight ``W_g``, risk-set
    sum ``R_g = sum_{t_j >= t_g} w_j exp(eta_j)`` and ``E_g = sum_{D_g} w exp(eta)``:
    ``-sum_{D_g} w eta + (W_g / d_g) sum_{l < d_g} log(R_g - c l / d_g E_g)`` with ``c = 1``
    (Efron) or ``0`` (Breslow), weights as in lifelines' weighted Efron.
    """
    total_events = float(np.sum(weight * event))
    if total_events <= 0:
        return 0.0, np.zeros_like(eta)
    shifted = eta - eta.max()  # the loss does not change; exp never overflows
    risk = weight * np.exp(shifted)
    order = np.argsort(time, kind="stable")
    sorted_time = time[order]
    at_or_after = np.cumsum(risk[order][::-1])[::-1]  # sum over sorted rows from here on
    is_event = event > 0.5
    group_time, group_of_event = np.unique(time[is_event], return_inverse=True)
    tied = np.bincount(group_of_event).astype(np.float64)                  # d_g
    group_weight = np.bincount(group_of_event, weights=weight[is_event])   # W_g
    group_risk = np.bincount(group_of_event, weights=risk[is_event])       # E_g
    risk_set = at_or_after[np.searchsorted(sorted_time, group_time, side="left")]  # R_g
    # one (g, l) pair per tied event: l = 0..d_g - 1
    pair_group = np.repeat(np.arange(group_time.size), tied.astype(np.int64))
    first = np.concatenate([[0], np.cumsum(tied)[:-1]]).astype(np.int64)
    fraction = (np.arange(pair_group.size) - first[pair_group]) / tied[pair_group] if efron \
        else np.zeros(pair_group.size)
    denominator = risk_set[pair_group] - fraction * group_risk[pair_group]
    share = (group_weight / tied)[pair_group]
    value = -float(np.sum(weight * event * shifted)) + float(np.sum(share * np.log(denominator)))
    per_group = np.bincount(pair_group, weights=share / denominator, minlength=group_time.size)
    tie_term = np.bincount(pair_group, weights=share * fraction / denominator,
                           minlength=group_time.size)
    # each row's cumulative sum of per_group over the event times at or before its time
    passed = np.searchsorted(group_time, time, side="right")
    cumulative = np.concatenate([[0.0], np.cumsum(per_group)])[passed]
    own_tie = np.zeros_like(eta)
    own_tie[is_event] = tie_term[group_of_event]
    gradient = -weight * event + risk * (cumulative - own_tie)
    return value / total_events, gradient / total_events


class CoxMath(LossMath):
    """Negative Cox partial log-likelihood of a batch, Breslow or Efron ties."""

    batch_loss = True

    def n_outputs(self, profile: Profile) -> int:
        return 1

    def encode_target(self, y: np.ndarray, profile: Profile) -> np.ndarray:
        time, event = survival_pair(y)
        return encode_cox(time, event)

    def loss_gradient(self, raw, target, sample_weight=None):
        raw = np.asarray(raw, dtype=np.float64)
        n = raw.shape[0]
        weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        time, event = decode_cox(target)
        efron = str(self.params.get("ties", "breslow")) == "efron"
        loss, grad = np.zeros(n), np.zeros_like(raw)
        for rows in row_blocks(n, COX_BLOCK_ROWS):
            value, slope = partial_likelihood(raw[rows, 0], time[rows], event[rows],
                                              weight[rows], efron)
            loss[rows] = value
            grad[rows, 0] = weight[rows].sum() * slope
        return loss, grad

    def after_training(self, raw: np.ndarray, target: np.ndarray) -> CoxMath:
        """The math with the Breslow cumulative baseline hazard of the training rows at the
        grid's times (scikit-survival's ``BreslowEstimator``), which the survival curve needs."""
        from ..survival_support import require

        coxph = require("sksurv.linear_model.coxph")
        time, event = decode_cox(target)
        eta = np.clip(np.asarray(raw, dtype=np.float64)[:, 0], -ETA_CLIP, ETA_CLIP)
        estimator = coxph.BreslowEstimator().fit(eta, event.astype(bool), time)
        step = estimator.cum_baseline_hazard_
        cuts = np.asarray(self.params["times"], dtype=np.float64)
        index = np.searchsorted(step.x, cuts, side="right") - 1
        values = step.a * step.y + step.b
        baseline = np.where(index >= 0, values[np.maximum(index, 0)], 0.0)
        return type(self)({**self.params, "baseline": baseline.tolist()}, self.task, loss_id=self.id)

    def predict(self, raw: np.ndarray) -> np.ndarray:
        """The risk score eta, then S(tau_k) = exp(-H0(tau_k) exp(eta)) at the grid's times
        (the baseline from :meth:`after_training`)."""
        if "baseline" not in self.params:
            raise ValueError("cox predicts a survival curve only after training "
                             "(after_training fits the Breslow baseline hazard)")
        eta = np.clip(np.asarray(raw, dtype=np.float64)[:, 0], -ETA_CLIP, ETA_CLIP)
        baseline = np.asarray(self.params["baseline"], dtype=np.float64)
        survival = np.exp(-baseline[None, :] * np.exp(eta)[:, None])
        return survival_prediction(eta, survival)


def derive_cox(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """Efron's ties when at least 5 % of the events share their time with another (Breslow's
    approximation then biases the coefficients towards 0), else Breslow's; the grid's times."""
    tied = float(profile.facts.get("tied_event_share", 0.0))
    ties = "efron" if tied >= EFRON_TIED_SHARE else "breslow"
    why = (f"{tied:.1%} of the events share their time: Efron's approximation" if ties == "efron"
           else f"{tied:.1%} of the events share their time: Breslow's approximation suffices")
    return {"ties": ties, "ties_source": why, "times": derive_times(profile)}


#: The survival losses' vetoes: their raw outputs must be linear.
SURVIVAL_VETOES = (
    Veto(SOFTMAX_READS_CLASS_PROBABILITIES, "a softmax output sums to one across its units; the "
                                            "loss reads raw scores (it applies its own link)"),
    Veto(SQUASHED_SURVIVAL_HEAD, "the {activation} output would bound the raw scores the loss "
                                 "reads: the output must be linear"),
)


def _cox_output_layer(framework: str, width: int) -> str:
    if framework == "pytorch":
        return "nn.Linear(hidden_units, 1) with no activation; it returns the log-risk eta"
    return "keras.layers.Dense(1) with no activation; it returns the log-risk eta"


COX = LossSpec(
    id="cox",
    title="Cox partial likelihood (DeepSurv)",
    description="The negative Cox partial log-likelihood over the risk sets of a batch, with the "
                "network as the log-risk (DeepSurv): each event's risk is compared with the risks "
                "of every row still at risk at its time, so censored rows count for as long as "
                "they were observed and no baseline hazard is fitted. Ties are Efron's when at "
                "least 5 % of the events share their time, else Breslow's. It assumes "
                "proportional hazards (one risk that scales a common baseline); survival curves "
                "come from a Breslow baseline fitted after training. A batch loss: batches need "
                "events, and it is divided by their number.",
    activations={"survival": frozenset({"linear"})},
    math=CoxMath,
    formula=("-(1 / sum_i w_i d_i) sum_{event times g} [sum_{i in D_g} w_i eta_i - (W_g / d_g) "
             "sum_{l < d_g} log(sum_{t_j >= t_g} w_j exp(eta_j) - c (l / d_g) sum_{i in D_g} w_i "
             "exp(eta_i))], c = 1 Efron, 0 Breslow"),
    citation=("Cox (JRSS B 1972), Regression Models and Life-Tables; Katzman, Shaham, Cloninger, "
              "Bates, Jiang & Kluger (BMC Medical Research Methodology 2018), DeepSurv; Efron "
              "(JASA 1977), The Efficiency of Cox's Likelihood Function for Censored Data"),
    vetoes=SURVIVAL_VETOES,
    params=(TIES, TIMES),
    derivation=derive_cox,
    snippet_values=survival_snippet_values,
    output_layer=_cox_output_layer,
    outputs=(("eta", "the log-risk: higher, the event comes sooner"),),
    prediction="the risk score eta, and S(t) = exp(-H0(t) exp(eta)) with the Breslow baseline "
               "H0 of the training rows at the grid's times",
)

__all__ = ["COX", "SURVIVAL_VETOES", "CoxMath", "TIES", "TIMES", "derive_cox", "decode_cox", "encode_cox",
           "partial_likelihood", "survival_snippet_values"]
