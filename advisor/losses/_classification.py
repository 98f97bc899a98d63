"""Classification losses: the cross-entropy family, label smoothing, GCE and the hinge.

Also the shared machinery of every logit-based loss (:class:`ClassifierMath`, target
encoding, stable sigmoid / softmax cross-entropy); focal and asymmetric losses live in
``_focusing``, CORAL in ``_ordinal``.

Task-generic losses pick their form from the task they are bound to: a sigmoid per output
for binary, multi-label and proportion targets (one logit per label), a softmax over K
logits for multiclass and ordinal targets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import _math
from ._activation import (
    NONNEGATIVE_OUTPUT_IS_NOT_A_LOGIT,
    SIGMOID_IS_NOT_A_MARGIN,
    SIGMOID_ON_EXCLUSIVE_CLASSES,
    SOFTMAX_ON_A_SINGLE_OUTPUT,
    SOFTMAX_ON_MULTILABEL,
    SOFTMAX_READS_CLASS_PROBABILITIES,
    TANH_IS_NOT_A_PROBABILITY,
    Veto,
)
from ._base import LossMath, ParamSpec
from ._link import LOGIT, MARGIN_SIGMOID, MARGIN_SOFTMAX, SOFTMAX, Link
from ._spec import LossSpec

if TYPE_CHECKING:  # pragma: no cover
    from ..profile import Profile

SIGMOID_TASKS = frozenset({"binary", "multilabel", "proportion"})
SOFTMAX_TASKS = frozenset({"multiclass", "ordinal"})

NOT_A_LOGIT = Veto(NONNEGATIVE_OUTPUT_IS_NOT_A_LOGIT, "a {activation} output is never negative, so it is not a logit")
#: The cross-entropy family reads logits, a sigmoid on sigmoid tasks, a softmax on softmax tasks.
CROSS_ENTROPY_VETOES: tuple[Veto, ...] = (
    Veto(SOFTMAX_ON_A_SINGLE_OUTPUT,
         "one output unit under a softmax is always 1; this loss needs a sigmoid or a logit"),
    Veto(SOFTMAX_ON_MULTILABEL,
         "softmax with categorical cross-entropy cannot represent several labels at once"),
    Veto(SIGMOID_ON_EXCLUSIVE_CLASSES, "independent sigmoids are not a distribution over exclusive "
                                       "classes; this loss needs logits or a softmax"),
    Veto(TANH_IS_NOT_A_PROBABILITY, "a tanh output is neither a probability nor an unbounded logit"),
    NOT_A_LOGIT,
)


def logit_activations(tasks: frozenset[str]) -> dict[str, frozenset[str]]:
    """Logits always; a sigmoid on sigmoid tasks and a softmax on softmax tasks (with
    ``from_logits=False`` / the probability form of the loss)."""
    return {task: frozenset({"linear", "sigmoid" if task in SIGMOID_TASKS else "softmax"})
            for task in tasks}


def _n_classes(profile: Profile) -> int:
    """Classes (labels for multi-label) of a classification profile."""
    if profile.classes:
        return len(profile.classes)
    y = np.asarray(profile.y)
    if y.ndim == 2:
        return int(y.shape[1])
    return int(profile.facts.get("n_classes") or (int(np.max(y)) + 1))


def _n_rows(profile: Profile) -> int:
    """Rows of the profile's target (the ``n_rows`` fact when the profile carries no target)."""
    y = np.asarray(profile.y) if profile.y is not None else np.empty(0)
    return int(y.shape[0]) if y.size else int(profile.facts.get("n_rows", 0))


def _positive_prior(profile: Profile) -> np.ndarray:
    """Share of positives: of class index 1 (binary) or of each label (multi-label)."""
    n = max(_n_rows(profile), 1)
    counts = np.asarray(profile.class_counts, dtype=np.float64)
    if profile.task == "binary":
        return np.array([counts[1] / counts.sum()])
    return counts / n


# ----- shared math ---------------------------------------------------------------------------
def _bce(raw: np.ndarray, target: np.ndarray, pos_weight: Any = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Sigmoid cross-entropy on logits, summed over outputs; soft targets allowed."""
    pos_weight = np.asarray(pos_weight, dtype=np.float64)
    loss = -(pos_weight * target * _math.log_sigmoid(raw) + (1.0 - target) * _math.log_sigmoid(-raw))
    grad = pos_weight * target * (_math.sigmoid(raw) - 1.0) + (1.0 - target) * _math.sigmoid(raw)
    return loss.sum(axis=1), grad


def _softmax_ce(raw: np.ndarray, target: np.ndarray,
                class_weights: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Softmax cross-entropy on logits against one-hot or soft rows (rows summing to 1)."""
    log_p = _math.log_softmax(raw)
    loss = -(target * log_p).sum(axis=1)
    grad = np.exp(log_p) * target.sum(axis=1, keepdims=True) - target
    if class_weights is not None:
        weight = target @ np.asarray(class_weights, dtype=np.float64)
        loss = loss * weight
        grad = grad * weight[:, None]
    return loss, grad


def _predict_probabilities(raw: np.ndarray, task: str) -> np.ndarray:
    """Task-space probabilities of logits: (n, 2) binary, (n, L) multi-label, (n,) proportion,
    (n, K) softmax otherwise."""
    if task == "binary":
        positive = _math.sigmoid(raw[:, 0])
        return np.column_stack([1.0 - positive, positive])
    if task == "multilabel":
        return _math.sigmoid(raw)
    if task == "proportion":
        return _math.sigmoid(raw[:, 0])
    return _math.softmax(raw)


class ClassifierMath(LossMath):
    """Shared target encoding, output width and prediction of the logit-based losses."""

    @classmethod
    def link_for(cls, task: str) -> Link:
        return SOFTMAX if task in SOFTMAX_TASKS else LOGIT

    @property
    def softmax(self) -> bool:
        """Whether the loss takes its softmax form (multiclass, ordinal)."""
        return self.task in SOFTMAX_TASKS

    def n_outputs(self, profile: Profile) -> int:
        if self.task in ("binary", "proportion"):
            return 1
        return _n_classes(profile)

    def encode_target(self, y: np.ndarray, profile: Profile) -> np.ndarray:
        """(n, 1) 0/1 or fraction for binary / proportion, (n, L) 0/1 for multi-label,
        one-hot (n, K) for multiclass and ordinal."""
        y = np.asarray(y)
        if self.task in ("binary", "proportion"):
            return y.astype(np.float64).reshape(-1, 1)
        if self.task == "multilabel":
            return y.astype(np.float64).reshape(len(y), -1)
        return _math.one_hot(y, _n_classes(profile))

    def predict(self, raw: np.ndarray) -> np.ndarray:
        """Task-space probabilities: (n, 2) binary, (n, L) multi-label, (n,) proportion,
        (n, K) softmax otherwise."""
        raw = np.asarray(raw, dtype=np.float64)
        if self.task == "binary":
            positive = self.link.inverse(raw[:, 0])
            return np.column_stack([1.0 - positive, positive])
        if self.task == "proportion":
            return self.link.inverse(raw[:, 0])
        return self.link.inverse(raw)


# ----- snippet pieces shared by the cross-entropy family ------------------------------------------
def _torch_target_note(task: str) -> str:
    if task in SOFTMAX_TASKS:
        return "# target: int64 class indices of shape (batch,), not one-hot"
    if task == "proportion":
        return "# target: float fractions in [0, 1] of shape (batch, 1) (soft targets are fine)"
    if task == "binary":
        return "# target: float 0/1 of shape (batch, 1), e.g. y.float().unsqueeze(1)"
    return "# target: float 0/1 matrix of shape (batch, n_labels)"


def _keras_target_note(task: str) -> str:
    if task in SOFTMAX_TASKS:
        return "# target: integer class indices of shape (batch,)"
    if task == "proportion":
        return "# target: fractions in [0, 1] of shape (batch, 1)"
    if task == "binary":
        return "# target: 0/1 of shape (batch, 1)"
    return "# target: 0/1 matrix of shape (batch, n_labels)"


def classifier_snippet_values(framework: str, task: str, params: dict[str, Any],
                              profile: Profile) -> dict[str, Any]:
    """The form of the loss (softmax or sigmoid), the target's shape and the class count."""
    note = _torch_target_note(task) if framework == "pytorch" else _keras_target_note(task)
    return {"softmax": task in SOFTMAX_TASKS, "target_note": note, "n_classes": _n_classes(profile)}


class CrossEntropyMath(ClassifierMath):
    """Sigmoid cross-entropy per output, or softmax cross-entropy over K logits."""

    def loss_gradient(self, raw, target):
        raw = np.asarray(raw, dtype=np.float64)
        if self.softmax:
            return _softmax_ce(raw, target)
        return _bce(raw, target)


class WeightedCrossEntropyMath(ClassifierMath):
    """Cross-entropy with ``pos_weight`` on the positive term, or per-class weights."""

    def loss_gradient(self, raw, target):
        raw = np.asarray(raw, dtype=np.float64)
        if self.softmax:
            return _softmax_ce(raw, target, self.params.get("class_weights"))
        pos_weight = self.params.get("pos_weight")
        return _bce(raw, target, 1.0 if pos_weight is None else pos_weight)


WEIGHT_SCHEMES = ("effective_number", "inverse_frequency")


def derive_class_weights(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """pos_weight from the class (or label) counts; effective-number or inverse-frequency
    weights for exclusive classes."""
    from ..options import check_choice

    counts = np.asarray(profile.class_counts, dtype=np.float64)
    if profile.task == "binary":
        n_neg, n_pos = counts[0], max(counts[1], 1.0)
        return {"scheme": "neg_pos_ratio", "pos_weight": n_neg / n_pos}
    if profile.task == "multilabel":
        n = float(_n_rows(profile))
        positives = np.maximum(counts, 1.0)
        return {"scheme": "neg_pos_ratio", "pos_weight": (n - counts) / positives}
    scheme = check_choice("weight_scheme", options.get("weight_scheme", "effective_number"),
                          WEIGHT_SCHEMES)
    beta = options.get("beta")
    beta = _math.effective_number_beta(counts) if beta is None else float(beta)
    inverse = _math.inverse_frequency_weights(counts)
    chosen = inverse if scheme == "inverse_frequency" else _math.effective_number_weights(counts, beta)
    return {"scheme": scheme, "beta": beta, "class_weights": chosen,
            "inverse_frequency_weights": inverse}


class LabelSmoothingMath(ClassifierMath):
    """Cross-entropy against targets smoothed towards uniform by ``epsilon``."""

    def loss_gradient(self, raw, target):
        raw = np.asarray(raw, dtype=np.float64)
        epsilon = float(self.params["epsilon"])
        if self.softmax:
            smoothed = (1.0 - epsilon) * target + epsilon / target.shape[1]
            return _softmax_ce(raw, smoothed)
        return _bce(raw, (1.0 - epsilon) * target + epsilon / 2.0)


#: Label smoothing when the user suspects label noise (--label-noise).
NOISY_EPSILON = 0.2
EPSILON = ParamSpec("epsilon", 0.1, 0.0, 0.5, "Smoothing mass spread uniformly over the classes: "
                    "0.1, or 0.2 when label noise is suspected.", closed="neither")


def derive_epsilon(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """0.1, or 0.2 when the user suspects label noise."""
    noisy = bool(profile.facts.get("label_noise", False))
    return {"epsilon": NOISY_EPSILON if noisy else EPSILON.default}


class GeneralizedCrossEntropyMath(ClassifierMath):
    """(1 - p_y^q) / q on the softmax or on one sigmoid logit (p_y = sigmoid(+-z))."""

    def loss_gradient(self, raw, target):
        raw = np.asarray(raw, dtype=np.float64)
        q = float(self.params["q"])
        if self.softmax:
            log_p = _math.log_softmax(raw)
            p_y_q = np.exp(q * (target * log_p).sum(axis=1))
            loss = (1.0 - p_y_q) / q
            grad = p_y_q[:, None] * (np.exp(log_p) - target)
            return loss, grad
        sign = 2.0 * target - 1.0
        z = sign * raw
        p_t_q = np.exp(q * _math.log_sigmoid(z))
        loss = (1.0 - p_t_q) / q
        grad = -p_t_q * _math.sigmoid(-z) * sign
        return loss.sum(axis=1), grad


class HingeMath(ClassifierMath):
    """Binary hinge on one score, or the multi-margin loss over K scores (subgradients at
    the kinks); scores read as pseudo-probabilities through a sigmoid or a softmax."""

    @classmethod
    def link_for(cls, task: str) -> Link:
        return MARGIN_SOFTMAX if task in SOFTMAX_TASKS else MARGIN_SIGMOID

    def loss_gradient(self, raw, target):
        raw = np.asarray(raw, dtype=np.float64)
        margin = float(self.params["margin"])
        if self.softmax:
            n_classes = raw.shape[1]
            true_score = (target * raw).sum(axis=1, keepdims=True)
            gaps = (margin - true_score + raw) * (1.0 - target)
            active = (gaps > 0.0) & (target == 0.0)
            loss = np.where(active, gaps, 0.0).sum(axis=1) / n_classes
            grad = active / n_classes - target * active.sum(axis=1, keepdims=True) / n_classes
            return loss, grad
        sign = 2.0 * target - 1.0
        gap = margin - sign * raw
        active = gap > 0.0
        return np.where(active, gap, 0.0).sum(axis=1), np.where(active, -sign, 0.0)


CROSS_ENTROPY = LossSpec(
    id="cross_entropy",
    title="Cross-entropy (log loss)",
    description="Cross-entropy on logits: the default of every classification task. Binary, "
                "multi-label and proportion targets use the sigmoid (binary) form per output, "
                "proportion with soft targets in [0, 1]; multiclass and ordinal targets the "
                "softmax form over K logits. Strictly proper: it rewards calibrated probabilities.",
    activations=logit_activations(frozenset({"binary", "multiclass", "multilabel", "ordinal", "proportion"})),
    math=CrossEntropyMath,
    formula=("sigmoid form: -[y log s(z) + (1 - y) log(1 - s(z))] per output; "
             "softmax form: -log softmax(z)_y"),
    citation=("Gneiting & Raftery (2007), strictly proper scoring rules; PyTorch "
              "BCEWithLogitsLoss / CrossEntropyLoss, Keras BinaryCrossentropy / "
              "SparseCategoricalCrossentropy"),
    vetoes=CROSS_ENTROPY_VETOES,
    snippet_values=classifier_snippet_values,
)

WEIGHTED_CROSS_ENTROPY = LossSpec(
    id="weighted_cross_entropy",
    title="Class-weighted cross-entropy",
    description="Cross-entropy with class weights derived from the class counts. Binary: "
                "pos_weight = n_neg / n_pos on the positive term. Multi-label: one pos_weight per "
                "label, n_neg_j / n_pos_j. Multiclass and ordinal: per-class weights by effective "
                "number (Cui et al. 2019) with beta = 1 - 1/n_max by default, rescaled to sum to K; "
                "the inverse-frequency weights N / (K n_c) are reported alongside. "
                "options['weight_scheme'] (effective_number or inverse_frequency) and "
                "options['beta'] override the choice.",
    activations=logit_activations(frozenset({"binary", "multiclass", "multilabel", "ordinal"})),
    math=WeightedCrossEntropyMath,
    formula=("binary: -[w+ y log s(z) + (1 - y) log(1 - s(z))], w+ = n_neg / n_pos; "
             "multiclass: -w_y log softmax(z)_y, w_c proportional to (1 - beta) / (1 - beta^n_c)"),
    citation=("Cui, Jia, Lin, Song & Belongie (CVPR 2019), Class-Balanced Loss Based on "
              "Effective Number of Samples; PyTorch BCEWithLogitsLoss(pos_weight) / "
              "CrossEntropyLoss(weight)"),
    vetoes=CROSS_ENTROPY_VETOES,
    params=(
        ParamSpec("pos_weight", None, 0.0, None, "Weight of the positive term: n_neg / n_pos "
                  "(binary, a number) or n_neg_j / n_pos_j per label (multi-label, a list).",
                  closed="neither"),
        ParamSpec("class_weights", None, 0.0, None, "Per-class weights aligned with the profile's "
                  "classes (multiclass, ordinal), summing to K.", closed="neither"),
        ParamSpec("inverse_frequency_weights", None, 0.0, None, "N / (K n_c), reported for "
                  "comparison with the effective-number weights.", closed="neither"),
        ParamSpec("beta", None, 0.0, 1.0, "Effective-number beta; 1 - 1/n_max by default "
                  "(0 = no weighting, towards 1 = inverse frequency).", closed="left"),
    ),
    derivation=derive_class_weights,
    snippet_values=classifier_snippet_values,
)

LABEL_SMOOTHING = LossSpec(
    id="label_smoothing",
    title="Cross-entropy with label smoothing",
    description="Cross-entropy against smoothed targets (Szegedy et al. 2016). Multiclass and "
                "ordinal: y' = (1 - eps) onehot + eps / K (PyTorch CrossEntropyLoss(label_smoothing"
                "=eps)); binary: y' = (1 - eps) y + eps / 2 (Keras BinaryCrossentropy(label_smoothing"
                "=eps)). eps is 0.1, 0.2 when the user suspects label noise.",
    activations=logit_activations(frozenset({"binary", "multiclass", "ordinal"})),
    math=LabelSmoothingMath,
    formula="cross-entropy against y' = (1 - eps) y + eps / K (K = 2 for the binary form)",
    citation=("Szegedy, Vanhoucke, Ioffe, Shlens & Wojna (CVPR 2016), Rethinking the "
              "Inception Architecture; PyTorch CrossEntropyLoss(label_smoothing)"),
    vetoes=CROSS_ENTROPY_VETOES,
    params=(EPSILON,),
    derivation=derive_epsilon,
    snippet_values=classifier_snippet_values,
)

GENERALIZED_CROSS_ENTROPY = LossSpec(
    id="generalized_cross_entropy",
    title="Generalized cross-entropy (noise-robust)",
    description="Generalized cross-entropy L_q = (1 - p_y^q) / q (Zhang & Sabuncu 2018). q -> 0 "
                "recovers cross-entropy, q = 1 is MAE on the probability of the true class; "
                "q = 0.7 is the paper's robust default for noisy labels. The binary form uses one "
                "sigmoid logit (p_y = sigmoid(+-z)).",
    activations=logit_activations(frozenset({"binary", "multiclass"})),
    math=GeneralizedCrossEntropyMath,
    formula="(1 - p_y^q) / q, p_y the predicted probability of the labelled class",
    citation=("Zhang & Sabuncu (NeurIPS 2018), Generalized Cross Entropy Loss for Training "
              "Deep Neural Networks with Noisy Labels"),
    vetoes=CROSS_ENTROPY_VETOES,
    params=(ParamSpec("q", 0.7, 0.0, 1.0, "Robustness exponent: 0 -> cross-entropy, 1 -> MAE; 0.7 "
                      "is the paper's default.", closed="right"),),
    snippet_values=classifier_snippet_values,
)

HINGE = LossSpec(
    id="hinge",
    title="Hinge (margin) loss",
    description="Hinge (margin) loss: binary max(0, m - y z) with y in {-1, +1}; multiclass the "
                "multi-margin loss of torch.nn.MultiMarginLoss: sum over j != y of "
                "max(0, m - z_y + z_j) / K. Hinge is classification-calibrated but gives no "
                "probabilities (Bartlett et al. 2006): its predictions are pseudo-probabilities, a "
                "sigmoid (binary) or softmax (multiclass) of the raw scores, good for ranking and "
                "argmax only.",
    activations={task: frozenset({"linear", "tanh"}) for task in ("binary", "multiclass")},
    math=HingeMath,
    formula=("binary: max(0, m - y z), y in {-1, +1}; multiclass: "
             "sum_{j != y} max(0, m - z_y + z_j) / K"),
    citation=("Weston & Watkins (ESANN 1999), Support Vector Machines for Multi-Class Pattern "
              "Recognition; Bartlett, Jordan & McAuliffe (JASA 2006), Convexity, "
              "Classification, and Risk Bounds; PyTorch MultiMarginLoss"),
    vetoes=(
        Veto(SOFTMAX_READS_CLASS_PROBABILITIES,
             "hinge needs unbounded class scores (margins), not softmax probabilities"),
        Veto(SIGMOID_IS_NOT_A_MARGIN, "a sigmoid output in (0, 1) is never negative, so the hinge "
                                      "margin cannot separate the classes"),
        Veto(NONNEGATIVE_OUTPUT_IS_NOT_A_LOGIT, "a {activation} output is never negative, so the "
                                               "hinge margin cannot separate the classes"),
    ),
    params=(ParamSpec("margin", 1.0, 0.0, None, "Required gap between the true score and "
                      "the others.", closed="neither"),),
    snippet_values=classifier_snippet_values,
)
