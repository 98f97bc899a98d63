"""Losses that predict a distribution (gaussian_nll, ziln) and the distribution metrics
(gaussian_nll, crps): each loss learns its own canonical case through the real proxy, the
ZILN cap holds on an exploding input, and the closed-form scores match numerical integrals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats
from test_losses import bound, finite_difference_check, make_profile

from advisor.experiment.metrics import METRIC_SPECS
from advisor.experiment.scoring import ScoringContext, fold_distribution, score_predictions
from advisor.losses import CATALOG
from advisor.losses._predictive import Gaussian, ZeroInflatedLogNormal, homoscedastic
from advisor.proxy import make_proxy

N_ROWS = 600
REGRESSION = ScoringContext("regression")


def heteroscedastic(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """y = 2 x1 + std(x0) * noise, the std growing from 0.2 to 1.7 along x0."""
    X = rng.uniform(-1.0, 1.0, (N_ROWS, 2))
    std = 0.2 + 0.75 * (X[:, 0] + 1.0)
    return X, 2.0 * X[:, 1] + std * rng.normal(size=N_ROWS), std


def zero_inflated(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """P(y > 0) = sigmoid(1.5 x0), log y | y > 0 ~ N(1 + x1, 0.5^2): (X, y, share, mean)."""
    X = rng.uniform(-1.0, 1.0, (N_ROWS, 2))
    share = 1.0 / (1.0 + np.exp(-1.5 * X[:, 0]))
    mu, sigma = 1.0 + X[:, 1], 0.5
    y = np.where(rng.random(N_ROWS) < share, np.exp(mu + sigma * rng.normal(size=N_ROWS)), 0.0)
    return X, y, share, share * np.exp(mu + 0.5 * sigma ** 2)


def trained(loss_id: str, X: np.ndarray, y: np.ndarray, max_iter: int = 150):
    profile = make_profile("regression", y, target_max=float(y.max()))
    loss = CATALOG[loss_id]
    return make_proxy(loss, loss.derive(profile, {}), profile, seed=0, max_iter=max_iter).fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_gaussian_nll_learns_a_spread_that_tracks_the_true_one():
    X, y, std = heteroscedastic(np.random.default_rng(0))
    proxy = trained("gaussian_nll", X, y)
    assert proxy.loss_curve_[-1] < proxy.loss_curve_[0] - 0.2
    predicted = proxy.predict_distribution(X)
    assert isinstance(predicted, Gaussian)
    assert np.corrcoef(predicted.std, std)[0, 1] > 0.9
    assert np.mean(np.abs(predicted.std - std)) < 0.2
    np.testing.assert_allclose(proxy.predict(X), predicted.mean)
    assert np.mean(np.abs(predicted.mean - 2.0 * X[:, 1])) < 0.25


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_ziln_learns_the_positive_share_and_the_mean():
    X, y, share, mean = zero_inflated(np.random.default_rng(1))
    proxy = trained("ziln", X, y)
    assert proxy.loss_curve_[-1] < proxy.loss_curve_[0] - 0.2
    predicted = proxy.predict_distribution(X)
    assert isinstance(predicted, ZeroInflatedLogNormal)
    assert np.mean(np.abs(predicted.p - share)) < 0.06
    error = np.mean(np.abs(proxy.predict(X) - mean))
    assert error < 0.15 * np.mean(mean)
    assert error < 0.4 * np.mean(np.abs(np.mean(y) - mean))  # far better than the constant mean


def test_ziln_cap_keeps_an_exploding_prediction_below_e_times_the_largest_target():
    y = np.array([0.0, 0.0, 2.0, 7.5, 40.0])
    params = CATALOG["ziln"].derive(make_profile("regression", y, target_max=40.0), {})
    assert params["log_cap"] == pytest.approx(np.log(40.0) + 1.0, rel=1e-4)
    ziln = bound("ziln", "regression", **params)
    raw = np.array([[50.0, 900.0, 300.0], [3.0, 1e6, -5.0], [-2.0, 1.0, 0.0]])
    predicted = ziln.predict(raw)
    assert np.all(np.isfinite(predicted)) and np.all(predicted <= np.e * 40.0 * (1 + 1e-3))
    distribution = ziln.predictive(raw)
    np.testing.assert_allclose(distribution.mean, predicted)
    assert np.all(np.isfinite(distribution.crps(np.array([0.0, 40.0, 1.0]))))


def test_ziln_starts_at_the_datas_share_and_log_moments():
    y = np.array([0.0, 0.0, 0.0, 1.0, np.e, np.e ** 2])
    params = CATALOG["ziln"].derive(make_profile("regression", y, target_max=float(y.max())), {})
    logit, mean_log, sigma_raw = params["init_bias"]
    assert logit == pytest.approx(0.0, abs=1e-9)
    assert mean_log == pytest.approx(1.0, rel=1e-3)
    assert np.log1p(np.exp(sigma_raw)) + 1e-3 == pytest.approx(np.std([0.0, 1.0, 2.0]), rel=1e-3)


def test_plain_gaussian_nll_gradient_is_the_exact_derivative_and_matches_pytorch_form():
    """beta = 0: the gradient is the derivative of the value itself, no weight held fixed;
    the value is PyTorch GaussianNLLLoss's 0.5 (log var + (y - mu)^2 / var)."""
    rng = np.random.default_rng(4)
    y = rng.normal(size=(40, 1))
    plain = bound("gaussian_nll", "regression", beta=0.0)
    raw = rng.normal(size=(40, 2))
    target = plain.encode_target(y, make_profile("regression", y[:, 0]))
    value, _ = plain.loss_gradient(raw, target)
    np.testing.assert_allclose(value, 0.5 * (raw[:, 1] + (y[:, 0] - raw[:, 0]) ** 2 / np.exp(raw[:, 1])))
    plain.stop_gradient = False  # this instance: check against the value's own differences
    assert finite_difference_check(plain, raw, target) == 1.0


def test_gaussian_nll_maps_a_standardised_log_variance_back():
    math_ = bound("gaussian_nll", "regression")
    raw = np.array([[0.5, np.log(0.25)]])
    back = math_.unstandardize(raw, center=np.array([10.0, 10.0]), scale=np.array([4.0, 4.0]))
    np.testing.assert_allclose(back, [[12.0, np.log(0.25 * 16.0)]])
    np.testing.assert_allclose(math_.predictive(back).std, [2.0])


def test_closed_form_crps_matches_the_integral_of_the_squared_cdf_gap():
    """CRPS(F, y) = integral (F(x) - 1{x >= y})^2 dx, by scipy.integrate.quad."""
    gaussian = Gaussian(np.array([1.0]), np.array([2.0]))
    for y in (-3.0, 1.0, 4.5):
        expected = sum(integrate.quad(lambda x, y=y: (stats.norm.cdf(x, 1.0, 2.0) - (x >= y)) ** 2,
                                      low, high)[0] for low, high in ((-np.inf, y), (y, np.inf)))
        assert gaussian.crps(np.array([y]))[0] == pytest.approx(expected, rel=1e-6)
    p, mu, sigma = 0.7, 0.4, 0.8
    mixture = ZeroInflatedLogNormal(np.array([p]), np.array([mu]), np.array([sigma]))

    def cdf(x):
        return (1.0 - p) + p * stats.lognorm.cdf(x, s=sigma, scale=np.exp(mu)) if x >= 0 else 0.0

    for y in (0.0, 0.3, 2.0, 12.0):
        expected = sum(integrate.quad(lambda x, y=y: (cdf(x) - (x >= y)) ** 2, low, high, limit=200)[0]
                       for low, high in ((0.0, y), (y, np.inf)) if high > low)
        assert mixture.crps(np.array([y]))[0] == pytest.approx(expected, rel=1e-5)


def test_distribution_metrics_read_the_losss_distribution_or_the_training_residuals():
    rng = np.random.default_rng(5)
    y_train, y_test = rng.normal(0.0, 2.0, 200), rng.normal(0.0, 2.0, 50)
    point = np.zeros(50)
    fallback = fold_distribution(None, point, y_train, lambda: np.zeros(200), REGRESSION)
    assert isinstance(fallback, Gaussian)
    np.testing.assert_allclose(fallback.std, np.std(y_train))
    scores, problems = score_predictions(y_test, point, ("rmse", "gaussian_nll", "crps"), REGRESSION,
                                         fallback)
    assert not problems
    assert scores["gaussian_nll"] == pytest.approx(-np.mean(stats.norm.logpdf(y_test, 0.0, np.std(y_train))))
    own = Gaussian(point, np.full(50, 0.5))
    assert fold_distribution(own, point, y_train, None, REGRESSION) is own
    # without a distribution the metric is NaN with a reason, never an error
    scores, problems = score_predictions(y_test, point, ("crps",), REGRESSION)
    assert np.isnan(scores["crps"]) and "predictive distribution" in problems["crps"]
    assert METRIC_SPECS["crps"].reads_distribution and not METRIC_SPECS["crps"].greater_is_better
    # an over-confident distribution scores worse than a well-spread one on both metrics
    wide = homoscedastic(point, y_train, np.zeros(200))
    for name in ("gaussian_nll", "crps"):
        assert METRIC_SPECS[name].score(y_test, own) > METRIC_SPECS[name].score(y_test, wide)
