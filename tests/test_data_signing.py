"""A signed data audit names the audited file's SHA-256, and verification shows and checks it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fairaudit import __version__
from fairaudit.cli import cli
from fairaudit.errors import SigningError, VerificationError
from fairaudit.provenance import _signing as signing
from fairaudit.provenance import (
    append_entry,
    build_predicate,
    load_trusted_keys,
    parse_detached,
    read_entries,
    verify_ledger,
    verify_report_file,
)
from fairaudit.provenance._statement import decode_statement

ROWS = 160


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(3)
    group = np.where(rng.random(ROWS) < 0.5, "a", "b")
    frame = pd.DataFrame(
        {
            "label": (rng.random(ROWS) < np.where(group == "a", 0.6, 0.4)).astype(int),
            "grp": group,
            "noise": rng.normal(size=ROWS).round(3),
        }
    )
    path = tmp_path_factory.mktemp("data") / "train.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def signed(small_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data audit 'loans' of ``small_csv``, signed with keys/auditor.key, in tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764460800")
    runner = CliRunner()
    for name in ("auditor", "reviewer"):
        assert runner.invoke(cli, ["keygen", "-o", "keys", "--name", name]).exit_code == 0
    result = runner.invoke(cli, [*data_args(small_csv, "r.html"), "--sign-key", "keys/auditor.key"])
    assert result.exit_code == 0, result.output
    return tmp_path / "r.html"


def data_args(csv: Path, output: str, name: str = "loans") -> list[str]:
    return [
        "data",
        str(csv),
        "--target",
        "label",
        "--sensitive",
        "grp",
        "-o",
        output,
        "--name",
        name,
    ]


def verify(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["verify", *args])
    return result.exit_code, result.output


def test_the_statement_names_the_audited_file_s_digest(signed: Path, small_csv: Path) -> None:
    file_sha = hashlib.sha256(small_csv.read_bytes()).hexdigest()
    report = json.loads(signed.with_suffix(".json").read_text())
    assert report["data"]["sha256"] == file_sha
    (envelope,) = parse_detached(Path(f"{signed}.intoto.jsonl").read_bytes())
    predicate = decode_statement(envelope).predicate
    assert predicate["kind"] == "data"
    assert predicate["data"] == {"sha256": file_sha, "rows": ROWS}
    assert predicate["model"] is None
    assert predicate["audit"]["id"] == report["audit"]["id"]
    assert predicate["audit"]["name"] == "loans"
    assert predicate["audit"]["seed"] == report["options"]["seed"]
    assert predicate["tool"] == {"name": "fairaudit", "version": __version__}
    summary = verify_report_file(signed, load_trusted_keys([Path("keys/auditor.pub")], []))
    assert (summary.kind, summary.data_sha256, summary.data_rows) == ("data", file_sha, ROWS)
    assert summary.model_name == "loans"


def test_verify_says_data_audit_and_names_the_digest(signed: Path, small_csv: Path) -> None:
    file_sha = hashlib.sha256(small_csv.read_bytes()).hexdigest()
    code, output = verify(str(signed), "--key", "keys/auditor.pub")
    assert code == 0, output
    first = output.splitlines()[0]
    assert f"data audit loans of data sha256 {file_sha}, {ROWS} rows;" in first
    assert "model" not in first and "verdict" not in first


def test_a_one_byte_edit_of_the_page_fails(signed: Path) -> None:
    page = signed.read_bytes()
    at = page.index(b"<body")
    signed.write_bytes(page[:at] + b"<Body" + page[at + 5 :])
    code, output = verify(str(signed), "--key", "keys/auditor.pub")
    assert code == 1 and "The report body changed after signing" in output
    assert "Traceback" not in output


def test_an_edited_data_digest_in_the_page_fails(signed: Path, small_csv: Path) -> None:
    file_sha = hashlib.sha256(small_csv.read_bytes()).hexdigest()
    other = "0" + file_sha[1:] if file_sha[0] != "0" else "1" + file_sha[1:]
    page = signed.read_bytes()
    assert page.count(file_sha.encode()) >= 1
    signed.write_bytes(page.replace(file_sha.encode(), other.encode()))
    code, output = verify(str(signed), "--key", "keys/auditor.pub")
    assert code == 1 and "changed after signing" in output


def test_a_data_report_signed_without_its_data_digest_fails(
    small_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A statement as signed before this change (no kind, no data digest) does not verify."""

    def old_predicate(results, **kwargs):  # type: ignore[no-untyped-def]
        predicate = build_predicate(results, **kwargs)
        predicate.pop("kind")
        predicate["data"] = {"sha256": None, "rows": None}
        return predicate

    monkeypatch.setattr(signing, "build_predicate", old_predicate)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["keygen", "-o", "keys", "--name", "k"]).exit_code == 0
    made = runner.invoke(cli, [*data_args(small_csv, "old.html"), "--sign-key", "keys/k.key"])
    assert made.exit_code == 0, made.output
    monkeypatch.setattr(signing, "build_predicate", build_predicate)
    code, output = verify("old.html", "--key", "keys/k.pub")
    assert code == 1
    assert "disagrees with the report's embedded results on 'kind'" in output


def test_a_model_audit_s_predicate_is_unchanged() -> None:
    results = {
        "schema_version": "1.0.0",
        "audit": {"id": "a" * 64, "name": "credit", "model_version": "2"},
        "lineage": {"data": {"sha256": "d" * 64, "rows": 10}, "model": {"sha256": "e" * 64}},
        "tool": {"name": "fairaudit", "version": "0.1.0"},
        "verdict": "pass",
    }
    predicate = build_predicate(results, role="auditor", signed_at="t")
    assert "kind" not in predicate
    assert predicate["model"]["name"] == "credit"
    assert predicate["data"] == {"sha256": "d" * 64, "rows": 10}
    with pytest.raises(SigningError, match="kind"):
        build_predicate(results, role="auditor", signed_at="t", extra={"kind": "data"})


def test_a_data_predicate_from_hostile_results_does_not_crash() -> None:
    for results in (
        {"kind": "data"},
        {"kind": "data", "data": "x", "audit": [], "options": None, "fairaudit_version": 3},
    ):
        predicate = build_predicate(results, role="auditor", signed_at="t")
        assert predicate["kind"] == "data" and predicate["data"]["sha256"] is None


def test_review_and_the_ledger_of_a_signed_data_audit(signed: Path, small_csv: Path) -> None:
    runner = CliRunner()
    ledger = signed.parent / "fairaudit-ledger.sqlite"
    reviewed = runner.invoke(
        cli, ["review", str(signed), "--key", "keys/reviewer.key", "--decision", "approve"]
    )
    assert reviewed.exit_code == 0, reviewed.output
    code, output = verify(
        str(signed),
        "--keys-dir",
        "keys",
        "--require-signers",
        "2",
        "--ledger",
        str(ledger),
    )
    assert code == 0, output
    assert "data audit loans" in output and "1 review(s)" in output
    (entry,) = read_entries(ledger)
    report = json.loads(signed.with_suffix(".json").read_text())
    assert (entry.kind, entry.model_name, entry.data_sha256) == (
        "data",
        "loans",
        report["data"]["sha256"],
    )
    assert entry.model_sha256 is None and entry.verdict is None
    assert verify_ledger(ledger).ok
    listed = runner.invoke(cli, ["history", "loans", "--ledger", str(ledger)])
    assert listed.exit_code == 0 and listed.output.splitlines()[1].split()[:2] == ["1", "data"]


def test_a_data_audit_supersedes_only_data_audits_of_its_name(
    small_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ledger = tmp_path / "fairaudit-ledger.sqlite"
    model = {
        "audit": {"id": "f" * 64, "name": "loans"},
        "lineage": {"data": {"sha256": "d" * 64}, "model": {"sha256": "e" * 64}},
        "verdict": "pass",
    }
    append_entry(ledger, model, report_sha256="a" * 64)
    runner = CliRunner()
    assert runner.invoke(cli, data_args(small_csv, "one.html")).exit_code == 0
    first = json.loads((tmp_path / "one.json").read_text())["audit"]
    assert first["supersedes"] is None  # not the model audit 'loans'
    assert runner.invoke(cli, data_args(small_csv, "two.html")).exit_code == 0
    second = json.loads((tmp_path / "two.json").read_text())["audit"]
    assert second["supersedes"] == first["id"]
    assert [e.kind for e in read_entries(ledger)] == ["model", "data", "data"]


def test_verify_of_a_tampered_summary_kind_is_impossible(signed: Path) -> None:
    """The summary's kind is the signed statement's, which must match the page's results."""
    keys = load_trusted_keys([Path("keys/auditor.pub")], [])
    page = signed.read_bytes()
    assert page.count(b'{"kind":"data",') == 1
    signed.write_bytes(page.replace(b'{"kind":"data",', b'{"kind":"model",'))
    with pytest.raises(VerificationError, match="changed after signing"):
        verify_report_file(signed, keys)


def test_verify_data_checks_the_file_against_the_signed_digest(
    signed: Path, small_csv: Path, tmp_path: Path
) -> None:
    file_sha = hashlib.sha256(small_csv.read_bytes()).hexdigest()
    code, output = verify(str(signed), "--key", "keys/auditor.pub", "--data", str(small_csv))
    assert code == 0, output
    assert output.splitlines()[-1] == (
        f"Data: {small_csv} is the data the report is about (sha256 {file_sha})."
    )
    edited = tmp_path / "edited.csv"
    edited.write_bytes(small_csv.read_bytes() + b"\n")
    code, output = verify(str(signed), "--key", "keys/auditor.pub", "--data", str(edited))
    assert code == 1 and "is not the data the report is about" in output
    assert file_sha in output and "Traceback" not in output
    code, output = verify(str(signed), "--key", "keys/auditor.pub", "--data", str(tmp_path))
    assert code == 2 and "Traceback" not in output  # a directory: a usage error


def test_a_report_without_a_data_digest_cannot_be_checked_against_a_file(tmp_path: Path) -> None:
    from fairaudit.provenance import VerificationSummary, check_data_file

    path = tmp_path / "x.csv"
    path.write_text("a\n1\n")
    summary = VerificationSummary((), "a" * 64, "m", None, None, "b" * 64, "embedded")
    with pytest.raises(VerificationError, match="names no data digest") as raised:
        check_data_file(summary, path)
    assert raised.value.reason == "data-mismatch"


def test_a_data_policy_s_verdict_is_signed_recorded_and_shown(
    small_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from fairaudit.databias import data_report
    from fairaudit.policy import evaluate_data_policy, load_policy
    from fairaudit.provenance import key_id
    from fairaudit.publish import publish_data_report

    monkeypatch.chdir(tmp_path)
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text('[[rule]]\nmetric = "class_imbalance"\nmax = 0.000001\n')
    source = {"path": "train.csv", "format": "csv", "sha256": "c" * 64}
    report = data_report(pd.read_csv(small_csv), target="label", sensitive=["grp"], source=source)
    report["policy"] = evaluate_data_policy(report, load_policy([str(policy_file)]))
    assert report["policy"]["verdict"] == "fail"
    key = Ed25519PrivateKey.generate()
    published = publish_data_report(report, tmp_path / "p.html", sign_key=key)
    (envelope,) = parse_detached(Path(f"{published.html}.intoto.jsonl").read_bytes())
    assert decode_statement(envelope).predicate["verdict"] == "fail"
    assert published.ledger is not None
    (entry,) = read_entries(published.ledger)
    assert (entry.kind, entry.verdict, entry.data_sha256) == ("data", "fail", "c" * 64)
    summary = verify_report_file(published.html, {key_id(key.public_key()): key.public_key()})
    assert summary.verdict == "fail"
    assert "; policy verdict fail; audit " in summary.describe()
