"""Facts of the target's distribution: class balance, and the shape of numeric targets
(moments, zeros, bounds, dispersion, the Tweedie power), computed on values scaled to
[-1, 1] so that no moment overflows. Everything is vectorised: a million rows take well
under a second."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ..label_density import label_density
from ._amount import AMOUNT_TASKS, amount_clue
from ._column import Column
from ._feature_facts import numeric_feature_matrix

if TYPE_CHECKING:
    from ._task import Target

#: Quantile bins for the Tweedie power estimate, the fewest usable, and rows per bin.
TWEEDIE_BINS = 20
TWEEDIE_MIN_BINS = 4
TWEEDIE_MIN_ROWS_PER_BIN = 5
#: Tasks whose mean-variance relation is estimated (bounded scales have no Tweedie power).
TWEEDIE_TASKS = frozenset({"regression", "count"})
#: Rows (an evenly strided sample) the Tweedie power is estimated on.
TWEEDIE_MAX_ROWS = 200_000
MAD_TO_SIGMA = 1.4826
MODIFIED_Z_CUTOFF = 3.5
EXCESS_ZERO_CAP = 1e6


NEUTRAL_NUMERIC_FACTS: dict[str, Any] = {
    "skewness": 0.0, "kurtosis": 0.0, "outlier_fraction": 0.0, "zero_fraction": 0.0,
    "excess_zero_ratio": 1.0, "integer_valued": True, "nonnegative": True,
    "strictly_positive": False, "has_negative": False, "target_min": 0.0, "target_max": 1.0,
    "target_mean": 0.0, "target_std": 0.0, "target_scale": 1.0, "in_unit_interval": True,
    "dispersion_index": 1.0, "tweedie_power": 0.0,
    "target_density_ratio": 1.0, "target_rare_share": 0.0,
    "nonzero_skewness": 0.0, "heteroscedasticity": 0.0, "orders_of_magnitude": 0.0,
}
#: Tasks whose label density is measured (imbalanced regression: the rare regions of a
#: continuous or count target); bounded scales and levels keep the neutral values.
DENSITY_TASKS = frozenset({"regression", "count"})
#: Fewest non-zero (positive) values the shape of the non-zero part is computed on.
MIN_NONZERO = 8


def numeric_target_facts(target: Target, columns: list[Column], features: pd.DataFrame,
                         row_mask: np.ndarray) -> tuple[dict[str, Any], float]:
    """(the numeric facts, the robust scale) of the target; neutral for classes."""
    facts: dict[str, Any] = dict(NEUTRAL_NUMERIC_FACTS)
    robust_scale = 0.0
    if target.numeric is not None:
        tweedie = target.task in TWEEDIE_TASKS
        n_rows = int(row_mask.sum())
        step = -(-n_rows // TWEEDIE_MAX_ROWS)  # the mean-variance slope needs no more rows
        sampled_rows = np.flatnonzero(row_mask)[::step]
        feature_matrix = numeric_feature_matrix(features, sampled_rows) if tweedie else None
        density = target.task in DENSITY_TASKS
        per_column = [{**_numeric_facts(values, feature_matrix, tweedie_step=step if tweedie else 0),
                       **_density_facts(values, measured=density)}
                      for values in target.numeric.T]
        facts = _combine_numeric_facts(per_column)
        robust_scale = max(column["robust_scale"] for column in per_column)
    facts["looks_like_amount"] = (
        target.task in AMOUNT_TASKS and target.numeric is not None
        and any(amount_clue(column.name, values) is not None
                for column, values in zip(columns, target.numeric.T, strict=True)))
    return facts, robust_scale


def class_facts(target: Target) -> dict[str, Any]:
    """Facts of the class distribution (per-label for multi-label); neutral for numeric tasks."""
    if not target.classes:
        return {"n_classes": 0, "imbalance_ratio": 1.0, "minority_fraction": 0.5, "minority_count": 0,
                "label_entropy": 1.0, "effective_number_ratio": 1.0, "label_cardinality": 1.0,
                "label_density": 1.0}
    n_rows = len(target.y)
    counts = np.asarray(target.class_counts, dtype=np.float64)
    if target.multilabel:
        negatives = n_rows - counts
        prevalence = counts / n_rows
        imbalance = float(np.max(negatives / counts))
        minority = float(counts.min())
        entropy = float(np.mean(_binary_entropy(prevalence)))
        cardinality = float(target.y.sum(axis=1).mean())
    else:
        present = counts[counts > 0]
        imbalance = float(present.max() / present.min())
        minority = float(present.min())
        shares = present / n_rows
        entropy = float(-(shares * np.log(shares)).sum() / math.log(len(counts))) if len(counts) > 1 else 1.0
        cardinality = 1.0
    # Cui et al. 2019: E_n = (1 - beta^n) / (1 - beta) with beta = 1 - 1/N
    beta_power = math.exp(minority * math.log1p(-1.0 / n_rows)) if n_rows > 1 else 0.0
    effective = n_rows * (1.0 - beta_power)
    return {
        "n_classes": len(counts),
        "imbalance_ratio": imbalance,
        "minority_fraction": minority / n_rows,
        "minority_count": minority,
        "label_entropy": entropy,
        "effective_number_ratio": effective / minority,
        "label_cardinality": cardinality,
        "label_density": cardinality / len(counts) if target.multilabel else 1.0,
    }


def _binary_entropy(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-300, 1.0)
    q = np.clip(1.0 - p, 1e-300, 1.0)
    return -(p * np.log(p) + q * np.log(q)) / math.log(2.0)


def _numeric_facts(values: np.ndarray, features: np.ndarray | None, *, tweedie_step: int) -> dict[str, Any]:
    """Shape of one numeric target column, computed on values scaled to [-1, 1] (no overflow).

    ``tweedie_step`` > 0 estimates the Tweedie power on every ``tweedie_step``-th row,
    the rows of ``features``; 0 skips it.
    """
    scale = float(np.max(np.abs(values)))
    unit = values / scale if scale > 0 else values
    mean_unit = float(unit.mean())
    std_unit = float(unit.std())
    lowest, highest = float(values.min()), float(values.max())
    median_unit = float(np.median(unit))
    deviation = np.abs(unit - median_unit)
    mad_unit = float(np.median(deviation))
    spread = MAD_TO_SIGMA * mad_unit if mad_unit > 0 else 1.253314 * float(deviation.mean())
    outliers = float(np.mean(deviation > MODIFIED_Z_CUTOFF * spread)) if spread > 0 else 0.0
    zero_fraction = float(np.mean(values == 0))
    integer = bool(np.all(values == np.round(values)))
    mean = mean_unit * scale
    if integer and lowest >= 0 and mean > 0:
        log_ratio = math.log(zero_fraction) + mean if zero_fraction > 0 else -math.inf
        excess_zero = min(math.exp(min(log_ratio, 700.0)), EXCESS_ZERO_CAP) if zero_fraction > 0 else 0.0
    else:
        excess_zero = 1.0
    sample = values[::tweedie_step] if tweedie_step else values
    estimate = _mean_estimate(sample, features) if tweedie_step else None
    # the estimate's ranks, sorted once for the Tweedie power's bins and the spread's trend
    ranks = _ranks(estimate) if estimate is not None else None
    return {
        "skewness": sample_skewness(unit),
        "kurtosis": _excess_kurtosis(unit),
        "outlier_fraction": outliers,
        "zero_fraction": zero_fraction,
        "excess_zero_ratio": excess_zero,
        "integer_valued": integer,
        "nonnegative": lowest >= 0,
        "strictly_positive": lowest > 0,
        "has_negative": lowest < 0,
        "target_min": lowest,
        "target_max": highest,
        "target_mean": mean,
        "target_std": std_unit * scale,
        "target_scale": scale,
        "in_unit_interval": lowest >= 0 and highest <= 1,
        "dispersion_index": std_unit * std_unit / mean_unit * scale if mean > 0 else 1.0,
        "tweedie_power": _tweedie_power(sample, ranks) if ranks is not None and lowest >= 0 else 0.0,
        **_distribution_shape(values, unit),
        "heteroscedasticity": (_heteroscedasticity(sample, estimate, ranks)
                               if estimate is not None and ranks is not None and features is not None
                               else 0.0),
        "robust_scale": MAD_TO_SIGMA * mad_unit * scale,
    }


def _combine_numeric_facts(per_column: list[dict[str, Any]]) -> dict[str, Any]:
    """Several numeric target columns -> one set of facts, each taken at its most telling column."""
    if len(per_column) == 1:
        facts = dict(per_column[0])
        del facts["robust_scale"]
        return facts

    def values(name: str) -> list[Any]:
        return [column[name] for column in per_column]

    powers = [power for power in values("tweedie_power") if power != 0.0]
    return {
        "skewness": max(values("skewness"), key=abs),
        "kurtosis": max(values("kurtosis")),
        "outlier_fraction": max(values("outlier_fraction")),
        "zero_fraction": max(values("zero_fraction")),
        "excess_zero_ratio": max(values("excess_zero_ratio")),
        "integer_valued": all(values("integer_valued")),
        "nonnegative": all(values("nonnegative")),
        "strictly_positive": all(values("strictly_positive")),
        "has_negative": any(values("has_negative")),
        "target_min": min(values("target_min")),
        "target_max": max(values("target_max")),
        "target_mean": float(np.mean(values("target_mean"))),
        "target_std": max(values("target_std")),
        "target_scale": max(values("target_scale")),
        "in_unit_interval": all(values("in_unit_interval")),
        "dispersion_index": max(values("dispersion_index")),
        "tweedie_power": float(np.median(powers)) if powers else 0.0,
        "target_density_ratio": max(values("target_density_ratio")),
        "target_rare_share": max(values("target_rare_share")),
        "nonzero_skewness": max(values("nonzero_skewness"), key=abs),
        "heteroscedasticity": max(values("heteroscedasticity")),
        "orders_of_magnitude": max(values("orders_of_magnitude")),
    }


def _density_facts(values: np.ndarray, *, measured: bool) -> dict[str, float]:
    """The LDS density facts of one column (bins and kernel: :mod:`advisor.label_density`);
    the neutral values when the task's density is not ``measured``."""
    if not measured:
        return {name: NEUTRAL_NUMERIC_FACTS[name] for name in ("target_density_ratio", "target_rare_share")}
    density = label_density(values)
    return {"target_density_ratio": density.density_ratio(),
            "target_rare_share": density.rare_share()}


def sample_skewness(values: np.ndarray) -> float:
    scale = float(np.max(np.abs(values)))
    unit = values / scale if scale > 0 else values
    centred = unit - unit.mean()
    std = float(centred.std())
    return float(np.mean((centred / std) ** 3)) if std > 0 else 0.0


def _excess_kurtosis(unit: np.ndarray) -> float:
    centred = unit - unit.mean()
    std = float(centred.std())
    return float(np.mean((centred / std) ** 4) - 3.0) if std > 0 else 0.0


def dispersion_index(values: np.ndarray) -> float:
    scale = float(np.max(np.abs(values)))
    unit = values / scale
    mean = float(unit.mean())
    return float(unit.var()) / mean * scale if mean > 0 else 1.0


def _distribution_shape(values: np.ndarray, unit: np.ndarray) -> dict[str, float]:
    """Shape of the non-zero part: skewness of the non-zero values, and the orders of
    magnitude the positive values span, log10(p99 / p1); 0 with fewer than 8 such values."""
    nonzero = unit[values != 0]
    skewness = sample_skewness(nonzero) if nonzero.size >= MIN_NONZERO else 0.0
    positive = values[values > 0]
    orders = 0.0
    if positive.size >= MIN_NONZERO:
        low, high = np.percentile(positive, [1.0, 99.0])
        orders = float(np.log10(high) - np.log10(low)) if low > 0 else 0.0
    return {"nonzero_skewness": skewness, "orders_of_magnitude": orders}


def _mean_estimate(values: np.ndarray, features: np.ndarray | None) -> np.ndarray:
    """A linear estimate of the mean, up to a shift and the unit: a ridge fit (alpha = 1) of
    y / max|y| on the standardised numeric features (y itself when there are none)."""
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    unit = values / scale if scale > 0 else values
    if features is None or not values.size:
        return unit
    # one BLAS thread: a (rows x 20) product is faster alone than with threads that spin
    with threadpool_limits(limits=1, user_api="blas"):
        gram = features.T @ features + np.eye(features.shape[1])  # ridge, alpha = 1
        coefficients = np.linalg.solve(gram, features.T @ (unit - unit.mean()))
        return features @ coefficients


def _ranks(values: np.ndarray) -> np.ndarray:
    """Each value's 0-based rank, ties by position (one stable sort)."""
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[np.argsort(values, kind="stable")] = np.arange(len(values))
    return ranks


def _quantile_bins(ranks: np.ndarray, n_bins: int) -> np.ndarray:
    """Each row's bin among ``n_bins`` equal-count bins, from the rows' ranks (:func:`_ranks`)."""
    return ranks * n_bins // len(ranks)


def _heteroscedasticity(values: np.ndarray, estimate: np.ndarray, ranks: np.ndarray) -> float:
    """Spearman correlation between the fitted level and the absolute deviation from it.

    The level is the ridge mean estimate the Tweedie power uses; the deviation is |y - the
    mean of y in the row's quantile bin of that estimate| (20 bins, as the Tweedie power's),
    not |y - fit|: a row-wise fit makes tied targets (exact zeros) deviate in the order of
    the fit, a rank correlation that has nothing to do with the spread. > 0 when the spread
    grows with the level. ``ranks`` are the estimate's (:func:`_ranks`, ties by position: numpy,
    because importing scipy.stats costs the rules-only path about a second). 0.0 with fewer
    than 100 rows.
    """
    n_rows = len(values)
    if n_rows < TWEEDIE_BINS * TWEEDIE_MIN_ROWS_PER_BIN or np.ptp(estimate) <= 0:
        return 0.0
    scale = float(np.max(np.abs(values)))
    unit = values / scale if scale > 0 else values
    bins = _quantile_bins(ranks, TWEEDIE_BINS)
    sizes = np.bincount(bins, minlength=TWEEDIE_BINS).astype(np.float64)
    means = np.bincount(bins, weights=unit, minlength=TWEEDIE_BINS) / np.maximum(sizes, 1.0)
    deviation = np.abs(unit - means[bins])
    if np.ptp(deviation) <= 0:
        return 0.0
    correlation = float(np.corrcoef(ranks.astype(np.float64),
                                    _ranks(deviation).astype(np.float64))[0, 1])
    return correlation if math.isfinite(correlation) else 0.0


def _tweedie_power(values: np.ndarray, ranks: np.ndarray) -> float:
    """Slope of log variance on log mean across quantile bins of a linear mean estimate.

    The mean estimate is a ridge fit of y on the standardised numeric features (y itself
    when there are none, :func:`_mean_estimate`); ``ranks`` are its rows' ranks. Var = phi *
    mu^p, so the slope is p; 0.0 when not estimable.
    """
    n_rows = len(values)
    n_bins = min(TWEEDIE_BINS, n_rows // TWEEDIE_MIN_ROWS_PER_BIN)
    if n_bins < TWEEDIE_MIN_BINS:
        return 0.0
    scale = float(values.max())
    if scale <= 0:
        return 0.0
    unit = values / scale  # the slope does not depend on the unit
    bins = _quantile_bins(ranks, n_bins)
    sizes = np.bincount(bins, minlength=n_bins).astype(np.float64)
    means = np.bincount(bins, weights=unit, minlength=n_bins) / sizes
    squares = np.bincount(bins, weights=(unit - means[bins]) ** 2, minlength=n_bins)
    variances = squares / np.maximum(sizes - 1, 1)
    usable = (means > 0) & (variances > 0) & (sizes > 1)
    if usable.sum() < TWEEDIE_MIN_BINS:
        return 0.0
    log_means, log_variances = np.log(means[usable]), np.log(variances[usable])
    if np.ptp(log_means) < 1e-9:
        return 0.0
    slope = float(np.polyfit(log_means, log_variances, 1)[0])
    return slope if math.isfinite(slope) else 0.0
