"""The scorers of the metric table (:mod:`.metrics`) and the scoring of one fold.

Each ``score_<metric>(y_true, prediction, context)`` reads the prediction the way the
proxies return it (see :data:`.metrics.METRIC_SPECS`); :func:`score_predictions` turns a
metric that cannot be computed on a fold into NaN with a reason instead of an error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..losses._predictive import Predictive, homoscedastic
from .metrics import METRIC_SPECS
from .survival_scoring import score_c_index, score_integrated_brier, score_uno_c, survival_reference

__all__ = ["ScoringContext", "infer_context", "score_predictions", "metrics_for",
           "scoring_context", "prediction_levels", "level_coverage", "one_line", "fold_distribution",
           "needs_distribution", "CLASS_TASKS", "NUMERIC_TASKS", "ECE_BINS", "top_label_ece",
           "prediction_times", "score_c_index", "score_uno_c", "score_integrated_brier"]

CLASS_TASKS = frozenset({"binary", "multiclass", "ordinal"})
NUMERIC_TASKS = frozenset({"regression", "count", "proportion"})

#: Equal-width confidence bins of the expected calibration error, as in Guo et al. 2017.
ECE_BINS = 15
_DEVIANCE_FLOOR = 1e-6
_PROBABILITY_FLOOR = 1e-15


@dataclass(frozen=True)
class ScoringContext:
    """What a metric needs besides ``(y_true, prediction)``.

    ``levels`` are the quantile levels the pinball loss averages over;
    ``prediction_levels`` the levels of the columns of a quantile loss's prediction (empty
    for point predictions); ``tweedie_power`` the power of the Tweedie deviance;
    ``target_edges`` the label-density bin edges of each target column, from the whole target
    (:func:`advisor.label_density.bin_edges`), so that ``balanced_mae`` bins every candidate's
    fold alike (empty: each fold's truth gives its own bins); ``decision_offsets`` a plan's
    tuned decision rule as one offset per output on the logits, subtracted before the plain
    rule (:mod:`.decision`: ``logit(t)`` for a threshold t, ``tau log prior`` for the logit
    adjustment; empty: the plain argmax / 0.5 rule). Only the decision metrics read it.
    """

    task: str
    n_classes: int = 0
    levels: tuple[float, ...] = (0.5,)
    prediction_levels: tuple[float, ...] = ()
    tweedie_power: float = 1.5
    target_edges: tuple[tuple[float, ...], ...] = ()
    #: survival: the grid times of the candidate's survival curve (its ``times`` parameter)
    prediction_times: tuple[float, ...] = ()
    #: survival: the whole target's (durations, events), for the censoring distribution
    survival_reference: tuple[tuple[float, ...], tuple[float, ...]] | tuple[()] = ()
    #: survival: Uno's C is truncated here (the 90th percentile of the durations); 0: none
    survival_horizon: float = 0.0
    decision_offsets: tuple[float, ...] = ()


def infer_context(y_true: np.ndarray, prediction: np.ndarray) -> ScoringContext:
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


def _decided_labels(prediction: np.ndarray, context: ScoringContext) -> np.ndarray:
    """Multi-label decisions: each label's probability at or above its threshold (0.5, or the
    plan's, ``sigmoid(offset)``)."""
    probabilities = _label_probabilities(prediction)
    if not context.decision_offsets:
        return probabilities >= 0.5
    thresholds = 1.0 / (1.0 + np.exp(-np.asarray(context.decision_offsets, dtype=float)))
    return probabilities >= thresholds


def _decided_classes(prediction: np.ndarray, context: ScoringContext) -> np.ndarray:
    """Class decisions: the most probable class, or, under a plan's rule, the positive class
    from its threshold (binary) / argmax_c (log p_c - offset_c) (multiclass)."""
    probabilities = _class_probabilities(prediction, context)
    offsets = np.asarray(context.decision_offsets, dtype=float)
    if offsets.size == 0:
        return probabilities.argmax(axis=1)
    if probabilities.shape[1] == 2 and offsets.size == 1:
        return (probabilities[:, 1] >= 1.0 / (1.0 + np.exp(-offsets[0]))).astype(int)
    with np.errstate(divide="ignore"):
        return (np.log(probabilities) - offsets).argmax(axis=1)


def score_accuracy(y_true, prediction, context):
    from sklearn.metrics import accuracy_score

    if context.task == "multilabel":
        return float(np.mean(_decided_labels(prediction, context) == (np.asarray(y_true) > 0.5)))
    return float(accuracy_score(y_true, _decided_classes(prediction, context)))


def score_balanced_accuracy(y_true, prediction, context):
    from sklearn.metrics import balanced_accuracy_score

    if context.task == "multilabel":
        truth = np.asarray(y_true) > 0.5
        decided = _decided_labels(prediction, context)
        return float(np.mean([balanced_accuracy_score(truth[:, j], decided[:, j])
                              for j in range(truth.shape[1])]))
    return float(balanced_accuracy_score(y_true, _decided_classes(prediction, context)))


def score_f1_macro(y_true, prediction, context):
    from sklearn.metrics import f1_score

    if context.task == "multilabel":
        return float(f1_score(np.asarray(y_true) > 0.5, _decided_labels(prediction, context),
                              average="macro", zero_division=0))
    return float(f1_score(y_true, _decided_classes(prediction, context),
                          average="macro", zero_division=0))


def score_roc_auc(y_true, prediction, context):
    from sklearn.metrics import roc_auc_score

    if context.task == "multilabel":
        return _macro_over_columns(np.asarray(y_true), _label_probabilities(prediction), roc_auc_score)
    probabilities = _class_probabilities(prediction, context)
    if probabilities.shape[1] == 2:
        return float(roc_auc_score(y_true, probabilities[:, 1]))
    return _macro_over_columns(_one_hot(y_true, probabilities.shape[1]), probabilities, roc_auc_score)


def score_average_precision(y_true, prediction, context):
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


def score_log_loss(y_true, prediction, context):
    if context.task == "multilabel":
        return _binary_cross_entropy(np.asarray(y_true, dtype=float), _label_probabilities(prediction))
    if context.task == "proportion" or not _is_class_task(context):
        return _binary_cross_entropy(_numeric_truth(y_true), _point(prediction, context))
    probabilities = _class_probabilities(prediction, context)
    labels = np.asarray(y_true, dtype=int).ravel()
    chosen = probabilities[np.arange(labels.size), labels]
    return float(np.mean(-np.log(np.clip(chosen, _PROBABILITY_FLOOR, 1.0))))


def score_brier(y_true, prediction, context):
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


def top_label_ece(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error of the top label: sum over equal-width confidence bins of
    (rows in the bin / rows) * |accuracy - mean confidence| (Naeini, Cooper & Hauskrecht,
    AAAI 2015; Guo, Pleiss, Sun & Weinberger, ICML 2017).

    The confidence is the largest class probability and a row is right when its argmax is the
    label. Bins are (lower, upper] as in Guo et al. and ``sklearn.calibration.calibration_curve``
    (``strategy="uniform"``), which gives the per-bin accuracy and confidence but not the bin
    sizes the weighting needs, hence numpy here. Equal-width bins, not equal-mass ones: the
    number is comparable across candidates, whose confidences spread differently.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    labels = np.asarray(labels, dtype=int).ravel()
    if labels.size == 0:
        raise ValueError("the calibration error needs at least one row")
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == labels).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.searchsorted(edges[1:-1], confidence, side="left")
    gaps = (np.bincount(index, weights=correct, minlength=bins)
            - np.bincount(index, weights=confidence, minlength=bins))
    return float(np.abs(gaps).sum() / labels.size)


def score_ece(y_true, prediction, context):
    """Top-label ECE in :data:`ECE_BINS` bins; multi-label: the mean over labels of each
    label's binary ECE (its two-class distribution (1 - p, p))."""
    if context.task == "multilabel":
        truth = np.asarray(y_true) > 0.5
        scores = _label_probabilities(prediction)
        return float(np.mean([top_label_ece(np.column_stack([1.0 - scores[:, j], scores[:, j]]),
                                            truth[:, j]) for j in range(truth.shape[1])]))
    return top_label_ece(_class_probabilities(prediction, context), y_true)


def score_rmse(y_true, prediction, context):
    if _is_class_task(context):
        truth, predicted = _ranks(y_true, prediction, context, "mean")
    else:
        truth, predicted = _numeric_truth(y_true), _point(prediction, context)
    return float(np.sqrt(np.mean((truth - predicted) ** 2)))


def score_mae(y_true, prediction, context):
    if _is_class_task(context):
        truth, predicted = _ranks(y_true, prediction, context, "median")
    else:
        truth, predicted = _numeric_truth(y_true), _point(prediction, context)
    return float(np.mean(np.abs(truth - predicted)))


def score_r2(y_true, prediction, context):
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


def score_poisson_deviance(y_true, prediction, context):
    return _deviance(y_true, prediction, context, 1.0)


def score_gamma_deviance(y_true, prediction, context):
    return _deviance(y_true, prediction, context, 2.0)


def score_tweedie_deviance(y_true, prediction, context):
    return _deviance(y_true, prediction, context, context.tweedie_power)


def score_pinball(y_true, prediction, context):
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


def score_balanced_mae(y_true, prediction, context):
    """Mean over the target's bins of each bin's MAE (Yang et al. 2021, Ren et al. 2022).

    The bins are the label-density bins of the whole target (``context.target_edges``; the
    fold's own truth without them); truths beyond the edges count in the end bins, and bins
    with no row of the fold are left out of the mean. Several target columns: the mean over
    columns.
    """
    from ..label_density import bin_edges, bin_index

    truth = np.asarray(_numeric_truth(y_true), dtype=float)
    predicted = np.asarray(_point(prediction, context), dtype=float)
    truth, predicted = truth.reshape(len(truth), -1), predicted.reshape(len(truth), -1)
    if truth.size == 0:
        raise ValueError("balanced MAE needs at least one row")
    per_column = []
    for column in range(truth.shape[1]):
        edges = (np.asarray(context.target_edges[column]) if column < len(context.target_edges)
                 else bin_edges(truth[:, column]))
        bins = bin_index(truth[:, column], edges)
        errors = np.bincount(bins, weights=np.abs(truth[:, column] - predicted[:, column]))
        rows = np.bincount(bins)
        per_column.append(float(np.mean(errors[rows > 0] / rows[rows > 0])))
    return float(np.mean(per_column))


def _distribution(prediction: Any, y_true: np.ndarray) -> tuple[Any, np.ndarray]:
    """The predictive distribution a distribution metric reads, and the truth in its shape."""
    if not hasattr(prediction, "crps"):
        raise ValueError("this metric needs a predictive distribution, not point predictions")
    truth = np.asarray(y_true, dtype=float).reshape(np.shape(prediction.mean))
    return prediction, truth


def score_gaussian_nll(y_true, prediction, context):
    """Mean negative log-likelihood of a Gaussian predictive, -log N(y; m, s^2) with its
    constant 0.5 log(2 pi) (scipy.stats.norm.logpdf).

    A loss with a Gaussian predictive (gaussian_nll) is scored on its own per-row mean and
    variance; a non-Gaussian predictive (ziln's zero-inflated lognormal) through the Gaussian
    with its mean and variance; a point-prediction loss through a homoscedastic Gaussian
    around its prediction whose standard deviation is that of its residuals on the training
    fold (``advisor.losses._predictive.homoscedastic``). Several target columns: the mean
    over every cell.
    """
    distribution, truth = _distribution(prediction, y_true)
    return float(np.mean(distribution.negative_log_likelihood(truth)))


def score_crps(y_true, prediction, context):
    """Mean continuous ranked probability score, integral of (F(x) - 1{x >= y})^2 dx
    (Gneiting & Raftery, JASA 2007), in the target's units, lower is better.

    Closed forms: a Gaussian's (gaussian_nll's predictive, and the homoscedastic Gaussian a
    point-prediction loss gets from the spread of its training-fold residuals) and the exact
    mixture CRPS of ziln's zero-inflated lognormal (Baran & Lerch 2015 for the lognormal part),
    both through scipy.stats.norm. For a point mass it is the absolute error.
    """
    distribution, truth = _distribution(prediction, y_true)
    return float(np.mean(distribution.crps(truth)))


def level_coverage(y_true: np.ndarray, prediction: np.ndarray,
                   context: ScoringContext) -> tuple[tuple[float, float], ...]:
    """For quantile predictions, (level, share of the targets at or below its prediction):
    a calibrated 0.9 level covers 0.9 of them. Empty for any other prediction (point values,
    probabilities, several target columns)."""
    levels = context.prediction_levels
    values = np.asarray(prediction, dtype=float)
    if values.ndim == 1 and len(levels) == 1:  # one level: one column, returned flat
        values = values.reshape(-1, 1)
    if not levels or values.ndim != 2 or values.shape[1] != len(levels):
        return ()
    truth = _numeric_truth(y_true).reshape(-1, 1)
    return tuple((float(level), float(share))
                 for level, share in zip(levels, np.mean(truth <= values, axis=0)))


def one_line(error: BaseException) -> str:
    """An error's text on one line of at most 300 characters (it goes into the JSON)."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def needs_distribution(metrics: Iterable[str]) -> bool:
    """Whether one of ``metrics`` reads a predictive distribution."""
    return any(METRIC_SPECS[name].reads_distribution for name in metrics)


def fold_distribution(own: Predictive | None, prediction: np.ndarray, y_train: np.ndarray,
                      train_prediction: Callable[[], np.ndarray] | None,
                      context: ScoringContext) -> Predictive | None:
    """The predictive distribution a fold's distribution metrics score: the loss's own
    (``own``), else a Gaussian around the point prediction with the spread of the loss's
    residuals on the training fold (``train_prediction()`` predicts the training rows).

    The experiment and the benchmark's truth both call it, so both score the same way.
    """
    if own is not None:
        return own
    if train_prediction is None or context.task not in ("regression", "count"):
        return None
    return homoscedastic(_point(prediction, context), y_train, _point(train_prediction(), context))


def score_predictions(y_true: np.ndarray, prediction: np.ndarray, metrics: Iterable[str],
                      context: ScoringContext, distribution: Predictive | None = None
                      ) -> tuple[dict[str, float], dict[str, str]]:
    """Score one fold on every metric; a metric that cannot be computed is NaN with a reason.

    Distribution metrics read ``distribution`` (see :func:`fold_distribution`), the others
    the point ``prediction``."""
    scores: dict[str, float] = {}
    problems: dict[str, str] = {}
    for name in metrics:
        spec = METRIC_SPECS[name]
        try:
            value = float(spec.score(y_true, distribution if spec.reads_distribution else prediction,
                                     context))
        except (ValueError, ZeroDivisionError, IndexError) as error:
            scores[name], problems[name] = math.nan, one_line(error)
            continue
        if not math.isfinite(value):
            problems[name] = "not finite"
            value = math.nan
        scores[name] = value
    return scores, problems


def metrics_for(profile, primary: str, y: np.ndarray) -> tuple[str, ...]:
    """The primary metric first, then the task's other metrics that are defined on ``y``."""
    others = []
    numeric = np.asarray(y, dtype=float) if profile.task in NUMERIC_TASKS else None
    for name in sorted(name for name, spec in METRIC_SPECS.items() if profile.task in spec.tasks):
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


def scoring_context(profile, loss_params: Mapping[str, dict[str, Any]]) -> ScoringContext:
    """The run's scoring context: the task, its classes, the quantile levels the pinball
    loss averages over and the power of a Tweedie candidate (1.5 without one)."""
    power = 1.5
    for loss_id, values in sorted(loss_params.items()):
        if "tweedie" in loss_id and isinstance(values.get("power"), (int, float)):
            power = float(values["power"])
            break
    levels = tuple(profile.quantiles) or (0.5,)
    reference, horizon = survival_reference(profile.y) if profile.task == "survival" else ((), 0.0)
    return ScoringContext(task=profile.task, n_classes=len(profile.classes), levels=levels,
                          tweedie_power=power, target_edges=_target_edges(profile),
                          survival_reference=reference, survival_horizon=horizon)


def _target_edges(profile) -> tuple[tuple[float, ...], ...]:
    """The label-density bin edges of each column of a regression or count target, else ()."""
    if profile.task not in ("regression", "count"):
        return ()
    from ..label_density import bin_edges

    y = np.asarray(profile.y, dtype=float)
    return tuple(tuple(float(edge) for edge in bin_edges(column)) for column in y.reshape(len(y), -1).T)


def prediction_times(params: Mapping[str, Any]) -> tuple[float, ...]:
    """The grid times a survival loss predicts its curve at (its ``times`` parameter), else ()."""
    value = params.get("times")
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value):
        return tuple(float(v) for v in value)
    return ()


def prediction_levels(params: Mapping[str, Any]) -> tuple[float, ...]:
    """Quantile levels a quantile loss predicts (its ``quantiles`` parameter), else ()."""
    for key in ("quantiles", "levels"):
        value = params.get(key)
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, (int, float)) for v in value):
            return tuple(float(v) for v in value)
    return ()

