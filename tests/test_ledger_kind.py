"""Ledger entries have a kind (model or data audit); ledgers written before kinds still work.

``tests/data/legacy-ledger-v1.sqlite`` and ``legacy-ledger-v2.sqlite`` were written by
fairaudit at commit 661fdb1, before entries had a kind, with ``append_entry`` and
``append_review``, SOURCE_DATE_EPOCH=1764460800 and the fixed keys below:

- v1 (schema 1): entry 1 a model audit 'credit' 1.0 (signed), entry 2 'credit' 1.1
  (unsigned), entry 3 a data audit 'credit' as ``publish_data_report`` recorded one then
  (no model, no verdict; signed);
- v2 (schema 2): the same, then a review of entry 2 (seq 4) and a model audit 'other' (seq 5).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fairaudit.cli import history, ledger
from fairaudit.provenance import _ledger as L
from fairaudit.provenance import _ledger_store as S
from fairaudit.provenance import _ledger_verify as V
from fairaudit.provenance import append_review, key_id
from tests.test_ledger import _schema_version as schema_version
from tests.test_ledger import sql

DATA = Path(__file__).resolve().parent / "data"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
REVIEWER = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
#: The heads ``fairaudit ledger head`` printed for the fixtures at 661fdb1.
V1_HEAD = "dafbae480128f67b8f8719fabf6fed8426616bcacfed9c105a80605a54c855a5"
V2_HEAD = "fd53dc4692b4a403228bdfa63f89213d2c0b502bcb5967873428db9745143692"
REPORT_SHA = "ab" * 32


def model_result(index: int, name: str = "credit") -> dict[str, Any]:
    return {
        "audit": {"id": hashlib.sha256(f"m-{name}-{index}".encode()).hexdigest(), "name": name},
        "lineage": {"data": {"sha256": "d" * 64}, "model": {"sha256": f"{index:064x}"}},
        "verdict": "pass",
    }


def data_result(index: int, name: str = "credit") -> dict[str, Any]:
    """What ``publish_data_report`` hands the ledger for a data audit."""
    return {
        "kind": "data",
        "audit": {"id": hashlib.sha256(f"d-{name}-{index}".encode()).hexdigest(), "name": name},
        "lineage": {"data": {"sha256": f"{index:064x}"}},
        "verdict": None,
    }


def legacy(tmp_path: Path, version: int) -> Path:
    path = tmp_path / f"v{version}.sqlite"
    shutil.copy(DATA / f"legacy-ledger-v{version}.sqlite", path)
    return path


def columns(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        names = [r[1] for r in connection.execute("PRAGMA table_info(entries)")]
    connection.close()
    return names


def reasons(path: Path, **kwargs: Any) -> list[tuple[int | None, str]]:
    return [(p.seq, p.reason) for p in V.verify_ledger(path, **kwargs).problems]


def old_hash(seq: int, previous: str, fields: dict[str, Any]) -> str:
    """An entry's hash as fairaudit computed it before kinds (661fdb1), from its definition."""
    names = ("audit_id", "model_name", "model_version", "created_at", "data_sha256")
    names += ("model_sha256", "verdict", "report_sha256", "recorded_at", "key_id")
    document = {"format": "fairaudit-ledger-entry/v1", "seq": seq, "previous_hash": previous}
    document.update((name, fields.get(name)) for name in names)
    return hashlib.sha256(rfc8785.dumps(document)).hexdigest()


# ---------------------------------------------------------------------------------------------
# Ledgers written before kinds


@pytest.mark.parametrize(("version", "count", "head"), [(1, 3, V1_HEAD), (2, 5, V2_HEAD)])
def test_a_ledger_from_before_kinds_opens_and_verifies(
    tmp_path: Path, version: int, count: int, head: str
) -> None:
    path = legacy(tmp_path, version)
    report = V.verify_ledger(path)
    assert report.ok, report.describe()
    assert (report.entries, report.head) == (count, head)
    entries = L.read_entries(path)
    assert {e.kind for e in entries} == {"model"}  # the old data audit reads as a model audit
    for entry in entries:  # the hashes are still those of the old definition
        assert entry.entry_hash == old_hash(entry.seq, entry.previous_hash, entry.to_dict())
    signed = [e for e in entries if e.key_id is not None]
    assert signed and all(e.key_id == key_id(KEY.public_key()) for e in signed)
    # every signature still verifies (entry 2 is unsigned: checked without it)
    for entry in signed:
        KEY.public_key().verify(base64.b64decode(entry.signature), S.signed_bytes(entry))
    assert "kind" not in columns(path) and schema_version(path) == str(version)


def test_a_ledger_from_before_kinds_takes_a_model_audit_unchanged(tmp_path: Path) -> None:
    path = legacy(tmp_path, 1)
    entry = L.append_entry(path, model_result(7), report_sha256=REPORT_SHA, signing_key=KEY)
    assert (entry.seq, entry.previous_hash, entry.kind) == (4, V1_HEAD, "model")
    assert entry.entry_hash == old_hash(4, V1_HEAD, entry.to_dict())
    # No kind column yet: a fairaudit from before kinds still reads and appends to it.
    assert "kind" not in columns(path) and schema_version(path) == "1"
    assert V.verify_ledger(path, expect_head=V1_HEAD).ok


@pytest.mark.parametrize("version", [1, 2])
def test_a_ledger_from_before_kinds_takes_a_data_audit(tmp_path: Path, version: int) -> None:
    path = legacy(tmp_path, version)
    before = L.read_entries(path)
    head = V2_HEAD if version == 2 else V1_HEAD
    entry = L.append_entry(path, data_result(1), report_sha256=REPORT_SHA, signing_key=KEY)
    assert entry.kind == "data" and entry.previous_hash == head
    assert "kind" in columns(path) and schema_version(path) == "3"
    after = L.read_entries(path)
    assert after[:-1] == before  # old entries unchanged, still model audits
    assert after[-1] == entry
    report = V.verify_ledger(path, expect_head=head)
    assert report.ok, report.describe()
    # a model audit and a review after it go on the same chain; the version stays 3
    L.append_entry(path, model_result(8), report_sha256=REPORT_SHA)
    append_review(
        path,
        audit_id=entry.audit_id,
        decision="approved",
        envelope_sha256="f" * 64,
        signing_key=REVIEWER,
    )
    assert schema_version(path) == "3"
    report = V.verify_ledger(path, expect_head=head)
    assert report.ok and report.entries == (3 if version == 1 else 5) + 3
    assert [e.kind for e in L.read_entries(path)][-2:] == ["data", "model"]


def test_an_old_table_layout_made_by_hand_verifies_and_appends(tmp_path: Path) -> None:
    """The schema-1 layout written out here, one entry hashed by the old definition."""
    path = tmp_path / "by-hand.sqlite"
    fields = {
        "audit_id": "a" * 64,
        "model_name": "credit",
        "report_sha256": REPORT_SHA,
        "recorded_at": "2026-01-01T00:00:00Z",
    }
    digest = old_hash(1, S.GENESIS_HASH, fields)
    sql(
        path,
        "CREATE TABLE ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "INSERT INTO ledger_meta VALUES ('schema_version', '1')",
        "CREATE TABLE entries (seq INTEGER PRIMARY KEY, audit_id TEXT NOT NULL, model_name TEXT, "
        "model_version TEXT, created_at TEXT, data_sha256 TEXT, model_sha256 TEXT, verdict TEXT, "
        "report_sha256 TEXT NOT NULL, recorded_at TEXT NOT NULL, key_id TEXT, "
        "previous_hash TEXT NOT NULL, entry_hash TEXT NOT NULL, signature TEXT)",
        "CREATE INDEX entries_by_model ON entries (model_name, seq)",
        f"INSERT INTO entries (seq, audit_id, model_name, report_sha256, recorded_at, "
        f"previous_hash, entry_hash) VALUES (1, '{'a' * 64}', 'credit', '{REPORT_SHA}', "
        f"'2026-01-01T00:00:00Z', '{S.GENESIS_HASH}', '{digest}')",
    )
    assert V.verify_ledger(path).ok
    assert L.read_entries(path)[0].kind == "model"
    L.append_entry(path, data_result(2), report_sha256=REPORT_SHA)
    L.append_entry(path, model_result(3), report_sha256=REPORT_SHA)
    report = V.verify_ledger(path, expect_head=digest)
    assert report.ok and report.entries == 3
    assert [e.kind for e in L.read_entries(path)] == ["model", "data", "model"]


def test_a_ledger_of_a_newer_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / S.LEDGER_FILE_NAME
    L.append_entry(path, data_result(1), report_sha256=REPORT_SHA)
    sql(path, "UPDATE ledger_meta SET value = '4' WHERE key = 'schema_version'")
    with pytest.raises(S.LedgerError, match="format 4; this fairaudit reads format 3"):
        L.read_entries(path)


def test_a_version_3_ledger_without_its_kind_column_is_not_a_ledger(tmp_path: Path) -> None:
    path = legacy(tmp_path, 1)
    sql(path, "UPDATE ledger_meta SET value = '3' WHERE key = 'schema_version'")
    with pytest.raises(S.LedgerError, match="its kind column is missing"):
        V.verify_ledger(path)


# ---------------------------------------------------------------------------------------------
# Supersedes: only the same kind and name


def test_a_data_audit_never_supersedes_a_model_audit_of_the_same_name(tmp_path: Path) -> None:
    path = tmp_path / S.LEDGER_FILE_NAME
    model = L.append_entry(path, model_result(1), report_sha256=REPORT_SHA)
    seen: list[str | None] = []

    def render(result: dict[str, Any]) -> Any:
        def write(supersedes: str | None) -> tuple[dict[str, Any], str]:
            seen.append(supersedes)
            return result, REPORT_SHA

        return write

    first = L.append_rendered(path, "credit", render(data_result(1)), kind="data")
    second = L.append_rendered(path, "credit", render(data_result(2)), kind="data")
    L.append_rendered(path, "credit", render(model_result(2)))
    L.append_rendered(path, "other", render(data_result(3, "other")), kind="data")
    # before kinds, the first data audit superseded the model audit 'credit'
    assert seen == [None, first.audit_id, model.audit_id, None]
    assert second.kind == "data"
    assert L.previous_audit(path, "credit", "data") == second.audit_id
    assert L.previous_audit(path, "credit") == model_result(2)["audit"]["id"]
    assert L.previous_audit(path, "other") is None


def test_the_old_data_entry_of_a_legacy_ledger_reads_as_a_model_audit(tmp_path: Path) -> None:
    """What the task asked: an entry without a kind is a model audit, whatever it recorded."""
    path = legacy(tmp_path, 1)
    assert L.previous_audit(path, "credit", "data") is None
    assert L.previous_audit(path, "credit") == L.read_entries(path)[2].audit_id


def test_the_rendered_result_must_be_of_the_kind_asked_for(tmp_path: Path) -> None:
    path = tmp_path / S.LEDGER_FILE_NAME
    L.append_entry(path, model_result(1), report_sha256=REPORT_SHA)
    with pytest.raises(S.LedgerError, match="A model audit's entry was asked for"):
        L.append_rendered(path, "credit", lambda _: (data_result(1), REPORT_SHA))
    unknown = "kind must be one of model, data, monitor, got 'survey'"
    with pytest.raises(S.LedgerError, match=unknown):
        L.append_entry(path, {**data_result(2), "kind": "survey"}, report_sha256=REPORT_SHA)
    assert len(L.read_entries(path)) == 1 and "kind" not in columns(path)


def test_reading_filters_by_kind(tmp_path: Path) -> None:
    path = tmp_path / S.LEDGER_FILE_NAME
    L.append_entry(path, model_result(1), report_sha256=REPORT_SHA)
    L.append_entry(path, data_result(1), report_sha256=REPORT_SHA)
    L.append_entry(path, data_result(2, "train"), report_sha256=REPORT_SHA)
    assert [e.seq for e in L.read_entries(path, "data")] == [2, 3]
    assert [e.seq for e in L.read_entries(path, "model")] == [1]
    assert [e.seq for e in L.model_history(path, "credit")] == [1, 2]
    assert [e.seq for e in L.model_history(path, "credit", "data")] == [2]
    assert L.model_names(path) == ["credit", "train"]
    assert L.model_names(path, "model") == ["credit"]
    assert L.read_entries(path, "data")[0].to_dict()["kind"] == "data"
    with pytest.raises(S.LedgerError, match="kind must be one of"):
        L.read_entries(path, "bogus")


# ---------------------------------------------------------------------------------------------
# Tampering with a kind


@pytest.mark.parametrize(
    ("seq", "value"),
    [(2, "'model'"), (2, "NULL"), (2, "'Data'"), (1, "'data'"), (3, "'data'"), (2, "x'00'")],
)
def test_changing_an_entry_s_kind_breaks_verification(tmp_path: Path, seq: int, value: str) -> None:
    path = tmp_path / S.LEDGER_FILE_NAME
    L.append_entry(path, model_result(1), report_sha256=REPORT_SHA)
    L.append_entry(path, data_result(1), report_sha256=REPORT_SHA)
    L.append_entry(path, model_result(2), report_sha256=REPORT_SHA)  # stored kind 'model'
    assert V.verify_ledger(path).ok
    sql(path, f"UPDATE entries SET kind = {value} WHERE seq = {seq}")
    assert reasons(path) == [(seq, V.REASON_EDITED)]


def test_an_old_entry_given_a_kind_breaks_verification(tmp_path: Path) -> None:
    path = legacy(tmp_path, 1)
    L.append_entry(path, data_result(1), report_sha256=REPORT_SHA)
    sql(path, "UPDATE entries SET kind = 'data' WHERE seq = 3")  # the old data audit
    assert reasons(path) == [(3, V.REASON_EDITED)]


def test_a_kind_changed_and_the_hash_recomputed_fails_the_signature(tmp_path: Path) -> None:
    path = tmp_path / S.LEDGER_FILE_NAME
    entry = L.append_entry(path, data_result(1), report_sha256=REPORT_SHA, signing_key=KEY)
    forged = S.entry_hash(1, entry.previous_hash, {**entry.to_dict(), "kind": "model"})
    sql(path, f"UPDATE entries SET kind = 'model', entry_hash = '{forged}' WHERE seq = 1")
    assert V.verify_ledger(path).ok  # the chain alone cannot tell: the signature does
    trusted = {key_id(KEY.public_key()): KEY.public_key()}
    assert reasons(path, trusted_keys=trusted) == [(1, V.REASON_BAD_SIGNATURE)]


def test_a_stored_model_kind_and_none_mean_the_same_entry(tmp_path: Path) -> None:
    """A model audit's document has no kind, so 'model' and NULL are one entry (documented)."""
    path = tmp_path / S.LEDGER_FILE_NAME
    L.append_entry(path, data_result(1), report_sha256=REPORT_SHA)
    L.append_entry(path, model_result(1), report_sha256=REPORT_SHA)
    sql(path, "UPDATE entries SET kind = NULL WHERE seq = 2")
    assert V.verify_ledger(path).ok and L.read_entries(path)[1].kind == "model"


# ---------------------------------------------------------------------------------------------
# The CLI


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    path = legacy(tmp_path, 1)
    L.append_entry(path, data_result(1), report_sha256=REPORT_SHA, signing_key=KEY)
    L.append_entry(path, data_result(2), report_sha256=REPORT_SHA, signing_key=KEY)
    L.append_entry(path, model_result(9, "\x1b[31mred\u202e"), report_sha256=REPORT_SHA)
    return path


def test_history_lists_each_entry_s_kind_and_filters_by_it(mixed: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(history, ["credit", "--ledger", str(mixed)])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].split()[:2] == ["seq", "kind"]
    assert [line.split()[:2] for line in lines[1:]] == [
        ["1", "model"],
        ["2", "model"],
        ["3", "model"],
        ["4", "data"],
        ["5", "data"],
    ]
    # changes are marked against the previous audit of the same kind: entry 4 is the first
    # data audit, so nothing is marked; entry 5's data differs from entry 4's
    assert "*" not in lines[4] and lines[5].count("*") == 1
    only = runner.invoke(history, ["credit", "--ledger", str(mixed), "--kind", "data", "--json"])
    assert only.exit_code == 0, only.output
    assert [e["kind"] for e in json.loads(only.output)] == ["data", "data"]
    missing = runner.invoke(history, ["other", "--ledger", str(mixed), "--kind", "data"])
    assert missing.exit_code == 1
    assert "No data audits named 'other'" in missing.output
    assert "data audits recorded: 'credit'" in missing.output


def test_ledger_list_shows_every_audit_with_its_kind_and_name(mixed: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(ledger, ["list", str(mixed)])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].split()[:3] == ["seq", "kind", "name"]
    assert len(lines) == 7
    assert "\x1b" not in shown.output and "\u202e" not in shown.output  # a hostile name
    assert lines[6].split()[:3] == ["6", "model", "\\x1b[31mred<U+202E>"]
    data = runner.invoke(ledger, ["list", str(mixed), "--kind", "data"])
    assert [line.split()[:2] for line in data.output.splitlines()[1:]] == [
        ["4", "data"],
        ["5", "data"],
    ]
    bad = runner.invoke(ledger, ["list", str(mixed), "--kind", "survey"])
    assert bad.exit_code == 2 and "'survey' is not one of 'model', 'data', 'monitor'" in bad.output
    absent = runner.invoke(ledger, ["list", str(mixed.parent / "none.sqlite")])
    assert absent.exit_code == 1 and "Ledger not found" in absent.output
    assert "Traceback" not in absent.output


def test_a_kind_edited_into_a_blob_is_listed_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / S.LEDGER_FILE_NAME
    L.append_entry(path, data_result(1), report_sha256=REPORT_SHA)
    sql(path, "UPDATE entries SET kind = x'00ff', model_name = x'01'")
    runner = CliRunner()
    for args in ([], ["--json"]):
        shown = runner.invoke(ledger, ["list", str(path), *args])
        assert shown.exit_code == 0 and "Traceback" not in shown.output, shown.output
        assert "x00" in shown.output and "xff" in shown.output
    assert reasons(path) == [(1, V.REASON_EDITED)]


_WRITER = """
import json, sys
from fairaudit.provenance import _ledger as ledger
path, tag, kind, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
for i in range(count):
    seen = []
    def render(supersedes):
        seen.append(supersedes)
        result = {"kind": kind, "audit": {"id": f"{tag}-{i}", "name": "credit"}}
        return result, "ab" * 32
    entry = ledger.append_rendered(path, "credit", render, kind=kind)
    print(json.dumps([entry.seq, entry.audit_id, seen[-1]]), flush=True)
"""


def test_concurrent_model_and_data_audits_each_supersede_their_own_kind(tmp_path: Path) -> None:
    path = legacy(tmp_path, 2)
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    jobs = [("m1", "model"), ("d1", "data"), ("m2", "model"), ("d2", "data")]
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), tag, kind, "10"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag, kind in jobs
    ]
    appended: dict[int, tuple[str, str | None]] = {}
    for writer in writers:
        stdout, stderr = writer.communicate(timeout=120)
        assert writer.returncode == 0, stderr
        for line in stdout.splitlines():
            seq, audit_id, supersedes = json.loads(line)
            appended[seq] = (audit_id, supersedes)
    report = V.verify_ledger(path, expect_head=V2_HEAD)
    assert report.ok, report.describe()
    assert report.entries == 5 + 40 and schema_version(path) == "3"
    latest = {"model": L.read_entries(path)[2].audit_id, "data": None}  # the fixture's last
    for entry in L.read_entries(path)[4:]:
        audit_id, supersedes = appended[entry.seq]
        assert entry.audit_id == audit_id
        assert supersedes == latest[entry.kind], (entry.seq, entry.kind)
        latest[entry.kind] = audit_id
    assert [e.kind for e in L.read_entries(path)].count("data") == 20
