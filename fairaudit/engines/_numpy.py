"""The numpy engine: the in-memory path (pandas read, predict, ``count_groups``).

It is the reference the other engines are tested against, and the only engine that can
score a model. Its score sums are computed from rows with the same integer arithmetic
as the SQL engines, so every engine returns the same ``ScoreSums``.
"""

from __future__ import annotations

import numpy as np

from fairaudit.counts import BRIER_SCALE, GroupCounts, ScoreSummary, ScoreSums, count_groups
from fairaudit.data import load_evaluation_data
from fairaudit.engines._types import EngineCounts, Progress, check_reference, groupings
from fairaudit.measure import check_rows_group_limit
from fairaudit.models import audit_predictions
from fairaudit.spec import AuditSpec

__all__ = ["count_numpy", "score_summary_from_rows"]

# Limbs of the exact integer sums: a value below 2**63 is three 21-bit limbs, and a
# per-group sum of count x limb stays below 2**53 (exact in float64) up to 2**32 rows.
_LIMB_BITS = 21
_LIMB_MASK = (1 << _LIMB_BITS) - 1
_RADIX_LIMIT = np.iinfo(np.uint16).max


def count_numpy(spec: AuditSpec, progress: Progress) -> EngineCounts:
    """Return the EngineCounts of ``spec`` from the in-memory (pandas + numpy) path."""
    progress(f"reading {spec.data}")
    data = load_evaluation_data(spec)
    features = tuple(f.name for f in data.sensitive)
    levels = tuple(f.levels for f in data.sensitive)
    check_reference(spec, features, levels)
    check_rows_group_limit(spec, data)  # before predicting: the model may be slow
    progress("predicting" if spec.model is not None else "reading predictions")
    predicted = audit_predictions(spec, data)
    progress("counting")
    score = predicted.score
    group_counts = count_groups(
        features,
        [f.codes for f in data.sensitive],
        levels,
        data.y_true,
        predicted.y_pred,
        with_row_cells=score is not None,
    )
    # Score metrics from the same exact sufficient statistics every engine computes, so
    # all engines agree to the last bit.
    score_summary = (
        score_summary_from_rows(group_counts, data.y_true, score, predicted.score_is_probability)
        if score is not None
        else None
    )
    return EngineCounts(
        engine="numpy",
        group_counts=group_counts,
        checks=tuple(data.checks),
        rows_read=data.rows_read,
        rows=len(data.y_true),
        label_values=data.label_values,
        score_summary=score_summary,
        lineage_data={
            "path": data.path.as_posix(),
            "file_name": data.path.name,
            "sha256": data.sha256,
            "format": data.format,
            "rows": int(len(data.y_true)),
            "rows_read": data.rows_read,
            "columns": [str(c) for c in data.frame.columns],
        },
        prediction_source=predicted.source,
        model_lineage=predicted.model_lineage,
        data=data,
        y_pred=predicted.y_pred,
        score=score,
        estimator=predicted.estimator,
        feature_columns=predicted.feature_columns,
    )


def brier_fixed(t: np.ndarray) -> np.ndarray:
    """Return ``floor(t * 2**62)`` as int64 for squared errors ``0 <= t <= 1``."""
    return np.floor(t * float(BRIER_SCALE)).astype(np.int64)


def _exact_sums(group: np.ndarray, n_groups: int, weight: np.ndarray, value: np.ndarray) -> list:
    """Return ``sum(weight * value)`` per group as Python ints (value < 2**63, weight < 2**32)."""
    weight = weight.astype(np.float64)
    value = np.asarray(value, dtype=np.int64)
    total = [0] * n_groups
    for shift in (0, _LIMB_BITS, 2 * _LIMB_BITS):
        limb = ((value >> shift) & _LIMB_MASK).astype(np.float64)
        sums = np.bincount(group, weights=weight * limb, minlength=n_groups)
        for g, s in enumerate(sums.tolist()):
            total[g] += int(s) << shift
    return total


def _group_score_order(group: np.ndarray, n_groups: int, by_score: np.ndarray) -> np.ndarray:
    """Return the order by (group, score), given the order by score (a stable sort)."""
    group_of = group[by_score]
    if n_groups <= _RADIX_LIMIT:
        group_of = group_of.astype(np.uint16)  # stable argsort is a radix sort here
    return by_score[np.argsort(group_of, kind="stable")]


def _rank_sums(
    group: np.ndarray,
    n_groups: int,
    score: np.ndarray,
    pos: np.ndarray,
    neg: np.ndarray,
    by_score: np.ndarray,
) -> tuple[list, list, list, list, list]:
    """Return n_pos, n_neg, u2, a2, b2 per group from (group, score, pos, neg) blocks."""
    order = _group_score_order(group, n_groups, by_score)
    g, s, p, q = group[order], score[order], pos[order], neg[order]
    n = len(order)
    if n == 0:
        zero = [0] * n_groups
        return zero, zero, zero, zero, zero
    new = np.ones(n, dtype=bool)
    new[1:] = (g[1:] != g[:-1]) | (s[1:] != s[:-1])
    starts = np.flatnonzero(new)
    g = g[starts]
    p = np.add.reduceat(p, starts)
    q = np.add.reduceat(q, starts)
    n_pos = np.bincount(g, weights=p, minlength=n_groups).astype(np.int64)
    n_neg = np.bincount(g, weights=q, minlength=n_groups).astype(np.int64)
    group_neg_start = np.concatenate([[0], np.cumsum(n_neg)])[g]
    group_pos_end = np.cumsum(n_pos)[g]
    neg_below = np.cumsum(q) - q - group_neg_start
    pos_above = group_pos_end - np.cumsum(p)
    a = 2 * neg_below + q
    b = 2 * pos_above + p
    return (
        n_pos.tolist(),
        n_neg.tolist(),
        _exact_sums(g, n_groups, p, a),
        _exact_sums(g, n_groups, p, a * a),
        _exact_sums(g, n_groups, q, b * b),
    )


def score_summary_from_blocks(
    group_counts: GroupCounts,
    block_cell: np.ndarray,
    block_score: np.ndarray,
    block_pos: np.ndarray,
    block_neg: np.ndarray,
    is_probability: bool,
    score_min: float,
    score_max: float,
) -> ScoreSummary:
    """Return the ScoreSummary from (cell, score) blocks with their positives and negatives.

    ``block_cell`` indexes ``group_counts.cells``; each (cell, score) pair may repeat.
    """
    cells = group_counts.cells
    n_cells = len(cells)
    block_pos = np.asarray(block_pos, dtype=np.int64)
    block_neg = np.asarray(block_neg, dtype=np.int64)
    brier1 = brier2 = None
    if is_probability:
        t_pos = (block_score - 1.0) * (block_score - 1.0)
        t_neg = block_score * block_score
        brier1 = [
            x + y
            for x, y in zip(
                _exact_sums(block_cell, n_cells, block_pos, brier_fixed(t_pos)),
                _exact_sums(block_cell, n_cells, block_neg, brier_fixed(t_neg)),
            )
        ]
        brier2 = [
            x + y
            for x, y in zip(
                _exact_sums(block_cell, n_cells, block_pos, brier_fixed(t_pos * t_pos)),
                _exact_sums(block_cell, n_cells, block_neg, brier_fixed(t_neg * t_neg)),
            )
        ]

    by_score = np.argsort(block_score, kind="stable")  # the one float sort, shared

    def sums_for(cell_group: np.ndarray, groups: np.ndarray) -> ScoreSums:
        m = len(groups)
        n_pos, n_neg, u2, a2, b2 = _rank_sums(
            cell_group[block_cell], m, block_score, block_pos, block_neg, by_score
        )
        b1 = b2_ = None
        if brier1 is not None and brier2 is not None:
            b1, b2_ = [0] * m, [0] * m
            for c, gid in enumerate(cell_group.tolist()):
                b1[gid] += brier1[c]
                b2_[gid] += brier2[c]
        return ScoreSums(
            groups=groups,
            n_pos=tuple(n_pos),
            n_neg=tuple(n_neg),
            u2=tuple(u2),
            a2=tuple(a2),
            b2=tuple(b2),
            brier1=None if b1 is None else tuple(b1),
            brier2=None if b2_ is None else tuple(b2_),
        )

    by_grouping: dict[str, ScoreSums] = {}
    for name, indices in groupings(group_counts.features):
        if len(indices) == 1:
            column = cells[:, indices[0]]
            kept = np.unique(column)
            cell_group = np.searchsorted(kept, column)
            by_grouping[name] = sums_for(cell_group, kept[:, None])
        else:
            by_grouping[name] = sums_for(np.arange(n_cells), cells)
    overall = sums_for(np.zeros(n_cells, dtype=np.int64), np.zeros((1, 0), dtype=np.int64))
    return ScoreSummary(
        by_grouping=by_grouping,
        overall=overall,
        is_probability=is_probability,
        score_min=score_min,
        score_max=score_max,
    )


def score_summary_from_rows(
    group_counts: GroupCounts, y_true: np.ndarray, score: np.ndarray, is_probability: bool
) -> ScoreSummary:
    """Return the ScoreSummary of row-level labels and scores (needs ``row_cell``)."""
    assert group_counts.row_cell is not None
    positive = np.asarray(y_true).astype(bool)
    # + 0.0 turns -0.0 into 0.0, as the SQL engines do, so both are one tie block.
    score = np.asarray(score, dtype=np.float64) + 0.0
    cell = np.asarray(group_counts.row_cell, dtype=np.int64)
    # Rows -> (cell, score) blocks first: every grouping then sorts blocks, not rows.
    order = _group_score_order(cell, len(group_counts.cells), np.argsort(score, kind="stable"))
    cell, score, positive = cell[order], score[order], positive[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (cell[1:] != cell[:-1]) | (score[1:] != score[:-1])
    starts = np.flatnonzero(new)
    block_pos = np.add.reduceat(positive.astype(np.int64), starts) if len(starts) else starts
    block_size = np.diff(np.append(starts, len(order)))
    return score_summary_from_blocks(
        group_counts,
        cell[starts],
        score[starts],
        block_pos,
        block_size - block_pos,
        is_probability,
        float(score.min()) if len(score) else float("nan"),
        float(score.max()) if len(score) else float("nan"),
    )
