"""Stage 1, load: read the data, pick the target, record provenance.

Public function: :func:`load_data`. Output: :class:`LoadedData`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Provenance:
    """Where the data came from, so a reviewer can check they have the same file."""

    source: str          # the path as given, "<stdin>", "<dataframe>" or "<arrays>"
    format: str          # csv, parquet, dataframe, arrays
    bytes: int | None    # size of the file read; None for in-memory data
    sha256: str          # of the file's bytes; of a canonical CSV dump for in-memory data
    rows: int            # rows read (before dropping rows with a missing target)
    columns: int         # columns read, target included

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "format": self.format, "bytes": self.bytes,
                "sha256": self.sha256, "rows": self.rows, "columns": self.columns}


@dataclass(frozen=True, eq=False)
class LoadedData:
    """The table split into features and target, with the reason the target was chosen."""

    features: pd.DataFrame            # every non-target column, original dtypes
    target: pd.DataFrame              # one column per target; a delimited label column is expanded to 0/1 columns, one per label
    target_columns: tuple[str, ...]   # target column names as in the source
    target_reason: str                # e.g. "column 'species' given with --target"
    label_sep: str | None             # separator used to split a delimited label column, if any
    provenance: Provenance
