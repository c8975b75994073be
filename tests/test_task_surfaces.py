"""Regression and multiclass audits on the surfaces around a report (issue 17): the batch
index, model cards, JUnit and the regression report's prediction-distribution chart.

One batch runs the regression sample, the multiclass sample and a regression audit of
precomputed predictions whose group names are hostile; the card and JUnit tests read its
reports' JSON.
"""

from __future__ import annotations

import csv
import json
import math
import random
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from fairaudit.cli import cli
from fairaudit.cli._history import report_summary
from fairaudit.outputs import export_card, junit_xml, mct_schema_path, render_html
from fairaudit.outputs._chart_ecdf import (
    ECDF_MAX_GROUPS,
    EcdfGroup,
    ecdf_chart,
    ecdf_gap,
    ecdf_groups,
)
from fairaudit.result import AuditResult

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
HOSTILE = ("<script>alert(1)</script>", "north & <b>south</b>", "plain", "x" * 150)
REGRESSION_POLICY = """\
[[rule]]
metric = "max_group_mae_ratio"
max = 1.05

[[rule]]
metric = "ks_statistic"
max = 0.3
"""
MULTICLASS_POLICY = """\
[[rule]]
metric = "demographic_parity_ratio"
class = "own"
min = 0.5

[[rule]]
metric = "equalized_odds_difference"
max = 0.2
"""


def quantile_summary(values: np.ndarray, steps: int = 40) -> list[float]:
    """Return the lower quantiles at ``k / steps`` (``k = 0..steps``) of ``values``: what the
    chart reads from ``metrics.by_group[i].prediction_quantiles`` (integer arithmetic, so
    every engine gives the same indices)."""
    ordered = np.sort(np.asarray(values, dtype=float))
    n = len(ordered)
    indices = [0] + [max(-(-k * n // steps), 1) - 1 for k in range(1, steps + 1)]
    return [float(ordered[i]) for i in indices]


def write_hostile_regression(folder: Path, worst: int = 0, rows: int = 800) -> Path:
    """Write a regression CSV (target, precomputed prediction, two sensitive columns) whose
    group names are hostile; the groups' errors and predictions differ, group ``HOSTILE[worst]``'s
    the most (the script-named group's by default)."""
    rng = random.Random(3)
    path = folder / "hostile-regression.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["y", "pred", "g", "r"])
        for i in range(rows):
            y = rng.gauss(100, 20) + (i % 4) * 5
            pred = y + rng.gauss((3 - (i - worst) % 4) * 4, 15)
            writer.writerow([round(y, 3), round(pred, 3), HOSTILE[i % 4], "ab"[i % 3 == 0]])
    return path


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run one batch of the three audits; return its index and each report's JSON."""
    folder = tmp_path_factory.mktemp("surfaces")
    data = write_hostile_regression(folder)
    (folder / "regression-policy.toml").write_text(REGRESSION_POLICY, encoding="utf-8")
    (folder / "multiclass-policy.toml").write_text(MULTICLASS_POLICY, encoding="utf-8")
    manifest = folder / "audits.toml"
    manifest.write_text(
        'seed = 0\nledger = "reports/fairaudit-ledger.sqlite"\n'  # beside the reports
        f"[[audit]]\nconfig = {json.dumps(str(SAMPLE / 'regression' / 'audit.toml'))}\n"
        'policy = ["regression-policy.toml"]\n'
        f"[[audit]]\nconfig = {json.dumps(str(SAMPLE / 'multiclass' / 'audit.toml'))}\n"
        'policy = ["multiclass-policy.toml"]\n'
        f'[[audit]]\nname = "hostile-regression"\ndata = {json.dumps(str(data))}\n'
        'target = "y"\nprediction_col = "pred"\nsensitive = ["g", "r"]\ntask = "regression"\n',
        encoding="utf-8",
    )
    out = folder / "reports"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1700000000")
        patch.delenv("FAIRAUDIT_SIGNING_KEY", raising=False)
        result = CliRunner().invoke(cli, ["batch", str(manifest), "-j", "1", "-o", str(out), "-q"])
    assert result.exit_code == 3, result.output  # the regression sample fails its policy
    index = json.loads((out / "index.json").read_text(encoding="utf-8"))
    reports = {
        a["name"]: json.loads((out / a["report_json"]).read_text(encoding="utf-8"))
        for a in index["audits"]
    }
    return {
        "folder": out,
        "index": index,
        "html": (out / "index.html").read_text(encoding="utf-8"),
        "reports": reports,
        "data": data,
    }


# --- batch ------------------------------------------------------------------------------


def test_batch_index_names_each_audits_task_and_headline(batch: dict[str, Any]) -> None:
    audits = {a["name"]: a for a in batch["index"]["audits"]}
    regression = audits["diabetes-linear-regression"]
    multiclass = audits["german-credit-housing"]
    assert regression["task"] == "regression" and regression["status"] == "policy_failed"
    assert multiclass["task"] == "multiclass" and multiclass["status"] == "policy_failed"
    assert audits["hostile-regression"]["task"] == "regression"
    # the index JSON holds the result's headline and a multiclass result's worst classes
    report = batch["reports"]["diabetes-linear-regression"]
    assert regression["headline"] == report["headline"]
    assert regression["worst_classes"] == []
    summary = batch["reports"]["german-credit-housing"]["summary"]
    assert multiclass["worst_classes"] == summary["worst_classes"]
    assert {h["class"] for h in multiclass["headline"]} == {"free", "own", "rent"}
    html = batch["html"]
    assert html.count("model (regression)") == 2 and html.count("model (multiclass)") == 1
    ks = next(
        h for h in report["headline"] if h["feature"] == "age" and h["metric"] == "ks_statistic"
    )
    assert f"age: largest KS distance {ks['value']:.3f}" in html
    worst = next(
        w
        for w in summary["worst_classes"]
        if w["feature"] == "sex" and w["metric"] == "demographic_parity_ratio"
    )
    assert (
        f"sex: demographic parity ratio {worst['value']:.3f} (worst class {worst['class']})" in html
    )


def test_batch_index_shows_the_derived_outcomes_failing_ratio(tmp_path: Path) -> None:
    """A regression audit with favorable_above failing the four-fifths preset: its row says
    why, the favourable-rate ratio of the derived outcome per grouping (the reviewer's
    finding: the row showed only the KS distance and MAE ratio)."""
    data = tmp_path / "scored.csv"
    rows = [f"{100 + i % 7},{(120 if i % 2 else 100) + i % 13},{'ab'[i % 2]}" for i in range(400)]
    data.write_text("y,pred,g\n" + "\n".join(rows) + "\n", encoding="utf-8")
    manifest = tmp_path / "audits.toml"
    manifest.write_text(
        f'[[audit]]\nname = "thresholded"\ndata = {json.dumps(str(data))}\ntarget = "y"\n'
        'prediction_col = "pred"\nsensitive = ["g"]\ntask = "regression"\n'
        'favorable_above = 110\npolicy = ["preset:four-fifths"]\n'
        f'[[audit]]\nname = "plain"\ndata = {json.dumps(str(data))}\ntarget = "y"\n'
        'prediction_col = "pred"\nsensitive = ["g"]\ntask = "regression"\n',
        encoding="utf-8",
    )
    out = tmp_path / "reports"
    result = CliRunner().invoke(cli, ["batch", str(manifest), "-j", "1", "-o", str(out), "-q"])
    assert result.exit_code == 3, result.output
    index = json.loads((out / "index.json").read_text(encoding="utf-8"))
    thresholded, plain = index["audits"]
    assert thresholded["status"] == "policy_failed" and "favorable_outcome" not in plain
    report = json.loads((out / thresholded["report_json"]).read_text(encoding="utf-8"))
    derived = report["summary"]["favorable_outcome"]
    assert thresholded["favorable_outcome"] == {
        "outcome": derived["outcome"],
        "headline": derived["headline"],
    }
    ratio = next(h for h in derived["headline"] if h["metric"] == "demographic_parity_ratio")
    assert ratio["value"] < 0.8  # the four-fifths preset fails on it
    html = (out / "index.html").read_text(encoding="utf-8")
    assert f"g: favourable-rate ratio {ratio['value']:.3f} (prediction &gt; 110)" in html


def test_batch_index_escapes_hostile_group_names(batch: dict[str, Any]) -> None:
    html = batch["html"]
    assert "<script>alert(1)</script>" not in html
    assert "<b>south</b>" not in html
    assert "(g=&lt;script&gt;alert(1)&lt;/script&gt;)" in html  # the worst MAE group, as text


# --- history ----------------------------------------------------------------------------


def test_history_shows_each_audits_task_and_worst_headline(batch: dict[str, Any]) -> None:
    ledger = batch["folder"] / "fairaudit-ledger.sqlite"
    runner = CliRunner()
    listed = runner.invoke(cli, ["ledger", "list", str(ledger)])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].split()[-2:] == ["task", "headline"]
    regression = batch["reports"]["diabetes-linear-regression"]
    ks = max(h["value"] for h in regression["headline"] if h["metric"] == "ks_statistic")
    assert lines[1].endswith(f"regression  KS {ks:.3f} (age)")
    multiclass = batch["reports"]["german-credit-housing"]
    worst = min(
        (h for h in multiclass["headline"] if h["metric"] == "demographic_parity_ratio"),
        key=lambda h: h["value"],
    )
    where = f"{worst['feature']}, class {worst['class']}"
    assert lines[2].endswith(f"multiclass  DP ratio {worst['value']:.3f} ({where})")
    shown = runner.invoke(cli, ["history", "hostile-regression", "--ledger", str(ledger), "--json"])
    assert shown.exit_code == 0, shown.output
    (entry,) = json.loads(shown.output)
    assert entry["task"] == "regression" and entry["headline"]["metric"] == "ks_statistic"


def test_history_shows_no_task_for_a_changed_or_missing_report(
    batch: dict[str, Any], tmp_path: Path
) -> None:
    """Only a report whose bytes are those the ledger recorded is read, and its numbers come
    from those bytes: an edited .json beside it is not shown, a missing one is not needed,
    and a folder named like a report is passed over."""
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(batch["folder"], folder)
    audit = next(a for a in batch["index"]["audits"] if a["name"] == "german-credit-housing")
    with (folder / audit["report"]).open("a", encoding="utf-8") as page:
        page.write("<!-- edited -->")
    hostile = next(a for a in batch["index"]["audits"] if a["name"] == "hostile-regression")
    (folder / hostile["report_json"]).unlink()
    sample = next(a for a in batch["index"]["audits"] if a["name"] == "diabetes-linear-regression")
    twin = folder / sample["report_json"]
    forged = json.loads(twin.read_text(encoding="utf-8"))
    for h in forged["headline"]:
        h["value"] = 0.0  # a forged "no disparity" beside the genuine page
    twin.write_text(json.dumps(forged), encoding="utf-8")
    (folder / "not-a-report.html").mkdir()
    result = CliRunner().invoke(cli, ["ledger", "list", str(folder / "fairaudit-ledger.sqlite")])
    assert result.exit_code == 0, result.output
    rows = result.output.splitlines()[1:]
    ks = max(
        h["value"]
        for h in batch["reports"]["diabetes-linear-regression"]["headline"]
        if h["metric"] == "ks_statistic"
    )
    assert rows[0].endswith(f"regression  KS {ks:.3f} (age)")  # the page's, not the .json's
    assert rows[1].split()[-2:] == ["-", "-"]  # its page was edited
    assert rows[2].split()[-4] == "regression"  # read from its page; no .json needed


def test_report_summary_of_each_task() -> None:
    binary = {
        "audit": {"id": "a"},
        "headline": [
            {"feature": "sex", "metric": "demographic_parity_ratio", "value": 0.9},
            {"feature": "age", "metric": "demographic_parity_ratio", "value": 0.7},
            {"feature": "age", "metric": "equalized_odds_difference", "value": 0.1},
            {"feature": "x", "metric": "demographic_parity_ratio", "value": None},
        ],
    }
    assert report_summary(binary)["text"] == "DP ratio 0.700 (age)"
    assert report_summary(binary)["task"] == "binary"
    assert report_summary({"audit": {"task": "regression"}, "headline": []}) == {
        "task": "regression",
        "headline": None,
        "text": "-",
    }
    odd = {"audit": {"task": "multiclass"}, "headline": [{"metric": "demographic_parity_ratio",
           "value": "0.5"}, "junk"]}  # fmt: skip
    assert report_summary(odd)["headline"] is None


# --- cards ------------------------------------------------------------------------------


def _card(batch: dict[str, Any], name: str, fmt: str) -> str:
    audit = next(a for a in batch["index"]["audits"] if a["name"] == name)
    return export_card(batch["folder"] / audit["report_json"], format=fmt)  # type: ignore[arg-type]


def test_multiclass_card_has_one_row_per_class_and_the_worst_class(
    batch: dict[str, Any],
) -> None:
    text = _card(batch, "german-credit-housing", "markdown")
    data = batch["reports"]["german-credit-housing"]
    assert "- Task: multiclass (classes free, own, rent)" in text
    assert "| grouping | class | demographic parity difference |" in text
    for grouping in ("sex", "age", "intersection"):
        for label in ("free", "own", "rent"):
            ratio = next(
                h
                for h in data["headline"]
                if (h["feature"], h["class"], h["metric"])
                == (grouping, label, "demographic_parity_ratio")
            )
            row = next(
                line for line in text.splitlines() if line.startswith(f"| {grouping} | {label} |")
            )
            assert f"{ratio['value']:.4f}" in row
    # the group table shows accuracy with its interval (the multiclass row keeps its
    # intervals under ci.metrics)
    female = next(r for r in data["metrics"]["by_group"] if r["group"] == {"sex": "female"})
    low, high = female["ci"]["metrics"]["accuracy"]
    assert f"{female['metrics']['accuracy']:.4f} [{low:.3f}, {high:.3f}]" in text
    assert "(class free)" in text  # the worst class of each grouping and metric
    # the policy's rule on one class says which
    assert "| demographic\\_parity\\_ratio (class own) | >= 0.5 | pass |" in text
    # who is worse off: the favourable classes' view
    assert "(a prediction of own)" in text


def test_multiclass_huggingface_and_mct_name_each_class(batch: dict[str, Any]) -> None:
    hf = _card(batch, "german-credit-housing", "huggingface")
    assert 'name: "demographic_parity_ratio (sex, class own)"' in hf
    names = [line for line in hf.splitlines() if line.strip().startswith('name: "demographic')]
    assert len(names) == len(set(names))  # no two metrics share a label
    document = json.loads(_card(batch, "german-credit-housing", "mct"))
    schema = json.loads(mct_schema_path().read_text(encoding="utf-8"))
    assert list(jsonschema.Draft7Validator(schema).iter_errors(document)) == []
    metrics = document["quantitative_analysis"]["performance_metrics"]
    keys = [(m["type"], m["slice"]) for m in metrics]
    assert len(keys) == len(set(keys))
    assert ("demographic_parity_ratio", "sex, class rent") in keys
    overall = next(m for m in metrics if (m["type"], m["slice"]) == ("accuracy", "overall"))
    assert "confidence_interval" in overall


def test_regression_card_says_the_task_and_escapes_group_names(batch: dict[str, Any]) -> None:
    text = _card(batch, "hostile-regression", "markdown")
    assert "- Task: regression" in text
    assert "<script>" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "largest KS distance between two groups' predictions" in text
    hf = _card(batch, "hostile-regression", "huggingface")
    assert "type: tabular-regression" in hf


# --- JUnit ------------------------------------------------------------------------------


def test_regression_junit_has_a_case_per_rule_and_grouping(batch: dict[str, Any]) -> None:
    data = batch["reports"]["diabetes-linear-regression"]
    root = ET.fromstring(junit_xml(data["policy"], summary=data["summary"]))
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    assert ("fairaudit.policy.ks_statistic", "age") in cases
    failed = cases[("fairaudit.policy.max_group_mae_ratio", "age (between groups)")]
    failure = failed.find("failure")
    assert failure is not None and "age=[40, 55)" in (failure.text or "")
    assert root.get("failures") == str(
        sum(1 for c in cases.values() if c.find("failure") is not None)
    )


def test_junit_cli_on_a_hostile_regression_audit(batch: dict[str, Any], tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(REGRESSION_POLICY, encoding="utf-8")
    junit = tmp_path / "fairness.xml"
    args = ["run", str(batch["data"]), "--target", "y", "--prediction-col", "pred"]
    args += ["--sensitive", "g", "--sensitive", "r", "--task", "regression"]
    args += ["--policy", str(policy), "--junit", str(junit), "-o", str(tmp_path / "r.html"), "-q"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 3, result.output
    text = junit.read_text(encoding="utf-8")
    assert "<script>" not in text and "<b>south" not in text
    root = ET.fromstring(text)
    names = [c.get("name") for c in root.iter("testcase")]
    assert "g (between groups)" in names and "intersection" in names


def test_multiclass_junit_names_each_class(batch: dict[str, Any]) -> None:
    data = batch["reports"]["german-credit-housing"]
    root = ET.fromstring(junit_xml(data["policy"], summary=data["summary"]))
    cases = {(c.get("classname", ""), c.get("name", "")): c for c in root.iter("testcase")}
    own = "fairaudit.policy.demographic_parity_ratio:class=own"
    assert {name for classname, name in cases if classname == own} == {
        f"{g}, class own (between groups)" for g in ("sex", "age", "intersection")
    }
    per_class = {
        name for classname, name in cases if classname.endswith("equalized_odds_difference")
    }
    assert {n.split(" (")[0] for n in per_class} == {
        f"{g}, class {c}" for g in ("sex", "age", "intersection") for c in ("free", "own", "rent")
    }
    failures = [c.find("failure") for c in cases.values()]
    texts = [f.text or "" for f in failures if f is not None]
    assert texts and all("class: " in text for text in texts)


def test_junit_names_the_class_of_a_multiclass_rule() -> None:
    """A rule judged one-vs-rest on one class (policy ``class =``) names its class."""
    policy = {
        "verdict": "fail",
        "not_evaluable": "warn",
        "layers": [{"source": "p.toml", "sha256": "0" * 64}],
        "rules": [
            {
                "id": "demographic_parity_ratio",
                "metric": "demographic_parity_ratio",
                "compare": "between_groups",
                "class": ["own"],
                "bound": {"min": 0.8},
                "evidence": "point",
                "layer": "p.toml",
                "outcomes": [
                    {
                        "feature": "sex",
                        "groups": [{"sex": "female"}, {"sex": "male"}],
                        "status": "fail",
                        "observed": 0.7,
                        "interval": None,
                        "reason": "0.7 is not >= 0.8",
                    },
                    {
                        "feature": "age",
                        "class": "<rent>",
                        "groups": [],
                        "status": "pass",
                        "observed": 0.9,
                        "interval": None,
                        "reason": "ok",
                    },
                ],
            }
        ],
    }
    root = ET.fromstring(junit_xml(policy))
    names = [c.get("name") for c in root.iter("testcase")]
    assert names == ["sex, class own (between groups)", "age, class <rent>"]
    failure = next(root.iter("failure"))
    assert "class: own" in (failure.text or "")


# --- the prediction-distribution chart ----------------------------------------------------


def _groups(samples: dict[str, np.ndarray], reference: str, steps: int = 40) -> list[EcdfGroup]:
    """Return the chart's groups of ``samples``, each with its exact KS from the reference."""

    def ks(name: str) -> float | None:
        exact = stats.ks_2samp(samples[name], samples[reference]).statistic
        return None if name == reference else float(exact)

    return [
        EcdfGroup(name, len(v), tuple(quantile_summary(v, steps)), ks(name), name == reference)
        for name, v in samples.items()
    ]


@pytest.mark.parametrize("steps", [10, 40])
def test_ecdf_gap_is_within_one_step_of_the_exact_ks(steps: int) -> None:
    rng = np.random.default_rng(5)
    for n_a, n_b, shift in ((200, 150, 0.3), (37, 500, 1.0), (3, 4, 0.0), (1000, 1000, 0.05)):
        a, b = rng.normal(0, 1, n_a), rng.normal(shift, 1.3, n_b)
        x, ga, gb = ecdf_gap(quantile_summary(a, steps), quantile_summary(b, steps))
        exact = stats.ks_2samp(a, b).statistic
        assert abs(abs(ga - gb) - exact) < 1 / steps + 1e-12, (n_a, n_b, shift)
        # the drawn curves are each group's ECDF rounded down to a multiple of 1/steps
        assert math.floor(np.mean(a <= x) * steps + 1e-9) / steps == pytest.approx(ga)


def test_ecdf_chart_escapes_names_and_marks_the_largest_distance() -> None:
    rng = np.random.default_rng(1)
    samples = {name: rng.normal(i, 1, 120) for i, name in enumerate(HOSTILE)}
    chart = ecdf_chart("<i>title</i>", _groups(samples, HOSTILE[0]))
    assert chart is not None
    html = str(chart.html)
    assert "<script>" not in html and "<b>" not in html and "<i>title" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; (reference)" in html
    widest = max(
        (g for g in _groups(samples, HOSTILE[0]) if not g.reference), key=lambda g: g.ks or 0
    )
    assert f"KS {widest.ks:.3f}" in html  # the exact value is printed
    assert html.count('<path d="M') == len(HOSTILE)
    svg = html[
        html.index('<svg class="ecdf"') : html.index("</svg>", html.index('<svg class="ecdf"'))
    ]
    assert "north" not in svg and "script" not in svg.replace("aria-label", "")  # names stay out


def test_ecdf_chart_draws_at_most_the_largest_distances_and_skips_small_groups() -> None:
    rng = np.random.default_rng(2)
    samples = {f"g{i}": rng.normal(i / 4, 1, 80) for i in range(12)}
    groups = _groups(samples, "g0")
    groups = [
        EcdfGroup(g.label, g.count, g.quantiles, g.ks, g.reference, few=g.label == "g11")
        for g in groups
    ]
    chart = ecdf_chart("t", groups)
    assert chart is not None
    html = str(chart.html)
    assert html.count('<path d="M') == ECDF_MAX_GROUPS + 1
    widest = max((g for g in groups if not g.few and not g.reference), key=lambda g: g.ks or 0)
    assert widest.label == "g10" and f"g10, {widest.ks:.3f}" in html  # g11 has few rows
    assert "4 more groups with smaller KS distances are in the table only" in html
    # no reference, or only one group: nothing to compare, no chart
    assert ecdf_chart("t", [g for g in groups if not g.reference]) is None
    assert ecdf_chart("t", [g for g in groups if g.reference]) is None
    constant = EcdfGroup("c", 5, (2.0,) * 41, 0.0, False)
    assert ecdf_chart("t", [groups[0], constant]) is not None  # a constant group draws
    # predictions a subnormal double apart (no tick step: was a math domain error)
    tiny = EcdfGroup("r", 40, (0.0,) * 21 + (5e-324,) * 20, None, True)
    other = EcdfGroup("o", 40, (0.0,) * 31 + (5e-324,) * 10, 0.25, False)
    tiny_chart = ecdf_chart("t", [tiny, other])
    assert tiny_chart is not None and "nan" not in str(tiny_chart.html).lower()


def test_regression_report_draws_the_chart_from_the_quantiles(batch: dict[str, Any]) -> None:
    """The audit writes each group's ``prediction_quantiles`` (equal to an independent
    computation from the rows) and the page draws each grouping's ECDF from them."""
    data = json.loads(json.dumps(batch["reports"]["hostile-regression"]))
    rows = np.genfromtxt(batch["data"], delimiter=",", names=True, dtype=None, encoding="utf-8")
    for row in data["metrics"]["by_group"]:
        mask = np.ones(len(rows), dtype=bool)
        for feature, value in row["group"].items():
            mask &= rows[feature] == value
        assert mask.sum() == row["count"]
        # The audit wrote them (measure._regression.prediction_quantiles): the oracle agrees.
        assert row["prediction_quantiles"] == quantile_summary(rows["pred"][mask])
    groups = ecdf_groups(
        [r for r in data["metrics"]["by_group"] if r["feature"] == "g"],
        [d for d in data["disparities"] if d["feature"] == "g"],
        lambda group: ", ".join(f"{k}={v}" for k, v in group.items()),
    )
    assert sum(g.reference for g in groups) == 1 and all(
        g.ks is not None for g in groups if not g.reference
    )
    html = render_html(AuditResult.from_dict(data))
    assert html.count('<svg class="ecdf"') == 3  # g, r and their intersection
    assert "<script>alert(1)</script>" not in html
