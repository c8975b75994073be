"""Tests for fairaudit.stats and its private modules: intervals, bootstrap, tests, verdicts."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from fairaudit.counts import GroupCounts, count_groups
from fairaudit.errors import ConfigError
from fairaudit.measure import (
    build_tables,
    disparities_vs_reference,
    grouped_brier_score,
    grouped_roc_auc,
    headline_metrics,
)
from fairaudit.pipe import run_audit
from fairaudit.policy import NOT_EVALUABLE, evaluate_policy, load_policy
from fairaudit.spec import AuditSpec
from fairaudit.stats import (
    COMPLEMENTS,
    UNKNOWN_TABLE,
    ScoreLayout,
    aggregate_cells,
    analytic_interval,
    balanced_accuracy_test,
    bootstrap_counts,
    bootstrap_p_value,
    bootstrap_score_metrics,
    brier_estimates,
    compute_uncertainty,
    confusion_metrics,
    delong_auc,
    headline_draws,
    headline_intervals,
    holm_adjust,
    mover_ratio,
    mover_ratio_interval,
    newcombe_interval,
    percentile_interval,
    proportion_test,
    roc_auc_estimates,
    uncertainty_to_json,
    wald_difference,
    wilson_interval,
)
from fairaudit.vocabulary import (
    BAD_CONFIDENCE,
    BAD_RESAMPLES,
    CONFUSION_METRICS,
    HEADLINE_METRICS,
    SCORE_METRICS,
)

METRICS = [m for m in CONFUSION_METRICS if m != "count"]


def two_group_counts(group: list[int], reference: list[int]) -> GroupCounts:
    """Return GroupCounts of one feature with groups 'g' (index 0) and 'ref' (index 1)."""
    return GroupCounts(
        ("grp",), (("g", "ref"),), np.array([[0], [1]]), np.array([group, reference])
    )


def audit(gc: GroupCounts, metrics=METRICS, **kwargs):
    _, tables = build_tables(gc, reference={"grp": "ref"})
    rows = disparities_vs_reference(tables[0], metrics)
    return tables, rows, compute_uncertainty(gc, tables, rows, **kwargs)


def random_rows(n: int, seed: int):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, n)
    b = (rng.random(n) < 0.4).astype(np.int64)
    y = rng.random(n) < 0.35 + 0.1 * b
    score = np.clip(0.35 * y + 0.65 * rng.random(n) - 0.05 * a, 0, 1)
    return a, b, y, score, score > 0.45


# --------------------------------------------------------------------------- analytic


def test_wilson_matches_textbook_values():
    # 8/10: the classic example; 0/10 and 81/263 from Newcombe (1998), Table I.
    assert wilson_interval(8, 10) == pytest.approx([0.4902, 0.9433], abs=5e-5)
    assert wilson_interval(0, 10) == pytest.approx([0.0, 0.2775], abs=5e-5)
    assert wilson_interval(81, 263) == pytest.approx([0.2553, 0.3662], abs=5e-5)
    assert np.isnan(wilson_interval(0, 0)).all()
    assert wilson_interval([8, 0], [10, 10]).shape == (2, 2)
    # A 99% interval is wider than the 95% one.
    low99, high99 = wilson_interval(8, 10, 0.99)
    assert low99 < 0.4902 and high99 > 0.9433


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2", "expected"),
    [  # Newcombe (1998), Table II, method 10.
        (56, 70, 48, 80, (0.0524, 0.3339)),
        (9, 10, 3, 10, (0.1705, 0.8090)),
        (5, 56, 0, 29, (-0.0381, 0.1926)),
        (0, 10, 0, 20, (-0.1611, 0.2775)),
        (0, 10, 0, 10, (-0.2775, 0.2775)),
    ],
)
def test_newcombe_matches_published_table(x1, n1, x2, n2, expected):
    assert newcombe_interval(x1, n1, x2, n2) == pytest.approx(expected, abs=5e-5)


def test_mover_ratio_limits_solve_their_defining_equations():
    x1, n1, x2, n2 = 56, 70, 48, 80
    low, high = mover_ratio_interval(x1, n1, x2, n2)
    (l1, u1), (l2, u2) = wilson_interval(x1, n1), wilson_interval(x2, n2)
    p1, p2 = x1 / n1, x2 / n2
    assert (p1 - low * p2) ** 2 == pytest.approx((p1 - l1) ** 2 + low**2 * (u2 - p2) ** 2)
    assert (p1 - high * p2) ** 2 == pytest.approx((u1 - p1) ** 2 + high**2 * (p2 - l2) ** 2)
    assert low < p1 / p2 < high
    # Large counts: close to the Katz log interval.
    x1, n1, x2, n2 = 4000, 10000, 3000, 10000
    se = math.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
    katz = [4 / 3 * math.exp(-1.959964 * se), 4 / 3 * math.exp(1.959964 * se)]
    assert mover_ratio_interval(x1, n1, x2, n2) == pytest.approx(katz, rel=2e-3)


def test_mover_ratio_zero_numerator_and_undefined_ratio():
    low, high = mover_ratio_interval(0, 30, 6, 30)
    assert low == 0.0 and 0 < high < 1
    assert np.isnan(mover_ratio_interval(3, 30, 0, 30)).all()
    assert np.isnan(mover_ratio_interval(3, 30, 0, 0)).all()


def test_f1_and_balanced_accuracy_intervals_by_hand():
    counts = np.array([40, 10, 5, 45])  # tn, fp, fn, tp
    j_low, j_high = wilson_interval(45, 60)  # J = tp / (tp + fp + fn)
    f1 = analytic_interval(counts, "f1")
    assert f1 == pytest.approx([2 * j_low / (1 + j_low), 2 * j_high / (1 + j_high)])
    assert f1[0] < confusion_metrics(counts)["f1"] < f1[1]
    (tpr_l, tpr_u), (tnr_l, tnr_u) = wilson_interval(45, 50), wilson_interval(40, 50)
    ba = (0.9 + 0.8) / 2
    expected = [
        ba - math.hypot(0.9 - tpr_l, 0.8 - tnr_l) / 2,
        ba + math.hypot(tpr_u - 0.9, tnr_u - 0.8) / 2,
    ]
    assert analytic_interval(counts, "balanced_accuracy") == pytest.approx(expected)
    assert analytic_interval(counts, "count") is None


def test_holm_on_a_known_vector():
    adjusted = holm_adjust([0.01, 0.04, 0.03, 0.005, np.nan])
    assert adjusted[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert np.isnan(adjusted[4])
    assert holm_adjust([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm_adjust([]).shape == (0,)


def test_proportion_test_z_and_fisher():
    # Large counts: the pooled z-test equals the uncorrected chi-square test.
    chi2 = scipy_stats.chi2_contingency([[56, 14], [48, 32]], correction=False)
    assert proportion_test(56, 70, 48, 80) == pytest.approx(chi2.pvalue)
    # An expected cell below 5: Fisher's exact test.
    assert proportion_test(1, 20, 6, 20) == pytest.approx(
        scipy_stats.fisher_exact([[1, 19], [6, 14]]).pvalue
    )
    assert proportion_test(0, 30, 0, 30) == 1.0
    assert math.isnan(proportion_test(0, 0, 3, 10))


def test_percentile_interval_matches_numpy_and_skips_nan():
    draws = np.random.default_rng(0).normal(size=(1001, 3))
    expected = np.quantile(draws, [0.025, 0.975], axis=0).T
    assert percentile_interval(draws) == pytest.approx(expected)
    draws[:500, 1] = np.nan
    assert percentile_interval(draws)[1] == pytest.approx(
        np.quantile(draws[500:, 1], [0.025, 0.975])
    )
    draws[:1000, 2] = np.nan
    assert np.isnan(percentile_interval(draws)[2]).all()


# --------------------------------------------------------------------------- bootstrap


def test_count_bootstrap_equals_row_bootstrap_in_distribution():
    a, b, y, _, y_pred = random_rows(600, seed=1)
    gc = count_groups(
        ["a", "b"], [a, b], [["0", "1", "2"], ["0", "1"]], y, y_pred, with_row_cells=True
    )
    n_boot = 2000
    by_counts = np.concatenate(list(bootstrap_counts(gc.counts, n_boot, np.random.default_rng(1))))
    # Row bootstrap: resample row indices, then count.
    rng = np.random.default_rng(2)
    assert gc.row_cell is not None
    key = gc.row_cell * 4 + 2 * y + y_pred
    picks = (
        key[rng.integers(0, len(y), size=(n_boot, len(y)))]
        + np.arange(n_boot)[:, None] * gc.counts.size
    )
    by_rows = np.bincount(picks.ravel(), minlength=n_boot * gc.counts.size).reshape(by_counts.shape)
    assert (by_counts.sum(axis=(1, 2)) == len(y)).all()
    _, tables = build_tables(gc)
    for table in tables:
        m = len(table.groups)
        stats_c = confusion_metrics(aggregate_cells(by_counts, table.cell_group, m))
        stats_r = confusion_metrics(aggregate_cells(by_rows, table.cell_group, m))
        for metric in ("selection_rate", "true_positive_rate", "f1", "balanced_accuracy"):
            for g in range(m):
                c, r = stats_c[metric][:, g], stats_r[metric][:, g]
                c, r = c[~np.isnan(c)], r[~np.isnan(r)]
                sd = r.std()
                assert abs(c.mean() - r.mean()) < 4 * sd * math.sqrt(2 / n_boot)
                assert c.std() == pytest.approx(sd, rel=0.1)
                assert scipy_stats.ks_2samp(c, r).pvalue > 1e-3


def test_aggregate_matches_add_at():
    draws = np.random.default_rng(0).integers(0, 9, size=(5, 6, 4))
    cell_group = np.array([0, 2, 1, 2, 0, 1])
    expected = np.zeros((5, 3, 4))
    np.add.at(expected, (slice(None), cell_group), draws)
    assert np.array_equal(aggregate_cells(draws, cell_group, 3), expected)
    assert aggregate_cells(draws, np.arange(6), 6) is draws


def test_count_bootstrap_agrees_with_fairlearn_metricframe():
    fairlearn_metrics = pytest.importorskip("fairlearn.metrics")

    def sel(y_true, y_pred):
        return float(np.mean(y_pred))

    def f1(y_true, y_pred):
        tp = np.sum(y_true & y_pred)
        return float(2 * tp / (2 * tp + np.sum(y_true != y_pred)))

    rng = np.random.default_rng(5)
    n = 400
    sf = np.where(rng.random(n) < 0.5, "a", "b")
    y = rng.random(n) < 0.45
    y_pred = np.where(rng.random(n) < 0.8, y, ~y)
    mf = fairlearn_metrics.MetricFrame(
        metrics={"selection_rate": sel, "f1": f1},
        y_true=y,
        y_pred=y_pred,
        sensitive_features=pd.Series(sf, name="g"),
        n_boot=200,
        ci_quantiles=[0.025, 0.975],
        random_state=0,
    )
    codes = (sf == "b").astype(np.int64)
    gc = count_groups(["g"], [codes], [["a", "b"]], y, y_pred)
    _, tables = build_tables(gc)
    ours = compute_uncertainty(gc, tables, [], n_resamples=5000, seed=3)
    # The headline interval is no longer fairlearn's bootstrap (it did not cover 0 under
    # no disparity); test_headline_interval_is_the_sidak_wilson_construction checks it.
    draws = np.concatenate(list(bootstrap_counts(gc.counts, 5000, np.random.default_rng(4))))
    boot = confusion_metrics(draws)
    for metric in ("selection_rate", "f1"):
        ours_boot = percentile_interval(boot[metric])
        expected = np.array([[mf.by_group_ci[q].loc[g, metric] for q in (0, 1)] for g in "ab"])
        assert ours_boot == pytest.approx(expected, abs=0.03)
        # The analytic interval we report agrees with the bootstrap at this size.
        assert ours.group_ci["g"][metric] == pytest.approx(expected, abs=0.03)


def test_score_layout_equals_metrics_on_expanded_rows():
    rng = np.random.default_rng(3)
    n = 300
    group = rng.integers(0, 3, n)
    y = rng.random(n) < 0.4
    for score in (rng.integers(0, 10, n) / 10.0, rng.random(n)):  # with and without ties
        weights = rng.integers(0, 4, (n, 5)).astype(np.float64)
        result = ScoreLayout(y, score, group, 3).evaluate(weights)
        for k in range(5):
            rows = np.repeat(np.arange(n), weights[:, k].astype(np.int64))
            g, yy, s = group[rows], y[rows], score[rows]
            assert result["roc_auc"][k] == pytest.approx(grouped_roc_auc(g, 3, yy, s))
            assert result["brier_score"][k] == pytest.approx(
                grouped_brier_score(g, 3, yy.astype(np.float64), s)
            )


# --------------------------------------------------------------------------- score metrics


def brute_force_delong(y: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """Return (AUC, DeLong variance) from the structural components, by O(n^2) loops."""
    positives, negatives = score[y], score[~y]
    m, n = len(positives), len(negatives)
    psi = [[1.0 if x > w else 0.5 if x == w else 0.0 for w in negatives] for x in positives]
    auc = sum(map(sum, psi)) / (m * n)
    v10 = [sum(row) / n for row in psi]
    v01 = [sum(psi[i][j] for i in range(m)) / m for j in range(n)]
    s10 = sum((v - auc) ** 2 for v in v10) / (m - 1)
    s01 = sum((v - auc) ** 2 for v in v01) / (n - 1)
    return auc, s10 / m + s01 / n


def test_delong_matches_brute_force_structural_components():
    rng = np.random.default_rng(4)
    n = 240
    group = rng.integers(0, 4, n)
    y = rng.random(n) < 0.4
    y[group == 3] = False
    y[np.flatnonzero(group == 3)[0]] = True  # group 3: one positive, variance undefined
    for score in (rng.integers(0, 6, n) / 6 + 0.3 * y, rng.normal(size=n) + y):  # ties or not
        auc, variance, n_pos, n_neg = delong_auc(group, 5, y, score)
        for k in range(3):
            expected_auc, expected_variance = brute_force_delong(y[group == k], score[group == k])
            assert auc[k] == pytest.approx(expected_auc, rel=1e-12)
            assert variance[k] == pytest.approx(expected_variance, rel=1e-10)
        assert auc[:4] == pytest.approx(grouped_roc_auc(group, 4, y, score), rel=1e-12)
        assert not np.isnan(auc[3]) and np.isnan(variance[3])
        assert np.isnan(auc[4]) and n_pos[4] == n_neg[4] == 0  # an empty group
        assert n_pos[:4] + n_neg[:4] == pytest.approx(np.bincount(group))


def test_score_intervals_agree_with_the_row_bootstrap():
    # The stratified row bootstrap these intervals replaced: SDs within 10%, and
    # 95% intervals close to its percentile intervals at this size.
    rng = np.random.default_rng(5)
    n = 3000
    group = rng.integers(0, 3, n)
    y = rng.random(n) < 0.3 + 0.1 * group
    score = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.2 * y)))
    boot = bootstrap_score_metrics(
        y, score, group, [np.arange(3)], n_resamples=2000, rng=np.random.default_rng(6)
    )[0]
    auc = roc_auc_estimates(group, 3, y, score)
    brier = brier_estimates(group, 3, y, score)
    for estimate, metric in ((auc, "roc_auc"), (brier, "brier_score")):
        assert np.sqrt(estimate.variance) == pytest.approx(boot[metric].std(axis=0), rel=0.1)
        assert estimate.interval == pytest.approx(percentile_interval(boot[metric]), abs=0.005)


def test_auc_interval_on_the_logit_scale_and_at_the_boundary():
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1], dtype=bool)
    score = np.arange(8.0)
    auc, variance, _, _ = delong_auc(np.zeros(8, np.int64), 1, y, score)
    assert auc[0] == pytest.approx(15 / 16)
    logit, se = math.log(15), math.sqrt(variance[0]) / (15 / 16 * 1 / 16)
    expected = [1 / (1 + math.exp(-(logit + sign * 1.959964 * se))) for sign in (-1, 1)]
    estimate = roc_auc_estimates(np.zeros(8, np.int64), 1, y, score)
    assert estimate.interval[0] == pytest.approx(expected, rel=1e-6)
    assert 0 < estimate.interval[0, 0] < 15 / 16 < estimate.interval[0, 1] < 1
    # Perfect separation: zero DeLong variance, so the Wilson bound with min(4, 4) trials.
    perfect = roc_auc_estimates(np.zeros(8, np.int64), 1, np.arange(8) >= 4, score)
    assert perfect.value[0] == 1.0
    assert perfect.interval[0] == pytest.approx(wilson_interval(4, 4))
    assert perfect.variance[0] > 0
    # One positive: AUC defined, interval not.
    single = roc_auc_estimates(np.zeros(8, np.int64), 1, np.arange(8) == 5, score)
    assert single.value[0] == pytest.approx(5 / 7) and np.isnan(single.interval).all()


def test_brier_interval_by_hand():
    y = np.array([1.0, 0.0, 1.0, 0.0])
    score = np.array([0.9, 0.2, 0.6, 0.5])
    errors = (score - y) ** 2  # 0.01, 0.04, 0.16, 0.25
    estimate = brier_estimates(np.zeros(4, np.int64), 1, y, score)
    half = 1.959964 * errors.std(ddof=1) / 2
    assert estimate.value[0] == pytest.approx(0.115)
    assert estimate.interval[0] == pytest.approx([0.115 - half, 0.115 + half], rel=1e-6)
    assert estimate.variance[0] == pytest.approx(errors.var(ddof=1) / 4)
    # Clipped at 0; undefined for a single row.
    near_perfect = brier_estimates(np.array([0, 0, 0, 1]), 2, y, np.array([1.0, 0.0, 0.5, 0]))
    assert near_perfect.interval[0, 0] == 0.0
    assert np.isnan(near_perfect.interval[1]).all() and near_perfect.value[1] == 0.0


def test_wald_difference_and_z_test():
    (low, high), p = wald_difference(0.80, 0.02**2, 0.70, 0.03**2, 0.95)
    se = math.hypot(0.02, 0.03)
    assert (low, high) == pytest.approx((0.1 - 1.959964 * se, 0.1 + 1.959964 * se))
    assert p == pytest.approx(2 * scipy_stats.norm.sf(0.1 / se))
    assert wald_difference(0.5, 0.0, 0.5, 0.0, 0.95) == ((0.0, 0.0), 1.0)
    assert math.isnan(wald_difference(0.5, float("nan"), 0.4, 0.01, 0.95)[1])


# --------------------------------------------------------------------------- end to end


def test_compute_uncertainty_by_hand_two_groups():
    group = [20, 10, 15, 55]  # 100 rows, selection rate 0.65
    reference = [60, 10, 10, 20]  # 100 rows, selection rate 0.30
    tables, rows, u = audit(two_group_counts(group, reference))
    sr = u.group_ci["grp"]["selection_rate"]
    assert sr[0] == pytest.approx(wilson_interval(65, 100))
    assert sr[1] == pytest.approx(wilson_interval(30, 100))
    assert u.overall_ci["selection_rate"] == pytest.approx(tuple(wilson_interval(95, 200)))
    assert len(u.disparities) == len(rows)
    j = next(k for k, r in enumerate(rows) if r.metric == "selection_rate")
    d = u.disparities[j]
    assert d.ci_difference == pytest.approx(tuple(newcombe_interval(65, 100, 30, 100)))
    assert d.ci_ratio == pytest.approx(tuple(mover_ratio_interval(65, 100, 30, 100)))
    assert d.p_value == pytest.approx(proportion_test(65, 100, 30, 100))
    assert d.significance == "significant"
    # Holm runs over the distinct hypotheses: no base_rate, no exact complements.
    p = np.array([x.p_value for x in u.disparities])
    family = [k for k, r in enumerate(rows) if r.metric not in ("base_rate", *COMPLEMENTS)]
    assert u.method["family"]["size"] == len(family) == len(rows) - 5
    adjusted = np.array([x.p_value_adjusted for x in u.disparities])
    assert adjusted[family] == pytest.approx(holm_adjust(p[family]))
    by_metric = {r.metric: k for k, r in enumerate(rows)}
    for complement, counterpart in COMPLEMENTS.items():
        a, b = by_metric[complement], by_metric[counterpart]
        assert p[a] == pytest.approx(p[b]) and adjusted[a] == adjusted[b]
    base = u.disparities[by_metric["base_rate"]]
    assert base.p_value_adjusted == base.p_value and "describes the data" in base.note
    # f1 tests equal J = tp / (tp + fp + fn): 55/80 vs 20/40.
    f1 = u.disparities[next(k for k, r in enumerate(rows) if r.metric == "f1")]
    assert f1.p_value == pytest.approx(proportion_test(55, 80, 20, 40))
    # Every interval contains its point estimate.
    for metric in METRICS:
        values = tables[0].values[metric]
        ci = u.group_ci["grp"][metric]
        assert (ci[:, 0] <= values + 1e-12).all() and (values <= ci[:, 1] + 1e-12).all()
    for row, d in zip(rows, u.disparities, strict=True):
        assert d.ci_difference[0] <= row.difference <= d.ci_difference[1]
        assert d.ci_ratio[0] <= row.ratio <= d.ci_ratio[1]
    assert u.method["confidence"] == 0.95 and u.method["resamples"] == 1000
    assert u.method["seed"] == 0 and u.method["correction"] == "holm"


def test_equal_groups_are_within_noise():
    _, _, u = audit(two_group_counts([40, 10, 10, 40], [41, 9, 11, 39]))
    assert {d.significance for d in u.disparities} == {"within noise"}


def test_small_group_and_undefined_values_are_insufficient_data():
    # The group has 20 rows (< 30); no true positives there, so precision is defined but
    # the group's true positive rate is 0/0.
    tables, rows, u = audit(two_group_counts([15, 5, 0, 0], [60, 10, 10, 20]))
    assert {d.significance for d in u.disparities} == {"insufficient data"}
    assert all(math.isnan(d.p_value_adjusted) for d in u.disparities)
    assert np.isnan(u.group_ci["grp"]["true_positive_rate"][0]).all()
    tpr = u.disparities[next(k for k, r in enumerate(rows) if r.metric == "true_positive_rate")]
    assert all(math.isnan(x) for x in (*tpr.ci_difference, *tpr.ci_ratio, tpr.p_value))
    # A ratio to a reference value of 0 is undefined; the difference is not.
    _, rows, u = audit(two_group_counts([30, 10, 10, 30], [50, 0, 10, 40]))
    fpr = u.disparities[next(k for k, r in enumerate(rows) if r.metric == "false_positive_rate")]
    assert np.isnan(fpr.ci_ratio).all() and not np.isnan(fpr.ci_difference).any()
    assert fpr.significance in {"significant", "within noise"}


def test_min_group_size_is_configurable():
    _, _, u = audit(two_group_counts([15, 5, 5, 15], [60, 10, 10, 20]), min_group_size=10)
    assert "insufficient data" not in {d.significance for d in u.disparities}


def full_audit(seed: int = 0, **kwargs):
    a, b, y, score, y_pred = random_rows(3000, seed=11)
    gc = count_groups(
        ["a", "b"], [a, b], [["x", "y", "z"], ["m", "f"]], y, y_pred, with_row_cells=True
    )
    _, tables = build_tables(gc, y_true=y, score=score, codes=[a, b])
    rows = [r for t in tables for r in disparities_vs_reference(t, METRICS + list(SCORE_METRICS))]
    u = compute_uncertainty(gc, tables, rows, seed=seed, y_true=y, score=score, **kwargs)
    return tables, rows, u


def test_every_table_gets_intervals_scores_included():
    tables, rows, u = full_audit()
    assert [t.name for t in tables] == ["a", "b", "intersection"]
    for table in tables:
        cis = u.group_ci[table.name]
        assert set(cis) == set(METRICS) | set(SCORE_METRICS)
        for metric, ci in cis.items():
            assert ci.shape == (len(table.groups), 2)
            values = table.values[metric]
            # Analytic intervals contain their estimate; percentile ones do here in practice.
            assert ((ci[:, 0] <= values) & (values <= ci[:, 1])).all(), metric
        point = headline_metrics(table)
        for name in HEADLINE_METRICS:
            low, high = u.headline_ci[table.name][name]
            assert low <= high and not math.isnan(low), name
            assert abs(point[name] - (low + high) / 2) < high - low, name
    assert set(u.overall_ci) == set(METRICS) | set(SCORE_METRICS)
    verdicts = {
        (r.feature, r.metric, r.group["a"]): d.significance
        for r, d in zip(rows, u.disparities, strict=True)
        if r.feature == "a"
    }
    # Scores fall with a's level, so a=z is selected markedly less often than a=x.
    assert verdicts[("a", "selection_rate", "z")] == "significant"
    assert "within noise" in verdicts.values()
    score_rows = [d for r, d in zip(rows, u.disparities, strict=True) if r.metric == "roc_auc"]
    assert all(0 <= d.p_value <= 1 for d in score_rows)
    assert u.method["intervals"]["score"] == "delong-logit (roc_auc), clt (brier_score)"


def test_score_disparities_use_wald_differences_and_mover_ratios():
    a, _, y, score, _ = random_rows(3000, seed=11)
    tables, rows, u = full_audit()
    table = tables[0]  # feature a; reference x (the largest group)
    for metric, estimator in (("roc_auc", roc_auc_estimates), ("brier_score", brier_estimates)):
        estimate = estimator(a, 3, y, score)
        assert u.group_ci["a"][metric] == pytest.approx(estimate.interval)
        assert table.values[metric] == pytest.approx(estimate.value)
        r = table.reference
        for row, d in zip(rows, u.disparities, strict=True):
            if row.feature != "a" or row.metric != metric:
                continue
            i = next(k for k, g in enumerate(table.groups) if g == row.group)
            interval, p = wald_difference(
                estimate.value[i],
                estimate.variance[i],
                estimate.value[r],
                estimate.variance[r],
                0.95,
            )
            assert d.ci_difference == pytest.approx(interval) and d.p_value == pytest.approx(p)
            ratio = mover_ratio(
                estimate.value[i], estimate.interval[i], estimate.value[r], estimate.interval[r]
            )
            assert d.ci_ratio == pytest.approx(tuple(ratio))
    # Decision values: no Brier score, so no interval either; ROC AUC is unaffected.
    _, _, u_decision = full_audit(score_is_probability=False)
    assert np.isnan(u_decision.group_ci["a"]["brier_score"]).all()
    assert u_decision.group_ci["a"]["roc_auc"] == pytest.approx(u.group_ci["a"]["roc_auc"])


def test_same_seed_same_results_other_seed_differs():
    _, _, first = full_audit(seed=7, n_resamples=200)
    _, _, again = full_audit(seed=7, n_resamples=200)
    _, _, other = full_audit(seed=8, n_resamples=200)
    assert json.dumps(uncertainty_to_json(first)) == json.dumps(uncertainty_to_json(again))
    # Nothing resamples any more: the seed changes no interval or test.
    assert first.headline_ci == other.headline_ci
    assert first.disparities == other.disparities
    assert np.array_equal(first.group_ci["a"]["roc_auc"], again.group_ci["a"]["roc_auc"])


def test_json_form_uses_null_for_undefined():
    _, rows, u = audit(two_group_counts([15, 5, 0, 0], [60, 10, 10, 20]))
    data = json.loads(json.dumps(uncertainty_to_json(u), allow_nan=False))
    assert data["group_ci"]["grp"]["true_positive_rate"] == [
        None,
        pytest.approx(list(wilson_interval(20, 30))),
    ]
    assert data["group_ci"]["grp"]["roc_auc"] == [None, None]
    tpr = data["disparities"][
        next(k for k, r in enumerate(rows) if r.metric == "true_positive_rate")
    ]
    assert tpr == {
        "ci_difference": None,
        "ci_ratio": None,
        "p_value": None,
        "p_value_adjusted": None,
        "significance": "insufficient data",
        "note": None,
    }
    assert data["method"]["resamples"] == 1000


@pytest.mark.parametrize("confidence", [1.0, 0, -0.5, 95, float("nan"), "0.95", True])
def test_bad_confidence_is_a_config_error(confidence):
    gc = two_group_counts([40, 10, 10, 40], [41, 9, 11, 39])
    _, tables = build_tables(gc)
    with pytest.raises(ConfigError) as err:
        compute_uncertainty(gc, tables, [], confidence=confidence)
    assert str(err.value) == BAD_CONFIDENCE.format(value=confidence)


@pytest.mark.parametrize("n_resamples", [99, 0, -1000, 500.5, float("inf"), float("nan"), "1000"])
def test_bad_resamples_is_a_config_error(n_resamples):
    gc = two_group_counts([40, 10, 10, 40], [41, 9, 11, 39])
    _, tables = build_tables(gc)
    with pytest.raises(ConfigError) as err:
        compute_uncertainty(gc, tables, [], n_resamples=n_resamples)
    assert str(err.value) == BAD_RESAMPLES.format(value=n_resamples)
    assert "fewer give unstable percentile intervals" in str(err.value)


def test_smallest_resamples_and_whole_floats_are_accepted():
    gc = two_group_counts([40, 10, 10, 40], [41, 9, 11, 39])
    _, tables = build_tables(gc)
    assert compute_uncertainty(gc, tables, [], n_resamples=100).method["resamples"] == 100
    assert compute_uncertainty(gc, tables, [], n_resamples=200.0).method["resamples"] == 200


def test_inconsistent_disparity_rows_raise():
    gc = two_group_counts([40, 10, 10, 40], [41, 9, 11, 39])
    _, tables = build_tables(gc)
    rows = disparities_vs_reference(tables[0], ["selection_rate"])
    with pytest.raises(ValueError) as err:
        compute_uncertainty(gc, tables[:0], rows)
    assert str(err.value) == UNKNOWN_TABLE.format(name="grp")


# --------------------------------------------------------------------------- headline intervals


def _wilson_by_hand(x: int, n: int, confidence: float) -> tuple[float, float]:
    """Wilson's score interval, written out from its formula."""
    z = scipy_stats.norm.ppf(0.5 + confidence / 2)
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_headline_interval_is_the_sidak_wilson_construction():
    # Three groups (tn, fp, fn, tp): selection, TPR and FPR rates all differ.
    counts = np.array([[40, 10, 5, 45], [50, 20, 10, 20], [30, 5, 15, 50]])
    gc = GroupCounts(("g",), (("a", "b", "c"),), np.array([[0], [1], [2]]), counts)
    _, tables = build_tables(gc)
    u = compute_uncertainty(gc, tables, [], confidence=0.9)
    got = u.headline_ci["g"]

    def bounds(pairs):
        lows, highs = [p[0] for p in pairs], [p[1] for p in pairs]
        difference = (max(0.0, max(lows) - min(highs)), max(highs) - min(lows))
        ratio = (min(lows) / max(highs), min(1.0, min(highs) / max(lows)))
        return difference, ratio

    def family(x, n, k):
        return [_wilson_by_hand(int(a), int(b), 0.9 ** (1 / k)) for a, b in zip(x, n)]

    tn, fp, fn, tp = counts.T
    sr = bounds(family(tp + fp, counts.sum(1), 3))
    tpr = bounds(family(tp, tp + fn, 3))
    odds_tpr, odds_fpr = bounds(family(tp, tp + fn, 6)), bounds(family(fp, fp + tn, 6))
    expected = {
        "demographic_parity_difference": sr[0],
        "demographic_parity_ratio": sr[1],
        "equal_opportunity_difference": tpr[0],
        "equal_opportunity_ratio": tpr[1],
        "equalized_odds_difference": tuple(max(a, b) for a, b in zip(odds_tpr[0], odds_fpr[0])),
        "equalized_odds_ratio": tuple(min(a, b) for a, b in zip(odds_tpr[1], odds_fpr[1])),
    }
    for name, pair in expected.items():
        assert got[name] == pytest.approx(pair, abs=1e-12), name
    assert u.method["intervals"]["headline"] == "sidak-simultaneous-wilson-bounds"
    # The point value lies inside; with k = 1 there is no headline value, so no interval.
    point = headline_metrics(tables[0])
    assert all(got[n][0] <= point[n] <= got[n][1] for n in HEADLINE_METRICS)
    one = GroupCounts(("g",), (("a",),), np.array([[0]]), counts[:1])
    _, one_table = build_tables(one)
    lone = compute_uncertainty(one, one_table, []).headline_ci["g"]
    assert all(np.isnan(lone[n]).all() for n in HEADLINE_METRICS)


def test_headline_interval_covers_zero_where_the_bootstrap_did_not():
    # Two groups of 200 with the same selection rate 0.3: the true difference is 0 and the
    # true ratio 1. The old percentile count bootstrap excluded 0 almost always.
    rng = np.random.default_rng(2024)
    reps, n = 300, 200
    new_cover = old_cover = 0
    for _ in range(reps):
        selected = rng.binomial(n, 0.3, size=2)
        # Predictions independent of labels: tn, fp, fn, tp with y ~ Bernoulli(0.5).
        positives = rng.binomial(n, 0.5, size=2)
        tp = rng.hypergeometric(selected, n - selected, positives)
        counts = np.stack([n - positives - (selected - tp), selected - tp, positives - tp, tp], 1)
        gc = GroupCounts(("g",), (("a", "b"),), np.array([[0], [1]]), counts)
        _, tables = build_tables(gc)
        ci = compute_uncertainty(gc, tables, []).headline_ci["g"]
        low, high = ci["demographic_parity_difference"]
        ratio_low, ratio_high = ci["demographic_parity_ratio"]
        new_cover += low <= 0 <= high and ratio_low <= 1 <= ratio_high
        draws = np.concatenate(list(bootstrap_counts(counts, 200, rng)))
        old = headline_draws(confusion_metrics(draws))["demographic_parity_difference"]
        old_low, old_high = percentile_interval(old[:, None])[0]
        old_cover += old_low <= 0 <= old_high
    assert new_cover / reps >= 0.93
    assert old_cover / reps < 0.05


# --------------------------------------------------------------------------- balanced accuracy


def test_balanced_accuracy_p_value_inverts_the_interval():
    # 40 rows with 4 negatives, all classified right (TPR = TNR = 1), against a reference
    # of 40 with TPR 0.9 and TNR 0.8: the count bootstrap gave p ~ 0.006, "significant",
    # while the TNR difference behind it (4/4 vs 16/20) is within noise.
    group, reference = [4, 0, 0, 36], [16, 4, 2, 18]
    tables, rows, u = audit(two_group_counts(group, reference), min_group_size=1)
    j = next(k for k, r in enumerate(rows) if r.metric == "balanced_accuracy")
    d = u.disparities[j]
    draws = np.concatenate(
        list(bootstrap_counts(np.array([group, reference]), 2000, np.random.default_rng(0)))
    )
    ba = confusion_metrics(draws)["balanced_accuracy"]
    old_p = bootstrap_p_value(ba[:, :1] - ba[:, 1:])[0]
    assert old_p < 0.05  # the case the issue quotes
    assert d.ci_difference[0] < 0 < d.ci_difference[1]
    assert d.p_value > 0.05 and d.significance == "within noise"
    # Inverting: at confidence 1 - p the MOVER interval's lower bound is 0.
    c = 1 - d.p_value
    lim_g = analytic_interval(np.array(group), "balanced_accuracy", c)
    lim_r = analytic_interval(np.array(reference), "balanced_accuracy", c)
    b_g, b_r = tables[0].values["balanced_accuracy"]
    low = (b_g - b_r) - math.sqrt((b_g - lim_g[0]) ** 2 + (lim_r[1] - b_r) ** 2)
    assert low == pytest.approx(0, abs=1e-8)
    assert u.method["tests"]["balanced_accuracy"] == "inverted-mover-interval"


def test_balanced_accuracy_p_value_edge_cases():
    assert balanced_accuracy_test(np.array([5, 5, 5, 5]), np.array([5, 5, 5, 5])) == 1.0
    assert np.isnan(balanced_accuracy_test(np.array([5, 5, 0, 0]), np.array([5, 5, 5, 5])))
    far = balanced_accuracy_test(np.array([900, 100, 100, 900]), np.array([500, 500, 500, 500]))
    assert 0 <= far < 1e-12


# --------------------------------------------------------------------------- family and notes


def test_note_when_the_interval_excludes_the_null_but_holm_does_not_reject():
    # Selection 0.66 vs 0.50 on 100 rows each: Newcombe's interval excludes 0 (p ~ 0.02),
    # but not after Holm over the family.
    tables, rows, u = audit(two_group_counts([20, 14, 14, 52], [40, 10, 10, 40]))
    d = u.disparities[next(k for k, r in enumerate(rows) if r.metric == "selection_rate")]
    assert d.ci_difference[0] > 0 and d.p_value < 0.05
    assert d.significance == "within noise"
    size = u.method["family"]["size"]
    assert d.note == (
        f"the 95% interval excludes no difference, but the test adjusted for {size} "
        "comparisons (Holm) does not reject"
    )
    j = next(k for k, r in enumerate(rows) if r.metric == "selection_rate")
    assert uncertainty_to_json(u)["disparities"][j]["note"] == d.note


def test_rates_below_min_denominator_are_outside_the_test_family():
    """Issue 14 §3/§4: the Holm family counted disparities whose rate had too few rows
    behind it, which the audit then reported as 'insufficient data' anyway."""
    # Group g: 60 negatives, 4 positives (TPR, FNR and balanced accuracy have 4 behind them).
    counts = two_group_counts([50, 10, 1, 3], [40, 10, 20, 30])
    _, rows, everything = audit(counts, min_denominator=0)
    _, _, sufficient = audit(counts, min_denominator=10)
    small = {"true_positive_rate", "false_negative_rate", "balanced_accuracy", "roc_auc"}
    dropped = [r.metric for r in rows if r.metric in small]
    # TPR and its exact complement FNR are one hypothesis; balanced accuracy is another.
    expected = {"true_positive_rate", "balanced_accuracy"} & set(dropped)
    assert everything.method["family"]["size"] - sufficient.method["family"]["size"] == len(
        expected
    )
    for row, d in zip(rows, sufficient.disparities, strict=True):
        assert (d.significance == "insufficient data") == (row.metric in small), row.metric


# --------------------------------------------------------------------------- interval as evidence


def test_all_zero_predictions_no_longer_pass_an_interval_rule(tmp_path):
    # Two groups of 40, every prediction 0: demographic_parity_difference = 0. The old
    # bootstrap interval was [0, 0], which "passed" max = 0.05 as evidence.
    rows = ["y,pred,grp"] + [f"{i % 2},0,{'a' if i < 40 else 'b'}" for i in range(80)]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    rule = '[[rule]]\nmetric = "demographic_parity_difference"\nmax = 0.05\nevidence = "interval"\n'
    (tmp_path / "policy.toml").write_text(rule, encoding="utf-8")
    spec = AuditSpec(
        data=tmp_path / "data.csv",
        target="y",
        sensitive=("grp",),
        prediction_col="pred",
        policy=(str(tmp_path / "policy.toml"),),
        mitigations=(),
    )
    result = run_audit(spec).to_dict()
    # Each group's Wilson upper limit for 0/40 at Sidak's level 0.95 ** (1/2).
    upper = _wilson_by_hand(0, 40, 0.95**0.5)[1]
    (outcome,) = result["policy"]["rules"][0]["outcomes"]
    assert outcome["interval"] == pytest.approx([0.0, upper])
    assert outcome["status"] == "fail" and result["policy"]["verdict"] == "fail"
    # A zero-width interval is not evidence: not evaluable, never a pass.
    policy = load_policy([str(tmp_path / "policy.toml")])
    for entry in result["headline"]:
        if entry["metric"] == "demographic_parity_difference":
            entry["ci"] = [0.0, 0.0]
    (degenerate,) = evaluate_policy(policy, result).rules[0].outcomes
    assert degenerate.status == NOT_EVALUABLE and "zero width" in degenerate.reason


def test_headline_interval_leaves_out_rates_below_min_denominator():
    # Group c has 2 positives: with min_denominator 10 its TPR enters no headline interval
    # (as headline_metrics(table, 10) leaves it out); its selection rate (40 rows) does.
    counts = np.array([[40, 10, 5, 45], [50, 20, 10, 20], [30, 8, 1, 1]])
    without_c = headline_intervals(counts[:2], 0.95)
    with_c = headline_intervals(counts, 0.95)
    restricted = headline_intervals(counts, 0.95, min_denominator=10)
    assert restricted["equal_opportunity_difference"] == without_c["equal_opportunity_difference"]
    assert restricted["demographic_parity_difference"] == with_c["demographic_parity_difference"]
    # Equalized odds: 2 TPRs and 3 FPRs enter, so the Sidak level is 0.95 ** (1 / 5).
    level = 0.95 ** (1 / 5)
    fpr = [_wilson_by_hand(int(fp), int(fp + tn), level) for tn, fp, _, _ in counts]
    tpr = [_wilson_by_hand(int(tp), int(tp + fn), level) for _, _, fn, tp in counts[:2]]
    upper = max(
        max(u for _, u in tpr) - min(lo for lo, _ in tpr),
        max(u for _, u in fpr) - min(lo for lo, _ in fpr),
    )
    assert restricted["equalized_odds_difference"][1] == pytest.approx(upper, abs=1e-12)
