"""The regression intervals against oracles computed on the rows (issue 17).

Each formula is written out here with numpy and scipy on the per-row quantities (the
errors, their absolute values and squares), independently of the exact sums the library
reads, and compared with what ``RegressionStatistics.uncertainty`` returns; Welch's test
and interval are checked against ``scipy.stats.ttest_ind``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats as sps

from fairaudit.measure import RegressionStatistics, count_regression, disparities_vs_reference
from fairaudit.measure._regression_uncertainty import (
    COMPARISON_UPPER_TAIL,
    MEAN_METRICS,
    RMSE,
    SKEW_WEIGHT,
    UPPER_TAIL,
)
from fairaudit.stats import mean_interval, rmse_interval, skew_interval, welch_difference

METRICS = (*MEAN_METRICS, RMSE)
CONFIDENCE = 0.9


def _hall(x: np.ndarray, confidence: float, weight: float = 1.0, upper: float | None = None):
    """Hall's (1992) interval of the mean of ``x``, written out on the rows."""
    n = len(x)
    m, s = x.mean(), x.std(ddof=1)
    skewness = sps.skew(x, bias=False) * weight  # G1, the adjusted sample skewness
    a = skewness / math.sqrt(n)
    lower_q = sps.t.ppf(0.5 + confidence / 2, n - 1)
    upper_q = sps.t.ppf(1 - (upper if upper is not None else (1 - confidence) / 2), n - 1)

    def inverse(v: float) -> float:
        # g(T) = T + a T²/3 + a² T³/27 + a/6 = ((1 + aT/3)³ - 1)/a + a/6, inverted
        return 3 / a * (np.cbrt(1 + a * (v - a / 6)) - 1) if a else v

    scale = s / math.sqrt(n)
    return m - scale * inverse(lower_q), m - scale * inverse(-upper_q)


def _g(v: float, a: float) -> float:
    return v + a * v * v / 3 + a * a * v**3 / 27 + a / 6


def _rows(n: int = 400, seed: int = 3):
    """Two groups: 'a' with right-skewed errors, 'b' (the reference) with t(4) errors."""
    rng = np.random.default_rng(seed)
    group = np.repeat(["a", "b"], [n, n + 50])
    y = 20 + 5 * rng.standard_normal(len(group))
    errors = np.concatenate([2 * (rng.exponential(1.0, n) - 1) + 0.3, rng.standard_t(4, n + 50)])
    return group, y, y + errors


def _uncertainty(group, y, p, confidence=CONFIDENCE):
    levels = sorted(set(group))
    codes = np.array([levels.index(g) for g in group])
    statistics = RegressionStatistics(count_regression(["g"], [codes], [levels], y, p))
    _, tables = statistics.tables({"g": "b"})
    rows = disparities_vs_reference(tables[0], METRICS)
    result = statistics.uncertainty(tables, rows, confidence=confidence, min_group_size=2)
    return tables[0], rows, result


def test_hall_oracle_inverts_halls_transformation() -> None:
    """The oracle's inverse is g's inverse (so the oracle itself is checked)."""
    for a in (0.05, 0.3, -0.2):
        for v in (-2.5, 0.0, 1.7):
            inverse = 3 / a * (np.cbrt(1 + a * (v - a / 6)) - 1)
            assert _g(inverse, a) == pytest.approx(v, abs=1e-12)


def test_skew_interval_matches_the_rows_and_only_moves_the_upper_limit() -> None:
    x = np.random.default_rng(1).exponential(2.0, 60)
    m, v, third = x.mean(), x.var(ddof=1), np.mean((x - x.mean()) ** 3)
    got = skew_interval(m, v, third, 60, 0.95)
    assert tuple(got) == pytest.approx(_hall(x, 0.95), rel=1e-12)
    assert tuple(skew_interval(m, v, third, 60, 0.95, upper_tail=0.025)) == pytest.approx(
        tuple(got), rel=1e-12
    )
    wide = skew_interval(m, v, third, 60, 0.95, upper_tail=0.001)
    assert tuple(wide) == pytest.approx(_hall(x, 0.95, upper=0.001), rel=1e-12)
    assert wide[0] == got[0] and wide[1] > got[1]


def test_group_intervals_equal_the_formulas_on_rows() -> None:
    group, y, p = _rows()
    table, _, result = _uncertainty(group, y, p)
    alpha = 1 - CONFIDENCE
    for i, level in enumerate(g["g"] for g in table.groups):
        e = (p - y)[group == level]
        got = {m: tuple(result.group_ci["g"][m][i]) for m in METRICS}
        for metric, values in (("mean_prediction", p), ("mean_target", y)):
            x = values[group == level]
            expected = sps.t.interval(CONFIDENCE, len(x) - 1, loc=x.mean(), scale=sps.sem(x))
            assert got[metric] == pytest.approx(expected, rel=1e-9)
        me = _hall(e, CONFIDENCE, weight=SKEW_WEIGHT["mean_error"])
        assert got["mean_error"] == pytest.approx(me, rel=1e-9)
        tail = UPPER_TAIL["mean_absolute_error"] * alpha
        assert got["mean_absolute_error"] == pytest.approx(
            _hall(np.abs(e), CONFIDENCE, upper=tail), rel=1e-9
        )
        mse = _hall(e**2, CONFIDENCE, upper=UPPER_TAIL["squared_error"] * alpha)
        assert got["root_mean_squared_error"] == pytest.approx(np.sqrt(mse), rel=1e-9)
        rmse = math.sqrt(np.mean(e**2))
        assert got["root_mean_squared_error"][0] < rmse < got["root_mean_squared_error"][1]


def _mover_d(theta1, interval1, theta2, interval2):
    """MOVER-D (Zou & Donner 2008), written out."""
    (l1, u1), (l2, u2) = interval1, interval2
    d = theta1 - theta2
    return (
        d - math.sqrt((theta1 - l1) ** 2 + (u2 - theta2) ** 2),
        d + math.sqrt((u1 - theta1) ** 2 + (theta2 - l2) ** 2),
    )


def test_differences_and_tests_equal_scipy_and_mover_on_rows() -> None:
    group, y, p = _rows()
    table, rows, result = _uncertainty(group, y, p)
    e = {level: (p - y)[group == level] for level in ("a", "b")}
    by_metric = {row.metric: u for row, u in zip(rows, result.disparities, strict=True)}
    for metric, quantity in (
        ("mean_error", lambda x: x),
        ("mean_absolute_error", np.abs),
        ("root_mean_squared_error", np.square),
    ):
        welch = sps.ttest_ind(quantity(e["a"]), quantity(e["b"]), equal_var=False)
        assert by_metric[metric].p_value == pytest.approx(welch.pvalue, rel=1e-9)
        if metric == "mean_error":
            expected = welch.confidence_interval(CONFIDENCE)
            assert by_metric[metric].ci_difference == pytest.approx(tuple(expected), rel=1e-9)
    alpha = 1 - CONFIDENCE
    mae = {k: np.mean(np.abs(v)) for k, v in e.items()}
    tail = UPPER_TAIL["mean_absolute_error"] * alpha
    limits = {k: _hall(np.abs(v), CONFIDENCE, upper=tail) for k, v in e.items()}
    expected = _mover_d(mae["a"], limits["a"], mae["b"], limits["b"])
    assert by_metric["mean_absolute_error"].ci_difference == pytest.approx(expected, rel=1e-9)
    tail = COMPARISON_UPPER_TAIL * alpha
    rmse = {k: math.sqrt(np.mean(v**2)) for k, v in e.items()}
    limits = {k: np.sqrt(_hall(v**2, CONFIDENCE, upper=tail)) for k, v in e.items()}
    expected = _mover_d(rmse["a"], limits["a"], rmse["b"], limits["b"])
    got = by_metric["root_mean_squared_error"].ci_difference
    assert got == pytest.approx(expected, rel=1e-9)


def test_welch_difference_equals_scipy() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.exponential(1.0, 25), rng.normal(0.8, 3.0, 40)
    (low, high), p_value = welch_difference(
        a.mean(), a.var(ddof=1), len(a), b.mean(), b.var(ddof=1), len(b), 0.95
    )
    expected = sps.ttest_ind(a, b, equal_var=False)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert (low, high) == pytest.approx(tuple(expected.confidence_interval(0.95)), rel=1e-12)


def test_welch_difference_at_huge_values_has_no_overflow() -> None:
    """Squared errors near 1e76 (predictions near 1e38, under the 1e50 limit): the degrees
    of freedom are computed from variance shares, so the test still equals scipy's."""
    rng = np.random.default_rng(5)
    a, b = rng.normal(3e76, 1e76, 60), rng.normal(2e76, 2e76, 70)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (low, high), p_value = welch_difference(
            a.mean(), a.var(ddof=1), len(a), b.mean(), b.var(ddof=1), len(b), 0.95
        )
    expected = sps.ttest_ind(a / 1e76, b / 1e76, equal_var=False)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert (low / 1e76, high / 1e76) == pytest.approx(
        tuple(expected.confidence_interval(0.95)), rel=1e-9
    )


@pytest.mark.parametrize("n", [1, 2, 3])
def test_tiny_and_constant_groups_give_nan_or_point_intervals_without_warnings(n) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(skew_interval(1.0, np.nan, np.nan, 1, 0.95, upper_tail=0.001)).all()
        assert np.isnan(rmse_interval(1.0, np.nan, np.nan, 1, 0.95, upper_tail=0.001)).all()
        # every error 2: the squared errors have no spread, the interval is the value
        y = np.arange(float(n))
        group = np.array(["a"] * n + ["b"] * 3)
        y = np.concatenate([y, [5.0, 6.0, 8.0]])
        p = y + 2.0
        table, _, result = _uncertainty(group, y, p)
        i = [g["g"] for g in table.groups].index("a")
        rmse = result.group_ci["g"]["root_mean_squared_error"][i]
        mae = result.group_ci["g"]["mean_absolute_error"][i]
        if n == 1:
            assert np.isnan(rmse).all() and np.isnan(mae).all()
        else:
            assert tuple(rmse) == (2.0, 2.0) and tuple(mae) == (2.0, 2.0)


def test_mean_interval_equals_scipy() -> None:
    x = np.random.default_rng(5).normal(3.0, 2.0, 17)
    got = mean_interval(x.mean(), x.var(ddof=1), len(x), 0.99)
    expected = sps.t.interval(0.99, len(x) - 1, loc=x.mean(), scale=sps.sem(x))
    assert tuple(got) == pytest.approx(expected, rel=1e-12)
