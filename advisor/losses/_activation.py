"""Output activations that rule a loss out: the situations, and the veto rules made from them.

A :class:`Situation` is one way a network's last layer can make a loss unusable (a softmax
that cannot predict a number, a sigmoid below a hinge margin...): the activations and tasks
it concerns, the data condition if there is one, the sentence a reviewer reads and its
sources. Each catalog loss lists the situations that rule it out, each with the reason in
its own words (:class:`Veto`); :func:`activation_veto_tables` turns the two into the veto
rules of the rule base, one per situation, in the tables a rule file holds. They are
checked and compiled like every other rule and sit in the evaluation order among the
warnings of ``rules/activation.toml`` (``before`` names the rule each one precedes), so the
rule base, its digest and every trace are what they were when these rules were written by
hand. Nothing here is executed from a file: the conditions are built from the fields below.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ._spec import LossSpec

#: The name the generated rules are reported under (where their texts are written).
GENERATED_RULES_FILE = "advisor/losses/_activation.py"

CLASSIFICATION = ("binary", "multiclass", "multilabel", "ordinal", "proportion")
NUMERIC = ("regression", "count")


@dataclass(frozen=True)
class Case:
    """Tasks a situation concerns (none named: every task) and the data condition, if any,
    a rule-engine expression over the facts."""

    tasks: tuple[str, ...] = ()
    condition: str = ""


@dataclass(frozen=True)
class Situation:
    """An output activation (or several) that rules losses out on some tasks."""

    id: str
    activations: tuple[str, ...]
    cases: tuple[Case, ...]
    because: str
    cite: tuple[str, ...]
    warn: str | None = None
    #: The rule of rules/activation.toml this one precedes in evaluation order (None: last).
    before: str | None = None
    #: Losses whose vetoes are listed first, in this order (the rest follow in catalog order):
    #: the order these rules were first written in, which the rule base's digest keeps.
    listed_first: tuple[str, ...] = ()

    @property
    def when(self) -> str:
        """The rule's condition: the activation, then the task and data of each case."""
        names = self.activations
        clause = f"activation == '{names[0]}'" if len(names) == 1 else f"activation in {_literal(names)}"
        cases = [_case_text(case) for case in self.cases]
        if len(cases) == 1:
            return " and ".join(part for part in (clause, cases[0]) if part)
        return f"{clause} and ({' or '.join(f'({case})' for case in cases)})"

    def tasks(self) -> frozenset[str] | None:
        """Every task some case concerns; None when a case concerns every task."""
        if any(not case.tasks for case in self.cases):
            return None
        return frozenset(task for case in self.cases for task in case.tasks)

    def covers(self, task: str, activation: str) -> str | None:
        """``always`` when this situation rules ``activation`` out on ``task`` whatever the
        data, ``depends`` when only for some data, None when it does not concern the pair."""
        if activation not in self.activations:
            return None
        matches = [case for case in self.cases if not case.tasks or task in case.tasks]
        if not matches:
            return None
        return "always" if any(not case.condition for case in matches) else "depends"


@dataclass(frozen=True)
class Veto:
    """A situation that rules one loss out, and why in that loss's terms (facts may be named
    as ``{fact}``, e.g. ``{target_max:g}``)."""

    situation: Situation
    reason: str


def _literal(values: Sequence[str]) -> str:
    return "[" + ", ".join(f"'{value}'" for value in values) + "]"


def _case_text(case: Case) -> str:
    if not case.tasks:
        tasks = ""
    elif len(case.tasks) == 1:
        tasks = f"task == '{case.tasks[0]}'"
    else:
        tasks = f"task in {_literal(case.tasks)}"
    return " and ".join(part for part in (tasks, case.condition) if part)


def applicable_vetoes(loss: LossSpec) -> tuple[Veto, ...]:
    """The loss's vetoes whose situation concerns one of its tasks (a family shares one list)."""
    return tuple(veto for veto in loss.vetoes
                 if (tasks := veto.situation.tasks()) is None or tasks & loss.tasks)


def activation_veto_tables(catalog: Iterable[LossSpec] | None = None
                           ) -> list[tuple[str | None, dict[str, Any]]]:
    """One rule table per situation, ``(before, table)``, with the vetoes of ``catalog``
    (by default the loss catalog) as its effects."""
    if catalog is None:
        from . import CATALOG

        catalog = CATALOG.values()
    losses = list(catalog)
    tables = []
    for situation in SITUATIONS:
        reasons = {loss.id: veto.reason for loss in losses for veto in applicable_vetoes(loss)
                   if veto.situation == situation}
        order = [*(loss_id for loss_id in situation.listed_first if loss_id in reasons),
                 *(loss_id for loss_id in reasons if loss_id not in situation.listed_first)]
        table: dict[str, Any] = {
            "id": situation.id, "when": situation.when, "because": situation.because,
            "cite": list(situation.cite),
            "effects": [{"loss": loss_id, "veto": reasons[loss_id]} for loss_id in order],
        }
        if situation.warn is not None:
            table["warn"] = situation.warn
        tables.append((situation.before, table))
    return tables


_TORCH_CE = "PyTorch documentation, torch.nn.CrossEntropyLoss"
_TORCH_BCE = "PyTorch documentation, torch.nn.BCEWithLogitsLoss"
_KERAS_CCE = "Keras documentation, keras.losses.CategoricalCrossentropy"
_BARTLETT = ("Bartlett, Jordan, McAuliffe, Convexity, Classification, and Risk Bounds, Journal of "
             "the American Statistical Association 2006")
_JORGENSEN = ("Jørgensen, Exponential Dispersion Models, Journal of the Royal Statistical Society "
              "Series B 1987")
_BEFORE_SOFTMAX_WARNINGS = "activation.softmax_before_torch_cross_entropy"
_BEFORE_SIGMOID_WARNINGS = "activation.sigmoid_into_bce_with_logits"
_BEFORE_LOG_LINK_RULES = "activation.positive_output_is_a_log_link"

SOFTMAX_READS_CLASS_PROBABILITIES = Situation(
    "activation.softmax_reads_class_probabilities", ("softmax",), (Case(),),
    "A softmax output is a probability vector over mutually exclusive classes that sums to one; "
    "only a cross-entropy-type loss on class probabilities can read it.",
    (_TORCH_CE, _KERAS_CCE), before=_BEFORE_SOFTMAX_WARNINGS)
SOFTMAX_ON_A_SINGLE_OUTPUT = Situation(
    "activation.softmax_on_a_single_output", ("softmax",), (Case(("binary", "proportion")),),
    "The binary and proportion forms of these losses read one output unit, and a softmax over a "
    "single unit is the constant 1, so the network cannot learn anything.",
    (_TORCH_BCE, "Keras documentation, keras.losses.BinaryCrossentropy"),
    warn="A softmax over a single output unit always outputs 1: use one sigmoid unit (or a linear "
         "unit with BCEWithLogitsLoss in PyTorch / from_logits=True in Keras); if the network really "
         "has two softmax units, declare the target as two-class multiclass (--task multiclass).",
    before=_BEFORE_SOFTMAX_WARNINGS)
SOFTMAX_ON_MULTILABEL = Situation(
    "activation.softmax_on_multilabel", ("softmax",), (Case(("multilabel",)),),
    "A softmax makes the labels compete for one unit of probability, so a row with several true "
    "labels can never have all of them near 1; multi-label targets need one independent sigmoid "
    "(or logit) per label.",
    (_TORCH_BCE, "Ridnik, Ben-Baruch, Zamir, Noy, Friedman, Protter, Zelnik-Manor, Asymmetric Loss "
                 "For Multi-Label Classification, ICCV 2021"),
    warn="Softmax on a multi-label target: replace it with one sigmoid per label, or better a linear "
         "output with BCEWithLogitsLoss (PyTorch) / BinaryCrossentropy(from_logits=True) (Keras), and "
         "never use categorical cross-entropy for multi-label data.",
    before=_BEFORE_SOFTMAX_WARNINGS)
SIGMOID_IS_NOT_A_MARGIN = Situation(
    "activation.sigmoid_is_not_a_margin", ("sigmoid",), (Case(),),
    "The hinge loss needs a signed score around 0; a sigmoid output in (0, 1) always sits on the "
    "positive side of the margin.",
    (_BARTLETT,), before=_BEFORE_SIGMOID_WARNINGS)
SIGMOID_ON_EXCLUSIVE_CLASSES = Situation(
    "activation.sigmoid_on_exclusive_classes", ("sigmoid",), (Case(("multiclass", "ordinal")),),
    "Independent sigmoids over mutually exclusive classes do not form a probability distribution; "
    "categorical cross-entropy and its variants need logits or a softmax (CORAL's K-1 sigmoid "
    "thresholds are the exception for ordinal levels).",
    (_TORCH_CE, _KERAS_CCE),
    warn="A sigmoid output on exclusive classes: use a linear output (logits) with "
         "torch.nn.CrossEntropyLoss, or a softmax with Keras categorical cross-entropy; for ordinal "
         "levels, CORAL's K-1 sigmoid outputs are the one loss that fits a sigmoid.",
    before=_BEFORE_SIGMOID_WARNINGS)
SIGMOID_TARGET_OUTSIDE_UNIT_INTERVAL = Situation(
    "activation.sigmoid_target_outside_unit_interval", ("sigmoid",),
    (Case(NUMERIC, "not in_unit_interval"),),
    "A sigmoid output lies in (0, 1); a numeric target outside that interval, negative values "
    "included, can never be reached, whatever the loss.",
    ("Keras documentation, keras.activations.sigmoid",),
    warn="A sigmoid output can only predict values in (0, 1) but the target spans [{target_min:g}, "
         "{target_max:g}]: use a linear output (or rescale the target into [0, 1] and map the "
         "predictions back).",
    before=_BEFORE_LOG_LINK_RULES)
TANH_IS_NOT_A_PROBABILITY = Situation(
    "activation.tanh_is_not_a_probability", ("tanh",), (Case(CLASSIFICATION),),
    "A tanh output in (-1, 1) is neither a probability nor an unconstrained logit; "
    "cross-entropy-type losses need one of the two (hinge, which reads a signed score, is the "
    "exception).",
    (_TORCH_BCE, _BARTLETT),
    warn="A tanh output on a classification target: use a linear output (logits) with the "
         "framework's with-logits cross-entropy; tanh fits only a hinge loss on labels coded -1/+1.",
    before=_BEFORE_LOG_LINK_RULES)
TANH_CANNOT_GIVE_A_POSITIVE_MEAN = Situation(
    "activation.tanh_cannot_give_a_positive_mean", ("tanh",), (Case(),),
    "A tanh output in (-1, 1) read as a mean can be negative, and read as a log-mean caps the "
    "prediction at e; log-link deviances and MSLE need a positive, unbounded mean.",
    (_JORGENSEN,), before=_BEFORE_LOG_LINK_RULES, listed_first=("poisson", "gamma", "tweedie"))
TANH_TARGET_OUTSIDE_RANGE = Situation(
    "activation.tanh_target_outside_range", ("tanh",),
    (Case(NUMERIC, "(target_min < -1 or target_max > 1)"), Case(("ordinal",), "n_classes > 2")),
    "A tanh output lies in (-1, 1); a numeric target or a rank outside that range can never be "
    "reached.",
    ("Keras documentation, keras.activations.tanh",),
    warn="A tanh output can only predict values in (-1, 1) and the target (or the level rank) lies "
         "outside it: use a linear output, or scale the target into [-1, 1] and map the "
         "predictions back.",
    before=_BEFORE_LOG_LINK_RULES)
NONNEGATIVE_OUTPUT_IS_NOT_A_LOGIT = Situation(
    "activation.nonnegative_output_is_not_a_logit", ("relu", "softplus", "exp"), (Case(CLASSIFICATION),),
    "A ReLU, softplus or exp output is never negative; used as a logit it cannot express a "
    "probability below 0.5 for the binary case and cuts the logit space in half, so "
    "classification losses need a linear output.",
    (_TORCH_BCE, _TORCH_CE),
    warn="A {activation} output on a classification target: use a linear output (logits) and a "
         "with-logits loss; the output must be able to go negative.",
    before=_BEFORE_LOG_LINK_RULES)
NONNEGATIVE_OUTPUT_NEGATIVE_TARGET = Situation(
    "activation.nonnegative_output_negative_target", ("relu", "softplus", "exp"),
    (Case(("regression",), "has_negative"),),
    "A ReLU, softplus or exp output is never negative, so the negative values of this target can "
    "never be predicted, whatever the loss.",
    ("PyTorch documentation, torch.nn.ReLU",),
    warn="A {activation} output cannot predict the negative values of this target (minimum "
         "{target_min:g}): use a linear output.",
    before=_BEFORE_LOG_LINK_RULES)
RELU_ZERO_BREAKS_LOG_LOSSES = Situation(
    "activation.relu_zero_breaks_log_losses", ("relu",), (Case(NUMERIC),),
    "A ReLU output can be exactly 0, and stops learning there; the Poisson, Gamma and Tweedie "
    "deviances take log(mean) and are infinite at a zero mean for any positive target, while exp "
    "or softplus keep the mean strictly positive.",
    ("PyTorch documentation, torch.nn.PoissonNLLLoss", _JORGENSEN),
    before=_BEFORE_LOG_LINK_RULES, listed_first=("gamma",))
SQUASHED_DISTRIBUTION_HEAD = Situation(
    "activation.squashed_distribution_head", ("sigmoid", "tanh", "relu", "softplus", "exp"),
    (Case(NUMERIC),),
    "A loss that predicts a distribution reads raw outputs that must range over all real numbers "
    "(a log variance, a logit, the location of log y); a bounded or non-negative activation on "
    "them caps the predicted spread or probability whatever the data, so the head must be linear.",
    ("Nix, Weigend, Estimating the Mean and Variance of the Target Probability Distribution, "
     "ICNN 1994",
     "Wang, Liu, Miao, A Deep Probabilistic Model for Customer Lifetime Value Prediction, "
     "arXiv:1912.07753 2019"),
    before=_BEFORE_LOG_LINK_RULES)
SQUASHED_SURVIVAL_HEAD = Situation(
    "activation.squashed_survival_head", ("sigmoid", "tanh", "relu", "softplus", "exp"),
    (Case(("survival",)),),
    "The survival losses read raw outputs that must range over all real numbers (a log-risk, "
    "interval hazard logits, the logits of the event time's distribution); a bounded or "
    "non-negative activation on them caps the risk or the hazards whatever the data, so the "
    "head must be linear.",
    ("Katzman, Shaham, Cloninger, Bates, Jiang, Kluger, DeepSurv, BMC Medical Research "
     "Methodology 2018",
     "Kvamme, Borgan, Continuous and discrete-time survival prediction with neural networks, "
     "Lifetime Data Analysis 2021"),
    before=_BEFORE_LOG_LINK_RULES)

#: Every situation, in evaluation order.
SITUATIONS: tuple[Situation, ...] = (
    SOFTMAX_READS_CLASS_PROBABILITIES, SOFTMAX_ON_A_SINGLE_OUTPUT, SOFTMAX_ON_MULTILABEL,
    SIGMOID_IS_NOT_A_MARGIN, SIGMOID_ON_EXCLUSIVE_CLASSES, SIGMOID_TARGET_OUTSIDE_UNIT_INTERVAL,
    TANH_IS_NOT_A_PROBABILITY, TANH_CANNOT_GIVE_A_POSITIVE_MEAN, TANH_TARGET_OUTSIDE_RANGE,
    NONNEGATIVE_OUTPUT_IS_NOT_A_LOGIT, NONNEGATIVE_OUTPUT_NEGATIVE_TARGET, RELU_ZERO_BREAKS_LOG_LOSSES,
    SQUASHED_DISTRIBUTION_HEAD, SQUASHED_SURVIVAL_HEAD,
)
