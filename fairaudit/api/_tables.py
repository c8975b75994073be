"""Tidy pandas views of an audit result, built from its JSON (never recomputed), so they
cannot disagree with the report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from fairaudit.display import group_text

__all__ = [
    "by_group_frame",
    "disparities_frame",
    "favorable_headline_frame",
    "favorable_worse_off_frame",
    "headline_frame",
    "mitigations_frame",
    "worse_off_frame",
]


def _interval(row: dict[str, Any], ci: Sequence[float | None] | None, name: str) -> None:
    low, high = (ci or (None, None))[:2] if ci else (None, None)
    row[f"{name}_low"], row[f"{name}_high"] = low, high


def by_group_frame(data: Mapping[str, Any]) -> pd.DataFrame:
    """Return one row per group and grouping: its features' values (a column per feature,
    ``group:<name>`` when the name is one of the other columns'), count, each metric and,
    when the audit computed them, the metric's interval bounds (``<metric>_low/_high``)."""
    names = [n for n in data["metrics"]["names"] if n != "count"]
    features = list(data["audit"]["sensitive_features"])
    # A feature named like one of the table's own columns (count, grouping, a metric, ...)
    # keeps its values under "group:<name>" rather than overwrite or be overwritten.
    taken = {"grouping", "count", "reference", "insufficient_data"}
    taken |= {f"{n}{end}" for n in names for end in ("", "_low", "_high")}
    columns = {f: f"group:{f}" if f in taken else f for f in features}
    rows = []
    for entry in data["metrics"]["by_group"]:
        row: dict[str, Any] = {"grouping": entry["feature"]}
        row.update({columns[f]: entry["group"].get(f) for f in features})
        row["count"] = entry["count"]
        cis = entry.get("ci") or {}
        for metric in names:
            row[metric] = entry["metrics"].get(metric)
            if cis:
                _interval(row, cis.get(metric), metric)
        row["reference"] = entry.get("reference", False)
        row["insufficient_data"] = entry.get("insufficient_data", False)
        rows.append(row)
    return pd.DataFrame(rows)


#: The columns of a table read from a list of JSON entries: (column, key, kind); a
#: ``group`` is written as text, an ``interval`` becomes ``<column>_low``/``_high``.
_DISPARITY_COLUMNS = (
    ("grouping", "feature", "value"),
    ("group", "group", "group"),
    ("reference", "reference", "group"),
    ("metric", "metric", "value"),
    ("value", "value", "value"),
    ("reference_value", "reference_value", "value"),
    ("difference", "difference", "value"),
    ("difference", "ci_difference", "interval"),
    ("ratio", "ratio", "value"),
    ("ratio", "ci_ratio", "interval"),
    ("p_value_adjusted", "p_value_adjusted", "value"),
    ("significance", "significance", "value"),
)
_WORSE_OFF_COLUMNS = (
    ("grouping", "feature", "value"),
    ("metric", "metric", "value"),
    ("group", "group", "group"),
    ("count", "count", "value"),
    ("value", "value", "value"),
    ("best_group", "best_group", "group"),
    ("best_value", "best_value", "value"),
    ("ratio", "ratio", "value"),
    ("ratio", "ci_ratio_between", "interval"),
    ("difference", "difference", "value"),
    ("significance", "significance", "value"),
)


def _entries_frame(
    entries: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str, str]]
) -> pd.DataFrame:
    """Return one row per JSON entry with ``columns`` (see ``_DISPARITY_COLUMNS``)."""
    rows = []
    for entry in entries:
        row: dict[str, Any] = {}
        for name, key, kind in columns:
            if kind == "interval":
                _interval(row, entry.get(key), name)
            elif kind == "group":
                row[name] = group_text(entry.get(key) or {})
            else:
                row[name] = entry.get(key)
        rows.append(row)
    return pd.DataFrame(rows)


def disparities_frame(data: Mapping[str, Any]) -> pd.DataFrame:
    """Return one row per group, metric and grouping: its value against the reference
    group's, the difference and ratio with their intervals, and the significance."""
    return _entries_frame(data["disparities"], _DISPARITY_COLUMNS)


def headline_frame(data: Mapping[str, Any]) -> pd.DataFrame:
    """Return the headline metrics (fairlearn's ``*_difference``/``*_ratio`` over groups),
    one row per grouping and metric, with their intervals; ``group`` names a regression
    headline's worst group."""
    rows = []
    # A regression result's headline names the worst group (MAE and RMSE ratios).
    named = any(entry.get("group") for entry in data["headline"])
    for entry in data["headline"]:
        row = {"grouping": entry["feature"], "metric": entry["metric"], "value": entry["value"]}
        _interval(row, entry.get("ci"), "value")
        if named:
            row["group"] = group_text(entry["group"]) if entry.get("group") else None
        rows.append(row)
    columns = ["grouping", "metric", "value", "value_low", "value_high"]
    return pd.DataFrame(rows, columns=columns + (["group"] if named else []))


def worse_off_frame(data: Mapping[str, Any]) -> pd.DataFrame:
    """Return who is worse off: per grouping and rate, the group furthest below the best."""
    entries = (data.get("summary") or {}).get("worse_off") or []
    return _entries_frame(entries, _WORSE_OFF_COLUMNS)


def _favorable_outcome(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return (data.get("summary") or {}).get("favorable_outcome") or {}


def favorable_headline_frame(data: Mapping[str, Any]) -> pd.DataFrame:
    """Return a regression result's derived outcome (``--favorable-above/-below T``) headline:
    fairlearn's demographic parity and equalized odds metrics on it, one row per grouping and
    metric, with their intervals and ``outcome`` (e.g. ``prediction > 150``); no rows without
    a threshold."""
    section = _favorable_outcome(data)
    rows = []
    for entry in section.get("headline") or []:
        row = {"outcome": section["outcome"], "grouping": entry["feature"]}
        row.update(metric=entry["metric"], value=entry["value"])
        _interval(row, entry.get("ci"), "value")
        rows.append(row)
    columns = ["outcome", "grouping", "metric", "value", "value_low", "value_high"]
    return pd.DataFrame(rows, columns=columns)


def favorable_worse_off_frame(data: Mapping[str, Any]) -> pd.DataFrame:
    """Return the derived outcome's four-fifths rows: per grouping and rate, the group furthest
    below the best, as :func:`worse_off_frame` (no rows without a threshold)."""
    frame = _entries_frame(_favorable_outcome(data).get("worse_off") or [], _WORSE_OFF_COLUMNS)
    return frame if len(frame) else pd.DataFrame(columns=_worse_off_names())


def _worse_off_names() -> list[str]:
    names: list[str] = []
    for name, _key, kind in _WORSE_OFF_COLUMNS:
        names += [f"{name}_low", f"{name}_high"] if kind == "interval" else [name]
    return names


def mitigations_frame(data: Mapping[str, Any]) -> pd.DataFrame:
    """Return one row per mitigation variant (the first is the audited model, ``baseline``):
    its status, overall numbers and headline metrics, and the policy's verdict on it."""
    verdicts = {
        (m["method"], m.get("constraint")): m
        for m in ((data.get("policy") or {}).get("mitigations") or [])
    }
    best = (data.get("mitigation_summary") or {}).get("best")  # a method's name, or None
    rows = []
    for entry in data.get("mitigations") or []:
        overall = (entry.get("metrics") or {}).get("overall") or {}
        row: dict[str, Any] = {
            "method": entry["method"],
            "constraint": entry.get("constraint"),
            "status": entry.get("status"),
            "recommended": entry["method"] == best,
            "eligible": entry.get("eligible"),
        }
        for metric in ("accuracy", "selection_rate", "balanced_accuracy"):
            row[metric] = overall.get(metric)
        for headline in entry.get("headline") or []:
            row[f"{headline['metric']} ({headline['feature']})"] = headline.get("value")
        judged = verdicts.get((entry["method"], entry.get("constraint")))
        if judged is not None:
            row["verdict"] = judged["verdict"]
            row["failed_rules"] = ", ".join(judged["failed_rules"])
        rows.append(row)
    return pd.DataFrame(rows)
