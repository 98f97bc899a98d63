"""Task detection: what kind of target a column (or several) is, with the sentence that says why.

Task detection goes further than the peer systems (EVIDENCE.md, "Task detection in peer
systems"): numbers are never taken for nominal classes (sklearn types whole-number floats
as multiclass), small contiguous integer scales are ordinal (AutoGluon calls ratings
multiclass), non-negative whole numbers are counts unless they look like an amount of money
(:mod:`._amount`), values inside [0, 1] are proportions, and several 0/1 columns or a
delimited label column are multi-label. Row identifiers and columns with more classes than
half their rows are refused. A task given with ``--task`` is checked against the target.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..errors import OptionError, TargetError
from ..load import LoadedData
from ._amount import amount_clue
from ._column import Column, label_text
from ._target_facts import dispersion_index, sample_skewness

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


@dataclass
class Target:
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


def detect_target(columns: list[Column], loaded: LoadedData, forced: str | None,
                  positive: object) -> Target:
    """The task of the target columns (the rows kept), or the ``forced`` one checked against
    them; ``positive`` names the positive class of a binary target."""
    if loaded.event is not None or forced == "survival":
        from ._survival_task import detect_survival

        target = detect_survival(columns, loaded, forced)
        if positive is not None:
            raise TargetError(f"--positive {positive!r} applies to a binary target, not to a "
                              "survival target", hint="leave --positive out")
        return target
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
    return target


def _detect_one(column: Column, forced: str | None) -> Target:
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


def _detect_text(column: Column) -> Target:
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


def _detect_numbers(column: Column, distinct: np.ndarray) -> Target:
    values = column.numbers
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
    span = f"{label_text(lowest)}..{label_text(highest)}"
    if len(values) >= IDENTIFIER_MIN_ROWS and len(distinct) == len(values) == highest - lowest + 1:
        raise TargetError(f"target {column.name!r} holds the consecutive whole numbers {span}, one "
                          "per row: a row identifier, not a target",
                          hint="choose the target column with --target NAME")
    if _is_integer_scale(distinct):
        skewness = sample_skewness(values)
        top_share = float(np.mean(values == highest))
        if lowest == 0 and skewness > COUNT_MIN_SKEWNESS and top_share < COUNT_MAX_TOP_SHARE:
            return _numeric("count", f"whole numbers {span} starting at 0 with a thin right tail "
                            f"(skewness {_short(skewness)}, {top_share:.1%} of rows at {label_text(highest)}): "
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
    dispersion = dispersion_index(values)
    if column.integer_dtype:
        return _numeric("count", f"non-negative whole numbers {span} ({len(distinct)} distinct), "
                        f"variance/mean {_short(dispersion)}: counts", values)
    skewness = sample_skewness(values)
    stored = "" if column.from_text else " stored as decimals"
    if lowest == 0 or skewness > 1:
        why = "with zeros" if lowest == 0 else f"right-skewed (skewness {_short(skewness)})"
        return _numeric("count", f"{origin}non-negative whole numbers {span}{stored}, {why}, "
                        f"variance/mean {_short(dispersion)}: counts", values)
    return _numeric("regression", f"{origin}whole numbers {span}{stored}, no zeros and a "
                    f"roughly symmetric spread (skewness {_short(skewness)}): a measurement, "
                    f"regression (not {len(distinct)} classes)", values)


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


def _binary(column: Column, classes: tuple[str, ...], y: np.ndarray, counts: tuple[int, ...]) -> Target:
    if column.kind == "ordered":
        order = "the higher level"
    elif column.kind in ("bool", "number"):
        order = "the larger value" if column.kind == "number" else "True"
    else:
        order = "sorted last"
    reason = (f"two distinct values {classes[0]!r} and {classes[1]!r}: binary; "
              f"positive class {classes[1]!r} ({order})")
    return _classes("binary", reason, classes, y, counts)


def _with_positive(target: Target, positive: str, names: tuple[str, ...]) -> Target:
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


def _forced_one(column: Column, task: str) -> Target:
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
        elif order == "numeric" and column.label_numbers is not None:  # text spelling numbers
            numeric = column.label_numbers[column.label_codes]
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


def _numbers_of(column: Column) -> np.ndarray | None:
    """Float values of a column (per row for numbers, per label for text), None for real text."""
    if column.kind in ("number", "bool"):
        return column.values
    return column.label_numbers


def _detect_several(columns: list[Column], forced: str | None, label_sep: str | None) -> Target:
    """Several target columns: 0/1 labels (multi-label) or numbers (multi-output regression)."""
    names = ", ".join(repr(column.name) for column in columns)
    numeric = [column.kind in ("number", "bool") for column in columns]
    zero_one = [ok and bool(np.isin(column.numbers, (0.0, 1.0)).all()) for ok, column in zip(numeric, columns)]
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
        if np.unique(column.numbers).size == 1:
            raise TargetError(f"target {column.name!r} has a single value {column.value_label(column.numbers[0])}: "
                              "nothing to learn", hint="drop it from the targets")
    values = np.column_stack([column.numbers for column in columns])
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


def _multilabel(columns: list[Column], label_sep: str | None) -> Target:
    matrix = np.column_stack([column.numbers for column in columns]).astype(np.float64)
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
    return Target("multilabel", reason, matrix, names, tuple(int(count) for count in positives),
                   n_distinct=distinct, n_targets=len(names), multilabel=True)


def _nominal_classes(column: Column, order: str) -> tuple[tuple[str, ...], np.ndarray, tuple[int, ...]]:
    """Class labels present in the column, per-row class index, rows per class.

    ``order``: ``sorted`` (by text, numbers by value), ``category`` (the categorical's own
    order) or ``numeric`` (text labels by the number they spell).
    """
    if column.kind in ("number", "bool"):
        y, distinct = pd.factorize(column.values, sort=True)  # O(n) hashing, not a full sort
        labels = [column.value_label(value) for value in distinct]
    else:
        present = np.unique(column.label_codes)
        texts = [column.labels[code] for code in present]
        if order == "category":
            ordered = list(dict.fromkeys(texts))
        elif order == "numeric" and column.label_numbers is not None:
            numbers = {column.labels[code]: column.label_numbers[code] for code in present}
            ordered = sorted(set(texts), key=lambda text: (numbers[text], text))
        else:
            ordered = sorted(set(texts))
        position = {text: index for index, text in enumerate(ordered)}
        lookup = np.full(len(column.labels), -1, dtype=np.int64)
        lookup[present] = [position[text] for text in texts]
        y, labels = lookup[column.label_codes], ordered
    counts = np.bincount(y, minlength=len(labels))
    return tuple(labels), y.astype(np.int64), tuple(int(count) for count in counts)


def _check_class_count(column: Column, classes: tuple[str, ...]) -> None:
    if len(classes) > MAX_CLASSES:
        raise TargetError(f"target {column.name!r} has {len(classes)} distinct values: too many to be classes "
                          f"(at most {MAX_CLASSES})", hint="is it an identifier or free text? choose another target")
    rows = len(column.missing)
    if len(classes) > MAX_CLASS_SHARE * rows:
        raise TargetError(f"target {column.name!r} has {len(classes)} distinct values in {rows} rows: "
                          "most classes would have a single example, as in an identifier or free "
                          "text", hint="choose the target column with --target NAME")


def _classes(task: str, reason: str, classes: tuple[str, ...], y: np.ndarray, counts: tuple[int, ...],
             numeric: np.ndarray | None = None) -> Target:
    return Target(task, reason, y, classes, counts,
                   numeric=None if numeric is None else numeric.reshape(-1, 1),
                   n_distinct=len(classes))


def _numeric(task: str, reason: str, values: np.ndarray) -> Target:
    matrix = values.reshape(len(values), -1).astype(np.float64)
    distinct = max(int(np.unique(column).size) for column in matrix.T)
    return Target(task, reason, values.astype(np.float64), numeric=matrix, n_distinct=distinct,
                   n_targets=matrix.shape[1])


def _short(number: float) -> str:
    return f"{number:.4g}"
