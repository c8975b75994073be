"""The in-memory evaluation set: the file read by pandas (or the DataFrame passed in
memory), summarised, checked and encoded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.data._checks import (
    Check,
    TableSummary,
    binned_checks,
    check_roles,
    label_check,
    table_checks,
    value_text,
)
from fairaudit.data._encode import SensitiveFeature, binarize, encode_sensitive
from fairaudit.data._read import file_sha256, frame_sha256, read_frame, read_table
from fairaudit.spec import AuditSpec, in_memory

__all__ = ["EvaluationData", "load_evaluation_data"]


@dataclass
class EvaluationData:
    """The evaluation table after checks: rows kept, roles resolved.

    ``path`` is None for a DataFrame passed in memory (``format`` ``memory``); ``name`` is
    how messages and lineage name the table either way; ``hashed_columns`` are the columns
    ``sha256`` covers for a table in memory (a file's digest covers its bytes).
    """

    path: Path | None
    name: str
    frame: pd.DataFrame
    sha256: str
    format: str
    rows_read: int
    y_true: np.ndarray
    sensitive: list[SensitiveFeature]
    checks: list[Check] = field(default_factory=list)
    label_values: tuple[str, ...] = ()
    hashed_columns: tuple[str, ...] = ()

    def lineage(self) -> dict[str, Any]:
        """Return the result's ``lineage.data`` section: where the rows came from."""
        out: dict[str, Any] = {
            "path": self.path.as_posix() if self.path is not None else self.name,
            "file_name": self.path.name if self.path is not None else self.name,
            "sha256": self.sha256,
            "format": self.format,
            "rows": int(len(self.y_true)),
            "rows_read": self.rows_read,
            "columns": [str(c) for c in self.frame.columns],
        }
        if self.path is None:
            out["hashed_columns"] = list(self.hashed_columns)
        return out


def _nested_kind(value: Any) -> str | None:
    """Return what a non-scalar cell holds ('lists', 'structs'), or None for a scalar."""
    if isinstance(value, dict):
        return "structs"
    if isinstance(value, list | tuple | set | np.ndarray):
        return "lists"
    return None


def _column_kind(frame: pd.DataFrame, column: str) -> str | None:
    """Return what a column holds per row if not one value (a Parquet column has one type)."""
    if frame[column].dtype != object:
        return None
    first = frame[column].first_valid_index()
    return None if first is None else _nested_kind(frame[column].at[first])


def _summary(spec: AuditSpec, frame: pd.DataFrame, path: str) -> TableSummary:
    """Return the whole-table summary the checks need, counted on the frame."""
    columns = [c for c in (spec.target, spec.prediction_col, *spec.sensitive) if c is not None]
    missing = {c: int(frame[c].isna().sum()) for c in columns}
    dropped = frame[list(spec.sensitive)].isna().any(axis=1).to_numpy()
    bad = infinite = 0
    if spec.score_col is not None:
        score = frame[spec.score_col]
        if not pd.api.types.is_numeric_dtype(score.dtype) or score.dtype == bool:
            # A float column is kept as it is: converting it again takes 0.3-1 s at 10M rows.
            score = pd.to_numeric(score, errors="coerce")
        bad = int(score.isna().sum())
        infinite = int(np.isinf(score.to_numpy(dtype=np.float64)).sum())
    return TableSummary(
        path=path,
        n_columns=len(frame.columns),
        rows_read=len(frame),
        missing=missing,
        rows_dropped=int(dropped.sum()),
        bad_scores=bad,
        infinite_scores=infinite,
    )


def hashed_columns(spec: AuditSpec, columns: list[str]) -> tuple[str, ...]:
    """Return the columns an in-memory table's digest covers: the columns the audit reads.

    With precomputed predictions: the target, sensitive, prediction, score (a multiclass
    audit's class scores too) and id columns; with a model, every column (the model's
    inputs are chosen among them).
    """
    if spec.model is not None:
        return tuple(columns)
    scores = [column for _, column in spec.class_scores]
    named = (
        spec.target,
        *spec.sensitive,
        spec.prediction_col,
        spec.score_col,
        *scores,
        *spec.id_cols,
    )
    return tuple(c for c in columns if c in set(named))


def load_evaluation_data(spec: AuditSpec, *, binary: bool = True) -> EvaluationData:
    """Return the evaluation data with labels and sensitive groups encoded and checked.

    ``binary=False`` (a regression audit) keeps the label column's values as they are in
    ``y_true`` (no positive class, no label-classes check): the caller checks them.
    """
    name = spec.source_label("data")
    path = None if in_memory(spec.data) else Path(spec.data)
    if path is None:
        frame, checks = read_frame(spec.data, name)
        fmt = "memory"
    else:
        frame, fmt, checks = read_table(path)
    rows_read = len(frame)
    check_roles(spec, list(frame.columns), name, lambda c: _column_kind(frame, c))
    hashed = hashed_columns(spec, list(frame.columns)) if path is None else ()
    sha256 = frame_sha256(frame, hashed) if path is None else file_sha256(path)
    table, rows = table_checks(spec, _summary(spec, frame, name))
    checks += table
    if rows < rows_read:  # missing sensitive values dropped
        frame = frame.loc[~frame[list(spec.sensitive)].isna().any(axis=1)].reset_index(drop=True)

    if binary:
        y_true = binarize(frame[spec.target], spec.positive_label, column=spec.target, role="label")
        label_values = tuple(value_text(v) for v in pd.unique(frame[spec.target]))
        checks.append(label_check(spec, int(y_true.sum()), int((~y_true).sum()), label_values))
    else:
        y_true, label_values = frame[spec.target].to_numpy(), ()
    sensitive = [
        encode_sensitive(frame[column], column=column, edges=spec.bins.get(column))
        for column in spec.sensitive
    ]
    checks += binned_checks(spec, spec.sensitive, [f.levels for f in sensitive])
    return EvaluationData(
        path=path,
        name=name,
        frame=frame,
        sha256=sha256,
        format=fmt,
        rows_read=rows_read,
        y_true=y_true,
        sensitive=sensitive,
        checks=checks,
        label_values=label_values,
        hashed_columns=hashed,
    )
