"""The audit ledger: append an audit run, read the entries back (see ``_ledger_store``).

Each entry records which audit ran (its kind, model or data; audit id, name and model version,
the audit's time), on what (the SHA-256 of the data and of the model file), with what outcome
(the policy verdict) and what it wrote (the SHA-256 of the HTML report's bytes), plus when it
was recorded and the key id of the signer, if any. ``_ledger_verify`` checks the chain.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fairaudit.errors import OutputError
from fairaudit.paths import check_folder_writable
from fairaudit.provenance._keys import key_id
from fairaudit.provenance._ledger_store import (
    ENTRY_COLUMNS,
    ENTRY_FIELDS,
    LEDGER_FILE_NAME,
    LedgerEntry,
    LedgerError,
    add_kind_column,
    chain_head,
    check_appendable,
    check_kind,
    check_sha256,
    entry_hash,
    has_kind_column,
    insert_row,
    kind_expression,
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
    "check_ledger_appendable",
    "default_ledger_path",
    "file_sha256",
    "ledger_head",
    "ledger_path_for",
    "model_history",
    "model_names",
    "previous_audit",
    "read_entries",
    "result_kind",
]

MSG_NO_AUDIT_ID = "The audit result has no audit id (audit.id); is it a fairaudit result?"
MSG_KIND_MISMATCH = "A {kind} audit's entry was asked for, but the report is a {found} audit."


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


def check_ledger_appendable(ledger: Path) -> None:
    """Raise unless ``ledger`` is a ledger (or can become one) that a run can append to.

    Called before the audit, so that a run never writes a report it cannot record. Reads
    the file's format without changing it (not even its journal mode).
    """
    check_folder_writable(ledger.parent if str(ledger.parent) else Path("."), "ledger")
    if ledger.exists():
        check_appendable(ledger)
        if not os.access(ledger, os.W_OK):
            raise OutputError(f"ledger '{ledger}' is read-only; choose another --ledger")


def ledger_path_for(output: str | os.PathLike[str], ledger: str | os.PathLike[str] | None) -> Path:
    """Return the ledger to use: ``ledger`` if given, else one in the output folder."""
    if ledger is not None:
        return Path(ledger)
    raw = os.fspath(output)
    folder = Path(raw) if raw.endswith(("/", os.sep)) or Path(raw).is_dir() else Path(raw).parent
    return default_ledger_path(folder / "report.html")


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def result_kind(result: Mapping[str, Any]) -> str:
    """Return the kind of audit a result records: its ``kind`` (a data report's), else model."""
    return check_kind(result.get("kind") or "model")


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
        "kind": result_kind(result),
    }


def _latest_audit(connection: sqlite3.Connection, model_name: str | None, kind: str) -> str | None:
    """Return the audit id of the latest entry of ``kind`` named ``model_name``, or None."""
    row = connection.execute(
        f"SELECT audit_id FROM entries WHERE model_name IS ? AND {kind_expression(connection)} = ? "
        "ORDER BY seq DESC LIMIT 1",
        (model_name, kind),
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
        ledger_path,
        None,
        lambda _: (result_dict, report_sha256),
        kind=result_kind(result_dict),
        signing_key=signing_key,
    )


def append_rendered(
    ledger_path: str | os.PathLike[str],
    model_name: str | None,
    render: Callable[[str | None], tuple[Mapping[str, Any], str]],
    *,
    kind: str = "model",
    signing_key: Ed25519PrivateKey | None = None,
) -> LedgerEntry:
    """Return the entry appended for the report that ``render`` writes under the write lock.

    ``render(supersedes)`` is called inside the transaction that appends, with the audit id
    of the ledger's latest entry of ``kind`` for ``model_name`` (None if there is none: a
    data audit never supersedes a model audit of the same name, nor the reverse); it writes
    the report and returns its result dict, of that kind, and the SHA-256 of the HTML file.
    No other writer can append in between, so concurrent publishers of one name each
    supersede the entry just before theirs. If ``render`` raises, nothing is appended.
    """
    check_kind(kind)
    signer = None if signing_key is None else key_id(signing_key.public_key())

    def append(connection: sqlite3.Connection) -> LedgerEntry:
        result_dict, report_sha256 = render(_latest_audit(connection, model_name, kind))
        fields: dict[str, Any] = _fields_from_result(result_dict)
        if fields["kind"] != kind:
            raise LedgerError(MSG_KIND_MISMATCH.format(kind=kind, found=fields["kind"]))
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
            kind=kind,
        )
        entry = replace(entry, signature=sign_entry(entry, signing_key))
        if kind != "model":
            add_kind_column(connection)
        columns = (*ENTRY_COLUMNS, "kind") if has_kind_column(connection) else ENTRY_COLUMNS
        insert_row(connection, "entries", columns, entry)
        return entry

    return write_transaction(Path(ledger_path), append)


# ---------------------------------------------------------------------------------------------
# Reading


def _where(conditions: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """Return the WHERE clause (entries' kind as ``{kind}``) and parameters, None: any value."""
    given = {name: value for name, value in conditions.items() if value is not None}
    if not given:
        return "", ()
    clause = " AND ".join(f"{'{kind}' if name == 'kind' else name} = ?" for name in given)
    return f"WHERE {clause}", tuple(given.values())


def read_entries(ledger_path: str | os.PathLike[str], kind: str | None = None) -> list[LedgerEntry]:
    """Return every entry (of ``kind``, if given) in chain order, as stored (verify with
    ``verify_ledger``)."""
    where, parameters = _where({"kind": None if kind is None else check_kind(kind)})
    with reading(ledger_path) as connection:
        rows = connection.execute(select_entries(connection, where), parameters)
        return [LedgerEntry(*r) for r in rows]


def model_history(
    ledger_path: str | os.PathLike[str], model_name: str, kind: str | None = None
) -> list[LedgerEntry]:
    """Return the entries named ``model_name`` (of ``kind``, if given; else all), oldest first."""
    conditions = {"model_name": model_name, "kind": None if kind is None else check_kind(kind)}
    where, parameters = _where(conditions)
    with reading(ledger_path) as connection:
        rows = connection.execute(select_entries(connection, where), parameters)
        return [LedgerEntry(*r) for r in rows]


def model_names(ledger_path: str | os.PathLike[str], kind: str | None = None) -> list[str]:
    """Return the names recorded in the ledger (of entries of ``kind``, if given), sorted."""
    where, parameters = _where({"kind": None if kind is None else check_kind(kind)})
    where = f"{where} AND" if where else "WHERE"
    with reading(ledger_path) as connection:
        query = (
            f"SELECT DISTINCT model_name FROM entries {where} model_name IS NOT NULL "
            "ORDER BY model_name"
        )
        rows = connection.execute(query.format(kind=kind_expression(connection)), parameters)
        return [r[0] for r in rows]


def previous_audit(
    ledger_path: str | os.PathLike[str], model_name: str | None, kind: str = "model"
) -> str | None:
    """Return the audit id of the latest entry of ``kind`` named ``model_name``, or None.

    A ledger that does not exist yet has no previous audit; it is not created.
    """
    check_kind(kind)
    if not Path(ledger_path).exists():
        return None
    with reading(ledger_path) as connection:
        return _latest_audit(connection, model_name, kind)


def ledger_head(ledger_path: str | os.PathLike[str]) -> str:
    """Return the hash of the ledger's last entry (``GENESIS_HASH`` when it is empty)."""
    with reading(ledger_path) as connection:
        return chain_head(connection)[1]
