"""DSSE envelopes: the pre-authentication encoding, canonical JSON, strict base64, checks.

An envelope is ``{"payload", "payloadType", "signatures": [{"keyid", "sig"}]}`` with the
payload and the signature in base64. fairaudit writes every envelope (and every list of
envelopes) as RFC 8785 canonical JSON and accepts no other spelling, so no byte of a
signature trailer can change without detection.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import rfc8785

from fairaudit.provenance._keys import key_id

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "PAYLOAD_TYPE",
    "SHA256_HEX",
    "EnvelopeFormatError",
    "NonCanonicalBase64",
    "canonical_json",
    "check_envelope",
    "decode_base64",
    "envelope_digest",
    "make_envelope",
    "pae",
    "parse_envelope_json",
]

#: DSSE payload type of a report signature: the payload is an in-toto Statement.
PAYLOAD_TYPE = "application/vnd.in-toto+json"
#: A lowercase hex SHA-256, as statements and the ledger record digests.
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# Base64 in any alphabet and padding: text that is not canonical yet is meant as base64.
_B64_ANY_SPELLING = re.compile(r"(?:[A-Za-z0-9+/_-]{4})*[A-Za-z0-9+/_-]{2,4}={0,2}")


class EnvelopeFormatError(Exception):
    """An envelope list that is not well formed; the message is the detail."""


class NonCanonicalBase64(EnvelopeFormatError):
    """A base64 field in another spelling of the signed bytes; the message is the field."""


def pae(payload_type: str | bytes, body: bytes) -> bytes:
    """Return the DSSE v1 Pre-Authentication Encoding of ``payload_type`` and ``body``."""
    type_bytes = payload_type.encode("utf-8") if isinstance(payload_type, str) else payload_type
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(body), body)


def canonical_json(value: Any) -> bytes:
    """Return the RFC 8785 canonical JSON bytes of ``value``."""
    return rfc8785.dumps(value)


def envelope_digest(envelope: Mapping[str, Any]) -> str:
    """Return the hex SHA-256 of the envelope's RFC 8785 canonical JSON (what countersigns cite)."""
    return hashlib.sha256(canonical_json(envelope)).hexdigest()


def decode_base64(text: object, what: str) -> bytes:
    """Return the bytes of canonical standard base64 ``text``; EnvelopeFormatError otherwise.

    One spelling only: the standard alphabet, canonical padding, no unused bits set. The
    signature covers the decoded bytes, not the text, so any other spelling of the same
    bytes (URL-safe, unpadded, low bits set) would change the text undetected; such a
    spelling raises NonCanonicalBase64.
    """
    if not isinstance(text, str) or not text:
        raise EnvelopeFormatError(f"{what} is not a base64 string")
    raw: bytes | None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = None
    if raw is not None and base64.b64encode(raw).decode("ascii") == text:
        return raw
    if raw is None and not _B64_ANY_SPELLING.fullmatch(text):
        raise EnvelopeFormatError(f"{what} is not valid base64")
    raise NonCanonicalBase64(what)


def check_envelope(envelope: object) -> dict[str, Any]:
    """Return ``envelope`` if it is a well-formed one-signature DSSE envelope of a statement."""
    if not isinstance(envelope, dict) or set(envelope) != {"payload", "payloadType", "signatures"}:
        raise EnvelopeFormatError(
            "an envelope must have exactly payload, payloadType and signatures"
        )
    if envelope["payloadType"] != PAYLOAD_TYPE:
        raise EnvelopeFormatError(f"payloadType is not {PAYLOAD_TYPE}")
    decode_base64(envelope["payload"], "payload")
    signatures = envelope["signatures"]
    if not isinstance(signatures, list) or len(signatures) != 1:
        raise EnvelopeFormatError("each envelope must carry exactly one signature")
    signature = signatures[0]
    if not isinstance(signature, dict) or set(signature) != {"keyid", "sig"}:
        raise EnvelopeFormatError("a signature must have exactly keyid and sig")
    if not isinstance(signature["keyid"], str):
        raise EnvelopeFormatError("keyid is not a string")
    decode_base64(signature["sig"], "sig")
    return envelope


def parse_envelope_json(text: bytes, *, many: bool) -> list[dict[str, Any]]:
    """Return the envelopes of canonical JSON ``text``: an array (``many``) or one envelope."""
    try:
        value = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise EnvelopeFormatError("not valid JSON") from e
    envelopes = value if many else [value]
    if not isinstance(envelopes, list) or not envelopes:
        raise EnvelopeFormatError("expected a non-empty JSON array of envelopes")
    checked = [check_envelope(envelope) for envelope in envelopes]
    # Canonical JSON only, so no byte of the trailer can change without detection.
    if canonical_json(value) != text:
        raise EnvelopeFormatError("not RFC 8785 canonical JSON")
    return checked


def make_envelope(statement: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """Return the DSSE envelope of ``statement`` signed by ``key``."""
    payload = canonical_json(statement)
    signature = key.sign(pae(PAYLOAD_TYPE, payload))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [
            {"keyid": key_id(key.public_key()), "sig": base64.b64encode(signature).decode("ascii")}
        ],
    }
