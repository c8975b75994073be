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

import numpy as np

from fairaudit.counts import CELLS, GroupCounts
from fairaudit.data import Check
from fairaudit.measure._checks import group_checks, reference_checks
from fairaudit.measure._direction import Direction
from fairaudit.measure._groupings import GroupingNames
from fairaudit.measure._metrics import (
    DisparityRow,
    GroupTable,
    build_tables,
    disparities_vs_reference,
    headline_exclusions,
    headline_metrics,
)
from fairaudit.stats import (
    Uncertainty,
    attach_to_rows,
    between_groups_bounds,
    compute_uncertainty,
    metric_denominators,
    mover_ratio_interval,
    proportion_parts,
    sidak_confidence,
    uncertainty_to_json,
    wilson_interval,
)
from fairaudit.vocabulary import CONFUSION_METRICS, RATIO_BAND, SCORE_METRICS

if TYPE_CHECKING:
    from fairaudit.counts import ScoreSummary

__all__ = [
    "WORSE_OFF_METRICS",
    "BinaryCounts",
    "GroupStatistics",
    "Measurement",
    "uncertainty_section",
]

#: The metrics whose lowest group is "worse off" when a positive prediction is the
#: favourable outcome (the default), in the order the report lists them.
WORSE_OFF_METRICS = Direction().worse_off_metrics

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
        min_denominator: int = 0,
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
        min_denominator: int = 0,
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
            min_denominator=min_denominator,
            score_summary=self.scores,
        )


def _disparity_json(row: DisparityRow, insufficient: bool) -> dict[str, Any]:
    return {
        "feature": row.feature,
        "metric": row.metric,
        "group": row.group,
        "reference": row.reference,
        "value": row.value,
        "reference_value": row.reference_value,
        "difference": row.difference,
        "ratio": row.ratio,
        "insufficient_data": insufficient,
    }


def _is_number(value: Any) -> bool:
    return value is not None and not math.isnan(value)


def _json_number(value: Any) -> float | None:
    return float(value) if _is_number(value) and math.isfinite(value) else None


def uncertainty_section(
    disparities: Sequence[Mapping[str, Any]], uncertainty: Mapping[str, Any] | None, note: str = ""
) -> dict[str, Any] | None:
    """Return the ``uncertainty`` section of rows and computed intervals (``note``: said of
    the untested disparities); None without intervals."""
    if uncertainty is None:
        return None
    verdicts = [d["significance"] for d in disparities]
    significant = verdicts.count("significant")
    tested = significant + verdicts.count("within noise")
    insufficient = verdicts.count("insufficient data")
    method = uncertainty["method"]
    confidence = method["confidence"]
    return {
        **method,
        "overall_ci": uncertainty["overall_ci"],
        "significant": significant,
        "tested": tested,
        "insufficient": insufficient,
        "summary": (
            f"{significant} of {tested} tested disparities are significant at "
            f"{1 - confidence:.2g} after {method.get('correction', 'holm').title()} "
            f"correction; {insufficient} involve a group too small "
            f"or a value undefined and were not tested{note}. Intervals are "
            f"{confidence:.0%} confidence intervals."
        ),
    }


class Measurement(GroupingNames):
    """Every number of one audit (or one mitigated variant), computed once.

    Parameters
    ----------
    statistics:
        The per-group sufficient statistics (:class:`BinaryCounts`).
    reference:
        ``{feature: value}`` of the wanted reference group; the largest group otherwise.
    min_group_size:
        Groups with fewer rows are ``insufficient_data``: not tested, never worse off.
    min_denominator:
        A group's rate whose denominator (``metric_denominators``: positives for TPR,
        negatives for FPR, ...) has fewer rows is insufficient data for that metric: listed
        in the row's ``insufficient_metrics``, left out of the headline metrics (each entry's
        ``excluded``) and of the worse-off groups, and its disparities are not tested.
    metrics:
        The metrics compared with the reference (default: all the statistics define).
    direction:
        Whether a positive prediction is favourable (:class:`Direction`, the default) or
        adverse: who is worse off and the ratios of ``worse_off`` follow it.

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
        min_denominator: int = 10,
        metrics: Sequence[str] | None = None,
        direction: Direction | None = None,
    ) -> None:
        self.statistics = statistics
        self.direction = direction or Direction()
        self.wanted_reference = dict(reference or {})
        self.min_group_size = min_group_size
        self.min_denominator = min_denominator
        self.metric_names = list(metrics) if metrics is not None else statistics.metric_names()
        self.overall, self.tables = statistics.tables(self.wanted_reference)
        self.disparity_rows = [
            row for t in self.tables for row in disparities_vs_reference(t, self.metric_names)
        ]
        self.by_group = []
        for t in self.tables:
            for i, row in enumerate(statistics.group_rows(t, min_group_size)):
                row["insufficient_metrics"] = [
                    m for m in row["metrics"] if not self._sufficient_at(t, m, i)
                ]
                self.by_group.append(row)
        self.disparities = [
            _disparity_json(row, self._insufficient_pair(row)) for row in self.disparity_rows
        ]
        self.headline = []
        for t in self.tables:
            excluded = headline_exclusions(t, min_denominator)
            for metric, value in headline_metrics(t, min_denominator).items():
                self.headline.append(
                    {"feature": t.name, "metric": metric, "value": value,
                     "excluded": excluded[metric]}
                )  # fmt: skip
        self.uncertainty: dict[str, Any] | None = None

    def _sufficient_at(self, table: GroupTable, metric: str, index: int) -> bool:
        """Return whether group ``index``'s ``metric`` has at least ``min_denominator`` rows
        in its denominator."""
        return bool(metric_denominators(table.counts[index], metric) >= self.min_denominator)

    def _insufficient_pair(self, row: DisparityRow) -> bool:
        """Return whether the group's or the reference's rate of a disparity is insufficient."""
        table = next(t for t in self.tables if t.name == row.feature)
        indices = (table.groups.index(row.group), table.reference)
        return not all(self._sufficient_at(table, row.metric, i) for i in indices)

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
                min_denominator=self.min_denominator,
            )
        )
        attach_to_rows(
            computed, by_group=self.by_group, disparities=self.disparities, headline=self.headline
        )
        # Headline intervals cover the same sufficient groups as the headline values
        # (compute_uncertainty's min_denominator), so an entry with exclusions keeps its ci.
        self.uncertainty = computed

    def uncertainty_section(self) -> dict[str, Any] | None:
        """Return the AuditResult's ``uncertainty`` section (None without intervals)."""
        return uncertainty_section(self.disparities, self.uncertainty)

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
        """Return, per grouping and worse-off metric (``Direction.worse_off_metrics``), its
        worst-off group.

        Among the groups with at least ``min_group_size`` rows, a rate with at least
        ``min_denominator`` rows in its denominator and a defined value, when two or more
        have one: the group least often given the favourable outcome, compared with the
        best-off of them (``ratio`` of their favourable-outcome rates, the four-fifths
        ratio: fairlearn's min / max over those groups when a positive prediction is
        favourable; ``difference`` = value - best value of the metric) and with the
        reference group (``reference_value``). ``below_band`` marks a ratio below ``RATIO_BAND``'s
        lower end.
        """
        out = []
        favorable = self.direction.favorable_rate
        for table in self.tables:
            rows = [r for r in self.by_group if r["feature"] == table.name]
            for metric in self.direction.worse_off_metrics:
                usable = [
                    i
                    for i, r in enumerate(rows)
                    if not r["insufficient_data"]
                    and metric not in r["insufficient_metrics"]
                    and _is_number(r["metrics"].get(metric))
                ]
                if len(usable) >= 2:
                    # Ties go to the first group in table order, whichever the direction.
                    worst = min(usable, key=lambda i: favorable(rows[i]["metrics"][metric]))
                    best = max(usable, key=lambda i: favorable(rows[i]["metrics"][metric]))
                    entry = self._worse_off_entry(table, rows, metric, worst, best)
                    between = self._between_intervals(table, rows, metric, usable)
                    entry["ci_difference_between"], entry["ci_ratio_between"] = between
                    out.append(entry)
        return out

    def _favorable_parts(
        self, table: GroupTable, metric: str
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Return (favourable outcomes, denominator) of ``metric`` per group of ``table``."""
        parts = proportion_parts(table.counts, metric)
        if parts is None or self.direction.positive_favorable:
            return parts
        x, n = parts
        return n - x, n

    def _between_intervals(
        self, table: GroupTable, rows: list[dict[str, Any]], metric: str, usable: list[int]
    ) -> tuple[list[float | None] | None, list[float | None] | None]:
        """Return simultaneous intervals of max - min and min / max of the favourable-outcome
        rate over the ``usable`` groups (Šidák-level Wilson bounds, as the headline
        intervals), or Nones without intervals."""
        parts = self._favorable_parts(table, metric)
        if self.uncertainty is None or parts is None:
            return None, None
        x, n = parts
        index = [table.groups.index(rows[i]["group"]) for i in usable]
        level = sidak_confidence(self.uncertainty["method"]["confidence"], len(index))
        difference, ratio = between_groups_bounds(wilson_interval(x[index], n[index], level))
        return [_json_number(v) for v in difference], [_json_number(v) for v in ratio]

    def _worse_off_entry(
        self, table: GroupTable, rows: list[dict[str, Any]], metric: str, worst: int, best: int
    ) -> dict[str, Any]:
        """Return one worse-off entry: group ``worst`` against ``best`` and the reference.

        ``ci_ratio`` is the MOVER-R Wilson interval of the ratio of favourable-outcome
        rates; ``significance`` the verdict of the audit's (multiplicity-adjusted) test
        when one of the two groups is the reference, otherwise whether ``ci_ratio``
        excludes 1 (unadjusted).
        """
        value, best_value = rows[worst]["metrics"][metric], rows[best]["metrics"][metric]
        reference_value = table.values[metric][table.reference]
        ci_ratio, significance = None, None
        parts = self._favorable_parts(table, metric)
        if self.uncertainty is not None and best != worst and parts is not None:
            x, n = parts
            i, j = table.groups.index(rows[worst]["group"]), table.groups.index(rows[best]["group"])
            interval = mover_ratio_interval(
                x[i], n[i], x[j], n[j], self.uncertainty["method"]["confidence"]
            )
            ci_ratio = [_json_number(v) for v in interval.tolist()]
            other = sorted({i, j} - {table.reference})
            if len(other) == 1:
                other_group = table.groups[other[0]]
                tested = next(
                    d for d in self.disparities
                    if d["feature"] == table.name and d["metric"] == metric
                    and d["group"] == other_group
                )  # fmt: skip
                significance = tested.get("significance")
                if significance == "within noise" and tested.get("note"):
                    # The unadjusted interval excludes the null: say why it is still noise.
                    significance = "within noise after Holm adjustment"
            elif None not in ci_ratio:
                excludes = not ci_ratio[0] <= 1 <= ci_ratio[1]  # type: ignore[operator]
                # Not a test of the audit's family: say so wherever it is shown.
                significance = "significant, unadjusted" if excludes else "within noise, unadjusted"
        favorable = self.direction.favorable_rate
        favorable_value, best_favorable = favorable(value), favorable(best_value)
        ratio = favorable_value / best_favorable if best_favorable > 0 else None
        return {
            "feature": table.name,
            "metric": metric,
            "group": dict(rows[worst]["group"]),
            "count": rows[worst]["count"],
            "value": value,
            "best_group": dict(rows[best]["group"]),
            "best_value": best_value,
            "reference_group": dict(table.groups[table.reference]),
            "reference_value": _json_number(reference_value),
            "positive_prediction": self.direction.positive_prediction,
            "favorable_value": favorable_value,
            "best_favorable_value": best_favorable,
            "ratio": ratio,
            "difference": value - best_value,
            "ci_ratio": ci_ratio,
            "significance": significance,
            "below_band": ratio is not None and ratio < RATIO_BAND[0],
        }

    def summary(self) -> dict[str, Any]:
        """Return the AuditResult's ``summary``: the ratio band and the worse-off groups."""
        return {
            "ratio_band": list(RATIO_BAND),
            "worse_off": self.worse_off(),
        }
