"""The engine API: choose an engine and run its counting pass; every engine returns
an :class:`EngineCounts`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from fairaudit.engines._task_counts import Decide, TaskCounts
from fairaudit.engines._types import SPARK_TABLE_PREFIX, EngineCounts, Progress, memory_bytes
from fairaudit.errors import ConfigError
from fairaudit.measure import check_group_limit
from fairaudit.spec import AuditSpec

__all__ = [
    "CLASS_SCORES_NEED_NUMPY",
    "ENGINES",
    "IN_MEMORY_ENGINE",
    "NEEDS_PREDICTIONS",
    "UNKNOWN_ENGINE",
    "EngineName",
    "choose_engine",
    "count_task_with_engine",
    "count_with_engine",
]

EngineName = Literal["numpy", "duckdb", "spark", "auto"]
ENGINES: tuple[str, ...] = ("numpy", "duckdb", "spark", "auto")

#: ``auto`` picks numpy while the file times this factor fits in half the memory
#: (a CSV expands ~10x into a DataFrame with its encodings; Parquet compresses ~4x more).
AUTO_CSV_FACTOR = 10
AUTO_PARQUET_FACTOR = 40

UNKNOWN_ENGINE = "unknown engine {engine!r}; choose one of numpy, duckdb, spark, auto"
IN_MEMORY_ENGINE = (
    "the {engine} engine reads files or tables; a DataFrame in memory is audited by the "
    "numpy engine (engine='numpy' or 'auto')"
)
CLASS_SCORES_NEED_NUMPY = (
    "per-class scores (--score-col CLASS=COL) are read by the numpy engine; use --engine "
    "numpy (not {engine}) or leave the scores out"
)
NEEDS_PREDICTIONS = (
    "the {engine} engine audits precomputed predictions: pass --prediction-col COL "
    "(score the data with your own infrastructure), or use --engine numpy with --model"
)


def choose_engine(spec: AuditSpec, engine: EngineName = "auto") -> str:
    """Return the engine ``count_with_engine`` will use: ``auto`` resolved by size."""
    if engine not in ENGINES:
        raise ConfigError(UNKNOWN_ENGINE.format(engine=engine))
    if not isinstance(spec.data, Path):  # a DataFrame passed in memory
        if engine not in ("auto", "numpy"):
            raise ConfigError(IN_MEMORY_ENGINE.format(engine=engine))
        return "numpy"
    if engine != "auto":
        return engine
    if str(spec.data).startswith(SPARK_TABLE_PREFIX):
        return "spark"
    if spec.model is not None:
        return "numpy"
    path = Path(spec.data)
    try:
        size = path.stat().st_size
    except OSError:
        return "numpy"  # let the numpy path raise its usual 'not found' error
    parquet = path.suffix.lower() in (".parquet", ".pq")
    factor = AUTO_PARQUET_FACTOR if parquet else AUTO_CSV_FACTOR
    return "numpy" if size * factor < memory_bytes() // 2 else "duckdb"


def count_with_engine(
    spec: AuditSpec,
    engine: EngineName = "auto",
    *,
    progress: Progress | None = None,
    **options: Any,
) -> EngineCounts:
    """Return the counts, checks and score sums of ``spec``'s data from one counting pass.

    Parameters
    ----------
    spec:
        The audit; non-numpy engines need ``prediction_col`` (and ``score_col`` for score
        metrics).
    engine:
        ``numpy``, ``duckdb``, ``spark`` or ``auto`` (numpy when the file is small next
        to the memory, else duckdb; a ``spark:`` table goes to spark).
    progress:
        Called with a short line as each step starts (reading, predicting, counting).
    options:
        Engine options: duckdb ``memory_limit``, ``temp_directory``, ``threads``;
        spark ``session``.

    Raises
    ------
    ConfigError
        Unknown engine, a model with a non-numpy engine, pyspark not installed.
    DataError
        As ``load_evaluation_data`` would, with the same message; more groups than
        ``spec.max_groups``.
    """
    say = progress or (lambda message: None)
    chosen = choose_engine(spec, engine)
    if chosen != "numpy" and spec.model is not None:
        raise ConfigError(NEEDS_PREDICTIONS.format(engine=chosen))
    if chosen == "numpy":
        from fairaudit.engines._numpy import count_numpy

        return count_numpy(spec, say, **options)
    say(f"counting {spec.data} with {chosen}")
    if chosen == "duckdb":
        from fairaudit.engines._duckdb import count_duckdb

        counted = count_duckdb(spec, **options)
    else:
        from fairaudit.engines._spark import count_spark

        counted = count_spark(spec, **options)
    check_group_limit(spec, counted.group_counts)
    return counted


def count_task_with_engine(
    spec: AuditSpec,
    engine: EngineName,
    *,
    decide: Decide,
    progress: Progress | None = None,
    **options: Any,
) -> TaskCounts:
    """Return the counts and checks of a regression or multiclass audit of ``spec``.

    ``decide`` turns the label's ``TargetSummary`` into the audit's task, or raises the
    one-line mismatch error; every engine calls it with the same summary. ``engine`` and
    ``options`` as for ``count_with_engine``: the checks, the task and its reason and the
    counts are the same whichever engine runs (only the numpy engine scores a model).
    """
    from functools import partial

    from fairaudit.engines._sql_tasks import TaskSqlCounter

    say = progress or (lambda message: None)
    chosen = choose_engine(spec, engine)
    if chosen != "numpy" and spec.model is not None:
        raise ConfigError(NEEDS_PREDICTIONS.format(engine=chosen))
    if chosen == "numpy":
        from fairaudit.engines._task_numpy import count_task_numpy

        return count_task_numpy(spec, say, decide)
    if spec.class_scores:
        raise ConfigError(CLASS_SCORES_NEED_NUMPY.format(engine=chosen))
    say(f"counting {spec.data} with {chosen}")
    counter = partial(TaskSqlCounter, decide=decide)
    if chosen == "duckdb":
        from fairaudit.engines._duckdb import count_duckdb

        counted: Any = count_duckdb(spec, counter=counter, **options)
    else:
        from fairaudit.engines._spark import count_spark

        counted = count_spark(spec, counter=counter, **options)
    assert isinstance(counted, TaskCounts)
    return counted
