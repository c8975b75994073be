"""The Spark engine: the counting pass as a Spark job; only the counts come back.

Input is a Parquet path or a table, ``spark:db.table``. The SQL is the DuckDB engine's
(``SqlCounter``) in Spark's dialect, so both return the same counts and score sums. The
session is ``SparkSession.builder.getOrCreate()``: ``local[*]`` by default, any cluster
through standard Spark configuration (``SPARK_REMOTE`` for Spark Connect,
``spark-submit --master ...``, ``spark-defaults.conf``), or pass ``session=``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fairaudit.data import check_data_path, file_sha256, header_checks
from fairaudit.engines._sql import SqlCounter
from fairaudit.engines._sql_source import SPARK, SqlRunner, SqlSource
from fairaudit.engines._types import SPARK_TABLE_PREFIX, EngineCounts
from fairaudit.errors import ConfigError, DataError
from fairaudit.spec import AuditSpec

__all__ = ["PYSPARK_MISSING", "count_spark"]

PYSPARK_MISSING = (
    "the spark engine needs pyspark: pip install 'fairaudit[spark]' (or use --engine duckdb)"
)
SPARK_NEEDS_PARQUET = (
    "the spark engine reads Parquet or a table (spark:db.table), not '{path}'; "
    "use --engine duckdb for CSV"
)
_VIEWS = ("fa_raw", "fa_src", "fa_map_t", "fa_map_p", "fa_agg")


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def count_spark(spec: AuditSpec, *, session: Any = None) -> EngineCounts:
    """Return the EngineCounts of ``spec``'s Parquet file or Spark table, counted by Spark."""
    try:
        from pyspark.errors import PySparkException
        from pyspark.sql import SparkSession
        from pyspark.sql.pandas.types import to_arrow_type
        from pyspark.sql.types import LongType, StructField, StructType
    except ImportError:
        raise ConfigError(PYSPARK_MISSING) from None
    if spec.prediction_col is None:
        raise ConfigError(
            "the spark engine audits precomputed predictions: pass --prediction-col COL"
        )
    spark = session or SparkSession.builder.appName("fairaudit").getOrCreate()
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

    runner = SqlRunner(
        rows=lambda sql: [tuple(r) for r in spark.sql(sql).collect()],
        execute=execute,
        register=register,
    )
    try:
        result = SqlCounter(spec, source, SPARK, runner).run()
    except PySparkException as exc:
        raise DataError(f"cannot read '{display}': {str(exc).splitlines()[0]}") from None
    finally:
        spark.sql("UNCACHE TABLE IF EXISTS fa_agg")
        for name in (*_VIEWS, *(f"fa_map_f{i}" for i in range(len(spec.sensitive)))):
            spark.catalog.dropTempView(name)
    result.lineage_data["file_name"] = Path(display).name if fmt == "parquet" else display
    return result
