"""Favourable-outcome policy rules on a regression audit (issue 17).

With ``--favorable-above T`` / ``--favorable-below T`` a regression audit carries the binary
view of "the prediction is favourable" (``summary.favorable_outcome``); the rules
``favorable_rate_*`` and ``favorable_opportunity_*`` (and the presets ``four-fifths`` and
``equal-opportunity``) judge it with the model rules' own code, as they judge a multiclass
audit's favourable classes. Each judged value is held to fairlearn's on ``(y > T, pred > T)``
(``y < T``, ``pred < T`` below); the interval evidence to the view's worse-off entry; without
a threshold the rules are not evaluable and say which option is missing; then the verdict
through ``fairaudit run`` (console, JSON, HTML, JUnit).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    selection_rate,
    true_positive_rate,
)

import fairaudit
from fairaudit.policy import PolicyError, build_findings, evaluate_policy, load_policy
from fairaudit.policy._evaluate import REASON_NO_BETWEEN_INTERVAL, REASON_NO_INTERVALS
from fairaudit.policy._findings import NEXT_STEP_THRESHOLD
from fairaudit.policy._regression_rules import REASON_NO_THRESHOLD
from tests.test_regression_audit import (  # noqa: F401 (diabetes: a fixture)
    HOSTILE,
    diabetes,
)

TOL = 1e-12
T_ABOVE, T_BELOW = 110.0, 90.0
#: Each favourable rule: the fairlearn metric it is a between-groups comparison of.
RULES = {
    "favorable_rate_ratio": selection_rate,
    "favorable_rate_difference": selection_rate,
    "favorable_opportunity_ratio": true_positive_rate,
    "favorable_opportunity_difference": true_positive_rate,
}


def _synthetic(n: int = 3000, seed: int = 3) -> pd.DataFrame:
    """Groups a, b (predicted 12 lower than its targets) and c (20 rows: below the audit's
    min_group_size 30, so every between-groups value leaves it out)."""
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n) < 0.5, "a", "b")
    group[:20] = "c"
    y = rng.normal(100, 20, n)
    pred = y + rng.normal(0, 6, n) - np.where(group == "b", 12.0, 0.0)
    return pd.DataFrame({"y": y, "pred": pred, "group": group})


def _audit(frame: pd.DataFrame, **options: Any) -> dict[str, Any]:
    return fairaudit.audit(
        frame, target="y", sensitive="group", prediction_col="pred", resamples=200, **options
    ).to_dict()


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return _synthetic()


@pytest.fixture(scope="module")
def above(frame: pd.DataFrame) -> dict[str, Any]:
    return _audit(frame, favorable_above=T_ABOVE)


@pytest.fixture(scope="module")
def below(frame: pd.DataFrame) -> dict[str, Any]:
    return _audit(frame, favorable_below=T_BELOW)


def _policy(tmp_path: Path, text: str, name: str = "p.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _rule_text(metric: str, bound: str, evidence: str = "point", extra: str = "") -> str:
    return (
        f'[[rule]]\nid = "{metric}"\nmetric = "{metric}"\n{bound}\n'
        f'evidence = "{evidence}"\n{extra}\n'
    )


def _every_rule(tmp_path: Path, evidence: str = "point") -> str:
    text = "".join(
        _rule_text(m, "min = 0.8" if m.endswith("ratio") else "max = 0.05", evidence) for m in RULES
    )
    return _policy(tmp_path, text, f"every-{evidence}.toml")


def _fairlearn_between(
    frame: pd.DataFrame, threshold: float, direction: str, metric: Any, kind: str
) -> tuple[float, set[str]]:
    """Return fairlearn's min / max (or max - min) of ``metric`` over the groups of at
    least 30 rows, on the derived outcome; and the two groups compared."""
    side = np.greater if direction == "above" else np.less
    y_true = side(frame["y"].to_numpy(), threshold).astype(int)
    y_pred = side(frame["pred"].to_numpy(), threshold).astype(int)
    sizes = frame["group"].value_counts()
    kept = frame["group"].isin(sizes[sizes >= 30].index).to_numpy()
    by_group = MetricFrame(
        metrics=metric,
        y_true=y_true[kept],
        y_pred=y_pred[kept],
        sensitive_features=frame["group"][kept],
    ).by_group
    value = by_group.min() / by_group.max() if kind == "ratio" else by_group.max() - by_group.min()
    if metric is selection_rate:  # the headline fairlearn computes, over the same groups
        headline = demographic_parity_ratio if kind == "ratio" else demographic_parity_difference
        direct = headline(y_true[kept], y_pred[kept], sensitive_features=frame["group"][kept])
        assert direct == pytest.approx(value, abs=TOL)
    return float(value), {str(by_group.idxmin()), str(by_group.idxmax())}


# --------------------------------------------------------------------------- judged values


@pytest.mark.parametrize("direction", ["above", "below"])
def test_every_favourable_rule_equals_fairlearn(
    direction: str, above: dict[str, Any], below: dict[str, Any], frame: pd.DataFrame,
    tmp_path: Path,
) -> None:  # fmt: skip
    data, threshold = (above, T_ABOVE) if direction == "above" else (below, T_BELOW)
    evaluation = evaluate_policy(load_policy([_every_rule(tmp_path)]), data)
    assert [r.rule.metric for r in evaluation.rules] == list(RULES)
    for judged in evaluation.rules:
        (outcome,) = judged.outcomes
        value, groups = _fairlearn_between(
            frame, threshold, direction, RULES[judged.rule.metric], judged.rule.kind
        )
        assert outcome.observed == pytest.approx(value, abs=TOL), judged.rule.metric
        assert {g["group"] for g in outcome.groups} == groups
        assert outcome.excluded == ({"group": "c"},)  # 20 rows, below min_group_size 30
        bound = judged.rule.min if judged.rule.kind == "ratio" else judged.rule.max
        meets = value >= bound if judged.rule.kind == "ratio" else value <= bound
        assert outcome.status == ("pass" if meets else "fail")
        assert outcome.class_label is None and "class" not in outcome.to_dict()
    # Predicted 12 lower, b is far less often above 110 and far more often below 90.
    statuses = {r.rule.metric: r.status for r in evaluation.rules}
    assert statuses["favorable_rate_ratio"] == "fail" and evaluation.verdict == "fail"


def test_presets_judge_the_favourable_view(above: dict[str, Any], frame: pd.DataFrame) -> None:
    evaluation = evaluate_policy(
        load_policy(["preset:four-fifths", "preset:equal-opportunity"]), above
    )
    four, opportunity = evaluation.rules
    ratio, _ = _fairlearn_between(frame, T_ABOVE, "above", selection_rate, "ratio")
    gap, _ = _fairlearn_between(frame, T_ABOVE, "above", true_positive_rate, "difference")
    assert four.outcomes[0].observed == pytest.approx(ratio, abs=TOL) and ratio < 0.8
    assert four.status == "fail"
    assert opportunity.outcomes[0].observed == pytest.approx(gap, abs=TOL)
    assert opportunity.status == ("pass" if gap <= 0.05 else "fail")
    # The four-fifths ratio is the one the view's worse-off entry reports.
    worse = next(
        w for w in above["summary"]["favorable_outcome"]["worse_off"]
        if w["metric"] == "selection_rate"
    )  # fmt: skip
    assert worse["group"] == {"group": "b"}
    assert four.outcomes[0].observed == pytest.approx(worse["ratio"], abs=TOL)


def test_interval_evidence_reads_the_worse_off_interval(
    above: dict[str, Any], frame: pd.DataFrame, tmp_path: Path
) -> None:
    evaluation = evaluate_policy(load_policy([_every_rule(tmp_path, "interval")]), above)
    section = above["summary"]["favorable_outcome"]
    for judged in evaluation.rules:
        (outcome,) = judged.outcomes
        base = "selection_rate" if "rate" in judged.rule.metric else "true_positive_rate"
        entry = next(w for w in section["worse_off"] if w["metric"] == base)
        expected = entry[f"ci_{judged.rule.kind}_between"]
        assert outcome.interval == pytest.approx(tuple(expected), abs=TOL)
        low, high = expected
        bound = judged.rule.min if judged.rule.kind == "ratio" else judged.rule.max
        inside = low >= bound if judged.rule.kind == "ratio" else high <= bound
        assert outcome.status == ("pass" if inside else "fail")
        assert low <= outcome.observed <= high or math.isclose(outcome.observed, high)
    # A rule's own min_group_size compares other groups than the audit's interval did.
    own = _rule_text("favorable_rate_ratio", "min = 0.8", "interval", "min_group_size = 5")
    (judged,) = evaluate_policy(load_policy([_policy(tmp_path, own)]), above).rules
    assert judged.status == "not evaluable"
    assert judged.outcomes[0].reason == REASON_NO_BETWEEN_INTERVAL.format(
        metric="favorable_rate_ratio"
    )
    assert judged.outcomes[0].excluded == ()  # c (20 rows) is compared now
    # An audit without intervals: interval evidence is not evaluable, point evidence judges.
    plain = _audit(frame, favorable_above=T_ABOVE, intervals=False)
    strict = _policy(tmp_path, _rule_text("favorable_rate_ratio", "min = 0.8", "interval"))
    (judged,) = evaluate_policy(load_policy([strict]), plain).rules
    assert judged.outcomes[0].reason == REASON_NO_INTERVALS
    (point,) = evaluate_policy(load_policy(["preset:four-fifths"]), plain).rules
    assert point.outcomes[0].observed == pytest.approx(
        evaluation.rules[0].outcomes[0].observed, abs=TOL
    )


# --------------------------------------------------------------------------- no threshold


def test_without_a_threshold_the_rules_are_not_evaluable(
    frame: pd.DataFrame, tmp_path: Path
) -> None:
    data = _audit(frame, intervals=False)
    assert data["summary"].get("favorable_outcome") is None
    text = _rule_text("max_group_mae_ratio", "max = 10") + "".join(
        _rule_text(m, "min = 0.8" if m.endswith("ratio") else "max = 0.05") for m in RULES
    )
    evaluation = evaluate_policy(load_policy([_policy(tmp_path, text)]), data)
    regression_rule, *favorable = evaluation.rules
    assert regression_rule.status == "pass"  # the regression rules are judged as before
    for judged in favorable:
        (outcome,) = judged.outcomes
        assert outcome.status == "not evaluable" and outcome.observed is None
        assert outcome.reason == REASON_NO_THRESHOLD.format(metric=judged.rule.metric)
        assert "--favorable-above" in outcome.reason and "--favorable-below" in outcome.reason
    assert evaluation.verdict == "warn"  # never a silent pass
    strict = evaluate_policy(load_policy([_policy(tmp_path, text)]), data, not_evaluable="fail")
    assert strict.verdict == "fail"
    findings = [f for f in build_findings(data, evaluation) if f["kind"] == "not_evaluable"]
    assert len(findings) == len(RULES)
    assert {f["next_step"] for f in findings} == {NEXT_STEP_THRESHOLD}
    # A rule naming its feature keeps it in the outcome.
    one = _rule_text("favorable_rate_ratio", "min = 0.8", extra='feature = "group"')
    (judged,) = evaluate_policy(load_policy([_policy(tmp_path, one, "one.toml")]), data).rules
    assert judged.outcomes[0].feature == "group"


def test_other_binary_rules_still_do_not_apply(above: dict[str, Any], tmp_path: Path) -> None:
    # equalized odds names no favourable outcome: a regression audit has no rule for it.
    with pytest.raises(PolicyError, match="no rule for a regression audit.*binary model"):
        evaluate_policy(load_policy(["preset:equalized-odds"]), above)
    # Beside a favourable rule it is listed as not applicable, not judged.
    evaluation = evaluate_policy(
        load_policy(["preset:equalized-odds", "preset:four-fifths"]), above
    )
    assert [r.rule.id for r in evaluation.rules] == ["four-fifths"]
    assert [r.id for r in evaluation.not_applicable] == ["equalized-odds"]
    # A feature the audit lacks is named, as on a binary audit.
    missing = _rule_text("favorable_rate_ratio", "min = 0.8", extra='feature = "region"')
    (judged,) = evaluate_policy(load_policy([_policy(tmp_path, missing)]), above).rules
    assert judged.status == "not evaluable" and "no grouping 'region'" in judged.outcomes[0].reason


def test_a_mitigation_is_not_judged_on_the_audited_models_favourable_view(
    above: dict[str, Any], tmp_path: Path
) -> None:
    # A mitigation's numbers hold no favourable outcome: its favourable rule is not
    # evaluable (its verdict at least warn), never judged on the audited model's rates.
    mitigated = dict(above)
    mitigated["mitigations"] = [
        {"method": "bounded_group_loss", "status": "ok", "headline": above["headline"]}
    ]
    text = _rule_text("max_group_mae_ratio", "max = 10") + _rule_text(
        "favorable_rate_ratio", "min = 0.1"
    )
    evaluation = evaluate_policy(load_policy([_policy(tmp_path, text)]), mitigated)
    assert [r.status for r in evaluation.rules] == ["pass", "pass"]
    (mitigation,) = evaluation.mitigations
    assert mitigation.verdict == "warn" and mitigation.failed_rules == ()


def test_tiny_and_one_sided_groups(tmp_path: Path) -> None:
    # Group d has no favourable target: its opportunity rate is undefined (left out, named),
    # its selection rate is defined; a one-group audit has nothing to compare.
    frame = _synthetic(n=600, seed=9)
    d = pd.DataFrame({"y": np.full(40, 50.0), "pred": np.linspace(40, 120, 40), "group": "d"})
    data = _audit(pd.concat([frame, d], ignore_index=True), favorable_above=T_ABOVE)
    evaluation = evaluate_policy(load_policy([_every_rule(tmp_path)]), data)
    by_metric = {r.rule.metric: r.outcomes[0] for r in evaluation.rules}
    assert {"group": "d"} in by_metric["favorable_opportunity_ratio"].excluded
    assert {"group": "d"} not in by_metric["favorable_rate_ratio"].excluded
    alone = frame.assign(group="a")
    (judged,) = evaluate_policy(
        load_policy(["preset:four-fifths"]), _audit(alone, favorable_above=T_ABOVE)
    ).rules
    assert judged.status == "not evaluable" and "fewer than two groups" in judged.outcomes[0].reason


def test_a_threshold_beyond_every_value(frame: pd.DataFrame) -> None:
    # Nothing favourable: every selection rate is 0, so the ratio 0 / 0 is undefined, and
    # no group has a favourable target (no TPR): never a pass, as on a binary audit.
    nothing = _audit(frame.iloc[:400], favorable_above=1e6, intervals=False)
    presets = load_policy(["preset:four-fifths", "preset:equal-opportunity"])
    four, opportunity = evaluate_policy(presets, nothing).rules
    assert four.status == opportunity.status == "not evaluable"
    assert "zero denominator" in four.outcomes[0].reason
    assert "fewer than two groups" in opportunity.outcomes[0].reason
    # Everything favourable: equal rates, both rules pass on fairlearn's numbers.
    every = _audit(frame.iloc[:400], favorable_above=-1e6, intervals=False)
    four, opportunity = evaluate_policy(presets, every).rules
    assert (four.outcomes[0].observed, opportunity.outcomes[0].observed) == (1.0, 0.0)
    assert four.status == opportunity.status == "pass"


def test_the_python_api_checks_the_favourable_view(frame: pd.DataFrame) -> None:
    result = fairaudit.audit(
        frame, target="y", sensitive="group", prediction_col="pred", favorable_above=T_ABOVE,
        intervals=False,
    )  # fmt: skip
    check = result.check("preset:four-fifths")
    assert check.verdict == "fail" and check.failed_rules == ("four-fifths",)
    plain = fairaudit.audit(
        frame, target="y", sensitive="group", prediction_col="pred", intervals=False
    )
    assert plain.check("preset:four-fifths").verdict == "warn"


# --------------------------------------------------------------------------- through the CLI


def test_verdict_through_the_pipe(diabetes: tuple, audit_cli: Any, tmp_path: Path) -> None:  # noqa: F811
    path = diabetes[0]
    junit = tmp_path / "junit.xml"
    run = audit_cli(
        path, "--target", "target", "--prediction-col", "pred", "--task", "regression",
        "--favorable-above", "150", "--policy", "preset:four-fifths", "--junit", junit,
        sensitive=["sex", "age_band"],
    )  # fmt: skip
    assert run.result.exit_code in (0, 3), run.result.output
    data = run.json()
    (rule,) = data["policy"]["rules"]
    assert rule["metric"] == "favorable_rate_ratio"
    frame = diabetes[2]
    for outcome in rule["outcomes"]:
        feature = outcome["feature"]
        if feature == "intersection":
            continue
        sizes = frame[feature].value_counts()
        kept = frame[feature].isin(sizes[sizes >= 30].index)
        rates = MetricFrame(
            metrics=selection_rate,
            y_true=(frame["target"][kept] > 150).astype(int),
            y_pred=(frame["pred"][kept] > 150).astype(int),
            sensitive_features=frame[feature][kept].astype(str),
        ).by_group
        assert outcome["observed"] == pytest.approx(rates.min() / rates.max(), abs=TOL)
        assert outcome["status"] == ("pass" if rates.min() / rates.max() >= 0.8 else "fail")
    verdict = data["policy"]["verdict"]
    assert run.result.exit_code == (3 if verdict == "fail" else 0)
    assert f"Policy verdict: {verdict}" in run.result.output
    page = run.html()
    assert 'id="policy"' in page and "favorable_rate_ratio" in page
    assert "<script>alert" not in page
    xml = junit.read_text(encoding="utf-8")
    assert xml.count("<testcase") == len(rule["outcomes"])
    assert "fairaudit.policy.four-fifths" in xml and "<script>" not in xml
    assert json.loads(run.json_path.read_text())["policy"] == data["policy"]


def test_no_threshold_through_the_pipe(diabetes: tuple, audit_cli: Any) -> None:  # noqa: F811
    run = audit_cli(
        diabetes[0], "--target", "target", "--prediction-col", "pred", "--task", "regression",
        "--policy", "preset:four-fifths",
    )  # fmt: skip
    assert run.result.exit_code == 0, run.result.output
    data = run.json()
    assert data["policy"]["verdict"] == "warn"
    assert "--favorable-above T or --favorable-below T" in run.result.output
    (finding,) = [f for f in data["findings"] if f["kind"] == "not_evaluable"]
    assert finding["next_step"] == NEXT_STEP_THRESHOLD
    assert "--favorable-above" in run.html()
