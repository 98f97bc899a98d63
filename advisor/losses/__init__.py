"""The loss catalog: every loss the advisor can recommend, with its metadata in one place.

``CATALOG`` maps a loss id to its (stateless) :class:`Loss` instance, classification losses
first, then regression and count losses. ``DEFAULT_LOSS`` is the naive choice per task, the
baseline the validator always trains so the user sees what the advice is worth.
"""

from __future__ import annotations

import difflib

from ..errors import OptionError
from ..options import TASKS, check_choice
from ._activation import GENERATED_RULES_FILE, activation_veto_tables
from ._base import Loss, ParamSpec, TargetInterval
from ._classification import CROSS_ENTROPY_LOSSES, ROBUST_LOSSES
from ._focusing import FOCUSING_LOSSES
from ._ordinal import ORDINAL_LOSSES
from ._regression import REGRESSION_LOSSES

__all__ = ["CATALOG", "DEFAULT_LOSS", "GENERATED_RULES_FILE", "Loss", "ParamSpec", "TargetInterval",
           "activation_veto_tables", "get_loss", "losses_for_task"]

_CLASSIFICATION_ORDER = ("cross_entropy", "weighted_cross_entropy", "focal", "label_smoothing",
                         "generalized_cross_entropy", "hinge", "asymmetric", "coral")
_CLASSIFICATION = {loss.id: loss for loss in
                   CROSS_ENTROPY_LOSSES + FOCUSING_LOSSES + ROBUST_LOSSES + ORDINAL_LOSSES}

CATALOG: dict[str, Loss] = {
    **{loss_id: _CLASSIFICATION[loss_id] for loss_id in _CLASSIFICATION_ORDER},
    **{loss.id: loss for loss in REGRESSION_LOSSES},
}

#: The naive default per task: what most people would train with.
DEFAULT_LOSS: dict[str, str] = {
    "binary": "cross_entropy",
    "multiclass": "cross_entropy",
    "multilabel": "cross_entropy",
    "ordinal": "cross_entropy",
    "proportion": "cross_entropy",
    "regression": "mse",
    "count": "mse",
}


def get_loss(loss_id: str) -> Loss:
    """The catalog entry ``loss_id``; an unknown id raises :class:`OptionError` listing the ids."""
    key = str(loss_id).strip().lower()
    if key not in CATALOG:
        close = difflib.get_close_matches(key, CATALOG, n=1)
        raise OptionError("loss", loss_id, tuple(CATALOG),
                          hint=f"did you mean {close[0]!r}?" if close else None)
    return CATALOG[key]


def losses_for_task(task: str) -> tuple[str, ...]:
    """Ids of the losses that apply to ``task``, in catalog order."""
    task = check_choice("task", task, TASKS)
    return tuple(loss_id for loss_id, loss in CATALOG.items() if loss.supports(task))


def _check_catalog() -> None:
    """Import-time consistency: unique ids, known tasks, defaults that apply to their task."""
    if set(_CLASSIFICATION) != set(_CLASSIFICATION_ORDER) or len(CATALOG) != len(_CLASSIFICATION) + len(REGRESSION_LOSSES):
        raise RuntimeError("the catalog order and the loss modules disagree (missing or duplicate id)")
    for loss in CATALOG.values():
        unknown = set(loss.tasks) - set(TASKS)
        if unknown:
            raise RuntimeError(f"loss {loss.id} names unknown tasks {sorted(unknown)}")
    for task, loss_id in DEFAULT_LOSS.items():
        if not CATALOG[loss_id].supports(task):
            raise RuntimeError(f"default loss {loss_id} does not apply to {task}")


_check_catalog()
