"""A searched parameter (poly1's epsilon): the choice per fold, the choice over folds, what
the search costs the plan, and the value the recommendation takes."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Outcome, all_params, binary_data

from advisor.api import _with_searched_values
from advisor.experiment.metrics import MIN_TUNING_ROWS, TUNING_FRACTION
from advisor.experiment.scoring import ScoringContext
from advisor.experiment.search import chosen_value, fit_units, search_value
from advisor.losses import CATALOG
from advisor.validate import validate

POLY1 = CATALOG["poly1"]


def test_poly1_searches_epsilon_from_the_paper_s_range_with_its_default_first():
    assert POLY1.search.name == "epsilon"
    assert POLY1.search.grid[0] == POLY1.derive(binary_data()[1], {})["epsilon"] == 1.0
    assert set(POLY1.search.grid) == {-1.0, 1.0, 2.0}
    # three networks on the fold less its tuning fifth, then the refit on the whole fold
    assert fit_units(POLY1) == pytest.approx(1 + 3 * (1 - TUNING_FRACTION))
    assert fit_units(CATALOG["cross_entropy"]) == 1.0


def _labels(n: int) -> np.ndarray:
    return np.arange(n) % 2


def test_the_best_tuning_score_wins_and_ties_and_failures_go_to_the_grid_order():
    y = _labels(400)
    context = ScoringContext(task="binary", n_classes=2)

    def predictor(quality: dict[float, float]):
        def predict(params, fit, tune):
            if quality[params["epsilon"]] < 0:
                raise FloatingPointError("diverged")
            truth = y[tune].astype(float)
            # a prediction that is right on a share `quality` of the tuning rows
            right = np.arange(len(tune)) < quality[params["epsilon"]] * len(tune)
            return np.where(right, truth, 1.0 - truth)
        return predict

    def chosen(quality):
        return search_value(POLY1, {"epsilon": 1.0}, y, task="binary", metric="accuracy", seed=0,
                            predict_tuning_rows=predictor(quality), context=context)

    best = chosen({1.0: 0.7, 2.0: 0.9, -1.0: 0.8})
    assert best.value == 2.0 and best.scores == pytest.approx((0.7, 0.9, 0.8), abs=0.01)
    assert chosen({1.0: 0.8, 2.0: 0.8, -1.0: 0.8}).value == 1.0   # a tie keeps the default
    assert chosen({1.0: 0.6, 2.0: -1.0, -1.0: 0.7}).value == -1.0  # a failed value is not chosen


def test_too_few_tuning_rows_keep_the_derived_value():
    rows = int((MIN_TUNING_ROWS - 1) / TUNING_FRACTION)
    result = search_value(POLY1, {"epsilon": 1.0}, _labels(rows), task="binary",
                          metric="accuracy", seed=0, context=ScoringContext(task="binary"),
                          predict_tuning_rows=lambda *args: pytest.fail("nothing to search"))
    assert result.value == 1.0 and result.scores is None


def test_chosen_value_is_the_most_frequent_and_ties_go_to_the_grid_order():
    assert chosen_value([2.0, 2.0, -1.0], (1.0, 2.0, -1.0)) == 2.0
    assert chosen_value([2.0, -1.0], (1.0, 2.0, -1.0)) == 2.0
    assert chosen_value([-1.0, 1.0], (1.0, 2.0, -1.0)) == 1.0


def test_the_experiment_searches_epsilon_on_each_fold_and_the_recommendation_uses_its_choice():
    loaded, profile = binary_data(n=450, metric="balanced_accuracy")
    validation = validate(loaded, profile, Outcome(("poly1", "cross_entropy")),
                          params=all_params(profile), budget=30, max_candidates=1,
                          folds=3, repeats=1, epochs=30)
    search = next(item for item in validation.candidates if item.loss == "poly1").search
    assert search.name == "epsilon" and search.grid == (1.0, 2.0, -1.0)
    assert len(search.folds) == 3 and search.searched_splits == 3
    assert set(search.folds) <= set(search.grid)
    assert search.chosen == chosen_value(search.folds, search.grid)
    record = validation.evidence_for("poly1").search       # the JSON's record
    assert record.chosen == search.chosen and record.folds == search.folds
    assert validation.evidence_for("cross_entropy").search is None
    assert any(notice.code == "validation.parameter_searched" and "epsilon searched over 1, 2, -1"
               in notice.message for notice in validation.notices)
    settings = _with_searched_values(all_params(profile), validation)
    assert settings["poly1"]["epsilon"] == search.chosen
    assert settings["cross_entropy"] == all_params(profile)["cross_entropy"]
