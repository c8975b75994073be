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
    sr, tpr = _measurement(min_group_size=5).worse_off()
    assert sr["group"] == tpr["group"] == {"g": "c"}
    assert sr["ratio"] == 0.0 and sr["below_band"] is True


def test_worse_off_reference_group_has_ratio_one() -> None:
    sr, _ = _measurement(reference={"g": "b"}).worse_off()
    assert sr["group"] == sr["reference_group"] == {"g": "b"}
    assert (sr["ratio"], sr["difference"], sr["reference_value"]) == (1.0, 0.0, sr["value"])
    assert sr["below_band"] is False


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
    assert sr["ci_ratio"] == versus["ci_ratio"] and sr["significance"] == versus["significance"]
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
