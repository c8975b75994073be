"""What the SQL counting pass runs on: the dialect, the source of rows, the runner, and
the distinct values of a column typed as pandas would type the whole column."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.data import Check

__all__ = [
    "CASE_MAX_VALUES",
    "bin_code_sql",
    "case_code_sql",
    "DUCKDB",
    "SPARK",
    "Dialect",
    "Distinct",
    "SqlRunner",
    "SqlSource",
    "is_float_type",
    "is_numeric_type",
    "nested_kind",
    "sql_ident",
    "sql_literal",
    "typed_series",
]


def sql_literal(text: str) -> str:
    """Return a SQL string literal (quotes doubled; valid in DuckDB and Spark)."""
    return "'" + text.replace("'", "''") + "'"


def bin_code_sql(i: int, edges: Sequence[float], missing_code: int) -> str:
    """Return the SQL code of binned feature ``i`` of ``fa_src``: the number of edges at or
    below its value, ``missing_code`` when it is NULL (``data.encode_sensitive``'s bins)."""
    x = f"TRY_CAST(fa_src.f{i} AS DOUBLE)"
    terms = " + ".join(
        f"CASE WHEN {x} >= CAST({sql_literal(repr(float(e)))} AS DOUBLE) THEN 1 ELSE 0 END"
        for e in edges
    )
    return f"CASE WHEN fa_src.f{i} IS NULL THEN {missing_code} ELSE {terms} END"


#: Up to this many distinct values, DuckDB maps a column to its codes with one CASE
#: expression instead of a LEFT JOIN with the map table: at 1M rows the counting pass's
#: row stream took 0.07-0.08 s with CASE against 0.11-0.12 s with four joins (benchmarks).
CASE_MAX_VALUES = 64
_INT64_RANGE = range(-(2**63), 2**63)


def case_code_sql(expr: str, raw: Sequence[Any], codes: Sequence[int]) -> str | None:
    """Return ``expr``'s code as a CASE expression over ``raw`` values -> ``codes``, NULL
    when no value is equal, as the LEFT JOIN with the map table gives; BIGINT, as the map's
    codes are.

    None (use the join) unless every value is text (without NUL) or a 64-bit integer and
    there are at most ``CASE_MAX_VALUES`` of them: other types (floats, decimals, dates,
    booleans) keep the join's comparison of typed values.
    """
    if not raw or len(raw) > CASE_MAX_VALUES:
        return None
    if all(type(v) is str and "\x00" not in v for v in raw):
        literals = [sql_literal(v) for v in raw]
    elif all(type(v) is int and v in _INT64_RANGE for v in raw):
        literals = [str(v) for v in raw]
    else:
        return None
    whens = " ".join(f"WHEN {lit} THEN {int(c)}" for lit, c in zip(literals, codes, strict=True))
    return f"CAST(CASE {expr} {whens} END AS BIGINT)"


def sql_ident(name: str) -> str:
    """Return a quoted SQL identifier for DuckDB (double quotes)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Dialect:
    """The few SQL spellings that differ between DuckDB and Spark SQL."""

    name: str
    big_int: str
    regex_template: str

    def full_match(self, expr: str, pattern: str) -> str:
        """Return SQL that is true when ``expr`` matches ``pattern`` entirely."""
        return self.regex_template.format(expr=expr, pattern=sql_literal(pattern))

    def is_inf(self, expr: str) -> str:
        """Return SQL that is true when ``expr`` is infinite."""
        return f"abs({expr}) = CAST('Infinity' AS DOUBLE)"


DUCKDB = Dialect("duckdb", "HUGEINT", "regexp_full_match({expr}, {pattern})")
SPARK = Dialect("spark", "DECIMAL(38,0)", "({expr} RLIKE CONCAT('^(?:', {pattern}, ')$'))")


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

    def lineage(self, rows: int, rows_read: int) -> dict[str, Any]:
        """Return the result's ``lineage.data`` of these rows (path, digest, counts)."""
        return {
            "path": self.display,
            "file_name": Path(self.display).name,
            "sha256": self.sha256,
            "format": self.format,
            "rows": rows,
            "rows_read": rows_read,
            "columns": list(self.columns),
        }


@dataclass
class SqlRunner:
    """Runs SQL: ``rows`` returns a list of tuples, ``execute`` runs a statement,
    ``register`` makes a (name, column names, arrow-compatible rows) table visible."""

    rows: Callable[[str], list[tuple]]
    execute: Callable[[str], None]
    register: Callable[[str, Any], None]
    arrow_type: Callable[[str], Any] | None = None
    #: Streams a query's result as Arrow record batches (None: not supported).
    batches: Callable[[str], Iterator[Any]] | None = None
    #: Runs a function of a pandas DataFrame on the rows of a query grouped by its column
    #: ``bk``, where the rows are (Spark's ``applyInPandas``); returns its (bk, part) rows.
    grouped: Callable[[str, Callable[[Any], Any]], list[tuple]] | None = None


def is_float_type(arrow_type: Any) -> bool:
    """Return whether an Arrow type holds floats (so NaN must read as missing)."""
    import pyarrow as pa

    value = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    return bool(pa.types.is_floating(value))


def nested_kind(arrow_type: Any) -> str | None:
    """Return what a Parquet column of ``arrow_type`` holds per row if not one value."""
    import pyarrow as pa

    if arrow_type is None or not pa.types.is_nested(arrow_type):
        return None
    return "structs" if pa.types.is_struct(arrow_type) else "lists"


def is_numeric_type(arrow_type: Any) -> bool:
    """Return whether pandas reads the column as a numeric (not bool) dtype."""
    import pyarrow as pa

    return bool(pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type))


def typed_series(values: Sequence[Any], source: SqlSource, column: str) -> pd.Series:
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
class Distinct:
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
