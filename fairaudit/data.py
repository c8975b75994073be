"""Reading the evaluation set, column roles, data checks and lineage digests.

Everything here treats the file as untrusted: every problem becomes a DataError whose
one-line message names the file, column or value and says what to do.
"""

from __future__ import annotations

import csv
import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.errors import DataError
from fairaudit.paths import refuse_special_file
from fairaudit.spec import AuditSpec

__all__ = [
    "MAX_NUMERIC_LEVELS",
    "MISSING_GROUP",
    "Check",
    "EvaluationData",
    "SensitiveFeature",
    "binarize",
    "encode_sensitive",
    "file_sha256",
    "load_evaluation_data",
    "read_table",
]

#: A numeric sensitive column with more distinct values than this must be binned.
MAX_NUMERIC_LEVELS = 10
#: Group name for rows whose sensitive value is missing, with ``missing_sensitive=group``.
MISSING_GROUP = "(missing)"

_CSV_SUFFIXES = (".csv", ".txt")
# Exact decimal-to-float parsing: pandas 2's default parser may be off in the last bit;
# pandas 3 parses exactly by default and deprecates the option. Same scores either way.
_EXACT_FLOATS: dict[str, Any] = (
    {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
)
_PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class Check:
    """One data check as shown in the report: ``status`` is ok, info, warning or error."""

    id: str
    status: str
    message: str


@dataclass(frozen=True)
class SensitiveFeature:
    """A sensitive feature encoded as integer codes into ``levels`` (group names)."""

    name: str
    codes: np.ndarray
    levels: tuple[str, ...]
    binned: bool


@dataclass
class EvaluationData:
    """The evaluation table after checks: rows kept, roles resolved."""

    path: Path
    frame: pd.DataFrame
    sha256: str
    format: str
    rows_read: int
    y_true: np.ndarray
    sensitive: list[SensitiveFeature]
    checks: list[Check] = field(default_factory=list)
    label_values: tuple[str, ...] = ()


def file_sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _shorten(values: Sequence[Any], limit: int = 8) -> str:
    shown = ", ".join(repr(str(v)) for v in list(values)[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def _csv_header(path: Path) -> list[str]:
    # utf-8-sig: spreadsheet programs often save "CSV UTF-8" with a byte-order mark.
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return next(csv.reader(fh), [])


def read_table(path: Path) -> tuple[pd.DataFrame, str, list[Check]]:
    """Return the table in ``path`` (CSV or Parquet), its format and column-name checks."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.exists():
        raise DataError(f"data file '{path}' not found")
    if path.is_dir():
        raise DataError(f"data path '{path}' is a directory; pass a CSV or Parquet file")
    refuse_special_file(path, "data file", error=DataError)
    checks: list[Check] = []
    try:
        if suffix in _PARQUET_SUFFIXES:
            fmt = "parquet"
            frame = pd.read_parquet(path)
            names = [str(c) for c in frame.columns]
        elif suffix in _CSV_SUFFIXES:
            fmt = "csv"
            names = _csv_header(path)
            if not names:
                raise DataError(f"data file '{path}' is empty: it has no header row")
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
                    **_EXACT_FLOATS,
                )
        else:
            raise DataError(
                f"data file '{path}' has an unsupported format '{suffix or '(none)'}'; "
                "use .csv or .parquet"
            )
    except DataError:
        raise
    except UnicodeDecodeError:
        raise DataError(f"data file '{path}' is not UTF-8 text; save it as UTF-8 CSV") from None
    except pd.errors.ParserWarning:
        raise DataError(
            f"data file '{path}' has rows with more fields than its header; check for "
            "trailing commas or unquoted commas in values"
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"data file '{path}' is empty: it has no header row") from None
    except Exception as exc:  # pandas/pyarrow raise many types for a malformed file
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if suffix in _PARQUET_SUFFIXES:
            raise DataError(
                f"data file '{path}' is not a valid Parquet file: {first_line}"
            ) from None
        raise DataError(f"cannot read data file '{path}': {first_line}") from None
    if not names:
        raise DataError(f"data file '{path}' is empty: it has no header row")
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name.strip():
            checks.append(
                Check(
                    "empty_column_name",
                    "warning",
                    f"column {position} has an empty name; it is ignored",
                )
            )
        elif name in seen:
            raise DataError(
                f"data file '{path}' has two columns named {name!r}; rename one of them"
            )
        seen.add(name)
    if len(names) == len(frame.columns):
        frame.columns = names
    empty = [c for c in frame.columns if not str(c).strip()]
    if empty:
        frame = frame.drop(columns=empty)
    if len(frame) == 0:
        raise DataError(f"data file '{path}' has no rows")
    return frame, fmt, checks


#: A Parquet list, struct or map column in a role that needs one value per row.
MSG_NESTED_COLUMN = (
    "column {column!r} ({flag}) holds {kind}, not one value per row; "
    "give {flag} a column of single values (flatten or pick a field first)"
)


def _nested_kind(value: Any) -> str | None:
    """Return what a non-scalar cell holds ('lists', 'structs'), or None for a scalar."""
    if isinstance(value, dict):
        return "structs"
    if isinstance(value, list | tuple | set | np.ndarray):
        return "lists"
    return None


def _require_columns(frame: pd.DataFrame, path: Path, roles: dict[str, str]) -> None:
    for column, flag in roles.items():
        if column not in frame.columns:
            raise DataError(
                f"column {column!r} ({flag}) not found in '{path}'; its columns are: "
                f"{_shorten(list(frame.columns), 12)}"
            )
        if flag != "id_cols" and frame[column].dtype == object:
            first = frame[column].first_valid_index()  # a Parquet column has one type
            kind = None if first is None else _nested_kind(frame[column].at[first])
            if kind is not None:
                raise DataError(MSG_NESTED_COLUMN.format(column=column, flag=flag, kind=kind))


def _value_text(value: Any) -> str:
    """Return a value as the user would write it: 1.0 -> '1', True -> 'True'."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def binarize(
    values: pd.Series,
    positive_label: str | None,
    *,
    column: str,
    role: str,
    source: str | None = None,
) -> np.ndarray:
    """Return a bool array: True where ``values`` equals the positive label.

    Without ``positive_label`` the values must be 0/1 or booleans.
    Raises DataError naming the column (or ``source``) and the offending values.
    """
    source = source or f"{role} column {column!r}"
    distinct = pd.unique(values)
    if len(distinct) > 2:
        raise DataError(
            f"{source} has {len(distinct)} distinct values "
            f"({_shorten([_value_text(v) for v in distinct])}); fairaudit audits binary "
            "classifiers: map them to two classes first"
        )
    if positive_label is None:
        if values.dtype == bool:
            return values.to_numpy(dtype=bool)
        if pd.api.types.is_numeric_dtype(values.dtype) and all(v in (0, 1) for v in distinct):
            return values.to_numpy() == 1
        raise DataError(
            f"{source} has values "
            f"{_shorten([_value_text(v) for v in distinct])}, not 0/1; pass "
            "--positive-label VALUE to say which value is the positive class"
        )
    # Compare as text, the way the user wrote the label; at most two distinct values, so
    # convert those and look rows up by their factorized code.
    raw, uniques = pd.factorize(values)
    wanted = positive_label.lower() if values.dtype == bool else positive_label
    if pd.api.types.is_numeric_dtype(values.dtype) and values.dtype != bool:
        # "1.0" names the value 1 of a numeric column, as "1" does.
        try:
            wanted = _value_text(float(positive_label))
        except ValueError:
            pass
    texts = [_value_text(v) for v in uniques]
    if values.dtype == bool:
        texts = [t.lower() for t in texts]
    is_positive = np.array([t == wanted for t in texts] + [False], dtype=bool)
    return is_positive[raw]


def _format_edge(edge: float) -> str:
    return str(int(edge)) if float(edge).is_integer() else repr(edge)


def _bin_labels(edges: Sequence[float]) -> list[str]:
    labels = [f"< {_format_edge(edges[0])}"]
    labels += [f"[{_format_edge(a)}, {_format_edge(b)})" for a, b in zip(edges, edges[1:])]
    labels.append(f">= {_format_edge(edges[-1])}")
    return labels


def encode_sensitive(
    values: pd.Series, *, column: str, edges: Sequence[float] | None
) -> SensitiveFeature:
    """Return integer group codes for one sensitive column (binned when ``edges`` given).

    Levels are ordered numerically for numbers and bins, else as text; the missing
    group, if any, comes last.
    """
    missing = values.isna().to_numpy()
    numeric = pd.api.types.is_numeric_dtype(values.dtype) and values.dtype != bool
    if edges is not None:
        if not numeric:
            raise DataError(
                f"bins are given for sensitive column {column!r}, but its values are not "
                "numbers; remove its bins or fix the column"
            )
        labels = _bin_labels(edges)
        boundaries = np.asarray(edges, dtype=np.float64)
        raw = values.to_numpy(dtype=np.float64, na_value=np.nan)
        codes = np.searchsorted(boundaries, raw, side="right").astype(np.int64)
        levels = labels
        binned = True
    else:
        present = values[~missing]
        distinct = pd.unique(present)
        if numeric and len(distinct) > MAX_NUMERIC_LEVELS:
            lo, hi = present.min(), present.max()
            raise DataError(
                f"sensitive column {column!r} is numeric with {len(distinct)} distinct values "
                f"(from {_value_text(lo)} to {_value_text(hi)}); bin it with --bins "
                f"{column}=25,40,60 or in the config ([bins] {column} = [25, 40, 60]) rather "
                f"than audit {len(distinct)} groups"
            )
        if numeric:
            ordered = sorted(distinct)
        else:
            ordered = sorted(distinct, key=lambda v: str(v))
        levels = [_value_text(v) for v in ordered]
        if len(set(levels)) != len(levels):
            # e.g. 1 and 1.0 in an object column: merge by text, the way users read them.
            levels = sorted(set(levels))
        # Text of each distinct value once, then every row by its factorized code
        # (missing values factorize to -1 and stay -1).
        raw, uniques = pd.factorize(values)
        lookup = pd.Index(levels).get_indexer([_value_text(v) for v in uniques])
        codes = np.append(lookup, -1).astype(np.int64)[raw]
        binned = False
    if missing.any():
        if MISSING_GROUP in levels:
            raise DataError(
                f"sensitive column {column!r} has both missing values and the value "
                f"{MISSING_GROUP!r}; rename that value, or use --missing-sensitive drop"
            )
        levels = list(levels) + [MISSING_GROUP]
        codes = np.where(missing, len(levels) - 1, codes)
    return SensitiveFeature(column, np.asarray(codes, dtype=np.int64), tuple(levels), binned)


def load_evaluation_data(spec: AuditSpec) -> EvaluationData:
    """Return the evaluation data with labels and sensitive groups encoded and checked."""
    path = Path(spec.data)
    frame, fmt, checks = read_table(path)
    rows_read = len(frame)
    roles = {spec.target: "--target"}
    for column in spec.sensitive:
        roles[column] = "--sensitive"
    if spec.prediction_col:
        roles[spec.prediction_col] = "--prediction-col"
    if spec.score_col:
        roles[spec.score_col] = "--score-col"
    for column in spec.id_cols:
        roles[column] = "id_cols"
    _require_columns(frame, path, roles)
    checks.append(Check("rows", "info", f"{rows_read} rows and {len(frame.columns)} columns read"))

    required: list[tuple[str | None, str]] = [
        (spec.target, "target"),
        (spec.prediction_col, "prediction"),
    ]
    for role_column, flag in required:
        if role_column is None:
            continue
        n_missing = int(frame[role_column].isna().sum())
        if n_missing:
            raise DataError(
                f"{flag} column {role_column!r} has {n_missing} missing values in '{path}'; "
                "fill or remove those rows"
            )
        checks.append(
            Check(f"missing_{flag}", "ok", f"no missing values in {flag} column {role_column!r}")
        )
    if spec.score_col is not None:
        score = pd.to_numeric(frame[spec.score_col], errors="coerce")
        bad = int(score.isna().sum())
        if bad:
            raise DataError(
                f"score column {spec.score_col!r} has {bad} missing or non-numeric values "
                f"in '{path}'; scores must be numbers"
            )
        if not np.isfinite(score.to_numpy(dtype=np.float64)).all():
            raise DataError(
                f"score column {spec.score_col!r} has infinite values; scores must be finite"
            )

    missing_rows = np.zeros(len(frame), dtype=bool)
    for column in spec.sensitive:
        col_missing = frame[column].isna().to_numpy()
        n_missing = int(col_missing.sum())
        if not n_missing:
            checks.append(
                Check(
                    "missing_sensitive", "ok", f"no missing values in sensitive column {column!r}"
                )
            )
            continue
        if spec.missing_sensitive == "error":
            raise DataError(
                f"sensitive column {column!r} has {n_missing} missing values in '{path}'; "
                "pass --missing-sensitive group (a '(missing)' group) or "
                "--missing-sensitive drop (drop those rows)"
            )
        if spec.missing_sensitive == "group":
            checks.append(
                Check(
                    "missing_sensitive",
                    "warning",
                    f"sensitive column {column!r} has {n_missing} missing values, "
                    f"audited as the group '{MISSING_GROUP}'",
                )
            )
        missing_rows |= col_missing
    if spec.missing_sensitive == "drop" and missing_rows.any():
        dropped = int(missing_rows.sum())
        frame = frame.loc[~missing_rows].reset_index(drop=True)
        checks.append(
            Check(
                "rows_dropped",
                "warning",
                f"{dropped} rows dropped because a sensitive value is missing; "
                f"{len(frame)} rows audited",
            )
        )
        if len(frame) == 0:
            raise DataError(
                "every row has a missing sensitive value, so none is left to audit; "
                "use --missing-sensitive group instead"
            )

    y_true = binarize(frame[spec.target], spec.positive_label, column=spec.target, role="label")
    label_values = tuple(_value_text(v) for v in pd.unique(frame[spec.target]))
    if spec.positive_label is not None and not y_true.any():
        raise DataError(
            f"positive label {spec.positive_label!r} does not occur in label column "
            f"{spec.target!r} (its values: {_shorten(label_values)}); check --positive-label"
        )
    classes = int(y_true.any()) + int((~y_true).any())
    checks.append(
        Check(
            "label_classes",
            "ok" if classes == 2 else "warning",
            f"label column {spec.target!r}: {int(y_true.sum())} positive, "
            f"{int((~y_true).sum())} negative",
        )
    )

    sensitive = [
        encode_sensitive(
            frame[column],
            column=column,
            edges=spec.bins.get(column),
        )
        for column in spec.sensitive
    ]
    for feature in sensitive:
        if feature.binned:
            checks.append(
                Check(
                    "binned",
                    "info",
                    f"sensitive column {feature.name!r} binned into {', '.join(feature.levels)}",
                )
            )
    return EvaluationData(
        path=path,
        frame=frame,
        sha256=file_sha256(path),
        format=fmt,
        rows_read=rows_read,
        y_true=y_true,
        sensitive=sensitive,
        checks=checks,
        label_values=label_values,
    )


def check_prediction_values(
    predictions: pd.Series, label_values: Sequence[str], positive_label: str | None, source: str
) -> None:
    """Raise DataError if predictions use a class the labels do not (with a positive label)."""
    if positive_label is None or len(label_values) != 2:
        return
    unknown = sorted({_value_text(v) for v in pd.unique(predictions)} - set(label_values))
    if unknown:
        raise DataError(
            f"{source} include {_shorten(unknown)}, not among the label values "
            f"({_shorten(label_values)}); predictions and labels must use the same classes"
        )
