"""A regression audit outside the pipe (issue 17): the console's headline lines, the notebook
forms, the model cards, and policy rules on regression metrics (judged on the result's
JSON, in the report, JUnit and the exit code).

Every number checked here is read back from the result's JSON: the policy's observed values
are the headline's, the disparity rows' (the size of a signed difference) or, with a rule's
own ``min_group_size``, recomputed from ``by_group`` and ``metrics.overall``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression

from fairaudit.api import Result
from fairaudit.api._display import NO_WORSE_OFF
from fairaudit.display import group_text
from fairaudit.outputs import export_card
from fairaudit.policy import PolicyError, evaluate_policy, load_policy
from fairaudit.policy._judge import size_interval
from fairaudit.policy._regression_rules import (
    REASON_KS_MINIMUM,
    REASON_NO_DISTANCE_INTERVAL,
    REASON_NO_HEADLINE_INTERVAL,
)
from fairaudit.result import load_schema

#: A group name that is markup, a terminal escape and a bidi override at once.
HOSTILE = '55+<script>alert("x")</script>&<b>\x1b[31m\u202e'
SENSITIVE = ["sex", "age_band"]


@pytest.fixture(scope="module")
def diabetes_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scikit-learn's diabetes data (BSD), a LinearRegression's predictions in ``pred``."""
    folder = tmp_path_factory.mktemp("diabetes_extras")
    frame = load_diabetes(as_frame=True, scaled=False).frame
    frame["sex"] = np.where(frame["sex"] == 1, "one", "two")
    inputs = frame.drop(columns=["target", "sex"])
    frame["pred"] = LinearRegression().fit(inputs, frame["target"]).predict(inputs)
    bands = pd.cut(frame["age"], [0, 40, 55, 100], labels=["<40", "40-55", HOSTILE])
    frame["age_band"] = bands.astype(str)
    path = folder / "diabetes.csv"
    frame.to_csv(path, index=False)
    return path


def _run(audit_cli: Any, path: Path, *args: str | Path) -> Any:
    base = (path, "--target", "target", "--prediction-col", "pred")
    return audit_cli(*base, *args, sensitive=SENSITIVE)


@pytest.fixture()
def result(diabetes_csv: Path, audit_cli: Any) -> tuple[Any, dict[str, Any]]:
    run = _run(audit_cli, diabetes_csv)
    run.assert_ok()
    return run, run.json()


def _policy(tmp_path: Path, text: str) -> str:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _headline(data: dict[str, Any], feature: str, metric: str) -> dict[str, Any]:
    return next(h for h in data["headline"] if h["feature"] == feature and h["metric"] == metric)


# ------------------------------------------------------------------------- console


def test_console_prints_the_regression_headline_with_groups_named(result: tuple) -> None:
    run, data = result
    out = run.result.stdout
    for feature in ("sex", "age_band", "intersection"):
        ks = _headline(data, feature, "ks_statistic")["value"]
        assert f"{feature}: largest KS distance between two groups' predictions = {ks:.3f}" in out
        for metric, name in (("max_group_mae_ratio", "MAE"), ("max_group_rmse_ratio", "RMSE")):
            entry = _headline(data, feature, metric)
            line = f"{feature}: worst group's {name} over the overall {name} = {entry['value']:.3f}"
            assert line in out
    # The hostile group's terminal escape and bidi override are shown, never sent raw.
    assert "\x1b" not in out and "\u202e" not in out
    worst = [_headline(data, f, "max_group_mae_ratio")["group"] for f in SENSITIVE]
    assert any(group_text(g) in out for g in worst)


# ------------------------------------------------------------------------- notebook


def test_notebook_forms_show_the_regression_headline(result: tuple) -> None:
    _, data = result
    notebook = Result.load(result[0].json_path)
    markdown = notebook._repr_markdown_()
    assert NO_WORSE_OFF not in markdown and "worse off:" not in markdown
    mae = _headline(data, "intersection", "max_group_mae_ratio")
    assert f"worst group's MAE over the overall MAE = {mae['value']:.3f}" in markdown
    assert "No mitigation comparison ran: BoundedGroupLoss mitigation" in markdown
    html = notebook._repr_html_()
    assert "Largest gaps (regression)" in html and "Mean absolute error by" in html
    assert "<script>alert" not in html and "\x1b" not in html and "\u202e" not in html
    assert "\x1b" not in repr(notebook)
    frame = notebook.headline
    assert list(frame.columns)[-1] == "group"
    row = frame[(frame.grouping == "intersection") & (frame.metric == "max_group_mae_ratio")]
    assert row["group"].iloc[0] == group_text(mae["group"])


# ------------------------------------------------------------------------- cards


def test_cards_show_regression_group_metrics(result: tuple) -> None:
    run, data = result
    markdown = export_card(run.json_path, format="markdown")
    assert "| group | rows | mean absolute error | root mean squared error | r2 | mean error |" in (
        markdown
    )
    assert "selection rate" not in markdown and "| rows |  |" not in markdown
    female = next(r for r in data["metrics"]["by_group"] if r["group"] == {"sex": "one"})
    assert f"{female['metrics']['mean_absolute_error']:.4f}" in markdown
    mae = _headline(data, "sex", "max_group_mae_ratio")
    assert f"worst group's MAE over the overall MAE = {mae['value']:.3f}" in markdown
    assert "<script>" not in markdown and "\x1b" not in markdown
    mct = json.loads(export_card(run.json_path, format="mct"))
    types = {m["type"] for m in mct["quantitative_analysis"]["performance_metrics"]}
    assert {"mean_absolute_error", "root_mean_squared_error", "r2", "ks_statistic"} <= types
    assert "selection_rate" not in types
    hf = export_card(run.json_path, format="huggingface")
    assert "type: tabular-regression" in hf


# ------------------------------------------------------------------------- policy rules

RULES = """
[[rule]]
metric = "max_group_mae_ratio"
max = {mae_max}

[[rule]]
metric = "ks_statistic"
max = 0.5

[[rule]]
metric = "mean_error_difference"
max = 1000
evidence = "interval"

[[rule]]
id = "mae-ratio-big-groups"
metric = "max_group_mae_ratio"
max = 10
min_group_size = 150

[[rule]]
metric = "wasserstein_distance"
max = 1000
evidence = "interval"

[[rule]]
metric = "ks_statistic"
id = "ks-interval"
max = 1
evidence = "interval"
"""


PASSING = """
[[rule]]
metric = "max_group_mae_ratio"
max = 2

[[rule]]
metric = "mean_error_difference"
max = 1000
"""


def test_policy_rules_judge_the_results_numbers(result: tuple, tmp_path: Path) -> None:
    _, data = result
    policy = load_policy([_policy(tmp_path, RULES.format(mae_max=1.0))])
    evaluation = evaluate_policy(policy, data).to_dict()
    rules = {r["id"]: r for r in evaluation["rules"]}
    # max_group_mae_ratio: the headline's value and worst group; 1.0 fails every grouping.
    for outcome in rules["max_group_mae_ratio"]["outcomes"]:
        entry = _headline(data, outcome["feature"], "max_group_mae_ratio")
        assert outcome["observed"] == entry["value"] and outcome["groups"] == [entry["group"]]
        assert outcome["status"] == "fail"
    # ks_statistic between groups: the headline's value, passes 0.5.
    for outcome in rules["ks_statistic"]["outcomes"]:
        assert outcome["observed"] == _headline(data, outcome["feature"], "ks_statistic")["value"]
        assert outcome["status"] == "pass"
    # mean_error_difference: |difference| and the interval of |difference|, per group.
    rows = [d for d in data["disparities"] if d["metric"] == "mean_error"]
    outcomes = rules["mean_error_difference"]["outcomes"]
    assert len(outcomes) == len(rows)
    for outcome, row in zip(outcomes, rows):
        assert outcome["groups"] == [row["group"], row["reference"]]
        assert outcome["observed"] == abs(row["difference"])
        assert tuple(outcome["interval"]) == size_interval(tuple(row["ci_difference"]))
        assert outcome["status"] == "pass" and "|value|" in outcome["reason"]
    # A rule's own min_group_size: recomputed from by_group and the overall MAE.
    overall = data["metrics"]["overall"]["mean_absolute_error"]
    for outcome in rules["mae-ratio-big-groups"]["outcomes"]:
        big = [
            r
            for r in data["metrics"]["by_group"]
            if r["feature"] == outcome["feature"] and r["count"] >= 150
        ]
        if not big:
            assert outcome["status"] == "not evaluable"
            continue
        worst = max(big, key=lambda r: r["metrics"]["mean_absolute_error"])
        assert outcome["observed"] == worst["metrics"]["mean_absolute_error"] / overall
        assert outcome["groups"] == [worst["group"]]
        small = [r["group"] for r in data["metrics"]["by_group"] if r not in big
                 and r["feature"] == outcome["feature"]]  # fmt: skip
        assert outcome["excluded"] == small
    # No interval for distances and the headline: not evaluable, and why.
    for outcome in rules["wasserstein_distance"]["outcomes"]:
        assert outcome["status"] == "not evaluable"
        assert outcome["reason"] == REASON_NO_DISTANCE_INTERVAL.format(
            metric="wasserstein_distance"
        )
    for outcome in rules["ks-interval"]["outcomes"]:
        assert outcome["reason"] == REASON_NO_HEADLINE_INTERVAL.format(metric="ks_statistic")
    assert evaluation["verdict"] == "fail"
    jsonschema.validate({**data, "policy": evaluation}, load_schema())


def test_policy_on_small_groups_and_ks_minimum(result: tuple, tmp_path: Path) -> None:
    _, data = result
    text = (
        '[[rule]]\nmetric = "mean_absolute_error_ratio"\nmax = 2\nmin_group_size = 150\n'
        '[[rule]]\nid = "ks-big"\nmetric = "ks_statistic"\nmax = 1\nmin_group_size = 150\n'
    )
    evaluation = evaluate_policy(load_policy([_policy(tmp_path, text)]), data).to_dict()
    ratio, ks = evaluation["rules"]
    rows = data["metrics"]["by_group"]
    sizes = {(r["feature"], group_text(r["group"])): r["count"] for r in rows}
    for outcome in ratio["outcomes"]:
        counts = [sizes[(outcome["feature"], group_text(g))] for g in outcome["groups"]]
        small = min(counts) < 150
        assert outcome["status"] == ("not evaluable" if small else "pass"), outcome
        if small:
            assert "fewer than min_group_size 150" in outcome["reason"]
    assert {o["reason"] for o in ks["outcomes"]} == {
        REASON_KS_MINIMUM.format(audit=data["audit"]["min_group_size"], rule=150)
    }


def test_policy_loading_refuses_what_a_regression_rule_cannot_be(tmp_path: Path) -> None:
    bad = {
        'metric = "mean_error_ratio"\nmax = 1': "unknown metric 'mean_error_ratio'",
        'metric = "max_group_mae_ratio"\ncompare = "reference"\nmax = 1': (
            "'max_group_mae_ratio' is a regression-audit metric whose rows compare with: "
            "between_groups; not 'reference'"
        ),
        'metric = "ks_statistic"\nevidence = "beyond"\nmax = 1': "'beyond' is for data-audit",
    }
    for body, message in bad.items():
        with pytest.raises(PolicyError) as raised:
            load_policy([_policy(tmp_path, f"[[rule]]\n{body}\n")])
        assert message in str(raised.value)
    # ks_statistic against the reference: each group's distance, the rule id says so.
    policy = load_policy(
        [_policy(tmp_path, '[[rule]]\nmetric = "ks_statistic"\ncompare = "reference"\nmax = 1\n')]
    )
    assert policy.rules[0].id == "ks_statistic:reference"
    assert policy.rules[0].applies_to == "regression"


def test_policy_kinds_do_not_cross(result: tuple, tmp_path: Path) -> None:
    _, data = result
    with pytest.raises(PolicyError, match="no rule for a regression audit.*binary model"):
        # H4b (issue 17): four-fifths judges a regression audit's favourable outcome now
        evaluate_policy(load_policy(["preset:equalized-odds"]), data)
    regression_only = load_policy([_policy(tmp_path, RULES.format(mae_max=2))])
    binary = {**data, "audit": {**data["audit"], "task": None}}
    with pytest.raises(PolicyError, match="no rule for a model audit.*regression audits"):
        evaluate_policy(regression_only, binary)
    multiclass = {**data, "audit": {**data["audit"], "task": "multiclass"}}
    with pytest.raises(PolicyError, match="multiclass"):
        evaluate_policy(regression_only, multiclass)
    # Result.check judges a regression result with the same rules.
    check = Result.load(result[0].json_path).check(_policy(tmp_path, PASSING))
    assert check.verdict == "pass" and check.passed


# ------------------------------------------------------------------------- through the pipe


def test_run_with_policy_exit_code_report_and_junit(
    diabetes_csv: Path, audit_cli: Any, tmp_path: Path
) -> None:
    junit = tmp_path / "junit.xml"
    failing = _policy(tmp_path, RULES.format(mae_max=1.0))
    run = _run(audit_cli, diabetes_csv, "--policy", failing, "--junit", junit)
    assert run.result.exit_code == 3, run.result.output
    data = run.json()
    assert data["verdict"] == "fail" and data["policy"]["verdict"] == "fail"
    jsonschema.validate(data, load_schema())
    assert 'id="policy"' in run.html() and "max_group_mae_ratio" in run.html()
    assert "fail: rule max_group_mae_ratio on" in run.result.stderr + run.result.stdout
    # JUnit: parses, one failure per failed outcome, the hostile group escaped.
    raw = junit.read_text(encoding="utf-8")
    assert "\x1b" not in raw and "\u202e" not in raw and "<script>" not in raw
    suite = ET.fromstring(raw).find("testsuite")
    assert suite is not None
    failed = sum(o["status"] == "fail" for r in data["policy"]["rules"] for o in r["outcomes"])
    assert int(suite.get("failures") or 0) == failed
    # A passing policy: exit 0 and verdict pass.
    ok = _run(audit_cli, diabetes_csv, "--policy", _policy(tmp_path, PASSING))
    assert ok.result.exit_code == 0, ok.result.output
    assert ok.json()["verdict"] == "pass"
