"""Ordinal losses built on cumulative thresholds: CORAL.

(Cross-entropy, class weights, label smoothing, mse and mae also serve ordinal targets; they
live with their families.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._activation import (
    NONNEGATIVE_OUTPUT_IS_NOT_A_LOGIT,
    SOFTMAX_READS_CLASS_PROBABILITIES,
    TANH_IS_NOT_A_PROBABILITY,
    Veto,
)
from ._base import LossMath
from ._classification import _bce, _n_classes
from ._link import ORDINAL
from ._spec import LossSpec

if TYPE_CHECKING:  # pragma: no cover
    from ..profile import Profile


class CoralMath(LossMath):
    """K-1 sigmoid cross-entropies on the cumulative levels "y > k"; the rank is the number
    of thresholds passed."""

    LINK = ORDINAL

    def n_outputs(self, profile):
        return _n_classes(profile) - 1

    def encode_target(self, y, profile):
        """Cumulative levels: column k is 1 where the class index exceeds k."""
        labels = np.asarray(y).reshape(-1, 1)
        thresholds = np.arange(_n_classes(profile) - 1).reshape(1, -1)
        return (labels > thresholds).astype(np.float64)

    def loss_gradient(self, raw, target):
        return _bce(np.asarray(raw, dtype=np.float64), target)

    def cumulative_probabilities(self, raw: np.ndarray) -> np.ndarray:
        """P(y > k) for k = 0..K-2, shape (n, K-1)."""
        return self.link.inverse(np.asarray(raw, dtype=np.float64))

    def predict(self, raw):
        above = self.cumulative_probabilities(raw)
        n = above.shape[0]
        upper = np.column_stack([np.ones(n), above])
        lower = np.column_stack([above, np.zeros(n)])
        probabilities = np.clip(upper - lower, 0.0, None)
        total = probabilities.sum(axis=1, keepdims=True)
        # all-zero rows only if every difference is negative (crossing thresholds): uniform
        probabilities = np.where(total > 0, probabilities / np.where(total > 0, total, 1.0),
                                 1.0 / probabilities.shape[1])
        return probabilities

    def predict_class(self, raw):
        """The rank: how many thresholds the sample passes (P(y > k) > 0.5)."""
        return (self.cumulative_probabilities(raw) > 0.5).sum(axis=1)


def derive_levels(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """The number of levels K."""
    return {"n_classes": _n_classes(profile)}


def coral_output_layer(framework: str, width: int) -> str:
    """CORAL's own output layer: one shared weight vector, K-1 ordered biases."""
    if framework == "pytorch":
        return (f"CoralLayer(size_in=hidden_units, num_classes={width + 1}): one shared "
                f"weight vector, {width} ordered biases, {width} threshold logits")
    return (f"CoralOutput({width + 1}) below: one shared weight vector, {width} biases, "
            f"{width} threshold logits")


CORAL = LossSpec(
    id="coral",
    title="CORAL ordinal loss",
    description="CORAL ordinal regression (Cao, Mirjalili & Raschka 2020): K-1 binary tasks "
                "'y > k'. The target becomes K-1 cumulative levels; the loss is the sum of the K-1 "
                "sigmoid cross-entropies. The predicted rank is the number of thresholds passed "
                "(P(y > k) > 0.5); class probabilities are differences of consecutive cumulative "
                "probabilities, clipped at 0 and renormalised. The proxy uses K-1 independent "
                "logits: it does not impose CORAL's shared weight vector (one weight vector, K-1 "
                "ordered biases), so its cumulative probabilities may cross; the snippets use the "
                "real CORAL layer.",
    activations={"ordinal": frozenset({"linear", "sigmoid"})},
    math=CoralMath,
    formula="sum_k -[l_k log s(z_k) + (1 - l_k) log(1 - s(z_k))], l_k = [y > k], k = 0..K-2",
    citation=("Cao, Mirjalili & Raschka (Pattern Recognition Letters 2020), Rank consistent "
              "ordinal regression for neural networks with application to age estimation; "
              "coral-pytorch"),
    vetoes=(
        Veto(SOFTMAX_READS_CLASS_PROBABILITIES,
             "CORAL needs K-1 independent threshold logits, not a softmax over K levels"),
        Veto(TANH_IS_NOT_A_PROBABILITY, "CORAL's thresholds need unbounded logits; tanh caps them at +-1"),
        Veto(NONNEGATIVE_OUTPUT_IS_NOT_A_LOGIT,
             "a {activation} output is never negative, so CORAL's threshold logits cannot be"),
    ),
    derivation=derive_levels,
    output_layer=coral_output_layer,
)
