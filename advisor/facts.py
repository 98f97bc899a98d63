"""The fact vocabulary: every fact the profile computes and the rules may reason over.

This table is the single source of truth. The profile must produce exactly these names,
the rule engine builds its type resolver from it (so a rule naming an unknown fact fails
when the rule file is loaded), and the documentation table in the README is generated
from it (``python -m advisor.facts`` prints it).

Types are rule-engine types: ``str``, ``float`` (any number), ``bool``. Facts that do not
apply to a task take a neutral value documented here (never None), so rule conditions do
not need null checks.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FactSpec:
    """One fact: its name, type, meaning, and how it is computed."""

    name: str
    type: type
    meaning: str
    computed: str


FACTS: tuple[FactSpec, ...] = (
    # what the target is
    FactSpec("task", str, "Target type: binary, multiclass, multilabel, ordinal, regression, count, proportion.",
             "Detected from dtype, distinct values, bounds and integrality (see task_reason); `--task` overrides."),
    FactSpec("task_overridden", bool, "The user forced the task with `--task`.", "True when `task=` was given."),
    FactSpec("n_rows", float, "Rows with a usable target.", "Rows after dropping rows whose target is missing."),
    FactSpec("n_features", float, "Feature columns.", "All non-target columns."),
    FactSpec("n_numeric_features", float, "Numeric feature columns.", "Columns of numeric or boolean dtype."),
    FactSpec("n_categorical_features", float, "Non-numeric feature columns.", "n_features - n_numeric_features."),
    FactSpec("missing_fraction", float, "Share of missing cells in the features.", "NaN/None/inf cells / (rows x features)."),
    FactSpec("n_targets", float, "Target columns (labels for multi-label).", "1, or the number of label columns / distinct labels."),
    FactSpec("target_missing_fraction", float, "Share of rows whose target was missing and dropped.", "dropped / rows read."),
    FactSpec("n_distinct", float, "Distinct target values (label sets for multi-label).", "Unique non-missing values."),
    # classification shape
    FactSpec("n_classes", float, "Classes (labels for multi-label, levels for ordinal); 0 for numeric tasks.",
             "Distinct class values."),
    FactSpec("imbalance_ratio", float, "Largest class count / smallest class count (per-label negatives/positives, worst label, for multi-label); 1 for numeric tasks.",
             "max(n_c) / min(n_c)."),
    FactSpec("minority_fraction", float, "Share of the smallest class (rarest label's prevalence for multi-label); 0.5 for numeric tasks.",
             "min(n_c) / n."),
    FactSpec("minority_count", float, "Rows of the smallest class (positives of the rarest label); 0 for numeric tasks.",
             "min(n_c)."),
    FactSpec("label_entropy", float, "Normalized entropy of the class distribution, 1 = uniform; 1 for numeric tasks.",
             "-sum p_c log p_c / log K."),
    FactSpec("effective_number_ratio", float, "Effective number of samples of the smallest class / its raw count (Cui et al. 2019, beta = 1 - 1/n); 1 for numeric tasks.",
             "E_n = (1 - beta^n) / (1 - beta) for n = min(n_c)."),
    FactSpec("label_cardinality", float, "Mean labels per row (multi-label); 1 otherwise.", "mean of row sums of the 0/1 label matrix."),
    FactSpec("label_density", float, "label_cardinality / n_targets (multi-label); 1 otherwise.", "label_cardinality / n_targets."),
    # numeric shape (computed for regression, count, proportion and ordinal; neutral otherwise)
    FactSpec("skewness", float, "Sample skewness of the target; 0 for classification.", "scipy-free moment estimate, bias-uncorrected."),
    FactSpec("kurtosis", float, "Excess kurtosis of the target (0 for a Gaussian); 0 for classification.", "fourth standardized moment - 3."),
    FactSpec("outlier_fraction", float, "Share of targets far from the median; 0 for classification.",
             "|y - median| / (1.4826 MAD) > 3.5 (Iglewicz-Hoaglin modified z-score)."),
    FactSpec("zero_fraction", float, "Share of targets equal to 0; 0 for classification.", "mean(y == 0)."),
    FactSpec("excess_zero_ratio", float, "Observed zero share / Poisson-expected zero share exp(-mean); 1 when the mean is 0 or not a count.",
             "zero_fraction / exp(-mean(y))."),
    FactSpec("integer_valued", bool, "All target values are whole numbers.", "all(y == round(y))."),
    FactSpec("nonnegative", bool, "No target value below 0.", "min(y) >= 0."),
    FactSpec("strictly_positive", bool, "Every target value above 0.", "min(y) > 0."),
    FactSpec("has_negative", bool, "Some target value below 0.", "min(y) < 0."),
    FactSpec("target_min", float, "Smallest target value; 0 for classification.", "min(y)."),
    FactSpec("target_max", float, "Largest target value; 1 for classification.", "max(y)."),
    FactSpec("target_mean", float, "Mean of the target; 0 for classification.", "mean(y)."),
    FactSpec("target_std", float, "Standard deviation of the target; 0 for classification.", "std(y), ddof 0."),
    FactSpec("target_scale", float, "Largest absolute target value; 1 for classification.", "max(|y|)."),
    FactSpec("in_unit_interval", bool, "Every target value lies in [0, 1].", "0 <= min(y) and max(y) <= 1."),
    FactSpec("dispersion_index", float, "Variance / mean (counts: 1 is Poisson, >> 1 over-dispersed); 1 when the mean is 0 or not numeric.",
             "var(y) / mean(y)."),
    FactSpec("tweedie_power", float, "Exponent p of Var = phi mu^p estimated from the data; 0 when not estimable.",
             "Slope of log variance on log mean across quantile bins of the target's nearest-neighbour-free proxy: bins of rows sorted by a 1-D linear fit of y on the features."),
    # the user's hints
    FactSpec("activation", str, "The network's output activation (auto, linear, sigmoid, softmax, tanh, relu, softplus, exp).",
             "`--activation`; `logits` is stored as linear."),
    FactSpec("framework", str, "The framework the snippets target (pytorch, keras).", "`--framework`."),
    FactSpec("metric", str, "The metric the user is judged on.", "`--metric`, else the task's default (see the metrics table)."),
    FactSpec("metric_given", bool, "The user named the metric.", "True when `--metric` was given."),
    FactSpec("current_loss", str, "The loss the user trains with today (audited against the advice); empty when none.",
             "`--loss`."),
    FactSpec("label_noise", bool, "The user suspects noisy labels.", "`--label-noise`."),
    FactSpec("has_quantiles", bool, "The user asked for quantile levels.", "`--quantile` given at least once."),
)

FACT_NAMES: frozenset[str] = frozenset(spec.name for spec in FACTS)
FACT_TYPES: dict[str, type] = {spec.name: spec.type for spec in FACTS}


def facts_markdown_table() -> str:
    """The fact vocabulary as a GitHub Markdown table, for the README."""
    type_names = {str: "string", float: "number", bool: "boolean"}
    rows = ["| fact | type | meaning | how it is computed |", "|---|---|---|---|"]
    for spec in FACTS:
        rows.append(f"| `{spec.name}` | {type_names[spec.type]} | {spec.meaning} | {spec.computed} |")
    return "\n".join(rows)


if __name__ == "__main__":  # pragma: no cover - documentation helper
    print(facts_markdown_table())
