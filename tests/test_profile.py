"""Profiling: task detection and its reasons, the facts, the hints, and every refusal."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from advisor.errors import DataShapeError, OptionError, TargetError
from advisor.facts import DATA_FACT_NAMES, FACT_NAMES, FACT_TYPES, rule_facts
from advisor.label_density import label_density
from advisor.load import load_data
from advisor.options import Options
from advisor.profile import profile_data

RNG = np.random.default_rng(0)  # parameter lists only; tests use the seeded ``rng`` fixture


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def profile_of(target, *, features=None, n=None, **options):
    """Profile a frame whose target column is ``y`` (or several target columns)."""
    if isinstance(target, dict):
        columns = dict(target)
        n = len(next(iter(columns.values())))
        names = list(columns)
    else:
        columns = {"y": target}
        n = len(target)
        names = ["y"]
    frame = pd.DataFrame({"f": np.arange(n, dtype=float), **(features or {}), **columns})
    loaded = load_data(frame, target=names)
    return profile_data(loaded, **options)


# --- task detection -----------------------------------------------------------------------------

def test_numeric_codes_stored_as_text_are_classes_not_numbers():
    profile = profile_of(pd.Series(["1", "2", "3"] * 10, dtype=object))
    assert profile.task == "multiclass"
    assert "stored as text" in profile.task_reason
    assert profile.classes == ("1", "2", "3")
    assert profile.class_counts == (10, 10, 10)
    assert profile.y.dtype == np.int64 and profile.y[:3].tolist() == [0, 1, 2]


def test_decimal_numbers_stored_as_text_are_numbers(rng):
    values = pd.Series([f"{v:.2f}" for v in rng.normal(5, 2, 50)], dtype="str")
    profile = profile_of(values)
    assert profile.task == "regression"
    assert "text values parse as numbers" in profile.task_reason
    assert profile.y.dtype == np.float64


def test_ratings_one_to_five_are_ordinal():
    profile = profile_of(np.tile([1.0, 2, 3, 4, 5, 4, 5, 3], 10))
    assert profile.task == "ordinal"
    assert profile.task_reason.startswith("integer values 1..5 on a contiguous scale: ordinal")
    assert profile.classes == ("1", "2", "3", "4", "5")
    assert profile.facts["n_classes"] == 5.0
    assert profile.facts["target_min"] == 1.0 and profile.facts["target_max"] == 5.0


def test_scale_with_an_unused_level_is_still_ordinal():
    profile = profile_of(np.tile([0, 1, 2, 4, 5, 6, 6, 5, 0], 5))
    assert profile.task == "ordinal"
    assert "near-contiguous" in profile.task_reason


def test_ordered_categorical_is_ordinal_in_category_order():
    levels = ["low", "mid", "high"]
    values = pd.Categorical(["high", "low", "mid"] * 10, categories=levels, ordered=True)
    profile = profile_of(pd.Series(values))
    assert profile.task == "ordinal"
    assert profile.classes == ("low", "mid", "high")
    assert "low < mid < high" in profile.task_reason
    assert profile.y[:3].tolist() == [2, 0, 1]


def test_unordered_categorical_with_numeric_looking_values_is_multiclass():
    profile = profile_of(pd.Series(pd.Categorical([10, 20, 30] * 10)))
    assert profile.task == "multiclass"
    assert profile.classes == ("10", "20", "30")


@pytest.mark.parametrize("values, classes, positive", [
    ([0, 1] * 10, ("0", "1"), "'1'"),
    ([True, False] * 10, ("False", "True"), "'True'"),
    (["yes", "no"] * 10, ("no", "yes"), "'yes'"),
    ([2.5, 7.5] * 10, ("2.5", "7.5"), "'7.5'"),
])
def test_two_values_are_binary_with_a_stated_positive_class(values, classes, positive):
    profile = profile_of(values)
    assert profile.task == "binary"
    assert profile.classes == classes
    assert f"positive class {positive}" in profile.task_reason
    assert set(profile.y.tolist()) == {0, 1}


def test_positive_class_can_be_chosen():
    values = ["stayed"] * 18 + ["churned"] * 2
    default = profile_of(values)
    assert default.classes == ("churned", "stayed") and default.class_counts == (2, 18)
    chosen = profile_of(values, positive="churned")
    assert chosen.classes == ("stayed", "churned") and chosen.class_counts == (18, 2)
    assert chosen.y.tolist() == (1 - default.y).tolist()
    assert chosen.y[-1] == 1                                  # a churned row is class 1
    assert "positive class 'churned' (given with --positive)" in chosen.task_reason
    same = profile_of(values, positive="stayed")
    assert same.classes == default.classes and same.y.tolist() == default.y.tolist()
    assert profile_of([0, 1] * 10, positive="0").classes == ("1", "0")


def test_positive_class_must_be_a_class_of_a_binary_target(rng):
    with pytest.raises(OptionError, match="--positive must be one of no, yes; got 'maybe'"):
        profile_of(["yes", "no"] * 10, positive="maybe")
    with pytest.raises(TargetError, match="--positive 'a' applies to a binary target; target 'y' is multiclass"):
        profile_of(["a", "b", "c"] * 10, positive="a")


def test_several_zero_one_columns_are_multilabel():
    a = np.array([0, 1, 1, 0, 1] * 4)
    b = np.array([True, False, True, True, False] * 4)
    profile = profile_of({"a": a, "b": b})
    assert profile.task == "multilabel"
    assert profile.task_reason == "2 target columns, all 0/1: multi-label"
    assert profile.classes == ("a", "b")
    assert profile.class_counts == (12, 12)
    assert profile.y.shape == (20, 2) and profile.y.dtype == np.float64
    assert profile.facts["n_targets"] == 2.0
    assert profile.facts["label_cardinality"] == pytest.approx(1.2)
    assert profile.facts["label_density"] == pytest.approx(0.6)


def test_delimited_labels_are_multilabel():
    frame = pd.DataFrame({"x": range(12), "tags": ["a|b", "a", "", "b|c", "c", "a|c"] * 2})
    profile = profile_data(load_data(frame, label_sep="|"))
    assert profile.task == "multilabel"
    assert profile.classes == ("a", "b", "c")
    assert "split on '|'" in profile.task_reason
    assert profile.facts["n_distinct"] == 6.0  # distinct label sets, the empty set included


def test_constant_label_column_is_refused():
    with pytest.raises(TargetError, match="label 'b' is 0 in every row"):
        profile_of({"a": [0, 1] * 6, "b": [0] * 12})


def test_several_numeric_columns_are_multi_output_regression(rng):
    skewed = rng.exponential(1.0, 200) ** 3
    profile = profile_of({"u": rng.normal(size=200), "v": skewed})
    assert profile.task == "regression"
    assert "2 numeric target columns" in profile.task_reason
    assert profile.y.shape == (200, 2)
    assert profile.facts["n_targets"] == 2.0
    single_v = profile_of(skewed).facts
    assert profile.facts["skewness"] == single_v["skewness"]  # the most skewed column
    assert profile.facts["kurtosis"] == single_v["kurtosis"]
    assert profile.facts["has_negative"] is True
    assert profile.facts["nonnegative"] is False


def test_a_few_text_cells_in_decimal_numbers_are_missing_values_not_classes(rng):
    values = [f"{v:.3f}" for v in rng.normal(10, 3, 198)] + ["n/a?", "error"]
    profile = profile_of(pd.Series(values, dtype=object))
    assert profile.task == "regression"
    assert "except 2 cells of other text, read as missing" in profile.task_reason
    assert profile.stray_text == (("y", "n/a?", 1), ("y", "error", 1))
    assert profile.facts["n_rows"] == 198
    assert profile.facts["target_missing_fraction"] == pytest.approx(0.01)
    assert profile.row_mask[-2:].tolist() == [False, False]


def test_counts_with_a_text_cell_are_counts(rng):
    values = [str(value) for value in rng.negative_binomial(2, 0.1, 300)] + ["error"]
    profile = profile_of(pd.Series(values, dtype=object))
    assert profile.task == "count"
    assert profile.stray_text == (("y", "error", 1),)
    assert "stored as decimals" not in profile.task_reason


@pytest.mark.parametrize("values, why", [
    (["1.5", "2.7", "3.1", "abc"] * 10, "a quarter of the rows is text"),
    ([str(100 + i % 50) for i in range(300)], "50 whole-number codes and no stray text: classes"),
    (["1", "2", "3"] * 30 + ["unknown"], "whole-number codes: classes, with 'unknown' one of them"),
])
def test_text_that_is_more_than_a_few_typos_stays_classes(values, why):
    profile = profile_of(pd.Series(values, dtype=object))
    assert profile.task == "multiclass", why
    assert profile.stray_text == ()


def test_forced_numeric_task_names_a_cell_that_is_not_a_number():
    with pytest.raises(TargetError, match="holds text such as 'abc'"):
        profile_of(pd.Series(["1.5", "2.7", "3.1", "abc"] * 10, dtype=object), task="regression")


def test_identifier_like_targets_are_refused(rng):
    with pytest.raises(TargetError, match="300 distinct values in 300 rows: most classes would have a single"):
        profile_of([f"user_{i}" for i in range(300)])
    with pytest.raises(TargetError, match="consecutive whole numbers 100000..100299, one per row"):
        profile_of(rng.permutation(np.arange(100_000, 100_300)))


def test_distinct_whole_numbers_with_gaps_are_still_counts(rng):
    values = np.sort(rng.choice(np.arange(0, 5000), size=300, replace=False))
    assert profile_of(values).task == "count"


def _named(name, values, **options):
    frame = pd.DataFrame({"f": np.arange(len(values), dtype=float), name: values})
    return profile_data(load_data(frame, target=[name]), **options)


def _with_ends(values, lowest, highest):
    return np.concatenate([[lowest, highest], np.clip(values, lowest, highest)]).astype(np.int64)


def test_whole_number_prices_named_price_are_an_amount_not_a_count(rng):
    prices = _with_ends(np.round(np.exp(rng.normal(7.8, 1.0, 3000))), 326, 18823)
    profile = _named("price", prices)
    assert profile.task == "regression"
    assert "whole numbers 326..18823" in profile.task_reason
    assert "named like an amount of money ('price'): an amount, not a count" in profile.task_reason
    assert profile.facts["looks_like_amount"] is True
    assert _named("SalePrice", prices).task == "regression"  # camelCase words
    assert _named("price", prices.astype(float)).task == "regression"  # stored as decimals


def test_whole_numbers_in_round_steps_are_an_amount_whatever_the_name(rng):
    thousands = rng.integers(25, 190, 400) * 1000
    profile = profile_of(thousands)
    assert profile.task == "regression"
    assert "round steps of 1000" in profile.task_reason and "not a count" in profile.task_reason
    assert profile.facts["looks_like_amount"] is True
    houses = rng.integers(250, 1900, 219) * 100  # house prices in steps of 100
    assert "round steps of 100 " in profile_of(houses).task_reason


@pytest.mark.parametrize("name, lowest, highest, mean", [
    ("bikers", 0, 977, 140.0),   # many distinct values, but counted things
    ("visits", 0, 89, 4.0),
    ("articles", 0, 19, 1.7),
    ("trips", 0, 88, 2.0),
    ("y", 0, 977, 140.0),
])
def test_true_counts_stay_counts(rng, name, lowest, highest, mean):
    values = _with_ends(rng.negative_binomial(1.5, 1.5 / (1.5 + mean), 3000), lowest, highest)
    profile = _named(name, values)
    assert profile.task == "count", profile.task_reason
    assert profile.facts["looks_like_amount"] is False


def test_a_count_word_in_the_name_wins_over_every_amount_clue(rng):
    rounded = rng.integers(25, 190, 300) * 1000
    for name in ("n_sales", "price_count", "numPayments", "cnt"):
        profile = _named(name, rounded)
        assert profile.task == "count", name
        assert profile.facts["looks_like_amount"] is False


def test_small_values_with_a_money_word_stay_counts(rng):
    profile = _named("sales", rng.poisson(3.0, 400) + 0)  # units sold: a median below 20
    assert profile.task == "count"
    assert profile.facts["looks_like_amount"] is False


def test_looks_like_amount_on_decimal_and_forced_tasks(rng):
    decimals = _named("price_usd", np.exp(rng.normal(5, 1, 300)))
    assert decimals.task == "regression" and decimals.facts["looks_like_amount"] is True
    forced = _named("price", rng.integers(25, 190, 300) * 1000, task="count")
    assert forced.task == "count" and forced.facts["looks_like_amount"] is True
    assert _named("price", [0, 1] * 20).facts["looks_like_amount"] is False  # binary
    assert profile_of(rng.normal(size=50)).facts["looks_like_amount"] is False


def test_text_mixed_with_numbers_across_targets_is_refused(rng):
    with pytest.raises(TargetError, match="mix text .* and numbers"):
        profile_of({"a": rng.normal(size=12), "b": ["x", "y", "z"] * 4})


def test_values_inside_unit_interval_are_a_proportion(rng):
    profile = profile_of(rng.beta(2, 5, 100))
    assert profile.task == "proportion"
    assert "between" in profile.task_reason and "proportion" in profile.task_reason
    assert profile.facts["in_unit_interval"] is True


def test_many_nonnegative_integers_are_counts_with_dispersion(rng):
    values = rng.negative_binomial(2, 0.1, 500)
    profile = profile_of(values)
    assert profile.task == "count"
    assert "variance/mean" in profile.task_reason
    expected = values.var() / values.mean()
    assert profile.facts["dispersion_index"] == pytest.approx(expected, rel=1e-5)


def test_small_poisson_counts_are_counts_not_ratings(rng):
    profile = profile_of(rng.poisson(1.0, 400))
    assert profile.task == "count"
    assert "thin right tail" in profile.task_reason


def test_negative_integers_with_many_values_are_regression(rng):
    profile = profile_of(rng.integers(-50, 50, 300))
    assert profile.task == "regression"
    assert "including negatives" in profile.task_reason


def test_whole_number_floats_are_regression_where_sklearn_says_multiclass(rng):
    from sklearn.utils.multiclass import type_of_target

    values = np.round(rng.normal(150, 40, 400)).clip(25, None)
    assert type_of_target(values) == "multiclass"  # the mistake we avoid
    profile = profile_of(values)
    assert profile.task == "regression"
    assert "stored as decimals" in profile.task_reason


def test_non_integer_numbers_are_regression(rng):
    profile = profile_of(rng.normal(10, 3, 100))
    assert profile.task == "regression"
    assert "fractional" in profile.task_reason


# --- --task overrides ----------------------------------------------------------------------------

def test_forced_task_wins_and_says_so():
    profile = profile_of(np.tile([1, 2, 3, 4, 5], 10), task="regression")
    assert profile.task == "regression"
    assert profile.task_reason.startswith("given with --task")
    assert profile.facts["task_overridden"] is True
    multiclass = profile_of(np.tile([1, 2, 3, 4, 5], 10), task="MultiClass")
    assert multiclass.task == "multiclass"


def test_forced_task_must_fit_the_target(rng):
    with pytest.raises(TargetError, match="--task regression needs numbers; target 'y' holds text"):
        profile_of(["a", "b", "c"] * 5, task="regression")
    with pytest.raises(TargetError, match="--task binary needs exactly 2 classes; target 'y' has 3"):
        profile_of(["a", "b", "c"] * 5, task="binary")
    with pytest.raises(TargetError, match="--task count needs non-negative"):
        profile_of(rng.normal(size=20), task="count")
    with pytest.raises(TargetError, match=r"--task proportion needs values in \[0, 1\]"):
        profile_of(rng.normal(size=20) + 5, task="proportion")
    with pytest.raises(TargetError, match="--task multilabel needs several 0/1"):
        profile_of([0, 1] * 10, task="multilabel")
    with pytest.raises(TargetError, match="--task ordinal needs one target column"):
        profile_of({"a": [0, 1] * 6, "b": [1, 0] * 6}, task="ordinal")
    with pytest.raises(OptionError, match="task must be one of"):
        profile_of([0, 1] * 10, task="classification")


def test_forced_ordinal_on_unordered_text_orders_by_sorted_value():
    profile = profile_of(["medium", "high", "low"] * 5, task="ordinal")
    assert profile.task == "ordinal"
    assert profile.classes == ("high", "low", "medium")
    assert "ordered by sorted value" in profile.task_reason


def test_forced_ordinal_on_numeric_text_orders_numerically():
    profile = profile_of(pd.Series(["10", "9", "100"] * 5, dtype=object), task="ordinal")
    assert profile.classes == ("9", "10", "100")


def test_forced_regression_on_numeric_text_codes_parses_them():
    profile = profile_of(pd.Series(["1", "2", "3"] * 5, dtype=object), task="regression")
    assert profile.task == "regression"
    assert profile.y.tolist()[:3] == [1.0, 2.0, 3.0]


# --- missing targets and refusals ----------------------------------------------------------------

def test_missing_targets_are_dropped_and_counted(rng):
    values = pd.Series([1.5, np.nan, np.inf, 2.5, -np.inf] + list(rng.normal(size=15)))
    profile = profile_of(values)
    assert profile.facts["n_rows"] == 17.0
    assert profile.facts["target_missing_fraction"] == pytest.approx(3 / 20, rel=1e-5)
    assert profile.row_mask.tolist()[:5] == [True, False, False, True, False]
    assert len(profile.y) == 17
    texts = pd.Series(["a", "", None, "  ", "b"] + ["a", "b"] * 6, dtype=object)
    text_profile = profile_of(texts)
    assert text_profile.facts["n_rows"] == 14.0
    assert text_profile.classes == ("a", "b")


def test_all_missing_target_is_refused():
    with pytest.raises(TargetError, match="target 'y' is missing in every row"):
        profile_of([np.nan] * 12)


def test_too_few_usable_rows_is_refused():
    with pytest.raises(DataShapeError, match="only 6 rows have a usable target 'y'; at least 10 are needed"):
        profile_of([1.0, 2, 3, 4, 5, 6] + [np.nan] * 10)


def test_single_value_target_is_refused():
    with pytest.raises(TargetError, match="target 'y' has a single value 3: nothing to learn"):
        profile_of([3.0] * 12)
    with pytest.raises(TargetError, match="has a single value 'a'"):
        profile_of(["a"] * 12)


def test_dates_as_target_are_refused():
    with pytest.raises(TargetError, match="dates"):
        profile_of(pd.Series(pd.date_range("2020-01-01", periods=12)))


# --- facts --------------------------------------------------------------------------------------

def _assert_json_safe(facts):
    assert set(facts) == FACT_NAMES
    for name, value in facts.items():
        assert type(value) is FACT_TYPES[name], (name, type(value))
        if isinstance(value, float):
            assert math.isfinite(value)
            assert value == float(f"{value:.6g}")
    assert json.loads(json.dumps(facts, allow_nan=False)) == facts


@pytest.mark.parametrize("target", [
    [0, 1] * 20,
    ["a", "b", "c", "d"] * 10,
    np.tile([1, 2, 3, 4, 5], 8),
    RNG.poisson(4.0, 40) * 10,
    RNG.normal(size=40),
    RNG.beta(1, 1, 40),
])
def test_facts_are_exactly_the_vocabulary_and_json_safe(target):
    profile = profile_of(target)
    _assert_json_safe(profile.facts)
    json.dumps(profile.to_dict(), allow_nan=False)


def test_classification_facts_and_numeric_neutral_values():
    profile = profile_of(["a"] * 30 + ["b"] * 10)
    facts = profile.facts
    assert facts["n_classes"] == 2.0
    assert facts["imbalance_ratio"] == 3.0
    assert facts["minority_fraction"] == 0.25
    assert facts["minority_count"] == 10.0
    shares = np.array([0.75, 0.25])
    assert facts["label_entropy"] == pytest.approx(-(shares * np.log(shares)).sum() / np.log(2), rel=1e-5)
    beta = 1 - 1 / 40
    assert facts["effective_number_ratio"] == pytest.approx((1 - beta ** 10) / (1 - beta) / 10, rel=1e-5)
    assert (facts["skewness"], facts["kurtosis"], facts["outlier_fraction"]) == (0.0, 0.0, 0.0)
    assert (facts["target_min"], facts["target_max"], facts["target_scale"]) == (0.0, 1.0, 1.0)
    assert facts["dispersion_index"] == 1.0 and facts["tweedie_power"] == 0.0
    assert facts["label_cardinality"] == 1.0 and facts["label_density"] == 1.0
    assert profile.robust_scale == 0.0


def test_numeric_facts_and_class_neutral_values(rng):
    values = np.concatenate([rng.normal(0, 1, 190), [40.0] * 10])
    profile = profile_of(values)
    facts = profile.facts
    assert facts["n_classes"] == 0.0
    assert facts["imbalance_ratio"] == 1.0 and facts["minority_fraction"] == 0.5
    assert facts["label_entropy"] == 1.0 and facts["effective_number_ratio"] == 1.0
    assert facts["outlier_fraction"] == pytest.approx(0.05, abs=0.01)
    assert facts["kurtosis"] > 3
    median = np.median(values)
    assert profile.robust_scale == pytest.approx(1.4826 * np.median(np.abs(values - median)), rel=1e-5)
    assert facts["target_std"] == pytest.approx(values.std(), rel=1e-5)
    centred = (values - values.mean()) / values.std()
    assert facts["skewness"] == pytest.approx(np.mean(centred ** 3), rel=1e-4)


def test_zero_facts_for_counts(rng):
    values = np.concatenate([np.zeros(60), rng.poisson(3.0, 40) + 1])
    facts = profile_of(values).facts
    assert facts["zero_fraction"] == 0.6
    assert facts["excess_zero_ratio"] == pytest.approx(0.6 / math.exp(-values.mean()), rel=1e-5)
    assert facts["integer_valued"] is True and facts["strictly_positive"] is False


def test_feature_facts(rng):
    frame = pd.DataFrame({
        "num": [1.0, np.nan, np.inf, 4.0] * 5,
        "flag": [True, False] * 10,
        "text": ["a", None, "b", "c"] * 5,
        "y": rng.normal(size=20),
    })
    facts = profile_data(load_data(frame)).facts
    assert facts["n_features"] == 3.0
    assert facts["n_numeric_features"] == 2.0
    assert facts["n_categorical_features"] == 1.0
    assert facts["missing_fraction"] == pytest.approx(15 / 60, rel=1e-5)


@pytest.mark.parametrize("power", [1.0, 2.0])
def test_tweedie_power_recovers_the_mean_variance_slope(power, rng):
    n = 20000
    x = rng.uniform(-1.5, 1.5, n)
    mean = np.exp(1.0 + x)
    if power == 1.0:
        values = rng.poisson(mean).astype(float)
    else:
        values = rng.gamma(shape=4.0, scale=mean / 4.0)
    profile = profile_of(values, features={"x": x})
    assert profile.facts["tweedie_power"] == pytest.approx(power, abs=0.25)


def test_tweedie_power_not_estimated_for_bounded_or_tiny_targets(rng):
    assert profile_of(rng.beta(2, 2, 100)).facts["tweedie_power"] == 0.0
    assert profile_of(np.arange(12.0) * 1.5).facts["tweedie_power"] == 0.0  # too few rows for 4 bins


def test_zero_inflated_heavy_tail_facts(rng):
    """Excess zeros beside a lognormal tail: the non-zero part's skewness and its span."""
    positive = rng.lognormal(2.0, 1.2, 3000)
    values = np.where(rng.random(3000) < 0.6, 0.0, positive)
    facts = profile_of(values).facts
    nonzero = values[values > 0]
    centred = nonzero - nonzero.mean()
    assert facts["zero_fraction"] == pytest.approx(np.mean(values == 0), rel=1e-5)
    assert facts["nonzero_skewness"] == pytest.approx(np.mean(centred ** 3) / nonzero.std() ** 3, rel=1e-4)
    assert facts["nonzero_skewness"] > 3.0
    low, high = np.percentile(nonzero, [1, 99])
    assert facts["orders_of_magnitude"] == pytest.approx(np.log10(high / low), rel=1e-4)
    assert 2.0 < facts["orders_of_magnitude"] < 3.0  # 4.65 log-sd: 2.4 decades
    # a symmetric target without zeros: no skewed non-zero part, fewer decades
    plain = profile_of(rng.normal(100.0, 5.0, 3000)).facts
    assert abs(plain["nonzero_skewness"]) < 0.2 and plain["orders_of_magnitude"] < 0.2


def test_heteroscedasticity_sees_a_spread_that_grows_with_the_level(rng):
    n = 5000
    x = rng.uniform(0.0, 2.0, n)
    growing = profile_of(3.0 * x + (0.1 + x) * rng.normal(size=n), features={"x": x}).facts
    constant = profile_of(3.0 * x + rng.normal(size=n), features={"x": x}).facts
    assert growing["heteroscedasticity"] > 0.3
    assert abs(constant["heteroscedasticity"]) < 0.05
    # exact zeros beside an uninformative feature do not fake a growing spread
    noise = rng.normal(size=n)
    zeros = np.where(rng.random(n) < 0.5, 0.0, rng.lognormal(1.0, 1.0, n))
    assert abs(profile_of(zeros, features={"x": noise}).facts["heteroscedasticity"]) < 0.1


def test_distribution_shape_facts_are_neutral_where_they_do_not_apply(rng):
    classes = profile_of(["a"] * 30 + ["b"] * 10).facts
    bounded = profile_of(rng.beta(2, 2, 100)).facts  # a proportion: no mean-variance fit
    few = profile_of(np.array([0.0] * 20 + [1.0, 2.0, 3.0])).facts
    for facts in (classes, few):
        assert (facts["nonzero_skewness"], facts["orders_of_magnitude"]) == (0.0, 0.0)
    assert classes["heteroscedasticity"] == 0.0 and bounded["heteroscedasticity"] == 0.0


def test_distribution_shape_facts_of_several_targets(rng):
    n = 2000
    x = rng.uniform(0.0, 2.0, n)
    tail = np.where(rng.random(n) < 0.5, 0.0, rng.lognormal(1.0, 1.0, n))
    spread = 3.0 * x + (0.1 + x) * rng.normal(size=n)
    both = profile_of({"tail": tail, "spread": spread}, features={"x": x}).facts
    alone = [profile_of(column, features={"x": x}).facts for column in (tail, spread)]
    assert both["nonzero_skewness"] == max((facts["nonzero_skewness"] for facts in alone), key=abs)
    assert both["heteroscedasticity"] == max(facts["heteroscedasticity"] for facts in alone)
    assert both["orders_of_magnitude"] == max(facts["orders_of_magnitude"] for facts in alone)


def test_extreme_magnitudes_stay_finite():
    values = np.array([1e308, -1e308, 5e307, 0.0, 3.0] * 4)
    profile = profile_of(values, features={"x": np.array([1e308, -1e308, 2.0, 0.0, np.nan] * 4)})
    _assert_json_safe(profile.facts)


# --- the user's hints ----------------------------------------------------------------------------

def test_hints_are_validated_and_recorded():
    profile = profile_of([0, 1] * 10, activation="Logits", framework="keras", metric="roc_auc",
                         loss=" focal ", label_noise=True, quantiles=[0.9, 0.1, 0.9])
    facts = profile.facts
    assert facts["activation"] == "linear"
    assert facts["framework"] == "keras"
    assert facts["metric"] == "roc_auc" and facts["metric_given"] is True
    assert facts["current_loss"] == "focal"
    assert facts["label_noise"] is True
    assert facts["has_quantiles"] is True
    assert profile.quantiles == (0.1, 0.9)


def test_hints_and_data_facts_stay_apart_until_merged():
    options = Options(activation="relu", metric="accuracy", label_noise=True)
    profile = profile_data(load_data(pd.DataFrame({"x": range(20), "y": [0, 1] * 10})), options)
    assert set(profile.data_facts) == DATA_FACT_NAMES
    assert profile.hints == options.hint_facts("binary")
    assert profile.facts == rule_facts(profile.data_facts, profile.hints)
    with pytest.raises(ValueError, match="hint facts do not match the vocabulary"):
        rule_facts(profile.data_facts, {**profile.hints, "n_rows": 3})


def test_default_metric_and_empty_hints(rng):
    facts = profile_of(rng.normal(size=20)).facts
    assert facts["metric"] == "rmse" and facts["metric_given"] is False
    assert facts["current_loss"] == "" and facts["has_quantiles"] is False
    assert facts["task_overridden"] is False


@pytest.mark.parametrize("options, name", [
    ({"activation": "swish"}, "activation"),
    ({"framework": "jax"}, "framework"),
    ({"metric": "rmse"}, "metric"),  # not a binary metric
    ({"quantiles": [1.5]}, "quantile"),
])
def test_bad_hints_are_option_errors(options, name):
    with pytest.raises(OptionError, match=f"^{name} must be"):
        profile_of([0, 1] * 10, **options)


def test_profiling_a_million_rows(rng):
    """Scale, not speed (benchmarks/bench_profile.py times it): the facts stay right."""
    n = 1_000_000
    frame = pd.DataFrame(rng.normal(size=(n, 19)), columns=[f"x{i}" for i in range(19)])
    frame["y"] = rng.poisson(3.0, n)
    profile = profile_data(load_data(frame))
    assert profile.task == "count"
    assert profile.facts["n_rows"] == n
    assert profile.facts["target_mean"] == pytest.approx(3.0, abs=0.01)
    assert profile.facts["dispersion_index"] == pytest.approx(1.0, abs=0.01)
    assert abs(profile.facts["heteroscedasticity"]) < 0.05  # the features do not move the mean
    nonzero = frame["y"].to_numpy(dtype=float)
    nonzero = nonzero[nonzero > 0]
    skew = np.mean((nonzero - nonzero.mean()) ** 3) / nonzero.std() ** 3
    assert profile.facts["nonzero_skewness"] == pytest.approx(skew, rel=1e-4)


# --- label density (imbalanced regression) ---------------------------------------------------------

def test_label_density_facts_tell_an_evenly_spread_target_from_one_with_a_rare_tail(rng):
    even = profile_of(rng.uniform(0.0, 10.0, 2000) + 0.01 * rng.normal(size=2000))
    assert even.task == "regression"
    assert even.facts["target_density_ratio"] < 2.0 and even.facts["target_rare_share"] == 0.0
    tail = profile_of(rng.exponential(1.0, 2000) + 0.001 * rng.normal(size=2000))
    assert tail.facts["target_density_ratio"] > 100.0
    assert 0.03 < tail.facts["target_rare_share"] < 0.2


def test_label_density_facts_are_neutral_off_regression_and_count_and_take_the_worst_column(rng):
    levels = profile_of(rng.integers(1, 6, 500))
    assert levels.task == "ordinal"
    assert (levels.facts["target_density_ratio"], levels.facts["target_rare_share"]) == (1.0, 0.0)
    labels = profile_of(np.where(rng.random(300) < 0.5, "a", "b"))
    assert (labels.facts["target_density_ratio"], labels.facts["target_rare_share"]) == (1.0, 0.0)
    even = rng.uniform(0.0, 1.0, 1000) + 0.01 * rng.normal(size=1000)
    tail = rng.exponential(1.0, 1000) + 0.001 * rng.normal(size=1000)
    both = profile_of({"even": even, "tail": tail})
    assert both.task == "regression"
    shares = [label_density(column).rare_share() for column in (even, tail)]
    ratios = [label_density(column).density_ratio() for column in (even, tail)]
    assert shares[0] == 0.0 and shares[1] > 0.03
    assert both.facts["target_rare_share"] == pytest.approx(max(shares), rel=1e-5)
    assert both.facts["target_density_ratio"] == pytest.approx(max(ratios), rel=1e-5)
