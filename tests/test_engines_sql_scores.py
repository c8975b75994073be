"""The SQL engines' score sums: rows summed in memory and the score-sorted stream (DuckDB),
and the window SQL (a cell space past SORTED_MAX_CELLS), against a brute-force oracle of
ScoreSums' definition and against the numpy engine, on hostile data (ties across batches,
one group, one class)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from fairaudit.counts import BRIER_SCALE, ScoreSummary, ScoreSums
from fairaudit.engines import count_with_engine
from fairaudit.engines._rank_sums import combine_score_summaries
from fairaudit.engines._sql_scores import sorted_score_summary
from fairaudit.spec import AuditSpec


def _oracle(code: np.ndarray, y: np.ndarray, s: np.ndarray, brier: bool) -> dict:
    """Return {group code tuple: (n_pos, n_neg, u2, a2, b2, brier1, brier2)} by definition."""
    out = {}
    for key in sorted({tuple(r) for r in code.tolist()}):
        mine = np.all(code == np.array(key, dtype=code.dtype), axis=1)
        sp, sn = s[mine & (y == 1)], s[mine & (y == 0)]
        a = [2 * int((sn < v).sum()) + int((sn == v).sum()) for v in sp]
        b = [2 * int((sp > v).sum()) + int((sp == v).sum()) for v in sn]
        t = (s[mine] - y[mine].astype(float)) ** 2
        b1 = sum(int(np.floor(v * float(BRIER_SCALE))) for v in t) if brier else None
        b2 = sum(int(np.floor(v * v * float(BRIER_SCALE))) for v in t) if brier else None
        out[key] = (len(sp), len(sn), sum(a), sum(x * x for x in a), sum(x * x for x in b), b1, b2)
    return out


def _as_dict(sums: ScoreSums) -> dict:
    return {
        tuple(int(v) for v in g): (
            sums.n_pos[j],
            sums.n_neg[j],
            sums.u2[j],
            sums.a2[j],
            sums.b2[j],
            None if sums.brier1 is None else sums.brier1[j],
            None if sums.brier2 is None else sums.brier2[j],
        )
        for j, g in enumerate(sums.groups)
    }


def _batches(codes: np.ndarray, y: np.ndarray, s: np.ndarray, sizes: tuple, per: int) -> list:
    """Return rows sorted by score as Arrow batches of ``per`` rows (ties cut across)."""
    order = np.argsort(s, kind="stable")
    cell = np.ravel_multi_index(codes.T, sizes)[order]
    key = cell * 4 + 2 * y[order] + (s[order] > 0.5)
    columns = {"k": key.astype(np.int64), "s": s[order]}
    if per % 2:  # odd batch sizes also carry the aggregated rows' counts
        columns["n"] = np.ones(len(order), dtype=np.int64)
    table = pa.table(columns)
    return table.to_batches(max_chunksize=per)


CASES = {
    "ties across batches": dict(n=400, sizes=(2, 3), decimals=1, per=7),
    "every score tied": dict(n=120, sizes=(2, 2), decimals=0, per=5),
    "one group": dict(n=200, sizes=(1, 1), decimals=2, per=13),
    "one class": dict(n=150, sizes=(3, 2), decimals=2, per=11, one_class=True),
    "distinct scores": dict(n=300, sizes=(2, 5), decimals=None, per=64),
    "signed zeros and extremes": dict(n=200, sizes=(2, 2), decimals=None, per=9, extremes=True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_sorted_stream_matches_the_definition(case: str) -> None:
    c = CASES[case]
    rng = np.random.default_rng(len(case))
    n, sizes = c["n"], c["sizes"]
    codes = np.stack([rng.integers(0, k, n) for k in sizes], axis=1)
    y = (rng.random(n) < 0.4).astype(np.int64)
    if c.get("one_class"):
        y[:] = 0
    s = rng.random(n)
    if c["decimals"] is not None:
        s = np.round(s, c["decimals"])
    if c.get("extremes"):
        s[:40] = rng.choice([0.0, 1.0, 5e-324, 1 - 2**-53], 40)
    s = s + 0.0
    levels = tuple(tuple(f"l{j}" for j in range(k)) for k in sizes)
    group_counts, summary = sorted_score_summary(
        _batches(codes, y, s, sizes, c["per"]),
        ("f0", "f1"),
        levels,
        is_probability=True,
        chunk_rows=c["per"],
    )
    assert _as_dict(summary.by_grouping["f0"]) == _oracle(codes[:, :1], y, s, True)
    assert _as_dict(summary.by_grouping["f1"]) == _oracle(codes[:, 1:], y, s, True)
    inter = next(v for k, v in summary.by_grouping.items() if k not in ("f0", "f1"))
    assert _as_dict(inter) == _oracle(codes, y, s, True)
    overall = _oracle(np.zeros((n, 0), dtype=np.int64), y, s, True)
    assert _as_dict(summary.overall) == overall
    assert int(group_counts.counts.sum()) == n


def test_chunks_add_up_exactly_past_64_bits() -> None:
    # Two chunks of one group whose sums pass 2**64 once added with the offsets: a2 grows
    # as rows**3, so 3M rows per class would overflow int64 arithmetic.
    big = 3_000_000
    low = ScoreSummary(
        {}, ScoreSums(np.zeros((1, 0), np.int64), (0,), (big,), (0,), (0,), (0,)), False, 0.1, 0.1
    )
    high = ScoreSummary(
        {}, ScoreSums(np.zeros((1, 0), np.int64), (big,), (0,), (0,), (0,), (0,)), False, 0.9, 0.9
    )
    total = combine_score_summaries([low, high], is_probability=False).overall
    # Every positive sits above every negative: A = 2 * big for each positive.
    assert total.u2 == (2 * big * big,)
    assert total.a2 == (big * (2 * big) ** 2,) and total.a2[0] > 2**64
    assert total.b2 == (big * (2 * big) ** 2,)


def write_scores(folder: Path, score: np.ndarray, seed: int = 3, **options: Any) -> AuditSpec:
    """Write label, prediction, ``score``, sex and race to Parquet; return the audit spec."""
    rng = np.random.default_rng(seed)
    n = len(score)
    label = (rng.random(n) < 0.35).astype(np.int64)
    frame = pd.DataFrame(
        {
            "label": label,
            "pred": (score > 0.5).astype(np.int64),
            "score": score,
            "sex": rng.choice(["f", "m"], n),
            "race": rng.choice(["a", "b", "c", "d", "e"], n),
        }
    )
    path = folder / "scores.parquet"
    frame.to_parquet(path, index=False, **options)
    return AuditSpec(
        data=path,
        target="label",
        sensitive=("sex", "race"),
        prediction_col="pred",
        score_col="score",
    )


def _assert_duckdb_equals_numpy(spec: AuditSpec) -> None:
    numpy_counts = count_with_engine(spec, "numpy")
    duckdb_counts = count_with_engine(spec, "duckdb")
    assert numpy_counts.score_summary is not None and duckdb_counts.score_summary is not None
    assert duckdb_counts.score_summary.by_grouping == numpy_counts.score_summary.by_grouping
    assert duckdb_counts.score_summary.overall == numpy_counts.score_summary.overall
    np.testing.assert_array_equal(
        duckdb_counts.group_counts.counts, numpy_counts.group_counts.counts
    )


@pytest.mark.parametrize("kind", ["distinct", "tied"])
@pytest.mark.parametrize("in_memory", [True, False])
def test_duckdb_sorted_stream_equals_numpy(
    tmp_path: Path, kind: str, in_memory: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In memory: the rows' keys and scores summed by the numpy engine's code. Else the
    # stream: 'distinct' takes the unaggregated sort, 'tied' the aggregated one (chunk
    # boundaries are tested above with tiny batches).
    import fairaudit.engines._sql as sql

    if not in_memory:
        monkeypatch.setattr(sql, "IN_MEMORY_ROW_BYTES", 1 << 62)
    rng = np.random.default_rng(11)
    score = rng.random(20_000)
    if kind == "tied":
        score = np.round(score, 2)
    score[:50] = -0.0
    _assert_duckdb_equals_numpy(write_scores(tmp_path, score))


@pytest.mark.parametrize("kind", ["distinct", "tied", "constant"])
def test_duckdb_window_sql_equals_numpy(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The window SQL (for a cell space past SORTED_MAX_CELLS), run by DuckDB here.
    import fairaudit.engines._sql as sql

    monkeypatch.setattr(sql, "SORTED_MAX_CELLS", 0)
    rng = np.random.default_rng(5)
    score = {"distinct": rng.random(5_000), "tied": np.round(rng.random(5_000), 2)}.get(
        kind, np.full(5_000, 0.25)
    )
    _assert_duckdb_equals_numpy(write_scores(tmp_path, score))
