"""Facts of the feature columns (how many, numeric or not, missing cells), and the numeric
features as a standardised matrix for the Tweedie power's mean estimate."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def feature_facts(features: pd.DataFrame, row_mask: np.ndarray) -> dict[str, Any]:
    n_features = features.shape[1]
    numeric = sum(is_numeric_feature(features.iloc[:, index]) for index in range(n_features))
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


def is_numeric_feature(column: pd.Series) -> bool:
    dtype = column.dtype
    return (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype)
            and not isinstance(dtype, pd.CategoricalDtype))


def numeric_feature_matrix(features: pd.DataFrame, rows: np.ndarray) -> np.ndarray | None:
    """Numeric (and boolean) features of ``rows``, standardised, missing cells at the median."""
    blocks = []
    for index in range(features.shape[1]):
        column = features.iloc[:, index]
        if not is_numeric_feature(column):
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
