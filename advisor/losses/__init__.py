"""The loss catalog: every loss the advisor can recommend, one entry per loss.

``CATALOG`` maps a loss id to its :class:`LossSpec`, classification losses first, then
regression and count losses. ``DEFAULT_LOSS`` is the naive choice per task, the baseline the
validator always trains so the user sees what the advice is worth.

How to add a loss
-----------------
A loss is one spec, one math class, two templates and one formula for its loss objects; its
activation vetoes and its row of the README table follow from the spec.

1. **Math** (value, gradient, prediction): a :class:`LossMath` subclass in the family's
   module (``_classification.py``, ``_focusing.py``, ``_ordinal.py``, ``_regression.py``,
   ``_deviance.py``, ``_imbalanced.py``, ``_long_tail.py``, ``_f1.py``, ``_cox.py``,
   ``_discrete_time.py``, or a new ``_<family>.py``). Set ``LINK`` (a :class:`Link` from
   ``_link.py``, or override ``link_for(task)``), ``target_interval`` and
   ``standardize_target`` where they differ from the defaults, and implement ``n_outputs``,
   ``encode_target``, ``loss_gradient`` and, where the family's default does not fit,
   ``predict``, ``predict_class``, ``init_bias``, ``for_scale`` (``for_standardized`` when
   a parameter sits at target values, such as bin edges; ``unstandardize`` when an output is
   not in target units, such as a log variance; ``predictive`` for a loss that predicts a
   distribution). Read parameters from
   ``self.params`` (declared defaults are filled in) and the task from ``self.task``. A loss
   that is not a sum over rows (an F1 over the batch, ``_f1.py``) sets ``batch_loss`` and
   takes the sample weights itself. A loss that needs each row's group of a sensitive column
   (``_fairness.py``) sets ``needs_groups``: the proxy passes ``groups=`` to its
   ``encode_target``; one with online state (group DRO's weights) has ``advance``, which the
   proxy calls once per training step.
2. **Spec**: a :class:`LossSpec` in the same module: id, title, description, the output
   activations it sits on per task, the math class, formula, citation, its ``ParamSpec``\\s,
   its ``derivation(profile, options) -> params`` (None: the defaults), the values its
   templates need (``snippet_values``), and its ``vetoes``: for every situation of
   ``_activation.SITUATIONS`` that rules it out, a :class:`Veto` with the reason in the loss's
   words. Add a situation there (with its place among the rules of ``rules/activation.toml``)
   only when no existing one describes the activation's problem. A parameter whose best value
   depends on the data gets a :class:`ParamSearch` (``search=``, poly1's epsilon): the
   experiment searches it on each training fold (``advisor/experiment/search.py``).
3. **Templates**: ``templates/<id>.torch.py.j2`` and ``templates/<id>.keras.py.j2``, Jinja2
   templates of the code below the snippet's header, rendered with the task, the classes,
   the derived parameters and the spec's snippet values (filters ``num``, ``nums``,
   ``index_dict``, ``class_note``). ``tests/test_snippets_frameworks.py`` runs both in the
   real frameworks and checks them against the math: the PyTorch snippet defines ``loss_fn``
   or one ``*_loss`` function of (outputs, target); the Keras snippet passes its loss to
   ``model.compile``; a snippet for exclusive classes says whether its target is class
   indices or one-hot; a framework loss that differs from the math by a constant factor or
   by terms of the target alone is listed, with the reason, in that test's
   ``DOCUMENTED_CONSTANTS``.
4. **Loss objects** (``Candidate.to_torch()`` / ``to_keras()``): one function decorated
   ``@formula("<id>")`` in ``advisor/frameworks/_classification.py``, ``_numeric.py`` or
   ``_survival.py``: the
   per-row loss of (raw outputs, the target as the user has it), written once in the
   ``keras.ops`` vocabulary (PyTorch gets the same names through ``advisor.torch.TorchOps``),
   term for term the math's ``loss_gradient`` value, the parameters read from ``params``.
   ``tests/test_loss_objects.py`` checks it against the math in both frameworks, for every
   catalog entry, and fails naming a catalog loss that has none. A math with ``advance`` needs
   a stateful object too (``STATEFUL`` in ``advisor.torch`` and ``advisor.keras``, as group
   DRO's ``GroupDROLoss``), stepping its state before the loss at each training call.
5. **Catalog**: add the spec to ``_SPECS`` below, in the order the losses are listed.
A **plan** (a loss plus a decision rule tuned on validation data, ``_plans.py``) is a spec
made by ``plan_spec(base, rule, tasks)``: the base loss's math and templates, the plan's id
``<base>+<rule>`` and its :class:`DecisionPlan`; the tuning step's templates are
``templates/decision_<rule>.<framework>.py.j2``; its loss object is its base loss's formula,
registered under the plan's id too.

6. **Rules** that score the loss (which data favour it) go in the concern's file of ``rules/``
   (TOML, no code); its activation vetoes are made from the spec and need no rule file.
   Regenerate the README table with ``python -m advisor.docs --write README.md``.
"""

from __future__ import annotations

import difflib

from ..errors import OptionError
from ..options import TASKS, check_choice
from ._activation import GENERATED_RULES_FILE, Veto, activation_veto_tables
from ._base import LossMath, ParamSpec, TargetInterval
from ._classification import (
    CROSS_ENTROPY,
    GENERALIZED_CROSS_ENTROPY,
    HINGE,
    LABEL_SMOOTHING,
    WEIGHTED_CROSS_ENTROPY,
)
from ._cox import COX
from ._deviance import GAMMA, MSLE, POISSON, TWEEDIE
from ._discrete_time import DEEPHIT, LOGISTIC_HAZARD
from ._distribution import GAUSSIAN_NLL, ZILN
from ._f1 import SOFT_F1
from ._fairness import GROUP_DRO, GROUP_REWEIGHTED_CROSS_ENTROPY
from ._focusing import ASYMMETRIC, FOCAL, POLY1
from ._imbalanced import BALANCED_MSE, LDS_MAE, LDS_MSE
from ._link import Link
from ._long_tail import LDAM, LOGIT_ADJUSTED
from ._ordinal import CORAL
from ._plans import CROSS_ENTROPY_LOGIT_ADJUSTMENT, CROSS_ENTROPY_THRESHOLD, DecisionPlan
from ._regression import HUBER, LOG_COSH, MAE, MSE, QUANTILE
from ._spec import LossSpec, ParamSearch

__all__ = ["CATALOG", "DEFAULT_LOSS", "GENERATED_RULES_FILE", "DecisionPlan", "Link", "LossMath", "LossSpec", "ParamSearch",
           "ParamSpec", "TargetInterval", "Veto", "activation_veto_tables", "get_loss",
           "losses_for_task"]

_SPECS = (
    CROSS_ENTROPY, WEIGHTED_CROSS_ENTROPY, FOCAL, LABEL_SMOOTHING, GENERALIZED_CROSS_ENTROPY, HINGE,
    ASYMMETRIC,
    # long-tail margins and adjustments, the polynomial expansion, the F1 surrogate
    LOGIT_ADJUSTED, LDAM, POLY1, SOFT_F1,
    # plans: cross-entropy plus a decision rule tuned on validation data
    CROSS_ENTROPY_THRESHOLD, CROSS_ENTROPY_LOGIT_ADJUSTMENT,
    # group-aware losses for a sensitive column (the rows' groups packed in the target)
    GROUP_REWEIGHTED_CROSS_ENTROPY, GROUP_DRO,
    CORAL, MSE, MAE, HUBER, LOG_COSH, QUANTILE, MSLE, POISSON, GAMMA, TWEEDIE,
    # imbalanced regression (the rare regions of the target)
    BALANCED_MSE, LDS_MSE, LDS_MAE,
    # predictive distributions (several outputs per target)
    GAUSSIAN_NLL, ZILN,
    # time-to-event with censoring (a duration and an event indicator)
    COX, LOGISTIC_HAZARD, DEEPHIT,
)

CATALOG: dict[str, LossSpec] = {spec.id: spec for spec in _SPECS}

#: The naive default per task: what most people would train with.
DEFAULT_LOSS: dict[str, str] = {
    "binary": "cross_entropy",
    "multiclass": "cross_entropy",
    "multilabel": "cross_entropy",
    "ordinal": "cross_entropy",
    "proportion": "cross_entropy",
    "regression": "mse",
    "count": "mse",
    "survival": "cox",
}


def get_loss(loss_id: str) -> LossSpec:
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
    if len(CATALOG) != len(_SPECS):
        raise RuntimeError("two catalog entries share an id")
    for loss in CATALOG.values():
        unknown = set(loss.tasks) - set(TASKS)
        if unknown:
            raise RuntimeError(f"loss {loss.id} names unknown tasks {sorted(unknown)}")
    for loss in CATALOG.values():
        if loss.decision is not None and loss.decision.base not in CATALOG:
            raise RuntimeError(f"plan {loss.id} names an unknown base loss {loss.decision.base}")
    for task, loss_id in DEFAULT_LOSS.items():
        if not CATALOG[loss_id].supports(task):
            raise RuntimeError(f"default loss {loss_id} does not apply to {task}")


_check_catalog()
