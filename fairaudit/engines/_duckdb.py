"""The DuckDB engine: stream CSV or Parquet of any size out of core, aggregate in SQL.

Only the needed columns are read. Three scans of the file: whole-table checks (row and
missing counts, score validity), the distinct values of the label, prediction and
unbinned sensitive columns (one GROUPING SETS query), and the counting pass, which
groups rows by (codes, label, prediction). With a score column, that pass streams each
row's (cell, label, prediction) key and score instead: into memory when the rows fit,
where the numpy engine's code sums them (``_rank_sums``), else sorted by score, summed
chunk by chunk with running counts (``_sql_scores.sorted_score_summary``).

Group levels, label handling and every check and error message are those of
``data.load_evaluation_data``: the distinct values of a column are converted to pandas
with the dtype pandas would give the whole column (CSV: parsed by ``pandas.read_csv``
itself; Parquet: through pyarrow, as ``pandas.read_parquet`` does) and passed through
``data.binarize`` / ``data.encode_sensitive``; the resulting value -> code maps are
joined back in SQL. The SQL (``_sql.SqlCounter``) is also run by the Spark engine, in
Spark's dialect.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from fairaudit.data import (
    MSG_CANNOT_READ,
    MSG_MORE_FIELDS,
    MSG_NOT_UTF8,
    check_data_path,
    csv_header,
    error_first_line,
    file_sha256,
    header_checks,
)
from fairaudit.engines._sql import SqlCounter
from fairaudit.engines._sql_source import DUCKDB, SqlRunner, SqlSource, sql_ident, sql_literal
from fairaudit.engines._types import EngineCounts, memory_bytes
from fairaudit.errors import ConfigError, DataError
from fairaudit.spec import AuditSpec

T = TypeVar("T")

__all__ = [
    "count_duckdb",
    "duckdb_connection",
    "duckdb_runner",
    "duckdb_source",
    "translate_duckdb_error",
    "with_serial_retry",
]

#: Rows per Arrow batch of the score-sorted stream.
_BATCH_ROWS = 1 << 20

MSG_TOKENIZING = (
    "cannot read data file '{path}': Error tokenizing data. C error: Expected "
    "{expected} fields in line {line}, saw {found}"
)


def duckdb_source(path: Path, fmt: str, *, parallel: bool = True) -> SqlSource:
    """Return the SqlSource of a CSV or Parquet file; ``parallel=False`` reads a CSV file
    with DuckDB's serial reader (see ``with_serial_retry``)."""
    display = str(path)
    location = sql_literal(str(path))
    if fmt == "csv":
        try:
            names = csv_header(path)
        except UnicodeDecodeError:
            raise DataError(MSG_NOT_UTF8.format(path=path)) from None
        columns, checks = header_checks(names, display)
        # Every field as text, no sniffing: pandas' dialect (comma, double quotes, an
        # empty field is missing, short rows padded); typing follows pandas later.
        spec_columns = ", ".join(f"{sql_literal(f'c{j}')}: 'VARCHAR'" for j in range(len(names)))
        relation = (
            f"read_csv({location}, delim=',', quote='\"', escape='\"', header=true, "
            f"auto_detect=false, all_varchar=true, strict_mode=true, null_padding=true, "
            f"{'' if parallel else 'parallel=false, '}columns={{{spec_columns}}})"
        )
        column_sql = {name: f"c{j}" for j, name in enumerate(names) if name.strip()}
        return SqlSource(display, fmt, relation, columns, column_sql, None, None, None, checks)
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several types for a malformed file
        raise DataError(MSG_CANNOT_READ.format(path=path, reason=error_first_line(exc))) from None
    names = [str(n) for n in schema.names]
    columns, checks = header_checks(names, display)
    relation = f"read_parquet({location}, file_row_number=true)"
    column_sql = {name: sql_ident(name) for name in columns}
    types = {name: schema.field(name).type for name in columns}
    return SqlSource(
        display, fmt, relation, columns, column_sql, types, "file_row_number", None, checks
    )


@contextlib.contextmanager
def duckdb_connection(
    memory_limit: str | None, temp_directory: str | Path | None, threads: int | None
) -> Iterator[Any]:
    import duckdb

    with contextlib.ExitStack() as stack:
        if temp_directory is None:
            temp_directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="fairaudit-"))
        config: dict[str, Any] = {
            "memory_limit": memory_limit or f"{max(memory_bytes() // 2 >> 20, 256)}MB",
            "temp_directory": str(temp_directory),
        }
        if threads:
            config["threads"] = int(threads)
        con = duckdb.connect(":memory:", config=config)
        stack.callback(con.close)
        con.execute("SET enable_progress_bar = false")
        yield con


def duckdb_runner(con: Any) -> SqlRunner:
    import pyarrow as pa

    def register(name: str, data: tuple[list[Any], list[int]]) -> None:
        raw, codes = data
        # Python values in DuckDB's own types round-trip through Arrow unchanged.
        try:
            values = pa.array(raw)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            values = pa.array([str(v) for v in raw])
        table = pa.table({"v": values, "code": pa.array(codes, type=pa.int64())})
        con.register(name, table)

    return SqlRunner(
        rows=lambda sql: con.sql(sql).fetchall(),
        execute=lambda sql: con.execute(sql),
        register=register,
        batches=lambda sql: iter(con.sql(sql).to_arrow_reader(_BATCH_ROWS)),
    )


def translate_duckdb_error(exc: Exception, path: Path) -> DataError:
    text = str(exc).strip()
    wide = re.search(r"Line: (\d+).*Expected Number of Columns: (\d+) Found: (\d+)", text, re.S)
    if wide:
        line, expected, found = wide.groups()
        if line == "2":  # the first data row: pandas warns, data.read_table says this
            return DataError(MSG_MORE_FIELDS.format(path=path))
        return DataError(
            MSG_TOKENIZING.format(path=path, expected=expected, line=line, found=found)
        )
    if "Invalid unicode" in text or "not utf-8" in text.lower():
        return DataError(MSG_NOT_UTF8.format(path=path))
    return DataError(MSG_CANNOT_READ.format(path=path, reason=error_first_line(exc)))


def with_serial_retry(
    path: Path,
    fmt: str,
    attempt: Callable[[SqlSource, Any], T],
    *,
    memory_limit: str | None = None,
    temp_directory: str | Path | None = None,
    threads: int | None = None,
) -> T:
    """Return ``attempt(source, connection)`` on a fresh DuckDB connection, DuckDB errors
    translated. DuckDB's parallel CSV reader refuses a line break inside a quoted field when
    short rows are padded (null_padding), which pandas reads: such a CSV is read again with
    the serial reader, which reads it as pandas does."""
    import duckdb

    for parallel in (True, False):
        source = duckdb_source(path, fmt, parallel=parallel)
        with duckdb_connection(memory_limit, temp_directory, threads) as con:
            try:
                return attempt(source, con)
            except duckdb.Error as exc:
                if not (parallel and fmt == "csv" and "CSV Error" in str(exc)):
                    raise translate_duckdb_error(exc, path) from None
    raise AssertionError("unreachable: the serial attempt returns or raises")


def count_duckdb(
    spec: AuditSpec,
    *,
    memory_limit: str | None = None,
    temp_directory: str | Path | None = None,
    threads: int | None = None,
    counter: Callable[..., Any] = SqlCounter,
) -> EngineCounts:
    """Return the EngineCounts of ``spec``'s CSV or Parquet file, aggregated by DuckDB
    (``counter``: the pass to run, ``SqlCounter``; a task's counter for regression and multiclass).

    Parameters
    ----------
    memory_limit:
        DuckDB's ``memory_limit`` (e.g. ``"4GB"``); default half the machine's memory.
        Beyond it DuckDB spills to ``temp_directory`` (default a fresh temporary folder).
    threads:
        DuckDB worker threads (default: all cores).
    """
    try:
        import duckdb  # noqa: F401 - only to say what to install when it is missing
    except ImportError:  # pragma: no cover - duckdb is a dependency of the extra
        raise ConfigError(
            "the duckdb engine needs the duckdb package: pip install duckdb"
        ) from None
    if spec.prediction_col is None:
        raise ConfigError(
            "the duckdb engine audits precomputed predictions: pass --prediction-col COL"
        )
    path = Path(spec.data)
    fmt = check_data_path(path)
    result = with_serial_retry(
        path,
        fmt,
        lambda source, con: counter(spec, source, DUCKDB, duckdb_runner(con)).run(),
        memory_limit=memory_limit,
        temp_directory=temp_directory,
        threads=threads,
    )
    sha = file_sha256(path)
    result.lineage_data["sha256"] = sha
    result.lineage_data["path"] = path.as_posix()
    return result
