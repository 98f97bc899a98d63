"""Searching a parameter whose best value depends on the data (``LossSpec.search``).

Poly-1's epsilon is the case in point: Leng et al. (ICLR 2022) show that the best weight of
the first polynomial term differs between tasks and datasets (they tune it from -1 to 2), so
a fixed default leaves the loss's gain on the table. On each training fold the experiment
trains one network per grid value on the fold less a stratified, seeded fifth (the tuning
split the plans use, :func:`.decision.tuning_split`), scores each there on the user's metric,
and refits the best value on the whole fold, so the candidate is compared with the others on
the same rows. With fewer than :data:`.metrics.MIN_TUNING_ROWS` tuning rows the derived value
is kept: a choice among three values from a handful of rows would follow their noise.

The planner counts a searched candidate as :func:`fit_units` fits, so the search spends the
budget it was given, not more.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .decision import tuning_split
from .metrics import METRIC_SPECS, MIN_TUNING_ROWS, TUNING_FRACTION

__all__ = ["SearchedValue", "search_value", "chosen_value", "fit_units"]


@dataclass(frozen=True)
class SearchedValue:
    """One fold's search: the parameter, its grid, the value chosen, the tuning rows' score of
    each grid value (None: the fold was too small to search, the derived value was kept)."""

    name: str
    grid: tuple[float, ...]
    value: float
    scores: tuple[float, ...] | None


def fit_units(loss: Any) -> float:
    """What one job of ``loss`` costs in plain fits: one per grid value on the fold less its
    tuning fifth, plus the refit on the whole fold; 1 for a loss without a search."""
    search = getattr(loss, "search", None)
    if search is None:
        return 1.0
    return 1.0 + len(search.grid) * (1.0 - TUNING_FRACTION)


def search_value(loss: Any, params: dict[str, Any], y_train: np.ndarray, *, task: str,
                 metric: str, seed: int,
                 predict_tuning_rows: Callable[[dict[str, Any], np.ndarray, np.ndarray], np.ndarray],
                 context: Any) -> SearchedValue:
    """The grid value of ``loss.search`` that scores best on the tuning rows of this fold.

    ``predict_tuning_rows(params, fit, tune)`` trains on the fold's ``fit`` positions with
    ``params`` and returns its predictions for the ``tune`` positions. Ties, and a value whose
    network failed, go to the grid's order (the derived default first)."""
    search = loss.search
    fit, tune = tuning_split(y_train, task, seed)
    if len(tune) < MIN_TUNING_ROWS:
        return SearchedValue(search.name, search.grid,
                             float(params.get(search.name, search.grid[0])), None)
    spec = METRIC_SPECS[metric]
    sign = 1.0 if spec.greater_is_better else -1.0
    scores = []
    for value in search.grid:
        try:
            prediction = predict_tuning_rows({**params, search.name: value}, fit, tune)
            score = float(spec.score(y_train[tune], prediction, context))
        except Exception:  # noqa: BLE001 - a value whose network fails is simply not chosen
            score = math.nan
        scores.append(score)
    ranked = [sign * score if math.isfinite(score) else -math.inf for score in scores]
    best = int(np.argmax(ranked))  # the first of equal scores: the grid's order breaks ties
    return SearchedValue(search.name, search.grid, float(search.grid[best]), tuple(scores))


def chosen_value(values: Sequence[float], grid: Sequence[float]) -> float:
    """The value chosen on most folds; ties go to the grid's order."""
    counts = Counter(values)
    return max(grid, key=lambda value: (counts.get(value, 0), -list(grid).index(value)))
