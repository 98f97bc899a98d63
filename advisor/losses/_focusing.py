"""Focusing losses: focal loss and its multi-label asymmetric variant.

Both scale the cross-entropy of easy examples down by a power of the probability of being
wrong, so training concentrates on hard and rare examples (Lin et al. 2017; Ridnik et al.
2021). Their gradients are written out in closed form and checked against finite
differences in the tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import _math
from ._activation import SOFTMAX_READS_CLASS_PROBABILITIES, TANH_IS_NOT_A_PROBABILITY, Veto
from ._base import ParamSpec
from ._classification import (
    CROSS_ENTROPY_VETOES,
    NOT_A_LOGIT,
    ClassifierMath,
    _positive_prior,
    classifier_snippet_values,
    logit_activations,
)
from ._spec import LossSpec, ParamSearch

if TYPE_CHECKING:  # pragma: no cover
    from ..profile import Profile

#: gamma is 2.0 from this imbalance ratio on (Lin et al.'s detection setting), else 1.0.
IMBALANCE_FOR_GAMMA_2 = 10.0


class FocalMath(ClassifierMath):
    """Cross-entropy scaled by (1 - p_t)^gamma and alpha_t, sigmoid or softmax form."""

    def loss_gradient(self, raw, target):
        raw = np.asarray(raw, dtype=np.float64)
        gamma = float(self.params["gamma"])
        alpha = self.params.get("alpha")
        if self.softmax:
            return _softmax_focal(raw, target, gamma, alpha)
        return _sigmoid_focal(raw, target, gamma, alpha)

    def init_bias(self, target):
        """The prior of the training target: logit per sigmoid output, log prior for softmax."""
        target = np.asarray(target, dtype=np.float64)
        prior = np.clip(target.mean(axis=0), _math.PROBABILITY_FLOOR, 1.0 - _math.PROBABILITY_FLOOR)
        return self.link.link(prior)


def derive_focal(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """gamma from the imbalance ratio; alpha and the prior bias from the class (label) priors."""
    task = profile.task
    imbalance = float(profile.facts.get("imbalance_ratio", 1.0))
    gamma = 2.0 if imbalance >= IMBALANCE_FOR_GAMMA_2 else 1.0
    if task == "multiclass":
        counts = np.asarray(profile.class_counts, dtype=np.float64)
        weights = _math.effective_number_weights(counts, _math.effective_number_beta(counts))
        alpha = weights / weights.sum()
        prior_bias = np.log(counts / counts.sum())
    else:
        prior = _positive_prior(profile)
        alpha_vector = 1.0 - prior
        bias_vector = _math.logit(prior)
        alpha = float(alpha_vector[0]) if task == "binary" else alpha_vector
        prior_bias = float(bias_vector[0]) if task == "binary" else bias_vector
    return {"gamma": gamma, "alpha": alpha, "prior_bias": prior_bias}


def _sigmoid_focal(raw: np.ndarray, target: np.ndarray, gamma: float,
                   alpha: Any) -> tuple[np.ndarray, np.ndarray]:
    """Binary focal loss per output (0/1 targets), summed over outputs."""
    sign = 2.0 * target - 1.0
    z = sign * raw
    log_p_t = _math.log_sigmoid(z)
    p_t = _math.sigmoid(z)
    miss = _math.sigmoid(-z)  # 1 - p_t without cancellation
    if alpha is None:
        alpha_t = 1.0
    else:
        alpha = np.asarray(alpha, dtype=np.float64)
        alpha_t = alpha * target + (1.0 - alpha) * (1.0 - target)
    modulating = miss ** gamma
    loss = -alpha_t * modulating * log_p_t
    # d/dz of -(1 - p)^g log p with p = sigmoid(z): g p (1 - p)^g log p - (1 - p)^(g + 1)
    d_z = alpha_t * (gamma * p_t * modulating * log_p_t - modulating * miss)
    return loss.sum(axis=1), d_z * sign


def _softmax_focal(raw: np.ndarray, target: np.ndarray, gamma: float,
                   alpha: Any) -> tuple[np.ndarray, np.ndarray]:
    """Softmax focal loss with one-hot targets."""
    log_p = _math.log_softmax(raw)
    p = np.exp(log_p)
    log_p_y = (target * log_p).sum(axis=1)
    p_y = np.exp(log_p_y)
    miss = (p * (1.0 - target)).sum(axis=1)  # 1 - p_y without cancellation
    alpha_y = 1.0 if alpha is None else target @ np.asarray(alpha, dtype=np.float64)
    modulating = miss ** gamma
    loss = -alpha_y * modulating * log_p_y
    # d/dz_j = -alpha (onehot_j - p_j) [(1 - p_y)^g - g (1 - p_y)^(g-1) p_y log p_y]; with
    # r = -log p_y / (1 - p_y) (-> 1 as p_y -> 1) the bracket is (1 - p_y)^g (1 + g p_y r).
    safe_miss = np.where(miss > 1e-12, miss, 1.0)
    ratio = np.where(miss > 1e-12, -log_p_y / safe_miss, 1.0)
    bracket = modulating * (1.0 + gamma * p_y * ratio)
    grad = (alpha_y * bracket)[:, None] * (p - target)
    return loss, grad


class AsymmetricMath(ClassifierMath):
    """Focal positives, shifted-probability negatives, one sigmoid per label."""

    def loss_gradient(self, raw, target):
        raw = np.asarray(raw, dtype=np.float64)
        gamma_pos = float(self.params["gamma_pos"])
        gamma_neg = float(self.params["gamma_neg"])
        clip = float(self.params["clip"])
        p = _math.sigmoid(raw)
        miss = _math.sigmoid(-raw)  # 1 - p
        log_p = _math.log_sigmoid(raw)
        # positives: the focal form with gamma_pos
        modulating = miss ** gamma_pos
        loss_pos = -modulating * log_p
        grad_pos = gamma_pos * p * modulating * log_p - modulating * miss
        # negatives: shifted probability p_m, active only where p > clip
        active = p > clip
        p_m = np.where(active, p - clip, 0.0)
        one_minus_p_m = miss + clip  # 1 - p_m where active
        log_one_minus = np.log(one_minus_p_m) if clip > 0 else _math.log_sigmoid(-raw)
        safe_p_m = np.where(active, p_m, 1.0)
        loss_neg = np.where(active, -(safe_p_m ** gamma_neg) * log_one_minus, 0.0)
        # d/dp_m [-p_m^g log(1 - p_m)] = -g p_m^(g-1) log(1 - p_m) + p_m^g / (1 - p_m); dp_m/dz = p (1 - p)
        d_p_m = (-gamma_neg * safe_p_m ** (gamma_neg - 1.0) * log_one_minus * miss
                 + safe_p_m ** gamma_neg * miss / one_minus_p_m)
        grad_neg = np.where(active, p * d_p_m, 0.0)
        loss = target * loss_pos + (1.0 - target) * loss_neg
        grad = target * grad_pos + (1.0 - target) * grad_neg
        return loss.sum(axis=1), grad


FOCAL = LossSpec(
    id="focal",
    title="Focal loss",
    description="Focal loss (Lin et al. 2017): cross-entropy scaled by (1 - p_t)^gamma and "
                "alpha_t. gamma is 2.0 when the imbalance ratio is at least 10 (the detection "
                "default of Lin et al., built for extreme foreground/background imbalance) and 1.0 "
                "otherwise (the value later long-tail classification baselines use: the gain there "
                "comes from the class weights, not from a strong focusing term). alpha weighs the "
                "rare class: binary alpha = 1 - prior of the positive class; multi-label the same "
                "per label; multiclass effective-number weights (beta = 1 - 1/n_max) normalised to "
                "sum to 1. prior_bias is the starting output bias of Lin et al.: log(pi / (1 - pi)) "
                "of the positive class or of each label; for multiclass softmax, log pi_c (which "
                "makes the initial softmax the class prior). Not strictly proper: its "
                "probabilities are not calibrated.",
    activations=logit_activations(frozenset({"binary", "multiclass", "multilabel"})),
    math=FocalMath,
    formula="-alpha_t (1 - p_t)^gamma log p_t, p_t the predicted probability of the true class",
    citation=("Lin, Goyal, Girshick, He & Dollar (ICCV 2017), Focal Loss for Dense Object "
              "Detection; Keras BinaryFocalCrossentropy / CategoricalFocalCrossentropy"),
    vetoes=CROSS_ENTROPY_VETOES,
    params=(
        ParamSpec("gamma", 2.0, 0.0, 5.0, "Focusing exponent: 2.0 when imbalance_ratio >= 10 "
                  "(Lin 2017 detection default), else 1.0 (long-tail classification baselines)."),
        ParamSpec("alpha", None, 0.0, 1.0, "Class balance: weight of the positive class (binary; "
                  "per label for multi-label) = 1 - its prior, or per-class effective-number "
                  "weights summing to 1 (multiclass); none: no class balance."),
        ParamSpec("prior_bias", None, None, None, "Starting output bias: prior logit log(pi/(1-pi)) "
                  "(sigmoid outputs) or log prior (softmax)."),
    ),
    derivation=derive_focal,
    snippet_values=classifier_snippet_values,
)

ASYMMETRIC = LossSpec(
    id="asymmetric",
    title="Asymmetric loss (multi-label)",
    description="Asymmetric loss for multi-label targets (Ridnik et al. 2021). Positives: "
                "-(1 - p)^gamma_pos log p. Negatives use the shifted probability "
                "p_m = max(p - clip, 0): -p_m^gamma_neg log(1 - p_m), so easy negatives (p <= clip) "
                "are discarded and the rest down-weighted. gamma_pos 0, gamma_neg 4, clip 0.05 as "
                "in the paper.",
    activations=logit_activations(frozenset({"multilabel"})),
    math=AsymmetricMath,
    formula=("-y (1 - p)^g+ log p - (1 - y) p_m^g- log(1 - p_m), p_m = max(p - clip, 0), "
             "per label"),
    citation=("Ridnik, Ben-Baruch, Zamir, Noy, Friedman, Protter & Zelnik-Manor (ICCV 2021), "
              "Asymmetric Loss For Multi-Label Classification"),
    vetoes=(
        Veto(SOFTMAX_READS_CLASS_PROBABILITIES, "the asymmetric loss scores each label with its own "
                                                "sigmoid; a softmax makes the labels compete"),
        Veto(TANH_IS_NOT_A_PROBABILITY, "a tanh output is neither a probability nor an unbounded logit"),
        NOT_A_LOGIT,
    ),
    params=(
        ParamSpec("gamma_pos", 0.0, 0.0, 5.0, "Focusing exponent of the positives (0: plain log loss)."),
        ParamSpec("gamma_neg", 4.0, 0.0, 10.0, "Focusing exponent of the negatives."),
        ParamSpec("clip", 0.05, 0.0, 0.5, "Probability margin: negatives with p <= clip cost "
                  "nothing.", closed="left"),
    ),
)


# ----- Poly-1: cross-entropy plus the first polynomial term ----------------------------------------
class Poly1Math(ClassifierMath):
    """Cross-entropy + epsilon (1 - p_t): softmax over K logits, or per sigmoid output."""

    def loss_gradient(self, raw, target):
        raw = np.asarray(raw, dtype=np.float64)
        epsilon = float(self.params["epsilon"])
        if self.softmax:
            log_p = _math.log_softmax(raw)
            p = np.exp(log_p)
            p_t = (target * p).sum(axis=1)
            loss = -(target * log_p).sum(axis=1) + epsilon * (p * (1.0 - target)).sum(axis=1)
            # d(1 - p_t)/dz = p_t (p - y), and d CE/dz = p - y
            return loss, (1.0 + epsilon * p_t)[:, None] * (p - target)
        sign = 2.0 * target - 1.0
        z = sign * raw
        p_t = _math.sigmoid(z)
        miss = _math.sigmoid(-z)  # 1 - p_t without cancellation
        loss = -_math.log_sigmoid(z) + epsilon * miss
        return loss.sum(axis=1), -(1.0 + epsilon * p_t) * miss * sign


POLY1 = LossSpec(
    id="poly1",
    title="Poly-1 (cross-entropy + epsilon (1 - p_t))",
    description="Poly-1 loss (Leng et al. 2022): cross-entropy plus epsilon (1 - p_t), the first "
                "term of cross-entropy's polynomial expansion in (1 - p_t) given more weight, so "
                "the gradient on examples already fitted fades more slowly (epsilon > 0) or faster "
                "(epsilon < 0, towards focal loss). epsilon = 1, the paper's default for ImageNet "
                "classification; its best value depends on the data and the task (the paper tunes "
                "it, down to -1 for detection), so the experiment searches it over -1, 1 and 2 on "
                "each training fold and recommends the value chosen most often. "
                "Sigmoid form per output for binary and multi-label targets, softmax form over K "
                "logits for multiclass.",
    activations=logit_activations(frozenset({"binary", "multiclass", "multilabel"})),
    math=Poly1Math,
    formula="-log p_t + epsilon (1 - p_t), p_t the predicted probability of the true class",
    citation=("Leng, Xu, Lin, Yan, Caine, Ngiam, Cheng, Xu, Chen, Tan, Fang & Anguelov (ICLR "
              "2022), PolyLoss: A Polynomial Expansion Perspective of Classification Loss "
              "Functions"),
    vetoes=CROSS_ENTROPY_VETOES,
    params=(ParamSpec("epsilon", 1.0, -1.0, None, "Weight of the first polynomial term: 1 is "
                      "the paper's default; -1 removes it (the loss stays non-negative for "
                      "epsilon >= -1)."),),
    snippet_values=classifier_snippet_values,
    search=ParamSearch("epsilon", (1.0, 2.0, -1.0),
                       "the paper's point: the best epsilon depends on the task and the data "
                       "(Leng et al., ICLR 2022, tune it from -1 to 2 across tasks)"),
)
