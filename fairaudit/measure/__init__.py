"""The measurement core: a Measurement over per-group statistics, by-group tables,
disparities, headline metrics, worse-off groups, group checks, and the limit on groups per
grouping."""

from __future__ import annotations

from fairaudit.measure._checks import MSG_REFERENCE_HAS_NO_ROWS, group_checks, reference_checks
from fairaudit.measure._core import WORSE_OFF_METRICS, BinaryCounts, GroupStatistics, Measurement
from fairaudit.measure._direction import (
    ADVERSE,
    FAVORABLE,
    MSG_FAVORABLE_NOT_A_LABEL,
    Direction,
    resolve_direction,
    same_label,
)
from fairaudit.measure._limits import MSG_TOO_MANY_GROUPS, check_group_limit, check_rows_group_limit
from fairaudit.measure._metrics import (
    DisparityRow,
    GroupTable,
    between_groups,
    build_tables,
    disparities_vs_reference,
    grouped_brier_score,
    grouped_roc_auc,
    headline_metrics,
)

__all__ = [
    "ADVERSE",
    "Direction",
    "FAVORABLE",
    "MSG_FAVORABLE_NOT_A_LABEL",
    "resolve_direction",
    "same_label",
    "BinaryCounts",
    "DisparityRow",
    "GroupStatistics",
    "GroupTable",
    "MSG_REFERENCE_HAS_NO_ROWS",
    "MSG_TOO_MANY_GROUPS",
    "Measurement",
    "WORSE_OFF_METRICS",
    "between_groups",
    "build_tables",
    "check_group_limit",
    "check_rows_group_limit",
    "disparities_vs_reference",
    "group_checks",
    "grouped_brier_score",
    "grouped_roc_auc",
    "headline_metrics",
    "reference_checks",
]
