"""The audit pipe (fairaudit.pipe.run_audit) and the mitigation comparison, as a library.

Unit tests of the stages' wiring: the data are conftest.SCORED_ROWS, whose counts are
worked out by hand there (male: tp=3 fn=1 fp=1 tn=3; female: tp=1 fn=1 fp=1 tn=1), and a
synthetic set with an injected disparity for the comparison. Every number is checked
against the hand count or against fairlearn's MetricFrame on the same rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, selection_rate, true_positive_rate

from fairaudit.mitigation import MAX_ACCURACY_LOSS, SUMMARY_ROW
from fairaudit.pipe import run_audit
from fairaudit.spec import AuditSpec
from tests.conftest import SCORED_ROWS


def _row(result_dict: dict, feature: str, value: str) -> dict:
    (row,) = [
        r
        for r in result_dict["metrics"]["by_group"]
        if r["feature"] == feature and r["group"] == {feature: value}
    ]
    return row


@pytest.fixture
def scored(write_csv: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> AuditSpec:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    path = write_csv("scored.csv", ["y", "pred", "sex"], SCORED_ROWS)
    return AuditSpec(
        data=path, target="y", sensitive=("sex",), prediction_col="pred", min_group_size=1
    )


def test_run_audit_counts_rates_and_disparities_by_hand(scored: AuditSpec) -> None:
    messages: list[str] = []
    result = run_audit(scored, progress=messages.append).to_dict()
    male, female = _row(result, "sex", "male"), _row(result, "sex", "female")
    assert (male["count"], female["count"]) == (8, 4)
    assert male["metrics"]["true_positive_rate"] == 0.75
    assert female["metrics"]["true_positive_rate"] == 0.5
    assert male["metrics"]["false_positive_rate"] == 0.25
    assert female["metrics"]["false_positive_rate"] == 0.5
    assert result["audit"]["reference"] == {"sex": {"sex": "male"}}  # the largest group
    (tpr,) = [
        d
        for d in result["disparities"]
        if d["metric"] == "true_positive_rate" and d["group"] == {"sex": "female"}
    ]
    assert tpr["difference"] == pytest.approx(-0.25)
    assert tpr["ratio"] == pytest.approx(0.5 / 0.75)
    assert messages[-2:] == ["computing metrics", "computing 95% intervals and tests"]


def test_run_audit_summary_names_the_worse_off_group(scored: AuditSpec) -> None:
    # 4 and 2 positives: counted only with min_denominator lowered (issue 14 §3).
    summary = run_audit(dataclasses.replace(scored, min_denominator=1)).to_dict()["summary"]
    (tpr,) = [w for w in summary["worse_off"] if w["metric"] == "true_positive_rate"]
    assert tpr["group"] == {"sex": "female"}
    assert tpr["value"] == 0.5 and tpr["reference_value"] == 0.75
    assert tpr["ratio"] == pytest.approx(2 / 3)
    assert tpr["below_band"] is True  # 0.667 < 0.8


def test_run_audit_is_deterministic_and_its_id_is_its_content(scored: AuditSpec) -> None:
    first, second = run_audit(scored), run_audit(scored)
    assert first.to_json() == second.to_json()
    assert first.audit["id"] == first.content_id()
    other = run_audit(scored.with_overrides(name="other"))
    assert other.audit["id"] != first.audit["id"]


def test_run_audit_applies_the_policy(scored: AuditSpec) -> None:
    result = run_audit(scored.with_overrides(policy=("preset:equal-opportunity",)))
    assert result.verdict in ("pass", "warn", "fail")
    assert result.to_dict()["policy"]["layers"][0]["source"] == "preset:equal-opportunity"


# --------------------------------------------------------------------------- comparison


@pytest.fixture(scope="module")
def disparate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 rows whose scores favour group 'a' (an injected disparity the thresholds fix)."""
    rng = np.random.default_rng(7)
    n = 2000
    group = np.where(rng.random(n) < 0.5, "a", "b")
    label = rng.random(n) < 0.5
    score = np.clip(0.5 * label + 0.3 * (group == "a") + rng.normal(0, 0.2, n), 0, 1)
    frame = pd.DataFrame(
        {"y": label.astype(int), "pred": (score > 0.5).astype(int), "score": score, "g": group}
    )
    path = tmp_path_factory.mktemp("disparate") / "scored.csv"
    frame.to_csv(path, index=False)
    return path


def test_comparison_measures_every_variant_alike(disparate: Path) -> None:
    spec = AuditSpec(
        data=disparate,
        target="y",
        sensitive=("g",),
        prediction_col="pred",
        score_col="score",
        mitigations=("threshold_demographic_parity",),
        intervals=False,
        jobs=1,
    )
    result = run_audit(spec).to_dict()
    baseline, variant = result["mitigations"]
    # The audited model's entry is the audit's own numbers.
    assert baseline["by_group"] == [
        {k: r[k] for k in SUMMARY_ROW} for r in result["metrics"]["by_group"]
    ]
    assert baseline["headline"] == result["headline"]
    # The variant is counted over the same rows, group by group.
    assert variant["status"] == "ok"
    assert [r["count"] for r in variant["by_group"]] == [r["count"] for r in baseline["by_group"]]
    # Its overall rate is the count-weighted mean of its group rates (one set of counts).
    overall = variant["metrics"]["overall"]
    weighted = sum(r["count"] * r["metrics"]["selection_rate"] for r in variant["by_group"])
    assert overall["selection_rate"] == pytest.approx(weighted / overall["count"], abs=1e-12)

    def dpd(entry: dict) -> float:
        (h,) = [
            h
            for h in entry["headline"]
            if h["feature"] == "g" and h["metric"] == "demographic_parity_difference"
        ]
        return float(h["value"])

    assert dpd(variant) < dpd(baseline)  # the injected disparity shrinks
    summary = result["mitigation_summary"]
    loss = baseline["metrics"]["overall"]["accuracy"] - variant["metrics"]["overall"]["accuracy"]
    assert summary["best"] == (
        "threshold_demographic_parity" if loss <= MAX_ACCURACY_LOSS else None
    )


def test_baseline_numbers_equal_fairlearn(disparate: Path) -> None:
    frame = pd.read_csv(disparate)
    spec = AuditSpec(
        data=disparate,
        target="y",
        sensitive=("g",),
        prediction_col="pred",
        mitigations=(),
        intervals=False,
    )
    result = run_audit(spec).to_dict()
    frame_metrics = MetricFrame(
        metrics={"selection_rate": selection_rate, "true_positive_rate": true_positive_rate},
        y_true=frame["y"],
        y_pred=frame["pred"],
        sensitive_features=frame["g"],
    )
    for value in ("a", "b"):
        row = _row(result, "g", value)
        for metric in ("selection_rate", "true_positive_rate"):
            assert row["metrics"][metric] == pytest.approx(
                frame_metrics.by_group.loc[value, metric], abs=1e-12
            )
