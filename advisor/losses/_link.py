"""Links: what a network's raw output means, and how it becomes a prediction.

As in scikit-learn's ``_loss/link.py``, a loss holds its link rather than inheriting it. A
:class:`Link` maps the raw output ``z`` (the last layer's pre-activation) to the quantity
the loss models (``inverse``: a mean, a probability, a vector of class probabilities) and
back (``link``), gives the derivative of ``inverse`` for the chain rule, and says in words
what the raw output is (the snippets' ``# Output layer:`` line).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import _math


@dataclass(frozen=True, eq=False)
class Link:
    """One link function with its inverse and the inverse's derivative (element-wise, except
    softmax, whose derivative is the diagonal of its Jacobian)."""

    name: str
    #: What the raw output is, as the snippets say it.
    meaning: str
    inverse: Callable[[np.ndarray], np.ndarray]
    link: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]

    def __repr__(self) -> str:
        return f"<Link {self.name}>"


def _clipped_exp(raw: np.ndarray) -> np.ndarray:
    """exp of the raw output clipped to the log link's range (finite for any input)."""
    return np.exp(np.clip(np.asarray(raw, dtype=np.float64), -_math.LOG_LINK_CLIP, _math.LOG_LINK_CLIP))


def _sigmoid_slope(raw: np.ndarray) -> np.ndarray:
    return _math.sigmoid(raw) * _math.sigmoid(-np.asarray(raw, dtype=np.float64))


def _softmax_slope(raw: np.ndarray) -> np.ndarray:
    probabilities = _math.softmax(np.asarray(raw, dtype=np.float64))
    return probabilities * (1.0 - probabilities)


def _softmax_link(probabilities: np.ndarray) -> np.ndarray:
    """Log-probabilities: logits whose softmax is ``probabilities`` (up to a constant)."""
    return _log(probabilities)


def _identity(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _one(raw: np.ndarray) -> np.ndarray:
    return np.ones_like(np.asarray(raw, dtype=np.float64))


def _log(mean: np.ndarray) -> np.ndarray:
    return np.log(np.asarray(mean, dtype=np.float64))


def _expm1(raw: np.ndarray) -> np.ndarray:
    return np.expm1(np.asarray(raw, dtype=np.float64))


def _log1p(values: np.ndarray) -> np.ndarray:
    return np.log1p(np.asarray(values, dtype=np.float64))


def _exp(raw: np.ndarray) -> np.ndarray:
    return np.exp(np.asarray(raw, dtype=np.float64))


# Module-level functions, not lambdas, so that a bound loss (and a fitted proxy) pickles.
IDENTITY = Link("identity", "values in the target's units", _identity, _identity, _one)
LOG = Link("log", "log of the mean (the loss applies exp itself)", _clipped_exp, _log, _clipped_exp)
LOG1P = Link("log1p", "log1p of the target's prediction", _expm1, _log1p, _exp)
LOGIT = Link("logit", "logits (the loss applies the sigmoid itself)", _math.sigmoid, _math.logit,
             _sigmoid_slope)
SOFTMAX = Link("softmax", "logits (the loss applies the softmax itself)", _math.softmax, _softmax_link,
               _softmax_slope)
#: CORAL's K-1 threshold logits: each one's sigmoid is P(y > k).
ORDINAL = Link("ordinal", "threshold logits, one per cut point 'y > k'", _math.sigmoid, _math.logit,
               _sigmoid_slope)
#: Margin scores read as pseudo-probabilities (a sigmoid for one score, a softmax for several):
#: good for ranking and argmax only.
MARGIN_SIGMOID = Link("margin", "scores (margins, not probabilities)", _math.sigmoid, _math.logit,
                      _sigmoid_slope)
MARGIN_SOFTMAX = Link("margin", "scores (margins, not probabilities)", _math.softmax, _softmax_link,
                      _softmax_slope)
