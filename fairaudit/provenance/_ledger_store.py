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

Each audit entry has a kind: ``"model"`` (``fairaudit run``), ``"data"`` (``fairaudit
data``) or ``"monitor"`` (``fairaudit monitor``). A model entry's hashed document is the one
format 1 always had, so entries written before kinds existed (which read as model audits)
keep their hashes; any other kind adds ``"kind"`` to the document, so changing an entry's
kind breaks its hash. The ``kind`` column, and schema version 3, come with the first entry
of another kind than ``"model"``: a ledger of model audits only stays readable by an older
fairaudit, and one holding data audits is refused by it (instead of its data entries being
reported as edited).

Reviews recorded by ``fairaudit review`` are entries of the same chain, kept in their own
table (``_reviews``): one ``seq`` numbering, each entry citing the hash of
the one before whatever its kind, so verification and a kept head cover them too.

Writers are safe to run in parallel (a batch, several CI jobs sharing one file): the database
is in WAL mode, every append reads the head and inserts the next entry in one ``BEGIN
IMMEDIATE`` transaction, and a busy database is retried with backoff. SQLite's atomic commit
means a process killed mid-append leaves either the whole entry or none of it. WAL needs a
local file system: do not share a ledger over NFS or SMB.

This module is the chain's storage: the schema, hashing and signing an entry, opening the
file, and the one write transaction every append goes through.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import rfc8785

from fairaudit.errors import FairauditError
from fairaudit.provenance._dsse import SHA256_HEX, pae
from fairaudit.runtime import BadSourceDateEpoch, reproducible_time

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "add_kind_column",
    "ENTRY_FIELDS",
    "ENTRY_FORMAT",
    "ENTRY_KINDS",
    "ENTRY_PAYLOAD_TYPE",
    "GENESIS_HASH",
    "LEDGER_FILE_NAME",
    "MSG_BAD_HASH",
    "MSG_BAD_KIND",
    "MSG_NO_LEDGER",
    "MSG_NOT_A_LEDGER",
    "ENTRY_COLUMNS",
    "ChainEntry",
    "LedgerEntry",
    "LedgerError",
    "chain_head",
    "check_appendable",
    "check_kind",
    "check_sha256",
    "document_hash",
    "entry_document",
    "entry_hash",
    "has_kind_column",
    "has_reviews_table",
    "insert_row",
    "kind_expression",
    "reading",
    "recorded_at",
    "select_entries",
    "sign_entry",
    "signed_bytes",
    "write_transaction",
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
#: The kinds of audit entry (``fairaudit run``, ``data``, ``monitor``); none recorded: model.
#: A monitor entry brings the kind column (version 3) as a data entry does; its kind is in
#: its hashed document, so a fairaudit knowing only model and data still verifies it.
ENTRY_KINDS = ("model", "data", "monitor")

#: Total time an append keeps retrying a busy (locked) ledger before giving up.
WRITE_DEADLINE_SECONDS = 60.0
#: SQLite's own wait for a lock, per attempt.
BUSY_TIMEOUT_SECONDS = 10.0

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
MSG_BAD_KIND = "An audit entry's kind must be one of {kinds}, got {value!r}."
MSG_NEWER_FORMAT = (
    "{path} is a ledger of format {found}; this fairaudit reads format {supported}; "
    "upgrade fairaudit."
)

#: Format 1 holds audit entries; format 2 adds the reviews table (``_reviews``), whose
#: entries share the chain. A ledger is upgraded to 2 when its first review is recorded, so
#: an older fairaudit refuses it instead of reporting the review entries as deleted. Format 3
#: adds the entries' ``kind`` column (with or without reviews), when the first entry of
#: another kind than ``"model"`` is recorded.
_SCHEMA_VERSION = 3
_REVIEWS_SCHEMA_VERSION = 2
_KIND_SCHEMA_VERSION = 3
_ADD_KIND = (
    "ALTER TABLE entries ADD COLUMN kind TEXT",
    f"UPDATE ledger_meta SET value = '{_KIND_SCHEMA_VERSION}' WHERE key = 'schema_version'",
)
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
ENTRY_COLUMNS = ("seq", *ENTRY_FIELDS, "previous_hash", "entry_hash", "signature")


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
    #: ``"model"`` or ``"data"`` (``ENTRY_KINDS``); read as stored, so verification sees an edit.
    kind: str = "model"

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as a JSON-ready dict (the signature base64)."""
        return asdict(self)

    def document(self, seq: int | None = None) -> dict[str, Any]:
        """Return the document the entry's hash and signature cover (as entry ``seq``)."""
        return entry_document(self.seq if seq is None else seq, self.previous_hash, asdict(self))


class ChainEntry(Protocol):
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


# ---------------------------------------------------------------------------------------------
# Hashing and signing


def entry_document(seq: int, previous_hash: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Return the document an entry's hash and signature cover.

    A model audit's document has no ``kind`` (as before kinds existed, so old entries keep
    their hashes); an entry of any other kind, or an unknown stored value, has one.
    """
    document: dict[str, Any] = {"format": ENTRY_FORMAT, "seq": seq, "previous_hash": previous_hash}
    for name in ENTRY_FIELDS:
        document[name] = fields.get(name)
    kind = fields.get("kind")
    if kind is not None and kind != "model":
        document["kind"] = kind
    return document


def entry_hash(seq: int, previous_hash: str, fields: Mapping[str, Any]) -> str:
    """Return the hex SHA-256 of the canonical JSON of an entry's document."""
    return hashlib.sha256(rfc8785.dumps(entry_document(seq, previous_hash, fields))).hexdigest()


def document_hash(entry: ChainEntry, seq: int | None = None) -> str:
    """Return the hex SHA-256 of the canonical JSON of the entry's document (as entry ``seq``)."""
    return hashlib.sha256(rfc8785.dumps(entry.document(seq))).hexdigest()


def signed_bytes(entry: ChainEntry) -> bytes:
    """Return the bytes an entry's signature covers: the DSSE encoding of its document."""
    return pae(ENTRY_PAYLOAD_TYPE, rfc8785.dumps(entry.document()))


def sign_entry(entry: ChainEntry, signing_key: Ed25519PrivateKey | None) -> str | None:
    """Return the base64 signature of the entry's document, or None without a key."""
    if signing_key is None:
        return None
    return base64.b64encode(signing_key.sign(signed_bytes(entry))).decode("ascii")


def recorded_at() -> str:
    """Return the time an entry is recorded, UTC ISO-8601 to the second."""
    # SOURCE_DATE_EPOCH fixes it like every other timestamp, for reproducible test ledgers.
    try:
        return reproducible_time()
    except BadSourceDateEpoch as e:
        raise LedgerError(str(e)) from None


def check_kind(value: object) -> str:
    """Return ``value`` if it is one of ``ENTRY_KINDS``; LedgerError if not."""
    if value not in ENTRY_KINDS:
        raise LedgerError(MSG_BAD_KIND.format(kinds=", ".join(ENTRY_KINDS), value=value))
    return str(value)


def check_sha256(value: object, what: str) -> str:
    """Return ``value`` if it is a lowercase hex SHA-256; LedgerError naming ``what`` if not."""
    if not isinstance(value, str) or not SHA256_HEX.fullmatch(value):
        raise LedgerError(MSG_BAD_HASH.format(what=what, value=value))
    return value


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
    if found == str(_KIND_SCHEMA_VERSION) and not has_kind_column(connection):
        raise LedgerError(MSG_NOT_A_LEDGER.format(path=path, detail="its kind column is missing"))
    if found not in ("1", str(_REVIEWS_SCHEMA_VERSION), str(_KIND_SCHEMA_VERSION)):
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
def reading(path: str | os.PathLike[str]) -> Iterator[sqlite3.Connection]:
    """Yield a connection to the existing ledger inside one read transaction."""
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


def has_reviews_table(connection: sqlite3.Connection) -> bool:
    """Return True if the ledger has its reviews table (schema version 2, a review recorded)."""
    row = connection.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'reviews'"
    ).fetchone()
    return bool(row[0])


def has_kind_column(connection: sqlite3.Connection) -> bool:
    """Return True if the entries have their kind column (schema version 3)."""
    columns = connection.execute("SELECT name FROM pragma_table_info('entries')")
    return any(row[0] == "kind" for row in columns)


def add_kind_column(connection: sqlite3.Connection) -> None:
    """Give the entries their kind column and the ledger schema version 3, if not yet."""
    if not has_kind_column(connection):
        for statement in _ADD_KIND:
            connection.execute(statement)


def chain_head(connection: sqlite3.Connection) -> tuple[int, str]:
    """Return the next entry's seq and previous hash: after the last audit or review."""
    reviews = ""
    if has_reviews_table(connection):
        reviews = " UNION ALL SELECT seq, entry_hash FROM reviews"
    row = connection.execute(
        f"SELECT seq, entry_hash FROM entries{reviews} ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return (int(row[0]) + 1, str(row[1])) if row else (1, GENESIS_HASH)


def kind_expression(connection: sqlite3.Connection) -> str:
    """Return the SQL of an entry's kind: the column's value, ``'model'`` where there is none."""
    return "COALESCE(kind, 'model')" if has_kind_column(connection) else "'model'"


def select_entries(connection: sqlite3.Connection, where: str = "", order: str = "seq") -> str:
    """Return the SELECT of the audit entries' columns (``LedgerEntry(*row)``) with ``where``.

    ``where`` names the entry's kind ``{kind}`` (a model audit where none is recorded).
    """
    kind = kind_expression(connection)
    columns = ", ".join((*ENTRY_COLUMNS, kind))
    return f"SELECT {columns} FROM entries {where.format(kind=kind)} ORDER BY {order}"


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
