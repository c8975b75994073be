"""The data checks and their messages, as functions of column summaries.

Every engine reads a table its own way (pandas in memory, SQL where the data lives) and
summarises it: column names and types, null counts, score problems, distinct values.
The checks below turn those summaries into the same ``Check`` rows and the same
``DataError`` messages whichever engine ran them; the messages are module constants
that tests import and compare exactly.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.errors import DataError
from fairaudit.spec import AuditSpec

__all__ = [
    "COLUMNS_SHOWN",
    "MISSING_GROUP",
    "MSG_ALL_DROPPED",
    "MSG_BAD_SCORES",
    "MSG_BINNED",
    "MSG_BINS_NOT_NUMERIC",
    "MSG_COLUMN_NOT_FOUND",
    "MSG_DID_YOU_MEAN",
    "MSG_INFINITE_SCORES",
    "MSG_LABEL_CLASSES",
    "MSG_MISSING_GROUPED",
    "MSG_MISSING_REQUIRED",
    "MSG_MISSING_SENSITIVE",
    "MSG_NESTED_COLUMN",
    "MSG_NO_MISSING",
    "MSG_NO_ROWS",
    "MSG_POSITIVE_LABEL_ABSENT",
    "MSG_ROWS_DROPPED",
    "MSG_ROWS_READ",
    "MSG_UNKNOWN_PREDICTION",
    "Check",
    "TableSummary",
    "binned_checks",
    "check_prediction_values",
    "check_roles",
    "closest_first",
    "column_roles",
    "label_check",
    "shorten",
    "table_checks",
    "value_text",
]

#: Group name for rows whose sensitive value is missing, with ``missing_sensitive=group``.
MISSING_GROUP = "(missing)"

MSG_NO_ROWS = "data file '{path}' has no rows"
MSG_COLUMN_NOT_FOUND = (
    "column {column!r} ({flag}) not found in '{path}'; {suggestion}its columns are: {columns}"
)
#: The ``suggestion`` of MSG_COLUMN_NOT_FOUND when some column names are close to the one given.
MSG_DID_YOU_MEAN = "did you mean {names}? "
#: How many columns a missing-column message lists, the closest first.
COLUMNS_SHOWN = 12
#: A Parquet list, struct or map column in a role that needs one value per row.
MSG_NESTED_COLUMN = (
    "column {column!r} ({flag}) holds {kind}, not one value per row; "
    "give {flag} a column of single values (flatten or pick a field first)"
)
MSG_ROWS_READ = "{rows} rows and {columns} columns read"
MSG_MISSING_REQUIRED = (
    "{role} column {column!r} has {n} missing values in '{path}'; fill or remove those rows"
)
MSG_NO_MISSING = "no missing values in {role} column {column!r}"
MSG_BAD_SCORES = (
    "score column {column!r} has {n} missing or non-numeric values in '{path}'; "
    "scores must be numbers"
)
MSG_INFINITE_SCORES = "score column {column!r} has infinite values; scores must be finite"
MSG_MISSING_SENSITIVE = (
    "sensitive column {column!r} has {n} missing values in '{path}'; "
    "pass --missing-sensitive group (a '(missing)' group) or "
    "--missing-sensitive drop (drop those rows)"
)
MSG_MISSING_GROUPED = (
    "sensitive column {column!r} has {n} missing values, audited as the group '{group}'"
)
MSG_ROWS_DROPPED = (
    "{dropped} rows dropped because a sensitive value is missing; {rows} rows audited"
)
MSG_ALL_DROPPED = (
    "every row has a missing sensitive value, so none is left to audit; "
    "use --missing-sensitive group instead"
)
MSG_POSITIVE_LABEL_ABSENT = (
    "positive label {label!r} does not occur in label column {column!r} "
    "(its values: {values}); check --positive-label"
)
MSG_LABEL_CLASSES = "label column {column!r}: {positive} positive, {negative} negative"
MSG_BINNED = "sensitive column {column!r} binned into {levels}"
MSG_BINS_NOT_NUMERIC = (
    "bins are given for sensitive column {column!r}, but its values are not numbers; "
    "remove its bins or fix the column"
)
MSG_UNKNOWN_PREDICTION = (
    "{source} include {values}, not among the label values ({labels}); "
    "predictions and labels must use the same classes"
)


@dataclass(frozen=True)
class Check:
    """One data check as shown in the report: ``status`` is ok, info, warning or error."""

    id: str
    status: str
    message: str


@dataclass(frozen=True)
class TableSummary:
    """What the whole-table checks need to know of a table, from one pass over it.

    ``missing`` counts the null values of the label, prediction and sensitive columns;
    ``rows_dropped`` the rows with a null in any sensitive column; ``bad_scores`` the
    missing or non-numeric scores and ``infinite_scores`` the infinite ones.
    """

    path: str
    n_columns: int
    rows_read: int
    missing: Mapping[str, int]
    rows_dropped: int = 0
    bad_scores: int = 0
    infinite_scores: int = 0


def shorten(values: Sequence[Any], limit: int = 8) -> str:
    """Return up to ``limit`` values quoted and joined, with the total when cut short."""
    shown = ", ".join(repr(str(v)) for v in list(values)[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def value_text(value: Any) -> str:
    """Return a value as the user would write it: 1.0 -> '1', True -> 'True'."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def closest_first(name: str, columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """Return (the columns close to ``name``, every column with those first).

    Close: the same name but for case, then ``difflib.get_close_matches`` (similarity at
    least 0.6, by case-folded name), best first; the rest keep their order in the table.
    """
    folded = name.casefold()
    same_case = [c for c in columns if c.casefold() == folded]
    lowered = [c.casefold() for c in columns]
    similar = difflib.get_close_matches(folded, lowered, n=len(columns), cutoff=0.6)
    close = list(same_case)
    for match in similar:
        close += [c for c, low in zip(columns, lowered) if low == match and c not in close]
    return close, close + [c for c in columns if c not in close]


def _missing_column_message(column: str, flag: str, path: str, columns: Sequence[str]) -> str:
    """Return MSG_COLUMN_NOT_FOUND for ``column``: the closest names first, at most 12."""
    close, ordered = closest_first(column, columns)
    suggestion = MSG_DID_YOU_MEAN.format(names=" or ".join(repr(c) for c in close[:3]))
    return MSG_COLUMN_NOT_FOUND.format(
        column=column,
        flag=flag,
        path=path,
        suggestion=suggestion if close else "",
        columns=shorten(ordered, COLUMNS_SHOWN),
    )


def column_roles(spec: AuditSpec) -> dict[str, str]:
    """Return {column: the option that names it} for every column the audit reads."""
    roles = {spec.target: "--target"}
    for column in spec.sensitive:
        roles[column] = "--sensitive"
    if spec.prediction_col:
        roles[spec.prediction_col] = "--prediction-col"
    if spec.score_col:
        roles[spec.score_col] = "--score-col"
    for _, column in spec.class_scores:  # a multiclass audit's class scores
        roles[column] = "--score-col"
    for column in spec.id_cols:
        roles[column] = "id_cols"
    return roles


def check_roles(
    spec: AuditSpec,
    columns: Sequence[str],
    path: str,
    nested_kind: Callable[[str], str | None],
) -> None:
    """Raise DataError if a column the audit reads is absent or holds lists or structs.

    ``nested_kind(column)`` says what a column holds per row when not one value.
    """
    for column, flag in column_roles(spec).items():
        if column not in columns:
            raise DataError(_missing_column_message(column, flag, path, list(columns)))
        kind = None if flag == "id_cols" else nested_kind(column)
        if kind is not None:
            raise DataError(MSG_NESTED_COLUMN.format(column=column, flag=flag, kind=kind))


def table_checks(spec: AuditSpec, table: TableSummary) -> tuple[list[Check], int]:
    """Return the whole-table checks and the number of rows audited; raise on a refusal.

    In order: rows read, missing labels and predictions, scores, missing sensitive
    values (an error, a group or dropped rows, by ``spec.missing_sensitive``).
    """
    if table.rows_read == 0:
        raise DataError(MSG_NO_ROWS.format(path=table.path))
    checks = [
        Check("rows", "info", MSG_ROWS_READ.format(rows=table.rows_read, columns=table.n_columns))
    ]
    for column, role in ((spec.target, "target"), (spec.prediction_col, "prediction")):
        if column is None:
            continue
        n = table.missing[column]
        if n:
            raise DataError(
                MSG_MISSING_REQUIRED.format(role=role, column=column, n=n, path=table.path)
            )
        checks.append(
            Check(f"missing_{role}", "ok", MSG_NO_MISSING.format(role=role, column=column))
        )
    if spec.score_col is not None and table.bad_scores:
        raise DataError(
            MSG_BAD_SCORES.format(column=spec.score_col, n=table.bad_scores, path=table.path)
        )
    if spec.score_col is not None and table.infinite_scores:
        raise DataError(MSG_INFINITE_SCORES.format(column=spec.score_col))
    for column in spec.sensitive:
        n = table.missing[column]
        if not n:
            checks.append(
                Check(
                    "missing_sensitive",
                    "ok",
                    MSG_NO_MISSING.format(role="sensitive", column=column),
                )
            )
        elif spec.missing_sensitive == "error":
            raise DataError(MSG_MISSING_SENSITIVE.format(column=column, n=n, path=table.path))
        elif spec.missing_sensitive == "group":
            message = MSG_MISSING_GROUPED.format(column=column, n=n, group=MISSING_GROUP)
            checks.append(Check("missing_sensitive", "warning", message))
    rows = table.rows_read
    if spec.missing_sensitive == "drop" and table.rows_dropped:
        rows -= table.rows_dropped
        message = MSG_ROWS_DROPPED.format(dropped=table.rows_dropped, rows=rows)
        checks.append(Check("rows_dropped", "warning", message))
        if rows == 0:
            raise DataError(MSG_ALL_DROPPED)
    return checks, rows


def label_check(
    spec: AuditSpec, n_positive: int, n_negative: int, label_values: Sequence[str]
) -> Check:
    """Return the label-classes check; raise if the positive label never occurs."""
    if spec.positive_label is not None and not n_positive:
        raise DataError(
            MSG_POSITIVE_LABEL_ABSENT.format(
                label=spec.positive_label, column=spec.target, values=shorten(label_values)
            )
        )
    classes = int(n_positive > 0) + int(n_negative > 0)
    return Check(
        "label_classes",
        "ok" if classes == 2 else "warning",
        MSG_LABEL_CLASSES.format(column=spec.target, positive=n_positive, negative=n_negative),
    )


def binned_checks(
    spec: AuditSpec, features: Sequence[str], levels: Sequence[Sequence[str]]
) -> list[Check]:
    """Return one info check per binned sensitive column, naming its bins."""
    return [
        Check("binned", "info", MSG_BINNED.format(column=column, levels=", ".join(names)))
        for column, names in zip(features, levels)
        if column in spec.bins
    ]


def check_prediction_values(
    predictions: pd.Series, label_values: Sequence[str], positive_label: str | None, source: str
) -> None:
    """Raise DataError if predictions use a class the labels do not (with a positive label)."""
    if positive_label is None or len(label_values) != 2:
        return
    unknown = sorted({value_text(v) for v in pd.unique(predictions)} - set(label_values))
    if unknown:
        raise DataError(
            MSG_UNKNOWN_PREDICTION.format(
                source=source, values=shorten(unknown), labels=shorten(label_values)
            )
        )
