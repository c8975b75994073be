"""Run a batch: every audit of a manifest in parallel, each publishing its own report.

Each audit runs in a worker process (``jobs`` of them; one runs them in this process) and
returns plain JSON data, so nothing unpicklable crosses a process boundary. A worker ends as
soon as the batch has no more audits for it: nothing an audit starts (its mitigation
comparison's own worker processes) outlives the audit, and with several audits at once
each audit's mitigation comparison runs in its audit's process (``jobs = 1`` unless the
manifest sets ``jobs``), so that the audits, not nested pools, share the cores. Each worker
publishes its report like ``fairaudit run`` (``publish.publish_report``): with a ledger,
the report's ``supersedes`` is filled and the audit appended in one write transaction, so
workers sharing the ledger are serialised and append in the order they finish. The outcomes
are listed in manifest order, whatever order they finish in, so the index is the same for
any number of jobs. The library never prints: progress goes to a callback.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fairaudit.batch._data import MODEL_KIND, DataAuditSpec, audit_kind, run_data_job
from fairaudit.batch._manifest import Manifest
from fairaudit.errors import FairauditError, OutputError
from fairaudit.runtime import imports_frozen, in_worker_process, worker_pool
from fairaudit.spec import AuditSpec

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_POLICY_FAILED",
    "INDEX_FORMAT",
    "AuditOutcome",
    "BatchResult",
    "OutcomeStatus",
    "Progress",
    "SignatureStatus",
    "outcome_line",
    "run_batch",
]

#: Exit codes of a batch, by severity (not by number): error > policy failed > passed.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_POLICY_FAILED = 3
#: The batch's own outputs in its output folder.
#: Identifies the layout of ``index.json``.
INDEX_FORMAT = "fairaudit-batch-index/1"

OutcomeStatus = Literal["passed", "policy_failed", "error"]
SignatureStatus = Literal["verified", "unsigned", "failed"]
_SEVERITY: dict[str, int] = {"passed": 0, "policy_failed": 1, "error": 2}
_EXIT: dict[str, int] = {"passed": EXIT_OK, "policy_failed": EXIT_POLICY_FAILED, "error": 1}


@dataclass
class AuditOutcome:
    """What became of one audit of the batch (plain data; its JSON is an index entry).

    ``status`` is ``passed`` (no policy, or the policy passed), ``policy_failed`` (the
    report was written; the verdict failed under the audit's ``fail_on``) or ``error``
    (``error`` holds the one-line message; no report unless the failure came later).
    ``task`` is a model audit's task (``binary``, ``regression`` or ``multiclass``: the
    result's, or the spec's when it errs before a result and the task was given), None for a
    data audit; ``worst_classes`` a multiclass result's ``summary.worst_classes`` (else
    empty); ``favorable_outcome`` a regression result's derived outcome with
    ``--favorable-above``/``--favorable-below`` (``{"outcome", "headline"}``: what its
    favourable-outcome rules judge; None without a threshold, and then not in the index
    entry). ``seconds`` is the wall time of the audit; it is left out of the index files so that
    they are reproducible.
    """

    index: int
    name: str
    model_version: str | None
    status: OutcomeStatus
    kind: str = MODEL_KIND
    task: str | None = None
    verdict: str | None = None
    audit_id: str | None = None
    report: str | None = None
    report_json: str | None = None
    headline: list[dict[str, Any]] = field(default_factory=list)
    worst_classes: list[dict[str, Any]] = field(default_factory=list)
    favorable_outcome: dict[str, Any] | None = None
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
            "kind": self.kind,
            "task": self.task,
            "model_version": self.model_version,
            "status": self.status,
            "verdict": self.verdict,
            "audit_id": self.audit_id,
            "report": self.report,
            "report_json": self.report_json,
            "headline": self.headline,
            "worst_classes": self.worst_classes,
            "signature": self.signature,
            "signature_detail": self.signature_detail,
            "ledger": self.ledger,
            "error": self.error,
            **({"favorable_outcome": self.favorable_outcome} if self.favorable_outcome else {}),
        }


@dataclass(frozen=True)
class _Job:
    """What a worker needs: picklable (the key travels as its 32 raw bytes)."""

    index: int
    name: str
    spec: AuditSpec | DataAuditSpec
    output_dir: Path
    key_bytes: bytes | None
    ledger: Path | None = None


def _run_job(job: _Job) -> dict[str, Any]:
    """Run one audit and write its report; return a plain dict (never raises)."""
    started = time.perf_counter()
    outcome: dict[str, Any] = {
        "index": job.index,
        "name": job.name,
        "kind": audit_kind(job.spec),
        "model_version": job.spec.model_version,
    }
    if isinstance(job.spec, AuditSpec) and job.spec.task != "auto":
        outcome["task"] = job.spec.task  # known before the audit runs (kept if it errs)
    try:
        from fairaudit.provenance import LedgerError

        key = None
        if job.key_bytes is not None:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

            key = Ed25519PrivateKey.from_private_bytes(job.key_bytes)
        try:
            if isinstance(job.spec, DataAuditSpec):
                fields = run_data_job(job.spec, job.index, job.output_dir, key, job.ledger)
            else:
                fields = _run_model_job(job, key)
        except LedgerError as exc:
            outcome.update(ledger=f"error: {exc}")
            raise FairauditError(f"the ledger entry was not written: {exc}") from exc
        outcome.update(fields)
    except FairauditError as exc:
        outcome.update(status="error", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - one crashing audit must not stop the batch
        outcome.update(status="error", error=f"internal error: {type(exc).__name__}: {exc}")
    outcome["seconds"] = time.perf_counter() - started
    return outcome


def _run_model_job(job: _Job, key: Ed25519PrivateKey | None) -> dict[str, Any]:
    """Run one model audit and publish its report; return the outcome's fields."""
    assert isinstance(job.spec, AuditSpec)
    # In a worker process (fairaudit's own), the first audit's imports are frozen.
    with imports_frozen(in_worker_process()):
        from fairaudit._skops_trust import import_skops
        from fairaudit.pipe import run_audit
        from fairaudit.policy import exit_code_for
        from fairaudit.publish import publish_report

        import_skops(job.spec.model)
    result = run_audit(job.spec)
    published = publish_report(
        result,
        str(job.output_dir) + os.sep,
        sign_key=key,
        ledger=job.ledger,
        use_ledger=job.ledger is not None,
    )
    code = exit_code_for(result.verdict, job.spec.fail_on)
    data = result.to_dict()
    return {
        "status": "policy_failed" if code else "passed",
        "name": result.audit["name"],
        "verdict": result.verdict,
        "audit_id": result.audit["id"],
        "report": published.html.name,
        "report_json": published.json.name,
        "task": data["audit"].get("task") or "binary",  # a binary result names no task
        "headline": data["headline"],
        "worst_classes": (data.get("summary") or {}).get("worst_classes") or [],
        "favorable_outcome": _derived_outcome(data),
        "ledger": "appended" if published.ledger is not None else None,
    }


def _derived_outcome(data: dict[str, Any]) -> dict[str, Any] | None:
    """Return a regression result's derived outcome for the index (its text and headline),
    None without a threshold."""
    section = (data.get("summary") or {}).get("favorable_outcome")
    if not section:
        return None
    return {"outcome": section["outcome"], "headline": section["headline"]}


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


def _run_in_workers(
    pending: list[_Job], workers: int, settle: Callable[[dict[str, Any]], None]
) -> None:
    """Run the jobs in ``workers`` processes; settle each outcome as it finishes."""
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
                        "kind": audit_kind(job.spec),
                        "model_version": job.spec.model_version,
                        "status": "error",
                        "error": f"the worker process failed: {type(exc).__name__}: {exc}",
                    }
                settle(raw)


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
    from fairaudit.pipe import audit_timestamp

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
    if workers > 1:
        # The audits are the parallelism: an audit's mitigation comparison then runs in its
        # own worker process, unless the manifest sets its jobs (results do not depend on it).
        pending = [
            replace(j, spec=replace(j.spec, jobs=j.spec.jobs or 1))
            if isinstance(j.spec, AuditSpec)
            else j
            for j in pending
        ]
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
        _run_in_workers(pending, workers, settle)
    outcomes = [finished[job.index] for job in pending]
    return BatchResult(manifest, outcomes, created_at)


def outcome_line(outcome: AuditOutcome, finished: int, total: int) -> str:
    """Return the one-line progress message for a finished audit."""
    version = f" {outcome.model_version}" if outcome.model_version else ""
    what = {
        "passed": f"verdict {outcome.verdict}" if outcome.verdict else "done (no policy)",
        "policy_failed": f"policy failed (verdict {outcome.verdict})",
        "error": "error",
    }[outcome.status]
    return f"[{finished}/{total}] {outcome.name}{version}: {what} ({outcome.seconds:.1f} s)"
