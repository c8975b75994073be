"""The per-group statistics of fairaudit.counts: confusion counts and exact score sums."""

from __future__ import annotations

import numpy as np
import pytest

from fairaudit.counts import BRIER_SCALE, ScoreSummary, ScoreSums, count_groups
from fairaudit.stats import delong_auc, score_sums_estimates

# One group: positives scored 0.9 and 0.4, negatives 0.4 and 0.1.
Y = np.array([1, 1, 0, 0])
SCORE = np.array([0.9, 0.4, 0.4, 0.1])


def _sums(brier: bool = True) -> ScoreSums:
    # A (positives): 0.9 -> 2*2 + 0 = 4, 0.4 -> 2*1 + 1 tie = 3; B (negatives): 0.4 -> 2*1 + 1
    # = 3, 0.1 -> 2*2 = 4. So u2 = 7 (AUC 7/8), a2 = b2 = 16 + 9 = 25.
    t = (SCORE - Y) ** 2
    return ScoreSums(
        groups=np.zeros((1, 0), dtype=np.int64),
        n_pos=(2,),
        n_neg=(2,),
        u2=(7,),
        a2=(25,),
        b2=(25,),
        brier1=(int(np.floor(t * float(BRIER_SCALE)).astype(np.int64).sum()),) if brier else None,
        brier2=(int(np.floor(t * t * float(BRIER_SCALE)).astype(np.int64).sum()),)
        if brier
        else None,
    )


def test_count_groups_by_hand() -> None:
    counts = count_groups(["g"], [np.array([0, 0, 1, 1])], [("a", "b")], Y, np.array([1, 0, 0, 0]))
    # Group a: two positives, one predicted (tp) and one not (fn); group b: two tn.
    assert counts.counts.tolist() == [[0, 0, 1, 1], [2, 0, 0, 0]]
    assert counts.overall.tolist() == [2, 0, 1, 1]


def test_score_sums_give_auc_delong_and_brier() -> None:
    sums = _sums()
    assert sums.roc_auc().tolist() == [0.875]
    auc, variance, _, _ = delong_auc(np.zeros(4, dtype=np.int64), 1, Y, SCORE)
    np.testing.assert_allclose(sums.delong_variance(), variance, rtol=1e-12)
    assert auc.tolist() == [0.875]
    brier, _ = sums.brier()
    assert brier == pytest.approx([(0.01 + 0.36 + 0.16 + 0.01) / 4], abs=1e-15)
    assert set(sums.metric_values()) == {"roc_auc", "brier_score"}
    assert sums == _sums() and sums != _sums(brier=False)


def test_without_brier_sums_the_brier_score_is_undefined() -> None:
    sums = _sums(brier=False)
    assert np.isnan(sums.brier()[0]).all()
    assert set(score_sums_estimates(sums, 0.95)) == {"roc_auc"}
    summary = ScoreSummary({"g": sums}, sums, False, 0.1, 0.9)
    assert summary.grouping(None) is sums and summary.grouping("g") is sums
