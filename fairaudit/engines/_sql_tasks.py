"""Regression and multiclass audits in SQL, on the DuckDB and Spark engines (issue 17).

``TaskSqlCounter`` is the binary ``SqlCounter``'s pass for the other tasks, on the same
view (``fa_src``), the same whole-table scan and checks, the same sensitive codes (CASE
coding or map tables) and reference and group-limit checks, so the data checks equal the
numpy engine's. Then:

* the task: the label's ``TargetSummary`` (``_sql_task_values``), equal to numpy's, and
  the audit's ``decide`` (the numpy engine's rule and messages);
* regression: (sensitive codes, target, prediction) rows streamed as Arrow batches (Spark:
  collected), each chunk of ``CHUNK_ROWS`` counted by ``count_regression`` (exact Fraction
  sums, sorted predictions) and the chunks merged by ``combine_regression_cells``, exact
  and independent of the chunking: the RegressionCells equal the numpy engine's;
* multiclass: one GROUP BY (sensitive codes, label, prediction) with COUNT(*), the pairs'
  classes from ``multiclass_input`` on the distinct (label, prediction) pairs, and
  ``multiclass_counts_from_aggregates``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.counts import GroupCounts
from fairaudit.data import binned_checks, check_roles, table_checks
from fairaudit.engines._sql import FLOAT_PATTERN, INT_PATTERN, SqlCounter
from fairaudit.engines._sql_source import Dialect, Distinct, SqlRunner, SqlSource, bin_code_sql
from fairaudit.engines._sql_task_parts import (
    column_numbers,
    regression_from_parts,
    regression_part,
)
from fairaudit.engines._sql_task_values import (
    MAGNITUDE_LIMIT,
    NumericColumn,
    classes_of_pairs,
    double_sql,
    is_sql_numeric,
    numbers_of_distinct,
    numeric_column,
    numeric_summary_sql,
    refuse_not_numbers,
    target_summary_of,
    typed_values,
)
from fairaudit.engines._task_counts import Decide, TaskCounts
from fairaudit.engines._types import check_reference
from fairaudit.errors import DataError
from fairaudit.measure import (
    MulticlassCounts,
    RegressionCells,
    check_group_limit,
    combine_regression_cells,
    count_regression,
    multiclass_counts_from_aggregates,
)
from fairaudit.spec import AuditSpec

__all__ = ["CHUNK_ROWS", "TaskSqlCounter", "count_regression_chunk"]

#: Rows counted by one ``count_regression`` call; the chunks' cells are merged exactly.
CHUNK_ROWS = 1 << 20
#: Rows in one of Spark's buckets (the workers count each bucket, in parallel).
BUCKET_ROWS = 1 << 17


@dataclass(frozen=True)
class _Index:
    """A column's value -> code map whose code is the index of the distinct value."""

    raw: list[Any]
    codes: np.ndarray


def count_regression_chunk(
    spec: AuditSpec,
    features: tuple[str, ...],
    codes: list[np.ndarray],
    levels: tuple[tuple[str, ...], ...],
    y_true: np.ndarray,
    y_pred: np.ndarray,
) -> RegressionCells:
    """Return ``count_regression`` of rows, DataError for a value it refuses: the one call
    every engine makes (the numpy engine once, the SQL engines per chunk)."""
    try:
        return count_regression(  # with the favourable threshold's counts
            features, codes, levels, y_true, y_pred, threshold=spec.favorable_threshold
        )
    except ValueError as exc:
        raise DataError(str(exc)) from None


class TaskSqlCounter(SqlCounter):
    """The counting pass of a regression or multiclass audit in SQL (see the module)."""

    def __init__(
        self,
        spec: AuditSpec,
        source: SqlSource,
        dialect: Dialect,
        runner: SqlRunner,
        *,
        decide: Decide,
    ) -> None:
        super().__init__(spec, source, dialect, runner)
        self.decide = decide

    def run(self) -> TaskCounts:  # type: ignore[override]
        """Return the TaskCounts of the source, with the checks of the numpy engine."""
        spec, source = self.spec, self.source
        check_roles(spec, source.columns, source.display, self._nested_kind)
        self._create_view()
        scan = self._scan = self._scan_table()
        table_checks_, rows = table_checks(spec, scan.table)
        checks = [*source.checks, *table_checks_]
        numeric = {a: is_sql_numeric(source, c) for a, c in self._value_columns().items()}
        if source.arrow_types is None:
            numeric = self._csv_numbers()
        aliases = [f"f{i}" for i, c in enumerate(self.features) if c not in spec.bins]
        aliases += [a for a in ("t", "p") if not numeric[a]]
        distinct = self._distinct(aliases) if aliases else {}
        levels, maps, missing_code = self._sensitive_levels(distinct, scan)
        checks += binned_checks(spec, self.features, levels)
        summaries = self._numeric_summaries([a for a in ("t", "p") if numeric[a]])
        decision = self.decide(target_summary_of(summaries.get("t"), self._kept_values(distinct)))
        check_reference(spec, self.features, levels)
        joins: list[str] = []
        code_sql = self._cell_code_sql(maps, missing_code, joins)
        counted: dict[str, Any] = {}
        if decision.task == "regression":
            self._check_group_limit(code_sql, joins, levels)
            counted["regression"] = self._count_regression(
                code_sql, joins, levels, distinct, summaries
            )
        else:
            counted["multiclass"] = self._count_multiclass(code_sql, joins, levels, distinct)
        return TaskCounts(
            engine=self.dialect.name,
            decision=decision,
            checks=tuple(checks),
            lineage_data=source.lineage(rows, scan.table.rows_read),
            prediction_source={"source": "column", "column": spec.prediction_col, "score": None},
            **counted,
        )

    def _value_columns(self) -> dict[str, str]:
        assert self.spec.prediction_col is not None
        return {"t": self.spec.target, "p": self.spec.prediction_col}

    def _source_name(self, alias: str) -> str:
        """Return how the numpy engine's messages name the label or prediction column."""
        column = self._value_columns()[alias]
        return f"{'label' if alias == 't' else 'prediction'} column {column!r}"

    # -- the label's summary and the numeric columns' aggregates -----------------------
    def _numeric_summaries(self, aliases: list[str]) -> dict[str, NumericColumn]:
        """Return the NumericColumn of each numeric column, from one aggregate query."""
        if not aliases:
            return {}
        aggs = [sql for a in aliases for sql in numeric_summary_sql(a, label=a == "t")]
        row = self.runner.rows(f"SELECT {', '.join(aggs)} FROM fa_src WHERE kept")[0]
        return {a: numeric_column(tuple(row[3 * j : 3 * j + 3])) for j, a in enumerate(aliases)}

    def _csv_numbers(self) -> dict[str, bool]:
        """Return, for a CSV file's label and prediction, whether pandas reads the column as
        numbers: every value (kept or not: the dtype is the whole column's) is one."""
        aggs = []
        for alias in ("t", "p"):
            number = " OR ".join(
                self.dialect.full_match(alias, p) for p in (INT_PATTERN, FLOAT_PATTERN)
            )
            aggs.append(f"count(*) FILTER (WHERE {alias} IS NOT NULL AND NOT ({number}))")
        row = self.runner.rows(f"SELECT {', '.join(aggs)} FROM fa_src")[0]
        return {alias: int(n) == 0 for alias, n in zip(("t", "p"), row)}

    def _first_values(self, alias: str, where: str = "TRUE", limit: int = 8) -> pd.Series:
        """Return kept values of a numeric column in file order, typed as pandas types the
        column, among which its first ``limit`` distinct ones: the first rows (by row
        number; DuckDB reads a CSV in file order), else every distinct value's first row."""
        column = self._value_columns()[alias]
        head, order = 32 * limit, "ORDER BY rn " if self.source.row_number else ""
        select = f"SELECT {alias} FROM fa_src WHERE kept AND ({where})"
        raw = [r[0] for r in self.runner.rows(f"{select} {order}LIMIT {head}")]
        values = typed_values(raw, self.source, column, None)
        if len(pd.unique(values)) >= limit or len(raw) < head:
            return values
        if self.source.row_number:
            first = f"{select} GROUP BY {alias} ORDER BY min(rn) LIMIT {head}"
        else:
            first = (
                f"SELECT {alias} FROM (SELECT {alias}, row_number() OVER () AS r FROM fa_src "
                f"WHERE kept AND ({where})) q GROUP BY {alias} ORDER BY min(r) LIMIT {head}"
            )
        return typed_values([r[0] for r in self.runner.rows(first)], self.source, column, None)

    def _kept_values(self, distinct: dict[str, Distinct]) -> pd.Series:
        """Return the label's distinct kept values in file order (a numeric label's first
        ones), typed as pandas types the column."""
        if "t" in distinct:
            return distinct["t"].kept(self._order("t", distinct["t"]))[0]
        return self._first_values("t")

    def _numbers(
        self, alias: str, distinct: dict[str, Distinct], summaries: dict[str, NumericColumn]
    ) -> np.ndarray | None:
        """Return the numbers of a column's distinct values (None: SQL casts a numeric
        column); refuse a kept value that is not a finite number below 1e50 as numpy does."""
        if alias in summaries:
            n_bad = summaries[alias].n_bad
            if n_bad:
                bad = f"NOT (abs({double_sql(alias)}) < {MAGNITUDE_LIMIT!r})"
                refuse_not_numbers(self._source_name(alias), n_bad, self._first_values(alias, bad))
            return None
        d = distinct[alias]
        return numbers_of_distinct(
            d.values, d.n_kept, lambda: d.kept(self._order(alias, d))[1], self._source_name(alias)
        )

    # -- the counts ------------------------------------------------------------------
    def _cell_code_sql(
        self, maps: dict[int, Any], missing_code: dict[int, int], joins: list[str]
    ) -> list[str]:
        """Return the SQL of each sensitive column's code (``c0``, ``c1``, ...)."""
        out = []
        for i, column in enumerate(self.features):
            if column in self.spec.bins:
                out.append(f"{bin_code_sql(i, self.spec.bins[column], missing_code[i])} AS c{i}")
            else:
                code = self._lookup(f"f{i}", f"m{i}", maps[i], joins)
                out.append(f"COALESCE({code}, {missing_code[i]}) AS c{i}")
        return out

    def _check_group_limit(
        self, code_sql: list[str], joins: list[str], levels: tuple[tuple[str, ...], ...]
    ) -> None:
        """Raise the numpy engine's DataError, before any value is read, when the rows form
        more groups than ``--max-groups``; costs nothing when every possible cell fits."""
        if math.prod(len(names) for names in levels) <= self.spec.max_groups:
            return
        keys = ", ".join(f"c{i}" for i in range(len(self.features)))
        rows = self.runner.rows(
            f"SELECT DISTINCT {keys} FROM (SELECT {', '.join(code_sql)} FROM fa_src "
            f"{' '.join(joins)} WHERE fa_src.kept) q"
        )
        self._group_limit(np.array(rows, dtype=np.int64).reshape(len(rows), -1), levels)

    def _group_limit(self, cells: np.ndarray, levels: tuple[tuple[str, ...], ...]) -> None:
        """Raise DataError if the distinct ``cells`` form more groups than allowed."""
        unique = np.unique(cells, axis=0) if len(cells) else cells
        layout = np.zeros((len(unique), 4), dtype=np.int64)
        check_group_limit(self.spec, GroupCounts(self.features, levels, unique, layout))

    def _count_regression(
        self,
        code_sql: list[str],
        joins: list[str],
        levels: tuple[tuple[str, ...], ...],
        distinct: dict[str, Distinct],
        summaries: dict[str, NumericColumn],
    ) -> RegressionCells:
        """Return the RegressionCells of the kept rows, counted chunk by chunk."""
        numbers = {a: self._numbers(a, distinct, summaries) for a in ("t", "p")}
        values = []
        for alias, table in (("t", "mt"), ("p", "mp")):
            if numbers[alias] is None:
                values.append(f"{double_sql(f'fa_src.{alias}')} AS {alias}")
            else:  # the index of the distinct value, whose number numpy read
                d = distinct[alias]
                index = _Index(d.raw, np.arange(len(d.raw), dtype=np.int64))
                values.append(f"{self._lookup(alias, table, index, joins)} AS {alias}")  # type: ignore[arg-type]
        if self.runner.batches is None and self.runner.grouped is not None:
            values.append("fa_src.rn AS rn")
        sql = (
            f"SELECT {', '.join([*code_sql, *values])} FROM fa_src {' '.join(joins)} "
            "WHERE fa_src.kept"
        )
        spec, features = self.spec, self.features

        def count(codes: list[np.ndarray], y_true: np.ndarray, y_pred: np.ndarray) -> Any:
            return count_regression_chunk(spec, features, codes, levels, y_true, y_pred)

        if self.runner.batches is None and self.runner.grouped is not None:
            return self._count_regression_buckets(sql, levels, (numbers["t"], numbers["p"]), count)
        n = len(features)
        parts = []
        for columns in self._stream(sql, n + 2):
            codes = [c.astype(np.int64) for c in columns[:n]]
            y = [column_numbers(column, numbers[a]) for a, column in zip("tp", columns[n:])]
            for start in range(0, len(y[0]), CHUNK_ROWS):
                part = slice(start, start + CHUNK_ROWS)
                parts.append(count([c[part] for c in codes], y[0][part], y[1][part]))
        return parts[0] if len(parts) == 1 else combine_regression_cells(parts)

    def _count_regression_buckets(
        self,
        sql: str,
        levels: tuple[tuple[str, ...], ...],
        numbers: tuple[np.ndarray | None, np.ndarray | None],
        count: Any,
    ) -> RegressionCells:
        """Return the RegressionCells counted by Spark's workers, one bucket of about
        ``BUCKET_ROWS`` rows each (by row number), merged here: no row comes back alone."""
        assert self.runner.grouped is not None
        buckets = self._scan.table.rows_read // BUCKET_ROWS + 1
        rows = f"SELECT q.*, CAST(pmod(q.rn, {buckets}) AS INT) AS bk FROM ({sql}) q"
        n_features = len(self.features)
        # A lambda, not a partial: Spark reads a grouped-map function's type hints.
        work = lambda frame: regression_part(  # noqa: E731
            frame, n_features=n_features, numbers=numbers, count=count
        )
        return regression_from_parts(self.runner.grouped(rows, work), self.features, levels)

    def _stream(self, sql: str, n_columns: int) -> Iterator[list[np.ndarray]]:
        """Yield the query's rows as numpy columns, batch by batch (else all at once)."""
        if self.runner.batches is not None:
            for batch in self.runner.batches(sql):
                if batch.num_rows:
                    yield [batch.column(j).to_numpy(zero_copy_only=False) for j in range(n_columns)]
            return
        rows = self.runner.rows(sql)
        if rows:
            yield [np.array([r[j] for r in rows]) for j in range(n_columns)]

    def _count_multiclass(
        self,
        code_sql: list[str],
        joins: list[str],
        levels: tuple[tuple[str, ...], ...],
        distinct: dict[str, Distinct],
    ) -> MulticlassCounts:
        """Return the confusion matrices of the cells from one GROUP BY."""
        n = len(self.features)
        keys = ", ".join([*(f"c{i}" for i in range(n)), "t", "p"])
        inner = (
            f"SELECT {', '.join(code_sql)}, fa_src.t AS t, fa_src.p AS p FROM fa_src "
            f"{' '.join(joins)} WHERE fa_src.kept"
        )
        rows = self.runner.rows(f"SELECT {keys}, count(*) FROM ({inner}) q GROUP BY {keys}")
        cells = np.array([r[:n] for r in rows], dtype=np.int64).reshape(len(rows), n)
        self._group_limit(cells, levels)
        # The distinct (label, prediction) pairs, with their raw values.
        pairs = {(self._key(r[n]), self._key(r[n + 1])): (r[n], r[n + 1]) for r in rows}
        pair_of = {key: j for j, key in enumerate(pairs)}
        columns = self._value_columns()
        typed = [
            typed_values([p[j] for p in pairs.values()], self.source, columns[a], distinct.get(a))
            for j, a in enumerate(("t", "p"))
        ]
        labels = classes_of_pairs(self.spec, *typed)
        index = np.array(
            [pair_of[(self._key(r[n]), self._key(r[n + 1]))] for r in rows], dtype=np.int64
        )
        try:
            return multiclass_counts_from_aggregates(
                self.features, levels, labels.classes, cells, labels.y_true[index],
                labels.y_pred[index], np.array([int(r[n + 2]) for r in rows], dtype=np.int64),
            )  # fmt: skip
        except ValueError as exc:
            raise DataError(str(exc)) from None
