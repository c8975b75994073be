"""The audit ledger: an append-only, hash-chained record of every audit run, in one SQLite file.

Each entry records which audit ran (audit id, model name and version, the audit's time), on
what (the SHA-256 of the data and of the model file), with what outcome (the policy verdict)
and what it wrote (the SHA-256 of the HTML report's bytes), plus when it was recorded and the
key id of the signer, if any.

Entries form a hash chain. Entry ``seq`` (1, 2, ...) stores the hash of the entry before it
(``GENESIS_HASH`` for the first) and its own hash::

    entry_hash = SHA-256(RFC 8785 canonical JSON of {"format", "seq", "previous_hash", fields...})

so editing, deleting, reordering or inserting an entry breaks the chain at that entry. Someone
who can write the file could recompute every hash after a change; two things catch that:
signatures (with a signing key, each entry carries an Ed25519 signature over the DSSE
pre-authentication encoding of the same canonical JSON, payload type ``ENTRY_PAYLOAD_TYPE``),
and a head hash kept elsewhere (``verify_ledger(..., expect_head=...)`` fails unless that
hash is still in the chain, which also catches a truncated ledger).

Reviews recorded by ``fairaudit review`` are entries of the same chain, kept in their own
table (``fairaudit._review_ledger``): one ``seq`` numbering, each entry citing the hash of
the one before whatever its kind, so verification and a kept head cover them too.

Writers are safe to run in parallel (a batch, several CI jobs sharing one file): the database
is in WAL mode, every append reads the head and inserts the next entry in one ``BEGIN
IMMEDIATE`` transaction, and a busy database is retried with backoff. SQLite's atomic commit
means a process killed mid-append leaves either the whole entry or none of it. WAL needs a
local file system: do not share a ledger over NFS or SMB.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import random
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import rfc8785

from fairaudit.errors import FairauditError
from fairaudit.provenance._signing import REASON_BAD_SIGNATURE, REASON_UNKNOWN_KEY, REASON_UNSIGNED

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

__all__ = [
    "check_appendable",
    "ENTRY_FIELDS",
    "ENTRY_FORMAT",
    "ENTRY_PAYLOAD_TYPE",
    "GENESIS_HASH",
    "LEDGER_FILE_NAME",
    "LedgerEntry",
    "LedgerError",
    "LedgerProblem",
    "LedgerReport",
    "append_entry",
    "append_rendered",
    "default_ledger_path",
    "entry_document",
    "entry_hash",
    "file_sha256",
    "ledger_head",
    "model_history",
    "model_names",
    "previous_audit",
    "read_entries",
    "verify_ledger",
]

#: File name of the default ledger, inside the report's output folder.
LEDGER_FILE_NAME = "fairaudit-ledger.sqlite"
#: The ``previous_hash`` of the first entry.
GENESIS_HASH = "0" * 64
#: Written into every hashed entry document, so a ledger hash is never a hash of anything else.
ENTRY_FORMAT = "fairaudit-ledger-entry/v1"
#: DSSE payload type of a signed entry (domain separation from report signatures).
ENTRY_PAYLOAD_TYPE = "application/vnd.fairaudit.ledger-entry+json"
#: The recorded fields of an entry, in order (besides seq, previous_hash and the signature).
ENTRY_FIELDS = (
    "audit_id",
    "model_name",
    "model_version",
    "created_at",
    "data_sha256",
    "model_sha256",
    "verdict",
    "report_sha256",
    "recorded_at",
    "key_id",
)

#: Total time an append keeps retrying a busy (locked) ledger before giving up.
WRITE_DEADLINE_SECONDS = 60.0
#: SQLite's own wait for a lock, per attempt.
BUSY_TIMEOUT_SECONDS = 10.0

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
MSG_NO_LEDGER = "Ledger not found: {path}"
MSG_NOT_A_LEDGER = "{path} is not a fairaudit ledger: {detail}"
MSG_UNREADABLE = "Cannot read the ledger {path}: {detail}"
MSG_CANNOT_OPEN = "Cannot open the ledger {path}: {detail}"
MSG_UNWRITABLE = "Cannot write to the ledger {path}: {detail}"
MSG_BUSY = (
    "The ledger {path} stayed locked by other writers for {seconds:.0f} s; try again, "
    "or give each job its own --ledger."
)
MSG_BAD_HASH = "{what} must be a 64-character lowercase hex SHA-256, got {value!r}."
MSG_NO_AUDIT_ID = "The audit result has no audit id (audit.id); is it a fairaudit result?"
MSG_DUPLICATE = (
    "Entry {seq} (audit {audit}) appears twice in the chain: an entry was inserted under a "
    "number already taken."
)
MSG_NEWER_FORMAT = (
    "{path} is a ledger of format {found}; this fairaudit reads format {supported}; "
    "upgrade fairaudit."
)

#: Format 1 holds audit entries; format 2 adds the reviews table (``_review_ledger``), whose
#: entries share the chain. A ledger is upgraded to 2 when its first review is recorded, so
#: an older fairaudit refuses it instead of reporting the review entries as deleted.
_SCHEMA_VERSION = 2
_REVIEWS_SCHEMA_VERSION = 2
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_CREATE = (
    "CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS entries (
        seq INTEGER PRIMARY KEY,
        audit_id TEXT NOT NULL,
        model_name TEXT,
        model_version TEXT,
        created_at TEXT,
        data_sha256 TEXT,
        model_sha256 TEXT,
        verdict TEXT,
        report_sha256 TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        key_id TEXT,
        previous_hash TEXT NOT NULL,
        entry_hash TEXT NOT NULL,
        signature TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS entries_by_model ON entries (model_name, seq)",
)
_COLUMNS = ("seq", *ENTRY_FIELDS, "previous_hash", "entry_hash", "signature")


class LedgerError(FairauditError):
    """The ledger cannot be opened, read or written (not a broken chain: see LedgerReport)."""


@dataclass(frozen=True)
class LedgerEntry:
    """One recorded audit run: its fields, its place in the chain and its signature."""

    seq: int
    audit_id: str
    model_name: str | None
    model_version: str | None
    created_at: str | None
    data_sha256: str | None
    model_sha256: str | None
    verdict: str | None
    report_sha256: str
    recorded_at: str
    key_id: str | None
    previous_hash: str
    entry_hash: str
    signature: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as a JSON-ready dict (the signature base64)."""
        return asdict(self)

    def document(self, seq: int | None = None) -> dict[str, Any]:
        """Return the document the entry's hash and signature cover (as entry ``seq``)."""
        return entry_document(self.seq if seq is None else seq, self.previous_hash, asdict(self))


class _ChainEntry(Protocol):
    """What the chain checks read of an entry: an audit (LedgerEntry) or a review."""

    @property
    def seq(self) -> int: ...
    @property
    def audit_id(self) -> str: ...
    @property
    def key_id(self) -> str | None: ...
    @property
    def previous_hash(self) -> str: ...
    @property
    def entry_hash(self) -> str: ...
    @property
    def signature(self) -> str | None: ...
    def document(self, seq: int | None = None) -> dict[str, Any]: ...


_T = TypeVar("_T")


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


# ---------------------------------------------------------------------------------------------
# Hashing and signing


def entry_document(seq: int, previous_hash: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Return the document an entry's hash and signature cover."""
    document: dict[str, Any] = {"format": ENTRY_FORMAT, "seq": seq, "previous_hash": previous_hash}
    for name in ENTRY_FIELDS:
        document[name] = fields.get(name)
    return document


def entry_hash(seq: int, previous_hash: str, fields: Mapping[str, Any]) -> str:
    """Return the hex SHA-256 of the canonical JSON of an entry's document."""
    return hashlib.sha256(rfc8785.dumps(entry_document(seq, previous_hash, fields))).hexdigest()


def _signed_bytes(entry: _ChainEntry) -> bytes:
    from fairaudit.provenance._signing import pae

    return pae(ENTRY_PAYLOAD_TYPE, rfc8785.dumps(entry.document()))


def _sign(entry: _ChainEntry, signing_key: Ed25519PrivateKey | None) -> str | None:
    """Return the base64 signature of the entry's document, or None without a key."""
    if signing_key is None:
        return None
    return base64.b64encode(signing_key.sign(_signed_bytes(entry))).decode("ascii")


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


def _recorded_at() -> str:
    # SOURCE_DATE_EPOCH fixes it like every other timestamp, for reproducible test ledgers.
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            moment = datetime.fromtimestamp(int(epoch), tz=UTC)
        except (ValueError, OverflowError, OSError):
            raise LedgerError(
                f"SOURCE_DATE_EPOCH must be whole seconds since 1970, not {epoch!r}"
            ) from None
    else:
        moment = datetime.now(tz=UTC).replace(microsecond=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_hash(value: object, what: str) -> str:
    if not isinstance(value, str) or not _SHA256_HEX.fullmatch(value):
        raise LedgerError(MSG_BAD_HASH.format(what=what, value=value))
    return value


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _fields_from_result(result: Mapping[str, Any]) -> dict[str, str | None]:
    audit = result.get("audit")
    audit = audit if isinstance(audit, Mapping) else {}
    lineage = result.get("lineage")
    lineage = lineage if isinstance(lineage, Mapping) else {}
    data = lineage.get("data")
    data = data if isinstance(data, Mapping) else {}
    model = lineage.get("model")
    model = model if isinstance(model, Mapping) else {}
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


# ---------------------------------------------------------------------------------------------
# Opening the database


def _is_busy(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


def _connect(path: Path, *, create: bool) -> sqlite3.Connection:
    if not create and not path.is_file():
        raise LedgerError(MSG_NO_LEDGER.format(path=path))
    try:
        # isolation_level=None: no implicit transactions; every write says BEGIN IMMEDIATE.
        connection = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    except sqlite3.Error as e:
        raise LedgerError(MSG_CANNOT_OPEN.format(path=path, detail=e)) from e
    return connection


def _check_format(connection: sqlite3.Connection, path: Path) -> None:
    try:
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    except sqlite3.DatabaseError as e:
        if isinstance(e, sqlite3.OperationalError) and _is_busy(e):
            raise
        raise LedgerError(MSG_NOT_A_LEDGER.format(path=path, detail=e)) from e
    if not {"ledger_meta", "entries"} <= tables:
        raise LedgerError(MSG_NOT_A_LEDGER.format(path=path, detail="it has no ledger tables"))
    row = connection.execute(
        "SELECT value FROM ledger_meta WHERE key = 'schema_version'"
    ).fetchone()
    found = row[0] if row else None
    if found == str(_REVIEWS_SCHEMA_VERSION) and "reviews" not in tables:
        raise LedgerError(MSG_NOT_A_LEDGER.format(path=path, detail="its reviews table is missing"))
    if found not in ("1", str(_REVIEWS_SCHEMA_VERSION)):
        if found is not None and found.isdigit() and int(found) > _SCHEMA_VERSION:
            raise LedgerError(
                MSG_NEWER_FORMAT.format(path=path, found=found, supported=_SCHEMA_VERSION)
            )
        raise LedgerError(
            MSG_NOT_A_LEDGER.format(path=path, detail=f"unknown schema version {found!r}")
        )


def check_appendable(ledger_path: str | os.PathLike[str]) -> None:
    """Raise LedgerError unless the file is a ledger, or an empty database, or absent.

    Changes nothing, not even the journal mode: a run checks its ledger before the audit,
    while another run may just be creating it (an empty database becomes a ledger).
    """
    path = Path(ledger_path)
    if not path.exists():
        return
    connection = _connect(path, create=False)
    try:
        connection.execute("BEGIN")
        if connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            _check_format(connection, path)
    except sqlite3.DatabaseError as e:
        if isinstance(e, sqlite3.OperationalError) and _is_busy(e):
            return  # another writer holds it: it is a database being written, checked later
        raise LedgerError(MSG_UNREADABLE.format(path=path, detail=e)) from e
    finally:
        connection.close()


@contextmanager
def _reading(path: str | os.PathLike[str]) -> Iterator[sqlite3.Connection]:
    ledger_path = Path(path)
    connection = _connect(ledger_path, create=False)
    try:
        # One read transaction: a consistent snapshot even while others append.
        connection.execute("BEGIN")
        _check_format(connection, ledger_path)
        yield connection
    except sqlite3.DatabaseError as e:
        raise LedgerError(MSG_UNREADABLE.format(path=ledger_path, detail=e)) from e
    finally:
        connection.close()


def _has_reviews(connection: sqlite3.Connection) -> bool:
    row = connection.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'reviews'"
    ).fetchone()
    return bool(row[0])


def _head(connection: sqlite3.Connection) -> tuple[int, str]:
    """Return the next entry's seq and previous hash: after the last audit or review."""
    reviews = " UNION ALL SELECT seq, entry_hash FROM reviews" if _has_reviews(connection) else ""
    row = connection.execute(
        f"SELECT seq, entry_hash FROM entries{reviews} ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return (int(row[0]) + 1, str(row[1])) if row else (1, GENESIS_HASH)


def _entry_from_row(row: Sequence[Any]) -> LedgerEntry:
    return LedgerEntry(*row)


def _select(where: str = "", order: str = "seq") -> str:
    return f"SELECT {', '.join(_COLUMNS)} FROM entries {where} ORDER BY {order}"


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
    _check_hash(report_sha256, "report_sha256")
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
    key_id: str | None = None
    if signing_key is not None:
        from fairaudit.provenance._keys import key_id as compute_key_id

        key_id = compute_key_id(signing_key.public_key())

    def append(connection: sqlite3.Connection) -> LedgerEntry:
        latest = connection.execute(
            "SELECT audit_id FROM entries WHERE model_name IS ? ORDER BY seq DESC LIMIT 1",
            (model_name,),
        ).fetchone()
        result_dict, report_sha256 = render(None if latest is None else str(latest[0]))
        fields: dict[str, Any] = _fields_from_result(result_dict)
        fields.update(
            report_sha256=_check_hash(report_sha256, "report_sha256"),
            recorded_at=_recorded_at(),
            key_id=key_id,
        )
        seq, previous = _head(connection)
        digest = entry_hash(seq, previous, fields)
        entry = LedgerEntry(
            seq=seq,
            **{name: fields[name] for name in ENTRY_FIELDS},
            previous_hash=previous,
            entry_hash=digest,
        )
        entry = replace(entry, signature=_sign(entry, signing_key))
        insert_row(connection, "entries", _COLUMNS, entry)
        return entry

    return write_transaction(Path(ledger_path), append)


def insert_row(
    connection: sqlite3.Connection, table: str, columns: Sequence[str], entry: object
) -> None:
    """Insert ``entry``'s attributes named by ``columns`` as a row of ``table``."""
    connection.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
        [getattr(entry, c) for c in columns],
    )


def write_transaction(path: Path, step: Callable[[sqlite3.Connection], _T]) -> _T:
    """Return what ``step`` returns, run in one write transaction on the ledger (created if new).

    A busy ledger is retried with jittered backoff for up to ``WRITE_DEADLINE_SECONDS``;
    if ``step`` raises, the transaction is rolled back and the error propagates.
    """
    deadline = time.monotonic() + WRITE_DEADLINE_SECONDS
    delay = 0.01
    while True:
        try:
            return _write_once(path, step)
        except sqlite3.OperationalError as e:
            if not _is_busy(e):
                raise LedgerError(MSG_UNWRITABLE.format(path=path, detail=e)) from e
            if time.monotonic() >= deadline:
                raise LedgerError(MSG_BUSY.format(path=path, seconds=WRITE_DEADLINE_SECONDS)) from e
            # Jittered exponential backoff, so waiting writers do not retry in lockstep.
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 1.0)
        except sqlite3.DatabaseError as e:  # e.g. "file is not a database"
            raise LedgerError(MSG_NOT_A_LEDGER.format(path=path, detail=e)) from e


def _write_once(path: Path, step: Callable[[sqlite3.Connection], _T]) -> _T:
    connection = _connect(path, create=True)
    try:
        # Someone else's database is refused before anything about it changes (even the
        # journal mode); an empty file becomes a ledger.
        if connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            _check_format(connection, path)
        # WAL: readers never block the writer; FULL: a committed entry survives a power cut.
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("BEGIN IMMEDIATE")
        try:
            # Checked again under the lock: another process may have created it meanwhile.
            if connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
                for statement in _CREATE:
                    connection.execute(statement)
                connection.execute(
                    "INSERT INTO ledger_meta (key, value) VALUES ('schema_version', '1')"
                )
            _check_format(connection, path)
            value = step(connection)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return value
    finally:
        connection.close()


# ---------------------------------------------------------------------------------------------
# Reading


def read_entries(ledger_path: str | os.PathLike[str]) -> list[LedgerEntry]:
    """Return every entry in chain order (as stored: verify with ``verify_ledger``)."""
    with _reading(ledger_path) as connection:
        return [_entry_from_row(r) for r in connection.execute(_select())]


def model_history(ledger_path: str | os.PathLike[str], model_name: str) -> list[LedgerEntry]:
    """Return the entries of one model name, oldest first."""
    with _reading(ledger_path) as connection:
        rows = connection.execute(_select("WHERE model_name = ?"), (model_name,))
        return [_entry_from_row(r) for r in rows]


def model_names(ledger_path: str | os.PathLike[str]) -> list[str]:
    """Return the model names recorded in the ledger, sorted."""
    with _reading(ledger_path) as connection:
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
    with _reading(ledger_path) as connection:
        row = connection.execute(
            "SELECT audit_id FROM entries WHERE model_name IS ? ORDER BY seq DESC LIMIT 1",
            (model_name,),
        ).fetchone()
    return None if row is None else str(row[0])


def ledger_head(ledger_path: str | os.PathLike[str]) -> str:
    """Return the hash of the ledger's last entry (``GENESIS_HASH`` when it is empty)."""
    with _reading(ledger_path) as connection:
        return _head(connection)[1]


def _read_chain(ledger_path: str | os.PathLike[str]) -> list[_ChainEntry]:
    """Return every entry of the chain, audits and reviews, in seq order."""
    with _reading(ledger_path) as connection:
        chain: list[_ChainEntry] = [_entry_from_row(r) for r in connection.execute(_select())]
        if _has_reviews(connection):
            from fairaudit.provenance._reviews import read_reviews

            chain.extend(read_reviews(connection))
    return sorted(chain, key=lambda entry: entry.seq)


# ---------------------------------------------------------------------------------------------
# Verifying


def _recorded_seq(entry: _ChainEntry, limit: int) -> int | None:
    """Return the seq the entry's hash was computed with, if it is another seq up to ``limit``."""
    for candidate in range(1, limit + 1):
        if candidate != entry.seq and _stored_hash(entry, candidate) == entry.entry_hash:
            return candidate
    return None


def _short(text: object, length: int = 12) -> str:
    return "?" if text is None else str(text)[:length]


def _stored_hash(entry: _ChainEntry, seq: int) -> str | None:
    """Return the entry's hash computed at ``seq``, or None if its stored values cannot be hashed.

    SQLite stores whatever a raw UPDATE writes (a blob, a huge integer); such an entry was
    edited, and must be reported as such rather than crash verification.
    """
    try:
        return hashlib.sha256(rfc8785.dumps(entry.document(seq))).hexdigest()
    except (ValueError, TypeError):
        return None


def _check_signature(
    entry: _ChainEntry, trusted_keys: Mapping[str, Ed25519PublicKey] | None
) -> LedgerProblem | None:
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
    keyid = _short(entry.key_id, 16)
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
        raw = base64.b64decode(str(entry.signature), validate=True)
        # One spelling only: the signature is not hashed, so another text of the same bytes
        # would change the entry unseen.
        if base64.b64encode(raw).decode("ascii") != entry.signature:
            return bad
        public_key.verify(raw, _signed_bytes(entry))
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return bad
    return None


def _check_link(
    entry: _ChainEntry, previous: _ChainEntry, seq_by_hash: Mapping[str, int]
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
        _check_hash(expect_head, "The expected head")
    entries = _read_chain(path)
    problems: list[LedgerProblem] = []
    expected_seq = 1
    previous: _ChainEntry | None = None
    signed = verified = 0
    limit = (entries[-1].seq if entries else 0) + 1
    seq_by_hash = {str(e.entry_hash): e.seq for e in entries}
    for entry in entries:
        audit = _short(entry.audit_id)
        problem: LedgerProblem | None = None
        if previous is not None and entry.seq == previous.seq:
            message = MSG_DUPLICATE.format(seq=entry.seq, audit=audit)
            problems.append(LedgerProblem(entry.seq, REASON_INSERTED, message))
            continue
        if entry.seq != expected_seq:
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
            problems.append(LedgerProblem(expected_seq, REASON_MISSING, message))
        computed = _stored_hash(entry, entry.seq)
        if computed is None or computed != entry.entry_hash:
            recorded = None if computed is None else _recorded_seq(entry, limit)
            if recorded is not None:
                problem = LedgerProblem(
                    entry.seq,
                    REASON_RENUMBERED,
                    MSG_RENUMBERED.format(seq=entry.seq, audit=audit, recorded=recorded),
                )
            else:
                problem = LedgerProblem(
                    entry.seq, REASON_EDITED, MSG_EDITED.format(seq=entry.seq, audit=audit)
                )
        elif previous is None and entry.seq == 1 and entry.previous_hash != GENESIS_HASH:
            problem = LedgerProblem(
                entry.seq,
                REASON_BROKEN_LINK,
                MSG_BROKEN_LINK_FIRST.format(audit=audit, cited=_short(entry.previous_hash, 16)),
            )
        elif previous is not None and entry.seq == previous.seq + 1:
            problem = _check_link(entry, previous, seq_by_hash)
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
    if expect_head is not None and expect_head not in {str(e.entry_hash) for e in entries}:
        if expect_head != GENESIS_HASH:
            message = (
                MSG_TRUNCATED.format(expected=expect_head, head=head, count=len(entries))
                if entries
                else MSG_EMPTY_TRUNCATED.format(expected=expect_head)
            )
            problems.append(LedgerProblem(None, REASON_TRUNCATED, message))
    return LedgerReport(
        path=Path(path),
        entries=len(entries),
        head=head,
        signed=signed,
        verified_signatures=verified,
        keys_checked=trusted_keys is not None,
        problems=problems,
    )
