"""The in-toto Statement a report signature carries: its predicate, built from the report.

Each envelope's payload is an in-toto Statement v1 whose single subject is the report file
name and the SHA-256 of the body; its predicate (``build_predicate``) repeats the headline of
the results embedded in the report, the signer's role and time, and, for a countersignature,
the SHA-256 of every earlier envelope. A model audit's predicate names the model and the
evaluation data; a data audit's (``fairaudit data``, predicate ``kind`` ``"data"``) names the
audited data file and no model; a monitor run's (``fairaudit monitor``, ``kind``
``"monitor"``) names its latest window's file and no model. See docs/signing.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fairaudit.errors import SigningError
from fairaudit.provenance._dsse import SHA256_HEX, EnvelopeFormatError, decode_base64
from fairaudit.runtime import BadSourceDateEpoch, reproducible_time

__all__ = [
    "PREDICATE_TYPE_PREFIX",
    "RESERVED_FIELDS",
    "RESULTS_FIELDS",
    "STATEMENT_TYPE",
    "DATA_KIND",
    "MONITOR_KIND",
    "Statement",
    "build_predicate",
    "decode_statement",
    "extract_results",
    "predicate_type",
    "results_verdict",
    "section",
    "signing_time",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE_PREFIX = "https://fairaudit.dev/fairness-audit/v"

MSG_NO_RESULTS = "The report has no embedded fairaudit-data results; is it a fairaudit report?"
MSG_BAD_RESULTS = "The report's embedded fairaudit-data results are not a JSON object: {detail}."
MSG_BAD_SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH must be a whole number of seconds, got {value!r}."
MSG_EXTRA_CONFLICT = "Extra predicate field(s) {fields} would overwrite fields fairaudit sets."

#: The predicate fields that repeat the report's embedded results (checked on verification;
#: a model audit's predicate has no ``kind``, as before data audits existed).
RESULTS_FIELDS = (
    "kind",
    "audit",
    "model",
    "data",
    "tool",
    "schema_version",
    "headline",
    "verdict",
)
#: The ``kind`` of a data audit's results and predicate (``fairaudit data``).
DATA_KIND = "data"
#: The ``kind`` of a monitor run's results and predicate (``fairaudit monitor``).
MONITOR_KIND = "monitor"
#: The predicate fields fairaudit sets; ``extra`` fields may not replace them.
RESERVED_FIELDS = frozenset((*RESULTS_FIELDS, "role", "signed_at", "countersigns"))
_RESULTS_SCRIPT = re.compile(
    rb'<script\b[^>]*\bid=["\']fairaudit-data["\'][^>]*>(.*?)</script\s*>', re.DOTALL
)
_PREDICATE_TYPE = re.compile(re.escape(PREDICATE_TYPE_PREFIX) + r"([1-9][0-9]*)")


def signing_time() -> str:
    """Return the signing time as UTC ISO-8601 ``...Z``: SOURCE_DATE_EPOCH if set, else now."""
    try:
        return reproducible_time()
    except BadSourceDateEpoch as e:
        raise SigningError(MSG_BAD_SOURCE_DATE_EPOCH.format(value=e.value)) from e


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


def section(mapping: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """Return ``mapping[key]`` if it is a mapping, else an empty one (results are untrusted)."""
    value = mapping.get(key)
    return value if isinstance(value, Mapping) else {}


def predicate_type(results: Mapping[str, Any]) -> str:
    """Return the predicateType for the results: the prefix and the schema's major version."""
    schema_version = results.get("schema_version")
    major = str(schema_version).split(".")[0] if schema_version is not None else "1"
    return f"{PREDICATE_TYPE_PREFIX}{major if major.isdigit() else '1'}"


def results_verdict(results: Mapping[str, Any]) -> Any:
    """Return the policy verdict of a report's results, None without a policy.

    A model audit's (and a monitor run's) is its ``verdict``; a data audit's is its
    ``policy`` section's.
    """
    if results.get("kind") == DATA_KIND:
        return section(results, "policy").get("verdict")
    return results.get("verdict")


def _data_audit_fields(results: Mapping[str, Any]) -> dict[str, Any]:
    """Return the predicate fields of a data audit's or a monitor run's results: the file
    they read (a monitor run's latest window), no model."""
    audit = section(results, "audit")
    if results.get("kind") == MONITOR_KIND:
        kind, data = MONITOR_KIND, section(section(results, "lineage"), "data")
        seed, version = None, section(results, "tool").get("version")
    else:
        kind, data = DATA_KIND, section(results, "data")
        seed, version = section(results, "options").get("seed"), results.get("fairaudit_version")
    return {
        "kind": kind,
        "audit": {
            "id": audit.get("id"),
            "name": audit.get("name"),
            "created_at": audit.get("created_at"),
            "seed": seed,
            "supersedes": audit.get("supersedes"),
        },
        "model": None,
        "data": {"sha256": data.get("sha256"), "rows": data.get("rows")},
        "tool": {"name": "fairaudit", "version": version},
        "schema_version": results.get("schema_version"),
        "headline": None,
        "verdict": results_verdict(results),
    }


def _model_audit_fields(results: Mapping[str, Any]) -> dict[str, Any]:
    """Return the predicate fields of a model audit's results (no ``kind``: see RESULTS_FIELDS)."""
    audit = section(results, "audit")
    lineage = section(results, "lineage")
    data = section(lineage, "data")
    model = section(lineage, "model")
    tool = section(results, "tool")
    headline = results.get("headline")
    return {
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
    }


def build_predicate(
    results: Mapping[str, Any],
    *,
    role: str,
    signed_at: str,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the in-toto predicate for a report's results, signed by ``role`` at ``signed_at``.

    Absent fields become null. A data audit's results (``kind`` ``"data"``) give a predicate
    of that kind, naming the audited file's SHA-256 and row count. ``extra`` fields (e.g. a
    review decision) are merged in; they may not replace a field fairaudit sets.
    """
    is_data = results.get("kind") in (DATA_KIND, MONITOR_KIND)
    predicate = _data_audit_fields(results) if is_data else _model_audit_fields(results)
    predicate.update(role=role, signed_at=signed_at)
    if extra:
        clashes = sorted(set(extra) & RESERVED_FIELDS)
        if clashes:
            raise SigningError(MSG_EXTRA_CONFLICT.format(fields=", ".join(clashes)))
        predicate.update(extra)
    return predicate


@dataclass(frozen=True)
class Statement:
    """What verification reads of a decoded statement: its one subject and its predicate."""

    subject_name: str
    subject_sha256: str
    predicate_type: str
    predicate: dict[str, Any]


def decode_statement(envelope: Mapping[str, Any]) -> Statement:
    """Return the statement in an envelope; EnvelopeFormatError if not a fairaudit statement."""
    try:
        statement = json.loads(decode_base64(envelope["payload"], "payload").decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise EnvelopeFormatError("the payload is not a JSON statement") from e
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise EnvelopeFormatError(f"the statement _type is not {STATEMENT_TYPE}")
    declared_type = statement.get("predicateType")
    if not isinstance(declared_type, str) or not _PREDICATE_TYPE.fullmatch(declared_type):
        raise EnvelopeFormatError(f"the predicateType is not {PREDICATE_TYPE_PREFIX}<major>")
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise EnvelopeFormatError("the statement must have exactly one subject")
    name = subjects[0].get("name")
    digest = subjects[0].get("digest")
    sha256 = digest.get("sha256") if isinstance(digest, dict) else None
    if not isinstance(name, str) or not isinstance(sha256, str) or not SHA256_HEX.fullmatch(sha256):
        raise EnvelopeFormatError("the subject needs a name and a lowercase hex sha256 digest")
    predicate = statement.get("predicate")
    if (
        not isinstance(predicate, dict)
        or not isinstance(predicate.get("role"), str)
        or not isinstance(predicate.get("signed_at"), str)
        or not isinstance(predicate.get("countersigns"), list)
    ):
        raise EnvelopeFormatError("the predicate lacks role, signed_at or countersigns")
    return Statement(name, sha256, declared_type, predicate)
