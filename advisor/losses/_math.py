"""Numerically stable building blocks shared by the catalog's losses and derivations.

Everything here works on float arrays and never overflows for finite input: log-sigmoid
through ``logaddexp``, softmax through log-sum-exp, effective numbers through ``expm1``.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..schema import SETTING_DIGITS, json_tree, significant

#: Raw outputs of log-link losses are clipped to this range before ``exp`` (exp(±80) stays
#: finite in float64 and far beyond any count or amount a proxy meets); the gradient is the
#: one of the clipped value, so training that wanders there is visibly stuck, not NaN.
LOG_LINK_CLIP = 80.0

#: Probabilities are kept this far from 0 and 1 where a logarithm or a prior logit needs it.
PROBABILITY_FLOOR = 1e-12


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, exact in both tails: exp(min(x, 0)) / (1 + exp(-|x|)).

    numpy rather than scipy.special.expit: importing scipy.special costs about half a second,
    which the rules-only path (catalog import) must not pay.
    """
    x = np.asarray(x, dtype=float)
    exp_neg_abs = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, exp_neg_abs) / (1.0 + exp_neg_abs)


def xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x * log(y), with 0 where x == 0 (the convention of deviances), without scipy."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x * np.log(np.where(x == 0, 1.0, y)))


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    """log(sigmoid(x)) = -log(1 + exp(-x)), stable for any finite x."""
    return -np.logaddexp(0.0, -x)


def log_softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of a 2-D array.

    Written out rather than through scipy's logsumexp, which costs about twice the whole
    stock softmax + log-loss per minibatch and made the proxy 1.5-1.8x slower than sklearn.
    """
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax of a 2-D array (rows sum to 1)."""
    return np.exp(log_softmax(x))


def row_blocks(n_rows: int, block_rows: int) -> list[slice]:
    """Contiguous, nearly equal slices of ``n_rows`` rows, each at most about ``block_rows``
    long (``np.array_split``): the batches a batch loss (its value depends on the other rows)
    is computed over when it scores many rows at once, as training in batches would."""
    blocks = np.array_split(np.arange(n_rows), max(1, math.ceil(n_rows / block_rows)))
    return [slice(int(block[0]), int(block[-1]) + 1) for block in blocks if block.size]


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Float one-hot matrix ``(n, n_classes)`` of integer class indices."""
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    encoded = np.zeros((labels.size, n_classes), dtype=np.float64)
    encoded[np.arange(labels.size), labels] = 1.0
    return encoded


def round_sig(value: float, digits: int = SETTING_DIGITS) -> float:
    """``value`` rounded to ``digits`` significant digits (stable, short JSON output)."""
    return significant(value, digits)


def json_safe(value: Any, digits: int = SETTING_DIGITS) -> Any:
    """Plain-Python, JSON-safe copy of a derived value: floats rounded, vectors as lists."""
    return json_tree(value, functools.partial(_setting, digits=digits))


def _setting(value: Any, digits: int) -> Any:
    """One derived number as plain Python: flags and integers as they are, floats rounded."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return round_sig(float(value), digits)
    return value


def inverse_frequency_weights(counts: ArrayLike) -> np.ndarray:
    """w_c = N / (K n_c): every class contributes the same total weight."""
    n = np.asarray(counts, dtype=np.float64)
    return n.sum() / (n.size * n)


def effective_number_beta(counts: ArrayLike) -> float:
    """beta = 1 - 1 / n_max, the data-driven default used by the catalog."""
    return 1.0 - 1.0 / float(np.max(np.asarray(counts, dtype=np.float64)))


def effective_number_weights(counts: ArrayLike, beta: float) -> np.ndarray:
    """Class-balanced weights of Cui et al. (CVPR 2019), rescaled to sum to K.

    The effective number of class c is E_c = (1 - beta^{n_c}) / (1 - beta) and w_c is
    proportional to 1 / E_c. beta = 0 weighs every class equally; beta -> 1 tends to
    inverse frequency.
    """
    n = np.asarray(counts, dtype=np.float64)
    if beta <= 0.0:
        raw = np.ones_like(n)
    else:
        # (1 - beta) / (1 - beta^n) with 1 - beta^n = -expm1(n log beta), exact for beta near 1
        raw = (1.0 - beta) / -np.expm1(n * math.log(beta))
    return raw * n.size / raw.sum()


def logit(p: np.ndarray | float) -> np.ndarray:
    """log(p / (1 - p)) with p kept inside (0, 1)."""
    p = np.clip(np.asarray(p, dtype=np.float64), PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)
    return np.log(p) - np.log1p(-p)


#: A log-scale prediction is capped this far (in log units) above the log of the largest
#: training target: no prediction exceeds e x the largest value seen in training.
LOG_CAP_MARGIN = 1.0


def log_cap(target_max: float, *, log1p: bool = False) -> float | None:
    """The largest log-scale output a prediction may use: log(max y) + 1 (log1p for msle).

    Log-link networks that extrapolate can predict exp(large) on a few rows and blow up a
    fold's squared error; a mean more than e times the largest training target is never a
    credible prediction. None when the target has no positive maximum (no cap then).
    """
    if not math.isfinite(target_max) or target_max <= 0:
        return None
    return (math.log1p(target_max) if log1p else math.log(target_max)) + LOG_CAP_MARGIN
