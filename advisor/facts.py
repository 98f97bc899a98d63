"""The fact vocabulary: every fact the profile computes and the rules may reason over.

This table is the single source of truth. The profile must produce exactly these names,
the rule engine builds its type resolver from it (so a rule naming an unknown fact fails
when the rule file is loaded), and the documentation table in the README is generated
from it (``python -m advisor.facts`` prints it).

Types are rule-engine types: ``str``, ``float`` (any number), ``bool``. Facts that do not
apply to a task take a neutral value documented here (never None), so rule conditions do
not need null checks.

With several numeric target columns (multi-output regression) each numeric fact is taken
at its most telling column, as its "how it is computed" text says.

Most facts are computed from the data; the user's hints (:data:`HINT_FACT_NAMES`) come from
the options. The two stay apart until :func:`rule_facts` merges them into the one dict the
rules evaluate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .schema import significant


@dataclass(frozen=True)
class FactSpec:
    """One fact: its name, type, meaning, and how it is computed."""

    name: str
    type: type
    meaning: str
    computed: str


FACTS: tuple[FactSpec, ...] = (
    # what the target is
    FactSpec("task", str, "Target type: binary, multiclass, multilabel, ordinal, regression, count, proportion, survival.",
             "Detected from dtype, distinct values, bounds and integrality (see task_reason); survival: a duration with an event indicator, given with `--event` / `--censored` or named like one (event, status, dead, death, churned, failure...); `--task` overrides."),
    FactSpec("task_overridden", bool, "The user forced the task with `--task`.", "True when `task=` was given."),
    FactSpec("n_rows", float, "Rows with a usable target.", "Rows after dropping rows whose target is missing."),
    FactSpec("n_features", float, "Feature columns.", "All non-target columns."),
    FactSpec("n_numeric_features", float, "Numeric feature columns.", "Columns of numeric or boolean dtype (not categorical)."),
    FactSpec("n_categorical_features", float, "Non-numeric feature columns.", "n_features - n_numeric_features."),
    FactSpec("missing_fraction", float, "Share of missing cells in the features.", "NaN/None/inf cells / (n_rows x n_features), over the rows kept."),
    FactSpec("n_targets", float, "Target columns (labels for multi-label).", "1, or the number of label columns / distinct labels."),
    FactSpec("target_missing_fraction", float, "Share of rows whose target was missing and dropped.", "dropped / rows read; a numeric target's few cells of other text (at most 5 % of rows, e.g. `error`) count as missing, with a warning."),
    FactSpec("n_distinct", float, "Distinct target values (label sets for multi-label).", "Unique non-missing values; several numeric targets: the largest count of any column."),
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
             "-sum p_c log p_c / log K; multi-label: the mean over labels of the binary entropy in bits."),
    FactSpec("effective_number_ratio", float, "Effective number of samples of the smallest class / its raw count (Cui et al. 2019, beta = 1 - 1/N, N = n_rows); 1 for numeric tasks.",
             "E_n / n with E_n = (1 - beta^n) / (1 - beta) for n = min(n_c) (positives of the rarest label for multi-label)."),
    FactSpec("label_cardinality", float, "Mean labels per row (multi-label); 1 otherwise.", "mean of row sums of the 0/1 label matrix."),
    FactSpec("label_density", float, "label_cardinality / n_targets (multi-label); 1 otherwise.", "label_cardinality / n_targets."),
    # numeric shape (computed for regression, count, proportion and ordinal, on the numeric
    # levels of an ordinal target or on its level indices 0..K-1 when the levels are text;
    # neutral for binary, multiclass and multi-label)
    FactSpec("skewness", float, "Sample skewness of the target; 0 for classification.", "Third standardized moment, bias-uncorrected; several targets: the column with the largest |skewness|, sign kept."),
    FactSpec("kurtosis", float, "Excess kurtosis of the target (0 for a Gaussian); 0 for classification.", "fourth standardized moment - 3; several targets: the largest."),
    FactSpec("outlier_fraction", float, "Share of targets far from the median; 0 for classification.",
             "|y - median| / (1.4826 MAD) > 3.5 (Iglewicz-Hoaglin modified z-score; 1.2533 x mean absolute deviation replaces 1.4826 MAD when MAD is 0); several targets: the largest."),
    FactSpec("zero_fraction", float, "Share of targets equal to 0; 0 for classification.", "mean(y == 0); several targets: the largest."),
    FactSpec("excess_zero_ratio", float, "Observed zero share / Poisson-expected zero share exp(-mean); 1 unless the target is non-negative whole numbers with a positive mean.",
             "zero_fraction / exp(-mean(y)), capped at 1e6; several targets: the largest."),
    FactSpec("integer_valued", bool, "All target values are whole numbers; true for binary, multiclass and multi-label.", "all(y == round(y)); several targets: all columns."),
    FactSpec("nonnegative", bool, "No target value below 0; true for binary, multiclass and multi-label.", "min(y) >= 0; several targets: all columns."),
    FactSpec("strictly_positive", bool, "Every target value above 0; false for binary, multiclass and multi-label.", "min(y) > 0; several targets: all columns."),
    FactSpec("has_negative", bool, "Some target value below 0; false for binary, multiclass and multi-label.", "min(y) < 0; several targets: any column."),
    FactSpec("target_min", float, "Smallest target value; 0 for classification.", "min(y); several targets: the smallest."),
    FactSpec("target_max", float, "Largest target value; 1 for classification.", "max(y); several targets: the largest."),
    FactSpec("target_mean", float, "Mean of the target; 0 for classification.", "mean(y); several targets: the mean of the column means."),
    FactSpec("target_std", float, "Standard deviation of the target; 0 for classification.", "std(y), ddof 0; several targets: the largest."),
    FactSpec("target_scale", float, "Largest absolute target value; 1 for classification.", "max(|y|); several targets: the largest."),
    FactSpec("looks_like_amount", bool, "The target looks like an amount of money, not a count (regression and count targets; false otherwise).",
             "Not when a word of the column name names a count (count, cnt, n, num, number, qty...); else the non-zero values' median is at least 20 and the name has a money word (price, cost, amount, salary, wage, income, revenue, sales, value, fee, usd, eur...) or at least 95 % of at least 10 non-zero values are multiples of 10, 100 or 1000. Several targets: any column. Whole numbers that look like an amount are detected as regression, not count."),
    FactSpec("in_unit_interval", bool, "Every target value lies in [0, 1]; true for binary, multiclass and multi-label.", "0 <= min(y) and max(y) <= 1; several targets: all columns."),
    FactSpec("dispersion_index", float, "Variance / mean (counts: 1 is Poisson, >> 1 over-dispersed); 1 when the mean is <= 0 or the task is not numeric.",
             "var(y) / mean(y); several targets: the largest."),
    FactSpec("tweedie_power", float, "Exponent p of Var = phi mu^p estimated from the data, for non-negative regression and count targets; 0 when not estimable or another task.",
             "Mean estimate: a ridge least-squares fit of y on the numeric features (NaN filled by column medians; y itself when there is no numeric feature), on an evenly strided sample of at most 200,000 rows. Rows are split into 20 quantile bins of that estimate (fewer when there are under 5 rows per bin); log(variance) is regressed on log(mean) over the bins with mean > 0 and variance > 0 (at least 4 bins): the slope is p. Several targets: the median of the estimable columns."),
    # label density of regression and count targets (imbalanced regression; neutral for other
    # tasks). Bins and kernel are those of advisor.label_density, shared with the LDS losses
    # and the balanced_mae metric.
    FactSpec("target_density_ratio", float, "How unevenly the target's range is populated: the densest / the sparsest non-empty region after label distribution smoothing (Yang et al. 2021); about 1 for a uniform target, 1 for other tasks than regression and count.",
             "Histogram over clip(round(sqrt(n)), 10, 100) equal-width bins of [min(y), max(y)] (whole numbers: at most one bin per value, centred on it), convolved with a Gaussian kernel of sigma 2 bins truncated at 2 bins (the LDS defaults), ends mirrored; the largest smoothed count over the smallest among the non-empty bins. Several targets: the largest."),
    FactSpec("target_rare_share", float, "Share of the rows in rare regions of the target (low label density): the few very large, old or expensive; 0 for other tasks than regression and count.",
             "Rows in the non-empty bins whose smoothed count (as for target_density_ratio) is below 10 % of the peak bin's. Several targets: the largest."),
    # shape of the non-zero part and of the spread (zero-inflated and heteroscedastic targets)
    FactSpec("nonzero_skewness", float, "Sample skewness of the non-zero target values (with zero_fraction: excess zeros beside a heavy positive tail); 0 with fewer than 8 non-zero values or for classification.",
             "Third standardized moment of y[y != 0], bias-uncorrected; several targets: the column with the largest |value|, sign kept."),
    FactSpec("heteroscedasticity", float, "Evidence that the spread grows with the level, from -1 to 1 (> 0: larger fitted values have larger residuals); 0 when not estimable or the task is not regression or count.",
             "Spearman correlation between the fitted value of the ridge mean estimate the Tweedie power uses (same fit, same sample of at most 200,000 rows) and |y - mean of y in the row's quantile bin of that estimate| (20 bins; the bin mean, not the row's fit, so tied zeros do not fake a trend; ties ranked by position); 0 without numeric features or with fewer than 100 rows. Several targets: the largest."),
    FactSpec("orders_of_magnitude", float, "Orders of magnitude the positive target values span; 0 when fewer than 8 values are positive or for classification.",
             "log10(p99 / p1) of the positive values; several targets: the largest."),
    # survival targets (a duration and an event indicator; neutral for the other tasks). The
    # numeric facts above (skewness, target_min, target_max, orders_of_magnitude...) are those
    # of the durations.
    FactSpec("censored_fraction", float, "Share of the rows censored (no event observed); 0 for other tasks.",
             "1 - events / rows."),
    FactSpec("n_events", float, "Rows with an observed event; 0 for other tasks.", "sum of the event indicator (1 = event; a `--censored` column is flipped)."),
    FactSpec("events_per_feature", float, "Events per feature column (few events per feature: the fit is data-starved, Peduzzi et al. 1995); 0 for other tasks.",
             "n_events / n_features."),
    FactSpec("tied_event_share", float, "Share of the events whose time another event shares (ties: Breslow's approximation degrades, Efron's or a discrete-time loss fits); 0 for other tasks.",
             "events at a time with more than one event / n_events."),
    FactSpec("km_final_survival", float, "Kaplan-Meier survival at the last event time; 0 for other tasks.",
             "lifelines KaplanMeierFitter, survival_function_at_times(last event time)."),
    FactSpec("km_plateau_length", float, "Share of the follow-up after the last event, over which the Kaplan-Meier curve stays flat; 0 for other tasks.",
             "(largest duration - last event time) / largest duration (its span from min(0, smallest duration))."),
    FactSpec("cured_fraction", bool, "The Kaplan-Meier curve flattens well above 0: a share of the rows seems never to have the event (cure models, Maller & Zhou 1996); false for other tasks.",
             "km_final_survival >= 0.2 and km_plateau_length >= 0.2."),
    FactSpec("ph_min_p", float, "Smallest p-value of the proportional-hazards test over the covariates (small: some effect changes over time); 1 when not tested or for other tasks.",
             "Schoenfeld-residual test (Grambsch & Therneau 1994) of a linear Cox fit of the numeric features (at most 30, standardised, missing cells at the median; lifelines CoxPHFitter with penalizer 0.01 on an evenly strided sample of at most 3,000 rows), lifelines proportional_hazard_test with the rank of time; 1 without numeric features or when the fit fails."),
    FactSpec("ph_violated", bool, "Proportional hazards are rejected for some covariate; false for other tasks.",
             "ph_min_p x covariates tested < 0.05 (Bonferroni)."),
    # the groups of a sensitive column (--sensitive; binary and multiclass targets), neutral
    # without one. A group's base rate is its share of each class (binary: of positives).
    FactSpec("has_sensitive", bool, "A sensitive column defines groups (`--sensitive`).", "True when `--sensitive` names a column."),
    FactSpec("n_groups", float, "Groups of the sensitive column (a missing value is a group of its own); 0 without one.", "Distinct values of the sensitive column over the rows kept."),
    FactSpec("smallest_group_share", float, "Share of the rows in the smallest group; 1 without a sensitive column.", "min(n_g) / n."),
    FactSpec("group_size_ratio", float, "Largest group / smallest group; 1 without a sensitive column.", "max(n_g) / min(n_g)."),
    FactSpec("group_base_rate_gap", float, "Largest gap between groups of a class's share (binary: the positive rate); 0 without a sensitive column.",
             "max over classes c of max_g P(y = c | g) - min_g P(y = c | g)."),
    FactSpec("group_imbalance_max", float, "Class imbalance inside the most imbalanced group; 1 without a sensitive column.",
             "max over groups of max_c n_gc / max(min_c n_gc, 1)."),
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
    FactSpec("judge", str, "What decides between the candidates: `all_rows` (the metric over all rows) or `worst_group` (the metric of the worst-off group of the sensitive column).",
             "`--judge`, default all-rows."),
)

#: Facts about the set of targets of a multitask problem (several targets of different kinds
#: or scales, :mod:`advisor.composite`): the vocabulary of ``rules/composite.toml``, whose rules
#: choose the weighting the combination starts from.
COMPOSITE_FACTS: tuple[FactSpec, ...] = (
    FactSpec("n_targets", float, "Target columns combined.", "Columns given with `--target`."),
    FactSpec("n_kinds", float, "Distinct tasks among the targets (a count and a 0/1 column: 2).",
             "Distinct detected tasks of the target columns, each profiled alone."),
    FactSpec("scale_ratio", float, "Largest over smallest robust scale of the numeric targets (regression, count, proportion); 1 with fewer than two.",
             "max / min of 1.4826 MAD (the standard deviation when MAD is 0) over the numeric targets."),
)
COMPOSITE_FACT_TYPES: dict[str, type] = {spec.name: spec.type for spec in COMPOSITE_FACTS}

FACT_NAMES: frozenset[str] = frozenset(spec.name for spec in FACTS)
FACT_TYPES: dict[str, type] = {spec.name: spec.type for spec in FACTS}
#: The facts that are the user's hints (advisor.options.Options.hint_facts), not the data's.
HINT_FACT_NAMES: frozenset[str] = frozenset({
    "task_overridden", "activation", "framework", "metric", "metric_given", "current_loss",
    "label_noise", "has_quantiles", "judge",
})
DATA_FACT_NAMES: frozenset[str] = FACT_NAMES - HINT_FACT_NAMES
_LARGEST = 1.7976931348623157e308


def rule_facts(data: Mapping[str, Any], hints: Mapping[str, Any]) -> dict[str, Any]:
    """The facts the rules evaluate: the data's and the user's hints, JSON-safe, by name.

    Each part must hold exactly its share of the vocabulary: a fact missing or misplaced is
    a bug of the profile or the options, not of the user's input.
    """
    for part, names, what in ((data, DATA_FACT_NAMES, "data"), (hints, HINT_FACT_NAMES, "hint")):
        if set(part) != names:
            missing, extra = sorted(names - set(part)), sorted(set(part) - names)
            raise ValueError(f"{what} facts do not match the vocabulary: missing {missing}, "
                             f"extra {extra}")
    merged = {**data, **hints}
    return {name: _typed(FACT_TYPES[name], merged[name]) for name in sorted(merged)}


def fact_number(value: Any) -> float:
    """A finite python float rounded to 6 significant digits (byte-stable JSON)."""
    number = float(value)
    if math.isnan(number):
        raise ValueError("a fact came out as NaN")  # a bug in the profile, not the user's data
    number = min(max(number, -_LARGEST), _LARGEST)
    return significant(number) + 0.0


def _typed(kind: type, value: Any) -> Any:
    if kind is bool:
        return bool(value)
    if kind is str:
        return str(value)
    return fact_number(value)


def facts_markdown_table(facts: tuple[FactSpec, ...] = FACTS) -> str:
    """The fact vocabulary (or ``facts``) as a GitHub Markdown table, for the README."""
    type_names = {str: "string", float: "number", bool: "boolean"}
    rows = ["| fact | type | meaning | how it is computed |", "|---|---|---|---|"]
    for spec in facts:
        rows.append(f"| `{spec.name}` | {type_names[spec.type]} | {spec.meaning} | {spec.computed} |")
    return "\n".join(rows)


if __name__ == "__main__":  # pragma: no cover - documentation helper
    print(facts_markdown_table())
