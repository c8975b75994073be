"""Tests of fairaudit.batch and the `fairaudit batch` command.

The audits use tiny CSVs of precomputed predictions (no models) whose verdicts are known
by hand: in `fair.csv` both groups select half their rows (ratio 1, passes four-fifths);
in `unfair.csv` group a selects 0.8 and b 0.3 (ratio 0.375, fails it).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fairaudit.batch import (
    EXIT_ERROR,
    EXIT_POLICY_FAILED,
    INDEX_FORMAT,
    AuditOutcome,
    BatchResult,
    IndexContext,
    build_index_context,
    load_manifest,
    run_batch,
)
from fairaudit.cli import batch
from fairaudit.errors import ConfigError

EPOCH = "1700000000"
HOSTILE = "<script>alert('x')</script>\"&amp;"


def _write_predictions(path: Path, rates: dict[str, tuple[int, float]]) -> None:
    """Write y, pred, sex rows: per group n rows, labels alternating, the first share selected."""
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["y", "pred", "sex"])
        for sex, (n, selected) in rates.items():
            for i in range(n):
                writer.writerow([i % 2, int(i < selected * n), sex])


SHARED = """\
policy = "preset:four-fifths"
target = "y"
prediction_col = "pred"
sensitive = ["sex"]
resamples = 100
output_dir = "out"
"""

THREE_AUDITS = (
    SHARED
    + """
[[audit]]
name = "fair-model"
model_version = "1.0"
data = "fair.csv"

[[audit]]
name = "unfair-model"
data = "unfair.csv"

[[audit]]
name = "broken"
data = "unfair.csv"
target = "nope"
"""
)


@pytest.fixture
def batch_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    monkeypatch.delenv("FAIRAUDIT_SIGNING_KEY", raising=False)
    _write_predictions(tmp_path / "fair.csv", {"a": (40, 0.5), "b": (40, 0.5)})
    _write_predictions(tmp_path / "unfair.csv", {"a": (40, 0.8), "b": (40, 0.3)})
    (tmp_path / "batch.toml").write_text(THREE_AUDITS)
    return tmp_path


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(batch, list(args), catch_exceptions=False)


def _index(folder: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((folder / "index.json").read_text())
    return loaded


# --- one passing, one policy-failing, one erroring audit ----------------------------------


def test_batch_lists_every_audit_and_exits_with_the_worst_outcome(batch_dir: Path) -> None:
    result = _invoke(str(batch_dir / "batch.toml"), "--jobs", "1")
    assert result.exit_code == EXIT_ERROR
    assert result.stderr == (
        "Error: audit 3 (broken): column 'nope' (--target) not found in "
        f"'{batch_dir / 'unfair.csv'}'; its columns are: 'y', 'pred', 'sex'\n"
    )
    out = batch_dir / "out"
    assert result.stdout == (
        f"Wrote {out / 'index.html'} and {out / 'index.json'}: "
        "1 passed, 1 failed their policy, 1 errored\n"
    )
    index = _index(out)
    assert index["format"] == INDEX_FORMAT
    assert index["status"] == "error" and index["exit_code"] == 1
    assert index["counts"] == {"passed": 1, "policy_failed": 1, "error": 1}
    assert index["created_at"] == "2023-11-14T22:13:20Z"
    rows = index["audits"]
    assert [(r["index"], r["name"], r["status"], r["verdict"]) for r in rows] == [
        (1, "fair-model", "passed", "pass"),
        (2, "unfair-model", "policy_failed", "fail"),
        (3, "broken", "error", None),
    ]
    assert rows[2]["error"].startswith("column 'nope' (--target) not found")
    assert rows[2]["report"] is None
    for row in rows[:2]:
        assert (out / row["report"]).is_file()
        assert (out / row["report_json"]).is_file()
        assert row["report"] == f"{row['name']}-{'1.0-' if row['index'] == 1 else ''}" + (
            row["audit_id"][:12] + ".html"
        )
        assert row["signature"] == "unsigned"
    ratio = {h["metric"]: h["value"] for h in rows[1]["headline"]}["demographic_parity_ratio"]
    assert ratio == pytest.approx(0.3 / 0.8)
    # The two reports, the two JSON twins and the index: nothing else.
    assert len(list(out.iterdir())) == 6


def test_policy_failure_alone_exits_3(batch_dir: Path) -> None:
    manifest = batch_dir / "batch.toml"
    manifest.write_text(THREE_AUDITS.split('[[audit]]\nname = "broken"')[0])
    result = _invoke(str(manifest), "--jobs", "1", "--quiet")
    assert result.exit_code == EXIT_POLICY_FAILED
    assert result.output == ""
    assert _index(batch_dir / "out")["status"] == "policy_failed"


def test_exit_code_is_by_severity_not_by_number(tmp_path: Path) -> None:
    manifest = load_manifest_stub(tmp_path)

    def outcome(status: Any) -> AuditOutcome:
        return AuditOutcome(index=1, name="m", model_version=None, status=status)

    assert BatchResult(manifest, [outcome("passed")], "t").exit_code == 0
    assert BatchResult(manifest, [outcome("passed"), outcome("policy_failed")], "t").exit_code == 3
    both = [outcome("policy_failed"), outcome("error"), outcome("passed")]
    assert BatchResult(manifest, both, "t").exit_code == 1


def load_manifest_stub(tmp_path: Path) -> Any:
    _write_predictions(tmp_path / "fair.csv", {"a": (4, 0.5)})
    (tmp_path / "m.toml").write_text(
        'target = "y"\nprediction_col = "pred"\nsensitive = "sex"\n[[audit]]\ndata = "fair.csv"\n'
    )
    return load_manifest(tmp_path / "m.toml")


def test_jobs_1_and_jobs_2_write_the_same_index(batch_dir: Path) -> None:
    manifest = str(batch_dir / "batch.toml")
    assert _invoke(manifest, "--jobs", "1", "-q", "-o", str(batch_dir / "one")).exit_code == 1
    assert _invoke(manifest, "--jobs", "2", "-q", "-o", str(batch_dir / "two")).exit_code == 1
    one, two = batch_dir / "one", batch_dir / "two"
    # No timings are written, so the files are byte-identical, reports included.
    assert sorted(p.name for p in one.iterdir()) == sorted(p.name for p in two.iterdir())
    for path in one.iterdir():
        assert path.read_bytes() == (two / path.name).read_bytes(), path.name


# --- the index page ---------------------------------------------------------------------


def test_index_html_escapes_a_hostile_name_and_has_the_csp(batch_dir: Path) -> None:
    manifest = batch_dir / "batch.toml"
    text = THREE_AUDITS.replace('name = "fair-model"', f"name = {json.dumps(HOSTILE)}")
    manifest.write_text(text)
    assert _invoke(str(manifest), "--jobs", "1", "-q").exit_code == 1
    html = (batch_dir / "out" / "index.html").read_text()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&#34;&amp;amp;" in html
    assert (
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">" in html
    )
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert len(hrefs) == 2
    for href in hrefs:
        assert href.startswith("./") and ":" not in href and "//" not in href
    # The report's file name was made safe by report_paths; the link is percent-encoded.
    assert hrefs[0].startswith("./script_alert__x____script___amp-1.0-")
    # The embedded index data cannot close its script element.
    embedded = html.split('id="fairaudit-batch">')[1].split("</script>")[0]
    assert "<" not in embedded
    assert json.loads(embedded) == _index(batch_dir / "out")


def test_index_context_is_the_documented_dataclass(batch_dir: Path) -> None:
    manifest = load_manifest(batch_dir / "batch.toml")
    result = run_batch(manifest, jobs=1)
    context = build_index_context(result)
    assert isinstance(context, IndexContext)
    assert {f.name for f in dataclasses.fields(IndexContext)} == {
        "title",
        "tool_version",
        "created_at",
        "manifest_name",
        "manifest_sha256",
        "status",
        "exit_code",
        "counts",
        "rows",
        "signed",
        "headline_metrics",
        "data_json",
    }
    assert [r.status for r in context.rows] == ["passed", "policy_failed", "error"]
    assert [r.href for r in context.rows][2] is None
    assert [h["metric"] for h in context.rows[0].headline] == [
        "demographic_parity_ratio",
        "equalized_odds_difference",
    ]


# --- signing and the ledger -------------------------------------------------------------


def test_signed_batch_reports_verify_with_the_batch_key(batch_dir: Path) -> None:
    from fairaudit.provenance import generate_key_pair, load_trusted_keys, verify_report_file

    pair = generate_key_pair(batch_dir / "keys", name="auditor")
    manifest = batch_dir / "batch.toml"
    manifest.write_text('sign_key = "keys/auditor.key"\n' + THREE_AUDITS)
    assert _invoke(str(manifest), "--jobs", "1", "-q").exit_code == 1
    rows = _index(batch_dir / "out")["audits"]
    assert [r["signature"] for r in rows] == ["verified", "verified", "unsigned"]
    html = (batch_dir / "out" / "index.html").read_text()
    assert html.count("verified with the batch's key") == 2
    trusted = load_trusted_keys([pair.public_key])
    summary = verify_report_file(batch_dir / "out" / rows[0]["report"], trusted)
    assert summary.audit_id == rows[0]["audit_id"]


TWO_OF_ONE_MODEL = (
    SHARED
    + """
ledger = "audits.sqlite"

[[audit]]
name = "credit"
model_version = "1.0"
data = "fair.csv"

[[audit]]
name = "credit"
model_version = "1.1"
data = "unfair.csv"
"""
)


def _supersedes_chain(out: Path, ledger_path: Path) -> tuple[list[Any], list[str]]:
    """Return each ledger entry's report supersedes, and the entries' audit ids, in order."""
    from fairaudit.provenance import read_entries, verify_ledger

    assert verify_ledger(ledger_path).ok
    by_id = {}
    for path in out.glob("*.json"):
        if path.name != "index.json":
            audit = json.loads(path.read_text())["audit"]
            by_id[audit["id"]] = audit["supersedes"]
    ids = [e.audit_id for e in read_entries(ledger_path)]
    return [by_id[i] for i in ids], ids


@pytest.mark.parametrize("jobs", [1, 2])
def test_batch_publishes_through_the_ledger_and_fills_supersedes(
    batch_dir: Path, jobs: int
) -> None:
    """Issue 12 §6: batch appended by itself and never filled supersedes."""
    (batch_dir / "batch.toml").write_text(TWO_OF_ONE_MODEL)
    result = run_batch(load_manifest(batch_dir / "batch.toml"), jobs=jobs)
    assert [o.ledger for o in result.outcomes] == ["appended", "appended"]
    supersedes, ids = _supersedes_chain(batch_dir / "out", batch_dir / "audits.sqlite")
    assert len(ids) == 2
    assert supersedes == [None, ids[0]]  # with 2 jobs, in whichever order they finished
    assert sorted(str(o.audit_id) for o in result.outcomes) == sorted(ids)


def test_a_ledger_that_cannot_be_written_makes_the_audit_an_error(batch_dir: Path) -> None:
    (batch_dir / "audits.sqlite").write_text("not a database, just text " * 100)
    (batch_dir / "batch.toml").write_text(TWO_OF_ONE_MODEL)
    result = run_batch(load_manifest(batch_dir / "batch.toml"), jobs=1)
    assert [o.status for o in result.outcomes] == ["error", "error"]
    outcome = result.outcomes[0]
    assert outcome.ledger is not None and outcome.ledger.startswith("error: ")
    assert outcome.error is not None
    assert outcome.error.startswith("the ledger entry was not written: ")
    assert outcome.report is None  # refused before the report was written
    assert result.exit_code == EXIT_ERROR


def test_ledger_entries_land_in_the_real_ledger(batch_dir: Path) -> None:
    ledger = pytest.importorskip("fairaudit.provenance")
    manifest = load_manifest(batch_dir / "batch.toml", ledger=batch_dir / "audits.sqlite")
    result = run_batch(manifest, jobs=1)
    assert [o.ledger for o in result.outcomes] == ["appended", "appended", None]
    assert ledger is not None and (batch_dir / "audits.sqlite").is_file()


# --- the manifest -----------------------------------------------------------------------


def test_unknown_audit_key_names_manifest_audit_and_key(batch_dir: Path) -> None:
    manifest = batch_dir / "batch.toml"
    manifest.write_text(
        THREE_AUDITS.replace('name = "unfair-model"', 'name = "unfair-model"\ntagret = "y"')
    )
    result = _invoke(str(manifest))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"Error: manifest '{manifest}': audit 2 ('unfair-model'): unknown key 'tagret'; "
        "known keys: config, allow_unsafe_pickle, bins, class_scores, confidence,"
    )
    assert not (batch_dir / "out").exists()


def test_unknown_top_level_key(batch_dir: Path) -> None:
    manifest = batch_dir / "batch.toml"
    manifest.write_text("colour = 4\n" + THREE_AUDITS)
    with pytest.raises(
        ConfigError,
        match=r"^manifest '.*batch\.toml': unknown key 'colour'; known keys: output_dir, "
        r"sign_key, ledger, audit, allow_unsafe_pickle",
    ):
        load_manifest(manifest)


def test_an_invalid_audit_stops_the_batch_before_anything_runs(batch_dir: Path) -> None:
    manifest = batch_dir / "batch.toml"
    manifest.write_text(THREE_AUDITS.replace('target = "nope"', 'min_group_size = "ten"'))
    with pytest.raises(ConfigError) as caught:
        load_manifest(manifest)
    assert str(caught.value) == (
        f"manifest '{manifest}': audit 3 ('broken'): min_group_size must be a whole number"
    )


def test_no_audits(tmp_path: Path) -> None:
    (tmp_path / "m.toml").write_text(SHARED)
    with pytest.raises(ConfigError, match=r"has no audits: add \[\[audit\]\] tables$"):
        load_manifest(tmp_path / "m.toml")


def test_config_files_are_relative_to_the_manifest_and_keys_override_them(
    batch_dir: Path,
) -> None:
    sub = batch_dir / "credit"
    sub.mkdir()
    _write_predictions(sub / "eval.csv", {"a": (10, 0.5), "b": (10, 0.5)})
    (sub / "audit.toml").write_text(
        'name = "credit"\nmodel_version = "1"\ndata = "eval.csv"\ntarget = "y"\n'
        'prediction_col = "pred"\nsensitive = ["sex"]\nmin_group_size = 5\n'
    )
    (batch_dir / "m.toml").write_text(
        'policy = "preset:four-fifths"\nmin_group_size = 3\nseed = 7\n'
        '[[audit]]\nconfig = "credit/audit.toml"\nmodel_version = "2"\n'
    )
    manifest = load_manifest(batch_dir / "m.toml")
    (audit,) = manifest.audits
    assert audit.index == 1 and audit.name == "credit"
    spec = audit.spec
    assert spec.data == sub / "eval.csv"
    assert (spec.model_version, spec.min_group_size, spec.seed) == ("2", 5, 7)
    assert spec.policy == ("preset:four-fifths",)
    assert manifest.output_dir == batch_dir / "reports"


def test_mitigation_detail_is_a_run_option_of_the_manifest(tmp_path: Path) -> None:
    """The manifest passes it through like any run option: shared, and per audit."""
    _write_predictions(tmp_path / "fair.csv", {"a": (4, 0.5)})
    (tmp_path / "m.toml").write_text(
        'target = "y"\nprediction_col = "pred"\nsensitive = "sex"\nmitigation_detail = "full"\n'
        '[[audit]]\ndata = "fair.csv"\n'
        '[[audit]]\ndata = "fair.csv"\nname = "brief"\nmitigation_detail = "summary"\n'
    )
    manifest = load_manifest(tmp_path / "m.toml")
    assert [a.spec.mitigation_detail for a in manifest.audits] == ["full", "summary"]
    (tmp_path / "m.toml").write_text(
        'target = "y"\nprediction_col = "pred"\nsensitive = "sex"\nmitigation_detail = "all"\n'
        '[[audit]]\ndata = "fair.csv"\n'
    )
    with pytest.raises(
        ConfigError, match="mitigation_detail must be one of summary, full, not 'all'"
    ):
        load_manifest(tmp_path / "m.toml")


def test_missing_config_file_names_the_audit(batch_dir: Path) -> None:
    (batch_dir / "m.toml").write_text('[[audit]]\nconfig = "nowhere.toml"\n')
    with pytest.raises(ConfigError) as caught:
        load_manifest(batch_dir / "m.toml")
    assert str(caught.value) == (
        f"manifest '{batch_dir / 'm.toml'}': audit 1 ('nowhere'): config file "
        f"'{batch_dir / 'nowhere.toml'}' not found"
    )


def test_batch_help_documents_exit_codes_and_has_an_example() -> None:
    result = CliRunner().invoke(batch, ["--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert "1 if any" in result.output and "else 3" in result.output


def test_sample_audit_runs_from_its_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    sample = Path(__file__).resolve().parent.parent / "sample_data" / "audit.toml"
    (tmp_path / "m.toml").write_text(
        f'policy = "preset:four-fifths"\n[[audit]]\nconfig = {json.dumps(str(sample))}\n'
        "resamples = 100\nmitigations = []\n"
    )
    result = run_batch(load_manifest(tmp_path / "m.toml"), jobs=1)
    (outcome,) = result.outcomes
    # The sample model fails four-fifths on age (0.742) and the intersection (0.683).
    assert (outcome.name, outcome.model_version) == ("german-credit-logreg", "1.0.0")
    assert (outcome.status, outcome.verdict, result.exit_code) == ("policy_failed", "fail", 3)
    ratio = {(h["feature"], h["metric"]): h["value"] for h in outcome.headline}
    assert ratio["sex", "demographic_parity_ratio"] == pytest.approx(0.8691, abs=1e-4)


def test_progress_lines_name_the_audit_outcome_and_time() -> None:
    from fairaudit.batch import outcome_line

    failed = AuditOutcome(1, "churn", "2", "policy_failed", verdict="fail", seconds=3.21)
    assert outcome_line(failed, 2, 3) == "[2/3] churn 2: policy failed (verdict fail) (3.2 s)"
    broken = AuditOutcome(3, "x", None, "error", error="boom", seconds=0.04)
    assert outcome_line(broken, 3, 3) == "[3/3] x: error (0.0 s)"


def test_progress_callback_sees_every_audit(batch_dir: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    manifest = load_manifest(batch_dir / "batch.toml")
    run_batch(manifest, jobs=1, progress=lambda o, done, total: seen.append((o.name, done, total)))
    assert seen == [("fair-model", 1, 3), ("unfair-model", 2, 3), ("broken", 3, 3)]
