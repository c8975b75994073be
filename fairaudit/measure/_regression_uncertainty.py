"""Intervals and tests of a regression model's group metrics and disparities.

The methods are ``fairaudit.stats``' (``mean_interval``, ``skew_interval``,
``rmse_interval``, ``welch_difference``, ``ks_test``, ``holm_adjust``, MOVER-D and
MOVER-R); this module feeds them each group's size, means, sample variances and third
central moments, taken from the exact sums, and assembles one ``DisparityUncertainty``
per tested disparity, as the binary audit's ``compute_uncertainty`` does. Per metric:

* ``mean_prediction``, ``mean_target``: t intervals; ``mean_error``: Hall's
  skewness-corrected t interval with half the sample skewness (``SKEW_WEIGHT``);
  ``mean_absolute_error``: Hall's interval with a conservative upper limit
  (``UPPER_TAIL``); differences: Welch (MOVER-D for ``mean_absolute_error``), tests:
  Welch; ratios: MOVER-R for ``mean_absolute_error`` only (the other means may be
  negative: no ratio interval);
* ``root_mean_squared_error``: Hall's interval of the MSE with a conservative upper
  limit, square-rooted; differences: MOVER-D, ratios: MOVER-R (both from the groups'
  intervals with ``COMPARISON_UPPER_TAIL``); test: Welch's test of the two mean squared
  errors (equal RMSEs are equal MSEs);
* ``r2`` and ``wasserstein_distance``: no interval and no test (not built yet);
* ``ks_statistic``: the two-sample KS test (no interval).

What holds: every interval is built from moments, so it is asymptotically exact when the
per-row quantity has a finite variance (the MSE's: a finite fourth moment of the error),
and the conservative upper limits of the MAE and the MSE keep coverage at 93% or more in
``benchmarks/regression_coverage.py``'s cells (30 to 1,000 rows; normal, Student t(3) and
exponential errors), t(3) included although its fourth moment is infinite. What does
not: no interval of a mean can hold for every distribution (Bahadur & Savage 1956): when
a sample of n rows usually misses the errors' rare huge values the upper limits fall
short (log-normal errors at 30 rows: the RMSE's interval covered 87.0%; tails heavier
than t(3), t(2.5): 92.7%); benchmarks/README.md has the figures.

A disparity is tested when both groups have ``min_group_size`` rows (and at least two)
and both values are defined. The tested ones form one Holm family of distinct hypotheses
(grouping, group, reference, metric), except ``mean_target`` (a property of the data),
tested on its own as ``base_rate`` is for binary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol

import numpy as np

from fairaudit.measure._metrics import DisparityRow, GroupTable
from fairaudit.stats import (
    DisparityUncertainty,
    Significance,
    holm_adjust,
    ks_test,
    mean_interval,
    mover_difference,
    mover_ratio,
    rmse_interval,
    skew_interval,
    welch_difference,
)
from fairaudit.vocabulary import REGRESSION_DATA_METRICS

__all__ = [
    "GroupMoments",
    "RegressionSource",
    "RegressionUncertainty",
    "group_intervals",
    "group_moments",
    "regression_uncertainty",
]

#: The metrics that are means of a per-row quantity (t intervals, Welch differences).
MEAN_METRICS = ("mean_prediction", "mean_target", "mean_error", "mean_absolute_error")
RMSE = "root_mean_squared_error"
#: Metrics that are never negative, whose ratios get MOVER-R intervals (the signed
#: mean_error and the means of an arbitrary-signed target do not).
RATIO_METRICS = ("mean_absolute_error", RMSE)

#: Means whose interval is Hall's skewness-corrected t interval, with the weight of the
#: sample skewness: all of it for the right-skewed absolute errors; half for the signed
#: error, whose skewness is noisy when its tails are heavy and symmetric (on Student t(3)
#: errors at 30 rows the full correction covered 92.4%, half 94.3%, none 95.6%; on
#: exponential errors 95.2%, 94.0% and 93.0%: a scratch study of 6,000 samples).
#: The others (predictions, targets) get the plain t interval.
SKEW_WEIGHT = {"mean_error": 0.5, "mean_absolute_error": 1.0}
#: The quantity behind the RMSE: the squared error, whose mean is the MSE.
SQUARED_ERROR = "squared_error"
#: The share of ``1 - confidence`` that the upper limit may miss, for the means of the
#: non-negative, right-skewed absolute and squared errors (the lower limit keeps half):
#: 0.5% for the MAE and 0.1% for the MSE at 95%, so their intervals are nominally 97% and
#: 97.4%. With a long right tail the sample misses the large errors more often than not,
#: and then the mean, the variance and the skewness are all too small together, so the
#: upper limit falls short (Hall's 95% interval of the MSE covered 85% with Student t(3)
#: errors at every size, 91.5% with exponential errors at 30 rows; Hall's MAE 91.8%).
#: The shares are calibrated by ``benchmarks/regression_coverage.py``; not a theorem.
UPPER_TAIL = {"mean_absolute_error": 0.1, SQUARED_ERROR: 0.02}
#: The MSE's share in the intervals that MOVER-D and MOVER-R combine into a difference
#: or a ratio (each limit of those spends one group's upper limit; with 0.02 the RMSE
#: difference covered 99% with normal errors, with 0.1 98%, and 94.8-97.0% with t(3)
#: errors, 90.1-92.8% with Hall's symmetric interval: a scratch study); the
#: MAE's share there is its UPPER_TAIL, 0.1 as well (Welch's interval of the MAE
#: difference covered 92.6-92.8% with exponential errors at 30 rows, MOVER-D 96.2%).
COMPARISON_UPPER_TAIL = 0.1

METHOD = {
    "mean_prediction, mean_target": (
        "Student t interval; Welch t difference and test vs the reference"
    ),
    "mean_error": (
        "Hall's skewness-corrected t interval (half the sample skewness); "
        "Welch t difference and test vs the reference"
    ),
    "mean_absolute_error": (
        "Hall's skewness-corrected t interval, upper limit at 0.1 alpha; "
        "MOVER difference; Welch t test vs the reference"
    ),
    RMSE: (
        "Hall's skewness-corrected t interval of the mean squared error, upper limit at "
        "0.02 alpha, square-rooted; MOVER difference (upper limits at 0.1 alpha); "
        "Welch t test of the mean squared errors"
    ),
    "ratios": "MOVER-R from the two groups' intervals (mean_absolute_error and RMSE only)",
    "ks_statistic": "two-sample Kolmogorov-Smirnov test (scipy.stats.ks_2samp)",
    "not_tested": ["r2", "wasserstein_distance"],
    "correction": "holm",
}


class RegressionSource(Protocol):
    """What the intervals read of a RegressionStatistics: exact sums and sorted predictions."""

    def group_sums(self, table: GroupTable) -> dict[str, list[Fraction]]: ...
    def overall_sums(self) -> tuple[int, dict[str, list[Fraction]]]: ...
    def predictions(self, table: GroupTable) -> list[np.ndarray]: ...


@dataclass(frozen=True)
class GroupMoments:
    """Per group: its size and, for each mean metric and ``squared_error``, the mean,
    sample variance and third central moment of the per-row quantity (NaN where
    undefined; no third moment for ``mean_prediction`` and ``mean_target``)."""

    n: np.ndarray
    mean: dict[str, np.ndarray]
    variance: dict[str, np.ndarray]
    third: dict[str, np.ndarray]


def _moments(s1: Fraction, s2: Fraction, s3: Fraction | None, n: int) -> tuple[float, ...]:
    """Return (mean, sample variance, third central moment) from power sums of n rows."""
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = s1 / n
    # s2 and s3 may be sums of per-row rounded powers: clip a hair below 0 to 0.
    variance = float(max((s2 - s1 * mean) / (n - 1), Fraction(0))) if n >= 2 else math.nan
    third = math.nan
    if s3 is not None:
        third = float((s3 - 3 * mean * s2 + 3 * mean * mean * s1) / n - mean**3)
    return float(mean), variance, third


PowerSums = tuple[Fraction, Fraction, Fraction | None]


def _power_sums(sums: dict[str, list[Fraction]], g: int) -> dict[str, PowerSums]:
    """Return each quantity's (Σx, Σx², Σx³ or None) of group ``g``."""
    p, y = sums["prediction"][g], sums["target"][g]
    sse = sums["prediction_squared"][g] - 2 * sums["cross"][g] + sums["target_squared"][g]
    fourth = Fraction(sums["error_fourth"][g])
    return {
        "mean_prediction": (p, sums["prediction_squared"][g], None),
        "mean_target": (y, sums["target_squared"][g], None),
        "mean_error": (p - y, sse, Fraction(sums["error_cubed"][g])),
        "mean_absolute_error": (
            sums["absolute_error"][g],
            sse,
            Fraction(sums["absolute_error_cubed"][g]),
        ),
        SQUARED_ERROR: (sse, fourth, Fraction(sums["error_sixth"][g])),
    }


def group_moments(sizes: Sequence[int], sums: dict[str, list[Fraction]]) -> GroupMoments:
    """Return the GroupMoments of groups from their sizes and exact sums."""
    names = (*MEAN_METRICS, SQUARED_ERROR)
    columns: dict[str, list[tuple[float, ...]]] = {name: [] for name in names}
    for g, n in enumerate(int(size) for size in sizes):
        for name, power in _power_sums(sums, g).items():
            columns[name].append(_moments(*power, n))
    arrays = {
        name: np.array(rows, dtype=np.float64).reshape(-1, 3) for name, rows in columns.items()
    }
    return GroupMoments(
        n=np.asarray(sizes, dtype=np.int64),
        mean={name: a[:, 0] for name, a in arrays.items()},
        variance={name: a[:, 1] for name, a in arrays.items()},
        third={name: a[:, 2] for name, a in arrays.items()},
    )


def group_intervals(
    moments: GroupMoments, confidence: float, mse_upper_tail: float = UPPER_TAIL[SQUARED_ERROR]
) -> dict[str, np.ndarray]:
    """Return ``{metric: (m, 2) intervals}`` for the mean metrics and the RMSE (the MSE's
    upper limit missing with probability ``mse_upper_tail · (1 - confidence)``)."""
    out = {}
    n, mean, variance, third = moments.n, moments.mean, moments.variance, moments.third
    alpha = 1 - confidence
    for metric in MEAN_METRICS:
        if metric in SKEW_WEIGHT:
            tail = UPPER_TAIL.get(metric)
            out[metric] = skew_interval(
                mean[metric], variance[metric], SKEW_WEIGHT[metric] * third[metric], n,
                confidence, upper_tail=None if tail is None else tail * alpha,
            )  # fmt: skip
        else:
            out[metric] = mean_interval(mean[metric], variance[metric], n, confidence)
    sq = SQUARED_ERROR
    upper = mse_upper_tail * alpha
    out[RMSE] = rmse_interval(mean[sq], variance[sq], third[sq], n, confidence, upper)
    return out


@dataclass
class RegressionUncertainty:
    """Intervals and tests of one regression audit (NaN marks an undefined number).

    ``group_ci``: ``{grouping: {metric: (m, 2)}}``; ``overall_ci``: ``{metric: (low,
    high)}``; ``disparities``: one entry per given disparity row, None when its metric
    has no test (r2, wasserstein_distance); ``method``: how, with the family's size.
    """

    method: dict[str, Any]
    overall_ci: dict[str, tuple[float, float]]
    group_ci: dict[str, dict[str, np.ndarray]]
    disparities: list[DisparityUncertainty | None]


def _difference_test(
    metric: str,
    moments: GroupMoments,
    intervals: dict[str, np.ndarray],
    i: int,
    r: int,
    confidence: float,
) -> tuple[tuple[float, float], float]:
    """Return the interval of group ``i`` minus reference ``r`` and the test's p-value."""
    n = moments.n
    tested = SQUARED_ERROR if metric == RMSE else metric
    m, v = moments.mean[tested], moments.variance[tested]
    welch = welch_difference(m[i], v[i], int(n[i]), m[r], v[r], int(n[r]), confidence)
    if metric not in RATIO_METRICS:
        return welch
    # The MAE and the RMSE: Welch's test of the mean absolute or squared errors (equal
    # RMSEs are equal MSEs); the interval is MOVER-D of the groups' intervals, whose
    # conservative upper limits carry the right skew that Welch's interval misses.
    values = np.sqrt(m[[i, r]]) if metric == RMSE else m[[i, r]]
    lim = intervals[metric]
    low, high = mover_difference(values[[0]], lim[[i]], values[[1]], lim[[r]])[0]
    return (float(low), float(high)), welch[1]


def _row_test(
    row: DisparityRow,
    i: int,
    table: GroupTable,
    moments: GroupMoments,
    intervals: dict[str, np.ndarray],
    samples: list[np.ndarray] | None,
    confidence: float,
) -> tuple[tuple[float, float], tuple[float, float], float] | None:
    """Return (difference interval, ratio interval, p-value) of one row (its group: ``i``
    of ``table``), None if untested."""
    r = table.reference
    nan2 = (math.nan, math.nan)
    if row.metric == "ks_statistic":
        assert samples is not None
        return nan2, nan2, ks_test(samples[i], samples[r])
    if row.metric not in intervals:
        return None
    (low, high), p_value = _difference_test(row.metric, moments, intervals, i, r, confidence)
    ratio = nan2
    if row.metric in RATIO_METRICS:
        lim = intervals[row.metric]
        values = table.values[row.metric]
        pair = mover_ratio(values[[i]], lim[[i]], values[[r]], lim[[r]])[0]
        ratio = (float(pair[0]), float(pair[1]))
    return (float(low), float(high)), ratio, float(p_value)


def regression_uncertainty(
    statistics: RegressionSource,
    tables: Sequence[GroupTable],
    disparity_rows: Sequence[DisparityRow],
    *,
    confidence: float,
    min_group_size: int,
) -> RegressionUncertainty:
    """Return the intervals of every group metric and the tests of every disparity row."""
    by_name = {t.name: t for t in tables}
    # Where each group is in its table (a list search per row cost 6.5 s for 41,000 rows).
    position = {
        (t.name, tuple(sorted(g.items()))): i for t in tables for i, g in enumerate(t.groups)
    }
    moments = {t.name: group_moments(t.sizes.tolist(), statistics.group_sums(t)) for t in tables}
    group_ci = {name: group_intervals(m, confidence) for name, m in moments.items()}
    compared = {
        name: group_intervals(m, confidence, COMPARISON_UPPER_TAIL) for name, m in moments.items()
    }
    wants_ks = any(row.metric == "ks_statistic" for row in disparity_rows)
    samples = {t.name: statistics.predictions(t) for t in tables} if wants_ks else {}
    tests, p_value = [], np.full(len(disparity_rows), np.nan)
    tested = np.zeros(len(disparity_rows), dtype=bool)
    for j, row in enumerate(disparity_rows):
        table = by_name[row.feature]
        i = position[row.feature, tuple(sorted(row.group.items()))]
        result = _row_test(
            row, i, table, moments[row.feature], compared[row.feature],
            samples.get(row.feature), confidence,
        )  # fmt: skip
        tests.append(result)
        if result is not None:
            sizes = table.sizes[[i, table.reference]]
            p_value[j] = result[2]
            tested[j] = bool(sizes.min() >= max(min_group_size, 2)) and not math.isnan(result[2])
    adjusted = _adjust(disparity_rows, p_value, tested)
    out: list[DisparityUncertainty | None] = []
    for j, result in enumerate(tests):
        if result is None:
            out.append(None)
            continue
        verdict: Significance = "insufficient data"
        if tested[j]:
            verdict = "significant" if adjusted[j] < 1 - confidence else "within noise"
        out.append(
            DisparityUncertainty(
                result[0],
                result[1],
                float(p_value[j]),
                float(adjusted[j]),
                verdict,
            )
        )
    family = int(np.count_nonzero(tested & ~_data_rows(disparity_rows)))
    method = {**METHOD, "confidence": confidence, "family": {"size": family}}
    overall_ci = _overall_ci(statistics, confidence)
    return RegressionUncertainty(method, overall_ci, group_ci, out)


def _data_rows(rows: Sequence[DisparityRow]) -> np.ndarray:
    return np.array([row.metric in REGRESSION_DATA_METRICS for row in rows], dtype=bool)


def _adjust(rows: Sequence[DisparityRow], p_value: np.ndarray, tested: np.ndarray) -> np.ndarray:
    """Return Holm-adjusted p-values over the tested rows, data metrics on their own."""
    data = _data_rows(rows)
    adjusted = np.full(len(rows), np.nan)
    family = tested & ~data
    adjusted[family] = holm_adjust(p_value[family])
    adjusted[tested & data] = p_value[tested & data]
    return adjusted


def _overall_ci(statistics: RegressionSource, confidence: float) -> dict[str, tuple[float, float]]:
    """Return the intervals of the overall metrics."""
    n, sums = statistics.overall_sums()
    moments = group_moments([n], sums)
    return {
        metric: (float(pair[0, 0]), float(pair[0, 1]))
        for metric, pair in group_intervals(moments, confidence).items()
    }
