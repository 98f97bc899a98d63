"""The survival metrics, computed by scikit-survival: Harrell's C, Uno's C and the integrated
Brier score.

A survival prediction is ``(n, 1 + m)``: the risk score, then the survival probabilities at
the candidate's grid times (``ScoringContext.prediction_times``; see
``advisor.losses._survival_target``). The truth is ``(n, 2)``: duration, 0/1 event.

Uno's C and the Brier score weigh the rows by the inverse of the censoring distribution
(Kaplan-Meier of the censoring times). It is estimated on the whole target
(``ScoringContext.survival_reference``), the same for every candidate and fold, as the label
density bins of ``balanced_mae`` are: it says how rows were censored, not what a model
learnt, and the whole target covers every fold's follow-up (scikit-survival refuses test
times beyond the reference's).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..survival_support import require

__all__ = ["score_c_index", "score_uno_c", "score_integrated_brier", "survival_reference",
           "HORIZON_QUANTILE"]

#: Uno's C is truncated at this quantile of the durations (the censoring distribution must be
#: positive there).
HORIZON_QUANTILE = 0.9


def _pair(y: Any) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    if values.shape[1] != 2:
        raise ValueError("a survival metric needs (duration, event) pairs")
    return values[:, 0], values[:, 1] > 0.5


def _structured(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    return require("sksurv.util").Surv.from_arrays(event=event, time=time)


def _risk(prediction: Any) -> np.ndarray:
    values = np.asarray(prediction, dtype=np.float64)
    return values[:, 0] if values.ndim == 2 else values


def _reference(context: Any, time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """The censoring distribution's rows: the whole target, else the fold's own."""
    if context.survival_reference:
        reference_time, reference_event = context.survival_reference
        return _structured(np.asarray(reference_time), np.asarray(reference_event) > 0.5)
    return _structured(time, event)


def score_c_index(y_true: Any, prediction: Any, context: Any) -> float:
    """Harrell's C-index of the risk score (``sksurv.metrics.concordance_index_censored``)."""
    time, event = _pair(y_true)
    if not event.any():
        raise ValueError("the C-index needs an event in the fold")
    metrics = require("sksurv.metrics")
    return float(metrics.concordance_index_censored(event, time, _risk(prediction))[0])


def score_uno_c(y_true: Any, prediction: Any, context: Any) -> float:
    """Uno's C, inverse-probability-of-censoring weighted, truncated at the context's horizon
    (``sksurv.metrics.concordance_index_ipcw``)."""
    time, event = _pair(y_true)
    if not event.any():
        raise ValueError("Uno's C needs an event in the fold")
    metrics = require("sksurv.metrics")
    tau = context.survival_horizon or None
    return float(metrics.concordance_index_ipcw(_reference(context, time, event),
                                                _structured(time, event), _risk(prediction),
                                                tau=tau)[0])


def score_integrated_brier(y_true: Any, prediction: Any, context: Any) -> float:
    """The integrated Brier score of the survival curve over the grid times inside the fold's
    follow-up (``sksurv.metrics.integrated_brier_score``); lower is better."""
    time, event = _pair(y_true)
    values = np.asarray(prediction, dtype=np.float64)
    grid = np.asarray(context.prediction_times, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != grid.size + 1 or grid.size == 0:
        raise ValueError("the integrated Brier score needs a survival curve at the grid's times")
    inside = (grid >= time.min()) & (grid < time.max())
    if inside.sum() < 2:
        raise ValueError("fewer than two grid times inside the fold's follow-up")
    metrics = require("sksurv.metrics")
    return float(metrics.integrated_brier_score(_reference(context, time, event),
                                                _structured(time, event),
                                                values[:, 1:][:, inside], grid[inside]))


def survival_reference(y: Any) -> tuple[tuple[tuple[float, ...], tuple[float, ...]], float]:
    """(the whole target's durations and events, Uno's horizon) for the scoring context."""
    time, event = _pair(y)
    horizon = float(np.quantile(time, HORIZON_QUANTILE))
    return (tuple(time.tolist()), tuple(event.astype(float).tolist())), horizon
