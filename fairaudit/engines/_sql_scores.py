"""The SQL of the score sums: per group, exact Mann-Whitney, DeLong and Brier sums from
window functions over the (cell, label, score) aggregate ``fa_agg``; and the counts table."""

from __future__ import annotations

import numpy as np

from fairaudit.counts import BRIER_SCALE, GroupCounts, ScoreSummary, ScoreSums
from fairaudit.engines._sql_source import Dialect, SqlRunner
from fairaudit.engines._types import groupings

__all__ = ["group_counts_from_rows", "sql_score_summary"]

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
