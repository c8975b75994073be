"""Reviews in the audit ledger: the record that says which countersignatures a report must carry.

The signatures in a report are independent statements: removing the last one leaves a report
whose remaining signatures all verify, and nothing in the file can show that one is gone.
So ``fairaudit review`` also appends a review entry to the audit's ledger (reviewer key id,
decision, SHA-256 of the review's envelope), and ``fairaudit verify --ledger`` checks that
every review the ledger holds for the report's audit is still in the report.

Review entries share the ledger's hash chain with the audit entries (one ``seq`` numbering,
each entry citing the hash of the one before, whatever its kind), so ``ledger verify`` and
``--expect-head`` cover them; they live in their own ``reviews`` table and hash a document
of format ``REVIEW_FORMAT``. A ledger gets that table, and schema version 2, when its first
review is recorded. Each review entry is signed with the reviewer's key.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import rfc8785

from fairaudit.errors import VerificationError
from fairaudit.provenance._ledger import (
    MSG_NO_LEDGER,
    LedgerError,
    _has_reviews,
    _head,
    _reading,
    _recorded_at,
    _sign,
    insert_row,
    verify_ledger,
    write_transaction,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from fairaudit.provenance._signing import VerificationSummary

__all__ = [
    "REASON_LEDGER_BROKEN",
    "REASON_NOT_IN_LEDGER",
    "REASON_REVIEW_MISSING",
    "REVIEW_FIELDS",
    "REVIEW_FORMAT",
    "ReviewEntry",
    "append_review",
    "check_reviews_recorded",
    "holds_audit",
    "read_reviews",
    "reviews_for",
]

#: Written into every hashed review document (an audit entry's is ``ENTRY_FORMAT``).
REVIEW_FORMAT = "fairaudit-ledger-review/v1"
#: The recorded fields of a review entry, in order.
REVIEW_FIELDS = ("audit_id", "key_id", "decision", "envelope_sha256", "recorded_at")

# Reason codes carried by VerificationError.reason (``fairaudit verify --ledger``).
REASON_REVIEW_MISSING = "review-missing"
REASON_NOT_IN_LEDGER = "not-in-ledger"
REASON_LEDGER_BROKEN = "ledger-broken"

MSG_AUDIT_NOT_IN_LEDGER = (
    "The ledger {path} holds no audit {audit}: record reviews in the ledger the audit was "
    "recorded in, or pass --no-ledger."
)
MSG_NOT_IN_LEDGER = (
    "The ledger {path} holds no audit {audit}: it is not the ledger this report was recorded in."
)
MSG_LEDGER_BROKEN = "The ledger {path} does not verify, so its reviews cannot be trusted: {problem}"
MSG_REVIEW_MISSING = (
    "The report lacks {count} review(s) the ledger records for audit {audit}: {reviews}; "
    "countersignatures were removed."
)
MSG_REVIEW_MISSING_ONE = "{decision} by key {keyid} (ledger entry {seq})"

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
    "UPDATE ledger_meta SET value = '2' WHERE key = 'schema_version'",
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
        return str(self.key_id)[:16]


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
    with _reading(ledger_path) as connection:
        return _holds(connection, audit_id)


def reviews_for(ledger_path: str | os.PathLike[str], audit_id: str) -> list[ReviewEntry]:
    """Return the reviews the ledger records for ``audit_id``, oldest first."""
    with _reading(ledger_path) as connection:
        return read_reviews(connection, audit_id) if _has_reviews(connection) else []


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
    from fairaudit.provenance._keys import key_id

    path = Path(ledger_path)
    if not path.is_file():
        raise LedgerError(MSG_NO_LEDGER.format(path=path))

    def append(connection: sqlite3.Connection) -> ReviewEntry:
        if not _holds(connection, audit_id):
            raise LedgerError(MSG_AUDIT_NOT_IN_LEDGER.format(path=path, audit=audit_id))
        if not _has_reviews(connection):
            for statement in _CREATE_REVIEWS:
                connection.execute(statement)
        seq, previous = _head(connection)
        entry = ReviewEntry(
            seq=seq,
            audit_id=audit_id,
            key_id=key_id(signing_key.public_key()),
            decision=decision,
            envelope_sha256=envelope_sha256,
            recorded_at=_recorded_at(),
            previous_hash=previous,
            entry_hash="",
        )
        entry = replace(
            entry, entry_hash=hashlib.sha256(rfc8785.dumps(entry.document())).hexdigest()
        )
        entry = replace(entry, signature=_sign(entry, signing_key))
        insert_row(connection, "reviews", _COLUMNS, entry)
        return entry

    return write_transaction(path, append)


def check_reviews_recorded(
    summary: VerificationSummary, ledger_path: str | os.PathLike[str]
) -> int:
    """Return how many reviews the ledger records for the verified report's audit.

    Raises VerificationError if the ledger's chain is broken, if it holds no such audit, or
    if a review it records is not among the report's signatures (naming each one missing).
    """
    report = verify_ledger(ledger_path)
    if not report.ok:
        raise VerificationError(
            MSG_LEDGER_BROKEN.format(path=ledger_path, problem=report.problems[0].message),
            reason=REASON_LEDGER_BROKEN,
        )
    audit_id = summary.audit_id or ""
    if not holds_audit(ledger_path, audit_id):
        raise VerificationError(
            MSG_NOT_IN_LEDGER.format(path=ledger_path, audit=audit_id or "unknown"),
            reason=REASON_NOT_IN_LEDGER,
        )
    reviews = reviews_for(ledger_path, audit_id)
    present = {signer.envelope_sha256 for signer in summary.signers}
    missing = [review for review in reviews if review.envelope_sha256 not in present]
    if missing:
        listed = ", ".join(
            MSG_REVIEW_MISSING_ONE.format(decision=r.decision, keyid=r.short_key_id, seq=r.seq)
            for r in missing
        )
        raise VerificationError(
            MSG_REVIEW_MISSING.format(count=len(missing), audit=audit_id[:12], reviews=listed),
            reason=REASON_REVIEW_MISSING,
        )
    return len(reviews)
