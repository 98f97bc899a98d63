"""Reading a target column: its kind (numbers, booleans, text, categories), its missing
cells, and numbers stored as text with a few cells of stray text (read as missing and
recorded for a warning)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataShapeError, TargetError

#: Rows with a usable target below which nothing can be learned or validated.
MIN_ROWS = 10
#: A column of decimal numbers with a few text cells ("error", "n/a?") is numeric with typos,
#: not classes: up to this share of its rows, in up to this many distinct texts, are dropped.
STRAY_TEXT_MAX_SHARE = 0.05
STRAY_TEXT_MAX_LABELS = 10
#: Whole numbers with stray text are numbers too when they take more values than this
#: (codes "1", "2", "3" with "unknown" stay classes; counts 0..150 with "error" do not).
STRAY_TEXT_MIN_WHOLE_LEVELS = 20


@dataclass
class Column:
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

    def subset(self, mask: np.ndarray) -> Column:
        return replace(self, missing=self.missing[mask],
                       values=None if self.values is None else self.values[mask],
                       codes=None if self.codes is None else self.codes[mask])

    @property
    def numbers(self) -> np.ndarray:
        """The float per row of a number or bool column."""
        if self.values is None:
            raise TypeError(f"the {self.kind} column {self.name!r} holds no numbers")
        return self.values

    @property
    def label_codes(self) -> np.ndarray:
        """The label index per row (-1 where missing) of a text or categorical column."""
        if self.codes is None:
            raise TypeError(f"the {self.kind} column {self.name!r} holds no labels")
        return self.codes

    def value_label(self, value: float) -> str:
        return str(bool(value)) if self.kind == "bool" else label_text(float(value))


def read_column(name: str, series: pd.Series) -> Column:
    """Classify a target column by dtype and, for object columns, by the values it holds."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        labels = [label_text(value) for value in dtype.categories]
        codes = series.cat.codes.to_numpy(dtype=np.int64, copy=True)
        return _text_column(name, "ordered" if dtype.ordered else "category", codes, labels)
    if dtype.kind in "mM" or isinstance(dtype, pd.DatetimeTZDtype):
        raise TargetError(f"target {name!r} holds dates or durations",
                          hint="convert it to a number (e.g. days) or choose another target")
    if pd.api.types.is_complex_dtype(dtype):
        raise TargetError(f"target {name!r} holds complex numbers", hint="choose a real-valued target")
    if pd.api.types.is_bool_dtype(dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return Column(name, "bool", np.isnan(values), values=values)
    if pd.api.types.is_numeric_dtype(dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return Column(name, "number", ~np.isfinite(values), values=values,
                       integer_dtype=pd.api.types.is_integer_dtype(dtype))
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    uniques = list(uniques)
    codes = codes.astype(np.int64, copy=False)
    if uniques and all(isinstance(value, (bool, np.bool_)) for value in uniques):
        values = _per_row(codes, np.array([float(value) for value in uniques]))
        return Column(name, "bool", np.isnan(values), values=values)
    if uniques and all(_is_real_number(value) for value in uniques):
        values = _per_row(codes, np.array([float(value) for value in uniques]))
        integer = all(isinstance(value, (int, np.integer)) for value in uniques)
        return Column(name, "number", ~np.isfinite(values), values=values, integer_dtype=integer)
    column = _text_column(name, "text", codes, [label_text(value) for value in uniques])
    parsed = column.label_numbers
    if parsed is not None and any(_looks_decimal(label) for label in column.labels):
        # measurements stored as text ("1.5"): numbers; bare codes ("1", "2") stay labels
        values = _per_row(column.label_codes, parsed)
        return Column(name, "number", ~np.isfinite(values), values=values, from_text=True)
    return _without_stray_text(column) or column


def _without_stray_text(column: Column) -> Column | None:
    """The column as numbers when it is decimal numbers with a few cells of other text
    (typos, "error"): those cells read as missing and recorded; None when it is text."""
    codes = column.label_codes
    counts = np.bincount(codes[codes >= 0], minlength=len(column.labels))
    split = split_stray_text(column.labels, counts)
    if split is None:
        return None
    numbers, stray = split
    values = _per_row(codes, numbers)
    return Column(column.name, "number", ~np.isfinite(values), values=values, from_text=True,
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
    decimal = any(_looks_decimal(labels[int(index)]) for index in np.flatnonzero(is_number))
    if not decimal and not (stray and int(is_number.sum()) > STRAY_TEXT_MIN_WHOLE_LEVELS):
        return None
    if counts[stray].sum() > STRAY_TEXT_MAX_SHARE * counts.sum():
        return None
    return np.where(is_number, numbers, np.nan), stray


def _text_column(name: str, kind: str, codes: np.ndarray, labels: list[str]) -> Column:
    """Blank labels count as missing; labels that all parse as numbers are remembered."""
    blank = np.array([not label.strip() for label in labels], dtype=bool)
    if blank.any():
        codes = np.where(np.isin(codes, np.flatnonzero(blank)), -1, codes)
    numbers = pd.to_numeric(pd.Series(labels, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
    all_numbers = bool((~blank).any()) and bool(np.isfinite(numbers[~blank]).all())
    return Column(name, kind, codes < 0, codes=codes, labels=labels,
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


def label_text(value: Any) -> str:
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


def usable_rows(columns: list[Column], names: tuple[str, ...]) -> np.ndarray:
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
