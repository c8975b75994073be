"""Every number of a regression audit: what ``Measurement`` is for a binary one.

:class:`RegressionMeasurement` is built from :class:`RegressionStatistics` (exact sums and
sorted predictions per intersectional cell) and owns what the pipe puts in the
AuditResult: the overall metrics, the ``by_group`` rows (each feature and the
intersection), the disparities against the reference group (every group metric's
difference and ratio, then ``ks_statistic`` and ``wasserstein_distance`` of the
prediction distributions), the headline per grouping (largest KS between two groups,
``max_group_mae_ratio`` and ``max_group_rmse_ratio`` with the worst group), the checks on
the groups and, given a confidence, the intervals and tests (one Holm family).
It has the attributes and methods of ``Measurement`` that the pipe reads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from fairaudit.data import Check
from fairaudit.display import group_text
from fairaudit.measure._checks import group_checks, reference_checks
from fairaudit.measure._core import uncertainty_section
from fairaudit.measure._groupings import GroupingNames
from fairaudit.measure._metrics import DisparityRow, disparities_vs_reference
from fairaudit.measure._regression import RegressionStatistics
from fairaudit.stats import attach_to_rows
from fairaudit.vocabulary import RATIO_BAND

__all__ = ["MSG_CONSTANT_TARGET", "RegressionMeasurement"]

MSG_CONSTANT_TARGET = (
    "{n} group{s} of two or more rows {have} a constant target, so r2 is undefined (null) "
    "there: {names}"
)

#: Metrics whose ratio to the reference is left out (null): signed, around 0.
_NO_RATIO = ("mean_error",)

#: The family's description in the ``uncertainty`` section.
_FAMILY = (
    "every tested disparity of a model metric and of ks_statistic against the reference "
    "group, across groupings; mean_target (a property of the data) is tested on its own"
)


def _number(value: Any) -> float | None:
    """Return a float for JSON, None for NaN or infinity."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _pair(values: Any) -> list[float | None] | None:
    """Return an interval for JSON, None when neither end is defined."""
    if values is None:
        return None
    low, high = _number(values[0]), _number(values[1])
    return None if low is None and high is None else [low, high]


class RegressionMeasurement(GroupingNames):
    """Every number of one regression audit, computed once (see the module docstring)."""

    task = "regression"

    def __init__(
        self,
        statistics: RegressionStatistics,
        *,
        reference: Mapping[str, str] | None = None,
        min_group_size: int = 30,
    ) -> None:
        self.statistics = statistics
        self.wanted_reference = dict(reference or {})
        self.min_group_size = min_group_size
        self.metric_names = statistics.metric_names()
        self.overall, self.tables = statistics.tables(self.wanted_reference)
        self.by_group: list[dict[str, Any]] = []
        self.disparity_rows: list[DisparityRow] = []
        self.headline: list[dict[str, Any]] = []
        for table in self.tables:
            self.by_group += statistics.group_rows(table, min_group_size)
            self.disparity_rows += disparities_vs_reference(table, self.metric_names)
            self.disparity_rows += statistics.distribution_disparities(table)
            for entry in statistics.headline(table, self.overall, min_group_size):
                sizes = {group_text(g): int(n) for g, n in zip(table.groups, table.sizes)}
                entry["excluded"] = [
                    {"group": g, "metric": "count", "denominator": sizes[group_text(g)]}
                    for g in entry["excluded"]
                ]
                entry["value"] = _number(entry["value"])
                self.headline.append(entry)
        small = {
            (t.name, group_text(g))
            for t in self.tables
            for g, n in zip(t.groups, t.sizes)
            if n < min_group_size
        }
        self.disparities: list[dict[str, Any]] = [
            {
                "feature": row.feature,
                "metric": row.metric,
                "group": row.group,
                "reference": row.reference,
                "value": _number(row.value),
                "reference_value": _number(row.reference_value),
                "difference": _number(row.difference),
                # mean_error is signed and may cross 0: its ratio says nothing.
                "ratio": None if row.metric in _NO_RATIO else _number(row.ratio),
                "insufficient_data": (row.feature, group_text(row.group)) in small
                or (row.feature, group_text(row.reference)) in small,
            }
            for row in self.disparity_rows
        ]
        self.uncertainty: dict[str, Any] | None = None

    def overall_json(self) -> dict[str, Any]:
        """Return the overall metrics with ``count`` as an integer (null: undefined)."""
        return {name: _number(v) for name, v in self.overall.items()} | {
            "count": int(self.overall["count"])
        }

    def add_uncertainty(self, *, confidence: float) -> None:
        """Compute intervals and tests and add them to the rows (``ci``, p-values, verdicts)."""
        computed = self.statistics.uncertainty(
            self.tables, self.disparity_rows, confidence=confidence,
            min_group_size=self.min_group_size,
        )  # fmt: skip
        untested = {
            "ci_difference": None, "ci_ratio": None, "p_value": None,
            "p_value_adjusted": None, "significance": "not tested", "note": None,
        }  # fmt: skip
        rows = [
            untested
            if test is None
            else {
                "ci_difference": _pair(test.ci_difference),
                "ci_ratio": _pair(test.ci_ratio),
                "p_value": _number(test.p_value),
                "p_value_adjusted": _number(test.p_value_adjusted),
                "significance": test.significance,
                "note": test.note,
            }
            for test in computed.disparities
        ]
        group_ci = {
            name: {metric: [_pair(pair) for pair in pairs] for metric, pairs in cis.items()}
            for name, cis in computed.group_ci.items()
        }
        attach_to_rows(
            {"group_ci": group_ci, "disparities": rows, "headline_ci": {}},
            by_group=self.by_group,
            disparities=self.disparities,
            headline=self.headline,
        )
        method = dict(computed.method)
        shared = {k: method.pop(k) for k in ("confidence", "correction", "family", "not_tested")}
        shared["family"] = {**shared["family"], "description": _FAMILY}
        method = {**shared, "methods": method}
        self.uncertainty = {
            "method": method,
            "overall_ci": {m: _pair(v) for m, v in computed.overall_ci.items()},
        }

    def uncertainty_section(self) -> dict[str, Any] | None:
        """Return the AuditResult's ``uncertainty`` section (None without intervals)."""
        note = "; r2 and wasserstein_distance have no interval or test yet"
        return uncertainty_section(self.disparities, self.uncertainty, note)

    def checks(self) -> list[Check]:
        """Return the checks on the groups: the reference, small groups, empty cells and
        constant targets (r2 null).

        Raises ConfigError when a feature's named reference group has no rows.
        """
        n_features, n_cells, n_possible = self.statistics.cells()
        checks = reference_checks(self.wanted_reference, self.tables) + group_checks(
            self.by_group, self.min_group_size, n_possible, n_cells, n_features
        )
        constant = [r for r in self.by_group if r["constant_target"] and r["count"] >= 2]
        if constant:
            names = "; ".join(f"{group_text(r['group'])} ({r['count']})" for r in constant[:20]) + (
                "; ..." if len(constant) > 20 else ""
            )
            n = len(constant)
            message = MSG_CONSTANT_TARGET.format(
                n=n, s="" if n == 1 else "s", have="has" if n == 1 else "have", names=names
            )
            checks.append(Check("constant_target", "warning", message))
        return checks

    def summary(self) -> dict[str, Any]:
        """Return the AuditResult's ``summary``: no worse-off groups (a binary notion)."""
        return {"ratio_band": list(RATIO_BAND), "worse_off": []}
