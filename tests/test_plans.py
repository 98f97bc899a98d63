"""Plans: cross-entropy plus a decision rule tuned on validation data.

Measured through the real proxy: on an imbalanced binary target the threshold tuned for
balanced accuracy beats 0.5 on fresh rows; on a long-tailed multiclass target the post-hoc
logit adjustment beats the plain argmax. The guard keeps the plain rule on too few
validation rows and says so; the experiment and the CLI carry the tuned rule into the JSON.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import pin_protocol
from sklearn.metrics import balanced_accuracy_score

import advisor
from advisor.cli import main
from advisor.experiment.decision import TunedRule, tune_rule, tuning_split
from advisor.experiment.metrics import METRIC_SPECS
from advisor.experiment.scoring import ScoringContext
from advisor.load import load_data
from advisor.losses import CATALOG
from advisor.profile import profile_data
from advisor.proxy import make_proxy

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _profile(X: np.ndarray, y: np.ndarray, metric: str):
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["y"] = y
    return profile_data(load_data(frame, "y"), metric=metric)


def _plan_fit(loss_id: str, X: np.ndarray, profile, seed: int) -> tuple[object, TunedRule]:
    """A plan as the experiment runs it: fit on the training rows less a stratified fifth,
    tune the rule on that fifth for the profile's metric."""
    loss = CATALOG[loss_id]
    params = loss.derive(profile)
    fit, tune = tuning_split(profile.y, profile.task, seed)
    proxy = make_proxy(loss, params, profile, seed=seed, max_iter=80, hidden=(32,),
                       learning_rate_init=0.01).fit(X[fit], profile.y[fit])
    tuned = tune_rule(loss.decision.rule, proxy.predict(X[tune]), profile.y[tune],
                      metric=profile.facts["metric"], task=profile.task,
                      priors=params.get("priors"))
    return proxy, tuned


def imbalanced_binary(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """About 8 % positives, whose log-odds grow with the first two features."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    logit = 1.5 * X[:, 0] - X[:, 1] - 3.0
    return X, (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)


def test_the_tuned_threshold_beats_one_half_on_balanced_accuracy():
    for seed in (0, 1):
        X, y = imbalanced_binary(1500, seed)
        X_test, y_test = imbalanced_binary(3000, seed + 100)
        profile = _profile(X, y, "balanced_accuracy")
        proxy, tuned = _plan_fit("cross_entropy+threshold", X, profile, seed)
        assert tuned.kept_plain is None and tuned.rows == 300
        (threshold,) = tuned.values
        assert 0.02 < threshold < 0.4   # rare positives: well below 0.5
        positive = proxy.predict(X_test)[:, 1]
        plain = balanced_accuracy_score(y_test, positive >= 0.5)
        tuned_score = balanced_accuracy_score(y_test, positive >= threshold)
        assert tuned_score > plain + 0.08, (plain, tuned_score)
        # the scorers read the same rule from its logit offset
        context = ScoringContext("binary", n_classes=2, decision_offsets=tuned.offsets)
        scored = METRIC_SPECS["balanced_accuracy"].score(y_test, proxy.predict(X_test), context)
        assert scored == pytest.approx(tuned_score)


#: A long tail of five classes, 40 : 1 between the largest and the smallest.
LONG_TAIL_COUNTS = (400, 150, 60, 25, 10)


def long_tail(counts: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian classes around fixed centres (the same for every draw), ``counts`` rows each."""
    centres = np.random.default_rng(99).normal(0.0, 1.2, (len(counts), 4))
    y = np.repeat(np.arange(len(counts)), counts)
    return centres[y] + np.random.default_rng(seed).normal(size=(len(y), 4)), y


def test_logit_adjustment_beats_plain_cross_entropy_on_a_long_tail():
    """Judged on 200 fresh rows per class: argmax_c (log p_c - tau log prior_c) with the tau
    tuned on the held-out fifth against the plain argmax of the same network."""
    for seed in (0, 1):
        X, y = long_tail(LONG_TAIL_COUNTS, seed)
        X_test, y_test = long_tail((200,) * 5, seed + 100)
        profile = _profile(X, np.array(list("abcde"))[y], "balanced_accuracy")
        assert profile.task == "multiclass" and list(profile.y[:3]) == list(y[:3])
        proxy, tuned = _plan_fit("cross_entropy+logit_adjustment", X, profile, seed)
        assert tuned.kept_plain is None and tuned.values[0] > 0.0
        probabilities = proxy.predict(X_test)
        context = ScoringContext("multiclass", n_classes=5)
        metric = METRIC_SPECS["balanced_accuracy"]
        plain = metric.score(y_test, probabilities, context)
        adjusted = metric.score(y_test, probabilities,
                                ScoringContext("multiclass", n_classes=5,
                                               decision_offsets=tuned.offsets))
        assert adjusted > plain + 0.08, (plain, adjusted, tuned.values)


def test_the_guard_keeps_the_plain_rule_on_few_rows_or_for_accuracy():
    rng = np.random.default_rng(0)
    positive = rng.random(40)
    probabilities = np.column_stack([1 - positive, positive])
    labels = (rng.random(40) < positive).astype(int)
    few = tune_rule("threshold", probabilities, labels, metric="balanced_accuracy", task="binary")
    assert few.values == (0.5,) and few.offsets == (0.0,) and "only 40 validation rows" in few.kept_plain
    many = np.tile(probabilities, (50, 1)), np.tile(labels, 50)
    accuracy = tune_rule("threshold", *many, metric="accuracy", task="binary")
    assert accuracy.values == (0.5,) and "10,000" in accuracy.kept_plain
    assert tune_rule("threshold", *many, metric="balanced_accuracy", task="binary").kept_plain is None


def test_too_few_validation_rows_keep_the_plain_rule_with_a_notice():
    """150 rows in 2 folds: 75 training rows, 15 of them held out to tune: too few."""
    X, y = imbalanced_binary(150, 3)
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y)
    with pytest.MonkeyPatch.context() as patch:
        pin_protocol(patch, sample_rows=150, folds=2, repeats=1, epochs=5)
        result = advisor.suggest(frame, "y", metric="balanced_accuracy",
                                 loss="cross_entropy+threshold", n_jobs=1)
    plan = next(item for item in result.candidates if item.loss == "cross_entropy+threshold")
    assert plan.decision.rule == "threshold" and plan.decision.threshold == (0.5,)
    assert plan.decision.splits_tuned == 2 and plan.decision.splits_plain == 2
    assert plan.evidence.decision_folds == ((0.5,), (0.5,))
    notices = [item.message for item in result.warnings if item.code == "validation.plain_rule_kept"]
    assert notices == ["cross_entropy+threshold kept the plain 0.5 threshold on 2 of 2 splits: "
                       "only 15 validation rows to tune on (at least 50, as AutoGluon requires), "
                       "so a tuned rule would fit their noise"]


def test_the_cli_lists_a_threshold_plan_for_balanced_accuracy(monkeypatch):
    pin_protocol(monkeypatch, sample_rows=900, folds=3, repeats=1, epochs=5)
    result = CliRunner().invoke(main, ["suggest", "example:poor_health", "--metric",
                                       "balanced_accuracy", "--format", "json", "--quiet",
                                       "--jobs", "1"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    plans = [item for item in payload["candidates"]
             if item["decision"] and item["decision"]["rule"] == "threshold"]
    assert [item["loss"] for item in plans] == ["cross_entropy+threshold"]
    decision = plans[0]["decision"]
    assert decision["metric"] == "balanced_accuracy" and decision["splits_tuned"] == 3
    (threshold,) = decision["threshold"]
    assert 0.0 < threshold < 0.5 and decision["splits_plain"] == 0
    assert "validation split" in decision["how"]
    assert plans[0]["evidence"]["status"] == "tested"
    assert all(item["decision"] is None for item in payload["candidates"] if "+" not in item["loss"])
    assert "Of the plans (a loss plus a decision rule)" in payload["summary"]
