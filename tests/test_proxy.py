"""Tests of the scikit-learn MLP proxy adapter (advisor/proxy.py).

Reference losses written here implement the catalog contract independently of the
catalog, so the adapter is checked against stock scikit-learn with known formulas; the
catalog tests further down walk every entry of ``advisor.losses.CATALOG`` on every task it
applies to, with profiles built by the advisor's own load and profile stages.
"""

from __future__ import annotations

import inspect
import pickle

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import clone
from sklearn.neural_network import MLPClassifier, MLPRegressor

from advisor.errors import AdvisorError, SklearnCompatibilityError
from advisor.load import load_data
from advisor.losses import CATALOG, LossMath
from advisor.losses._link import LOG
from advisor.profile import Profile, profile_data
from advisor.proxy import (
    EXPECTED_PRIVATE_SIGNATURES,
    SUPPORTED_SKLEARN,
    LossMLP,
    ProxyDivergedError,
    check_sklearn_compatibility,
    make_proxy,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ----- reference losses (the contract, with textbook formulas) -------------------------------
class RefLoss(LossMath):
    """Shared defaults of the reference losses; built unbound, bound by ``bind``."""

    standardize_target = False

    ref_id = "ref_loss"

    def __init__(self, params=None, task="", loss_id=""):
        super().__init__(params or {}, task, loss_id=loss_id or self.ref_id)

    def bind(self, params, task):
        """What the proxy asks of a catalog entry: the math for these parameters and task."""
        return type(self)(params, task, loss_id=self.id)


class RefSoftmaxCE(RefLoss):
    """Softmax cross-entropy over one logit per class."""

    ref_id = "ref_softmax_ce"

    def n_outputs(self, profile):
        return len(profile.classes)

    def encode_target(self, y, profile):
        return np.eye(len(profile.classes))[np.asarray(y, dtype=int)]

    def loss_gradient(self, raw, target):
        shifted = raw - raw.max(axis=1, keepdims=True)
        log_prob = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -(target * log_prob).sum(axis=1), np.exp(log_prob) - target

    def predict(self, raw):
        exp = np.exp(raw - raw.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    def init_bias(self, target):
        log_prior = np.log(np.clip(target.mean(axis=0), 1e-6, None))
        return log_prior - log_prior.mean()


class RefSigmoidBCE(RefLoss):
    """One logit per label (binary: one output, like scikit-learn's logistic output)."""

    ref_id = "ref_sigmoid_bce"

    def n_outputs(self, profile):
        return 1 if profile.task == "binary" else len(profile.classes)

    def encode_target(self, y, profile):
        y = np.asarray(y, dtype=float)
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def loss_gradient(self, raw, target):
        per_sample = (np.logaddexp(0.0, raw) - target * raw).sum(axis=1)
        return per_sample, 1.0 / (1.0 + np.exp(-raw)) - target

    def predict(self, raw):
        prob = 1.0 / (1.0 + np.exp(-raw))
        return np.column_stack([1.0 - prob[:, 0], prob[:, 0]]) if raw.shape[1] == 1 else prob


class RefSquaredError(RefLoss):
    """Half squared error, summed over outputs (the catalog contract); gradient to match."""

    ref_id = "ref_squared_error"

    standardize_target = True

    def n_outputs(self, profile):
        return profile.y.shape[1] if profile.y.ndim == 2 else 1

    def encode_target(self, y, profile):
        y = np.asarray(y, dtype=float)
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def loss_gradient(self, raw, target):
        diff = raw - target
        return 0.5 * np.sum(diff * diff, axis=1), diff

    def predict(self, raw):
        return raw[:, 0] if raw.shape[1] == 1 else raw


class RefHuber(RefSquaredError):
    """Huber with threshold ``delta`` in target units (rescaled when standardised)."""

    ref_id = "ref_huber"

    def loss_gradient(self, raw, target):
        delta = self.params["delta"]
        diff = raw - target
        small = np.abs(diff) <= delta
        per = np.where(small, 0.5 * diff * diff, delta * (np.abs(diff) - 0.5 * delta))
        return per.sum(axis=1), np.clip(diff, -delta, delta)

    def for_scale(self, scale):
        return type(self)({**self.params, "delta": self.params["delta"] / scale}, self.task, self.id)


class RefPinball(RefSquaredError):
    """Pinball loss at level ``tau``: its minimiser is the tau-quantile."""

    ref_id = "ref_pinball"

    def loss_gradient(self, raw, target):
        tau = self.params["tau"]
        err = target - raw
        per = np.maximum(tau * err, (tau - 1.0) * err)
        return per.sum(axis=1), (err < 0).astype(float) - tau


class RefPoisson(RefLoss):
    """Half Poisson deviance with a log link (raw output = log of the mean)."""

    ref_id = "ref_poisson"
    LINK = LOG

    def n_outputs(self, profile):
        return 1

    def encode_target(self, y, profile):
        return np.asarray(y, dtype=float).reshape(-1, 1)

    def loss_gradient(self, raw, target):
        mean = np.exp(raw)
        log_t = np.log(np.where(target > 0, target, 1.0))
        per = (mean - target * raw + target * log_t - target).sum(axis=1)
        return per, mean - target

    def predict(self, raw):
        return np.exp(raw[:, 0])

    def init_bias(self, target):
        return np.log(target.mean(axis=0))


# ----- synthetic canonical cases ---------------------------------------------------------------
def make_profile(task: str, y: np.ndarray, classes=(), quantiles=()) -> Profile:
    counts = tuple(int(c) for c in np.bincount(y)) if task in ("binary", "multiclass") else ()
    return Profile(task=task, task_reason="synthetic test case", facts={}, classes=tuple(classes),
                   class_counts=counts, y=y, quantiles=tuple(quantiles))


def features(n: int = 600, d: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


def multiclass_case(n=600, seed=0):
    X = features(n, seed=seed)
    w = np.random.default_rng(seed + 1).normal(size=(X.shape[1], 3))
    y = (X @ w + 0.3 * np.random.default_rng(seed + 2).normal(size=(n, 3))).argmax(axis=1)
    return X, y, make_profile("multiclass", y, ("a", "b", "c"))


def binary_case(n=600, seed=0):
    X = features(n, seed=seed)
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 - 0.5 > 0).astype(int)
    return X, y, make_profile("binary", y, ("no", "yes"))


def multilabel_case(n=600, seed=0):
    X = features(n, seed=seed)
    y = np.column_stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0.5, X[:, 3] > 1.0]).astype(float)
    return X, y, make_profile("multilabel", y, ("l1", "l2", "l3"))


def regression_case(n=600, seed=0, offset=1000.0, spread=250.0):
    X = features(n, seed=seed)
    signal = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.5 * X[:, 3]
    y = offset + spread * (signal + 0.1 * np.random.default_rng(seed + 3).normal(size=n))
    return X, y, make_profile("regression", y)


def count_case(n=600, seed=0):
    X = features(n, seed=seed)
    y = np.random.default_rng(seed + 4).poisson(np.exp(1.0 + 0.6 * X[:, 0] + 0.3 * X[:, 1]))
    return X, y.astype(float), make_profile("count", y.astype(float))


def fresh_buffers(model, X):
    """The work lists scikit-learn's _fit hands to _backprop."""
    activations = [X] + [None] * (model.n_layers_ - 1)
    deltas = [None] * (model.n_layers_ - 1)
    coef_grads = [np.empty_like(c) for c in model.coefs_]
    intercept_grads = [np.empty_like(b) for b in model.intercepts_]
    return activations, deltas, coef_grads, intercept_grads


def backprop(model, X, target, sample_weight=None):
    """Loss and gradients of ``model`` at its current weights, copied out of the buffers."""
    loss, coef_grads, intercept_grads = model._backprop(X, target, sample_weight, *fresh_buffers(model, X))
    return loss, [g.copy() for g in coef_grads], [g.copy() for g in intercept_grads]


def copy_weights(source, destination) -> None:
    destination.coefs_ = [c.copy() for c in source.coefs_]
    destination.intercepts_ = [b.copy() for b in source.intercepts_]


# ----- compatibility with scikit-learn's private API ---------------------------------------
def test_private_mlp_methods_have_the_signatures_the_adapter_overrides():
    version = sklearn.__version__
    for name, expected in EXPECTED_PRIVATE_SIGNATURES.items():
        method = getattr(MLPRegressor, name, None)
        assert method is not None, f"scikit-learn {version}: MLPRegressor.{name} is gone"
        actual = str(inspect.signature(method))
        assert actual == expected, (
            f"scikit-learn {version}: private MLPRegressor.{name}{actual} differs from the "
            f"{name}{expected} that advisor/proxy.py overrides; update the adapter")
    check_sklearn_compatibility()


def test_a_changed_private_signature_is_reported_with_method_and_version(monkeypatch):
    def changed_backprop(self, X, y, activations, deltas, coef_grads, intercept_grads):
        raise AssertionError("never called")

    monkeypatch.setattr(MLPRegressor, "_backprop", changed_backprop)
    check_sklearn_compatibility.cache_clear()
    try:
        with pytest.raises(SklearnCompatibilityError, match=r"scikit-learn .*_backprop") as info:
            check_sklearn_compatibility()
        message = str(info.value)
        assert sklearn.__version__ in message and SUPPORTED_SKLEARN in message
        assert "\n" not in message and isinstance(info.value, AdvisorError)
    finally:
        monkeypatch.undo()
        check_sklearn_compatibility.cache_clear()
    check_sklearn_compatibility()


# ----- equivalence with stock scikit-learn -------------------------------------------------
def real_profile(X: np.ndarray, y: np.ndarray, task: str, quantiles=()) -> Profile:
    """The profile the advisor itself builds for this target (load and profile stages); a
    survival target (duration, event) is given as a user would, with its indicator."""
    if task == "survival":
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
        frame["time"], frame["event"] = y[:, 0], y[:, 1].astype(int)
        return profile_data(load_data(frame, "time", event="event"), task=task)
    return profile_data(load_data(X, y=y), task=task, quantiles=quantiles)


def loss_and_params(source: str, reference: RefLoss, catalog_id: str, profile: Profile):
    """The reference loss (no parameters) or the catalog entry with its derived parameters."""
    if source == "reference":
        return reference, {}
    loss = CATALOG[catalog_id]
    return loss, loss.derive(profile, {})


def bound(loss, params, profile: Profile) -> LossMath:
    """The loss's math for ``params`` on the profile's task, as the proxy binds it."""
    return loss.bind(params, profile.task)


@pytest.mark.parametrize("source", ["reference", "catalog"])
@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_cross_entropy_matches_stock_mlp_classifier(source, weighted):
    X, y, _ = multiclass_case(n=300)
    profile = real_profile(X, y, "multiclass")
    loss, params = loss_and_params(source, RefSoftmaxCE(), "cross_entropy", profile)
    sample_weight = np.random.default_rng(5).uniform(0.2, 3.0, len(y)) if weighted else None
    stock = MLPClassifier(hidden_layer_sizes=(16, 8), max_iter=3, alpha=0.01, random_state=0).fit(X, y)
    target = np.eye(3)[y]
    proxy = LossMLP(bound(loss, params, profile), hidden_layer_sizes=(16, 8), max_iter=1, alpha=0.01,
                    random_state=1).fit(X, target)
    copy_weights(stock, proxy)
    assert stock.out_activation_ == "softmax" and proxy.out_activation_ == "identity"

    stock_loss, stock_coef, stock_inter = backprop(stock, X, stock._label_binarizer.transform(y), sample_weight)
    proxy_loss, proxy_coef, proxy_inter = backprop(proxy, X, target, sample_weight)
    assert proxy_loss == pytest.approx(stock_loss, rel=1e-12)
    for ours, theirs in zip(proxy_coef + proxy_inter, stock_coef + stock_inter):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(proxy.predict_task(X), stock.predict_proba(X), rtol=1e-10)


@pytest.mark.parametrize("source", ["reference", "catalog"])
@pytest.mark.parametrize("case", [binary_case, multilabel_case])
def test_sigmoid_cross_entropy_matches_stock_logistic_output(source, case):
    X, y, synthetic = case(n=300)
    profile = real_profile(X, y, synthetic.task)
    loss, params = loss_and_params(source, RefSigmoidBCE(), "cross_entropy", profile)
    stock = MLPClassifier(hidden_layer_sizes=(16,), max_iter=3, random_state=0).fit(X, y)
    target = np.asarray(y, dtype=float).reshape(len(y), -1)
    proxy = LossMLP(bound(loss, params, profile), hidden_layer_sizes=(16,), max_iter=1,
                    random_state=0).fit(X, target)
    copy_weights(stock, proxy)
    assert stock.out_activation_ == "logistic"

    stock_target = stock._label_binarizer.transform(y).astype(float)
    stock_loss, stock_coef, stock_inter = backprop(stock, X, stock_target)
    proxy_loss, proxy_coef, proxy_inter = backprop(proxy, X, target)
    assert proxy_loss == pytest.approx(stock_loss, rel=1e-12)
    for ours, theirs in zip(proxy_coef + proxy_inter, stock_coef + stock_inter):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("source", ["reference", "catalog"])
@pytest.mark.parametrize("weighted", [False, True])
def test_squared_error_matches_stock_mlp_regressor(source, weighted):
    X, y, _ = regression_case(n=300, offset=0.0, spread=1.0)
    profile = real_profile(X, y, "regression")
    loss, params = loss_and_params(source, RefSquaredError(), "mse", profile)
    sample_weight = np.random.default_rng(6).uniform(0.2, 3.0, len(y)) if weighted else None
    stock = MLPRegressor(hidden_layer_sizes=(16,), max_iter=3, alpha=0.01, random_state=0).fit(X, y)
    target = y.reshape(-1, 1)
    proxy = LossMLP(bound(loss, params, profile), hidden_layer_sizes=(16,), max_iter=1, alpha=0.01,
                    random_state=0).fit(X, target)
    copy_weights(stock, proxy)

    stock_loss, stock_coef, stock_inter = backprop(stock, X, target, sample_weight)
    proxy_loss, proxy_coef, proxy_inter = backprop(proxy, X, target, sample_weight)
    assert proxy_loss == pytest.approx(stock_loss, rel=1e-12)
    for ours, theirs in zip(proxy_coef + proxy_inter, stock_coef + stock_inter):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(proxy.predict_task(X), stock.predict(X), rtol=1e-12)


def test_multi_output_squared_error_keeps_loss_and_gradient_consistent():
    """scikit-learn averages the multi-output loss over outputs but sums the gradient; the
    proxy reports the loss whose gradient it follows (the per-output sum)."""
    X, _, _ = regression_case(n=200)
    target = np.column_stack([np.sin(X[:, 0]), X[:, 1] * X[:, 2], X[:, 3]])
    stock = MLPRegressor(hidden_layer_sizes=(8,), max_iter=2, alpha=0.0, random_state=0).fit(X, target)
    proxy = LossMLP(RefSquaredError(), hidden_layer_sizes=(8,), max_iter=1, alpha=0.0,
                    random_state=0).fit(X, target)
    copy_weights(stock, proxy)
    stock_loss, stock_coef, stock_inter = backprop(stock, X, target)
    proxy_loss, proxy_coef, proxy_inter = backprop(proxy, X, target)
    assert proxy_loss == pytest.approx(3.0 * stock_loss, rel=1e-12)
    for ours, theirs in zip(proxy_coef + proxy_inter, stock_coef + stock_inter):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-14)
    assert_gradient_matches_finite_differences(proxy, X, target)


# ----- the adapter's gradient is the gradient of its loss ------------------------------------
def assert_gradient_matches_finite_differences(model, X, target, sample_weight=None, n_checks=12):
    """Central differences on a few weights of every layer against _backprop's gradient."""
    rng = np.random.default_rng(0)
    _, coef_grads, intercept_grads = backprop(model, X, target, sample_weight)
    step = 1e-6
    for params, grads in ((model.coefs_, coef_grads), (model.intercepts_, intercept_grads)):
        for layer, (weights, grad) in enumerate(zip(params, grads)):
            for flat_index in rng.choice(weights.size, size=min(n_checks, weights.size), replace=False):
                index = np.unravel_index(flat_index, weights.shape)
                original = weights[index]
                weights[index] = original + step
                loss_up = backprop(model, X, target, sample_weight)[0]
                weights[index] = original - step
                loss_down = backprop(model, X, target, sample_weight)[0]
                weights[index] = original
                numeric = (loss_up - loss_down) / (2 * step)
                assert grad[index] == pytest.approx(numeric, rel=1e-4, abs=1e-7), (
                    f"{model.loss.id}: layer {layer} weight {index}")


REFERENCE_CASES = {
    "softmax_ce": (RefSoftmaxCE, {}, multiclass_case),
    "sigmoid_bce_binary": (RefSigmoidBCE, {}, binary_case),
    "sigmoid_bce_multilabel": (RefSigmoidBCE, {}, multilabel_case),
    "squared_error": (RefSquaredError, {}, regression_case),
    "huber": (RefHuber, {"delta": 100.0}, regression_case),
    "pinball": (RefPinball, {"tau": 0.8}, regression_case),
    "poisson": (RefPoisson, {}, count_case),
}


@pytest.mark.parametrize("name", sorted(REFERENCE_CASES))
def test_reference_loss_gradients_match_finite_differences(name):
    loss_class, params, case = REFERENCE_CASES[name]
    X, y, profile = case(n=120)
    proxy = make_proxy(loss_class(), params, profile, seed=0, max_iter=3, hidden=(6, 5)).fit(X, y)
    model = proxy.model_
    target = (proxy.encode(y) - proxy.center_) / proxy.scale_
    weights = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    assert_gradient_matches_finite_differences(model, X, target, weights)


# ----- training behaviour, per loss --------------------------------------------------------
def assert_sensible_predictions(loss: RefLoss, profile: Profile, predictions: np.ndarray, y) -> None:
    """Predictions live where the task says they must."""
    assert np.isfinite(predictions).all()
    n = len(y)
    if profile.task in ("binary", "multiclass", "ordinal"):
        assert predictions.shape == (n, len(profile.classes))
        assert ((predictions >= 0) & (predictions <= 1)).all()
        np.testing.assert_allclose(predictions.sum(axis=1), 1.0, atol=1e-9)
        accuracy = np.mean(predictions.argmax(axis=1) == np.asarray(y))
        assert accuracy > 1.2 * np.bincount(np.asarray(y)).max() / n or accuracy > 0.85
    elif profile.task == "multilabel":
        assert predictions.shape == np.asarray(y).shape
        assert ((predictions >= 0) & (predictions <= 1)).all()
        assert np.mean((predictions > 0.5) == (np.asarray(y) > 0.5)) > 0.8
    else:
        assert predictions.shape[0] == n
        if loss.link.name == "log":
            assert (predictions > 0).all()
        y = np.asarray(y, dtype=float)
        if not profile.quantiles and loss.id != "ref_pinball":
            assert np.corrcoef(predictions.ravel(), y.ravel())[0, 1] > 0.6


@pytest.mark.parametrize("name", sorted(REFERENCE_CASES))
def test_reference_loss_training_reduces_loss_and_predicts_sensibly(name):
    loss_class, params, case = REFERENCE_CASES[name]
    loss = loss_class()
    X, y, profile = case()
    proxy = make_proxy(loss, params, profile, seed=0, max_iter=60, hidden=(32,),
                       learning_rate_init=0.01).fit(X, y)
    curve = proxy.model_.loss_curve_
    assert curve[-1] < 0.8 * curve[0]
    assert np.mean(np.diff(curve) < 0) > 0.6
    assert_sensible_predictions(loss, profile, proxy.predict(X), y)


def test_identity_link_target_is_standardised_on_the_training_fold_and_predicted_back():
    X, y, profile = regression_case(offset=5000.0, spread=800.0)
    proxy = make_proxy(RefHuber(), {"delta": 400.0}, profile, seed=0, max_iter=60,
                       learning_rate_init=0.01).fit(X[:400], y[:400])
    assert proxy.standardized_
    assert proxy.center_[0] == pytest.approx(y[:400].mean())
    assert proxy.scale_[0] == pytest.approx(y[:400].std())
    assert proxy.fit_params_["delta"] == pytest.approx(400.0 / y[:400].std())
    predictions = proxy.predict(X[400:])
    assert abs(predictions.mean() - 5000.0) < 300.0
    assert np.corrcoef(predictions, y[400:])[0, 1] > 0.6


@pytest.mark.parametrize("source", ["reference", "catalog"])
def test_log_link_trains_on_the_raw_target_with_bias_at_log_mean(source):
    X, counts, _ = count_case()
    profile = real_profile(X, counts.astype(int), "count")
    loss, params = loss_and_params(source, RefPoisson(), "poisson", profile)
    frozen = make_proxy(loss, params, profile, seed=0, max_iter=1,
                        learning_rate_init=1e-12).fit(X, profile.y)  # weights stay at their start
    assert not frozen.standardized_
    assert frozen.model_.intercepts_[-1][0] == pytest.approx(np.log(counts.mean()), abs=1e-9)


# ----- every catalog loss through the adapter ---------------------------------------------
def catalog_task_data(task: str, n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features and a raw target of ``task`` with a learnable signal."""
    if task == "binary":
        return binary_case(n, seed)[:2]
    if task == "multiclass":
        return multiclass_case(n, seed)[:2]
    if task == "multilabel":
        return multilabel_case(n, seed)[:2]
    if task == "count":
        X, y, _ = count_case(n, seed)
        return X, y.astype(int)
    X = features(n, seed=seed)
    signal = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.5 * X[:, 3]
    noise = np.random.default_rng(seed + 9).normal(size=n)
    if task == "ordinal":
        return X, np.digitize(signal + 0.2 * noise, [-1.0, -0.3, 0.3, 1.0])
    if task == "proportion":
        return X, 1.0 / (1.0 + np.exp(-1.5 * signal - 0.2 * noise))
    if task == "regression":  # positive and right-skewed, so every regression loss applies
        return X, 50.0 * np.exp(0.5 * signal + 0.1 * noise)
    if task == "survival":  # (duration, event): the hazard grows with the signal, 30 % censored
        rng = np.random.default_rng(seed + 11)
        time = np.ceil(rng.exponential(20.0 * np.exp(-signal)))
        return X, np.column_stack([time, (rng.random(n) < 0.7).astype(float)])
    raise ValueError(task)


CATALOG_PAIRS = [(loss_id, task) for loss_id, loss in CATALOG.items() for task in sorted(loss.tasks)]
QUANTILE_LEVELS = (0.1, 0.5, 0.9)


def catalog_setup(loss_id: str, task: str, n: int = 600, seed: int = 0):
    """Loss, derived parameters, profile, features and profile-style target of one pair."""
    X, y = catalog_task_data(task, n, seed)
    quantiles = QUANTILE_LEVELS if loss_id == "quantile" else ()
    profile = real_profile(X, y, task, quantiles=quantiles)
    loss = CATALOG[loss_id]
    return loss, loss.derive(profile, {}), profile, X, profile.y


def test_catalog_is_walked():
    assert len(CATALOG_PAIRS) >= len(CATALOG) >= 10
    assert {"cross_entropy", "mse"} <= set(CATALOG)


@pytest.mark.parametrize(("loss_id", "task"), CATALOG_PAIRS)
def test_catalog_loss_gradient_through_the_network_matches_finite_differences(loss_id, task):
    loss, params, profile, X, y = catalog_setup(loss_id, task, n=80)
    if loss_id == "gaussian_nll":  # beta-NLL's weight is a stop-gradient: at beta = 0 the
        params = {**params, "beta": 0.0}  # gradient is the value's derivative (test_losses checks beta > 0)
    proxy = make_proxy(loss, params, profile, seed=0, max_iter=2, hidden=(6, 5)).fit(X, y)
    target = (proxy.encode(y) - proxy.center_) / proxy.scale_
    weights = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    assert_gradient_matches_finite_differences(proxy.model_, X, target, weights, n_checks=6)


@pytest.mark.parametrize(("loss_id", "task"), CATALOG_PAIRS)
def test_catalog_loss_trains_and_predicts_sensibly(loss_id, task):
    loss, params, profile, X, y = catalog_setup(loss_id, task, n=500)
    proxy = make_proxy(loss, params, profile, seed=0, max_iter=30, hidden=(32,),
                       learning_rate_init=0.01).fit(X, y)
    curve = proxy.model_.loss_curve_
    # the Cox partial likelihood's floor is far from 0 (the log of the risk sets' sizes): a
    # smaller relative drop; its ranking is checked below
    drop = 0.95 if loss_id == "cox" else 0.9
    assert curve[-1] < drop * curve[0], f"{loss_id} on {task}: loss went {curve[0]:.4g} -> {curve[-1]:.4g}"
    assert np.mean(np.diff(curve) < 0) > 0.5
    assert proxy.n_iter_ == len(curve)

    predictions = proxy.predict(X)
    raw = proxy.decision_function(X)
    assert np.isfinite(predictions).all()
    n = len(y)
    if task in ("binary", "multiclass", "ordinal"):
        assert predictions.shape == (n, len(profile.classes))
        assert ((predictions >= 0) & (predictions <= 1)).all()
        np.testing.assert_allclose(predictions.sum(axis=1), 1.0, atol=1e-9)
        predicted = proxy.predict_class(X)
        majority = np.bincount(y).max() / n
        assert np.mean(predicted == y) > min(0.85, majority + 0.15)
        if loss_id == "coral":  # the rank is the number of thresholds passed
            np.testing.assert_array_equal(predicted, (raw > 0).sum(axis=1))
    elif task == "multilabel":
        assert predictions.shape == y.shape
        assert ((predictions >= 0) & (predictions <= 1)).all()
        assert np.mean((predictions > 0.5) == (y > 0.5)) > 0.8
    elif task == "survival":  # the risk, then the survival curve at the grid's times
        assert predictions.shape == (n, 1 + len(params["times"]))
        assert ((predictions[:, 1:] >= 0) & (predictions[:, 1:] <= 1)).all()
        assert np.corrcoef(predictions[:, 0], np.asarray(y)[:, 0])[0, 1] < -0.3  # high risk, short time
    else:
        values = np.asarray(y, dtype=float)
        if loss_id == "quantile":
            assert predictions.shape == (n, len(QUANTILE_LEVELS))
            low, middle, high = predictions.mean(axis=0)
            assert low < middle < high
            coverage = np.mean(values[:, None] <= predictions, axis=0)
            assert coverage[0] < 0.3 and coverage[2] > 0.7
            predictions = predictions[:, 1]
        else:
            assert predictions.shape == (n,)
        link = bound(loss, params, profile).link.name
        if task == "proportion" and link != "identity":
            assert ((predictions >= 0) & (predictions <= 1)).all()
        if link == "log":
            assert (predictions > 0).all()
            np.testing.assert_allclose(predictions, np.exp(raw[:, 0]), rtol=1e-12)
        if loss_id == "msle":
            np.testing.assert_allclose(predictions, np.expm1(raw[:, 0]), rtol=1e-12)
        if loss.standardize_target:
            assert proxy.standardized_ and abs(predictions.mean() - values.mean()) < values.std()
        assert np.corrcoef(predictions, values)[0, 1] > 0.6


@pytest.mark.parametrize("source", ["reference", "catalog"])
def test_catalog_and_reference_sample_weights_favour_the_weighted_class(source):
    X, y, synthetic = binary_case()
    flipped = np.where(np.random.default_rng(7).random(len(y)) < 0.25, 1 - y, y)  # overlap
    profile = real_profile(X, flipped, "binary")
    loss, params = loss_and_params(source, RefSoftmaxCE(), "cross_entropy", profile)
    weights = np.where(flipped == 1, 5.0, 1.0)
    plain = make_proxy(loss, params, profile, seed=0, max_iter=40).fit(X, flipped)
    weighted = make_proxy(loss, params, profile, seed=0, max_iter=40).fit(X, flipped, weights)
    assert weighted.predict(X)[:, 1].mean() > plain.predict(X)[:, 1].mean() + 0.1


# ----- early stopping on the loss ---------------------------------------------------------
class RecordingLossMLP(LossMLP):
    """Keeps the validation split scikit-learn scores, to check what was scored."""

    def _score(self, X, y, sample_weight=None):
        self.validation_split_ = (X, y)
        return super()._score(X, y, sample_weight)


@pytest.mark.parametrize("source", ["reference", "catalog"])
def test_early_stopping_watches_the_validation_loss_for_quantile(source):
    X, y, _ = regression_case(n=1000, offset=0.0, spread=1.0)
    noisy = y + np.random.default_rng(8).exponential(1.0, len(y))  # asymmetric noise
    if source == "reference":
        math = RefPinball({"tau": 0.9}, "regression")
    else:
        loss = CATALOG["quantile"]
        params = loss.derive(real_profile(X, noisy, "regression", quantiles=(0.9,)), {})
        assert params == {"quantiles": [0.9]}
        math = loss.bind(params, "regression")
    model = RecordingLossMLP(math, hidden_layer_sizes=(32,), max_iter=300,
                             learning_rate_init=0.01, early_stopping=True, n_iter_no_change=5,
                             random_state=0).fit(X, noisy.reshape(-1, 1))
    assert model.n_iter_ < 300                       # it stopped
    X_val, y_val = model.validation_split_
    assert len(X_val) == 100
    raw = model.decision_function(X_val)             # best weights were restored
    err = y_val - raw
    pinball = np.mean(np.maximum(0.9 * err, -0.1 * err))
    assert model.best_validation_score_ == pytest.approx(-pinball, rel=1e-9)
    assert max(model.validation_scores_) == model.best_validation_score_
    assert all(score < 0 for score in model.validation_scores_)
    coverage = np.mean(y_val[:, 0] <= raw[:, 0])
    assert 0.75 < coverage <= 1.0


# ----- scikit-learn machinery keeps working -------------------------------------------------
def test_clone_and_pickle_round_trip():
    X, y, profile = multiclass_case(n=300)
    loss = RefSoftmaxCE({"unused": 1}, "multiclass")
    model = LossMLP(loss, hidden_layer_sizes=(8,), max_iter=5, random_state=3)
    cloned = clone(model)
    assert cloned.get_params()["hidden_layer_sizes"] == (8,)
    assert type(cloned.loss) is RefSoftmaxCE and cloned.loss.params == {"unused": 1}
    target = loss.encode_target(y, profile)
    np.testing.assert_array_equal(model.fit(X, target).decision_function(X),
                                  cloned.fit(X, target).decision_function(X))
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_task(X), model.predict_task(X))

    X_r, y_r = catalog_task_data("regression")
    profile_r = real_profile(X_r, y_r, "regression")
    huber = CATALOG["huber"]
    wrapper = make_proxy(huber, huber.derive(profile_r, {}), profile_r, seed=0, max_iter=5)
    wrapper.fit(X_r, y_r)
    assert wrapper.fit_params_["delta"] != wrapper.params["delta"]  # rescaled for training
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(wrapper)).predict(X_r), wrapper.predict(X_r))
    np.testing.assert_array_equal(clone(wrapper).fit(X_r, y_r).predict(X_r), wrapper.predict(X_r))


def test_lbfgs_solver_trains():
    X, y, profile = multiclass_case()
    loss = RefSoftmaxCE()
    target = loss.encode_target(y, profile)
    model = LossMLP(loss, solver="lbfgs", hidden_layer_sizes=(16,), max_iter=25, random_state=0)
    model.fit(X, target)
    initial = LossMLP(loss, solver="lbfgs", hidden_layer_sizes=(16,), max_iter=1, random_state=0)
    initial.fit(X, target)
    assert model.loss_ < 0.5 * initial.loss_
    assert np.mean(model.predict_task(X).argmax(axis=1) == y) > 0.9


def test_lbfgs_solver_trains_a_log_link_catalog_loss():
    loss, params, profile, X, y = catalog_setup("poisson", "count")
    proxy = make_proxy(loss, params, profile, seed=0, max_iter=30, hidden=(16,), solver="lbfgs").fit(X, y)
    assert proxy.model_.solver == "lbfgs" and proxy.n_iter_ <= 30
    predictions = proxy.predict(X)
    assert (predictions > 0).all()
    assert np.corrcoef(predictions, y)[0, 1] > 0.6


def test_partial_fit_continues_training():
    X, y, profile = count_case()
    model = LossMLP(RefPoisson(), hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    target = y.reshape(-1, 1)
    losses = [model.partial_fit(X, target).loss_ for _ in range(15)]
    assert losses[-1] < losses[0]
    assert model.t_ == 15 * len(y)


@pytest.mark.parametrize("source", ["reference", "catalog"])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_same_seed_gives_identical_predictions(source, early_stopping):
    X, y, _ = multiclass_case()
    profile = real_profile(X, y, "multiclass")
    loss, params = loss_and_params(source, RefSoftmaxCE(), "cross_entropy", profile)

    def predictions(seed):
        return make_proxy(loss, params, profile, seed=seed, max_iter=10,
                          early_stopping=early_stopping).fit(X, y).predict(X)

    first = predictions(11)
    np.testing.assert_array_equal(first, predictions(11))
    assert not np.array_equal(first, predictions(12))


# ----- failures ------------------------------------------------------------------------------
def test_divergence_raises_proxy_diverged_error():
    X, y, profile = count_case()
    proxy = make_proxy(RefPoisson(), {}, profile, seed=0, max_iter=50, learning_rate_init=50.0)
    with pytest.raises(ProxyDivergedError, match="ref_poisson.*diverged") as info:
        proxy.fit(X * 10.0, y * 1000.0)
    assert info.value.loss_id == "ref_poisson"


def test_divergence_is_not_an_advisor_error():
    from advisor.errors import AdvisorError
    assert not issubclass(ProxyDivergedError, AdvisorError)


def test_encode_target_of_the_wrong_width_is_refused():
    class Misfit(RefSoftmaxCE):
        ref_id = "misfit"

        def n_outputs(self, profile):
            return 2

    X, y, profile = multiclass_case(n=60)
    with pytest.raises(ValueError, match="misfit.*encode_target"):
        make_proxy(Misfit(), {}, profile, seed=0, max_iter=1).fit(X, y)


def test_loss_must_be_a_catalog_loss():
    X, y, _ = regression_case(n=50)
    with pytest.raises(ValueError, match="loss"):
        LossMLP("squared_error", max_iter=1).fit(X, y.reshape(-1, 1))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_quantile_predictions_never_cross_where_the_raw_outputs_do():
    """Two epochs leave the three levels' raw outputs crossing on most rows; the prediction is
    the same values per row, in level order."""
    X, y, profile = regression_case(n=300)
    proxy = make_proxy(CATALOG["quantile"], {"quantiles": [0.1, 0.5, 0.9]}, profile, seed=0,
                       max_iter=2, hidden=(8,)).fit(X, y)
    raw, predicted = proxy.decision_function(X), proxy.predict(X)
    assert (np.diff(raw, axis=1) < 0).any(axis=1).mean() > 0.5
    assert (np.diff(predicted, axis=1) >= 0).all()
    np.testing.assert_array_equal(np.sort(raw, axis=1), predicted)


@pytest.mark.parametrize("loss_id", ["poisson", "gamma", "tweedie", "msle"])
def test_a_log_link_fit_stays_finite_where_it_would_explode_without_its_cap(loss_id):
    """Rows far outside the training features make a ReLU network's log-scale output grow
    linearly, so exp of it explodes; the derived cap bounds every prediction by about
    e x the largest training target."""
    X, counts, _ = count_case(n=400)
    y = counts + 1.0  # > 0, so gamma applies too
    profile = real_profile(X, y, "regression")
    loss = CATALOG[loss_id]
    params = loss.derive(profile, {})
    far = 40.0 * np.abs(features(50, seed=5))
    capped = make_proxy(loss, params, profile, seed=0, max_iter=30).fit(X, profile.y)
    uncapped = make_proxy(loss, {**params, "log_cap": None}, profile, seed=0, max_iter=30).fit(X, profile.y)
    assert np.max(uncapped.predict(far)) > 1e6 * y.max()  # the case explodes without the cap
    bounded = capped.predict(far)
    assert np.all(np.isfinite(bounded)) and np.max(bounded) <= np.e * (y.max() + 1)
    inside = features(50, seed=6)  # the cap leaves ordinary predictions alone
    np.testing.assert_allclose(capped.predict(inside), uncapped.predict(inside))
