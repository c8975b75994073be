"""Diffing two audits: hand-made results with known changes, the HTML page, the CLI."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from fairaudit.cli import diff as diff_command
from fairaudit.outputs import (
    MSG_BAD_FIELD,
    MSG_BAD_JSON,
    MSG_NOT_FOUND,
    MSG_SCHEMA_MAJOR,
    AuditDiff,
    DiffError,
    MetricChange,
    diff_results,
    embedded_json,
    format_text,
    intervals_disjoint,
    load_results,
    render_diff_html,
)

HOSTILE = "<script>alert(1)</script>"
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def group_row(
    feature: str, group: dict[str, str], metrics: dict[str, Any], ci: dict[str, Any]
) -> dict[str, Any]:
    return {
        "feature": feature,
        "group": group,
        "count": 100,
        "metrics": metrics,
        "ci": ci,
        "reference": False,
        "insufficient_data": False,
        "single_class": False,
    }


def make_old() -> dict[str, Any]:
    """An audit of two groups of sex. Intervals are wide (±0.05) so moves are easy to place."""
    return {
        "schema_version": "1.0.0",
        "audit": {
            "id": "a" * 64,
            "name": "credit",
            "model_version": "1.0",
            "created_at": "2024-05-01T10:00:00Z",
            "sensitive_features": ["sex"],
            "reference": {"sex": {"sex": "male"}},
        },
        "lineage": {"data": {"sha256": "d" * 64}, "model": {"sha256": "m" * 64}},
        "metrics": {
            "overall": {"count": 200, "selection_rate": 0.5},
            "by_group": [
                group_row(
                    "sex",
                    {"sex": "female"},
                    {"selection_rate": 0.40, "true_positive_rate": 0.70, "precision": 0.6},
                    {
                        "selection_rate": [0.35, 0.45],
                        "true_positive_rate": [0.65, 0.75],
                        "precision": [0.55, 0.65],
                    },
                ),
                group_row(
                    "sex",
                    {"sex": "male"},
                    {"selection_rate": 0.60, "true_positive_rate": 0.80, "precision": 0.7},
                    {
                        "selection_rate": [0.55, 0.65],
                        "true_positive_rate": [0.75, 0.85],
                        "precision": [0.65, 0.75],
                    },
                ),
            ],
        },
        "uncertainty": {"confidence": 0.95, "overall_ci": {"selection_rate": [0.45, 0.55]}},
        "disparities": [
            {
                "feature": "sex",
                "metric": "selection_rate",
                "group": {"sex": "female"},
                "reference": {"sex": "male"},
                "difference": -0.2,
                "ratio": 0.4 / 0.6,
                "ci_difference": [-0.27, -0.13],
                "ci_ratio": [0.55, 0.78],
            }
        ],
        "headline": [
            {
                "feature": "sex",
                "metric": "demographic_parity_difference",
                "value": 0.2,
                "ci": [0.13, 0.27],
            }
        ],
        "verdict": "pass",
    }


def make_new() -> dict[str, Any]:
    """The old audit with known changes.

    female selection_rate 0.40 → 0.20 with [0.15, 0.25]: beyond its intervals; female
    true_positive_rate 0.70 → 0.72 with [0.67, 0.77]: within noise; male precision becomes
    undefined; a new group "other" appears; the verdict goes from pass to fail; the overall
    selection rate is unchanged; the disparity and headline move beyond their intervals.
    """
    new = copy.deepcopy(make_old())
    new["audit"]["id"] = "b" * 64
    new["audit"]["model_version"] = "2.0"
    new["lineage"]["model"]["sha256"] = "n" * 64
    female, male = new["metrics"]["by_group"]
    female["metrics"]["selection_rate"] = 0.20
    female["ci"]["selection_rate"] = [0.15, 0.25]
    female["metrics"]["true_positive_rate"] = 0.72
    female["ci"]["true_positive_rate"] = [0.67, 0.77]
    male["metrics"]["precision"] = None
    male["ci"]["precision"] = None
    new["metrics"]["by_group"].append(
        group_row("sex", {"sex": HOSTILE}, {"selection_rate": 0.5}, {"selection_rate": None})
    )
    disparity = new["disparities"][0]
    disparity.update(difference=-0.4, ratio=1 / 3, ci_difference=[-0.47, -0.33])
    disparity["ci_ratio"] = [0.25, 0.42]
    new["headline"][0].update(value=0.4, ci=[0.33, 0.47])
    new["verdict"] = "fail"
    return new


def find(diff: AuditDiff, section: str, metric: str, measure: str = "value") -> MetricChange:
    (change,) = [
        c
        for c in diff.changes
        if c.section == section and c.metric == metric and c.measure == measure
    ]
    return change


@pytest.fixture
def changed() -> AuditDiff:
    return diff_results(make_old(), make_new())


# ---------------------------------------------------------------------------------------------
# The rule and the comparison


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ((0.1, 0.2), (0.3, 0.4), True),
        ((0.3, 0.4), (0.1, 0.2), True),
        ((0.1, 0.3), (0.3, 0.4), False),  # touching ends overlap
        ((0.1, 0.3), (0.2, 0.4), False),
        ((0.1, 0.5), (0.2, 0.3), False),  # one inside the other
        (None, (0.2, 0.3), None),
        ((0.1, 0.2), None, None),
    ],
)
def test_intervals_disjoint(
    old: tuple[float, float] | None, new: tuple[float, float] | None, expected: bool | None
) -> None:
    assert intervals_disjoint(old, new) is expected


def test_a_metric_moving_beyond_its_interval(changed: AuditDiff) -> None:
    selection = [
        c for c in changed.changes if c.section == "group" and c.metric == "selection_rate"
    ]
    assert len(selection) == 1  # the new group has no old value to compare
    (change,) = selection
    assert change.group == {"sex": "female"}
    assert (change.old, change.new) == (0.40, 0.20)
    assert change.delta == pytest.approx(-0.20)
    assert (change.old_ci, change.new_ci) == ((0.35, 0.45), (0.15, 0.25))
    assert change.status == "beyond intervals"


def test_a_metric_moving_within_noise(changed: AuditDiff) -> None:
    change = find(changed, "group", "true_positive_rate")
    assert change.delta == pytest.approx(0.02)
    assert change.status == "within intervals"


def test_a_metric_becoming_undefined(changed: AuditDiff) -> None:
    change = find(changed, "group", "precision")
    assert (change.group, change.old, change.new, change.delta) == (
        {"sex": "male"},
        0.7,
        None,
        None,
    )
    assert change.status == "became undefined"


def test_disparities_and_headline_are_compared_with_their_intervals(changed: AuditDiff) -> None:
    difference = find(changed, "disparity", "selection_rate", "difference")
    assert difference.reference == {"sex": "male"}
    assert difference.label == "sex=female vs sex=male"
    assert difference.status == "beyond intervals"
    assert find(changed, "disparity", "selection_rate", "ratio").status == "beyond intervals"
    headline = find(changed, "headline", "demographic_parity_difference")
    assert (headline.old, headline.new, headline.status) == (0.2, 0.4, "beyond intervals")


def test_unchanged_numbers_are_not_listed(changed: AuditDiff) -> None:
    assert not [c for c in changed.changes if c.section == "overall"]
    assert len(changed.changes) == 6
    assert changed.changes[0].section == "headline"  # headline first, disparities last
    assert changed.changes[-1].section == "disparity"


def test_verdict_change(changed: AuditDiff) -> None:
    assert changed.verdict_changed
    assert changed.to_dict()["verdict"] == {"old": "pass", "new": "fail", "changed": True}
    same = diff_results(make_old(), make_old())
    assert not same.verdict_changed and same.changes == []


def test_verdict_from_no_policy_is_a_change() -> None:
    old = make_old()
    old["verdict"] = None
    result = diff_results(old, make_old())
    assert result.to_dict()["verdict"] == {"old": None, "new": "pass", "changed": True}


def test_groups_that_appear_and_disappear(changed: AuditDiff) -> None:
    assert [(g.feature, g.group, g.count) for g in changed.groups_added] == [
        ("sex", {"sex": HOSTILE}, 100)
    ]
    assert changed.groups_removed == []
    backwards = diff_results(make_new(), make_old())
    assert [g.group for g in backwards.groups_removed] == [{"sex": HOSTILE}]


def test_groups_match_whatever_the_order_of_their_features() -> None:
    old = make_old()
    row = group_row("intersection", {"sex": "female", "age": "young"}, {"selection_rate": 0.3}, {})
    old["metrics"]["by_group"].append(row)
    new = copy.deepcopy(old)
    new["metrics"]["by_group"][-1]["group"] = {"age": "young", "sex": "female"}
    new["metrics"]["by_group"][-1]["metrics"]["selection_rate"] = 0.35
    result = diff_results(old, new)
    assert result.groups_added == [] and result.groups_removed == []
    (change,) = result.changes
    assert (change.feature, change.status) == ("intersection", "no intervals")


def test_threshold_leaves_out_small_changes() -> None:
    result = diff_results(make_old(), make_new(), threshold=0.05)
    assert find(result, "group", "selection_rate").status == "beyond intervals"
    assert not [c for c in result.changes if c.metric == "true_positive_rate"]
    # Becoming undefined is always listed: it has no size to compare.
    assert find(result, "group", "precision").status == "became undefined"


@pytest.mark.parametrize("threshold", [-0.1, float("nan"), True])
def test_bad_threshold(threshold: float) -> None:
    with pytest.raises(DiffError, match="The threshold must be a finite number >= 0"):
        diff_results(make_old(), make_old(), threshold=threshold)


def test_reference_change_and_other_notes() -> None:
    new = make_old()
    new["audit"]["reference"] = {"sex": {"sex": "female"}}
    new["audit"]["name"] = "scoring"
    new["lineage"]["data"]["sha256"] = "e" * 64
    new["uncertainty"]["confidence"] = 0.9
    result = diff_results(make_old(), new)
    assert result.reference_changes == [
        {"feature": "sex", "old": {"sex": "male"}, "new": {"sex": "female"}}
    ]
    assert result.notes == [
        "The audits are of different models: 'credit' and 'scoring'.",
        "The evaluation data changed: changes may come from the data, not the model.",
        "The confidence levels differ (0.95 and 0.9); intervals are compared as they are.",
        "The reference group of sex changed from sex=male to sex=female: its disparities "
        "compare against different groups.",
    ]


def test_results_without_intervals_are_compared_without_judgement() -> None:
    old, new = make_old(), make_new()
    for result in (old, new):
        result["uncertainty"] = None
        for row in result["metrics"]["by_group"]:
            row.pop("ci")
    change = find(diff_results(old, new), "group", "selection_rate")
    assert (change.old_ci, change.status) == (None, "no intervals")


def test_to_dict_is_json_with_a_summary(changed: AuditDiff) -> None:
    data = json.loads(json.dumps(changed.to_dict(), allow_nan=False))
    assert data["summary"] == {
        "beyond intervals": 4,
        "became undefined": 1,
        "became defined": 0,
        "within intervals": 1,
        "no intervals": 0,
    }
    assert (data["data_changed"], data["model_changed"]) == (False, True)
    first = data["changes"][0]
    assert first["old_ci"] == [0.13, 0.27] and first["beyond_intervals"] is True


# ---------------------------------------------------------------------------------------------
# Bad input


def test_a_1_0_report_compares_with_a_1_1_report() -> None:
    """Schema 1.1.0 (summary mitigation variants) is the same major: old reports still diff."""
    from fairaudit.result import SCHEMA_VERSION

    new = make_new()
    new["schema_version"] = SCHEMA_VERSION
    assert SCHEMA_VERSION.startswith("1.") and SCHEMA_VERSION != "1.0.0"
    assert diff_results(make_old(), new).to_dict() == diff_results(make_old(), make_new()).to_dict()


def test_schema_major_versions_must_match() -> None:
    new = make_old()
    new["schema_version"] = "2.0.0"
    with pytest.raises(DiffError) as caught:
        diff_results(make_old(), new)
    assert str(caught.value) == MSG_SCHEMA_MAJOR.format(old="1.0.0", new="2.0.0")


@pytest.mark.parametrize(
    ("mutate", "where", "problem"),
    [
        (
            lambda r: r["metrics"]["by_group"][1]["metrics"].update(precision="0.7"),
            "metrics.by_group[1].metrics.precision",
            "is not a number or null",
        ),
        (
            lambda r: r["metrics"]["by_group"][0]["ci"].update(precision=[0.1]),
            "metrics.by_group[0].ci.precision",
            "is not an interval [low, high]",
        ),
        (lambda r: r["metrics"].update(by_group={}), "metrics.by_group", "is not a list"),
        (lambda r: r.update(audit=[]), "audit", "is not an object"),
    ],
)
def test_malformed_fields_are_named(mutate: Any, where: str, problem: str) -> None:
    new = make_old()
    mutate(new)
    with pytest.raises(DiffError) as caught:
        diff_results(make_old(), new)
    assert str(caught.value) == MSG_BAD_FIELD.format(side="new", where=where, problem=problem)


def html_report(results: dict[str, Any]) -> str:
    return (
        "<!DOCTYPE html><html><body><p>report</p>"
        f'<script type="application/json" id="fairaudit-data">{embedded_json(results)}</script>'
        "</body></html>\n"
    )


def test_load_results_from_json_and_html(tmp_path: Path) -> None:
    results = make_new()  # holds a hostile group name, escaped inside the script element
    (tmp_path / "r.json").write_text(json.dumps(results), encoding="utf-8")
    (tmp_path / "r.html").write_text(html_report(results), encoding="utf-8")
    assert load_results(tmp_path / "r.json") == results
    assert load_results(tmp_path / "r.html") == results


def test_load_results_errors(tmp_path: Path) -> None:
    with pytest.raises(DiffError) as caught:
        load_results(tmp_path / "absent.json")
    assert str(caught.value) == MSG_NOT_FOUND.format(path=tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DiffError, match=re.escape(MSG_BAD_JSON.split(":")[0].format(path=bad))):
        load_results(bad)
    page = tmp_path / "page.html"
    page.write_text("<html><body>hello</body></html>")
    with pytest.raises(DiffError, match="is not a fairaudit report or result"):
        load_results(page)
    other = tmp_path / "other.json"
    other.write_text('{"name": "x"}')
    with pytest.raises(DiffError, match="it has no schema_version"):
        load_results(other)


# ---------------------------------------------------------------------------------------------
# Text and HTML


def test_text_output(changed: AuditDiff) -> None:
    text = format_text(changed)
    assert "Verdict changed: pass -> fail" in text
    assert f"Groups appeared: sex={HOSTILE} (sex, n=100)" in text
    assert "Moved beyond their intervals: 4" in text
    assert (
        "  group: sex=female  selection_rate  0.4000 -> 0.2000 (-0.2000)  "
        "[0.350, 0.450] -> [0.150, 0.250]"
    ) in text.splitlines()
    assert "Changed within their intervals: 1 (--all lists them)" in text
    assert "true_positive_rate" not in text
    assert "true_positive_rate" in format_text(changed, show_all=True)


def test_html_page_escapes_data_and_is_self_contained(changed: AuditDiff) -> None:
    page = render_diff_html(changed)
    assert HOSTILE not in page
    assert "sex=&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in page
    assert page.count("<script") == 1  # only the JSON data element
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "<link" not in page and "@import" not in page
    data = re.search(
        r'<script type="application/json" id="fairaudit-diff">(.*?)</script>', page, re.S
    )
    assert data is not None
    assert json.loads(data.group(1)) == json.loads(json.dumps(changed.to_dict()))
    assert 'class="outside">-0.2000<' in page


def test_html_page_escapes_hostile_names_everywhere() -> None:
    old, new = make_old(), make_new()
    for result in (old, new):
        result["audit"]["name"] = HOSTILE
        result["verdict"] = '"><script>x</script>'
        result["notes"] = HOSTILE
    page = render_diff_html(diff_results(old, new))
    assert "<script>" not in page.replace(
        '<script type="application/json" id="fairaudit-diff">', ""
    )


@pytest.mark.parametrize("page", ["report.html", "diff.html", "index.html"])
def test_every_page_extends_the_layout_instead_of_copying_its_head(page: str) -> None:
    """base.html alone holds the <head> (CSP, styles); each page fills its blocks."""
    from fairaudit.outputs import template_dir

    layout = (template_dir() / "base.html").read_text(encoding="utf-8")
    source = (template_dir() / page).read_text(encoding="utf-8")
    assert layout.count("Content-Security-Policy") == 1
    assert source.startswith('{% extends "base.html" %}\n')
    for copied in ("<head>", "<html", "Content-Security-Policy", "_style.html", "<body>"):
        assert copied not in source


# ---------------------------------------------------------------------------------------------
# Command line


@pytest.fixture
def cli() -> click.Group:
    group = click.Group("fairaudit")
    group.add_command(diff_command)
    return group


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old.json", tmp_path / "new.html"
    old.write_text(json.dumps(make_old()), encoding="utf-8")
    new.write_text(html_report(make_new()), encoding="utf-8")
    return old, new


def test_cli_diff_text_json_and_html(
    cli: click.Group, files: tuple[Path, Path], tmp_path: Path
) -> None:
    old, new = files
    runner = CliRunner()
    text = runner.invoke(cli, ["diff", str(old), str(new)])
    assert text.exit_code == 0, text.output
    assert text.output == format_text(diff_results(make_old(), make_new())) + "\n"
    as_json = runner.invoke(cli, ["diff", str(old), str(new), "--json", "--threshold", "0.05"])
    assert as_json.exit_code == 0
    assert json.loads(as_json.output)["threshold"] == 0.05
    page = tmp_path / "diff.html"
    written = runner.invoke(cli, ["diff", str(old), str(new), "--html", str(page)])
    assert written.exit_code == 0
    assert written.output.endswith(f"Wrote {page}\n")
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_cli_diff_help(cli: click.Group) -> None:
    result = CliRunner().invoke(cli, ["diff", "--help"])
    assert result.exit_code == 0 and "Example:" in result.output


def test_cli_diff_bad_input_exits_1(
    cli: click.Group, files: tuple[Path, Path], tmp_path: Path
) -> None:
    old, _ = files
    missing = tmp_path / "missing.html"
    result = CliRunner().invoke(cli, ["diff", str(old), str(missing)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"Error: {MSG_NOT_FOUND.format(path=missing)}\n"
    page = tmp_path / "page.html"
    page.write_text("<html></html>")
    result = CliRunner().invoke(cli, ["diff", str(page), str(old)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {page} is not a fairaudit report or result")


# ---------------------------------------------------------------------------------------------
# Control and bidi characters from the files (issue 12 §6)

ESCAPE_NAME = "credit\x1b]0;pwned\x07\x1b[2J"
BIDI_GROUP = "fe\u202emale"


def hostile_controls() -> tuple[dict[str, Any], dict[str, Any]]:
    old, new = make_old(), make_new()
    for result in (old, new):
        result["audit"]["name"] = ESCAPE_NAME
        result["audit"]["model_version"] = "1.0\u2066"
    new["metrics"]["by_group"][-1]["group"] = {"sex": BIDI_GROUP}
    return old, new


def test_text_output_shows_control_and_bidi_characters_as_escapes() -> None:
    text = format_text(diff_results(*hostile_controls()))
    assert not set(text) & {"\x1b", "\x07", "\u202e", "\u2066"}
    assert "Old: credit\\x1b]0;pwned\\x07\\x1b[2J 1.0<U+2066>, audit" in text
    assert "Groups appeared: sex=fe<U+202E>male (sex, n=100)" in text


def test_cli_diff_prints_no_control_or_bidi_character(cli: click.Group, tmp_path: Path) -> None:
    old, new = hostile_controls()
    old_path, new_path = tmp_path / "old.json", tmp_path / "new.json"
    old_path.write_text(json.dumps(old), encoding="utf-8")
    new_path.write_text(json.dumps(new), encoding="utf-8")
    for flags in ([], ["--json"], ["--all"]):
        result = CliRunner().invoke(cli, ["diff", str(old_path), str(new_path), *flags])
        assert result.exit_code == 0, result.output
        assert not set(result.output) & {"\x1b", "\x07", "\u202e", "\u2066"}, flags
    as_json = json.loads(
        CliRunner().invoke(cli, ["diff", str(old_path), str(new_path), "--json"]).output
    )
    assert as_json["old"]["name"] == ESCAPE_NAME  # the JSON keeps the data as it is


def test_html_page_shows_bidi_controls_visibly() -> None:
    diff = diff_results(*hostile_controls())
    page = render_diff_html(diff)
    data = re.search(r'id="fairaudit-diff">(.*?)</script>', page, re.S)
    assert data is not None
    shown = page.replace(data.group(0), "")
    assert not set(shown) & {"\x1b", "\x07", "\u202e", "\u2066"}
    assert "sex=fe&lt;U+202E&gt;male" in shown
    assert json.loads(data.group(1))["old"]["name"] == ESCAPE_NAME
