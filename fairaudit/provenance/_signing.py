"""Sign and verify fairaudit reports: in-toto Statements in DSSE envelopes, Ed25519 signatures.

A signed ``report.html`` is the unsigned report followed by one trailer line::

    BODY <!-- fairaudit-signature v1 [ENVELOPE,...] -->\\n

The signed body is every byte before the trailer's first byte (the ``<`` of ``<!--``), so it
is byte-for-byte the report as it was before signing. The trailer is the last occurrence of
``<!-- fairaudit-signature `` in the file and must end the file with exactly ``" -->\\n"``.
Its JSON array holds one DSSE envelope per signer, in signing order, serialized as RFC 8785
canonical JSON. The same envelopes, one per line, go to the detached ``report.html.intoto.jsonl``.

Each envelope's payload is an in-toto Statement v1 whose single subject is the report file
name and the SHA-256 of the body; its predicate (``build_predicate``) repeats the headline of
the embedded results, the signer's role and time, and, for a countersignature, the SHA-256 of
every earlier envelope. See docs/signing.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fairaudit.errors import SigningError, VerificationError
from fairaudit.paths import (
    FileRole,
    atomic_write_many,
    check_file_roles,
    read_regular_bytes,
    refuse_special_file,
)
from fairaudit.provenance._keys import PassphraseSource, key_id, load_private_key

__all__ = [
    "DETACHED_SUFFIX",
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE_PREFIX",
    "STATEMENT_TYPE",
    "SignedReport",
    "Signer",
    "VerificationSummary",
    "build_predicate",
    "detached_path_for",
    "envelope_digest",
    "extract_results",
    "pae",
    "parse_detached",
    "render_detached",
    "render_trailer",
    "sign_report_bytes",
    "sign_report_file",
    "signing_time",
    "split_trailer",
    "verify_report",
    "verify_report_file",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
PREDICATE_TYPE_PREFIX = "https://fairaudit.dev/fairness-audit/v"
DETACHED_SUFFIX = ".intoto.jsonl"
TRAILER_MARKER = b"<!-- fairaudit-signature "
TRAILER_VERSION = b"v1 "
TRAILER_CLOSE = b" -->"
SHORT_KEY_ID = 16

# Reason codes carried by VerificationError.reason: stable, for scripts.
REASON_UNSIGNED = "unsigned"
REASON_MALFORMED = "malformed-trailer"
REASON_TRAILING_BYTES = "trailing-bytes"
REASON_LINE_ENDINGS = "line-endings"
REASON_DIGEST_MISMATCH = "digest-mismatch"
REASON_BAD_SIGNATURE = "bad-signature"
REASON_UNKNOWN_KEY = "unknown-key"
REASON_STATEMENT_MISMATCH = "statement-mismatch"
REASON_TOO_FEW_SIGNERS = "too-few-signers"
REASON_NO_TRUSTED_KEYS = "no-trusted-keys"
REASON_DETACHED_MISMATCH = "detached-mismatch"
REASON_UNREADABLE = "unreadable"
REASON_NON_CANONICAL = "non-canonical-encoding"

MSG_UNSIGNED = "The report is not signed: it has no fairaudit-signature trailer."
MSG_MALFORMED = "The signature trailer is malformed: {detail}."
MSG_MALFORMED_DETACHED = "The detached signature file is malformed: {detail}."
MSG_NON_CANONICAL = (
    "The {where}'s {field} is not canonical base64 (standard alphabet, canonical padding): "
    "it was re-encoded after signing."
)
MSG_TRAILING_BYTES = "{count} byte(s) follow the signature trailer; the report was changed."
MSG_LINE_ENDINGS = (
    "The report's line endings were converted to CRLF after signing "
    "(git autocrlf or a text-mode transfer?); restore the original bytes."
)
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
MSG_DETACHED_MISMATCH = (
    "The detached signature file does not hold the same signatures as the report's trailer."
)
MSG_NO_RESULTS = "The report has no embedded fairaudit-data results; is it a fairaudit report?"
MSG_BAD_RESULTS = "The report's embedded fairaudit-data results are not a JSON object: {detail}."
MSG_ALREADY_SIGNED = "The report is already signed by key {keyid}."
MSG_CANNOT_COUNTERSIGN = "Cannot countersign: {detail}"
MSG_STALE_SIGNATURE = (
    "existing signature {index} does not cover this report's body "
    "(check it with 'fairaudit verify'; delete a stale {detached} to sign afresh)"
)
MSG_BAD_SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH must be a whole number of seconds, got {value!r}."
MSG_EXTRA_CONFLICT = "Extra predicate field(s) {fields} would overwrite fields fairaudit sets."
MSG_NOT_CANONICAL = "The report's results cannot be signed as canonical JSON: {detail}."
MSG_BAD_ROLE = "The signer's role must be a non-empty single line of text."

_RESULTS_FIELDS = ("audit", "model", "data", "tool", "schema_version", "headline", "verdict")
_RESERVED_FIELDS = frozenset((*_RESULTS_FIELDS, "role", "signed_at", "countersigns"))
_RESULTS_SCRIPT = re.compile(
    rb'<script\b[^>]*\bid=["\']fairaudit-data["\'][^>]*>(.*?)</script\s*>', re.DOTALL
)
_PREDICATE_TYPE = re.compile(re.escape(PREDICATE_TYPE_PREFIX) + r"([1-9][0-9]*)")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# Base64 in any alphabet and padding: text that is not canonical yet is meant as base64.
_B64_ANY_SPELLING = re.compile(r"(?:[A-Za-z0-9+/_-]{4})*[A-Za-z0-9+/_-]{2,4}={0,2}")


def pae(payload_type: str | bytes, body: bytes) -> bytes:
    """Return the DSSE v1 Pre-Authentication Encoding of ``payload_type`` and ``body``."""
    type_bytes = payload_type.encode("utf-8") if isinstance(payload_type, str) else payload_type
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(body), body)


def _canonical(value: Any) -> bytes:
    return rfc8785.dumps(value)


def envelope_digest(envelope: Mapping[str, Any]) -> str:
    """Return the hex SHA-256 of the envelope's RFC 8785 canonical JSON (what countersigns cite)."""
    return hashlib.sha256(_canonical(envelope)).hexdigest()


def signing_time() -> str:
    """Return the signing time as UTC ISO-8601 ``...Z``: SOURCE_DATE_EPOCH if set, else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is None or epoch == "":
        moment = datetime.now(UTC)
    else:
        try:
            moment = datetime.fromtimestamp(int(epoch), UTC)
        except (ValueError, OverflowError, OSError) as e:
            raise SigningError(MSG_BAD_SOURCE_DATE_EPOCH.format(value=epoch)) from e
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# Embedded results and the predicate


def extract_results(html: bytes) -> dict[str, Any]:
    """Return the JSON results embedded in the report's ``fairaudit-data`` script element.

    Raises SigningError when there is not exactly one such element holding a JSON object.
    """
    found = _RESULTS_SCRIPT.findall(html)
    if len(found) != 1:
        raise SigningError(MSG_NO_RESULTS)
    try:
        results = json.loads(found[0].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise SigningError(MSG_BAD_RESULTS.format(detail=e)) from e
    if not isinstance(results, dict):
        raise SigningError(MSG_BAD_RESULTS.format(detail=f"found {type(results).__name__}"))
    return results


def _section(mapping: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = mapping.get(key)
    return value if isinstance(value, Mapping) else {}


def _predicate_type(results: Mapping[str, Any]) -> str:
    schema_version = results.get("schema_version")
    major = str(schema_version).split(".")[0] if schema_version is not None else "1"
    return f"{PREDICATE_TYPE_PREFIX}{major if major.isdigit() else '1'}"


def build_predicate(
    results: Mapping[str, Any],
    *,
    role: str,
    signed_at: str,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the in-toto predicate for a report's results, signed by ``role`` at ``signed_at``.

    Absent fields become null. ``extra`` fields (e.g. a review decision) are merged in; they
    may not replace a field fairaudit sets.
    """
    audit = _section(results, "audit")
    lineage = _section(results, "lineage")
    data = _section(lineage, "data")
    model = _section(lineage, "model")
    tool = _section(results, "tool")
    headline = results.get("headline")
    predicate: dict[str, Any] = {
        "audit": {
            "id": audit.get("id"),
            "created_at": audit.get("created_at"),
            "seed": audit.get("seed"),
            "supersedes": audit.get("supersedes"),
        },
        "model": {
            "name": audit.get("name"),
            "version": audit.get("model_version"),
            "sha256": model.get("sha256"),
            "format": model.get("format"),
        },
        "data": {"sha256": data.get("sha256"), "rows": data.get("rows")},
        "tool": {"name": tool.get("name"), "version": tool.get("version")},
        "schema_version": results.get("schema_version"),
        "headline": (
            [
                {"feature": h.get("feature"), "metric": h.get("metric"), "value": h.get("value")}
                for h in headline
                if isinstance(h, Mapping)
            ]
            if isinstance(headline, list)
            else None
        ),
        "verdict": results.get("verdict"),
        "role": role,
        "signed_at": signed_at,
    }
    if extra:
        clashes = sorted(set(extra) & _RESERVED_FIELDS)
        if clashes:
            raise SigningError(MSG_EXTRA_CONFLICT.format(fields=", ".join(clashes)))
        predicate.update(extra)
    return predicate


# ---------------------------------------------------------------------------------------------
# Trailer and detached file: bytes <-> envelopes


class _FormatError(Exception):
    """An envelope list that is not well formed; the message is the detail."""


class _EncodingError(_FormatError):
    """A base64 field in another spelling of the signed bytes; the message is the detail."""


def _b64decode(text: object, what: str) -> bytes:
    # One spelling only: the standard alphabet, canonical padding, no unused bits set. The
    # signature covers the decoded bytes, not the text, so any other spelling of the same
    # bytes (URL-safe, unpadded, low bits set) would change the trailer undetected.
    if not isinstance(text, str) or not text:
        raise _FormatError(f"{what} is not a base64 string")
    raw: bytes | None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = None
    if raw is not None and base64.b64encode(raw).decode("ascii") == text:
        return raw
    if raw is None and not _B64_ANY_SPELLING.fullmatch(text):
        raise _FormatError(f"{what} is not valid base64")
    raise _EncodingError(what)


def _check_envelope(envelope: object) -> dict[str, Any]:
    if not isinstance(envelope, dict) or set(envelope) != {"payload", "payloadType", "signatures"}:
        raise _FormatError("an envelope must have exactly payload, payloadType and signatures")
    if envelope["payloadType"] != PAYLOAD_TYPE:
        raise _FormatError(f"payloadType is not {PAYLOAD_TYPE}")
    _b64decode(envelope["payload"], "payload")
    signatures = envelope["signatures"]
    if not isinstance(signatures, list) or len(signatures) != 1:
        raise _FormatError("each envelope must carry exactly one signature")
    signature = signatures[0]
    if not isinstance(signature, dict) or set(signature) != {"keyid", "sig"}:
        raise _FormatError("a signature must have exactly keyid and sig")
    if not isinstance(signature["keyid"], str):
        raise _FormatError("keyid is not a string")
    _b64decode(signature["sig"], "sig")
    return envelope


def _parse_envelope_json(text: bytes, *, many: bool) -> list[dict[str, Any]]:
    try:
        value = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _FormatError("not valid JSON") from e
    envelopes = value if many else [value]
    if not isinstance(envelopes, list) or not envelopes:
        raise _FormatError("expected a non-empty JSON array of envelopes")
    checked = [_check_envelope(envelope) for envelope in envelopes]
    # Canonical JSON only, so no byte of the trailer can change without detection.
    if _canonical(value) != text:
        raise _FormatError("not RFC 8785 canonical JSON")
    return checked


def _format_failure(error: _FormatError, template: str, where: str) -> VerificationError:
    if isinstance(error, _EncodingError):
        message = MSG_NON_CANONICAL.format(where=where, field=error)
        return VerificationError(message, reason=REASON_NON_CANONICAL)
    return VerificationError(template.format(detail=error), reason=REASON_MALFORMED)


def render_trailer(envelopes: Sequence[Mapping[str, Any]]) -> bytes:
    """Return the trailer line that carries ``envelopes`` after the report body."""
    return TRAILER_MARKER + TRAILER_VERSION + _canonical(list(envelopes)) + TRAILER_CLOSE + b"\n"


def split_trailer(html: bytes) -> tuple[bytes, list[dict[str, Any]] | None]:
    """Return the signed body and the trailer's envelopes (None if the report is unsigned).

    Raises VerificationError for a malformed trailer or bytes after it.
    """
    start = html.rfind(TRAILER_MARKER)
    if start < 0:
        return html, None
    body, trailer = html[:start], html[start:]
    close = trailer.find(TRAILER_CLOSE)
    if close < 0:
        raise VerificationError(
            MSG_MALFORMED.format(detail="it is not closed with ' -->'"), reason=REASON_MALFORMED
        )
    after = trailer[close + len(TRAILER_CLOSE) :]
    if after.startswith(b"\r\n"):
        raise VerificationError(MSG_LINE_ENDINGS, reason=REASON_LINE_ENDINGS)
    if not after.startswith(b"\n"):
        raise VerificationError(
            MSG_MALFORMED.format(detail="' -->' must be followed by one newline"),
            reason=REASON_MALFORMED,
        )
    if len(after) > 1:
        raise VerificationError(
            MSG_TRAILING_BYTES.format(count=len(after) - 1), reason=REASON_TRAILING_BYTES
        )
    inner = trailer[len(TRAILER_MARKER) : close]
    if not inner.startswith(TRAILER_VERSION):
        raise VerificationError(
            MSG_MALFORMED.format(detail="unsupported trailer version"), reason=REASON_MALFORMED
        )
    try:
        envelopes = _parse_envelope_json(inner[len(TRAILER_VERSION) :], many=True)
    except _FormatError as e:
        raise _format_failure(e, MSG_MALFORMED, "signature trailer") from e
    return body, envelopes


def render_detached(envelopes: Sequence[Mapping[str, Any]]) -> bytes:
    """Return the JSON Lines text of the detached ``.intoto.jsonl`` file: one envelope a line."""
    return b"".join(_canonical(envelope) + b"\n" for envelope in envelopes)


def parse_detached(data: bytes) -> list[dict[str, Any]]:
    """Return the envelopes of a detached ``.intoto.jsonl`` file; VerificationError if malformed."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    try:
        if not lines:
            raise _FormatError("it holds no envelopes")
        envelopes: list[dict[str, Any]] = []
        for line in lines:
            envelopes.extend(_parse_envelope_json(line, many=False))
    except _FormatError as e:
        raise _format_failure(e, MSG_MALFORMED_DETACHED, "detached signature file") from e
    return envelopes


def detached_path_for(report: str | os.PathLike[str]) -> Path:
    """Return where the detached envelopes of ``report`` live: ``<report>.intoto.jsonl``."""
    path = Path(report)
    return path.with_name(path.name + DETACHED_SUFFIX)


# ---------------------------------------------------------------------------------------------
# Statements


@dataclass(frozen=True)
class _Statement:
    subject_name: str
    subject_sha256: str
    predicate_type: str
    predicate: dict[str, Any]


def _decode_statement(envelope: Mapping[str, Any]) -> _Statement:
    """Return the statement in an envelope; _FormatError when it is not a fairaudit statement."""
    try:
        statement = json.loads(_b64decode(envelope["payload"], "payload").decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _FormatError("the payload is not a JSON statement") from e
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise _FormatError(f"the statement _type is not {STATEMENT_TYPE}")
    predicate_type = statement.get("predicateType")
    if not isinstance(predicate_type, str) or not _PREDICATE_TYPE.fullmatch(predicate_type):
        raise _FormatError(f"the predicateType is not {PREDICATE_TYPE_PREFIX}<major>")
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise _FormatError("the statement must have exactly one subject")
    name = subjects[0].get("name")
    digest = subjects[0].get("digest")
    sha256 = digest.get("sha256") if isinstance(digest, dict) else None
    if (
        not isinstance(name, str)
        or not isinstance(sha256, str)
        or not _SHA256_HEX.fullmatch(sha256)
    ):
        raise _FormatError("the subject needs a name and a lowercase hex sha256 digest")
    predicate = statement.get("predicate")
    if (
        not isinstance(predicate, dict)
        or not isinstance(predicate.get("role"), str)
        or not isinstance(predicate.get("signed_at"), str)
        or not isinstance(predicate.get("countersigns"), list)
    ):
        raise _FormatError("the predicate lacks role, signed_at or countersigns")
    return _Statement(name, sha256, predicate_type, predicate)


def _make_envelope(statement: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    payload = _canonical(statement)
    signature = key.sign(pae(PAYLOAD_TYPE, payload))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [
            {"keyid": key_id(key.public_key()), "sig": base64.b64encode(signature).decode("ascii")}
        ],
    }


# ---------------------------------------------------------------------------------------------
# Signing


def _check_existing(body: bytes, envelopes: Sequence[Mapping[str, Any]], signer: str) -> None:
    """Refuse to countersign envelopes that do not cover ``body`` or that ``signer`` made."""
    body_sha256 = hashlib.sha256(body).hexdigest()
    for index, envelope in enumerate(envelopes, start=1):
        keyid = envelope["signatures"][0]["keyid"]
        if keyid == signer:
            raise SigningError(MSG_ALREADY_SIGNED.format(keyid=keyid[:SHORT_KEY_ID]))
        try:
            statement = _decode_statement(envelope)
        except _FormatError as e:
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
        "predicateType": _predicate_type(results),
        "predicate": predicate,
    }
    try:
        envelope = _make_envelope(statement, key)
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


# ---------------------------------------------------------------------------------------------
# Verifying


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

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Return the signers' key ids in signing order."""
        return tuple(signer.key_id for signer in self.signers)

    @property
    def roles(self) -> tuple[str, ...]:
        """Return the signers' roles in signing order."""
        return tuple(signer.role for signer in self.signers)

    def describe(self) -> str:
        """Return the one-line summary ``fairaudit verify`` prints."""
        signers = ", ".join(f"{s.short_key_id} ({s.role}, {s.signed_at})" for s in self.signers)
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
        payload = _b64decode(envelope["payload"], "payload")
        try:
            public_key.verify(_b64decode(signature["sig"], "sig"), pae(PAYLOAD_TYPE, payload))
        except InvalidSignature as e:
            raise VerificationError(
                MSG_BAD_SIGNATURE.format(index=index, keyid=keyid[:SHORT_KEY_ID]),
                reason=REASON_BAD_SIGNATURE,
            ) from e


def _compare_with_results(index: int, statement: _Statement, results: Mapping[str, Any]) -> None:
    expected = build_predicate(results, role="", signed_at="")
    for name in _RESULTS_FIELDS:
        try:
            same = _canonical(expected[name]) == _canonical(statement.predicate.get(name))
        except rfc8785.CanonicalizationError:
            same = False
        if not same:
            raise VerificationError(
                MSG_PREDICATE_MISMATCH.format(index=index, field=name),
                reason=REASON_STATEMENT_MISMATCH,
            )
    if statement.predicate_type != _predicate_type(results):
        raise VerificationError(
            MSG_PREDICATE_MISMATCH.format(index=index, field="predicateType"),
            reason=REASON_STATEMENT_MISMATCH,
        )


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

    _verify_signatures(envelopes, trusted_keys)
    statements: list[_Statement] = []
    for envelope in envelopes:
        try:
            statements.append(_decode_statement(envelope))
        except _FormatError as e:
            raise VerificationError(MSG_MALFORMED.format(detail=e), reason=REASON_MALFORMED) from e

    try:
        results: dict[str, Any] | None = extract_results(body)
    except SigningError:
        results = None
    body_sha256 = hashlib.sha256(body).hexdigest()
    for index, statement in enumerate(statements, start=1):
        if statement.subject_sha256 == body_sha256:
            continue
        signed_audit = statement.predicate.get("audit", {})
        signed_id = signed_audit.get("id") if isinstance(signed_audit, dict) else None
        actual_id = _section(results, "audit").get("id") if results is not None else None
        if results is not None and signed_id != actual_id:
            raise VerificationError(
                MSG_OTHER_REPORT.format(index=index, signed=signed_id, actual=actual_id),
                reason=REASON_STATEMENT_MISMATCH,
            )
        raise VerificationError(
            MSG_DIGEST_MISMATCH.format(actual=body_sha256, signed=statement.subject_sha256),
            reason=REASON_DIGEST_MISMATCH,
        )
    if results is None:  # signed, yet no results: not a report fairaudit signed
        raise VerificationError(MSG_NO_RESULTS, reason=REASON_STATEMENT_MISMATCH)

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

    signers = tuple(
        Signer(
            key_id=envelope["signatures"][0]["keyid"],
            role=statement.predicate["role"],
            signed_at=statement.predicate["signed_at"],
            extra={k: v for k, v in statement.predicate.items() if k not in _RESERVED_FIELDS},
            envelope_sha256=envelope_digest(envelope),
        )
        for envelope, statement in zip(envelopes, statements, strict=True)
    )
    distinct = len({signer.key_id for signer in signers})
    if distinct < require_signers:
        raise VerificationError(
            MSG_TOO_FEW_SIGNERS.format(count=distinct, required=require_signers),
            reason=REASON_TOO_FEW_SIGNERS,
        )
    audit = _section(results, "audit")
    return VerificationSummary(
        signers=signers,
        audit_id=_text(audit.get("id")),
        model_name=_text(audit.get("name")),
        model_version=_text(audit.get("model_version")),
        verdict=_text(results.get("verdict")),
        body_sha256=body_sha256,
        source=source,
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
