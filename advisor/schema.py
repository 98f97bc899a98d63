"""The result schema: every record ``suggest`` returns, the one rounding rule, the JSON Schema.

Each record is a frozen dataclass whose fields are its JSON keys, in order (see
:mod:`advisor.record_codec`): ``to_dict()`` writes it, ``from_dict()`` reads a saved one back
and refuses a missing or misspelt key, and :func:`result_json_schema` is generated from the
same fields (``python -m advisor.schema > docs/schema.json``). Every renderer reads these
records' attributes, so a saved JSON file re-renders to the same report without recomputing.
The JSON holds no timestamps or timings, so the same input and seed give the same bytes.

Numbers reach the JSON rounded to a few significant digits, so the same input gives the same
bytes and a reviewer reads 0.123457, not 0.12345678901234. Every stage rounds with
:func:`significant`; what a stage does with a missing or infinite number stays its own call.
"""

from __future__ import annotations

import json
import math
import numbers
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import ReportError
from .record_codec import ADDED, EXTRA, OMIT_NONE, OPT_IN, JsonField, Record, SchemaError, dumps, json_schema

#: Bump the minor version for additive changes, the major one when a key changes meaning.
SCHEMA_VERSION = "2.0"
#: Significant digits of measured figures (scores, facts, p-values).
MEASURED_DIGITS = 6
#: Significant digits of derived loss settings (weights, deltas, quantile levels).
SETTING_DIGITS = 4

#: A JSON scalar: a fact's value (see advisor.facts), or an option passed through as given.
Scalar = str | float | bool | None


def significant(value: Any, digits: int = MEASURED_DIGITS) -> float:
    """``value`` as a float with ``digits`` significant digits; non-finite values unchanged."""
    number = float(value)
    if not math.isfinite(number):
        return number
    return float(f"{number:.{digits}g}")


def json_tree(value: Any, leaf: Callable[[Any], Any]) -> Any:
    """``value`` as JSON data: mappings with text keys, sequences and arrays as lists, text
    and None as they are, and every other leaf through ``leaf`` (e.g. :func:`measured`)."""
    if isinstance(value, dict):
        return {str(key): json_tree(item, leaf) for key, item in value.items()}
    if getattr(value, "ndim", 0) > 0:  # a numpy array
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [json_tree(item, leaf) for item in value]
    if isinstance(value, str) or value is None:
        return value
    return leaf(value)


def measured(value: Any, digits: int = MEASURED_DIGITS) -> float | int | bool | None:
    """A measured figure as the JSON holds it: ``significant`` digits, integers and flags as
    they are, and None for a missing or non-finite number (a score that could not be had)."""
    if value is None:
        return None
    if isinstance(value, bool) or getattr(value, "dtype", None) == "bool":  # numpy's bool_ too
        return bool(value)
    if isinstance(value, numbers.Integral):  # numpy's integers register here
        return int(value)
    number = float(value)
    if not math.isfinite(number):
        return None
    return significant(number, digits)


# ----- the rules' trace and the user's notices -------------------------------------------------

@dataclass(frozen=True)
class Reason(Record):
    """One fired rule's effect on one loss (a score change or a veto), or a warning it raised.

    Its JSON form is what a reviewer reads: ``rule_id``, ``effect`` (``+2``, ``-1.5``, ``veto``),
    ``because`` (the veto's or warning's own text when it has one, else the rule's sentence)
    and ``cite``. Read back from JSON, ``loss`` is None (the candidate holding it says which).
    """

    rule_id: str
    loss: str | None          # None for warnings
    kind: str                 # "score" | "veto" | "warn"
    delta: float              # score change; 0.0 for vetoes and warnings
    because: str              # the rule's sentence
    cite: tuple[str, ...]
    message: str              # the veto reason or the warning text, facts filled in; "" for scores

    @property
    def effect(self) -> str:
        """The effect as the JSON writes it: ``+2``, ``-1.5``, ``veto`` or ``warn``."""
        return self.kind if self.kind != "score" else f"{self.delta:+g}"

    @property
    def score_change(self) -> float | None:
        """The score change as the JSON holds it (6 significant digits); None unless a score."""
        return significant(self.delta) if self.kind == "score" else None

    @property
    def explanation(self) -> str:
        """What the reviewer reads: a veto's or warning's own text, else the rule's sentence."""
        return self.message if self.kind != "score" and self.message else self.because

    @classmethod
    def json_fields(cls) -> tuple[JsonField, ...]:
        return (JsonField("rule_id", str), JsonField("effect", str), JsonField("because", str),
                JsonField("cite", tuple[str, ...]))

    def json_values(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "effect": self.effect, "because": self.explanation,
                "cite": self.cite}

    @classmethod
    def from_json_values(cls, values: dict[str, Any]) -> Reason:
        effect = values["effect"]
        if effect in ("veto", "warn"):
            return cls(values["rule_id"], None, effect, 0.0, values["because"], values["cite"],
                       values["because"])
        try:
            delta = float(effect)
        except ValueError:
            raise SchemaError(f"Reason.effect: {effect!r} is not a score change, veto or warn") from None
        return cls(values["rule_id"], None, "score", delta, values["because"], values["cite"], "")


@dataclass(frozen=True)
class Notice(Record):
    """A problem worth the user's attention: an activation bug, small data, sampling."""

    code: str        # the rule id, or a built-in code such as "data.small"
    message: str


# ----- the experiment ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ExperimentProtocol(Record):
    """The experiment as it ran: what was trained, on what, how, and why."""

    task: str
    metric: str
    greater_is_better: bool
    metrics: tuple[str, ...]
    candidates: tuple[str, ...]
    rows_available: int
    sample_rows: int
    stratified_on: str
    folds: int
    repeats: int
    splits_planned: int
    splits_used: int
    test_train_ratio: float | None
    epochs: int
    hidden: tuple[int, ...]
    solver: str
    seed: int
    alpha: float
    budget: float | None
    backend: str
    n_jobs: int
    workers: int
    within_budget: bool
    reasons: tuple[str, ...]
    #: What decides: ``all_rows`` (the metric over all rows) or ``worst_group`` (its value in
    #: the worst-off group of the sensitive column, fold by fold; the comparisons use it too).
    judge: str = field(default="all_rows", metadata={ADDED: True})


@dataclass(frozen=True)
class IntervalCoverage(Record):
    """A central interval of two quantile levels: its nominal and its measured coverage."""

    nominal: float                            # hi - lo
    measured: float                           # share of held-out targets inside the interval


@dataclass(frozen=True)
class FairnessEvidence(Record):
    """One candidate's scores across the groups of the sensitive column, mean over the folds.

    ``per_group`` holds the user's metric in each group (fairlearn's ``MetricFrame``),
    ``worst_group`` its worst value (lowest where greater is better), and the two gaps are
    fairlearn's ``demographic_parity_difference`` (largest gap of the predicted-positive rate
    between groups) and ``equalized_odds_difference`` (the larger of the gaps of the true- and
    false-positive rates), 0 = parity; a multiclass target takes each gap's largest value
    over the classes, one class against the rest."""

    metric: str
    worst_group: float | None
    worst_group_name: str | None              # the group that was worst most often
    worst_group_folds: tuple[float | None, ...]
    per_group: dict[str, float | None]
    demographic_parity_difference: float | None
    equalized_odds_difference: float | None


@dataclass(frozen=True)
class ParameterSearch(Record):
    """A parameter the experiment searched (poly1's epsilon): the grid, the value chosen on
    each split's held-out fifth of the training fold, how many splits searched (the others
    were too small and kept the derived value), and the value chosen most often, which the
    recommendation's settings and snippets use."""

    name: str
    grid: tuple[float, ...]
    folds: tuple[float, ...]
    searched_splits: int
    chosen: float


@dataclass(frozen=True)
class Evidence(Record):
    """One trained candidate's numbers: fold scores, means, the interval, stability."""

    loss: str
    rule_rank: int | None                     # 1-based position in the rule ranking
    roles: tuple[str, ...]                    # "rules", "default", "user", "budget"
    status: str                               # tested, unstable, failed, not_run
    error: str | None                         # why it failed or did not run
    unstable: str | None                      # the blow-up that made it unstable
    metric: str
    mean: float | None
    std: float | None
    ci_low: float | None                      # interval of the mean primary score
    ci_high: float | None
    fold_scores: tuple[float | None, ...]     # the primary metric, one per split (None: undefined)
    means: dict[str, float | None]            # every metric
    folds: dict[str, tuple[float | None, ...]]
    epochs_run: tuple[int | None, ...]
    epoch_cap_folds: int                      # folds where training stopped at the epoch cap
    #: Quantile losses only: level -> mean share of held-out targets at or below its prediction.
    coverage: dict[str, float] | None = field(default=None, kw_only=True, metadata={OMIT_NONE: True})
    #: Quantile losses with a pair of levels lo, 1 - lo: "lo-hi" -> the interval's coverage.
    interval_coverage: dict[str, IntervalCoverage] | None = field(
        default=None, kw_only=True, metadata={OMIT_NONE: True})
    #: With a sensitive column: the metric per group, its worst group and the fairness gaps.
    fairness: FairnessEvidence | None = field(default=None, kw_only=True,
                                              metadata={OMIT_NONE: True})
    #: Plans only: the decision rule tuned on each split (thresholds per output, or (tau,)).
    decision_folds: tuple[tuple[float, ...], ...] | None = field(
        default=None, kw_only=True, metadata={OMIT_NONE: True})
    #: A searched parameter only (poly1's epsilon): the grid, each split's value, the chosen one.
    search: ParameterSearch | None = field(default=None, kw_only=True, metadata={OMIT_NONE: True})


@dataclass(frozen=True)
class Comparison(Record):
    """A paired comparison over the folds, oriented so a positive difference means ``a`` better."""

    a: str
    b: str
    n_folds: int
    mean_difference: float | None
    standardized_difference: float | None
    ci_low: float | None
    ci_high: float | None
    t_statistic: float | None
    p_value: float | None
    wilcoxon_p: float | None
    significant: bool
    better: str | None


@dataclass(frozen=True)
class PracticalEquivalence(Record):
    """Posterior probabilities that a loss is practically better, equivalent or worse than the
    pick, within the margin ``rope`` (the Bayesian correlated t-test)."""

    rope: float | None
    better: float | None
    equivalent: float | None
    worse: float | None


@dataclass(frozen=True)
class ComparisonWithPick(Comparison):
    """A candidate's paired comparison with the recommendation, and its practical reading."""

    practical: PracticalEquivalence


@dataclass(frozen=True)
class EvidenceVersusPick(Evidence):
    """A candidate's evidence as the ranking shows it: its numbers and the comparison with the
    pick (None for the pick itself and for candidates compared with nothing)."""

    versus: ComparisonWithPick | None
    p_value: float | None


@dataclass(frozen=True)
class Agreement(Record):
    """Kendall's tau between the rule ranking and the ranking by mean score."""

    kendall_tau: float | None
    p_value: float | None
    n_candidates: int


@dataclass(frozen=True)
class ValidationSummary(Record):
    """The experiment's evidence: protocol, the trained candidates, their comparisons."""

    protocol: ExperimentProtocol
    metric: str
    rule_choice: str | None                   # the rules' first trained choice
    rule_order: tuple[str, ...]               # stable tested candidates in rule order
    empirical_order: tuple[str, ...]          # the same by mean primary score, best first
    agreement: Agreement | None
    candidates: tuple[Evidence, ...]
    comparisons: tuple[Comparison, ...]
    notices: tuple[Notice, ...]


# ----- the data, the rules, the run -----------------------------------------------------------

@dataclass(frozen=True)
class TargetHistogram(Record):
    """A numeric target binned for the distribution plot."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class GroupFacts(Record):
    """One group of the sensitive column: size, share of the rows, and its base rates."""

    name: str
    rows: int
    share: float
    class_shares: tuple[float, ...]           # aligned with the profile's classes
    imbalance_ratio: float                    # largest / smallest class count in the group
    base_rate: float | None = field(default=None, metadata={OMIT_NONE: True})  # binary: P(y = 1 | g)


@dataclass(frozen=True)
class GroupProfile(Record):
    """The groups of the sensitive column (``--sensitive``) over the rows kept."""

    column: str
    as_feature: bool                          # the column is also a feature of the proxies
    classes: tuple[str, ...]
    groups: tuple[GroupFacts, ...]
    largest_base_rate_gap: float


@dataclass(frozen=True)
class ProfileSummary(Record):
    """The target profile as reports show it: the facts the rules reasoned over, the classes."""

    task: str
    task_reason: str
    facts: dict[str, Scalar]
    classes: tuple[str, ...]                  # class labels, ordinal levels or label names
    class_counts: tuple[int, ...]             # aligned with classes
    robust_scale: float
    quantiles: tuple[float, ...]
    n_features_used: int
    target_histogram: TargetHistogram | None = field(default=None, metadata={OMIT_NONE: True})
    #: With a sensitive column: its groups, their sizes and base rates.
    groups: GroupProfile | None = field(default=None, metadata={OMIT_NONE: True})


@dataclass(frozen=True)
class DataSource(Record):
    """Where the data came from, so a reviewer can check they have the same file."""

    source: str
    format: str
    bytes: int | None
    sha256: str
    rows: int
    columns: int
    encoding: str | None = field(default=None, metadata={OMIT_NONE: True})  # a non-UTF-8 CSV's


@dataclass(frozen=True)
class RuleOverride(Record):
    """A rule from a ``--rules`` directory that replaced a rule with the same id."""

    rule_id: str
    replaced_file: str
    by_file: str


@dataclass(frozen=True)
class RulebaseInfo(Record):
    """Which rule base answered: its digest, size, the rules that fired, where they came from."""

    digest: str
    rules: int
    fired: tuple[str, ...]
    sources: tuple[str, ...]
    overrides: tuple[RuleOverride, ...]


@dataclass(frozen=True)
class RunSettings(Record):
    """Every option that shaped the result."""

    validate: bool
    budget: float
    seed: int
    n_jobs: int
    backend: str
    rules: tuple[str, ...]
    label_sep: str | None
    label_noise: bool
    quantiles: tuple[float, ...]
    task_given: str | None
    loss_given: str | None
    positive_given: Scalar                    # as given: the profile reads it as text
    sensitive_given: str | None = field(default=None, metadata={OMIT_NONE: True})
    sensitive_as_feature: bool | None = field(default=None, metadata={OMIT_NONE: True})
    judge: str | None = field(default=None, metadata={OMIT_NONE: True})


@dataclass(frozen=True)
class Reproducibility(Record):
    """The command that reproduces the result and the versions that matter."""

    command: str
    versions: dict[str, str]


@dataclass(frozen=True)
class Audit(Record):
    """With ``--loss``: the loss trained today, against the recommendation."""

    loss: str
    applicable: bool
    rank: int | None
    verdict: str
    vetoed: bool | None = field(metadata={OMIT_NONE: True})   # absent when not applicable
    recommended: str
    default_loss: str
    message: str


@dataclass(frozen=True)
class Confidence(Record):
    """How sure the recommendation is, and why."""

    level: str                                # high, medium, low
    reason: str


@dataclass(frozen=True)
class DecisionBasis(Record):
    """How the pick was decided (see advisor.decide)."""

    basis: str                                # evidence, rules_tiebreak, too_small, rules, none
    leader: str | None                        # the best-measured stable loss
    margin: float | None                      # the practical margin, in the metric's units
    metric: str | None
    #: all_rows, or worst_group: the metric of the worst-off group decided (``--judge``).
    judge: str = field(default="all_rows", metadata={ADDED: True})
    #: Judged on the worst group: the pick's worst-off group (by its mean over the folds).
    worst_group: str | None = field(default=None, metadata={OMIT_NONE: True})


@dataclass(frozen=True)
class Target(Record):
    """The target columns and why these."""

    columns: tuple[str, ...]
    reason: str


# ----- the result -------------------------------------------------------------------------------

@dataclass(frozen=True)
class OutputColumn(Record):
    """One raw output of a loss with several outputs per target: its name and meaning."""

    name: str
    meaning: str


@dataclass(frozen=True)
class Outputs(Record):
    """What a multi-output loss's raw outputs mean (in order, per target column) and how they
    become the one-number prediction."""

    columns: tuple[OutputColumn, ...]
    prediction: str


@dataclass(frozen=True)
class DecisionRule(Record):
    """A plan's decision rule: which, the metric it is tuned for, its values as the experiment
    tuned them (the median over splits; None without an experiment) and how to tune it on
    one's own validation data."""

    rule: str                                 # threshold | logit_adjustment
    metric: str                               # the metric the rule is tuned for
    threshold: tuple[float, ...] | None       # threshold: per output (binary: the positive class)
    tau: float | None                         # logit_adjustment: the scale of log prior
    splits_tuned: int | None                  # splits it was tuned on (None: not run)
    splits_plain: int | None                  # of them, where the guard kept the plain rule
    how: str


@dataclass(frozen=True, kw_only=True)
class Candidate(Record):
    """One loss in the final ranking, with its settings, reasons and evidence."""

    loss: str
    title: str
    rank: int
    score: float
    verdict: str
    vetoed: bool = False
    params: dict[str, Any]
    reasons: tuple[Reason, ...]
    evidence: EvidenceVersusPick | None = None   # the validator's numbers for this loss, if tested
    #: what each raw output means and how they give the prediction (losses with several
    #: outputs per target: a predictive distribution); None for one output per target
    outputs: Outputs | None = None
    #: a plan's decision rule (a tuned threshold or logit adjustment); None: the plain argmax
    #: / 0.5 rule
    decision: DecisionRule | None = None
    formula: str
    citation: str
    snippets: dict[str, str]

    def to_torch(self, *, reduction: str = "mean") -> Any:
        """This loss with its parameters as a ready-to-train ``torch.nn.Module`` (see
        :mod:`advisor.torch`; ``pip install 'loss-advisor[torch]'``)."""
        task = self._task_for("to_torch")  # the candidate's own problem first, framework or not
        from .torch import make_loss
        return make_loss(self.loss, self.params, task, reduction=reduction)

    def to_keras(self, **options: Any) -> Any:
        """This loss with its parameters as a Keras 3 loss for ``model.compile`` (see
        :mod:`advisor.keras`; ``pip install 'loss-advisor[keras]'``); ``options``: ``name``,
        ``reduction``, ``dtype`` of ``keras.losses.Loss``. A multitask candidate's is the
        :class:`advisor.keras.composite.CompositeLoss` layer, which adds the combined loss."""
        task = self._task_for("to_keras")
        from .keras import make_loss
        return make_loss(self.loss, self.params, task, **options)

    def _task_for(self, method: str) -> str:
        """The task of the recommendation this candidate belongs to (set by it: a candidate
        alone does not say which form of its loss, sigmoid or softmax, it is)."""
        task = getattr(self, "_task", None)
        if task is None:
            raise ReportError(f"Candidate.{method} needs the candidate's task: take the candidate "
                              "from a Recommendation, or use advisor.torch.make_loss(loss, params, task)")
        return str(task)


@dataclass(frozen=True)
class CompositePart(Record):
    """One target of a multitask problem: its own task, metric, loss and the rules' ranking."""

    column: str
    task: str
    task_reason: str
    metric: str                               # the target's own metric (its task's default)
    loss: str                                 # the target's loss in the combination
    params: dict[str, Any]
    outputs: int                              # the target's block of raw outputs (its width)
    ranking: tuple[str, ...]                  # the target's losses in its rule order
    reasons: tuple[Reason, ...]               # why its loss, as for a single target


@dataclass(frozen=True)
class WeightingEvidence(Record):
    """One weighting of the combination as the experiment measured it, per target."""

    weighting: str
    scores: dict[str, Any]                    # target column -> mean fold score on its metric
    ranks: dict[str, Any]                     # target column -> rank among the weightings (1 best)
    mean_rank: float
    final_weights: tuple[float, ...]          # each target's weight at the end of the last fold


@dataclass(frozen=True)
class CompositeSummary(Record):
    """A multitask problem: one loss per target and how they are weighted into one."""

    weighting: str                            # fixed, uncertainty or gradnorm
    weighting_reason: str
    rule_weighting: str                       # the weighting the rules start from
    targets: tuple[CompositePart, ...]
    weightings: tuple[WeightingEvidence, ...]  # empty on the rules-only path
    protocol: dict[str, Any] | None           # folds, rows, epochs, seed; None rules-only


@dataclass(frozen=True, eq=False, kw_only=True)
class Recommendation(Record):
    """What :func:`advisor.suggest` returns. ``candidates[0]`` is the recommendation."""

    schema_version: str = field(default=SCHEMA_VERSION, metadata={EXTRA: {"pattern": r"^\d+\.\d+$"}})
    recommendation: str = field(init=False)      # the recommended loss id, candidates[0].loss
    task: str
    task_reason: str
    target: Target
    metric: str
    metric_reason: str
    activation: str
    framework: str
    confidence: Confidence
    decision: DecisionBasis
    summary: str
    default_loss: str          # the task's naive default, the baseline of the experiment
    candidates: tuple[Candidate, ...] = field(metadata={EXTRA: {"minItems": 1}})
    audit: Audit | None = None
    warnings: tuple[Notice, ...]
    profile: ProfileSummary
    validation: ValidationSummary | None = None
    provenance: DataSource
    rulebase: RulebaseInfo
    settings: RunSettings
    reproducibility: Reproducibility
    #: several targets of different kinds: the per-target losses and their weighting
    composite: CompositeSummary | None = field(default=None, metadata={OMIT_NONE: True})
    #: measured wall-clock figures: they differ run to run, so they join the JSON only on request
    timing: dict[str, Any] = field(default_factory=dict, compare=False, metadata={OPT_IN: True})

    def __post_init__(self) -> None:
        if not self.candidates:
            raise ValueError("a recommendation needs at least one candidate")
        object.__setattr__(self, "recommendation", self.candidates[0].loss)
        for candidate in self.candidates:  # not a field: the candidate's loss objects need it
            object.__setattr__(candidate, "_task", self.task)

    @property
    def best(self) -> Candidate:
        """The recommended loss."""
        return self.candidates[0]

    def to_dict(self, *, include_timing: bool = False) -> dict[str, Any]:
        """The versioned, JSON-safe form (the schema in docs/schema.json).

        ``include_timing`` adds the measured wall-clock figures (``timing``): useful to see
        where the time went, but they differ run to run, so they are off by default.
        """
        payload = super().to_dict()
        if include_timing:
            payload["timing"] = self.timing
        return payload

    def to_json(self, *, indent: int | None = 2, include_timing: bool = False) -> str:
        """Byte-stable JSON (same input and seed, same bytes) unless timings are included."""
        return dumps(self.to_dict(include_timing=include_timing), indent=indent)

    def to_markdown(self, *, plot_dir: str | None = None) -> str:
        """GitHub-flavoured Markdown report (plots written as SVG beside it when asked)."""
        from .report import render_markdown
        return render_markdown(self, plot_dir=plot_dir)

    def to_html(self) -> str:
        """One self-contained HTML file: inline CSS and SVG plots, nothing fetched."""
        from .report import render_html
        return render_html(self)

    def save_report(self, path: str, *, format: str | None = None, overwrite: bool = True) -> str:
        """Write the report atomically to ``path``; ``format`` is markdown or html (required
        unless the suffix is .md/.html, which is then confirmed, never guessed silently)."""
        from .report import save_report
        return save_report(self, path, format=format, overwrite=overwrite)


def result_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``Recommendation.to_json()``, generated from the records above."""
    return json_schema(Recommendation, title=f"loss-advisor recommendation (schema {SCHEMA_VERSION})")


def result_json_schema_text() -> str:
    """The JSON Schema as written to docs/schema.json (a test keeps that file up to date)."""
    return json.dumps(result_json_schema(), indent=2, ensure_ascii=False) + "\n"


__all__ = [
    "SCHEMA_VERSION", "MEASURED_DIGITS", "SETTING_DIGITS", "significant", "SchemaError", "dumps",
    "Reason", "Notice", "ExperimentProtocol", "Evidence", "Comparison", "PracticalEquivalence",
    "ComparisonWithPick", "EvidenceVersusPick", "Agreement", "ValidationSummary",
    "TargetHistogram", "ProfileSummary", "DataSource", "RuleOverride", "RulebaseInfo",
    "RunSettings", "Reproducibility", "Audit", "Confidence", "DecisionBasis", "Target",
    "OutputColumn", "Outputs", "DecisionRule", "ParameterSearch", "Candidate", "CompositePart", "WeightingEvidence",
    "CompositeSummary", "Recommendation", "result_json_schema", "result_json_schema_text",
]


if __name__ == "__main__":                      # python -m advisor.schema > docs/schema.json
    sys.stdout.write(result_json_schema_text())
