"""Long-tail and F1 losses: logit_adjusted, ldam, poly1 and soft_f1.

The catalog-wide checks (finite-difference gradients, a batch loss's included; snippets in the
real frameworks; training through the proxy) walk these losses with the others in
``test_losses.py``, ``test_proxy.py`` and ``test_snippets_frameworks.py``. Here are their own
properties: each is its paper's formula (against scipy / scikit-learn), the derivations
follow the class counts, soft_f1 depends on the batch, weighs its rows and bounds its blocks,
and on a long-tailed multiclass target logit adjustment lifts the balanced accuracy over
plain cross-entropy through the real proxy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, log_softmax, softmax
from sklearn.metrics import balanced_accuracy_score, f1_score

from advisor.load import load_data
from advisor.losses import CATALOG
from advisor.losses._f1 import F1_BLOCK_ROWS
from advisor.profile import profile_data
from advisor.proxy import make_proxy

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: The synthetic long tail: five classes, 40 : 1 between the largest and the smallest.
LONG_TAIL_COUNTS = (400, 150, 60, 25, 10)


def long_tail(counts: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian classes around fixed centres (the same for every draw), ``counts`` rows each."""
    centres = np.random.default_rng(99).normal(0.0, 1.2, (len(counts), 4))
    y = np.repeat(np.arange(len(counts)), counts)
    return centres[y] + np.random.default_rng(seed).normal(size=(len(y), 4)), y


def profile_of(X: np.ndarray, y: np.ndarray):
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    return profile_data(load_data(frame.assign(target=np.array(list("abcde"))[y]), target="target"))


def one_hot(y: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k)[y]


# ----- the papers' formulas -----------------------------------------------------------------------
def test_logit_adjusted_is_cross_entropy_on_shifted_logits_and_predicts_unshifted():
    X, y = long_tail(LONG_TAIL_COUNTS, seed=0)
    profile = profile_of(X, y)
    loss = CATALOG["logit_adjusted"]
    params = loss.derive(profile)
    assert params["tau"] == 1.0
    np.testing.assert_allclose(params["priors"], np.array(LONG_TAIL_COUNTS) / sum(LONG_TAIL_COUNTS), rtol=1e-3)
    math_ = loss.bind(params, "multiclass")
    raw = np.random.default_rng(1).normal(size=(len(y), 5))
    value, _ = math_.loss_gradient(raw, one_hot(y, 5))
    shifted = raw + np.log(params["priors"])
    np.testing.assert_allclose(value, -log_softmax(shifted, axis=1)[np.arange(len(y)), y], rtol=1e-12)
    np.testing.assert_allclose(math_.predict(raw), softmax(raw, axis=1), rtol=1e-12)
    plain = loss.bind({**params, "tau": 0.0}, "multiclass").loss_gradient(raw, one_hot(y, 5))[0]
    np.testing.assert_allclose(plain, CATALOG["cross_entropy"].bind({}, "multiclass")
                               .loss_gradient(raw, one_hot(y, 5))[0], rtol=1e-12)


def test_logit_adjusted_on_one_logit_shifts_by_the_prior_log_odds():
    math_ = CATALOG["logit_adjusted"].bind({"priors": 0.2, "tau": 1.0}, "binary")
    raw = np.array([[0.0], [1.5], [-2.0]])
    target = np.array([[1.0], [0.0], [1.0]])
    value, _ = math_.loss_gradient(raw, target)
    p = expit(raw[:, 0] + np.log(0.2 / 0.8))
    np.testing.assert_allclose(value, -(target[:, 0] * np.log(p) + (1 - target[:, 0]) * np.log(1 - p)))
    np.testing.assert_allclose(math_.predict(raw)[:, 1], expit(raw[:, 0]))


def test_ldam_margins_follow_the_counts_and_the_loss_is_scaled_margin_cross_entropy():
    X, y = long_tail(LONG_TAIL_COUNTS, seed=0)
    loss = CATALOG["ldam"]
    params = loss.derive(profile_of(X, y))
    margins = np.asarray(params["margins"])
    assert margins.max() == pytest.approx(0.5) and np.argmax(margins) == 4  # the rarest class
    np.testing.assert_allclose(margins, 0.5 * (10 / np.array(LONG_TAIL_COUNTS)) ** 0.25, rtol=1e-3)
    assert params["scale"] == 30.0 and len(params["drw_class_weights"]) == 5
    assert sum(params["drw_class_weights"]) == pytest.approx(5.0, rel=1e-3)
    raw = np.random.default_rng(2).normal(0.0, 0.3, size=(len(y), 5))
    math_ = loss.bind(params, "multiclass")
    value, _ = math_.loss_gradient(raw, one_hot(y, 5))
    expected = -log_softmax(30.0 * (raw - one_hot(y, 5) * margins), axis=1)[np.arange(len(y)), y]
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    np.testing.assert_allclose(math_.predict(raw), softmax(30.0 * raw, axis=1), rtol=1e-12)


def test_binary_ldam_is_the_two_class_form_on_logits_zero_and_z():
    margins = [0.3, 0.5]
    raw = np.random.default_rng(3).normal(0.0, 0.2, size=(40, 1))
    labels = (np.arange(40) % 3 == 0).astype(int)
    one_logit = CATALOG["ldam"].bind({"margins": margins}, "binary")
    two_classes = CATALOG["ldam"].bind({"margins": margins}, "multiclass")
    logits = np.column_stack([np.zeros(40), raw[:, 0]])
    np.testing.assert_allclose(one_logit.loss_gradient(raw, labels[:, None].astype(float))[0],
                               two_classes.loss_gradient(logits, one_hot(labels, 2))[0], rtol=1e-10)


def test_poly1_adds_epsilon_times_one_minus_p_t():
    rng = np.random.default_rng(4)
    raw, y = rng.normal(size=(30, 4)), rng.integers(0, 4, 30)
    ce = -log_softmax(raw, axis=1)[np.arange(30), y]
    p_t = softmax(raw, axis=1)[np.arange(30), y]
    for epsilon in (-1.0, 0.0, 2.0):
        value, _ = CATALOG["poly1"].bind({"epsilon": epsilon}, "multiclass").loss_gradient(raw, one_hot(y, 4))
        np.testing.assert_allclose(value, ce + epsilon * (1 - p_t), rtol=1e-12)
    assert CATALOG["poly1"].derive(profile_of(*long_tail(LONG_TAIL_COUNTS, 0))) == {"epsilon": 1.0}


# ----- soft_f1: a batch loss ------------------------------------------------------------------------
def soft_f1(raw: np.ndarray, target: np.ndarray):
    return CATALOG["soft_f1"].bind({}, "multilabel").loss_gradient(raw, target)


def test_soft_f1_is_one_minus_f1_at_hard_probabilities_and_spreads_the_batch_loss():
    rng = np.random.default_rng(5)
    target = (rng.random((50, 3)) < [0.5, 0.3, 0.1]).astype(float)
    target[0] = 1.0
    predicted = (rng.random((50, 3)) < 0.4).astype(float)
    value, _ = soft_f1(np.where(predicted == 1, 60.0, -60.0), target)
    np.testing.assert_allclose(value, 1 - f1_score(target, predicted, average="macro"), rtol=1e-9)
    raw = rng.normal(size=(50, 3))
    value, _ = soft_f1(raw, target)
    p = expit(raw)
    tp, fp, fn = (p * target).sum(0), (p * (1 - target)).sum(0), ((1 - p) * target).sum(0)
    assert np.ptp(value) == 0.0  # every row carries the batch's loss
    assert value[0] == pytest.approx(1 - np.mean(2 * tp / (2 * tp + fp + fn)), rel=1e-12)
    moved = target.copy()
    moved[1:, 0] = 1 - moved[1:, 0]  # other rows only: row 0's value changes
    assert soft_f1(raw, moved)[0][0] != pytest.approx(value[0])


def test_soft_f1_weights_count_rows_and_large_calls_are_cut_into_blocks():
    rng = np.random.default_rng(6)
    raw, target = rng.normal(size=(20, 2)), (rng.random((20, 2)) < 0.4).astype(float)
    math_ = CATALOG["soft_f1"].bind({}, "multilabel")
    weights = np.ones(20)
    weights[:5] = 2.0  # as if the first five rows were there twice
    doubled = np.r_[np.arange(20), np.arange(5)]
    value, grad = math_.loss_gradient(raw, target, weights)
    same, same_grad = math_.loss_gradient(raw[doubled], target[doubled])
    assert value[0] == pytest.approx(same[0], rel=1e-12)
    # the gradient of a duplicated row is the sum of its two copies'
    np.testing.assert_allclose(grad[:5], same_grad[:5] + same_grad[20:], rtol=1e-10)
    np.testing.assert_allclose(grad[5:], same_grad[5:20], rtol=1e-10)
    n = 2 * F1_BLOCK_ROWS + 500
    raw, target = rng.normal(size=(n, 2)), (rng.random((n, 2)) < 0.3).astype(float)
    value, grad = math_.loss_gradient(raw, target)
    blocks = np.array_split(np.arange(n), 3)
    assert max(block.size for block in blocks) <= F1_BLOCK_ROWS
    for block in blocks:
        np.testing.assert_allclose(value[block], math_.loss_gradient(raw[block], target[block])[0])
    assert grad.shape == (n, 2) and np.isfinite(grad).all()


# ----- through the real proxy -----------------------------------------------------------------------
def test_logit_adjustment_lifts_the_balanced_accuracy_of_a_long_tail():
    """Trained on 400 / 150 / 60 / 25 / 10 rows, judged on 200 fresh rows per class."""
    for seed in (0, 1):
        X, y = long_tail(LONG_TAIL_COUNTS, seed)
        X_test, y_test = long_tail((200,) * 5, seed + 100)
        profile = profile_of(X, y)
        scores = {}
        for loss_id in ("cross_entropy", "logit_adjusted"):
            loss = CATALOG[loss_id]
            proxy = make_proxy(loss, loss.derive(profile), profile, seed=0, max_iter=60, hidden=(32,),
                               learning_rate_init=0.01).fit(X, profile.y)
            curve = proxy.model_.loss_curve_
            assert curve[-1] < 0.7 * curve[0]
            scores[loss_id] = balanced_accuracy_score(y_test, proxy.predict_class(X_test))
        assert scores["logit_adjusted"] > scores["cross_entropy"] + 0.05, scores


def rare_labels(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three labels of a logistic model, 6 to 19 % positive (fixed coefficients)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    logits = X @ np.random.default_rng(5).normal(size=(5, 3)) - np.array([2.5, 3.0, 3.5])
    return X, (rng.random((n, 3)) < expit(logits)).astype(int)


def test_soft_f1_lifts_the_macro_f1_of_rare_labels_over_cross_entropy():
    """Trained on 1,200 rows, judged at the 0.5 threshold on 2,000 fresh rows."""
    for seed in (0, 1):
        X, Y = rare_labels(1200, seed)
        X_test, Y_test = rare_labels(2000, seed + 50)
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)]).assign(l0=Y[:, 0], l1=Y[:, 1], l2=Y[:, 2])
        profile = profile_data(load_data(frame, target=["l0", "l1", "l2"]))
        assert profile.task == "multilabel"
        scores = {}
        for loss_id in ("cross_entropy", "soft_f1"):
            loss = CATALOG[loss_id]
            proxy = make_proxy(loss, loss.derive(profile), profile, seed=0, max_iter=60, hidden=(32,),
                               learning_rate_init=0.01).fit(X, profile.y)
            predicted = (proxy.predict(X_test) > 0.5).astype(int)
            scores[loss_id] = f1_score(Y_test, predicted, average="macro", zero_division=0)
        assert scores["soft_f1"] > scores["cross_entropy"] + 0.02, scores
