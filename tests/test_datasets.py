"""The bundled datasets: each is detected as the task it was chosen to show, with the facts
that make it a good example, and stays small."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.load import load_data
from advisor.profile import profile_data

DATA = Path(__file__).resolve().parents[1] / "data"
MAX_BYTES = 1_000_000

#: file -> (target, task, words the task reason must contain, label separator)
EXPECTED = {
    "penguins.csv": ("species", "multiclass", ["'Adelie'", "'Chinstrap'", "'Gentoo'"], None),
    "breast_cancer.csv": ("diagnosis", "binary", ["positive class 'malignant'"], None),
    "poor_health.csv": ("poor_health", "binary", ["positive class '1'"], None),
    "doctor_visits.csv": ("mdvis", "count", ["non-negative whole numbers", "variance/mean"], None),
    "health_flags.csv": ("conditions", "multilabel", ["split on '|'"], "|"),
    "marriage_rating.csv": ("rate_marriage", "ordinal", ["1..5", "contiguous scale"], None),
    "affairs.csv": ("affairs", "regression", ["fractional"], None),
    "party_id.csv": ("PID", "ordinal", ["0..6", "contiguous scale"], None),
    "school_pass_rate.csv": ("pass_rate", "proportion", ["between", "not only 0/1"], None),
    "diabetes.csv": ("progression", "regression", ["whole numbers", "not 214 classes"], None),
    "food_expenditure.csv": ("foodexp", "regression", ["fractional"], None),
    "tbill_rate_change.csv": ("tbilrate_change", "regression", ["fractional"], None),
    "rossi.csv": ("week", "survival", ["'arrest'", "1 = event", "114 events"], None),
    "mortgage_denial.csv": ("deny", "binary", ["positive class 'yes'"], None),
}
#: file -> the event indicator that follows its duration (the last column)
EVENT_COLUMNS = {"rossi.csv": "arrest"}


@pytest.fixture(scope="module")
def profiles():
    result = {}
    for name, (_, _, _, label_sep) in EXPECTED.items():
        loaded = load_data(DATA / name, label_sep=label_sep)
        result[name] = (loaded, profile_data(loaded))
    return result


def test_every_bundled_csv_is_covered():
    assert {path.name for path in DATA.glob("*.csv")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_size_header_and_default_target(name, profiles):
    path = DATA / name
    assert path.stat().st_size < MAX_BYTES
    loaded, _ = profiles[name]
    target = EXPECTED[name][0]
    if name in EVENT_COLUMNS:  # a duration and its indicator, recognised by their names
        assert loaded.target_columns == (target, EVENT_COLUMNS[name])
        assert f"column {target!r} is named like a duration" in loaded.target_reason
    else:
        assert loaded.target_columns == (target,)  # the last column: no --target needed
        assert f"took the last column {target!r}" in loaded.target_reason
    assert loaded.provenance.rows >= 200


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_detected_task_and_reason(name, profiles):
    _, profile = profiles[name]
    _, task, words, _ = EXPECTED[name]
    assert profile.task == task, profile.task_reason
    for word in words:
        assert word in profile.task_reason


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_bundled_example_looks_like_an_amount_of_money(name, profiles):
    assert profiles[name][1].facts["looks_like_amount"] is False


def test_poor_health_is_strongly_imbalanced(profiles):
    facts = profiles["poor_health.csv"][1].facts
    assert facts["imbalance_ratio"] > 30
    assert facts["minority_fraction"] < 0.03


def test_breast_cancer_is_mildly_imbalanced(profiles):
    facts = profiles["breast_cancer.csv"][1].facts
    assert 1.5 < facts["imbalance_ratio"] < 2


def test_doctor_visits_are_over_dispersed(profiles):
    _, profile = profiles["doctor_visits.csv"]
    assert profile.task == "count" and "0..72" in profile.task_reason  # counts, not an amount
    facts = profile.facts
    assert facts["dispersion_index"] > 2
    assert facts["zero_fraction"] > 0.2


def test_health_flags_have_three_labels(profiles):
    _, profile = profiles["health_flags.csv"]
    assert profile.classes == ("chronic_disease", "fair_or_poor_health", "physical_limitation")
    assert profile.facts["n_targets"] == 3.0
    assert 0 < profile.facts["label_cardinality"] < 3


def test_health_flags_without_label_sep_suggest_it():
    loaded = load_data(DATA / "health_flags.csv")
    assert "--label-sep '|'" in loaded.target_reason


def test_marriage_rating_levels(profiles):
    assert profiles["marriage_rating.csv"][1].classes == ("1", "2", "3", "4", "5")


def test_affairs_are_zero_inflated_with_a_tweedie_power_between_one_and_two(profiles):
    facts = profiles["affairs.csv"][1].facts
    assert facts["zero_fraction"] > 0.5
    assert facts["nonnegative"] is True and facts["integer_valued"] is False
    assert 1 < facts["tweedie_power"] < 2


def test_school_pass_rate_stays_in_the_unit_interval(profiles):
    assert profiles["school_pass_rate.csv"][1].facts["in_unit_interval"] is True


def test_diabetes_is_regression_where_sklearn_sees_classes(profiles):
    from sklearn.utils.multiclass import type_of_target

    loaded, profile = profiles["diabetes.csv"]
    assert type_of_target(loaded.target["progression"].to_numpy()) == "multiclass"
    assert profile.task == "regression"
    assert profile.facts["integer_valued"] is True


def test_food_expenditure_is_strictly_positive_and_skewed(profiles):
    facts = profiles["food_expenditure.csv"][1].facts
    assert facts["strictly_positive"] is True
    assert facts["skewness"] > 1


def test_tbill_rate_change_is_heavy_tailed(profiles):
    facts = profiles["tbill_rate_change.csv"][1].facts
    assert facts["kurtosis"] > 3
    assert facts["outlier_fraction"] > 0.02
    assert facts["has_negative"] is True


def test_penguins_keep_missing_values_and_text_features(profiles):
    loaded, profile = profiles["penguins.csv"]
    assert profile.facts["missing_fraction"] > 0
    assert profile.facts["n_categorical_features"] == 2.0  # island, sex
