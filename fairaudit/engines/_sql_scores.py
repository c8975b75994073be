"""Score sums of the SQL engines: the score-sorted stream (DuckDB, beyond memory), summed
chunk by chunk by ``_rank_sums`` (the one implementation of the rank-sum rule) and added
up exactly; the window SQL over the (cell, label, score) aggregate ``fa_agg``, for a cell
space too large for the stream's counts; and the counts table of aggregated rows."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from fairaudit.counts import BRIER_SCALE, GroupCounts, ScoreSummary, ScoreSums
from fairaudit.engines._rank_sums import (
    combine_score_summaries,
    dense_group_counts,
    score_summary_from_keyed_rows,
)
from fairaudit.engines._sql_source import Dialect, SqlRunner
from fairaudit.engines._types import groupings

__all__ = [
    "SORTED_MAX_CELLS",
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
        f"{bucket_sql(score_min, score_max)} AS bk, "
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


def bucket_sql(score_min: float, score_max: float) -> str:
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


#: The sorted stream keeps the counts of the whole cell space (one entry per cell).
SORTED_MAX_CELLS = 1 << 20


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
    chunk_rows: int = 1 << 20,
) -> tuple[GroupCounts, ScoreSummary]:
    """Return the GroupCounts and ScoreSummary of a stream of Arrow record batches.

    Each batch holds columns ``k`` (``cell * 4 + 2 * y + yhat``, the cell being the
    codes in mixed radix over ``levels``), ``s`` (the score) and optionally ``n`` (rows
    aggregated), with ``s`` ascending across the whole stream. Every ``chunk_rows`` rows
    are summed by ``score_summary_from_keyed_rows`` (rows tied with a chunk's last score
    are held back for the next), and the chunks' sums added up exactly by
    ``combine_score_summaries``: memory in proportion to ``chunk_rows``.
    """
    n_cells = math.prod(len(names) for names in levels)
    dense = np.zeros(4 * n_cells, dtype=np.int64)
    parts: list[ScoreSummary] = []

    def add(k: np.ndarray, s: np.ndarray, n: np.ndarray | None) -> None:
        counts, part = score_summary_from_keyed_rows(
            k, s, features, levels, is_probability=is_probability, count=n
        )
        dense.reshape(n_cells, 4)[_cell_index(counts, levels)] += counts.counts
        parts.append(part)

    key = score = count = None  # rows held back from the previous chunk
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
            add(k[:cut], s[:cut], None if n is None else n[:cut])
    if key is None or score is None:  # no rows
        key, score = np.zeros(0, dtype=np.int64), np.zeros(0)
    add(key, score, count)
    summary = combine_score_summaries(parts, is_probability=is_probability)
    return dense_group_counts(dense, features, levels), summary


def _cell_index(counts: GroupCounts, levels: tuple[tuple[str, ...], ...]) -> np.ndarray:
    """Return the position of each of ``counts``' cells in the mixed-radix cell space."""
    return np.ravel_multi_index(counts.cells.T, [len(names) for names in levels])


def _sums_json(sums: ScoreSums) -> dict[str, Any]:
    return {
        "groups": sums.groups.tolist(),
        "width": int(sums.groups.shape[1]),
        **{f: list(getattr(sums, f)) for f in ("n_pos", "n_neg", "u2", "a2", "b2")},
        **{f: getattr(sums, f) and list(getattr(sums, f)) for f in ("brier1", "brier2")},
    }


def _sums_from_json(data: dict[str, Any]) -> ScoreSums:
    groups = np.array(data["groups"], dtype=np.int64).reshape(len(data["n_pos"]), data["width"])
    n_pos, n_neg, u2, a2, b2 = (tuple(data[f]) for f in ("n_pos", "n_neg", "u2", "a2", "b2"))
    brier1, brier2 = (None if data[f] is None else tuple(data[f]) for f in ("brier1", "brier2"))
    return ScoreSums(groups, n_pos, n_neg, u2, a2, b2, brier1, brier2)


def bucket_part(
    frame: Any, *, features: tuple[str, ...], levels: tuple[tuple[str, ...], ...], probability: bool
) -> Any:
    """Return one score bucket's counts and score sums as a one-row DataFrame (bk, part).

    Runs where the rows are (a Spark task): ``frame`` holds a bucket's ``k``, ``s``, ``bk``
    and optionally ``n``; ``part`` is JSON (exact integers of any size).
    """
    import json

    import pandas as pd

    counts, summary = score_summary_from_keyed_rows(
        frame["k"].to_numpy(np.int64),
        frame["s"].to_numpy(np.float64),
        features,
        levels,
        is_probability=probability,
        count=frame["n"].to_numpy(np.int64) if "n" in frame.columns else None,
    )
    part = {
        "cells": counts.cells.tolist(),
        "counts": counts.counts.tolist(),
        "min": summary.score_min,
        "max": summary.score_max,
        "overall": _sums_json(summary.overall),
        "by_grouping": {name: _sums_json(sums) for name, sums in summary.by_grouping.items()},
    }
    return pd.DataFrame({"bk": [int(frame["bk"].iloc[0])], "part": [json.dumps(part)]})


def bucket_parts_summary(
    rows: list[tuple],
    features: tuple[str, ...],
    levels: tuple[tuple[str, ...], ...],
    *,
    is_probability: bool,
) -> tuple[GroupCounts, ScoreSummary]:
    """Return the GroupCounts and ScoreSummary of ``bucket_part``'s (bk, part) rows."""
    import json

    n_cells = math.prod(len(names) for names in levels)
    dense = np.zeros((n_cells, 4), dtype=np.int64)
    parts = []
    for _, text in sorted(rows, key=lambda row: int(row[0])):
        part = json.loads(text)
        cells = np.array(part["cells"], dtype=np.int64).reshape(len(part["counts"]), len(levels))
        dense[np.ravel_multi_index(cells.T, [len(v) for v in levels])] += np.array(
            part["counts"], dtype=np.int64
        ).reshape(len(cells), 4)
        parts.append(
            ScoreSummary(
                {name: _sums_from_json(v) for name, v in part["by_grouping"].items()},
                _sums_from_json(part["overall"]),
                is_probability,
                part["min"],
                part["max"],
            )
        )
    if not parts:  # no rows: the summary of none
        return sorted_score_summary([], features, levels, is_probability=is_probability)
    summary = combine_score_summaries(parts, is_probability=is_probability)
    return dense_group_counts(dense.reshape(-1), features, levels), summary
