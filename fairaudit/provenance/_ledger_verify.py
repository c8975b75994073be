"""Verify the audit ledger: every entry in its place, matching its hash, linked, signed.

Editing, deleting, reordering or inserting an entry breaks the chain at that entry, and each
problem is named in the user's terms (``LedgerProblem``: where, a stable reason code, a
message). ``check_reviews_recorded`` checks a verified report against the reviews the ledger
records for its audit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fairaudit.errors import VerificationError
from fairaudit.provenance._dsse import EnvelopeFormatError, decode_base64
from fairaudit.provenance._keys import SHORT_KEY_ID
from fairaudit.provenance._ledger_store import (
    GENESIS_HASH,
    ChainEntry,
    LedgerEntry,
    check_sha256,
    document_hash,
    has_reviews_table,
    reading,
    select_entries,
    signed_bytes,
)
from fairaudit.provenance._reviews import holds_audit, read_reviews, reviews_for
from fairaudit.provenance._verify import (
    REASON_BAD_SIGNATURE,
    REASON_UNKNOWN_KEY,
    REASON_UNSIGNED,
    VerificationSummary,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "REASON_LEDGER_BROKEN",
    "REASON_NOT_IN_LEDGER",
    "REASON_REVIEW_MISSING",
    "LedgerProblem",
    "LedgerReport",
    "check_reviews_recorded",
    "verify_ledger",
]

# Reason codes carried by LedgerProblem.reason: stable, for scripts.
REASON_MISSING = "missing-entry"
REASON_RENUMBERED = "renumbered"
REASON_EDITED = "edited"
REASON_BROKEN_LINK = "broken-link"
REASON_REORDERED = "reordered"
REASON_INSERTED = "inserted"
REASON_TRUNCATED = "truncated"

MSG_MISSING_FIRST = (
    "The entries before entry {seq} are missing: the ledger starts at entry {seq}; "
    "they were deleted."
)
MSG_MISSING_ONE = (
    "Entry {first} is missing: the ledger jumps from entry {before} to entry {after}; "
    "it was deleted."
)
MSG_MISSING = (
    "Entries {first} to {last} are missing: the ledger jumps from entry {before} to entry "
    "{after}; entries were deleted."
)
MSG_RENUMBERED = (
    "Entry {seq} (audit {audit}) was recorded as entry {recorded}: "
    "entries were reordered, or renumbered after an insertion or deletion."
)
MSG_EDITED = (
    "Entry {seq} (audit {audit}) no longer matches its hash: a field was edited, "
    "or the entry was forged."
)
MSG_BROKEN_LINK = (
    "Entry {seq} (audit {audit}) does not follow entry {before}: it cites previous hash "
    "{cited}, but entry {before} has hash {actual}; an entry was inserted, deleted or replaced."
)
MSG_REORDERED = (
    "Entry {seq} (audit {audit}) cites entry {cited}, which comes after it, as the entry "
    "before it: entries were reordered."
)
MSG_INSERTED = (
    "Entry {seq} (audit {audit}) cites entry {cited} as the entry before it, not entry "
    "{before}: entries were inserted or moved between them."
)
MSG_BROKEN_LINK_FIRST = (
    "Entry 1 (audit {audit}) cites previous hash {cited} instead of the genesis hash: "
    "entries before it were deleted."
)
MSG_ENTRY_BAD_SIGNATURE = (
    "Entry {seq} (audit {audit}) has a signature by key {keyid} that does not verify: "
    "the entry or its signature was altered."
)
MSG_ENTRY_UNKNOWN_KEY = (
    "Entry {seq} (audit {audit}) is signed by key {keyid}, which is not among the trusted keys."
)
MSG_ENTRY_UNSIGNED = (
    "Entry {seq} (audit {audit}) is not signed, but trusted keys were given: "
    "every entry must be signed by one of them."
)
MSG_TRUNCATED = (
    "The expected head {expected} is not in the ledger (its head is {head}, after {count} "
    "entries): the ledger was truncated or rewritten."
)
MSG_EMPTY_TRUNCATED = (
    "The expected head {expected} is not in the ledger, which is empty: "
    "the ledger was truncated or replaced."
)
MSG_DUPLICATE = (
    "Entry {seq} (audit {audit}) appears twice in the chain: an entry was inserted under a "
    "number already taken."
)

# Reason codes carried by VerificationError.reason (``fairaudit verify --ledger``).
REASON_REVIEW_MISSING = "review-missing"
REASON_NOT_IN_LEDGER = "not-in-ledger"
REASON_LEDGER_BROKEN = "ledger-broken"

MSG_NOT_IN_LEDGER = (
    "The ledger {path} holds no audit {audit}: it is not the ledger this report was recorded in."
)
MSG_LEDGER_BROKEN = "The ledger {path} does not verify, so its reviews cannot be trusted: {problem}"
MSG_REVIEW_MISSING = (
    "The report lacks {count} review(s) the ledger records for audit {audit}: {reviews}; "
    "countersignatures were removed."
)
MSG_REVIEW_MISSING_ONE = "{decision} by key {keyid} (ledger entry {seq})"


@dataclass(frozen=True)
class LedgerProblem:
    """One way the ledger fails verification: where, a stable reason code, and the message."""

    seq: int | None
    reason: str
    message: str


@dataclass
class LedgerReport:
    """What ``verify_ledger`` found: the chain's length and head, signatures, and problems."""

    path: Path
    entries: int
    head: str
    signed: int
    verified_signatures: int
    keys_checked: bool
    problems: list[LedgerProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return True when the chain is intact (and every check asked for passed)."""
        return not self.problems

    def describe(self) -> str:
        """Return a one-line summary for the user."""
        if not self.ok:
            first = self.problems[0].message
            more = len(self.problems) - 1
            return first + (f" ({more} more problem(s) after it.)" if more else "")
        if self.keys_checked:
            signatures = f"all {self.verified_signatures} signed by trusted keys"
        elif self.signed:
            signatures = f"{self.signed} signed, signatures not checked (pass --key)"
        else:
            signatures = "none signed"
        return f"Ledger OK: {self.entries} entries, chain intact, {signatures}; head {self.head}"

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict."""
        return {
            "path": str(self.path),
            "ok": self.ok,
            "entries": self.entries,
            "head": self.head,
            "signed": self.signed,
            "verified_signatures": self.verified_signatures,
            "keys_checked": self.keys_checked,
            "problems": [asdict(p) for p in self.problems],
        }


def _read_chain(ledger_path: str | os.PathLike[str]) -> list[ChainEntry]:
    """Return every entry of the chain, audits and reviews, in seq order."""
    with reading(ledger_path) as connection:
        chain: list[ChainEntry] = [
            LedgerEntry(*r) for r in connection.execute(select_entries(connection))
        ]
        if has_reviews_table(connection):
            chain.extend(read_reviews(connection))
    return sorted(chain, key=lambda entry: entry.seq)


def _recorded_seq(entry: ChainEntry, limit: int) -> int | None:
    """Return the seq the entry's hash was computed with, if it is another seq up to ``limit``."""
    for candidate in range(1, limit + 1):
        if candidate != entry.seq and _stored_hash(entry, candidate) == entry.entry_hash:
            return candidate
    return None


def _short(text: object, length: int = 12) -> str:
    return "?" if text is None else str(text)[:length]


def _stored_hash(entry: ChainEntry, seq: int) -> str | None:
    """Return the entry's hash computed at ``seq``, or None if its stored values cannot be hashed.

    SQLite stores whatever a raw UPDATE writes (a blob, a huge integer); such an entry was
    edited, and must be reported as such rather than crash verification.
    """
    try:
        return document_hash(entry, seq)
    except (ValueError, TypeError):
        return None


def _check_signature(
    entry: ChainEntry, trusted_keys: Mapping[str, Ed25519PublicKey] | None
) -> LedgerProblem | None:
    """Return the problem with the entry's signature, if any (checked only with trusted keys)."""
    audit = _short(entry.audit_id)
    if entry.key_id is None:
        if trusted_keys is not None:
            return LedgerProblem(
                entry.seq, REASON_UNSIGNED, MSG_ENTRY_UNSIGNED.format(seq=entry.seq, audit=audit)
            )
        if entry.signature is not None:  # a signature whose signer is not recorded
            return LedgerProblem(
                entry.seq,
                REASON_BAD_SIGNATURE,
                MSG_ENTRY_BAD_SIGNATURE.format(seq=entry.seq, audit=audit, keyid="(none)"),
            )
        return None
    keyid = _short(entry.key_id, SHORT_KEY_ID)
    bad = LedgerProblem(
        entry.seq,
        REASON_BAD_SIGNATURE,
        MSG_ENTRY_BAD_SIGNATURE.format(seq=entry.seq, audit=audit, keyid=keyid),
    )
    if entry.signature is None:
        return bad
    if trusted_keys is None:
        return None
    public_key = trusted_keys.get(str(entry.key_id))
    if public_key is None:
        return LedgerProblem(
            entry.seq,
            REASON_UNKNOWN_KEY,
            MSG_ENTRY_UNKNOWN_KEY.format(seq=entry.seq, audit=audit, keyid=keyid),
        )
    from cryptography.exceptions import InvalidSignature

    try:
        # One spelling only: the signature is not hashed, so another text of the same bytes
        # would change the entry unseen.
        raw = decode_base64(entry.signature, "sig")
        public_key.verify(raw, signed_bytes(entry))
    except (InvalidSignature, EnvelopeFormatError, ValueError, TypeError):
        return bad
    return None


def _check_link(
    entry: ChainEntry, previous: ChainEntry, seq_by_hash: Mapping[str, int]
) -> LedgerProblem | None:
    """Return the problem with an entry's link to the entry before it, if any."""
    if entry.previous_hash == previous.entry_hash:
        return None
    audit = _short(entry.audit_id)
    cited = seq_by_hash.get(str(entry.previous_hash))
    if cited is not None and cited < previous.seq:
        return LedgerProblem(
            entry.seq,
            REASON_INSERTED,
            MSG_INSERTED.format(seq=entry.seq, audit=audit, cited=cited, before=previous.seq),
        )
    if cited is not None:
        return LedgerProblem(
            entry.seq,
            REASON_REORDERED,
            MSG_REORDERED.format(seq=entry.seq, audit=audit, cited=cited),
        )
    return LedgerProblem(
        entry.seq,
        REASON_BROKEN_LINK,
        MSG_BROKEN_LINK.format(
            seq=entry.seq,
            audit=audit,
            before=previous.seq,
            cited=_short(entry.previous_hash, 16),
            actual=_short(previous.entry_hash, 16),
        ),
    )


def _missing_before(entry: ChainEntry, expected_seq: int) -> LedgerProblem | None:
    """Return the problem of the entries missing before ``entry``, if its seq skips any."""
    if entry.seq == expected_seq:
        return None
    if expected_seq == 1:
        message = MSG_MISSING_FIRST.format(seq=entry.seq)
    else:
        template = MSG_MISSING_ONE if entry.seq == expected_seq + 1 else MSG_MISSING
        message = template.format(
            first=expected_seq,
            last=entry.seq - 1,
            before=expected_seq - 1,
            after=entry.seq,
        )
    return LedgerProblem(expected_seq, REASON_MISSING, message)


def _chain_problem(
    entry: ChainEntry, previous: ChainEntry | None, limit: int, seq_by_hash: Mapping[str, int]
) -> LedgerProblem | None:
    """Return what is wrong with the entry's hash or its link to the entry before, if any."""
    audit = _short(entry.audit_id)
    computed = _stored_hash(entry, entry.seq)
    if computed is None or computed != entry.entry_hash:
        recorded = None if computed is None else _recorded_seq(entry, limit)
        if recorded is not None:
            return LedgerProblem(
                entry.seq,
                REASON_RENUMBERED,
                MSG_RENUMBERED.format(seq=entry.seq, audit=audit, recorded=recorded),
            )
        return LedgerProblem(
            entry.seq, REASON_EDITED, MSG_EDITED.format(seq=entry.seq, audit=audit)
        )
    if previous is None and entry.seq == 1 and entry.previous_hash != GENESIS_HASH:
        return LedgerProblem(
            entry.seq,
            REASON_BROKEN_LINK,
            MSG_BROKEN_LINK_FIRST.format(audit=audit, cited=_short(entry.previous_hash, 16)),
        )
    if previous is not None and entry.seq == previous.seq + 1:
        return _check_link(entry, previous, seq_by_hash)
    return None


def _head_problem(
    expect_head: str | None, entries: Sequence[ChainEntry], head: str
) -> LedgerProblem | None:
    """Return the problem of an expected head no longer in the chain, if it is not."""
    if expect_head is None or expect_head == GENESIS_HASH:
        return None
    if expect_head in {str(e.entry_hash) for e in entries}:
        return None
    message = (
        MSG_TRUNCATED.format(expected=expect_head, head=head, count=len(entries))
        if entries
        else MSG_EMPTY_TRUNCATED.format(expected=expect_head)
    )
    return LedgerProblem(None, REASON_TRUNCATED, message)


def verify_ledger(
    path: str | os.PathLike[str],
    *,
    trusted_keys: Mapping[str, Ed25519PublicKey] | None = None,
    expect_head: str | None = None,
) -> LedgerReport:
    """Return what verifying the ledger's chain (and signatures, and head) found.

    Every entry must sit at its recorded place, match its hash and cite the hash of the entry
    before it. With ``trusted_keys`` (key id → public key, as ``keys.load_trusted_keys``
    returns) every entry must be signed by one of them. With ``expect_head`` (a head hash
    noted earlier, e.g. by ``fairaudit ledger head``) that entry must still be in the chain:
    the ledger may have grown since, but not lost it. Problems are listed in chain order,
    at most one per entry. Raises LedgerError only when the file cannot be read as a ledger.
    """
    if expect_head is not None:
        check_sha256(expect_head, "The expected head")
    entries = _read_chain(path)
    problems: list[LedgerProblem] = []
    expected_seq = 1
    previous: ChainEntry | None = None
    signed = verified = 0
    limit = (entries[-1].seq if entries else 0) + 1
    seq_by_hash = {str(e.entry_hash): e.seq for e in entries}
    for entry in entries:
        if previous is not None and entry.seq == previous.seq:
            message = MSG_DUPLICATE.format(seq=entry.seq, audit=_short(entry.audit_id))
            problems.append(LedgerProblem(entry.seq, REASON_INSERTED, message))
            continue
        missing = _missing_before(entry, expected_seq)
        if missing is not None:
            problems.append(missing)
        problem = _chain_problem(entry, previous, limit, seq_by_hash)
        if entry.key_id is not None:
            signed += 1
        if problem is None:
            problem = _check_signature(entry, trusted_keys)
            if problem is None and trusted_keys is not None:
                verified += 1
        if problem is not None:
            problems.append(problem)
        previous = entry
        expected_seq = entry.seq + 1
    head = str(entries[-1].entry_hash) if entries else GENESIS_HASH
    truncated = _head_problem(expect_head, entries, head)
    if truncated is not None:
        problems.append(truncated)
    return LedgerReport(
        path=Path(path),
        entries=len(entries),
        head=head,
        signed=signed,
        verified_signatures=verified,
        keys_checked=trusted_keys is not None,
        problems=problems,
    )


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
