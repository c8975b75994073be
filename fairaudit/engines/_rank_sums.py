"""Exact score sums of every grouping from row-level labels and scores, in memory.

The rule of the score metrics' sufficient statistics (``counts.ScoreSums``): per group,
the Mann-Whitney and DeLong sums (``u2``, ``a2``, ``b2``) and the Brier sums, exact
integers. The numpy engine computes them from its rows, and the DuckDB engine from the
rows it streams when they fit in memory, so both run this one implementation.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from fairaudit.counts import BRIER_SCALE, GroupCounts, ScoreSummary, ScoreSums
from fairaudit.engines._types import groupings

__all__ = [
    "combine_score_summaries",
    "dense_group_counts",
    "score_summary_from_keyed_rows",
    "score_summary_from_rows",
]

# Floating-point partial sums of the exact sums run over this many values at a time, so
# each one errs by less than (chunk + 3) * 2**-53 < 2**-36 of its sum, whatever the
# summation order.
_CHUNK = 1 << 16
# The byte of a uint64 that holds its lowest bit.
_LOW_BYTE = 0 if sys.byteorder == "little" else 7
# XOR with this makes a negative float's bits order as the float does (signed int64).
_MAGNITUDE = np.int64(0x7FFFFFFFFFFFFFFF)


def _lift(low: int, approx: float, error: float) -> int:
    """Return the integer congruent to ``low`` modulo 2**64 within ``error`` of ``approx``.

    Exact when the true sum is within ``error`` of ``approx``; that pins it down while
    ``error`` is below 2**62 (checked: far beyond 10**9 rows).
    """
    if not error < 2.0**62:
        raise OverflowError("a score sum is too large to be summed exactly")
    return low + (((int(approx) - low + (1 << 63)) >> 64) << 64)


def _exact_dots(x: np.ndarray, ys: tuple[np.ndarray, ...]) -> list[int]:
    """Return ``sum(x * y)`` for each ``y`` exactly, for non-negative int64 ``x``, ``y``.

    Each sum is taken twice: exactly modulo 2**64 (uint64 arithmetic wraps), and in
    floating point, in chunks of ``_CHUNK`` (so it errs by less than ``2**-36`` of the
    sum); the two together give the exact integer.
    """
    lows = [int(np.dot(x.view(np.uint64), y.view(np.uint64))) for y in ys]
    parts: list[list[float]] = [[] for _ in ys]
    for i in range(0, len(x), _CHUNK):
        xf = x[i : i + _CHUNK].astype(np.float64)
        for part, y in zip(parts, ys):
            # multiply + sum rather than a BLAS dot: no thread start-up per call
            product = y[i : i + _CHUNK].astype(np.float64)
            product *= xf
            part.append(float(np.sum(product)))
    out = []
    for low, part in zip(lows, parts):
        approx = math.fsum(part)
        out.append(_lift(low, approx, approx * 2.0**-36))
    return out


def _exact_dot(x: np.ndarray, y: np.ndarray) -> int:
    """Return ``sum(x * y)`` exactly, for non-negative int64 ``x``, ``y`` (see _exact_dots)."""
    return _exact_dots(x, (y,))[0]


def _exact_sum(fixed: np.ndarray, t: np.ndarray) -> int:
    """Return ``sum(fixed)`` exactly, where ``fixed = floor(t * BRIER_SCALE)`` (int64).

    The float estimate ``BRIER_SCALE * sum(t)`` errs by at most one per row (the floors)
    plus ``2**-36`` of the sum (chunks of ``_CHUNK``).
    """
    low = int(np.sum(fixed.view(np.uint64)))
    parts = (float(np.sum(t[i : i + _CHUNK])) for i in range(0, len(t), _CHUNK))
    approx = math.fsum(parts) * float(BRIER_SCALE)
    return _lift(low, approx, len(t) + approx * 2.0**-36)


def _is_positive(keys: np.ndarray) -> np.ndarray:
    """Return the label bit of each key as bool (read from the keys' low bytes)."""
    low_byte = keys.view(np.uint8)[_LOW_BYTE::8]
    return (low_byte & np.uint8(1)).view(bool)


def _score_keys(score: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, bool]:
    """Return uint64 keys ``2 * code + positive`` (codes order and tie as the scores do), and
    whether each code is its score's bits.

    Non-negative floats order as their bit patterns, so a probability's code is its bits;
    other scores get order-preserving bits shifted to start at 0, or (when their span
    needs all 64 bits) dense ranks from one ``np.unique``.
    """
    bits = score.view(np.int64)
    raw = len(bits) == 0 or int(bits.min()) >= 0
    if raw:
        code = bits.view(np.uint64)
    else:
        ordered = np.where(bits < 0, bits ^ _MAGNITUDE, bits)
        low, high = int(ordered.min()), int(ordered.max())
        if high - low < 1 << 63:
            ordered -= np.int64(low)
            code = ordered.view(np.uint64)
        else:
            code = np.unique(score, return_inverse=True)[1].astype(np.uint64)
    keys = code * np.uint64(2)
    keys += positive
    return keys, raw


def _merge_ties(keys: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return sorted ``keys`` without repeats, each with the summed weight of its copies."""
    if len(keys) == 0:
        return keys, weights
    new = np.empty(len(keys), dtype=bool)
    new[0] = True
    np.not_equal(keys[1:], keys[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    return keys[starts], np.add.reduceat(weights, starts)


def _rank_sums_distinct(keys: np.ndarray) -> tuple[int, int, int, int, int]:
    """Return (n_pos, n_neg, u2, a2, b2) of one group's sorted keys, one row per key.

    With ``D_k`` the negatives sorted below the k-th positive, and no ties across
    classes, a positive's A is ``2 D_k``; a negative's B is twice the positives above it,
    and its sums follow from the positives' side: ``sum E = n_pos n_neg - sum D`` and
    ``sum E**2 = sum_k (2k + 1)(n_neg - D_k)`` for E the positives below a negative.
    Each score both classes share (its negative keys sort first) then corrects the sums.
    """
    pos_at = np.flatnonzero(_is_positive(keys))
    n_pos = len(pos_at)
    n_neg = len(keys) - n_pos
    first_pos = np.flatnonzero((keys[1:] ^ keys[:-1]) == 1) + 1  # tied scores' first positive
    pos_before = np.searchsorted(pos_at, first_pos)  # ... and the positives before it
    index = np.arange(n_pos)
    pos_at -= index  # D_k
    sum_d = int(pos_at.sum())
    sum_dd, sum_kd = _exact_dots(pos_at, (pos_at, index))
    sum_e = n_pos * n_neg - sum_d
    sum_ee = n_neg * n_pos * n_pos - 2 * sum_kd - sum_d
    u2 = 2 * sum_d
    a2 = 4 * sum_dd
    b2 = 4 * (n_neg * n_pos * n_pos - 2 * n_pos * sum_e + sum_ee)
    if len(first_pos):
        tied_neg = first_pos - np.searchsorted(keys, keys[first_pos] - np.uint64(1))
        tied_pos = np.searchsorted(keys, keys[first_pos], side="right") - first_pos
        neg_upto = first_pos - pos_before  # negatives at or below the tied score
        b0 = 2 * (n_pos - pos_before)  # a tied negative's B, counting tied positives as 2
        # A = 2 * neg_upto - tied_neg and B = b0 - tied_pos for the tied rows.
        both = tied_pos * tied_neg
        u2 -= int(both.sum())
        a2 += _exact_dot(both, tied_neg) - 4 * _exact_dot(both, neg_upto)
        b2 += _exact_dot(both, tied_pos) - 2 * _exact_dot(both, b0)
    return n_pos, n_neg, u2, a2, b2


def _rank_sums_weighted(keys: np.ndarray, weights: np.ndarray) -> tuple[int, int, int, int, int]:
    """Return (n_pos, n_neg, u2, a2, b2) of one group's distinct sorted keys with row counts.

    Within a tied score the negative key sorts first, so the negatives counted up to a
    positive's key include its tied ones, and the positives counted up to a negative's
    key exclude them.
    """
    if len(keys) == 0:
        return 0, 0, 0, 0, 0
    w_pos = np.where(_is_positive(keys), weights, 0)
    w_neg = weights - w_pos
    neg_upto = np.cumsum(w_neg)
    pos_upto = np.cumsum(w_pos)
    n_pos, n_neg = int(pos_upto[-1]), int(neg_upto[-1])
    tie = (keys[1:] ^ keys[:-1]) == 1  # a negative key followed by its positive twin
    tied_neg = np.zeros(len(keys), dtype=np.int64)
    tied_neg[1:][tie] = weights[:-1][tie]
    tied_pos = np.zeros(len(keys), dtype=np.int64)
    tied_pos[:-1][tie] = weights[1:][tie]
    a = 2 * neg_upto - tied_neg  # valid at positive keys
    b = 2 * (n_pos - pos_upto) - tied_pos  # valid at negative keys
    return (
        n_pos,
        n_neg,
        int(np.dot(w_pos, a)),
        _exact_dot(w_pos * a, a),
        _exact_dot(w_neg * b, b),
    )


def _group_rank_sums(
    keys: np.ndarray, weights: np.ndarray | None
) -> tuple[int, int, int, int, int]:
    """Return (n_pos, n_neg, u2, a2, b2) of one group's sorted keys (row counts or None)."""
    if weights is None:
        return _rank_sums_distinct(keys)
    return _rank_sums_weighted(keys, weights)


@dataclass(frozen=True)
class _CellKeys:
    """Every cell's sorted score keys, cell after cell, with row counts if merged."""

    keys: np.ndarray
    weights: np.ndarray | None
    starts: np.ndarray  # len(cells) + 1 offsets into keys

    def group(self, members: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Return the sorted keys (and weights) of the union of cells ``members``."""
        if len(members) == 0:
            return self.keys[:0], None
        first, last = int(members[0]), int(members[-1])
        if len(members) == 1:
            span = slice(self.starts[first], self.starts[first + 1])
            return self.keys[span], None if self.weights is None else self.weights[span]
        if last - first + 1 == len(members):  # consecutive cells: one slice
            parts = [slice(self.starts[first], self.starts[last + 1])]
        else:
            parts = [slice(self.starts[c], self.starts[c + 1]) for c in members.tolist()]
        keys = np.concatenate([self.keys[p] for p in parts])
        if self.weights is None:
            keys.sort()
            return keys, None
        order = np.argsort(keys)
        weights = np.concatenate([self.weights[p] for p in parts])[order]
        return _merge_ties(keys[order], weights)


def _cell_keys(keys: np.ndarray, starts: np.ndarray, weights: np.ndarray | None) -> _CellKeys:
    """Sort each cell's keys; merge tied keys into counts when that shrinks them 2x or more
    (always when the entries already stand for ``weights`` rows each)."""
    if weights is not None:
        spans = [slice(a, b) for a, b in zip(starts[:-1].tolist(), starts[1:].tolist())]
        order = np.concatenate([np.argsort(keys[span]) + span.start for span in spans] or [[]])
        keys, weights = keys[order.astype(np.int64)], weights[order.astype(np.int64)]
        new = np.empty(len(keys), dtype=bool)
        new[:1] = True
        np.not_equal(keys[1:], keys[:-1], out=new[1:])
        new[starts[:-1][starts[:-1] < len(keys)]] = True
        first = np.flatnonzero(new)
        return _CellKeys(
            keys[first],
            np.add.reduceat(weights, first) if len(first) else weights,
            np.searchsorted(first, starts),
        )
    for a, b in zip(starts[:-1].tolist(), starts[1:].tolist()):
        keys[a:b].sort()
    new = np.empty(len(keys), dtype=bool)
    new[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=new[1:])
    new[starts[:-1]] = True
    n_distinct = int(np.count_nonzero(new))
    if 2 * n_distinct > len(keys):
        return _CellKeys(keys, None, starts)
    first = np.flatnonzero(new)
    weights = np.diff(np.append(first, len(keys)))
    return _CellKeys(keys[first], weights, np.searchsorted(first, starts))


def _brier_sums(
    score: np.ndarray, positive: np.ndarray, weights: np.ndarray | None, starts: np.ndarray
) -> tuple[list[int], list[int]]:
    """Return each cell's exact sums of floor(t * 2**62) and floor(t**2 * 2**62) over rows.

    ``t = (score - y)**2`` in IEEE double. Entries ``starts[c]:starts[c + 1]`` are cell
    ``c``'s, each standing for ``weights`` rows (None: one row each).
    """
    spans = list(zip(starts[:-1].tolist(), starts[1:].tolist()))
    t = np.subtract(score, positive, dtype=np.float64)
    t *= t
    scaled = t * float(BRIER_SCALE)
    fixed = scaled.astype(np.int64)  # truncation is floor: t >= 0
    out: list[list[int]] = []
    for power in (1, 2):
        if power == 2:  # the same buffers, for t**2
            t *= t
            np.multiply(t, float(BRIER_SCALE), out=scaled)
            np.copyto(fixed, scaled, casting="unsafe")
        if weights is None:
            out.append([_exact_sum(fixed[a:b], t[a:b]) for a, b in spans])
        else:
            out.append([_exact_dot(weights[a:b], fixed[a:b]) for a, b in spans])
    return out[0], out[1]


def _grouping_sums(
    cell_keys: _CellKeys,
    cell_group: np.ndarray,
    groups: np.ndarray,
    brier: tuple[list[int], list[int]] | None,
) -> ScoreSums:
    """Return the ScoreSums of the groups made of cells (``cell_group`` maps cell -> group)."""
    sums = []
    for g in range(len(groups)):
        sums.append(_group_rank_sums(*cell_keys.group(np.flatnonzero(cell_group == g))))
    n_pos, n_neg, u2, a2, b2 = (tuple(column) for column in zip(*sums)) if sums else [()] * 5
    brier1 = brier2 = None
    if brier is not None:
        b1, b2_ = [0] * len(groups), [0] * len(groups)
        for c, g in enumerate(cell_group.tolist()):
            b1[g] += brier[0][c]
            b2_[g] += brier[1][c]
        brier1, brier2 = tuple(b1), tuple(b2_)
    return ScoreSums(groups, n_pos, n_neg, u2, a2, b2, brier1, brier2)


def score_summary_from_rows(
    group_counts: GroupCounts,
    y_true: np.ndarray,
    score: np.ndarray,
    is_probability: bool,
    weights: np.ndarray | None = None,
) -> ScoreSummary:
    """Return the ScoreSummary of row-level labels and scores (needs ``row_cell``).

    One stable counting sort of the rows by cell, one float sort of each cell's scores
    (with the label in the key's lowest bit), and per grouping a merge of its cells'
    sorted keys; rank sums follow from positions in those sorted runs. ``weights``: the
    rows each entry stands for (aggregated rows), None for one each.
    """
    assert group_counts.row_cell is not None
    cells = group_counts.cells
    n_cells = len(cells)
    narrow = np.min_scalar_type(max(n_cells - 1, 0))
    row_cell = np.asarray(group_counts.row_cell)
    by_cell = np.argsort(row_cell.astype(narrow), kind="stable")
    starts = np.zeros(n_cells + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_cell, minlength=n_cells), out=starts[1:])
    if weights is not None:
        weights = np.asarray(weights, dtype=np.int64)[by_cell]
    score = np.asarray(score, dtype=np.float64)[by_cell]
    score += 0.0  # -0.0 becomes 0.0, as in the SQL engines, so both are one tied score
    low, high = (float(score.min()), float(score.max())) if len(score) else (math.nan, math.nan)
    if len(score) and math.isnan(low):
        raise ValueError("scores must not be NaN")
    positive = np.asarray(y_true)[by_cell].astype(bool, copy=False)
    keys, decodable = _score_keys(score, positive)
    cell_keys = _cell_keys(keys, starts, weights)
    brier = None
    if is_probability and decodable and cell_keys.weights is not None:
        # Brier sums over each cell's distinct (score, label) keys, weighted by rows.
        keys = cell_keys.keys
        brier = _brier_sums(
            (keys >> np.uint64(1)).view(np.float64),
            _is_positive(keys),
            cell_keys.weights,
            cell_keys.starts,
        )
    elif is_probability:
        brier = _brier_sums(score, positive, weights, starts)

    by_grouping: dict[str, ScoreSums] = {}
    for name, indices in groupings(group_counts.features):
        if len(indices) == 1:
            column = cells[:, indices[0]]
            kept = np.unique(column)
            by_grouping[name] = _grouping_sums(
                cell_keys, np.searchsorted(kept, column), kept[:, None], brier
            )
        else:
            by_grouping[name] = _grouping_sums(cell_keys, np.arange(n_cells), cells, brier)
    overall = _grouping_sums(
        cell_keys, np.zeros(n_cells, dtype=np.int64), np.zeros((1, 0), dtype=np.int64), brier
    )
    return ScoreSummary(
        by_grouping=by_grouping,
        overall=overall,
        is_probability=is_probability,
        score_min=low,
        score_max=high,
    )


def dense_group_counts(
    dense: np.ndarray, features: tuple[str, ...], levels: tuple[tuple[str, ...], ...]
) -> GroupCounts:
    """Return the GroupCounts of ``dense`` counts, indexed ``cell * 4 + 2 * y + yhat`` over
    the whole cell space (the cell's codes in mixed radix over ``levels``)."""
    sizes = tuple(len(names) for names in levels)
    counts = np.asarray(dense, dtype=np.int64).reshape(math.prod(sizes), 4)
    present = np.flatnonzero(counts.sum(axis=1))
    cells = np.stack(np.unravel_index(present, sizes), axis=1) if sizes else present[:, None]
    return GroupCounts(
        features=features,
        levels=levels,
        cells=cells.astype(np.int64).reshape(len(present), len(sizes)),
        counts=counts[present],
    )


def score_summary_from_keyed_rows(
    key: np.ndarray,
    score: np.ndarray,
    features: tuple[str, ...],
    levels: tuple[tuple[str, ...], ...],
    *,
    is_probability: bool,
    count: np.ndarray | None = None,
) -> tuple[GroupCounts, ScoreSummary]:
    """Return the GroupCounts and ScoreSummary of rows given as int64 keys
    ``cell * 4 + 2 * y + yhat`` (the cell's codes in mixed radix over ``levels``) and
    float64 scores, in any order (the SQL engines' rows); ``count``: the rows each entry
    stands for (aggregated rows), None for one each."""
    n_cells = math.prod(len(names) for names in levels)
    dense = np.bincount(key, weights=count, minlength=4 * n_cells).astype(np.int64)
    group_counts = dense_group_counts(dense, features, levels)
    index = np.zeros(n_cells, dtype=np.int64)
    index[np.ravel_multi_index(group_counts.cells.T, [len(v) for v in levels])] = np.arange(
        len(group_counts.cells)
    )
    with_rows = replace(group_counts, row_cell=index[key >> 2])
    positive = ((key >> 1) & 1).astype(bool)
    summary = score_summary_from_rows(with_rows, positive, score, is_probability, count)
    return group_counts, summary


def _combined_sums(parts: Sequence[ScoreSums], width: int) -> ScoreSums:
    """Return the ScoreSums of one grouping over ``parts`` in ascending score order.

    A positive's A over all parts is its A within its part plus twice the negatives of
    its group in lower parts (``nb``); a negative's B, its B within plus twice the
    positives in higher parts (``pa``). Expanding the squares, and as sum B = sum A = u2
    within a part: ``a2 += 4 nb u2 + 4 nb**2 n_pos``, ``b2 += 4 pa u2 + 4 pa**2 n_neg``.
    """
    rows = [[tuple(g) for g in part.groups.tolist()] for part in parts]
    total_pos: dict[tuple, int] = {}
    for part, keys in zip(parts, rows):
        for key, p in zip(keys, part.n_pos):
            total_pos[key] = total_pos.get(key, 0) + p
    acc = {key: [0] * 7 for key in total_pos}
    neg_below = dict.fromkeys(total_pos, 0)
    pos_upto = dict.fromkeys(total_pos, 0)
    for part, keys in zip(parts, rows):
        brier = zip(part.brier1 or [0] * len(keys), part.brier2 or [0] * len(keys))
        for key, p, n, u, a, b, (b1, b2) in zip(
            keys, part.n_pos, part.n_neg, part.u2, part.a2, part.b2, brier
        ):
            nb, pa = neg_below[key], total_pos[key] - pos_upto[key] - p
            total = acc[key]
            total[0] += p
            total[1] += n
            total[2] += u + 2 * nb * p
            total[3] += a + 4 * nb * u + 4 * nb * nb * p
            total[4] += b + 4 * pa * u + 4 * pa * pa * n
            total[5] += b1
            total[6] += b2
            neg_below[key] += n
            pos_upto[key] += p
    keys = sorted(acc)
    columns = [tuple(acc[key][j] for key in keys) for j in range(7)]
    brier_known = all(part.brier1 is not None for part in parts)
    n_pos, n_neg, u2, a2, b2 = columns[:5]
    return ScoreSums(
        np.array(keys, dtype=np.int64).reshape(len(keys), width),
        n_pos,
        n_neg,
        u2,
        a2,
        b2,
        brier1=columns[5] if brier_known else None,
        brier2=columns[6] if brier_known else None,
    )


def combine_score_summaries(parts: Sequence[ScoreSummary], *, is_probability: bool) -> ScoreSummary:
    """Return the ScoreSummary of rows split into ``parts`` by score: every score of a
    part below every score of the next one (so tied scores are in one part).

    The DuckDB engine's sorted stream sums one chunk at a time, the Spark engine one
    score bucket per task, each with ``score_summary_from_keyed_rows``; this adds them up
    exactly (Python integers), whatever the number of rows. ``parts`` is not empty.
    """
    nonempty = [part for part in parts if sum(part.overall.n_pos) + sum(part.overall.n_neg)]
    if not nonempty:  # no rows at all: the (empty) summary of any part
        return parts[0]
    parts = nonempty
    widths = {name: sums.groups.shape[1] for name, sums in parts[0].by_grouping.items()}
    return ScoreSummary(
        by_grouping={
            name: _combined_sums([part.by_grouping[name] for part in parts], width)
            for name, width in widths.items()
        },
        overall=_combined_sums([part.overall for part in parts], 0),
        is_probability=is_probability,
        score_min=min(part.score_min for part in parts),
        score_max=max(part.score_max for part in parts),
    )
