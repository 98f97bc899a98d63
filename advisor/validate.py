"""Stage 4, validate: train every candidate loss on the same small MLP and compare them.

Public function: :func:`validate`. Output: :class:`Validation`.

The protocol, in the order it runs (every choice is reported in ``Validation.protocol``):

1. **Candidates**: the top ``max_candidates`` losses of the rule ranking that are not
   vetoed, plus, always, the task's default loss (``advisor.losses.DEFAULT_LOSS``) so the
   user sees what the advice is worth against the naive choice, plus the user's current
   loss when given. A vetoed default is reported as vetoed and not trained.
2. **Pilot**: every candidate is trained for a few epochs on a small stratified sample,
   which measures what a fit, an epoch and an adam step (batch) cost on this machine with
   these features; process-based workers are started (and import) before it, on the
   budget's clock.
3. **Plan** (:func:`plan_protocol`): rows (a stratified, reproducible sample when the data
   do not fit the budget), folds (5; 5 x 2 repeated below 1,000 rows; 3 when the budget is
   tight) and the epoch cap are chosen so that the whole run ends within ``budget``
   seconds. Choices are quantized (rows on a 1-1.5-2-3-5-7 grid, epochs in steps of 5) so
   that small timing jitter does not change them; pass ``sample_rows``/``folds``/
   ``repeats``/``epochs`` to pin them exactly (e.g. to reproduce a run on another machine).
4. **Folds**: stratified K-fold (classes; quantile bins of a numeric target; the rarest
   label for multi-label), shuffled with the seed. Every candidate sees the same folds, the
   same architecture (``hidden``), the same optimizer settings and, on each fold, the same
   seed; each trains as a careful user would, with early stopping on its loss over a
   held-out tenth of the training rows (patience 10, the best weights kept). Features go through a :class:`~sklearn.compose.ColumnTransformer` (numeric: median
   imputation and standardization; categorical: most-frequent imputation and one-hot with
   at most 20 categories) fitted on the training fold only. A text column of numbers is
   numeric, its few cells of other text ("n/a?") missing, by the target's test
   (:func:`advisor.profile.split_stray_text`).
5. **Run**: one job per (candidate, fold), through joblib, so any joblib backend
   (``loky``, ``threading``, ``dask`` with a running ``dask.distributed.Client``, ``ray``
   after ``ray.util.joblib.register_ray()``) runs the experiment. BLAS is limited to one
   thread inside each job. A job that raises, diverges (``ProxyDivergedError``) or predicts
   non-finite values is a *failed* result, not a crash; warnings (``ConvergenceWarning``
   when the epoch cap stops training) are recorded, never printed. If the budget runs out
   anyway (a bad estimate), jobs not yet started are skipped and only the folds every
   candidate completed are compared.
6. **Scores**: each fold is scored on the primary metric (``facts["metric"]``) and on the
   task's other standard metrics (:data:`METRIC_FUNCTIONS`).
7. **Statistics** (:mod:`advisor.stats`): every pair of tested candidates is compared on
   the primary metric with the corrected resampled t-test (plus the Wilcoxon signed-rank
   test from 10 folds on); ``alpha`` = 0.05.

8. **Stability** (:mod:`advisor.stability`): a candidate that blew up on any split (an
   error far worse than the split's best candidate's and than its own typical ratio, or
   predictions far outside the training targets) is *unstable*: its scores are kept for the
   report, but it is left out of the comparisons and never recommended.

Statuses of a candidate: ``tested`` (trained and scored on every compared split, stably),
``unstable``, ``failed`` (raised, diverged, predicted non-finite values or could not be
scored on the primary metric on some split; the reason is recorded) and ``not_run`` (the
budget ran out first). The validator measures; the decide stage (:mod:`advisor.decide`)
judges the measurements and gives the verdicts.

Nothing here prints. Progress goes to the ``progress`` callback as ``(done, total, message)``.
"""

from __future__ import annotations

import math
import os
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from . import stats
from .errors import DataShapeError, OptionError
from .options import TASK_METRICS, check_budget, check_jobs
from .schema import significant
from .stability import overshoot, unstable_candidates

__all__ = [
    "validate", "Validation", "Protocol", "CandidateEvidence", "Plan", "plan_protocol",
    "METRIC_FUNCTIONS", "ScoringContext", "score_predictions", "build_preprocessor",
]

ProgressCallback = Callable[[int, int, str], None]


CLASS_TASKS = frozenset({"binary", "multiclass", "ordinal"})
NUMERIC_TASKS = frozenset({"regression", "count", "proportion"})

# ----- protocol constants -------------------------------------------------------------
DEFAULT_HIDDEN: tuple[int, ...] = (64,)
#: Folds, and repeats below SMALL_DATA_ROWS rows.
DEFAULT_FOLDS = 5
SMALL_DATA_ROWS = 1000
SMALL_DATA_REPEATS = 2
MAX_REPEATS = 10          # repeats the budget may add when the fits stop early
TIGHT_FOLDS = 3
#: Epoch cap: the proxy's adam stops earlier when its held-out loss stops improving. The aim is
#: TARGET_STEPS adam steps per fit (batches of BATCH_ROWS rows), within MIN_EPOCHS-MAX_EPOCHS;
#: before the budget cuts rows, a fit keeps at least MIN_EPOCHS epochs and MIN_STEPS steps.
BATCH_ROWS = 200
TARGET_STEPS = 10_000
MIN_STEPS = 300
MAX_EPOCHS = 1000
MIN_EPOCHS = 10
FLOOR_EPOCHS = 5
#: Smallest sample the budget may cut the data to, and the largest sample ever used.
MIN_SAMPLE_ROWS = 500
MAX_SAMPLE_ROWS = 200_000
#: Pilot: a small and a larger stratified sample, PILOT_EPOCHS (and twice that) epochs.
PILOT_SMALL_ROWS = 200
PILOT_ROWS = 1000
PILOT_EPOCHS = 10
#: Share of the budget the plan may spend (the rest absorbs estimation error).
BUDGET_SHARE = 0.85
#: Throughput of one worker when several share a machine (memory bandwidth, the parent).
PARALLEL_EFFICIENCY = 0.85
#: Dispatching jobs to parallel workers (after their warm-up), seconds.
DISPATCH_SECONDS = 0.2
#: Pickling throughput to process-based workers, bytes per second.
TRANSFER_BYTES_PER_SECOND = 300e6
#: Fixed cost of one job besides training (preprocessing set-up, scoring), seconds.
JOB_OVERHEAD_SECONDS = 0.02
#: The planning cost model, in seconds on the reference machine (2 cores, one BLAS thread per
#: fit, hidden 64, adam, batches of 200): about 1.5x the typical pilot measurement there
#: (recalibrated when it had drifted to 3x and the experiment used a fifth of its budget), so
#: ordinary load still fits the budget. The protocol is planned from this model, not from the
#: pilot's raw timings, which jitter 1.5-2x from run to run: that keeps the protocol, and so
#: the JSON, identical for the same input and seed. The pilot only scales the model, by a
#: power of two, when this machine is clearly slower (SLOWDOWN_TOLERANCE).
MODEL_PER_FIT = 1e-3
MODEL_PER_EPOCH = 5e-5
MODEL_PER_BATCH = 1.5e-4
MODEL_PER_BATCH_PER_UNIT = 1.5e-6      # per (input + output) unit, for 64 hidden units
MODEL_PER_ROW = 1.5e-6
MODEL_PER_ROW_PER_COLUMN = 2e-7
MODEL_PER_PREPARE = 2e-2
SLOWDOWN_TOLERANCE = 1.5
#: Seconds of the budget set aside for the pilot, and for starting process workers.
PILOT_RESERVE_SECONDS = 1.0
WORKER_RESERVE_SECONDS = 1.5
LOCAL_BACKENDS = frozenset({"loky", "multiprocessing", "threading", "sequential"})
PROCESS_BACKENDS = frozenset({"loky", "multiprocessing"})

_DEVIANCE_FLOOR = 1e-6
_PROBABILITY_FLOOR = 1e-15


# ===== metrics ==========================================================================
@dataclass(frozen=True)
class ScoringContext:
    """What a metric needs besides ``(y_true, prediction)``.

    ``levels`` are the quantile levels the pinball loss averages over;
    ``prediction_levels`` the levels of the columns of a quantile loss's prediction (empty
    for point predictions); ``tweedie_power`` the power of the Tweedie deviance.
    """

    task: str
    n_classes: int = 0
    levels: tuple[float, ...] = (0.5,)
    prediction_levels: tuple[float, ...] = ()
    tweedie_power: float = 1.5


def _infer_context(y_true: np.ndarray, prediction: np.ndarray) -> ScoringContext:
    """A context for ``(y_true, prediction)`` alone: classes when the prediction is a matrix
    of probabilities for integer labels, labels when both are matrices, else regression."""
    y_true = np.asarray(y_true)
    prediction = np.asarray(prediction)
    if y_true.ndim == 2 and prediction.shape == y_true.shape and np.isin(y_true, (0, 1)).all():
        return ScoringContext("multilabel", n_classes=y_true.shape[1])
    if y_true.ndim == 1 and prediction.ndim == 2 and np.issubdtype(y_true.dtype, np.integer):
        classes = prediction.shape[1]
        return ScoringContext("binary" if classes == 2 else "multiclass", n_classes=classes)
    return ScoringContext("regression")


def _class_probabilities(prediction: np.ndarray, context: ScoringContext) -> np.ndarray:
    """(n, K) probabilities, rows clipped and renormalized."""
    probabilities = np.asarray(prediction, dtype=float)
    if probabilities.ndim == 1:
        probabilities = np.column_stack([1.0 - probabilities, probabilities])
    probabilities = np.clip(probabilities, 0.0, 1.0)
    totals = probabilities.sum(axis=1, keepdims=True)
    width = probabilities.shape[1]
    return np.divide(probabilities, totals, out=np.full_like(probabilities, 1.0 / width),
                     where=totals > 0)


def _label_probabilities(prediction: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(prediction, dtype=float), 0.0, 1.0)


def _point(prediction: np.ndarray, context: ScoringContext) -> np.ndarray:
    """Point prediction of a numeric task; a quantile loss contributes its level nearest 0.5."""
    values = np.asarray(prediction, dtype=float)
    if values.ndim == 2 and context.prediction_levels and values.shape[1] == len(context.prediction_levels):
        column = int(np.argmin(np.abs(np.asarray(context.prediction_levels) - 0.5)))
        return values[:, column]
    if values.ndim == 2 and values.shape[1] == 1:
        return values[:, 0]
    return values


def _numeric_truth(y_true: np.ndarray) -> np.ndarray:
    values = np.asarray(y_true, dtype=float)
    return values[:, 0] if values.ndim == 2 and values.shape[1] == 1 else values


def _ranks(y_true: np.ndarray, prediction: np.ndarray, context: ScoringContext,
           statistic: str) -> tuple[np.ndarray, np.ndarray]:
    """Ordinal targets as ranks: the median (absolute error) or mean (squared error) rank."""
    probabilities = _class_probabilities(prediction, context)
    ranks = np.arange(probabilities.shape[1], dtype=float)
    if statistic == "median":
        cumulative = np.cumsum(probabilities, axis=1)
        predicted = np.argmax(cumulative >= 0.5 - 1e-12, axis=1).astype(float)
    else:
        predicted = probabilities @ ranks
    return np.asarray(y_true, dtype=float).ravel(), predicted


def _is_class_task(context: ScoringContext) -> bool:
    return context.task in CLASS_TASKS


def _macro_over_columns(truth: np.ndarray, scores: np.ndarray, metric) -> float:
    """Mean of ``metric`` over the columns where the truth has both classes."""
    values = [metric(truth[:, column], scores[:, column]) for column in range(truth.shape[1])
              if 0 < truth[:, column].sum() < truth.shape[0]]
    if not values:
        raise ValueError("no column with both classes in this fold")
    return float(np.mean(values))


def _one_hot(y_true: np.ndarray, width: int) -> np.ndarray:
    labels = np.asarray(y_true, dtype=int).ravel()
    return np.eye(width)[labels]


def _accuracy(y_true, prediction, context):
    from sklearn.metrics import accuracy_score

    if context.task == "multilabel":
        return float(np.mean((_label_probabilities(prediction) >= 0.5) == (np.asarray(y_true) > 0.5)))
    return float(accuracy_score(y_true, _class_probabilities(prediction, context).argmax(axis=1)))


def _balanced_accuracy(y_true, prediction, context):
    from sklearn.metrics import balanced_accuracy_score

    if context.task == "multilabel":
        truth = np.asarray(y_true) > 0.5
        decided = _label_probabilities(prediction) >= 0.5
        return float(np.mean([balanced_accuracy_score(truth[:, j], decided[:, j])
                              for j in range(truth.shape[1])]))
    return float(balanced_accuracy_score(y_true, _class_probabilities(prediction, context).argmax(axis=1)))


def _f1_macro(y_true, prediction, context):
    from sklearn.metrics import f1_score

    if context.task == "multilabel":
        return float(f1_score(np.asarray(y_true) > 0.5, _label_probabilities(prediction) >= 0.5,
                              average="macro", zero_division=0))
    return float(f1_score(y_true, _class_probabilities(prediction, context).argmax(axis=1),
                          average="macro", zero_division=0))


def _roc_auc(y_true, prediction, context):
    from sklearn.metrics import roc_auc_score

    if context.task == "multilabel":
        return _macro_over_columns(np.asarray(y_true), _label_probabilities(prediction), roc_auc_score)
    probabilities = _class_probabilities(prediction, context)
    if probabilities.shape[1] == 2:
        return float(roc_auc_score(y_true, probabilities[:, 1]))
    return _macro_over_columns(_one_hot(y_true, probabilities.shape[1]), probabilities, roc_auc_score)


def _average_precision(y_true, prediction, context):
    from sklearn.metrics import average_precision_score

    if context.task == "multilabel":
        return _macro_over_columns(np.asarray(y_true), _label_probabilities(prediction),
                                   average_precision_score)
    probabilities = _class_probabilities(prediction, context)
    if probabilities.shape[1] == 2:
        return float(average_precision_score(y_true, probabilities[:, 1]))
    return _macro_over_columns(_one_hot(y_true, probabilities.shape[1]), probabilities,
                               average_precision_score)


def _binary_cross_entropy(truth: np.ndarray, probability: np.ndarray) -> float:
    probability = np.clip(probability, _PROBABILITY_FLOOR, 1.0 - _PROBABILITY_FLOOR)
    return float(np.mean(-(truth * np.log(probability) + (1.0 - truth) * np.log1p(-probability))))


def _log_loss(y_true, prediction, context):
    if context.task == "multilabel":
        return _binary_cross_entropy(np.asarray(y_true, dtype=float), _label_probabilities(prediction))
    if context.task == "proportion" or not _is_class_task(context):
        return _binary_cross_entropy(_numeric_truth(y_true), _point(prediction, context))
    probabilities = _class_probabilities(prediction, context)
    labels = np.asarray(y_true, dtype=int).ravel()
    chosen = probabilities[np.arange(labels.size), labels]
    return float(np.mean(-np.log(np.clip(chosen, _PROBABILITY_FLOOR, 1.0))))


def _brier(y_true, prediction, context):
    if context.task == "multilabel":
        return float(np.mean((_label_probabilities(prediction) - np.asarray(y_true, dtype=float)) ** 2))
    if context.task == "proportion" or not _is_class_task(context):
        point = np.clip(_point(prediction, context), 0.0, 1.0)
        return float(np.mean((point - _numeric_truth(y_true)) ** 2))
    probabilities = _class_probabilities(prediction, context)
    labels = np.asarray(y_true, dtype=int).ravel()
    if probabilities.shape[1] == 2:  # scikit-learn's binary convention: (p1 - y)^2
        return float(np.mean((probabilities[:, 1] - labels) ** 2))
    return float(np.mean(np.sum((probabilities - _one_hot(labels, probabilities.shape[1])) ** 2, axis=1)))


def _rmse(y_true, prediction, context):
    if _is_class_task(context):
        truth, predicted = _ranks(y_true, prediction, context, "mean")
    else:
        truth, predicted = _numeric_truth(y_true), _point(prediction, context)
    return float(np.sqrt(np.mean((truth - predicted) ** 2)))


def _mae(y_true, prediction, context):
    if _is_class_task(context):
        truth, predicted = _ranks(y_true, prediction, context, "median")
    else:
        truth, predicted = _numeric_truth(y_true), _point(prediction, context)
    return float(np.mean(np.abs(truth - predicted)))


def _r2(y_true, prediction, context):
    from sklearn.metrics import r2_score

    return float(r2_score(_numeric_truth(y_true), _point(prediction, context)))


def _deviance(y_true, prediction, context, power: float) -> float:
    from sklearn.metrics import mean_tweedie_deviance

    truth = _numeric_truth(y_true).ravel()
    predicted = np.maximum(_point(prediction, context).ravel(), _DEVIANCE_FLOOR)
    if power >= 2 and np.any(truth <= 0):
        raise ValueError(f"the deviance with power {power:g} needs targets above 0")
    if power >= 1 and np.any(truth < 0):
        raise ValueError(f"the deviance with power {power:g} needs non-negative targets")
    return float(mean_tweedie_deviance(truth, predicted, power=power))


def _poisson_deviance(y_true, prediction, context):
    return _deviance(y_true, prediction, context, 1.0)


def _gamma_deviance(y_true, prediction, context):
    return _deviance(y_true, prediction, context, 2.0)


def _tweedie_deviance(y_true, prediction, context):
    return _deviance(y_true, prediction, context, context.tweedie_power)


def _pinball(y_true, prediction, context):
    truth = _numeric_truth(y_true).ravel()
    values = np.asarray(prediction, dtype=float)
    levels = context.levels or (0.5,)
    quantile_prediction = (values.ndim == 2 and context.prediction_levels
                           and values.shape[1] == len(context.prediction_levels))
    losses = []
    for level in levels:
        if quantile_prediction:
            column = int(np.argmin(np.abs(np.asarray(context.prediction_levels) - level)))
            predicted = values[:, column]
        else:
            predicted = _point(values, context).ravel()
        residual = truth - predicted
        losses.append(np.mean(np.maximum(level * residual, (level - 1.0) * residual)))
    return float(np.mean(losses))


#: name -> (function(y_true, prediction, context=None) -> float, greater_is_better).
#: Predictions are what the proxies return: class probabilities (n, K), label probabilities
#: (n, L), values (n,), or quantiles (n, levels). Deviances clip predictions to at least 1e-6
#: (a log-link mean cannot be 0 or negative); ordinal ``mae`` uses the median rank of the
#: predicted distribution (the Bayes rule for absolute error), ordinal ``rmse`` the expected
#: rank; multi-label metrics are macro averages over labels (accuracy: per-label accuracy).
METRIC_FUNCTIONS: dict[str, tuple[Callable[..., float], bool]] = {}


def _register(name: str, function: Callable[[Any, Any, ScoringContext], float],
              greater_is_better: bool) -> None:
    def metric(y_true, prediction, context: ScoringContext | None = None) -> float:
        if context is None:
            context = _infer_context(y_true, prediction)
        return function(y_true, prediction, context)

    metric.__name__ = name
    metric.__doc__ = f"The {name} metric of the validator (greater is better: {greater_is_better})."
    METRIC_FUNCTIONS[name] = (metric, greater_is_better)


for _name, _function, _greater in (
    ("accuracy", _accuracy, True), ("balanced_accuracy", _balanced_accuracy, True),
    ("f1_macro", _f1_macro, True), ("roc_auc", _roc_auc, True),
    ("average_precision", _average_precision, True), ("log_loss", _log_loss, False),
    ("brier", _brier, False), ("rmse", _rmse, False), ("mae", _mae, False), ("r2", _r2, True),
    ("poisson_deviance", _poisson_deviance, False), ("gamma_deviance", _gamma_deviance, False),
    ("tweedie_deviance", _tweedie_deviance, False), ("pinball", _pinball, False),
):
    _register(_name, _function, _greater)


def score_predictions(y_true: np.ndarray, prediction: np.ndarray, metrics: Iterable[str],
                      context: ScoringContext) -> tuple[dict[str, float], dict[str, str]]:
    """Score one fold on every metric; a metric that cannot be computed is NaN with a reason."""
    scores: dict[str, float] = {}
    problems: dict[str, str] = {}
    for name in metrics:
        function, _ = METRIC_FUNCTIONS[name]
        try:
            value = float(function(y_true, prediction, context))
        except (ValueError, ZeroDivisionError, IndexError) as error:
            scores[name], problems[name] = math.nan, _one_line(error)
            continue
        if not math.isfinite(value):
            problems[name] = "not finite"
            value = math.nan
        scores[name] = value
    return scores, problems


def _metrics_for(profile, primary: str, y: np.ndarray) -> tuple[str, ...]:
    """The primary metric first, then the task's other metrics that are defined on ``y``."""
    others = []
    numeric = np.asarray(y, dtype=float) if profile.task in NUMERIC_TASKS else None
    for name in sorted(TASK_METRICS.get(profile.task, ())):
        if name == primary:
            continue
        if numeric is not None:
            if name == "gamma_deviance" and not np.all(numeric > 0):
                continue
            if name in ("poisson_deviance", "tweedie_deviance") and np.any(numeric < 0):
                continue
            if name == "pinball" and not profile.quantiles:
                continue
            if name == "log_loss" and profile.task != "proportion":
                continue
        others.append(name)
    return (primary, *others)


# ===== features =========================================================================
def _prepare_features(features: pd.DataFrame) -> pd.DataFrame:
    """Plain column names (x0, x1...), numbers as float with inf as missing (also decimal
    numbers stored as text), other text as object.

    The numeric and boolean columns are converted as one float block: a frame with
    thousands of columns then takes milliseconds, not seconds, here and in the encoder.
    """
    names = [f"x{position}" for position in range(features.shape[1])]
    dtypes = list(features.dtypes)
    block = [position for position, dtype in enumerate(dtypes)
             if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype)]
    parts = []
    if block:
        values = features.iloc[:, block].to_numpy(dtype=np.float64, na_value=np.nan)
        values = np.where(np.isfinite(values), values, np.nan)  # a copy: pandas' may be read-only
        parts.append(pd.DataFrame(values, index=features.index, columns=[names[i] for i in block]))
    others = {}
    for position in sorted(set(range(features.shape[1])) - set(block)):
        column = features.iloc[:, position]
        if pd.api.types.is_datetime64_any_dtype(column.dtype):  # seconds since the earliest
            others[names[position]] = (column - column.min()).dt.total_seconds()
        elif (numbers := _text_as_numbers(column)) is not None:
            others[names[position]] = numbers
        else:  # categories as text (one type for the encoder), missing as NaN
            missing = column.isna().to_numpy()
            values = column.astype(object).to_numpy()
            others[names[position]] = pd.Series(
                [np.nan if gone else str(value) for value, gone in zip(values, missing, strict=True)],
                index=features.index, dtype=object)
    if others:
        parts.append(pd.DataFrame(others, index=features.index))
    if not parts:
        return pd.DataFrame(index=features.index)
    frame = parts[0] if len(parts) == 1 else pd.concat(parts, axis=1)
    return frame[names] if len(parts) > 1 else frame


def _text_as_numbers(column: pd.Series) -> pd.Series | None:
    """Decimal numbers stored as text, maybe with a few cells of other text (read as
    missing), as floats; None for real text and for declared categories. The same test as
    the target's (profile)."""
    from .profile import split_stray_text

    if isinstance(column.dtype, pd.CategoricalDtype):
        return None
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    labels = [str(value) for value in uniques]
    split = split_stray_text(labels, np.bincount(codes[codes >= 0], minlength=len(labels)))
    if split is None:
        return None
    values = np.full(len(codes), np.nan)
    present = codes >= 0
    values[present] = split[0][codes[present]]
    return pd.Series(values, index=column.index)


def build_preprocessor(features: pd.DataFrame):
    """The fold's feature pipeline (fit it on the training fold only).

    Numeric columns: median imputation, standardization. Other columns: most-frequent
    imputation, one-hot with ``handle_unknown="ignore"`` and at most 20 categories.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    # column positions, not names: the encoder then looks nothing up (thousands of columns)
    is_numeric = [pd.api.types.is_numeric_dtype(dtype) for dtype in features.dtypes]
    numeric = [position for position, flag in enumerate(is_numeric) if flag]
    categorical = [position for position, flag in enumerate(is_numeric) if not flag]
    transformers = []
    if numeric:
        transformers.append(("numeric", Pipeline([
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
        ]), numeric))
    if categorical:
        transformers.append(("categorical", Pipeline([
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", max_categories=20,
                                     sparse_output=False)),
        ]), categorical))
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)


# ===== sampling and folds ===============================================================
def _strata(y: np.ndarray, task: str, bins: int = 10) -> tuple[np.ndarray, str]:
    """Integer strata to stratify on, and what they are."""
    if task in CLASS_TASKS:
        return np.asarray(y, dtype=int).ravel(), "class"
    if task == "multilabel":
        matrix = np.asarray(y) > 0.5
        prevalence = matrix.sum(axis=0)
        order = np.argsort(prevalence, kind="stable")  # rarest label first
        ranked = matrix[:, order]
        has_label = ranked.any(axis=1)
        rarest = np.where(has_label, np.argmax(ranked, axis=1), matrix.shape[1])
        return rarest.astype(int), "rarest label"
    values = np.asarray(y, dtype=float)
    values = values[:, 0] if values.ndim == 2 else values
    ranks = np.argsort(np.argsort(values, kind="stable"), kind="stable")
    groups = max(1, min(bins, values.size // 20))
    return (ranks * groups // max(1, values.size)).astype(int), f"{groups} quantile bins of the target"


def _merge_small_strata(strata: np.ndarray, minimum: int) -> np.ndarray:
    """Pool strata with fewer than ``minimum`` rows; a pool still too small joins the largest."""
    labels, counts = np.unique(strata, return_counts=True)
    small = labels[counts < minimum]
    if small.size == 0:
        return strata
    merged = strata.copy()
    pool = int(labels.max()) + 1
    merged[np.isin(strata, small)] = pool
    if np.count_nonzero(merged == pool) < minimum:
        kept_labels, kept_counts = np.unique(merged[merged != pool], return_counts=True)
        if kept_labels.size:
            merged[merged == pool] = kept_labels[np.argmax(kept_counts)]
    return merged


def _stratified_sample(strata: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted positions of a reproducible stratified sample of ``size`` rows."""
    from sklearn.model_selection import train_test_split

    total = strata.size
    if size >= total:
        return np.arange(total)
    positions = np.arange(total)
    merged = _merge_small_strata(strata, 2)
    try:
        chosen, _ = train_test_split(positions, train_size=size, stratify=merged,
                                     random_state=seed)
    except ValueError:  # too few rows per stratum for this size: plain random sample
        chosen, _ = train_test_split(positions, train_size=size, random_state=seed)
    return np.sort(chosen)


def _splits(strata: np.ndarray, folds: int, repeats: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) positions of every split, repeat-major, stratified where possible."""
    from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold

    merged = _merge_small_strata(strata, folds)
    if repeats > 1:
        splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    else:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "least populated class" when a pooled stratum is small
        return [(np.asarray(train), np.asarray(test))
                for train, test in splitter.split(np.zeros(strata.size), merged)]


def _split_seed(seed: int, split: int) -> int:
    """The proxy seed of one split: the same for every candidate, different across splits."""
    return int(np.random.SeedSequence([seed, split]).generate_state(1)[0] % (2**31 - 1))


# ===== planning =========================================================================
@dataclass(frozen=True)
class Cost:
    """What one candidate costs on this machine (the pilot's measurement, averaged).

    One fit of ``epochs`` epochs on ``n`` training rows, with its prediction and scoring,
    takes ``per_fit + epochs * (per_epoch + per_batch * ceil(n / BATCH_ROWS))`` seconds (plus
    a small fixed overhead): the proxies' cost is per adam step (batch), a partial batch
    costing about as much as a full one. Preparing the features of ``rows`` rows (once per
    split, shared by the candidates, and scoring them) takes ``per_prepare + per_row * rows``.
    """

    per_fit: float
    per_epoch: float
    per_batch: float
    per_row: float
    per_prepare: float = 0.0

    def epoch_seconds(self, train_rows: float) -> float:
        return self.per_epoch + self.per_batch * _batches(train_rows)

    def fit_seconds(self, train_rows: float, epochs: int) -> float:
        return self.per_fit + JOB_OVERHEAD_SECONDS + epochs * self.epoch_seconds(train_rows)

    def prepare_seconds(self, rows: int) -> float:
        return self.per_prepare + self.per_row * rows

    def scaled(self, factor: float, *, transfer_per_row: float = 0.0) -> Cost:
        """This cost on a machine ``factor`` times slower, plus a per-row transfer cost."""
        return Cost(per_fit=self.per_fit * factor, per_epoch=self.per_epoch * factor,
                    per_batch=self.per_batch * factor,
                    per_row=self.per_row * factor + transfer_per_row,
                    per_prepare=self.per_prepare * factor)


def model_cost(*, n_inputs: int, n_outputs: int, hidden: Sequence[int], raw_columns: int) -> Cost:
    """The deterministic planning cost of one candidate on data of this shape."""
    units = (n_inputs + n_outputs) * sum(hidden) / 64.0
    return Cost(per_fit=MODEL_PER_FIT, per_epoch=MODEL_PER_EPOCH,
                per_batch=MODEL_PER_BATCH + MODEL_PER_BATCH_PER_UNIT * units,
                per_row=MODEL_PER_ROW + MODEL_PER_ROW_PER_COLUMN * raw_columns,
                per_prepare=MODEL_PER_PREPARE)


def slowdown_factor(measured: Cost, model: Cost, rows: int) -> tuple[float, float]:
    """(ratio of the pilot's cost to the model's, the power-of-two factor to plan with).

    The factor is 1 unless the pilot ran more than SLOWDOWN_TOLERANCE times slower than the
    model on a typical fit (0.8 x min(rows, 1000) training rows, 20 epochs, its preparation).
    """
    train = 0.8 * min(rows, 1000)

    def typical(cost: Cost) -> float:
        return cost.fit_seconds(train, 20) + cost.prepare_seconds(min(rows, 1000))

    ratio = typical(measured) / typical(model)
    if ratio <= SLOWDOWN_TOLERANCE:
        return ratio, 1.0
    return ratio, float(2 ** math.ceil(math.log2(ratio)))


@dataclass(frozen=True)
class Plan:
    """What the budget allows: rows, folds, repeats and the epoch cap, with the reasons."""

    rows: int
    folds: int
    repeats: int
    epochs: int
    reasons: tuple[str, ...]
    estimated_seconds: float
    within_budget: bool
    pinned: bool = False              # the caller fixed at least one choice


def _protocol_of(plan: Plan) -> tuple:
    """What of a plan reaches the output (its choices, reasons and budget verdict)."""
    return plan.rows, plan.folds, plan.repeats, plan.epochs, plan.reasons, plan.within_budget


def _nice_sizes(upper: int, lower: int) -> list[int]:
    """``upper`` then the 1-1.5-2-3-5-7 x 10^k sizes below it, down to ``lower``."""
    sizes = [upper]
    exponent = int(math.floor(math.log10(max(upper, 1))))
    while exponent >= 0:
        for mantissa in (7, 5, 3, 2, 1.5, 1):
            size = int(mantissa * 10**exponent)
            if lower <= size < upper and size not in sizes:
                sizes.append(size)
        exponent -= 1
    return sorted(set(sizes), reverse=True)


def _batches(train_rows: float) -> int:
    return max(1, math.ceil(train_rows / BATCH_ROWS))


def _round_epochs(count: float) -> int:
    """Epoch counts in steps of 5 (of 1 below 10), so timing jitter rarely changes them."""
    return int(count // 5 * 5) if count >= 10 else int(count)


def _train_rows(rows: int, folds: int) -> float:
    return rows * (folds - 1) / folds


def _efficiency(workers: int) -> float:
    return 1.0 if workers == 1 else PARALLEL_EFFICIENCY


def _waves(n_candidates: int, folds: int, repeats: int, workers: int) -> int:
    return math.ceil(n_candidates * folds * repeats / workers)


def _preparing(cost: Cost, rows: int, folds: int, repeats: int, n_candidates: int,
               workers: int) -> float:
    """Feature preparation: once for the sample, then once per split in each worker that
    trains on it."""
    per_split = math.ceil(folds * repeats * min(workers, n_candidates) / workers)
    return cost.prepare_seconds(rows) * (1 + per_split / _efficiency(workers))


def run_estimate(cost: Cost, *, rows: int, folds: int, repeats: int, epochs: int,
                 n_candidates: int, workers: int) -> float:
    """Seconds the cost model expects a run of this protocol to take."""
    return (_preparing(cost, rows, folds, repeats, n_candidates, workers)
            + _waves(n_candidates, folds, repeats, workers)
            * cost.fit_seconds(_train_rows(rows, folds), epochs) / _efficiency(workers))


def plan_protocol(*, n_rows: int, n_candidates: int, cost: Cost, seconds_available: float,
                  workers: int, budget: float, sample_rows: int | None = None,
                  folds: int | None = None, repeats: int | None = None,
                  epochs: int | None = None) -> Plan:
    """Choose rows, folds, repeats and the epoch cap so the run fits ``seconds_available``.

    The ideal: every usable row (up to MAX_SAMPLE_ROWS), 5 folds (repeated twice below
    1,000 rows) and about TARGET_STEPS adam steps per fit. When that does not fit, the
    sacrifices come in this order: repeats; rows (a stratified sample, as long as a fit
    keeps at least MIN_EPOCHS epochs and MIN_STEPS steps); folds (5 -> 3); epochs (down to
    FLOOR_EPOCHS). Pinned values (``sample_rows``, ``folds``, ``repeats``, ``epochs``) are
    kept as given.
    """
    workers = max(1, int(workers))
    efficiency = _efficiency(workers)
    capped_rows = min(n_rows, MAX_SAMPLE_ROWS if sample_rows is None else max(1, sample_rows))

    def train_rows(rows: int, k: int) -> float:
        return _train_rows(rows, k)

    def waves(k: int, r: int) -> int:
        return _waves(n_candidates, k, r, workers)

    def preparing(rows: int, k: int, r: int) -> float:
        return _preparing(cost, rows, k, r, n_candidates, workers)

    def estimate(rows: int, k: int, r: int, e: int) -> float:
        return run_estimate(cost, rows=rows, folds=k, repeats=r, epochs=e,
                            n_candidates=n_candidates, workers=workers)

    def desired_epochs(rows: int, k: int) -> int:
        if epochs is not None:
            return epochs
        wanted = TARGET_STEPS / _batches(train_rows(rows, k))
        return _round_epochs(min(MAX_EPOCHS, max(MIN_EPOCHS, wanted)))

    def least_epochs(rows: int, k: int) -> int:
        needed = max(MIN_EPOCHS, math.ceil(MIN_STEPS / _batches(train_rows(rows, k))))
        return min(desired_epochs(rows, k), needed)

    def affordable_epochs(rows: int, k: int, r: int) -> int:
        if epochs is not None:
            return epochs
        per_job = (seconds_available - preparing(rows, k, r)) * efficiency / waves(k, r)
        spare = per_job - cost.fit_seconds(train_rows(rows, k), 0)
        per_epoch = cost.epoch_seconds(train_rows(rows, k))
        if spare <= 0:
            return 0
        if per_epoch <= 0:
            return MAX_EPOCHS
        return _round_epochs(spare / per_epoch)

    k0 = _feasible_folds(folds if folds is not None else DEFAULT_FOLDS, capped_rows)
    r0 = repeats if repeats is not None else (SMALL_DATA_REPEATS if capped_rows < SMALL_DATA_ROWS else 1)
    r1 = repeats if repeats is not None else 1
    k_tight = k0 if folds is not None else _feasible_folds(TIGHT_FOLDS, capped_rows)
    sizes = ([capped_rows] if sample_rows is not None
             else _nice_sizes(capped_rows, min(capped_rows, MIN_SAMPLE_ROWS)))
    ladder: list[tuple[str, int, int, int, bool]] = [("full", capped_rows, k0, r0, False)]
    if r0 > r1:
        ladder.append(("no_repeat", capped_rows, k0, r1, False))
    ladder += [("sample", rows, k0, r1, False) for rows in sizes[1:]]
    if k_tight < k0:
        ladder += [("tight", rows, k_tight, r1, False) for rows in sizes]
    ladder += [("short", rows, k_tight, r1, True) for rows in sizes]

    chosen = None
    for step, rows, k, r, short in ladder:
        e = min(desired_epochs(rows, k), affordable_epochs(rows, k, r))
        floor = min(FLOOR_EPOCHS, desired_epochs(rows, k)) if short else least_epochs(rows, k)
        if e >= floor:
            chosen = (step, rows, k, r, e)
            break
    within = chosen is not None
    if chosen is None:
        chosen = ("over", sizes[-1], k_tight, r1,
                  epochs if epochs is not None else min(FLOOR_EPOCHS, desired_epochs(sizes[-1], k_tight)))
    step, rows, k, r, e = chosen
    seconds = estimate(rows, k, r, e)
    limited = e < desired_epochs(rows, k)
    reasons = _plan_reasons(step, n_rows, rows, k, r, e, limited, budget,
                            pinned=(sample_rows, folds, repeats, epochs))
    return Plan(rows=rows, folds=k, repeats=r, epochs=e, reasons=reasons,
                estimated_seconds=seconds,
                within_budget=within and seconds <= max(seconds_available, 0.0) * 1.05,
                pinned=any(value is not None for value in (sample_rows, folds, repeats, epochs)))


def _feasible_folds(folds: int, rows: int) -> int:
    return max(2, min(folds, rows // 2))


def _plan_reasons(step: str, n_rows: int, rows: int, folds: int, repeats: int, epochs: int,
                  budget_limited: bool, budget: float,
                  pinned: tuple[int | None, int | None, int | None, int | None]) -> tuple[str, ...]:
    """Why the plan is what it is, in words that do not depend on measured timings."""
    pinned_rows, pinned_folds, pinned_repeats, pinned_epochs = pinned
    reasons = []
    if pinned_rows is not None:
        reasons.append(f"rows: {rows:,} of {n_rows:,}, as asked")
    elif rows == n_rows:
        reasons.append(f"rows: all {n_rows:,} usable rows")
    elif rows == MAX_SAMPLE_ROWS and step in ("full", "no_repeat"):
        reasons.append(f"rows: a stratified sample of {rows:,} of {n_rows:,} rows (the validator's "
                       "cap: beyond it fold-to-fold variation, not rows, limits the comparison)")
    else:
        reasons.append(f"rows: a stratified sample of {rows:,} of {n_rows:,} rows, the largest that "
                       f"fits the {budget:g} s budget with at least {MIN_EPOCHS} epochs per fit")
    split_text = f"{folds}-fold cross-validation" + (f" repeated {repeats} times" if repeats > 1 else "")
    if pinned_folds is not None or pinned_repeats is not None:
        reasons.append(f"splits: {split_text}, as asked")
    elif repeats > 1:
        reasons.append(f"splits: {split_text}: fewer than {SMALL_DATA_ROWS:,} rows, so repeats "
                       "reduce the variance of the comparison")
    elif rows < SMALL_DATA_ROWS and step != "full":
        reasons.append(f"splits: {split_text}: the {budget:g} s budget does not allow repeating it")
    elif folds < DEFAULT_FOLDS and step in ("tight", "short", "over"):
        reasons.append(f"splits: {split_text}: the {budget:g} s budget does not allow "
                       f"{DEFAULT_FOLDS} folds")
    elif folds < DEFAULT_FOLDS:
        reasons.append(f"splits: {split_text}: too few rows for {DEFAULT_FOLDS} folds")
    else:
        reasons.append(f"splits: {split_text}")
    if pinned_epochs is not None:
        reasons.append(f"epochs: at most {epochs}, as asked")
    elif step in ("short", "over"):
        reasons.append(f"epochs: at most {epochs}, all the {budget:g} s budget allows (fewer than "
                       "the validator aims for: the proxies may be under-trained)")
    elif budget_limited:
        reasons.append(f"epochs: at most {epochs}, what the {budget:g} s budget allows (adam stops "
                       "earlier when its held-out loss stops improving)")
    else:
        reasons.append(f"epochs: at most {epochs}, about {TARGET_STEPS:,} adam steps per fit "
                       "(adam stops earlier when its held-out loss stops improving)")
    if step == "over":
        reasons.append(f"budget: {budget:g} s is too small even for the minimal protocol; it ran "
                       "anyway and may take longer")
    return tuple(reasons)


# ===== jobs =============================================================================
@dataclass(frozen=True)
class _Job:
    loss_id: str
    loss: Any
    params: dict[str, Any]
    split: int
    train: np.ndarray
    test: np.ndarray
    seed: int
    epochs: int
    hidden: tuple[int, ...]
    context: ScoringContext
    metrics: tuple[str, ...]
    deadline: float                      # wall clock (time.time()); later jobs are skipped


@dataclass(frozen=True)
class _Shared:
    features: pd.DataFrame
    y: np.ndarray
    profile: Any
    factory: Callable[..., Any]
    token: str                           # identifies this run in the per-process cache


#: Per-process cache of the last preprocessed splits: every candidate trains on the same
#: split, and jobs are ordered split by split, so the fitted features are reused.
_SPLIT_CACHE: OrderedDict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = OrderedDict()
_SPLIT_CACHE_SIZE = 2
_SPLIT_CACHE_LOCK = threading.Lock()


def _split_matrices(job: _Job, shared: _Shared) -> tuple[np.ndarray, np.ndarray]:
    """The split's preprocessed (train, test) features, fitted on its training rows only."""
    key = (shared.token, job.split)
    with _SPLIT_CACHE_LOCK:
        if key in _SPLIT_CACHE:
            _SPLIT_CACHE.move_to_end(key)
            return _SPLIT_CACHE[key]
    train_features = shared.features.iloc[job.train]
    preprocessor = build_preprocessor(train_features)
    matrices = (preprocessor.fit_transform(train_features),
                preprocessor.transform(shared.features.iloc[job.test]))
    for matrix in matrices:
        matrix.setflags(write=False)  # shared between candidates: nobody may change it
    with _SPLIT_CACHE_LOCK:
        _SPLIT_CACHE[key] = matrices
        while len(_SPLIT_CACHE) > _SPLIT_CACHE_SIZE:
            _SPLIT_CACHE.popitem(last=False)
    return matrices


@dataclass(frozen=True)
class _FoldResult:
    loss_id: str
    split: int
    status: str                          # ok, failed, skipped
    scores: dict[str, float] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    reason: str | None = None
    epochs_run: int | None = None
    reached_epoch_cap: bool = False
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()
    overshoot: tuple[float, str | None] = (0.0, None)  # predictions beyond the training targets


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _epochs_run(proxy: Any) -> int | None:
    for holder in (proxy, getattr(proxy, "model_", None)):
        value = getattr(holder, "n_iter_", None)
        if isinstance(value, (int, np.integer)):
            return int(value)
    return None


def _run_job(job: _Job, shared: _Shared) -> _FoldResult:
    """Train and score one candidate on one split. Never raises: failure is a result."""
    if time.time() > job.deadline:
        return _FoldResult(job.loss_id, job.split, "skipped", reason="the time budget ran out")
    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    with threadpool_limits(limits=1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = _train_and_score(job, shared)
    messages = tuple(sorted({f"{item.category.__name__}: {_one_line(item.message)}"
                             for item in caught}))
    convergence = any(item.category.__name__ == "ConvergenceWarning" for item in caught)
    status, scores, problems, reason, epochs_run, beyond = outcome
    cap = (epochs_run >= job.epochs) if epochs_run is not None else convergence
    return _FoldResult(job.loss_id, job.split, status, scores, problems, reason, epochs_run,
                       bool(cap and status == "ok"), time.perf_counter() - started, messages,
                       beyond)


def _train_and_score(job: _Job, shared: _Shared):
    try:
        from .proxy import ProxyDivergedError
    except ImportError:  # pragma: no cover - the proxy module is part of the package
        ProxyDivergedError = ()  # type: ignore[assignment]  # noqa: N806
    try:
        train_matrix, test_matrix = _split_matrices(job, shared)
        proxy = shared.factory(job.loss, job.params, shared.profile, seed=job.seed,
                               max_iter=job.epochs, hidden=job.hidden)
        proxy.fit(train_matrix, shared.y[job.train])
        prediction = np.asarray(proxy.predict(test_matrix), dtype=float)
    except ProxyDivergedError as error:  # type: ignore[misc]
        return "failed", {}, {}, f"diverged: {_one_line(error)}", None, None
    except Exception as error:  # noqa: BLE001 - failure is data: record it, go on
        return "failed", {}, {}, f"{type(error).__name__}: {_one_line(error)}", None, None
    epochs_run = _epochs_run(proxy)
    if prediction.shape[0] != len(job.test):
        return ("failed", {}, {}, f"predicted {prediction.shape[0]} rows for {len(job.test)}",
                epochs_run, None)
    if not np.all(np.isfinite(prediction)):
        return "failed", {}, {}, "diverged: non-finite predictions", epochs_run, None
    beyond = (overshoot(prediction, shared.y[job.train]) if job.context.task in NUMERIC_TASKS
              else (0.0, None))
    scores, problems = score_predictions(shared.y[job.test], prediction, job.metrics, job.context)
    primary = job.metrics[0]
    if not math.isfinite(scores[primary]):
        reason = problems.get(primary, "not finite")
        return ("failed", scores, problems, f"{primary} could not be computed: {reason}",
                epochs_run, beyond)
    return "ok", scores, problems, None, epochs_run, beyond


# ===== results ==========================================================================
@dataclass(frozen=True)
class Protocol:
    """The experiment as it ran: what was trained, on what, how, and why."""

    task: str
    metric: str
    greater_is_better: bool
    metrics: tuple[str, ...]
    candidates: tuple[str, ...]
    rows_available: int
    sample_rows: int
    stratified_on: str
    folds: int
    repeats: int
    splits_planned: int
    splits_used: int
    test_train_ratio: float
    epochs: int
    hidden: tuple[int, ...]
    solver: str
    seed: int
    alpha: float
    budget: float
    backend: str
    n_jobs: int
    workers: int
    within_budget: bool
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task, "metric": self.metric, "greater_is_better": self.greater_is_better,
            "metrics": list(self.metrics), "candidates": list(self.candidates),
            "rows_available": self.rows_available, "sample_rows": self.sample_rows,
            "stratified_on": self.stratified_on, "folds": self.folds, "repeats": self.repeats,
            "splits_planned": self.splits_planned, "splits_used": self.splits_used,
            "test_train_ratio": _round(self.test_train_ratio), "epochs": self.epochs,
            "hidden": list(self.hidden), "solver": self.solver, "seed": self.seed,
            "alpha": self.alpha, "budget": _round(self.budget), "backend": self.backend,
            "n_jobs": self.n_jobs, "workers": self.workers, "within_budget": self.within_budget,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class CandidateEvidence:
    """One trained candidate: fold scores, means, interval, and whether it trained stably."""

    loss: str
    rule_rank: int | None                    # 1-based position in the rule ranking
    roles: tuple[str, ...]                   # "rules", "default", "user"
    status: str                              # tested, unstable, failed, not_run (budget ran out)
    failure: str | None                      # why it failed, was unstable, or did not run
    fold_scores: dict[str, tuple[float, ...]]  # metric -> one score per split used (NaN = undefined)
    means: dict[str, float]
    std: float                               # of the primary metric across folds
    ci_low: float                            # corrected t interval of the primary mean
    ci_high: float
    epochs_run: tuple[int | None, ...]
    epoch_cap_folds: int                     # folds where training stopped at the epoch cap

    def to_dict(self, metric: str) -> dict[str, Any]:
        return {
            "loss": self.loss, "rule_rank": self.rule_rank, "roles": list(self.roles),
            "status": self.status,
            "error": self.failure if self.status in ("failed", "not_run") else None,
            "unstable": self.failure if self.status == "unstable" else None,
            "metric": metric,
            "mean": _round(self.means.get(metric)), "std": _round(self.std),
            "ci_low": _round(self.ci_low), "ci_high": _round(self.ci_high),
            "fold_scores": [_round(value) for value in self.fold_scores.get(metric, ())],
            "means": {name: _round(value) for name, value in self.means.items()},
            "folds": {name: [_round(value) for value in values]
                      for name, values in self.fold_scores.items()},
            "epochs_run": list(self.epochs_run), "epoch_cap_folds": self.epoch_cap_folds,
        }


def comparison_dict(comparison: stats.PairedComparison) -> dict[str, Any]:
    """The JSON form of a paired comparison (positive difference = ``a`` better)."""
    return {
        "a": comparison.a, "b": comparison.b, "n_folds": comparison.n_folds,
        "mean_difference": _round(comparison.mean_difference),
        "standardized_difference": _round(comparison.standardized_difference),
        "ci_low": _round(comparison.ci_low), "ci_high": _round(comparison.ci_high),
        "t_statistic": _round(comparison.t_statistic), "p_value": _round(comparison.p_value),
        "wilcoxon_p": _round(comparison.wilcoxon_p), "significant": comparison.significant,
        "better": comparison.winner,
    }


@dataclass(frozen=True, eq=False)
class Validation:
    """The experiment's evidence (what was measured; the decide stage judges it).
    ``to_dict()`` is JSON-safe and, except under ``timing``, identical for the same data,
    options and seed on the same machine."""

    protocol: Protocol
    candidates: tuple[CandidateEvidence, ...]    # trained candidates, in rule order
    comparisons: tuple[stats.PairedComparison, ...]  # every pair of stable candidates, a before b in rule order
    rule_order: tuple[str, ...]                  # stable tested candidates in rule order
    empirical_order: tuple[str, ...]             # stable tested candidates by mean primary score, best first
    rule_choice: str | None                      # the rules' first trained choice (may have failed)
    agreement: tuple[float, float] | None        # Kendall tau and its p between rule and empirical order
    notices: tuple[tuple[str, str], ...]         # (code, message) worth the user's attention
    timing: dict[str, Any] = field(default_factory=dict)

    def candidate(self, loss_id: str) -> CandidateEvidence | None:
        for evidence in self.candidates:
            if evidence.loss == loss_id:
                return evidence
        return None

    def tested(self, status: str = "tested") -> tuple[CandidateEvidence, ...]:
        """The candidates with ``status`` (tested = trained stably on every split), rule order."""
        return tuple(item for item in self.candidates if item.status == status)

    def comparison(self, a: str, b: str) -> stats.PairedComparison | None:
        """The paired comparison of ``a`` with ``b`` (oriented so positive = ``a`` better)."""
        for item in self.comparisons:
            if (item.a, item.b) == (a, b):
                return item
            if (item.a, item.b) == (b, a):
                return _flip(item)
        return None

    def evidence_for(self, loss_id: str) -> dict[str, Any] | None:
        """The numbers shown next to one loss in the result; None when it was not trained."""
        evidence = self.candidate(loss_id)
        return None if evidence is None else evidence.to_dict(self.protocol.metric)

    def to_dict(self) -> dict[str, Any]:
        agreement = None
        if self.agreement is not None:
            agreement = {"kendall_tau": _round(self.agreement[0]),
                         "p_value": _round(self.agreement[1]),
                         "n_candidates": len(self.rule_order)}
        return {
            "protocol": self.protocol.to_dict(),
            "metric": self.protocol.metric,
            "rule_choice": self.rule_choice,
            "rule_order": list(self.rule_order),
            "empirical_order": list(self.empirical_order),
            "agreement": agreement,
            "candidates": [item.to_dict(self.protocol.metric) for item in self.candidates],
            "comparisons": [comparison_dict(item) for item in self.comparisons],
            "notices": [{"code": code, "message": message} for code, message in self.notices],
            "timing": _json_safe(self.timing),
        }


def _flip(item: stats.PairedComparison) -> stats.PairedComparison:
    return replace(item, a=item.b, b=item.a, mean_difference=-item.mean_difference,
                   standardized_difference=(None if item.standardized_difference is None
                                            else -item.standardized_difference),
                   t_statistic=None if item.t_statistic is None else -item.t_statistic,
                   ci_low=-item.ci_high, ci_high=-item.ci_low)


def _round(value: Any) -> float | int | None:
    """6 significant digits; None for missing or non-finite numbers."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    number = float(value)
    if not math.isfinite(number):
        return None
    return significant(number)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, str) or value is None:
        return value
    return _round(value)


# ===== the stage ========================================================================
def validate(loaded, profile, outcome, *, params: Mapping[str, dict[str, Any]],
             budget: float = 60, seed: int = 0, n_jobs: int = 1, backend: str | None = None,
             max_candidates: int = 4, progress: ProgressCallback | None = None,
             proxy_factory: Callable[..., Any] | None = None,
             extra_candidates: Sequence[str] = (), hidden: tuple[int, ...] = DEFAULT_HIDDEN,
             sample_rows: int | None = None, folds: int | None = None,
             repeats: int | None = None, epochs: int | None = None) -> Validation:
    """Train the candidate losses on identical proxies and folds, and compare them.

    Parameters
    ----------
    loaded, profile, outcome
        The outputs of :func:`advisor.load.load_data`, :func:`advisor.profile.profile_data`
        and the rule engine (``ranking``, ``scores``, ``vetoes``).
    params
        Loss id -> derived hyper-parameters (``Loss.derive``).
    budget
        Seconds the whole validation may take; the protocol is sized to it.
    seed
        Fixes the sample, the folds and every proxy's initialization.
    n_jobs, backend
        joblib parallelism: ``n_jobs`` workers (-1 = all) of ``backend`` (None = loky;
        ``"dask"`` needs a running ``dask.distributed.Client``).
    max_candidates
        How many of the rule ranking's non-vetoed losses to train (the task's default loss
        and ``extra_candidates`` are added when missing).
    progress
        Called with ``(done, total, message)`` as jobs finish.
    proxy_factory
        ``factory(loss, params, profile, *, seed, max_iter, hidden)`` -> object with
        ``fit(X, y)`` and ``predict(X)``; defaults to :func:`advisor.proxy.make_proxy`.
    extra_candidates
        More losses to train (e.g. the one the user trains with today), when applicable
        and not vetoed.
    hidden
        Hidden layer sizes of every proxy.
    sample_rows, folds, repeats, epochs
        Pin these protocol choices instead of letting the budget decide them; a pinned
        protocol runs to completion even when it overruns the budget.
    """
    from joblib import Parallel, delayed

    started = time.perf_counter()
    started_wall = time.time()
    budget = check_budget(budget)
    _check_int("seed", seed, minimum=0)
    _check_int("max_candidates", max_candidates, minimum=1)
    check_jobs(n_jobs)
    for name, value, minimum in (("sample_rows", sample_rows, 10), ("folds", folds, 2),
                                 ("repeats", repeats, 1), ("epochs", epochs, 1)):
        if value is not None:
            _check_int(name, value, minimum=minimum)
    if proxy_factory is None:
        import functools

        from .proxy import make_proxy
        # as a careful user trains: stop when the loss on a held-out tenth stops improving
        proxy_factory = functools.partial(make_proxy, early_stopping=True,
                                          validation_fraction=0.1, n_iter_no_change=10)

    from .losses import CATALOG, DEFAULT_LOSS

    task = profile.task
    metric = profile.facts["metric"]
    if metric not in METRIC_FUNCTIONS:
        raise OptionError("metric", metric, sorted(METRIC_FUNCTIONS))
    greater_is_better = METRIC_FUNCTIONS[metric][1]

    # --- candidates ---------------------------------------------------------------------
    vetoes = dict(getattr(outcome, "vetoes", {}) or {})
    ranking = [loss_id for loss_id in outcome.ranking]
    known = list(dict.fromkeys([*ranking, *vetoes]))
    rule_rank = {loss_id: index + 1 for index, loss_id in enumerate(ranking)}
    chosen = [loss_id for loss_id in ranking if loss_id not in vetoes][:max_candidates]
    roles: dict[str, list[str]] = {loss_id: ["rules"] for loss_id in chosen}
    notices: list[tuple[str, str]] = []
    default_loss = DEFAULT_LOSS.get(task)
    for loss_id, role in [(default_loss, "default"), *((item, "user") for item in extra_candidates)]:
        if loss_id is None:
            continue
        if loss_id in vetoes:
            if role == "default":
                notices.append(("validation.default_vetoed",
                                f"the default loss {loss_id} is vetoed here, so the experiment "
                                "cannot show what the advice is worth against it"))
            continue
        if loss_id not in known or loss_id not in CATALOG:
            continue
        if loss_id not in roles:
            chosen.append(loss_id)
            roles[loss_id] = []
        roles[loss_id].append(role)
    added = {loss_id: index for index, loss_id in enumerate(chosen)}
    chosen.sort(key=lambda loss_id: (rule_rank.get(loss_id, len(ranking) + 1), added[loss_id]))
    missing = [loss_id for loss_id in chosen if loss_id not in CATALOG]
    if missing:
        raise OptionError("loss", missing[0], sorted(CATALOG),
                          hint="the rule outcome names a loss the catalog does not have")
    if not chosen:  # every applicable loss is vetoed: nothing to train
        notices.append(("validation.nothing_to_train",
                        "every applicable loss is vetoed, so the experiment trained nothing"))
        protocol = Protocol(
            task=task, metric=metric, greater_is_better=greater_is_better, metrics=(metric,),
            candidates=(), rows_available=len(profile.y), sample_rows=0, stratified_on="",
            folds=0, repeats=0, splits_planned=0, splits_used=0, test_train_ratio=0.0,
            epochs=0, hidden=tuple(hidden), solver="", seed=seed, alpha=stats.ALPHA,
            budget=budget, backend=backend or "loky", n_jobs=n_jobs, workers=0,
            within_budget=True, reasons=("nothing to train: every applicable loss is vetoed",))
        return Validation(protocol=protocol, candidates=(), comparisons=(), rule_order=(),
                          empirical_order=(), rule_choice=None, agreement=None,
                          notices=tuple(notices),
                          timing={"total_seconds": time.perf_counter() - started})
    loss_params = {}
    for loss_id in chosen:
        if loss_id in params:
            loss_params[loss_id] = dict(params[loss_id])
        else:
            loss_params[loss_id] = CATALOG[loss_id].derive(profile, {"quantiles": profile.quantiles})

    # --- data ---------------------------------------------------------------------------
    y_all = np.asarray(profile.y)
    kept = _kept_positions(loaded.features, profile.row_mask, len(y_all))
    if loaded.features.shape[1] == 0:
        raise DataShapeError("no feature columns to train the proxies on",
                             hint="add at least one feature column besides the target")
    n_rows = len(y_all)
    if n_rows < 10:
        raise DataShapeError(f"only {n_rows} usable rows: too few to cross-validate",
                             hint="run with validate=False (--no-validate) for a rules-only answer")
    strata_all, stratified_on = _strata(y_all, task)
    context = _scoring_context(profile, loss_params)
    metrics = _metrics_for(profile, metric, y_all)

    # --- parallel set-up: workers start (and import) before the pilot, on the budget's clock
    backend_name = backend or "loky"
    workers = _workers(backend, n_jobs)
    startup_started = time.perf_counter()
    if workers > 1 and backend_name not in ("threading", "sequential"):
        with _parallel_config(backend, n_jobs):
            Parallel()(delayed(_warm_up)() for _ in range(workers))
    startup_seconds = time.perf_counter() - startup_started

    # --- pilot and plan -----------------------------------------------------------------
    if progress is not None:
        progress(0, 1, "pilot: timing the proxies")
    pilot = _pilot(loaded.features, kept, y_all, strata_all, profile, chosen, loss_params,
                   proxy_factory, CATALOG, seed, hidden)
    process_based = backend_name in PROCESS_BACKENDS and workers > 1
    n_outputs = max(CATALOG[loss_id].bind(loss_params[loss_id], profile.task).n_outputs(profile)
                    for loss_id in chosen)
    model = model_cost(n_inputs=pilot["n_inputs"], n_outputs=n_outputs, hidden=hidden,
                       raw_columns=pilot["raw_columns"])
    slowdown, factor = slowdown_factor(pilot["cost"], model, n_rows)
    # A fixed reserve for the pilot and worker start-up, not the measured elapsed time, so the
    # plan stays the same from run to run; the deadline guard below covers a slow start.
    reserve = PILOT_RESERVE_SECONDS + (WORKER_RESERVE_SECONDS + DISPATCH_SECONDS if workers > 1 else 0.0)
    transfer = (pilot["bytes_per_row"] / TRANSFER_BYTES_PER_SECOND
                if process_based or backend_name not in LOCAL_BACKENDS else 0.0)
    available = budget * BUDGET_SHARE - reserve

    def plan_for(scale: float) -> Plan:
        return plan_protocol(n_rows=n_rows, n_candidates=len(chosen),
                             cost=model.scaled(scale, transfer_per_row=transfer),
                             seconds_available=available, workers=workers, budget=budget,
                             sample_rows=sample_rows, folds=folds, repeats=repeats, epochs=epochs)

    cost = model.scaled(factor, transfer_per_row=transfer)
    plan = plan_for(factor)
    # The notice (which makes the output depend on the machine's load) only when the
    # slowdown really shrank the protocol; a pinned or small protocol is the same either way.
    if factor > 1 and _protocol_of(plan) != _protocol_of(plan_for(1.0)):
        notices.append(("validation.slow_machine",
                        f"the pilot fits ran well below the planning model's speed (the "
                        f"measured ratio is in the timings), so the protocol was planned for a "
                        f"machine {factor:g}x slower; on a less loaded machine the same seed "
                        "may choose a larger protocol"))

    # --- sample and folds ---------------------------------------------------------------
    sample = _stratified_sample(strata_all, plan.rows, seed)
    features = _prepare_features(loaded.features.iloc[kept[sample]])
    y = y_all[sample]
    strata, _ = _strata(y, task)
    split_list = _splits(strata, plan.folds, plan.repeats, seed)
    test_train_ratio = float(np.mean([len(test) / len(train) for train, test in split_list]))
    slim_profile = replace(profile, y=y, row_mask=None)
    shared = _Shared(features, y, slim_profile, proxy_factory,
                     token=f"{os.getpid()}-{id(features)}-{time.perf_counter_ns()}")
    # A guard against a bad estimate: jobs that would start too late to end within the budget
    # are skipped. A protocol the caller pinned runs to completion.
    per_job = plan.estimated_seconds / max(1, math.ceil(len(chosen) * len(split_list) / workers))
    deadline = math.inf if plan.pinned else started_wall + budget - per_job

    def jobs_for(splits: Sequence[int]) -> list[_Job]:
        return [_Job(loss_id, CATALOG[loss_id], loss_params[loss_id], index,
                     split_list[index][0], split_list[index][1], _split_seed(seed, index),
                     plan.epochs, tuple(hidden),
                     replace(context, prediction_levels=_prediction_levels(loss_params[loss_id], profile)),
                     metrics, deadline)
                for index in splits for loss_id in chosen]

    # --- run ----------------------------------------------------------------------------
    run_started = time.perf_counter()
    results: list[_FoldResult] = []

    def run(jobs: list[_Job]) -> None:
        total = len(results) + len(jobs)
        if progress is not None:
            progress(len(results), total, f"training {len(chosen)} candidates on "
                                          f"{len(split_list)} splits")
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            with _parallel_config(backend, n_jobs):
                runner = Parallel(return_as="generator")
                for result in runner(delayed(_run_job)(job, shared) for job in jobs):
                    results.append(result)
                    if progress is not None:
                        progress(len(results), total, f"{result.loss_id}: split "
                                                      f"{result.split + 1} of {len(split_list)}")

    run(jobs_for(range(len(split_list))))
    # Fits that stopped early leave budget: spend it on more repeats (more power). How many
    # comes from the cost model and the epochs the fits ran, not the clock: same JSON each run.
    ran = _mean_epochs_run(results)
    extra = _extra_repeats(plan, results, model.scaled(factor, transfer_per_row=transfer),
                           epochs=ran, n_candidates=len(chosen), workers=workers,
                           seconds_available=available)
    if extra:
        planned = len(split_list)
        split_list = _splits(strata, plan.folds, plan.repeats + extra, seed)
        extended = replace(plan, repeats=plan.repeats + extra,
                           reasons=_extended_reasons(plan, extra, ran))
        kept = len(results)
        run(jobs_for(range(planned, len(split_list))))
        if any(item.status == "skipped" for item in results[kept:]):
            # the clock cut the extension (a loaded machine): drop it whole, so the output is
            # the planned run's, the same as on an idle machine
            del results[kept:]
            split_list = split_list[:planned]
        else:
            plan = extended
    run_seconds = time.perf_counter() - run_started
    with _SPLIT_CACHE_LOCK:  # in-process backends: free this run's matrices
        for key in [key for key in _SPLIT_CACHE if key[0] == shared.token]:
            del _SPLIT_CACHE[key]

    validation = _assemble(
        profile=profile, chosen=chosen,
        roles=roles, rule_rank=rule_rank, results=results, n_splits=len(split_list),
        metrics=metrics, greater_is_better=greater_is_better, test_train_ratio=test_train_ratio,
        notices=notices, plan=plan)
    protocol = Protocol(
        task=task, metric=metric, greater_is_better=greater_is_better, metrics=metrics,
        candidates=tuple(chosen), rows_available=n_rows, sample_rows=int(plan.rows),
        stratified_on=stratified_on, folds=plan.folds, repeats=plan.repeats,
        splits_planned=len(split_list), splits_used=validation["splits_used"],
        test_train_ratio=test_train_ratio, epochs=plan.epochs, hidden=tuple(hidden),
        solver=pilot["solver"], seed=seed, alpha=stats.ALPHA, budget=budget,
        backend=backend_name, n_jobs=n_jobs, workers=workers,
        within_budget=plan.within_budget, reasons=plan.reasons)
    total_seconds = time.perf_counter() - started
    timing = {
        "total_seconds": total_seconds, "startup_seconds": startup_seconds,
        "pilot_seconds": pilot["seconds"],
        "run_seconds": run_seconds, "estimated_run_seconds": plan.estimated_seconds,
        "seconds_available": available, "budget": budget,
        "cost": {"per_fit": cost.per_fit, "per_epoch": cost.per_epoch,
                 "per_batch": cost.per_batch, "per_row": cost.per_row,
                 "per_prepare": cost.per_prepare},
        "measured_cost": {name: getattr(pilot["cost"], name) for name in
                          ("per_fit", "per_epoch", "per_batch", "per_row", "per_prepare")},
        "slowdown": slowdown, "slowdown_factor": factor,
        "fit_seconds": {loss_id: sum(r.seconds for r in results if r.loss_id == loss_id)
                        for loss_id in chosen},
        "warnings": sorted({message for result in results for message in result.warnings}),
    }
    return Validation(protocol=protocol, timing=timing, **validation["fields"])


def _mean_epochs_run(results: Sequence[_FoldResult]) -> int:
    """The mean epochs the successful fits ran, rounded up; 0 when none ran."""
    epochs = [item.epochs_run for item in results if item.status == "ok" and item.epochs_run]
    return max(1, math.ceil(float(np.mean(epochs)))) if epochs else 0


def _extra_repeats(plan: Plan, results: Sequence[_FoldResult], cost: Cost, *, epochs: int,
                   n_candidates: int, workers: int, seconds_available: float) -> int:
    """Repeats the budget still allows after the planned run, from the cost model at the
    ``epochs`` the fits really ran (they stop when their held-out loss stops improving), up
    to MAX_REPEATS in all. 0 when the caller pinned the protocol or the clock cut the run."""
    if (plan.pinned or not plan.within_budget or not epochs
            or any(item.status == "skipped" for item in results)):
        return 0
    ran = epochs
    extra = 0
    while plan.repeats + extra < MAX_REPEATS and run_estimate(
            cost, rows=plan.rows, folds=plan.folds, repeats=plan.repeats + extra + 1,
            epochs=ran, n_candidates=n_candidates, workers=workers) <= seconds_available:
        extra += 1
    return extra


def _extended_reasons(plan: Plan, extra: int, epochs: int) -> tuple[str, ...]:
    total = plan.repeats + extra
    text = (f"splits: {plan.folds}-fold cross-validation repeated {total} times: the first "
            f"{'run' if plan.repeats == 1 else f'{plan.repeats} runs'} stopped early (a mean of "
            f"{epochs} epochs per fit), which left budget for {extra} "
            f"more {'repeat' if extra == 1 else 'repeats'}; repeats raise the power of the comparison")
    return tuple(text if reason.startswith("splits:") else reason for reason in plan.reasons)


def _warm_up() -> int:
    """Run once in every parallel worker before the clock-sensitive part: the imports."""
    import sklearn.compose  # noqa: F401
    import sklearn.neural_network  # noqa: F401

    from . import proxy  # noqa: F401
    return os.getpid()


def _check_int(name: str, value: Any, *, minimum: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise OptionError(name, value, f"an integer >= {minimum}")


def _kept_positions(features: pd.DataFrame, row_mask: Any, n_target: int) -> np.ndarray:
    """Positions of ``features`` rows that the profile kept (target present)."""
    if row_mask is None:
        kept = np.arange(len(features))
    else:
        mask = np.asarray(row_mask)
        kept = np.flatnonzero(mask) if mask.dtype == bool else mask.astype(int)
    if kept.size != n_target:
        raise DataShapeError(f"the profile kept {n_target} rows but the features have "
                             f"{kept.size}", hint="pass the LoadedData the profile was built from")
    return kept


def _scoring_context(profile, loss_params: Mapping[str, dict[str, Any]]) -> ScoringContext:
    power = 1.5
    for loss_id, values in sorted(loss_params.items()):
        if "tweedie" in loss_id and isinstance(values.get("power"), (int, float)):
            power = float(values["power"])
            break
    levels = tuple(profile.quantiles) or (0.5,)
    return ScoringContext(task=profile.task, n_classes=len(profile.classes), levels=levels,
                          tweedie_power=power)


def _prediction_levels(params: Mapping[str, Any], profile) -> tuple[float, ...]:
    """Quantile levels a quantile loss predicts (its ``quantiles`` parameter), else ()."""
    for key in ("quantiles", "levels"):
        value = params.get(key)
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, (int, float)) for v in value):
            return tuple(float(v) for v in value)
    return ()


def _workers(backend: str | None, n_jobs: int) -> int:
    """How many jobs really run at once (capped by the cores for local backends)."""
    import joblib

    with _parallel_config(backend, n_jobs):
        count = joblib.effective_n_jobs(n_jobs)
    if (backend or "loky") in LOCAL_BACKENDS:
        count = min(count, os.cpu_count() or 1)
    return max(1, int(count))


class _parallel_config:
    """joblib.parallel_config for ``backend``, with unusable backends as one-line OptionErrors."""

    def __init__(self, backend: str | None, n_jobs: int) -> None:
        self.backend = backend
        self.n_jobs = n_jobs
        self._config = None

    def __enter__(self):
        from joblib import parallel_config
        from joblib.parallel import BACKENDS, EXTERNAL_BACKENDS

        if self.backend is None:
            self._config = parallel_config(n_jobs=self.n_jobs)
        else:
            allowed = sorted(set(BACKENDS) | set(EXTERNAL_BACKENDS))
            try:
                self._config = parallel_config(backend=self.backend, n_jobs=self.n_jobs)
            except (ValueError, KeyError) as error:
                hint = ("start a dask.distributed Client first" if self.backend == "dask"
                        else _one_line(error))
                raise OptionError("backend", self.backend, allowed, hint=hint) from None
        return self._config.__enter__()

    def __exit__(self, *exc_info):
        return self._config.__exit__(*exc_info)


def _pilot(features: pd.DataFrame, kept: np.ndarray, y_all: np.ndarray, strata: np.ndarray,
           profile, chosen: Sequence[str], loss_params, factory, catalog, seed: int,
           hidden: tuple[int, ...]) -> dict[str, Any]:
    """Measure what a fit costs here: fixed, per epoch, per row-epoch, per candidate.

    The first candidate that trains is fitted on one batch of rows for PILOT_EPOCHS and
    twice as many epochs (fixed cost and cost of an epoch), then on a larger sample of
    several batches (cost per batch);
    every other candidate once on the larger sample, which scales the costs by its relative
    speed. Failures are ignored here: the real run records them.
    """
    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    large = min(len(y_all), PILOT_ROWS)
    positions = _stratified_sample(strata, large, seed)
    small_positions = _stratified_sample(strata[positions], min(large, PILOT_SMALL_ROWS), seed)
    small = small_positions.size
    large_batches = _batches(large)
    sample = features.iloc[kept[positions]]
    y = y_all[positions]
    slim_profile = replace(profile, y=y, row_mask=None)
    solver = "adam"
    with threadpool_limits(limits=1), warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        prepared = _prepare_features(sample)
        build_preprocessor(prepared).fit_transform(prepared)  # warm-up (imports, caches)

        def timed_preparation(rows: np.ndarray | None) -> tuple[float, np.ndarray]:
            started = time.perf_counter()
            part = _prepare_features(sample if rows is None else sample.iloc[rows])
            matrix = build_preprocessor(part).fit_transform(part)
            return time.perf_counter() - started, matrix

        small_prepare, _ = timed_preparation(small_positions)
        large_prepare, matrix = timed_preparation(None)
        # fit + transform + scoring: about twice the preparation; a fixed part and a per-row part
        per_row = 2.0 * max((large_prepare - small_prepare) / max(1, large - small),
                            0.1 * large_prepare / max(1, large))
        per_prepare = max(0.0, 2.0 * large_prepare - per_row * large)
        bytes_per_row = float(prepared.memory_usage(deep=True).sum()) / max(1, large)

        def timed_fit(loss_id: str, rows: np.ndarray | None, epochs: int) -> tuple[float, int]:
            target = y if rows is None else y[rows]
            inputs = matrix if rows is None else matrix[rows]
            proxy = factory(catalog[loss_id], loss_params[loss_id],
                            replace(slim_profile, y=target), seed=seed, max_iter=epochs,
                            hidden=tuple(hidden))
            fit_started = time.perf_counter()
            proxy.fit(inputs, target)
            seconds = time.perf_counter() - fit_started
            nonlocal solver
            solver = str(getattr(proxy, "solver", solver))
            return seconds, max(1, _epochs_run(proxy) or epochs)

        reference = None
        ratios: list[float] = []
        for loss_id in chosen:
            try:
                if reference is None:
                    timed_fit(loss_id, small_positions, 2)  # warm-up
                    first, first_epochs = timed_fit(loss_id, small_positions, PILOT_EPOCHS)
                    second, second_epochs = timed_fit(loss_id, small_positions, 2 * PILOT_EPOCHS)
                    if second_epochs > first_epochs and second > first:
                        epoch_small = (second - first) / (second_epochs - first_epochs)
                    else:
                        epoch_small = second / second_epochs
                    per_fit = max(0.0, first - first_epochs * epoch_small)
                    if large_batches > 1:  # one batch against several: per-epoch vs per-batch
                        third, third_epochs = timed_fit(loss_id, None, 2 * PILOT_EPOCHS)
                        epoch_large = max((third - per_fit) / third_epochs, epoch_small)
                        # the slope between the two, but never below the larger epoch's average
                        # per batch: timing noise must not make batches look free
                        per_batch = max((epoch_large - epoch_small) / (large_batches - 1),
                                        epoch_large / large_batches)
                        per_epoch = max(0.0, epoch_small - per_batch)
                    else:  # every fit of the run has one batch
                        epoch_large, per_batch, per_epoch = epoch_small, epoch_small, 0.0
                    reference = (per_fit, per_epoch, per_batch, epoch_large)
                    ratios.append(1.0)
                else:
                    seconds, ran = timed_fit(loss_id, None if large_batches > 1 else small_positions,
                                             PILOT_EPOCHS)
                    ratios.append(max(0.1, (seconds - reference[0]) / ran / reference[3]))
            except Exception:  # noqa: BLE001 - the real run records the failure
                continue
    if reference is None:  # every pilot fit failed: assume a slow machine
        reference = (0.05, 2e-3, 2e-3, 0.0)
    scale = float(np.mean(ratios)) if ratios else 1.0
    cost = Cost(per_fit=reference[0], per_epoch=reference[1] * scale,
                per_batch=reference[2] * scale,
                per_row=per_row, per_prepare=per_prepare)
    return {"cost": cost, "bytes_per_row": bytes_per_row, "solver": solver,
            "n_inputs": int(matrix.shape[1]), "raw_columns": int(sample.shape[1]),
            "seconds": time.perf_counter() - started}


def _assemble(*, profile, chosen, roles, rule_rank, results, n_splits,
              metrics, greater_is_better, test_train_ratio, notices, plan) -> dict[str, Any]:
    """Fold results -> per-candidate evidence (tested, unstable, failed), comparisons, orders."""
    by_key = {(result.loss_id, result.split): result for result in results}
    failures: dict[str, str] = {}
    for loss_id in chosen:
        failed = [by_key[(loss_id, split)] for split in range(n_splits)
                  if by_key[(loss_id, split)].status == "failed"]
        if failed:
            first = failed[0]
            failures[loss_id] = (f"{first.reason} (split {first.split + 1}; {len(failed)} of "
                                 f"{n_splits} splits failed)")
    alive = [loss_id for loss_id in chosen if loss_id not in failures]
    complete = [split for split in range(n_splits)
                if all(by_key[(loss_id, split)].status == "ok" for loss_id in alive)]
    if len(complete) < n_splits:
        notices.append(("validation.budget_exhausted",
                        f"the time budget ran out: the comparison uses {len(complete)} of "
                        f"{n_splits} splits; raise the budget for the full protocol"))
    primary = metrics[0]
    unrun: dict[str, str] = {}
    if alive and len(complete) == 0:
        for loss_id in alive:
            unrun[loss_id] = "the time budget ran out before any of its splits completed"
        alive = []
    fold_scores = {loss_id: {name: tuple(by_key[(loss_id, split)].scores.get(name, math.nan)
                                         for split in complete) for name in metrics}
                   for loss_id in alive}
    # Do no harm: a blow-up on any split (a spike, or predictions far outside the targets)
    # on the user's metric and on RMSE: other deviances punish near-zero predictions of
    # identity-link losses, which is not a blow-up of the network
    watched = [name for name in dict.fromkeys((primary, "rmse")) if name in metrics]
    overshoots = {loss_id: [by_key[(loss_id, split)].overshoot for split in complete]
                  for loss_id in alive}
    unstable = (unstable_candidates(fold_scores, watched, complete, overshoots)
                if profile.task in NUMERIC_TASKS else {})
    stable = [loss_id for loss_id in alive if loss_id not in unstable]

    comparisons = []
    for first_index, a in enumerate(stable):
        for b in stable[first_index + 1:]:
            comparisons.append(stats.compare_paired(
                a, fold_scores[a][primary], b, fold_scores[b][primary],
                greater_is_better=greater_is_better, test_train_ratio=test_train_ratio))
    means = {loss_id: {name: _nanmean(values) for name, values in fold_scores[loss_id].items()}
             for loss_id in alive}
    sign = 1.0 if greater_is_better else -1.0
    empirical = sorted(stable, key=lambda loss_id: (-sign * means[loss_id][primary], stable.index(loss_id)))
    agreement = stats.kendall_agreement(stable, empirical)

    evidence_items = []
    epoch_cap_total = 0
    for loss_id in chosen:
        runs = [by_key[(loss_id, split)] for split in range(n_splits)]
        cap_folds = sum(1 for run in runs if run.reached_epoch_cap)
        epoch_cap_total += cap_folds
        if loss_id in alive:
            primary_scores = fold_scores[loss_id][primary]
            finite = np.asarray(primary_scores, dtype=float)
            finite = finite[np.isfinite(finite)]
            low, high = stats.corrected_interval(primary_scores, test_train_ratio)
            evidence_items.append(CandidateEvidence(
                loss=loss_id, rule_rank=rule_rank.get(loss_id), roles=tuple(roles[loss_id]),
                status="unstable" if loss_id in unstable else "tested",
                failure=unstable.get(loss_id), fold_scores=fold_scores[loss_id],
                means=means[loss_id],
                std=float(finite.std(ddof=1)) if finite.size >= 2 else math.nan,
                ci_low=low, ci_high=high,
                epochs_run=tuple(by_key[(loss_id, split)].epochs_run for split in complete),
                epoch_cap_folds=cap_folds))
            if loss_id in unstable:
                notices.append(("validation.unstable", f"{loss_id} is unstable, so it is never "
                                f"recommended: {unstable[loss_id]}"))
        else:
            failed = loss_id in failures
            evidence_items.append(CandidateEvidence(
                loss=loss_id, rule_rank=rule_rank.get(loss_id), roles=tuple(roles[loss_id]),
                status="failed" if failed else "not_run",
                failure=failures[loss_id] if failed else unrun[loss_id], fold_scores={},
                means={}, std=math.nan, ci_low=math.nan, ci_high=math.nan,
                epochs_run=tuple(run.epochs_run for run in runs), epoch_cap_folds=cap_folds))
            if failed:
                notices.append(("validation.failed", f"{loss_id} failed in the experiment: "
                                f"{failures[loss_id]}"))
    if plan.rows < len(profile.y):
        notices.insert(0, ("validation.sampled",
                           f"the experiment used a stratified sample of {plan.rows:,} of "
                           f"{len(profile.y):,} rows to fit the time budget"))
    if not plan.within_budget:
        message = ("the protocol asked for is expected to take longer than the budget" if plan.pinned
                   else f"the budget is too small even for the minimal protocol ({plan.folds} folds, "
                        f"{plan.epochs} epochs), so the run may take longer than asked")
        notices.append(("validation.budget_small", message))
    fits = len(chosen) * n_splits
    if epoch_cap_total and epoch_cap_total >= fits / 2:
        notices.append(("validation.epoch_cap",
                        f"{epoch_cap_total} of {fits} proxy fits stopped at the {plan.epochs}-epoch "
                        "cap before their held-out loss stopped improving; a larger budget trains them longer"))
    rule_choice = chosen[0] if chosen else None
    return {
        "splits_used": len(complete),
        "fields": {
            "candidates": tuple(evidence_items), "comparisons": tuple(comparisons),
            "rule_order": tuple(stable), "empirical_order": tuple(empirical),
            "rule_choice": rule_choice, "agreement": agreement, "notices": tuple(notices),
        },
    }


def _nanmean(values: Sequence[float]) -> float:
    array = np.asarray(values, dtype=float)
    array = array[np.isfinite(array)]
    return float(array.mean()) if array.size else math.nan
