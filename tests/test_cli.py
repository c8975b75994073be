"""The ``fairaudit`` command line (fairaudit.cli) and its config file handling.

Errors are asserted as the exact one line the user sees (``Error: ...``) with exit code 1
(2 for usage errors), no traceback and no report written. The data is conftest.SCORED_ROWS:
male (8 rows, the largest group) and female (4 rows), counts worked out by hand there.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from fairaudit import __version__
from fairaudit.cli import MAX_POLICY_LINES, cli, mitigation_lines, policy_lines, run_summary
from fairaudit.spec import AuditSpec
from tests.conftest import SCORED_ROWS, TINY_MODEL_ROWS, AuditRun, SampleAudit

RunCli = Callable[..., AuditRun]
PRED = ("--target", "y", "--prediction-col", "pred")
ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_JSON = re.compile(
    r'<script type="application/json" id="fairaudit-data">(.*?)</script>', re.S
)


# --- version and help ------------------------------------------------------------------


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"fairaudit, version {__version__}\n"


@pytest.mark.parametrize("command", [None, *sorted(cli.commands)])
def test_every_command_has_help(command: str | None) -> None:
    args = [command, "--help"] if command else ["--help"]
    result = CliRunner().invoke(cli, args, prog_name="fairaudit")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: fairaudit ")
    described = (cli.commands[command] if command else cli).help
    assert described and described.strip()
    first_line = described.strip().splitlines()[0]
    assert first_line.split()[0] in result.output


def _every_command(
    command: click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _every_command(sub, (*path, name))


@pytest.mark.parametrize(
    ("path", "command"),
    [pytest.param(*pc, id=" ".join(pc[0]) or "fairaudit") for pc in _every_command(cli)],
)
def test_every_command_and_subcommand_documents_itself_with_an_example(
    path: tuple[str, ...], command: click.Command
) -> None:
    """The docstring is the --help text: a first line, then ... and an ``Example:`` block last."""
    help_text = inspect.cleandoc(command.help or "")
    assert help_text, f"fairaudit {' '.join(path)} has no help"
    assert "\nExample:\n" in help_text
    example = help_text.split("\nExample:\n", 1)[1].splitlines()
    assert any(line.startswith("    fairaudit ") for line in example)
    assert all(line.startswith("    ") or line.strip() in ("", "\b") for line in example)
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="fairaudit")
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output


def test_run_help_has_an_example_and_every_option() -> None:
    result = CliRunner().invoke(cli, ["run", "-h"], prog_name="fairaudit")
    assert result.exit_code == 0
    assert "Example:" in result.output
    for option in (
        "--config",
        "--target",
        "--sensitive",
        "--model",
        "--prediction-col",
        "--bins",
        "--missing-sensitive",
        "--reference",
        "--allow-unsafe-pickle",
        "--trust-type",
        "--output",
    ):
        assert option in result.output


def test_expected_commands_exist() -> None:
    assert {"run", "keygen", "sign", "verify"} <= set(cli.commands)


def test_python_m_fairaudit_help() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "fairaudit", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: fairaudit ")
    assert "run" in proc.stdout
    assert proc.stderr == ""


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["audit"])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == "Error: No such command 'audit'."


# --- what to audit ---------------------------------------------------------------------


def test_model_and_prediction_col_together(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED, "--model", scored_csv.with_suffix(".skops"))
    run.assert_error("pass either --model or --prediction-col, not both")


def test_neither_model_nor_prediction_col(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, "--target", "y")
    run.assert_error(
        "nothing to audit: pass --model PATH, or --prediction-col COL for precomputed predictions"
    )


def test_no_data_and_no_target(audit_cli: RunCli) -> None:
    run = audit_cli("--prediction-col", "pred")
    run.assert_error(
        "missing the evaluation data (DATA argument or data = ...) and the label column "
        "(--target COL)"
    )


def test_no_target(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, "--prediction-col", "pred")
    run.assert_error("missing the label column (--target COL)")


def test_no_sensitive_feature(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED, sensitive=None)
    run.assert_error("no sensitive feature: pass --sensitive COL (repeatable)")


def test_sensitive_feature_named_twice(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED, sensitive=["sex", "sex"])
    run.assert_error("a sensitive feature is named twice: name each column once")


def test_sensitive_flag(audit_cli: RunCli, write_csv) -> None:
    rows = [(y, p, s, ("<40", "40+")[i % 2]) for i, (y, p, s) in enumerate(SCORED_ROWS)]
    path = write_csv("two.csv", ["y", "pred", "sex", "age_band"], rows)
    run = audit_cli(path, *PRED, "--sensitive", "sex", "--sensitive", "age_band", sensitive=None)
    run.assert_ok()
    assert run.json()["audit"]["sensitive_features"] == ["sex", "age_band"]
    assert run.json()["audit"]["groupings"] == ["sex", "age_band", "intersection"]


def test_two_sensitive_features_and_their_intersection(audit_cli: RunCli, write_csv) -> None:
    rows = [(y, p, s, ("<40", "40+")[i % 2]) for i, (y, p, s) in enumerate(SCORED_ROWS)]
    path = write_csv("two.csv", ["y", "pred", "sex", "age_band"], rows)
    run = audit_cli(path, *PRED, sensitive=["sex", "age_band"])
    run.assert_ok()
    data = run.json()
    assert data["audit"]["groupings"] == ["sex", "age_band", "intersection"]
    cells = [r for r in data["metrics"]["by_group"] if r["feature"] == "intersection"]
    assert sum(r["count"] for r in cells) == 12
    assert {tuple(r["group"].values()) for r in cells} == {
        ("female", "40+"),
        ("female", "<40"),
        ("male", "40+"),
        ("male", "<40"),
    }


# --- config files ----------------------------------------------------------------------


def test_unknown_config_key(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED, config='colour = "red"')
    known = ", ".join(sorted(f.name for f in dataclasses.fields(AuditSpec)))
    assert "allow_unsafe_pickle, bins, class_scores, confidence, data," in known
    run.assert_error(
        f"config file '{run.config_path}': unknown option 'colour'; known options: {known}"
    )


def test_invalid_toml(audit_cli: RunCli, scored_csv: Path) -> None:
    broken = "target = \n"
    run = audit_cli(scored_csv, *PRED, config=broken)
    assert run.config_path is not None
    with pytest.raises(tomllib.TOMLDecodeError) as parse_error:
        tomllib.loads(run.config_path.read_text(encoding="utf-8"))
    run.assert_error(f"config file '{run.config_path}' is not valid TOML: {parse_error.value}")


def test_config_not_found(audit_cli: RunCli, scored_csv: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    run = audit_cli(scored_csv, *PRED, "--config", missing, sensitive=None)
    run.assert_error(f"config file '{missing}' not found")


def test_config_not_utf8(audit_cli: RunCli, scored_csv: Path, tmp_path: Path) -> None:
    config = tmp_path / "latin1.toml"
    config.write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    run = audit_cli(scored_csv, *PRED, "--config", config, sensitive=None)
    run.assert_nothing_written()
    assert run.result.exit_code == 1
    assert re.fullmatch(
        rf"Error: cannot read config file '{re.escape(str(config))}': [^\n]+\n", run.stderr
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('min_group_size = "ten"', "min_group_size must be a whole number"),
        ("min_group_size = true", "min_group_size must be a whole number"),
        ("seed = 1.5", "seed must be a whole number"),
        ('allow_unsafe_pickle = "yes"', "allow_unsafe_pickle must be true or false"),
        ("sensitive = 3", "sensitive must be a string or a list of strings"),
        ("name = 3", "name must be a string"),
        ("model = 3", "model must be a file path"),
        ('reference = "female"', "reference must be a table, e.g. [reference] sex = 'male'"),
        ("bins = [25, 40]", "bins must be a table, e.g. [bins] age = [25, 40]"),
    ],
)
def test_config_value_of_the_wrong_type(
    audit_cli: RunCli, scored_csv: Path, text: str, message: str
) -> None:
    sensitive = None if text.startswith("sensitive") else ("sex",)
    run = audit_cli(scored_csv, *PRED, config=text, sensitive=sensitive)
    run.assert_error(f"config file '{run.config_path}': {message}")


def test_config_missing_sensitive_value_checked(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED, config='missing_sensitive = "ignore"')
    run.assert_error("missing_sensitive must be one of error, group, drop, not 'ignore'")


def test_config_min_group_size_below_one(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED, config="min_group_size = 0")
    run.assert_error("min_group_size must be a whole number of at least 1")


def test_config_paths_are_relative_to_the_config_file(
    tmp_path: Path, audit_cli: RunCli, tiny_models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "models").mkdir()
    (project / "data" / "eval.csv").write_bytes((tiny_models / "data.csv").read_bytes())
    (project / "models" / "m.skops").write_bytes((tiny_models / "model.skops").read_bytes())
    config = project / "audit.toml"
    config.write_text(
        'data = "data/eval.csv"\nmodel = "models/m.skops"\ntarget = "y"\n'
        'sensitive = ["sex"]\nname = "credit"\nmodel_version = "2.1"\n',
        encoding="utf-8",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    run = audit_cli("--config", config, sensitive=None)
    run.assert_ok()
    lineage = run.json()["lineage"]
    assert lineage["data"]["path"] == (project / "data" / "eval.csv").as_posix()
    assert lineage["model"]["path"] == (project / "models" / "m.skops").as_posix()
    assert lineage["data"]["rows"] == len(TINY_MODEL_ROWS)
    assert run.json()["audit"]["name"] == "credit"
    assert run.json()["audit"]["model_version"] == "2.1"
    assert list(elsewhere.iterdir()) == []


def test_data_argument_is_relative_to_the_working_directory(
    audit_cli: RunCli, scored_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(scored_csv.parent)
    run = audit_cli(scored_csv.name, *PRED)
    run.assert_ok()
    assert run.json()["lineage"]["data"]["path"] == "scored.csv"


def test_flags_override_the_config(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(
        scored_csv,
        *PRED,
        "--min-group-size",
        "5",
        "--name",
        "flagged",
        config='min_group_size = 2\nname = "configured"',
    )
    run.assert_ok()
    audit = run.json()["audit"]
    assert (audit["min_group_size"], audit["name"]) == (5, "flagged")
    assert run.json()["lineage"]["config"]["min_group_size"] == 5


def test_effective_config_is_recorded(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED, "--seed", "7")
    run.assert_ok()
    config = run.json()["lineage"]["config"]
    assert config["data"] == scored_csv.as_posix()
    assert config["sensitive"] == ["sex"]
    assert config["prediction_col"] == "pred"
    assert config["seed"] == 7 == run.json()["audit"]["seed"]
    assert config["missing_sensitive"] == "error"


# --- reference groups ------------------------------------------------------------------


def _disparity(run: AuditRun, metric: str, group: str) -> dict:
    rows = [
        d
        for d in run.json()["disparities"]
        if d["feature"] == "sex" and d["metric"] == metric and d["group"] == {"sex": group}
    ]
    assert len(rows) == 1
    return rows[0]


def test_default_reference_is_the_largest_group(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED)
    run.assert_ok()
    data = run.json()
    assert data["audit"]["reference"] == {"sex": {"sex": "male"}}
    assert {json.dumps(d["reference"]) for d in data["disparities"]} == {'{"sex": "male"}'}
    tpr = _disparity(run, "true_positive_rate", "female")
    assert (tpr["value"], tpr["reference_value"]) == (0.5, 0.75)
    assert tpr["difference"] == pytest.approx(-0.25)
    assert tpr["ratio"] == pytest.approx(2 / 3)


def _assert_female_reference(run: AuditRun) -> None:
    run.assert_ok()
    data = run.json()
    assert data["audit"]["reference"] == {"sex": {"sex": "female"}}
    assert {json.dumps(d["reference"]) for d in data["disparities"]} == {'{"sex": "female"}'}
    assert {d["group"]["sex"] for d in data["disparities"]} == {"male"}
    assert run.groups("sex")["female"]["reference"] is True
    assert run.groups("sex")["male"]["reference"] is False
    tpr = _disparity(run, "true_positive_rate", "male")
    assert (tpr["value"], tpr["reference_value"]) == (0.75, 0.5)
    assert tpr["difference"] == pytest.approx(0.25)
    assert tpr["ratio"] == pytest.approx(1.5)
    assert "(reference: sex: female)" in run.html()


def test_reference_flag(audit_cli: RunCli, scored_csv: Path) -> None:
    _assert_female_reference(audit_cli(scored_csv, *PRED, "--reference", "sex=female"))


def test_reference_in_config(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED, config='[reference]\nsex = "female"')
    _assert_female_reference(run)


def test_reference_value_that_does_not_exist(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED, "--reference", "sex=other")
    run.assert_error(
        "reference group sex='other' not found; the groups of 'sex' are: 'female', 'male'"
    )


def test_reference_for_a_feature_that_is_not_sensitive(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED, "--reference", "pred=1")
    run.assert_error("--reference names 'pred', which is not a sensitive feature (sex)")


@pytest.mark.parametrize("value", ["sexfemale", "=female"])
def test_malformed_reference_is_a_usage_error(
    audit_cli: RunCli, scored_csv: Path, value: str
) -> None:
    run = audit_cli(scored_csv, *PRED, "--reference", value)
    run.assert_error(
        f"--reference takes FEATURE=VALUE, e.g. --reference sex=male; got {value!r}",
        exit_code=2,
    )


# --- hostile names ---------------------------------------------------------------------

HOSTILE = (
    "<script>alert(1)</script>",
    "{{7*7}}",
    "</script><!--",
    "$x^$",
    "\"quotes' & ampersand",
)


def _embedded(html: str) -> dict:
    found = EMBEDDED_JSON.findall(html)
    assert len(found) == 1
    return json.loads(found[0])


def _assert_no_raw_markup(html: str) -> None:
    assert "<script>alert(1)</script>" not in html
    assert "alert(1)</script>" not in html
    # The only script element is the JSON data island, and nothing opens a comment.
    assert html.count("<script") == 1
    assert html.count("</script>") == 1
    assert "<!--" not in html


def test_hostile_group_names_are_escaped(audit_cli: RunCli, write_csv) -> None:
    rows = [(y, p, HOSTILE[i % len(HOSTILE)]) for i, (y, p, _) in enumerate(SCORED_ROWS * 2)]
    path = write_csv("hostile.csv", ["y", "pred", "sex"], rows)
    run = audit_cli(path, *PRED, "--reference", f"sex={HOSTILE[0]}")
    run.assert_ok()
    data = run.json()
    assert set(run.groups("sex")) == set(HOSTILE)
    assert data["audit"]["reference"] == {"sex": {"sex": HOSTILE[0]}}
    html = run.html()
    _assert_no_raw_markup(html)
    assert "sex: &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in html
    assert "sex: &lt;/script&gt;&lt;!--" in html
    # Jinja2 must not evaluate data: the literal braces appear, 7*7 does not.
    assert "sex: {{7*7}}" in html
    assert "sex: 49" not in html
    assert "sex: $x^$" in html
    assert "sex: &#34;quotes&#39; &amp; ampersand" in html
    assert "\"quotes' & ampersand" not in html
    assert _embedded(html) == data


def test_hostile_sensitive_column_name_is_escaped(audit_cli: RunCli, write_csv) -> None:
    column = "</script><script>alert(1)</script>"
    path = write_csv("hostile_col.csv", ["y", "pred", column], SCORED_ROWS)
    run = audit_cli(path, *PRED, sensitive=[column])
    run.assert_ok()
    data = run.json()
    assert data["audit"]["sensitive_features"] == [column]
    html = run.html()
    _assert_no_raw_markup(html)
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;: male" in html
    assert _embedded(html) == data


def test_hostile_model_name_is_escaped_and_safe_in_file_names(
    audit_cli: RunCli, scored_csv: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    name = "<img src=x onerror=alert(1)>/../{{7*7}}"
    run = audit_cli(scored_csv, *PRED, "--name", name, output=folder)
    assert run.result.exit_code == 0, run.result.output
    (html_path,) = folder.glob("*.html")
    assert html_path.parent == folder
    # Only letters, digits, dot, dash and underscore; the file stays inside the folder.
    assert re.fullmatch(
        r"img_src_x_onerror_alert_1___\.\.___7_7-[0-9a-f]{12}\.html", html_path.name
    )
    html = html_path.read_text(encoding="utf-8")
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;/../{{7*7}}" in html
    assert _embedded(html)["audit"]["name"] == name


# --- outputs ---------------------------------------------------------------------------


def test_summary_on_stdout(audit_cli: RunCli, write_csv: Callable[..., Path]) -> None:
    # SCORED_ROWS five times: every rate's denominator has at least 10 rows (female has 10
    # positives and 10 negatives), so the headline metrics are defined; female's 20 rows
    # are still below min_group_size 30 (the one warning). Counts by hand: both groups
    # select 0.5 (ratio 1); TPR 0.75 vs 0.5, FPR 0.25 vs 0.5 (equalized odds 0.25).
    path = write_csv("scored5.csv", ["y", "pred", "sex"], SCORED_ROWS * 5)
    run = audit_cli(path, *PRED)
    run.assert_ok()
    assert run.result.stdout == (
        f"Wrote {run.html_path} and {run.json_path}\n"
        f"  recorded in the ledger {run.out_dir / 'fairaudit-ledger.sqlite'}\n"
        "  sex: demographic_parity_ratio = 1.000\n"
        "  sex: equalized_odds_difference = 0.250\n"
        "  1 warning: see the report's data checks\n"
    )
    assert run.result.stderr == ""


def test_quiet(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED, "--quiet")
    run.assert_ok()
    assert run.result.output == ""


def test_html_and_json_twin(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED)
    run.assert_ok()
    data = run.json()
    assert _embedded(run.html()) == data
    assert data["audit"]["id"] and re.fullmatch(r"[0-9a-f]{64}", data["audit"]["id"])
    assert data["audit"]["created_at"] == "2023-11-14T22:13:20Z"  # SOURCE_DATE_EPOCH


def test_output_folder_names_the_file(audit_cli: RunCli, scored_csv: Path, tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    run = audit_cli(scored_csv, *PRED, "--name", "credit", "--model-version", "1.0", output=folder)
    assert run.result.exit_code == 0, run.result.output
    names = sorted(p.name for p in folder.iterdir() if p.name != "fairaudit-ledger.sqlite")
    assert len(names) == 2
    html_name = next(n for n in names if n.endswith(".html"))
    match = re.fullmatch(r"credit-1\.0-([0-9a-f]{12})\.html", html_name)
    assert match is not None, html_name
    assert names == sorted([html_name, html_name[:-5] + ".json"])
    data = json.loads((folder / (html_name[:-5] + ".json")).read_text(encoding="utf-8"))
    assert data["audit"]["id"][:12] == match.group(1)
    assert f"Wrote {folder / html_name} and {folder / html_name[:-5]}.json" in run.result.stdout


def test_output_folder_without_version_uses_the_data_name(
    audit_cli: RunCli, scored_csv: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    run = audit_cli(scored_csv, *PRED, output=folder)
    assert run.result.exit_code == 0, run.result.output
    (html_path,) = folder.glob("*.html")
    assert re.fullmatch(r"scored-[0-9a-f]{12}\.html", html_path.name)


def test_output_ending_in_json_is_refused(
    audit_cli: RunCli, scored_csv: Path, tmp_path: Path
) -> None:
    target = tmp_path / "report.json"
    run = audit_cli(scored_csv, *PRED, output=target)
    run.assert_error(
        f"output '{target}' ends in .json; -o names the HTML report (the JSON is written beside it)"
    )
    assert not target.with_suffix(".html").exists()


def test_output_folder_missing(audit_cli: RunCli, scored_csv: Path, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "report.html"
    run = audit_cli(scored_csv, *PRED, output=target)
    run.assert_error(f"output folder '{target.parent}' does not exist; create it first")
    assert not target.parent.exists()


def test_output_to_a_missing_folder_with_trailing_slash(
    audit_cli: RunCli, scored_csv: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "newdir"
    run = audit_cli(scored_csv, *PRED, output=str(folder) + os.sep)
    try:
        run.assert_error(f"output folder '{folder}' does not exist; create it first")
        assert not folder.exists()
    finally:
        assert not Path(str(folder) + ".json").exists()


def test_second_run_replaces_the_reports(
    audit_cli: RunCli, scored_csv: Path, tmp_path: Path
) -> None:
    target = tmp_path / "same.html"
    first = audit_cli(scored_csv, *PRED, "--name", "first", output=target)
    assert first.result.exit_code == 0, first.result.output
    second = audit_cli(scored_csv, *PRED, "--name", "second", output=target)
    assert second.result.exit_code == 0, second.result.output
    assert second.json()["audit"]["name"] == "second"
    assert "Fairness audit: second" in second.html()
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_failed_run_keeps_the_previous_reports(
    audit_cli: RunCli, scored_csv: Path, tmp_path: Path
) -> None:
    target = tmp_path / "kept.html"
    first = audit_cli(scored_csv, *PRED, output=target)
    assert first.result.exit_code == 0, first.result.output
    before = (target.read_bytes(), target.with_suffix(".json").read_bytes())
    failed = audit_cli(scored_csv, *PRED, "--reference", "sex=other", output=target)
    assert failed.result.exit_code == 1
    assert (target.read_bytes(), target.with_suffix(".json").read_bytes()) == before


def test_sample_data_end_to_end(sample_audit: SampleAudit) -> None:
    """The README's sample command (run once a session in conftest.sample_audit)."""
    folder = sample_audit.html_path.parent
    assert sorted(p.name for p in folder.iterdir()) == [
        "fairaudit-ledger.sqlite",
        "report.html",
        "report.json",
    ]
    data = sample_audit.json()
    assert data["audit"]["name"] == "german-credit-logreg"
    assert data["audit"]["groupings"] == ["sex", "age", "intersection"]
    age = {r["group"]["age"] for r in data["metrics"]["by_group"] if r["feature"] == "age"}
    assert age == {"< 25", "[25, 40)", ">= 40"}
    assert data["lineage"]["model"]["format"] == "skops"
    assert data["mitigations"]  # the comparison ran, with the training split of the config
    assert _embedded(sample_audit.html()) == data


# --------------------------------------------------------------------------- review findings


def test_a_column_cannot_have_two_roles(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, "--target", "y", "--prediction-col", "y")
    run.assert_error(
        "column 'y' is given two roles (--target and --prediction-col); each column has one role"
    )


def test_negative_seed_is_refused(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED, "--seed", "-1")
    run.assert_error("seed must be a whole number from 0 to 2**53 - 1, not -1")


def test_nan_bin_edges_are_refused(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED, "--bins", "sex=nan", sensitive=("sex",))
    run.assert_error("bins for 'sex' must be increasing finite numbers, e.g. sex = [25, 40, 60]")


def test_bad_source_date_epoch_is_one_line(
    audit_cli: RunCli, scored_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "100000000000000000000")
    run = audit_cli(scored_csv, *PRED)
    run.assert_error(
        "SOURCE_DATE_EPOCH must be whole seconds since 1970, not '100000000000000000000'"
    )


def test_output_over_an_input_is_refused(audit_cli: RunCli, scored_csv: Path) -> None:
    before = scored_csv.read_bytes()
    run = audit_cli(scored_csv, *PRED, output=scored_csv)
    assert run.result.exit_code == 1
    assert run.result.stderr.strip() == (
        f"Error: output '{scored_csv}' is an input of this audit (data file '{scored_csv}'); "
        "choose another -o path"
    )
    assert scored_csv.read_bytes() == before


def test_missing_junit_folder_fails_before_writing(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(
        scored_csv, *PRED, "--policy", "preset:four-fifths", "--junit", "/nonexistent/x.xml"
    )
    run.assert_error("--junit folder '/nonexistent' does not exist; create it first")


def test_reference_group_without_rows_is_refused(
    audit_cli: RunCli, write_csv: Callable[..., Path]
) -> None:
    rows = [(y, p, s, 20 + i) for i, (y, p, s) in enumerate(SCORED_ROWS)]
    path = write_csv("ages.csv", ["y", "pred", "sex", "age"], rows)
    run = audit_cli(
        path, *PRED, "--bins", "age=25,90", "--reference", "age=>= 90", sensitive=("age",)
    )
    run.assert_error(
        "reference group age='>= 90' has no rows in the data; choose a group that occurs "
        "(see the group sizes), or change the bins"
    )


def test_positive_label_written_as_a_float(
    audit_cli: RunCli, write_csv: Callable[..., Path]
) -> None:
    rows = [(float(y), float(p), s) for y, p, s in SCORED_ROWS]
    path = write_csv("floats.csv", ["y", "pred", "sex"], rows)
    one = audit_cli(path, *PRED, "--positive-label", "1.0")
    one.assert_ok()
    plain = audit_cli(path, *PRED, "--positive-label", "1")
    plain.assert_ok()
    assert one.json()["metrics"] == plain.json()["metrics"]


# --- the console tells the story (issue 14 §6) --------------------------------------------


def test_help_lists_the_exit_codes() -> None:
    result = CliRunner().invoke(cli, ["--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "Exit codes: 0 success, 1 error (one line on stderr), 2 usage error, 3 a policy " in (
        result.output
    )
    assert "3 a policy failed" in " ".join(result.output.split())


def _confusion_rows(group: str, tp: int, fn: int, fp: int, tn: int) -> list[tuple[int, int, str]]:
    return [(1, 1, group)] * tp + [(1, 0, group)] * fn + [(0, 1, group)] * fp + [(0, 0, group)] * tn


@pytest.fixture
def unfair_csv(write_csv: Callable[..., Path]) -> Path:
    """male: tp 14 fn 6 fp 6 tn 14 (selects 20/40 = 0.5, TPR 0.7); female: tp 6 fn 14 fp 2
    tn 18 (selects 8/40 = 0.2, TPR 0.3). Four-fifths ratio 0.2 / 0.5 = 0.4; TPR gap -0.4."""
    rows = _confusion_rows("male", 14, 6, 6, 14) + _confusion_rows("female", 6, 14, 2, 18)
    return write_csv("unfair.csv", ["y", "pred", "sex"], rows)


POLICY = """
[[rule]]
id = "tpr-gap"
metric = "true_positive_rate_difference"
min = -0.05
max = 0.05
severity = "warn"

[[rule]]
id = "dp-interval"
metric = "demographic_parity_ratio"
min = 0.8
evidence = "interval"
"""


@pytest.mark.parametrize("quiet", [False, True])
def test_policy_failure_prints_each_rule_that_did_not_pass(
    audit_cli: RunCli, unfair_csv: Path, tmp_path: Path, quiet: bool
) -> None:
    """Issue 14 §6: a failed policy printed only "Policy verdict: fail"."""
    policy = tmp_path / "mine.toml"
    policy.write_text(POLICY, encoding="utf-8")
    args = ["--policy", "preset:four-fifths", "--policy", policy, "--reference", "sex=male"]
    run = audit_cli(unfair_csv, *PRED, *args, "--no-intervals", *(["-q"] if quiet else []))
    assert run.result.exit_code == 3, run.result.output
    # The oracle, written out from the counts: 8/40 over 20/40, and 6/20 - 14/20.
    ratio, gap = (8 / 40) / (20 / 40), 6 / 20 - 14 / 20
    assert (round(ratio, 3), round(gap, 3)) == (0.4, -0.4)
    data = run.json()
    observed = {r["id"]: r["outcomes"][0]["observed"] for r in data["policy"]["rules"]}
    assert observed == pytest.approx({"four-fifths": ratio, "dp-interval": ratio, "tpr-gap": gap})
    no_interval = (
        "evidence = 'interval', but the result has no confidence intervals (audit with uncertainty)"
    )
    # Failures first, then not evaluable, then warnings.
    assert run.result.stderr == (
        "Policy verdict: fail\n"
        "  fail: rule four-fifths on sex (sex=female vs sex=male): favorable_rate_ratio "
        "= 0.400; bound >= 0.8, evidence point\n"
        "  not evaluable: rule dp-interval on sex (sex=female vs sex=male): "
        f"demographic_parity_ratio = 0.400; bound >= 0.8, evidence interval ({no_interval})\n"
        "  warn: rule tpr-gap on sex (sex=female vs sex=male): true_positive_rate_difference "
        "= -0.400; bound >= -0.05 and <= 0.05, evidence point\n"
    )


def test_policy_lines_show_the_interval_and_the_cells_left_out() -> None:
    rule = {
        "id": "r",
        "metric": "demographic_parity_difference",
        "bound": {"min": None, "max": 0.1},
        "evidence": "interval",
    }
    outcome = {
        "feature": "intersection",
        "groups": [{"sex": "f", "age": "< 25"}, {"sex": "m", "age": "< 25"}],
        "excluded": [{"sex": "m", "age": ">= 40"}],
        "observed": 0.25,
        "interval": [0.125, 0.375],
        "status": "fail",
        "reason": "interval [0.125, 0.375] is not wholly <= 0.1",
    }
    passed = {**outcome, "status": "pass"}
    policy = {"verdict": "fail", "rules": [{**rule, "outcomes": [passed, outcome]}]}
    assert policy_lines(policy) == [
        "  fail: rule r on intersection (sex=f, age=< 25 vs sex=m, age=< 25): "
        "demographic_parity_difference = 0.250, interval [0.125, 0.375]; bound <= 0.1, "
        "evidence interval; left out (too few rows): sex=m, age=>= 40"
    ]
    assert policy_lines({**policy, "verdict": "pass"}) == []
    many = {"verdict": "fail", "rules": [{**rule, "outcomes": [outcome] * 25}]}
    lines = policy_lines(many)
    assert len(lines) == MAX_POLICY_LINES + 1
    assert lines[-1] == f"  ... and {25 - MAX_POLICY_LINES} more in the report"
    hostile = {**outcome, "feature": "se\x1bx"}
    shown = policy_lines({"verdict": "fail", "rules": [{**rule, "outcomes": [hostile]}]})
    assert "se\\x1bx" in shown[0] and "\x1b" not in shown[0]


def _entry(method: str, dpd: float | None, accuracy: float, **extra: object) -> dict:
    return {
        "method": method,
        "status": "ok",
        "headline": [
            {"feature": "age", "metric": "demographic_parity_difference", "value": dpd},
            {"feature": "sex", "metric": "demographic_parity_difference", "value": 0.9},
        ],
        "metrics": {"overall": {"accuracy": accuracy, "balanced_accuracy": accuracy - 0.1}},
        **extra,
    }


def test_mitigation_line_names_the_best_variant_with_its_before_and_after() -> None:
    data = {
        "mitigation_summary": {
            "grouping": "age",
            "best": "correlation_remover",
            "grouping_reason": "Mitigations act on age, not the intersection: a cell has 6 "
            "negative rows.",
        },
        "mitigations": [
            _entry("baseline", 0.206, 0.735),
            _entry("threshold_demographic_parity", 0.05, 0.70, eligible=False),
            _entry("correlation_remover", 0.104, 0.730, eligible=True),
        ],
    }
    assert mitigation_lines(data) == [
        "  mitigation: best trade-off correlation_remover on age: demographic_parity_difference "
        "0.206 -> 0.104, accuracy 0.735 -> 0.730, balanced_accuracy 0.635 -> 0.630",
        "    Mitigations act on age, not the intersection: a cell has 6 negative rows.",
    ]
    assert mitigation_lines({"mitigation_summary": None, "mitigations": []}) == []


def test_mitigation_line_says_why_no_variant_was_recommended() -> None:
    data = {
        "mitigation_summary": {"grouping": "age", "best": None},
        "mitigations": [
            _entry("baseline", 0.2, 0.9),
            _entry(
                "threshold_equalized_odds",
                0.0,
                0.92,
                eligible=False,
                eligibility="Not eligible: it selects sex=female 0.0% of the time.",
            ),
            {"method": "expgrad_demographic_parity", "status": "failed", "reason": "no train"},
        ],
    }
    assert mitigation_lines(data) == [
        "  mitigation: no variant recommended on age: none of the 1 that ran is eligible; 1 failed",
        "    threshold_equalized_odds: Not eligible: it selects sex=female 0.0% of the time.",
        "    expgrad_demographic_parity: no train",
    ]


def test_sample_summary_reads_the_mitigation_outcome_from_the_result(
    sample_audit: SampleAudit,
) -> None:
    data = sample_audit.json()
    summary = data["mitigation_summary"]
    grouping, best = summary["grouping"], summary["best"]
    text = run_summary(data, sample_audit.html_path, sample_audit.json_path, None)
    (line,) = [x for x in text.splitlines() if x.startswith("  mitigation:")]
    if best is None:
        assert line.startswith(f"  mitigation: no variant recommended on {grouping}: ")
        return
    entries = {e["method"]: e for e in data["mitigations"]}

    def dpd(method: str) -> float:
        (h,) = [
            h
            for h in entries[method]["headline"]
            if h["feature"] == grouping and h["metric"] == "demographic_parity_difference"
        ]
        return float(h["value"])

    assert line.startswith(
        f"  mitigation: best trade-off {best} on {grouping}: demographic_parity_difference "
        f"{dpd('baseline'):.3f} -> {dpd(best):.3f}, accuracy "
    )


def test_mitigation_detail_full_keeps_each_variants_disparities(
    audit_cli: RunCli, write_csv: Callable[..., Path]
) -> None:
    # 120 rows: every sex has positive and negative rows in each of the five folds.
    rows = [
        (i % 2, int(i % 4 != 3), (i % 10) / 10, ("male", "female")[i % 3 == 0]) for i in range(120)
    ]
    scored = write_csv("scored.csv", ["y", "pred", "score", "sex"], rows)
    args = (scored, *PRED, "--score-col", "score", "--mitigations", "threshold_demographic_parity")
    summary, full = audit_cli(*args), audit_cli(*args, "--mitigation-detail", "full")
    for run, detail in ((summary, "summary"), (full, "full")):
        run.assert_ok()
        result = run.json()
        assert result["mitigation_summary"]["detail"] == detail
        assert result["lineage"]["config"]["mitigation_detail"] == detail
        for entry in result["mitigations"]:
            assert entry["status"] == "ok"
            assert ("disparities" in entry) == (detail == "full")
    bad = audit_cli(*args, "--mitigation-detail", "all")
    assert bad.result.exit_code == 2
    assert "Invalid value for '--mitigation-detail': 'all' is not one of" in bad.result.output
