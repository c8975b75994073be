"""Intervals, p-values and verdicts of the disparities (each group against its reference).

Package-private: ``fairaudit.stats`` re-exports the public names and explains the methods
(MOVER-D / MOVER-R intervals, z / Fisher / Wald / bootstrap tests, Holm's adjustment).
The groupings and disparity rows are described by the :class:`Grouping` and
:class:`GroupComparison` protocols, which ``fairaudit.measure``'s ``GroupTable`` and
``DisparityRow`` satisfy, so this package needs nothing from ``fairaudit.measure``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from fairaudit.stats._bootstrap import bootstrap_p_value
from fairaudit.stats._intervals import (
    holm_adjust,
    mover_difference,
    mover_ratio,
    proportion_parts,
    proportion_test,
)
from fairaudit.stats._score_stats import ScoreEstimate, wald_difference
from fairaudit.vocabulary import PROPORTIONS

__all__ = [
    "ANALYTIC_METRICS",
    "UNKNOWN_GROUP",
    "UNKNOWN_TABLE",
    "WRONG_REFERENCE",
    "DisparityUncertainty",
    "GroupComparison",
    "Grouping",
    "Significance",
    "disparity_uncertainty",
]

Significance = Literal["significant", "within noise", "insufficient data"]

#: Confusion metrics with analytic (score / MOVER) intervals: all but ``count``.
ANALYTIC_METRICS: tuple[str, ...] = (*PROPORTIONS, "balanced_accuracy", "f1")

UNKNOWN_TABLE = "disparity row refers to grouping {name!r}, which is not among the tables"
UNKNOWN_GROUP = "disparity row refers to a group not in grouping {name!r}: {group}"
WRONG_REFERENCE = "disparity row's reference group is not grouping {name!r}'s reference"


class Grouping(Protocol):
    """The groups of one grouping: names, confusion counts, reference and cell map."""

    @property
    def name(self) -> str: ...
    @property
    def groups(self) -> list[dict[str, str]]: ...
    @property
    def counts(self) -> np.ndarray: ...
    @property
    def reference(self) -> int: ...
    @property
    def cell_group(self) -> np.ndarray: ...


class GroupComparison(Protocol):
    """One disparity to test: a group of a grouping against its reference, for a metric."""

    @property
    def feature(self) -> str: ...
    @property
    def metric(self) -> str: ...
    @property
    def group(self) -> dict[str, str]: ...
    @property
    def reference(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class DisparityUncertainty:
    """Interval, p-values and verdict of one disparity (aligned with a DisparityRow)."""

    ci_difference: tuple[float, float]
    ci_ratio: tuple[float, float]
    p_value: float
    p_value_adjusted: float
    significance: Significance


@dataclass(frozen=True)
class _Located:
    """Where one disparity row's two groups are: table ``k``, group ``i``, reference ``r``."""

    row: int
    k: int
    i: int
    r: int


def _group_key(group: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(group.items()))


def _locate(tables: Sequence[Grouping], rows: Sequence[GroupComparison]) -> list[_Located]:
    """Return each row's table, group and reference index; ValueError if one is not there."""
    by_name = {t.name: k for k, t in enumerate(tables)}
    group_index = [{_group_key(g): i for i, g in enumerate(t.groups)} for t in tables]
    out = []
    for j, row in enumerate(rows):
        if row.feature not in by_name:
            raise ValueError(UNKNOWN_TABLE.format(name=row.feature))
        k = by_name[row.feature]
        i = group_index[k].get(_group_key(row.group))
        if i is None:
            raise ValueError(UNKNOWN_GROUP.format(name=row.feature, group=row.group))
        r = tables[k].reference
        if group_index[k].get(_group_key(row.reference)) != r:
            raise ValueError(WRONG_REFERENCE.format(name=row.feature))
        out.append(_Located(j, k, i, r))
    return out


def _interval_tuple(pair: np.ndarray) -> tuple[float, float]:
    return float(pair[0]), float(pair[1])


def disparity_uncertainty(
    tables: Sequence[Grouping],
    rows: Sequence[GroupComparison],
    point_counts: list[np.ndarray],
    points: list[dict[str, np.ndarray]],
    intervals: list[dict[str, np.ndarray]],
    boot: list[dict[str, np.ndarray]],
    score_estimates: list[dict[str, ScoreEstimate]],
    *,
    confidence: float,
    min_group_size: int,
) -> list[DisparityUncertainty]:
    """Return the interval, p-values and verdict of every disparity row, in order.

    ``point_counts``, ``points``, ``intervals``, ``boot`` and ``score_estimates`` hold,
    per table, the counts, point values, group intervals, resampled rates and score
    estimates. A row is tested when both groups have ``min_group_size`` rows and both
    values are defined; the tested p-values are Holm-adjusted together.
    """
    n_rows = len(rows)
    ci_difference = np.full((n_rows, 2), np.nan)
    ci_ratio = np.full((n_rows, 2), np.nan)
    p_value = np.full(n_rows, np.nan)
    large_enough = np.zeros(n_rows, dtype=bool)
    # Rows whose ratio is MOVER-R from the two intervals, done in one call; for confusion
    # metrics the difference is MOVER-D as well.
    mover_rows: list[_Located] = []
    for at in _locate(tables, rows):
        j, k, i, r = at.row, at.k, at.i, at.r
        metric = rows[j].metric
        point = points[k].get(metric)
        if point is None or np.isnan(point[i]) or np.isnan(point[r]):
            continue
        sizes = point_counts[k].sum(axis=1)
        large_enough[j] = min(sizes[i], sizes[r]) >= min_group_size
        if metric in intervals[k]:
            mover_rows.append(at)
        parts = proportion_parts(point_counts[k], metric)
        if parts is not None:
            x, n = parts
            p_value[j] = proportion_test(int(x[i]), int(n[i]), int(x[r]), int(n[r]))
        elif metric in score_estimates[k]:
            e = score_estimates[k][metric]
            ci_difference[j], p_value[j] = wald_difference(
                e.value[i], e.variance[i], e.value[r], e.variance[r], confidence
            )
        elif metric in boot[k]:
            draws = boot[k][metric]
            p_value[j] = bootstrap_p_value(draws[:, i : i + 1] - draws[:, r : r + 1])[0]
    _mover_intervals(rows, mover_rows, points, intervals, ci_difference, ci_ratio)
    tested = large_enough & ~np.isnan(p_value)
    adjusted = holm_adjust(np.where(tested, p_value, np.nan))
    alpha = 1 - confidence
    out = []
    for j in range(n_rows):
        verdict: Significance = (
            "insufficient data"
            if not tested[j]
            else ("significant" if adjusted[j] < alpha else "within noise")
        )
        out.append(
            DisparityUncertainty(
                ci_difference=_interval_tuple(ci_difference[j]),
                ci_ratio=_interval_tuple(ci_ratio[j]),
                p_value=float(p_value[j]),
                p_value_adjusted=float(adjusted[j]),
                significance=verdict,
            )
        )
    return out


def _mover_intervals(
    rows: Sequence[GroupComparison],
    mover_rows: list[_Located],
    points: list[dict[str, np.ndarray]],
    intervals: list[dict[str, np.ndarray]],
    ci_difference: np.ndarray,
    ci_ratio: np.ndarray,
) -> None:
    """Fill the MOVER-R ratio (and, for confusion metrics, MOVER-D difference) intervals."""
    if not mover_rows:
        return
    est = np.empty((2, len(mover_rows)))
    lim = np.empty((2, len(mover_rows), 2))
    for q, at in enumerate(mover_rows):
        metric = rows[at.row].metric
        est[:, q] = points[at.k][metric][[at.i, at.r]]
        lim[:, q] = intervals[at.k][metric][[at.i, at.r]]
    where = np.array([at.row for at in mover_rows])
    ci_ratio[where] = mover_ratio(est[0], lim[0], est[1], lim[1])
    confusion = np.array([rows[j].metric in ANALYTIC_METRICS for j in where])
    ci_difference[where[confusion]] = mover_difference(est[0], lim[0], est[1], lim[1])[confusion]
