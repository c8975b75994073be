"""Batch audits: many AuditSpecs from one manifest, run in parallel, plus an index page.

A manifest is a TOML file::

    # shared defaults: any audit option, plus the batch keys below
    policy = ["preset:four-fifths"]
    output_dir = "reports"          # relative to the manifest (default "reports")
    sign_key = "keys/auditor.key"   # optional: sign every report
    ledger = "audits.sqlite"        # optional: record every audit in this ledger

    [[audit]]
    config = "credit/audit.toml"    # an audit config file, relative to the manifest ...
    model_version = "1.1.0"         # ... with keys of its own on top

    [[audit]]
    name = "churn"                  # or every option inline
    data = "churn/eval.csv"
    target = "churned"
    sensitive = ["region"]
    prediction_col = "pred"

Precedence, lowest first: the shared defaults, the ``config`` file, the audit's own keys.
Problems the manifest alone shows (unknown keys, wrong types, inconsistent options) stop
the batch before anything runs; problems found while auditing (a missing data file, a
bad column) make that audit an error and the others go on.

Each audit runs in a worker process (``jobs`` of them; one runs them in this process) and
returns plain JSON data, so nothing unpicklable crosses a process boundary. Each worker
publishes its report like ``fairaudit run`` (``publish.publish_report``): with a ledger,
the report's ``supersedes`` is filled and the audit appended in one write transaction, so
workers sharing the ledger are serialised and append in the order they finish. The outcomes
are listed in manifest order, whatever order they finish in, so the index is the same for
any number of jobs. The library never prints: progress goes to a callback.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from fairaudit.errors import ConfigError, FairauditError, OutputError
from fairaudit.paths import atomic_write_many, read_toml_file
from fairaudit.runtime import worker_pool
from fairaudit.spec import AuditSpec, _normalise

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "BATCH_KEYS",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_POLICY_FAILED",
    "INDEX_FORMAT",
    "AuditOutcome",
    "BatchAudit",
    "BatchResult",
    "IndexContext",
    "Manifest",
    "OutcomeStatus",
    "SignatureStatus",
    "load_manifest",
    "render_index",
    "run_batch",
    "write_index",
]

#: Exit codes of a batch, by severity (not by number): error > policy failed > passed.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_POLICY_FAILED = 3
#: The batch's own outputs in its output folder.
INDEX_FILES = ("index.html", "index.json")
#: Identifies the layout of ``index.json``.
INDEX_FORMAT = "fairaudit-batch-index/1"
#: Keys of the manifest's top level beyond the audit options.
BATCH_KEYS = ("output_dir", "sign_key", "ledger", "audit")
#: The key of an ``[[audit]]`` table that names an audit config file.
CONFIG_KEY = "config"
DEFAULT_OUTPUT_DIR = "reports"

OutcomeStatus = Literal["passed", "policy_failed", "error"]
SignatureStatus = Literal["verified", "unsigned", "failed"]
_SEVERITY: dict[str, int] = {"passed": 0, "policy_failed": 1, "error": 2}
_EXIT: dict[str, int] = {"passed": EXIT_OK, "policy_failed": EXIT_POLICY_FAILED, "error": 1}

MSG_MANIFEST_NOT_FOUND = "manifest '{path}' not found"
MSG_MANIFEST_UNREADABLE = "cannot read manifest '{path}': {detail}"
MSG_MANIFEST_TOML = "manifest '{path}' is not valid TOML: {detail}"
MSG_UNKNOWN_TOP_KEY = "manifest '{path}': unknown key {key!r}; known keys: {known}"
MSG_NO_AUDITS = "manifest '{path}' has no audits: add [[audit]] tables"
MSG_AUDITS_NOT_TABLES = "manifest '{path}': 'audit' must be a list of [[audit]] tables"
MSG_UNKNOWN_AUDIT_KEY = (
    "manifest '{path}': audit {index} ({name}): unknown key {key!r}; known keys: {known}"
)
MSG_BAD_PATH = "manifest '{path}': {key} must be a file path"
MSG_AUDIT_INVALID = "manifest '{path}': audit {index} ({name}): {detail}"
MSG_CONFIG = "manifest '{path}': audit {index} ({name}): {detail}"


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class BatchAudit:
    """One audit of a manifest: its 1-based position, display name and options."""

    index: int
    name: str
    spec: AuditSpec


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest: the audits to run and where their outputs go."""

    path: Path
    sha256: str
    audits: tuple[BatchAudit, ...]
    output_dir: Path
    sign_key: Path | None = None
    ledger: Path | None = None


def _display_name(spec: AuditSpec) -> str:
    """Return the name the audit will report (as run_audit chooses it)."""
    return spec.name or (spec.model.stem if spec.model else spec.data.stem)


def _option_keys() -> list[str]:
    from dataclasses import fields

    return sorted(f.name for f in fields(AuditSpec))


def _path_value(value: Any, key: str, manifest: Path) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(MSG_BAD_PATH.format(path=manifest, key=key))
    path = Path(value)
    return path if path.is_absolute() else manifest.parent / path


def _audit_label(table: Mapping[str, Any], index: int) -> str:
    name = table.get("name")
    if isinstance(name, str) and name:
        return repr(name)
    config = table.get(CONFIG_KEY)
    if isinstance(config, str) and config:
        return repr(Path(config).stem)
    return "unnamed"


def _audit_options(
    table: Mapping[str, Any],
    index: int,
    manifest: Path,
    defaults: Mapping[str, Any],
) -> AuditSpec:
    label = _audit_label(table, index)
    known = _option_keys()
    for key in table:
        if key != CONFIG_KEY and key not in known:
            raise ConfigError(
                MSG_UNKNOWN_AUDIT_KEY.format(
                    path=manifest,
                    index=index,
                    name=label,
                    key=key,
                    known=", ".join([CONFIG_KEY, *known]),
                )
            )
    source = f"manifest '{manifest}': audit {index} ({label})"
    options = dict(defaults)
    own = {k: v for k, v in table.items() if k != CONFIG_KEY}
    if CONFIG_KEY in table:
        config = _path_value(table[CONFIG_KEY], f"audit {index} ({label}): config", manifest)
        try:
            raw, _ = read_toml_file(config, "config file")
            options.update(_normalise(raw, f"config file '{config}'", config.parent))
        except ConfigError as exc:
            raise ConfigError(
                MSG_CONFIG.format(path=manifest, index=index, name=label, detail=exc)
            ) from None
    options.update(_normalise(own, source, manifest.parent))
    missing = [k for k in ("data", "target") if k not in options]
    if missing:
        raise ConfigError(
            MSG_AUDIT_INVALID.format(
                path=manifest,
                index=index,
                name=label,
                detail="missing " + " and ".join(missing),
            )
        )
    options.setdefault("sensitive", ())
    try:
        return AuditSpec(**options)
    except ConfigError as exc:
        raise ConfigError(
            MSG_AUDIT_INVALID.format(path=manifest, index=index, name=label, detail=exc)
        ) from None


def load_manifest(
    path: str | os.PathLike[str],
    *,
    output_dir: str | os.PathLike[str] | None = None,
    sign_key: str | os.PathLike[str] | None = None,
    ledger: str | os.PathLike[str] | None = None,
) -> Manifest:
    """Return the parsed, validated manifest; raise ConfigError naming the audit and key.

    ``output_dir``, ``sign_key`` and ``ledger`` (e.g. command-line flags) override the
    manifest's keys; paths given here are relative to the working directory, paths in the
    manifest to the manifest.
    """
    manifest = Path(path)
    raw, content = read_toml_file(manifest, "manifest")
    known = set(_option_keys())
    for key in raw:
        if key not in known and key not in BATCH_KEYS:
            raise ConfigError(
                MSG_UNKNOWN_TOP_KEY.format(
                    path=manifest, key=key, known=", ".join([*BATCH_KEYS, *sorted(known)])
                )
            )
    audits = raw.get("audit")
    if audits is None:
        raise ConfigError(MSG_NO_AUDITS.format(path=manifest))
    if not isinstance(audits, list) or not all(isinstance(a, dict) for a in audits):
        raise ConfigError(MSG_AUDITS_NOT_TABLES.format(path=manifest))
    if not audits:
        raise ConfigError(MSG_NO_AUDITS.format(path=manifest))
    shared = {k: v for k, v in raw.items() if k in known}
    defaults = _normalise(shared, f"manifest '{manifest}'", manifest.parent)
    parsed = []
    for index, table in enumerate(audits, start=1):
        spec = _audit_options(table, index, manifest, defaults)
        parsed.append(BatchAudit(index, _display_name(spec), spec))

    def chosen(flag: Any, key: str, default: str | None) -> Path | None:
        if flag is not None:
            return Path(flag)
        if key in raw:
            return _path_value(raw[key], key, manifest)
        return manifest.parent / default if default is not None else None

    out = chosen(output_dir, "output_dir", DEFAULT_OUTPUT_DIR)
    assert out is not None
    return Manifest(
        path=manifest,
        sha256=hashlib.sha256(content).hexdigest(),
        audits=tuple(parsed),
        output_dir=out,
        sign_key=chosen(sign_key, "sign_key", None),
        ledger=chosen(ledger, "ledger", None),
    )


def check_manifest_files(manifest: Manifest) -> None:
    """Raise before any audit runs if a batch output would overwrite an input or fail.

    The index files and the ledger may not be the manifest, the signing key or any file an
    audit reads; the ledger must be appendable. (A missing input of one audit is that
    audit's error, reported in the index, not the batch's.)
    """
    from fairaudit.paths import FileRole, check_file_roles, require_regular_file
    from fairaudit.publish import check_ledger_appendable

    inputs = [FileRole("manifest", manifest.path)]
    if manifest.sign_key is not None:
        inputs.append(
            FileRole("signing key", require_regular_file(manifest.sign_key, "signing key"))
        )
    for audit in manifest.audits:
        inputs += audit.spec.input_files()
    outputs = []
    if manifest.output_dir.is_dir():  # a folder about to be created holds no input
        outputs += [FileRole("index", manifest.output_dir / n, "-o") for n in INDEX_FILES]
    if manifest.ledger is not None:
        outputs.append(FileRole("ledger", manifest.ledger, "--ledger"))
    check_file_roles(outputs, inputs)
    if manifest.ledger is not None:
        check_ledger_appendable(manifest.ledger)


# --------------------------------------------------------------------------- running


@dataclass
class AuditOutcome:
    """What became of one audit of the batch (plain data; its JSON is an index entry).

    ``status`` is ``passed`` (no policy, or the policy passed), ``policy_failed`` (the
    report was written; the verdict failed under the audit's ``fail_on``) or ``error``
    (``error`` holds the one-line message; no report unless the failure came later).
    ``seconds`` is the wall time of the audit; it is left out of the index files so that
    they are reproducible.
    """

    index: int
    name: str
    model_version: str | None
    status: OutcomeStatus
    verdict: str | None = None
    audit_id: str | None = None
    report: str | None = None
    report_json: str | None = None
    headline: list[dict[str, Any]] = field(default_factory=list)
    signature: SignatureStatus = "unsigned"
    signature_detail: str | None = None
    ledger: str | None = None
    error: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the index entry (``seconds`` left out)."""
        return {
            "index": self.index,
            "name": self.name,
            "model_version": self.model_version,
            "status": self.status,
            "verdict": self.verdict,
            "audit_id": self.audit_id,
            "report": self.report,
            "report_json": self.report_json,
            "headline": self.headline,
            "signature": self.signature,
            "signature_detail": self.signature_detail,
            "ledger": self.ledger,
            "error": self.error,
        }


@dataclass(frozen=True)
class _Job:
    """What a worker needs: picklable (the key travels as its 32 raw bytes)."""

    index: int
    name: str
    spec: AuditSpec
    output_dir: Path
    key_bytes: bytes | None
    ledger: Path | None = None


def _run_job(job: _Job) -> dict[str, Any]:
    """Run one audit and write its report; return a plain dict (never raises)."""
    started = time.perf_counter()
    outcome: dict[str, Any] = {
        "index": job.index,
        "name": job.name,
        "model_version": job.spec.model_version,
    }
    try:
        from fairaudit.audit import run_audit
        from fairaudit.policy import exit_code_for
        from fairaudit.provenance import LedgerError
        from fairaudit.publish import publish_report

        key = None
        if job.key_bytes is not None:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

            key = Ed25519PrivateKey.from_private_bytes(job.key_bytes)
        result = run_audit(job.spec)
        try:
            published = publish_report(
                result,
                str(job.output_dir) + os.sep,
                sign_key=key,
                ledger=job.ledger,
                use_ledger=job.ledger is not None,
            )
        except LedgerError as exc:
            outcome.update(ledger=f"error: {exc}")
            raise FairauditError(f"the ledger entry was not written: {exc}") from exc
        html_path, json_path = published.html, published.json
        code = exit_code_for(result.verdict, job.spec.fail_on)
        outcome.update(
            status="policy_failed" if code else "passed",
            name=result.audit["name"],
            verdict=result.verdict,
            audit_id=result.audit["id"],
            report=html_path.name,
            report_json=json_path.name,
            headline=result.to_dict()["headline"],
            ledger="appended" if published.ledger is not None else None,
        )
    except FairauditError as exc:
        outcome.update(status="error", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - one crashing audit must not stop the batch
        outcome.update(status="error", error=f"internal error: {type(exc).__name__}: {exc}")
    outcome["seconds"] = time.perf_counter() - started
    return outcome


def _verify(outcome: AuditOutcome, output_dir: Path, key: Ed25519PrivateKey | None) -> None:
    """Set the outcome's signature status by verifying its report with the batch's key."""
    if outcome.report is None or key is None:
        return
    from fairaudit.provenance import key_id, verify_report_file

    public = key.public_key()
    try:
        verify_report_file(output_dir / outcome.report, {key_id(public): public})
    except FairauditError as exc:
        outcome.signature, outcome.signature_detail = "failed", str(exc)
        outcome.status = "error"
        outcome.error = f"the report's signature does not verify: {exc}"
    else:
        outcome.signature = "verified"


@dataclass
class BatchResult:
    """Every audit's outcome, in manifest order, and the batch's exit code."""

    manifest: Manifest
    outcomes: list[AuditOutcome]
    created_at: str

    @property
    def status(self) -> OutcomeStatus:
        """Return the worst outcome: error, else policy_failed, else passed."""
        worst: OutcomeStatus = "passed"
        for outcome in self.outcomes:
            if _SEVERITY[outcome.status] > _SEVERITY[worst]:
                worst = outcome.status
        return worst

    @property
    def exit_code(self) -> int:
        """Return 1 if any audit errored, else 3 if any policy failed, else 0 (by severity)."""
        return _EXIT[self.status]

    def counts(self) -> dict[str, int]:
        """Return how many audits passed, failed their policy and errored."""
        counts = dict.fromkeys(_SEVERITY, 0)
        for outcome in self.outcomes:
            counts[outcome.status] += 1
        return counts

    def to_index_dict(self) -> dict[str, Any]:
        """Return the content of ``index.json`` (no timings: the file is reproducible)."""
        from fairaudit._version import __version__

        return {
            "format": INDEX_FORMAT,
            "tool": {"name": "fairaudit", "version": __version__},
            "manifest": {"file_name": self.manifest.path.name, "sha256": self.manifest.sha256},
            "created_at": self.created_at,
            "status": self.status,
            "exit_code": self.exit_code,
            "counts": self.counts(),
            "audits": [o.to_dict() for o in self.outcomes],
        }


Progress = Callable[[AuditOutcome, int, int], None]


def _default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_batch(
    manifest: Manifest,
    *,
    jobs: int | None = None,
    sign_key: Ed25519PrivateKey | None = None,
    progress: Progress | None = None,
) -> BatchResult:
    """Run every audit of the manifest and write their reports; return the outcomes.

    ``jobs`` worker processes run the audits (default: the usable cores; 1 runs them in
    this process). ``sign_key`` signs every report (the caller loads ``manifest.sign_key``,
    so it can ask for a passphrase); each report is then verified with its public key.
    ``progress(outcome, finished, total)`` is called as each audit finishes. The index is
    not written: call :func:`write_index`.
    """
    from fairaudit.audit import audit_timestamp

    created_at = audit_timestamp()
    try:
        manifest.output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create output folder '{manifest.output_dir}': {exc.strerror or exc}"
        ) from None
    key_bytes = None
    if sign_key is not None:
        from cryptography.hazmat.primitives import serialization

        key_bytes = sign_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    pending = [
        _Job(a.index, a.name, a.spec, manifest.output_dir, key_bytes, manifest.ledger)
        for a in manifest.audits
    ]
    workers = max(1, min(jobs or _default_jobs(), len(pending)))
    finished: dict[int, AuditOutcome] = {}

    def settle(raw: dict[str, Any]) -> None:
        outcome = AuditOutcome(**raw)
        _verify(outcome, manifest.output_dir, sign_key)
        finished[outcome.index] = outcome
        if progress is not None:
            progress(outcome, len(finished), len(pending))

    if workers == 1:
        for job in pending:
            settle(_run_job(job))
    else:
        # Spawned workers, terminated when the batch is stopped (Ctrl-C, SIGTERM).
        with worker_pool(workers) as pool:
            futures: dict[Future[dict[str, Any]], _Job] = {
                pool.submit(_run_job, job): job for job in pending
            }
            remaining = set(futures)
            while remaining:
                done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: futures[f].index):
                    job = futures[future]
                    try:
                        raw = future.result()
                    except Exception as exc:  # noqa: BLE001 - a dead worker is one audit's error
                        raw = {
                            "index": job.index,
                            "name": job.name,
                            "model_version": job.spec.model_version,
                            "status": "error",
                            "error": f"the worker process failed: {type(exc).__name__}: {exc}",
                        }
                    settle(raw)
    outcomes = [finished[job.index] for job in pending]
    return BatchResult(manifest, outcomes, created_at)


# --------------------------------------------------------------------------- the index


@dataclass
class IndexRow:
    """One audit as the index page shows it; every string is escaped by Jinja2."""

    index: int
    name: str
    model_version: str | None
    status: OutcomeStatus
    verdict: str | None
    href: str | None
    report: str | None
    headline: list[dict[str, Any]]
    signature: SignatureStatus
    signature_detail: str | None
    error: str | None
    audit_id: str | None


@dataclass
class IndexContext:
    """Everything ``templates/index.html`` reads.

    ``href`` values are relative, percent-encoded file names of reports beside the index:
    the index's only links.
    """

    title: str
    tool_version: str
    created_at: str
    manifest_name: str
    manifest_sha256: str
    status: OutcomeStatus
    exit_code: int
    counts: dict[str, int]
    rows: list[IndexRow]
    signed: bool
    headline_metrics: tuple[str, ...]
    data_json: Any


#: Headline metrics the index shows per grouping (the same pair ``fairaudit run`` prints).
INDEX_HEADLINE = ("demographic_parity_ratio", "equalized_odds_difference")


def _relative_href(name: str) -> str:
    """Return a relative URL for a report file name beside the index (never a scheme)."""
    href = quote(name, safe="")
    return "./" + href


def build_index_context(batch: BatchResult) -> IndexContext:
    """Return the template context of the batch's index page."""
    from fairaudit.outputs import embedded_json

    index = batch.to_index_dict()
    rows = [
        IndexRow(
            index=o.index,
            name=o.name,
            model_version=o.model_version,
            status=o.status,
            verdict=o.verdict,
            href=_relative_href(o.report) if o.report else None,
            report=o.report,
            headline=[h for h in o.headline if h["metric"] in INDEX_HEADLINE],
            signature=o.signature,
            signature_detail=o.signature_detail,
            error=o.error,
            audit_id=o.audit_id,
        )
        for o in batch.outcomes
    ]
    return IndexContext(
        title=f"Fairness audits: {batch.manifest.path.name}",
        tool_version=index["tool"]["version"],
        created_at=batch.created_at,
        manifest_name=batch.manifest.path.name,
        manifest_sha256=batch.manifest.sha256,
        status=batch.status,
        exit_code=batch.exit_code,
        counts=batch.counts(),
        rows=rows,
        signed=any(o.signature != "unsigned" for o in batch.outcomes),
        headline_metrics=INDEX_HEADLINE,
        data_json=embedded_json(index),
    )


@cache
def _index_template() -> Any:
    from fairaudit.outputs._report import _environment

    return _environment().get_template("index.html")


def render_index(batch: BatchResult) -> str:
    """Return the batch's self-contained index page."""
    return str(_index_template().render(index=build_index_context(batch)))


def write_index(batch: BatchResult) -> tuple[Path, Path]:
    """Write ``index.html`` and ``index.json`` in the output folder atomically; return them."""
    folder = batch.manifest.output_dir
    html_path, json_path = (folder / name for name in INDEX_FILES)
    text = json.dumps(batch.to_index_dict(), indent=2, ensure_ascii=False, allow_nan=False)
    atomic_write_many(
        {
            json_path: (text + "\n").encode("utf-8"),
            html_path: render_index(batch).encode("utf-8"),
        }
    )
    return html_path, json_path


def outcome_line(outcome: AuditOutcome, finished: int, total: int) -> str:
    """Return the one-line progress message for a finished audit."""
    version = f" {outcome.model_version}" if outcome.model_version else ""
    what = {
        "passed": f"verdict {outcome.verdict}" if outcome.verdict else "done (no policy)",
        "policy_failed": f"policy failed (verdict {outcome.verdict})",
        "error": "error",
    }[outcome.status]
    return f"[{finished}/{total}] {outcome.name}{version}: {what} ({outcome.seconds:.1f} s)"
