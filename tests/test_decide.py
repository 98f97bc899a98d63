"""The decide stage: strong evidence overturns the rule order, ties keep it, vetoed stay last."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from advisor.decide import CLEAR_RULE_MARGIN, Decision, decide
from advisor.load import load_data
from advisor.losses import CATALOG, losses_for_task
from advisor.profile import profile_data
from advisor.validate import validate


@dataclass(frozen=True)
class Outcome:
    ranking: tuple[str, ...]
    scores: dict[str, float] = field(default_factory=dict)
    vetoes: dict[str, tuple] = field(default_factory=dict)


class FakeProxy:
    """good: a balanced logistic regression; prior: the class frequencies; raise: fails."""

    def __init__(self, mode: str, n_classes: int) -> None:
        self.mode, self.n_classes = mode, n_classes

    def fit(self, X, y, sample_weight=None):
        from sklearn.linear_model import LogisticRegression

        if self.mode == "raise":
            raise RuntimeError("boom")
        y = np.asarray(y, dtype=int)
        self.prior_ = np.bincount(y, minlength=self.n_classes) / len(y)
        self.model_ = LogisticRegression(class_weight="balanced").fit(X, y)
        return self

    def predict(self, X):
        if self.mode == "prior":
            return np.tile(self.prior_, (X.shape[0], 1))
        return self.model_.predict_proba(X)


def _fake_factory(loss, params, profile, *, seed, max_iter, hidden, modes):
    return FakeProxy(modes.get(loss.id, "good"), len(profile.classes))


def factory(**modes):
    return functools.partial(_fake_factory, modes=modes)


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    frame["y"] = (rng.random(n) < 1 / (1 + np.exp(-(2 * frame["x1"] - 1.5)))).astype(int)
    loaded = load_data(frame, "y")
    profile = profile_data(loaded, metric="balanced_accuracy")
    params = {loss_id: CATALOG[loss_id].derive(profile, {}) for loss_id in losses_for_task("binary")}
    return loaded, profile, params


def run(binary, outcome, **kwargs):
    loaded, profile, params = binary
    kwargs.setdefault("proxy_factory", factory())
    return validate(loaded, profile, outcome, params=params, budget=30, folds=5, repeats=1,
                    epochs=5, **kwargs)


# ----- without an experiment ---------------------------------------------------------------
def test_rules_only_keeps_the_rule_order_and_vetoes_last():
    outcome = Outcome(("focal", "cross_entropy", "hinge"),
                      scores={"focal": 3.0, "cross_entropy": 2.5, "hinge": 4.0},
                      vetoes={"hinge": ("sigmoid output",)})
    decision = decide(outcome, None)
    assert decision.order == ("focal", "cross_entropy", "hinge")
    assert decision.verdicts == {"focal": "not_tested", "cross_entropy": "not_tested",
                                 "hinge": "vetoed"}
    assert decision.pick == "focal" and not decision.validated
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


# ----- with an experiment ----------------------------------------------------------------------
def test_strong_evidence_overturns_the_rule_order(binary):
    # the rules prefer cross_entropy, whose proxy only predicts the prior: balanced accuracy 0.5
    outcome = Outcome(("cross_entropy", "weighted_cross_entropy"),
                      scores={"cross_entropy": 2.0, "weighted_cross_entropy": 1.0})
    validation = run(binary, outcome, proxy_factory=factory(cross_entropy="prior"))
    decision = decide(outcome, validation)
    assert decision.order == ("weighted_cross_entropy", "cross_entropy")
    assert decision.verdicts == {"weighted_cross_entropy": "confirmed",
                                 "cross_entropy": "overturned"}
    assert decision.confidence["level"] == "high"           # it beat the default significantly
    assert "cross_entropy" in decision.confidence["reason"]
    assert "overturned the rules' choice cross_entropy" in decision.summary
    assert decision.validated and decision.metric == "balanced_accuracy"


def test_ties_keep_the_rule_order(binary):
    # identical proxies: every fold ties exactly, so the rules decide
    outcome = Outcome(("weighted_cross_entropy", "focal", "cross_entropy"),
                      scores={"weighted_cross_entropy": 3.0, "focal": 2.0, "cross_entropy": 1.0})
    validation = run(binary, outcome, max_candidates=2)
    decision = decide(outcome, validation)
    assert decision.order == ("weighted_cross_entropy", "focal", "cross_entropy")
    assert decision.verdicts == {"weighted_cross_entropy": "confirmed", "focal": "tied",
                                 "cross_entropy": "tied"}
    assert decision.confidence["level"] == "medium"
    assert "not significantly better than the default cross_entropy" in decision.confidence["reason"]
    assert "was confirmed" in decision.summary


def test_tested_then_untested_then_failed_then_vetoed(binary):
    outcome = Outcome(("weighted_cross_entropy", "focal", "label_smoothing", "cross_entropy",
                       "generalized_cross_entropy", "hinge"),
                      scores={"weighted_cross_entropy": 5.0, "focal": 4.0, "label_smoothing": 3.0,
                              "cross_entropy": 2.0, "generalized_cross_entropy": 3.5, "hinge": 9.0},
                      vetoes={"hinge": ("sigmoid output",)})
    validation = run(binary, outcome, max_candidates=2,
                     proxy_factory=factory(focal="raise", cross_entropy="prior"))
    decision = decide(outcome, validation)
    assert decision.order == ("weighted_cross_entropy", "cross_entropy",  # tested
                              "generalized_cross_entropy", "label_smoothing",  # by rule score
                              "focal",  # failed
                              "hinge")  # vetoed
    assert decision.verdicts["focal"] == "failed"
    assert decision.verdicts["label_smoothing"] == "not_tested"
    assert decision.verdicts["hinge"] == "vetoed"
    assert "Failed: focal" in decision.summary


def test_every_candidate_failing_gives_low_confidence(binary):
    outcome = Outcome(("weighted_cross_entropy", "cross_entropy"))
    validation = run(binary, outcome, proxy_factory=factory(weighted_cross_entropy="raise",
                                                            cross_entropy="raise"))
    decision = decide(outcome, validation)
    assert set(decision.verdicts.values()) == {"failed"}
    assert decision.order == ("weighted_cross_entropy", "cross_entropy")
    assert decision.confidence["level"] == "low"
    assert "failed" in decision.summary


def test_decision_to_dict_is_json(binary):
    outcome = Outcome(("weighted_cross_entropy", "cross_entropy"))
    decision = decide(outcome, run(binary, outcome))
    assert isinstance(decision, Decision)
    payload = json.loads(json.dumps(decision.to_dict(), allow_nan=False))
    assert payload["pick"] == decision.order[0]
    assert set(payload) == {"pick", "order", "verdicts", "confidence", "summary", "validated",
                            "metric", "agreement"}
    assert set(payload["confidence"]) == {"level", "reason"}
    assert payload["agreement"]["n_candidates"] == 2
