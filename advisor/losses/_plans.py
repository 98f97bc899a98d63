"""Plans: a loss plus a decision rule tuned on validation data.

For a class-balanced or threshold metric (balanced accuracy, macro-F1) the rule that turns
probabilities into labels is the other half of the answer: plain cross-entropy keeps its
calibrated probabilities and a tuned rule moves the decision, where a re-weighted loss moves
both. A plan is a catalog entry keyed ``<base loss>+<rule>`` that delegates its math, its
parameters, its activations, vetoes and citation to the base loss and adds
:class:`DecisionPlan`:

- ``cross_entropy+threshold`` (binary, multi-label): a decision threshold per label, tuned for
  the metric (Lipton, Elkan & Naryanaswamy, ECML PKDD 2014; AutoGluon's threshold
  calibration, autogluon issue #4119 / PR #4632);
- ``cross_entropy+logit_adjustment`` (multiclass): post-hoc logit adjustment,
  argmax_c (z_c - tau log prior_c), tau tuned for the metric (Menon et al., ICLR 2021).

The experiment tunes the rule on a held-out part of each training fold
(:mod:`advisor.experiment.decision`); the snippet is the base loss's followed by the tuning
step (``templates/decision_<rule>.<framework>.py.j2``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ._base import ParamSpec
from ._classification import CROSS_ENTROPY
from ._spec import LossSpec

if TYPE_CHECKING:  # pragma: no cover
    from ..profile import Profile

__all__ = ["DecisionPlan", "plan_spec", "CROSS_ENTROPY_THRESHOLD", "CROSS_ENTROPY_LOGIT_ADJUSTMENT"]


@dataclass(frozen=True)
class DecisionPlan:
    """The decision rule a plan adds to its base loss, and how a user tunes it."""

    rule: str                        # threshold | logit_adjustment
    base: str                        # the loss the network trains with
    title: str                       # the rule's name, e.g. "tuned decision threshold"
    #: How to tune the rule on the user's own validation data (``{metric}`` is filled in).
    how: str
    citation: str

    def snippet_values(self, metric: str, task: str) -> dict[str, Any]:
        """What the tuning step's template needs: the metric it tunes for (the user's when it
        reads the decision, else balanced accuracy, or F1 per label), scikit-learn's function
        of it with its keyword arguments, and the fewest validation rows it tunes from."""
        from ..experiment.metrics import DECISION_METRICS, MIN_ACCURACY_TUNING_ROWS, MIN_TUNING_ROWS

        tuned = metric if metric in DECISION_METRICS else (
            "f1_macro" if task == "multilabel" else "balanced_accuracy")
        note = "" if tuned == metric else f" ({metric} does not read the decision)"
        function, kwargs = {
            "accuracy": ("accuracy_score", ""),
            "balanced_accuracy": ("balanced_accuracy_score", ""),
            "f1_macro": ("f1_score", ", zero_division=0" if task == "multilabel"
                         else ', average="macro", zero_division=0'),
        }[tuned]
        return {"tuned_metric": tuned, "metric_note": note, "metric_function": function,
                "metric_kwargs": kwargs,
                "min_rows": MIN_ACCURACY_TUNING_ROWS if tuned == "accuracy" else MIN_TUNING_ROWS}


THRESHOLD = DecisionPlan(
    rule="threshold", base="cross_entropy", title="tuned decision threshold",
    how=("hold out a validation split (at least 50 rows), predict its probabilities, pick the "
         "threshold on each label's positive probability that maximises {metric} there, and "
         "predict positive at or above it; keep 0.5 with fewer rows"),
    citation=("Lipton, Elkan & Naryanaswamy (ECML PKDD 2014), Optimal Thresholding of "
              "Classifiers to Maximize F1 Measure; AutoGluon calibrate_decision_threshold "
              "(autogluon issue #4119, PR #4632); scikit-learn TunedThresholdClassifierCV"))

LOGIT_ADJUSTMENT = DecisionPlan(
    rule="logit_adjustment", base="cross_entropy", title="post-hoc logit adjustment",
    how=("hold out a validation split (at least 50 rows), predict its logits z, and pick tau in "
         "0, 0.25, ..., 2 that maximises {metric} of argmax_c (z_c - tau log prior_c) there, the "
         "priors the training labels' class shares; predict with that tau (tau = 0: the plain "
         "argmax)"),
    citation=("Menon, Jayasumana, Rawat, Jain, Veit & Kumar (ICLR 2021), Long-tail learning via "
              "logit adjustment (post-hoc correction)"))


def _class_priors(profile: Profile, options: dict[str, Any]) -> dict[str, Any]:
    """The class priors n_c / N the adjustment subtracts (tau times their log)."""
    counts = np.asarray(profile.class_counts, dtype=np.float64)
    return {"priors": counts / counts.sum()}


def plan_spec(base: LossSpec, plan: DecisionPlan, tasks: frozenset[str], *,
              params: tuple[ParamSpec, ...] = (), derivation: Any = None) -> LossSpec:
    """The catalog entry of ``base`` + ``plan`` on ``tasks``: the base loss's math, formula,
    vetoes, snippet values and templates, with the plan's id, title, rule and citation."""
    return replace(
        base, id=f"{base.id}+{plan.rule}", title=f"{base.title} + {plan.title}",
        description=(f"{base.title} trained as usual, then a {plan.title} tuned for the metric "
                     f"on validation data: {plan.how.format(metric='the metric')}."),
        activations={task: base.activations[task] for task in sorted(tasks)},
        citation=f"{base.citation}; {plan.citation}", params=base.params + params,
        derivation=derivation or base.derivation, decision=plan, template_id=base.id)


CROSS_ENTROPY_THRESHOLD = plan_spec(CROSS_ENTROPY, THRESHOLD, frozenset({"binary", "multilabel"}))
CROSS_ENTROPY_LOGIT_ADJUSTMENT = plan_spec(
    CROSS_ENTROPY, LOGIT_ADJUSTMENT, frozenset({"multiclass"}),
    params=(ParamSpec("priors", None, 0.0, 1.0, "Class priors n_c / N aligned with the classes, "
                      "whose log the tuned tau scales.", closed="neither"),),
    derivation=_class_priors)
