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
from fairaudit.measure._regression import RegressionStatistics, regression_values
from fairaudit.measure._regression_distribution import (
    ks_between_groups,
    ks_statistic,
    wasserstein_distance,
)
from fairaudit.measure._regression_sums import (
    MSG_NO_ROWS,
    MSG_TOO_LARGE,
    SUM_NAMES,
    RegressionCells,
    count_regression,
    exact_group_sums,
)
from fairaudit.measure._regression_uncertainty import (
    GroupMoments,
    RegressionUncertainty,
    group_intervals,
    group_moments,
    regression_uncertainty,
)
from fairaudit.measure._task import (
    MAX_AUTO_CLASSES,
    MAX_CLASSES,
    MSG_BINARY_TOO_MANY,
    MSG_FEW_NUMERIC_VALUES,
    MSG_MULTICLASS_CONTINUOUS,
    MSG_MULTICLASS_TOO_MANY,
    MSG_POSITIVE_LABEL_NOT_BINARY,
    MSG_REGRESSION_NOT_NUMERIC,
    MSG_TOO_MANY_TEXT_LABELS,
    MSG_UNKNOWN_TASK,
    TASKS,
    TargetSummary,
    TaskDecision,
    decide_task,
    detect_task,
    summarize_target,
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
    # regression and task detection
    "GroupMoments",
    "MAX_AUTO_CLASSES",
    "MAX_CLASSES",
    "MSG_BINARY_TOO_MANY",
    "MSG_FEW_NUMERIC_VALUES",
    "MSG_MULTICLASS_CONTINUOUS",
    "MSG_MULTICLASS_TOO_MANY",
    "MSG_POSITIVE_LABEL_NOT_BINARY",
    "MSG_REGRESSION_NOT_NUMERIC",
    "MSG_NO_ROWS",
    "MSG_TOO_LARGE",
    "MSG_TOO_MANY_TEXT_LABELS",
    "MSG_UNKNOWN_TASK",
    "RegressionCells",
    "RegressionStatistics",
    "RegressionUncertainty",
    "SUM_NAMES",
    "TASKS",
    "TargetSummary",
    "TaskDecision",
    "count_regression",
    "decide_task",
    "detect_task",
    "exact_group_sums",
    "group_intervals",
    "group_moments",
    "ks_between_groups",
    "ks_statistic",
    "regression_uncertainty",
    "regression_values",
    "summarize_target",
    "wasserstein_distance",
]
