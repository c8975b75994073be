"""Reading the evaluation file: path and header checks shared by every engine, the
pandas reader, a DataFrame passed in memory, and the lineage digests."""

from __future__ import annotations

import csv
import hashlib
import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.data._checks import MSG_NO_ROWS, Check
from fairaudit.errors import DataError
from fairaudit.paths import refuse_special_file

__all__ = [
    "MSG_CANNOT_READ",
    "MSG_DUPLICATE_COLUMN",
    "MSG_EMPTY_COLUMN_NAME",
    "MSG_FILE_NOT_FOUND",
    "MSG_IS_DIRECTORY",
    "MSG_MORE_FIELDS",
    "MSG_NOT_PARQUET",
    "MSG_NOT_UTF8",
    "MSG_NO_HEADER",
    "MSG_UNSUPPORTED_FORMAT",
    "check_data_path",
    "csv_header",
    "error_first_line",
    "file_sha256",
    "frame_sha256",
    "header_checks",
    "read_frame",
    "read_table",
]

MSG_FILE_NOT_FOUND = "data file '{path}' not found"
MSG_IS_DIRECTORY = "data path '{path}' is a directory; pass a CSV or Parquet file"
MSG_UNSUPPORTED_FORMAT = (
    "data file '{path}' has an unsupported format '{suffix}'; use .csv or .parquet"
)
MSG_NOT_UTF8 = "data file '{path}' is not UTF-8 text; save it as UTF-8 CSV"
MSG_MORE_FIELDS = (
    "data file '{path}' has rows with more fields than its header; check for "
    "trailing commas or unquoted commas in values"
)
MSG_NO_HEADER = "data file '{path}' is empty: it has no header row"
MSG_NOT_PARQUET = "data file '{path}' is not a valid Parquet file: {reason}"
MSG_CANNOT_READ = "cannot read data file '{path}': {reason}"
MSG_EMPTY_COLUMN_NAME = "column {position} has an empty name; it is ignored"
MSG_DUPLICATE_COLUMN = "data file '{path}' has two columns named {name!r}; rename one of them"

_CSV_SUFFIXES = (".csv", ".txt")
_PARQUET_SUFFIXES = (".parquet", ".pq")
# Exact decimal-to-float parsing: pandas 2's default parser may be off in the last bit;
# pandas 3 parses exactly by default and deprecates the option. Same scores either way.
_EXACT_FLOATS: dict[str, Any] = (
    {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
)


def file_sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def error_first_line(exc: BaseException) -> str:
    """Return the first line of an exception's message (its type's name if it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def csv_header(path: Path) -> list[str]:
    """Return the column names in the first row of a CSV file (none if it is empty)."""
    # utf-8-sig: spreadsheet programs often save "CSV UTF-8" with a byte-order mark.
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return next(csv.reader(fh), [])


def check_data_path(path: Path) -> str:
    """Return the format of a data file (csv or parquet); raise DataError if unreadable."""
    suffix = path.suffix.lower()
    if not path.exists():
        raise DataError(MSG_FILE_NOT_FOUND.format(path=path))
    if path.is_dir():
        raise DataError(MSG_IS_DIRECTORY.format(path=path))
    refuse_special_file(path, "data file", error=DataError)
    if suffix in _PARQUET_SUFFIXES:
        return "parquet"
    if suffix in _CSV_SUFFIXES:
        return "csv"
    raise DataError(MSG_UNSUPPORTED_FORMAT.format(path=path, suffix=suffix or "(none)"))


def header_checks(names: Sequence[str], path: str | Path) -> tuple[list[str], list[Check]]:
    """Return the usable column names and a warning per empty name; raise on a duplicate."""
    if not names:
        raise DataError(MSG_NO_HEADER.format(path=path))
    checks = []
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name.strip():
            message = MSG_EMPTY_COLUMN_NAME.format(position=position)
            checks.append(Check("empty_column_name", "warning", message))
        elif name in seen:
            raise DataError(MSG_DUPLICATE_COLUMN.format(path=path, name=name))
        seen.add(name)
    return [n for n in names if n.strip()], checks


def _read_csv(path: Path, columns: Sequence[str] | None) -> tuple[pd.DataFrame, list[str]]:
    names = csv_header(path)
    if not names:
        raise DataError(MSG_NO_HEADER.format(path=path))
    keep = None if columns is None else set(columns)
    wanted = None if keep is None else [j for j, n in enumerate(names) if n in keep]
    # Only an empty field is missing: text such as "NA" (Namibia) or "None" is a
    # value. index_col=False stops pandas from silently turning the first column
    # into an index when rows are wider than the header; the ParserWarning it
    # gives then becomes an error.
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        frame = pd.read_csv(
            path,
            encoding="utf-8-sig",
            keep_default_na=False,
            na_values=[""],
            index_col=False,
            low_memory=False,
            usecols=wanted,
            **_EXACT_FLOATS,
        )
    return frame, names if wanted is None else [names[j] for j in wanted]


def read_table(
    path: Path, columns: Sequence[str] | None = None
) -> tuple[pd.DataFrame, str, list[Check]]:
    """Return the table in ``path`` (CSV or Parquet), its format and column-name checks.

    ``columns``: read only these (in the file's order; names it lacks are skipped), each
    typed as in the whole table.
    """
    path = Path(path)
    fmt = check_data_path(path)
    try:
        if fmt == "parquet":
            kept = None if columns is None else _parquet_columns(path, columns)
            frame = pd.read_parquet(path, columns=kept)
            names = [str(c) for c in frame.columns]
        else:
            frame, names = _read_csv(path, columns)
    except DataError:
        raise
    except UnicodeDecodeError:
        raise DataError(MSG_NOT_UTF8.format(path=path)) from None
    except pd.errors.ParserWarning:
        raise DataError(MSG_MORE_FIELDS.format(path=path)) from None
    except pd.errors.EmptyDataError:
        raise DataError(MSG_NO_HEADER.format(path=path)) from None
    except Exception as exc:  # pandas/pyarrow raise many types for a malformed file
        reason = error_first_line(exc)
        if fmt == "parquet":
            raise DataError(MSG_NOT_PARQUET.format(path=path, reason=reason)) from None
        raise DataError(MSG_CANNOT_READ.format(path=path, reason=reason)) from None
    _, checks = header_checks(names, path)
    if len(names) == len(frame.columns):
        frame.columns = names
    empty = [c for c in frame.columns if not str(c).strip()]
    if empty:
        frame = frame.drop(columns=empty)
    if len(frame) == 0:
        raise DataError(MSG_NO_ROWS.format(path=path))
    return frame, fmt, checks


def _parquet_columns(path: Path, columns: Sequence[str]) -> list[str]:
    import pyarrow.parquet as pq

    keep = set(columns)
    return [n for n in pq.read_schema(path).names if n in keep]


def read_frame(frame: pd.DataFrame, label: str) -> tuple[pd.DataFrame, list[Check]]:
    """Return a DataFrame passed in memory as ``read_table`` returns a file's table.

    The caller's frame is never changed: the result is a shallow copy with string column
    names and a fresh 0..n-1 index, checked as a file's header and rows are.
    """
    names = [str(c) for c in frame.columns]
    _, checks = header_checks(names, label)
    copy = frame.copy(deep=False)
    copy.columns = names
    copy = copy.drop(columns=[c for c in names if not c.strip()]).reset_index(drop=True)
    if len(copy) == 0:
        raise DataError(MSG_NO_ROWS.format(path=label))
    return copy, checks


_MISSING_CELL = b"\xff" * 8  # not a length any value can have


def _cell_bytes(value: Any) -> bytes:
    """Return one cell of a non-numeric column as length-prefixed UTF-8 (missing: a marker)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return _MISSING_CELL
    if isinstance(value, float) and value != value:
        return _MISSING_CELL
    text = str(value).encode("utf-8", "surrogatepass")
    return len(text).to_bytes(8, "little") + text


def frame_sha256(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """Return the SHA-256 of a canonical serialization of ``columns`` of ``frame``.

    Per column, in the order given: a JSON line ``{"column": name, "dtype": dtype,
    "rows": n}``, then its values — for a numeric, boolean or datetime numpy column the
    little-endian bytes of its array; for any other column each value as UTF-8 text of
    ``str(value)`` preceded by its length (8 bytes, little-endian), a missing value as
    eight 0xff bytes. The same table gives the same digest on every platform.
    """
    digest = hashlib.sha256()
    for column in columns:
        series = frame[column]
        header = {"column": str(column), "dtype": str(series.dtype), "rows": len(series)}
        digest.update(json.dumps(header, sort_keys=True).encode("utf-8") + b"\n")
        dtype = series.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "biufcmM":
            values = np.ascontiguousarray(series.to_numpy(), dtype=dtype.newbyteorder("<"))
            digest.update(values.tobytes())
        else:
            for value in series.to_numpy(dtype=object):
                digest.update(_cell_bytes(value))
    return digest.hexdigest()
