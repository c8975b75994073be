"""Sign fairaudit reports: in-toto Statements in DSSE envelopes, Ed25519 signatures.

Signing appends an envelope to the report's trailer (``_trailer``) and writes the same
envelopes to the detached ``report.html.intoto.jsonl``; a report already signed is
countersigned: the new statement (``_statement``) cites the digest of every envelope before
it. See docs/signing.md.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fairaudit.errors import SigningError, VerificationError
from fairaudit.paths import (
    FileRole,
    atomic_write_many,
    check_file_roles,
    read_regular_bytes,
    refuse_special_file,
)
from fairaudit.provenance._dsse import EnvelopeFormatError, envelope_digest, make_envelope
from fairaudit.provenance._keys import (
    SHORT_KEY_ID,
    PassphraseSource,
    key_id,
    load_private_key,
)
from fairaudit.provenance._statement import (
    STATEMENT_TYPE,
    build_predicate,
    decode_statement,
    extract_results,
    predicate_type,
    signing_time,
)
from fairaudit.provenance._trailer import (
    DETACHED_SUFFIX,
    detached_path_for,
    parse_detached,
    render_detached,
    render_trailer,
    split_trailer,
)

__all__ = [
    "MSG_ALREADY_SIGNED",
    "SignedReport",
    "sign_report_bytes",
    "sign_report_file",
]

MSG_ALREADY_SIGNED = "The report is already signed by key {keyid}."
MSG_CANNOT_COUNTERSIGN = "Cannot countersign: {detail}"
MSG_STALE_SIGNATURE = (
    "existing signature {index} does not cover this report's body "
    "(check it with 'fairaudit verify'; delete a stale {detached} to sign afresh)"
)
MSG_NOT_CANONICAL = "The report's results cannot be signed as canonical JSON: {detail}."
MSG_BAD_ROLE = "The signer's role must be a non-empty single line of text."


def _check_existing(body: bytes, envelopes: Sequence[Mapping[str, Any]], signer: str) -> None:
    """Refuse to countersign envelopes that do not cover ``body`` or that ``signer`` made."""
    body_sha256 = hashlib.sha256(body).hexdigest()
    for index, envelope in enumerate(envelopes, start=1):
        keyid = envelope["signatures"][0]["keyid"]
        if keyid == signer:
            raise SigningError(MSG_ALREADY_SIGNED.format(keyid=keyid[:SHORT_KEY_ID]))
        try:
            statement = decode_statement(envelope)
        except EnvelopeFormatError as e:
            raise SigningError(MSG_CANNOT_COUNTERSIGN.format(detail=e)) from e
        if statement.subject_sha256 != body_sha256:
            detail = MSG_STALE_SIGNATURE.format(index=index, detached=f"*{DETACHED_SUFFIX}")
            raise SigningError(MSG_CANNOT_COUNTERSIGN.format(detail=detail))


def _sign_body(
    body: bytes,
    existing: Sequence[Mapping[str, Any]],
    *,
    key: Ed25519PrivateKey,
    role: str,
    report_name: str,
    signed_at: str | None,
    extra: Mapping[str, Any] | None,
) -> list[Mapping[str, Any]]:
    if not role.strip() or "\n" in role or "\r" in role:
        raise SigningError(MSG_BAD_ROLE)
    _check_existing(body, existing, key_id(key.public_key()))
    results = extract_results(body)
    predicate = build_predicate(
        results, role=role, signed_at=signed_at or signing_time(), extra=extra
    )
    predicate["countersigns"] = [{"sha256": envelope_digest(e)} for e in existing]
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": report_name, "digest": {"sha256": hashlib.sha256(body).hexdigest()}}],
        "predicateType": predicate_type(results),
        "predicate": predicate,
    }
    try:
        envelope = make_envelope(statement, key)
    except rfc8785.CanonicalizationError as e:
        raise SigningError(MSG_NOT_CANONICAL.format(detail=e)) from e
    return [*existing, envelope]


def _split_for_signing(html: bytes) -> tuple[bytes, list[dict[str, Any]]]:
    try:
        body, envelopes = split_trailer(html)
    except VerificationError as e:
        raise SigningError(MSG_CANNOT_COUNTERSIGN.format(detail=e)) from e
    return body, envelopes or []


def sign_report_bytes(
    html: bytes,
    *,
    key: Ed25519PrivateKey,
    report_name: str,
    role: str = "auditor",
    signed_at: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    """Return ``html`` with a signature by ``key`` added to its trailer.

    An unsigned report gets a trailer; a signed one is countersigned: the new statement cites
    the digests of the envelopes already there. ``signed_at`` defaults to ``signing_time()``.
    """
    body, existing = _split_for_signing(html)
    envelopes = _sign_body(
        body,
        existing,
        key=key,
        role=role,
        report_name=report_name,
        signed_at=signed_at,
        extra=extra,
    )
    return body + render_trailer(envelopes)


@dataclass(frozen=True)
class SignedReport:
    """What ``sign_report_file`` wrote."""

    report: Path
    detached: Path
    key_id: str
    signed_at: str
    signers: int
    #: ``envelope_digest`` of the envelope this signing added (what a ledger review records).
    envelope_sha256: str = ""


def sign_report_file(
    path: str | os.PathLike[str],
    key: Ed25519PrivateKey | str | os.PathLike[str],
    *,
    role: str = "auditor",
    passphrase: PassphraseSource = None,
    signed_at: str | None = None,
    extra: Mapping[str, Any] | None = None,
    embed: bool = True,
) -> SignedReport:
    """Return what was written after signing (or countersigning) the report at ``path``.

    ``key`` is a private key or the path of its PEM file. The detached
    ``<report>.intoto.jsonl`` and (unless ``embed`` is false) the report with its trailer are
    written atomically, through temporary files in the same directory. An unsigned report
    whose detached file exists is countersigned from that file.
    """
    report = Path(path)
    detached = detached_path_for(report)
    refuse_special_file(report, "report", error=SigningError)
    if not isinstance(key, Ed25519PrivateKey):  # the key file is never a file we write
        written = [FileRole("signature file", detached)]
        written += [FileRole("report", report)] if embed else []
        check_file_roles(written, [FileRole("signing key", Path(key))])
    private_key = (
        key if isinstance(key, Ed25519PrivateKey) else load_private_key(key, passphrase=passphrase)
    )
    try:
        html = read_regular_bytes(report)
        mode = stat.S_IMODE(report.stat().st_mode)
    except OSError as e:
        raise SigningError(f"Cannot read {report}: {e.strerror}.") from e
    body, existing = _split_for_signing(html)
    if not existing and detached.exists():
        try:
            existing = parse_detached(read_regular_bytes(detached))
        except (OSError, VerificationError) as e:
            raise SigningError(MSG_CANNOT_COUNTERSIGN.format(detail=e)) from e
    signed_at = signed_at or signing_time()
    envelopes = _sign_body(
        body,
        existing,
        key=private_key,
        role=role,
        report_name=report.name,
        signed_at=signed_at,
        extra=extra,
    )
    outputs: dict[Path, bytes] = {detached: render_detached(envelopes)}
    if embed:
        outputs[report] = body + render_trailer(envelopes)
    atomic_write_many(outputs, mode=mode)
    return SignedReport(
        report,
        detached,
        key_id(private_key.public_key()),
        signed_at,
        len(envelopes),
        envelope_digest(envelopes[-1]),
    )
