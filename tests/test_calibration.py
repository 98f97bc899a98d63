"""Calibration in view: the expected calibration error (its scorer against a hand count and
against scikit-learn's reliability curve, near 0 when calibrated and large when over-confident),
the proper-score sentence of the summary and the temperature-scaling notice of the decision."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import Outcome
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, log_loss

from advisor import stats
from advisor.calibration import ECE_ABSOLUTE_MARGIN, calibration_margin
from advisor.decide import decide
from advisor.experiment.evidence import CandidateEvidence, Protocol, Validation
from advisor.experiment.metrics import METRIC_SPECS
from advisor.experiment.scoring import ECE_BINS, ScoringContext, metrics_for

BINARY = ScoringContext("binary", n_classes=2)


def ece(y, probabilities, context=BINARY) -> float:
    return METRIC_SPECS["ece"].score(np.asarray(y), np.asarray(probabilities, dtype=float), context)


# ----- the scorer -------------------------------------------------------------------------------
def test_ece_by_hand_weights_each_bins_gap_by_its_rows():
    # top-label confidences 0.9 (right) and 0.92 (wrong) share the bin (14/15 - 1/15, 14/15];
    # 0.62 (right) is alone in (9/15, 10/15]: (|1 - 1.82| + |1 - 0.62|) / 3 = 0.4
    probabilities = [[0.9, 0.1], [0.08, 0.92], [0.38, 0.62]]
    assert ece([0, 0, 1], probabilities) == pytest.approx((0.82 + 0.38) / 3)
    # three classes: the top label is what counts, whatever the other probabilities
    multiclass = [[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.2, 0.7, 0.1]]
    context = ScoringContext("multiclass", n_classes=3)
    assert ece([0, 2, 0], multiclass, context) == pytest.approx((0.5 + 0.2 + 0.7) / 3)
    assert ECE_BINS == 15


def test_ece_matches_sklearn_calibration_curve_on_a_binary_case():
    rng = np.random.default_rng(3)
    p1 = rng.beta(2, 2, size=400)
    y = (rng.uniform(size=400) < np.clip(1.3 * p1 - 0.15, 0, 1)).astype(int)
    probabilities = np.column_stack([1 - p1, p1])
    confidence, correct = probabilities.max(axis=1), probabilities.argmax(axis=1) == y
    accuracy, mean_confidence = calibration_curve(correct, confidence, n_bins=ECE_BINS, strategy="uniform")
    edges = np.linspace(0, 1, ECE_BINS + 1)
    rows = np.histogram(confidence, bins=edges)[0]      # no confidence sits on an edge here
    rows = rows[rows > 0]
    assert ece(y, probabilities) == pytest.approx(np.sum(rows / y.size * np.abs(accuracy - mean_confidence)))


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def test_calibrated_probabilities_have_ece_near_zero_and_over_confident_ones_a_large_one():
    rng = np.random.default_rng(0)
    n = 20_000
    logits = rng.normal(0, 1.5, size=(n, 4))
    truth = _softmax(logits)
    labels = np.array([rng.choice(4, p=row) for row in truth])  # drawn from the probabilities
    context = ScoringContext("multiclass", n_classes=4)
    assert ece(labels, truth, context) < 0.015
    sharpened = _softmax(logits / 0.3)                      # temperature 0.3: over-confident
    assert ece(labels, sharpened, context) > 0.15
    # the binary case alike, and the proper scores agree in direction
    p1 = rng.uniform(size=n)
    y = (rng.uniform(size=n) < p1).astype(int)
    calibrated = np.column_stack([1 - p1, p1])
    hard = np.where(p1 > 0.5, 0.98, 0.02)
    confident = np.column_stack([1 - hard, hard])
    assert ece(y, calibrated) < 0.015 < 0.2 < ece(y, confident)
    assert log_loss(y, calibrated) < log_loss(y, confident)
    assert brier_score_loss(y, p1) < brier_score_loss(y, hard)


def test_multilabel_ece_is_the_mean_of_the_labels_binary_ece():
    rng = np.random.default_rng(5)
    scores = rng.uniform(size=(300, 3))
    y = (rng.uniform(size=(300, 3)) < scores ** 2).astype(int)
    per_label = [ece(y[:, j], np.column_stack([1 - scores[:, j], scores[:, j]])) for j in range(3)]
    assert ece(y, scores, ScoringContext("multilabel", n_classes=3)) == pytest.approx(np.mean(per_label))


def test_ece_is_a_secondary_metric_of_every_probability_task_lower_is_better():
    spec = METRIC_SPECS["ece"]
    assert not spec.greater_is_better and spec.tasks == {"binary", "multiclass", "multilabel"}

    class Profile:
        def __init__(self, task):
            self.task, self.quantiles = task, ()

    for task in ("binary", "multiclass", "multilabel"):
        assert "ece" in metrics_for(Profile(task), "accuracy", np.zeros(4))
    assert "ece" not in metrics_for(Profile("ordinal"), "mae", np.zeros(4))
    with pytest.raises(ValueError, match="at least one row"):
        ece(np.array([], dtype=int), np.zeros((0, 2)))


# ----- the decision's words -------------------------------------------------------------------
def validation(means: dict[str, dict[str, float]], *, metric: str, task: str = "binary",
               default: str = "cross_entropy", folds: int = 5) -> Validation:
    """A Validation as the validator would build it: every candidate scored with these means
    on every metric (fold scores spread a little around them), the first the rules' choice."""
    greater = METRIC_SPECS[metric].greater_is_better
    offsets = np.linspace(-0.01, 0.01, folds)
    names = tuple(next(iter(means.values())))
    evidence = []
    for rank, (loss, values) in enumerate(means.items(), start=1):
        scores = {name: tuple(float(values[name] + offset) for offset in offsets) for name in names}
        evidence.append(CandidateEvidence(
            loss=loss, rule_rank=rank, roles=("rules", "default") if loss == default else ("rules",),
            status="tested", failure=None, fold_scores=scores,
            means={name: float(np.mean(scores[name])) for name in names}, std=0.01,
            ci_low=values[metric] - 0.01, ci_high=values[metric] + 0.01, epochs_run=(),
            epoch_cap_folds=0))
    losses = list(means)
    comparisons = tuple(stats.compare_paired(a, evidence[i].fold_scores[metric], b,
                                             evidence[j].fold_scores[metric], greater_is_better=greater,
                                             test_train_ratio=1 / (folds - 1))
                        for i, a in enumerate(losses) for j, b in enumerate(losses) if i < j)
    sign = 1 if greater else -1
    empirical = tuple(sorted(losses, key=lambda loss: -sign * means[loss][metric]))
    protocol = Protocol(
        task=task, metric=metric, greater_is_better=greater,
        metrics=(metric, *(name for name in names if name != metric)), candidates=tuple(losses),
        rows_available=1000, sample_rows=1000, stratified_on="y", folds=folds, repeats=1,
        splits_planned=folds, splits_used=folds, test_train_ratio=1 / (folds - 1), epochs=50,
        hidden=(64,), solver="adam", seed=0, alpha=0.05, budget=30, backend="loky", n_jobs=1,
        workers=1, within_budget=True, reasons=())
    return Validation(protocol=protocol, candidates=tuple(evidence), comparisons=comparisons,
                      rule_order=tuple(losses), empirical_order=empirical, rule_choice=losses[0],
                      agreement=stats.kendall_agreement(losses, empirical), notices=())


def test_a_reweighted_pick_worse_calibrated_than_the_default_gets_the_temperature_notice():
    evidence = validation({
        "weighted_cross_entropy": {"balanced_accuracy": 0.77, "log_loss": 0.47, "brier": 0.145, "ece": 0.09},
        "cross_entropy": {"balanced_accuracy": 0.50, "log_loss": 0.064, "brier": 0.014, "ece": 0.003},
    }, metric="balanced_accuracy")
    decision = decide(Outcome(("weighted_cross_entropy", "cross_entropy")), evidence)
    assert decision.pick == "weighted_cross_entropy"
    [notice] = decision.notices
    assert notice.code == "decision.temperature_scaling"
    assert "expected calibration error 0.09 against 0.003" in notice.message
    assert "log loss 0.47 against 0.064, Brier 0.145 against 0.014" in notice.message
    assert "temperature scaling on held-out data" in notice.message
    assert "divide the logits by T" in notice.message
    assert "proper scoring rule" not in decision.summary


@pytest.mark.parametrize("pick_ece, default_ece", [(0.025, 0.01), (0.09, 0.07), (0.01, 0.05)])
def test_no_temperature_notice_within_the_margin_or_when_the_pick_is_better_calibrated(
        pick_ece, default_ece):
    assert pick_ece - default_ece <= calibration_margin(default_ece)
    evidence = validation({
        "focal": {"balanced_accuracy": 0.77, "log_loss": 0.3, "brier": 0.1, "ece": pick_ece},
        "cross_entropy": {"balanced_accuracy": 0.50, "log_loss": 0.2, "brier": 0.05, "ece": default_ece},
    }, metric="balanced_accuracy")
    decision = decide(Outcome(("focal", "cross_entropy")), evidence)
    assert decision.pick == "focal" and decision.notices == ()


def test_no_temperature_notice_when_the_default_is_the_pick():
    evidence = validation({
        "cross_entropy": {"balanced_accuracy": 0.80, "log_loss": 0.3, "brier": 0.1, "ece": 0.2},
        "focal": {"balanced_accuracy": 0.60, "log_loss": 0.2, "brier": 0.05, "ece": 0.01},
    }, metric="balanced_accuracy")
    decision = decide(Outcome(("cross_entropy", "focal")), evidence)
    assert decision.pick == "cross_entropy" and decision.notices == ()


def test_the_margin_is_absolute_for_small_errors_and_relative_for_large_ones():
    assert calibration_margin(0.01) == ECE_ABSOLUTE_MARGIN
    assert calibration_margin(0.2) == pytest.approx(0.1)


@pytest.mark.parametrize("metric, words", [("log_loss", "Judged on log loss, a proper scoring rule"),
                                           ("brier", "Judged on the Brier score, a proper scoring rule")])
def test_the_summary_says_when_the_metric_is_a_proper_scoring_rule(metric, words):
    evidence = validation({
        "cross_entropy": {"log_loss": 0.30, "brier": 0.10, "ece": 0.02, "balanced_accuracy": 0.7},
        "focal": {"log_loss": 0.40, "brier": 0.14, "ece": 0.08, "balanced_accuracy": 0.7},
    }, metric=metric)
    decision = decide(Outcome(("cross_entropy", "focal")), evidence)
    assert decision.pick == "cross_entropy"
    assert words in decision.summary and "no class re-weighting" in decision.summary
    assert decision.notices == ()
    regression = dataclasses.replace(evidence, protocol=dataclasses.replace(evidence.protocol,
                                                                            task="proportion"))
    assert "proper scoring rule" not in decide(Outcome(("cross_entropy", "focal")), regression).summary
