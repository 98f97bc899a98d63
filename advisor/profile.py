"""Stage 2, profile: detect the task and compute the facts the rules reason over.

Public function: :func:`profile_data`. Output: :class:`Profile`. The facts and their
meaning are listed once, in :mod:`advisor.facts`.

Task detection goes further than the peer systems (EVIDENCE.md, "Task detection in peer
systems"): numbers are never taken for nominal classes (sklearn types whole-number floats
as multiclass), small contiguous integer scales are ordinal (AutoGluon calls ratings
multiclass), non-negative whole numbers are counts unless they look like an amount of money,
values inside [0, 1] are proportions, and several 0/1 columns or a delimited label column
are multi-label. Numbers with a few
cells of stray text are numbers with those cells missing (recorded for a warning); row
identifiers and columns with more classes than half their rows are refused. Every decision
comes with the sentence that justifies it.

Amounts against counts (:func:`amount_clue`): whole-number prices (diamonds 326..18823,
houses in steps of 100) are not counts, and a log-link count loss extrapolates badly on them.
Counts are mostly small, so only a target whose non-zero values have a median of at least
AMOUNT_MIN_SCALE can be an amount, and then one of two clues decides: the column is named
like money (a word such as price, cost, amount, salary, income, revenue, sales, value, fee,
usd), or at least 95 % of its non-zero values are multiples of 10, 100 or 1000 (counted
things do not come in round steps; prices and salaries do). A count word in the name
(count, cnt, n, num, number, qty...) wins over both: `n_sales` is a count. Everything is vectorised: a million rows take well
under a second.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .errors import DataShapeError, OptionError, TargetError
from .facts import FACT_NAMES, FACT_TYPES
from .load import LoadedData
from .options import FRAMEWORKS, TASKS, check_activation, check_choice, check_metric_for_task, check_quantiles
from .schema import significant

#: Rows with a usable target below which nothing can be learned or validated.
MIN_ROWS = 10
#: Most levels an integer scale may have and still be read as ordinal (0..10 scales included).
MAX_ORDINAL_LEVELS = 11
#: Integer scales read as ordinal must lie inside this range ("small integers").
ORDINAL_RANGE = (-10, 20)
#: A small integer range starting at 0 is counts, not a scale, when it is right-skewed and
#: its top value is rare (scales have well-used end points; counts thin out to the right).
COUNT_MIN_SKEWNESS = 0.25
COUNT_MAX_TOP_SHARE = 0.05
#: More classes than this is an identifier or free text, not a classification target.
MAX_CLASSES = 1000
#: Nor is a column with more classes than this share of its rows (most classes one row).
MAX_CLASS_SHARE = 0.5
#: From this many rows, one consecutive whole number per row is a row identifier.
IDENTIFIER_MIN_ROWS = 20
#: Quantile bins for the Tweedie power estimate, the fewest usable, and rows per bin.
TWEEDIE_BINS = 20
TWEEDIE_MIN_BINS = 4
TWEEDIE_MIN_ROWS_PER_BIN = 5
#: Tasks whose mean-variance relation is estimated (bounded scales have no Tweedie power).
TWEEDIE_TASKS = frozenset({"regression", "count"})
#: Rows (an evenly strided sample) the Tweedie power is estimated on.
TWEEDIE_MAX_ROWS = 200_000
MAD_TO_SIGMA = 1.4826
MODIFIED_Z_CUTOFF = 3.5
EXCESS_ZERO_CAP = 1e6
_MAX_FLOAT = np.finfo(np.float64).max
#: A column of decimal numbers with a few text cells ("error", "n/a?") is numeric with typos,
#: not classes: up to this share of its rows, in up to this many distinct texts, are dropped.
STRAY_TEXT_MAX_SHARE = 0.05
STRAY_TEXT_MAX_LABELS = 10
#: Whole numbers with stray text are numbers too when they take more values than this
#: (codes "1", "2", "3" with "unknown" stay classes; counts 0..150 with "error" do not).
STRAY_TEXT_MIN_WHOLE_LEVELS = 20
#: Words of a column name (split at non-letters and camelCase; a plural "s" allowed) that name
#: an amount of money; the stems also count inside a compound word ("saleprice", "loanamount").
AMOUNT_WORDS = frozenset({
    "price", "cost", "amount", "amt", "salary", "wage", "income", "revenue", "sales", "value",
    "fee", "spend", "spending", "expenditure", "earnings", "payment", "rent", "usd", "eur",
    "euro", "gbp", "dollar",
})
AMOUNT_STEMS = ("price", "cost", "amount", "salary", "income", "revenue", "expenditure",
                "earning", "payment", "dollar")
#: Words that name a count: they win over every amount clue ("n_sales", "num_price_changes").
COUNT_WORDS = frozenset({"count", "counts", "cnt", "n", "num", "number", "nb", "qty",
                         "quantity", "units", "freq", "frequency"})
#: Tasks whose target may be an amount of money (the looks_like_amount fact).
AMOUNT_TASKS = frozenset({"regression", "count"})
#: Counts are mostly small: an amount's non-zero values have at least this median.
AMOUNT_MIN_SCALE = 20.0
#: Round steps: this share of at least AMOUNT_MIN_ROUND_VALUES non-zero values are multiples
#: of one of AMOUNT_STEPS (largest first).
AMOUNT_STEPS = (1000, 100, 10)
AMOUNT_ROUND_SHARE = 0.95
AMOUNT_MIN_ROUND_VALUES = 10


@dataclass(frozen=True, eq=False)
class Profile:
    """What the target is and how it is distributed, plus the user's hints, as facts."""

    task: str
    task_reason: str
    facts: dict[str, Any]                 # exactly advisor.facts.FACT_NAMES, JSON-safe scalars
    classes: tuple[str, ...]              # class labels (ordinal: ascending order; multi-label: label names); () for numeric tasks
    class_counts: tuple[int, ...]         # rows per class, aligned with classes (positives per label for multi-label)
    y: np.ndarray = field(repr=False)     # encoded target: int class index (n,) for binary/multiclass/ordinal,
                                          # 0/1 float (n, L) for multi-label, float (n,) or (n, k) for numeric tasks
    robust_scale: float = 0.0             # 1.4826 * MAD of the target around its median (numeric tasks and ordinal levels), else 0
    quantiles: tuple[float, ...] = ()     # quantile levels asked for with --quantile
    row_mask: np.ndarray | None = field(default=None, repr=False)  # rows of LoadedData kept (target present)
    stray_text: tuple[tuple[str, str, int], ...] = ()  # (column, text, rows) dropped from a numeric target

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view used by the JSON output and the reports."""
        return {
            "task": self.task,
            "task_reason": self.task_reason,
            "facts": dict(sorted(self.facts.items())),
            "classes": list(self.classes),
            "class_counts": list(self.class_counts),
            "robust_scale": self.robust_scale,
            "quantiles": list(self.quantiles),
        }


def profile_data(loaded: LoadedData, *, task: str | None = None, activation: str = "auto",
                 framework: str = "pytorch", metric: str | None = None,
                 current_loss: str | None = None, label_noise: bool = False,
                 quantiles: Any = (), positive: str | None = None) -> Profile:
    """Detect the task (or check the one given) and compute every fact of the vocabulary.

    ``positive`` names the positive class of a binary target (default: the larger value,
    True, the higher level, or the label sorted last)."""
    activation = check_activation(activation)
    framework = check_choice("framework", framework, FRAMEWORKS)
    levels = check_quantiles(quantiles)
    forced = None if task is None else check_choice("task", task, TASKS)

    columns = [_read_column(str(name), loaded.target.iloc[:, index])
               for index, name in enumerate(loaded.target.columns)]
    row_mask = _usable_rows(columns, loaded.target_columns)
    n_rows = int(row_mask.sum())
    columns = [column.subset(row_mask) for column in columns]

    if len(columns) > 1 or forced == "multilabel":
        target = _detect_several(columns, forced, loaded.label_sep)
    else:
        target = _detect_one(columns[0], forced)
    if positive is not None:
        target = _with_positive(target, str(positive), loaded.target_columns)
    if loaded.label_sep is not None and len(columns) == 1:
        target.reason = f"the only label after splitting on {loaded.label_sep!r}; {target.reason}"
    if forced is not None:
        target.reason = f"given with --task; {target.reason}" if target.reason else "given with --task"

    metric_name, _ = check_metric_for_task(metric, target.task)
    facts: dict[str, Any] = {
        "task": target.task,
        "task_overridden": forced is not None,
        "n_rows": n_rows,
        "n_targets": target.n_targets,
        "target_missing_fraction": 1.0 - n_rows / len(row_mask),
        "n_distinct": target.n_distinct,
        "activation": activation,
        "framework": framework,
        "metric": metric_name,
        "metric_given": metric is not None,
        "current_loss": "" if current_loss is None else str(current_loss).strip(),
        "label_noise": bool(label_noise),
        "has_quantiles": bool(levels),
    }
    facts.update(_feature_facts(loaded.features, row_mask))
    facts.update(_class_facts(target))
    robust_scale = 0.0
    if target.numeric is not None:
        tweedie = target.task in TWEEDIE_TASKS
        step = -(-n_rows // TWEEDIE_MAX_ROWS)  # the mean-variance slope needs no more rows
        sampled_rows = np.flatnonzero(row_mask)[::step]
        feature_matrix = _numeric_feature_matrix(loaded.features, sampled_rows) if tweedie else None
        per_column = [_numeric_facts(values, feature_matrix, tweedie_step=step if tweedie else 0)
                      for values in target.numeric.T]
        facts.update(_combine_numeric_facts(per_column))
        robust_scale = max(column["robust_scale"] for column in per_column)
    else:
        facts.update(NEUTRAL_NUMERIC_FACTS)
    facts["looks_like_amount"] = (
        target.task in AMOUNT_TASKS and target.numeric is not None
        and any(amount_clue(column.name, values) is not None
                for column, values in zip(columns, target.numeric.T, strict=True)))
    return Profile(
        task=target.task,
        task_reason=target.reason,
        facts=_json_facts(facts),
        classes=target.classes,
        class_counts=target.class_counts,
        y=target.y,
        robust_scale=_json_number(robust_scale),
        quantiles=levels,
        row_mask=row_mask,
        stray_text=tuple((column.name, text, rows) for column in columns
                         for text, rows in column.stray_text),
    )


# ---------------------------------------------------------------------------------------------
# reading a target column


@dataclass
class _Column:
    """One target column reduced to what detection needs.

    Numbers and booleans keep their float ``values``; text and categories keep integer
    ``codes`` into ``labels`` (-1 where missing), like pandas' factorize.
    """

    name: str
    kind: str                            # number, bool, text, category, ordered
    missing: np.ndarray
    values: np.ndarray | None = None     # float per row (number, bool)
    integer_dtype: bool = False          # stored with an integer dtype
    from_text: bool = False              # numbers parsed from text cells
    codes: np.ndarray | None = None      # int per row (text, category, ordered)
    labels: list[str] = field(default_factory=list)
    label_numbers: np.ndarray | None = None  # labels parsed as numbers when all of them parse
    stray_text: tuple[tuple[str, int], ...] = ()  # (text, rows) read as missing in a numeric column

    def subset(self, mask: np.ndarray) -> _Column:
        return replace(self, missing=self.missing[mask],
                       values=None if self.values is None else self.values[mask],
                       codes=None if self.codes is None else self.codes[mask])

    def value_label(self, value: float) -> str:
        return str(bool(value)) if self.kind == "bool" else _label(float(value))


def _read_column(name: str, series: pd.Series) -> _Column:
    """Classify a target column by dtype and, for object columns, by the values it holds."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        labels = [_label(value) for value in dtype.categories]
        codes = series.cat.codes.to_numpy(dtype=np.int64, copy=True)
        return _text_column(name, "ordered" if dtype.ordered else "category", codes, labels)
    if dtype.kind in "mM" or isinstance(dtype, pd.DatetimeTZDtype):
        raise TargetError(f"target {name!r} holds dates or durations",
                          hint="convert it to a number (e.g. days) or choose another target")
    if pd.api.types.is_complex_dtype(dtype):
        raise TargetError(f"target {name!r} holds complex numbers", hint="choose a real-valued target")
    if pd.api.types.is_bool_dtype(dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return _Column(name, "bool", np.isnan(values), values=values)
    if pd.api.types.is_numeric_dtype(dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return _Column(name, "number", ~np.isfinite(values), values=values,
                       integer_dtype=pd.api.types.is_integer_dtype(dtype))
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    uniques = list(uniques)
    codes = codes.astype(np.int64, copy=False)
    if uniques and all(isinstance(value, (bool, np.bool_)) for value in uniques):
        values = _per_row(codes, np.array([float(value) for value in uniques]))
        return _Column(name, "bool", np.isnan(values), values=values)
    if uniques and all(_is_real_number(value) for value in uniques):
        values = _per_row(codes, np.array([float(value) for value in uniques]))
        integer = all(isinstance(value, (int, np.integer)) for value in uniques)
        return _Column(name, "number", ~np.isfinite(values), values=values, integer_dtype=integer)
    column = _text_column(name, "text", codes, [_label(value) for value in uniques])
    parsed = column.label_numbers
    if parsed is not None and any(_looks_decimal(label) for label in column.labels):
        # measurements stored as text ("1.5"): numbers; bare codes ("1", "2") stay labels
        values = _per_row(column.codes, parsed)
        return _Column(name, "number", ~np.isfinite(values), values=values, from_text=True)
    return _without_stray_text(column) or column


def _without_stray_text(column: _Column) -> _Column | None:
    """The column as numbers when it is decimal numbers with a few cells of other text
    (typos, "error"): those cells read as missing and recorded; None when it is text."""
    counts = np.bincount(column.codes[column.codes >= 0], minlength=len(column.labels))
    split = split_stray_text(column.labels, counts)
    if split is None:
        return None
    numbers, stray = split
    values = _per_row(column.codes, numbers)
    return _Column(column.name, "number", ~np.isfinite(values), values=values, from_text=True,
                   stray_text=tuple((column.labels[index], int(counts[index])) for index in stray))


def split_stray_text(labels: Sequence[str], counts: np.ndarray) -> tuple[np.ndarray, list[int]] | None:
    """Distinct text values (with their row ``counts``) read as numbers, when they are
    numbers apart from at most STRAY_TEXT_MAX_SHARE of the rows in at most
    STRAY_TEXT_MAX_LABELS other texts: (the number of each label, NaN for the other texts
    and blanks; the other texts' indices). The numbers must include decimals, or, beside
    stray text, take more than STRAY_TEXT_MIN_WHOLE_LEVELS whole values. None when the
    values are text or whole-number codes ("1", "2", "unknown" are classes). Shared by the
    target and the proxies' features.
    """
    numbers = pd.to_numeric(pd.Series(list(labels), dtype=object), errors="coerce").to_numpy(dtype=np.float64)
    is_number = np.isfinite(numbers)
    stray = [index for index, label in enumerate(labels) if not is_number[index] and label.strip()]
    if len(stray) > STRAY_TEXT_MAX_LABELS or not is_number.any():
        return None
    decimal = any(_looks_decimal(labels[index]) for index in np.flatnonzero(is_number))
    if not decimal and not (stray and int(is_number.sum()) > STRAY_TEXT_MIN_WHOLE_LEVELS):
        return None
    if counts[stray].sum() > STRAY_TEXT_MAX_SHARE * counts.sum():
        return None
    return np.where(is_number, numbers, np.nan), stray


def _text_column(name: str, kind: str, codes: np.ndarray, labels: list[str]) -> _Column:
    """Blank labels count as missing; labels that all parse as numbers are remembered."""
    blank = np.array([not label.strip() for label in labels], dtype=bool)
    if blank.any():
        codes = np.where(np.isin(codes, np.flatnonzero(blank)), -1, codes)
    numbers = pd.to_numeric(pd.Series(labels, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
    all_numbers = bool((~blank).any()) and bool(np.isfinite(numbers[~blank]).all())
    return _Column(name, kind, codes < 0, codes=codes, labels=labels,
                   label_numbers=numbers if all_numbers else None)


def _per_row(codes: np.ndarray, table: np.ndarray) -> np.ndarray:
    values = np.full(len(codes), np.nan)
    present = codes >= 0
    values[present] = table[codes[present]]
    return values


def _is_real_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _looks_decimal(label: str) -> bool:
    text = label.strip().lower()
    return "." in text or ("e" in text and not text.startswith(("inf", "nan")))


def _label(value: Any) -> str:
    """A class label as text: whole numbers without '.0', other floats in shortest form."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if number.is_integer() and abs(number) < 1e15:
            return str(int(number))
        return repr(number)
    return str(value)


def _usable_rows(columns: list[_Column], names: tuple[str, ...]) -> np.ndarray:
    """Rows whose every target column is present; refuse targets too empty to learn from."""
    missing = np.zeros(len(columns[0].missing), dtype=bool)
    for column in columns:
        missing |= column.missing
    kept = int((~missing).sum())
    shown = ", ".join(map(repr, names))
    if kept == 0:
        raise TargetError(f"target {shown} is missing in every row",
                          hint="choose another target column or fill the target in")
    if kept < MIN_ROWS:
        raise DataShapeError(f"only {kept} {'row has' if kept == 1 else 'rows have'} a usable target "
                             f"{shown}; at least {MIN_ROWS} are needed",
                             hint="give more rows with the target filled in")
    return ~missing


# ---------------------------------------------------------------------------------------------
# task detection


@dataclass
class _Target:
    """The detected task and the encoded target."""

    task: str
    reason: str
    y: np.ndarray
    classes: tuple[str, ...] = ()
    class_counts: tuple[int, ...] = ()
    numeric: np.ndarray | None = None   # (n, k) float values the numeric facts are computed on
    n_distinct: int = 0
    n_targets: int = 1
    multilabel: bool = False


def _detect_one(column: _Column, forced: str | None) -> _Target:
    """Task of a single target column, with the reason."""
    if column.kind in ("number", "bool"):
        distinct = np.sort(pd.unique(column.values))  # hashing, then sorting the few distinct
        if len(distinct) == 1:
            raise TargetError(f"target {column.name!r} has a single value {column.value_label(distinct[0])}: "
                              "nothing to learn", hint="choose another target column")
    else:
        classes, _, _ = _nominal_classes(column, "sorted")
        if len(classes) == 1:
            raise TargetError(f"target {column.name!r} has a single value {classes[0]!r}: nothing to learn",
                              hint="choose another target column")
    if forced is not None:
        return _forced_one(column, forced)
    if column.kind in ("text", "category", "ordered"):
        return _detect_text(column)
    return _detect_numbers(column, distinct)


def _detect_text(column: _Column) -> _Target:
    order = "category" if column.kind == "ordered" else "sorted"
    classes, y, counts = _nominal_classes(column, order)
    if len(classes) == 2:
        return _binary(column, classes, y, counts)
    if column.kind == "ordered":
        return _classes("ordinal", f"ordered categorical with levels {' < '.join(classes[:10])}"
                        f"{' < ...' if len(classes) > 10 else ''}: ordinal", classes, y, counts,
                        numeric=y.astype(np.float64))
    _check_class_count(column, classes)
    shown = ", ".join(map(repr, classes[:5])) + (", ..." if len(classes) > 5 else "")
    if column.kind == "category":
        what = f"unordered categorical with {len(classes)} categories ({shown})"
    elif column.label_numbers is not None:
        what = f"{len(classes)} distinct values stored as text ({shown}), class labels rather than numbers"
    else:
        what = f"{len(classes)} distinct text values ({shown}), nominal classes"
    return _classes("multiclass", f"{what}: multiclass", classes, y, counts)


def _detect_numbers(column: _Column, distinct: np.ndarray) -> _Target:
    values = column.values
    lowest, highest = float(distinct[0]), float(distinct[-1])
    origin = "text values parse as numbers; " if column.from_text else ""
    if column.stray_text:
        cells = sum(rows for _, rows in column.stray_text)
        origin = (f"text values parse as numbers, except {cells} "
                  f"{'cell' if cells == 1 else 'cells'} of other text, read as missing; ")
    if len(distinct) == 2:
        classes, y, counts = _nominal_classes(column, "sorted")
        return _binary(column, classes, y, counts)
    if lowest >= 0 and highest <= 1:
        return _numeric("proportion", f"{origin}{len(distinct)} distinct numbers between "
                        f"{_short(lowest)} and {_short(highest)}, not only 0/1: proportion", values)
    integer = bool(np.all(distinct == np.round(distinct)))
    if not integer:
        return _numeric("regression", f"{origin}numbers with fractional parts ({_short(lowest)}.."
                        f"{_short(highest)}, {len(distinct)} distinct): regression", values)
    span = f"{_label(lowest)}..{_label(highest)}"
    if len(values) >= IDENTIFIER_MIN_ROWS and len(distinct) == len(values) == highest - lowest + 1:
        raise TargetError(f"target {column.name!r} holds the consecutive whole numbers {span}, one "
                          "per row: a row identifier, not a target",
                          hint="choose the target column with --target NAME")
    if _is_integer_scale(distinct):
        skewness = _skewness(values)
        top_share = float(np.mean(values == highest))
        if lowest == 0 and skewness > COUNT_MIN_SKEWNESS and top_share < COUNT_MAX_TOP_SHARE:
            return _numeric("count", f"whole numbers {span} starting at 0 with a thin right tail "
                            f"(skewness {_short(skewness)}, {top_share:.1%} of rows at {_label(highest)}): "
                            "counts, not a rating scale", values)
        gaps = int(highest - lowest + 1) - len(distinct)
        unused = f"{gaps} level{'s' * (gaps > 1)} unused"
        shape = "a contiguous scale" if gaps == 0 else f"a near-contiguous scale ({unused})"
        classes, y, counts = _nominal_classes(column, "sorted")
        return _classes("ordinal", f"integer values {span} on {shape}: ordinal ratings, not nominal "
                        "classes (use --task multiclass if they are unordered codes)",
                        classes, y, counts, numeric=values)
    if lowest < 0:
        return _numeric("regression", f"whole numbers including negatives ({span}, {len(distinct)} "
                        "distinct): regression", values)
    clue = amount_clue(column.name, values)
    if clue is not None:
        return _numeric("regression", f"{origin}whole numbers {span} ({len(distinct)} distinct), "
                        f"{clue}: an amount, not a count: regression", values)
    dispersion = _dispersion(values)
    if column.integer_dtype:
        return _numeric("count", f"non-negative whole numbers {span} ({len(distinct)} distinct), "
                        f"variance/mean {_short(dispersion)}: counts", values)
    skewness = _skewness(values)
    stored = "" if column.from_text else " stored as decimals"
    if lowest == 0 or skewness > 1:
        why = "with zeros" if lowest == 0 else f"right-skewed (skewness {_short(skewness)})"
        return _numeric("count", f"{origin}non-negative whole numbers {span}{stored}, {why}, "
                        f"variance/mean {_short(dispersion)}: counts", values)
    return _numeric("regression", f"{origin}whole numbers {span}{stored}, no zeros and a "
                    f"roughly symmetric spread (skewness {_short(skewness)}): a measurement, "
                    f"regression (not {len(distinct)} classes)", values)


def _name_words(name: str) -> list[str]:
    """A column name as lowercase words: split at non-letters and camelCase ("SalePrice")."""
    return [word.lower() for word in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+", name)]


def amount_clue(name: str, values: np.ndarray) -> str | None:
    """Why a numeric target looks like an amount of money rather than a count, or None.

    A count word in ``name`` (COUNT_WORDS) means a count. Otherwise the non-zero values
    must have a median of at least AMOUNT_MIN_SCALE (counts are mostly small), and then
    either a word of ``name`` names money (AMOUNT_WORDS, or AMOUNT_STEMS inside a compound
    word) or AMOUNT_ROUND_SHARE of the non-zero values are multiples of a round step.
    """
    words = _name_words(name)
    if any(word in COUNT_WORDS for word in words):
        return None
    nonzero = np.abs(values[values != 0])
    if not nonzero.size or float(np.median(nonzero)) < AMOUNT_MIN_SCALE:
        return None
    for word in words:
        if (word in AMOUNT_WORDS or (word.endswith("s") and word[:-1] in AMOUNT_WORDS)
                or any(stem in word for stem in AMOUNT_STEMS)):
            return f"named like an amount of money ({name!r})"
    if nonzero.size >= AMOUNT_MIN_ROUND_VALUES:
        for step in AMOUNT_STEPS:
            share = float(np.mean(np.fmod(nonzero, step) == 0))
            if share >= AMOUNT_ROUND_SHARE:
                every = "every non-zero value" if share == 1 else f"{share:.0%} of the non-zero values"
                return f"in round steps of {step} ({every} a multiple of {step}), like prices"
    return None


def _is_integer_scale(distinct: np.ndarray) -> bool:
    """A few small integers forming a contiguous or near-contiguous range (ratings, scales)."""
    count = len(distinct)
    if not 3 <= count <= MAX_ORDINAL_LEVELS:
        return False
    lowest, highest = distinct[0], distinct[-1]
    if lowest < ORDINAL_RANGE[0] or highest > ORDINAL_RANGE[1]:
        return False
    unused = int(highest - lowest + 1) - count
    return unused <= max(1, count // 3)


def _binary(column: _Column, classes: tuple[str, ...], y: np.ndarray, counts: tuple[int, ...]) -> _Target:
    if column.kind == "ordered":
        order = "the higher level"
    elif column.kind in ("bool", "number"):
        order = "the larger value" if column.kind == "number" else "True"
    else:
        order = "sorted last"
    reason = (f"two distinct values {classes[0]!r} and {classes[1]!r}: binary; "
              f"positive class {classes[1]!r} ({order})")
    return _classes("binary", reason, classes, y, counts)


def _with_positive(target: _Target, positive: str, names: tuple[str, ...]) -> _Target:
    """The binary target with ``positive`` (one of its two class labels) as class 1."""
    shown = ", ".join(map(repr, names))
    if target.task != "binary":
        raise TargetError(f"--positive {positive!r} applies to a binary target; target {shown} "
                          f"is {target.task}", hint="leave --positive out")
    if positive not in target.classes:
        raise OptionError("--positive", positive, target.classes,
                          hint=f"give one of the two classes of target {shown}")
    flip = positive == target.classes[0]
    negative = target.classes[1] if flip else target.classes[0]
    return replace(target,
                   reason=f"two distinct values {negative!r} and {positive!r}: binary; positive "
                          f"class {positive!r} (given with --positive)",
                   y=1 - target.y if flip else target.y,
                   classes=(negative, positive),
                   class_counts=target.class_counts[::-1] if flip else target.class_counts)


def _forced_one(column: _Column, task: str) -> _Target:
    """Check that the task given with --task fits the single target column, and encode it."""
    name = column.name
    if task in ("binary", "multiclass"):
        classes, y, counts = _nominal_classes(column, "category" if column.kind == "ordered" else "sorted")
        if task == "binary" and len(classes) != 2:
            raise TargetError(f"--task binary needs exactly 2 classes; target {name!r} has {len(classes)}",
                              hint="use --task multiclass, or choose a two-valued target")
        _check_class_count(column, classes)
        return _classes(task, "", classes, y, counts)
    if task == "ordinal":
        note = ""
        if column.kind == "ordered":
            order = "category"
        elif column.kind in ("number", "bool") or column.label_numbers is not None:
            order = "numeric"
        else:
            order = "sorted"
        classes, y, counts = _nominal_classes(column, order)
        _check_class_count(column, classes)
        if order == "sorted":
            note = (f"text levels are not ordered: ordered by sorted value "
                    f"{' < '.join(classes[:10])}{' < ...' if len(classes) > 10 else ''}")
        if column.values is not None:
            numeric = column.values
        elif order == "numeric":  # text spelling numbers
            numeric = column.label_numbers[column.codes]
        else:
            numeric = y.astype(np.float64)
        return _classes("ordinal", note, classes, y, counts, numeric=numeric)
    values = _numbers_of(column)
    if values is None:
        example = next(label for label in column.labels
                       if label.strip() and not np.isfinite(pd.to_numeric(label, errors="coerce")))
        raise TargetError(f"--task {task} needs numbers; target {name!r} holds text such as {example!r}",
                          hint="choose a numeric target, or let the task be detected")
    if column.kind in ("text", "category", "ordered"):
        values = values[column.codes]
    if task == "count" and values.min() < 0:
        raise TargetError(f"--task count needs non-negative values; target {name!r} goes down to "
                          f"{_short(float(values.min()))}", hint="use --task regression")
    if task == "proportion" and (values.min() < 0 or values.max() > 1):
        raise TargetError(f"--task proportion needs values in [0, 1]; target {name!r} spans "
                          f"{_short(float(values.min()))}..{_short(float(values.max()))}",
                          hint="divide by the total, or use --task regression")
    return _numeric(task, "", values)


def _numbers_of(column: _Column) -> np.ndarray | None:
    """Float values of a column (per row for numbers, per label for text), None for real text."""
    if column.kind in ("number", "bool"):
        return column.values
    return column.label_numbers


def _detect_several(columns: list[_Column], forced: str | None, label_sep: str | None) -> _Target:
    """Several target columns: 0/1 labels (multi-label) or numbers (multi-output regression)."""
    names = ", ".join(repr(column.name) for column in columns)
    numeric = [column.kind in ("number", "bool") for column in columns]
    zero_one = [ok and bool(np.isin(column.values, (0.0, 1.0)).all()) for ok, column in zip(numeric, columns)]
    if forced in ("binary", "multiclass", "ordinal"):
        raise TargetError(f"--task {forced} needs one target column; got {len(columns)} ({names})",
                          hint="give one --target, or use --task multilabel / regression")
    if forced == "multilabel" and len(columns) == 1:
        raise TargetError("--task multilabel needs several 0/1 target columns or a delimited label column",
                          hint="give the label columns with --target, or use --label-sep")
    if forced == "multilabel" or (forced is None and all(zero_one)):
        if not all(zero_one):
            bad = next(column.name for column, ok in zip(columns, zero_one) if not ok)
            raise TargetError(f"--task multilabel needs 0/1 label columns; {bad!r} holds other values",
                              hint="give only 0/1 (or True/False) label columns")
        return _multilabel(columns, label_sep)
    if not all(numeric):
        text = next(column.name for column, ok in zip(columns, numeric) if not ok)
        raise TargetError(f"target columns {names} mix text ({text!r}) and numbers",
                          hint="give one target, only 0/1 label columns, or only numeric columns")
    for column in columns:
        if np.unique(column.values).size == 1:
            raise TargetError(f"target {column.name!r} has a single value {column.value_label(column.values[0])}: "
                              "nothing to learn", hint="drop it from the targets")
    values = np.column_stack([column.values for column in columns])
    task = forced or "regression"
    if task == "count" and values.min() < 0:
        raise TargetError("--task count needs non-negative values in every target column",
                          hint="use --task regression")
    if task == "proportion" and (values.min() < 0 or values.max() > 1):
        raise TargetError("--task proportion needs values in [0, 1] in every target column",
                          hint="use --task regression")
    reason = "" if forced else f"{len(columns)} numeric target columns ({names}): multi-output regression"
    target = _numeric(task, reason, values)
    target.n_targets = len(columns)
    return target


def _multilabel(columns: list[_Column], label_sep: str | None) -> _Target:
    matrix = np.column_stack([column.values for column in columns]).astype(np.float64)
    positives = matrix.sum(axis=0).astype(np.int64)
    n_rows = matrix.shape[0]
    for column, count in zip(columns, positives):
        if count in (0, n_rows):
            raise TargetError(f"label {column.name!r} is {int(count > 0)} in every row: nothing to learn",
                              hint="drop that label column")
    names = tuple(column.name for column in columns)
    if label_sep is not None:
        reason = f"labels split on {label_sep!r} into {len(names)} 0/1 columns: multi-label"
    else:
        reason = f"{len(names)} target columns, all 0/1: multi-label"
    distinct = len(pd.DataFrame(matrix).drop_duplicates())
    return _Target("multilabel", reason, matrix, names, tuple(int(count) for count in positives),
                   n_distinct=distinct, n_targets=len(names), multilabel=True)


def _nominal_classes(column: _Column, order: str) -> tuple[tuple[str, ...], np.ndarray, tuple[int, ...]]:
    """Class labels present in the column, per-row class index, rows per class.

    ``order``: ``sorted`` (by text, numbers by value), ``category`` (the categorical's own
    order) or ``numeric`` (text labels by the number they spell).
    """
    if column.kind in ("number", "bool"):
        y, distinct = pd.factorize(column.values, sort=True)  # O(n) hashing, not a full sort
        labels = [column.value_label(value) for value in distinct]
    else:
        present = np.unique(column.codes)
        texts = [column.labels[code] for code in present]
        if order == "category":
            ordered = list(dict.fromkeys(texts))
        elif order == "numeric":
            numbers = {column.labels[code]: column.label_numbers[code] for code in present}
            ordered = sorted(set(texts), key=lambda text: (numbers[text], text))
        else:
            ordered = sorted(set(texts))
        position = {text: index for index, text in enumerate(ordered)}
        lookup = np.full(len(column.labels), -1, dtype=np.int64)
        lookup[present] = [position[text] for text in texts]
        y, labels = lookup[column.codes], ordered
    counts = np.bincount(y, minlength=len(labels))
    return tuple(labels), y.astype(np.int64), tuple(int(count) for count in counts)


def _check_class_count(column: _Column, classes: tuple[str, ...]) -> None:
    if len(classes) > MAX_CLASSES:
        raise TargetError(f"target {column.name!r} has {len(classes)} distinct values: too many to be classes "
                          f"(at most {MAX_CLASSES})", hint="is it an identifier or free text? choose another target")
    rows = len(column.missing)
    if len(classes) > MAX_CLASS_SHARE * rows:
        raise TargetError(f"target {column.name!r} has {len(classes)} distinct values in {rows} rows: "
                          "most classes would have a single example, as in an identifier or free "
                          "text", hint="choose the target column with --target NAME")


def _classes(task: str, reason: str, classes: tuple[str, ...], y: np.ndarray, counts: tuple[int, ...],
             numeric: np.ndarray | None = None) -> _Target:
    return _Target(task, reason, y, classes, counts,
                   numeric=None if numeric is None else numeric.reshape(-1, 1),
                   n_distinct=len(classes))


def _numeric(task: str, reason: str, values: np.ndarray) -> _Target:
    matrix = values.reshape(len(values), -1).astype(np.float64)
    distinct = max(int(np.unique(column).size) for column in matrix.T)
    return _Target(task, reason, values.astype(np.float64), numeric=matrix, n_distinct=distinct,
                   n_targets=matrix.shape[1])


# ---------------------------------------------------------------------------------------------
# facts


NEUTRAL_NUMERIC_FACTS: dict[str, Any] = {
    "skewness": 0.0, "kurtosis": 0.0, "outlier_fraction": 0.0, "zero_fraction": 0.0,
    "excess_zero_ratio": 1.0, "integer_valued": True, "nonnegative": True,
    "strictly_positive": False, "has_negative": False, "target_min": 0.0, "target_max": 1.0,
    "target_mean": 0.0, "target_std": 0.0, "target_scale": 1.0, "in_unit_interval": True,
    "dispersion_index": 1.0, "tweedie_power": 0.0,
}


def _feature_facts(features: pd.DataFrame, row_mask: np.ndarray) -> dict[str, Any]:
    n_features = features.shape[1]
    numeric = sum(_is_numeric_feature(features.iloc[:, index]) for index in range(n_features))
    missing = 0
    every_row = bool(row_mask.all())
    for index in range(n_features):
        column = features.iloc[:, index]
        if column.dtype.kind == "f":  # NaN and inf in one pass over a plain float array
            absent = ~np.isfinite(column.to_numpy())
        else:
            absent = column.isna().to_numpy()
        missing += int(np.count_nonzero(absent if every_row else absent[row_mask]))
    cells = int(row_mask.sum()) * n_features
    return {
        "n_features": n_features,
        "n_numeric_features": numeric,
        "n_categorical_features": n_features - numeric,
        "missing_fraction": missing / cells if cells else 0.0,
    }


def _is_numeric_feature(column: pd.Series) -> bool:
    dtype = column.dtype
    return (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype)
            and not isinstance(dtype, pd.CategoricalDtype))


def _class_facts(target: _Target) -> dict[str, Any]:
    """Facts of the class distribution (per-label for multi-label); neutral for numeric tasks."""
    if not target.classes:
        return {"n_classes": 0, "imbalance_ratio": 1.0, "minority_fraction": 0.5, "minority_count": 0,
                "label_entropy": 1.0, "effective_number_ratio": 1.0, "label_cardinality": 1.0,
                "label_density": 1.0}
    n_rows = len(target.y)
    counts = np.asarray(target.class_counts, dtype=np.float64)
    if target.multilabel:
        negatives = n_rows - counts
        prevalence = counts / n_rows
        imbalance = float(np.max(negatives / counts))
        minority = float(counts.min())
        entropy = float(np.mean(_binary_entropy(prevalence)))
        cardinality = float(target.y.sum(axis=1).mean())
    else:
        present = counts[counts > 0]
        imbalance = float(present.max() / present.min())
        minority = float(present.min())
        shares = present / n_rows
        entropy = float(-(shares * np.log(shares)).sum() / math.log(len(counts))) if len(counts) > 1 else 1.0
        cardinality = 1.0
    # Cui et al. 2019: E_n = (1 - beta^n) / (1 - beta) with beta = 1 - 1/N
    beta_power = math.exp(minority * math.log1p(-1.0 / n_rows)) if n_rows > 1 else 0.0
    effective = n_rows * (1.0 - beta_power)
    return {
        "n_classes": len(counts),
        "imbalance_ratio": imbalance,
        "minority_fraction": minority / n_rows,
        "minority_count": minority,
        "label_entropy": entropy,
        "effective_number_ratio": effective / minority,
        "label_cardinality": cardinality,
        "label_density": cardinality / len(counts) if target.multilabel else 1.0,
    }


def _binary_entropy(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-300, 1.0)
    q = np.clip(1.0 - p, 1e-300, 1.0)
    return -(p * np.log(p) + q * np.log(q)) / math.log(2.0)


def _numeric_facts(values: np.ndarray, features: np.ndarray | None, *, tweedie_step: int) -> dict[str, Any]:
    """Shape of one numeric target column, computed on values scaled to [-1, 1] (no overflow).

    ``tweedie_step`` > 0 estimates the Tweedie power on every ``tweedie_step``-th row,
    the rows of ``features``; 0 skips it.
    """
    scale = float(np.max(np.abs(values)))
    unit = values / scale if scale > 0 else values
    mean_unit = float(unit.mean())
    std_unit = float(unit.std())
    lowest, highest = float(values.min()), float(values.max())
    median_unit = float(np.median(unit))
    deviation = np.abs(unit - median_unit)
    mad_unit = float(np.median(deviation))
    spread = MAD_TO_SIGMA * mad_unit if mad_unit > 0 else 1.253314 * float(deviation.mean())
    outliers = float(np.mean(deviation > MODIFIED_Z_CUTOFF * spread)) if spread > 0 else 0.0
    zero_fraction = float(np.mean(values == 0))
    integer = bool(np.all(values == np.round(values)))
    mean = mean_unit * scale
    if integer and lowest >= 0 and mean > 0:
        log_ratio = math.log(zero_fraction) + mean if zero_fraction > 0 else -math.inf
        excess_zero = min(math.exp(min(log_ratio, 700.0)), EXCESS_ZERO_CAP) if zero_fraction > 0 else 0.0
    else:
        excess_zero = 1.0
    return {
        "skewness": _skewness(unit),
        "kurtosis": _excess_kurtosis(unit),
        "outlier_fraction": outliers,
        "zero_fraction": zero_fraction,
        "excess_zero_ratio": excess_zero,
        "integer_valued": integer,
        "nonnegative": lowest >= 0,
        "strictly_positive": lowest > 0,
        "has_negative": lowest < 0,
        "target_min": lowest,
        "target_max": highest,
        "target_mean": mean,
        "target_std": std_unit * scale,
        "target_scale": scale,
        "in_unit_interval": lowest >= 0 and highest <= 1,
        "dispersion_index": std_unit * std_unit / mean_unit * scale if mean > 0 else 1.0,
        "tweedie_power": (_tweedie_power(values[::tweedie_step], features)
                          if tweedie_step and lowest >= 0 else 0.0),
        "robust_scale": MAD_TO_SIGMA * mad_unit * scale,
    }


def _combine_numeric_facts(per_column: list[dict[str, Any]]) -> dict[str, Any]:
    """Several numeric target columns -> one set of facts, each taken at its most telling column."""
    if len(per_column) == 1:
        facts = dict(per_column[0])
        del facts["robust_scale"]
        return facts

    def values(name: str) -> list[Any]:
        return [column[name] for column in per_column]

    powers = [power for power in values("tweedie_power") if power != 0.0]
    return {
        "skewness": max(values("skewness"), key=abs),
        "kurtosis": max(values("kurtosis")),
        "outlier_fraction": max(values("outlier_fraction")),
        "zero_fraction": max(values("zero_fraction")),
        "excess_zero_ratio": max(values("excess_zero_ratio")),
        "integer_valued": all(values("integer_valued")),
        "nonnegative": all(values("nonnegative")),
        "strictly_positive": all(values("strictly_positive")),
        "has_negative": any(values("has_negative")),
        "target_min": min(values("target_min")),
        "target_max": max(values("target_max")),
        "target_mean": float(np.mean(values("target_mean"))),
        "target_std": max(values("target_std")),
        "target_scale": max(values("target_scale")),
        "in_unit_interval": all(values("in_unit_interval")),
        "dispersion_index": max(values("dispersion_index")),
        "tweedie_power": float(np.median(powers)) if powers else 0.0,
    }


def _skewness(values: np.ndarray) -> float:
    scale = float(np.max(np.abs(values)))
    unit = values / scale if scale > 0 else values
    centred = unit - unit.mean()
    std = float(centred.std())
    return float(np.mean((centred / std) ** 3)) if std > 0 else 0.0


def _excess_kurtosis(unit: np.ndarray) -> float:
    centred = unit - unit.mean()
    std = float(centred.std())
    return float(np.mean((centred / std) ** 4) - 3.0) if std > 0 else 0.0


def _dispersion(values: np.ndarray) -> float:
    scale = float(np.max(np.abs(values)))
    unit = values / scale
    mean = float(unit.mean())
    return float(unit.var()) / mean * scale if mean > 0 else 1.0


def _numeric_feature_matrix(features: pd.DataFrame, rows: np.ndarray) -> np.ndarray | None:
    """Numeric (and boolean) features of ``rows``, standardised, missing cells at the median."""
    blocks = []
    for index in range(features.shape[1]):
        column = features.iloc[:, index]
        if not _is_numeric_feature(column):
            continue
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)[rows]
        values[~np.isfinite(values)] = np.nan
        present = ~np.isnan(values)
        if not present.any():
            continue
        scale = float(np.max(np.abs(values[present])))
        if scale > 0:
            values /= scale  # no overflow in the moments below
        values[~present] = float(np.median(values[present]))
        spread = float(values.std())
        if spread > 0:
            blocks.append((values - values.mean()) / spread)
    return np.column_stack(blocks) if blocks else None


def _tweedie_power(values: np.ndarray, features: np.ndarray | None) -> float:
    """Slope of log variance on log mean across quantile bins of a linear mean estimate.

    The mean estimate is a ridge fit of y on the standardised numeric features (y itself
    when there are none). Var = phi * mu^p, so the slope is p; 0.0 when not estimable.
    """
    n_rows = len(values)
    n_bins = min(TWEEDIE_BINS, n_rows // TWEEDIE_MIN_ROWS_PER_BIN)
    if n_bins < TWEEDIE_MIN_BINS:
        return 0.0
    scale = float(values.max())
    if scale <= 0:
        return 0.0
    unit = values / scale  # the slope does not depend on the unit
    if features is not None:
        # one BLAS thread: a (rows x 20) product is faster alone than with threads that spin
        with threadpool_limits(limits=1, user_api="blas"):
            gram = features.T @ features + np.eye(features.shape[1])  # ridge, alpha = 1
            coefficients = np.linalg.solve(gram, features.T @ (unit - unit.mean()))
            estimate = features @ coefficients
    else:
        estimate = unit
    order = np.argsort(estimate, kind="stable")
    bins = np.empty(n_rows, dtype=np.int64)
    bins[order] = np.arange(n_rows) * n_bins // n_rows
    sizes = np.bincount(bins, minlength=n_bins).astype(np.float64)
    means = np.bincount(bins, weights=unit, minlength=n_bins) / sizes
    squares = np.bincount(bins, weights=(unit - means[bins]) ** 2, minlength=n_bins)
    variances = squares / np.maximum(sizes - 1, 1)
    usable = (means > 0) & (variances > 0) & (sizes > 1)
    if usable.sum() < TWEEDIE_MIN_BINS:
        return 0.0
    log_means, log_variances = np.log(means[usable]), np.log(variances[usable])
    if np.ptp(log_means) < 1e-9:
        return 0.0
    slope = float(np.polyfit(log_means, log_variances, 1)[0])
    return slope if math.isfinite(slope) else 0.0


# ---------------------------------------------------------------------------------------------
# JSON safety


def _json_number(value: Any) -> float:
    """A finite python float rounded to 6 significant digits (byte-stable JSON)."""
    number = float(value)
    if math.isnan(number):
        raise ValueError("a fact came out as NaN")  # a bug in this module, not the user's data
    number = min(max(number, -_MAX_FLOAT), _MAX_FLOAT)
    return significant(number) + 0.0


def _json_facts(facts: dict[str, Any]) -> dict[str, Any]:
    if set(facts) != FACT_NAMES:
        missing, extra = sorted(FACT_NAMES - set(facts)), sorted(set(facts) - FACT_NAMES)
        raise ValueError(f"profile facts do not match the vocabulary: missing {missing}, extra {extra}")
    clean: dict[str, Any] = {}
    for name in sorted(facts):
        kind, value = FACT_TYPES[name], facts[name]
        if kind is bool:
            clean[name] = bool(value)
        elif kind is str:
            clean[name] = str(value)
        else:
            clean[name] = _json_number(value)
    return clean


def _short(number: float) -> str:
    return f"{number:.4g}"


__all__ = ["Profile", "profile_data", "amount_clue", "MIN_ROWS"]
