"""The Spark engine: the counting pass as a Spark job; only the counts come back.

Input is a Parquet path or a table, ``spark:db.table``. The SQL is the DuckDB engine's
(``SqlCounter``) in Spark's dialect, so both return the same counts and score sums. Score
sums are computed per score bucket in Spark's Python workers (``applyInPandas`` running
``_sql_scores.bucket_part``, the numpy engine's code), so the executors' Python needs
fairaudit installed (``pip install 'fairaudit[spark]'``); a local master uses this
Python. The
session is ``SparkSession.builder.getOrCreate()``: ``local[*]`` by default, any cluster
through standard Spark configuration (``SPARK_REMOTE`` for Spark Connect,
``spark-submit --master ...``, ``spark-defaults.conf``), or pass ``session=``.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fairaudit.data import check_data_path, file_sha256, header_checks
from fairaudit.engines._sql import SqlCounter
from fairaudit.engines._sql_source import SPARK, SqlRunner, SqlSource
from fairaudit.engines._types import SPARK_TABLE_PREFIX, EngineCounts
from fairaudit.errors import ConfigError, DataError
from fairaudit.spec import AuditSpec

__all__ = ["PYSPARK_MISSING", "count_spark", "spark_session"]

PYSPARK_MISSING = (
    "the spark engine needs pyspark: pip install 'fairaudit[spark]' (or use --engine duckdb)"
)
SPARK_NEEDS_PARQUET = (
    "the spark engine reads Parquet or a table (spark:db.table), not '{path}'; "
    "use --engine duckdb for CSV"
)
_VIEWS = ("fa_raw", "fa_src", "fa_map_t", "fa_map_p", "fa_agg", "fa_blocks", "fa_offsets")
_CACHED = ("fa_offsets", "fa_blocks", "fa_agg")


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


#: log4j2 settings that keep Spark's log lines off the terminal (errors only). The shell's
#: logger (the gateway's, under pyspark) at the root's level also silences "Setting
#: default log level to ...".
_QUIET_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = error
logger.py.name = org.apache.spark.api.python.PythonGatewayServer
logger.py.level = error
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
"""


def _quiet_log4j2() -> str:
    """Return the file: URI of the quiet log4j2 configuration, written once per user."""
    path = Path(tempfile.gettempdir()) / f"fairaudit-log4j2-quiet-{os.getuid()}.properties"
    if not path.exists() or path.read_text() != _QUIET_LOG4J2:
        path.write_text(_QUIET_LOG4J2)
    return path.as_uri()


def _local_cores(master: str | None) -> int | None:
    """Return the cores of a local master (``local``, ``local[4]``, ``local[*]``; also no
    master and no ``SPARK_REMOTE``, which Spark runs as ``local[*]``), else None."""
    if master is None and any(
        os.environ.get(k) for k in ("SPARK_REMOTE", "MASTER", "PYSPARK_SUBMIT_ARGS")
    ):
        return None
    found = re.fullmatch(r"local(?:\[(\d+|\*)(?:,\d+)?\])?", master or "local[*]")
    if found is None:
        return None
    cores = found.group(1)
    return int(cores) if cores and cores != "*" else (os.cpu_count() or 1) if cores else 1


def spark_session(master: str | None = None, *, verbose: bool = False) -> Any:
    """Return the Spark session an audit runs on.

    An active session (``spark-submit``, a notebook) is used as it is; otherwise one is
    built by ``SparkSession.builder``: against ``master`` if given (``sc://...`` is a
    Spark Connect URL), else whatever the environment says (``SPARK_REMOTE``,
    ``spark-defaults.conf``; ``local[*]`` by default). Unless ``verbose``, Spark's log
    lines (below errors) and console progress bars are kept off the terminal.
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName("fairaudit")
    if master is not None and master.startswith("sc://"):
        builder = builder.remote(master)
    elif master is not None:
        builder = builder.master(master)
    if not verbose and not (master or os.environ.get("SPARK_REMOTE", "")).startswith("sc://"):
        builder = builder.config("spark.ui.showConsoleProgress", "false").config(
            "spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={_quiet_log4j2()}"
        )
    local = _local_cores(master)
    if local:  # 200 shuffle partitions (the default) cost more in task overhead than work
        builder = builder.config("spark.sql.shuffle.partitions", str(2 * local))
    session = builder.getOrCreate()
    if not verbose:
        with contextlib.suppress(Exception):  # Spark Connect has no SparkContext
            session.sparkContext.setLogLevel("ERROR")
    return session


@contextlib.contextmanager
def _pandas_warning_ignored() -> Iterator[None]:
    """Keep pyspark's warning about its support of pandas 3 (about code, not the audit) off
    the terminal."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
        yield


def _prepare_local_workers(spark: Any) -> None:
    """On a local master, make Spark's Python workers run this Python, which has fairaudit
    and pandas (Spark's default is whatever ``python3`` is first on the PATH)."""
    with contextlib.suppress(Exception):  # Spark Connect has no SparkContext
        context = spark.sparkContext
        if str(context.master).startswith("local") and not os.environ.get("PYSPARK_PYTHON"):
            context.pythonExec = sys.executable


def count_spark(
    spec: AuditSpec, *, session: Any = None, counter: Callable[..., Any] = SqlCounter
) -> EngineCounts:
    """Return the EngineCounts of ``spec``'s Parquet file or Spark table, counted by Spark
    (``counter``: the pass to run, ``SqlCounter``; or a task's counter)."""
    try:
        with _pandas_warning_ignored():
            from pyspark.errors import PySparkException
            from pyspark.sql.pandas.types import to_arrow_type
            from pyspark.sql.types import LongType, StructField, StructType
    except ImportError:
        raise ConfigError(PYSPARK_MISSING) from None
    if spec.prediction_col is None:
        raise ConfigError(
            "the spark engine audits precomputed predictions: pass --prediction-col COL"
        )
    spark = session or spark_session(spec.spark_master, verbose=spec.verbose)
    _prepare_local_workers(spark)
    data = str(spec.data)
    sha256: str | None = None
    if data.startswith(SPARK_TABLE_PREFIX):
        display, fmt = data, "spark-table"
        try:
            frame = spark.table(data[len(SPARK_TABLE_PREFIX) :])
        except PySparkException as exc:
            raise DataError(f"cannot read table '{data}': {str(exc).splitlines()[0]}") from None
    else:
        path = Path(data)
        if check_data_path(path) != "parquet":
            raise ConfigError(SPARK_NEEDS_PARQUET.format(path=path))
        display, fmt = str(path), "parquet"
        frame = spark.read.parquet(str(path.resolve()))
        sha256 = file_sha256(path)
    columns, checks = header_checks([str(c) for c in frame.columns], display)
    fields = {f.name: f for f in frame.schema.fields}
    frame.createOrReplaceTempView("fa_raw")
    source = SqlSource(
        display=display,
        format=fmt,
        relation="fa_raw",
        columns=columns,
        column_sql={name: _quote(name) for name in columns},
        arrow_types={name: to_arrow_type(fields[name].dataType) for name in columns},
        row_number="monotonically_increasing_id()",
        sha256=sha256,
        checks=checks,
    )
    map_types = {"fa_map_t": spec.target, "fa_map_p": spec.prediction_col}
    for i, column in enumerate(spec.sensitive):
        map_types[f"fa_map_f{i}"] = column

    def register(name: str, table: tuple[list[Any], list[int]]) -> None:
        raw, codes = table
        column = map_types[name]
        assert column is not None
        schema = StructType(
            [StructField("v", fields[column].dataType), StructField("code", LongType())]
        )
        spark.createDataFrame(list(zip(raw, codes)), schema=schema).createOrReplaceTempView(name)

    def execute(sql: str) -> None:
        spark.sql(sql)  # views are lazy; CACHE TABLE runs at once

    def grouped(sql: str, work: Any) -> list[tuple]:
        with _pandas_warning_ignored():
            buckets = spark.sql(sql).groupBy("bk").applyInPandas(work, "bk int, part string")
            return [tuple(r) for r in buckets.collect()]

    runner = SqlRunner(
        rows=lambda sql: [tuple(r) for r in spark.sql(sql).collect()],
        execute=execute,
        register=register,
        grouped=grouped,
    )
    try:
        result = counter(spec, source, SPARK, runner).run()
    except PySparkException as exc:
        raise DataError(f"cannot read '{display}': {str(exc).splitlines()[0]}") from None
    finally:
        for name in _CACHED:
            spark.sql(f"UNCACHE TABLE IF EXISTS {name}")
        for name in (*_VIEWS, *(f"fa_map_f{i}" for i in range(len(spec.sensitive)))):
            spark.catalog.dropTempView(name)
    result.lineage_data["file_name"] = Path(display).name if fmt == "parquet" else display
    return result
