"""Paired, fold-aware statistics: the corrected t-test by hand, ties, Wilcoxon, the Bayesian
correlated t-test with a region of practical equivalence, rank agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from advisor.stats import (
    MIN_WILCOXON_FOLDS,
    compare_paired,
    corrected_interval,
    corrected_t_test,
    kendall_agreement,
    practical_comparison,
    wilcoxon_p_value,
)

DIFFERENCES = [0.10, 0.20, 0.15, 0.05, 0.10]   # 5 folds, test/train = 1/4


def test_corrected_t_test_matches_a_hand_computation():
    # mean 0.12; squared deviations sum to 0.013, so var (ddof 1) = 0.00325;
    # Nadeau-Bengio: var * (1/J + n2/n1) = 0.00325 * (0.2 + 0.25) = 0.0014625.
    se = math.sqrt(0.0014625)
    t_hand = 0.12 / se
    # Student t with 4 degrees of freedom has a closed form:
    # p = 1 - (3/4) x (1 - t^2 / (12 (1 + t^2/4))), x = t / sqrt(1 + t^2/4).
    x = t_hand / math.sqrt(1 + t_hand**2 / 4)
    p_hand = 1 - 0.75 * x * (1 - t_hand**2 / (12 * (1 + t_hand**2 / 4)))
    t_crit = 2.7764451051977934  # t_{0.975, 4} from the table
    t_value, p_value, low, high = corrected_t_test(DIFFERENCES, test_train_ratio=0.25)
    assert t_value == pytest.approx(t_hand, rel=1e-12)
    assert t_hand == pytest.approx(3.13786, abs=1e-5)
    assert p_value == pytest.approx(p_hand, rel=1e-9)
    assert p_value == pytest.approx(0.0349197, abs=1e-7)
    assert low == pytest.approx(0.12 - t_crit * se, rel=1e-9)
    assert high == pytest.approx(0.12 + t_crit * se, rel=1e-9)


def test_without_the_correction_it_is_the_plain_paired_t_test():
    rng = np.random.default_rng(3)
    first, second = rng.normal(size=8), rng.normal(size=8)
    _, p_value, _, _ = corrected_t_test(first - second, test_train_ratio=0.0)
    assert p_value == pytest.approx(scipy_stats.ttest_rel(first, second).pvalue, rel=1e-10)


def test_the_correction_makes_the_test_more_conservative():
    _, corrected, _, _ = corrected_t_test(DIFFERENCES, test_train_ratio=0.25)
    _, plain, _, _ = corrected_t_test(DIFFERENCES, test_train_ratio=0.0)
    assert plain < corrected


def test_identical_folds_give_p_one_and_a_tie():
    scores = [0.8, 0.7, 0.75, 0.9, 0.85]
    comparison = compare_paired("a", scores, "b", list(scores), greater_is_better=True,
                                test_train_ratio=0.25)
    assert comparison.p_value == 1.0
    assert comparison.mean_difference == 0.0
    assert not comparison.significant
    assert comparison.winner is None and comparison.loser is None
    assert comparison.standardized_difference is None


def test_constant_nonzero_difference_is_significant():
    comparison = compare_paired("a", [2.0, 3.0, 4.0, 5.0, 6.0], "b", [1.0, 2.0, 3.0, 4.0, 5.0],
                                greater_is_better=True, test_train_ratio=0.25)
    assert comparison.p_value == 0.0 and comparison.significant
    assert comparison.winner == "a" and comparison.loser == "b"


def test_lower_is_better_metrics_flip_the_orientation():
    loss_a = [1.0, 1.1, 0.9, 1.2, 1.0]
    loss_b = [2.0, 2.3, 1.8, 2.2, 2.1]
    comparison = compare_paired("a", loss_a, "b", loss_b, greater_is_better=False,
                                test_train_ratio=0.25)
    assert comparison.mean_difference > 0          # positive = a better
    assert comparison.significant and comparison.winner == "a"
    assert comparison.standardized_difference > 0


def test_non_finite_folds_are_left_out_of_the_pairing():
    comparison = compare_paired("a", [1.0, math.nan, 3.0, 4.0], "b", [0.5, 2.0, 2.0, math.inf],
                                greater_is_better=True, test_train_ratio=0.25)
    assert comparison.n_folds == 2


def test_wilcoxon_runs_only_from_ten_folds_and_can_veto():
    nine = compare_paired("a", np.ones(9), "b", np.zeros(9), greater_is_better=True,
                          test_train_ratio=0.25)
    assert nine.wilcoxon_p is None
    # A plain t-test rejects (p ~ 0.012) but four losing folds keep the signed-rank test at 0.09:
    differences = np.array([5.0] * 6 + [-0.5] * 4)
    assert MIN_WILCOXON_FOLDS == 10
    comparison = compare_paired("a", differences, "b", np.zeros(10), greater_is_better=True,
                                test_train_ratio=0.0)
    assert comparison.p_value < 0.05
    # tied |d|: the normal approximation, not a 2^10 enumeration
    assert comparison.wilcoxon_p == pytest.approx(
        scipy_stats.wilcoxon(differences, method="asymptotic").pvalue)
    assert comparison.wilcoxon_p > 0.05
    assert not comparison.significant


def test_wilcoxon_of_all_zero_differences_is_one():
    assert wilcoxon_p_value(np.zeros(12)) == 1.0


def test_wilcoxon_without_ties_is_exact():
    differences = np.arange(1, 11.0) * np.array([1, 1, 1, -1, 1, 1, 1, 1, -1, 1])
    assert wilcoxon_p_value(differences) == pytest.approx(
        scipy_stats.wilcoxon(differences, method="exact").pvalue)
    assert wilcoxon_p_value(np.arange(1, 11.0)) == pytest.approx(2 / 2**10)


def test_corrected_interval_of_a_mean():
    low, high = corrected_interval([0.5, 0.6, 0.7, 0.6, 0.6], test_train_ratio=0.25)
    half = 2.7764451051977934 * math.sqrt((0.2 + 0.25) * np.var([0.5, 0.6, 0.7, 0.6, 0.6], ddof=1))
    assert (low, high) == pytest.approx((0.6 - half, 0.6 + half))


def test_practical_comparison_is_the_correlated_t_posterior_with_a_rope():
    # differences a - b per fold; 5 folds, one run: Nadeau-Bengio factor 1/5 + 1/(5-1)
    a = np.array([0.80, 0.82, 0.79, 0.81, 0.83])
    b = a - np.array(DIFFERENCES) / 10
    result = practical_comparison("a", a, "b", b, greater_is_better=True, rope=0.005, folds=5)
    d = np.array(DIFFERENCES) / 10
    scale = math.sqrt(np.var(d, ddof=1) * (1 / 5 + 1 / 4))
    posterior = scipy_stats.t(4, loc=d.mean(), scale=scale)
    assert result.better == pytest.approx(1 - posterior.cdf(0.005))
    assert result.worse == pytest.approx(posterior.cdf(-0.005))
    assert result.better + result.equivalent + result.worse == pytest.approx(1.0)
    # the orientation follows the metric: for an error, lower a is better
    flipped = practical_comparison("a", -a, "b", -b, greater_is_better=False, rope=0.005, folds=5)
    assert flipped.better == pytest.approx(result.better)


def test_practical_comparison_calls_a_tiny_lead_equivalent_and_a_clear_one_better():
    base = np.array([1.0, 1.1, 0.9, 1.05, 0.95, 1.0, 1.02, 0.98, 1.01, 0.99])
    tiny = practical_comparison("a", base + 0.001, "b", base, greater_is_better=True,
                                rope=0.01, folds=5)
    assert tiny.equivalent == pytest.approx(1.0)           # every fold: +0.001, inside the rope
    noisy = base + np.array([0.03, 0.05, 0.02, 0.04, 0.03, 0.05, 0.02, 0.04, 0.03, 0.04])
    clear = practical_comparison("a", noisy, "b", base, greater_is_better=True, rope=0.01, folds=5)
    assert clear.better > 0.95 and clear.worse < 0.01


def test_practical_comparison_with_a_cut_run_uses_its_complete_repetitions():
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])       # 7 splits of 5-fold x 2
    b = a - 0.1
    result = practical_comparison("a", a, "b", b, greater_is_better=True, rope=0.05, folds=5)
    assert result.better == pytest.approx(1.0)               # zero variance over the first 5
    too_few = practical_comparison("a", a[:1], "b", b[:1], greater_is_better=True, rope=0.05,
                                   folds=5)
    assert (too_few.better, too_few.equivalent, too_few.worse) == (0.0, 1.0, 0.0)


def test_kendall_agreement():
    assert kendall_agreement(["a", "b", "c"], ["a", "b", "c"])[0] == pytest.approx(1.0)
    assert kendall_agreement(["a", "b", "c"], ["c", "b", "a"])[0] == pytest.approx(-1.0)
    assert kendall_agreement(["a"], ["a"]) is None
    tau, p_value = kendall_agreement(["a", "b", "c", "d"], ["b", "a", "c", "d"])
    assert tau == pytest.approx(scipy_stats.kendalltau([0, 1, 2, 3], [1, 0, 2, 3]).statistic)
    assert 0 <= p_value <= 1
