"""Analytic intervals and tests for proportions: Wilson, MOVER / Newcombe, z / Fisher, Holm.

Package-private: ``fairaudit.stats`` re-exports the public names. Why these methods
(and not the percentile bootstrap) is explained in ``fairaudit.stats``'s docstring.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable, Sequence
from statistics import NormalDist

import numpy as np

from fairaudit.stats._rates import confusion_metrics, safe_divide
from fairaudit.vocabulary import PROPORTIONS

__all__ = [
    "analytic_interval",
    "balanced_accuracy_test",
    "holm_adjust",
    "mover_difference",
    "mover_ratio",
    "mover_ratio_interval",
    "newcombe_interval",
    "proportion_parts",
    "proportion_test",
    "wilson_interval",
    "z_value",
]

# Cochran's rule: below this expected cell count the z-test gives way to Fisher's test.
_MIN_EXPECTED = 5.0


@functools.lru_cache(maxsize=16)
def z_value(confidence: float) -> float:
    """Return the two-sided normal quantile of ``confidence`` (1.96 for 0.95)."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(
    successes: np.ndarray | float, trials: np.ndarray | float, confidence: float = 0.95
) -> np.ndarray:
    """Return Wilson score intervals, shape ``(..., 2)``; NaN where ``trials == 0``."""
    x = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    z2 = z_value(confidence) ** 2
    p = safe_divide(x, n)
    safe_n = np.where(n > 0, n, 1.0)
    centre = (x + z2 / 2) / (n + z2)
    half = math.sqrt(z2) / (n + z2) * np.sqrt(safe_n * p * (1 - p) + z2 / 4)
    # Clip rounding only: the Wilson limits lie in [0, 1] by construction.
    return np.stack([np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)], axis=-1)


def mover_difference(
    estimate1: np.ndarray, limits1: np.ndarray, estimate2: np.ndarray, limits2: np.ndarray
) -> np.ndarray:
    """Return the MOVER interval for ``estimate1 - estimate2`` from two independent CIs.

    With Wilson limits this is Newcombe's hybrid score interval (Newcombe 1998, method 10).
    """
    low = (
        estimate1
        - estimate2
        - np.sqrt((estimate1 - limits1[..., 0]) ** 2 + (limits2[..., 1] - estimate2) ** 2)
    )
    high = (
        estimate1
        - estimate2
        + np.sqrt((limits1[..., 1] - estimate1) ** 2 + (estimate2 - limits2[..., 0]) ** 2)
    )
    return np.stack([low, high], axis=-1)


def mover_ratio(
    estimate1: np.ndarray, limits1: np.ndarray, estimate2: np.ndarray, limits2: np.ndarray
) -> np.ndarray:
    """Return the MOVER-R interval (Donner & Zou 2012) for ``estimate1 / estimate2``.

    Both quantities must be non-negative with independent CIs; NaN where
    ``estimate2`` is not positive (the ratio is undefined).
    """
    p1, p2 = np.asarray(estimate1, float), np.asarray(estimate2, float)
    l1, u1, l2, u2 = limits1[..., 0], limits1[..., 1], limits2[..., 0], limits2[..., 1]
    b = p1 * p2
    # Each limit solves (p1 - t p2)^2 = (p1 - l1)^2 + t^2 (u2 - p2)^2 (lower) or
    # (u1 - p1)^2 + t^2 (p2 - l2)^2 (upper); the root is written in the form that stays
    # stable when the quadratic's leading coefficient is near zero or negative.
    a_low, c_low = u2 * (2 * p2 - u2), l1 * (2 * p1 - l1)
    root_low = np.sqrt(np.maximum(b * b - a_low * c_low, 0))
    low = np.where(c_low <= 0, 0.0, safe_divide(c_low, b + root_low))
    a_high, c_high = l2 * (2 * p2 - l2), u1 * (2 * p1 - u1)
    root_high = np.sqrt(np.maximum(b * b - a_high * c_high, 0))
    high = np.where(a_high > 0, safe_divide(b + root_high, a_high), np.inf)
    undefined = ~(p2 > 0) | np.isnan(p1)
    return np.stack([np.where(undefined, np.nan, low), np.where(undefined, np.nan, high)], -1)


def newcombe_interval(
    x1: np.ndarray | float,
    n1: np.ndarray | float,
    x2: np.ndarray | float,
    n2: np.ndarray | float,
    confidence: float = 0.95,
) -> np.ndarray:
    """Return Newcombe's hybrid score interval for ``x1/n1 - x2/n2``, shape ``(..., 2)``."""
    p1 = safe_divide(np.asarray(x1, float), np.asarray(n1, float))
    p2 = safe_divide(np.asarray(x2, float), np.asarray(n2, float))
    w1, w2 = wilson_interval(x1, n1, confidence), wilson_interval(x2, n2, confidence)
    return mover_difference(p1, w1, p2, w2)


def mover_ratio_interval(
    x1: np.ndarray | float,
    n1: np.ndarray | float,
    x2: np.ndarray | float,
    n2: np.ndarray | float,
    confidence: float = 0.95,
) -> np.ndarray:
    """Return the MOVER-R Wilson interval for ``(x1/n1) / (x2/n2)``, shape ``(..., 2)``.

    NaN where the ratio is undefined (``x2 == 0`` or an empty denominator).
    """
    p1 = safe_divide(np.asarray(x1, float), np.asarray(n1, float))
    p2 = safe_divide(np.asarray(x2, float), np.asarray(n2, float))
    w1, w2 = wilson_interval(x1, n1, confidence), wilson_interval(x2, n2, confidence)
    return mover_ratio(p1, w1, p2, w2)


def proportion_parts(counts: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Return (successes, trials) whose proportion determines ``metric``, if any.

    f1 is ``2J / (1 + J)`` for the proportion ``J = tp / (tp + fp + fn)``, which is
    binomial given ``tp + fp + fn``; equal f1 means equal J.
    """
    if metric == "f1":
        return counts[..., 3], counts[..., 1:].sum(axis=-1)
    if metric not in PROPORTIONS:
        return None
    numerator, denominator = PROPORTIONS[metric]
    return counts[..., list(numerator)].sum(axis=-1), counts[..., list(denominator)].sum(-1)


def analytic_interval(
    counts: np.ndarray, metric: str, confidence: float = 0.95
) -> np.ndarray | None:
    """Return score-based intervals ``(..., 2)`` for ``metric`` of ``counts (..., 4)``.

    Wilson for proportions; f1 as the monotone image ``2J / (1 + J)`` of J's Wilson
    interval; balanced_accuracy as the MOVER sum of the TPR and TNR Wilson intervals
    (independent given the class sizes). None for other metrics; NaN where undefined.
    """
    counts = np.asarray(counts)
    if metric == "balanced_accuracy":
        tn, fp, fn, tp = (counts[..., i].astype(np.float64) for i in range(4))
        tpr, tnr = safe_divide(tp, tp + fn), safe_divide(tn, tn + fp)
        w_tpr, w_tnr = (
            wilson_interval(tp, tp + fn, confidence),
            wilson_interval(tn, tn + fp, confidence),
        )
        low = (tpr + tnr) / 2 - np.sqrt((tpr - w_tpr[..., 0]) ** 2 + (tnr - w_tnr[..., 0]) ** 2) / 2
        high = (tpr + tnr) / 2 + np.sqrt(
            (w_tpr[..., 1] - tpr) ** 2 + (w_tnr[..., 1] - tnr) ** 2
        ) / 2
        return np.stack([low, high], axis=-1)
    parts = proportion_parts(counts, metric)
    if parts is None:
        return None
    interval = wilson_interval(*parts, confidence)
    return 2 * interval / (1 + interval) if metric == "f1" else interval


def balanced_accuracy_test(counts1: np.ndarray, counts2: np.ndarray) -> float:
    """Return the two-sided p-value for equal balanced accuracy, by inverting the interval.

    The interval of the difference is the MOVER difference of the two groups' MOVER-sum
    intervals (``analytic_interval``); the p-value is ``1 - c`` for the confidence ``c``
    at which that interval's bound nearest 0 reaches 0, so ``p < 1 - confidence``
    exactly when the reported interval excludes 0. NaN when either value is undefined.
    """
    c1, c2 = np.asarray(counts1)[None], np.asarray(counts2)[None]
    b1 = confusion_metrics(c1)["balanced_accuracy"]
    b2 = confusion_metrics(c2)["balanced_accuracy"]
    d = float(b1[0] - b2[0])
    if math.isnan(d):
        return float("nan")
    if abs(d) < 1e-12:  # equal, up to the rounding of (TPR + TNR) / 2
        return 1.0
    side = 0 if d > 0 else 1

    def bound(z: float) -> float:
        confidence = math.erf(z / math.sqrt(2))
        i1 = analytic_interval(c1, "balanced_accuracy", confidence)
        i2 = analytic_interval(c2, "balanced_accuracy", confidence)
        assert i1 is not None and i2 is not None
        return float(mover_difference(b1, i1, b2, i2)[0, side])

    bottom, top = 1e-9, 8.0  # top: p below 1.3e-15, and erf(z / sqrt 2) stays below 1
    if (bound(top) > 0) == (d > 0):
        return float(math.erfc(top / math.sqrt(2)))
    if (bound(bottom) > 0) != (d > 0):
        return 1.0
    z = _brentq(bound, bottom, top, xtol=1e-10)
    return float(math.erfc(z / math.sqrt(2)))


def _brentq(f: Callable[[float], float], xa: float, xb: float, xtol: float) -> float:
    """Return a root of ``f`` bracketed by ``[xa, xb]``: ``scipy.optimize.brentq``'s result.

    Brent's method as scipy's C ``brentq`` runs it (rtol 4 eps, 100 iterations), step for
    step in the same floating-point operations, so the root is the same to the last bit
    (tests/test_startup.py compares the two); it spares audits without a model importing
    scipy.optimize (0.3 s) for one root per balanced-accuracy test.
    """
    rtol, iterations = 4 * sys.float_info.epsilon, 100
    xpre, xcur, xblk = xa, xb, 0.0
    fpre, fcur, fblk = f(xpre), f(xcur), 0.0
    spre = scur = 0.0
    if fpre * fcur > 0:
        raise ValueError("f(a) and f(b) must have different signs")
    if fpre == 0:
        return xpre
    if fcur == 0:
        return xcur
    for _ in range(iterations):
        if fpre * fcur < 0:
            xblk, fblk = xpre, fpre
            spre = scur = xcur - xpre
        if abs(fblk) < abs(fcur):
            xpre, xcur, xblk = xcur, xblk, xcur
            fpre, fcur, fblk = fcur, fblk, fcur
        delta = (xtol + rtol * abs(xcur)) / 2
        sbis = (xblk - xcur) / 2
        if fcur == 0 or abs(sbis) < delta:
            return xcur
        if abs(spre) > delta and abs(fcur) < abs(fpre):
            if xpre == xblk:  # interpolate
                stry = -fcur * (xcur - xpre) / (fcur - fpre)
            else:  # extrapolate
                dpre = (fpre - fcur) / (xpre - xcur)
                dblk = (fblk - fcur) / (xblk - xcur)
                stry = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))
            room = 3 * abs(sbis) - delta
            if 2 * abs(stry) < (abs(spre) if abs(spre) < room else room):  # a good short step
                spre, scur = scur, stry
            else:  # bisect
                spre = scur = sbis
        else:  # bisect
            spre = scur = sbis
        xpre, fpre = xcur, fcur
        xcur += scur if abs(scur) > delta else (delta if sbis > 0 else -delta)
        fcur = f(xcur)
    raise RuntimeError(f"no root found in {iterations} iterations")


def proportion_test(x1: int, n1: int, x2: int, n2: int) -> float:
    """Return the two-sided p-value for equal proportions: z-test, or Fisher when small.

    Fisher's exact test is used when any expected cell of the 2x2 table is below 5.
    NaN when either denominator is zero.
    """
    if n1 <= 0 or n2 <= 0:
        return float("nan")
    pooled = (x1 + x2) / (n1 + n2)
    expected = min(n1, n2) * min(pooled, 1 - pooled)
    if expected < _MIN_EXPECTED:
        from scipy.stats import fisher_exact  # here, not at import: scipy.stats takes 0.5 s

        table = [[x1, n1 - x1], [x2, n2 - x2]]
        return float(fisher_exact(table).pvalue)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (x1 / n1 - x2 / n2) / se
    return math.erfc(abs(z) / math.sqrt(2))


def holm_adjust(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Return Holm step-down adjusted p-values; NaN entries stay NaN and are not counted."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    m = len(tested)
    if m == 0:
        return out
    order = tested[np.argsort(p[tested], kind="stable")]
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(stepped, 1.0)
    return out
