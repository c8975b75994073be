"""The two file formats of report signatures: the trailer line and the detached file.

A signed ``report.html`` is the unsigned report followed by one trailer line::

    BODY <!-- fairaudit-signature v1 [ENVELOPE,...] -->\\n

The signed body is every byte before the trailer's first byte (the ``<`` of ``<!--``), so it
is byte-for-byte the report as it was before signing. The trailer is the last occurrence of
``<!-- fairaudit-signature `` in the file and must end the file with exactly ``" -->\\n"``.
Its JSON array holds one DSSE envelope per signer, in signing order, serialized as RFC 8785
canonical JSON. The same envelopes, one per line, go to the detached ``report.html.intoto.jsonl``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fairaudit.errors import VerificationError
from fairaudit.provenance._dsse import (
    EnvelopeFormatError,
    NonCanonicalBase64,
    canonical_json,
    parse_envelope_json,
)

__all__ = [
    "DETACHED_SUFFIX",
    "MSG_LINE_ENDINGS",
    "MSG_MALFORMED",
    "MSG_MALFORMED_DETACHED",
    "MSG_NON_CANONICAL",
    "MSG_TRAILING_BYTES",
    "REASON_LINE_ENDINGS",
    "REASON_MALFORMED",
    "REASON_NON_CANONICAL",
    "REASON_TRAILING_BYTES",
    "detached_path_for",
    "parse_detached",
    "render_detached",
    "render_trailer",
    "split_trailer",
]

DETACHED_SUFFIX = ".intoto.jsonl"
TRAILER_MARKER = b"<!-- fairaudit-signature "
TRAILER_VERSION = b"v1 "
TRAILER_CLOSE = b" -->"

# Reason codes carried by VerificationError.reason: stable, for scripts.
REASON_MALFORMED = "malformed-trailer"
REASON_TRAILING_BYTES = "trailing-bytes"
REASON_LINE_ENDINGS = "line-endings"
REASON_NON_CANONICAL = "non-canonical-encoding"

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


def _format_failure(error: EnvelopeFormatError, template: str, where: str) -> VerificationError:
    if isinstance(error, NonCanonicalBase64):
        message = MSG_NON_CANONICAL.format(where=where, field=error)
        return VerificationError(message, reason=REASON_NON_CANONICAL)
    return VerificationError(template.format(detail=error), reason=REASON_MALFORMED)


def render_trailer(envelopes: Sequence[Mapping[str, Any]]) -> bytes:
    """Return the trailer line that carries ``envelopes`` after the report body."""
    envelope_list = canonical_json(list(envelopes))
    return TRAILER_MARKER + TRAILER_VERSION + envelope_list + TRAILER_CLOSE + b"\n"


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
        envelopes = parse_envelope_json(inner[len(TRAILER_VERSION) :], many=True)
    except EnvelopeFormatError as e:
        raise _format_failure(e, MSG_MALFORMED, "signature trailer") from e
    return body, envelopes


def render_detached(envelopes: Sequence[Mapping[str, Any]]) -> bytes:
    """Return the JSON Lines text of the detached ``.intoto.jsonl`` file: one envelope a line."""
    return b"".join(canonical_json(envelope) + b"\n" for envelope in envelopes)


def parse_detached(data: bytes) -> list[dict[str, Any]]:
    """Return the envelopes of a detached ``.intoto.jsonl`` file; VerificationError if malformed."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    try:
        if not lines:
            raise EnvelopeFormatError("it holds no envelopes")
        envelopes: list[dict[str, Any]] = []
        for line in lines:
            envelopes.extend(parse_envelope_json(line, many=False))
    except EnvelopeFormatError as e:
        raise _format_failure(e, MSG_MALFORMED_DETACHED, "detached signature file") from e
    return envelopes


def detached_path_for(report: str | os.PathLike[str]) -> Path:
    """Return where the detached envelopes of ``report`` live: ``<report>.intoto.jsonl``."""
    path = Path(report)
    return path.with_name(path.name + DETACHED_SUFFIX)
