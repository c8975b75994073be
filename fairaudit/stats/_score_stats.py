"""Analytic intervals for the score metrics: DeLong for ROC AUC, the CLT for the Brier score.

Package-private: ``fairaudit.stats`` re-exports the public names and explains the method
choices. Everything here costs one sort of the scores plus O(n) per grouping, whatever
the confidence level; the row bootstrap it replaced cost O(resamples x n) per grouping.

ROC AUC (DeLong, DeLong & Clarke-Pearson 1988, in the midrank form of Sun & Xu 2014)
    A positive's *placement* is the share of the group's negatives it outranks (ties
    count 1/2), a negative's the share of positives that outrank it; the AUC is the mean
    of either, and its variance is ``S10 / n_pos + S01 / n_neg`` with ``S10``, ``S01``
    the sample variances of the two sets of placements. The interval is Wald on the
    logit scale, so it stays inside [0, 1]. An AUC of exactly 0 or 1 has zero DeLong
    variance, which would give a zero-width interval; there the interval is the score
    interval under the largest variance an AUC of ``theta`` can have,
    ``theta (1 - theta) / min(n_pos, n_neg)`` (Birnbaum & Klose 1957), i.e. the Wilson
    interval of ``AUC * k`` successes in ``k = min(n_pos, n_neg)`` trials. A variance
    needs two positives and two negatives; with fewer the interval is undefined.
Brier score
    The mean of the squared errors ``(score - y)^2``: ``mean +- z sd / sqrt(n)`` (sample
    sd), clipped to [0, 1]. Undefined below two rows.
Differences and ratios (group vs reference, independent because groups are disjoint)
    Differences: Wald, ``d +- z sqrt(v1 + v2)``, and the two-sided z-test of ``d = 0``.
    Ratios: MOVER-R from the two intervals, as for proportions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fairaudit.stats._intervals import wilson_interval, z_value
from fairaudit.stats._rates import safe_divide

if TYPE_CHECKING:
    from fairaudit.counts import ScoreSums

__all__ = [
    "ScoreEstimate",
    "auc_estimate",
    "brier_estimate",
    "brier_estimates",
    "delong_auc",
    "roc_auc_estimates",
    "score_sums_estimates",
    "wald_difference",
]

# np.argsort(kind="stable") is a linear-time radix sort for integers of 16 bits or less.
_RADIX_LIMIT = np.iinfo(np.uint16).max


@dataclass(frozen=True)
class ScoreEstimate:
    """One score metric for the groups of a grouping; NaN where undefined.

    ``variance`` is the one the group-vs-reference differences and tests use.
    """

    value: np.ndarray
    interval: np.ndarray
    variance: np.ndarray


def _group_order(group: np.ndarray, n_groups: int, by_score: np.ndarray) -> np.ndarray:
    """Return the row order sorted by (group, score), given the rows sorted by score."""
    group_of = group[by_score]
    if n_groups <= _RADIX_LIMIT:
        group_of = group_of.astype(np.uint16)
    return by_score[np.argsort(group_of, kind="stable")]


def delong_auc(
    group: np.ndarray,
    n_groups: int,
    y_true: np.ndarray,
    score: np.ndarray,
    *,
    by_score: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return each group's ROC AUC, its DeLong variance, and its positives and negatives.

    ``by_score`` (``np.argsort(score, kind="stable")``) may be passed to share the one
    sort between groupings. AUC is NaN without a positive or a negative; the variance
    is NaN with fewer than two of either.
    """
    group = np.asarray(group, dtype=np.int64)
    positive_rows = np.asarray(y_true).astype(bool)
    score = np.asarray(score, dtype=np.float64)
    if by_score is None:
        by_score = np.argsort(score, kind="stable")
    order = _group_order(group, n_groups, by_score)
    g, s, positive = group[order], score[order], positive_rows[order]
    n = len(order)
    new_block = np.ones(n, dtype=bool)
    new_block[1:] = (g[1:] != g[:-1]) | (s[1:] != s[:-1])
    block_start = np.flatnonzero(new_block)
    block_id = np.cumsum(new_block) - 1
    first = block_start[block_id]  # each sorted row's tie block: first row, end (exclusive)
    end = np.append(block_start[1:], n)[block_id]
    # *_before[i]: positives / negatives among sorted rows 0..i-1.
    pos_before = np.concatenate([[0], np.cumsum(positive)])
    neg_before = np.arange(n + 1) - pos_before
    group_start = np.searchsorted(g, np.arange(n_groups))
    group_end = np.searchsorted(g, np.arange(n_groups), side="right")
    n_pos = (pos_before[group_end] - pos_before[group_start]).astype(np.float64)
    n_neg = (neg_before[group_end] - neg_before[group_start]).astype(np.float64)
    neg_below = neg_before[first] - neg_before[group_start[g]]
    neg_tied = neg_before[end] - neg_before[first]
    pos_above = pos_before[group_end[g]] - pos_before[end]
    pos_tied = pos_before[end] - pos_before[first]
    with np.errstate(divide="ignore", invalid="ignore"):
        placement = np.where(
            positive,
            (neg_below + neg_tied / 2) / n_neg[g],
            (pos_above + pos_tied / 2) / n_pos[g],
        )
    weight_pos = positive.astype(np.float64)
    auc = safe_divide(np.bincount(g, weight_pos * placement, minlength=n_groups), n_pos)
    # Both sets of placements have mean AUC; centre before squaring to avoid cancellation.
    squared = (placement - auc[g]) ** 2
    ss_pos = np.bincount(g, np.where(positive, squared, 0.0), minlength=n_groups)
    ss_neg = np.bincount(g, np.where(positive, 0.0, squared), minlength=n_groups)
    enough = (n_pos >= 2) & (n_neg >= 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = ss_pos / ((n_pos - 1) * n_pos) + ss_neg / ((n_neg - 1) * n_neg)
    auc = np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)
    return auc, np.where(enough, variance, np.nan), n_pos, n_neg


def roc_auc_estimates(
    group: np.ndarray,
    n_groups: int,
    y_true: np.ndarray,
    score: np.ndarray,
    *,
    confidence: float = 0.95,
    by_score: np.ndarray | None = None,
) -> ScoreEstimate:
    """Return each group's ROC AUC with its logit-DeLong interval (see the module docstring)."""
    auc, variance, n_pos, n_neg = delong_auc(group, n_groups, y_true, score, by_score=by_score)
    return auc_estimate(auc, variance, n_pos, n_neg, confidence)


def auc_estimate(
    auc: np.ndarray, variance: np.ndarray, n_pos: np.ndarray, n_neg: np.ndarray, confidence: float
) -> ScoreEstimate:
    """Return the logit-DeLong interval for AUCs with their DeLong variances.

    An AUC of exactly 0 or 1 (zero variance) gets the Wilson interval of ``AUC * k`` in
    ``k = min(n_pos, n_neg)`` trials, the widest such an AUC can have.
    """
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        logit = np.log(auc / (1 - auc))
        half = z * np.sqrt(variance) / (auc * (1 - auc))
        interval = 1 / (1 + np.exp(-(logit[:, None] + np.outer(half, [-1.0, 1.0]))))
    boundary = ((auc == 0) | (auc == 1)) & ~np.isnan(variance)
    if boundary.any():
        k = np.minimum(n_pos, n_neg)
        bound = wilson_interval(auc * k, k, confidence)
        interval = np.where(boundary[:, None], bound, interval)
        # The Wald variance whose interval is as wide as the bound's.
        variance = np.where(boundary, ((bound[:, 1] - bound[:, 0]) / (2 * z)) ** 2, variance)
    interval = np.where(np.isnan(variance)[:, None], np.nan, interval)
    return ScoreEstimate(auc, interval, variance)


def brier_estimates(
    group: np.ndarray,
    n_groups: int,
    y_true: np.ndarray,
    score: np.ndarray,
    *,
    confidence: float = 0.95,
) -> ScoreEstimate:
    """Return each group's Brier score with its CLT interval ``mean +- z sd / sqrt(n)``."""
    group = np.asarray(group, dtype=np.int64)
    squared = (np.asarray(score, np.float64) - np.asarray(y_true, np.float64)) ** 2
    size = np.bincount(group, minlength=n_groups).astype(np.float64)
    brier = safe_divide(np.bincount(group, squared, minlength=n_groups), size)
    ss = np.bincount(group, (squared - brier[group]) ** 2, minlength=n_groups)
    variance = np.where(size >= 2, safe_divide(ss, (size - 1) * size), np.nan)
    return brier_estimate(brier, variance, confidence)


def brier_estimate(brier: np.ndarray, variance: np.ndarray, confidence: float) -> ScoreEstimate:
    """Return the CLT interval ``mean +- z sd / sqrt(n)`` (clipped to [0, 1]) for Brier scores."""
    half = z_value(confidence) * np.sqrt(variance)
    interval = np.clip(np.stack([brier - half, brier + half], axis=-1), 0, 1)
    return ScoreEstimate(brier, interval, variance)


def score_sums_estimates(sums: ScoreSums, confidence: float) -> dict[str, ScoreEstimate]:
    """Return ``{metric: ScoreEstimate}`` from exact score sums, as from rows.

    The same intervals as ``roc_auc_estimates`` / ``brier_estimates`` give on the rows,
    computed from the exact moments; Brier only when the sums have it (probabilities).
    """
    n_pos = np.array(sums.n_pos, dtype=np.float64)
    n_neg = np.array(sums.n_neg, dtype=np.float64)
    out = {
        "roc_auc": auc_estimate(sums.roc_auc(), sums.delong_variance(), n_pos, n_neg, confidence)
    }
    if sums.brier1 is not None:
        out["brier_score"] = brier_estimate(*sums.brier(), confidence)
    return out


def wald_difference(
    estimate1: float, variance1: float, estimate2: float, variance2: float, confidence: float
) -> tuple[tuple[float, float], float]:
    """Return the Wald interval of ``estimate1 - estimate2`` and the z-test's p-value.

    The two estimates must be independent. The p-value is 1 when both estimates are
    equal with zero variance; everything is NaN when a variance is undefined.
    """
    difference = estimate1 - estimate2
    variance = variance1 + variance2
    if math.isnan(difference) or math.isnan(variance):
        return (math.nan, math.nan), math.nan
    half = z_value(confidence) * math.sqrt(variance)
    if variance == 0:
        p_value = 1.0 if difference == 0 else 0.0
    else:
        p_value = math.erfc(abs(difference) / math.sqrt(2 * variance))
    return (difference - half, difference + half), p_value
