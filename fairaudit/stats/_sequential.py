"""Anytime-valid confidence sequences for rates, and the alarm rules of a fairness monitor.

Package-private: ``fairaudit.stats`` re-exports the public names. Inputs are counts per
window (``successes``, ``trials`` of each group, one entry per window, any window sizes);
nothing here reads rows, files or state.

**The boundary.** A row's outcome lies in [0, 1], so by Hoeffding's lemma it is
sub-Gaussian with variance proxy 1/4 whatever its rate, and the sum ``S`` of
``outcome - rate`` over ``n`` rows obeys the two-sided normal-mixture boundary of
Robbins (1970), in the form of Howard, Ramdas, McAuliffe & Sekhon (2021, "Time-uniform,
nonparametric, nonasymptotic confidence sequences", Ann. Statist. 49(2)), with a centred
Gaussian mixing distribution of precision ``rho``::

    |S| < sqrt((v + rho) * log((v + rho) / (rho * alpha**2))),   v = n / 4,

simultaneously for every ``n`` with probability at least ``1 - alpha``: the mixture
``sqrt(rho / (v + rho)) * exp(S**2 / (2 (v + rho)))`` of the supermartingales
``exp(lambda S - lambda**2 v / 2)`` is a nonnegative supermartingale starting at 1, and
Ville's inequality bounds the chance it ever reaches ``1 / alpha``. Why this and not the
betting or beta-binomial sequences (Waudby-Smith & Ramdas 2023): it has a closed form in
the counts, so every window of every stream costs a few array operations; it stays valid
when the rate changes from row to row (it then covers the average rate of the rows
counted), which the beta-binomial likelihood ratio does not; and it is tight where
monitored selection rates sit (p(1 - p) = 0.25 at p = 0.5, 0.21 at p = 0.3). It is
conservative for rare rates (variance 0.05 at p = 0.05, against the proxy's 0.25); an
empirical-Bernstein or betting boundary would be sharper there. ``rho`` is tuned so the
boundary is tightest at a chosen number of rows (:func:`mixture_rho`); any fixed ``rho``
is valid.

**Two groups.** Group 1 (the watched group) and group 2 (the reference) share one
supermartingale: the product of the two groups' Gaussian mixtures, with sums ``S_g`` over
each group's rows. The true pair of rates ``(mu_1, mu_2)`` can leave the ellipse
``sum_g (p_g - mu_g)**2 / c_g**2 <= R**2`` only when that supermartingale has reached
``1 / alpha`` (``p_g`` the observed rate, ``c_g = sqrt(v_g + rho_g) / n_g``,
``R**2 = 2 log(1 / alpha) + sum_g log((v_g + rho_g) / rho_g)``). The difference
``mu_1 - mu_2`` then lies in ``p_1 - p_2 +- R sqrt(c_1**2 + c_2**2)`` and the ratio
``mu_1 / mu_2`` in the set of ``r`` with ``|p_1 - r p_2| <= R sqrt(c_1**2 + r**2 c_2**2)``
(Fieller's construction): the projections of one ellipse, so the errors of the two
groups add in quadrature, narrower than a union bound of two sequences at ``alpha / 2``
with interval arithmetic.

**Windows.** A sequence that starts at window 1 watches the rate since window 1: after
a change at week 31 of 52 it moves by a fraction of the change and alarms late or never
(``benchmarks/monitor_study.py`` measures it). So the monitor restarts a sequence at
every window ``s``, each covering the rate of the rows of windows ``s .. t`` for every
later ``t``, and gives the sequence started at the ``k``-th window the share
``alpha_k = alpha * 6 / (pi**2 k**2)`` of the error budget (these sum to ``alpha`` over
infinitely many windows). A team that fixes in advance the most windows a monitoring
period will have (``horizon``, e.g. 52 weeks) may spend ``alpha / horizon`` per start
instead: narrower intervals late in the period, and no looks beyond it. A union bound
over starts gives the guarantee:

    With probability at least 1 - alpha, at every window ever looked at, every interval
    the monitor shows covers the true rate, difference or ratio of the rows it
    summarises (the span of windows ``s .. t``), however many windows there are (up to
    the horizon, if one was declared) and whatever their sizes. So the chance that the
    monitor ever raises a false alarm, over the whole monitoring period, is at most
    alpha.

"True rate" means the average of the rows' rates (the rate the rows were drawn at);
conditional on the trial counts, which rows fall in which window and group. An alarm
says "over windows ``s .. t`` the ratio of the pooled rates is below the bound": with
stable group shares that is a row-weighted average of the windows' own ratios. Several
groups watched at once need their own split of ``alpha`` (e.g. ``alpha / m`` each).

The alarm rules built on these intervals, and the ordinary per-window intervals they are
compared with, are in ``fairaudit.stats._sequential_alarms``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import numpy as np

from fairaudit.stats._rates import safe_divide

__all__ = [
    "mixture_radius",
    "mixture_rho",
    "pair_sequence",
    "rate_sequence",
    "span_intervals",
    "spending",
]

#: Hoeffding's lemma: an outcome in [0, 1] is sub-Gaussian with variance proxy 1/4.
VARIANCE_PROXY = 0.25

BAD_ALPHA = "alpha must lie strictly between 0 and 1"
BAD_BASELINE = "a fixed baseline must be a finite number"
BAD_BOUND = "bound must lie strictly between 0 and 1"
BAD_CONFIDENCE = "confidence must lie strictly between 0 and 1"
BAD_COUNTS = "counts must be finite whole numbers with 0 <= successes <= trials"
BAD_MEASURE = "measure must be 'ratio' or 'difference'"
BAD_RHO = "rho must be a finite number > 0"
BAD_LENGTHS = "successes and trials of both groups need one entry per window, equally many"
BAD_SPAN = "max_span must be a positive whole number"
BAD_HORIZON = "horizon must be a positive whole number"
SPENT_HORIZON = (
    "more windows than the declared horizon: its error budget is spent; "
    "start a new monitoring period"
)
BAD_TOLERANCE = "tolerance must be a finite number >= 0"
BAD_TUNE = "tune needs two arrays of finite trials >= 0, one entry per window"
BAD_BOUNDARY = "boundary must be 'normal' or 'bernoulli'"

Measure = Literal["ratio", "difference"]
Boundary = Literal["normal", "bernoulli"]
BOUNDARIES = ("normal", "bernoulli")
#: Two groups' counts per window: ``(successes1, trials1, successes2, trials2)``, four
#: equally long 1-D sequences (or a ``(4, T)`` array); group 1 is the watched group.
PairCounts = Sequence[np.ndarray | Sequence[float]] | np.ndarray
#: The trials ``rho`` is tuned to, per window: ``(watched, reference)``.
Tune = Sequence[np.ndarray | Sequence[float]]


def spending(k: np.ndarray | int, alpha: float, horizon: int | None = None) -> np.ndarray:
    """Return the error share of the sequence started at the ``k``-th window (k >= 1).

    ``alpha * 6 / (pi**2 k**2)``: the shares sum to ``alpha`` over k = 1, 2, ... (Basel:
    sum 1 / k**2 = pi**2 / 6), so looks may go on for ever. With a ``horizon`` declared
    in advance, ``alpha / horizon`` each for k <= horizon (and nothing after).
    """
    k = np.asarray(k, dtype=np.float64)
    if horizon is not None:
        return np.where(k <= horizon, alpha / horizon, 0.0)
    return alpha * 6.0 / (math.pi**2 * k * k)


def mixture_rho(trials: np.ndarray | float, alpha: np.ndarray | float) -> np.ndarray:
    """Return the ``rho`` that makes the boundary tightest at ``trials`` rows.

    Minimising ``(v + rho) (2L + log((v + rho) / rho))`` over ``rho`` (``L = log(1 /
    alpha)``, ``v = trials / 4``) gives ``y = 1 + 2L + log y`` for ``y = (v + rho) /
    rho``, solved here by fixed-point iteration (a contraction for ``y > 1``).
    """
    v = VARIANCE_PROXY * np.maximum(np.asarray(trials, dtype=np.float64), 1.0)
    twice_l = 2.0 * np.log(1.0 / np.asarray(alpha, dtype=np.float64))
    y = 1.0 + twice_l
    for _ in range(60):
        y = 1.0 + twice_l + np.log(y)
    return v / (y - 1.0)


def mixture_radius(
    trials: np.ndarray | float, alpha: np.ndarray | float, rho: np.ndarray | float
) -> np.ndarray:
    """Return the boundary on ``|sum of (outcome - rate)|`` after ``trials`` rows.

    ``sqrt((v + rho) log((v + rho) / (rho alpha**2)))`` with ``v = trials / 4``: crossed
    at any time with probability at most ``alpha``.
    """
    v = VARIANCE_PROXY * np.asarray(trials, dtype=np.float64)
    rho = np.asarray(rho, dtype=np.float64)
    return np.sqrt((v + rho) * np.log((v + rho) / (rho * np.asarray(alpha) ** 2)))


def _counts(*arrays: np.ndarray | list) -> list[np.ndarray]:
    """Return the count arrays as float64, after checking shapes and values."""
    try:
        out = [np.asarray(a, dtype=np.float64) for a in arrays]
    except (TypeError, ValueError):
        raise ValueError(BAD_COUNTS) from None
    if any(a.ndim != 1 for a in out) or len({a.shape for a in out}) != 1:
        raise ValueError(BAD_LENGTHS)
    for successes, trials in zip(out[::2], out[1::2], strict=True):
        if not (
            np.all(np.isfinite(trials))
            and np.all(np.isfinite(successes))
            and np.all(successes == np.round(successes))
            and np.all(trials == np.round(trials))
            and np.all(successes >= 0)
            and np.all(successes <= trials)
        ):
            raise ValueError(BAD_COUNTS)
    return out


def pair_counts(counts: PairCounts) -> list[np.ndarray]:
    """Return the four count arrays of two groups, checked (see :func:`_counts`)."""
    if len(counts) != 4:
        raise ValueError(BAD_LENGTHS)
    return _counts(*counts)


def _first_rho(trials: np.ndarray, alpha: float) -> float:
    """Return ``rho`` tuned to the first non-empty window's trials (1 row if none)."""
    return float(mixture_rho(trials[trials > 0][0] if np.any(trials > 0) else 1.0, alpha))


def check_alpha(alpha: float) -> None:
    """Raise ``ValueError(BAD_ALPHA)`` unless ``0 < alpha < 1``."""
    if not (isinstance(alpha, numbers.Real) and 0.0 < alpha < 1.0):
        raise ValueError(BAD_ALPHA)


def _check_options(measure: str, rho: Sequence[float] | float | None = None) -> None:
    """Raise the one-line errors of a bad ``measure`` or ``rho``."""
    if measure not in ("ratio", "difference"):
        raise ValueError(BAD_MEASURE)
    values: list[Any] = (
        [] if rho is None else [rho] if isinstance(rho, numbers.Real) else list(rho)  # type: ignore[arg-type]
    )
    if not all(isinstance(v, numbers.Real) and 0 < float(v) < math.inf for v in values):
        raise ValueError(BAD_RHO)


def rate_sequence(
    successes: np.ndarray | list,
    trials: np.ndarray | list,
    *,
    alpha: float = 0.05,
    rho: float | None = None,
) -> np.ndarray:
    """Return the confidence sequence for the rate since window 1, shape ``(T, 2)``.

    Row ``t`` bounds the average rate of all rows of windows ``1 .. t``; all rows hold at
    once with probability ``>= 1 - alpha``. ``[0, 1]`` while no row has been counted.
    ``rho`` defaults to the value tuned to the first window's trials.
    """
    check_alpha(alpha)
    _check_options("ratio", rho)
    x, n = _counts(successes, trials)
    if rho is None:
        rho = _first_rho(n, alpha)
    cx, cn = np.cumsum(x), np.cumsum(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(cn > 0, cx / np.where(cn > 0, cn, 1.0), 0.5)
        half = np.where(cn > 0, mixture_radius(cn, alpha, rho) / np.where(cn > 0, cn, 1.0), 1)
    return np.stack([np.clip(rate - half, 0, 1), np.clip(rate + half, 0, 1)], axis=-1)


def pair_interval(
    counts: list[np.ndarray],
    alpha: np.ndarray | np.floating,
    rho: tuple[np.ndarray, np.ndarray] | tuple[np.floating, np.floating],
    measure: str,
) -> np.ndarray:
    """Return the ellipse's interval for ``measure`` of two groups' counts, ``(..., 2)``.

    Difference: ``p1 - p2 +- R sqrt(c1**2 + c2**2)``, clipped to [-1, 1]. Ratio: the
    roots of ``(p1 - r p2)**2 = R**2 (c1**2 + r**2 c2**2)`` (low end clipped at 0); the
    high end is ``inf`` while the reference's rate is not bounded away from 0, and the
    interval is ``[0, inf]`` when a group has no rows.
    """
    x1, n1, x2, n2 = counts
    empty = (n1 <= 0) | (n2 <= 0)
    n1s, n2s = np.where(empty, 1.0, n1), np.where(empty, 1.0, n2)
    p1, p2 = x1 / n1s, x2 / n2s
    v1, v2 = VARIANCE_PROXY * n1s, VARIANCE_PROXY * n2s
    r2 = 2 * np.log(1 / alpha) + np.log((v1 + rho[0]) / rho[0]) + np.log((v2 + rho[1]) / rho[1])
    c1sq, c2sq = (v1 + rho[0]) / n1s**2, (v2 + rho[1]) / n2s**2
    if measure == "difference":
        half = np.sqrt(r2 * (c1sq + c2sq))
        low, high = np.clip(p1 - p2 - half, -1, 1), np.clip(p1 - p2 + half, -1, 1)
        return np.stack([np.where(empty, -1.0, low), np.where(empty, 1.0, high)], axis=-1)
    a, b, c = p2 * p2 - r2 * c2sq, p1 * p2, p1 * p1 - r2 * c1sq
    root = np.sqrt(np.maximum(b * b - a * c, 0.0))
    # The smaller non-negative root as c / (b + root): the same root as (b - root) / a,
    # stable when a is near 0, and still the set's low end when a <= 0 (then the set is
    # [low, inf): the reference's rate may be 0, so the ratio has no upper bound).
    low = np.where(c > 0, safe_divide(c, b + root), 0.0)
    high = np.where(a > 0, safe_divide(b + root, np.where(a > 0, a, 1.0)), np.inf)
    return np.stack([np.where(empty, 0.0, low), np.where(empty, np.inf, high)], axis=-1)


def pair_sequence(
    counts: PairCounts,
    *,
    measure: Measure = "ratio",
    alpha: float = 0.05,
    rho: tuple[float, float] | None = None,
) -> np.ndarray:
    """Return the confidence sequence for ``rate1 / rate2`` (or ``-``) since window 1.

    Shape ``(T, 2)``; row ``t`` bounds the ratio (``measure="ratio"``) or difference of
    the two groups' average rates over windows ``1 .. t``, all rows at once with
    probability ``>= 1 - alpha``. ``rho`` defaults to values tuned to each group's first
    non-empty window.
    """
    check_alpha(alpha)
    _check_options(measure, rho)
    x1, n1, x2, n2 = pair_counts(counts)
    if rho is None:
        rho = (_first_rho(n1, alpha), _first_rho(n2, alpha))
    cumulative = [np.cumsum(a) for a in (x1, n1, x2, n2)]
    pair_rho = (np.float64(rho[0]), np.float64(rho[1]))
    return pair_interval(cumulative, np.float64(alpha), pair_rho, measure)


def span_checks(
    counts: PairCounts,
    alpha: float,
    measure: str,
    max_span: int | None,
    horizon: int | None,
    tune: Tune | None = None,
) -> list[np.ndarray]:
    """Return the checked count arrays, then the two arrays ``rho`` is tuned to (``tune``,
    or each window's trials); raise the one-line errors of the span options."""
    check_alpha(alpha)
    _check_options(measure)
    checked = pair_counts(counts)
    if tune is None:
        checked += [checked[1], checked[3]]
    else:
        try:
            tuned = [np.asarray(a, dtype=np.float64) for a in tune]
        except (TypeError, ValueError):
            raise ValueError(BAD_TUNE) from None
        shapes_ok = len(tuned) == 2 and all(a.shape == checked[0].shape for a in tuned)
        if not shapes_ok or not all(np.all(np.isfinite(a) & (a >= 0)) for a in tuned):
            raise ValueError(BAD_TUNE)
        checked += tuned
    if max_span is not None and not (isinstance(max_span, int) and max_span >= 1):
        raise ValueError(BAD_SPAN)
    if horizon is not None and not (isinstance(horizon, int) and horizon >= 1):
        raise ValueError(BAD_HORIZON)
    if horizon is not None and len(checked[0]) > horizon:
        raise ValueError(SPENT_HORIZON)
    return checked


def span_columns(
    counts: list[np.ndarray],
    alpha: float,
    measure: str,
    spans: int,
    horizon: int | None,
    boundary: Boundary = "normal",
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(j, intervals)``: the spans of ``j + 1`` windows ending at windows ``j ..``.

    ``boundary="bernoulli"``: each group's Chernoff-mixture interval at half the share,
    combined by interval arithmetic (``_sequential_bernoulli``), tuned to the same trials.
    """
    windows = len(counts[0])
    sums = [np.concatenate([[0.0], np.cumsum(a)]) for a in counts[:4]]
    starts = np.arange(windows)
    shares = spending(starts + 1, alpha, horizon)
    # Tuned to two windows of window s's size: a step change the size of the issue's
    # (ratio 1.0 -> 0.7, 5,000 rows a week) is mostly caught on a span of 2-3 windows.
    # counts[4:] are the trials to tune to (span_checks): each window's, or ones fixed at
    # the first look at the window, when a window grows between looks.
    rho = (mixture_rho(2 * counts[4], shares), mixture_rho(2 * counts[5], shares))
    if boundary not in BOUNDARIES:
        raise ValueError(BAD_BOUNDARY)
    if boundary == "bernoulli":  # every span in one batch: the bisection is the cost
        from fairaudit.stats._sequential_bernoulli import bernoulli_pair_interval

        j_all = np.concatenate([np.full(windows - j, j) for j in range(spans)])
        s_all = np.concatenate([starts[: windows - j] for j in range(spans)])
        spanned = [total[s_all + j_all + 1] - total[s_all] for total in sums]
        tune = (2 * counts[4][s_all], 2 * counts[5][s_all])
        every = bernoulli_pair_interval(spanned, shares[s_all], tune, measure)
        for j in range(spans):
            yield j, every[j_all == j]
        return
    for j in range(spans):
        s = starts[: windows - j]
        spanned = [total[s + j + 1] - total[s] for total in sums]
        yield j, pair_interval(spanned, shares[s], (rho[0][s], rho[1][s]), measure)


def span_intervals(
    counts: PairCounts,
    *,
    alpha: float = 0.05,
    measure: Measure = "ratio",
    max_span: int | None = None,
    horizon: int | None = None,
    tune: Tune | None = None,
    boundary: Boundary = "normal",
) -> np.ndarray:
    """Return the monitor's intervals of every span of windows, shape ``(T, S, 2)``.

    Entry ``[t, j]`` bounds ``measure`` over the rows of windows ``t - j .. t`` (0-based),
    from the sequence started at window ``s = t - j`` with error share
    ``spending(s + 1, alpha, horizon)`` and ``rho`` tuned to twice window ``s``'s trials;
    NaN where the span would start before window 0 or is longer than ``max_span``
    (``S``). Column 0 is each window on its own. All entries hold at once with
    probability ``>= 1 - alpha``. A ``horizon`` (the most windows this monitoring period
    will ever have, fixed before the first look) buys narrower intervals; a stream longer
    than it is refused. The array holds ``T * S * 2`` floats: pass ``max_span`` for long
    histories (the alarm rules scan spans without keeping them).

    ``tune`` (two arrays: the watched and the reference group's trials per window) replaces
    the trials ``rho`` is tuned to. A window that grows between looks (a weekly window fed
    by daily files) must keep one ``rho`` for all its looks, or each look would be another
    sequence the error budget does not cover: pass the trials of its first look.
    ``boundary``: ``"normal"`` (the normal mixture, above) or ``"bernoulli"`` (narrower for
    rates far from 0.5; ``_sequential_bernoulli``); choose it before the first look.
    """
    checked = span_checks(counts, alpha, measure, max_span, horizon, tune)
    windows = len(checked[0])
    spans = windows if max_span is None else min(max_span, windows)
    out = np.full((windows, spans, 2), np.nan)
    for j, column in span_columns(checked, alpha, measure, spans, horizon, boundary):
        out[j:, j] = column
    return out
