"""The fairness of one fold's predictions across the groups of a sensitive column, by fairlearn.

Per fold and candidate: the user's metric in each group (``fairlearn.metrics.MetricFrame``
over the project's own scorer), and the two gaps fairlearn defines on the predicted classes:
``demographic_parity_difference`` (largest gap between groups of the predicted-positive
rate) and ``equalized_odds_difference`` (the larger of the gaps of the true- and
false-positive rates). A multiclass target takes each gap's largest value over the classes,
one class against the rest (fairlearn's gaps are binary). A group whose metric cannot be
computed on a fold (one class only, for a ranking metric) is NaN there.

fairlearn is the optional extra ``[fairness]``: :func:`require_fairlearn` turns its absence
into one line naming the pip command.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SensitiveError
from ..stats import finite_mean
from .metrics import METRIC_SPECS

__all__ = ["FoldFairness", "require_fairlearn", "fold_fairness", "summarise"]

INSTALL_HINT = "pip install 'loss-advisor[fairness]' (fairlearn)"


def require_fairlearn() -> None:
    """Fail with one line when fairlearn, which measures the groups' gaps, is missing."""
    import importlib.util

    if importlib.util.find_spec("fairlearn") is None:
        raise SensitiveError("--sensitive needs fairlearn, which is not installed",
                             hint=f"install it with {INSTALL_HINT}")


@dataclass(frozen=True)
class FoldFairness:
    """One fold's per-group scores (by group index) and fairlearn's two gaps."""

    per_group: tuple[float, ...]
    demographic_parity: float
    equalized_odds: float


def fold_fairness(y_true: np.ndarray, prediction: np.ndarray, groups: np.ndarray,
                  n_groups: int, score: Callable[[np.ndarray, np.ndarray], float]) -> FoldFairness:
    """The fold's fairness: ``score(y, prediction)`` per group, DP and EO differences."""
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        equalized_odds_difference,
    )

    labels = np.asarray(y_true, dtype=int).ravel()
    probabilities = np.asarray(prediction, dtype=float)

    def safe(truth: np.ndarray, predicted: np.ndarray) -> float:
        try:
            value = float(score(truth, predicted))
        except ValueError:  # e.g. ROC AUC of a group with one class in this fold
            return math.nan
        return value if math.isfinite(value) else math.nan

    frame = MetricFrame(metrics=safe, y_true=labels, y_pred=probabilities,
                        sensitive_features=np.asarray(groups, dtype=int))
    by_group = frame.by_group
    per_group = tuple(float(by_group.get(index, math.nan)) for index in range(n_groups))
    predicted = probabilities.argmax(axis=1) if probabilities.ndim == 2 else (probabilities >= 0.5)
    classes = [1] if probabilities.ndim == 1 or probabilities.shape[1] == 2 \
        else range(probabilities.shape[1])
    parity, odds = [], []
    for k in classes:
        truth_k, predicted_k = (labels == k).astype(int), (np.asarray(predicted) == k).astype(int)
        parity.append(demographic_parity_difference(truth_k, predicted_k, sensitive_features=groups))
        odds.append(equalized_odds_difference(truth_k, predicted_k, sensitive_features=groups))
    return FoldFairness(per_group, float(np.nanmax(parity)), float(np.nanmax(odds)))


def summarise(folds: Sequence[FoldFairness], metric: str,
              names: Sequence[str]) -> dict[str, Any]:
    """The candidate's fairness over its folds: the per-group means, the worst group (of the
    means) and the worst group per fold, the mean gaps. Raw floats: the record rounds."""
    greater = METRIC_SPECS[metric].greater_is_better
    table = np.array([fold.per_group for fold in folds], dtype=float)
    means = [finite_mean(table[:, index].tolist()) for index in range(len(names))]
    finite = [index for index, value in enumerate(means) if math.isfinite(value)]
    worst_index = (None if not finite else
                   (min if greater else max)(finite, key=lambda index: means[index]))
    per_fold = []
    for row in table:
        values = row[np.isfinite(row)]
        per_fold.append(float(values.min() if greater else values.max()) if values.size else math.nan)
    return {"metric": metric,
            "worst_group": means[worst_index] if worst_index is not None else math.nan,
            "worst_group_name": names[worst_index] if worst_index is not None else None,
            "worst_group_folds": tuple(per_fold),
            "per_group": dict(zip(names, means, strict=True)),
            "demographic_parity_difference": finite_mean([fold.demographic_parity for fold in folds]),
            "equalized_odds_difference": finite_mean([fold.equalized_odds for fold in folds])}
