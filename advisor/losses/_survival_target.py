"""What the survival losses share: the (time, event) target, its time grid and the prediction.

A survival target is two columns per row, the duration ``t`` and the event indicator ``d``
(1: the event happened at ``t``; 0: the row was censored at ``t``, still event-free then).
The proxy's network is as wide as its encoded target (scikit-learn sizes the output layer
from it), so each loss encodes the pair into its own width: ``cox`` into one signed column,
the discrete-time losses into one column per interval of the time grid.

The grid is a set of cut points ``tau_1 < ... < tau_m`` at quantiles of the event times
(Kvamme & Borgan, Lifetime Data Analysis 2021, found quantile grids as good as or better
than equidistant ones), the last at the largest event time. Interval ``j`` (0-based) is
``(tau_j-1, tau_j]`` with ``tau_-1 = -inf``; a time past the last cut (only censored rows)
falls in interval ``m``. A censored row is counted as alive through the intervals before its
own (its time rounded down to the previous cut, as pycox does).

Every survival loss predicts the same shape, ``(n, 1 + m)``: a risk score (higher: the
event comes sooner; the C-indexes read it), then the survival probabilities ``S(tau_k)`` at
the cut points (the integrated Brier score reads them).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ._base import ParamSpec

if TYPE_CHECKING:  # pragma: no cover
    from ..profile import Profile

#: Fewest and most cut points of the discrete-time grid, and the events wanted per interval.
MIN_INTERVALS, MAX_INTERVALS, EVENTS_PER_INTERVAL = 4, 20, 10

TIMES = ParamSpec("times", None, None, None, "Cut points of the time grid: quantiles of the "
                  "event times, the last at the largest event time (the discrete losses' "
                  "intervals, and the times every survival curve is predicted at).")


def survival_pair(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(durations, event indicators as 0/1 floats) of a profile-style survival target (n, 2)."""
    values = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    return values[:, 0], values[:, 1]


def time_grid(time: np.ndarray, event: np.ndarray) -> list[float]:
    """Cut points at quantiles of the event times: clip(events // 10, 4, 20) of them (about
    ten events an interval), duplicates merged, the last at the largest event time."""
    events = np.sort(time[event > 0.5])
    if events.size == 0:
        raise ValueError("a survival target needs at least one event")
    count = min(MAX_INTERVALS, max(MIN_INTERVALS, events.size // EVENTS_PER_INTERVAL))
    levels = np.arange(1, count + 1) / count
    cuts = np.unique(np.quantile(events, levels, method="inverted_cdf"))
    return [float(cut) for cut in cuts]


def derive_times(profile: Profile) -> list[float]:
    """The time grid of the profile's whole target (the same for every fold and loss)."""
    time, event = survival_pair(profile.y)
    return time_grid(time, event)


def interval_index(time: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Each time's interval: the number of cut points strictly below it (0..m)."""
    return np.searchsorted(cuts, time, side="left")


def risk_from_survival(survival: np.ndarray) -> np.ndarray:
    """The risk score of a survival curve on the grid: the mean of 1 - S(tau_k) over the cut
    points (a larger mass of early events, a higher risk)."""
    return np.mean(1.0 - survival, axis=1)


def survival_prediction(risk: np.ndarray, survival: np.ndarray) -> np.ndarray:
    """The (n, 1 + m) prediction every survival loss returns: risk, then S at the cuts."""
    return np.column_stack([np.asarray(risk, dtype=np.float64), survival])


def survival_snippet_values(framework: str, task: str, params: dict[str, Any],
                            profile: Profile) -> dict[str, Any]:
    """The number of cut points (the discrete losses' output width)."""
    return {"n_times": len(params.get("times") or ())}


def events_share(event: np.ndarray) -> float:
    """Share of rows with an event (1 - the censored fraction)."""
    return float(np.mean(event > 0.5)) if event.size else math.nan
