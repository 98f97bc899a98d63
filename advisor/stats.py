"""Paired, fold-aware statistics for comparing losses trained on the same folds.

Cross-validation scores of two losses are paired (same training and test rows, same seeds)
and they are *not* independent across folds: the training sets of K-fold splits overlap,
so the plain paired t-test underestimates the variance of the mean difference and calls
noise significant. The validator therefore uses:

- the **corrected resampled t-test** of Nadeau & Bengio (Machine Learning 52, 2003), as
  recommended by Bouckaert & Frank (PAKDD 2004) for (repeated) K-fold cross-validation:
  with J paired differences d_j, n1 training rows and n2 test rows per split,

      t = mean(d) / sqrt((1/J + n2/n1) * var(d)),    var with ddof 1, df = J - 1,

  two-sided p-value from Student's t (``scipy.stats.t``), and the matching interval
  ``mean(d) +- t_{1-alpha/2, J-1} * sqrt((1/J + n2/n1) * var(d))``;
- the **Wilcoxon signed-rank test** (``scipy.stats.wilcoxon``) as a distribution-free
  second opinion when there are at least :data:`MIN_WILCOXON_FOLDS` paired folds. It ignores
  the overlap between training sets (so it is anti-conservative on its own) and is used
  only to *veto* a significance claim, never to make one.

A difference is **significant** when the corrected t-test rejects at ``alpha`` and, where
the Wilcoxon test was run, it rejects too. ``alpha`` applies per comparison: the validator
compares at most a handful of candidates and reports every p-value, so no multiplicity
correction is applied; the corrected t-test is the conservative guard.

Effect sizes: the mean difference (in the metric's units, oriented so that positive means
"better") and the standardized mean difference d_z = mean(d) / sd(d) (None when the
differences do not vary).

Not significant is not equivalent: with 5-10 folds the t-test rarely rejects even for
differences of several percent. The decide stage therefore judges with
:func:`practical_comparison`, the Bayesian correlated t-test with a region of practical
equivalence (``baycomp``), which says how probable it is that one loss is practically better,
equivalent, or worse; the frequentist comparison stays in the output as a second reading.
:func:`kendall_agreement` measures how far the rule ranking and the empirical ranking agree.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

__all__ = [
    "ALPHA", "MIN_WILCOXON_FOLDS", "PairedComparison", "corrected_t_test",
    "corrected_interval", "wilcoxon_p_value", "compare_paired", "PracticalComparison",
    "practical_comparison", "kendall_agreement", "finite_mean",
]

#: Significance level of every comparison.
ALPHA = 0.05
#: Paired folds needed before the Wilcoxon signed-rank test is consulted.
MIN_WILCOXON_FOLDS = 10


@dataclass(frozen=True)
class PairedComparison:
    """Candidate ``a`` against candidate ``b`` on the same folds; positive = ``a`` better."""

    a: str
    b: str
    n_folds: int                          # paired folds with a finite score for both
    mean_difference: float                # mean of (a - b), oriented so positive = a better
    sd_difference: float                  # sample sd of the differences (ddof 1)
    standardized_difference: float | None  # d_z = mean / sd; None when sd is 0 or undefined
    t_statistic: float | None             # corrected t; None when undefined (sd 0 with a non-zero mean)
    p_value: float                        # corrected resampled t-test, two-sided
    ci_low: float                         # corrected t interval of the mean difference
    ci_high: float
    wilcoxon_p: float | None              # None when fewer than MIN_WILCOXON_FOLDS folds
    significant: bool
    alpha: float
    test_train_ratio: float

    @property
    def winner(self) -> str | None:
        """The significantly better candidate, or None for a tie."""
        if not self.significant:
            return None
        return self.a if self.mean_difference > 0 else self.b

    @property
    def loser(self) -> str | None:
        """The significantly worse candidate, or None for a tie."""
        if not self.significant:
            return None
        return self.b if self.mean_difference > 0 else self.a


def finite_mean(values: Sequence[float]) -> float:
    """The mean of the finite values (a fold that could not be scored is NaN); NaN when
    there is none."""
    array = np.asarray(values, dtype=float)
    array = array[np.isfinite(array)]
    return float(array.mean()) if array.size else math.nan


def _variance_factor(n_folds: int, test_train_ratio: float) -> float:
    """Nadeau-Bengio inflation of the sample variance: 1/J + n_test/n_train."""
    if test_train_ratio < 0:
        raise ValueError(f"test_train_ratio must be >= 0; got {test_train_ratio}")
    return 1.0 / n_folds + test_train_ratio


def corrected_t_test(differences: Sequence[float], test_train_ratio: float,
                     alpha: float = ALPHA) -> tuple[float | None, float, float, float]:
    """Nadeau-Bengio corrected resampled t-test of paired fold differences.

    Returns ``(t, p, ci_low, ci_high)``. With fewer than two differences nothing can be
    said: ``t`` is None and ``p`` is 1. When the differences do not vary, a zero mean gives
    ``t = 0, p = 1`` and any other mean ``t = None, p = 0`` (every fold agrees exactly), with a
    degenerate interval at the mean.
    """
    values = np.asarray(differences, dtype=float)
    count = values.size
    if count == 0:
        return None, 1.0, math.nan, math.nan
    mean = float(values.mean())
    if count < 2:
        return None, 1.0, -math.inf, math.inf
    variance = float(values.var(ddof=1))
    scale = math.sqrt(_variance_factor(count, test_train_ratio) * variance)
    if scale == 0.0 or not math.isfinite(scale):
        if mean == 0.0:
            return 0.0, 1.0, mean, mean
        return None, 0.0, mean, mean
    t_value = mean / scale
    degrees = count - 1
    p_value = float(2.0 * scipy_stats.t.sf(abs(t_value), degrees))
    half_width = float(scipy_stats.t.ppf(1.0 - alpha / 2.0, degrees)) * scale
    return t_value, min(1.0, p_value), mean - half_width, mean + half_width


def corrected_interval(values: Sequence[float], test_train_ratio: float,
                       alpha: float = ALPHA) -> tuple[float, float]:
    """Corrected t interval of the mean of cross-validated scores (same correction as the test)."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return math.nan, math.nan
    mean = float(finite.mean())
    if finite.size < 2:
        return mean, mean
    scale = math.sqrt(_variance_factor(finite.size, test_train_ratio) * float(finite.var(ddof=1)))
    half_width = float(scipy_stats.t.ppf(1.0 - alpha / 2.0, finite.size - 1)) * scale
    return mean - half_width, mean + half_width


def wilcoxon_p_value(differences: Sequence[float]) -> float:
    """Two-sided Wilcoxon signed-rank p-value; 1 when every difference is zero."""
    values = np.asarray(differences, dtype=float)
    nonzero = values[values != 0.0]  # Wilcoxon's own treatment of zero differences: drop them
    if nonzero.size == 0:
        return 1.0
    # The exact null distribution needs distinct |d|; with ties the normal approximation
    # (scipy would otherwise enumerate all 2^n sign flips, slowly).
    tied = np.unique(np.abs(nonzero)).size < nonzero.size
    method = "asymptotic" if tied or nonzero.size > 50 else "exact"
    result = scipy_stats.wilcoxon(nonzero, zero_method="wilcox", alternative="two-sided",
                                  method=method)
    p_value = float(result.pvalue)
    return p_value if math.isfinite(p_value) else 1.0


def compare_paired(a: str, scores_a: Sequence[float], b: str, scores_b: Sequence[float], *,
                   greater_is_better: bool, test_train_ratio: float,
                   alpha: float = ALPHA) -> PairedComparison:
    """Compare two candidates scored on the same folds (aligned sequences).

    Folds where either score is not finite are left out of the pairing.
    """
    first = np.asarray(scores_a, dtype=float)
    second = np.asarray(scores_b, dtype=float)
    if first.shape != second.shape:
        raise ValueError(f"paired scores must align: {first.shape} vs {second.shape}")
    keep = np.isfinite(first) & np.isfinite(second)
    differences = first[keep] - second[keep]
    if not greater_is_better:
        differences = -differences
    count = int(differences.size)
    t_value, p_value, ci_low, ci_high = corrected_t_test(differences, test_train_ratio, alpha)
    mean = float(differences.mean()) if count else math.nan
    sd = float(differences.std(ddof=1)) if count >= 2 else math.nan
    standardized = mean / sd if count >= 2 and sd > 0 else None
    wilcoxon = wilcoxon_p_value(differences) if count >= MIN_WILCOXON_FOLDS else None
    significant = (count >= 2 and mean != 0.0 and p_value < alpha
                   and (wilcoxon is None or wilcoxon < alpha))
    return PairedComparison(a=a, b=b, n_folds=count, mean_difference=mean, sd_difference=sd,
                            standardized_difference=standardized, t_statistic=t_value,
                            p_value=p_value, ci_low=ci_low, ci_high=ci_high,
                            wilcoxon_p=wilcoxon, significant=bool(significant), alpha=alpha,
                            test_train_ratio=test_train_ratio)


@dataclass(frozen=True)
class PracticalComparison:
    """Posterior probabilities that ``a`` is practically better, equivalent, or worse than ``b``.

    From the Bayesian correlated t-test (Benavoli, Corani, Demsar & Zaffalon, JMLR 2017) on
    the paired fold scores, with a region of practical equivalence of half-width ``rope``
    in the metric's units. The three probabilities sum to 1.
    """

    a: str
    b: str
    rope: float
    better: float        # P(a - b > rope): a practically better
    equivalent: float    # P(|a - b| <= rope)
    worse: float         # P(a - b < -rope): a practically worse


def practical_comparison(a: str, scores_a: Sequence[float], b: str, scores_b: Sequence[float], *,
                         greater_is_better: bool, rope: float, folds: int) -> PracticalComparison:
    """Bayesian correlated t-test of ``a`` against ``b`` with a region of practical equivalence.

    ``baycomp.two_on_single`` computes it; it needs the splits to be whole repetitions of
    ``folds``-fold cross-validation (its Nadeau-Bengio correction uses the folds per run), so
    a run cut short by the budget is compared on its complete repetitions, or as one run
    when not even one completed (its correction then uses the splits that ran as folds,
    which is conservative). Folds where either score is not finite are left out.
    """
    import baycomp

    first = np.asarray(scores_a, dtype=float)
    second = np.asarray(scores_b, dtype=float)
    keep = np.isfinite(first) & np.isfinite(second)
    first, second = first[keep], second[keep]
    if not greater_is_better:
        first, second = -first, -second
    count = first.size
    if count < 2:
        return PracticalComparison(a, b, rope, 0.0, 1.0, 0.0)
    runs = count // folds if folds >= 2 and count >= folds else 1
    if runs > 1 or count >= folds:
        first, second = first[:runs * folds], second[:runs * folds]
    # baycomp: diff = y - x = a - b; p_left = P(a - b < -rope) is "a practically worse"
    left, middle, right = baycomp.two_on_single(second, first, rope=max(rope, 1e-300), runs=runs)
    return PracticalComparison(a, b, rope, better=float(right), equivalent=float(middle),
                               worse=float(left))


def kendall_agreement(rule_order: Sequence[Hashable],
                      empirical_order: Sequence[Hashable]) -> tuple[float, float] | None:
    """Kendall's tau (and its p-value) between two orderings of the same candidates.

    1 means the experiment ranked the candidates exactly as the rules did, -1 the reverse.
    None with fewer than two shared candidates, or when tau is undefined.
    """
    shared = [item for item in rule_order if item in set(empirical_order)]
    if len(shared) < 2:
        return None
    empirical_position = {item: index for index, item in enumerate(empirical_order)}
    rule_ranks = list(range(len(shared)))
    empirical_ranks = [empirical_position[item] for item in shared]
    result = scipy_stats.kendalltau(rule_ranks, empirical_ranks)
    tau, p_value = float(result.statistic), float(result.pvalue)
    if not math.isfinite(tau):
        return None
    return tau, (p_value if math.isfinite(p_value) else 1.0)
