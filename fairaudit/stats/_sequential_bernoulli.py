"""A Bernoulli (Chernoff) boundary for low rates: narrower than the normal mixture there.

Package-private, used through ``boundary="bernoulli"`` of ``span_intervals``,
``ratio_alarm`` and ``drift_alarm``. The normal-mixture boundary of
``fairaudit.stats._sequential`` assumes every row has the largest variance a rate can have
(1/4, at rate 0.5); at rate 0.05 a row's variance is 0.0475, so its intervals are about
2.3 times too wide there and alarms come late or never (docs/monitoring.md).

**The boundary.** For rows with outcomes in {0, 1} and rates ``p_i``, and any real
``lambda``, ``exp(lambda * successes - sum_i log(1 - p_i + p_i e^lambda))`` is a
nonnegative martingale starting at 1. ``log(1 - m + m e^lambda)`` is concave in ``m``, so
the sum is at most ``n log(1 - mu + mu e^lambda)`` with ``mu`` the average rate of the
rows counted: the process with ``mu`` in its place never exceeds the martingale. A
discrete mixture over a grid of ``lambda`` (equal weights summing to 1) keeps both
properties, and Ville's inequality bounds by ``alpha`` the chance that it ever reaches
``1 / alpha`` at the true ``mu``. The set of ``mu`` where it stays below is an interval
(its logarithm is a log-sum-exp of convex functions of ``mu``), found by bisection. The
grid is ``lambda_0 * 2**k`` for k = -4 .. 4 and both signs, ``lambda_0`` tuned to the
trials ``tune`` at rate 1/4; the 16-fold range either way covers rates down to about
0.001 and spans up to 256 times the tuned size.

**Two groups.** Each group gets half of the error share and its own interval; the ratio
(difference) interval is the interval arithmetic of the two: ``[low1 / high2, high1 /
low2]``. This union bound is wider than the normal mixture's shared ellipse when rates are
near 0.5 (there the normal mixture is the better choice); at low rates the variance gain
outweighs it (``benchmarks/monitor_study.py --boundary bernoulli`` measures both).
"""

from __future__ import annotations

import numpy as np

__all__ = ["bernoulli_pair_interval", "bernoulli_rate_interval"]

#: The grid's exponents k of lambda_0 * 2**k, taken with both signs.
GRID = 2.0 ** np.arange(-4, 5)
#: Bisection steps: the interval's ends are exact to 2**-50 (rounded outwards).
STEPS = 50
#: The largest |lambda| used: e**30 is far beyond any useful tilt and stays finite.
MAX_LAMBDA = 30.0


def _log_mixture(m: np.ndarray, x: np.ndarray, n: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Return the log of the discrete mixture at rates ``m`` (shape (P,)), lam (P, K)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        tilt = np.log1p(m[:, None] * np.expm1(lam))
        terms = lam * x[:, None] - n[:, None] * tilt
        terms = np.where(np.isnan(terms), np.inf, terms)
    top = np.max(terms, axis=1)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        total = safe + np.log(np.mean(np.exp(terms - safe[:, None]), axis=1))
    return np.where(np.isfinite(top), total, top)


def bernoulli_rate_interval(
    successes: np.ndarray, trials: np.ndarray, alpha: np.ndarray, tune: np.ndarray
) -> np.ndarray:
    """Return ``(..., 2)``: the rate interval of each entry (``[0, 1]`` without rows).

    Each holds at every look with probability ``>= 1 - alpha`` (entry-wise ``alpha``);
    ``tune`` (trials) places the grid of tilts.
    """
    x, n = np.asarray(successes, float).ravel(), np.asarray(trials, float).ravel()
    a = np.broadcast_to(np.asarray(alpha, float), x.shape).ravel()
    t = np.broadcast_to(np.asarray(tune, float), x.shape).ravel()
    level = np.log(1.0 / a)
    lam0 = np.sqrt(2.0 * level / (0.25 * np.maximum(t, 1.0)))
    grid = np.minimum(lam0[:, None] * GRID[None, :], MAX_LAMBDA)
    lam = np.concatenate([grid, -grid], axis=1)
    p = np.where(n > 0, x / np.where(n > 0, n, 1.0), 0.5)
    ends = []
    for outer in (0.0, 1.0):  # bisect between the estimate (inside) and 0, then 1
        inside, outside = p.copy(), np.full_like(p, outer)
        fits = _log_mixture(outside, x, n, lam) < level  # the end of [0, 1] is inside
        for _ in range(STEPS):
            mid = (inside + outside) / 2
            ok = _log_mixture(mid, x, n, lam) < level
            inside, outside = np.where(ok, mid, inside), np.where(ok, outside, mid)
        ends.append(np.where(fits, outer, outside))  # rounded outwards
    out = np.stack([np.where(n > 0, ends[0], 0.0), np.where(n > 0, ends[1], 1.0)], axis=-1)
    return out.reshape(*np.shape(successes), 2)


def bernoulli_pair_interval(
    counts: list[np.ndarray], alpha: np.ndarray, tune: tuple[np.ndarray, np.ndarray], measure: str
) -> np.ndarray:
    """Return ``(..., 2)``: the ratio (or difference) interval of two groups' counts.

    Each group's rate interval at ``alpha / 2`` (:func:`bernoulli_rate_interval`), then
    interval arithmetic; the ratio's high end is ``inf`` while the reference's rate may be
    0, and ``[0, inf]`` (difference ``[-1, 1]``) when a group has no rows.
    """
    x1, n1, x2, n2 = counts
    half = np.asarray(alpha, float) / 2
    low1, high1 = np.moveaxis(bernoulli_rate_interval(x1, n1, half, tune[0]), -1, 0)
    low2, high2 = np.moveaxis(bernoulli_rate_interval(x2, n2, half, tune[1]), -1, 0)
    empty = (np.asarray(n1) <= 0) | (np.asarray(n2) <= 0)
    if measure == "difference":
        low, high = low1 - high2, high1 - low2
        return np.stack([np.where(empty, -1.0, low), np.where(empty, 1.0, high)], axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(high2 > 0, low1 / np.where(high2 > 0, high2, 1.0), 0.0)
        high = np.where(low2 > 0, high1 / np.where(low2 > 0, low2, 1.0), np.inf)
    return np.stack([np.where(empty, 0.0, low), np.where(empty, np.inf, high)], axis=-1)
