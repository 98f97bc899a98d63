"""Every fact about a metric, in one table: the tasks it judges, its direction, the tasks
that use it by default (with the reason shown to the user) and its scorer.

:mod:`advisor.options` derives ``METRICS``, ``TASK_METRICS`` and ``DEFAULT_METRIC`` from
this table, so it imports nothing heavy; the scorers live in :mod:`.scoring` (numpy,
scikit-learn) and are looked up only when a score is computed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MetricSpec", "METRIC_SPECS", "task_metrics", "default_metrics", "DECISION_METRICS",
           "TAU_GRID", "MIN_TUNING_ROWS", "MIN_ACCURACY_TUNING_ROWS", "TUNING_FRACTION"]

_CLASSES = frozenset({"binary", "multiclass", "ordinal"})
_ALL_CLASSES = _CLASSES | {"multilabel"}
_NUMBERS = frozenset({"regression", "count", "proportion"})


@dataclass(frozen=True)
class MetricSpec:
    """One metric: where it applies, which way is better, and how it is computed.

    ``default_for`` maps a task that is judged on this metric when the user names none to
    the reason shown to them; ``scorer`` names the function in :mod:`.scoring` that takes
    ``(y_true, prediction, context)``.
    """

    name: str
    tasks: frozenset[str]
    greater_is_better: bool
    scorer: str
    default_for: Mapping[str, str] = field(default_factory=dict)
    #: The scorer reads a predictive distribution (``advisor.losses._predictive``) instead of
    #: the point prediction (see :func:`.scoring.score_predictions`).
    reads_distribution: bool = False
    #: Whether a user may be judged on it (``--metric``); a diagnostic such as the ECE is
    #: reported beside the primary metric but is no goal of its own (always predicting the
    #: class frequencies scores an ECE near 0).
    judges: bool = True

    def score(self, y_true: Any, prediction: Any, context: Any = None) -> float:
        """The metric of ``prediction`` against ``y_true``; without a context, one is
        inferred from the shapes (probabilities of integer labels, label matrices, values)."""
        from . import scoring

        if context is None:
            context = scoring.infer_context(y_true, prediction.mean if hasattr(prediction, "crps") else prediction)
        return getattr(scoring, self.scorer)(y_true, prediction, context)


def _spec(name: str, tasks: Iterable[str], greater: bool, **default_for: str) -> MetricSpec:
    return MetricSpec(name, frozenset(tasks), greater, f"score_{name}", default_for)


def _distribution_spec(name: str, tasks: Iterable[str]) -> MetricSpec:
    return MetricSpec(name, frozenset(tasks), False, f"score_{name}", {}, reads_distribution=True)


#: Predictions are what the proxies return: class probabilities (n, K), label probabilities
#: (n, L), values (n,), or quantiles (n, levels). Deviances clip predictions to at least 1e-6
#: (a log-link mean cannot be 0 or negative); ordinal ``mae`` uses the median rank of the
#: predicted distribution (the Bayes rule for absolute error), ordinal ``rmse`` the expected
#: rank; multi-label metrics are macro averages over labels (accuracy: per-label accuracy).
METRIC_SPECS: dict[str, MetricSpec] = {spec.name: spec for spec in (
    _spec("accuracy", _ALL_CLASSES, True),
    _spec("balanced_accuracy", _CLASSES, True),
    _spec("f1_macro", _ALL_CLASSES, True),
    _spec("roc_auc", {"binary", "multiclass", "multilabel"}, True),
    _spec("average_precision", {"binary", "multilabel"}, True,
          multilabel="multi-label default: mean average precision over labels"),
    _spec("log_loss", _ALL_CLASSES | {"proportion"}, False,
          binary="binary default: log loss rewards calibrated probabilities",
          multiclass="multiclass default: log loss rewards calibrated probabilities",
          proportion="proportion default: cross-entropy against the observed fraction"),
    _spec("brier", {"binary", "multiclass", "proportion"}, False),
    # expected calibration error (Naeini et al. 2015, Guo et al. 2017): the top-label
    # confidence in 15 equal-width bins of [0, 1]; multi-label: the mean over labels of each
    # label's binary ECE. Not for ordinal targets, whose prediction is a rank, not the top label.
    MetricSpec("ece", frozenset({"binary", "multiclass", "multilabel"}), False, "score_ece",
               judges=False),
    _spec("rmse", _NUMBERS | {"ordinal"}, False,
          regression="regression default: root mean squared error"),
    _spec("mae", _NUMBERS | {"ordinal"}, False,
          ordinal="ordinal default: mean absolute error in rank steps"),
    _spec("r2", _NUMBERS, True),
    _spec("poisson_deviance", {"regression", "count"}, False,
          count="count default: mean Poisson deviance"),
    _spec("gamma_deviance", {"regression"}, False),
    _spec("tweedie_deviance", {"regression", "count"}, False),
    _spec("pinball", {"regression", "count"}, False),
    # imbalanced regression: the mean over equal-width target bins of each bin's MAE (Yang et
    # al. 2021, Ren et al. 2022), so the rare regions weigh as much as the dense ones. The bins
    # are those of advisor.label_density over the whole target (the scoring context's
    # target_edges), the same for every candidate and fold; bins without a row of the fold are
    # left out of the mean.
    _spec("balanced_mae", {"regression", "count"}, False),
    # distribution metrics: every candidate is scored through a predictive distribution (its
    # own, or a Gaussian around its prediction with its training residuals' spread)
    _distribution_spec("gaussian_nll", {"regression", "count"}),
    _distribution_spec("crps", {"regression", "count"}),
    # survival (scikit-survival): Harrell's C of the risk score, Uno's C weighted by the
    # censoring distribution (up to the 90th percentile of the durations), and the integrated
    # Brier score of the survival curve over the grid times inside the fold's follow-up
    _spec("c_index", {"survival"}, True,
          survival="survival default: Harrell's C-index, the share of comparable pairs whose "
                   "risks are in the order of their event times"),
    _spec("uno_c", {"survival"}, True),
    _spec("integrated_brier", {"survival"}, False),
)}


def task_metrics(tasks: Iterable[str]) -> dict[str, frozenset[str]]:
    """Task -> the metrics a user may be judged on for it, for each of ``tasks`` in order."""
    return {task: frozenset(name for name, spec in METRIC_SPECS.items()
                            if task in spec.tasks and spec.judges)
            for task in tasks}


def default_metrics(tasks: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Task -> (its default metric, the reason), for each of ``tasks`` in order."""
    defaults = {task: (name, reason) for name, spec in METRIC_SPECS.items()
                for task, reason in spec.default_for.items()}
    return {task: defaults[task] for task in tasks}


# ----- decision rules (a plan's tuned threshold or logit adjustment, .decision) --------------
#: The scale tau of the logit adjustment: 0 (plain argmax) to 2 in steps of 0.25.
TAU_GRID: tuple[float, ...] = tuple(step / 4 for step in range(9))
#: Fewest tuning rows a rule is tuned from (AutoGluon's calibrate_decision_threshold="auto").
MIN_TUNING_ROWS = 50
#: Fewest tuning rows for accuracy (AutoGluon's), whose calibrated Bayes rule is the plain one.
MIN_ACCURACY_TUNING_ROWS = 10_000
#: Share of a training fold held out (stratified, seeded) to tune the rule on.
TUNING_FRACTION = 0.2
#: The metrics a decision rule changes, with scikit-learn's scorer of each for the whole
#: target and for one label of a multi-label target (each label's share of the macro mean).
DECISION_METRICS: dict[str, tuple[str, str | None]] = {
    "accuracy": ("accuracy", "accuracy"),
    "balanced_accuracy": ("balanced_accuracy", None),
    "f1_macro": ("f1_macro", "f1"),
}
