"""Counting engines: the one heavy pass, run where the data lives; only counts come back.

Every confusion-matrix metric and its interval derives from a table of counts per
(intersectional group x label x prediction), the ``GroupCounts``; score metrics derive
from exact integer score sums, the ``ScoreSummary`` (both in :mod:`fairaudit.counts`).
``count_with_engine`` turns an ``AuditSpec`` into an :class:`EngineCounts` with any engine:

* ``numpy``  - the in-memory path (``data.load_evaluation_data`` + ``count_groups``);
  the only engine that can score a model.
* ``duckdb`` - streams CSV or Parquet of any size out of core and aggregates in SQL.
* ``spark``  - a Parquet path or a table (``spark:db.table``); the aggregation is a
  Spark job (``pip install fairaudit[spark]``).

All engines return identical group levels, counts, checks and score sums for the same
data, hence identical metrics and intervals. The data checks and their messages are
``fairaudit.data``'s, applied to column summaries (names, types, null counts, distinct
values) that each engine computes where the data is.
"""

from __future__ import annotations

from fairaudit.engines._api import (
    CLASS_SCORES_NEED_NUMPY,
    ENGINES,
    NEEDS_PREDICTIONS,
    UNKNOWN_ENGINE,
    EngineName,
    choose_engine,
    count_task_with_engine,
    count_with_engine,
)
from fairaudit.engines._data_counts import (
    DATA_ENGINES,
    choose_data_engine,
    count_data_duckdb,
    count_data_with_engine,
    data_report_file,
)
from fairaudit.engines._task_counts import TaskCounts
from fairaudit.engines._types import (
    REFERENCE_NOT_FOUND,
    SPARK_TABLE_PREFIX,
    EngineCounts,
    Progress,
    check_reference,
)

__all__ = [
    "CLASS_SCORES_NEED_NUMPY",
    "DATA_ENGINES",
    "ENGINES",
    "NEEDS_PREDICTIONS",
    "REFERENCE_NOT_FOUND",
    "SPARK_TABLE_PREFIX",
    "TaskCounts",
    "UNKNOWN_ENGINE",
    "EngineCounts",
    "EngineName",
    "Progress",
    "check_reference",
    "choose_data_engine",
    "choose_engine",
    "count_data_duckdb",
    "count_data_with_engine",
    "count_task_with_engine",
    "count_with_engine",
    "data_report_file",
]
