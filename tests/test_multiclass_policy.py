"""Policy rules on a multiclass audit (issue 17): ``class =``, per-class outcomes, presets.

A rule on a one-vs-rest metric is judged once per class it names (every class without
``class``); each outcome's number is held to the result's own rows (headline entries and
disparities tagged with the class) and to fairlearn's metrics on ``y_true == class`` /
``y_pred == class``. Then the multiclass group metrics (class None), the favourable view
(the presets), the errors, and the verdict through ``fairaudit run`` (console, JSON,
HTML, JUnit).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

import fairaudit
from fairaudit.policy import PolicyError, build_findings, evaluate_policy, load_policy
from fairaudit.policy._findings import NEXT_STEP_FAVORABLE, NEXT_STEP_NOT_BUILT
from fairaudit.policy._multiclass_rules import (
    MSG_UNKNOWN_CLASS,
    REASON_NO_FAVORABLE_CLASSES,
    REASON_NO_MULTICLASS_INTERVAL,
)

TOL = 1e-9
CLASSES = ("approve", "deny", "review")
HOSTILE_CLASS = '<img src=x onerror="alert(1)">&amp;'


def _synthetic(seed: int = 5, n: int = 1500) -> pd.DataFrame:
    """Three classes; group ``b`` is pushed into class ``deny`` 30% of the time."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b"], n)
    y = rng.choice(CLASSES, n)
    pred = np.where(rng.random(n) < 0.75, y, rng.choice(CLASSES, n))
    pred = np.where((group == "b") & (rng.random(n) < 0.3), "deny", pred)
    region = rng.choice(["north", "south", "east"], n)
    return pd.DataFrame({"y": y, "pred": pred, "group": group, "region": region})


def _hostile_csv(folder: Path, n: int) -> Path:
    """Write the synthetic data with a hostile class name (``deny``)."""
    frame = _synthetic(n=n)
    frame["y"] = frame["y"].replace("deny", HOSTILE_CLASS)
    frame["pred"] = frame["pred"].replace("deny", HOSTILE_CLASS)
    frame.to_csv(folder / "hostile.csv", index=False)
    return folder / "hostile.csv"


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return _synthetic()


@pytest.fixture(scope="module")
def result(frame: pd.DataFrame) -> dict[str, Any]:
    audited = fairaudit.audit(data=frame, target="y", prediction_col="pred",
                              sensitive=("group", "region"),
                              favorable_label=("approve", "review"))  # fmt: skip
    return audited.to_dict()


def _policy(tmp_path: Path, text: str, name: str = "p.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _rules(result: dict[str, Any], tmp_path: Path, text: str) -> dict[str, Any]:
    evaluation = evaluate_policy(load_policy([_policy(tmp_path, text)]), result)
    return {r.rule.id: r for r in evaluation.rules}


def test_a_headline_rule_is_judged_per_class(
    result: dict[str, Any], frame: pd.DataFrame, tmp_path: Path
) -> None:
    rules = _rules(result, tmp_path, """
[[rule]]
id = "dp"
metric = "demographic_parity_difference"
max = 0.1
[[rule]]
id = "eo-deny"
metric = "equalized_odds_difference"
class = "deny"
max = 0.5
""")  # fmt: skip
    dp = rules["dp"]
    # Without class: every class of every grouping, each outcome tagged with its class.
    assert {(o.class_label, o.feature) for o in dp.outcomes} == {
        (c, g) for c in CLASSES for g in ("group", "region", "intersection")
    }
    for outcome in dp.outcomes:
        if outcome.feature == "intersection":
            continue
        label = outcome.class_label
        expected = demographic_parity_difference(
            frame["y"] == label, frame["pred"] == label, sensitive_features=frame[outcome.feature]
        )
        assert abs(outcome.observed - expected) < TOL
        assert outcome.to_dict()["class"] == label
        assert outcome.name.startswith(f"class {label}: {outcome.feature}")
    # group b is pushed into deny: that class fails, the rule's status is the worst.
    deny = next(o for o in dp.outcomes if o.class_label == "deny" and o.feature == "group")
    assert deny.status == "fail" and dp.status == "fail"
    eo = rules["eo-deny"]
    assert [o.class_label for o in eo.outcomes] == ["deny"] * 3
    expected = equalized_odds_difference(
        frame["y"] == "deny", frame["pred"] == "deny", sensitive_features=frame["group"]
    )
    assert abs(eo.outcomes[0].observed - expected) < TOL
    assert eo.rule.to_dict()["class"] == ["deny"]


def test_reference_and_interval_rules_read_the_class_rows(
    result: dict[str, Any], tmp_path: Path
) -> None:
    rules = _rules(result, tmp_path, """
[[rule]]
id = "sr"
metric = "selection_rate_difference"
class = ["deny", "review"]
max = 0.1
evidence = "interval"
[[rule]]
id = "dp-ci"
metric = "demographic_parity_difference"
class = "deny"
feature = "group"
max = 0.5
evidence = "interval"
""")  # fmt: skip
    rows = {
        (d["class"], d["feature"], json.dumps(d["group"])): d
        for d in result["disparities"]
        if d["metric"] == "selection_rate"
    }
    sr = rules["sr"]
    assert {o.class_label for o in sr.outcomes} == {"deny", "review"}
    for outcome in sr.outcomes:
        row = rows[outcome.class_label, outcome.feature, json.dumps(outcome.groups[0])]
        assert outcome.observed == row["difference"]
        assert list(outcome.interval) == row["ci_difference"]
    headline = next(h for h in result["headline"] if h["class"] == "deny"
                    and h["feature"] == "group"
                    and h["metric"] == "demographic_parity_difference")  # fmt: skip
    (outcome,) = rules["dp-ci"].outcomes
    assert list(outcome.interval) == headline["ci"] and outcome.observed == headline["value"]


def test_multiclass_group_metrics_have_no_class(result: dict[str, Any], tmp_path: Path) -> None:
    rules = _rules(result, tmp_path, """
[[rule]]
id = "acc"
metric = "accuracy_difference"
max = 0.5
[[rule]]
id = "acc-deny"
metric = "accuracy_difference"
class = "deny"
max = 0.5
[[rule]]
id = "f1"
metric = "f1_macro_difference"
max = 0.5
evidence = "interval"
[[rule]]
id = "bal"
metric = "balanced_accuracy_ratio"
compare = "between_groups"
min = 0.1
""")  # fmt: skip
    by_class = {(d["class"], d["feature"], json.dumps(d["group"]), d["metric"]): d
                for d in result["disparities"]}  # fmt: skip
    for outcome in rules["acc"].outcomes:
        assert outcome.class_label is None and "class" not in outcome.to_dict()
        key = (None, outcome.feature, json.dumps(outcome.groups[0]), "accuracy")
        assert outcome.observed == by_class[key]["difference"]
    for outcome in rules["acc-deny"].outcomes:  # the class's one-vs-rest accuracy
        key = ("deny", outcome.feature, json.dumps(outcome.groups[0]), "accuracy")
        assert outcome.observed == by_class[key]["difference"]
    f1 = rules["f1"]
    assert f1.status == "not evaluable"
    assert {o.reason for o in f1.outcomes} == {
        REASON_NO_MULTICLASS_INTERVAL.format(metric="f1_macro")
    }
    evaluation = evaluate_policy(load_policy([_policy(tmp_path,
                                 '[[rule]]\nmetric = "f1_macro_difference"\nmax = 0.5\n'
                                 'evidence = "interval"\n', "f1.toml")]), result)  # fmt: skip
    steps = {
        f["next_step"] for f in build_findings(result, evaluation) if f["kind"] == "not_evaluable"
    }
    assert steps == {NEXT_STEP_NOT_BUILT}
    values = [r["metrics"]["balanced_accuracy"] for r in result["metrics"]["by_group"]
              if r["feature"] == "group"]  # fmt: skip
    (bal, *_) = rules["bal"].outcomes
    assert abs(bal.observed - min(values) / max(values)) < TOL and bal.status == "pass"


def test_presets_judge_the_favourable_view(
    result: dict[str, Any], frame: pd.DataFrame, tmp_path: Path
) -> None:
    policy = load_policy(["preset:four-fifths", "preset:equal-opportunity",
                          "preset:equalized-odds"])  # fmt: skip
    judged = {r.rule.id: r for r in evaluate_policy(policy, result).rules}
    favourable_pred = np.isin(frame["pred"], ["approve", "review"])
    favourable_true = np.isin(frame["y"], ["approve", "review"])
    group = frame["group"].to_numpy()
    rates = [favourable_pred[group == g].mean() for g in ("a", "b")]
    tpr = [favourable_pred[(group == g) & favourable_true].mean() for g in ("a", "b")]
    four = next(o for o in judged["four-fifths"].outcomes if o.feature == "group")
    assert abs(four.observed - min(rates) / max(rates)) < TOL and four.class_label is None
    opportunity = next(o for o in judged["equal-opportunity"].outcomes if o.feature == "group")
    assert abs(opportunity.observed - (max(tpr) - min(tpr))) < TOL
    # The favourable view has the binary audit's intervals: interval evidence works.
    strict = _rules(result, tmp_path, '[[rule]]\nid = "ff"\nmetric = "favorable_rate_ratio"\n'
                    'min = 0.5\nevidence = "interval"\nfeature = "group"\n')  # fmt: skip
    (outcome,) = strict["ff"].outcomes
    entry = next(w for w in result["summary"]["favorable_view"]["worse_off"]
                 if w["feature"] == "group" and w["metric"] == "selection_rate")  # fmt: skip
    assert outcome.interval == tuple(entry["ci_ratio_between"]) and outcome.status == "pass"
    # equalized-odds is a headline rule: every class, one-vs-rest.
    assert {o.class_label for o in judged["equalized-odds"].outcomes} == set(CLASSES)
    # Without favourable classes the favourable rules are not evaluable, and say why.
    plain = fairaudit.audit(data=frame, target="y", prediction_col="pred",
                            sensitive=("group",)).to_dict()  # fmt: skip
    evaluation = evaluate_policy(load_policy(["preset:four-fifths"]), plain)
    (outcome,) = evaluation.rules[0].outcomes
    assert outcome.status == "not evaluable" and evaluation.verdict == "warn"
    assert outcome.reason == REASON_NO_FAVORABLE_CLASSES.format(metric="favorable_rate_ratio")
    (finding,) = [f for f in build_findings(plain, evaluation) if f["kind"] == "not_evaluable"]
    assert finding["next_step"] == NEXT_STEP_FAVORABLE


def test_class_errors(result: dict[str, Any], tmp_path: Path) -> None:
    source = _policy(tmp_path, '[[rule]]\nmetric = "selection_rate_ratio"\nclass = "maybe"\n'
                     "min = 0.8\n")  # fmt: skip
    with pytest.raises(PolicyError) as raised:
        evaluate_policy(load_policy([source]), result)
    assert str(raised.value) == MSG_UNKNOWN_CLASS.format(
        source=source, rule="selection_rate_ratio:class=maybe", label="maybe",
        classes="'approve', 'deny', 'review'",
    )  # fmt: skip
    bad = {
        'metric = "ks_statistic"\nclass = "a"\nmax = 1': "is a regression-audit metric",
        'metric = "class_imbalance"\nclass = "a"\nmax = 1': "is a data-audit metric",
        'metric = "favorable_rate_ratio"\nclass = "a"\nmin = 0.8': "favourable classes",
        'metric = "f1_macro_difference"\nclass = "a"\nmax = 1': "use f1_difference",
        'metric = "f1_difference"\nclass = true\nmax = 1': "key 'class' must be a class label",
        'metric = "f1_difference"\nclass = []\nmax = 1': "key 'class' must be a class label",
        'metric = "f1_difference"\nclass = 1.5\nmax = 1': "key 'class' must be a class label",
    }
    for body, message in bad.items():
        with pytest.raises(PolicyError, match=message):
            load_policy([_policy(tmp_path, f"[[rule]]\n{body}\n")])
    # A whole number names the class it prints as; a locked rule's class cannot change.
    numbered = load_policy([_policy(tmp_path, '[[rule]]\nid = "r"\nmetric = "f1_difference"\n'
                                    "class = [2, \"x\"]\nmax = 1\nlocked = true\n")])  # fmt: skip
    assert numbered.rules[0].classes == ("2", "x")
    with pytest.raises(PolicyError, match="key 'class' changes"):
        load_policy([
            _policy(tmp_path, '[[rule]]\nid = "r"\nmetric = "f1_difference"\nclass = "a"\n'
                    "max = 1\nlocked = true\n"),
            _policy(tmp_path, '[[rule]]\nid = "r"\nclass = "b"\n', "later.toml"),
        ])  # fmt: skip


def test_kinds_do_not_cross(result: dict[str, Any], tmp_path: Path) -> None:
    multiclass_only = load_policy([_policy(tmp_path, '[[rule]]\nmetric = "f1_difference"\n'
                                           'class = "a"\nmax = 1\n')])  # fmt: skip
    rows = pd.DataFrame({"y": [0, 1] * 40, "pred": [0, 1, 1, 0] * 20, "g": ["a", "b"] * 40})
    binary = fairaudit.audit(data=rows, target="y", prediction_col="pred",
                             sensitive=("g",)).to_dict()  # fmt: skip
    with pytest.raises(PolicyError, match="no rule for a model audit.*multiclass audits"):
        evaluate_policy(multiclass_only, binary)
    regression_only = load_policy([_policy(tmp_path, '[[rule]]\nmetric = "ks_statistic"\n'
                                           "max = 1\n", "r.toml")])  # fmt: skip
    with pytest.raises(PolicyError, match="no rule for a multiclass audit.*regression audits"):
        evaluate_policy(regression_only, result)
    # A malformed result without classes is never a silent pass.
    classless = {**result, "audit": {**result["audit"], "classes": []}}
    evaluation = evaluate_policy(load_policy(["preset:equalized-odds"]), classless)
    assert evaluation.verdict == "warn" and evaluation.rules[0].status == "not evaluable"
    # A binary audit's policy JSON is unchanged: no class key on its rules or outcomes.
    section = evaluate_policy(load_policy(["preset:four-fifths"]), binary).to_dict()
    assert "class" not in section["rules"][0]
    assert all("class" not in o for o in section["rules"][0]["outcomes"])


def test_class_rules_on_a_binary_audit_are_listed_not_applicable(tmp_path: Path) -> None:
    """A class rule beside a binary rule, on a binary audit: left out of the verdict, as the
    data rules are (docs/policy.md), but listed with why in the policy JSON (the reviewer's
    finding: it vanished, verdict pass, nothing in the JSON)."""
    mixed = load_policy([_policy(tmp_path, '[[rule]]\nmetric = "demographic_parity_ratio"\n'
                                 'min = 0.1\n[[rule]]\nmetric = "selection_rate_ratio"\n'
                                 'class = "own"\nmin = 0.99\n')])  # fmt: skip
    rows = pd.DataFrame({"y": [0, 1] * 40, "pred": [0, 1, 1, 0] * 20, "g": ["a", "b"] * 40})
    binary = fairaudit.audit(data=rows, target="y", prediction_col="pred",
                             sensitive=("g",)).to_dict()  # fmt: skip
    section = evaluate_policy(mixed, binary).to_dict()
    assert section["verdict"] == "pass" and [r["id"] for r in section["rules"]] == [
        "demographic_parity_ratio"
    ]
    (skipped,) = section["not_applicable"]
    assert skipped["id"] == "selection_rate_ratio:class=own"
    assert skipped["applies_to"] == "multiclass"
    assert skipped["reason"] == "class rules apply to multiclass audits; this audit is binary"
    # Without such rules the key is absent: a binary report's bytes do not change.
    assert "not_applicable" not in evaluate_policy(load_policy(["preset:four-fifths"]),
                                                   binary).to_dict()  # fmt: skip


def test_the_refusal_names_every_kind_of_rule(tmp_path: Path) -> None:
    """A policy of a class rule and a binary rule on a regression audit: the refusal says the
    rules are for binary model and multiclass audits, not that demographic_parity_difference
    is a multiclass rule (it named the first rule's kind for all)."""
    text = (
        '[[rule]]\nmetric = "selection_rate_ratio"\nclass = "own"\nmin = 0.8\n'
        '[[rule]]\nmetric = "demographic_parity_difference"\nmax = 0.1\n'
    )
    policy = load_policy([_policy(tmp_path, text)])
    regression = {"audit": {"task": "regression"}, "metrics": {"by_group": []}, "headline": []}
    with pytest.raises(PolicyError) as error:
        evaluate_policy(policy, regression)
    assert "are for multiclass and binary model audits" in str(error.value)


def test_verdict_through_the_pipe(audit_cli: Any, tmp_path: Path) -> None:
    path = _hostile_csv(tmp_path, 600)
    policy = _policy(tmp_path, '[[rule]]\nid = "dp"\nmetric = "demographic_parity_difference"\n'
                     'max = 0.05\n[[rule]]\nid = "eo"\nmetric = "equalized_odds_difference"\n'
                     'max = 0.5\nclass = "approve"\n')  # fmt: skip
    junit = tmp_path / "junit.xml"
    run = audit_cli(path, "--target", "y", "--prediction-col", "pred", "--policy", policy,
                    "--junit", junit, sensitive=["group"])  # fmt: skip
    assert run.result.exit_code == 3, run.result.output
    data = run.json()
    assert data["verdict"] == "fail" and data["policy"]["verdict"] == "fail"
    failed = [o for o in data["policy"]["rules"][0]["outcomes"] if o["status"] == "fail"]
    assert failed and all(o["class"] in data["audit"]["classes"] for o in failed)
    # The console names the class (made safe for a terminal).
    assert "fail: rule dp on class " in run.result.stdout + run.result.stderr
    page = run.html()
    assert 'id="policy"' in page and "class <code>" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=" in page
    # JUnit: one case per (grouping, class), named by its class.
    xml = junit.read_text()
    assert xml.count("<testcase") == sum(len(r["outcomes"]) for r in data["policy"]["rules"])
    assert "class &lt;img src=x" in xml and "<img" not in xml
    assert any(HOSTILE_CLASS == o["class"] for o in data["policy"]["rules"][0]["outcomes"])
    # The rules' and outcomes' class keys are in the JSON Schema (additionalProperties: false).
    import jsonschema

    from fairaudit.result import load_schema

    assert data["policy"]["rules"][1]["class"] == ["approve"]
    jsonschema.Draft202012Validator(load_schema()).validate(data)
