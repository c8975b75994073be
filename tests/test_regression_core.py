"""The regression measurement core and task detection.

Every group metric is checked against fairlearn's MetricFrame with scikit-learn's
metrics and numpy means, and the distribution distances and tests against scipy, on
synthetic data with a known disparity and on scikit-learn's diabetes data set (BSD
licence, bundled with scikit-learn) with a LinearRegression's predictions.
"""

from __future__ import annotations

import itertools
import math
import warnings
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame
from scipy import stats as sps
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

from fairaudit.errors import ConfigError
from fairaudit.measure import (
    MAX_CLASSES,
    MSG_BINARY_TOO_MANY,
    MSG_FEW_NUMERIC_VALUES,
    MSG_MULTICLASS_TOO_MANY,
    MSG_NO_ROWS,
    MSG_PARTS_DIFFER,
    MSG_POSITIVE_LABEL_NOT_BINARY,
    MSG_POSITIVE_LABEL_WITH_TASK,
    MSG_REGRESSION_NOT_NUMERIC,
    MSG_TOO_LARGE,
    MSG_TOO_MANY_TEXT_LABELS,
    MSG_UNKNOWN_TASK,
    RegressionStatistics,
    combine_regression_cells,
    count_regression,
    detect_task,
    disparities_vs_reference,
    exact_group_sums,
    ks_between_groups,
    ks_statistic,
)
from fairaudit.stats import holm_adjust, mean_interval, skew_interval, welch_difference
from fairaudit.vocabulary import INTERSECTION, REGRESSION_METRICS

TOLERANCE = {"rel": 1e-9, "abs": 1e-9}

SKLEARN = {
    "count": lambda y, p: len(y),
    "mean_prediction": lambda y, p: np.mean(p),
    "mean_target": lambda y, p: np.mean(y),
    "mean_error": lambda y, p: np.mean(np.asarray(p) - np.asarray(y)),
    "mean_absolute_error": mean_absolute_error,
    "root_mean_squared_error": root_mean_squared_error,
    "r2": r2_score,
}


def _statistics(frame: pd.DataFrame, features: list[str], y, p) -> RegressionStatistics:
    codes, levels = [], []
    for feature in features:
        code, names = pd.factorize(frame[feature], sort=True)
        codes.append(code)
        levels.append([str(v) for v in names])
    return RegressionStatistics(count_regression(features, codes, levels, y, p))


def _synthetic(
    n: int = 3000, seed: int = 7, noise: float = 3.0
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Rows with group b's predictions shifted by +0.5 (the injected disparity)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "group": rng.choice(["a", "b"], n, p=[0.6, 0.4]),
            "region": rng.choice(["north", "south", "east"], n),
        }
    )
    y = 50 + 10 * rng.standard_normal(n)
    p = y + noise * rng.standard_normal(n) + 0.5 * (frame["group"] == "b").to_numpy()
    return frame, y, p


def _diabetes() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    data = load_diabetes(as_frame=True)
    x, y = data.data, data.target.to_numpy(dtype=float)
    p = LinearRegression().fit(x, y).predict(x)
    frame = pd.DataFrame(
        {
            # sex is standardised in the bundled data: two values, renamed.
            "sex": np.where(x["sex"] > 0, "sex_2", "sex_1"),
            "age": pd.cut(x["age"], 3, labels=["young", "middle", "old"]).astype(str),
        }
    )
    return frame, y, p


def _check_against_fairlearn(frame, features, y, p) -> None:
    statistics = _statistics(frame, features, y, p)
    overall, tables = statistics.tables({})
    for name, table in zip([*features, INTERSECTION], tables):
        assert table.name == name
        table_features = list(table.features)
        mf = MetricFrame(
            metrics=SKLEARN, y_true=y, y_pred=p, sensitive_features=frame[table_features]
        )
        by_group = mf.by_group
        for i, group in enumerate(table.groups):
            key = tuple(group[f] for f in table_features)
            expected = by_group.loc[key if len(key) > 1 else key[0]]
            for metric in REGRESSION_METRICS:
                assert table.values[metric][i] == pytest.approx(expected[metric], **TOLERANCE)
    for metric in REGRESSION_METRICS:
        assert overall[metric] == pytest.approx(mf.overall[metric], **TOLERANCE)


@pytest.mark.parametrize("data", [_synthetic, _diabetes])
def test_group_metrics_equal_fairlearn(data) -> None:
    frame, y, p = data()
    features = list(frame.columns)
    _check_against_fairlearn(frame, features, y, p)
    _check_against_fairlearn(frame, features[:1], y, p)


def _group_samples(frame, features, p) -> dict[tuple, np.ndarray]:
    return {key: p[idx] for key, idx in frame.groupby(features).indices.items()}


@pytest.mark.parametrize("data", [_synthetic, _diabetes])
def test_distribution_distances_equal_scipy(data) -> None:
    frame, y, p = data()
    features = list(frame.columns)
    statistics = _statistics(frame, features, y, p)
    _, tables = statistics.tables({})
    for table in tables:
        samples = _group_samples(frame, list(table.features), p)
        key = [tuple(g[f] for f in table.features) for g in table.groups]
        key = [k if len(k) > 1 else k[0] for k in key]
        reference = samples[key[table.reference]]
        for row in statistics.distribution_disparities(table):
            group = samples[key[table.groups.index(row.group)]]
            if row.metric == "ks_statistic":
                expected = sps.ks_2samp(group, reference).statistic
                assert row.value == pytest.approx(expected, rel=1e-12)
            else:
                expected = sps.wasserstein_distance(group, reference)
                assert row.value == pytest.approx(expected, **TOLERANCE)
        pairwise = max(
            sps.ks_2samp(a, b).statistic for a, b in itertools.combinations(samples.values(), 2)
        )
        headline = statistics.headline(table, statistics.tables({})[0])
        assert headline[0]["metric"] == "ks_statistic"
        assert headline[0]["value"] == pytest.approx(pairwise, rel=1e-12)


def test_injected_disparity_is_found() -> None:
    frame, y, p = _synthetic(n=4000, noise=1.0)
    statistics = _statistics(frame, ["group"], y, p)
    overall, tables = statistics.tables({"group": "a"})
    table = tables[0]
    b = table.groups.index({"group": "b"})
    a = table.reference
    shift = table.values["mean_error"][b] - table.values["mean_error"][a]
    assert shift == pytest.approx(0.5, abs=0.25)
    rows = disparities_vs_reference(table, statistics.metric_names())
    rows += statistics.distribution_disparities(table)
    result = statistics.uncertainty(tables, rows, confidence=0.95, min_group_size=30)
    verdicts = {row.metric: u for row, u in zip(rows, result.disparities)}
    assert verdicts["mean_error"].significance == "significant"
    assert verdicts["mean_error"].ci_difference[0] > 0
    assert verdicts["mean_target"].significance == "within noise"
    assert verdicts["r2"] is None and verdicts["wasserstein_distance"] is None
    bounded = {e["metric"]: e for e in statistics.headline(table, overall)}
    assert bounded["max_group_mae_ratio"]["group"] == {"group": "b"}
    mae = table.values["mean_absolute_error"]
    assert bounded["max_group_mae_ratio"]["value"] == mae[b] / overall["mean_absolute_error"]


def test_tiny_groups_constant_target_and_one_prediction() -> None:
    frame = pd.DataFrame({"g": ["one", "two", "two", "flat", "flat", "flat", "same", "same"]})
    y = np.array([1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 1.0, 3.0])
    p = np.array([1.5, 2.0, 3.0, 4.0, 6.0, 5.5, 7.0, 7.0])
    statistics = _statistics(frame, ["g"], y, p)
    _, tables = statistics.tables({"g": "flat"})
    table = tables[0]
    values = {
        g["g"]: {m: table.values[m][i] for m in table.values} for i, g in enumerate(table.groups)
    }
    assert values["one"]["count"] == 1 and values["one"]["mean_error"] == 0.5
    assert values["one"]["root_mean_squared_error"] == 0.5
    assert math.isnan(values["one"]["r2"])  # one row: no variance
    assert values["two"]["mean_absolute_error"] == 0.5
    assert values["two"]["r2"] == pytest.approx(r2_score([2.0, 4.0], [2.0, 3.0]), **TOLERANCE)
    assert math.isnan(values["flat"]["r2"])  # constant target: r2 null
    rows = {r["group"]["g"]: r for r in statistics.group_rows(table, 2)}
    assert rows["flat"]["constant_target"] and not rows["two"]["constant_target"]
    assert rows["one"]["insufficient_data"] and rows["flat"]["reference"]
    # One distinct prediction: r2 is defined, the distribution is a single step.
    assert values["same"]["r2"] == pytest.approx(r2_score([1.0, 3.0], [7.0, 7.0]), **TOLERANCE)
    distances = {
        (r.metric, r.group["g"]): r.value for r in statistics.distribution_disparities(table)
    }
    assert distances[("ks_statistic", "same")] == 1.0
    assert distances[("wasserstein_distance", "one")] == pytest.approx(
        sps.wasserstein_distance([1.5], [4.0, 6.0, 5.5]), **TOLERANCE
    )
    rows_all = disparities_vs_reference(table, statistics.metric_names())
    result = statistics.uncertainty(tables, rows_all, confidence=0.95, min_group_size=0)
    one = table.groups.index({"g": "one"})
    assert np.isnan(result.group_ci["g"]["mean_error"][one]).all()  # n = 1: no interval
    for row, u in zip(rows_all, result.disparities):
        if row.group == {"g": "one"} and u is not None:
            assert u.significance == "insufficient data"


def test_sums_are_exact_and_order_free() -> None:
    rng = np.random.default_rng(3)
    values = rng.standard_normal(5000) * 10.0 ** rng.integers(-20, 20, 5000)
    group = rng.integers(0, 4, 5000)
    expected = [sum((Fraction(v) for v in values[group == g]), Fraction(0)) for g in range(4)]
    assert exact_group_sums(group, 4, values) == expected
    order = rng.permutation(5000)
    assert exact_group_sums(group[order], 4, values[order]) == expected
    # Cancellation that a float sum gets wrong: 1e16 + 1 - 1e16.
    assert exact_group_sums(np.zeros(3, int), 1, np.array([1e16, 1.0, -1e16])) == [1]


def test_rows_in_any_order_give_identical_metrics() -> None:
    frame, y, p = _synthetic(n=1000)
    first = _statistics(frame, ["group", "region"], y, p).tables({})
    order = np.random.default_rng(0).permutation(len(y))
    again = _statistics(
        frame.iloc[order].reset_index(drop=True), ["group", "region"], y[order], p[order]
    )
    second = again.tables({})
    assert first[0] == second[0]
    for a, b in zip(first[1], second[1]):
        for metric in REGRESSION_METRICS:
            assert np.array_equal(a.values[metric], b.values[metric], equal_nan=True)


def test_r2_is_exact_when_the_target_is_far_from_zero() -> None:
    y = 1e8 + np.array([0.0, 1.0, 2.0, 3.0])
    p = 1e8 + np.array([0.5, 1.0, 2.0, 2.5])
    frame = pd.DataFrame({"g": ["a"] * 4})
    overall, _ = _statistics(frame, ["g"], y, p).tables({})
    assert overall["r2"] == 1 - 0.5 / 5


def test_non_finite_values_are_refused() -> None:
    frame = pd.DataFrame({"g": ["a", "b"]})
    with pytest.raises(ValueError) as error:
        _statistics(frame, ["g"], np.array([1.0, np.inf]), np.array([1.0, 2.0]))
    assert str(error.value) == MSG_TOO_LARGE.format(value=math.inf)


def test_intervals_and_tests_match_scipy() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(0, 1, 40), rng.normal(0.3, 2, 25)
    low, high = mean_interval(np.mean(a), np.var(a, ddof=1), len(a), 0.95)
    expected = sps.t.interval(0.95, len(a) - 1, loc=np.mean(a), scale=sps.sem(a))
    assert (low, high) == pytest.approx(expected, **TOLERANCE)
    (d_low, d_high), p_value = welch_difference(
        np.mean(a), np.var(a, ddof=1), len(a), np.mean(b), np.var(b, ddof=1), len(b), 0.95
    )
    welch = sps.ttest_ind(a, b, equal_var=False)
    assert p_value == pytest.approx(welch.pvalue, **TOLERANCE)
    assert (d_low, d_high) == pytest.approx(tuple(welch.confidence_interval(0.95)), **TOLERANCE)


def test_ks_p_values_and_holm_family() -> None:
    frame, y, p = _synthetic(n=600)
    statistics = _statistics(frame, ["region"], y, p)
    _, tables = statistics.tables({})
    table = tables[0]
    rows = disparities_vs_reference(table, statistics.metric_names())
    rows += statistics.distribution_disparities(table)
    result = statistics.uncertainty(tables, rows, confidence=0.95, min_group_size=30)
    samples = _group_samples(frame, ["region"], p)
    reference = samples[table.groups[table.reference]["region"]]
    family_p, family_adjusted = [], []
    for row, u in zip(rows, result.disparities):
        if row.metric == "ks_statistic":
            expected = sps.ks_2samp(samples[row.group["region"]], reference, method="exact")
            assert u.p_value == pytest.approx(expected.pvalue, **TOLERANCE)
        if u is not None and row.metric != "mean_target":
            family_p.append(u.p_value)
            family_adjusted.append(u.p_value_adjusted)
        elif u is not None:
            assert u.p_value_adjusted == u.p_value  # a data metric: tested on its own
    assert family_adjusted == pytest.approx(list(holm_adjust(family_p)), **TOLERANCE)
    assert result.method["family"]["size"] == len(family_p)


def test_ks_between_groups_needs_two_groups() -> None:
    assert math.isnan(ks_between_groups([np.array([1.0])]))
    assert ks_between_groups([np.array([1.0]), np.array([2.0])]) == 1.0


# --- task detection ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "task", "positive", "expected"),
    [
        ([0, 1, 1, 0], "auto", None, "binary"),
        (["yes", "no"], "auto", None, "binary"),
        ([True, False], "auto", None, "binary"),
        (["a", "b", "c"], "auto", "a", None),  # --positive-label with 3 values: refused
        (["low", "mid", "high"], "auto", None, "multiclass"),
        ([1, 2, 3, 2], "auto", None, "multiclass"),
        ([1.0, 2.0, 3.0], "auto", None, "multiclass"),  # whole numbers read as floats
        (list(range(60)), "auto", None, "regression"),
        (list(np.linspace(0, 1, 80)), "auto", None, "regression"),
        ([str(v) for v in np.linspace(0, 1, 80)], "auto", None, "regression"),
        ([0.5, 1.5, 2.5], "regression", None, "regression"),
        ([0.5, 1.5, 2.5], "multiclass", None, "multiclass"),
        (["a", "b", "c"], "multiclass", None, "multiclass"),
        ([0, 1], "binary", None, "binary"),
    ],
)
def test_detect_task(values, task, positive, expected) -> None:
    if expected is None:
        with pytest.raises(ConfigError):
            detect_task(values, task=task, positive_label=positive)
        return
    decision = detect_task(values, task=task, positive_label=positive)
    assert decision.task == expected
    assert decision.check().message.startswith(f"task: {expected} (")


def test_task_mismatch_messages_name_the_flag() -> None:
    with pytest.raises(ConfigError) as error:
        detect_task([0.5, 1.5, 2.5, 0.5], column="price")
    assert str(error.value) == MSG_FEW_NUMERIC_VALUES.format(
        column="price", n=3, values="'0.5', '1.5', '2.5'"
    )
    assert "--task regression" in str(error.value) and "\n" not in str(error.value)

    with pytest.raises(ConfigError) as error:
        detect_task(np.linspace(0, 100, 500), task="binary", column="salary")
    assert str(error.value).startswith("label column 'salary' has 500 distinct values")
    assert str(error.value).endswith("use --task regression")
    assert MSG_BINARY_TOO_MANY.split("{")[0] in str(error.value)

    with pytest.raises(ConfigError) as error:
        detect_task(["a", "b"], task="regression")
    assert str(error.value) == MSG_REGRESSION_NOT_NUMERIC.format(
        column="label", values="'a', 'b'", suggested="binary"
    )

    with pytest.raises(ConfigError) as error:
        detect_task([f"class {i}" for i in range(60)])
    assert "--task multiclass" in str(error.value)
    assert str(error.value).startswith(MSG_TOO_MANY_TEXT_LABELS.split("{")[0])

    with pytest.raises(ConfigError) as error:
        detect_task(["a", "b", "c"], positive_label="a")
    assert str(error.value).startswith(MSG_POSITIVE_LABEL_NOT_BINARY.split("{")[0])
    assert "--task multiclass" in str(error.value) and "--favorable-label" in str(error.value)

    with pytest.raises(ConfigError) as error:
        detect_task(np.linspace(0, 1, 60), task="multiclass", column="score")
    assert str(error.value).startswith("label column 'score' has 60 distinct numbers, not all")
    assert str(error.value).endswith("use --task regression")

    with pytest.raises(ConfigError) as error:
        detect_task([f"c{i}" for i in range(MAX_CLASSES + 1)], task="multiclass")
    assert str(error.value) == MSG_MULTICLASS_TOO_MANY.format(
        column="label", n=MAX_CLASSES + 1, limit=MAX_CLASSES
    )

    with pytest.raises(ConfigError) as error:
        detect_task(np.linspace(0, 1, 60), task="regression", positive_label="1")
    assert str(error.value) == MSG_POSITIVE_LABEL_WITH_TASK.format(
        task="regression", favorable_hint=""
    )
    with pytest.raises(ConfigError) as error:
        detect_task(["a", "b"], task="multiclass", positive_label="a")
    assert str(error.value).endswith("drop it (name favourable classes with --favorable-label)")

    with pytest.raises(ConfigError) as error:
        detect_task([1, 2], task="ranking")
    assert str(error.value) == MSG_UNKNOWN_TASK.format(task="ranking")


def test_hostile_label_values_stay_on_one_line() -> None:
    with pytest.raises(ConfigError) as error:
        detect_task([f"x\n{i}<script>" for i in range(60)])
    assert "\n" not in str(error.value)


def test_missing_values_are_not_a_class() -> None:
    assert detect_task([0, 1, None, np.nan]).task == "binary"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert detect_task(pd.Series([1.0, 2.0, np.nan, 3.0])).task == "multiclass"


def test_skew_interval_is_t_without_skew_and_halls_with_it() -> None:
    symmetric = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    n = len(symmetric)
    plain = mean_interval(0.0, np.var(symmetric, ddof=1), n, 0.95)
    assert skew_interval(0.0, np.var(symmetric, ddof=1), 0.0, n, 0.95) == pytest.approx(plain)
    x = np.random.default_rng(2).exponential(1.0, 40)
    m, s = x.mean(), x.std(ddof=1)
    g1 = np.mean((x - m) ** 3) / np.mean((x - m) ** 2) ** 1.5
    a = g1 * math.sqrt(40 * 39) / 38 / math.sqrt(40)
    q = sps.t.ppf(0.975, 39)

    def inverse(v: float) -> float:
        return 3 / a * (np.cbrt(1 + a * (v - a / 6)) - 1)

    expected = (m - s / math.sqrt(40) * inverse(q), m - s / math.sqrt(40) * inverse(-q))
    got = skew_interval(m, s**2, np.mean((x - m) ** 3), 40, 0.95)
    assert tuple(got) == pytest.approx(expected, **TOLERANCE)
    # Right skew moves the interval up, compared with the t interval.
    assert got[0] > mean_interval(m, s**2, 40, 0.95)[0]


def test_group_intervals_read_the_exact_sums() -> None:
    frame, y, p = _synthetic(n=500)
    statistics = _statistics(frame, ["group"], y, p)
    _, tables = statistics.tables({})
    result = statistics.uncertainty(tables, [], confidence=0.9, min_group_size=30)
    table = tables[0]
    for i, group in enumerate(table.groups):
        rows = (frame["group"] == group["group"]).to_numpy()
        e = p[rows] - y[rows]
        # H2 (issue 17 intervals): mean_error is Hall's interval with half the skewness,
        # the MSE's upper limit misses 0.02 alpha (tests/test_regression_intervals.py).
        third = 0.5 * np.mean((e - e.mean()) ** 3)
        expected = skew_interval(e.mean(), e.var(ddof=1), third, len(e), 0.9)
        assert tuple(result.group_ci["group"]["mean_error"][i]) == pytest.approx(expected)
        squared = e**2
        mse_interval = skew_interval(
            squared.mean(), squared.var(ddof=1), np.mean((squared - squared.mean()) ** 3),
            len(e), 0.9, upper_tail=0.002,
        )  # fmt: skip
        rmse = result.group_ci["group"]["root_mean_squared_error"][i]
        assert tuple(rmse) == pytest.approx(tuple(np.sqrt(mse_interval)), rel=1e-7)
        assert rmse[0] < table.values["root_mean_squared_error"][i] < rmse[1]


def test_edge_inputs() -> None:
    with pytest.raises(ValueError) as error:
        count_regression(["g"], [np.array([], dtype=int)], [["a"]], np.array([]), np.array([]))
    assert str(error.value) == MSG_NO_ROWS
    with pytest.raises(ValueError) as error:
        _statistics(pd.DataFrame({"g": ["a"]}), ["g"], np.array([1e60]), np.array([1.0]))
    assert str(error.value) == MSG_TOO_LARGE.format(value=1e60)
    # A hostile group name is data, kept as given; one group has no pairs to compare.
    name = "<script>alert(1)</script>\n=cmd"
    statistics = _statistics(pd.DataFrame({"g": [name] * 3}), ["g"], np.ones(3), np.ones(3))
    overall, tables = statistics.tables({})
    assert tables[0].groups == [{"g": name}]
    headline = {e["metric"]: e for e in statistics.headline(tables[0], overall)}
    assert math.isnan(headline["ks_statistic"]["value"])
    assert math.isnan(headline["max_group_mae_ratio"]["value"])  # overall MAE is 0
    # Identical constant predictions in two groups: KS 0, tested without a warning.
    frame = pd.DataFrame({"g": ["a", "b"] * 5})
    statistics = _statistics(frame, ["g"], np.arange(10.0), np.full(10, 3.0))
    _, tables = statistics.tables({})
    rows = statistics.distribution_disparities(tables[0])
    result = statistics.uncertainty(tables, rows, confidence=0.95, min_group_size=2)
    assert rows[0].value == 0 and result.disparities[0].p_value == 1.0


def test_chunks_combine_to_the_whole_exactly() -> None:
    frame, y, p = _synthetic(n=900)
    features = ["group", "region"]
    codes, levels = [], []
    for feature in features:
        code, names = pd.factorize(frame[feature], sort=True)
        codes.append(code)
        levels.append([str(v) for v in names])
    whole = count_regression(features, codes, levels, y, p)
    chunk = np.random.default_rng(1).integers(0, 3, len(y))
    east = frame["region"].to_numpy() == "east"
    chunk[east & (chunk == 2)] = 1  # chunk 2 has no east rows: the parts' cells differ
    parts = [
        count_regression(
            features, [c[chunk == k] for c in codes], levels, y[chunk == k], p[chunk == k]
        )
        for k in range(3)
    ]
    combined = combine_regression_cells(parts[::-1])
    assert combined.sums == whole.sums
    assert np.array_equal(combined.group_counts.cells, whole.group_counts.cells)
    assert np.array_equal(combined.sizes, whole.sizes)
    assert np.array_equal(combined.predictions, whole.predictions)
    assert np.array_equal(combined.starts, whole.starts)
    assert RegressionStatistics(combined).tables({})[0] == RegressionStatistics(whole).tables({})[0]
    other = count_regression(["group"], codes[:1], levels[:1], y, p)
    with pytest.raises(ValueError) as error:
        combine_regression_cells([whole, other])
    assert str(error.value) == MSG_PARTS_DIFFER


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    """Return scipy's KS statistic (its p-value's warnings on tiny samples silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(sps.ks_2samp(a, b).statistic)


def test_ks_between_many_groups_sweeps_to_the_same_value() -> None:
    rng = np.random.default_rng(8)
    samples = [np.sort(rng.normal(k % 3, 1, rng.integers(1, 40)).round(1)) for k in range(300)]
    pairwise = max(_ks(a, b) for a, b in itertools.combinations(samples[:60], 2))
    assert ks_between_groups(samples[:60]) == pytest.approx(pairwise, rel=1e-12)  # vectors
    vector = ks_between_groups(samples[:256])
    swept = ks_between_groups(samples)  # 300 groups: the heap sweep
    assert swept >= vector
    # Every pair of 300 (44,850): ks_statistic, held to scipy's statistic above.
    pairwise = max(
        max(ks_statistic(a, b) for b in samples[i + 1 :]) for i, a in enumerate(samples[:-1])
    )
    assert swept == pytest.approx(pairwise, rel=1e-12)
