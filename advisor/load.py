"""Stage 1, load: read the data, pick the target, record provenance.

Public function: :func:`load_data`. Output: :class:`LoadedData`.

A CSV file is read once by pandas' C parser (as fast as a bare ``pandas.read_csv``, which
is the yardstick of benchmarks/bench_cli.py) while a second thread hashes its bytes, so
provenance costs almost nothing on large files. Text that is not comma-separated is
recognised by sniffing the first 64 KiB. Text that is not UTF-8 (an Excel export in
Windows-1252) is read as cp1252, or as Latin-1 when cp1252 cannot decode it, and says so.
Text columns are ``str``, dates stay text (the profile and the validator decide what to do
with them). Parquet needs pyarrow.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import dataclasses
import difflib
import hashlib
import importlib.util
import io
import json
import lzma
import os
import re
import sys
import warnings
import zlib
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .digest import start_file_sha256
from .errors import DataLoadError, DataShapeError, SensitiveError, TargetError
from .load_survival import EventColumn, survival_target
from .schema import Notice

#: Column names taken as the target when none is given, in priority order (case-insensitive).
TARGET_NAMES: tuple[str, ...] = ("target", "label", "labels", "y", "class", "outcome")
PARQUET_SUFFIXES = (".parquet", ".pq")
PARQUET_MAGIC = b"PAR1"
SNIFF_BYTES = 64 * 1024
SNIFF_DELIMITERS = ",;\t| "
#: Fields that are numbers with a decimal comma ("0,25"; spreadsheets in many locales
#: write them in ';'-separated files), and with a decimal point.
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_DECIMAL_POINT = re.compile(r"[+-]?\d*\.\d+(?:[eE][+-]?\d+)?")
#: Share of rows with a ``|`` in a text target above which we suggest ``--label-sep``.
LABEL_SEP_HINT_SHARE = 0.2

# magic bytes -> pandas compression name, and a decompressor able to read a truncated head
_COMPRESSIONS: tuple[tuple[bytes, str, Any], ...] = (
    (b"\x1f\x8b", "gzip", lambda: zlib.decompressobj(16 + zlib.MAX_WBITS)),
    (b"BZh", "bz2", bz2.BZ2Decompressor),
    (b"\xfd7zXZ\x00", "xz", lzma.LZMADecompressor),
)
_ZIP_MAGIC = b"PK\x03\x04"

#: Text encodings of CSV, tried in this order: UTF-8 (a BOM is allowed), then Windows-1252
#: (Excel's export; it leaves 0x81, 0x8D, 0x8F, 0x90 and 0x9D undefined), then Latin-1,
#: which decodes every byte.
CSV_ENCODINGS: tuple[str, ...] = ("utf-8", "cp1252", "latin-1")
_ENCODING_NOTES = {"cp1252": "Windows-1252, as Excel exports it",
                   "latin-1": "ISO-8859-1: it holds bytes that Windows-1252 leaves undefined"}

#: pyarrow is optional and only reads Parquet: found without importing it (import costs time).
HAVE_PYARROW = importlib.util.find_spec("pyarrow") is not None


@dataclass(frozen=True)
class Provenance:
    """Where the data came from, so a reviewer can check they have the same file."""

    source: str          # the path as given, "<stdin>", "<dataframe>" or "<arrays>"
    format: str          # csv, parquet, dataframe, arrays
    bytes: int | None    # size of the file read; None for in-memory data
    sha256: str          # of the file's bytes; of a canonical dump (row hashes, names, dtypes) for in-memory data
    rows: int            # rows read (before dropping rows with a missing target)
    columns: int         # columns read, target included
    encoding: str | None = None  # a CSV's text encoding when it is not UTF-8 (cp1252, latin-1)

    def to_dict(self) -> dict[str, Any]:
        payload = {"source": self.source, "format": self.format, "bytes": self.bytes,
                   "sha256": self.sha256, "rows": self.rows, "columns": self.columns}
        if self.encoding is not None:  # UTF-8 files: the same dict as before the key existed
            payload["encoding"] = self.encoding
        return payload


@dataclass(frozen=True, eq=False)
class LoadedData:
    """The table split into features and target, with the reason the target was chosen.

    Both frames share a fresh ``RangeIndex``, so row ``i`` means the ``i``-th row read.
    """

    features: pd.DataFrame            # every non-target column, original dtypes
    target: pd.DataFrame              # one column per target; a delimited label column is expanded to 0/1 columns, one per label
    target_columns: tuple[str, ...]   # target column names as in the source
    target_reason: str                # e.g. "column 'species' given with --target"
    label_sep: str | None             # separator used to split a delimited label column, if any
    provenance: Provenance
    notices: tuple[Notice, ...] = ()  # warnings for the user, e.g. data.encoding
    event: EventColumn | None = None  # survival: the indicator, the second target column
    sensitive: pd.Series | None = None  # the --sensitive column (groups), aligned with the rows
    sensitive_as_feature: bool = False  # the sensitive column is also among the features


def load_data(source: Any, target: str | Sequence[str] | None = None, *,
              label_sep: str | None = None, y: Any = None,
              sha256: Callable[[], str] | None = None, event: str | None = None,
              censored: str | None = None, task: str | None = None,
              sensitive: str | None = None, sensitive_as_feature: bool = False) -> LoadedData:
    """Read ``source`` and split it into features and target.

    ``source`` is a path to a CSV or Parquet file, ``"-"`` for standard input, a pandas
    DataFrame, or (with ``y=``) a feature matrix whose target is given separately.
    ``target`` names one column or several; without it a column named like a target
    (see :data:`TARGET_NAMES`) is used, else the last column. ``label_sep`` splits a
    delimited label column such as ``"cat|dog"`` into one 0/1 column per label (a non-empty
    string: :class:`~advisor.options.Options` checks it). ``sha256`` returns the digest of
    the file ``source`` when the caller started computing it already
    (:func:`advisor.digest.start_file_sha256`). ``event`` (1 = event) or ``censored``
    (1 = censored) names the indicator of a survival target whose duration is ``target``;
    without them a duration and an indicator named like one are recognised
    (:mod:`advisor.load_survival`) unless ``task`` is another task than survival.
    ``sensitive`` names the column whose values
    are the groups of a fairness-aware run: it is kept apart (``LoadedData.sensitive``) and
    is not a feature unless ``sensitive_as_feature``.
    """
    if y is not None:
        if target is not None:
            raise TargetError("the target was given twice, as target= and as y=",
                              hint="give one of them")
        table, target_names, provenance = _from_arrays(source, y)
        reason = (f"target given as y= ({len(target_names)} columns)" if len(target_names) > 1
                  else "target given as y=")
    else:
        table, provenance = _read_table(source, sha256)
        target_names, reason = _choose_target(table, target)
    indicator = None
    if y is None and not (target is None and event is None and censored is None
                          and reason.endswith("is named like a target")):
        pair = survival_target(table, target, event, censored, task)
        if pair is not None:
            duration, indicator = pair
            given = "given with --target" if target is not None else "is named like a duration"
            target_names = [duration, indicator.name]
            reason = f"column {duration!r} {given}; {indicator.reason}"
    elif event is not None or censored is not None:
        raise TargetError("--event / --censored name a column of the data, not of y=",
                          hint="give the data as one table with the duration and the indicator")
    loaded = _split(table, target_names, reason, None if indicator else label_sep, provenance)
    if indicator is not None:
        loaded = dataclasses.replace(loaded, event=indicator)
    if sensitive is not None:
        loaded = _with_sensitive(loaded, table, target_names, sensitive, sensitive_as_feature)
    if provenance.encoding is not None:
        note = _ENCODING_NOTES.get(provenance.encoding)
        message = (f"the file is not UTF-8: read as {provenance.encoding}"
                   f"{f' ({note})' if note else ''}; save it as UTF-8 to silence this")
        loaded = dataclasses.replace(loaded, notices=loaded.notices + (Notice("data.encoding", message),))
    return loaded


# ---------------------------------------------------------------------------------------------
# reading


def _read_table(source: Any, sha256: Callable[[], str] | None) -> tuple[pd.DataFrame, Provenance]:
    """Any supported source -> (table, provenance) with string column names and a RangeIndex."""
    if isinstance(source, pd.DataFrame):
        if source.shape[1] == 0:
            raise DataShapeError("the DataFrame has no columns", hint="give a table with features and a target")
        table = _clean_frame(source)
        if len(table) == 0:
            raise DataShapeError("the DataFrame has no rows", hint="give a table with at least 10 rows")
        return table, Provenance("<dataframe>", "dataframe", None, _frame_sha256([source]),
                                 len(table), table.shape[1])
    if isinstance(source, (str, os.PathLike)):
        if str(source) == "-":
            return _read_stdin()
        return _read_path(Path(source), str(source), sha256)
    raise DataLoadError(f"cannot read data from a {type(source).__name__}",
                        hint="give a CSV or Parquet path, '-' for stdin, a DataFrame, or X with y=")


def _read_stdin() -> tuple[pd.DataFrame, Provenance]:
    """Read all of standard input (CSV or Parquet bytes)."""
    if sys.stdin is None:
        raise DataLoadError("there is no standard input to read", hint="give a file path instead of '-'")
    stream = getattr(sys.stdin, "buffer", None)
    data = stream.read() if stream is not None else sys.stdin.read().encode("utf-8")
    name = "<stdin>"
    if not data.strip():
        raise DataLoadError("standard input is empty", hint="pipe a CSV or Parquet file into it")
    if data.startswith(PARQUET_MAGIC):
        table, fmt, encoding = _read_parquet(io.BytesIO(data), name), "parquet", None
    else:
        (table, encoding), fmt = _read_csv(io.BytesIO(data), data[:SNIFF_BYTES], name), "csv"
    return _finish_file_table(table, name), Provenance(
        name, fmt, len(data), hashlib.sha256(data).hexdigest(), len(table), table.shape[1],
        _non_utf8(encoding))


def _read_path(path: Path, name: str,
               sha256: Callable[[], str] | None) -> tuple[pd.DataFrame, Provenance]:
    """Read a CSV or Parquet file and hash its bytes (large files: in a second thread, meanwhile)."""
    if not path.exists():
        raise DataLoadError(f"file not found: {name}", hint="check the path")
    if path.is_dir():
        raise DataLoadError(f"{name} is a directory, not a file", hint="give a CSV or Parquet file")
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError as error:
        raise DataLoadError(f"cannot read {name}: {error.strerror or error}",
                            hint="check the file's permissions") from None
    if size == 0 or not head.strip():
        raise DataLoadError(f"{name} is empty", hint="give a CSV with a header row and data rows")
    is_parquet = path.suffix.lower() in PARQUET_SUFFIXES or head.startswith(PARQUET_MAGIC)
    if is_parquet and not head.startswith(PARQUET_MAGIC):
        raise DataLoadError(f"{name} is not a Parquet file (no PAR1 magic bytes)",
                            hint="rename it if it is CSV, or export it again as Parquet")
    with ExitStack() as stack:  # hash while parsing: the digest is then almost free
        digest = sha256 or start_file_sha256(path, stack)
        table, fmt, encoding = _parse_file(path, head, name, is_parquet)
        sha256_hex = digest()
    table = _finish_file_table(table, name)
    return table, Provenance(name, fmt, size, sha256_hex, len(table), table.shape[1],
                             _non_utf8(encoding))


def _parse_file(path: Path, head: bytes, name: str,
                is_parquet: bool) -> tuple[pd.DataFrame, str, str | None]:
    """(table, format, text encoding or None for Parquet)."""
    if is_parquet:
        return _read_parquet(path, name), "parquet", None
    table, encoding = _read_csv(path, head, name)
    return table, "csv", encoding


def _non_utf8(encoding: str | None) -> str | None:
    """The encoding to record in the provenance: nothing for UTF-8, so its JSON is unchanged."""
    return None if encoding in (None, "utf-8") else encoding


def _read_parquet(source: Any, name: str) -> pd.DataFrame:
    if not HAVE_PYARROW:  # pragma: no cover - depends on the environment
        raise DataLoadError(f"{name} is Parquet, which needs pyarrow",
                            hint="pip install 'loss-advisor[parquet]', or give a CSV")
    import pyarrow as pa

    try:
        return pd.read_parquet(source, engine="pyarrow")
    except (pa.ArrowException, OSError, ValueError) as error:
        raise DataLoadError(f"{name} is not a readable Parquet file: {_first_line(error)}",
                            hint="export it again, or give a CSV") from None


def _read_csv(source: Any, head: bytes, name: str) -> tuple[pd.DataFrame, str]:
    """Parse CSV text: comma first, else the sniffed delimiter. Returns the table and the
    text encoding it was read with (see :data:`CSV_ENCODINGS`)."""
    compression = None
    if head.startswith(_ZIP_MAGIC):
        raise DataLoadError(f"{name} is a ZIP archive (an Excel workbook?), not CSV text",
                            hint="export the sheet as CSV (UTF-8) or Parquet")
    for magic, kind, decompressor in _COMPRESSIONS:
        if head.startswith(magic):
            compression = kind
            try:
                head = decompressor().decompress(head)[:SNIFF_BYTES]
            except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError):
                raise DataLoadError(f"{name} looks {kind}-compressed but cannot be decompressed",
                                    hint="check the file is complete") from None
            break
    if b"\x00" in head:
        raise DataLoadError(f"{name} contains NUL bytes: binary data or UTF-16 text, not a UTF-8 CSV",
                            hint="save it as CSV (UTF-8) or Parquet")
    encoding = _head_encoding(head)
    first_line = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0]
    sniffed = None if b"," in first_line else _sniff_delimiter(head, encoding)
    try:
        if sniffed is None:
            return _parse_text(source, ",", compression, ".", encoding)
        return _parse_text(source, sniffed, compression, _sniff_decimal(head, sniffed, encoding), encoding)
    except pd.errors.ParserError as error:
        fallback = _sniff_delimiter(head, encoding) if sniffed is None else None
        if fallback not in (None, ","):
            try:
                return _parse_text(source, fallback, compression,
                                   _sniff_decimal(head, fallback, encoding), encoding)
            except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError):
                pass
        raise DataLoadError(f"{name} is not a readable CSV: {_first_line(error)}",
                            hint="check the delimiter and quoting, or save it as Parquet") from None
    except pd.errors.ParserWarning:  # C parser: rows longer than the header
        raise DataLoadError(f"{name} is not a readable CSV: rows have more fields than the header",
                            hint="check the delimiter and quoting") from None
    except pd.errors.EmptyDataError:
        raise DataLoadError(f"{name} holds no table (no header row)",
                            hint="give a CSV with a header row and data rows") from None
    except (ValueError, OSError, EOFError, zlib.error, lzma.LZMAError) as error:  # e.g. a truncated archive
        raise DataLoadError(f"{name} cannot be read as CSV: {_first_line(error)}",
                            hint="check the file is complete, or save it as CSV (UTF-8) or Parquet") from None


def _head_encoding(head: bytes) -> str:
    """The first of :data:`CSV_ENCODINGS` that decodes a file's first bytes. The head may end
    inside a UTF-8 character, so an unfinished last sequence does not count against UTF-8."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _parse_text(source: Any, sep: str, compression: str | None, decimal: str,
                encoding: str) -> tuple[pd.DataFrame, str]:
    """:func:`_parse_csv` with ``encoding``; when a byte past the sniffed head does not decode
    (pandas raises UnicodeDecodeError), again with the next of :data:`CSV_ENCODINGS`, down to
    Latin-1, which decodes every byte. Returns the table and the encoding that read it."""
    for candidate in CSV_ENCODINGS[CSV_ENCODINGS.index(encoding):-1]:
        try:
            return _parse_csv(source, sep, compression, decimal, candidate), candidate
        except UnicodeDecodeError:
            continue
    return _parse_csv(source, sep, compression, decimal, CSV_ENCODINGS[-1]), CSV_ENCODINGS[-1]


def _parse_csv(source: Any, sep: str, compression: str | None, decimal: str = ".",
               encoding: str = "utf-8") -> pd.DataFrame:
    """pandas' C parser, as a bare ``pandas.read_csv`` uses it (pyarrow's CSV reader measured
    slower here once its table is converted to pandas). Columns whose chunks disagree on a
    type come back as object columns, which the profile reads value by value."""
    if isinstance(source, io.BytesIO):
        source.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        warnings.simplefilter("ignore", pd.errors.DtypeWarning)
        return pd.read_csv(source, sep=r"\s+" if sep == " " else sep, engine="c",
                           index_col=False, compression=compression, decimal=decimal,
                           encoding=encoding)


def _sniff_decimal(head: bytes, sep: str, encoding: str = "utf-8") -> str:
    """``","`` when the first 64 KiB of a file not separated by commas write numbers with a
    decimal comma and never with a decimal point, else ``"."``."""
    lines = _complete_lines(head, encoding)[1:]  # the data lines
    rows = (line.split() for line in lines) if sep == " " else csv.reader(lines, delimiter=sep)
    comma = False
    for row in rows:
        for field in row:
            text = field.strip()
            if _DECIMAL_POINT.fullmatch(text):
                return "."
            comma = comma or bool(_DECIMAL_COMMA.fullmatch(text))
    return "," if comma else "."


def _complete_lines(head: bytes, encoding: str = "utf-8") -> list[str]:
    """The lines of a file's first bytes, without a BOM and without a partial last line."""
    lines = head.decode(encoding, errors="ignore").lstrip("\ufeff").splitlines()
    if len(lines) > 1 and not head.endswith(b"\n"):
        lines = lines[:-1]
    return lines


def _sniff_delimiter(head: bytes, encoding: str = "utf-8") -> str | None:
    """The delimiter csv.Sniffer finds in the first 64 KiB, or None."""
    text = "\n".join(_complete_lines(head, encoding))
    try:
        return csv.Sniffer().sniff(text, delimiters=SNIFF_DELIMITERS).delimiter
    except csv.Error:
        pass
    widths = {len(line.split()) for line in text.splitlines() if line.strip()}
    return " " if len(widths) == 1 and widths.pop() > 1 else None  # aligned by runs of spaces


def _finish_file_table(table: pd.DataFrame, name: str) -> pd.DataFrame:
    if table.shape[1] == 0:
        raise DataLoadError(f"{name} holds no columns", hint="give a CSV with a header row and data rows")
    if len(table) == 0:
        raise DataLoadError(f"{name} has a header but no data rows",
                            hint="give a file with at least 10 data rows")
    stripped = [str(column).strip() for column in table.columns]
    if len(set(stripped)) == len(stripped):
        table.columns = stripped
    return table


def _clean_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A shallow copy with string column names and a RangeIndex (the user's frame is untouched)."""
    table = frame.reset_index(drop=True)
    table.columns = [str(column) for column in frame.columns]
    return table


def _from_arrays(features: Any, y: Any) -> tuple[pd.DataFrame, list[str], Provenance]:
    """X (array or DataFrame) and y (one or several arrays) -> one table."""
    if isinstance(features, pd.DataFrame):
        x_frame = _clean_frame(features)
    else:
        try:
            matrix = np.asarray(features)
        except (TypeError, ValueError) as error:
            raise DataLoadError(f"cannot read X as an array: {_first_line(error)}",
                                hint="give X as a 2-D array or a DataFrame") from None
        if matrix.ndim == 1:
            matrix = matrix.reshape(-1, 1)
        if matrix.ndim != 2:
            raise DataShapeError(f"X must be 2-D (rows x features); got {matrix.ndim} dimensions",
                                 hint="reshape it to (n_rows, n_features)")
        x_frame = pd.DataFrame(matrix, columns=[f"x{i}" for i in range(matrix.shape[1])])
    y_frame = _target_frame(y)
    if x_frame.shape[1] == 0:
        raise DataShapeError("no feature columns: X has no columns", hint="give X with at least one feature")
    if len(y_frame) != len(x_frame):
        raise DataShapeError(f"X has {len(x_frame)} rows but y has {len(y_frame)}",
                             hint="give one target value per row of X")
    if len(x_frame) == 0:
        raise DataShapeError("X has no rows", hint="give at least 10 rows")
    clashes = set(x_frame.columns) & set(y_frame.columns)
    if clashes:
        raise TargetError(f"target name {sorted(clashes)[0]!r} is also a feature column",
                          hint="rename the target series or the feature column")
    sha256 = _frame_sha256([x_frame, y_frame])
    table = pd.concat([x_frame, y_frame], axis=1)
    return table, list(y_frame.columns), Provenance(
        "<arrays>", "arrays", None, sha256, len(table), table.shape[1])


def _target_frame(y: Any) -> pd.DataFrame:
    if isinstance(y, pd.DataFrame):
        return _clean_frame(y)
    if isinstance(y, pd.Series):
        return pd.DataFrame({str(y.name) if y.name is not None else "y": y.reset_index(drop=True)})
    if isinstance(y, (list, tuple)) and y and all(isinstance(part, (np.ndarray, pd.Series)) for part in y):
        parts = [np.asarray(part) for part in y]
        if any(part.ndim != 1 for part in parts) or len({len(part) for part in parts}) != 1:
            raise DataShapeError("y must be arrays of equal length, one per target",
                                 hint="give a list of 1-D arrays or one 2-D array")
        return pd.DataFrame({f"y{i}": part for i, part in enumerate(parts)})
    try:
        values = np.asarray(y)
    except (TypeError, ValueError) as error:
        raise DataLoadError(f"cannot read y as an array: {_first_line(error)}",
                            hint="give y as a 1-D array, a Series or a DataFrame") from None
    if values.ndim == 0 or values.ndim > 2:
        raise DataShapeError(f"y must be 1-D or 2-D; got {values.ndim} dimensions",
                             hint="give one value per row, or one column per target")
    if values.ndim == 1 or values.shape[1] == 1:
        return pd.DataFrame({"y": values.reshape(-1)})
    return pd.DataFrame(values, columns=[f"y{i}" for i in range(values.shape[1])])


def _frame_sha256(frames: Sequence[pd.DataFrame]) -> str:
    """A stable digest of in-memory data: column names, dtypes and pandas' row hashes."""
    digest = hashlib.sha256()
    for frame in frames:
        header = [[str(column), str(dtype)] for column, dtype in zip(frame.columns, frame.dtypes)]
        digest.update(json.dumps(header).encode("utf-8"))
        try:
            row_hashes = pd.util.hash_pandas_object(frame, index=True).to_numpy()
            digest.update(row_hashes.tobytes())
        except TypeError:  # unhashable cells (lists, dicts): fall back to their text
            digest.update(frame.to_csv().encode("utf-8", errors="surrogatepass"))
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# choosing and splitting the target


def _choose_target(table: pd.DataFrame, target: str | Sequence[str] | None) -> tuple[list[str], str]:
    """Target column names and the sentence saying why they were chosen."""
    columns = [str(column) for column in table.columns]
    names, reason = _target_names(columns, target)
    repeated = sorted({name for name in names if names.count(name) > 1 or columns.count(name) > 1})
    if repeated:
        raise TargetError(f"duplicate column names among targets: {', '.join(map(repr, repeated))}",
                          hint="give each target column once, with a unique name")
    return names, reason


def _target_names(columns: list[str], target: str | Sequence[str] | None) -> tuple[list[str], str]:
    if target is None:
        lowered = [column.lower() for column in columns]
        for wanted in TARGET_NAMES:
            if wanted in lowered:
                name = columns[lowered.index(wanted)]
                return [name], f"column {name!r} is named like a target"
        name = columns[-1]
        return [name], f"no column named {'/'.join(TARGET_NAMES)}: took the last column {name!r}"
    if isinstance(target, str) or not isinstance(target, (list, tuple, pd.Index, np.ndarray)):
        names = [str(target)]
    else:
        names = [str(name) for name in target]
    if not names:
        raise TargetError("no target column given", hint="name at least one column with --target")
    for name in names:
        if name not in columns:
            raise TargetError(f"unknown target column {name!r}", hint=_did_you_mean(name, columns))
    if len(names) == 1:
        return names, f"column {names[0]!r} given with --target"
    return names, f"columns {', '.join(map(repr, names))} given with --target"


def _did_you_mean(name: str, columns: list[str]) -> str:
    by_lower = {column.lower(): column for column in columns}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    shown = ", ".join(map(repr, columns[:20])) + (f" and {len(columns) - 20} more" if len(columns) > 20 else "")
    suggestion = f"did you mean {by_lower[close[0]]!r}? " if close else ""
    return f"{suggestion}available columns: {shown}"


def _split(table: pd.DataFrame, target_names: list[str], reason: str, label_sep: str | None,
           provenance: Provenance) -> LoadedData:
    features = table.drop(columns=target_names)
    if features.shape[1] == 0:
        raise DataShapeError(f"no feature columns: the table has only the target {', '.join(map(repr, target_names))}",
                             hint="add the columns the model should learn from")
    target = table[target_names]
    if label_sep is not None:
        if len(target_names) != 1:
            raise TargetError("--label-sep splits one delimited label column; got several targets",
                              hint="give one target column with --label-sep, or 0/1 label columns without it")
        target, labels = _expand_labels(target.iloc[:, 0], label_sep)
        reason += f"; split on {label_sep!r} into {len(labels)} labels: {', '.join(labels[:10])}"
        reason += f" and {len(labels) - 10} more" if len(labels) > 10 else ""
    elif len(target_names) == 1:
        reason += _label_sep_hint(target.iloc[:, 0])
    return LoadedData(features=features, target=target, target_columns=tuple(target_names),
                      target_reason=reason, label_sep=label_sep, provenance=provenance)


def _with_sensitive(loaded: LoadedData, table: pd.DataFrame, target_names: list[str],
                    sensitive: str, as_feature: bool) -> LoadedData:
    """Set the sensitive column apart: a column of the table, not the target, and no feature
    unless ``as_feature`` (then it stays among the features too)."""
    if sensitive in target_names:
        raise SensitiveError(f"the sensitive column {sensitive!r} is the target",
                             hint="name a column that holds the groups, not the labels")
    if sensitive not in table.columns:
        raise SensitiveError(f"no column named {sensitive!r} for --sensitive",
                             hint=_did_you_mean(sensitive, list(table.columns)))
    features = loaded.features if as_feature else loaded.features.drop(columns=[sensitive])
    if features.shape[1] == 0:
        raise DataShapeError("no feature columns besides the sensitive one",
                             hint="add the columns the model should learn from, or pass "
                                  "--sensitive-feature to use the groups as a feature")
    return dataclasses.replace(loaded, features=features, sensitive=table[sensitive].copy(),
                               sensitive_as_feature=as_feature)


def _expand_labels(column: pd.Series, sep: str) -> tuple[pd.DataFrame, list[str]]:
    """A delimited label column -> one 0/1 column per distinct label (sorted).

    An empty cell means "no labels" (a CSV reader turns an empty field into NaN, so NaN
    means the same); whitespace around labels is ignored.
    """
    text = column.astype("str").where(column.notna(), "")
    codes, uniques = pd.factorize(text, sort=True)
    label_sets = [frozenset(part.strip() for part in str(value).split(sep)) - {""} for value in uniques]
    labels = sorted(set().union(*label_sets)) if label_sets else []
    if not labels:
        raise TargetError(f"no labels found in column {column.name!r} when split on {sep!r}",
                          hint="check --label-sep, or drop it for a single-label target")
    index = {label: position for position, label in enumerate(labels)}
    per_unique = np.zeros((len(uniques), len(labels)), dtype=np.int8)
    for row, label_set in enumerate(label_sets):
        per_unique[row, [index[label] for label in label_set]] = 1
    matrix = per_unique[codes]
    return pd.DataFrame(matrix, columns=labels), labels


def _label_sep_hint(column: pd.Series) -> str:
    """Suggest --label-sep when a text target looks like delimited label sets."""
    if column.dtype.kind in "biufcM" or isinstance(column.dtype, pd.CategoricalDtype):
        return ""
    present = column.dropna()
    if present.empty or not all(isinstance(value, str) for value in present.head(100)):
        return ""
    piped = present.astype("str").str.contains("|", regex=False)
    if piped.mean() < LABEL_SEP_HINT_SHARE:
        return ""
    example = present[piped].iloc[0]
    return (f"; values such as {example!r} look like several labels per row: "
            f"pass --label-sep '|' for a multi-label target")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    return line if len(line) <= 200 else line[:197] + "..."


__all__ = ["LoadedData", "Provenance", "load_data", "TARGET_NAMES"]
