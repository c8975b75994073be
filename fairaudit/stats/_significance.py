"""Intervals, p-values and verdicts of the disparities (each group against its reference).

Package-private: ``fairaudit.stats`` re-exports the public names and explains the methods
(MOVER-D / MOVER-R intervals, z / Fisher / Wald tests, the inverted MOVER interval of
balanced accuracy, Holm's adjustment over the distinct hypotheses).
The groupings and disparity rows are described by the :class:`Grouping` and
:class:`GroupComparison` protocols, which ``fairaudit.measure``'s ``GroupTable`` and
``DisparityRow`` satisfy, so this package needs nothing from ``fairaudit.measure``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from fairaudit.stats._intervals import (
    balanced_accuracy_test,
    holm_adjust,
    mover_difference,
    mover_ratio,
    proportion_parts,
    proportion_test,
)
from fairaudit.stats._rates import metric_denominators
from fairaudit.stats._score_stats import ScoreEstimate, wald_difference
from fairaudit.vocabulary import PROPORTIONS

__all__ = [
    "ANALYTIC_METRICS",
    "COMPLEMENTS",
    "DATA_METRICS",
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

#: Exact complements (``1 - x``): the same hypothesis as the metric they map to, so a
#: complement shares its counterpart's test and counts once in the family.
COMPLEMENTS: dict[str, str] = {
    "false_negative_rate": "true_positive_rate",
    "true_negative_rate": "false_positive_rate",
    "false_discovery_rate": "precision",
    "false_omission_rate": "negative_predictive_value",
}
#: Properties of the data, not the model: tested on their own, outside the family.
DATA_METRICS: tuple[str, ...] = ("base_rate",)

NOTE_UNADJUSTED = (
    "the {confidence:.0%} interval excludes no difference, but the test adjusted for "
    "{size} comparisons (Holm) does not reject"
)
NOTE_DATA = "{metric} describes the data, not the model: tested on its own, not adjusted"

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
    note: str | None = None


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
    score_estimates: list[dict[str, ScoreEstimate]],
    *,
    confidence: float,
    min_group_size: int,
    min_denominator: int = 0,
) -> tuple[list[DisparityUncertainty], int]:
    """Return the interval, p-values and verdict of every disparity row, in order, and
    the size of the multiple-testing family (distinct hypotheses tested).

    ``point_counts``, ``points``, ``intervals`` and ``score_estimates`` hold, per table,
    the counts, point values, group intervals and score estimates. A row is tested when
    both groups have ``min_group_size`` rows, both values have ``min_denominator`` rows
    behind them (``metric_denominators``) and both are defined; the tested distinct
    hypotheses are Holm-adjusted together (``_family_adjust``), so an untested row costs
    the family nothing.
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
        denominators = metric_denominators(point_counts[k][[i, r]], metric)
        large_enough[j] = (
            min(sizes[i], sizes[r]) >= min_group_size and denominators.min() >= min_denominator
        )
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
        elif metric == "balanced_accuracy":
            p_value[j] = balanced_accuracy_test(point_counts[k][i], point_counts[k][r])
    _mover_intervals(rows, mover_rows, points, intervals, ci_difference, ci_ratio)
    tested = large_enough & ~np.isnan(p_value)
    adjusted, size = _family_adjust(rows, p_value, tested)
    alpha = 1 - confidence
    out = []
    for j in range(n_rows):
        verdict: Significance = (
            "insufficient data"
            if not tested[j]
            else ("significant" if adjusted[j] < alpha else "within noise")
        )
        note = None
        if tested[j] and rows[j].metric in DATA_METRICS:
            note = NOTE_DATA.format(metric=rows[j].metric)
        elif verdict == "within noise" and _excludes_null(ci_difference[j], ci_ratio[j]):
            note = NOTE_UNADJUSTED.format(confidence=confidence, size=size)
        out.append(
            DisparityUncertainty(
                ci_difference=_interval_tuple(ci_difference[j]),
                ci_ratio=_interval_tuple(ci_ratio[j]),
                p_value=float(p_value[j]),
                p_value_adjusted=float(adjusted[j]),
                significance=verdict,
                note=note,
            )
        )
    return out, size


def _excludes_null(ci_difference: np.ndarray, ci_ratio: np.ndarray) -> bool:
    """Return whether an interval excludes no difference (0) or no ratio (1)."""
    return bool(ci_difference[0] > 0 or ci_difference[1] < 0 or ci_ratio[0] > 1 or ci_ratio[1] < 1)


def _family_adjust(
    rows: Sequence[GroupComparison], p_value: np.ndarray, tested: np.ndarray
) -> tuple[np.ndarray, int]:
    """Return Holm-adjusted p-values over the distinct hypotheses, and the family's size.

    A complement (``COMPLEMENTS``) is the hypothesis of its counterpart, counted once;
    ``DATA_METRICS`` stay outside the family (their adjusted p-value is their own).
    """
    adjusted = np.full(len(rows), np.nan)
    hypothesis: dict[tuple[object, ...], int] = {}
    row_hypothesis = np.full(len(rows), -1)
    family_p: list[float] = []
    for j, row in enumerate(rows):
        if not tested[j]:
            continue
        if row.metric in DATA_METRICS:
            adjusted[j] = p_value[j]
            continue
        key = (
            row.feature,
            _group_key(row.group),
            _group_key(row.reference),
            COMPLEMENTS.get(row.metric, row.metric),
        )
        if key not in hypothesis:
            hypothesis[key] = len(family_p)
            family_p.append(float(p_value[j]))
        row_hypothesis[j] = hypothesis[key]
    family_adjusted = holm_adjust(family_p)
    in_family = row_hypothesis >= 0
    adjusted[in_family] = family_adjusted[row_hypothesis[in_family]]
    return adjusted, len(family_p)


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
