"""Group-aware losses for a sensitive column: group-and-label re-weighting and group DRO.

Both need the group of every row, which is not part of ``y``. The proxy gives it to
:meth:`GroupMath.encode_target` (``groups=``), which packs it into the encoded target so that
it travels with each row through scikit-learn's minibatches, as the quantile and
distribution losses carry their extra columns: a one-hot row holds ``g + 1`` at the true
class (multiclass), a binary row ``+(g + 1)`` for a positive and ``-(g + 1)`` for a negative.
Without groups every row is in group 0, and both losses are plain cross-entropy. A framework
user passes the target as two columns, ``[label, group index]``.

* **Re-weighting** (Kamiran & Calders, KAIS 2012, "reweighing"): each row of group ``g`` and
  class ``k`` weighs ``P(g) P(k) / P(g, k)`` in the cross-entropy, the weight that makes group
  and label independent in the weighted data; a small group with a rare class counts more.
* **Group DRO** (Sagawa, Koh, Hashimoto & Liang, ICLR 2020, Algorithm 1): minimise the
  worst group's expected loss through online group weights ``q``: at each minibatch,
  ``q_g <- q_g exp(eta L_g)`` (exponentiated gradient, renormalised), then the loss is
  ``sum_g q_g L_g`` with ``L_g`` the batch's mean cross-entropy in group ``g``. Not a sum over
  rows: it is a batch loss (:attr:`LossMath.batch_loss`), every row carries the batch's value,
  and its gradient at fixed ``q`` is exact; :meth:`GroupDROMath.advance` is the update, which
  the proxy calls once per training step, before the gradient (as the paper does). The loss
  objects (``to_torch`` / ``to_keras``: ``GroupDROLoss``) and the snippets hold ``q`` as
  state and take the same step before the loss at each training call. The paper's group
  adjustment ``C / sqrt(n_g)`` and its strong L2 are left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ._base import ParamSpec
from ._classification import (
    CROSS_ENTROPY_VETOES,
    SOFTMAX_TASKS,
    ClassifierMath,
    _bce,
    _n_classes,
    _softmax_ce,
    classifier_snippet_values,
    logit_activations,
)
from ._spec import LossSpec

if TYPE_CHECKING:  # pragma: no cover
    from ..profile import Profile

#: The tasks group-aware losses apply to (those a sensitive column is supported for).
GROUP_LOSS_TASKS = frozenset({"binary", "multiclass"})
#: Sagawa et al.'s step size of the group weights (their robust_step_size).
DRO_ETA = 0.01


def pack_groups(target: np.ndarray, groups: np.ndarray, softmax: bool) -> np.ndarray:
    """The encoded target with each row's group packed in (see the module docstring)."""
    code = np.asarray(groups, dtype=np.float64).reshape(-1, 1) + 1.0
    if softmax:
        return target * code
    return (2.0 * target - 1.0) * code


def unpack_groups(target: np.ndarray, softmax: bool) -> tuple[np.ndarray, np.ndarray]:
    """(the plain encoded target, the group index of each row) of a packed target."""
    target = np.asarray(target, dtype=np.float64)
    if softmax:
        return (target > 0).astype(np.float64), np.rint(target.max(axis=1) - 1.0).astype(int)
    return (target > 0).astype(np.float64), np.rint(np.abs(target[:, 0]) - 1.0).astype(int)


class GroupMath(ClassifierMath):
    """Cross-entropy whose rows know their group (packed in the encoded target)."""

    #: The proxy passes each row's group to :meth:`encode_target`.
    needs_groups: ClassVar[bool] = True

    def encode_target(self, y: np.ndarray, profile: Profile, groups: np.ndarray | None = None) -> np.ndarray:
        plain = super().encode_target(y, profile)
        groups = np.zeros(len(plain), dtype=int) if groups is None else np.asarray(groups)
        return pack_groups(plain, groups, self.softmax)

    def _cross_entropy(self, raw: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per-row cross-entropy, its gradient, the class index and the group of each row."""
        plain, groups = unpack_groups(target, self.softmax)
        raw = np.asarray(raw, dtype=np.float64)
        loss, grad = _softmax_ce(raw, plain) if self.softmax else _bce(raw, plain)
        labels = plain.argmax(axis=1) if self.softmax else plain[:, 0].astype(int)
        return loss, grad, labels, groups


class GroupReweightedCEMath(GroupMath):
    """Cross-entropy with the weight ``group_weights[g][k]`` on a row of group g, class k."""

    def loss_gradient(self, raw, target):
        loss, grad, labels, groups = self._cross_entropy(raw, target)
        weight = np.asarray(self.params["group_weights"], dtype=np.float64)[groups, labels]
        return loss * weight, grad * weight[:, None]


class GroupDROMath(GroupMath):
    """Group DRO: ``sum_g q_g L_g`` over a batch, ``q`` updated online (:meth:`advance`)."""

    batch_loss = True

    def __init__(self, params, task, *, loss_id=""):
        super().__init__(params, task, loss_id=loss_id)
        count = int(self.params.get("n_groups") or 1)
        start = self.params.get("group_weights")
        self.q = (np.full(count, 1.0 / count) if start is None
                  else np.asarray(start, dtype=np.float64) / np.sum(start))

    def _group_losses(self, raw, target, sample_weight):
        loss, grad, _, groups = self._cross_entropy(raw, target)
        weight = (np.ones(len(loss)) if sample_weight is None
                  else np.asarray(sample_weight, dtype=np.float64))
        totals = np.bincount(groups, weights=weight, minlength=self.q.size)
        sums = np.bincount(groups, weights=weight * loss, minlength=self.q.size)
        means = np.divide(sums, totals, out=np.zeros_like(sums), where=totals > 0)
        return means, totals, grad, groups, weight

    def advance(self, raw: np.ndarray, target: np.ndarray,
                sample_weight: np.ndarray | None = None) -> None:
        """One exponentiated-gradient step of the group weights on this batch's group losses
        (a group absent from the batch has loss 0 there, as in the paper's code)."""
        means = self._group_losses(raw, target, sample_weight)[0]
        step = self.q * np.exp(float(self.params["eta"]) * means)
        self.q = step / step.sum()

    def loss_gradient(self, raw, target, sample_weight=None):
        means, totals, grad, groups, weight = self._group_losses(raw, target, sample_weight)
        value = float(self.q @ means)
        scale = np.divide(self.q, totals, out=np.zeros_like(self.q), where=totals > 0)
        rows = weight.sum() * scale[groups] * weight
        return np.full(len(groups), value), grad * rows[:, None]


def _group_counts(profile: Profile) -> np.ndarray:
    """Rows per (group, class); one group without a sensitive column."""
    labels = np.asarray(profile.y, dtype=int)
    groups = getattr(profile, "groups", None)
    codes = np.zeros(len(labels), dtype=int) if groups is None else np.asarray(groups.codes)
    width = 1 if groups is None else len(groups.names)
    counts = np.zeros((width, _n_classes(profile)))
    np.add.at(counts, (codes, labels), 1.0)
    return counts


def derive_group_weights(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """Kamiran & Calders' weights ``P(g) P(k) / P(g, k) = n_g n_k / (n n_gk)`` per group and
    class (1 where a group has no row of a class: no row carries it)."""
    counts = _group_counts(profile)
    expected = counts.sum(axis=1, keepdims=True) * counts.sum(axis=0, keepdims=True) / counts.sum()
    weights = np.divide(expected, counts, out=np.ones_like(counts), where=counts > 0)
    return {"group_weights": weights.tolist()}


def derive_dro(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """The number of groups and Sagawa et al.'s step size; ``options['eta']`` wins."""
    asked = options.get("eta")
    return {"n_groups": int(_group_counts(profile).shape[0]),
            "eta": DRO_ETA if asked is None else float(asked)}


def group_snippet_values(framework: str, task: str, params: dict[str, Any], profile: Profile) -> dict[str, Any]:
    """The classifier's values and the group names in index order."""
    groups = getattr(profile, "groups", None)
    names = ("(all rows)",) if groups is None else groups.names
    note = ", ".join(f"{index} = {name}" for index, name in enumerate(names))
    return {**classifier_snippet_values(framework, task, params, profile),
            "group_note": f"# group index: {note}" + (
                f" (column {groups.column!r})" if groups is not None else ""),
            "softmax": task in SOFTMAX_TASKS}


GROUP_REWEIGHTED_CROSS_ENTROPY = LossSpec(
    id="group_reweighted_cross_entropy",
    title="Group-and-label re-weighted cross-entropy (reweighing)",
    description="For a model judged across the groups of a sensitive column: each row of group "
                "g and class k weighs P(g) P(k) / P(g, k) in the cross-entropy (Kamiran & "
                "Calders' reweighing), so that group and label are independent in the weighted "
                "data: a small group whose base rate differs from the others' counts as much as "
                "independence asks. The target is two columns, [label, group index].",
    activations=logit_activations(GROUP_LOSS_TASKS),
    math=GroupReweightedCEMath,
    formula="w(g, y) * CE(y, z), w(g, k) = P(g) P(y = k) / P(g, y = k)",
    citation=("Kamiran & Calders (KAIS 2012), Data preprocessing techniques for classification "
              "without discrimination"),
    vetoes=CROSS_ENTROPY_VETOES,
    params=(ParamSpec("group_weights", None, None, None, "Weight per group (rows) and class "
                      "(columns): P(g) P(k) / P(g, k) from the data."),),
    derivation=derive_group_weights,
    snippet_values=group_snippet_values,
)

GROUP_DRO = LossSpec(
    id="group_dro",
    title="Group DRO (online group weights)",
    description="Distributionally robust optimisation over the groups of a sensitive column "
                "(Sagawa et al. 2020): the loss is sum_g q_g L_g, the batch's mean "
                "cross-entropy per group weighted by q, and q follows the worst groups by an "
                "exponentiated-gradient step q_g <- q_g exp(eta L_g) (renormalised) at every "
                "batch, so training minimises the worst group's loss rather than the average. "
                "A batch loss with state: batches must hold rows of every group. The target is "
                "two columns, [label, group index].",
    activations=logit_activations(GROUP_LOSS_TASKS),
    math=GroupDROMath,
    formula=("sum_g q_g L_g, L_g = mean CE over the batch's rows of group g; per batch "
             "q_g <- q_g exp(eta L_g) / sum_h q_h exp(eta L_h)"),
    citation=("Sagawa, Koh, Hashimoto & Liang (ICLR 2020), Distributionally Robust Neural "
              "Networks for Group Shifts: On the Importance of Regularization for Worst-Case "
              "Generalization"),
    vetoes=CROSS_ENTROPY_VETOES,
    params=(ParamSpec("eta", DRO_ETA, 0.0, None, "Step size of the group weights' "
                      "exponentiated-gradient update (Sagawa et al.: 0.01).", closed="right"),
            ParamSpec("n_groups", None, 1, None, "Groups of the sensitive column."),
            ParamSpec("group_weights", None, None, None, "Starting group weights q (default: "
                      "uniform).")),
    derivation=derive_dro,
    snippet_values=group_snippet_values,
)
