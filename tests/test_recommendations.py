"""The rules-only recommendation on every bundled dataset: the top loss, its derived
parameters, and that it fits the metric asked for. Library API (``advisor.suggest``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import advisor
from advisor import AdvisorError, OptionError, TargetError

DATA = Path(__file__).resolve().parent.parent / "data"


def rules_only(name: str, **options):
    return advisor.suggest(str(DATA / f"{name}.csv"), validate=False, **options)


def test_imbalanced_binary_judged_by_balanced_accuracy_gets_reweighting():
    rec = rules_only("poor_health", metric="balanced_accuracy")
    frame = pd.read_csv(DATA / "poor_health.csv")
    positives = int(frame["poor_health"].sum())
    negatives = len(frame) - positives
    assert rec.task == "binary"
    assert rec.best.loss == "weighted_cross_entropy"
    assert rec.best.params["pos_weight"] == pytest.approx(negatives / positives, rel=1e-3)
    assert f"pos_weight=torch.tensor([{rec.best.params['pos_weight']:g}" in rec.best.snippets["pytorch"]
    ranks = {candidate.loss: candidate.rank for candidate in rec.candidates}
    assert ranks["cross_entropy"] > ranks["weighted_cross_entropy"]


def test_imbalanced_binary_judged_by_log_loss_keeps_plain_cross_entropy():
    rec = rules_only("poor_health", metric="log_loss")
    assert rec.best.loss == "cross_entropy"
    focal = next(candidate for candidate in rec.candidates if candidate.loss == "focal")
    assert focal.rank > 2  # focal loss is not strictly proper: not for calibrated probabilities


def test_multiclass_penguins():
    rec = rules_only("penguins")
    assert rec.task == "multiclass" and rec.target.columns == ("species",)
    assert rec.metric == "log_loss"
    assert rec.best.loss == "cross_entropy"
    assert "nn.CrossEntropyLoss(" in rec.best.snippets["pytorch"]
    assert "SparseCategoricalCrossentropy(from_logits=True)" in rec.best.snippets["keras"]


@pytest.mark.parametrize("name", ["marriage_rating", "party_id"])
def test_ordinal_rating_judged_by_mae_gets_plain_mae_on_the_levels(name):
    rec = rules_only(name)  # mae is the ordinal default metric
    assert rec.task == "ordinal" and rec.metric == "mae"
    assert rec.best.loss == "mae"
    ranks = {candidate.loss: candidate.rank for candidate in rec.candidates}
    assert ranks["coral"] < ranks["cross_entropy"]  # the order still beats ignoring it


def test_ordinal_rating_judged_by_mae_does_not_get_plain_cross_entropy():
    rec = rules_only("marriage_rating", metric="mae")
    assert rec.task == "ordinal"
    assert rec.best.loss == "mae"
    assert rec.profile.classes == ("1", "2", "3", "4", "5")


def test_overdispersed_count_judged_by_poisson_deviance_gets_a_log_link_loss():
    rec = rules_only("doctor_visits", metric="poisson_deviance")
    frame = pd.read_csv(DATA / "doctor_visits.csv")
    assert rec.task == "count"
    assert rec.profile.facts["dispersion_index"] > 2
    assert rec.best.loss in {"poisson", "tweedie"}
    assert rec.best.params["init_bias"] == pytest.approx(math.log(frame["mdvis"].mean()), abs=1e-3)
    if rec.best.loss == "tweedie":
        assert 1.1 <= rec.best.params["power"] <= 1.9
    mse = next(candidate for candidate in rec.candidates if candidate.loss == "mse")
    assert mse.rank > 2


def _prices(rng, n=600):
    """A diamond-like table: whole-number prices 326..18823 that grow exponentially with carat."""
    carat = rng.uniform(0.2, 2.5, n)
    price = np.round(np.exp(5.5 + 1.7 * carat + rng.normal(0, 0.2, n)))
    price = np.clip(np.concatenate([[326, 18823], price[2:]]), 326, 18823).astype(np.int64)
    return pd.DataFrame({"carat": carat, "depth": rng.normal(61, 1.4, n), "price": price})


@pytest.mark.parametrize("metric, own", [("rmse", "mse"), ("r2", "mse"), ("mae", "mae")])
@pytest.mark.parametrize("task", [None, "count"])
def test_whole_number_prices_judged_in_units_get_the_metrics_own_loss(metric, own, task):
    frame = _prices(np.random.default_rng(3))
    rec = advisor.suggest(frame, target="price", metric=metric, task=task, validate=False)
    assert rec.task == (task or "regression")
    if task is None:
        assert "an amount, not a count" in rec.task_reason
    assert rec.best.loss == own
    log_links = [candidate.score for candidate in rec.candidates
                 if candidate.loss in {"poisson", "gamma", "tweedie", "msle"}]
    assert max(log_links) < rec.best.score - 1


def test_heavy_tailed_regression_judged_by_mae_gets_a_robust_loss():
    rec = rules_only("tbill_rate_change", metric="mae")
    assert rec.task == "regression"
    assert rec.profile.facts["kurtosis"] > 3
    assert rec.best.loss in {"mae", "huber"}


def test_huber_delta_is_derived_from_the_robust_scale():
    rec = rules_only("tbill_rate_change")
    target = pd.read_csv(DATA / "tbill_rate_change.csv").iloc[:, -1].to_numpy()
    mad_sigma = 1.4826 * np.median(np.abs(target - np.median(target)))
    huber = next(candidate for candidate in rec.candidates if candidate.loss == "huber")
    assert huber.params["delta"] == pytest.approx(1.345 * mad_sigma, rel=1e-3)
    assert rec.best.loss in {"huber", "mae", "log_cosh"}  # heavy tails: not plain mse


def test_quantile_levels_come_from_the_option():
    rec = rules_only("diabetes", quantiles=(0.9, 0.1))
    assert rec.task == "regression"
    assert rec.best.loss == "quantile"
    assert rec.best.params["quantiles"] == [0.1, 0.9]


def test_diabetes_whole_number_target_is_regression_with_mse_for_rmse():
    rec = rules_only("diabetes")
    assert rec.task == "regression"  # scikit-learn's type_of_target says multiclass
    assert rec.best.loss == "mse"


def test_proportion_target_gets_cross_entropy_on_soft_labels():
    rec = rules_only("school_pass_rate")
    assert rec.task == "proportion"
    assert rec.best.loss == "cross_entropy"
    assert "BCEWithLogitsLoss" in rec.best.snippets["pytorch"]


def test_multilabel_from_a_delimited_column():
    rec = rules_only("health_flags", label_sep="|")
    assert rec.task == "multilabel"
    assert len(rec.profile.classes) == 3
    assert rec.best.loss in {"asymmetric", "weighted_cross_entropy", "cross_entropy"}
    weighted = next(candidate for candidate in rec.candidates
                    if candidate.loss == "weighted_cross_entropy")
    assert len(weighted.params["pos_weight"]) == 3


def test_multilabel_judged_by_macro_f1_gets_the_asymmetric_loss():
    rec = rules_only("health_flags", label_sep="|", metric="f1_macro")
    assert rec.best.loss == "asymmetric"
    ranks = {candidate.loss: candidate.rank for candidate in rec.candidates}
    assert ranks["weighted_cross_entropy"] < ranks["cross_entropy"]


@pytest.mark.parametrize("metric", ["average_precision", "roc_auc", "log_loss"])
def test_multilabel_judged_by_ranking_or_log_loss_gets_plain_bce(metric):
    rec = rules_only("health_flags", label_sep="|", metric=metric)
    assert rec.best.loss == "cross_entropy"
    assert "BCEWithLogitsLoss" in rec.best.snippets["pytorch"]


def test_strictly_positive_skewed_target_judged_by_gamma_deviance_gets_gamma():
    rec = rules_only("food_expenditure", metric="gamma_deviance")
    assert rec.best.loss == "gamma"


def test_tweedie_power_is_estimated_and_clipped():
    rec = rules_only("affairs", metric="tweedie_deviance")
    tweedie = next(candidate for candidate in rec.candidates if candidate.loss == "tweedie")
    assert 1.1 <= tweedie.params["power"] <= 1.9


def test_softmax_before_pytorch_cross_entropy_is_flagged():
    rec = rules_only("penguins", activation="softmax", framework="pytorch")
    messages = " ".join(warning.message for warning in rec.warnings)
    assert "CrossEntropyLoss" in messages and "softmax" in messages.lower()


def test_relu_output_on_negative_targets_vetoes_and_warns():
    rec = rules_only("tbill_rate_change", activation="relu")
    codes = [warning.code for warning in rec.warnings]
    assert any("relu" in warning.message.lower() and "negative" in warning.message.lower()
               for warning in rec.warnings)
    # relu cannot produce the negative values: every loss is out, so the ranking is given
    # for the fixed (linear) output and the user is told so.
    assert "activation.rules_out_every_loss" in codes
    assert not rec.best.vetoed and rec.best.loss in {"huber", "mae", "log_cosh", "mse"}


def test_audit_of_the_users_loss():
    rec = rules_only("poor_health", metric="balanced_accuracy", loss="cross_entropy")
    assert rec.audit.loss == "cross_entropy"
    assert rec.audit.recommended == "weighted_cross_entropy"


def test_dataframe_and_arrays_in_the_library():
    frame = pd.read_csv(DATA / "breast_cancer.csv")
    from_frame = advisor.suggest(frame, target="diagnosis", validate=False)
    features = frame.drop(columns="diagnosis").to_numpy()
    from_arrays = advisor.suggest(features, y=frame["diagnosis"].to_numpy(), validate=False)
    assert from_frame.task == from_arrays.task == "binary"
    assert from_frame.best.loss == from_arrays.best.loss
    assert from_frame.provenance.source == "<dataframe>"


def test_json_schema_and_byte_stability():
    first = rules_only("penguins").to_json()
    second = rules_only("penguins").to_json()
    assert first == second
    payload = json.loads(first)
    for key in ("schema_version", "task", "task_reason", "metric", "profile", "candidates",
                "warnings", "provenance", "validation"):
        assert key in payload
    candidate = payload["candidates"][0]
    for key in ("loss", "rank", "score", "params", "verdict", "reasons", "snippets"):
        assert key in candidate
    assert all(reason["rule_id"] for reason in candidate["reasons"])
    assert payload["validation"] is None
    assert [c["rank"] for c in payload["candidates"]] == list(range(1, len(payload["candidates"]) + 1))


def test_typed_errors_in_the_library():
    with pytest.raises(OptionError):
        rules_only("penguins", activation="swish")
    with pytest.raises(TargetError):
        advisor.suggest(pd.DataFrame({"x": range(20), "y": [1.0] * 20}), target="y",
                        validate=False)
    with pytest.raises(AdvisorError):
        advisor.suggest(pd.DataFrame({"x": range(3), "y": [0, 1, 0]}), validate=False)


def test_quantile_levels_report_their_coverage_on_the_held_out_folds(monkeypatch):
    import functools

    import advisor.validate

    monkeypatch.setattr(advisor.validate, "validate", functools.partial(
        advisor.validate.validate, sample_rows=200, folds=2, repeats=1, epochs=30))
    rec = advisor.suggest("example:tbill_rate_change", quantiles=[0.1, 0.5, 0.9], n_jobs=1)
    quantile = next(candidate for candidate in rec.candidates if candidate.loss == "quantile")
    assert quantile.evidence is not None and quantile.evidence.status == "tested"
    coverage = quantile.evidence.coverage
    assert coverage is not None and list(coverage) == ["0.1", "0.5", "0.9"]
    shares = list(coverage.values())
    assert shares == sorted(shares) and all(0.0 <= share <= 1.0 for share in shares)
    assert all(candidate.evidence.coverage is None for candidate in rec.candidates
               if candidate.loss != "quantile" and candidate.evidence is not None)
    interval = quantile.evidence.interval_coverage["0.1-0.9"]  # the central 80 % interval
    assert interval.nominal == 0.8
    assert interval.measured == pytest.approx(coverage["0.9"] - coverage["0.1"], abs=1e-3)
    trained = json.loads(rec.to_json())["validation"]["candidates"]
    assert [item["loss"] for item in trained if "coverage" in item] == ["quantile"]
    assert next(item for item in trained if item["loss"] == "quantile")["interval_coverage"] == {
        "0.1-0.9": {"nominal": 0.8, "measured": interval.measured}}
    markdown = rec.to_markdown()
    assert "### Quantile coverage on the held-out folds" in markdown
    assert f"interval 0.1-0.9: nominal 0.8, measured {interval.measured:g}" in markdown
