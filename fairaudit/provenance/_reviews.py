"""Reviews in the audit ledger: the record that says which countersignatures a report must carry.

The signatures in a report are independent statements: removing the last one leaves a report
whose remaining signatures all verify, and nothing in the file can show that one is gone.
So ``fairaudit review`` also appends a review entry to the audit's ledger (reviewer key id,
decision, SHA-256 of the review's envelope), and ``fairaudit verify --ledger`` checks that
every review the ledger holds for the report's audit is still in the report.

Review entries share the ledger's hash chain with the audit entries (one ``seq`` numbering,
each entry citing the hash of the one before, whatever its kind), so ``ledger verify`` and
``--expect-head`` cover them (``_ledger_verify``); they live in their own ``reviews`` table
and hash a document of format ``REVIEW_FORMAT``. A ledger gets that table, and schema
version 2, when its first review is recorded. Each review entry is signed with the
reviewer's key.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fairaudit.provenance._keys import SHORT_KEY_ID, key_id
from fairaudit.provenance._ledger_store import (
    MSG_NO_LEDGER,
    LedgerError,
    chain_head,
    document_hash,
    has_reviews_table,
    insert_row,
    reading,
    recorded_at,
    sign_entry,
    write_transaction,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "MSG_AUDIT_NOT_IN_LEDGER",
    "REVIEW_FIELDS",
    "REVIEW_FORMAT",
    "ReviewEntry",
    "append_review",
    "holds_audit",
    "read_reviews",
    "reviews_for",
]

#: Written into every hashed review document (an audit entry's is ``ENTRY_FORMAT``).
REVIEW_FORMAT = "fairaudit-ledger-review/v1"
#: The recorded fields of a review entry, in order.
REVIEW_FIELDS = ("audit_id", "key_id", "decision", "envelope_sha256", "recorded_at")

MSG_AUDIT_NOT_IN_LEDGER = (
    "The ledger {path} holds no audit {audit}: record reviews in the ledger the audit was "
    "recorded in, or pass --no-ledger."
)

_CREATE_REVIEWS = (
    """CREATE TABLE reviews (
        seq INTEGER PRIMARY KEY,
        audit_id TEXT NOT NULL,
        key_id TEXT NOT NULL,
        decision TEXT NOT NULL,
        envelope_sha256 TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        previous_hash TEXT NOT NULL,
        entry_hash TEXT NOT NULL,
        signature TEXT
    )""",
    "CREATE INDEX reviews_by_audit ON reviews (audit_id, seq)",
    # A ledger of format 3 (entry kinds) keeps its version: 3 may or may not have reviews.
    "UPDATE ledger_meta SET value = '2' WHERE key = 'schema_version' AND value = '1'",
)
_COLUMNS = ("seq", *REVIEW_FIELDS, "previous_hash", "entry_hash", "signature")


@dataclass(frozen=True)
class ReviewEntry:
    """One recorded review: who (key id) decided what on which audit, and its envelope."""

    seq: int
    audit_id: str
    key_id: str
    decision: str
    envelope_sha256: str
    recorded_at: str
    previous_hash: str
    entry_hash: str
    signature: str | None = None

    def document(self, seq: int | None = None) -> dict[str, Any]:
        """Return the document the entry's hash and signature cover (as entry ``seq``)."""
        fields = asdict(self)
        document: dict[str, Any] = {
            "format": REVIEW_FORMAT,
            "seq": self.seq if seq is None else seq,
            "previous_hash": self.previous_hash,
        }
        document.update((name, fields[name]) for name in REVIEW_FIELDS)
        return document

    @property
    def short_key_id(self) -> str:
        """Return the first 16 hex digits of the reviewer's key id, as messages show it."""
        return str(self.key_id)[:SHORT_KEY_ID]


def read_reviews(connection: sqlite3.Connection, audit_id: str | None = None) -> list[ReviewEntry]:
    """Return the review entries (of one audit, if given) in seq order."""
    where, parameters = ("WHERE audit_id = ?", (audit_id,)) if audit_id is not None else ("", ())
    rows = connection.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM reviews {where} ORDER BY seq", parameters
    )
    return [ReviewEntry(*row) for row in rows]


def _holds(connection: sqlite3.Connection, audit_id: str) -> bool:
    row = connection.execute("SELECT 1 FROM entries WHERE audit_id = ? LIMIT 1", (audit_id,))
    return row.fetchone() is not None


def holds_audit(ledger_path: str | os.PathLike[str], audit_id: str) -> bool:
    """Return True if the ledger exists and has an audit entry with ``audit_id``."""
    if not Path(ledger_path).is_file():
        return False
    with reading(ledger_path) as connection:
        return _holds(connection, audit_id)


def reviews_for(ledger_path: str | os.PathLike[str], audit_id: str) -> list[ReviewEntry]:
    """Return the reviews the ledger records for ``audit_id``, oldest first."""
    with reading(ledger_path) as connection:
        return read_reviews(connection, audit_id) if has_reviews_table(connection) else []


def append_review(
    ledger_path: str | os.PathLike[str],
    *,
    audit_id: str,
    decision: str,
    envelope_sha256: str,
    signing_key: Ed25519PrivateKey,
) -> ReviewEntry:
    """Return the review entry appended to the ledger, signed with the reviewer's key.

    The ledger must exist and hold the audit: a review recorded elsewhere would prove nothing.
    """
    path = Path(ledger_path)
    if not path.is_file():
        raise LedgerError(MSG_NO_LEDGER.format(path=path))

    def append(connection: sqlite3.Connection) -> ReviewEntry:
        if not _holds(connection, audit_id):
            raise LedgerError(MSG_AUDIT_NOT_IN_LEDGER.format(path=path, audit=audit_id))
        if not has_reviews_table(connection):
            for statement in _CREATE_REVIEWS:
                connection.execute(statement)
        seq, previous = chain_head(connection)
        entry = ReviewEntry(
            seq=seq,
            audit_id=audit_id,
            key_id=key_id(signing_key.public_key()),
            decision=decision,
            envelope_sha256=envelope_sha256,
            recorded_at=recorded_at(),
            previous_hash=previous,
            entry_hash="",
        )
        entry = replace(entry, entry_hash=document_hash(entry))
        entry = replace(entry, signature=sign_entry(entry, signing_key))
        insert_row(connection, "reviews", _COLUMNS, entry)
        return entry

    return write_transaction(path, append)
