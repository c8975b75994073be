"""By-group tables, disparities and headline metrics over the counts table.

The confusion-matrix metrics themselves are defined once, in ``fairaudit.stats``
(``confusion_metrics``), where the intervals resample them; an undefined value (a zero
denominator) is NaN here and ``null`` in JSON, never 0. Names follow fairlearn and
scikit-learn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from fairaudit.counts import GroupCounts
from fairaudit.display import group_text
from fairaudit.stats import confusion_metrics, metric_denominators, safe_divide
from fairaudit.vocabulary import HEADLINE_BASES, INTERSECTION

if TYPE_CHECKING:
    from fairaudit.counts import ScoreSummary

__all__ = [
    "DisparityRow",
    "GroupTable",
    "between_groups",
    "build_tables",
    "disparities_vs_reference",
    "grouped_brier_score",
    "grouped_roc_auc",
    "headline_exclusions",
    "headline_metrics",
]


def grouped_brier_score(
    group: np.ndarray, n_groups: int, y_true: np.ndarray, score: np.ndarray
) -> np.ndarray:
    """Return the Brier score of each group (NaN for an empty group)."""
    squared = (score - y_true) ** 2
    sums = np.bincount(group, weights=squared, minlength=n_groups)
    sizes = np.bincount(group, minlength=n_groups)
    return safe_divide(sums, sizes.astype(np.float64))


def grouped_roc_auc(
    group: np.ndarray, n_groups: int, y_true: np.ndarray, score: np.ndarray
) -> np.ndarray:
    """Return each group's ROC AUC via the rank-sum (Mann-Whitney) statistic.

    Ties get their average rank, which equals scikit-learn's trapezoidal ROC AUC.
    NaN where a group lacks positives or negatives.
    """
    y = np.asarray(y_true, dtype=bool)
    order = np.lexsort((score, group))
    g_sorted = group[order]
    s_sorted = score[order]
    n = len(order)
    if n == 0:
        return np.full(n_groups, np.nan)
    # A new tie block starts where the group or the score changes.
    new_block = np.empty(n, dtype=bool)
    new_block[0] = True
    new_block[1:] = (g_sorted[1:] != g_sorted[:-1]) | (s_sorted[1:] != s_sorted[:-1])
    block_id = np.cumsum(new_block) - 1
    block_start = np.flatnonzero(new_block)
    block_end = np.append(block_start[1:], n)  # exclusive
    group_start = np.zeros(n_groups, dtype=np.int64)
    sizes = np.bincount(g_sorted, minlength=n_groups)
    group_start[1:] = np.cumsum(sizes)[:-1]
    # 1-based average rank of each tie block within its own group.
    block_group = g_sorted[block_start]
    mean_rank = (block_start + block_end + 1) / 2.0 - group_start[block_group]
    rank = mean_rank[block_id]
    positive = y[order]
    rank_sum = np.bincount(g_sorted, weights=np.where(positive, rank, 0.0), minlength=n_groups)
    n_pos = np.bincount(g_sorted, weights=positive.astype(np.float64), minlength=n_groups)
    n_neg = sizes - n_pos
    u_stat = rank_sum - n_pos * (n_pos + 1) / 2.0
    return safe_divide(u_stat, n_pos * n_neg)


@dataclass
class GroupTable:
    """Metrics for the groups of one grouping: a sensitive feature or the intersection.

    ``groups[i]`` maps each feature of the grouping to the group's value; ``counts[i]``
    is its confusion counts and ``values[metric][i]`` its metric values.
    ``cell_group[c]`` is the group that intersectional cell ``c`` of the GroupCounts
    belongs to, so resampled cell counts aggregate to this table's groups.
    """

    name: str
    features: tuple[str, ...]
    groups: list[dict[str, str]]
    counts: np.ndarray
    values: dict[str, np.ndarray]
    reference: int
    cell_group: np.ndarray = field(repr=False)

    @property
    def sizes(self) -> np.ndarray:
        """Return the number of rows of each group."""
        return self.counts.sum(axis=1)

    def label(self, index: int) -> str:
        """Return a display name such as ``sex=female, age=[25, 40)``."""
        return group_text(self.groups[index])


def _pick_reference(
    groups: list[dict[str, str]], sizes: np.ndarray, wanted: Mapping[str, str], features: tuple
) -> int:
    """Return the reference group's index: the largest group matching ``wanted``.

    For the intersection with references given for only some features, that is the
    largest cell with those values; with none given, the largest group overall. Ties go
    to the first group in sort order.
    """
    named = {f: v for f, v in wanted.items() if f in features}
    candidates = [
        i for i, group in enumerate(groups) if all(group[f] == v for f, v in named.items())
    ]
    if not candidates:
        candidates = list(range(len(groups)))
    return max(candidates, key=lambda i: (sizes[i], -i))


def build_tables(
    group_counts: GroupCounts,
    *,
    reference: Mapping[str, str] | None = None,
    y_true: np.ndarray | None = None,
    score: np.ndarray | None = None,
    codes: Sequence[np.ndarray] | None = None,
    score_is_probability: bool = True,
    score_summary: ScoreSummary | None = None,
) -> tuple[dict[str, float], list[GroupTable]]:
    """Return the overall metrics and one GroupTable per feature (plus the intersection).

    Single-feature counts and the overall row are sums of the intersectional counts.
    Score metrics need ``y_true``, ``score``, the per-feature ``codes`` and
    ``group_counts.row_cell``, or an engine's ``score_summary``; without either they are
    left out.
    """
    wanted = dict(reference or {})
    overall = {k: float(v) for k, v in confusion_metrics(group_counts.overall).items()}
    scored = y_true is not None and score is not None and codes is not None
    if scored:
        assert y_true is not None and score is not None
        everyone = np.zeros(len(y_true), dtype=np.int64)
        for name, values in _score_metrics(
            everyone, 1, y_true, score, score_is_probability
        ).items():
            overall[name] = float(values[0])

    if score_summary is not None:
        for name, values in score_summary.grouping(None).metric_values().items():
            overall[name] = float(values[0])
    tables = []
    features = group_counts.features
    for f_index, feature in enumerate(features):
        marginal = group_counts.marginal(f_index)
        kept = np.flatnonzero(marginal.sum(axis=1) > 0)
        # Renumber the levels that occur 0..m-1, for cell_group and score codes.
        renumber = np.full(len(marginal), -1, dtype=np.int64)
        renumber[kept] = np.arange(len(kept))
        table = _make_table(
            feature,
            (feature,),
            [{feature: group_counts.levels[f_index][i]} for i in kept],
            marginal[kept],
            renumber[group_counts.cells[:, f_index]],
            wanted,
        )
        if score_summary is not None:
            table.values.update(score_summary.grouping(feature).metric_values())
        elif scored:
            assert codes is not None and y_true is not None and score is not None
            row_group = renumber[np.asarray(codes[f_index])]
            table.values.update(
                _score_metrics(row_group, len(kept), y_true, score, score_is_probability)
            )
        tables.append(table)

    if len(features) > 1:
        groups = [
            {f: group_counts.levels[j][c] for j, (f, c) in enumerate(zip(features, cell))}
            for cell in group_counts.cells.tolist()
        ]
        n_cells = len(groups)
        table = _make_table(
            INTERSECTION, features, groups, group_counts.counts, np.arange(n_cells), wanted
        )
        if score_summary is not None:
            table.values.update(score_summary.grouping(INTERSECTION).metric_values())
        elif scored and group_counts.row_cell is not None:
            assert y_true is not None and score is not None
            table.values.update(
                _score_metrics(group_counts.row_cell, n_cells, y_true, score, score_is_probability)
            )
        tables.append(table)
    return overall, tables


def _score_metrics(
    row_group: np.ndarray, n_groups: int, y_true: np.ndarray, score: np.ndarray, probability: bool
) -> dict[str, np.ndarray]:
    """Return roc_auc and brier_score per group (Brier is NaN for non-probability scores)."""
    brier = (
        grouped_brier_score(row_group, n_groups, y_true, score)
        if probability
        else np.full(n_groups, np.nan)
    )
    return {"roc_auc": grouped_roc_auc(row_group, n_groups, y_true, score), "brier_score": brier}


def _make_table(
    name: str,
    features: tuple[str, ...],
    groups: list[dict[str, str]],
    counts: np.ndarray,
    cell_group: np.ndarray,
    wanted: Mapping[str, str],
) -> GroupTable:
    return GroupTable(
        name=name,
        features=features,
        groups=groups,
        counts=counts,
        values=confusion_metrics(counts),
        reference=_pick_reference(groups, counts.sum(axis=1), wanted, features),
        cell_group=cell_group,
    )


@dataclass(frozen=True)
class DisparityRow:
    """One group's difference and ratio to the reference group for one metric."""

    feature: str
    metric: str
    group: dict[str, str]
    reference: dict[str, str]
    value: float
    reference_value: float
    difference: float
    ratio: float


def disparities_vs_reference(table: GroupTable, metrics: Sequence[str]) -> list[DisparityRow]:
    """Return difference and ratio of every non-reference group versus the reference."""
    rows = []
    ref = table.reference
    for metric in metrics:
        if metric not in table.values or metric == "count":
            continue
        vals = table.values[metric]
        ref_value = vals[ref]
        diffs = vals - ref_value
        ratios = safe_divide(vals, np.full_like(vals, ref_value))
        for i in range(len(table.groups)):
            if i == ref:
                continue
            rows.append(
                DisparityRow(
                    feature=table.name,
                    metric=metric,
                    group=table.groups[i],
                    reference=table.groups[ref],
                    value=float(vals[i]),
                    reference_value=float(ref_value),
                    difference=float(diffs[i]),
                    ratio=float(ratios[i]),
                )
            )
    return rows


def between_groups(values: np.ndarray) -> tuple[float, float]:
    """Return fairlearn's between-groups (max - min, min / max), NaN if < 2 defined."""
    defined = values[~np.isnan(values)]
    if len(defined) < 2:
        return float("nan"), float("nan")
    low, high = float(defined.min()), float(defined.max())
    return high - low, (low / high if high != 0 else float("nan"))


def _sufficient_values(table: GroupTable, metric: str, min_denominator: int) -> np.ndarray:
    """Return ``metric``'s group values, NaN where the denominator is below the minimum."""
    values = table.values[metric]
    keep = metric_denominators(table.counts, metric) >= min_denominator
    return np.where(keep, values, np.nan)


def headline_metrics(table: GroupTable, min_denominator: int = 0) -> dict[str, float]:
    """Return fairlearn's six headline fairness metrics for one grouping.

    Over the groups whose rate has at least ``min_denominator`` rows in its denominator
    (``metric_denominators``); with 0, over every group, as fairlearn computes them.
    """
    rates = {
        m: _sufficient_values(table, m, min_denominator)
        for m in ("selection_rate", "true_positive_rate", "false_positive_rate")
    }
    sr_diff, sr_ratio = between_groups(rates["selection_rate"])
    tpr_diff, tpr_ratio = between_groups(rates["true_positive_rate"])
    fpr_diff, fpr_ratio = between_groups(rates["false_positive_rate"])
    return {
        "demographic_parity_difference": sr_diff,
        "demographic_parity_ratio": sr_ratio,
        "equalized_odds_difference": float(np.fmax(tpr_diff, fpr_diff))
        if not (np.isnan(tpr_diff) or np.isnan(fpr_diff))
        else float("nan"),
        "equalized_odds_ratio": float(np.fmin(tpr_ratio, fpr_ratio))
        if not (np.isnan(tpr_ratio) or np.isnan(fpr_ratio))
        else float("nan"),
        "equal_opportunity_difference": tpr_diff,
        "equal_opportunity_ratio": tpr_ratio,
    }


def headline_exclusions(table: GroupTable, min_denominator: int) -> dict[str, list[dict]]:
    """Return, per headline metric, the groups ``headline_metrics`` left out and why.

    Each entry is ``{group, metric, denominator}``: the rate whose denominator is below
    ``min_denominator`` (0 included: an undefined rate).
    """
    out: dict[str, list[dict]] = {}
    for family, bases in HEADLINE_BASES.items():
        excluded = []
        for metric in bases:
            denominators = metric_denominators(table.counts, metric)
            for i in np.flatnonzero(denominators < min_denominator):
                excluded.append(
                    {
                        "group": dict(table.groups[i]),
                        "metric": metric,
                        "denominator": int(denominators[i]),
                    }
                )
        for kind in ("difference", "ratio"):
            out[f"{family}_{kind}"] = excluded
    return out
