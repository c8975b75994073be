"""Anytime-valid confidence sequences and the monitor's alarm rules (fairaudit.stats).

The formulas are checked against computations written out here (the Gaussian mixture
integrated numerically, the ellipse's projections found by sweeping its boundary, the
spending series summed); validity by simulated streams with fixed seeds (200 streams x 52
windows: the share with any miss or false alarm stays below alpha plus three Monte Carlo
standard errors); power on the issue's step scenario (ratio 1.0 -> 0.7 in week 31 of 52,
5,000 rows a week, 60/40 split).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fairaudit.stats import _sequential as seq
from fairaudit.stats import (
    drift_alarm,
    mixture_radius,
    mixture_rho,
    mover_ratio_interval,
    newcombe_interval,
    pair_sequence,
    rate_sequence,
    ratio_alarm,
    span_intervals,
    spending,
    wilson_interval,
    window_intervals,
)

ALPHA, WEEKS, STREAMS = 0.05, 52, 200
MARGIN = 3 * math.sqrt(ALPHA * (1 - ALPHA) / STREAMS)  # three Monte Carlo standard errors


def weekly(rng: np.random.Generator, ratio: np.ndarray | float, n1: int = 2000, n2: int = 3000):
    """Return one stream's counts: watched group at 0.5 * ratio, reference at 0.5."""
    rate1 = np.broadcast_to(0.5 * np.asarray(ratio, dtype=float), (WEEKS,))
    return (
        rng.binomial(n1, rate1),
        np.full(WEEKS, n1),
        rng.binomial(n2, 0.5, WEEKS),
        np.full(WEEKS, n2),
    )


# --- formulas against independent computations -------------------------------------------


def test_spending_sums_to_alpha_over_unlimited_looks() -> None:
    shares = spending(np.arange(1, 2_000_001), ALPHA)
    tail = ALPHA * 6 / math.pi**2 / 2_000_000  # sum over k > K of 1/k^2 is below 1/K
    assert shares.sum() <= ALPHA
    assert shares.sum() + tail >= ALPHA * (1 - 1e-12)
    assert spending(1, ALPHA) == pytest.approx(ALPHA * 6 / math.pi**2)


@pytest.mark.parametrize(("trials", "rho"), [(10, 3.0), (2000, 70.0), (10**6, 10.0)])
def test_radius_is_where_the_gaussian_mixture_reaches_one_over_alpha(trials, rho) -> None:
    """Integrate exp(l S - l^2 v / 2) against N(0, 1/rho) numerically at S = radius."""
    v = trials / 4
    s = float(mixture_radius(trials, ALPHA, rho))
    sd = 1 / math.sqrt(rho)
    grid = np.linspace(-12 * sd, 12 * sd, 400_001) + s / (v + rho)  # centred on the peak
    log_integrand = grid * s - grid**2 * v / 2 - grid**2 * rho / 2
    peak = log_integrand.max()
    integral = (
        np.exp(log_integrand - peak).sum() * (grid[1] - grid[0]) / (sd * math.sqrt(2 * math.pi))
    )
    assert math.log(integral) + peak == pytest.approx(math.log(1 / ALPHA), abs=1e-6)


def test_rho_minimises_the_radius_at_its_design_size() -> None:
    for trials, alpha in [(100, 0.05), (5000, 1e-5), (40, 0.2)]:
        best = float(mixture_rho(trials, alpha))
        grid = best * np.exp(np.linspace(-2, 2, 2001))
        radii = mixture_radius(trials, alpha, grid)
        assert float(mixture_radius(trials, alpha, best)) <= radii.min() * (1 + 1e-9)


def test_rate_sequence_is_the_closed_form_on_cumulative_counts() -> None:
    x, n = np.array([30, 0, 55]), np.array([100, 0, 100])
    rho = 9.0
    got = rate_sequence(x, n, alpha=ALPHA, rho=rho)
    for t, (cx, cn) in enumerate([(30, 100), (30, 100), (85, 200)]):
        half = math.sqrt((cn / 4 + rho) * math.log((cn / 4 + rho) / (rho * ALPHA**2))) / cn
        assert got[t] == pytest.approx([cx / cn - half, cx / cn + half])


def ellipse_extremes(p1, n1, p2, n2, alpha, rho1, rho2, positive=False):
    """Return (min, max) of mu1 - mu2 and of mu1 / mu2 over the ellipse's boundary.

    With ``positive``, only the ratio's extremes over the part where mu2 > 0.
    """
    v1, v2 = n1 / 4, n2 / 4
    r = math.sqrt(
        2 * math.log(1 / alpha) + math.log((v1 + rho1) / rho1) + math.log((v2 + rho2) / rho2)
    )
    theta = np.linspace(0, 2 * math.pi, 2_000_001)
    mu1 = p1 + r * math.sqrt(v1 + rho1) / n1 * np.cos(theta)
    mu2 = p2 + r * math.sqrt(v2 + rho2) / n2 * np.sin(theta)
    if positive:
        ratio = (mu1 / mu2)[mu2 > 0]
        return ratio.min(), ratio.max()
    return (mu1 - mu2).min(), (mu1 - mu2).max(), (mu1 / mu2).min(), (mu1 / mu2).max()


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"), [(700, 2000, 1500, 3000), (40, 90, 70, 110), (60, 100, 3, 40)]
)
def test_difference_and_ratio_are_projections_of_one_ellipse(x1, n1, x2, n2) -> None:
    rho = (11.0, 17.0)
    d_low, d_high, r_low, r_high = ellipse_extremes(x1 / n1, n1, x2 / n2, n2, ALPHA, *rho)
    counts = ([x1], [n1], [x2], [n2])
    difference = pair_sequence(counts, measure="difference", alpha=ALPHA, rho=rho)[0]
    ratio = pair_sequence(counts, alpha=ALPHA, rho=rho)[0]
    assert difference == pytest.approx([d_low, d_high], abs=1e-9)
    if r_low > 0:  # the ellipse lies in mu2 > 0
        assert ratio == pytest.approx([r_low, r_high], rel=1e-6)
    else:  # it crosses mu2 = 0: mu1 / mu2 is unbounded above; its low end over mu2 > 0
        positive = (d_low, d_high, *ellipse_extremes(x1 / n1, n1, x2 / n2, n2, ALPHA, *rho, True))
        assert ratio[1] == math.inf and ratio[0] == pytest.approx(positive[2], rel=1e-5)


def test_window_intervals_are_the_audits_wilson_newcombe_and_mover_r() -> None:
    x1, n1, x2, n2 = [3, 40, 0], [10, 100, 5], [5, 45, 2], [12, 100, 6]
    got = window_intervals((x1, n1, x2, n2), confidence=0.9)
    assert np.allclose(got.rate1_ci, wilson_interval(np.array(x1), np.array(n1), 0.9))
    assert np.allclose(got.difference_ci, newcombe_interval(x1, n1, x2, n2, 0.9))
    assert np.allclose(got.ratio_ci, mover_ratio_interval(x1, n1, x2, n2, 0.9))
    assert got.ratio == pytest.approx([0.3 / (5 / 12), 40 / 45, 0.0])


# --- validity by simulation ------------------------------------------------------------


def test_rate_sequence_covers_the_average_rate_at_every_look() -> None:
    """Window sizes vary (zero included) and the rate drifts: it covers the rows' mean."""
    rng = np.random.default_rng(1)
    misses = 0
    for _ in range(STREAMS):
        n = rng.integers(0, 300, WEEKS)
        rates = np.clip(0.3 + 0.2 * np.sin(np.arange(WEEKS) / 5), 0, 1)
        x = rng.binomial(n, rates)
        truth = np.cumsum(n * rates) / np.maximum(np.cumsum(n), 1)
        cs = rate_sequence(x, n, alpha=ALPHA)
        seen = np.cumsum(n) > 0
        misses += bool(np.any(seen & ((truth < cs[:, 0]) | (truth > cs[:, 1]))))
    assert misses / STREAMS <= ALPHA + MARGIN


def test_span_intervals_cover_every_spans_truth_simultaneously() -> None:
    rng = np.random.default_rng(2)
    ratio_path = np.where(np.arange(WEEKS) < 30, 1.0, 0.7)
    misses = 0
    for _ in range(STREAMS):
        counts = weekly(rng, ratio_path, n1=200, n2=300)
        mean1 = np.concatenate([[0], np.cumsum(200 * 0.5 * ratio_path)])
        spans = span_intervals(counts, alpha=ALPHA, max_span=8)
        diffs = span_intervals(counts, alpha=ALPHA, measure="difference", max_span=8)
        t, j = np.nonzero(~np.isnan(spans[..., 0]))
        truth1 = (mean1[t + 1] - mean1[t - j]) / (200 * (j + 1))
        bad = (truth1 / 0.5 < spans[t, j, 0]) | (truth1 / 0.5 > spans[t, j, 1])
        bad |= (truth1 - 0.5 < diffs[t, j, 0]) | (truth1 - 0.5 > diffs[t, j, 1])
        misses += bool(bad.any())
    assert misses / STREAMS <= ALPHA + MARGIN


@pytest.mark.parametrize("ratio", [1.0, 0.8])
def test_no_drift_streams_rarely_alarm_in_52_looks(ratio) -> None:
    """Ratio held at 1.0 (the issue's null) and at the bound 0.8 (the hardest null)."""
    rng = np.random.default_rng(3)
    alarms = sum(ratio_alarm(weekly(rng, ratio), bound=0.8) is not None for _ in range(STREAMS))
    assert alarms / STREAMS <= ALPHA + MARGIN


def test_naive_per_window_intervals_alarm_often_at_the_bound() -> None:
    """The contrast the docs cite: a per-week 95% interval judged every week."""
    rng = np.random.default_rng(4)
    alarms = 0
    for _ in range(STREAMS):
        ci = window_intervals(weekly(rng, 0.8)).ratio_ci
        alarms += bool(np.any(ci[:, 1] < 0.8))
    assert alarms / STREAMS > 0.5


def test_drift_rule_holds_its_level_with_a_counted_baseline() -> None:
    rng = np.random.default_rng(5)
    alarms = 0
    for _ in range(STREAMS):
        counts = weekly(rng, 1.0)
        base = tuple(int(a[:4].sum()) for a in counts)
        rest = [a[4:] for a in counts]
        alarms += drift_alarm(rest, baseline=base, tolerance=0.0) is not None
    assert alarms / STREAMS <= ALPHA + MARGIN


# --- power on the scenario -------------------------------------------------------


def test_a_declared_horizon_spends_alpha_evenly_and_refuses_more_windows() -> None:
    shares = spending(np.arange(1, 60), ALPHA, horizon=52)
    assert shares[:52] == pytest.approx(np.full(52, ALPHA / 52)) and shares[52:].sum() == 0
    assert shares.sum() == pytest.approx(ALPHA)
    rng = np.random.default_rng(6)
    alarms = sum(ratio_alarm(weekly(rng, 0.8), horizon=52) is not None for _ in range(STREAMS))
    assert alarms / STREAMS <= ALPHA + MARGIN
    path = np.where(np.arange(WEEKS) < 30, 1.0, 0.7)
    weeks = [ratio_alarm(weekly(rng, path), horizon=52).window + 1 for _ in range(20)]
    assert 31 <= min(weeks) and max(weeks) <= 34
    with pytest.raises(ValueError, match="horizon"):
        ratio_alarm(weekly(rng, 1.0), horizon=51)


def test_tuning_to_fixed_trials_keeps_the_level_and_checks_its_shape() -> None:
    rng = np.random.default_rng(24)
    counts = weekly(rng, 1.0)
    default = span_intervals(counts, max_span=3)
    own = span_intervals(counts, max_span=3, tune=(counts[1], counts[3]))
    np.testing.assert_array_equal(default, own)  # the default tunes to each window's trials
    fixed = (np.full(WEEKS, 2000.0), np.full(WEEKS, 3000.0))
    alarms = sum(ratio_alarm(weekly(rng, 0.8), tune=fixed) is not None for _ in range(STREAMS))
    assert alarms / STREAMS <= ALPHA + MARGIN
    for bad in [(np.ones(3), np.ones(WEEKS)), (np.full(WEEKS, -1.0), np.ones(WEEKS)), (1, 2, 3)]:
        with pytest.raises(ValueError, match="tune needs"):
            ratio_alarm(counts, tune=bad)


def test_step_change_is_caught_within_four_windows() -> None:
    rng = np.random.default_rng(20)
    path = np.where(np.arange(WEEKS) < 30, 1.0, 0.7)
    weeks = []
    for _ in range(50):
        stream = weekly(rng, path)
        weekly_counts = np.stack(stream, axis=1)
        alarm = ratio_alarm(stream, bound=0.8)
        assert alarm is not None and alarm.rule == "ratio"
        assert alarm.high < 0.8 and alarm.start >= 29  # its span is (nearly) all post-change
        rows = slice(alarm.start, alarm.window + 1)
        counts = weekly_counts[rows]
        assert alarm.estimate == pytest.approx(
            (counts[:, 0].sum() / counts[:, 1].sum()) / (counts[:, 2].sum() / counts[:, 3].sum())
        )
        assert alarm.low <= alarm.estimate <= alarm.high
        weeks.append(alarm.window + 1)
    assert min(weeks) >= 31
    assert np.mean(np.array(weeks) <= 34) >= 0.9
    assert max(weeks) <= 36


def test_drift_of_the_step_is_caught_and_names_its_span() -> None:
    counts = weekly(np.random.default_rng(21), np.where(np.arange(WEEKS) < 30, 1.0, 0.7))
    rest = [a[4:] for a in counts]
    base = tuple(int(a[:4].sum()) for a in counts)
    alarm = drift_alarm(rest, baseline=base, tolerance=0.1)
    assert alarm is not None and 26 <= alarm.window <= 29  # weeks 31-34 after 4 baseline weeks
    assert alarm.high < alarm.bound
    fixed = drift_alarm(rest, baseline=0.0, tolerance=0.2, measure="difference")
    assert fixed is None  # the difference fell to -0.15: within 0.2 of an exact 0
    moved = drift_alarm(rest, baseline=0.0, tolerance=0.1, measure="difference")
    assert moved is not None and moved.bound == pytest.approx(-0.1)
    assert moved.rule == "difference drift" and moved.low <= moved.estimate <= moved.high


def test_cumulative_sequence_reacts_too_slowly_for_a_late_change() -> None:
    counts = weekly(np.random.default_rng(22), np.where(np.arange(WEEKS) < 30, 1.0, 0.7))
    assert pair_sequence(counts)[-1, 1] > 0.8  # still wholly above the bound at week 52


# --- edge cases and bad input ----------------------------------------------------------


def test_empty_windows_all_successes_and_tiny_windows() -> None:
    x, n = [0, 5, 1, 0], [0, 5, 1, 2]
    cs = rate_sequence(x, n)
    assert cs[0].tolist() == [0.0, 1.0]  # nothing counted yet
    assert cs[1, 1] == 1.0 and 0 <= cs[1, 0] < 1
    spans = span_intervals((x, n, [1, 1, 0, 2], [2, 1, 0, 2]))
    assert spans[0, 0].tolist() == [0.0, math.inf]  # group 1 has no rows in window 0
    assert spans[2, 0].tolist() == [0.0, math.inf]  # nor either group in window 2
    assert np.isnan(spans[0, 1]).all()  # no span of two windows ends at window 0
    assert ratio_alarm((x, n, [1, 1, 0, 2], [2, 1, 0, 2])) is None
    assert ratio_alarm(([0] * 3, [1] * 3, [1] * 3, [1] * 3)) is None  # 0/1 vs 1/1: too few rows
    assert ratio_alarm(([0] * 5, [3] * 5, [3] * 5, [3] * 5)) is not None  # 0/9 vs 9/9 pooled
    difference = span_intervals(([0], [0], [0], [0]), measure="difference")
    assert difference[0, 0].tolist() == [-1.0, 1.0]
    naive = window_intervals(([0, 2], [0, 2], [1, 0], [1, 2]))
    assert np.isnan(naive.rate1[0]) and np.isnan(naive.ratio_ci[1]).all()


def test_a_reference_rate_of_zero_still_alarms_the_other_way() -> None:
    """min / max = 0 / 0.5: the ratio rate1 / rate2 is unbounded above, and that alarms."""
    counts = ([2500] * 3, [5000] * 3, [0] * 3, [5000] * 3)
    interval = pair_sequence(counts)[0]
    assert interval[1] == math.inf and interval[0] > 10
    alarm = ratio_alarm(counts)
    assert alarm is not None and alarm.window == 0 and alarm.bound == pytest.approx(1.25)


def test_empty_stream_has_no_intervals_and_no_alarm() -> None:
    assert rate_sequence([], []).shape == (0, 2)
    assert span_intervals(([], [], [], [])).shape == (0, 0, 2)
    assert ratio_alarm(([], [], [], [])) is None


def test_all_successes_and_no_successes_stay_inside_the_unit_interval() -> None:
    cs = rate_sequence([50, 50], [50, 50])
    assert np.all(cs[:, 1] == 1.0) and np.all(cs[:, 0] > 0.7)
    cs = rate_sequence([0, 0], [50, 50])
    assert np.all(cs[:, 0] == 0.0) and np.all(cs[:, 1] < 0.3)
    ratio = pair_sequence(([0], [5000], [2500], [5000]))[0]
    assert ratio[0] == 0.0 and ratio[1] < 0.05


def test_max_span_limits_the_lookback() -> None:
    counts = weekly(np.random.default_rng(23), 1.0)
    assert span_intervals(counts, max_span=3).shape == (WEEKS, 3, 2)
    full = span_intervals(counts)
    assert np.array_equal(span_intervals(counts, max_span=3), full[:, :3], equal_nan=True)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: rate_sequence([1, 2], [2]), seq.BAD_LENGTHS),
        (lambda: rate_sequence([[1]], [[2]]), seq.BAD_LENGTHS),
        (lambda: rate_sequence([3], [2]), seq.BAD_COUNTS),
        (lambda: rate_sequence(["a"], [2]), seq.BAD_COUNTS),
        (lambda: rate_sequence([-1], [2]), seq.BAD_COUNTS),
        (lambda: rate_sequence([0.5], [2]), seq.BAD_COUNTS),
        (lambda: rate_sequence([1], [float("nan")]), seq.BAD_COUNTS),
        (lambda: rate_sequence([1], [2], alpha=0), seq.BAD_ALPHA),
        (lambda: rate_sequence([1], [2], alpha=1.5), seq.BAD_ALPHA),
        (lambda: pair_sequence(([1], [2], [1])), seq.BAD_LENGTHS),
        (lambda: ratio_alarm(([1], [2], [1], [2]), bound=1.0), seq.BAD_BOUND),
        (lambda: ratio_alarm(([1], [2], [1], [2]), max_span=0), seq.BAD_SPAN),
        (lambda: ratio_alarm(([1], [2], [1], [2]), horizon=0), seq.BAD_HORIZON),
        (lambda: span_intervals(([1], [2], [1], [2]), measure="odds"), seq.BAD_MEASURE),
        (lambda: pair_sequence(([1], [2], [1], [2]), rho=(1.0, 0.0)), seq.BAD_RHO),
        (lambda: rate_sequence([1], [2], rho=float("inf")), seq.BAD_RHO),
        (lambda: ratio_alarm(([1, 1], [2, 2], [1, 1], [2, 2]), horizon=1), seq.SPENT_HORIZON),
        (lambda: drift_alarm(([1], [2], [1], [2]), baseline=1.0, tolerance=-1), seq.BAD_TOLERANCE),
        (
            lambda: drift_alarm(([1], [2], [1], [2]), baseline=(3, 2, 1, 2), tolerance=0),
            seq.BAD_COUNTS,
        ),
        (lambda: window_intervals(([1], [2], [1], [2]), confidence=1), seq.BAD_CONFIDENCE),
        (
            lambda: drift_alarm(([1], [2], [1], [2]), baseline=float("nan"), tolerance=0),
            seq.BAD_BASELINE,
        ),
    ],
)
def test_bad_input_is_one_line_value_error(call, message) -> None:
    with pytest.raises(ValueError) as caught:
        call()
    assert str(caught.value) == message


# --- the Bernoulli boundary (low rates) ---------------------------------------------------


def test_bernoulli_intervals_cover_drifting_low_rates_at_every_look() -> None:
    from fairaudit.stats._sequential_bernoulli import bernoulli_rate_interval

    rng = np.random.default_rng(30)
    misses = 0
    rates = np.where(np.arange(WEEKS) % 2 == 0, 0.02, 0.08)  # the average rate moves
    for _ in range(STREAMS):
        x = np.cumsum(rng.binomial(2000, rates)).astype(float)
        n = 2000.0 * np.arange(1, WEEKS + 1)
        truth = np.cumsum(rates) / np.arange(1, WEEKS + 1)
        interval = bernoulli_rate_interval(x, n, np.full(WEEKS, ALPHA), np.full(WEEKS, 2000.0))
        assert np.all((interval[:, 0] <= x / n) & (x / n <= interval[:, 1]))
        misses += bool(np.any((interval[:, 0] > truth) | (interval[:, 1] < truth)))
    assert misses / STREAMS <= ALPHA + MARGIN


def test_bernoulli_intervals_are_narrower_than_the_normal_mixture_at_low_rates() -> None:
    from fairaudit.stats._sequential_bernoulli import bernoulli_rate_interval

    n, share = 4000.0, ALPHA / 31**2
    normal = 2 * mixture_radius(n, share, mixture_rho(n, share)) / n
    widths = {}
    for rate in (0.5, 0.2, 0.05):
        low, high = bernoulli_rate_interval(np.array([rate * n]), np.array([n]), share, n)[0]
        widths[rate] = (high - low) / normal
    assert widths[0.05] < 0.5 < widths[0.2] < 0.9 < widths[0.5] < 1.1
    empty = bernoulli_rate_interval(np.array([0.0]), np.array([0.0]), share, n)[0]
    assert list(empty) == [0.0, 1.0]


def test_bernoulli_ratio_alarm_holds_its_level_and_refuses_a_bad_boundary() -> None:
    rng = np.random.default_rng(31)
    streams = 40
    alarms = 0
    for _ in range(streams):
        low = (
            rng.binomial(2000, 0.04, WEEKS),
            np.full(WEEKS, 2000),
            rng.binomial(3000, 0.05, WEEKS),
            np.full(WEEKS, 3000),
        )  # ratio 0.8: at the bound
        alarms += ratio_alarm(low, boundary="bernoulli", max_span=4) is not None
    assert alarms <= streams * ALPHA + 3 * math.sqrt(streams * ALPHA)
    with pytest.raises(ValueError, match="boundary must be"):
        ratio_alarm(weekly(rng, 1.0), boundary="gaussian")  # type: ignore[arg-type]
