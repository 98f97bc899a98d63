"""Long-tail classification losses: logit-adjusted cross-entropy and the LDAM margin loss.

Both change the cross-entropy on the logits rather than re-weighting its rows, so that the
rare classes get a larger margin without distorting the optimisation of the frequent ones:

- ``logit_adjusted`` (Menon et al., ICLR 2021) trains on ``z + tau log pi`` (pi the class
  priors of the data) and predicts with the plain logits ``z``: the adjusted loss is
  Fisher-consistent for the balanced error, so ``softmax(z)`` gives the balanced-error Bayes
  rule. On one logit (binary, each label of a multi-label target) the offset is
  ``tau logit(pi)``, the difference of the two classes' log priors.
- ``ldam`` (Cao et al., NeurIPS 2019) subtracts a class margin ``Delta_c = C / n_c^(1/4)`` from
  the true class's logit and scales the logits by ``s`` before the softmax. The paper's
  deferred re-weighting (DRW) stage is left to the user (the snippets say how); the proxy
  trains the first stage, LDAM alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import _math
from ._base import ParamSpec
from ._classification import (
    CROSS_ENTROPY_VETOES,
    ClassifierMath,
    _bce,
    _positive_prior,
    _softmax_ce,
    classifier_snippet_values,
    logit_activations,
)
from ._spec import LossSpec

if TYPE_CHECKING:  # pragma: no cover
    from ..profile import Profile


# ----- logit adjustment ---------------------------------------------------------------------------
class LogitAdjustedMath(ClassifierMath):
    """Cross-entropy on ``z + tau log pi`` (softmax) or ``z + tau logit(pi)`` (per sigmoid
    output); the prediction reads the unadjusted logits (the family's :meth:`predict`)."""

    def offsets(self) -> np.ndarray:
        """The additive logit adjustment, one value per output."""
        tau = float(self.params["tau"])
        priors = np.atleast_1d(np.asarray(self.params["priors"], dtype=np.float64))
        priors = np.clip(priors, _math.PROBABILITY_FLOOR, 1.0 - _math.PROBABILITY_FLOOR)
        return tau * (np.log(priors) if self.softmax else _math.logit(priors))

    def loss_gradient(self, raw, target):
        adjusted = np.asarray(raw, dtype=np.float64) + self.offsets()
        if self.softmax:
            return _softmax_ce(adjusted, target)
        return _bce(adjusted, target)


def derive_priors(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """tau = 1 (the paper's choice); the class priors n_c / N (multiclass), the share of
    positives (binary) or of each label (multi-label)."""
    if profile.task == "multiclass":
        counts = np.asarray(profile.class_counts, dtype=np.float64)
        priors: Any = counts / counts.sum()
    else:
        positive = _positive_prior(profile)
        priors = float(positive[0]) if profile.task == "binary" else positive
    return {"tau": TAU.default, "priors": priors}


TAU = ParamSpec("tau", 1.0, 0.0, None, "Strength of the adjustment: 1 is the paper's default "
                "(Fisher-consistent for the balanced error); 0 is plain cross-entropy.")

LOGIT_ADJUSTED = LossSpec(
    id="logit_adjusted",
    title="Logit-adjusted cross-entropy",
    description="Logit-adjusted softmax cross-entropy (Menon et al. 2021): the loss sees the logits "
                "plus tau log pi_c, pi the class priors of the data, so a rare class must win by a "
                "margin that grows as its prior falls; predictions use the plain logits, "
                "softmax(z), which then estimate the balanced-error Bayes rule (each class judged "
                "as if the classes were equally frequent). Binary and multi-label: one logit per "
                "label, shifted by tau log(pi / (1 - pi)). tau = 1 as in the paper; the priors "
                "come from the class counts. Probabilities are balanced, not calibrated to the "
                "data's priors.",
    activations=logit_activations(frozenset({"binary", "multiclass", "multilabel"})),
    math=LogitAdjustedMath,
    formula=("softmax form: -log softmax(z + tau log pi)_y, prediction softmax(z); "
             "sigmoid form: BCE on z + tau logit(pi), prediction s(z)"),
    citation=("Menon, Jayasumana, Rawat, Jain, Veit & Kumar (ICLR 2021), Long-tail learning via "
              "logit adjustment"),
    vetoes=CROSS_ENTROPY_VETOES,
    params=(
        TAU,
        ParamSpec("priors", None, 0.0, 1.0, "Class priors n_c / N aligned with the classes "
                  "(multiclass), the positive share (binary, a number) or each label's positive "
                  "share (multi-label, a list).", closed="neither"),
    ),
    derivation=derive_priors,
    snippet_values=classifier_snippet_values,
)


# ----- LDAM -----------------------------------------------------------------------------------------
#: The largest class margin (the paper's max_m) and the logit scale of the paper's code.
LDAM_MAX_MARGIN = 0.5
LDAM_SCALE = 30.0
#: beta of the class-balanced (effective-number) weights of the DRW stage, as in the paper's code.
DRW_BETA = 0.9999


class LdamMath(ClassifierMath):
    """Softmax cross-entropy on ``s (z - Delta_y e_y)``; one logit: ``softplus(-s (t z - Delta_y))``
    with ``t = +-1``. Predictions: the margin-free scaled logits, ``softmax(s z)`` / ``s(s z)``."""

    def _setting(self) -> tuple[float, np.ndarray]:
        return float(self.params["scale"]), np.asarray(self.params["margins"], dtype=np.float64)

    def loss_gradient(self, raw, target):
        raw = np.asarray(raw, dtype=np.float64)
        scale, margins = self._setting()
        if self.softmax:
            loss, grad = _softmax_ce(scale * (raw - target * margins), target)
            return loss, scale * grad
        sign = 2.0 * target - 1.0
        margin = target * margins[1] + (1.0 - target) * margins[0]
        z = scale * (sign * raw - margin)
        loss = -_math.log_sigmoid(z)
        return loss.sum(axis=1), -scale * sign * _math.sigmoid(-z)

    def predict(self, raw):
        scale, _ = self._setting()
        return super().predict(scale * np.asarray(raw, dtype=np.float64))


def derive_margins(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """Delta_c proportional to n_c^(-1/4), the largest 0.5; s = 30; the DRW stage's
    effective-number weights (beta = 0.9999, summing to K), as in the paper's code."""
    counts = np.maximum(np.asarray(profile.class_counts, dtype=np.float64), 1.0)
    raw_margins = counts ** -0.25
    margins = raw_margins * (LDAM_MAX_MARGIN / raw_margins.max())
    return {"scale": LDAM_SCALE, "max_margin": LDAM_MAX_MARGIN, "margins": margins,
            "drw_class_weights": _math.effective_number_weights(counts, DRW_BETA)}


LDAM = LossSpec(
    id="ldam",
    title="LDAM (label-distribution-aware margin)",
    description="Label-distribution-aware margin loss (Cao et al. 2019): softmax cross-entropy on "
                "s (z - Delta_y e_y), the true class's logit lowered by its margin "
                "Delta_c = C / n_c^(1/4), so rare classes must be separated by wider margins. C "
                "makes the largest margin 0.5 (the paper's max_m) and s = 30 (the paper's code, "
                "where the logits are cosine similarities of a normalised last layer; on a plain "
                "linear layer s scales the logits the network learns). Binary targets: the same "
                "on one logit, softplus(-s (t z - Delta_y)), t = +-1. The paper pairs it with "
                "deferred re-weighting (DRW): from the second stage of training on (epoch 160 of "
                "200), class-balanced weights of effective number, beta = 0.9999 "
                "(drw_class_weights); the snippets describe that stage, the quick experiment "
                "trains the first. Predictions: softmax(s z), without margins.",
    activations=logit_activations(frozenset({"binary", "multiclass"})),
    math=LdamMath,
    formula="-log softmax(s (z - Delta_y e_y))_y, Delta_c = C n_c^(-1/4), max_c Delta_c = 0.5",
    citation=("Cao, Wei, Gaidon, Arechiga & Ma (NeurIPS 2019), Learning Imbalanced Datasets with "
              "Label-Distribution-Aware Margin Loss"),
    vetoes=CROSS_ENTROPY_VETOES,
    params=(
        ParamSpec("scale", LDAM_SCALE, 0.0, None, "Logit scale s: 30 as in the paper's code.",
                  closed="neither"),
        ParamSpec("max_margin", LDAM_MAX_MARGIN, 0.0, None, "The largest class margin (the "
                  "rarest class's), the paper's max_m = 0.5.", closed="neither"),
        ParamSpec("margins", None, 0.0, None, "Per-class margins C / n_c^(1/4) aligned with the "
                  "classes.", closed="left"),
        ParamSpec("drw_class_weights", None, 0.0, None, "Class-balanced weights of the DRW "
                  "stage (effective number, beta = 0.9999, summing to K); not used by the quick "
                  "experiment.", closed="neither"),
    ),
    derivation=derive_margins,
    snippet_values=classifier_snippet_values,
)
