"""The sigmoidF1 surrogate: one minus a smooth F1 score, computed over a batch.

F1 is not a sum over rows: its true positives, false positives and false negatives are sums
over the rows of a batch, and the score is a ratio of them. Benedict et al. (TMLR 2022) make
it differentiable by counting with the sigmoid probabilities instead of thresholded labels:
per label, ``TP = sum p y``, ``FP = sum p (1 - y)``, ``FN = sum (1 - p) y`` over the batch, and
the loss is one minus the mean over labels of ``2 TP / (2 TP + FP + FN)``.

It is a batch loss (:attr:`SoftF1Math.batch_loss`): the proxy's backprop hands one minibatch
to :meth:`SoftF1Math.loss_gradient`, which spreads the batch's loss over its rows (every row
carries it, so their mean is the batch loss) and returns, per row, ``S`` times the exact
gradient of that loss (``S`` the batch's total weight, ``n`` without weights), which is what the
proxy's backward pass divides by. Sample weights, when given, weigh each row's counts. A
call on more than :data:`F1_BLOCK_ROWS` rows (validation, evaluation) is cut into
``ceil(n / 1000)`` consecutive batches of nearly equal size, as Balanced MSE does, so a value
is always the loss of a batch of the size training sees, not of the whole data.
"""

from __future__ import annotations

import numpy as np

from . import _math
from ._classification import (
    CROSS_ENTROPY_VETOES,
    ClassifierMath,
    classifier_snippet_values,
    logit_activations,
)
from ._spec import LossSpec

#: Rows of one batch when a call holds more.
F1_BLOCK_ROWS = 1000
#: Added to each label's denominator, as in the paper's code, so that a batch with neither
#: positives nor predicted mass gives F1 = 0 instead of 0 / 0.
F1_EPSILON = 1e-16


class SoftF1Math(ClassifierMath):
    """1 - mean over labels of the soft F1 of a batch (one sigmoid per label)."""

    #: The value of a row depends on the other rows of its batch (see the module docstring).
    batch_loss = True

    def loss_gradient(self, raw, target, sample_weight=None):
        raw = np.asarray(raw, dtype=np.float64)
        n = raw.shape[0]
        weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        loss, grad = np.zeros(n), np.zeros_like(raw)
        for rows in _math.row_blocks(n, F1_BLOCK_ROWS):
            value, slope = _soft_f1(raw[rows], target[rows], weight[rows])
            loss[rows] = value
            grad[rows] = slope
        return loss, grad


def _soft_f1(raw: np.ndarray, target: np.ndarray, weight: np.ndarray) -> tuple[float, np.ndarray]:
    """One batch's 1 - mean soft F1 and ``sum(weight)`` times its gradient w.r.t. ``raw``."""
    p = _math.sigmoid(raw)
    w = weight[:, None]
    true_positive = (w * p * target).sum(axis=0)
    denominator = (w * p).sum(axis=0) + (w * target).sum(axis=0) + F1_EPSILON  # 2TP + FP + FN
    f1 = 2.0 * true_positive / denominator
    # d F1 / d p_i = 2 w_i (y_i D - TP) / D^2; d p / d z = p (1 - p)
    d_f1 = 2.0 * w * (target * denominator - true_positive) / denominator ** 2
    d_loss = -d_f1 * p * _math.sigmoid(-raw) / raw.shape[1]
    return 1.0 - float(f1.mean()), weight.sum() * d_loss


SOFT_F1 = LossSpec(
    id="soft_f1",
    title="sigmoidF1 (soft F1 surrogate)",
    description="sigmoidF1 (Benedict et al. 2022): one minus a smooth F1 score of the batch. Per "
                "label, true positives, false positives and false negatives are counted with the "
                "sigmoid probabilities over the rows of the batch (TP = sum p y, FP = sum p "
                "(1 - y), FN = sum (1 - p) y), F1 = 2 TP / (2 TP + FP + FN), and the loss is "
                "1 minus the mean over labels: it optimises the F1 trade-off between precision and "
                "recall directly instead of the likelihood. Binary targets: the F1 of the positive "
                "class. A batch loss: use batches large enough to hold positives of every label; "
                "the paper's sigmoid steepness and offset are at 1 and 0 (a plain sigmoid). Its "
                "probabilities are not calibrated.",
    activations=logit_activations(frozenset({"binary", "multilabel"})),
    math=SoftF1Math,
    formula=("1 - mean over labels of 2 TP / (2 TP + FP + FN), TP = sum_i p_i y_i, "
             "FP = sum_i p_i (1 - y_i), FN = sum_i (1 - p_i) y_i over the batch, p = s(z)"),
    citation=("Benedict, Koops, Odijk & de Rijke (TMLR 2022), sigmoidF1: A Smooth F1 Score "
              "Surrogate Loss for Multilabel Classification"),
    vetoes=CROSS_ENTROPY_VETOES,
    snippet_values=classifier_snippet_values,
)
