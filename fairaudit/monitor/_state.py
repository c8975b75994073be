"""The monitor's state file: each window's per-group counts, hash-chained, in one SQLite file.

A monitor run adds one window (one data file) to the state and rebuilds its report from
every window stored, so a run never reads the rows of earlier windows again. The file
holds:

* ``meta``: the format, schema version and the *binding* (the baseline report's audit id
  and the audit options every window is counted with). A state file answers for one
  baseline and one set of options; a run with another is refused.
* ``windows``: one row per window and file that fed it (a *chunk*): the window's label,
  the SHA-256 of the file and the chunk's row count and per-group confusion counts, with
  ``previous_hash`` and ``entry_hash`` as in the ledger. Counts are additive: a window fed
  by several files (a weekly window from daily files) is the sum of its chunks. The first
  chunk's ``previous_hash`` is the hash of the binding, so editing the binding or a
  count, or deleting or reordering a chunk, breaks the chain, which every open verifies
  before anything is read or appended.

The binding stored in ``meta`` also carries the state's random id (chained into the first
hash) and ``meta`` keeps the alarms earlier runs raised (``alarms``; they stay). The chain
is not keyed, so deleting the last chunks (or rewriting the chain) is caught only against
a head recorded elsewhere: each run's signed JSON carries ``StateView.head()`` and
``check_head`` compares it, via the ledger's last monitor entry, with the state.

Writes are atomic: a window is inserted in one ``BEGIN IMMEDIATE`` transaction that stays
open while the caller writes the report (``append_window``'s ``then``); if that fails or
the process dies, SQLite rolls the insert back and the state is as before the run. A
file whose digest is already stored is not counted again (the run is idempotent).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import rfc8785

from fairaudit.errors import FairauditError
from fairaudit.runtime import reproducible_time

__all__ = [
    "MSG_BEHIND",
    "STATE_FILE_NAME",
    "StateError",
    "StateView",
    "StoredWindow",
    "append_chunks",
    "binding_hash",
    "check_head",
    "read_state",
]

#: The default state file, in the output folder (beside the ledger).
STATE_FILE_NAME = "fairaudit-monitor.sqlite"
STATE_FORMAT = "fairaudit-monitor-state/v1"
SCHEMA_VERSION = "1"
BUSY_SECONDS = 30.0

MSG_NOT_STATE = "{path} is not a fairaudit monitor state file ({detail}); choose another --state"
MSG_BROKEN = (
    "the monitor state {path} fails verification at window {seq}: {detail}; it was edited "
    "or damaged (restore it from a backup, or start a new state file)"
)
MSG_OTHER_BINDING = (
    "the monitor state {path} was started with {what}; monitor with the same "
    "baseline and options, or start a new --state file"
)
#: What differs, in MSG_OTHER_BINDING's words.
_BOUND = {
    "baseline_audit_id": "a different baseline audit",
    "baseline_page_sha256": "a different baseline page",
    "settings": "different rules (--metric, --ratio-min, --drift, --alpha, ...)",
    "columns": "different columns",
    "family": "a different set of watched groups",
}
MSG_BEHIND = (
    "the monitor state {path} is behind the ledger: the last run recorded there ({audit}) "
    "left {chunks} chunk(s) with head {head}, the state {found}; it was truncated, edited or "
    "replaced by an older copy (restore it from a backup, or start a new --state file)"
)
MSG_UNCHECKED = (
    "the monitor state {path} cannot be checked against the ledger: its last run of this "
    "monitor ({audit}) left {report}, which is {problem}; restore that file (the chain head "
    "it records shows whether the state was truncated), or start a new --state file"
)
MSG_OTHER_STATE = (
    "the monitor state {path} is not the state the ledger's last run of this monitor "
    "({audit}) used (state id {recorded}); it was rewritten or replaced (restore it from a "
    "backup, or start a new --state file: a new file is a new monitoring period)"
)
MSG_NEWER = "{path} is a monitor state of schema {found}; this fairaudit reads {supported}"

_CREATE = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE windows (
        seq INTEGER PRIMARY KEY,
        label TEXT NOT NULL,
        file_sha256 TEXT NOT NULL,
        rows INTEGER NOT NULL,
        counts TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        previous_hash TEXT NOT NULL,
        entry_hash TEXT NOT NULL
    )""",
)
_COLUMNS = "seq, label, file_sha256, rows, counts, recorded_at, previous_hash, entry_hash"

_T = TypeVar("_T")


class StateError(FairauditError):
    """The state file cannot be used: not a state file, broken chain, other baseline."""


@dataclass(frozen=True)
class StoredWindow:
    """One counted chunk: its place, window label, file and per-group counts (``counts``)."""

    seq: int
    label: str
    file_sha256: str
    rows: int
    counts: list[dict[str, Any]]
    recorded_at: str
    entry_hash: str = ""


@dataclass(frozen=True)
class StateView:
    """A verified state: its chunks, the alarms earlier runs kept, and its random id (set
    when the state was created, chained into the first hash; None for older states)."""

    windows: list[StoredWindow]
    alarms: list[dict[str, Any]]
    state_id: str | None

    def head(self) -> dict[str, Any]:
        """Return the chain head for the signed report: id, chunks and the last hash."""
        last = self.windows[-1].entry_hash if self.windows else ""
        return {"id": self.state_id or "", "chunks": len(self.windows), "head": last}


def binding_hash(binding: Mapping[str, Any]) -> str:
    """Return the SHA-256 of the binding's canonical JSON (the first window's previous hash)."""
    return hashlib.sha256(rfc8785.dumps({"format": STATE_FORMAT, **binding})).hexdigest()


def _entry_hash(window: StoredWindow, previous_hash: str) -> str:
    document: dict[str, Any] = {
        "format": STATE_FORMAT,
        "seq": window.seq,
        "previous_hash": previous_hash,
        "label": window.label,
        "file_sha256": window.file_sha256,
        "rows": window.rows,
        "counts": window.counts,
        "recorded_at": window.recorded_at,
    }
    return hashlib.sha256(rfc8785.dumps(document)).hexdigest()


def _check_format(connection: sqlite3.Connection, path: Path) -> bool:
    """Return False for an empty database (a new state); raise unless it is a state file."""
    try:
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    except sqlite3.DatabaseError as e:
        raise StateError(MSG_NOT_STATE.format(path=path, detail=e)) from None
    if not tables:
        return False
    if tables != {"meta", "windows"}:
        raise StateError(MSG_NOT_STATE.format(path=path, detail="it has other tables"))
    meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
    if meta.get("format") != STATE_FORMAT:
        raise StateError(MSG_NOT_STATE.format(path=path, detail="its format is not recorded"))
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise StateError(
            MSG_NEWER.format(path=path, found=meta.get("schema_version"), supported=SCHEMA_VERSION)
        )
    return True


def _verified(connection: sqlite3.Connection, path: Path, binding: Mapping[str, Any]) -> list:
    """Return the stored windows after checking the binding and every hash of the chain."""
    meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
    try:
        stored = json.loads(meta.get("binding", ""))
    except ValueError:
        stored = None
    previous = binding_hash(stored) if isinstance(stored, dict) else ""
    windows = []
    rows = connection.execute(f"SELECT {_COLUMNS} FROM windows ORDER BY seq").fetchall()
    for expected_seq, row in enumerate(rows, start=1):
        try:
            window = StoredWindow(
                row[0], row[1], row[2], row[3], json.loads(row[4]), row[5], str(row[7])
            )
        except (TypeError, ValueError):
            detail = "unreadable counts"
            raise StateError(MSG_BROKEN.format(path=path, seq=row[0], detail=detail)) from None
        if row[0] != expected_seq or row[6] != previous or _entry_hash(window, previous) != row[7]:
            raise StateError(MSG_BROKEN.format(path=path, seq=row[0], detail="hash mismatch"))
        previous = row[7]
        windows.append(window)
    if not isinstance(stored, dict):
        raise StateError(MSG_BROKEN.format(path=path, seq=0, detail="unreadable binding"))
    # "family" came with 1.2.0 pages; it follows from the baseline (bound by its audit id),
    # so a state started before it is read as before
    ignored = {"state_id"} | ({"family"} - set(stored))
    for what in sorted((set(stored) | set(binding)) - ignored):
        if stored.get(what) != binding.get(what):
            different = _BOUND.get(what, "a different " + what.replace("_", " "))
            raise StateError(MSG_OTHER_BINDING.format(path=path, what=different))
    return windows


@contextmanager
def _transaction(path: Path, *, write: bool) -> Iterator[sqlite3.Connection]:
    """Yield a connection inside one transaction (IMMEDIATE for writers); roll back on error."""
    if not write and not path.is_file():
        raise StateError(f"monitor state not found: {path}")
    try:
        connection = sqlite3.connect(str(path), timeout=BUSY_SECONDS, isolation_level=None)
    except sqlite3.Error as e:
        raise StateError(f"cannot open the monitor state {path}: {e}") from None
    try:
        connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        yield connection
        connection.execute("COMMIT")
    except sqlite3.DatabaseError as e:
        raise StateError(MSG_NOT_STATE.format(path=path, detail=e)) from None
    finally:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        connection.close()


def _kept_alarms(connection: sqlite3.Connection) -> list[dict[str, Any]]:
    """Return the alarms earlier runs raised (meta ``alarms``; an alarm, once raised, stays)."""
    row = connection.execute("SELECT value FROM meta WHERE key = 'alarms'").fetchone()
    try:
        kept = json.loads(row[0]) if row else []
    except ValueError:
        kept = []
    return [a for a in kept if isinstance(a, dict)] if isinstance(kept, list) else []


def _view(connection: sqlite3.Connection, path: Path, binding: Mapping[str, Any]) -> StateView:
    windows = _verified(connection, path, binding)
    row = connection.execute("SELECT value FROM meta WHERE key = 'binding'").fetchone()
    state_id = json.loads(row[0]).get("state_id")
    return StateView(windows, _kept_alarms(connection), None if state_id is None else str(state_id))


def read_state(path: str | os.PathLike[str], binding: Mapping[str, Any]) -> StateView:
    """Return the verified state of an existing state file (no write)."""
    state = Path(path)
    with _transaction(state, write=False) as connection:
        if not _check_format(connection, state):
            return StateView([], [], None)
        return _view(connection, state, binding)


def append_chunks(
    path: str | os.PathLike[str],
    binding: Mapping[str, Any],
    chunks: Sequence[Mapping[str, Any]],
    then: Callable[[StateView, bool], tuple[_T, list[Any]]],
) -> _T:
    """Add ``chunks`` (label, file_sha256, rows, counts; one file) unless it is counted.

    ``then(view, added)`` runs inside the transaction with the state (every stored chunk,
    the new ones last, if added; the alarms earlier runs kept) and returns its result and
    the alarms to keep; the inserts commit only if it returns. A file already counted (its
    SHA-256 stored, whatever the labels) changes nothing (``added`` False).
    """
    state = Path(path)
    if state.exists() and not state.is_file():
        raise StateError(MSG_NOT_STATE.format(path=state, detail="it is not a regular file"))
    with _transaction(state, write=True) as connection:
        if not _check_format(connection, state):
            for statement in _CREATE:
                connection.execute(statement)
            meta = {
                "format": STATE_FORMAT,
                "schema_version": SCHEMA_VERSION,
                "binding": json.dumps({**binding, "state_id": _new_id(binding)}, sort_keys=True),
            }
            connection.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
        view = _view(connection, state, binding)
        windows = view.windows
        if any(w.file_sha256 == chunks[0]["file_sha256"] for w in windows):
            return then(view, False)[0]
        added: list[StoredWindow] = []
        previous = windows[-1].entry_hash if windows else _root(connection)
        for chunk in chunks:
            new = StoredWindow(
                len(windows) + len(added) + 1,
                str(chunk["label"]),
                str(chunk["file_sha256"]),
                int(chunk["rows"]),
                list(chunk["counts"]),
                reproducible_time(),
            )
            new = replace(new, entry_hash=_entry_hash(new, previous))
            row = (new.seq, new.label, new.file_sha256, new.rows, json.dumps(new.counts))
            connection.execute(
                f"INSERT INTO windows ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, new.recorded_at, previous, new.entry_hash),
            )
            added.append(new)
            previous = new.entry_hash
        result, alarms = then(replace(view, windows=[*windows, *added]), True)
        connection.execute(
            "INSERT OR REPLACE INTO meta VALUES ('alarms', ?)", (json.dumps(alarms),)
        )
        return result


def _new_id(binding: Mapping[str, Any]) -> str:
    """Return a new state's id: random, or under SOURCE_DATE_EPOCH (reproducible outputs)
    derived from the binding and that time, so that two such runs write the same bytes."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        seed = binding_hash(binding) + reproducible_time()
        return hashlib.sha256(seed.encode("utf-8")).hexdigest()[:32]
    return secrets.token_hex(16)


def _root(connection: sqlite3.Connection) -> str:
    """Return the hash of the stored binding (the first chunk's previous hash)."""
    row = connection.execute("SELECT value FROM meta WHERE key = 'binding'").fetchone()
    return binding_hash(json.loads(row[0]))


def check_head(view: StateView, ledger: Path, report_json: Path, name: str, path: Path) -> None:
    """Raise StateError when the state is behind the ledger's last monitor run of ``name``.

    That run's JSON (``report_json``, the page's twin) carries the chain head it left; it
    is trusted only when its id is the one the ledger recorded and matches its content.
    The state must still hold that head at the same place (not truncated, not rewritten).
    A new (absent or empty) state file, a new monitoring period, or a ledger with no
    monitor run of ``name`` is not judged. A missing, unreadable or other JSON than the
    ledger's last, or an existing state with another id than that run's (rewritten and
    rehashed, or swapped), is a StateError: deleting the JSON must not turn the check off.
    """
    from fairaudit.provenance import previous_audit

    latest = previous_audit(ledger, name, "monitor") if ledger.is_file() else None
    if latest is None or not (path.is_file() and path.stat().st_size):
        return  # no run to check against, or a new state file: a new monitoring period

    def unchecked(problem: str) -> StateError:
        # deleting the JSON (or replacing it) must not turn the check off (review R3)
        return StateError(
            MSG_UNCHECKED.format(path=path, audit=latest[:12], report=report_json, problem=problem)
        )

    try:
        document = json.loads(report_json.read_bytes())
        blank = {**document, "audit": {**document["audit"], "id": ""}}
        trusted = (
            document["audit"]["id"] == latest == hashlib.sha256(rfc8785.dumps(blank)).hexdigest()
        )
        head = document.get("state")
        if head is None and view.state_id is None and trusted:
            return  # a state and a run from before state ids (schema < 1.2.0)
        chunks, last = int(head["chunks"]), str(head["head"])
    except OSError:
        raise unchecked("missing or unreadable") from None
    except (ValueError, TypeError, KeyError, AttributeError):
        raise unchecked("not that run's monitor JSON") from None
    if not trusted:
        raise unchecked("not the JSON the ledger recorded")
    recorded = str(head.get("id") or "")
    if recorded != (view.state_id or ""):
        # an existing state with another id (or none) was rewritten or swapped (review R3:
        # dropping state_id from the binding and rehashing the unkeyed chain evaded the check)
        raise StateError(
            MSG_OTHER_STATE.format(path=path, audit=latest[:12], recorded=recorded[:12] or "-")
        )
    hashes = [w.entry_hash for w in view.windows]
    if chunks > len(hashes) or (chunks and hashes[chunks - 1] != last):
        found = f"has {len(hashes)}" if chunks > len(hashes) else "has another hash there"
        raise StateError(
            MSG_BEHIND.format(
                path=path, audit=latest[:12], chunks=chunks, head=last[:12] or "-", found=found
            )
        )
