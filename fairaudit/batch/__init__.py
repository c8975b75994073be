"""Batch audits: a manifest of audits run in parallel, and their index."""

from __future__ import annotations

from fairaudit.batch._data import (
    DATA_KIND,
    MODEL_KIND,
    MSG_BAD_EDGES,
    MSG_BAD_POPULATION,
    MSG_NAMED_TWICE,
    MSG_NO_POPULATION_FILE,
    MSG_NOT_SENSITIVE,
    MSG_TWO_ROLES,
    DataAuditSpec,
    data_audit,
    data_spec_from_table,
    load_data_policy,
    read_population,
)
from fairaudit.batch._index import IndexContext, build_index_context, render_index, write_index
from fairaudit.batch._manifest import (
    BATCH_KEYS,
    BatchAudit,
    Manifest,
    check_manifest_files,
    load_manifest,
)
from fairaudit.batch._run import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_POLICY_FAILED,
    INDEX_FORMAT,
    AuditOutcome,
    BatchResult,
    OutcomeStatus,
    SignatureStatus,
    outcome_line,
    run_batch,
)

__all__ = [
    "AuditOutcome",
    "BATCH_KEYS",
    "BatchAudit",
    "BatchResult",
    "DATA_KIND",
    "DataAuditSpec",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_POLICY_FAILED",
    "INDEX_FORMAT",
    "IndexContext",
    "MODEL_KIND",
    "MSG_BAD_EDGES",
    "MSG_NAMED_TWICE",
    "MSG_NOT_SENSITIVE",
    "MSG_TWO_ROLES",
    "Manifest",
    "OutcomeStatus",
    "SignatureStatus",
    "build_index_context",
    "check_manifest_files",
    "data_audit",
    "data_spec_from_table",
    "load_data_policy",
    "load_manifest",
    "outcome_line",
    "read_population",
    "MSG_BAD_POPULATION",
    "MSG_NO_POPULATION_FILE",
    "render_index",
    "run_batch",
    "write_index",
]
