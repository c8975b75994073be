"""The label and prediction values of a regression or multiclass audit in SQL, read as the
numpy engine reads them: the label's TargetSummary (task detection), each column's values
as numbers (regression) or classes (multiclass).

A column with a numeric Parquet or Spark type (integers, floats) is summarised and cast
to DOUBLE in SQL: pandas reads it with that type, so ``CAST(x AS DOUBLE)`` is its
``astype(float64)``. Any other column (every CSV field, text, booleans, decimals) goes
through its distinct values, typed as pandas types the whole column (``typed_series``):
the numpy engine's own functions then run on those values (``summarize_target``,
``multiclass_input``), and ``pd.to_numeric`` gives each value's number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.data import EvaluationData, shorten, value_text
from fairaudit.engines._sql_source import Distinct, SqlSource, is_numeric_type, typed_series
from fairaudit.errors import DataError
from fairaudit.measure import (
    MSG_NOT_NUMBERS,
    MulticlassInput,
    TargetSummary,
    multiclass_input,
    summarize_target,
)
from fairaudit.spec import AuditSpec

__all__ = [
    "MAGNITUDE_LIMIT",
    "NumericColumn",
    "classes_of_pairs",
    "double_sql",
    "is_sql_numeric",
    "numbers_of_distinct",
    "numeric_column",
    "numeric_summary_sql",
    "refuse_not_numbers",
    "target_summary_of",
    "typed_values",
]

#: A regression audit refuses values at or beyond this magnitude (``_regression_input``).
MAGNITUDE_LIMIT = 1e50
#: Every double at or beyond this magnitude is a whole number.
_ALL_WHOLE = 2.0**53


def is_sql_numeric(source: SqlSource, column: str) -> bool:
    """Return whether a column has a numeric (integer or float) Arrow type: SQL reads its
    numbers as pandas does. False for CSV, where every field is text."""
    types = source.arrow_types
    return types is not None and is_numeric_type(types[column])


@dataclass(frozen=True)
class NumericColumn:
    """What one aggregate query learns of a numeric column among the kept rows: distinct
    numbers, whether every one is whole, and how many rows hold a value a regression audit
    refuses (infinite, or beyond ``MAGNITUDE_LIMIT``)."""

    n_distinct: int
    whole: bool
    n_bad: int


def double_sql(expr: str) -> str:
    """Return the SQL of a numeric column's value as a double: a CAST of a number type, or
    of a CSV field that pandas reads as a number (correctly rounded, as pandas 3 parses;
    surrounding whitespace allowed, as pandas strips it)."""
    return f"TRY_CAST({expr} AS DOUBLE)"


def numeric_summary_sql(alias: str, *, label: bool) -> list[str]:
    """Return the aggregates of a numeric column ``alias`` of ``fa_src`` (kept rows) that
    make its NumericColumn, in order; the distinct numbers and their wholeness only for the
    label (``label``: the task detection's summary), else zeros."""
    x = double_sql(alias)
    bad = f"count(*) FILTER (WHERE NOT (abs({x}) < {MAGNITUDE_LIMIT!r}))"
    if not label:
        return ["0", "0", bad]
    return [
        # + 0.0: -0.0 is 0.0, one number (as np.unique takes it).
        f"count(DISTINCT {x} + CAST(0 AS DOUBLE))",
        f"count(*) FILTER (WHERE abs({x}) < {_ALL_WHOLE!r} AND {x} <> floor({x}))",
        bad,
    ]


def numeric_column(values: tuple[Any, ...]) -> NumericColumn:
    """Return the NumericColumn of the three aggregates of ``numeric_summary_sql``."""
    n_distinct, not_whole, n_bad = (int(v or 0) for v in values)
    return NumericColumn(n_distinct, not_whole == 0, n_bad)


def target_summary_of(numeric: NumericColumn | None, values: pd.Series) -> TargetSummary:
    """Return the label's TargetSummary, equal to ``summarize_target`` on its kept values:
    ``summarize_target`` of its distinct kept ``values`` in file order, or for a numeric
    column the aggregates and its first distinct values (``values``, in file order)."""
    if numeric is None:
        return summarize_target(values)
    shown = tuple(value_text(v) for v in pd.unique(values)[:8])
    return TargetSummary(numeric.n_distinct, "numeric", numeric.whole, shown)


def refuse_not_numbers(source: str, n_bad: int, bad_values: pd.Series) -> None:
    """Raise the numpy engine's DataError (``MSG_NOT_NUMBERS``) for ``n_bad`` rows whose
    values are not finite numbers; ``bad_values``: the distinct ones, in file order."""
    shown = shorten([value_text(v) for v in pd.unique(bad_values)][:8])
    raise DataError(
        MSG_NOT_NUMBERS.format(
            source=source, n=n_bad, s="" if n_bad == 1 else "s", are="is" if n_bad == 1 else "are",
            what="a finite number" if n_bad == 1 else "finite numbers", values=shown,
        )
    )  # fmt: skip


def numbers_of_distinct(
    values: pd.Series, n_kept: np.ndarray, order: Callable[[], np.ndarray], source: str
) -> np.ndarray:
    """Return each distinct value's number (float64), as ``regression_input`` reads the
    column; raise its DataError when a kept value is not a finite number below 1e50
    (``order()``: the kept values' indices in file order, asked for only then)."""
    series = pd.Series(values.to_numpy()).reset_index(drop=True)
    if series.dtype == bool:
        numbers = np.full(len(series), np.nan)
    else:
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    bad = (~np.isfinite(numbers) | (np.abs(numbers) >= MAGNITUDE_LIMIT)) & (n_kept > 0)
    if bad.any():
        in_order = [j for j in np.asarray(order()).tolist() if bad[j]]
        refuse_not_numbers(source, int(n_kept[bad].sum()), series.iloc[in_order])
    return numbers


def classes_of_pairs(spec: AuditSpec, labels: pd.Series, predictions: pd.Series) -> MulticlassInput:
    """Return ``multiclass_input`` of rows holding the distinct (label, prediction) pairs:
    the classes, and each pair's class codes, as the numpy engine gives them."""
    frame = pd.DataFrame({spec.target: labels.reset_index(drop=True)})
    assert spec.prediction_col is not None
    frame[spec.prediction_col] = predictions.reset_index(drop=True)
    data = EvaluationData(
        path=None,
        name=str(spec.data),
        frame=frame,
        sha256="",
        format="",
        rows_read=len(frame),
        y_true=frame[spec.target].to_numpy(),
        sensitive=[],
    )
    return multiclass_input(spec, data)


def typed_values(
    raw: list[Any], source: SqlSource, column: str, distinct: Distinct | None
) -> pd.Series:
    """Return ``raw`` SQL values typed as pandas types the column: through the column's
    distinct values when known (CSV: the dtype depends on every value), else by its type."""
    if distinct is None:
        return typed_series(raw, source, column)
    position = {_key(v): j for j, v in enumerate(distinct.raw)}
    return distinct.values.iloc[[position[_key(v)] for v in raw]].reset_index(drop=True)


def _key(value: Any) -> Any:
    return ("null",) if value is None else ("v", value)
