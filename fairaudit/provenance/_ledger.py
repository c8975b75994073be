"""The audit ledger: append an audit run, read the entries back (see ``_ledger_store``).

Each entry records which audit ran (audit id, model name and version, the audit's time), on
what (the SHA-256 of the data and of the model file), with what outcome (the policy verdict)
and what it wrote (the SHA-256 of the HTML report's bytes), plus when it was recorded and the
key id of the signer, if any. ``_ledger_verify`` checks the chain.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fairaudit.provenance._keys import key_id
from fairaudit.provenance._ledger_store import (
    ENTRY_COLUMNS,
    ENTRY_FIELDS,
    LEDGER_FILE_NAME,
    LedgerEntry,
    LedgerError,
    chain_head,
    check_sha256,
    entry_hash,
    insert_row,
    reading,
    recorded_at,
    select_entries,
    sign_entry,
    write_transaction,
)
from fairaudit.provenance._statement import section

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "MSG_NO_AUDIT_ID",
    "append_entry",
    "append_rendered",
    "default_ledger_path",
    "file_sha256",
    "ledger_head",
    "model_history",
    "model_names",
    "previous_audit",
    "read_entries",
]

MSG_NO_AUDIT_ID = "The audit result has no audit id (audit.id); is it a fairaudit result?"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Return the hex SHA-256 of a file's bytes (the ``report_sha256`` of a written report)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError as e:
        raise LedgerError(f"Cannot read {path}: {e.strerror or e}.") from e
    return digest.hexdigest()


def default_ledger_path(report_path: str | os.PathLike[str]) -> Path:
    """Return the default ledger for a report: ``fairaudit-ledger.sqlite`` beside it."""
    return Path(report_path).parent / LEDGER_FILE_NAME


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _fields_from_result(result: Mapping[str, Any]) -> dict[str, str | None]:
    audit = section(result, "audit")
    lineage = section(result, "lineage")
    data = section(lineage, "data")
    model = section(lineage, "model")
    audit_id = audit.get("id")
    if not isinstance(audit_id, str) or not audit_id:
        raise LedgerError(MSG_NO_AUDIT_ID)
    return {
        "audit_id": audit_id,
        "model_name": _text_or_none(audit.get("name")),
        "model_version": _text_or_none(audit.get("model_version")),
        "created_at": _text_or_none(audit.get("created_at")),
        "data_sha256": _text_or_none(data.get("sha256")),
        "model_sha256": _text_or_none(model.get("sha256")),
        "verdict": _text_or_none(result.get("verdict")),
    }


def _latest_audit(connection: sqlite3.Connection, model_name: str | None) -> str | None:
    """Return the audit id of the latest entry for ``model_name``, or None."""
    row = connection.execute(
        "SELECT audit_id FROM entries WHERE model_name IS ? ORDER BY seq DESC LIMIT 1",
        (model_name,),
    ).fetchone()
    return None if row is None else str(row[0])


# ---------------------------------------------------------------------------------------------
# Appending


def append_entry(
    ledger_path: str | os.PathLike[str],
    result_dict: Mapping[str, Any],
    *,
    report_sha256: str,
    signing_key: Ed25519PrivateKey | None = None,
) -> LedgerEntry:
    """Return the entry appended to the ledger for an audit result (creating the ledger).

    ``result_dict`` is ``AuditResult.to_dict()`` (or a report's JSON); ``report_sha256`` is
    the SHA-256 of the written HTML file's bytes (``file_sha256``). With ``signing_key`` the
    entry is signed. Safe to call from many processes at once on one file. To fill the
    report's ``supersedes`` from the ledger, use ``append_rendered``.
    """
    _fields_from_result(result_dict)  # refuse bad input before the file is touched
    check_sha256(report_sha256, "report_sha256")
    return append_rendered(
        ledger_path, None, lambda _: (result_dict, report_sha256), signing_key=signing_key
    )


def append_rendered(
    ledger_path: str | os.PathLike[str],
    model_name: str | None,
    render: Callable[[str | None], tuple[Mapping[str, Any], str]],
    *,
    signing_key: Ed25519PrivateKey | None = None,
) -> LedgerEntry:
    """Return the entry appended for the report that ``render`` writes under the write lock.

    ``render(supersedes)`` is called inside the transaction that appends, with the audit id
    of the ledger's latest entry for ``model_name`` (None if there is none); it writes the
    report and returns its result dict and the SHA-256 of the HTML file. No other writer can
    append in between, so concurrent publishers of one model name each supersede the entry
    just before theirs. If ``render`` raises, nothing is appended.
    """
    signer = None if signing_key is None else key_id(signing_key.public_key())

    def append(connection: sqlite3.Connection) -> LedgerEntry:
        result_dict, report_sha256 = render(_latest_audit(connection, model_name))
        fields: dict[str, Any] = _fields_from_result(result_dict)
        fields.update(
            report_sha256=check_sha256(report_sha256, "report_sha256"),
            recorded_at=recorded_at(),
            key_id=signer,
        )
        seq, previous = chain_head(connection)
        digest = entry_hash(seq, previous, fields)
        entry = LedgerEntry(
            seq=seq,
            **{name: fields[name] for name in ENTRY_FIELDS},
            previous_hash=previous,
            entry_hash=digest,
        )
        entry = replace(entry, signature=sign_entry(entry, signing_key))
        insert_row(connection, "entries", ENTRY_COLUMNS, entry)
        return entry

    return write_transaction(Path(ledger_path), append)


# ---------------------------------------------------------------------------------------------
# Reading


def read_entries(ledger_path: str | os.PathLike[str]) -> list[LedgerEntry]:
    """Return every entry in chain order (as stored: verify with ``verify_ledger``)."""
    with reading(ledger_path) as connection:
        return [LedgerEntry(*r) for r in connection.execute(select_entries())]


def model_history(ledger_path: str | os.PathLike[str], model_name: str) -> list[LedgerEntry]:
    """Return the entries of one model name, oldest first."""
    with reading(ledger_path) as connection:
        rows = connection.execute(select_entries("WHERE model_name = ?"), (model_name,))
        return [LedgerEntry(*r) for r in rows]


def model_names(ledger_path: str | os.PathLike[str]) -> list[str]:
    """Return the model names recorded in the ledger, sorted."""
    with reading(ledger_path) as connection:
        rows = connection.execute(
            "SELECT DISTINCT model_name FROM entries WHERE model_name IS NOT NULL "
            "ORDER BY model_name"
        )
        return [r[0] for r in rows]


def previous_audit(ledger_path: str | os.PathLike[str], model_name: str | None) -> str | None:
    """Return the audit id of the latest entry for ``model_name``, or None (no such entry).

    A ledger that does not exist yet has no previous audit; it is not created.
    """
    if not Path(ledger_path).exists():
        return None
    with reading(ledger_path) as connection:
        return _latest_audit(connection, model_name)


def ledger_head(ledger_path: str | os.PathLike[str]) -> str:
    """Return the hash of the ledger's last entry (``GENESIS_HASH`` when it is empty)."""
    with reading(ledger_path) as connection:
        return chain_head(connection)[1]
