"""The SQL of the score sums: per group, exact Mann-Whitney, DeLong and Brier sums from
window functions over the (cell, label, score) aggregate ``fa_agg``; and the counts table."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from fairaudit.counts import BRIER_SCALE, GroupCounts, ScoreSummary, ScoreSums
from fairaudit.engines._sql_source import Dialect, SqlRunner
from fairaudit.engines._types import groupings

__all__ = [
    "SORTED_MAX_CELLS",
    "SORTED_MAX_ROWS",
    "group_counts_from_rows",
    "sorted_score_summary",
    "sql_score_summary",
]

_SCALE = f"CAST({BRIER_SCALE} AS DOUBLE)"


def sql_score_summary(
    runner: SqlRunner,
    dialect: Dialect,
    features: tuple[str, ...],
    *,
    is_probability: bool,
    score_min: float,
    score_max: float,
) -> ScoreSummary:
    """Return the ScoreSummary of every grouping from ``fa_agg`` (codes, y, s and n).

    Brier sums only for probabilities: larger squared errors overflow the fixed point.
    """
    by_grouping = {
        name: _score_sums(runner, dialect, [f"c{i}" for i in indices], is_probability)
        for name, indices in groupings(features)
    }
    return ScoreSummary(
        by_grouping=by_grouping,
        overall=_score_sums(runner, dialect, [], is_probability),
        is_probability=is_probability,
        score_min=score_min,
        score_max=score_max,
    )


def _score_sums(
    runner: SqlRunner, dialect: Dialect, group_cols: list[str], probability: bool
) -> ScoreSums:
    """Return the score sums per group of ``group_cols`` (none: overall) from ``fa_agg``."""
    big = dialect.big_int
    if group_cols:
        select_g = ", ".join(group_cols)
        group_by = ", ".join([*group_cols, "s"])
        partition = select_g
    else:
        select_g = "0 AS zz"
        group_by = "s"
        partition = "zz"
        group_cols = ["zz"]
    brier = ""
    if probability:
        t = "((s - CAST(y AS DOUBLE)) * (s - CAST(y AS DOUBLE)))"
        brier = (
            f", sum(CAST(n AS {big}) * CAST(floor({t} * {_SCALE}) AS BIGINT)) AS br1"
            f", sum(CAST(n AS {big}) * CAST(floor({t} * {t} * {_SCALE}) AS BIGINT)) AS br2"
        )
    blocks = (
        f"SELECT {select_g}, s, sum(CASE WHEN y = 1 THEN n ELSE 0 END) AS pos, "
        f"sum(CASE WHEN y = 1 THEN 0 ELSE n END) AS neg{brier} FROM fa_agg GROUP BY {group_by}"
    )
    window = (
        f"SELECT *, sum(neg) OVER (PARTITION BY {partition} ORDER BY s ROWS BETWEEN "
        f"UNBOUNDED PRECEDING AND CURRENT ROW) - neg AS neg_below, "
        f"sum(pos) OVER (PARTITION BY {partition}) - sum(pos) OVER (PARTITION BY "
        f"{partition} ORDER BY s ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) "
        f"AS pos_above FROM ({blocks}) b"
    )
    a = f"(2 * CAST(neg_below AS {big}) + CAST(neg AS {big}))"
    b = f"(2 * CAST(pos_above AS {big}) + CAST(pos AS {big}))"
    cols = ", ".join(group_cols)
    sums = [
        "sum(pos)",
        "sum(neg)",
        f"sum(CAST(pos AS {big}) * {a})",
        f"sum(CAST(pos AS {big}) * {a} * {a})",
        f"sum(CAST(neg AS {big}) * {b} * {b})",
    ]
    if probability:
        sums += ["sum(br1)", "sum(br2)"]
    rows = runner.rows(
        f"SELECT {cols}, {', '.join(sums)} FROM ({window}) w GROUP BY {cols} ORDER BY {cols}"
    )
    k = len(group_cols)
    ints = [[int(v) for v in r[k:]] for r in rows]
    groups = (
        np.array([[int(v) for v in r[:k]] for r in rows], dtype=np.int64).reshape(len(rows), k)
        if cols != "zz"
        else np.zeros((1, 0), dtype=np.int64)
    )

    def column(j: int) -> tuple[int, ...]:
        return tuple(r[j] for r in ints)

    return ScoreSums(
        groups=groups,
        n_pos=column(0),
        n_neg=column(1),
        u2=column(2),
        a2=column(3),
        b2=column(4),
        brier1=column(5) if probability else None,
        brier2=column(6) if probability else None,
    )


def group_counts_from_rows(
    features: tuple[str, ...], levels: tuple[tuple[str, ...], ...], rows: list[tuple]
) -> GroupCounts:
    """Return the GroupCounts of aggregated (codes..., y, yhat, n) rows, as count_groups would."""
    k = len(features)
    table = np.array([[int(v) for v in r] for r in rows], dtype=np.int64).reshape(len(rows), k + 3)
    codes = table[:, :k]
    cells, inverse = np.unique(codes, axis=0, return_inverse=True)
    counts = np.zeros((len(cells), 4), dtype=np.int64)
    np.add.at(counts, (inverse.reshape(-1), 2 * table[:, k] + table[:, k + 1]), table[:, k + 2])
    return GroupCounts(
        features=features,
        levels=levels,
        cells=cells.astype(np.int64).reshape(len(cells), k),
        counts=counts,
    )


#: The sorted-stream sums hold A**2 in uint64 (A < 2 * rows + 1), and their 32-bit
#: limbs times counts in uint64 sums: exact below this many rows.
SORTED_MAX_ROWS = 1 << 31
#: ... and keep one accumulator per group, so the cell space must stay small.
SORTED_MAX_CELLS = 1 << 20
_LOW32 = np.uint64(0xFFFFFFFF)


def _limb_sums(weight: np.ndarray, value: np.ndarray, starts: np.ndarray) -> list[int]:
    """Return the exact sums of ``weight * value**2`` over the segments at ``starts``.

    ``weight`` and ``value`` are non-negative int64 with ``value < 2**32``, so ``value**2``
    fits in uint64; it is split into 32-bit limbs, and each limb sum stays below 2**64
    while the weights add up to less than 2**32.
    """
    w = weight.view(np.uint64)
    v = value.view(np.uint64) ** 2
    low = np.add.reduceat(w * (v & _LOW32), starts)
    v >>= np.uint64(32)
    v *= w
    high = np.add.reduceat(v, starts)
    return [(h << 32) + lo for h, lo in zip(high.tolist(), low.tolist())]


class _GroupingSums:
    """Running rank sums of one grouping over a stream of rows sorted by score."""

    def __init__(self, n_groups: int) -> None:
        self.neg_seen = np.zeros(n_groups, dtype=np.int64)
        self.pos_seen = np.zeros(n_groups, dtype=np.int64)
        # u2, a2, and for b2 = sum neg * (2 P - q)**2: sum neg * q, sum neg * q**2.
        self.sums = {k: [0] * n_groups for k in ("u2", "a2", "nq", "nq2")}

    def add(
        self, gid: np.ndarray, s: np.ndarray, pos: np.ndarray, neg: np.ndarray, tied: bool
    ) -> None:
        """Add rows (score-sorted, none tied with a later batch) of groups ``gid``;
        ``tied`` says whether two rows of the batch may share a score."""
        m = len(self.neg_seen)
        if m == 1:  # overall: the rows are in order already
            g, sv, p, q = gid, s, pos, neg
        else:
            order = np.argsort(gid, kind="stable")  # keeps the score order within each group
            g, sv, p, q = gid[order], s[order], pos[order], neg[order]
        if tied:  # one block per (group, score)
            new_block = np.empty(len(g), dtype=bool)
            new_block[0] = True
            np.not_equal(g[1:], g[:-1], out=new_block[1:])
            new_block[1:] |= sv[1:] != sv[:-1]
            starts = np.flatnonzero(new_block)
            p, q, g = np.add.reduceat(p, starts), np.add.reduceat(q, starts), g[starts]
        lengths = np.bincount(g, minlength=m)
        groups = np.flatnonzero(lengths)
        first = (np.cumsum(lengths) - lengths)[groups]
        length = lengths[groups]
        below = {}
        for name, counts, seen in (("neg", q, self.neg_seen), ("pos", p, self.pos_seen)):
            before = np.cumsum(counts)
            before -= counts
            below[name] = before - np.repeat(before[first] - seen[groups], length)
            seen[groups] += np.add.reduceat(counts, first)
        a = 2 * below["neg"] + q  # a positive's A, per tied block
        b = 2 * below["pos"] + p  # 2 * (positives scored below or tied) - tied
        u2 = np.add.reduceat(p * a, first).tolist()
        a2 = _limb_sums(p, a, first)
        nq = np.add.reduceat(q * b, first).tolist()
        nq2 = _limb_sums(q, b, first)
        for j, group in enumerate(groups.tolist()):
            self.sums["u2"][group] += u2[j]
            self.sums["a2"][group] += a2[j]
            self.sums["nq"][group] += nq[j]
            self.sums["nq2"][group] += nq2[j]

    def result(
        self, sizes: tuple[int, ...], brier: tuple[list[int], list[int]] | None
    ) -> ScoreSums:
        """Return the ScoreSums of the groups with rows, in code order."""
        present = np.flatnonzero((self.pos_seen + self.neg_seen) > 0)
        b2 = []
        for group in present.tolist():
            p2 = 2 * int(self.pos_seen[group])  # B = 2 P - q for a negative
            n = int(self.neg_seen[group])
            b2.append(p2 * p2 * n - 2 * p2 * self.sums["nq"][group] + self.sums["nq2"][group])
        codes = np.stack(np.unravel_index(present, sizes), axis=1) if sizes else None
        pick = [int(g) for g in present]
        return ScoreSums(
            groups=(
                codes.astype(np.int64) if codes is not None else np.zeros((1, 0), dtype=np.int64)
            ),
            n_pos=tuple(int(self.pos_seen[g]) for g in pick),
            n_neg=tuple(int(self.neg_seen[g]) for g in pick),
            u2=tuple(self.sums["u2"][g] for g in pick),
            a2=tuple(self.sums["a2"][g] for g in pick),
            b2=tuple(b2),
            brier1=None if brier is None else tuple(brier[0][g] for g in pick),
            brier2=None if brier is None else tuple(brier[1][g] for g in pick),
        )


def _chunks(batches: Iterable[Any], rows: int = 1 << 20) -> Iterator[Any]:
    """Yield Arrow tables of at least ``rows`` rows (the last may be shorter) from batches."""
    import pyarrow as pa

    pending: list[Any] = []
    size = 0
    for batch in batches:
        if batch.num_rows:
            pending.append(batch)
            size += batch.num_rows
        if size >= rows:
            yield pa.Table.from_batches(pending).combine_chunks()
            pending, size = [], 0
    if pending:
        yield pa.Table.from_batches(pending).combine_chunks()


def sorted_score_summary(
    batches: Iterable[Any],
    features: tuple[str, ...],
    levels: tuple[tuple[str, ...], ...],
    *,
    is_probability: bool,
    score_min: float,
    score_max: float,
    chunk_rows: int = 1 << 20,
) -> tuple[GroupCounts, ScoreSummary]:
    """Return the GroupCounts and ScoreSummary of a stream of Arrow record batches.

    Each batch holds columns ``c`` (the cell: the codes in mixed radix over ``levels``),
    ``y``, ``yhat``, ``s`` (score) and ``n`` (rows), with ``s`` ascending across the
    whole stream: every grouping's rank sums then come from running counts, in one
    pass and in memory proportional to ``chunk_rows`` (batches are processed that many
    rows at a time).
    """
    sizes = tuple(len(v) for v in levels)
    n_cells = int(np.prod(sizes))
    all_codes = np.unravel_index(np.arange(n_cells), sizes)
    maps: list[tuple[str, tuple[int, ...], np.ndarray]] = []
    for name, indices in [*groupings(features), ("", ())]:
        sub = tuple(sizes[i] for i in indices)
        gid = np.ravel_multi_index([all_codes[i] for i in indices], sub) if indices else 0
        small = np.uint16 if n_cells <= 1 << 16 else np.int64
        maps.append((name, sub, np.broadcast_to(np.asarray(gid), (n_cells,)).astype(small)))
    running = [_GroupingSums(int(np.prod(sub))) for _, sub, _ in maps]
    cell_counts = np.zeros(n_cells * 4, dtype=np.float64)  # exact: integers below 2**53
    brier = [np.zeros((2, n_cells), dtype=np.uint64) for _ in range(2)]  # [high, low] limbs

    def add(c: np.ndarray, y: np.ndarray, yhat: np.ndarray, s: np.ndarray, n: np.ndarray) -> None:
        cell_counts[:] += np.bincount(c * 4 + 2 * y + yhat, weights=n, minlength=4 * n_cells)
        pos = n * y
        neg = n - pos
        tied = bool(len(s) > 1 and not (s[1:] != s[:-1]).all())
        for (_, _, gid), sums in zip(maps, running):
            sums.add(gid[c], s, pos, neg, tied)
        if is_probability:
            d = s - y.astype(np.float64)
            t = d * d
            for k, value in enumerate((t, t * t)):
                fixed = np.floor(value * float(BRIER_SCALE)).astype(np.uint64)
                un = n.astype(np.uint64)
                np.add.at(brier[k][0], c, un * (fixed >> np.uint64(32)))
                np.add.at(brier[k][1], c, un * (fixed & _LOW32))

    held: list[np.ndarray] | None = None
    for chunk in _chunks(batches, chunk_rows):
        arrays = [chunk[k].to_numpy() for k in ("c", "y", "yhat", "s", "n")]
        arrays = [a.astype(np.int64) for a in arrays[:3]] + [arrays[3], arrays[4].astype(np.int64)]
        if held is not None:
            arrays = [np.concatenate([h, a]) for h, a in zip(held, arrays)]
        # Rows tied with the batch's last score may continue in the next batch: hold them.
        cut = int(np.searchsorted(arrays[3], arrays[3][-1], side="left"))
        held = [a[cut:] for a in arrays]
        if cut:
            add(*(a[:cut] for a in arrays))
    if held is not None and len(held[3]):
        add(*held)
    counts = cell_counts.astype(np.int64).reshape(n_cells, 4)
    present = np.flatnonzero(counts.sum(axis=1) > 0)
    group_counts = GroupCounts(
        features=features,
        levels=levels,
        cells=np.stack(np.unravel_index(present, sizes), axis=1).astype(np.int64),
        counts=counts[present],
    )
    cell_brier = [[(int(h) << 32) + int(lo) for h, lo in zip(*b)] for b in brier]
    results = {}
    for (name, sub, gid), sums in zip(maps, running):
        per_group = None
        if is_probability:
            per_group = ([0] * int(np.prod(sub)), [0] * int(np.prod(sub)))
            for cell, group in enumerate(gid.tolist()):
                per_group[0][group] += cell_brier[0][cell]
                per_group[1][group] += cell_brier[1][cell]
        results[name] = sums.result(sub, per_group)
    overall = results.pop("")
    summary = ScoreSummary(
        by_grouping=results,
        overall=overall,
        is_probability=is_probability,
        score_min=score_min,
        score_max=score_max,
    )
    return group_counts, summary
