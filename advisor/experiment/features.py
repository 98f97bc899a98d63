"""Features for the proxies: the user's columns as plain numbers and text, and the fold's
encoder (fitted on the training fold only).

A text column of numbers is numeric, its few cells of other text ("n/a?") missing, by the
target's test (:func:`advisor.profile.split_stray_text`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataShapeError

__all__ = ["prepare_features", "build_preprocessor", "kept_positions"]


def prepare_features(features: pd.DataFrame) -> pd.DataFrame:
    """Plain column names (x0, x1...), numbers as float with inf as missing (also decimal
    numbers stored as text), other text as object.

    The numeric and boolean columns are converted as one float block: a frame with
    thousands of columns then takes milliseconds, not seconds, here and in the encoder.
    """
    names = [f"x{position}" for position in range(features.shape[1])]
    dtypes = list(features.dtypes)
    block = [position for position, dtype in enumerate(dtypes)
             if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype)]
    parts = []
    if block:
        values = features.iloc[:, block].to_numpy(dtype=np.float64, na_value=np.nan)
        values = np.where(np.isfinite(values), values, np.nan)  # a copy: pandas' may be read-only
        parts.append(pd.DataFrame(values, index=features.index, columns=[names[i] for i in block]))
    others = {}
    for position in sorted(set(range(features.shape[1])) - set(block)):
        column = features.iloc[:, position]
        if pd.api.types.is_datetime64_any_dtype(column.dtype):  # seconds since the earliest
            others[names[position]] = (column - column.min()).dt.total_seconds()
        elif (numbers := _text_as_numbers(column)) is not None:
            others[names[position]] = numbers
        else:  # categories as text (one type for the encoder), missing as NaN
            missing = column.isna().to_numpy()
            values = column.astype(object).to_numpy()
            others[names[position]] = pd.Series(
                [np.nan if gone else str(value) for value, gone in zip(values, missing, strict=True)],
                index=features.index, dtype=object)
    if others:
        parts.append(pd.DataFrame(others, index=features.index))
    if not parts:
        return pd.DataFrame(index=features.index)
    frame = parts[0] if len(parts) == 1 else pd.concat(parts, axis=1)
    return frame[names] if len(parts) > 1 else frame


def _text_as_numbers(column: pd.Series) -> pd.Series | None:
    """Decimal numbers stored as text, maybe with a few cells of other text (read as
    missing), as floats; None for real text and for declared categories. The same test as
    the target's (profile)."""
    from ..profile import split_stray_text

    if isinstance(column.dtype, pd.CategoricalDtype):
        return None
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    labels = [str(value) for value in uniques]
    split = split_stray_text(labels, np.bincount(codes[codes >= 0], minlength=len(labels)))
    if split is None:
        return None
    values = np.full(len(codes), np.nan)
    present = codes >= 0
    values[present] = split[0][codes[present]]
    return pd.Series(values, index=column.index)


def build_preprocessor(features: pd.DataFrame):
    """The fold's feature pipeline (fit it on the training fold only).

    Numeric columns: median imputation, standardization. Other columns: most-frequent
    imputation, one-hot with ``handle_unknown="ignore"`` and at most 20 categories.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    # column positions, not names: the encoder then looks nothing up (thousands of columns)
    is_numeric = [pd.api.types.is_numeric_dtype(dtype) for dtype in features.dtypes]
    numeric = [position for position, flag in enumerate(is_numeric) if flag]
    categorical = [position for position, flag in enumerate(is_numeric) if not flag]
    transformers = []
    if numeric:
        transformers.append(("numeric", Pipeline([
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
        ]), numeric))
    if categorical:
        transformers.append(("categorical", Pipeline([
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", max_categories=20,
                                     sparse_output=False)),
        ]), categorical))
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)


def kept_positions(features: pd.DataFrame, row_mask: Any, n_target: int) -> np.ndarray:
    """Positions of ``features`` rows that the profile kept (target present)."""
    if row_mask is None:
        kept = np.arange(len(features))
    else:
        mask = np.asarray(row_mask)
        kept = np.flatnonzero(mask) if mask.dtype == bool else mask.astype(int)
    if kept.size != n_target:
        raise DataShapeError(f"the profile kept {n_target} rows but the features have "
                             f"{kept.size}", hint="pass the LoadedData the profile was built from")
    return kept

