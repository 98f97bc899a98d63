"""Facts of a survival target: censoring, events per feature, ties, the Kaplan-Meier plateau
and the proportional-hazards check, computed by lifelines.

- the Kaplan-Meier curve (``lifelines.KaplanMeierFitter``): its value at the last event
  time, and how long it stays flat after it (a cured fraction: a share of the rows that never
  has the event, Maller & Zhou 1996, shows as a plateau well above 0 over a long follow-up);
- proportional hazards: the Schoenfeld-residual test of Grambsch & Therneau (Biometrika 1994)
  on a linear Cox fit of the numeric features (``lifelines.CoxPHFitter`` with a small ridge
  penalty, then ``lifelines.statistics.proportional_hazard_test`` on the rank of time); the
  smallest p-value over the covariates, and whether it stays below 0.05 after a Bonferroni
  correction.

Other tasks take the neutral values of :data:`NEUTRAL_SURVIVAL_FACTS`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from ..survival_support import require
from ._feature_facts import numeric_feature_matrix

NEUTRAL_SURVIVAL_FACTS: dict[str, Any] = {
    "censored_fraction": 0.0, "n_events": 0.0, "events_per_feature": 0.0,
    "tied_event_share": 0.0, "km_final_survival": 0.0, "km_plateau_length": 0.0,
    "cured_fraction": False, "ph_min_p": 1.0, "ph_violated": False,
}
#: A cured fraction: Kaplan-Meier survival at the last event at least this, flat for at
#: least this share of the follow-up after it.
CURED_MIN_SURVIVAL, CURED_MIN_PLATEAU = 0.2, 0.2
#: The proportional-hazards test's level (Bonferroni over the covariates).
PH_LEVEL = 0.05
#: Rows (an evenly strided sample) and numeric features the Cox fit of the test uses.
PH_MAX_ROWS, PH_MAX_FEATURES = 3000, 30
#: The Cox fit's ridge penalty (lifelines' penalizer): keeps separable data finite.
PH_PENALIZER = 0.01


def survival_facts(y: np.ndarray, features: pd.DataFrame, row_mask: np.ndarray) -> dict[str, Any]:
    """The survival facts of a (duration, event) target of the rows kept."""
    time, event = np.asarray(y, dtype=np.float64)[:, 0], np.asarray(y)[:, 1] > 0.5
    n_events = int(event.sum())
    event_times = time[event]
    _, counts = np.unique(event_times, return_counts=True)
    tied = float(counts[counts > 1].sum() / n_events) if n_events else 0.0
    final, plateau = _kaplan_meier(time, event)
    min_p, covariates = _ph_test(time, event, features, row_mask)
    return {
        "censored_fraction": 1.0 - n_events / len(time),
        "n_events": n_events,
        "events_per_feature": n_events / max(1, features.shape[1]),
        "tied_event_share": tied,
        "km_final_survival": final,
        "km_plateau_length": plateau,
        "cured_fraction": final >= CURED_MIN_SURVIVAL and plateau >= CURED_MIN_PLATEAU,
        "ph_min_p": min_p,
        "ph_violated": covariates > 0 and min_p * covariates < PH_LEVEL,
    }


def _kaplan_meier(time: np.ndarray, event: np.ndarray) -> tuple[float, float]:
    """(KM survival at the last event time, follow-up after it / the whole follow-up)."""
    lifelines = require("lifelines")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitter = lifelines.KaplanMeierFitter().fit(time, event_observed=event)
        last = float(time[event].max())
        final = float(fitter.survival_function_at_times(last).iloc[0])
    span = float(time.max() - min(0.0, float(time.min())))
    return final, (float(time.max()) - last) / span if span > 0 else 0.0


def _ph_test(time: np.ndarray, event: np.ndarray, features: pd.DataFrame,
             row_mask: np.ndarray) -> tuple[float, int]:
    """(smallest p-value of the Schoenfeld test, covariates tested); (1, 0) when no linear
    Cox fit is possible (no numeric feature, or lifelines cannot fit it)."""
    step = -(-len(time) // PH_MAX_ROWS)
    rows = np.flatnonzero(row_mask)[::step]
    matrix = numeric_feature_matrix(features, rows)
    if matrix is None:
        return 1.0, 0
    matrix = matrix[:, :PH_MAX_FEATURES]
    frame = pd.DataFrame(matrix, columns=[f"x{index}" for index in range(matrix.shape[1])])
    frame["duration"], frame["event"] = time[::step], event[::step].astype(int)
    if frame["event"].sum() < 2:
        return 1.0, 0
    lifelines = require("lifelines")
    statistics = require("lifelines.statistics")
    exceptions = require("lifelines.exceptions")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitter = lifelines.CoxPHFitter(penalizer=PH_PENALIZER).fit(frame, "duration", "event")
            result = statistics.proportional_hazard_test(fitter, frame, time_transform="rank")
    except (ValueError, ArithmeticError, np.linalg.LinAlgError, exceptions.ConvergenceError):
        return 1.0, 0
    p_values = np.asarray(result.p_value, dtype=np.float64).reshape(-1)
    p_values = p_values[np.isfinite(p_values)]
    if not p_values.size:
        return 1.0, 0
    return float(max(p_values.min(), 0.0)), int(p_values.size)

