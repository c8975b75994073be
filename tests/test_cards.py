"""Tests of fairaudit.cards and the `fairaudit card` command.

The audit is of a tiny CSV of precomputed predictions: group a selects 0.8 of its 40 rows,
group b 0.3 (demographic parity ratio 0.375, so the four-fifths preset fails).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fairaudit.cli import card
from fairaudit.outputs import (
    BEGIN_MARKER,
    END_MARKER,
    MSG_FLOW_INDEX,
    MSG_NO_END,
    YAML_BEGIN,
    YAML_END,
    CardError,
    export_card,
    fairness_section,
    mct_card,
    mct_schema_path,
    model_index_lines,
    report_reference,
    update_huggingface_card,
)

HOSTILE = "<img src=x onerror=alert(1)> | *bold* [link](http://x) `code`\n# heading"

EXISTING_CARD = """\
---
language: en
# the owner's comment stays
license: apache-2.0
tags:
  - tabular   # an inline comment
custom_thing: {a: 1, b: [2, 3]}
model-index:
  - name: other-model
    results:
      - task: {type: tabular-classification}
        dataset: {name: holdout, type: holdout}
        metrics:
          - {type: accuracy, value: 0.9, name: Accuracy}
# a comment before the last key
zzz_unknown: "kept"
---

# My model

Text the owner wrote.
"""


@pytest.fixture(scope="module")
def audit_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Return the folder holding report.html and report.json of one audit (not signed)."""
    from fairaudit.pipe import run_audit
    from fairaudit.publish import write_report
    from fairaudit.spec import AuditSpec

    folder = tmp_path_factory.mktemp("card")
    with (folder / "scored.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["y", "pred", "sex"])
        for sex, selected in (("a", 0.8), ("b", 0.3)):
            for i in range(40):
                writer.writerow([i % 2, int(i < selected * 40), sex])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1700000000")
        spec = AuditSpec(
            data=folder / "scored.csv",
            target="y",
            prediction_col="pred",
            sensitive=("sex",),
            name="scorer",
            model_version="2.1",
            resamples=100,
            policy=("preset:four-fifths",),
            owner="risk team",
            intended_use="pre-screening",
        )
        write_report(run_audit(spec), folder / "report.html")
    yield folder


def _data(folder: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((folder / "report.json").read_text())
    return loaded


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(card, list(args), catch_exceptions=False)


# --- Hugging Face -----------------------------------------------------------------------


def test_huggingface_card_twice_is_byte_identical_and_keeps_the_card(
    audit_files: Path, tmp_path: Path
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(EXISTING_CARD)
    report = str(audit_files / "report.json")
    assert _invoke(report, "--format", "huggingface", "--card", str(readme)).exit_code == 0
    first = readme.read_bytes()
    result = _invoke(report, "--format", "huggingface", "--card", str(readme))
    assert result.exit_code == 0
    assert readme.read_bytes() == first
    text = first.decode()
    # Every line of the original card is still there, in order; ours were only added.
    original = EXISTING_CARD.splitlines()
    lines = text.splitlines()
    cursor = 0
    for line in original:
        cursor = lines.index(line, cursor) + 1
    assert text.count(BEGIN_MARKER) == 1 and text.count(END_MARKER) == 1
    assert text.count(YAML_BEGIN) == 1 and text.count(YAML_END) == 1
    # Our model-index entry follows the owner's, with the same indentation, before the comment.
    front = text.split("---\n")[1]
    assert front.index("  - name: other-model") < front.index("  " + YAML_BEGIN)
    assert front.index("  " + YAML_END) < front.index("# a comment before the last key")
    assert '  - name: "scorer 2.1"\n' in front
    assert text.endswith(
        "Text the owner wrote.\n\n"
        + fairness_section(_data(audit_files), report_reference(audit_files / "report.html"))
    )


def test_model_index_entry_follows_the_hugging_face_spec(audit_files: Path) -> None:
    data = _data(audit_files)
    lines = model_index_lines(data)
    headline = {(h["metric"], h["feature"]): h["value"] for h in data["headline"]}
    assert lines[:9] == [
        YAML_BEGIN,
        '- name: "scorer 2.1"',
        "  results:",
        "  - task:",
        "      type: tabular-classification",
        "    dataset:",
        '      name: "scored.csv"',
        '      type: "scored.csv"',
        "    metrics:",
    ]
    assert lines[-1] == YAML_END
    assert lines[9:12] == [
        '    - type: "demographic_parity_difference"',
        f"      value: {headline[('demographic_parity_difference', 'sex')]!r}",
        '      name: "demographic_parity_difference (sex)"',
    ]
    assert len(lines) == 10 + 3 * len(headline)


def test_model_index_round_trips_through_a_yaml_parser(audit_files: Path) -> None:
    yaml = pytest.importorskip("yaml")  # not a dependency; checked where it is installed
    data = _data(audit_files)
    data["audit"]["name"] = HOSTILE + '"\\ \u2028 \x85 \U0001f600'
    text = update_huggingface_card(EXISTING_CARD, data, None)
    front = yaml.safe_load(text.split("---\n")[1])
    assert list(front) == [
        "language",
        "license",
        "tags",
        "custom_thing",
        "model-index",
        "zzz_unknown",
    ]
    ours = front["model-index"][1]
    assert ours["name"] == data["audit"]["name"] + " 2.1"
    metric = ours["results"][0]["metrics"][0]
    assert metric == {
        "type": "demographic_parity_difference",
        "value": data["headline"][0]["value"],
        "name": "demographic_parity_difference (sex)",
    }


def test_new_card_gets_front_matter_and_the_section(audit_files: Path, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    export_card(audit_files / "report.json", format="huggingface", card=readme)
    text = readme.read_text()
    assert text.startswith("---\nmodel-index:\n" + YAML_BEGIN + "\n- name: ")
    assert "\n---\n\n" + BEGIN_MARKER + "\n## Fairness evaluation\n" in text


def test_card_without_model_index_gets_the_key_before_the_closing_line(
    audit_files: Path,
) -> None:
    text = update_huggingface_card("---\nlicense: mit\n---\nBody\n", _data(audit_files), None)
    assert text.startswith("---\nlicense: mit\nmodel-index:\n" + YAML_BEGIN + "\n")
    assert f"{YAML_END}\n---\nBody\n\n{BEGIN_MARKER}" in text


def test_crlf_card_keeps_its_line_endings(audit_files: Path) -> None:
    card_text = EXISTING_CARD.replace("\n", "\r\n")
    once = update_huggingface_card(card_text, _data(audit_files), None)
    assert "\n" not in once.replace("\r\n", "")
    assert update_huggingface_card(once, _data(audit_files), None) == once


def test_inline_model_index_is_refused(audit_files: Path) -> None:
    with pytest.raises(CardError) as caught:
        update_huggingface_card("---\nmodel-index: []\n---\n", _data(audit_files), None)
    assert str(caught.value) == MSG_FLOW_INDEX.format(path="card", line="model-index: []")


def test_a_lost_end_marker_is_an_error(audit_files: Path, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Card\n\n{BEGIN_MARKER}\nold section\n")
    result = _invoke(
        str(audit_files / "report.json"), "--format", "markdown", "--card", str(readme)
    )
    assert result.exit_code == 1
    assert (
        result.stderr
        == "Error: " + MSG_NO_END.format(path=readme, begin=BEGIN_MARKER, end=END_MARKER) + "\n"
    )


# --- the section --------------------------------------------------------------------------


def test_section_has_factors_groups_disparities_verdict_and_digest(audit_files: Path) -> None:
    data = _data(audit_files)
    html = audit_files / "report.html"
    section = fairness_section(data, report_reference(html))
    digest = hashlib.sha256(html.read_bytes()).hexdigest()
    assert section.startswith(BEGIN_MARKER + "\n## Fairness evaluation\n")
    assert section.endswith(END_MARKER + "\n")
    assert "Sensitive features: sex." in section
    assert "**FAIL** against the policy (preset:four-fifths)." in section
    assert "| four-fifths | favorable\\_rate\\_ratio | >= 0.8 | fail |" in section
    # Group b selects 12 of 40: 0.3000 with its Wilson interval; a is the reference.
    (row_b,) = [r for r in data["metrics"]["by_group"] if r["group"] == {"sex": "b"}]
    low, high = row_b["ci"]["selection_rate"]
    assert f"| sex=b | 40 | 0.3000 [{low:.3f}, {high:.3f}] |" in section
    assert "| reference |" in section
    assert "| sex | 0.5000 [" in section  # demographic parity difference 0.8 - 0.3
    assert "No mitigations were evaluated in this audit." in section
    assert f"The full report is report.html (SHA-256 `{digest}`); it is not signed." in section
    assert "- Owner: risk team" in section and "- Intended use: pre-screening" in section


def test_signed_report_is_cited_with_its_key(audit_files: Path, tmp_path: Path) -> None:
    from fairaudit.provenance import generate_key_pair, load_private_key, sign_report_bytes

    pair = generate_key_pair(tmp_path, name="auditor")
    signed = sign_report_bytes(
        (audit_files / "report.html").read_bytes(),
        key=load_private_key(pair.private_key),
        report_name="report.html",
    )
    (tmp_path / "report.html").write_bytes(signed)
    reference = report_reference(tmp_path / "report.html")
    assert reference.key_ids == (pair.key_id,)
    result = _invoke(
        str(audit_files / "report.json"),
        "--format",
        "markdown",
        "--report",
        str(tmp_path / "report.html"),
    )
    digest = hashlib.sha256(signed).hexdigest()
    assert f"(SHA-256 `{digest}`), signed by key `{pair.key_id[:16]}`." in result.stdout


def test_mitigations_are_listed_when_present(audit_files: Path) -> None:
    data = _data(audit_files)
    data["mitigations"] = [
        {"method": "threshold_dp", "constraint": "demographic_parity", "status": "ok",
         "protocol": "Cross-fitted thresholds."},
        {"method": "expgrad_eo", "constraint": "equalized_odds", "status": "skipped",
         "reason": "needs training data"},
    ]  # fmt: skip
    data["policy"]["mitigations"] = [
        {"method": "threshold_dp", "constraint": "demographic_parity", "protocol": None,
         "verdict": "pass", "failed_rules": [], "warned_rules": []},
    ]  # fmt: skip
    section = fairness_section(data, None)
    assert (
        "- threshold\\_dp (demographic\\_parity); policy verdict with it: pass. "
        "Cross-fitted thresholds." in section
    )
    assert "- expgrad\\_eo (equalized\\_odds): skipped, needs training data" in section
    tradeoffs = mct_card(data)["considerations"]["tradeoffs"]
    assert tradeoffs[0]["description"].startswith("threshold_dp (demographic_parity)")


def test_markdown_escapes_hostile_text(audit_files: Path) -> None:
    data = _data(audit_files)
    data["audit"]["name"] = HOSTILE
    section = fairness_section(data, None)
    assert "<img" not in section and "](" not in section.replace("\\](", "")
    assert (
        "- Model: &lt;img src=x onerror=alert(1)&gt; \\| \\*bold\\* \\[link\\](http://x) "
        "\\`code\\` # heading 2.1\n" in section
    )
    assert section.count(END_MARKER) == 1


def test_markdown_format_prints_the_section(audit_files: Path) -> None:
    result = _invoke(str(audit_files / "report.json"), "--format", "markdown")
    assert result.exit_code == 0
    expected = fairness_section(_data(audit_files), report_reference(audit_files / "report.html"))
    assert result.stdout == expected


def test_markdown_card_update_is_idempotent(audit_files: Path, tmp_path: Path) -> None:
    notes = tmp_path / "CARD.md"
    notes.write_text("# Card\n\nBefore.\n")
    for _ in range(2):
        export_card(audit_files / "report.json", format="markdown", card=notes)
    text = notes.read_text()
    assert text.startswith("# Card\n\nBefore.\n\n" + BEGIN_MARKER)
    assert text.count(BEGIN_MARKER) == 1


def test_card_reads_the_results_embedded_in_an_html_report(audit_files: Path) -> None:
    result = _invoke(str(audit_files / "report.html"), "--format", "markdown")
    assert result.exit_code == 0
    assert result.stdout == fairness_section(
        _data(audit_files), report_reference(audit_files / "report.html")
    )


def test_not_a_report(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("[1, 2]")
    result = _invoke(str(tmp_path / "x.json"))
    assert (
        result.stderr
        == f"Error: '{tmp_path / 'x.json'}' is not a fairaudit report.json: not a JSON object\n"
    )


# --- Model Card Toolkit -------------------------------------------------------------------


def test_mct_output_validates_against_the_committed_schema(
    audit_files: Path, tmp_path: Path
) -> None:
    import jsonschema

    out = tmp_path / "model_card.json"
    result = _invoke(str(audit_files / "report.json"), "--format", "mct", "-o", str(out))
    assert result.exit_code == 0
    document = json.loads(out.read_text())
    schema = json.loads(mct_schema_path().read_text())
    validator = jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    assert list(validator.iter_errors(document)) == []
    metrics = document["quantitative_analysis"]["performance_metrics"]
    data = _data(audit_files)
    (row_b,) = [r for r in data["metrics"]["by_group"] if r["group"] == {"sex": "b"}]
    assert {
        "type": "selection_rate",
        "value": 0.3,
        "slice": "sex=b",
        "confidence_interval": {
            "lower_bound": row_b["ci"]["selection_rate"][0],
            "upper_bound": row_b["ci"]["selection_rate"][1],
        },
    } in metrics
    headline = [m for m in metrics if m["type"] == "demographic_parity_ratio"]
    assert headline[0]["slice"] == "sex" and headline[0]["value"] == pytest.approx(0.375)
    assert document["model_details"]["version"] == {"name": "2.1"}
    assert document["considerations"]["use_cases"] == [{"description": "pre-screening"}]
    assert document["considerations"]["ethical_considerations"][0]["name"].startswith(
        "rule four-fifths failed"
    )


def test_mct_schema_is_the_upstream_copy() -> None:
    digest = hashlib.sha256(mct_schema_path().read_bytes()).hexdigest()
    assert digest == MCT_SCHEMA_SHA256
    schema = json.loads(mct_schema_path().read_text())
    assert set(schema["properties"]) == {
        "schema_version",
        "model_details",
        "model_parameters",
        "quantitative_analysis",
        "considerations",
    }


#: SHA-256 of tensorflow/model-card-toolkit model_card_toolkit/schema/v0.0.2/model_card.schema.json
#: at commit 4161ebb359936c38685921e457991d52030ea618, as committed.
MCT_SCHEMA_SHA256 = "abfc635be94719288f07a60522a8b264d4d84916ca70cb6f8357c6eb4d01bbff"


def test_option_mismatches_are_usage_errors(audit_files: Path, tmp_path: Path) -> None:
    report = str(audit_files / "report.json")
    result = _invoke(report, "--format", "mct", "--card", str(tmp_path / "README.md"))
    assert result.exit_code == 2
    assert "--card goes with huggingface and markdown; for mct use -o FILE" in result.stderr
    result = _invoke(report, "--format", "markdown", "-o", str(tmp_path / "x.json"))
    assert result.exit_code == 2


def test_card_help_has_an_example() -> None:
    result = CliRunner().invoke(card, ["--help"])
    assert result.exit_code == 0 and "Example:" in result.output


def test_environment_is_not_leaked(audit_files: Path) -> None:
    # The card cites the report by file name only, never by an absolute path.
    section = fairness_section(_data(audit_files), report_reference(audit_files / "report.html"))
    assert os.fspath(audit_files) not in section


def test_cards_show_control_and_bidi_characters_visibly(audit_files: Path, tmp_path: Path) -> None:
    data = _data(audit_files)
    data["audit"]["name"] = "scorer\x1b[2J\u202egnp.exe"
    data["audit"]["owner"] = "risk\u2066 team"
    section = fairness_section(data, None)
    assert not set(section) & {"\x1b", "\u202e", "\u2066"}
    assert "- Model: scorer\\\\x1b\\[2J&lt;U+202E&gt;gnp.exe 2.1\n" in section
    assert "- Owner: risk&lt;U+2066&gt; team\n" in section
    front = "\n".join(model_index_lines(data))
    assert '- name: "scorer\\u001b[2J\\u202egnp.exe 2.1"' in front  # YAML escapes: same value
    report = tmp_path / "report.json"
    report.write_text(json.dumps(data), encoding="utf-8")
    mct = export_card(report, format="mct")
    assert not set(mct) & {"\x1b", "\u202e", "\u2066"}
    assert json.loads(mct)["model_details"]["name"] == data["audit"]["name"]


# --- the dataset's name (issue 16) -------------------------------------------------------


def test_cards_name_the_dataset_from_the_options(audit_files: Path, tmp_path: Path) -> None:
    """The cards named the evaluation data by its file name ("scored.csv") with no way to
    set it; --dataset-name/--dataset-type (or the audit's config keys) now do."""
    report = str(audit_files / "report.json")
    plain = _invoke(report, "--format", "huggingface").stdout
    assert '      name: "scored.csv"\n      type: "scored.csv"\n' in plain
    named = _invoke(
        report, "--format", "huggingface",
        "--dataset-name", "German credit (held out)", "--dataset-type", "acme/german-credit",
    ).stdout  # fmt: skip
    assert '      name: "German credit (held out)"\n      type: "acme/german-credit"\n' in named
    markdown = _invoke(report, "--format", "markdown", "--dataset-name", "German credit").stdout
    assert "- Evaluation data: German credit (" in markdown
    mct = json.loads(_invoke(report, "--format", "mct", "--dataset-name", "German credit").stdout)
    assert mct["model_parameters"]["data"][0]["name"] == "German credit"


def test_the_audit_config_names_the_dataset(tmp_path: Path) -> None:
    from fairaudit.outputs import mct_card
    from fairaudit.pipe import run_audit
    from fairaudit.spec import load_config

    (tmp_path / "d.csv").write_text(
        "y,pred,sex\n" + "".join(f"{i % 2},{i % 3 == 0:d},{'ab'[i % 2]}\n" for i in range(80))
    )
    config = tmp_path / "audit.toml"
    config.write_text(
        'data = "d.csv"\ntarget = "y"\nprediction_col = "pred"\nsensitive = ["sex"]\n'
        'dataset_name = "Loans 2026"\ndataset_type = "internal/loans"\nintervals = false\n'
    )
    data = run_audit(load_config(config)).to_dict()
    assert (data["audit"]["dataset_name"], data["audit"]["dataset_type"]) == (
        "Loans 2026",
        "internal/loans",
    )
    assert mct_card(data)["model_parameters"]["data"][0]["name"] == "Loans 2026"


# --- malformed reports ----------------------------------------------------------------------

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


def _trimmed(node: Any) -> Any:
    """Return ``node`` with every list cut to its first two items (a smaller report to fuzz)."""
    if isinstance(node, dict):
        return {k: _trimmed(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_trimmed(v) for v in node[:2]]
    return node


def _node_paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Yield the path of every node under ``node`` (containers and leaves)."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        yield (*prefix, key)
        if isinstance(value, dict | list):
            yield from _node_paths(value, (*prefix, key))


@pytest.fixture(scope="module")
def task_reports(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Return the JSON of the regression sample's audit with --favorable-above (its derived
    outcome) and of the multiclass sample's, lists trimmed to two items."""
    from fairaudit.cli import cli

    folder = tmp_path_factory.mktemp("task-cards")
    runs = (("regression", "--favorable-above", "150"), ("multiclass",))
    reports = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1700000000")
        patch.delenv("FAIRAUDIT_SIGNING_KEY", raising=False)
        for task, *options in runs:
            out = folder / f"{task}.html"
            config = str(SAMPLE / task / "audit.toml")
            result = CliRunner().invoke(
                cli, ["run", "--config", config, *options, "-o", str(out), "-q"]
            )
            assert result.exit_code == 0, result.output
            reports.append(_trimmed(json.loads(out.with_suffix(".json").read_text())))
    return reports


def test_a_malformed_report_is_one_error_line(
    task_reports: list[dict[str, Any]], tmp_path: Path
) -> None:
    """Every node of a regression and a multiclass report set to "x", 5 or null: the card
    command either writes a card or says `Error: ...` in one line, never a traceback (the
    reviewer's finding: about 25 sites crashed, e.g. summary.worst_classes = 5)."""
    path = tmp_path / "report.json"
    formats = ("markdown", "huggingface", "mct")
    runs = errors = 0
    for base in task_reports:
        for node in _node_paths(base):
            for value in ("x", 5, None):
                data = json.loads(json.dumps(base))
                parent = data
                for key in node[:-1]:
                    parent = parent[key]
                parent[node[-1]] = value
                path.write_text(json.dumps(data), encoding="utf-8")
                result = CliRunner().invoke(card, [str(path), "--format", formats[runs % 3]])
                runs += 1
                assert "Traceback" not in result.output, (node, value)
                assert result.exception is None or isinstance(result.exception, SystemExit)
                if result.exit_code:
                    errors += 1
                    assert result.exit_code == 1, (node, value, result.output)
                    assert result.stderr.startswith("Error: "), (node, value)
                    assert result.stderr.count("\n") == 1, (node, value, result.stderr)
    assert runs > 3000 and errors > 100, (runs, errors)
    # Numbers past float's range, and nesting past the stack (attack-found, same one line).
    huge = json.loads(json.dumps(task_reports[0]))
    huge["headline"][0]["value"] = 10**400
    path.write_text(json.dumps(huge), encoding="utf-8")
    assert _invoke(str(path)).stderr.endswith("(OverflowError)\n")
    deep = '{"audit": {}, "lineage": {}, "metrics": {}, "headline": ' + "[" * 10**5 + "]" * 10**5
    path.write_text(deep + "}", encoding="utf-8")
    assert _invoke(str(path)).stderr.startswith(f"Error: '{path}' is not a fairaudit report.json")
    page = tmp_path / "report.html"  # the same inside a report.html
    script = '<script type="application/json" id="fairaudit-data">'
    page.write_text(f"<html>{script}{deep}}}</script></html>", encoding="utf-8")
    assert _invoke(str(page)).stderr.startswith(f"Error: '{page}' is not a fairaudit report.json")
    data = {**task_reports[1], "summary": {**task_reports[1]["summary"], "worst_classes": 5}}
    path.write_text(json.dumps(data), encoding="utf-8")
    assert _invoke(str(path)).stderr == (
        f"Error: '{path}' is not a fairaudit report JSON of a known version: a field has a "
        "value of the wrong type or form (TypeError)\n"
    )
