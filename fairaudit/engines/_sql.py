"""The counting pass in SQL, shared by the DuckDB and Spark engines.

``SqlCounter`` runs it for one AuditSpec over one ``SqlSource`` through a ``SqlRunner``;
``Dialect`` holds the few spellings that differ (``DUCKDB``, ``SPARK``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.counts import GroupCounts
from fairaudit.data import (
    MISSING_GROUP,
    MSG_NESTED_COLUMN,
    Check,
    _bin_labels,
    _shorten,
    _value_text,
    binarize,
    check_prediction_values,
    encode_sensitive,
)
from fairaudit.engines import (
    BRIER_SCALE,
    EngineCounts,
    ScoreSummary,
    ScoreSums,
    _groupings,
    check_reference,
)
from fairaudit.errors import DataError
from fairaudit.spec import AuditSpec

# How pandas' C parser reads a field as a number (it strips surrounding whitespace).
_INT_PATTERN = r"\s*[+-]?[0-9]+\s*"
_FLOAT_PATTERN = r"\s*[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|(?i:inf|infinity))\s*"
_SCALE = f"CAST({BRIER_SCALE} AS DOUBLE)"


@dataclass(frozen=True)
class Dialect:
    """The few SQL spellings that differ between DuckDB and Spark SQL."""

    name: str
    big_int: str
    regex_template: str

    def full_match(self, expr: str, pattern: str) -> str:
        """Return SQL that is true when ``expr`` matches ``pattern`` entirely."""
        return self.regex_template.format(expr=expr, pattern=_literal(pattern))

    def is_inf(self, expr: str) -> str:
        return f"abs({expr}) = CAST('Infinity' AS DOUBLE)"


DUCKDB = Dialect("duckdb", "HUGEINT", "regexp_full_match({expr}, {pattern})")
SPARK = Dialect("spark", "DECIMAL(38,0)", "({expr} RLIKE CONCAT('^(?:', {pattern}, ')$'))")


def _literal(text: str) -> str:
    """Return a SQL string literal (quotes doubled; valid in DuckDB and Spark)."""
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    """Return a quoted SQL identifier for DuckDB (double quotes)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass
class SqlSource:
    """Where the rows are and how SQL reaches them.

    ``relation`` is the FROM clause of the raw rows; ``column_sql`` maps each column the
    user sees to its SQL expression there; ``arrow_types`` is None for CSV (every field
    is text and typed as pandas would) else each column's Arrow type;
    ``row_number`` an SQL expression increasing in file order, if any.
    """

    display: str
    format: str
    relation: str
    columns: list[str]
    column_sql: dict[str, str]
    arrow_types: dict[str, Any] | None
    row_number: str | None
    sha256: str | None
    checks: list[Check] = field(default_factory=list)


@dataclass
class SqlRunner:
    """Runs SQL: ``rows`` returns a list of tuples, ``execute`` runs a statement,
    ``register`` makes a (name, column names, arrow-compatible rows) table visible."""

    rows: Callable[[str], list[tuple]]
    execute: Callable[[str], None]
    register: Callable[[str, Any], None]
    arrow_type: Callable[[str], Any] | None = None


def _is_float_type(arrow_type: Any) -> bool:
    import pyarrow as pa

    value = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    return bool(pa.types.is_floating(value))


def _nested_kind(arrow_type: Any) -> str | None:
    """Return what a Parquet column of ``arrow_type`` holds per row if not one value."""
    import pyarrow as pa

    if arrow_type is None or not pa.types.is_nested(arrow_type):
        return None
    return "structs" if pa.types.is_struct(arrow_type) else "lists"


def _is_numeric_type(arrow_type: Any) -> bool:
    """Return whether pandas reads the column as a numeric (not bool) dtype."""
    import pyarrow as pa

    return bool(pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type))


def _typed_series(values: Sequence[Any], source: SqlSource, column: str) -> pd.Series:
    """Return the distinct ``values`` of a column with the dtype pandas gives the column."""
    if source.arrow_types is None:
        # Let pandas' own CSV parser type them: a column's dtype depends only on its set
        # of values (whitespace, "True"/"true", ints vs floats, ...).
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        writer.writerow(["v", "z"])
        for value in values:
            writer.writerow(["" if value is None else value, "0"])
        buffer.seek(0)
        frame = pd.read_csv(
            buffer,
            keep_default_na=False,
            na_values=[""],
            index_col=False,
            low_memory=False,
            dtype={"z": "int64"},
        )
        return frame["v"]
    import pyarrow as pa

    arrow_type = source.arrow_types[column]
    if pa.types.is_dictionary(arrow_type):
        array = pa.array(list(values), type=arrow_type.value_type).dictionary_encode()
    else:
        array = pa.array(list(values), type=arrow_type)
    return pd.Series(array.to_pandas(), name="v")


@dataclass
class _Distinct:
    """Distinct values of one column: typed, with rows kept and first kept row."""

    values: pd.Series
    raw: list[Any]
    n_kept: np.ndarray
    first: np.ndarray | None

    def kept(self, order: Sequence[int] | None = None) -> tuple[pd.Series, np.ndarray]:
        """Return the kept values (in first-appearance order if known) and their indices."""
        index = np.flatnonzero(self.n_kept > 0)
        if order is not None:
            index = np.asarray(order, dtype=np.int64)
        elif self.first is not None:
            index = index[np.argsort(self.first[index], kind="stable")]
        return self.values.iloc[index].reset_index(drop=True), index


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
        # Brier sums only for probabilities: larger squared errors overflow the fixed point.
        self._probability = False

    # -- SQL helpers -------------------------------------------------------------------
    def _col(self, column: str) -> str:
        """Return the raw column's SQL with NaN read as missing (pandas' isna)."""
        expr = self.source.column_sql[column]
        types = self.source.arrow_types
        if types is not None and _is_float_type(types[column]):
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

    def _one(self, sql: str) -> tuple:
        return self.runner.rows(sql)[0]

    # -- the pass ------------------------------------------------------------------------
    def run(self) -> EngineCounts:
        spec = self.spec
        source = self.source
        checks = list(source.checks)
        roles = {spec.target: "--target"}
        for column in spec.sensitive:
            roles[column] = "--sensitive"
        if spec.prediction_col:
            roles[spec.prediction_col] = "--prediction-col"
        if spec.score_col:
            roles[spec.score_col] = "--score-col"
        for column in spec.id_cols:
            roles[column] = "id_cols"
        for column, flag in roles.items():
            if column not in source.columns:
                raise DataError(
                    f"column {column!r} ({flag}) not found in '{source.display}'; its columns "
                    f"are: {_shorten(list(source.columns), 12)}"
                )
            kind = None if source.arrow_types is None else _nested_kind(source.arrow_types[column])
            if flag != "id_cols" and kind is not None:
                raise DataError(MSG_NESTED_COLUMN.format(column=column, flag=flag, kind=kind))
        self._create_view()
        binned = [i for i, c in enumerate(self.features) if c in spec.bins]
        valued = [i for i, c in enumerate(self.features) if c not in spec.bins]

        # Scan 1: whole-table counts.
        aggs = [
            "count(*)",
            "count(*) FILTER (WHERE t IS NULL)",
            "count(*) FILTER (WHERE p IS NULL)",
            "count(*) FILTER (WHERE NOT kept)",
        ]
        aggs += [f"count(*) FILTER (WHERE f{i} IS NULL)" for i in range(len(self.features))]
        numeric_check = [i for i in binned if source.arrow_types is None]
        for i in numeric_check:
            number = " OR ".join(
                self.dialect.full_match(f"f{i}", p) for p in (_INT_PATTERN, _FLOAT_PATTERN)
            )
            aggs.append(f"count(*) FILTER (WHERE f{i} IS NOT NULL AND NOT ({number}))")
        if spec.score_col is not None:
            aggs += [
                "count(*) FILTER (WHERE sd IS NULL OR isnan(sd))",
                f"count(*) FILTER (WHERE {self.dialect.is_inf('sd')})",
                "min(sd) FILTER (WHERE kept)",
                "max(sd) FILTER (WHERE kept)",
            ]
        first = self._one(f"SELECT {', '.join(aggs)} FROM fa_src")
        rows_read, t_missing, p_missing, n_dropped = (int(v) for v in first[:4])
        f_missing = [int(v) for v in first[4 : 4 + len(self.features)]]
        rest = list(first[4 + len(self.features) :])
        non_numeric = {i: int(rest.pop(0)) for i in numeric_check}

        if rows_read == 0:
            raise DataError(f"data file '{source.display}' has no rows")
        checks.append(
            Check("rows", "info", f"{rows_read} rows and {len(source.columns)} columns read")
        )
        required: tuple[tuple[str | None, str, int], ...] = (
            (spec.target, "target", t_missing),
            (spec.prediction_col, "prediction", p_missing),
        )
        for role_column, flag, n_missing in required:
            if n_missing:
                raise DataError(
                    f"{flag} column {role_column!r} has {n_missing} missing values in "
                    f"'{source.display}'; fill or remove those rows"
                )
            checks.append(
                Check(
                    f"missing_{flag}", "ok", f"no missing values in {flag} column {role_column!r}"
                )
            )
        score_min = score_max = float("nan")
        if spec.score_col is not None:
            bad, infinite, low, high = rest[:4]
            if bad:
                raise DataError(
                    f"score column {spec.score_col!r} has {int(bad)} missing or non-numeric "
                    f"values in '{source.display}'; scores must be numbers"
                )
            if infinite:
                raise DataError(
                    f"score column {spec.score_col!r} has infinite values; scores must be finite"
                )
            if low is not None and high is not None:  # None: every row dropped
                score_min, score_max = float(low), float(high)
        for column, n_missing in zip(self.features, f_missing):
            if not n_missing:
                checks.append(
                    Check(
                        "missing_sensitive",
                        "ok",
                        f"no missing values in sensitive column {column!r}",
                    )
                )
                continue
            if spec.missing_sensitive == "error":
                raise DataError(
                    f"sensitive column {column!r} has {n_missing} missing values in "
                    f"'{source.display}'; pass --missing-sensitive group (a '(missing)' "
                    "group) or --missing-sensitive drop (drop those rows)"
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
        rows = rows_read
        if spec.missing_sensitive == "drop" and n_dropped:
            rows = rows_read - n_dropped
            checks.append(
                Check(
                    "rows_dropped",
                    "warning",
                    f"{n_dropped} rows dropped because a sensitive value is missing; "
                    f"{rows} rows audited",
                )
            )
            if rows == 0:
                raise DataError(
                    "every row has a missing sensitive value, so none is left to audit; "
                    "use --missing-sensitive group instead"
                )

        # Scan 2: distinct values of the label, prediction and unbinned sensitive columns.
        distinct = self._distinct(["t", "p", *[f"f{i}" for i in valued]])
        label = distinct["t"]
        label_kept, label_index = label.kept(self._order("t", label))
        y_value = binarize(label_kept, spec.positive_label, column=spec.target, role="label")
        label_values = tuple(_value_text(v) for v in pd.unique(label_kept))
        label_n = label.n_kept[label_index]
        n_positive = int(label_n[y_value].sum())
        if spec.positive_label is not None and not n_positive:
            raise DataError(
                f"positive label {spec.positive_label!r} does not occur in label column "
                f"{spec.target!r} (its values: {_shorten(label_values)}); check --positive-label"
            )
        n_negative = rows - n_positive
        classes = int(n_positive > 0) + int(n_negative > 0)
        checks.append(
            Check(
                "label_classes",
                "ok" if classes == 2 else "warning",
                f"label column {spec.target!r}: {n_positive} positive, {n_negative} negative",
            )
        )

        levels: list[tuple[str, ...]] = []
        code_maps: dict[int, tuple[list[Any], np.ndarray]] = {}
        missing_code: dict[int, int] = {}
        for i, column in enumerate(self.features):
            if column in spec.bins:
                numeric = (
                    non_numeric[i] == 0
                    if source.arrow_types is None
                    else _is_numeric_type(source.arrow_types[column])
                )
                if not numeric:
                    raise DataError(
                        f"bins are given for sensitive column {column!r}, but its values are "
                        "not numbers; remove its bins or fix the column"
                    )
                names = _bin_labels(spec.bins[column])
                if f_missing[i] and spec.missing_sensitive == "group":
                    names.append(MISSING_GROUP)
                missing_code[i] = len(names) - 1
                levels.append(tuple(names))
                continue
            d = distinct[f"f{i}"]
            kept_values, index = d.kept()
            feature = encode_sensitive(kept_values, column=column, edges=None)
            levels.append(feature.levels)
            code_maps[i] = ([d.raw[j] for j in index], feature.codes)
            missing_code[i] = len(feature.levels) - 1
        for i, column in enumerate(self.features):
            if column in spec.bins:
                checks.append(
                    Check(
                        "binned",
                        "info",
                        f"sensitive column {column!r} binned into {', '.join(levels[i])}",
                    )
                )
        check_reference(spec, self.features, tuple(levels))

        prediction = distinct["p"]
        pred_kept, pred_index = prediction.kept(self._order("p", prediction))
        source_name = f"predictions in column {spec.prediction_col!r}"
        check_prediction_values(pred_kept, label_values, spec.positive_label, source_name)
        assert spec.prediction_col is not None
        yhat_value = binarize(
            pred_kept, spec.positive_label, column=spec.prediction_col, role="prediction"
        )

        # Scan 3: the counts (and the (cell, score) aggregate for score sums).
        self._register_map("fa_map_t", [label.raw[j] for j in label_index], y_value)
        self._register_map("fa_map_p", [prediction.raw[j] for j in pred_index], yhat_value)
        for i, (raw, codes) in code_maps.items():
            self._register_map(f"fa_map_f{i}", raw, codes)
        code_sql = []
        joins = [
            "LEFT JOIN fa_map_t mt ON fa_src.t = mt.v",
            "LEFT JOIN fa_map_p mp ON fa_src.p = mp.v",
        ]
        for i, column in enumerate(self.features):
            if column in spec.bins:
                x = f"TRY_CAST(fa_src.f{i} AS DOUBLE)"
                terms = " + ".join(
                    f"CASE WHEN {x} >= CAST({_literal(repr(float(e)))} AS DOUBLE) THEN 1 ELSE 0 END"
                    for e in spec.bins[column]
                )
                code_sql.append(
                    f"CASE WHEN fa_src.f{i} IS NULL THEN {missing_code[i]} ELSE {terms} END AS c{i}"
                )
            else:
                joins.append(f"LEFT JOIN fa_map_f{i} m{i} ON fa_src.f{i} = m{i}.v")
                code_sql.append(f"COALESCE(m{i}.code, {missing_code[i]}) AS c{i}")
        cols = [f"c{i}" for i in range(len(self.features))]
        inner = (
            f"SELECT {', '.join(code_sql)}, mt.code AS y, mp.code AS yhat"
            + (", sd + CAST(0 AS DOUBLE) AS s" if spec.score_col is not None else "")
            + f" FROM fa_src {' '.join(joins)} WHERE fa_src.kept"
        )
        keys = [*cols, "y", "yhat"]
        if spec.score_col is not None:
            self._materialize(
                "fa_agg",
                f"SELECT {', '.join(keys)}, s, count(*) AS n FROM ({inner}) q "
                f"GROUP BY {', '.join(keys)}, s",
            )
            count_rows = self.runner.rows(
                f"SELECT {', '.join(keys)}, sum(n) FROM fa_agg GROUP BY {', '.join(keys)}"
            )
        else:
            count_rows = self.runner.rows(
                f"SELECT {', '.join(keys)}, count(*) FROM ({inner}) q GROUP BY {', '.join(keys)}"
            )
        group_counts = _group_counts(self.features, tuple(levels), count_rows)
        scores = None
        if spec.score_col is not None:
            is_probability = bool(score_min >= 0 and score_max <= 1)
            scores = self._score_summary(group_counts, is_probability, score_min, score_max)
        return EngineCounts(
            engine=self.dialect.name,
            group_counts=group_counts,
            checks=tuple(checks),
            rows_read=rows_read,
            rows=rows,
            label_values=label_values,
            scores=scores,
            lineage_data={
                "path": source.display,
                "file_name": Path(source.display).name,
                "sha256": source.sha256,
                "format": source.format,
                "rows": rows,
                "rows_read": rows_read,
                "columns": list(source.columns),
            },
            prediction_source={
                "source": "column",
                "column": spec.prediction_col,
                "score": spec.score_col,
            },
        )

    def _distinct(self, aliases: list[str]) -> dict[str, _Distinct]:
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
            out[alias] = _Distinct(
                values=_typed_series(raw, self.source, column),
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

    def _order(self, alias: str, d: _Distinct) -> list[int] | None:
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

    def _register_map(self, name: str, raw: list[Any], codes: np.ndarray) -> None:
        self.runner.register(name, (raw, np.asarray(codes).astype(np.int64).tolist()))

    def _materialize(self, name: str, select: str) -> None:
        if self.dialect.name == "spark":
            self.runner.execute(f"DROP VIEW IF EXISTS {name}")
            self.runner.execute(f"CACHE TABLE {name} AS {select}")
        else:
            self.runner.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select}")

    def _score_summary(
        self, group_counts: GroupCounts, is_probability: bool, low: float, high: float
    ) -> ScoreSummary:
        self._probability = is_probability
        by_grouping = {
            name: self._score_sums([f"c{i}" for i in indices])
            for name, indices in _groupings(self.features)
        }
        return ScoreSummary(
            by_grouping=by_grouping,
            overall=self._score_sums([]),
            is_probability=is_probability,
            score_min=low,
            score_max=high,
        )

    def _score_sums(self, group_cols: list[str]) -> ScoreSums:
        big = self.dialect.big_int
        probability = self._probability
        if group_cols:
            select_g = ", ".join(group_cols)
            group_by = ", ".join([*group_cols, "s"])
            partition = select_g
        else:
            select_g = "0 AS zz"
            group_by = "s"
            partition = "zz"
            group_cols = ["zz"]
        brier = ""
        if probability:
            t = "((s - CAST(y AS DOUBLE)) * (s - CAST(y AS DOUBLE)))"
            brier = (
                f", sum(CAST(n AS {big}) * CAST(floor({t} * {_SCALE}) AS BIGINT)) AS br1"
                f", sum(CAST(n AS {big}) * CAST(floor({t} * {t} * {_SCALE}) AS BIGINT)) AS br2"
            )
        blocks = (
            f"SELECT {select_g}, s, sum(CASE WHEN y = 1 THEN n ELSE 0 END) AS pos, "
            f"sum(CASE WHEN y = 1 THEN 0 ELSE n END) AS neg{brier} FROM fa_agg GROUP BY {group_by}"
        )
        window = (
            f"SELECT *, sum(neg) OVER (PARTITION BY {partition} ORDER BY s ROWS BETWEEN "
            f"UNBOUNDED PRECEDING AND CURRENT ROW) - neg AS neg_below, "
            f"sum(pos) OVER (PARTITION BY {partition}) - sum(pos) OVER (PARTITION BY "
            f"{partition} ORDER BY s ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) "
            f"AS pos_above FROM ({blocks}) b"
        )
        a = f"(2 * CAST(neg_below AS {big}) + CAST(neg AS {big}))"
        b = f"(2 * CAST(pos_above AS {big}) + CAST(pos AS {big}))"
        cols = ", ".join(group_cols)
        sums = [
            "sum(pos)",
            "sum(neg)",
            f"sum(CAST(pos AS {big}) * {a})",
            f"sum(CAST(pos AS {big}) * {a} * {a})",
            f"sum(CAST(neg AS {big}) * {b} * {b})",
        ]
        if probability:
            sums += ["sum(br1)", "sum(br2)"]
        rows = self.runner.rows(
            f"SELECT {cols}, {', '.join(sums)} FROM ({window}) w GROUP BY {cols} ORDER BY {cols}"
        )
        k = len(group_cols)
        ints = [[int(v) for v in r[k:]] for r in rows]
        groups = (
            np.array([[int(v) for v in r[:k]] for r in rows], dtype=np.int64).reshape(len(rows), k)
            if cols != "zz"
            else np.zeros((1, 0), dtype=np.int64)
        )

        def column(j: int) -> tuple[int, ...]:
            return tuple(r[j] for r in ints)

        return ScoreSums(
            groups=groups,
            n_pos=column(0),
            n_neg=column(1),
            u2=column(2),
            a2=column(3),
            b2=column(4),
            brier1=column(5) if probability else None,
            brier2=column(6) if probability else None,
        )


def _group_counts(
    features: tuple[str, ...], levels: tuple[tuple[str, ...], ...], rows: list[tuple]
) -> GroupCounts:
    """Return the GroupCounts of aggregated (codes..., y, yhat, n) rows, as count_groups would."""
    k = len(features)
    table = np.array([[int(v) for v in r] for r in rows], dtype=np.int64).reshape(len(rows), k + 3)
    codes = table[:, :k]
    cells, inverse = np.unique(codes, axis=0, return_inverse=True)
    counts = np.zeros((len(cells), 4), dtype=np.int64)
    np.add.at(counts, (inverse.reshape(-1), 2 * table[:, k] + table[:, k + 1]), table[:, k + 2])
    return GroupCounts(
        features=features,
        levels=levels,
        cells=cells.astype(np.int64).reshape(len(cells), k),
        counts=counts,
    )
