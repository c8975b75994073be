"""Intervals and tests for a regression model's group metrics.

Package-private: ``fairaudit.stats`` re-exports the public names. Every function takes
plain per-group numbers (sizes, means, sample variances), which ``fairaudit.measure``
derives from its exact sums, so nothing here sees rows except the KS test.

Means of the target and the predictions
    Student's t interval ``mean ± t(n-1) · s / sqrt(n)`` with the group's sample standard
    deviation ``s`` (undefined below two rows).
Mean error, mean absolute error and RMSE
    Hall's (1992) skewness-corrected t interval (``skew_interval``), from the mean,
    sample variance and third central moment, because absolute and above all squared
    errors are right-skewed; the RMSE's interval is Hall's interval of the mean squared
    error, square-rooted (``rmse_interval``). ``upper_tail`` lets the upper limit miss
    less often than the lower one: ``fairaudit.measure`` uses it for the MAE and the MSE,
    whose samples usually miss the rare large errors (there the mean, the variance and
    the skewness are all too small together, so a symmetric split leaves the upper limit
    short). Measured on 4,000 samples of squared errors (``benchmarks/README.md`` has
    the study of the final methods): with Student t(3) errors (no finite fourth moment)
    the 95% t interval of the MSE covered 66-75%, a log-scale t interval 73-77%, a
    chi-square interval with Satterthwaite's degrees of freedom 75-78%, Hall's 85% at 30,
    100 and 1,000 rows; with exponential errors at 30 rows 76%, 81%, 80% and 91.5%.
    No interval of a mean holds for every distribution (Bahadur & Savage 1956).
Differences, group minus reference (groups are disjoint, hence independent)
    Means: Welch's t interval and test, with the Welch-Satterthwaite degrees of freedom
    (``fairaudit.measure`` tests equal RMSEs as equal mean squared errors). RMSE:
    MOVER-D from the two groups' intervals. Ratios of the non-negative metrics (MAE, RMSE):
    MOVER-R from the two groups' intervals.
Distributions
    ``ks_statistic``: the two-sample Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``:
    its exact distribution when ``n_g · n_r`` is at most ``KS_EXACT_LIMIT``, else the
    asymptotic one).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from fairaudit.stats._rates import safe_divide

__all__ = [
    "KS_EXACT_LIMIT",
    "ks_test",
    "mean_interval",
    "rmse_interval",
    "skew_interval",
    "t_quantile",
    "welch_difference",
]

#: ks_2samp's exact p-value when the two sizes' product is at most this, else asymptotic
#: (the exact one costs O(n_g · n_r)).
KS_EXACT_LIMIT = 1_000_000


def t_quantile(confidence: float, df: np.ndarray | float) -> np.ndarray:
    """Return Student's two-sided t quantile of ``confidence`` (NaN where df <= 0)."""
    from scipy.stats import t  # here, not at import: scipy.stats takes 0.5 s

    df = np.asarray(df, dtype=np.float64)
    safe = np.where(df > 0, df, 1.0)
    return np.where(df > 0, t.ppf(0.5 + confidence / 2, safe), np.nan)


def mean_interval(
    mean: np.ndarray, variance: np.ndarray, n: np.ndarray, confidence: float
) -> np.ndarray:
    """Return t intervals of means, shape ``(..., 2)``; NaN below two rows."""
    mean = np.asarray(mean, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    half = t_quantile(confidence, n - 1) * np.sqrt(safe_divide(np.asarray(variance, np.float64), n))
    half = np.where(n >= 2, half, np.nan)
    return np.stack([mean - half, mean + half], axis=-1)


def skew_interval(
    mean: np.ndarray,
    variance: np.ndarray,
    third: np.ndarray,
    n: np.ndarray,
    confidence: float,
    upper_tail: float | None = None,
) -> np.ndarray:
    """Return Hall's (1992) skewness-corrected t intervals of means, shape ``(..., 2)``.

    The lower limit misses with probability ``(1 - confidence) / 2``, the upper one with
    ``upper_tail`` (the same by default; smaller for a conservative upper limit).

    ``variance`` is the sample variance and ``third`` the third central moment (over
    ``n``). With ``T = sqrt(n) (mean - mu) / s`` and ``a = G1 / sqrt(n)`` (``G1``: the
    adjusted sample skewness), ``g(T) = T + a T²/3 + a² T³/27 + a/6`` is closer to normal
    than ``T``; it is monotone, so the interval is
    ``mean - s/sqrt(n) · g⁻¹(±t(n-1))`` with ``g⁻¹(v) = (3/a)((1 + a(v - a/6))^(1/3) - 1)``.
    Without skewness it is the t interval. The skewness is taken as 0 below three rows
    or when the spread is below 1e-6 of the mean (its per-row rounding would dominate).
    NaN below two rows; the mean itself when the variance is 0.
    """
    mean = np.asarray(mean, dtype=np.float64)
    variance = np.asarray(variance, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    biased = np.where(n >= 2, variance * (n - 1) / np.maximum(n, 1), np.nan)
    reliable = (n >= 3) & (biased > 1e-12 * mean * mean)
    safe_n = np.where(n >= 3, n, 3.0)
    g1 = safe_divide(np.asarray(third, np.float64), np.where(reliable, biased, 1.0) ** 1.5)
    adjusted = g1 * np.sqrt(safe_n * (safe_n - 1)) / (safe_n - 2)
    a = np.where(reliable & np.isfinite(adjusted), adjusted, 0.0) / np.sqrt(safe_n)
    q = t_quantile(confidence, n - 1)
    q_upper = q if upper_tail is None else t_quantile(1 - 2 * upper_tail, n - 1)
    scale = np.sqrt(safe_divide(variance, n))

    def inverse(v: np.ndarray) -> np.ndarray:
        small = np.abs(a) < 1e-8
        safe_a = np.where(small, 1.0, a)
        curved = 3 / safe_a * (np.cbrt(1 + safe_a * (v - safe_a / 6)) - 1)
        return np.where(small, v, curved)

    low = np.where(variance > 0, mean - scale * inverse(q), mean)
    high = np.where(variance > 0, mean - scale * inverse(-q_upper), mean)
    undefined = (n < 2) | np.isnan(mean)
    return np.stack([np.where(undefined, np.nan, low), np.where(undefined, np.nan, high)], -1)


def rmse_interval(
    mse: np.ndarray,
    variance_squared: np.ndarray,
    third_squared: np.ndarray,
    n: np.ndarray,
    confidence: float,
    upper_tail: float | None = None,
) -> np.ndarray:
    """Return intervals of the RMSE: Hall's skewness-corrected interval of the mean
    squared error ``mse`` (``variance_squared``, ``third_squared``: the sample variance
    and third central moment of the squared errors; ``upper_tail`` as for
    ``skew_interval``), clipped at 0 and square-rooted."""
    interval = skew_interval(mse, variance_squared, third_squared, n, confidence, upper_tail)
    return np.sqrt(np.maximum(interval, 0.0))


def welch_difference(
    mean1: float,
    variance1: float,
    n1: int,
    mean2: float,
    variance2: float,
    n2: int,
    confidence: float,
) -> tuple[tuple[float, float], float]:
    """Return Welch's t interval of ``mean1 - mean2`` and its two-sided p-value.

    NaN below two rows in either group; with both variances 0 the interval is the
    difference itself and the p-value 1 (equal means) or 0.
    """
    if n1 < 2 or n2 < 2 or math.isnan(mean1) or math.isnan(mean2):
        return (math.nan, math.nan), math.nan
    difference = mean1 - mean2
    a, b = variance1 / n1, variance2 / n2
    se2 = a + b
    if se2 == 0:
        return (difference, difference), 1.0 if difference == 0 else 0.0
    ra, rb = a / se2, b / se2  # the shares of the variance: no overflow at large values
    df = 1.0 / (ra * ra / (n1 - 1) + rb * rb / (n2 - 1))
    from scipy.stats import t  # here, not at import: scipy.stats takes 0.5 s

    half = float(t.ppf(0.5 + confidence / 2, df)) * math.sqrt(se2)
    p_value = float(2 * t.sf(abs(difference) / math.sqrt(se2), df))
    return (difference - half, difference + half), min(p_value, 1.0)


def ks_test(group: np.ndarray, reference: np.ndarray) -> float:
    """Return the two-sided two-sample KS test's p-value (NaN if a sample is empty)."""
    if len(group) == 0 or len(reference) == 0:
        return math.nan
    from scipy.stats import ks_2samp  # here, not at import: scipy.stats takes 0.5 s

    method = "exact" if len(group) * len(reference) <= KS_EXACT_LIMIT else "asymp"
    with warnings.catch_warnings():
        # When the exact computation fails numerically scipy says so and falls back to the
        # asymptotic distribution, which is what we want; the warning is not the user's.
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(ks_2samp(group, reference, method=method).pvalue)
