"""Verify a signed report: every signature by a trusted key, every statement true of the report.

A report verifies when each envelope in its trailer (or its detached file) is signed by a
trusted key, each statement signs the report's body under its file name, repeats the results
embedded in the body, and cites every earlier envelope, and enough distinct keys signed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fairaudit.errors import SigningError, VerificationError
from fairaudit.paths import read_regular_bytes, refuse_special_file
from fairaudit.provenance._dsse import (
    PAYLOAD_TYPE,
    EnvelopeFormatError,
    canonical_json,
    decode_base64,
    envelope_digest,
    pae,
)
from fairaudit.provenance._keys import SHORT_KEY_ID
from fairaudit.provenance._ledger import file_sha256
from fairaudit.provenance._statement import (
    DATA_KIND,
    MONITOR_KIND,
    MSG_NO_RESULTS,
    RESERVED_FIELDS,
    RESULTS_FIELDS,
    Statement,
    build_predicate,
    decode_statement,
    extract_results,
    predicate_type,
    results_verdict,
    section,
)
from fairaudit.provenance._trailer import (
    MSG_MALFORMED,
    REASON_MALFORMED,
    detached_path_for,
    parse_detached,
    split_trailer,
)

__all__ = [
    "MSG_BAD_SIGNATURE",
    "MSG_COUNTERSIGN_MISMATCH",
    "MSG_DETACHED_MISMATCH",
    "MSG_DIGEST_MISMATCH",
    "MSG_NAME_MISMATCH",
    "MSG_NO_TRUSTED_KEYS",
    "MSG_OTHER_REPORT",
    "MSG_PREDICATE_MISMATCH",
    "MSG_TOO_FEW_SIGNERS",
    "MSG_UNKNOWN_KEY",
    "MSG_UNSIGNED",
    "MSG_DATA_MISMATCH",
    "MSG_NO_DATA_DIGEST",
    "REASON_BAD_SIGNATURE",
    "REASON_DATA_MISMATCH",
    "REASON_DETACHED_MISMATCH",
    "REASON_DIGEST_MISMATCH",
    "REASON_NO_TRUSTED_KEYS",
    "REASON_STATEMENT_MISMATCH",
    "REASON_TOO_FEW_SIGNERS",
    "REASON_UNKNOWN_KEY",
    "REASON_UNREADABLE",
    "REASON_UNSIGNED",
    "Signer",
    "VerificationSummary",
    "check_data_file",
    "verify_report",
    "verify_report_file",
]

# Reason codes carried by VerificationError.reason: stable, for scripts (the trailer's own
# are in ``_trailer``).
REASON_UNSIGNED = "unsigned"
REASON_DIGEST_MISMATCH = "digest-mismatch"
REASON_BAD_SIGNATURE = "bad-signature"
REASON_UNKNOWN_KEY = "unknown-key"
REASON_STATEMENT_MISMATCH = "statement-mismatch"
REASON_TOO_FEW_SIGNERS = "too-few-signers"
REASON_NO_TRUSTED_KEYS = "no-trusted-keys"
REASON_DETACHED_MISMATCH = "detached-mismatch"
REASON_UNREADABLE = "unreadable"
REASON_DATA_MISMATCH = "data-mismatch"

MSG_UNSIGNED = "The report is not signed: it has no fairaudit-signature trailer."
MSG_DIGEST_MISMATCH = (
    "The report body changed after signing: its SHA-256 is {actual}, the signature covers {signed}."
)
MSG_BAD_SIGNATURE = "Signature {index} by key {keyid} does not verify: the envelope was altered."
MSG_UNKNOWN_KEY = "Signature {index} is by key {keyid}, which is not among the trusted keys."
MSG_OTHER_REPORT = (
    "Signature {index} belongs to another report: it signs audit {signed}, this report is audit "
    "{actual}."
)
MSG_NAME_MISMATCH = (
    "Signature {index} signs a file named {signed!r}, not {actual!r}; "
    "keep the report's original file name."
)
MSG_PREDICATE_MISMATCH = (
    "Signature {index}'s statement disagrees with the report's embedded results on {field!r}."
)
MSG_COUNTERSIGN_MISMATCH = (
    "Signature {index} countersigns signatures that are not in the report (removed or reordered)."
)
MSG_TOO_FEW_SIGNERS = "The report has {count} trusted signer(s); {required} required."
MSG_NO_TRUSTED_KEYS = "No trusted public keys given; pass --key or --keys-dir."
MSG_DATA_MISMATCH = (
    "The data file {path} is not the data the report is about: its SHA-256 is {actual}, the "
    "signed statement names {signed}."
)
MSG_NO_DATA_DIGEST = "The signed report names no data digest to check {path} against."
MSG_DETACHED_MISMATCH = (
    "The detached signature file does not hold the same signatures as the report's trailer."
)


@dataclass(frozen=True)
class Signer:
    """One verified signature: who (key id), in what role, and when."""

    key_id: str
    role: str
    signed_at: str
    #: Predicate fields beyond fairaudit's own (``extra`` at signing, e.g. a review decision).
    extra: dict[str, Any] = field(default_factory=dict)
    #: ``envelope_digest`` of the signature's envelope (what a ledger review entry records).
    envelope_sha256: str = ""

    @property
    def short_key_id(self) -> str:
        """Return the first 16 hex digits of the key id, as messages show it."""
        return self.key_id[:SHORT_KEY_ID]

    def describe(self) -> str:
        """Return one line: role, key id and time, and a review's decision and comment.

        The comment is text someone wrote: show it with ``display.terminal_text``.
        """
        line = f"  {self.role}: key {self.short_key_id} at {self.signed_at}"
        review = self.extra.get("review")
        if isinstance(review, Mapping) and review.get("decision"):
            line += f": {review['decision']}"
            if review.get("comment"):
                line += f' ("{review["comment"]}")'
        return line


@dataclass(frozen=True)
class VerificationSummary:
    """What a successful verification established, for display and for scripts."""

    signers: tuple[Signer, ...]
    audit_id: str | None
    model_name: str | None
    model_version: str | None
    verdict: str | None
    body_sha256: str
    source: Literal["embedded", "detached"]
    #: ``"model"`` (``fairaudit run``) or ``"data"`` (``fairaudit data``), as signed.
    kind: str = "model"
    #: The SHA-256 and rows of the data the signed statement names (the audited file of a
    #: data audit, the evaluation data of a model audit), None if it names none.
    data_sha256: str | None = None
    data_rows: int | None = None

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Return the signers' key ids in signing order."""
        return tuple(signer.key_id for signer in self.signers)

    @property
    def roles(self) -> tuple[str, ...]:
        """Return the signers' roles in signing order."""
        return tuple(signer.role for signer in self.signers)

    def describe(self) -> str:
        """Return the one-line summary ``fairaudit verify`` prints first (then each
        signer's line, :meth:`Signer.describe`)."""
        signers = ", ".join(f"{s.short_key_id} ({s.role}, {s.signed_at})" for s in self.signers)
        if self.kind in (DATA_KIND, MONITOR_KIND):
            rows = "" if self.data_rows is None else f", {self.data_rows} rows"
            verdict = "" if self.verdict is None else f"; policy verdict {self.verdict}"
            what = "data audit" if self.kind == DATA_KIND else "monitor run"
            return (
                f"Verified: signed by {signers}; {what} {self.model_name or 'unnamed'} of "
                f"data sha256 {self.data_sha256 or 'unknown'}{rows}{verdict}; "
                f"audit {self.audit_id or 'unknown'}."
            )
        model = " ".join(str(part) for part in (self.model_name, self.model_version) if part)
        return (
            f"Verified: signed by {signers}; model {model or 'unnamed'}; "
            f"verdict {self.verdict or 'none'}; audit {self.audit_id or 'unknown'}."
        )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _verify_signatures(
    envelopes: Sequence[Mapping[str, Any]], trusted_keys: Mapping[str, Ed25519PublicKey]
) -> None:
    for index, envelope in enumerate(envelopes, start=1):
        signature = envelope["signatures"][0]
        keyid = signature["keyid"]
        public_key = trusted_keys.get(keyid)
        if public_key is None:
            raise VerificationError(
                MSG_UNKNOWN_KEY.format(index=index, keyid=keyid[:SHORT_KEY_ID]),
                reason=REASON_UNKNOWN_KEY,
            )
        payload = decode_base64(envelope["payload"], "payload")
        try:
            public_key.verify(decode_base64(signature["sig"], "sig"), pae(PAYLOAD_TYPE, payload))
        except InvalidSignature as e:
            raise VerificationError(
                MSG_BAD_SIGNATURE.format(index=index, keyid=keyid[:SHORT_KEY_ID]),
                reason=REASON_BAD_SIGNATURE,
            ) from e


def _compare_with_results(index: int, statement: Statement, results: Mapping[str, Any]) -> None:
    expected = build_predicate(results, role="", signed_at="")
    for name in RESULTS_FIELDS:  # a model audit's predicate has no kind: None on both sides
        try:
            signed = canonical_json(statement.predicate.get(name))
            same = canonical_json(expected.get(name)) == signed
        except rfc8785.CanonicalizationError:
            same = False
        if not same:
            raise VerificationError(
                MSG_PREDICATE_MISMATCH.format(index=index, field=name),
                reason=REASON_STATEMENT_MISMATCH,
            )
    if statement.predicate_type != predicate_type(results):
        raise VerificationError(
            MSG_PREDICATE_MISMATCH.format(index=index, field="predicateType"),
            reason=REASON_STATEMENT_MISMATCH,
        )


def _envelopes_to_verify(
    html: bytes, detached: bytes | None
) -> tuple[bytes, list[dict[str, Any]], Literal["embedded", "detached"]]:
    """Return the body, the envelopes to verify and where they came from (trailer or file)."""
    body, envelopes = split_trailer(html)
    source: Literal["embedded", "detached"] = "embedded"
    if detached is not None:
        detached_envelopes = parse_detached(detached)
        if envelopes is None:
            envelopes, source = detached_envelopes, "detached"
        elif detached_envelopes != envelopes:
            raise VerificationError(MSG_DETACHED_MISMATCH, reason=REASON_DETACHED_MISMATCH)
    if envelopes is None:
        raise VerificationError(MSG_UNSIGNED, reason=REASON_UNSIGNED)
    return body, envelopes, source


def _decode_statements(envelopes: Sequence[Mapping[str, Any]]) -> list[Statement]:
    statements: list[Statement] = []
    for envelope in envelopes:
        try:
            statements.append(decode_statement(envelope))
        except EnvelopeFormatError as e:
            raise VerificationError(MSG_MALFORMED.format(detail=e), reason=REASON_MALFORMED) from e
    return statements


def _check_body(
    statements: Sequence[Statement], body: bytes, results: Mapping[str, Any] | None
) -> str:
    """Return the body's SHA-256 once every statement signs it; say why one does not."""
    body_sha256 = hashlib.sha256(body).hexdigest()
    for index, statement in enumerate(statements, start=1):
        if statement.subject_sha256 == body_sha256:
            continue
        signed_audit = statement.predicate.get("audit", {})
        signed_id = signed_audit.get("id") if isinstance(signed_audit, dict) else None
        actual_id = section(results, "audit").get("id") if results is not None else None
        if results is not None and signed_id != actual_id:
            raise VerificationError(
                MSG_OTHER_REPORT.format(index=index, signed=signed_id, actual=actual_id),
                reason=REASON_STATEMENT_MISMATCH,
            )
        raise VerificationError(
            MSG_DIGEST_MISMATCH.format(actual=body_sha256, signed=statement.subject_sha256),
            reason=REASON_DIGEST_MISMATCH,
        )
    return body_sha256


def _check_statements(
    envelopes: Sequence[Mapping[str, Any]],
    statements: Sequence[Statement],
    results: Mapping[str, Any],
    report_name: str | None,
) -> None:
    """Check each statement's file name, its copy of the results and what it countersigns."""
    for index, statement in enumerate(statements, start=1):
        if report_name is not None and statement.subject_name != report_name:
            raise VerificationError(
                MSG_NAME_MISMATCH.format(
                    index=index, signed=statement.subject_name, actual=report_name
                ),
                reason=REASON_STATEMENT_MISMATCH,
            )
        _compare_with_results(index, statement, results)
        cited = [{"sha256": envelope_digest(e)} for e in envelopes[: index - 1]]
        if statement.predicate["countersigns"] != cited:
            raise VerificationError(
                MSG_COUNTERSIGN_MISMATCH.format(index=index), reason=REASON_STATEMENT_MISMATCH
            )


def _signers(
    envelopes: Sequence[Mapping[str, Any]], statements: Sequence[Statement], required: int
) -> tuple[Signer, ...]:
    """Return who signed, in signing order, once at least ``required`` distinct keys did."""
    signers = tuple(
        Signer(
            key_id=envelope["signatures"][0]["keyid"],
            role=statement.predicate["role"],
            signed_at=statement.predicate["signed_at"],
            extra={k: v for k, v in statement.predicate.items() if k not in RESERVED_FIELDS},
            envelope_sha256=envelope_digest(envelope),
        )
        for envelope, statement in zip(envelopes, statements, strict=True)
    )
    distinct = len({signer.key_id for signer in signers})
    if distinct < required:
        raise VerificationError(
            MSG_TOO_FEW_SIGNERS.format(count=distinct, required=required),
            reason=REASON_TOO_FEW_SIGNERS,
        )
    return signers


def _kind(value: Any) -> str:
    """Return the kind a signed predicate names: data, monitor, else model."""
    return value if value in (DATA_KIND, MONITOR_KIND) else "model"


def verify_report(
    html: bytes,
    trusted_keys: Mapping[str, Ed25519PublicKey],
    *,
    require_signers: int = 1,
    detached: bytes | None = None,
    report_name: str | None = None,
) -> VerificationSummary:
    """Return what the report's signatures establish; raise VerificationError if any fails.

    ``trusted_keys`` maps key id to public key (``fairaudit.provenance.load_trusted_keys``); keys
    carried by the report itself are never trusted, and every signature in it must verify
    against a trusted key. ``detached`` is the content of a ``.intoto.jsonl`` file; if the
    report also has a trailer the two must hold the same envelopes. ``report_name``, when
    given, must be the file name each statement signs.
    """
    if not trusted_keys:
        raise VerificationError(MSG_NO_TRUSTED_KEYS, reason=REASON_NO_TRUSTED_KEYS)
    body, envelopes, source = _envelopes_to_verify(html, detached)
    _verify_signatures(envelopes, trusted_keys)
    statements = _decode_statements(envelopes)
    try:
        results: dict[str, Any] | None = extract_results(body)
    except SigningError:
        results = None
    body_sha256 = _check_body(statements, body, results)
    if results is None:  # signed, yet no results: not a report fairaudit signed
        raise VerificationError(MSG_NO_RESULTS, reason=REASON_STATEMENT_MISMATCH)
    _check_statements(envelopes, statements, results, report_name)
    signers = _signers(envelopes, statements, require_signers)
    audit = section(results, "audit")
    signed_data = section(statements[0].predicate, "data")  # equal to the results': checked
    rows = signed_data.get("rows")
    return VerificationSummary(
        signers=signers,
        audit_id=_text(audit.get("id")),
        model_name=_text(audit.get("name")),
        model_version=_text(audit.get("model_version")),
        verdict=_text(results_verdict(results)),
        body_sha256=body_sha256,
        source=source,
        kind=_kind(statements[0].predicate.get("kind")),
        data_sha256=_text(signed_data.get("sha256")),
        data_rows=rows if isinstance(rows, int) and not isinstance(rows, bool) else None,
    )


def verify_report_file(
    path: str | os.PathLike[str],
    trusted_keys: Mapping[str, Ed25519PublicKey],
    *,
    require_signers: int = 1,
    detached: str | os.PathLike[str] | None = None,
) -> VerificationSummary:
    """Return the verification summary of the report file at ``path``.

    Without ``detached``, an unsigned report is checked against ``<report>.intoto.jsonl``
    beside it when that file exists.
    """
    report = Path(path)
    try:
        html = read_regular_bytes(report)
        if detached is None and split_trailer(html)[1] is None:
            sibling = detached_path_for(report)
            detached = sibling if sibling.exists() else None
        detached_bytes = read_regular_bytes(detached) if detached is not None else None
    except OSError as e:
        raise VerificationError(
            f"Cannot read {e.filename}: {e.strerror}.", reason=REASON_UNREADABLE
        ) from e
    return verify_report(
        html,
        trusted_keys,
        require_signers=require_signers,
        detached=detached_bytes,
        report_name=report.name,
    )


def check_data_file(summary: VerificationSummary, path: str | os.PathLike[str]) -> str:
    """Return the SHA-256 of the file at ``path`` once it is the data the verified report names.

    That is the audited file of a data audit and the evaluation data of a model audit (a
    model audit of a table in memory names the table's digest, which no file has). Raises
    VerificationError (reason ``data-mismatch``) if it is not.
    """
    refuse_special_file(path, "--data")
    actual = file_sha256(path)
    if summary.data_sha256 is None:
        raise VerificationError(MSG_NO_DATA_DIGEST.format(path=path), reason=REASON_DATA_MISMATCH)
    if actual != summary.data_sha256:
        raise VerificationError(
            MSG_DATA_MISMATCH.format(path=path, actual=actual, signed=summary.data_sha256),
            reason=REASON_DATA_MISMATCH,
        )
    return actual
