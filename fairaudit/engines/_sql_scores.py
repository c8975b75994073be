"""The SQL of the score sums: per group, exact Mann-Whitney, DeLong and Brier sums from
window functions over the (cell, label, score) aggregate ``fa_agg``; and the counts table."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
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
    materialize: Callable[[str, str], None],
    *,
    is_probability: bool,
    score_min: float,
    score_max: float,
) -> ScoreSummary:
    """Return the ScoreSummary of every grouping from ``fa_agg`` (codes, y, s and n).

    One GROUPING SETS aggregate gives every grouping's (group, score) blocks
    (``fa_blocks``); the running sums are one window over (grouping, group, score
    bucket) partitions, offset by the totals of the group's lower buckets
    (``fa_offsets``, a join of the small per-bucket table with itself), so no step
    gathers a whole group, or all rows, into one partition. Brier sums only for
    probabilities: larger squared errors overflow the fixed point.
    """
    big = dialect.big_int
    sets = [(name, [f"c{i}" for i in indices]) for name, indices in groupings(features)]
    sets.append(("", []))
    cs = [f"c{i}" for i in range(len(features))]
    # The grouping-set id: one bit per feature left out; -1 stands for "not grouped".
    gs = " + ".join(f"{1 << (len(cs) - 1 - j)} * GROUPING({c})" for j, c in enumerate(cs))
    keys = ", ".join(["gs", *cs])
    brier = ""
    if is_probability:
        t = "((s - CAST(y AS DOUBLE)) * (s - CAST(y AS DOUBLE)))"
        brier = (
            f", sum(CAST(n AS {big}) * CAST(floor({t} * {_SCALE}) AS BIGINT)) AS br1"
            f", sum(CAST(n AS {big}) * CAST(floor({t} * {t} * {_SCALE}) AS BIGINT)) AS br2"
        )
    grouping_sets = ", ".join(f"({', '.join([*g, 's'])})" for _, g in sets)
    materialize(
        "fa_blocks",
        f"SELECT {gs} AS gs, {', '.join(f'COALESCE({c}, -1) AS {c}' for c in cs)}, s, "
        f"{_bucket_sql(score_min, score_max)} AS bk, "
        f"CAST(sum(CASE WHEN y = 1 THEN n ELSE 0 END) AS BIGINT) AS pos, "
        f"CAST(sum(CASE WHEN y = 1 THEN 0 ELSE n END) AS BIGINT) AS neg{brier} "
        f"FROM fa_agg GROUP BY GROUPING SETS ({grouping_sets})",
    )
    same = " AND ".join(f"t1.{c} = t2.{c}" for c in ["gs", *cs])
    t1_keys = ", ".join(f"t1.{c}" for c in ["gs", *cs])
    materialize(
        "fa_offsets",
        f"WITH tot AS (SELECT {keys}, bk, sum(pos) AS bp, sum(neg) AS bn FROM fa_blocks "
        f"GROUP BY {keys}, bk) SELECT {t1_keys}, t1.bk, "
        "sum(CASE WHEN t2.bk < t1.bk THEN t2.bn ELSE 0 END) AS neg_off, "
        "sum(CASE WHEN t2.bk < t1.bk THEN t2.bp ELSE 0 END) AS pos_off, "
        f"sum(t2.bp) AS pos_all FROM tot t1 JOIN tot t2 ON {same} GROUP BY {t1_keys}, t1.bk",
    )
    part = f"PARTITION BY {', '.join(f'b.{c}' for c in ['gs', *cs, 'bk'])} ORDER BY b.s"
    frame = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
    on = " AND ".join(f"b.{c} = o.{c}" for c in ["gs", *cs, "bk"])
    window = (
        f"SELECT b.*, o.neg_off + sum(b.neg) OVER ({part} {frame}) - b.neg AS neg_below, "
        f"o.pos_all - o.pos_off - sum(b.pos) OVER ({part} {frame}) AS pos_above "
        f"FROM fa_blocks b JOIN fa_offsets o ON {on}"
    )
    a = f"(2 * CAST(neg_below AS {big}) + CAST(neg AS {big}))"
    b = f"(2 * CAST(pos_above AS {big}) + CAST(pos AS {big}))"
    sums = [
        "sum(pos)",
        "sum(neg)",
        f"sum(CAST(pos AS {big}) * {a})",
        f"sum(CAST(pos AS {big}) * {a} * {a})",
        f"sum(CAST(neg AS {big}) * {b} * {b})",
    ]
    if is_probability:
        sums += ["sum(br1)", "sum(br2)"]
    rows = runner.rows(
        f"SELECT {keys}, {', '.join(sums)} FROM ({window}) w GROUP BY {keys} ORDER BY {keys}"
    )
    by_set: dict[int, list[tuple]] = {}
    for row in rows:
        by_set.setdefault(int(row[0]), []).append(tuple(row[1:]))
    summary = {}
    for name, group_cols in sets:
        mask = sum(1 << (len(cs) - 1 - j) for j, c in enumerate(cs) if c not in group_cols)
        picked = [cs.index(c) for c in group_cols]
        summary[name] = _score_sums(by_set.get(mask, []), picked, len(cs), is_probability)
    overall = summary.pop("")
    return ScoreSummary(
        by_grouping=summary,
        overall=overall,
        is_probability=is_probability,
        score_min=score_min,
        score_max=score_max,
    )


#: The rank window runs per (grouping, group, score bucket): this many equal-width buckets.
SCORE_BUCKETS = 64


def _bucket_sql(score_min: float, score_max: float) -> str:
    """Return SQL of a score bucket that never decreases as the score grows.

    (s - min) * k and floor are monotone in IEEE arithmetic, so tied scores share a
    bucket and every bucket's scores lie above the previous bucket's.
    """
    if not (math.isfinite(score_min) and math.isfinite(score_max) and score_max > score_min):
        return "0"
    scale = SCORE_BUCKETS / (score_max - score_min)
    if not math.isfinite(scale):
        return "0"
    low, k = repr(float(score_min)), repr(float(scale))
    return (
        f"LEAST(CAST(floor((s - CAST({low} AS DOUBLE)) * CAST({k} AS DOUBLE)) AS INT), "
        f"{SCORE_BUCKETS - 1})"
    )


def _score_sums(
    rows: list[tuple], picked: list[int], n_features: int, probability: bool
) -> ScoreSums:
    """Return the ScoreSums of one grouping from its rows (codes of every feature, sums)."""
    ints = [[int(v) for v in r[n_features:]] for r in rows]
    if picked:
        groups = np.array([[int(r[j]) for j in picked] for r in rows], dtype=np.int64)
        groups = groups.reshape(len(rows), len(picked))
    else:
        groups = np.zeros((1, 0), dtype=np.int64)

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


class _SortedStream:
    """Counts, Brier sums and every grouping's rank sums of a score-sorted row stream."""

    def __init__(self, features: tuple[str, ...], sizes: tuple[int, ...], brier: bool) -> None:
        self.sizes = sizes
        self.n_cells = n_cells = int(np.prod(sizes))
        all_codes = np.unravel_index(np.arange(n_cells), sizes)
        self.maps: list[tuple[str, tuple[int, ...], np.ndarray]] = []
        small = np.uint16 if n_cells <= 1 << 16 else np.int64  # radix-sorted when small
        for name, indices in [*groupings(features), ("", ())]:
            sub = tuple(sizes[i] for i in indices)
            gid = np.ravel_multi_index([all_codes[i] for i in indices], sub) if indices else 0
            self.maps.append((name, sub, np.broadcast_to(gid, (n_cells,)).astype(small)))
        self.running = [_GroupingSums(int(np.prod(sub))) for _, sub, _ in self.maps]
        self.cell_counts = np.zeros(n_cells * 4, dtype=np.int64)
        # Per cell, sum n * floor(t * 2**62) and sum n * floor(t**2 * 2**62).
        self.brier: list[list[int]] = [[0] * n_cells, [0] * n_cells] if brier else []

    def add(self, key: np.ndarray, s: np.ndarray, n: np.ndarray | None, pool: Any) -> None:
        """Add rows ``key = cell * 4 + 2 * y + yhat`` with scores ``s`` (sorted) and counts
        ``n`` (None: one row each); no score may continue into the next call."""
        bins = np.bincount(key, weights=n, minlength=4 * self.n_cells)
        self.cell_counts += bins.astype(np.int64)  # exact: each chunk's counts < 2**53
        cell = key >> 2
        y = (key >> 1) & 1
        ones = np.ones(len(key), dtype=np.int64) if n is None else n
        pos = ones * y
        neg = ones - pos
        tied = bool(n is not None or (len(s) > 1 and not (s[1:] != s[:-1]).all()))
        jobs = [
            pool.submit(sums.add, gid[cell], s, pos, neg, tied)
            for (_, _, gid), sums in zip(self.maps, self.running)
        ]
        if self.brier:
            jobs.append(pool.submit(self._add_brier, cell, y, s, ones))
        for job in jobs:
            job.result()

    def _add_brier(self, cell: np.ndarray, y: np.ndarray, s: np.ndarray, n: np.ndarray) -> None:
        d = s - y.astype(np.float64)
        t = d * d
        weight = n.astype(np.float64)
        for k, value in enumerate((t, t * t)):
            fixed = np.floor(value * float(BRIER_SCALE)).astype(np.int64)  # < 2**62
            # 21-bit limbs: each bincount sum stays below 2**53, so floats add them exactly.
            for shift in (0, 21, 42):
                limb = ((fixed >> shift) & 0x1FFFFF).astype(np.float64)
                sums = np.bincount(cell, weights=weight * limb, minlength=self.n_cells)
                total = self.brier[k]
                for c, v in enumerate(sums.tolist()):
                    total[c] += int(v) << shift

    def result(self, features: tuple[str, ...], levels: tuple) -> tuple[GroupCounts, dict]:
        """Return the GroupCounts and {grouping name ('' overall): ScoreSums}."""
        counts = self.cell_counts.reshape(self.n_cells, 4)
        present = np.flatnonzero(counts.sum(axis=1) > 0)
        group_counts = GroupCounts(
            features=features,
            levels=levels,
            cells=np.stack(np.unravel_index(present, self.sizes), axis=1).astype(np.int64),
            counts=counts[present],
        )
        cell_brier = self.brier
        results = {}
        for (name, sub, gid), sums in zip(self.maps, self.running):
            per_group = None
            if cell_brier:
                per_group = ([0] * int(np.prod(sub)), [0] * int(np.prod(sub)))
                for cell, group in enumerate(gid.tolist()):
                    per_group[0][group] += cell_brier[0][cell]
                    per_group[1][group] += cell_brier[1][cell]
            results[name] = sums.result(sub, per_group)
        return group_counts, results


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

    Each batch holds columns ``k`` (``cell * 4 + 2 * y + yhat``, the cell being the
    codes in mixed radix over ``levels``), ``s`` (the score) and optionally ``n`` (rows
    aggregated), with ``s`` ascending across the whole stream: every grouping's rank
    sums then come from running counts, in one pass and in memory proportional to
    ``chunk_rows`` (batches are processed that many rows at a time; the groupings of
    a chunk in two threads).
    """
    from concurrent.futures import ThreadPoolExecutor

    stream = _SortedStream(features, tuple(len(v) for v in levels), is_probability)
    key = score = count = None  # rows held back from the previous chunk
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="fairaudit-ranks") as pool:
        for chunk in _chunks(batches, chunk_rows):
            k, s = chunk["k"].to_numpy().astype(np.int64), chunk["s"].to_numpy()
            n = chunk["n"].to_numpy().astype(np.int64) if "n" in chunk.column_names else None
            if key is not None and score is not None:
                k, s = np.concatenate([key, k]), np.concatenate([score, s])
                n = None if n is None or count is None else np.concatenate([count, n])
            # Rows tied with the chunk's last score may continue in the next one: hold them.
            cut = int(np.searchsorted(s, s[-1], side="left"))
            key, score, count = k[cut:], s[cut:], None if n is None else n[cut:]
            if cut:
                stream.add(k[:cut], s[:cut], None if n is None else n[:cut], pool)
        if key is not None and score is not None and len(key):
            stream.add(key, score, count, pool)
    group_counts, results = stream.result(features, levels)
    overall = results.pop("")
    summary = ScoreSummary(
        by_grouping=results,
        overall=overall,
        is_probability=is_probability,
        score_min=score_min,
        score_max=score_max,
    )
    return group_counts, summary
