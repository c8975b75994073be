"""The numpy engine's exact score sums against their definitions, on hostile data.

``score_summary_from_rows`` sorts each cell's scores once, merges cells per grouping and
reads rank sums off positions in the merged runs, with tie corrections, merged tie
blocks, and exact integer sums split into a modulo-2**64 part and a float estimate. Each
test recomputes the sums from their definition (``ScoreSums``' docstring) row by row.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

from fairaudit.counts import BRIER_SCALE, ScoreSums, count_groups
from fairaudit.engines._rank_sums import (
    _exact_dots,
    _exact_sum,
    _lift,
    _rank_sums_distinct,
    _rank_sums_weighted,
    _score_keys,
    score_summary_from_rows,
)
from fairaudit.stats import delong_auc


def _oracle(score: np.ndarray, y: np.ndarray) -> tuple:
    """Return (n_pos, n_neg, u2, a2, b2, brier1, brier2) of one group from the definition
    (the Brier sums only for scores in [0, 1], else None)."""
    score = score + 0.0
    pos, neg = score[y], score[~y]
    # A: 2 * (negatives below) + (negatives tied); B: 2 * (positives above) + (tied).
    a = [2 * int((neg < s).sum()) + int((neg == s).sum()) for s in pos]
    b = [2 * int((pos > s).sum()) + int((pos == s).sum()) for s in neg]
    t = [(float(s) - float(v)) * (float(s) - float(v)) for s, v in zip(score, y)]
    probability = bool(((score >= 0) & (score <= 1)).all())
    return (
        len(pos),
        len(neg),
        sum(a),
        sum(x * x for x in a),
        sum(x * x for x in b),
        sum(math.floor(v * float(BRIER_SCALE)) for v in t) if probability else None,
        sum(math.floor(v * v * float(BRIER_SCALE)) for v in t) if probability else None,
    )


def _check(sums: ScoreSums, group_of_row: np.ndarray, score: np.ndarray, y: np.ndarray) -> None:
    """Assert every group's sums equal the oracle's, and the AUC scipy's and sklearn's."""
    for g in range(len(sums.groups)):
        rows = group_of_row == g
        n_pos, n_neg, u2, a2, b2, brier1, brier2 = _oracle(score[rows], y[rows])
        assert (sums.n_pos[g], sums.n_neg[g]) == (n_pos, n_neg)
        assert (sums.u2[g], sums.a2[g], sums.b2[g]) == (u2, a2, b2)
        if sums.brier1 is not None and sums.brier2 is not None:
            assert (sums.brier1[g], sums.brier2[g]) == (brier1, brier2)
        if n_pos and n_neg:
            # Mann-Whitney from midranks: 2U = sum of positives' 2 * rank - n_pos (n_pos + 1).
            ranks = rankdata(score[rows] + 0.0)
            assert u2 == round(2 * ranks[y[rows]].sum()) - n_pos * (n_pos + 1)
            if np.isfinite(score).all():  # sklearn refuses infinite scores
                auc = roc_auc_score(y[rows], score[rows])
                assert sums.roc_auc()[g] == pytest.approx(auc, abs=1e-12)


def _summary_and_check(codes: list[np.ndarray], y: np.ndarray, score: np.ndarray) -> None:
    sizes = [int(c.max()) + 1 if len(c) else 1 for c in codes]
    levels = [[str(i) for i in range(s)] for s in sizes]
    features = [f"f{i}" for i in range(len(codes))]
    gc = count_groups(features, codes, levels, y, y, with_row_cells=True)
    is_probability = bool(((score >= 0) & (score <= 1)).all())
    summary = score_summary_from_rows(gc, y, score, is_probability)
    assert gc.row_cell is not None
    for i, name in enumerate(features):
        sums = summary.by_grouping[name]
        group_of_row = np.searchsorted(sums.groups[:, 0], gc.cells[gc.row_cell, i])
        _check(sums, group_of_row, score, y)
    if len(codes) > 1:
        _check(summary.by_grouping["intersection"], gc.row_cell, score, y)
    _check(summary.overall, np.zeros(len(y), dtype=np.int64), score, y)
    assert (summary.overall.brier1 is None) == (not is_probability)


HOSTILE = {
    "all tied": lambda rng, n: np.full(n, 0.25),
    "zeros and ones": lambda rng, n: rng.integers(0, 2, n).astype(np.float64),
    "signed zeros": lambda rng, n: rng.choice([-0.0, 0.0, 0.5], n),
    "three values": lambda rng, n: rng.integers(0, 3, n) / 2,
    "4 decimals": lambda rng, n: np.round(rng.random(n), 4),
    "continuous": lambda rng, n: rng.random(n),
    "continuous, clipped": lambda rng, n: np.clip(rng.normal(0.5, 0.4, n), 0.0, 1.0),
    "decision values": lambda rng, n: np.round(rng.normal(0.0, 3.0, n), 1),
    "huge span": lambda rng, n: rng.choice([-np.inf, -1e300, -2.0, 0.0, 3.0, 1e300, np.inf], n),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
@pytest.mark.parametrize("n", [1, 2, 7, 300, 3000])
def test_sums_match_the_definition(kind: str, n: int) -> None:
    rng = np.random.default_rng(n)
    codes = [rng.integers(0, 2, n), rng.integers(0, 3, n)]
    y = rng.random(n) < 0.4
    _summary_and_check(codes, y, HOSTILE[kind](rng, n))


def test_one_row_groups_one_class_groups_and_one_group() -> None:
    rng = np.random.default_rng(3)
    n = 400
    score = np.round(rng.random(n), 2)
    y = rng.random(n) < 0.5
    region = rng.integers(0, 3, n)
    region[0] = 3  # a group of one row
    y[region == 1] = True  # a group with positives only
    y[region == 2] = False  # ... and one with negatives only
    _summary_and_check([region, np.zeros(n, dtype=np.int64)], y, score)
    _summary_and_check([np.zeros(n, dtype=np.int64)], y, score)  # one group in all


def test_empty_input_gives_zero_sums() -> None:
    empty = np.zeros(0, dtype=np.int64)
    gc = count_groups(["a"], [empty], [["x"]], empty, empty, with_row_cells=True)
    summary = score_summary_from_rows(gc, empty.astype(bool), np.zeros(0), True)
    assert summary.overall.n_pos == (0,) and summary.overall.u2 == (0,)
    assert math.isnan(summary.score_min) and math.isnan(summary.score_max)


def test_nan_scores_are_refused() -> None:
    codes = np.zeros(3, dtype=np.int64)
    gc = count_groups(["a"], [codes], [["x"]], codes, codes, with_row_cells=True)
    with pytest.raises(ValueError, match="NaN"):
        score_summary_from_rows(gc, codes.astype(bool), np.array([0.1, np.nan, 0.2]), False)


def test_delong_variance_matches_the_row_placements() -> None:
    rng = np.random.default_rng(5)
    n = 2000
    group = rng.integers(0, 3, n)
    y = rng.random(n) < 0.3 + 0.1 * group
    score = np.round(np.clip(rng.normal(0.3 + 0.3 * y, 0.25), 0, 1), 3)
    gc = count_groups(["g"], [group], [["a", "b", "c"]], y, y, with_row_cells=True)
    sums = score_summary_from_rows(gc, y, score, True).by_grouping["g"]
    auc, variance, _, _ = delong_auc(group, 3, y, score)
    np.testing.assert_allclose(sums.roc_auc(), auc, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sums.delong_variance(), variance, rtol=1e-9, atol=0)


@pytest.mark.parametrize("seed", range(20))
def test_both_rank_sum_paths_agree_on_merged_and_unmerged_keys(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    score = rng.integers(0, int(rng.integers(1, 30)), n) / 7
    y = rng.random(n) < rng.random()
    keys = np.sort(_score_keys(score, y)[0])
    distinct, counts = np.unique(keys, return_counts=True)
    expected = _oracle(score, y)[:5]
    assert _rank_sums_distinct(keys) == expected
    assert _rank_sums_weighted(distinct, counts.astype(np.int64)) == expected


def test_score_keys_order_and_tie_as_the_scores() -> None:
    score = np.array([3.0, -0.0, 0.0, -1e-300, 5e-324, -np.inf, np.inf, -2.5, 1e308, 3.0])
    for values in (score, score[np.isfinite(score)], np.abs(score[np.isfinite(score)])):
        y = np.arange(len(values)) % 2 == 0
        keys, raw = _score_keys(values + 0.0, y)
        assert raw == bool((values + 0.0 >= 0).all())
        code = keys >> np.uint64(1)
        assert ((keys & np.uint64(1)) == y).all()
        v = values + 0.0
        assert (np.less.outer(code, code) == np.less.outer(v, v)).all()
        assert (np.equal.outer(code, code) == np.equal.outer(v, v)).all()


def test_exact_sums_beyond_64_bits() -> None:
    rng = np.random.default_rng(11)
    x = rng.integers(0, 1 << 36, 5000)
    y = rng.integers(0, 1 << 40, 5000)
    got = _exact_dots(x, (x, y))
    xs, ys = x.tolist(), y.tolist()
    assert got == [sum(a * a for a in xs), sum(a * b for a, b in zip(xs, ys))]
    assert got[0] > 1 << 64
    t = rng.random(5000)
    fixed = np.floor(t * float(BRIER_SCALE)).astype(np.int64)
    assert _exact_sum(fixed, t) == sum(fixed.tolist()) > 1 << 64
    with pytest.raises(OverflowError):
        _lift(0, 2.0**100, 2.0**72)


def test_row_cells_are_each_rows_cell() -> None:
    rng = np.random.default_rng(2)
    codes = [rng.integers(0, 3, 1000).astype(np.int8), rng.integers(0, 4, 1000)]
    y, p = rng.random(1000) < 0.5, rng.random(1000) < 0.5
    gc = count_groups(["a", "b"], codes, [list("xyz"), list("ijkl")], y, p, with_row_cells=True)
    assert gc.row_cell is not None and gc.row_cell.dtype == np.intp
    assert (gc.cells[gc.row_cell] == np.stack(codes, axis=1)).all()
