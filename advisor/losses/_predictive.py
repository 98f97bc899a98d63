"""Predictive distributions of numeric targets: what a loss with several outputs says about y.

A loss that models a distribution (``gaussian_nll``: a Gaussian per row; ``ziln``: a
zero-inflated lognormal) returns one of these from :meth:`LossMath.predictive`; the
experiment scores it with the distribution metrics (``gaussian_nll``, ``crps``). A loss that
gives one number per row is scored through :func:`homoscedastic`, a Gaussian around its
prediction with the spread of its training residuals.

Arrays are element-wise: ``(n,)`` for one target column, ``(n, k)`` for several. scipy is
imported inside the methods, so the rules-only path (catalog import) never pays for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: The smallest standard deviation a homoscedastic Gaussian gets, relative to the target's
#: scale: a proxy that fits its training fold exactly still predicts a proper distribution.
STD_FLOOR = 1e-6


@dataclass(frozen=True, eq=False)
class Gaussian:
    """A Gaussian per element: ``mean`` and ``std`` (same shape)."""

    mean: np.ndarray
    std: np.ndarray

    def gaussian(self) -> Gaussian:
        """Itself (every predictive distribution has a Gaussian with its mean and variance)."""
        return self

    def negative_log_likelihood(self, y: np.ndarray) -> np.ndarray:
        """-log N(y; mean, std^2), element-wise (scipy.stats.norm.logpdf)."""
        from scipy.stats import norm

        return -norm.logpdf(np.asarray(y, dtype=np.float64), loc=self.mean, scale=self.std)

    def crps(self, y: np.ndarray) -> np.ndarray:
        """Closed-form CRPS of a Gaussian (Gneiting & Raftery 2007, eq. 21):
        std * (z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi)), z = (y - mean) / std."""
        from scipy.stats import norm

        z = (np.asarray(y, dtype=np.float64) - self.mean) / self.std
        return self.std * (z * (2.0 * norm.cdf(z) - 1.0) + 2.0 * norm.pdf(z) - 1.0 / math.sqrt(math.pi))


@dataclass(frozen=True, eq=False)
class ZeroInflatedLogNormal:
    """(1 - p) at 0 plus p times LogNormal(mu, sigma^2), element-wise.

    ``mu`` is already capped by the loss (so that the mean p exp(mu + sigma^2 / 2) stays below
    its log cap), which keeps every moment below finite bounds.
    """

    p: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """p exp(mu + sigma^2 / 2)."""
        return self.p * np.exp(self.mu + 0.5 * self.sigma ** 2)

    def gaussian(self) -> Gaussian:
        """The Gaussian with the mixture's mean and variance (moment matching):
        Var = p M^2 (exp(sigma^2) - p), M = exp(mu + sigma^2 / 2)."""
        positive_mean = np.exp(self.mu + 0.5 * self.sigma ** 2)
        spread = np.expm1(self.sigma ** 2) + (1.0 - self.p)   # exp(sigma^2) - p, exact near 0
        return Gaussian(self.mean, positive_mean * np.sqrt(self.p * spread))

    def negative_log_likelihood(self, y: np.ndarray) -> np.ndarray:
        """The Gaussian NLL of the moment-matched Gaussian (the metric ``gaussian_nll``)."""
        return self.gaussian().negative_log_likelihood(y)

    def crps(self, y: np.ndarray) -> np.ndarray:
        """Exact CRPS of the mixture, CRPS = E|X - y| - E|X - X'| / 2, in closed form.

        With G = LogNormal(mu, sigma^2), M = E_G[Y] and D = E_G|Y - Y'| =
        2 M (2 Phi(sigma / sqrt 2) - 1) (Baran & Lerch 2015 for the lognormal CRPS):
        E|X - y| = (1 - p) y + p (CRPS_G(y) + D / 2) and
        E|X - X'| = 2 p (1 - p) M + p^2 D, for y >= 0.
        """
        from scipy.stats import norm

        y = np.asarray(y, dtype=np.float64)
        positive_mean = np.exp(self.mu + 0.5 * self.sigma ** 2)
        spread = 2.0 * positive_mean * (2.0 * norm.cdf(self.sigma / math.sqrt(2.0)) - 1.0)
        with np.errstate(divide="ignore"):
            z = (np.log(np.where(y > 0, y, 1.0)) - self.mu) / self.sigma
        z = np.where(y > 0, z, -np.inf)
        lognormal_crps = (y * (2.0 * norm.cdf(z) - 1.0)
                          - 2.0 * positive_mean * (norm.cdf(z - self.sigma)
                                                   + norm.cdf(self.sigma / math.sqrt(2.0)) - 1.0))
        to_y = (1.0 - self.p) * y + self.p * (lognormal_crps + 0.5 * spread)
        between = 2.0 * self.p * (1.0 - self.p) * positive_mean + self.p ** 2 * spread
        return to_y - 0.5 * between


Predictive = Gaussian | ZeroInflatedLogNormal


def homoscedastic(prediction: np.ndarray, y_train: np.ndarray, train_prediction: np.ndarray) -> Gaussian:
    """A Gaussian around a point prediction with the standard deviation of the training
    residuals (per target column): how a one-number loss is scored on distribution metrics.

    The std is floored at 1e-6 x the training target's scale, so a perfect training fit still
    gives a proper distribution.
    """
    prediction = np.asarray(prediction, dtype=np.float64)
    truth = np.asarray(y_train, dtype=np.float64).reshape(np.shape(train_prediction))
    residual_std = np.std(truth - np.asarray(train_prediction, dtype=np.float64), axis=0)
    floor = STD_FLOOR * np.maximum(np.max(np.abs(truth), axis=0), 1.0)
    return Gaussian(prediction, np.broadcast_to(np.maximum(residual_std, floor), prediction.shape))
