"""The Measurement: every number of an audit from per-group statistics, checked by hand and
against fairlearn's MetricFrame."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equalized_odds_ratio,
    selection_rate,
    true_positive_rate,
)

from fairaudit.counts import count_groups
from fairaudit.errors import ConfigError
from fairaudit.measure import (
    MSG_REFERENCE_HAS_NO_ROWS,
    WORSE_OFF_METRICS,
    BinaryCounts,
    Measurement,
)
from fairaudit.vocabulary import CONFUSION_METRICS, INTERSECTION, RATIO_BAND

# Group a (40 rows): tp 16, fn 4, fp 4, tn 16 -> selection rate 0.5, TPR 0.8.
# Group b (30 rows): tp 6, fn 9, fp 3, tn 12 -> selection rate 0.3, TPR 0.4.
# Group c (10 rows): tp 0, fn 5, fp 0, tn 5 -> selection rate 0, TPR 0.
CELLS_BY_GROUP = {"a": (16, 4, 4, 16), "b": (6, 9, 3, 12), "c": (0, 5, 0, 5)}


def _rows() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (group code, y_true, y_pred) of the three groups above."""
    group, y, p = [], [], []
    for code, (tp, fn, fp, tn) in enumerate(CELLS_BY_GROUP.values()):
        for label, pred, n in ((1, 1, tp), (1, 0, fn), (0, 1, fp), (0, 0, tn)):
            group += [code] * n
            y += [label] * n
            p += [pred] * n
    return np.array(group), np.array(y), np.array(p)


def _measurement(**options: object) -> Measurement:
    group, y, p = _rows()
    counts = count_groups(["g"], [group], [list(CELLS_BY_GROUP)], y, p)
    return Measurement(BinaryCounts(counts), **options)  # type: ignore[arg-type]


def _two_features() -> tuple[Measurement, pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    n = 600
    sex = rng.integers(0, 2, n)
    age = rng.integers(0, 3, n)
    y = rng.integers(0, 2, n)
    p = (rng.random(n) < 0.3 + 0.2 * sex + 0.1 * age).astype(int)
    levels = [["female", "male"], ["young", "middle", "old"]]
    counts = count_groups(["sex", "age"], [sex, age], levels, y, p)
    frame = pd.DataFrame(
        {
            "sex": np.array(levels[0], dtype=object)[sex],
            "age": np.array(levels[1], dtype=object)[age],
        }
    )
    return Measurement(BinaryCounts(counts), min_group_size=1), frame, y, p


def test_by_group_rows_follow_the_counts_by_hand() -> None:
    m = _measurement()
    assert m.groupings == ["g"]
    assert m.metric_names == [name for name in CONFUSION_METRICS if name != "count"]
    rows = {r["group"]["g"]: r for r in m.by_group}
    assert rows["a"]["confusion"] == {"tn": 16, "fp": 4, "fn": 4, "tp": 16}
    assert rows["b"]["metrics"]["selection_rate"] == pytest.approx(0.3)
    assert rows["b"]["metrics"]["true_positive_rate"] == pytest.approx(0.4)
    assert rows["a"]["reference"] and not rows["b"]["reference"]  # the largest group
    assert [r["insufficient_data"] for r in m.by_group] == [False, False, True]
    assert rows["c"]["single_class"] is False
    assert m.overall_json()["count"] == 80
    assert m.overall["selection_rate"] == pytest.approx((20 + 9 + 0) / 80)
    assert m.reference_groups() == {"g": {"g": "a"}}


def test_disparities_are_group_minus_and_over_reference() -> None:
    m = _measurement()
    d = {(r["group"]["g"], r["metric"]): r for r in m.disparities}
    b = d[("b", "selection_rate")]
    assert b["reference"] == {"g": "a"}
    assert b["difference"] == pytest.approx(0.3 - 0.5)
    assert b["ratio"] == pytest.approx(0.3 / 0.5)
    assert d[("c", "true_positive_rate")]["ratio"] == 0.0
    assert {metric for _, metric in d} == set(m.metric_names)
    assert not any(r["group"] == {"g": "a"} for r in m.disparities)


def test_tables_and_headline_equal_fairlearn() -> None:
    m, frame, y, p = _two_features()
    assert m.groupings == ["sex", "age", INTERSECTION]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for table in m.tables:
            columns = list(table.features)
            mf = MetricFrame(
                metrics={
                    "selection_rate": selection_rate,
                    "true_positive_rate": true_positive_rate,
                },
                y_true=y,
                y_pred=p,
                sensitive_features=frame[columns],
            )
            by_group = mf.by_group
            for row in (r for r in m.by_group if r["feature"] == table.name):
                key = tuple(row["group"][c] for c in columns)
                theirs = by_group.loc[key if len(key) > 1 else key[0]]
                for metric in ("selection_rate", "true_positive_rate"):
                    assert row["metrics"][metric] == pytest.approx(theirs[metric], abs=1e-12)
            headline = {h["metric"]: h["value"] for h in m.headline if h["feature"] == table.name}
            sf = frame[columns]
            assert headline["demographic_parity_difference"] == pytest.approx(
                demographic_parity_difference(y, p, sensitive_features=sf), abs=1e-12
            )
            assert headline["equalized_odds_ratio"] == pytest.approx(
                equalized_odds_ratio(y, p, sensitive_features=sf), abs=1e-12
            )
            # Each disparity is the group's value against the reference group's (by formula).
            ref = table.groups[table.reference]
            ref_key = tuple(ref[c] for c in columns)
            ref_sr = by_group.loc[ref_key if len(ref_key) > 1 else ref_key[0]]["selection_rate"]
            for d in m.disparities:
                if d["feature"] == table.name and d["metric"] == "selection_rate":
                    assert d["reference"] == ref
                    assert d["difference"] == pytest.approx(d["value"] - ref_sr, abs=1e-12)
                    assert d["ratio"] == pytest.approx(d["value"] / ref_sr, abs=1e-12)
    # Every cell is sufficient here, so the headline equals fairlearn's over all groups.
    assert all(h["excluded"] == [] for h in m.headline)


def test_worse_off_by_hand() -> None:
    worse = _measurement().worse_off()
    assert [(w["feature"], w["metric"]) for w in worse] == [
        ("g", "selection_rate"),
        ("g", "true_positive_rate"),
    ]
    sr, tpr = worse
    # Group c (10 rows) is below min_group_size, so b is the worst-off group.
    assert sr["group"] == {"g": "b"} and sr["count"] == 30
    assert sr["value"] == pytest.approx(0.3)
    assert sr["reference_group"] == {"g": "a"}
    assert sr["reference_value"] == pytest.approx(0.5)
    assert sr["ratio"] == pytest.approx(0.6)
    assert sr["difference"] == pytest.approx(-0.2)
    assert sr["below_band"] is (0.6 < RATIO_BAND[0])
    assert sr["ci_ratio"] is None and sr["significance"] is None  # no intervals asked for
    assert tpr["ratio"] == pytest.approx(0.5) and tpr["difference"] == pytest.approx(-0.4)


def test_worse_off_counts_small_groups_when_allowed() -> None:
    # Group c's TPR has 5 positives behind it: below min_denominator 10 it is left out (and
    # b is the worst off), at 5 it counts (issue 14 §3: updated for the new rule).
    sr, tpr = _measurement(min_group_size=5).worse_off()
    assert sr["group"] == {"g": "c"} and tpr["group"] == {"g": "b"}
    assert sr["ratio"] == 0.0 and sr["below_band"] is True
    sr, tpr = _measurement(min_group_size=5, min_denominator=5).worse_off()
    assert sr["group"] == tpr["group"] == {"g": "c"}


def test_worse_off_reference_group_is_compared_with_the_best_off() -> None:
    # Issue 14 §2: the reference group itself worst off (formerly ratio 1.0, not flagged).
    sr, tpr = _measurement(reference={"g": "b"}).worse_off()
    assert sr["group"] == sr["reference_group"] == {"g": "b"}
    assert sr["best_group"] == {"g": "a"} and sr["best_value"] == pytest.approx(0.5)
    assert sr["reference_value"] == sr["value"] == pytest.approx(0.3)
    assert sr["ratio"] == pytest.approx(0.3 / 0.5) and sr["difference"] == pytest.approx(-0.2)
    assert sr["below_band"] is True
    assert tpr["ratio"] == pytest.approx(0.4 / 0.8)


def _wage_regions(**options: object) -> Measurement:
    """Region as on the wage data: south, the largest group (the reference), is worst off."""
    rows = {"south": (500, 42), "west": (200, 34), "north": (300, 36)}  # (rows, selected)
    group, y, p = [], [], []
    for code, (n, selected) in enumerate(rows.values()):
        group += [code] * n
        p += [1] * selected + [0] * (n - selected)
        y += [1, 0] * (n // 2)
    counts = count_groups(["region"], [np.array(group)], [list(rows)], np.array(y), np.array(p))
    return Measurement(BinaryCounts(counts), **options)  # type: ignore[arg-type]


def test_wage_case_reference_worst_off_fails_four_fifths_in_the_summary() -> None:
    m = _wage_regions()
    sr = next(w for w in m.summary()["worse_off"] if w["metric"] == "selection_rate")
    assert sr["group"] == sr["reference_group"] == {"region": "south"}
    assert sr["best_group"] == {"region": "west"}
    assert sr["ratio"] == pytest.approx((42 / 500) / (34 / 200))  # 0.494
    assert sr["below_band"] is True
    # The same quantity as fairlearn's demographic_parity_ratio (min / max over groups).
    headline = {h["metric"]: h["value"] for h in m.headline}
    assert sr["ratio"] == pytest.approx(headline["demographic_parity_ratio"], abs=1e-15)
    assert -sr["difference"] == pytest.approx(headline["demographic_parity_difference"])
    m.add_uncertainty(confidence=0.95, n_resamples=200, seed=0)
    sr = m.worse_off()[0]
    versus = next(
        d for d in m.disparities
        if d["metric"] == "selection_rate" and d["group"] == {"region": "west"}
    )  # fmt: skip
    assert sr["significance"] == versus["significance"]  # the tested pair: west vs south
    low, high = sr["ci_ratio"]
    assert low < sr["ratio"] < high < 1


def test_worse_off_needs_two_groups_with_enough_data() -> None:
    assert _measurement(min_group_size=35).worse_off() == []


def test_summary_holds_the_band_and_the_worse_off_groups() -> None:
    m = _measurement()
    summary = m.summary()
    assert summary["ratio_band"] == list(RATIO_BAND)
    assert summary["worse_off"] == m.worse_off()
    assert {w["metric"] for w in summary["worse_off"]} == set(WORSE_OFF_METRICS)


def test_uncertainty_is_added_to_every_row_and_to_the_worse_off() -> None:
    m = _measurement()
    assert m.uncertainty_section() is None
    m.add_uncertainty(confidence=0.9, n_resamples=200, seed=1)
    assert all("ci" in r for r in m.by_group)
    assert all("significance" in d and "ci_ratio" in d for d in m.disparities)
    assert all("ci" in h for h in m.headline)
    section = m.uncertainty_section()
    assert section is not None
    assert (section["confidence"], section["resamples"], section["seed"]) == (0.9, 200, 1)
    verdicts = [d["significance"] for d in m.disparities]
    assert section["tested"] == verdicts.count("significant") + verdicts.count("within noise")
    assert section["summary"].endswith("Intervals are 90% confidence intervals.")
    sr = m.worse_off()[0]
    versus = next(
        d for d in m.disparities if d["metric"] == "selection_rate" and d["group"] == {"g": "b"}
    )
    # b against a, the best off and the reference: the audit's test and interval.
    assert sr["ci_ratio"] == pytest.approx(versus["ci_ratio"], abs=1e-12)
    adjusted_away = versus["significance"] == "within noise" and versus["note"]
    expected = "within noise after Holm adjustment" if adjusted_away else versus["significance"]
    assert sr["significance"] == expected
    low, high = sr["ci_ratio"]
    assert low < sr["ratio"] < high


def test_entry_compact_rows_keep_only_the_comparison_keys() -> None:
    m = _measurement()
    m.add_uncertainty(confidence=0.95, n_resamples=100, seed=0)
    full, compact = m.entry(), m.entry(compact=True)
    assert full["by_group"] is m.by_group
    assert [list(r) for r in compact["by_group"]] == [
        ["feature", "group", "count", "metrics", "ci"]
    ] * 3
    assert compact["metrics"]["overall"]["count"] == 80
    assert compact["metrics"]["overall_ci"] == m.uncertainty["overall_ci"]  # type: ignore[index]
    assert compact["disparities"] is m.disparities and compact["headline"] is m.headline


def test_checks_flag_small_groups_and_refuse_a_missing_reference() -> None:
    checks = {c.id: c for c in _measurement().checks()}
    assert checks["insufficient_data"].status == "warning"
    assert "g=c (10)" in checks["insufficient_data"].message
    group, y, p = _rows()
    counts = count_groups(["g"], [group], [[*CELLS_BY_GROUP, "empty"]], y, p)
    with pytest.raises(ConfigError) as raised:
        Measurement(BinaryCounts(counts), reference={"g": "empty"}).checks()
    assert str(raised.value) == MSG_REFERENCE_HAS_NO_ROWS.format(wanted="g='empty'")


def test_metrics_option_limits_the_disparities() -> None:
    m = _measurement(metrics=["selection_rate"])
    assert {d["metric"] for d in m.disparities} == {"selection_rate"}
    assert len(m.disparities) == 2
    assert math.isclose(m.worse_off()[0]["ratio"], 0.6)


# The résumé case (issue 14 §3), cell by cell: (a, b) -> (tp, fn, fp, tn).
RESUME_CELLS = {
    (0, 0): (30, 20, 10, 40),  # TPR 0.6, FPR 0.2, selection rate 0.4
    (0, 1): (25, 25, 15, 35),  # TPR 0.5, FPR 0.3, selection rate 0.4
    (1, 0): (1, 0, 8, 31),  # 1 positive: TPR 1.0; FPR 8/39; selection rate 9/40
    (1, 1): (0, 2, 0, 5),  # 7 rows, 2 positives: TPR 0, FPR 0, selection rate 0
}


def _resume(**options: object) -> Measurement:
    a, b, y, p = [], [], [], []
    for (ca, cb), (tp, fn, fp, tn) in RESUME_CELLS.items():
        for label, pred, n in ((1, 1, tp), (1, 0, fn), (0, 1, fp), (0, 0, tn)):
            a += [ca] * n
            b += [cb] * n
            y += [label] * n
            p += [pred] * n
    counts = count_groups(
        ["a", "b"],
        [np.array(a), np.array(b)],
        [["a0", "a1"], ["b0", "b1"]],
        np.array(y),
        np.array(p),
    )
    return Measurement(BinaryCounts(counts), min_group_size=1, **options)  # type: ignore[arg-type]


def _headline(m: Measurement, feature: str) -> dict[str, dict]:
    return {h["metric"]: h for h in m.headline if h["feature"] == feature}


def test_small_denominators_drove_the_headline_before() -> None:
    # min_denominator 0 is the old rule (every group, as fairlearn): 1 positive vs 2 positives
    # make equalized odds 1.000, and the 7-row cell makes the selection-rate ratio 0.000.
    old = _headline(_resume(min_denominator=0), INTERSECTION)
    assert old["equalized_odds_difference"]["value"] == 1.0
    assert old["demographic_parity_ratio"]["value"] == 0.0
    assert all(h["excluded"] == [] for h in old.values())


def test_headline_uses_only_sufficient_cells_and_lists_the_rest() -> None:
    new = _headline(_resume(), INTERSECTION)  # min_denominator 10, the default
    # Written out: TPR over cells with >= 10 positives (0.6, 0.5); FPR over cells with >= 10
    # negatives (0.2, 0.3, 8/39); selection rate over cells with >= 10 rows (0.4, 0.4, 9/40).
    tpr_diff, fpr_diff = 0.6 - 0.5, 0.3 - 0.2
    assert new["equalized_odds_difference"]["value"] == pytest.approx(max(tpr_diff, fpr_diff))
    assert new["equalized_odds_ratio"]["value"] == pytest.approx(min(0.5 / 0.6, 0.2 / 0.3))
    assert new["equal_opportunity_difference"]["value"] == pytest.approx(tpr_diff)
    assert new["demographic_parity_ratio"]["value"] == pytest.approx((9 / 40) / 0.4)
    assert new["demographic_parity_difference"]["value"] == pytest.approx(0.4 - 9 / 40)
    assert new["equalized_odds_difference"]["excluded"] == [
        {"group": {"a": "a1", "b": "b0"}, "metric": "true_positive_rate", "denominator": 1},
        {"group": {"a": "a1", "b": "b1"}, "metric": "true_positive_rate", "denominator": 2},
        {"group": {"a": "a1", "b": "b1"}, "metric": "false_positive_rate", "denominator": 5},
    ]
    assert new["demographic_parity_ratio"]["excluded"] == [
        {"group": {"a": "a1", "b": "b1"}, "metric": "selection_rate", "denominator": 7}
    ]
    # Feature a: a1 has 3 positives, so only a0's TPR is left and the TPR metrics are undefined.
    assert math.isnan(_headline(_resume(), "a")["equal_opportunity_ratio"]["value"])


def test_insufficient_rates_are_marked_in_rows_and_disparities_and_not_worse_off() -> None:
    m = _resume()
    rows = {tuple(r["group"].values()): r for r in m.by_group if r["feature"] == INTERSECTION}
    marked = rows[("a1", "b1")]["insufficient_metrics"]
    assert {"selection_rate", "true_positive_rate", "false_positive_rate"} <= set(marked)
    assert rows[("a0", "b0")]["insufficient_metrics"] == []
    assert rows[("a1", "b1")]["metrics"]["selection_rate"] == 0.0  # still shown, marked
    flagged = {
        (tuple(d["group"].values()), d["metric"])
        for d in m.disparities
        if d["feature"] == INTERSECTION and d["insufficient_data"]
    }
    assert (("a1", "b0"), "true_positive_rate") in flagged
    assert (("a1", "b0"), "false_positive_rate") not in flagged
    worse = {(w["feature"], w["metric"]): w for w in m.worse_off()}
    assert worse[(INTERSECTION, "selection_rate")]["group"] == {"a": "a1", "b": "b0"}
    assert worse[(INTERSECTION, "true_positive_rate")]["group"] == {"a": "a0", "b": "b1"}
    m.add_uncertainty(confidence=0.95, n_resamples=100, seed=0)
    assert all(d["significance"] == "insufficient data" for d in m.disparities
               if d["insufficient_data"])  # fmt: skip
    assert all(d["note"] is None for d in m.disparities if d["insufficient_data"])
    # Headline intervals cover the same sufficient groups as the values (issue 14 §4).
    for h in m.headline:
        if h["excluded"] and h["value"] is not None and not math.isnan(h["value"]):
            assert h["ci"][0] <= h["value"] <= h["ci"][1], h["metric"]


def test_policy_between_groups_judges_the_same_cells_as_the_headline() -> None:
    from fairaudit.policy import evaluate_policy, load_policy

    m = _resume()
    result = {
        "audit": {"groupings": m.groupings, "min_group_size": 1},
        "metrics": {"by_group": m.by_group},
        "disparities": m.disparities,
        "headline": m.headline,
    }
    policy = load_policy(["preset:four-fifths"])
    outcome = evaluate_policy(policy, result).to_dict()["rules"][0]["outcomes"][-1]
    assert outcome["feature"] == INTERSECTION
    assert outcome["observed"] == pytest.approx((9 / 40) / 0.4)  # not 0.000 from 7 rows
    assert outcome["groups"] == [{"a": "a1", "b": "b0"}, {"a": "a0", "b": "b0"}]
