"""AuditResult: the single source of truth every output reads, and its JSON form.

Each field is already plain JSON data (dicts, lists, strings, numbers, None), so the
JSON, the HTML report, signatures and later exports all read the same values and
nothing is recomputed downstream. The shape is described by
``fairaudit/schema/audit-result.schema.json``.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = [
    "BASELINE",
    "FAVORABLE_OUTCOME_SCHEMA_VERSION",
    "SCHEMA_VERSION",
    "MULTICLASS_SCHEMA_VERSION",
    "TASK_SCHEMA_VERSION",
    "AuditResult",
    "json_text",
    "jsonable",
    "load_schema",
    "schema_path",
]

#: Semantic version of the JSON format; the major version is in the signing predicate URI.
#: 1.1.0: mitigation variants keep a summary by default (``mitigation_summary.detail``).
#: 1.2.0: ``training_data``, the data audit of the training set (``--train``).
#: A result states the first version that describes it: a binary audit's shape is that of
#: 1.2.0, so it still says 1.2.0 (its bytes and id are unchanged by later minor versions).
SCHEMA_VERSION = "1.2.0"
#: 1.3.0: regression audits (``audit.task``; regression group metrics, KS and Wasserstein
#: disparities, bounded-group-loss headline). The schema file's version.
TASK_SCHEMA_VERSION = "1.3.0"
#: 1.4.0: multiclass audits (``audit.classes``; ``by_class`` and ``confusion`` in the group
#: rows, ``class`` in disparities and headline, ``summary.worst_classes`` and
#: ``summary.favorable_view``). The schema file's version.
MULTICLASS_SCHEMA_VERSION = "1.4.0"
#: 1.5.0: a regression audit's favourable-outcome view (``--favorable-above``/``-below``:
#: ``summary.favorable_outcome``). Regression results without it still say 1.3.0.
FAVORABLE_OUTCOME_SCHEMA_VERSION = "1.5.0"

#: The ``method`` of the ``mitigations`` entry that describes the audited model itself.
BASELINE = "baseline"


def json_text(data: Any) -> str:
    """Return ``data`` as compact JSON text: the one serialization of the JSON twin.

    No spaces (``jq .`` pretty-prints it), keys in the order given, non-ASCII kept, no NaN;
    the same data always gives the same text. ``report.json`` is this plus a newline; the
    HTML report embeds this text (escaped for a script element).
    """
    return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def jsonable(value: Any) -> Any:
    """Return ``value`` with NaN/inf floats as None and numpy scalars as Python numbers."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if hasattr(value, "item") and not isinstance(value, int | float):
        value = value.item()  # numpy scalar
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


@dataclass
class AuditResult:
    """Everything one audit found, as JSON-ready sections (see the JSON Schema)."""

    schema_version: str
    tool: dict[str, Any]
    audit: dict[str, Any]
    lineage: dict[str, Any]
    data_checks: list[dict[str, Any]]
    metrics: dict[str, Any]
    disparities: list[dict[str, Any]]
    headline: list[dict[str, Any]]
    uncertainty: dict[str, Any] | None = None
    mitigations: list[dict[str, Any]] | None = None
    mitigation_summary: dict[str, Any] | None = None
    verdict: str | None = None
    policy: dict[str, Any] | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    training_data: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dict, in schema order."""
        return {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}

    def to_json(self) -> str:
        """Return the result as compact JSON text (``json_text``; ends with a newline)."""
        return json_text(self.to_dict()) + "\n"

    def content_id(self) -> str:
        """Return the SHA-256 of the canonical JSON of everything but the audit id."""
        import rfc8785

        body = self.to_dict()
        body["audit"] = {k: v for k, v in body["audit"].items() if k != "id"}
        return hashlib.sha256(rfc8785.dumps(body)).hexdigest()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditResult:
        """Return an AuditResult from its JSON form (unknown keys are ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def schema_path() -> Path:
    """Return the path of the JSON Schema that describes ``AuditResult.to_dict()``."""
    return Path(__file__).resolve().parent / "schema" / "audit-result.schema.json"


def load_schema() -> dict[str, Any]:
    """Return the JSON Schema of the audit result."""
    loaded: dict[str, Any] = json.loads(schema_path().read_text(encoding="utf-8"))
    return loaded
