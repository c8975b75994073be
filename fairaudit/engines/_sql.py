"""The counting pass in SQL, shared by the DuckDB and Spark engines.

``SqlCounter`` runs it for one AuditSpec over one ``SqlSource`` through a ``SqlRunner``,
in three scans: whole-table summaries (row and null counts, score validity), the
distinct values of the label, prediction and unbinned sensitive columns, and the counts.
The data checks are ``fairaudit.data``'s, run on those summaries; the distinct values go
through ``data.binarize`` / ``data.encode_sensitive`` and the value -> code maps are
joined back in SQL. ``Dialect`` holds the few spellings that differ (``DUCKDB``, ``SPARK``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.counts import GroupCounts, ScoreSummary
from fairaudit.data import (
    MISSING_GROUP,
    Check,
    TableSummary,
    binarize,
    binned_checks,
    binned_levels,
    check_prediction_values,
    check_roles,
    encode_sensitive,
    label_check,
    table_checks,
    value_text,
)
from fairaudit.engines._rank_sums import score_summary_from_keyed_rows
from fairaudit.engines._sql_scores import (
    SORTED_MAX_CELLS,
    bucket_part,
    bucket_parts_summary,
    bucket_sql,
    group_counts_from_rows,
    sorted_score_summary,
    sql_score_summary,
)
from fairaudit.engines._sql_source import (
    DUCKDB,
    Dialect,
    Distinct,
    SqlRunner,
    SqlSource,
    bin_code_sql,
    case_code_sql,
    is_float_type,
    is_numeric_type,
    nested_kind,
    typed_series,
)
from fairaudit.engines._types import EngineCounts, check_reference, memory_bytes
from fairaudit.spec import AuditSpec

__all__ = ["FLOAT_PATTERN", "INT_PATTERN", "SqlCounter"]

# How pandas' C parser reads a field as a number (whitespace around digits, not "inf"); H1.
INT_PATTERN = r"\s*[+-]?[0-9]+\s*"
FLOAT_PATTERN = r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*|[+-]?(?i:inf|infinity)"


#: Aggregate rows by score before the sort when there are this many rows per distinct score.
_AGGREGATE_BELOW = 4
#: Memory the score sums of one row take in memory (key, score, sort order, their copies,
#: DuckDB's buffers: 110 B a row at 10M rows): rows that fit in a quarter of the memory at
#: this size are summed in memory.
IN_MEMORY_ROW_BYTES = 128


def _column(batches: list[Any], j: int, dtype: type) -> np.ndarray:
    """Return column ``j`` of Arrow record batches as one numpy array of ``dtype``."""
    parts = [batch.column(j).to_numpy(zero_copy_only=False) for batch in batches]
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)


@dataclass(frozen=True)
class _Scan:
    """What the first scan learns: the checks' summary, plus the score range and, for
    CSV, how many values of each binned column are not numbers."""

    table: TableSummary
    non_numeric: dict[int, int]
    score_min: float
    score_max: float


@dataclass(frozen=True)
class _Codes:
    """The value -> code map of one column: its raw SQL values and their codes."""

    raw: list[Any]
    codes: np.ndarray


class SqlCounter:
    """The counting pass in SQL for one AuditSpec over one SqlSource."""

    def __init__(
        self, spec: AuditSpec, source: SqlSource, dialect: Dialect, runner: SqlRunner
    ) -> None:
        self.spec = spec
        self.source = source
        self.dialect = dialect
        self.runner = runner
        self.features = tuple(spec.sensitive)
        self._sorted_summary: ScoreSummary | None = None

    def run(self) -> EngineCounts:
        """Return the EngineCounts of the source, with the checks of the numpy engine."""
        spec, source = self.spec, self.source
        check_roles(spec, source.columns, source.display, self._nested_kind)
        self._create_view()
        scan = self._scan = self._scan_table()
        table_checks_, rows = table_checks(spec, scan.table)
        checks = [*source.checks, *table_checks_]
        valued = [i for i, c in enumerate(self.features) if c not in spec.bins]
        distinct = self._distinct(["t", "p", *[f"f{i}" for i in valued]])
        label, label_values, check = self._labels(distinct["t"], rows)
        checks.append(check)
        levels, maps, missing_code = self._sensitive_levels(distinct, scan)
        checks += binned_checks(spec, self.features, levels)
        check_reference(spec, self.features, levels)
        prediction = self._predictions(distinct["p"], label_values)
        group_counts = self._count(label, prediction, maps, missing_code, levels)
        return EngineCounts(
            engine=self.dialect.name,
            group_counts=group_counts,
            checks=tuple(checks),
            rows_read=scan.table.rows_read,
            rows=rows,
            label_values=label_values,
            score_summary=self._score_summary(scan),
            lineage_data=source.lineage(rows, scan.table.rows_read),
            prediction_source={
                "source": "column",
                "column": spec.prediction_col,
                "score": spec.score_col,
            },
        )

    # -- SQL helpers -------------------------------------------------------------------
    def _nested_kind(self, column: str) -> str | None:
        types = self.source.arrow_types
        return None if types is None else nested_kind(types[column])

    def _col(self, column: str) -> str:
        """Return the raw column's SQL with NaN read as missing (pandas' isna)."""
        expr = self.source.column_sql[column]
        types = self.source.arrow_types
        if types is not None and is_float_type(types[column]):
            return f"CASE WHEN isnan({expr}) THEN NULL ELSE {expr} END"
        return expr

    def _score_double(self, expr: str) -> str:
        types = self.source.arrow_types
        if types is not None:
            import pyarrow as pa

            t = types[self.spec.score_col]  # type: ignore[index]
            if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
                return f"CAST({expr} AS DOUBLE)"
        return f"TRY_CAST({expr} AS DOUBLE)"

    def _create_view(self) -> None:
        spec = self.spec
        parts = [f"{self._col(spec.target)} AS t"]
        assert spec.prediction_col is not None
        parts.append(f"{self._col(spec.prediction_col)} AS p")
        if spec.score_col is not None:
            raw = self.source.column_sql[spec.score_col]
            parts.append(f"{self._score_double(raw)} AS sd")
        for i, column in enumerate(self.features):
            parts.append(f"{self._col(column)} AS f{i}")
        if self.source.row_number is not None:
            parts.append(f"{self.source.row_number} AS rn")
        if spec.missing_sensitive == "drop":
            kept = " AND ".join(f"{self._col(c)} IS NOT NULL" for c in self.features)
        else:
            kept = "TRUE"
        parts.append(f"({kept}) AS kept")
        self.runner.execute(
            f"CREATE OR REPLACE TEMP VIEW fa_src AS SELECT {', '.join(parts)} "
            f"FROM {self.source.relation}"
        )

    def _lookup(self, alias: str, table: str, codes: _Codes, joins: list[str]) -> str:
        """Return the SQL of column ``alias``'s code in ``fa_src``: a CASE expression in
        DuckDB when the values allow it (``case_code_sql``), else the code of the map
        table ``fa_map_<alias>``, registered now and LEFT JOINed (added to ``joins``)."""
        values = np.asarray(codes.codes).astype(np.int64).tolist()
        if self.dialect.name == DUCKDB.name:
            case = case_code_sql(f"fa_src.{alias}", codes.raw, values)
            if case is not None:
                return case
        self.runner.register(f"fa_map_{alias}", (codes.raw, values))
        joins.append(f"LEFT JOIN fa_map_{alias} {table} ON fa_src.{alias} = {table}.v")
        return f"{table}.code"

    def _materialize(self, name: str, select: str) -> None:
        if self.dialect.name == "spark":
            self.runner.execute(f"DROP VIEW IF EXISTS {name}")
            self.runner.execute(f"CACHE TABLE {name} AS {select}")
        else:
            self.runner.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select}")

    # -- scan 1: whole-table summaries ---------------------------------------------------
    def _scan_table(self) -> _Scan:
        """Return row and null counts, score problems and range, in one scan."""
        spec, n = self.spec, len(self.features)
        aggs = [
            "count(*)",
            "count(*) FILTER (WHERE t IS NULL)",
            "count(*) FILTER (WHERE p IS NULL)",
            "count(*) FILTER (WHERE NOT kept)",
        ]
        aggs += [f"count(*) FILTER (WHERE f{i} IS NULL)" for i in range(n)]
        binned = [i for i, c in enumerate(self.features) if c in spec.bins]
        numeric_check = binned if self.source.arrow_types is None else []
        for i in numeric_check:
            number = " OR ".join(
                self.dialect.full_match(f"f{i}", p) for p in (INT_PATTERN, FLOAT_PATTERN)
            )
            aggs.append(f"count(*) FILTER (WHERE f{i} IS NOT NULL AND NOT ({number}))")
        if spec.score_col is not None:
            aggs += [
                "count(*) FILTER (WHERE sd IS NULL OR isnan(sd))",
                f"count(*) FILTER (WHERE {self.dialect.is_inf('sd')})",
                "min(sd) FILTER (WHERE kept)",
                "max(sd) FILTER (WHERE kept)",
            ]
            if self.runner.batches is not None or self.runner.grouped is not None:
                aggs.append("approx_count_distinct(sd) FILTER (WHERE kept)")
        first = self.runner.rows(f"SELECT {', '.join(aggs)} FROM fa_src")[0]
        rows_read, t_missing, p_missing, n_dropped = (int(v) for v in first[:4])
        missing = dict(zip(self.features, (int(v) for v in first[4 : 4 + n])))
        missing[spec.target] = t_missing
        missing[spec.prediction_col] = p_missing  # type: ignore[index]
        rest = list(first[4 + n :])
        non_numeric = {i: int(rest.pop(0)) for i in numeric_check}
        self._distinct_scores = int(rest.pop() or 0) if len(rest) == 5 else None
        bad, infinite, low, high = rest if spec.score_col is not None else (0, 0, None, None)
        table = TableSummary(
            path=self.source.display,
            n_columns=len(self.source.columns),
            rows_read=rows_read,
            missing=missing,
            rows_dropped=n_dropped,
            bad_scores=int(bad),
            infinite_scores=int(infinite),
        )
        if low is None or high is None:  # no scores, or every row dropped
            return _Scan(table, non_numeric, float("nan"), float("nan"))
        return _Scan(table, non_numeric, float(low), float(high))

    # -- scan 2: distinct values, encoded as the numpy engine would ----------------------
    def _distinct(self, aliases: list[str]) -> dict[str, Distinct]:
        """Return each column's distinct values over all rows, with kept-row counts."""
        spec = self.spec
        columns = {"t": spec.target, "p": spec.prediction_col}
        for i, name in enumerate(self.features):
            columns[f"f{i}"] = name
        flags = ", ".join(f"GROUPING({a})" for a in aliases)
        first = ", min(rn) FILTER (WHERE kept)" if self.source.row_number else ""
        sets = ", ".join(f"({a})" for a in aliases)
        rows = self.runner.rows(
            f"SELECT {flags}, {', '.join(aliases)}, count(*) FILTER (WHERE kept){first} "
            f"FROM fa_src GROUP BY GROUPING SETS ({sets})"
        )
        k = len(aliases)
        out = {}
        for j, alias in enumerate(aliases):
            mine = [r for r in rows if int(r[j]) == 0]
            raw = [r[k + j] for r in mine]
            column = columns[alias]
            assert column is not None
            out[alias] = Distinct(
                values=typed_series(raw, self.source, column),
                raw=raw,
                n_kept=np.array([int(r[2 * k]) for r in mine], dtype=np.int64),
                first=(
                    np.array(
                        [np.inf if r[2 * k + 1] is None else float(r[2 * k + 1]) for r in mine]
                    )
                    if self.source.row_number
                    else None
                ),
            )
        return out

    def _order(self, alias: str, d: Distinct) -> list[int] | None:
        """Return the kept values' indices in order of first appearance (file order)."""
        if d.first is not None:
            return None
        index = np.flatnonzero(d.n_kept > 0).tolist()
        if len(index) <= 1:
            return index
        position: dict[Any, int] = {self._key(d.raw[j]): j for j in index}
        if len(index) == 2:
            # The first kept row decides; the other value comes second.
            head = self.runner.rows(f"SELECT {alias} FROM fa_src WHERE kept LIMIT 1")[0][0]
            j = position[self._key(head)]
            return [j, *(x for x in index if x != j)]
        # Only reached on the way to an error message (more than two classes).
        ordered = self.runner.rows(
            f"SELECT {alias} FROM (SELECT {alias}, row_number() OVER () AS r FROM fa_src "
            f"WHERE kept) q GROUP BY {alias} ORDER BY min(r)"
        )
        return [position[self._key(r[0])] for r in ordered]

    @staticmethod
    def _key(value: Any) -> Any:
        return ("null",) if value is None else ("v", value)

    def _labels(self, label: Distinct, rows: int) -> tuple[_Codes, tuple[str, ...], Check]:
        """Return the label's value -> 0/1 map, its values as text and the classes check."""
        spec = self.spec
        kept, index = label.kept(self._order("t", label))
        y_value = binarize(kept, spec.positive_label, column=spec.target, role="label")
        label_values = tuple(value_text(v) for v in pd.unique(kept))
        n_positive = int(label.n_kept[index][y_value].sum())
        check = label_check(spec, n_positive, rows - n_positive, label_values)
        return _Codes([label.raw[j] for j in index], y_value), label_values, check

    def _sensitive_levels(
        self, distinct: dict[str, Distinct], scan: _Scan
    ) -> tuple[tuple[tuple[str, ...], ...], dict[int, _Codes], dict[int, int]]:
        """Return each sensitive column's levels, the value -> code maps of the unbinned
        ones, and the code of each column's missing values."""
        spec, types = self.spec, self.source.arrow_types
        levels: list[tuple[str, ...]] = []
        maps: dict[int, _Codes] = {}
        missing_code: dict[int, int] = {}
        for i, column in enumerate(self.features):
            if column in spec.bins:
                numeric = (
                    scan.non_numeric[i] == 0 if types is None else is_numeric_type(types[column])
                )
                names = binned_levels(column, spec.bins[column], numeric=numeric)
                if scan.table.missing[column] and spec.missing_sensitive == "group":
                    names.append(MISSING_GROUP)
                levels.append(tuple(names))
            else:
                d = distinct[f"f{i}"]
                kept_values, index = d.kept()
                feature = encode_sensitive(kept_values, column=column, edges=None)
                levels.append(feature.levels)
                maps[i] = _Codes([d.raw[j] for j in index], feature.codes)
            missing_code[i] = len(levels[-1]) - 1
        return tuple(levels), maps, missing_code

    def _predictions(self, prediction: Distinct, label_values: tuple[str, ...]) -> _Codes:
        """Return the prediction's value -> 0/1 map, checked against the label values."""
        spec = self.spec
        assert spec.prediction_col is not None
        kept, index = prediction.kept(self._order("p", prediction))
        source_name = f"predictions in column {spec.prediction_col!r}"
        check_prediction_values(kept, label_values, spec.positive_label, source_name)
        yhat = binarize(kept, spec.positive_label, column=spec.prediction_col, role="prediction")
        return _Codes([prediction.raw[j] for j in index], yhat)

    # -- scan 3: the counts (and the (cell, score) aggregate for score sums) -------------
    def _count(
        self,
        label: _Codes,
        prediction: _Codes,
        maps: dict[int, _Codes],
        missing_code: dict[int, int],
        levels: tuple[tuple[str, ...], ...],
    ) -> GroupCounts:
        """Return the GroupCounts; with scores, keep the aggregate ``fa_agg`` for the sums."""
        spec = self.spec
        joins: list[str] = []
        y_sql = self._lookup("t", "mt", label, joins)
        yhat_sql = self._lookup("p", "mp", prediction, joins)
        code_sql = []
        for i, column in enumerate(self.features):
            if column in spec.bins:
                code_sql.append(f"{bin_code_sql(i, spec.bins[column], missing_code[i])} AS c{i}")
            else:
                code = self._lookup(f"f{i}", f"m{i}", maps[i], joins)
                code_sql.append(f"COALESCE({code}, {missing_code[i]}) AS c{i}")
        inner = (
            f"SELECT {', '.join(code_sql)}, {y_sql} AS y, {yhat_sql} AS yhat"
            + (", sd + CAST(0 AS DOUBLE) AS s" if spec.score_col is not None else "")
            + f" FROM fa_src {' '.join(joins)} WHERE fa_src.kept"
        )
        keys = ", ".join([*(f"c{i}" for i in range(len(self.features))), "y", "yhat"])
        if self._sorted_stream(levels):
            return self._count_sorted(inner, levels)
        if spec.score_col is not None:
            self._materialize(
                "fa_agg", f"SELECT {keys}, s, count(*) AS n FROM ({inner}) q GROUP BY {keys}, s"
            )
            sql = f"SELECT {keys}, sum(n) FROM fa_agg GROUP BY {keys}"
        else:
            sql = f"SELECT {keys}, count(*) FROM ({inner}) q GROUP BY {keys}"
        return group_counts_from_rows(self.features, levels, self.runner.rows(sql))

    def _sorted_stream(self, levels: tuple[tuple[str, ...], ...]) -> bool:
        """Return whether the score sums come from one score-sorted stream (DuckDB)."""
        cells = int(np.prod([len(v) for v in levels]))
        return (
            self.spec.score_col is not None
            and (self.runner.batches is not None or self.runner.grouped is not None)
            and cells <= SORTED_MAX_CELLS
        )

    def _count_sorted(self, inner: str, levels: tuple[tuple[str, ...], ...]) -> GroupCounts:
        """Return the GroupCounts, and keep the score sums, from the rows' (cell, label,
        prediction) keys and scores: in memory when they fit (the numpy engine's sums),
        else from a stream of rows sorted by score; on Spark, per score bucket where the
        rows are."""
        cell = "0"
        for i, names in enumerate(levels):
            cell = f"({cell}) * {len(names)} + c{i}"
        key = f"CAST(({cell}) * 4 + 2 * y + yhat AS BIGINT) AS k"
        scan = self._scan
        is_probability = bool(scan.score_min >= 0 and scan.score_max <= 1)
        tied = (self._distinct_scores or 0) * _AGGREGATE_BELOW < scan.table.rows_read
        if self.runner.grouped is not None:
            return self._count_buckets(inner, key, levels, is_probability, tied)
        assert self.runner.batches is not None
        if scan.table.rows_read * IN_MEMORY_ROW_BYTES <= memory_bytes() // 4:
            # The rows fit in memory: numpy sorts them faster than a stream can be summed.
            batches = list(self.runner.batches(f"SELECT {key}, s FROM ({inner}) q"))
            group_counts, self._sorted_summary = score_summary_from_keyed_rows(
                _column(batches, 0, np.int64),
                _column(batches, 1, np.float64),
                self.features,
                levels,
                is_probability=is_probability,
            )
            return group_counts
        if tied:
            # Many ties: sorting (cell, label, prediction, score) aggregates is cheaper.
            sql = f"SELECT {key}, s, count(*) AS n FROM ({inner}) q GROUP BY ALL ORDER BY s"
        else:  # (almost) one row per score: aggregating first would cost more than it saves
            sql = f"SELECT {key}, s FROM ({inner}) q ORDER BY s"
        group_counts, self._sorted_summary = sorted_score_summary(
            self.runner.batches(sql), self.features, levels, is_probability=is_probability
        )
        return group_counts

    def _count_buckets(
        self,
        inner: str,
        key: str,
        levels: tuple[tuple[str, ...], ...],
        is_probability: bool,
        tied: bool,
    ) -> GroupCounts:
        """Return the GroupCounts, and keep the score sums, summed per score bucket by the
        workers (``bucket_part``) and added up here: no step holds all rows in one place."""
        assert self.runner.grouped is not None
        scan = self._scan
        rows = (
            f"SELECT {key}, s, {bucket_sql(scan.score_min, scan.score_max)} AS bk FROM ({inner}) q"
        )
        if tied:  # many rows per score: aggregate (cell, label, prediction, score) first
            rows = f"SELECT k, s, bk, count(*) AS n FROM ({rows}) r GROUP BY k, s, bk"
        features = self.features
        # A lambda, not a partial: Spark reads a grouped-map function's type hints.
        work = lambda frame: bucket_part(  # noqa: E731
            frame, features=features, levels=levels, probability=is_probability
        )
        group_counts, self._sorted_summary = bucket_parts_summary(
            self.runner.grouped(rows, work), self.features, levels, is_probability=is_probability
        )
        return group_counts

    def _score_summary(self, scan: _Scan) -> ScoreSummary | None:
        """Return the score sums of every grouping from ``fa_agg`` (None without scores)."""
        if self.spec.score_col is None:
            return None
        if self._sorted_summary is not None:
            return self._sorted_summary
        return sql_score_summary(
            self.runner,
            self.dialect,
            self.features,
            self._materialize,
            is_probability=bool(scan.score_min >= 0 and scan.score_max <= 1),
            score_min=scan.score_min,
            score_max=scan.score_max,
        )
