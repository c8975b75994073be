"""Uncertainty: confidence intervals, bootstrap, score-metric intervals and significance tests."""

from __future__ import annotations

from fairaudit.stats._bootstrap import (
    bootstrap_counts,
    bootstrap_score_metrics,
    percentile_interval,
)
from fairaudit.stats._intervals import (
    analytic_interval,
    holm_adjust,
    mover_difference,
    mover_ratio,
    mover_ratio_interval,
    newcombe_interval,
    proportion_test,
    wilson_interval,
)
from fairaudit.stats._score_stats import (
    ScoreEstimate,
    auc_estimate,
    brier_estimate,
    brier_estimates,
    delong_auc,
    roc_auc_estimates,
    score_sums_estimates,
    wald_difference,
)
from fairaudit.stats._uncertainty import (
    ANALYTIC_METRICS,
    UNKNOWN_TABLE,
    DisparityUncertainty,
    Significance,
    Uncertainty,
    attach_to_rows,
    compute_uncertainty,
    uncertainty_to_json,
)

__all__ = [
    "ANALYTIC_METRICS",
    "DisparityUncertainty",
    "ScoreEstimate",
    "Significance",
    "UNKNOWN_TABLE",
    "Uncertainty",
    "analytic_interval",
    "attach_to_rows",
    "auc_estimate",
    "bootstrap_counts",
    "bootstrap_score_metrics",
    "brier_estimate",
    "brier_estimates",
    "compute_uncertainty",
    "delong_auc",
    "holm_adjust",
    "mover_difference",
    "mover_ratio",
    "mover_ratio_interval",
    "newcombe_interval",
    "percentile_interval",
    "proportion_test",
    "roc_auc_estimates",
    "score_sums_estimates",
    "uncertainty_to_json",
    "wald_difference",
    "wilson_interval",
]
