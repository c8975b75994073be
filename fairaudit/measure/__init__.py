"""The measurement core: metric definitions over per-group statistics, by-group tables,
disparities, headline metrics, and the limit on groups per grouping."""

from __future__ import annotations

from fairaudit.measure._limits import MSG_TOO_MANY_GROUPS, check_group_limit, check_rows_group_limit
from fairaudit.measure._metrics import (
    DisparityRow,
    GroupTable,
    between_groups,
    build_tables,
    confusion_metrics,
    disparities_vs_reference,
    grouped_brier_score,
    grouped_roc_auc,
    headline_metrics,
)

__all__ = [
    "DisparityRow",
    "GroupTable",
    "MSG_TOO_MANY_GROUPS",
    "between_groups",
    "build_tables",
    "check_group_limit",
    "check_rows_group_limit",
    "confusion_metrics",
    "disparities_vs_reference",
    "grouped_brier_score",
    "grouped_roc_auc",
    "headline_metrics",
]
