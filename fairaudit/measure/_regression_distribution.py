"""Distances between groups' prediction distributions: demographic parity for regression.

Agarwal, Dudík & Wu (2019) call a regressor fair in the demographic-parity sense when its
predictions have the same distribution in every group. Two distances measure how far
from that it is, each from sorted predictions (``RegressionCells`` keeps every cell's
run sorted), exactly as scipy defines them:

* ``ks_statistic``: the Kolmogorov-Smirnov distance ``sup_x |F_g(x) - F_r(x)|`` between
  the empirical CDFs of a group and the reference (``scipy.stats.ks_2samp``'s
  statistic, here exact and correctly rounded), and, as a headline, its maximum over
  every pair of groups;
* ``wasserstein_distance``: the 1-Wasserstein distance ``∫ |F_g - F_r| dx`` in the
  prediction's units (``scipy.stats.wasserstein_distance``).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

__all__ = ["ks_between_groups", "ks_statistic", "wasserstein_distance"]


def ks_statistic(group: np.ndarray, reference: np.ndarray) -> float:
    """Return the two-sample KS statistic of two sorted samples (NaN if one is empty).

    Both one-sided suprema are read at the distinct values of ``group`` only, so the cost
    is ``O(n_group log n_reference)``: ``F_g - F_r`` is largest at a point of ``group``;
    ``F_r - F_g`` is largest just below one (or above all), where ``F_r`` counts the
    reference values below it. The supremum is found in integers
    (``i n_r - j n_g`` over ``n_g n_r``) and rounded once, so it is the exact value
    correctly rounded; scipy's ``ks_2samp``, which subtracts two rounded CDF values, can
    differ from it in the last bit.
    """
    n_g, n_r = len(group), len(reference)
    if n_g == 0 or n_r == 0:
        return math.nan
    values = np.unique(group)
    upto = np.searchsorted(group, values, side="right").astype(np.int64)
    at = np.searchsorted(reference, values, side="right").astype(np.int64)
    below = np.searchsorted(reference, values, side="left").astype(np.int64)
    previous = np.concatenate(([0], upto[:-1]))
    # Python integers: the products may pass 2**63 for very large samples.
    above_top = max((upto * n_r - at * n_g).tolist())
    below_top = max((below * n_g - previous * n_r).tolist())
    return float(Fraction(max(above_top, below_top, 0), n_g * n_r))


def wasserstein_distance(group: np.ndarray, reference: np.ndarray) -> float:
    """Return the 1-Wasserstein distance of two sorted samples (NaN if one is empty).

    ``sum |F_g - F_r| * gap`` over the gaps between consecutive pooled values, as
    ``scipy.stats.wasserstein_distance`` computes it.
    """
    n_g, n_r = len(group), len(reference)
    if n_g == 0 or n_r == 0:
        return math.nan
    pooled = np.concatenate((group, reference))
    pooled.sort(kind="mergesort")
    gaps = np.diff(pooled)
    f_g = np.searchsorted(group, pooled[:-1], side="right") / n_g
    f_r = np.searchsorted(reference, pooled[:-1], side="right") / n_r
    f_g -= f_r
    np.abs(f_g, out=f_g)
    f_g *= gaps
    # A sum rather than a BLAS dot: no thread start-up per call (18 ms per call measured).
    return float(np.sum(f_g))


# Up to this many groups, the headline KS evaluates every group's CDF at every pooled
# value (vector steps); beyond, one sweep keeps the smallest CDF in a heap.
_VECTOR_GROUPS = 256


def ks_between_groups(samples: Sequence[np.ndarray]) -> float:
    """Return the largest KS statistic over every pair of the sorted ``samples`` (NaN
    with fewer than two non-empty ones).

    ``max_{g,h} sup_x |F_g - F_h| = sup_x (max_g F_g(x) - min_g F_g(x))``, evaluated at
    every distinct pooled value after one stable sort of the pooled values. With few
    groups, each group's CDF is a running count over the pooled rows (``O(k · n)``
    vector steps); with many, one pass over the rows updates the group whose CDF steps
    and keeps the largest CDF (it only grows) and the smallest (a heap), in
    ``O(n log k)``: 5,000 groups of 200 rows took 132 s the first way. In floating
    point: within an ulp or two of the exact value.
    """
    samples = [s for s in samples if len(s)]
    if len(samples) < 2:
        return math.nan
    pooled = np.concatenate(samples)
    label = np.repeat(np.arange(len(samples)), [len(s) for s in samples])
    order = np.argsort(pooled, kind="stable")
    pooled, label = pooled[order], label[order]
    is_last = np.append(pooled[1:] != pooled[:-1], True)  # each distinct value's last row
    if len(samples) > _VECTOR_GROUPS:
        return _ks_sweep(label, is_last, [len(s) for s in samples])
    last = np.flatnonzero(is_last)
    high = np.zeros(len(last))
    low = np.ones(len(last))
    for g, sample in enumerate(samples):
        cdf = np.cumsum(label == g)[last] / len(sample)
        np.maximum(high, cdf, out=high)
        np.minimum(low, cdf, out=low)
    return float(np.max(high - low))


def _ks_sweep(label: np.ndarray, is_last: np.ndarray, sizes: list[int]) -> float:
    """Return ``sup_x (max_g F_g(x) - min_g F_g(x))`` in one pass over the pooled rows'
    groups (``label``, in value order; ``is_last`` marks each distinct value's last row)."""
    counts = [0] * len(sizes)
    heap = [(0.0, g) for g in range(len(sizes))]  # (a CDF value, its group), stale or not
    high = best = 0.0
    for g, last in zip(label.tolist(), is_last.tolist()):
        counts[g] += 1
        value = counts[g] / sizes[g]
        heapq.heappush(heap, (value, g))
        high = max(high, value)
        if last:
            while heap[0][0] != counts[heap[0][1]] / sizes[heap[0][1]]:
                heapq.heappop(heap)  # a group's older, smaller value
            best = max(best, high - heap[0][0])
    return best
