"""The measurement core: one object from per-group statistics to every number of an audit.

What fairlearn's ``MetricFrame`` is to rows, :class:`Measurement` is to sufficient
statistics: built once from what an engine counted (:class:`BinaryCounts` for a binary
classifier: confusion counts per intersectional group, optionally exact score sums), the
reference choice and the metric names, it owns the by-group tables, the group rows,
disparities, fairlearn's headline metrics, the worse-off groups, the checks on the groups
and, given options, the intervals and tests (computed by ``fairaudit.stats``). The audit
and the mitigation comparison both build one and read every number from it.

A new task type (regression, multiclass) is a new kind of per-group statistics with the
methods of :class:`GroupStatistics`, plugged into the same Measurement.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from fairaudit.counts import CELLS, GroupCounts
from fairaudit.data import Check
from fairaudit.measure._checks import group_checks, reference_checks
from fairaudit.measure._metrics import (
    DisparityRow,
    GroupTable,
    build_tables,
    disparities_vs_reference,
    headline_metrics,
)
from fairaudit.stats import Uncertainty, attach_to_rows, compute_uncertainty, uncertainty_to_json
from fairaudit.vocabulary import CONFUSION_METRICS, RATIO_BAND, SCORE_METRICS

if TYPE_CHECKING:
    from fairaudit.counts import ScoreSummary

__all__ = ["WORSE_OFF_METRICS", "BinaryCounts", "GroupStatistics", "Measurement"]

#: The metrics whose lowest group is "worse off" (a positive prediction is assumed to be
#: the favourable outcome), in the order the report lists them.
WORSE_OFF_METRICS = ("selection_rate", "true_positive_rate")

#: The keys of a group row in the mitigation comparison's compact form.
_COMPACT_ROW = ("feature", "group", "count", "metrics", "ci")


class GroupStatistics(Protocol):
    """Per-group sufficient statistics of one task type: what a Measurement is built from."""

    def metric_names(self) -> list[str]:
        """Return the metrics these statistics define, in report order (without ``count``)."""
        ...

    def tables(self, reference: Mapping[str, str]) -> tuple[dict[str, float], list[GroupTable]]:
        """Return the overall metrics and one GroupTable per grouping."""
        ...

    def group_rows(self, table: GroupTable, min_group_size: int) -> list[dict[str, Any]]:
        """Return the JSON rows of a table's groups (``feature``, ``group``, ``count``,
        ``metrics``, ``reference``, ``insufficient_data`` and what the task adds)."""
        ...

    def cells(self) -> tuple[int, int, int]:
        """Return (features, intersectional cells with rows, possible cells)."""
        ...

    def uncertainty(
        self,
        tables: Sequence[GroupTable],
        disparity_rows: Sequence[DisparityRow],
        *,
        confidence: float,
        n_resamples: int,
        seed: int,
        min_group_size: int,
    ) -> Uncertainty:
        """Return the intervals and tests of every group metric and disparity."""
        ...


@dataclass(frozen=True)
class BinaryCounts:
    """A binary classifier's statistics: confusion counts per intersectional group and,
    with scores, their exact sums (``fairaudit.counts.ScoreSummary``)."""

    group_counts: GroupCounts
    scores: ScoreSummary | None = None

    def metric_names(self) -> list[str]:
        """Return the confusion metrics, plus the score metrics when there are scores."""
        names = [m for m in CONFUSION_METRICS if m != "count"]
        return names + list(SCORE_METRICS) if self.scores is not None else names

    def tables(self, reference: Mapping[str, str]) -> tuple[dict[str, float], list[GroupTable]]:
        """Return ``build_tables`` of the counts (score metrics from the exact sums)."""
        return build_tables(self.group_counts, reference=reference, score_summary=self.scores)

    def group_rows(self, table: GroupTable, min_group_size: int) -> list[dict[str, Any]]:
        """Return each group's row: size, confusion counts, metrics and flags."""
        rows = []
        positives = table.counts[:, 2] + table.counts[:, 3]
        sizes = table.sizes
        for i, group in enumerate(table.groups):
            metrics = {
                name: float(table.values[name][i]) for name in table.values if name != "count"
            }
            rows.append(
                {
                    "feature": table.name,
                    "group": dict(group),
                    "count": int(sizes[i]),
                    "confusion": {cell: int(table.counts[i, j]) for j, cell in enumerate(CELLS)},
                    "metrics": metrics,
                    "reference": i == table.reference,
                    "insufficient_data": bool(sizes[i] < min_group_size),
                    "single_class": bool(positives[i] == 0 or positives[i] == sizes[i]),
                }
            )
        return rows

    def cells(self) -> tuple[int, int, int]:
        """Return (features, intersectional cells with rows, possible cells)."""
        possible = math.prod(len(levels) for levels in self.group_counts.levels)
        return len(self.group_counts.features), len(self.group_counts.counts), possible

    def uncertainty(
        self,
        tables: Sequence[GroupTable],
        disparity_rows: Sequence[DisparityRow],
        *,
        confidence: float,
        n_resamples: int,
        seed: int,
        min_group_size: int,
    ) -> Uncertainty:
        """Return ``compute_uncertainty`` of the counts (score intervals from the sums)."""
        return compute_uncertainty(
            self.group_counts,
            tables,
            disparity_rows,
            confidence=confidence,
            n_resamples=n_resamples,
            seed=seed,
            min_group_size=min_group_size,
            score_summary=self.scores,
        )


def _disparity_json(row: DisparityRow) -> dict[str, Any]:
    return {
        "feature": row.feature,
        "metric": row.metric,
        "group": row.group,
        "reference": row.reference,
        "value": row.value,
        "reference_value": row.reference_value,
        "difference": row.difference,
        "ratio": row.ratio,
    }


def _is_number(value: Any) -> bool:
    return value is not None and not math.isnan(value)


class Measurement:
    """Every number of one audit (or one mitigated variant), computed once.

    Parameters
    ----------
    statistics:
        The per-group sufficient statistics (:class:`BinaryCounts`).
    reference:
        ``{feature: value}`` of the wanted reference group; the largest group otherwise.
    min_group_size:
        Groups with fewer rows are ``insufficient_data``: not tested, never worse off.
    metrics:
        The metrics compared with the reference (default: all the statistics define).

    Attributes
    ----------
    overall, tables:
        The overall metrics and one GroupTable per grouping (``build_tables``).
    by_group, disparities, headline:
        The JSON rows of the AuditResult's ``metrics.by_group``, ``disparities`` and
        ``headline``; :meth:`add_uncertainty` adds intervals and tests to them.
    uncertainty:
        ``uncertainty_to_json`` of the intervals, once :meth:`add_uncertainty` ran.
    """

    def __init__(
        self,
        statistics: GroupStatistics,
        *,
        reference: Mapping[str, str] | None = None,
        min_group_size: int = 30,
        metrics: Sequence[str] | None = None,
    ) -> None:
        self.statistics = statistics
        self.wanted_reference = dict(reference or {})
        self.min_group_size = min_group_size
        self.metric_names = list(metrics) if metrics is not None else statistics.metric_names()
        self.overall, self.tables = statistics.tables(self.wanted_reference)
        self.disparity_rows = [
            row for t in self.tables for row in disparities_vs_reference(t, self.metric_names)
        ]
        self.by_group = [
            row for t in self.tables for row in statistics.group_rows(t, min_group_size)
        ]
        self.disparities = [_disparity_json(row) for row in self.disparity_rows]
        self.headline = [
            {"feature": t.name, "metric": metric, "value": value}
            for t in self.tables
            for metric, value in headline_metrics(t).items()
        ]
        self.uncertainty: dict[str, Any] | None = None

    @property
    def groupings(self) -> list[str]:
        """Return the groupings' names: each feature, then the intersection (if any)."""
        return [t.name for t in self.tables]

    def reference_groups(self) -> dict[str, dict[str, str]]:
        """Return ``{grouping: reference group}``."""
        return {t.name: t.groups[t.reference] for t in self.tables}

    def overall_json(self) -> dict[str, Any]:
        """Return the overall metrics with ``count`` as an integer."""
        return {**self.overall, "count": int(self.overall["count"])}

    def add_uncertainty(self, *, confidence: float, n_resamples: int, seed: int) -> None:
        """Compute intervals and tests and add them to the rows (``ci``, p-values, verdicts)."""
        computed = uncertainty_to_json(
            self.statistics.uncertainty(
                self.tables,
                self.disparity_rows,
                confidence=confidence,
                n_resamples=n_resamples,
                seed=seed,
                min_group_size=self.min_group_size,
            )
        )
        attach_to_rows(
            computed, by_group=self.by_group, disparities=self.disparities, headline=self.headline
        )
        self.uncertainty = computed

    def uncertainty_section(self) -> dict[str, Any] | None:
        """Return the AuditResult's ``uncertainty`` section (None without intervals)."""
        if self.uncertainty is None:
            return None
        verdicts = [d["significance"] for d in self.disparities]
        significant = verdicts.count("significant")
        tested = significant + verdicts.count("within noise")
        insufficient = verdicts.count("insufficient data")
        method = self.uncertainty["method"]
        confidence = method["confidence"]
        return {
            **method,
            "overall_ci": self.uncertainty["overall_ci"],
            "significant": significant,
            "tested": tested,
            "insufficient": insufficient,
            "summary": (
                f"{significant} of {tested} tested disparities are significant at "
                f"{1 - confidence:.2g} after {method.get('correction', 'holm').title()} "
                f"correction; {insufficient} involve a group too small "
                f"or a value undefined and were not tested. Intervals are "
                f"{confidence:.0%} confidence intervals."
            ),
        }

    def entry(self, *, compact: bool = False) -> dict[str, Any]:
        """Return the numbers of one entry of the mitigation comparison.

        ``metrics`` (``overall``, ``overall_ci``), ``by_group``, ``disparities`` and
        ``headline``; ``compact`` rows keep only feature, group, count, metrics and ci.
        """
        by_group = self.by_group
        if compact:
            by_group = [{k: row[k] for k in _COMPACT_ROW if k in row} for row in by_group]
        return {
            "metrics": {
                "overall": self.overall_json(),
                "overall_ci": (self.uncertainty or {}).get("overall_ci", {}),
            },
            "by_group": by_group,
            "disparities": self.disparities,
            "headline": self.headline,
        }

    def checks(self) -> list[Check]:
        """Return the checks on the groups: the reference, small, single-class, empty cells.

        Raises ConfigError when a feature's named reference group has no rows.
        """
        n_features, n_cells, n_possible = self.statistics.cells()
        return reference_checks(self.wanted_reference, self.tables) + group_checks(
            self.by_group, self.min_group_size, n_possible, n_cells, n_features
        )

    def worse_off(self) -> list[dict[str, Any]]:
        """Return, per grouping and ``WORSE_OFF_METRICS`` metric, its lowest group.

        Among groups with at least ``min_group_size`` rows and a defined value, when two or
        more have one; compared with the reference group (ratio, difference and, with
        intervals, the ratio's interval and the test's verdict). ``below_band`` marks a
        ratio below ``RATIO_BAND``'s lower end.
        """
        out = []
        for table in self.tables:
            rows = [r for r in self.by_group if r["feature"] == table.name]
            usable = [r for r in rows if not r["insufficient_data"]]
            for metric in WORSE_OFF_METRICS:
                defined = [r for r in usable if _is_number(r["metrics"].get(metric))]
                if len(defined) >= 2:
                    worst = min(defined, key=lambda r: r["metrics"][metric])
                    out.append(self._against_reference(table, worst, metric))
        return out

    def _against_reference(
        self, table: GroupTable, row: dict[str, Any], metric: str
    ) -> dict[str, Any]:
        """Return one worse-off entry: ``row``'s value of ``metric`` against the reference."""
        value = row["metrics"][metric]
        versus = next(
            (
                d
                for d in self.disparities
                if d["feature"] == table.name
                and d["metric"] == metric
                and d["group"] == row["group"]
            ),
            None,
        )
        if versus is not None:
            ratio, reference_value = versus["ratio"], versus["reference_value"]
            difference = versus["difference"]
        elif row["reference"]:
            ratio, reference_value, difference = 1.0, value, 0.0
        else:
            ratio = reference_value = difference = None
        return {
            "feature": table.name,
            "metric": metric,
            "group": dict(row["group"]),
            "count": row["count"],
            "value": value,
            "reference_group": dict(table.groups[table.reference]),
            "reference_value": reference_value,
            "ratio": ratio,
            "difference": difference,
            "ci_ratio": versus.get("ci_ratio") if versus else None,
            "significance": versus.get("significance") if versus else None,
            "below_band": _is_number(ratio) and ratio < RATIO_BAND[0],
        }

    def summary(self) -> dict[str, Any]:
        """Return the AuditResult's ``summary``: the ratio band and the worse-off groups."""
        return {"ratio_band": list(RATIO_BAND), "worse_off": self.worse_off()}
