"""A Google Model Card Toolkit document: JSON valid against MCT's schema v0.0.2
(``fairaudit/schema/model-card-toolkit-0.0.2.schema.json``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fairaudit.display import group_text
from fairaudit.outputs._card_markdown import mitigation_texts
from fairaudit.outputs._card_source import (
    card_metrics,
    dataset_identity,
    headline_entries,
    metric_cis,
)

__all__ = ["MCT_SCHEMA_VERSION", "mct_card", "mct_schema_path"]

#: The MCT schema version the ``mct`` format targets.
MCT_SCHEMA_VERSION = "0.0.2"


def mct_schema_path() -> Path:
    """Return the committed copy of Model Card Toolkit's JSON Schema v0.0.2."""
    schema_folder = Path(__file__).resolve().parent.parent / "schema"
    return schema_folder / "model-card-toolkit-0.0.2.schema.json"


def _metric(kind: str, value: Any, slice_name: str, ci: Any) -> dict[str, Any] | None:
    if value is None or not math.isfinite(float(value)):
        return None
    entry: dict[str, Any] = {"type": kind, "value": float(value), "slice": slice_name}
    if isinstance(ci, list | tuple) and len(ci) == 2 and None not in ci:
        entry["confidence_interval"] = {"lower_bound": float(ci[0]), "upper_bound": float(ci[1])}
    return entry


def _performance(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the overall, per-group and headline metrics that are defined, with intervals."""
    metrics_section = data["metrics"]
    metrics = card_metrics(data)
    overall_ci = metric_cis(data, (data.get("uncertainty") or {}).get("overall_ci"))
    performance: list[dict[str, Any] | None] = []
    overall = metrics_section.get("overall") or {}
    performance += [_metric(m, overall.get(m), "overall", overall_ci.get(m)) for m in metrics]
    for row in metrics_section.get("by_group") or []:
        cis = metric_cis(data, row.get("ci"))
        slice_name = group_text(row["group"])
        performance += [_metric(m, row["metrics"].get(m), slice_name, cis.get(m)) for m in metrics]
    for h, slice_name in headline_entries(data):
        performance.append(_metric(h["metric"], h.get("value"), slice_name, h.get("ci")))
    return [p for p in performance if p]


def _model_details(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the model's name, version, owner and an overview naming the audit and verdict."""
    audit = data["audit"]
    tool = data.get("tool") or {}
    overview = (
        f"Fairness audit {audit.get('id', '')} by {tool.get('name', 'fairaudit')} "
        f"{tool.get('version', '')} of {audit.get('created_at', '')}: "
    )
    if data.get("policy"):
        layers = ", ".join(str(x.get("source")) for x in data["policy"].get("layers") or [])
        overview += f"verdict {data.get('verdict')} against the policy ({layers})."
    else:
        overview += "no policy was applied."
    details: dict[str, Any] = {"name": str(audit.get("name") or "unnamed"), "overview": overview}
    if audit.get("model_version"):
        details["version"] = {"name": str(audit["model_version"])}
    if audit.get("owner"):
        details["owners"] = [{"name": str(audit["owner"])}]
    return details


def _considerations(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the intended use, data caveats, policy risks and mitigations that apply."""
    audit = data["audit"]
    considerations: dict[str, Any] = {}
    if audit.get("intended_use"):
        considerations["use_cases"] = [{"description": str(audit["intended_use"])}]
    limitations = [
        {"description": str(c.get("message", ""))}
        for c in data.get("data_checks") or []
        if c.get("status") in ("warning", "error")
    ]
    if limitations:
        considerations["limitations"] = limitations
    risks = [
        {"name": str(f.get("message", "")), "mitigation_strategy": str(f.get("next_step", ""))}
        for f in data.get("findings") or []
        if f.get("kind") in ("policy", "not_evaluable", "security")
    ]
    if risks:
        considerations["ethical_considerations"] = risks
    tradeoffs = [{"description": text} for text in mitigation_texts(data, str)]
    if tradeoffs:
        considerations["tradeoffs"] = tradeoffs
    return considerations


def mct_card(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return a Model Card Toolkit (schema v0.0.2) document for the audit result.

    ``performance_metrics`` holds the overall and per-group values of ``card_metrics`` (the task's)
    (slice ``overall`` or e.g. ``sex=female``) and the headline disparities (slice: the
    grouping; a regression audit's derived outcome e.g. ``sex, derived outcome: prediction >
    150``), each with its confidence interval when the audit computed one.
    """
    audit = data["audit"]
    data_lineage = data["lineage"].get("data") or {}
    dataset: dict[str, Any] = {
        "name": dataset_identity(data)[0],
        "sensitive": {"sensitive_data": [str(f) for f in audit.get("sensitive_features") or []]},
        "description": f"Evaluation set: {data_lineage.get('rows')} rows, "
        f"SHA-256 {data_lineage.get('sha256')}.",
    }
    card: dict[str, Any] = {
        "schema_version": MCT_SCHEMA_VERSION,
        "model_details": _model_details(data),
        "model_parameters": {"data": [dataset]},
        "quantitative_analysis": {"performance_metrics": _performance(data)},
    }
    considerations = _considerations(data)
    if considerations:
        card["considerations"] = considerations
    return card
