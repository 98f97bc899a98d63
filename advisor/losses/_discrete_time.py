"""Discrete-time survival losses on a grid of time intervals: logistic hazard and DeepHit.

Both cut the time axis at quantiles of the event times (:mod:`._survival_target`) and make
no proportional-hazards assumption: each interval has its own output.

- **Logistic hazard** (Gensheimer & Narasimhan, PeerJ 2019, nnet-survival; Kvamme & Borgan,
  Lifetime Data Analysis 2021): one logit per interval, the conditional hazard
  ``h_j = P(event in j | alive at its start)``; a row is a binary cross-entropy per interval
  it was at risk in (0 for the intervals it survived, 1 for the one of its event). Encoded
  target: one column per interval, 1 (event here), 0 (survived it) or -1 (not at risk).
- **DeepHit**, single risk (Lee, Zame, Yoon & van der Schaar, AAAI 2018): a softmax over the
  intervals plus one bin past the last cut is the probability mass of the event time; the
  likelihood of an event is the mass of its interval, of a censored row the mass from its
  interval on; a ranking term ``exp(-(F_i(t_i) - F_k(t_i)) / sigma)`` over the pairs where row
  ``i`` had its event before row ``k``'s time pushes the earlier event's cumulative incidence
  above the later one's. The total is ``alpha NLL + (1 - alpha) ranking`` (pycox's form,
  Kvamme, Borgan & Scheel, JMLR 2019), a batch loss. Encoded target: 1 on the bins whose
  mass is the row's likelihood (one bin among the first ``m``: an event), 0 elsewhere.

A call on more than :data:`BLOCK_ROWS` rows is cut into consecutive batches of nearly equal
size (DeepHit's ranking term is quadratic in the batch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import _math
from ._base import LossMath, ParamSpec
from ._cox import SURVIVAL_VETOES
from ._spec import LossSpec
from ._survival_target import (
    TIMES,
    derive_times,
    interval_index,
    risk_from_survival,
    survival_pair,
    survival_prediction,
    survival_snippet_values,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..profile import Profile

BLOCK_ROWS = 1000
#: pycox's DeepHitSingle defaults (Kvamme et al. 2019), in Lee et al.'s notation.
DEEPHIT_ALPHA, DEEPHIT_SIGMA = 0.2, 0.1

ALPHA = ParamSpec("alpha", DEEPHIT_ALPHA, 0.0, 1.0, "Weight of the likelihood; 1 - alpha "
                  "weighs the ranking term (pycox's default 0.2).")
SIGMA = ParamSpec("sigma", DEEPHIT_SIGMA, 0.0, None, "Scale of the ranking term's "
                  "exp(-(F_i - F_k) / sigma) (Lee et al.'s and pycox's 0.1).", closed="right")


def _intervals(y: np.ndarray, cuts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(interval index of each row, 0/1 events); an event past the last cut (rounding of the
    cut points) counts in the last interval."""
    time, event = survival_pair(y)
    index = interval_index(time, cuts)
    return np.where(event > 0.5, np.minimum(index, cuts.size - 1), index), event


class _GridMath(LossMath):
    """What both discrete-time losses share: the cut points."""

    @property
    def cuts(self) -> np.ndarray:
        return np.asarray(self.params["times"], dtype=np.float64)


class LogisticHazardMath(_GridMath):
    """Binary cross-entropy of the interval hazards over the intervals each row was at risk in."""

    def n_outputs(self, profile: Profile) -> int:
        return int(self.cuts.size)

    def encode_target(self, y: np.ndarray, profile: Profile) -> np.ndarray:
        index, event = _intervals(y, self.cuts)
        columns = np.arange(self.cuts.size)[None, :]
        target = np.where(columns < index[:, None], 0.0, -1.0)
        hit = (columns == index[:, None]) & (event[:, None] > 0.5)
        return np.where(hit, 1.0, target)

    def loss_gradient(self, raw, target):
        raw = np.asarray(raw, dtype=np.float64)
        at_risk = target >= 0.0
        label = np.where(at_risk, target, 0.0)
        cross_entropy = np.logaddexp(0.0, raw) - label * raw
        loss = np.where(at_risk, cross_entropy, 0.0).sum(axis=1)
        return loss, np.where(at_risk, _math.sigmoid(raw) - label, 0.0)

    def init_bias(self, target):
        """Logit of each interval's pooled hazard: events over rows at risk (Kaplan-Meier's)."""
        at_risk = np.maximum((target >= 0.0).sum(axis=0), 1.0)
        hazard = np.clip((target == 1.0).sum(axis=0) / at_risk, 1e-4, 1.0 - 1e-4)
        return _math.logit(hazard)

    def predict(self, raw):
        """Risk, then S(tau_k) = prod_{l <= k} (1 - h_l)."""
        log_survival = np.cumsum(_math.log_sigmoid(-np.asarray(raw, dtype=np.float64)), axis=1)
        survival = np.exp(log_survival)
        return survival_prediction(risk_from_survival(survival), survival)


class DeepHitMath(_GridMath):
    """alpha x the discrete likelihood + (1 - alpha) x the ranking term, over a batch."""

    batch_loss = True

    def n_outputs(self, profile: Profile) -> int:
        return int(self.cuts.size) + 1

    def encode_target(self, y: np.ndarray, profile: Profile) -> np.ndarray:
        index, event = _intervals(y, self.cuts)
        bins = np.arange(self.cuts.size + 1)[None, :]
        mass = np.where(event[:, None] > 0.5, bins == index[:, None], bins >= index[:, None])
        return mass.astype(np.float64)

    def loss_gradient(self, raw, target, sample_weight=None):
        raw = np.asarray(raw, dtype=np.float64)
        n = raw.shape[0]
        weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        loss, grad = np.zeros(n), np.zeros_like(raw)
        for rows in _math.row_blocks(n, BLOCK_ROWS):
            value, slope = self._batch(raw[rows], np.asarray(target)[rows], weight[rows])
            loss[rows] = value
            grad[rows] = slope
        return loss, grad

    def _batch(self, raw: np.ndarray, mass: np.ndarray, weight: np.ndarray) -> tuple[float, np.ndarray]:
        """One batch's loss and ``sum(weight)`` times its gradient w.r.t. ``raw``."""
        alpha, sigma = float(self.params["alpha"]), float(self.params["sigma"])
        total = weight.sum()
        log_pmf = _math.log_softmax(raw)
        pmf = np.exp(log_pmf)
        marked = mass > 0.5
        masked = np.where(marked, log_pmf, -np.inf)
        top = masked.max(axis=1, keepdims=True)
        log_mass = top[:, 0] + np.log(np.exp(masked - top).sum(axis=1))
        nll = -log_mass
        # d(-log mass)/dz = pmf - pmf restricted to the marked bins, renormalised
        grad_nll = pmf - np.where(marked, np.exp(log_pmf - log_mass[:, None]), 0.0)
        rank, grad_rank = _ranking(pmf, mass, weight, sigma)
        value = alpha * float(np.dot(weight, nll)) / total + (1.0 - alpha) * rank
        grad = alpha * weight[:, None] * grad_nll + (1.0 - alpha) * total * grad_rank
        return value, grad

    def predict(self, raw):
        """Risk, then S(tau_k) = 1 - F(tau_k), F the cumulative mass of the bins up to k."""
        pmf = _math.softmax(np.asarray(raw, dtype=np.float64))
        survival = np.clip(1.0 - np.cumsum(pmf, axis=1)[:, :-1], 0.0, 1.0)
        return survival_prediction(risk_from_survival(survival), survival)


def _ranking(pmf: np.ndarray, mass: np.ndarray, weight: np.ndarray,
             sigma: float) -> tuple[float, np.ndarray]:
    """DeepHit's ranking term over the batch's n x n pairs (weighted mean, as pycox's mean over
    the matrix) and its gradient w.r.t. the logits."""
    n_bins = pmf.shape[1]
    index = np.argmax(mass > 0.5, axis=1)               # the row's interval
    event = (mass.sum(axis=1) == 1.0) & (index < n_bins - 1)  # one marked bin among the first m
    cif = np.cumsum(pmf, axis=1)
    at_index = cif[:, index]                            # [k, i] = F_k(interval of i)
    own = np.diagonal(at_index).copy()                  # F_i(interval of i)
    later = (index[:, None] < index[None, :]) | ((index[:, None] == index[None, :]) & ~event[None, :])
    pairs = (event[:, None] & later).astype(np.float64)  # [i, k]: i's event before k's time
    total = weight.sum()
    pair_weight = pairs * np.outer(weight, weight) / total ** 2
    eta = np.exp(-(own[:, None] - at_index.T) / sigma)  # [i, k]
    value = float(np.sum(pair_weight * eta))
    coefficient = pair_weight * eta / sigma              # d value / d F_k(j_i) = +c, d F_i(j_i) = -c
    up_to = (np.arange(n_bins)[None, :] <= index[:, None]).astype(np.float64)  # [i, l]
    # dF_r(j)/dz_r,l = pmf_r,l (1{l <= j} - F_r(j))
    as_later = pmf * (coefficient.T @ up_to - (coefficient.T * at_index).sum(axis=1)[:, None])
    as_first = pmf * (up_to - own[:, None]) * coefficient.sum(axis=1)[:, None]
    return value, as_later - as_first


def derive_grid(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """The time grid: quantiles of the event times, about ten events an interval."""
    times = derive_times(profile)
    return {"times": times, "times_source": f"{len(times)} cut points at quantiles of the "
                                            "event times (about ten events an interval)"}


def derive_deephit(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """The grid, and alpha 0.2, sigma 0.1 (pycox's DeepHitSingle defaults)."""
    return {**derive_grid(profile, options), "alpha": DEEPHIT_ALPHA, "sigma": DEEPHIT_SIGMA}


def _hazard_output_layer(framework: str, width: int) -> str:
    if framework == "pytorch":
        return f"nn.Linear(hidden_units, {width}) with no activation; it returns one hazard logit per interval"
    return f"keras.layers.Dense({width}) with no activation; it returns one hazard logit per interval"


def _deephit_output_layer(framework: str, width: int) -> str:
    if framework == "pytorch":
        return (f"nn.Linear(hidden_units, {width}) with no activation; it returns the logits of "
                "the event time's bins (the intervals, then past the last cut)")
    return (f"keras.layers.Dense({width}) with no activation; it returns the logits of the "
            "event time's bins (the intervals, then past the last cut)")


LOGISTIC_HAZARD = LossSpec(
    id="logistic_hazard",
    title="Logistic hazard (discrete-time survival)",
    description="Discrete-time survival: the time axis is cut at quantiles of the event times "
                "(about ten events an interval, 4 to 20 intervals) and the network gives one "
                "hazard logit per interval, trained with a binary cross-entropy on every interval "
                "a row was at risk in (nnet-survival). No proportional-hazards assumption: each "
                "interval has its own hazard, so effects may change over time and a plateau of "
                "the survival curve is learned as hazards near 0. The survival curve is the "
                "product of 1 - hazard; the output bias starts at the pooled hazards.",
    activations={"survival": frozenset({"linear"})},
    math=LogisticHazardMath,
    formula=("sum_{k <= j(t), at risk} BCE(y_k, s(z_k)), y_k = 1{k = j(t), d = 1}; a censored "
             "row is at risk in the intervals before its own; S(tau_k) = prod_{l <= k} (1 - s(z_l))"),
    citation=("Gensheimer & Narasimhan (PeerJ 2019), A scalable discrete-time survival model for "
              "neural networks; Kvamme & Borgan (Lifetime Data Analysis 2021), Continuous and "
              "discrete-time survival prediction with neural networks"),
    vetoes=SURVIVAL_VETOES,
    params=(TIMES,),
    derivation=derive_grid,
    snippet_values=survival_snippet_values,
    output_layer=_hazard_output_layer,
    outputs=(("hazard_logit", "z_k, the logit of the hazard of interval k (one per interval)"),),
    prediction="the survival curve S(tau_k) = prod_{l <= k} (1 - s(z_l)) at the cut points; the "
               "risk score is the mean of 1 - S over them",
)

DEEPHIT = LossSpec(
    id="deephit",
    title="DeepHit (single risk)",
    description="DeepHit: a softmax over the intervals of the time grid (quantiles of the event "
                "times) plus one bin past the last cut is the distribution of the event time, "
                "trained with its likelihood (an event: the mass of its interval; a censored row: "
                "the mass from its interval on) and a ranking term that pushes the cumulative "
                "incidence of an earlier event above that of the rows still event-free then. "
                "alpha = 0.2 weighs the likelihood, sigma = 0.1 scales the ranking (pycox's "
                "defaults). No proportional-hazards assumption; aimed at discrimination (the "
                "C-index) more than calibration. A batch loss (the ranking is over its pairs).",
    activations={"survival": frozenset({"linear"})},
    math=DeepHitMath,
    formula=("alpha (-log sum_{k in A_i} p_k) + (1 - alpha) mean_{i, k} 1{d_i = 1, j_i < j_k or "
             "(j_i = j_k, d_k = 0)} exp(-(F_i(j_i) - F_k(j_i)) / sigma), p = softmax(z), F = cumsum(p), "
             "A_i = {j_i} for an event, {j_i, ..., m} if censored"),
    citation=("Lee, Zame, Yoon & van der Schaar (AAAI 2018), DeepHit: A Deep Learning Approach "
              "to Survival Analysis with Competing Risks; Kvamme, Borgan & Scheel (JMLR 2019), "
              "Time-to-Event Prediction with Neural Networks and Cox Regression (pycox)"),
    vetoes=SURVIVAL_VETOES,
    params=(TIMES, ALPHA, SIGMA),
    derivation=derive_deephit,
    snippet_values=survival_snippet_values,
    output_layer=_deephit_output_layer,
    outputs=(("bin_logit", "z_k, the logit of the event time falling in bin k (the intervals, "
                           "then past the last cut)"),),
    prediction="the survival curve S(tau_k) = 1 - sum_{l <= k} softmax(z)_l at the cut points; "
               "the risk score is the mean of 1 - S over them",
)

__all__ = ["ALPHA", "DEEPHIT", "LOGISTIC_HAZARD", "SIGMA", "TIMES", "DeepHitMath", "LogisticHazardMath", "derive_deephit",
           "derive_grid"]
