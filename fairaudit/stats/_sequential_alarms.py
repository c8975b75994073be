"""Alarm rules of a fairness monitor, and the ordinary per-window intervals.

Package-private: ``fairaudit.stats`` re-exports the public names. The intervals the rules
judge, and the guarantee they carry, are ``fairaudit.stats._sequential``'s.

:func:`ratio_alarm` fires at the first window where some span's interval for
the ratio lies wholly outside ``[bound, 1 / bound]`` (fairlearn's min / max ratio below
``bound``). :func:`drift_alarm` fires when a span's interval lies more than
``tolerance`` away from the baseline's interval: the baseline (counts, e.g. the first
windows or the pre-release audit) gets ``alpha / 2`` and the monitor ``alpha / 2``, so
both uncertainties are counted; a baseline given as a bare number is taken as exact and
the monitor gets all of ``alpha``. :func:`window_intervals` gives the ordinary
per-window Wilson / Newcombe / MOVER-R intervals (``fairaudit.stats``' own), which are
valid for one look each and alarm far too often when looked at every window.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fairaudit.stats._intervals import mover_difference, mover_ratio, wilson_interval
from fairaudit.stats._rates import safe_divide
from fairaudit.stats._sequential import (
    BAD_BASELINE,
    BAD_BOUND,
    BAD_CONFIDENCE,
    BAD_TOLERANCE,
    Boundary,
    Measure,
    PairCounts,
    Tune,
    check_alpha,
    mixture_rho,
    pair_counts,
    pair_interval,
    span_checks,
    span_columns,
)

__all__ = ["Alarm", "WindowIntervals", "drift_alarm", "ratio_alarm", "window_intervals"]


@dataclass(frozen=True)
class Alarm:
    """The first alarm of a rule: where it fired and on what evidence.

    ``window`` is the 0-based window at which it fires, ``start`` the first window of the
    span whose interval ``(low, high)`` crossed ``bound`` (the policy bound, or for drift
    the baseline interval's edge moved by the tolerance), ``estimate`` the span's point
    value (ratio or difference of the pooled rates), ``rule`` the rule's name.
    """

    rule: str
    window: int
    start: int
    estimate: float
    low: float
    high: float
    bound: float


def _first_alarm(
    counts: PairCounts,
    options: tuple[float, str, int | None, int | None, Tune | None, Boundary],
    rule: str,
    bounds: tuple[float, float],
) -> Alarm | None:
    """Return the first window where some span lies below ``bounds[0]`` or above ``[1]``.

    ``options`` = (alpha, measure, max_span, horizon, tune, boundary) of the spans. The span
    reported is the one furthest beyond its bound; spans are scanned column by column, so
    memory stays proportional to the number of windows.
    """
    alpha, measure, max_span, horizon, tune, boundary = options
    checked = span_checks(counts, alpha, measure, max_span, horizon, tune)
    windows = len(checked[0])
    spans = windows if max_span is None else min(max_span, windows)
    below, above = bounds
    best, best_j = np.full(windows, -np.inf), np.zeros(windows, dtype=np.int64)
    best_interval = np.full((windows, 2), np.nan)
    for j, column in span_columns(checked, alpha, measure, spans, horizon, boundary):
        with np.errstate(invalid="ignore"):
            margin = np.fmax(below - column[:, 1], column[:, 0] - above)  # > 0: fired
            better = np.flatnonzero(margin > best[j:])
        best[better + j], best_j[better + j] = margin[better], j
        best_interval[better + j] = column[better]
    fired = np.flatnonzero(best > 0)
    if len(fired) == 0:
        return None
    t = int(fired[0])
    j, (low, high) = int(best_j[t]), best_interval[t]
    x1, n1, x2, n2 = (float(a[t - j : t + 1].sum()) for a in checked[:4])
    p1, p2 = x1 / n1, x2 / n2  # both groups have rows: an empty one never fires
    estimate = p1 - p2 if measure == "difference" else (p1 / p2 if p2 > 0 else math.inf)
    side = below if high < below else above
    return Alarm(rule, t, t - j, estimate, float(low), float(high), float(side))


def ratio_alarm(
    counts: PairCounts,
    *,
    bound: float = 0.8,
    alpha: float = 0.05,
    max_span: int | None = None,
    horizon: int | None = None,
    tune: Tune | None = None,
    boundary: Boundary = "normal",
) -> Alarm | None:
    """Return the first alarm of the rule "min / max selection-rate ratio >= ``bound``".

    Fires at the first window where some span's interval for ``rate1 / rate2`` lies
    wholly below ``bound`` or wholly above ``1 / bound``. With probability ``>= 1 -
    alpha`` it never fires while the pooled ratio of every span stays within the bounds.
    ``tune`` and ``boundary``: see ``span_intervals``.
    """
    if not (isinstance(bound, numbers.Real) and 0.0 < bound < 1.0):
        raise ValueError(BAD_BOUND)
    options = (alpha, "ratio", max_span, horizon, tune, boundary)
    return _first_alarm(counts, options, "ratio", (bound, 1 / bound))


def drift_alarm(
    counts: PairCounts,
    *,
    baseline: Sequence[int] | float,
    tolerance: float,
    alpha: float = 0.05,
    measure: Measure = "ratio",
    max_span: int | None = None,
    horizon: int | None = None,
    tune: Tune | None = None,
    boundary: Boundary = "normal",
) -> Alarm | None:
    """Return the first alarm of the rule "``measure`` moved more than ``tolerance``".

    ``baseline`` is either the baseline's counts ``(successes1, trials1, successes2,
    trials2)`` (e.g. summed over the first windows, which the caller then leaves out of
    the monitored windows), bounded by the same ellipse at ``alpha / 2``, the monitor
    spending the other half; or a bare number taken as exact (the monitor spends all of
    ``alpha``). Fires when a span's interval lies more than ``tolerance`` below the
    baseline interval's low end or above its high end.
    """
    check_alpha(alpha)
    if not (isinstance(tolerance, numbers.Real) and math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(BAD_TOLERANCE)
    if not isinstance(baseline, numbers.Real):
        base = pair_counts([[value] for value in baseline])
        share = np.float64(alpha / 2)
        if boundary == "bernoulli":
            from fairaudit.stats._sequential_bernoulli import bernoulli_pair_interval

            interval = bernoulli_pair_interval(base, share, (base[1], base[3]), measure)
        else:
            rho = (mixture_rho(base[1], share), mixture_rho(base[3], share))
            interval = pair_interval(base, share, rho, measure)
        base_low, base_high = interval[0]
        alpha = alpha / 2
    elif math.isfinite(baseline):
        base_low = base_high = float(baseline)
    else:
        raise ValueError(BAD_BASELINE)
    options = (alpha, measure, max_span, horizon, tune, boundary)
    bounds = (float(base_low) - tolerance, float(base_high) + tolerance)
    return _first_alarm(counts, options, f"{measure} drift", bounds)


@dataclass(frozen=True)
class WindowIntervals:
    """Ordinary per-window estimates and intervals, each valid for one look only.

    Rates with Wilson intervals, the difference with Newcombe's (MOVER) interval and the
    ratio with MOVER-R, as the audit computes them; arrays of shape ``(T,)`` and
    ``(T, 2)``; NaN where a group has no rows (or, for the ratio, no successes in group 2).
    """

    rate1: np.ndarray
    rate2: np.ndarray
    difference: np.ndarray
    ratio: np.ndarray
    rate1_ci: np.ndarray
    rate2_ci: np.ndarray
    difference_ci: np.ndarray
    ratio_ci: np.ndarray


def window_intervals(
    counts: PairCounts,
    *,
    confidence: float = 0.95,
) -> WindowIntervals:
    """Return each window's own estimates and ``confidence`` intervals (the naive view)."""
    if not (isinstance(confidence, numbers.Real) and 0.0 < confidence < 1.0):
        raise ValueError(BAD_CONFIDENCE)
    x1, n1, x2, n2 = pair_counts(counts)
    p1, p2 = safe_divide(x1, n1), safe_divide(x2, n2)
    w1, w2 = wilson_interval(x1, n1, confidence), wilson_interval(x2, n2, confidence)
    return WindowIntervals(
        rate1=p1,
        rate2=p2,
        difference=p1 - p2,
        ratio=safe_divide(p1, p2),
        rate1_ci=w1,
        rate2_ci=w2,
        difference_ci=mover_difference(p1, w1, p2, w2),
        ratio_ci=mover_ratio(p1, w1, p2, w2),
    )
