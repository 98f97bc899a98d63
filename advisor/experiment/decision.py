"""Decision rules tuned on validation data: the other half of a plan (a loss plus a rule).

A class-balanced or threshold metric (balanced accuracy, macro-F1) is decided by the rule
that turns probabilities into labels as much as by the loss. Two rules sit on top of plain
cross-entropy, each tuned for the user's metric on rows the network did not train on:

- ``threshold`` (binary; one per label of a multi-label target): predict the positive class
  when its probability reaches t. scikit-learn's
  :class:`~sklearn.model_selection.TunedThresholdClassifierCV` searches t with the metric's
  scikit-learn scorer on the tuning rows (``cv="prefit"``, the network frozen by
  :class:`~sklearn.frozen.FrozenEstimator`). With calibrated probabilities the F1-optimal
  threshold is about half the best F1 (Lipton, Elkan & Naryanaswamy, ECML PKDD 2014).
- ``logit_adjustment`` (multiclass): predict argmax_c (log p_c - tau log prior_c), the
  post-hoc logit adjustment of Menon et al. (ICLR 2021); tau = 1 is the balanced-error Bayes
  rule for calibrated probabilities, tau = 0 the plain argmax. tau is picked from
  :data:`TAU_GRID` with the project's own scorer of the metric (ties: the smaller tau).

A threshold fitted to a few rows fits their noise, so, as AutoGluon does (autogluon PR
#4632), a rule is tuned only from :data:`MIN_TUNING_ROWS` rows, and for accuracy, whose
Bayes rule with calibrated probabilities already is the plain one, only from
:data:`MIN_ACCURACY_TUNING_ROWS`; otherwise the plain rule is kept and the result says why.

A tuned rule is, in every case, an offset per output on the logits (``logit(t)`` for a
threshold, ``tau log prior`` for the adjustment): the scorers subtract it before the plain
rule (:class:`.scoring.ScoringContext.decision_offsets`), while the probabilities, and with
them log loss, Brier and ECE, stay the network's own. The experiment (:mod:`.run`) and the
quality benchmark's truth both tune through :func:`tune_rule` on :func:`tuning_split`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .metrics import (
    DECISION_METRICS,
    METRIC_SPECS,
    MIN_ACCURACY_TUNING_ROWS,
    MIN_TUNING_ROWS,
    TAU_GRID,
    TUNING_FRACTION,
)
from .scoring import ScoringContext

__all__ = ["RULE_TASKS", "TunedRule", "tune_rule", "tuning_split", "plain_rule", "thresholds_tuned"]

#: The tasks each decision rule applies to (the catalog's plans sit on these).
RULE_TASKS: dict[str, frozenset[str]] = {
    "threshold": frozenset({"binary", "multilabel"}),
    "logit_adjustment": frozenset({"multiclass"}),
}
_EDGE = 1e-6


@dataclass(frozen=True)
class TunedRule:
    """One fold's decision rule: its tuned values, the same as offsets on the logits, and, when
    the plain rule was kept, why."""

    rule: str
    values: tuple[float, ...]        # threshold: one per output; logit_adjustment: (tau,)
    offsets: tuple[float, ...]       # subtracted from the logits before the plain rule
    rows: int                        # tuning rows
    kept_plain: str | None = None    # why the plain rule was kept (the guard), None when tuned


def plain_rule(rule: str, n_outputs: int, rows: int, why: str) -> TunedRule:
    """The plain rule (0.5 per output, or tau = 0) in the rule's terms, with the reason."""
    if rule == "threshold":
        return TunedRule(rule, (0.5,) * n_outputs, (0.0,) * n_outputs, rows, why)
    return TunedRule(rule, (0.0,), (0.0,) * n_outputs, rows, why)


def tuning_split(y: np.ndarray, task: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, tune) positions of a training fold: a stratified, seeded :data:`TUNING_FRACTION`
    held out for the rule, the rest for the network."""
    from .splits import strata_of, stratified_sample

    strata, _ = strata_of(np.asarray(y), task)
    n_rows = len(strata)
    fit = stratified_sample(strata, n_rows - int(round(TUNING_FRACTION * n_rows)), seed)
    return fit, np.setdiff1d(np.arange(n_rows), fit)


def _guard(rule: str, metric: str, rows: int) -> str | None:
    """Why the rule must keep the plain decision on ``rows`` tuning rows, or None."""
    if metric not in DECISION_METRICS:
        return f"{metric} does not read the decision, so there is nothing to tune"
    if rows < MIN_TUNING_ROWS:
        return (f"only {rows} validation rows to tune on (at least {MIN_TUNING_ROWS}, as "
                "AutoGluon requires), so a tuned rule would fit their noise")
    if metric == "accuracy" and rows < MIN_ACCURACY_TUNING_ROWS:
        return (f"judged on accuracy, a rule is tuned only from {MIN_ACCURACY_TUNING_ROWS:,} "
                f"validation rows (as AutoGluon does; {rows:,} here): with calibrated "
                "probabilities the plain rule already is accuracy's best")
    return None


def thresholds_tuned(rule: str, metric: str, rows: int, n_outputs: int) -> int:
    """How many thresholds ``rule`` searches with scikit-learn on ``rows`` tuning rows: the
    outputs of a threshold rule the guard lets tune, else 0 (what the planner pays for; the
    logit adjustment's nine values of tau cost next to nothing)."""
    if rule != "threshold" or _guard(rule, metric, rows) is not None:
        return 0
    return max(1, n_outputs)


def tune_rule(rule: str, probabilities: np.ndarray, y: np.ndarray, *, metric: str, task: str,
              priors: Sequence[float] | None = None) -> TunedRule:
    """The ``rule`` tuned for ``metric`` on validation ``probabilities`` (the task's space:
    (n, 2) binary, (n, L) multi-label, (n, K) multiclass) against their labels ``y``.

    ``priors`` are the class priors of the logit adjustment. The plain rule is kept, with the
    reason, when the guard says the rows are too few or the metric reads no decision."""
    if task not in RULE_TASKS[rule]:
        raise ValueError(f"the {rule} rule does not apply to {task} targets")
    probabilities = np.asarray(probabilities, dtype=float)
    y = np.asarray(y)
    width = 1 if task == "binary" else probabilities.shape[1]
    why = _guard(rule, metric, len(y))
    if why is not None:
        return plain_rule(rule, width, len(y), why)
    if rule == "logit_adjustment":
        if priors is None:
            raise ValueError("the logit adjustment needs the class priors")
        return _tune_tau(probabilities, y, metric, np.asarray(priors, dtype=float))
    if task == "binary":
        return _thresholds(probabilities[:, 1:2], y.reshape(-1, 1), DECISION_METRICS[metric][0])
    per_label = DECISION_METRICS[metric][1]
    if per_label is None:  # pragma: no cover - the metric table keeps multi-label metrics here
        raise ValueError(f"{metric} has no per-label form")
    return _thresholds(probabilities, y, per_label)


def _thresholds(scores: np.ndarray, labels: np.ndarray, scoring: str) -> TunedRule:
    """One threshold per column, each searched by scikit-learn on that column alone; a
    column whose tuning rows hold one class, or whose probabilities are constant, keeps 0.5."""
    values, kept = [], []
    for column in range(scores.shape[1]):
        truth = np.asarray(labels[:, column] > 0.5, dtype=int)
        threshold = _search(scores[:, column], truth, scoring)
        if threshold is None:
            kept.append(column)
        values.append(0.5 if threshold is None else threshold)
    why = None
    if len(kept) == scores.shape[1]:
        why = "the validation rows hold one class only, or the probabilities are constant"
    clipped = np.clip(values, _EDGE, 1.0 - _EDGE)
    return TunedRule("threshold", tuple(float(v) for v in values),
                     tuple(float(v) for v in np.log(clipped) - np.log1p(-clipped)),
                     len(labels), why)


def _search(score: np.ndarray, truth: np.ndarray, scoring: str) -> float | None:
    """scikit-learn's best threshold on one column's positive probabilities, None when it
    cannot be searched (one class, constant probabilities)."""
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import TunedThresholdClassifierCV

    if truth.min() == truth.max() or np.ptp(score) <= 0:
        return None
    column = score.reshape(-1, 1)
    tuner = TunedThresholdClassifierCV(FrozenEstimator(_GivenProbability().fit(column, truth)),
                                       scoring=scoring, response_method="predict_proba",
                                       cv="prefit", refit=False)
    try:
        tuner.fit(column, truth)
    except ValueError:
        return None
    return float(tuner.best_threshold_)


def _tune_tau(probabilities: np.ndarray, y: np.ndarray, metric: str,
              priors: np.ndarray) -> TunedRule:
    """tau from :data:`TAU_GRID` scored with the project's scorer of ``metric`` on the
    adjusted decisions; ties go to the smaller tau (the smaller departure from the argmax)."""
    log_prior = np.log(np.clip(priors, _EDGE, 1.0))
    labels = np.asarray(y, dtype=int).ravel()
    best_tau, best_score = 0.0, -np.inf
    for tau in TAU_GRID:
        context = ScoringContext("multiclass", n_classes=probabilities.shape[1],
                                 decision_offsets=tuple(float(v) for v in tau * log_prior))
        score = float(METRIC_SPECS[metric].score(labels, probabilities, context))
        if score > best_score + 1e-12:
            best_tau, best_score = tau, score
    return TunedRule("logit_adjustment", (best_tau,),
                     tuple(float(v) for v in best_tau * log_prior), len(labels))


class _GivenProbability(ClassifierMixin, BaseEstimator):
    """A fitted binary classifier whose positive-class probability is its one input column,
    so scikit-learn's threshold search runs on probabilities a network already predicted."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> _GivenProbability:
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        positive = np.asarray(X, dtype=float)[:, 0]
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=float)[:, 0] >= 0.5).astype(int)
