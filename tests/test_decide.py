"""The decide stage: the experiment's measurements decide, the rules break practical ties,
an unstable candidate is never recommended, and every verdict word fits what was seen."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import Outcome, factory

import advisor
from advisor import stats
from advisor.decide import CLEAR_RULE_MARGIN, RELATIVE_MARGIN, VERDICTS, Decision, decide, practical_margin
from advisor.experiment.evidence import CandidateEvidence, Protocol, Validation
from advisor.load import load_data
from advisor.losses import CATALOG, losses_for_task
from advisor.profile import profile_data
from advisor.validate import validate


def measured(fold_scores: dict[str, list[float]], *, metric: str = "rmse", folds: int = 5,
             status: dict[str, str] | None = None, default: str = "mse") -> Validation:
    """A Validation as the validator would build it from these primary-metric fold scores
    (the first key is the rules' first choice)."""
    status = status or {}
    greater = metric in ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc",
                         "average_precision", "r2")
    losses = list(fold_scores)
    splits = len(next(iter(fold_scores.values())))
    evidence = []
    for rank, loss in enumerate(losses, start=1):
        state = status.get(loss, "tested")
        scores = tuple(float(value) for value in fold_scores[loss]) if state != "failed" else ()
        evidence.append(CandidateEvidence(
            loss=loss, rule_rank=rank, roles=("default",) if loss == default else ("rules",),
            status=state, failure={"unstable": "split 3 rmse 3.09e+08 against 2,404 for mse",
                                   "failed": "diverged"}.get(state),
            fold_scores={metric: scores} if scores else {},
            means={metric: float(np.mean(scores))} if scores else {}, std=0.0,
            ci_low=0.0, ci_high=0.0, epochs_run=(), epoch_cap_folds=0))
    stable = [item.loss for item in evidence if item.status == "tested"]
    comparisons = tuple(
        stats.compare_paired(a, fold_scores[a], b, fold_scores[b], greater_is_better=greater,
                             test_train_ratio=1 / (folds - 1))
        for index, a in enumerate(stable) for b in stable[index + 1:])
    sign = 1 if greater else -1
    empirical = tuple(sorted(stable, key=lambda loss: -sign * np.mean(fold_scores[loss])))
    protocol = Protocol(
        task="regression", metric=metric, greater_is_better=greater, metrics=(metric,),
        candidates=tuple(losses), rows_available=1000, sample_rows=1000, stratified_on="y",
        folds=folds, repeats=max(1, splits // folds), splits_planned=splits, splits_used=splits,
        test_train_ratio=1 / (folds - 1), epochs=50, hidden=(64,), solver="adam", seed=0,
        alpha=0.05, budget=30, backend="loky", n_jobs=1, workers=1, within_budget=True,
        reasons=())
    return Validation(protocol=protocol, candidates=tuple(evidence), comparisons=comparisons,
                      rule_order=tuple(stable), empirical_order=empirical,
                      rule_choice=losses[0], agreement=stats.kendall_agreement(stable, empirical),
                      notices=())


# ----- without an experiment ---------------------------------------------------------------
def test_rules_only_keeps_the_rule_order_and_vetoes_last():
    outcome = Outcome(("focal", "cross_entropy", "hinge"),
                      scores={"focal": 3.0, "cross_entropy": 2.5, "hinge": 4.0},
                      vetoes={"hinge": ("sigmoid output",)})
    decision = decide(outcome, None)
    assert decision.order == ("focal", "cross_entropy", "hinge")
    assert decision.verdicts == {"focal": "not_tested", "cross_entropy": "not_tested",
                                 "hinge": "vetoed"}
    assert decision.pick == "focal" and decision.metric is None and decision.basis == "rules"
    assert decision.confidence["level"] == "low"           # 0.5 points apart
    assert "not tested" in decision.summary.lower()


def test_rules_only_confidence_follows_the_score_margin():
    clear = Outcome(("focal", "cross_entropy"),
                    scores={"focal": 2.0 + CLEAR_RULE_MARGIN, "cross_entropy": 2.0})
    assert decide(clear).confidence["level"] == "medium"
    alone = Outcome(("focal",), scores={"focal": 1.0})
    assert decide(alone).confidence["level"] == "medium"
    nothing = Outcome(("focal",), vetoes={"focal": ("softmax",)})
    decision = decide(nothing)
    assert decision.confidence["level"] == "low" and decision.order == ("focal",)
    assert "vetoed" in decision.summary


# ----- the margin ------------------------------------------------------------------------------
def test_the_practical_margin_is_a_share_of_the_leaders_score():
    assert RELATIVE_MARGIN == 0.005
    assert practical_margin("rmse", 2404.0) == pytest.approx(12.02)
    assert practical_margin("log_loss", -0.5) == pytest.approx(0.0025)
    assert practical_margin("balanced_accuracy", 0.7) == pytest.approx(0.0035)


# ----- evidence decides ------------------------------------------------------------------------
MSE = [711.0, 743.0, 2404.0, 765.0, 714.0]


def test_a_lean_larger_than_the_margin_overturns_the_rules_even_when_not_significant():
    # the rules put tweedie first; mae measured 1.80 on average, tweedie 1.93 (7 % worse),
    # with noisy folds: the t-test says nothing (p > 0.05), the mean lean decides
    mae = [1.6, 2.1, 1.7, 1.9, 1.7]
    tweedie = [1.5, 2.5, 1.8, 2.2, 1.65]
    validation = measured({"tweedie": tweedie, "mae": mae}, metric="mae", default="mae")
    assert not validation.comparison("mae", "tweedie").significant
    decision = decide(Outcome(("tweedie", "mae")), validation)
    assert decision.order == ("mae", "tweedie")
    assert decision.verdicts == {"mae": "confirmed", "tweedie": "overturned"}
    assert decision.basis == "evidence" and decision.leader == "mae"
    assert "overturned the rules' choice tweedie" in decision.summary
    assert decision.versus["tweedie"].practical.worse > 0.5


def test_a_difference_inside_the_margin_keeps_the_rule_order():
    # weighted BCE leads by 0.003 balanced accuracy, inside the 0.0035 margin: the rules decide
    rules_first = [0.700, 0.710, 0.690, 0.705, 0.695]
    other = [value + 0.003 for value in rules_first]
    validation = measured({"asymmetric": rules_first, "weighted_cross_entropy": other},
                          metric="balanced_accuracy", default="weighted_cross_entropy")
    decision = decide(Outcome(("asymmetric", "weighted_cross_entropy")), validation)
    assert decision.pick == "asymmetric" and decision.leader == "weighted_cross_entropy"
    assert decision.basis == "rules_tiebreak"
    assert decision.verdicts == {"asymmetric": "equivalent", "weighted_cross_entropy": "equivalent"}
    assert "practically equivalent" in decision.summary
    assert "the rules' order decides" in decision.summary
    # an equivalent that measured worse is never "confirmed"
    assert "confirmed" not in decision.verdicts.values()


def test_the_same_lean_outside_the_margin_follows_the_measurement():
    rules_first = [0.700, 0.710, 0.690, 0.705, 0.695]
    other = [value + 0.015 for value in rules_first]
    validation = measured({"weighted_cross_entropy": rules_first, "asymmetric": other},
                          metric="f1_macro", default="weighted_cross_entropy")
    decision = decide(Outcome(("weighted_cross_entropy", "asymmetric")), validation)
    assert decision.order == ("asymmetric", "weighted_cross_entropy")
    assert decision.verdicts == {"asymmetric": "confirmed", "weighted_cross_entropy": "overturned"}
    assert decision.confidence["level"] == "high"          # every fold +0.015: no doubt left


def test_a_blow_up_is_never_recommended_and_the_summary_says_why():
    tweedie = [814.0, 768.0, 309_203_000.0, 1000.0, 705.0]
    validation = measured({"tweedie": tweedie, "mse": MSE}, status={"tweedie": "unstable"})
    decision = decide(Outcome(("tweedie", "mse", "huber")), validation)
    assert decision.pick == "mse"
    assert decision.order == ("mse", "huber", "tweedie")     # unstable after the untested
    assert decision.verdicts == {"tweedie": "unstable", "mse": "confirmed", "huber": "not_tested"}
    assert "Unstable, never recommended: tweedie (split 3 rmse 3.09e+08" in decision.summary
    assert "tweedie was unstable; mse measured best instead" in decision.summary
    assert decision.confidence["level"] == "medium"          # nothing stable to compare with


def test_every_verdict_word_is_reachable():
    seen = set()
    rules_only = decide(Outcome(("mse", "mae"), vetoes={"mae": ("relu",)}))
    seen |= set(rules_only.verdicts.values())                    # not_tested, vetoed
    validation = measured({"huber": [1.0, 1.1, 0.9, 1.0, 1.0],
                           "mse": [1.003, 1.103, 0.903, 1.003, 1.003],
                           "log_cosh": [1.5, 1.6, 1.4, 1.5, 1.5],
                           "tweedie": [1.0, 1.0, 900.0, 1.0, 1.0],
                           "gamma": [1.0] * 5},
                          status={"tweedie": "unstable", "gamma": "failed"})
    decision = decide(Outcome(("huber", "mse", "log_cosh", "tweedie", "gamma", "quantile")),
                      validation)
    assert decision.verdicts == {"huber": "confirmed", "mse": "equivalent",
                                 "log_cosh": "overturned", "tweedie": "unstable",
                                 "gamma": "failed", "quantile": "not_tested"}
    seen |= set(decision.verdicts.values())
    assert seen == set(VERDICTS)
    assert decision.order == ("huber", "mse", "log_cosh", "quantile", "tweedie", "gamma")


def test_too_few_splits_let_the_rules_order_the_candidates():
    validation = measured({"huber": [1.2, 1.3], "mse": [1.0, 1.1]})
    decision = decide(Outcome(("huber", "mse")), validation)
    assert decision.order == ("huber", "mse") and decision.basis == "too_small"
    assert decision.verdicts == {"huber": "equivalent", "mse": "equivalent"}
    assert decision.confidence["level"] == "low"
    assert "too few" in decision.confidence["reason"]


def test_decision_basis_is_json():
    validation = measured({"huber": [1.0, 1.1, 0.9, 1.0, 1.0], "mse": [1.2, 1.3, 1.1, 1.2, 1.2]})
    decision = decide(Outcome(("huber", "mse")), validation)
    assert isinstance(decision, Decision) and decision.pick == decision.order[0] == "huber"
    payload = json.loads(json.dumps(decision.basis_dict(), allow_nan=False))
    assert payload == {"basis": "evidence", "leader": "huber", "margin": pytest.approx(0.005),
                       "metric": "rmse", "judge": "all_rows"}
    assert set(decision.confidence) == {"level", "reason"}


# ----- with real proxies -------------------------------------------------------------------------
def test_strong_evidence_overturns_the_rule_order_with_fake_proxies():
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    frame["y"] = (rng.random(n) < 1 / (1 + np.exp(-(2 * frame["x1"] - 1.5)))).astype(int)
    loaded = load_data(frame, "y")
    profile = profile_data(loaded, metric="balanced_accuracy")
    params = {loss_id: CATALOG[loss_id].derive(profile, {}) for loss_id in losses_for_task("binary")}
    outcome = Outcome(("cross_entropy", "weighted_cross_entropy", "focal"),
                      scores={"cross_entropy": 2.0, "weighted_cross_entropy": 1.0, "focal": 0.5})
    validation = validate(loaded, profile, outcome, params=params, budget=30, folds=5, repeats=1,
                          epochs=5, max_candidates=3,
                          proxy_factory=factory(cross_entropy="prior", focal="raise"))
    decision = decide(outcome, validation)
    assert decision.order == ("weighted_cross_entropy", "cross_entropy", "focal")
    assert decision.verdicts == {"weighted_cross_entropy": "confirmed",
                                 "cross_entropy": "overturned", "focal": "failed"}
    assert decision.confidence["level"] == "high"
    assert "overturned the rules' choice cross_entropy" in decision.summary
    assert "Failed: focal" in decision.summary


@pytest.fixture(scope="module")
def exploding():
    """A positive target growing like exp(2x), and one row whose feature lies 100 standard
    deviations out: on the split that tests it, every loss extrapolates, linearly for the
    identity-link ones and through exp for the log-link ones (to about 1e14)."""
    rng = np.random.default_rng(0)
    n = 300
    x = rng.uniform(0, 1, n)
    y = np.round(100 * np.exp(2 * x) + rng.normal(0, 20, n).clip(-50, 50), 2)
    x[0], y[0] = 30.0, 700.0
    return pd.DataFrame({"x": x, "y": y})


def test_an_exploding_log_link_fit_is_reported_unstable_and_never_recommended(exploding):
    from advisor.rules import load_rulebase

    loaded = load_data(exploding, "y")
    profile = profile_data(loaded, metric="rmse")
    outcome = load_rulebase().evaluate(profile.facts, losses_for_task(profile.task))
    params = {loss_id: CATALOG[loss_id].derive(profile, {}) for loss_id in losses_for_task("regression")}
    for loss_id in ("poisson", "gamma"):  # without the safeguard of their log-scale output
        params[loss_id] = {**params[loss_id], "log_cap": None}
    # real proxies on a pinned protocol: the same fits on a loaded machine
    validation = validate(loaded, profile, outcome, params=params, budget=20, folds=5, repeats=2,
                          epochs=300, extra_candidates=("poisson", "gamma"))
    decision = decide(outcome, validation)
    assert decision.verdicts["poisson"] == "unstable" and decision.verdicts["gamma"] == "unstable"
    assert decision.pick in ("mse", "huber", "log_cosh", "mae", "quantile")
    assert decision.verdicts[decision.pick] in ("confirmed", "equivalent")
    assert "far above the training targets" in validation.candidate("poisson").failure
    assert [notice.code for notice in validation.notices].count("validation.unstable") == 2
    # the linear extrapolation every identity-link loss shares blames none of them
    assert all(decision.verdicts[loss] != "unstable" for loss in ("mse", "huber", "log_cosh")
               if loss in decision.verdicts)
    assert decision.order.index("poisson") > decision.order.index(decision.pick)


def test_the_derived_log_cap_keeps_the_same_log_link_fits_stable(exploding):
    loaded = load_data(exploding, "y")
    profile = profile_data(loaded, metric="rmse")
    outcome = Outcome(("poisson", "gamma", "mse"))
    params = {loss_id: CATALOG[loss_id].derive(profile, {}) for loss_id in ("poisson", "gamma", "mse")}
    validation = validate(loaded, profile, outcome, params=params, budget=20, folds=5, repeats=2,
                          epochs=300)
    worst_mse = max(validation.candidate("mse").fold_scores["rmse"])
    for loss_id in ("poisson", "gamma"):
        evidence = validation.candidate(loss_id)
        assert evidence.status == "tested" and np.isfinite(evidence.means["rmse"])
        assert max(evidence.fold_scores["rmse"]) < 10 * worst_mse


def test_the_library_reports_an_unstable_candidate_in_its_json(exploding, monkeypatch):
    from advisor.losses import _math

    monkeypatch.setattr(_math, "log_cap", lambda *args, **kwargs: None)  # the uncapped log link
    rec = advisor.suggest(exploding, target="y", metric="rmse", budget=10, seed=0, loss="poisson")
    payload = json.loads(rec.to_json())
    poisson = next(item for item in payload["candidates"] if item["loss"] == "poisson")
    assert poisson["verdict"] == "unstable" and poisson["evidence"]["unstable"]
    assert payload["recommendation"] != "poisson"
    assert payload["decision"]["basis"] in ("evidence", "rules_tiebreak")


def test_when_every_trained_loss_blew_up_or_failed_nothing_is_recommended():
    validation = measured({"tweedie": [1.0, 1.0, 900.0, 1.0, 1.0], "mse": [1.0] * 5},
                          status={"tweedie": "unstable", "mse": "failed"})
    decision = decide(Outcome(("tweedie", "mse")), validation)
    assert decision.basis == "none" and decision.confidence["level"] == "low"
    assert "do not use it" in decision.confidence["reason"]
    assert "none can be recommended safely" in decision.summary


def test_one_stable_candidate_on_too_few_splits_is_not_confirmed():
    validation = measured({"huber": [1.2, 1.3], "tweedie": [1.0, 50.0]},
                          status={"tweedie": "unstable"})
    decision = decide(Outcome(("huber", "tweedie")), validation)
    assert decision.basis == "too_small" and decision.verdicts["huber"] == "equivalent"
    assert decision.confidence["level"] == "low"


def test_judged_on_the_worst_group_the_worst_group_folds_decide():
    """The same all-rows scores, the other order on each fold's worst group: with the judge
    ``worst_group`` the leader, the margin and the comparisons read the worst-group folds."""
    from dataclasses import replace

    all_rows = {"cross_entropy": [0.50, 0.52, 0.49, 0.51, 0.50],
                "group_dro": [0.60, 0.61, 0.59, 0.62, 0.60]}
    worst = {"cross_entropy": (1.30, 1.25, 1.35, 1.28, 1.31),
             "group_dro": (0.80, 0.82, 0.79, 0.81, 0.80)}
    plain = measured(all_rows, metric="log_loss", default="cross_entropy")
    grouped = tuple(replace(item, fairness={
        "metric": "log_loss", "worst_group": max(worst[item.loss]), "worst_group_name": "b",
        "worst_group_folds": worst[item.loss], "per_group": {"a": 0.4, "b": max(worst[item.loss])},
        "demographic_parity_difference": 0.1, "equalized_odds_difference": 0.2})
        for item in plain.candidates)
    judged = replace(plain, candidates=grouped,
                     protocol=replace(plain.protocol, judge="worst_group"))
    outcome = Outcome(("cross_entropy", "group_dro"))
    assert decide(outcome, replace(plain, candidates=grouped)).pick == "cross_entropy"
    decision = decide(outcome, judged)
    assert decision.pick == "group_dro" and decision.basis == "evidence"
    assert (decision.judge, decision.worst_group) == ("worst_group", "b")
    assert decision.margin == pytest.approx(RELATIVE_MARGIN * np.mean(worst["group_dro"]))
    assert decision.versus["cross_entropy"].mean_difference == pytest.approx(
        np.mean(worst["group_dro"]) - np.mean(worst["cross_entropy"]), abs=1e-4)
    assert "judged on the worst group (b) of log_loss" in decision.summary
    assert decision.basis_dict()["worst_group"] == "b"
