"""A regression model's group statistics: the ``GroupStatistics`` kind for regression.

:class:`RegressionStatistics` wraps :class:`RegressionCells` (exact sums and sorted
predictions per intersectional cell, ``_regression_sums``) and gives what a Measurement
reads: the overall metrics, one ``GroupTable`` per grouping (each feature and the
intersection; marginal groups are sums of cells, as for binary, and the tables are laid
out by ``build_tables``, so groups, order and reference are chosen by the binary rule),
the group rows, the disparities (differences and ratios of the group metrics, plus the
distribution distances KS and Wasserstein against the reference), the headline metrics
and, in ``_regression_uncertainty``, the intervals and tests.

Group metrics, from a group's exact sums (each rounded once, when it becomes a float):

* ``mean_prediction = Σŷ / n``, ``mean_target = Σy / n``, ``mean_error = (Σŷ - Σy) / n``
  (signed: above 0 the model over-predicts);
* ``mean_absolute_error = Σ|ŷ - y| / n``,
  ``root_mean_squared_error = sqrt((Σŷ² - 2Σŷy + Σy²) / n)``;
* ``r2 = 1 - SSE / SST`` with ``SST = Σy² - (Σy)² / n``; null (NaN) when ``SST = 0``,
  i.e. the group's target has no variance (scikit-learn returns 1 or 0 there).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import numpy as np

from fairaudit.measure._metrics import DisparityRow, GroupTable, build_tables
from fairaudit.measure._regression_distribution import (
    ks_between_groups,
    ks_statistic,
    wasserstein_distance,
)
from fairaudit.measure._regression_sums import RegressionCells
from fairaudit.measure._regression_uncertainty import RegressionUncertainty, regression_uncertainty
from fairaudit.vocabulary import REGRESSION_METRICS

__all__ = ["RegressionStatistics", "regression_values"]

_NAN = math.nan


def _group_values(n: int, sums: Mapping[str, Fraction]) -> dict[str, float]:
    """Return one group's metrics from its size and exact sums (NaN when undefined)."""
    if n == 0:
        return {name: _NAN for name in REGRESSION_METRICS if name != "count"} | {"count": 0.0}
    sse = sums["prediction_squared"] - 2 * sums["cross"] + sums["target_squared"]
    sst = sums["target_squared"] - sums["target"] ** 2 / n
    return {
        "count": float(n),
        "mean_prediction": float(sums["prediction"] / n),
        "mean_target": float(sums["target"] / n),
        "mean_error": float((sums["prediction"] - sums["target"]) / n),
        "mean_absolute_error": float(sums["absolute_error"] / n),
        "root_mean_squared_error": math.sqrt(float(sse / n)),
        "r2": float(1 - sse / sst) if sst > 0 else _NAN,
    }


def regression_values(
    sizes: Sequence[int], sums: Mapping[str, Sequence[Fraction]]
) -> dict[str, np.ndarray]:
    """Return ``{metric: one value per group}`` of REGRESSION_METRICS from exact sums."""
    rows = [
        _group_values(int(n), {name: column[g] for name, column in sums.items()})
        for g, n in enumerate(sizes)
    ]
    return {name: np.array([row[name] for row in rows]) for name in REGRESSION_METRICS}


def _bounded_loss(
    values: np.ndarray, usable: np.ndarray, overall: float
) -> tuple[float, int | None]:
    """Return (worst usable group's value / overall, its index), NaN without one."""
    if not usable.any() or not overall > 0:
        return _NAN, None
    worst = int(np.flatnonzero(usable)[np.argmax(values[usable])])
    return float(values[worst] / overall), worst


#: Steps of a group's prediction summary: its lower quantiles at k / 40 (41 values).
PREDICTION_QUANTILE_STEPS = 40


def prediction_quantiles(
    ordered: np.ndarray, steps: int = PREDICTION_QUANTILE_STEPS
) -> list[float]:
    """Return the lower quantiles of sorted values at ``k / steps``, ``k = 0..steps``: the
    value of rank ``ceil(k n / steps)`` (``q[0]`` the smallest), in integer arithmetic so
    every engine picks the same values; empty for no values."""
    n = len(ordered)
    ranks = [1] + [-(-k * n // steps) for k in range(1, steps + 1)]
    return [float(ordered[r - 1]) for r in ranks] if n else []


@dataclass(frozen=True)
class RegressionStatistics:
    """A regression model's statistics: exact sums and sorted predictions per cell."""

    regression_cells: RegressionCells

    def metric_names(self) -> list[str]:
        """Return the group metrics, in report order (without ``count``)."""
        return [m for m in REGRESSION_METRICS if m != "count"]

    def group_sums(self, table: GroupTable) -> dict[str, list[Fraction]]:
        """Return the exact sums of each group of ``table`` (sums of its cells)."""
        return self.regression_cells.group_sums(table.cell_group, len(table.groups))

    def overall_sums(self) -> tuple[int, dict[str, list[Fraction]]]:
        """Return the number of rows and the exact sums of all rows together."""
        cells = self.regression_cells
        everyone = np.zeros(len(cells.sizes), dtype=np.int64)
        return int(cells.sizes.sum()), cells.group_sums(everyone, 1)

    def tables(self, reference: Mapping[str, str]) -> tuple[dict[str, float], list[GroupTable]]:
        """Return the overall metrics and one GroupTable per grouping (counts: ``(m, 1)``
        group sizes; values: REGRESSION_METRICS)."""
        _, laid_out = build_tables(self.regression_cells.group_counts, reference=reference)
        n, sums = self.overall_sums()
        overall_values = regression_values([n], sums)
        overall = {name: float(values[0]) for name, values in overall_values.items()}
        tables = []
        for table in laid_out:
            sizes = table.counts[:, :1]
            values = regression_values(sizes[:, 0].tolist(), self.group_sums(table))
            tables.append(replace(table, counts=sizes, values=values))
        return overall, tables

    def group_rows(self, table: GroupTable, min_group_size: int) -> list[dict[str, Any]]:
        """Return each group's row: size, metrics, flags (``constant_target``: r2 null) and
        its ``prediction_quantiles`` (for the report's ECDF chart)."""
        rows = []
        sizes = table.sizes
        samples = self.predictions(table)
        for i, group in enumerate(table.groups):
            metrics = {name: float(table.values[name][i]) for name in self.metric_names()}
            rows.append(
                {
                    "feature": table.name,
                    "group": dict(group),
                    "count": int(sizes[i]),
                    "metrics": metrics,
                    "reference": i == table.reference,
                    "insufficient_data": bool(sizes[i] < min_group_size),
                    "constant_target": math.isnan(metrics["r2"]),
                    "prediction_quantiles": prediction_quantiles(samples[i]),
                }
            )
        return rows

    def cells(self) -> tuple[int, int, int]:
        """Return (features, intersectional cells with rows, possible cells)."""
        counts = self.regression_cells.group_counts
        possible = math.prod(len(levels) for levels in counts.levels)
        return len(counts.features), len(counts.counts), possible

    def predictions(self, table: GroupTable) -> list[np.ndarray]:
        """Return each group's sorted predictions."""
        cells = self.regression_cells
        return [
            cells.group_predictions(np.flatnonzero(table.cell_group == g))
            for g in range(len(table.groups))
        ]

    def distribution_disparities(self, table: GroupTable) -> list[DisparityRow]:
        """Return ``ks_statistic`` and ``wasserstein_distance`` of every non-reference group
        against the reference (``value`` and ``difference``: the distance; ``ratio``: NaN)."""
        samples = self.predictions(table)
        ref = table.reference
        rows = []
        for metric, distance in (
            ("ks_statistic", ks_statistic),
            ("wasserstein_distance", wasserstein_distance),
        ):
            for i, group in enumerate(table.groups):
                if i == ref:
                    continue
                value = distance(samples[i], samples[ref])
                rows.append(
                    DisparityRow(
                        table.name, metric, group, table.groups[ref], value, 0.0, value, _NAN
                    )
                )
        return rows

    def headline(
        self, table: GroupTable, overall: Mapping[str, float], min_group_size: int = 0
    ) -> list[dict[str, Any]]:
        """Return the headline metrics of one grouping, over groups of ``min_group_size``
        rows or more: the largest KS statistic between two groups and the worst group's
        MAE and RMSE over the overall (``group``: that worst group; ``excluded``: the
        groups left out as too small)."""
        usable = table.sizes >= min_group_size
        samples = self.predictions(table)
        excluded = [dict(table.groups[i]) for i in np.flatnonzero(~usable)]
        ks = ks_between_groups([s for s, keep in zip(samples, usable) if keep])
        out = [{"metric": "ks_statistic", "value": ks, "group": None}]
        for metric, base in (
            ("max_group_mae_ratio", "mean_absolute_error"),
            ("max_group_rmse_ratio", "root_mean_squared_error"),
        ):
            ratio, worst = _bounded_loss(table.values[base], usable, overall[base])
            group = None if worst is None else dict(table.groups[worst])
            out.append({"metric": metric, "value": ratio, "group": group})
        return [{"feature": table.name, **entry, "excluded": excluded} for entry in out]

    def uncertainty(
        self,
        tables: Sequence[GroupTable],
        disparity_rows: Sequence[DisparityRow],
        *,
        confidence: float,
        n_resamples: int = 0,
        seed: int = 0,
        min_group_size: int,
        min_denominator: int = 0,
    ) -> RegressionUncertainty:
        """Return ``regression_uncertainty`` of the tables and disparity rows (analytic:
        ``n_resamples``, ``seed`` and ``min_denominator`` are not used)."""
        return regression_uncertainty(
            self, tables, disparity_rows, confidence=confidence, min_group_size=min_group_size
        )
