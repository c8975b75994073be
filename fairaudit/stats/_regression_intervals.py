"""Intervals and tests for a regression model's group metrics.

Package-private: ``fairaudit.stats`` re-exports the public names. Every function takes
plain per-group numbers (sizes, means, sample variances), which ``fairaudit.measure``
derives from its exact sums, so nothing here sees rows except the KS test.

Means (``mean_prediction``, ``mean_target``, ``mean_error``, ``mean_absolute_error``)
    Student's t interval ``mean ± t(n-1) · s / sqrt(n)`` with the group's sample standard
    deviation ``s`` (undefined below two rows).
Root mean squared error
    A t interval for the mean squared error on the log scale, squared back:
    ``exp(log m ± t(n-1) · s₂ / (m sqrt(n)))`` with ``m`` the mean of the squared errors
    and ``s₂`` their sample standard deviation (delta method: the standard error of
    ``log m`` is ``s₂ / (m sqrt(n))``), then the square root of both ends. Unlike the
    chi-square interval it assumes neither normal nor unbiased errors; the log keeps it
    positive and follows the right skew of squared errors.
Differences, group minus reference (groups are disjoint, hence independent)
    Means: Welch's t interval and test, with the Welch-Satterthwaite degrees of freedom.
    RMSE: Wald on the delta-method variance ``s₂² / (4 n m)`` of ``sqrt(m)``
    (``wald_difference``). Ratios: MOVER-R from the two groups' intervals.
Distributions
    ``ks_statistic``: the two-sample Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``:
    its exact distribution when ``n_g · n_r`` is at most ``KS_EXACT_LIMIT``, else the
    asymptotic one).
"""

from __future__ import annotations

import math

import numpy as np

from fairaudit.stats._rates import safe_divide

__all__ = [
    "KS_EXACT_LIMIT",
    "ks_test",
    "mean_interval",
    "rmse_interval",
    "rmse_variance",
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


def rmse_interval(
    mse: np.ndarray, variance_squared: np.ndarray, n: np.ndarray, confidence: float
) -> np.ndarray:
    """Return intervals of the RMSE: the log-scale t interval of the mean squared error
    ``mse`` (``variance_squared``: the sample variance of the squared errors), square-
    rooted; ``[0, 0]`` when every error is 0, NaN below two rows."""
    mse = np.asarray(mse, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    positive = mse > 0
    safe_mse = np.where(positive, mse, 1.0)
    se_log = np.sqrt(safe_divide(np.asarray(variance_squared, np.float64), n)) / safe_mse
    half = t_quantile(confidence, n - 1) * se_log
    low = np.where(positive, np.sqrt(safe_mse * np.exp(-half)), 0.0)
    high = np.where(positive, np.sqrt(safe_mse * np.exp(half)), 0.0)
    undefined = (n < 2) | np.isnan(mse)
    return np.stack([np.where(undefined, np.nan, low), np.where(undefined, np.nan, high)], -1)


def rmse_variance(mse: np.ndarray, variance_squared: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Return the delta-method variance of the RMSE, ``s₂² / (4 n m)`` (NaN below two rows;
    0 when every error is 0)."""
    mse = np.asarray(mse, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    variance = safe_divide(np.asarray(variance_squared, np.float64), 4 * n * mse)
    variance = np.where(mse > 0, variance, 0.0)
    return np.where((n >= 2) & ~np.isnan(mse), variance, np.nan)


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
    df = se2 * se2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
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
    return float(ks_2samp(group, reference, method=method).pvalue)
