"""The empirical validator: metrics, budget planning, failures as data, determinism, Dask,
and verdicts on the bundled real data sets."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import Outcome, all_params, binary_data, deterministic_part, factory
from sklearn import metrics as skm

from advisor.decide import decide
from advisor.errors import OptionError
from advisor.experiment.features import build_preprocessor, prepare_features
from advisor.experiment.metrics import METRIC_SPECS
from advisor.experiment.plan import Cost, plan_protocol
from advisor.experiment.scoring import ScoringContext, level_coverage
from advisor.load import load_data
from advisor.losses import losses_for_task
from advisor.options import METRICS
from advisor.profile import profile_data
from advisor.validate import validate

DATA = Path(__file__).resolve().parents[1] / "data"


# ----- features ---------------------------------------------------------------------------
def test_decimal_text_features_are_numbers_with_stray_cells_missing():
    n = 60
    frame = pd.DataFrame({
        "price": [f"{1 + i * 0.25:.2f}" for i in range(n - 1)] + ["unknown"],
        "grade": ["1", "2", "3"] * (n // 3),                      # codes: stay categories
        "colour": ["red", "green"] * (n // 2),
    })
    prepared = prepare_features(frame)
    assert prepared["x0"].dtype == np.float64
    assert prepared["x0"].iloc[:2].tolist() == [1.0, 1.25] and np.isnan(prepared["x0"].iloc[-1])
    assert prepared["x1"].dtype == object and prepared["x2"].dtype == object
    matrix = build_preprocessor(prepared).fit_transform(prepared)
    assert matrix.shape == (n, 1 + 3 + 2)                       # price, 3 grades, 2 colours


def test_prepared_features_keep_column_order_and_read_every_dtype():
    frame = pd.DataFrame({
        "count": pd.array([1, None, 3], dtype="Int64"),
        "flag": pd.array([True, None, False], dtype="boolean"),
        "city": ["Oslo", None, "Lima"],
        "day": pd.to_datetime(["2020-01-01", None, "2020-01-03"]),
        "ratio": [1.5, np.inf, -2.0],
        "size": pd.Categorical(["S", "M", "S"]),
        "dose": pd.Categorical([0.5, 1.5, 0.5]),                    # declared categories stay so
    })
    prepared = prepare_features(frame)
    assert list(prepared.columns) == ["x0", "x1", "x2", "x3", "x4", "x5", "x6"]
    assert prepared["x0"].tolist()[::2] == [1.0, 3.0] and np.isnan(prepared["x0"].iloc[1])
    assert prepared["x1"].tolist()[::2] == [1.0, 0.0]
    assert prepared["x2"].isna().tolist() == [False, True, False]
    assert prepared["x2"].iloc[[0, 2]].tolist() == ["Oslo", "Lima"]
    assert prepared["x3"].tolist()[::2] == [0.0, 2 * 86400.0]        # seconds since the first day
    assert np.isnan(prepared["x4"].iloc[1])                          # inf is missing
    assert prepared["x5"].tolist() == ["S", "M", "S"]
    assert prepared["x6"].tolist() == ["0.5", "1.5", "0.5"]
    assert build_preprocessor(prepared).fit_transform(prepared).shape == (3, 4 + 2 + 2 + 2)


# ----- metrics ----------------------------------------------------------------------------
def test_metric_table_covers_every_option_metric():
    # every metric a user can be judged on, and the diagnostics reported beside them
    assert set(METRIC_SPECS) == set(METRICS) | {"ece"}
    assert not METRIC_SPECS["ece"].judges and all(METRIC_SPECS[name].judges for name in METRICS)
    greater = {name for name, spec in METRIC_SPECS.items() if spec.greater_is_better}
    assert greater == {"accuracy", "balanced_accuracy", "f1_macro", "roc_auc",
                       "average_precision", "r2", "c_index", "uno_c"}


def test_classification_metrics_agree_with_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, size=60)
    p1 = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, size=60), 0.01, 0.99)
    proba = np.column_stack([1 - p1, p1])
    context = ScoringContext("binary", n_classes=2)

    def score(name):
        return METRIC_SPECS[name].score(y, proba, context)

    assert score("log_loss") == pytest.approx(skm.log_loss(y, proba))
    assert score("roc_auc") == pytest.approx(skm.roc_auc_score(y, p1))
    assert score("average_precision") == pytest.approx(skm.average_precision_score(y, p1))
    assert score("brier") == pytest.approx(skm.brier_score_loss(y, p1))
    assert score("accuracy") == pytest.approx(skm.accuracy_score(y, p1 > 0.5))
    assert score("balanced_accuracy") == pytest.approx(skm.balanced_accuracy_score(y, p1 > 0.5))
    assert score("f1_macro") == pytest.approx(skm.f1_score(y, p1 > 0.5, average="macro"))
    # the same functions work on (y_true, prediction) alone
    assert METRIC_SPECS["log_loss"].score(y, proba) == pytest.approx(skm.log_loss(y, proba))


def test_multiclass_log_loss_and_brier():
    y = np.array([0, 1, 2, 2])
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.3, 0.3, 0.4]])
    context = ScoringContext("multiclass", n_classes=3)
    assert METRIC_SPECS["log_loss"].score(y, proba, context) == pytest.approx(
        skm.log_loss(y, proba, labels=[0, 1, 2]))
    brier = np.mean(np.sum((proba - np.eye(3)[y]) ** 2, axis=1))
    assert METRIC_SPECS["brier"].score(y, proba, context) == pytest.approx(brier)


def test_regression_metrics_agree_with_sklearn():
    rng = np.random.default_rng(2)
    y = rng.gamma(2.0, 2.0, size=80)
    prediction = y * rng.uniform(0.7, 1.3, size=80) + 0.1
    context = ScoringContext("regression", tweedie_power=1.5)

    def score(name):
        return METRIC_SPECS[name].score(y, prediction, context)

    assert score("rmse") == pytest.approx(math.sqrt(skm.mean_squared_error(y, prediction)))
    assert score("mae") == pytest.approx(skm.mean_absolute_error(y, prediction))
    assert score("r2") == pytest.approx(skm.r2_score(y, prediction))
    assert score("poisson_deviance") == pytest.approx(skm.mean_poisson_deviance(y, prediction))
    assert score("gamma_deviance") == pytest.approx(skm.mean_gamma_deviance(y, prediction))
    assert score("tweedie_deviance") == pytest.approx(
        skm.mean_tweedie_deviance(y, prediction, power=1.5))


def test_balanced_mae_is_the_mean_of_per_bin_maes_over_the_whole_targets_bins():
    rng = np.random.default_rng(3)
    y = rng.exponential(2.0, size=300)
    prediction = y + rng.normal(0.0, 0.5, size=300)
    edges = np.linspace(0.0, 2.0 * y.max(), 11)  # the upper bins stay empty
    context = ScoringContext("regression", target_edges=(tuple(edges),))
    bins = np.clip(np.digitize(y, edges[1:-1]), 0, 9)
    per_bin = [skm.mean_absolute_error(y[bins == b], prediction[bins == b]) for b in np.unique(bins)]
    assert METRIC_SPECS["balanced_mae"].score(y, prediction, context) == pytest.approx(np.mean(per_bin))
    assert len(per_bin) < 10  # some bins hold no row: they are left out of the mean
    fold = y < 1.0  # a fold's rows fall in the whole target's bins, not bins of their own
    assert METRIC_SPECS["balanced_mae"].score(y[fold], prediction[fold], context) == pytest.approx(
        np.mean([skm.mean_absolute_error(y[fold & (bins == b)], prediction[fold & (bins == b)])
                 for b in np.unique(bins[fold])]))
    assert not METRIC_SPECS["balanced_mae"].greater_is_better


def test_deviances_clip_non_positive_predictions_and_refuse_bad_targets():
    y = np.array([0.0, 1.0, 3.0])
    clipped = METRIC_SPECS["poisson_deviance"].score(y, np.array([-1.0, 1.0, 3.0]),
                                                        ScoringContext("count"))
    assert clipped == pytest.approx(skm.mean_poisson_deviance(y, np.array([1e-6, 1.0, 3.0])))
    with pytest.raises(ValueError):
        METRIC_SPECS["gamma_deviance"].score(y, np.ones(3), ScoringContext("count"))


def test_pinball_uses_quantile_columns_or_the_point_prediction():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    quantiles = np.column_stack([y - 1.0, y + 0.5])
    context = ScoringContext("regression", levels=(0.1, 0.9), prediction_levels=(0.1, 0.9))
    expected = np.mean([skm.mean_pinball_loss(y, y - 1.0, alpha=0.1),
                        skm.mean_pinball_loss(y, y + 0.5, alpha=0.9)])
    assert METRIC_SPECS["pinball"].score(y, quantiles, context) == pytest.approx(expected)
    point = y + 0.2
    plain = ScoringContext("regression", levels=(0.1, 0.9))
    expected_point = np.mean([skm.mean_pinball_loss(y, point, alpha=level) for level in (0.1, 0.9)])
    assert METRIC_SPECS["pinball"].score(y, point, plain) == pytest.approx(expected_point)
    # the point metrics of a quantile loss use its level nearest the median
    median = ScoringContext("regression", prediction_levels=(0.1, 0.5, 0.9))
    three = np.column_stack([y - 1, y + 0.25, y + 1])
    assert METRIC_SPECS["mae"].score(y, three, median) == pytest.approx(0.25)


def test_ordinal_ranks_use_the_median_for_mae_and_the_mean_for_rmse():
    y = np.array([0, 2])
    proba = np.array([[0.4, 0.5, 0.1],     # median rank 1, expected rank 0.7
                      [0.1, 0.3, 0.6]])    # median rank 2, expected rank 1.5
    context = ScoringContext("ordinal", n_classes=3)
    assert METRIC_SPECS["mae"].score(y, proba, context) == pytest.approx((1 + 0) / 2)
    assert METRIC_SPECS["rmse"].score(y, proba, context) == pytest.approx(
        math.sqrt((0.7**2 + 0.5**2) / 2))


def test_multilabel_metrics_are_macro_over_labels():
    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    proba = np.array([[0.9, 0.2], [0.3, 0.6], [0.4, 0.7], [0.2, 0.8]])
    context = ScoringContext("multilabel", n_classes=2)
    assert METRIC_SPECS["accuracy"].score(y, proba, context) == pytest.approx(np.mean((proba >= 0.5) == y))
    auc = np.mean([skm.roc_auc_score(y[:, j], proba[:, j]) for j in range(2)])
    assert METRIC_SPECS["roc_auc"].score(y, proba, context) == pytest.approx(auc)
    ap = np.mean([skm.average_precision_score(y[:, j], proba[:, j]) for j in range(2)])
    assert METRIC_SPECS["average_precision"].score(y, proba, context) == pytest.approx(ap)


def test_every_metric_scorer_exists_and_options_derive_from_the_table():
    from advisor.experiment import scoring
    from advisor.options import DEFAULT_METRIC, TASK_METRICS, TASKS

    for name, spec in METRIC_SPECS.items():
        assert callable(getattr(scoring, spec.scorer)), name
    assert set(TASK_METRICS) == set(DEFAULT_METRIC) == set(TASKS)
    for task, (metric, reason) in DEFAULT_METRIC.items():
        assert metric in TASK_METRICS[task] and reason


def test_importing_the_options_stays_light():
    import subprocess
    import sys

    code = ("import sys, advisor.options; "
            "print(sorted(m for m in ('numpy', 'pandas', 'sklearn') if m in sys.modules))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert output == "[]"


# ----- planning -----------------------------------------------------------------------------
FAST = Cost(per_fit=0.002, per_epoch=0.0005, per_batch=4e-4, per_row=1e-5, per_prepare=0.01)


def test_plan_small_data_with_a_generous_budget_uses_everything():
    plan = plan_protocol(n_rows=300, n_candidates=5, cost=FAST, seconds_available=600,
                         workers=1, budget=600)
    assert (plan.rows, plan.folds, plan.repeats) == (300, 5, 2)
    assert plan.epochs == 1000 and plan.within_budget
    assert plan.estimated_seconds <= 600
    assert any("repeats reduce the variance" in reason for reason in plan.reasons)


def test_plan_samples_a_large_file_to_fit_the_budget():
    plan = plan_protocol(n_rows=1_000_000, n_candidates=5, cost=FAST, seconds_available=20,
                         workers=2, budget=30)
    assert plan.within_budget and plan.estimated_seconds <= 20
    assert 500 <= plan.rows < 1_000_000 and plan.epochs >= 10
    assert "stratified sample" in plan.reasons[0]
    bigger = plan_protocol(n_rows=1_000_000, n_candidates=5, cost=FAST, seconds_available=200,
                           workers=2, budget=300)
    assert bigger.rows * bigger.epochs * bigger.folds >= plan.rows * plan.epochs * plan.folds


def test_plan_reports_a_budget_too_small_for_anything():
    slow = Cost(per_fit=1.0, per_epoch=0.1, per_batch=2e-2, per_row=1e-3, per_prepare=0.1)
    plan = plan_protocol(n_rows=50_000, n_candidates=5, cost=slow, seconds_available=0.5,
                         workers=1, budget=1)
    assert not plan.within_budget
    assert plan.folds == 3 and plan.epochs == 5
    assert any("too small" in reason for reason in plan.reasons)


def test_plan_keeps_pinned_choices():
    plan = plan_protocol(n_rows=5000, n_candidates=3, cost=FAST, seconds_available=1,
                         workers=1, budget=1, sample_rows=800, folds=4, repeats=3, epochs=7)
    assert (plan.rows, plan.folds, plan.repeats, plan.epochs) == (800, 4, 3, 7)
    assert plan.pinned and all("as asked" in reason for reason in plan.reasons)


# ----- the stage with fake proxies ---------------------------------------------------------------
RANKING = ("weighted_cross_entropy", "focal", "cross_entropy", "label_smoothing",
           "generalized_cross_entropy", "hinge")
PINNED = dict(folds=5, repeats=1, epochs=5)


def test_failures_are_recorded_and_the_run_goes_on(capsys, recwarn):
    loaded, profile = binary_data()
    outcome = Outcome(RANKING)
    modes = factory(weighted_cross_entropy="good", focal="raise", label_smoothing="diverge",
                    generalized_cross_entropy="nan", cross_entropy="prior")
    validation = validate(loaded, profile, outcome, params=all_params(profile), budget=30,
                          max_candidates=5, proxy_factory=modes, **PINNED)
    verdicts = decide(outcome, validation).verdicts
    assert verdicts["focal"] == verdicts["label_smoothing"] == "failed"
    assert verdicts["generalized_cross_entropy"] == "failed"
    assert verdicts["weighted_cross_entropy"] == "confirmed"
    assert verdicts["cross_entropy"] == "overturned"      # the prior predicts one class
    assert verdicts["hinge"] == "not_tested"
    failures = {item.loss: item.failure for item in validation.candidates if item.failure}
    assert failures["focal"].startswith("RuntimeError: boom")
    assert failures["label_smoothing"].startswith("diverged:")
    assert "non-finite" in failures["generalized_cross_entropy"]
    assert "5 of 5 splits failed" in failures["focal"]
    assert {notice.code for notice in validation.notices} >= {"validation.failed"}
    assert validation.evidence_for("focal").error == failures["focal"]
    assert validation.evidence_for("hinge") is None
    # nothing printed, no warning escaped
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert len(recwarn) == 0
    json.dumps(validation.to_dict(), allow_nan=False)


def test_progress_reports_every_job():
    loaded, profile = binary_data()
    calls = []
    validation = validate(loaded, profile, Outcome(RANKING[:3]), params=all_params(profile),
                          budget=30, proxy_factory=factory(), progress=lambda *args: calls.append(args),
                          **PINNED)
    total = len(validation.protocol.candidates) * 5
    job_calls = [call for call in calls if call[1] == total]
    assert [done for done, _, _ in job_calls] == list(range(total + 1))
    assert all(isinstance(message, str) and message for _, _, message in calls)


def test_the_default_loss_is_always_trained_unless_vetoed():
    loaded, profile = binary_data()
    # the default (cross_entropy) ranks below max_candidates: it is added
    validation = validate(loaded, profile, Outcome(("focal", "weighted_cross_entropy", "hinge",
                                                    "cross_entropy")),
                          params=all_params(profile), budget=30, max_candidates=1,
                          proxy_factory=factory(), **PINNED)
    assert validation.protocol.candidates == ("focal", "cross_entropy")
    assert validation.candidate("cross_entropy").roles == ("default",)
    assert validation.candidate("weighted_cross_entropy") is None      # not trained
    # a vetoed default is reported, not trained; a user's loss is added
    vetoed = validate(loaded, profile,
                      Outcome(("focal", "hinge", "cross_entropy"),
                              vetoes={"cross_entropy": ("softmax twice",)}),
                      params=all_params(profile), budget=30, max_candidates=1,
                      proxy_factory=factory(), extra_candidates=("hinge",), **PINNED)
    assert vetoed.protocol.candidates == ("focal", "hinge")
    assert vetoed.candidate("cross_entropy") is None
    assert "validation.default_vetoed" in {notice.code for notice in vetoed.notices}


def test_identical_candidates_are_equivalent_and_keep_the_rule_order():
    loaded, profile = binary_data()
    outcome = Outcome(("focal", "cross_entropy"))
    validation = validate(loaded, profile, outcome,
                          params=all_params(profile), budget=30,
                          proxy_factory=factory(focal="good", cross_entropy="good_copy"), **PINNED)
    comparison = validation.comparison("focal", "cross_entropy")
    assert comparison.p_value == 1.0 and not comparison.significant
    decision = decide(outcome, validation)
    assert decision.order == ("focal", "cross_entropy")
    assert decision.verdicts == {"focal": "confirmed", "cross_entropy": "equivalent"}


def test_bad_options_are_option_errors():
    loaded, profile = binary_data(n=100)
    outcome = Outcome(("cross_entropy",))
    with pytest.raises(OptionError, match="backend"):
        validate(loaded, profile, outcome, params=all_params(profile), backend="no-such-backend",
                 proxy_factory=factory())
    with pytest.raises(OptionError, match="max_candidates"):
        validate(loaded, profile, outcome, params=all_params(profile), max_candidates=0)
    with pytest.raises(OptionError, match="folds"):
        validate(loaded, profile, outcome, params=all_params(profile), folds=1)


def test_an_incompatible_scikit_learn_is_one_clear_error_before_anything_trains(monkeypatch):
    import advisor.proxy
    from advisor.errors import AdvisorError, SklearnCompatibilityError

    def incompatible():
        raise SklearnCompatibilityError("scikit-learn 9.0 has no MLPRegressor._backprop",
                                        hint="install scikit-learn>=1.7,<1.10")

    monkeypatch.setattr(advisor.proxy, "check_sklearn_compatibility", incompatible)
    loaded, profile = binary_data(n=100)
    with pytest.raises(SklearnCompatibilityError, match=r"scikit-learn 9\.0.*>=1\.7,<1\.10") as info:
        validate(loaded, profile, Outcome(("cross_entropy",)), params=all_params(profile),
                 budget=10, **PINNED)
    assert isinstance(info.value, AdvisorError) and "\n" not in str(info.value)


# ----- real proxies ---------------------------------------------------------------------------
def test_same_seed_same_numbers():
    loaded, profile = binary_data(n=300)
    outcome = Outcome(("weighted_cross_entropy", "focal", "cross_entropy"))
    runs = [validate(loaded, profile, outcome, params=all_params(profile), budget=30, seed=7,
                     max_candidates=1, epochs=10) for _ in range(2)]
    assert deterministic_part(runs[0]) == deterministic_part(runs[1])
    assert runs[0].protocol.repeats == 2            # fewer than 1,000 rows: 5 x 2
    other_seed = validate(loaded, profile, outcome, params=all_params(profile), budget=30,
                          seed=8, max_candidates=1, epochs=10)
    assert deterministic_part(other_seed) != deterministic_part(runs[0])


def test_process_workers_give_the_same_numbers_as_one_process():
    loaded, profile = binary_data(n=300)
    outcome = Outcome(("weighted_cross_entropy", "cross_entropy"))
    pinned = dict(params=all_params(profile), budget=60, seed=5, folds=3, repeats=1, epochs=10)
    alone = deterministic_part(validate(loaded, profile, outcome, **pinned))
    workers = deterministic_part(validate(loaded, profile, outcome, n_jobs=2, backend="loky",
                                          **pinned))
    for payload in (alone, workers):
        for key in ("backend", "n_jobs", "workers"):
            payload["protocol"].pop(key)
    assert alone == workers


def test_a_slow_pilot_is_noted_only_when_it_shrinks_the_protocol(monkeypatch):
    """A loaded machine must not change a protocol it cannot shrink (byte-for-byte JSON)."""
    import advisor.experiment.plan as plan_module

    loaded, profile = binary_data(n=300)
    outcome = Outcome(("weighted_cross_entropy", "cross_entropy"))
    pinned = dict(params=all_params(profile), budget=60, seed=3, folds=3, repeats=1, epochs=5)
    normal = deterministic_part(validate(loaded, profile, outcome, **pinned))
    monkeypatch.setattr(plan_module, "slowdown_factor", lambda *args: (40.0, 64.0))
    slow = deterministic_part(validate(loaded, profile, outcome, **pinned))
    assert slow == normal                             # pinned: nothing to shrink, no notice

    large, large_profile = binary_data(n=20_000)
    free = dict(params=all_params(large_profile), budget=10, seed=3, max_candidates=1)
    shrunk = validate(large, large_profile, outcome, **free)
    monkeypatch.setattr(plan_module, "slowdown_factor", lambda *args: (1.0, 1.0))
    usual = validate(large, large_profile, outcome, **free)      # a machine at the model's speed
    assert "validation.slow_machine" in {notice.code for notice in shrunk.notices}
    assert "validation.slow_machine" not in {notice.code for notice in usual.notices}
    assert (shrunk.protocol.sample_rows, shrunk.protocol.epochs) < \
        (usual.protocol.sample_rows, usual.protocol.epochs)


def test_a_large_file_finishes_within_its_budget():
    rng = np.random.default_rng(0)
    n = 200_000
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                          "c": rng.integers(0, 5, size=n).astype(str)})
    frame["y"] = 2 * frame["a"] + rng.standard_t(3, size=n)
    loaded = load_data(frame, "y")
    profile = profile_data(loaded, metric="mae")
    outcome = Outcome(("mae", "huber", "mse"))
    budget = 8.0
    started = time.perf_counter()
    validation = validate(loaded, profile, outcome, params=all_params(profile), budget=budget)
    elapsed = time.perf_counter() - started
    assert elapsed < budget * 1.5, validation.timing
    assert validation.protocol.sample_rows < n
    assert "stratified sample" in validation.protocol.reasons[0]
    assert "validation.sampled" in {notice.code for notice in validation.notices}
    assert validation.protocol.splits_used >= 2


def test_dask_backend_gives_the_same_numbers_as_the_local_run():
    distributed = pytest.importorskip(
        "dask.distributed", reason="dask.distributed is not installed (pip install 'loss-advisor[dask]')")
    loaded, profile = binary_data(n=300)
    outcome = Outcome(("weighted_cross_entropy", "cross_entropy"))
    pinned = dict(params=all_params(profile), budget=60, seed=3, folds=3, repeats=1, epochs=15)
    local = validate(loaded, profile, outcome, **pinned)
    with distributed.LocalCluster(n_workers=2, processes=False, threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as stream:
            remote = validate(loaded, profile, outcome, backend="dask", n_jobs=2, **pinned)
    assert len(stream.data) >= 6                      # the jobs really ran on the cluster
    assert remote.protocol.backend == "dask"
    local_part, remote_part = deterministic_part(local), deterministic_part(remote)
    for payload in (local_part, remote_part):
        for key in ("backend", "n_jobs", "workers"):
            payload["protocol"].pop(key)
    assert local_part == remote_part


# ----- verdicts on the bundled real data -------------------------------------------------------
def real(name: str, metric: str):
    from advisor.rules import load_rulebase

    loaded = load_data(DATA / name)
    profile = profile_data(loaded, metric=metric)
    outcome = load_rulebase().evaluate(profile.facts, losses_for_task(profile.task))
    return loaded, profile, outcome


def test_poor_health_balanced_accuracy_overturns_plain_cross_entropy():
    loaded, profile, outcome = real("poor_health.csv", "balanced_accuracy")
    assert profile.facts["imbalance_ratio"] > 10
    validation = validate(loaded, profile, outcome, params=all_params(profile), budget=15,
                          max_candidates=1, sample_rows=2000, folds=5, epochs=15)
    assert validation.protocol.candidates == ("weighted_cross_entropy", "cross_entropy")
    verdicts = decide(outcome, validation).verdicts
    assert verdicts["cross_entropy"] == "overturned"
    assert verdicts["weighted_cross_entropy"] == "confirmed"
    comparison = validation.comparison("weighted_cross_entropy", "cross_entropy")
    assert comparison.significant and comparison.mean_difference > 0.1


def test_heavy_tailed_target_mae_and_huber_beat_mse():
    loaded, profile, outcome = real("affairs.csv", "mae")
    assert profile.task == "regression" and profile.facts["kurtosis"] > 50
    validation = validate(loaded, profile, outcome, params=all_params(profile), budget=15,
                          max_candidates=2, sample_rows=1000, folds=5, epochs=20)
    assert validation.protocol.candidates == ("mae", "huber", "mse")
    verdicts = decide(outcome, validation).verdicts
    assert verdicts["mae"] in ("confirmed", "equivalent") and verdicts["mse"] == "overturned"
    assert validation.comparison("mae", "mse").significant
    # huber leads mse on every reading too, by more than the practical margin, so the lean
    # counts even where the 5-fold t-test stays short of significance
    assert validation.comparison("huber", "mse").mean_difference > 0.1


def test_over_dispersed_counts_poisson_leads_mse():
    # doctor_visits: variance / mean about 6. The Poisson proxy's mean deviance is lower than
    # the MSE proxy's (MSE loses heavily on a few folds), but with 5 x 2 folds the corrected
    # t-test does not call the difference significant. Not significant is not equivalent: the
    # lead decides, so poisson is confirmed and mse, worse by more than the margin, overturned.
    loaded, profile, _ = real("doctor_visits.csv", "poisson_deviance")
    assert profile.task == "count" and profile.facts["dispersion_index"] > 3
    outcome = Outcome(("mse", "poisson"))       # the rules' order is against it
    validation = validate(loaded, profile, outcome, params=all_params(profile),
                          budget=15, sample_rows=1000, folds=5, repeats=2, epochs=100)
    comparison = validation.comparison("poisson", "mse")
    assert comparison.mean_difference > 0                    # lower deviance for poisson
    decision = decide(outcome, validation)
    assert decision.pick == "poisson" and decision.verdicts["poisson"] == "confirmed"
    assert decision.verdicts["mse"] == "overturned"


@pytest.mark.usefixtures("machine_at_model_speed")
def test_fits_that_stop_early_leave_budget_for_more_repeats_the_same_every_run():
    # 300 rows of an easy target: adam stops long before the epoch cap, so the budget pays for
    # more repeats; how many comes from the cost model and the epochs run, not from the clock
    loaded, profile = binary_data(n=300)
    outcome = Outcome(("weighted_cross_entropy", "cross_entropy"))
    first, second = (validate(loaded, profile, outcome, params=all_params(profile), budget=20,
                              max_candidates=1) for _ in range(2))
    protocol = first.protocol
    assert protocol.repeats > 2 and protocol.splits_used == protocol.folds * protocol.repeats
    assert any("stopped early" in reason and "more repeat" in reason for reason in protocol.reasons)
    assert first.to_dict()["protocol"] == second.to_dict()["protocol"]
    assert protocol.within_budget


@pytest.mark.usefixtures("machine_at_model_speed")
def test_budget_left_after_the_planned_run_trains_the_next_losses_of_the_rule_ranking():
    # A loss that is never trained can never overturn the rules: with budget to spare, the
    # next losses in rule order join the experiment on the same splits, before more repeats
    loaded, profile = binary_data(n=300)
    outcome = Outcome(("weighted_cross_entropy", "cross_entropy", "focal", "label_smoothing"))
    first = validate(loaded, profile, outcome, params=all_params(profile), budget=8,
                     max_candidates=1)
    protocol = first.protocol
    assert protocol.candidates == ("weighted_cross_entropy", "cross_entropy", "focal",
                                   "label_smoothing")
    roles = {item.loss: item.roles for item in first.candidates}
    assert roles["focal"] == ("budget",) and roles["label_smoothing"] == ("budget",)
    assert roles["cross_entropy"] == ("default",)
    assert all(item.status == "tested" for item in first.candidates)
    assert any(reason.startswith("candidates: the 2 the rules chose, and 2 more")
               for reason in protocol.reasons)
    pinned = validate(loaded, profile, outcome, params=all_params(profile), budget=20,
                      max_candidates=1, proxy_factory=factory(), folds=5, repeats=1, epochs=5)
    assert pinned.protocol.candidates == ("weighted_cross_entropy", "cross_entropy")


def test_the_cost_model_counts_the_group_scoring_of_a_sensitive_column():
    # Every job of a run with groups also scores each group and fairlearn's gaps: a plan that
    # ignored it overran its estimate and the clock cut its extension
    from advisor.experiment.plan import MODEL_PER_FIT_GROUPS, model_cost, run_estimate

    shape = dict(n_inputs=12, n_outputs=1, hidden=(64,), raw_columns=12)
    plain, grouped = model_cost(**shape), model_cost(**shape, grouped=True)
    assert grouped.fit_seconds(1000, 50) - plain.fit_seconds(1000, 50) == pytest.approx(MODEL_PER_FIT_GROUPS)
    protocol = dict(rows=2400, folds=5, repeats=2, epochs=50, n_candidates=8, workers=2)
    assert run_estimate(grouped, **protocol) > 1.1 * run_estimate(plain, **protocol)


def test_the_cost_model_counts_the_thresholds_a_plan_tunes():
    # scikit-learn's threshold search costs about 0.1 s an output, five times a multi-label
    # plan's fit: a plan that ignored it overran its estimate at 60 s and the clock cut its
    # extension. It is paid only where the guard lets the rule tune.
    from advisor.experiment.decision import thresholds_tuned
    from advisor.experiment.plan import MODEL_PER_TUNED_OUTPUT, model_cost, run_estimate

    assert thresholds_tuned("threshold", "f1_macro", 400, 5) == 5
    assert thresholds_tuned("threshold", "balanced_accuracy", 400, 1) == 1
    assert thresholds_tuned("threshold", "log_loss", 400, 5) == 0        # reads no decision
    assert thresholds_tuned("threshold", "f1_macro", 20, 5) == 0         # too few rows
    assert thresholds_tuned("threshold", "accuracy", 400, 1) == 0        # accuracy's guard
    assert thresholds_tuned("logit_adjustment", "balanced_accuracy", 400, 6) == 0
    cost = model_cost(n_inputs=8, n_outputs=5, hidden=(64,), raw_columns=8)
    protocol = dict(rows=3000, folds=5, repeats=2, epochs=80, n_candidates=8, workers=2)
    added = run_estimate(cost, **protocol, tuned_outputs=5) - run_estimate(cost, **protocol)
    assert added == pytest.approx(10 * 5 * MODEL_PER_TUNED_OUTPUT / (2 * 0.85))


def test_a_multilabel_plan_s_thresholds_shrink_the_protocol():
    # the same run with the threshold plan among its candidates plans fewer repeats for it
    from advisor.experiment.plan import model_cost, plan_protocol

    cost = model_cost(n_inputs=8, n_outputs=5, hidden=(64,), raw_columns=8)
    common = dict(n_rows=800, n_candidates=6, cost=cost, seconds_available=4.0, workers=2,
                  budget=5.0)
    plain, tuned = plan_protocol(**common), plan_protocol(**common, tuned_outputs=5)
    assert (plain.repeats, tuned.repeats) == (2, 1)
    assert plain.within_budget and tuned.within_budget
    assert tuned.estimated_seconds <= 4.0


def test_an_extension_the_clock_cuts_is_dropped_whole_and_counted(monkeypatch):
    # On a loaded machine the deadline guard skips jobs of an extension: the output is then
    # the planned run's, as on an idle machine, and the timings say an extension was cut
    from advisor.experiment.run import Runner

    planned_run = Runner.run

    def late_after_the_planned_run(self, *args, **kwargs):
        planned_run(self, *args, **kwargs)
        self.deadline = -math.inf            # every later job would start too late

    monkeypatch.setattr(Runner, "run", late_after_the_planned_run)
    loaded, profile = binary_data(n=300)
    outcome = Outcome(("weighted_cross_entropy", "cross_entropy", "focal"))
    validation = validate(loaded, profile, outcome, params=all_params(profile), budget=20,
                          max_candidates=1)
    protocol = validation.protocol
    assert protocol.repeats == 2 and protocol.candidates == ("weighted_cross_entropy", "cross_entropy")
    assert all(item.status == "tested" for item in validation.candidates)
    assert validation.timing["extensions_cut"] >= 1
    assert not any("stopped early" in reason for reason in protocol.reasons)


@pytest.mark.usefixtures("machine_at_model_speed")
def test_a_second_repeat_comes_before_the_reserve_s_candidates():
    # Above 1,000 rows the plan is one 5-fold run; five splits spread over more candidates
    # leave little power, so what the budget left buys a second repeat first, then breadth
    loaded, profile = binary_data(n=1200)
    outcome = Outcome(("weighted_cross_entropy", "cross_entropy", "focal", "label_smoothing"))
    validation = validate(loaded, profile, outcome, params=all_params(profile), budget=5,
                          max_candidates=1)
    protocol = validation.protocol
    assert protocol.candidates[2:] == ("focal", "label_smoothing")
    assert protocol.repeats >= 2 and protocol.splits_used == protocol.folds * protocol.repeats
    assert all(len(item.fold_scores["balanced_accuracy"]) == protocol.splits_used
               for item in validation.candidates)
    assert any(reason.startswith("splits: 5-fold cross-validation repeated") and
               "the first run stopped early" in reason for reason in protocol.reasons)


def test_the_reserve_holds_the_next_losses_no_rule_argues_against():
    from advisor.decide import MAX_CANDIDATES, select_candidates

    ranking = ("weighted_cross_entropy", "focal", "label_smoothing", "poly1", "soft_f1",
               "generalized_cross_entropy", "hinge", "ldam", "logit_adjusted", "cross_entropy",
               "asymmetric")
    scores = {"weighted_cross_entropy": 5.0, "focal": 2.0, "label_smoothing": 0.0,
              "poly1": -0.5, "soft_f1": 1.0, "generalized_cross_entropy": 0.5, "hinge": 0.5,
              "ldam": -1.5, "logit_adjusted": 0.0, "cross_entropy": -1.0}
    candidates, _ = select_candidates(Outcome(ranking, scores, {"asymmetric": ("multilabel",)}),
                                      "binary", max_candidates=1)
    assert candidates.chosen == ("weighted_cross_entropy", "cross_entropy")
    assert candidates.reserve == ("focal", "label_smoothing", "soft_f1",
                                  "generalized_cross_entropy", "hinge", "logit_adjusted")
    assert len(candidates.chosen) + len(candidates.reserve) == MAX_CANDIDATES


def test_a_pinned_protocol_is_never_extended():
    loaded, profile = binary_data(n=300)
    validation = validate(loaded, profile, Outcome(("cross_entropy",)), params=all_params(profile),
                          budget=20, proxy_factory=factory(), folds=5, repeats=1, epochs=5)
    assert validation.protocol.repeats == 1 and validation.protocol.splits_used == 5


def test_level_coverage_is_the_share_of_targets_at_or_below_each_level():
    truth = np.array([0.0, 1.0, 2.0, 3.0])
    quantiles = np.array([[0.5, 1.0], [0.5, 1.0], [1.5, 2.5], [2.5, 2.9]])
    context = ScoringContext(task="regression", prediction_levels=(0.1, 0.9))
    assert level_coverage(truth, quantiles, context) == ((0.1, 0.25), (0.9, 0.75))
    median = ScoringContext(task="regression", prediction_levels=(0.5,))
    assert level_coverage(truth, np.array([1.0, 1.0, 1.0, 1.0]), median) == ((0.5, 0.5),)
    point = ScoringContext(task="regression")
    assert level_coverage(truth, truth, point) == ()  # not a quantile prediction
