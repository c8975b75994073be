"""Batch audits: a manifest of audits run in parallel, and their index."""

from __future__ import annotations

from fairaudit.batch._batch import (
    BATCH_KEYS,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_POLICY_FAILED,
    INDEX_FORMAT,
    AuditOutcome,
    BatchAudit,
    BatchResult,
    IndexContext,
    Manifest,
    OutcomeStatus,
    SignatureStatus,
    build_index_context,
    check_manifest_files,
    load_manifest,
    outcome_line,
    render_index,
    run_batch,
    write_index,
)

__all__ = [
    "AuditOutcome",
    "BATCH_KEYS",
    "BatchAudit",
    "BatchResult",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_POLICY_FAILED",
    "INDEX_FORMAT",
    "IndexContext",
    "Manifest",
    "OutcomeStatus",
    "SignatureStatus",
    "build_index_context",
    "check_manifest_files",
    "load_manifest",
    "outcome_line",
    "render_index",
    "run_batch",
    "write_index",
]
