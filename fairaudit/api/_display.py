"""How a result shows itself in a notebook: a compact HTML card (``templates/_notebook.html``,
script-free, every data value escaped) and a Markdown/text form, both read from the JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fairaudit.display import (
    display_text,
    favorable_outcome_label,
    favorable_worse_off_texts,
    is_regression,
    regression_headline_texts,
    terminal_text,
    worse_off_entries,
    worse_off_text,
)
from fairaudit.measure import MSG_REGRESSION_MITIGATION
from fairaudit.outputs import group_label, metrics_chart, template_environment
from fairaudit.result import BASELINE

__all__ = ["card_context", "render_card", "render_markdown"]

_VERDICTS = {
    "pass": "Policy: pass",
    "warn": "Policy: warn",
    "fail": "Policy: fail",
    None: "No policy: numbers only",
}
_WORSE_OFF_SHOWN = 5
_SEE_ALL = " result.mitigations lists every variant."
NO_WORSE_OFF = "No group's favourable rate is below the ratio band."
#: A regression result's headline lines stand where a binary one lists who is worse off.
REGRESSION_TITLE = "Largest gaps (regression)"
NO_REGRESSION_HEADLINE = "No grouping has two groups large enough to compare."
REGRESSION_MITIGATION = MSG_REGRESSION_MITIGATION + "."


def _failed_rules(data: Mapping[str, Any]) -> list[str]:
    rules = (data.get("policy") or {}).get("rules") or []
    return [str(r["id"]) for r in rules if r.get("status") == "fail"]


def _chart_grouping(data: Mapping[str, Any]) -> str:
    """Return the grouping the card's chart shows: the first whose favourable rate is below
    the band, else the first with a worse-off group, else the first (for a regression
    result, the grouping with the worst MAE ratio)."""
    if is_regression(data):
        ratios = [
            h for h in data["headline"]
            if h["metric"] == "max_group_mae_ratio" and h.get("value") is not None
        ]  # fmt: skip
        if ratios:
            return str(max(ratios, key=lambda h: float(h["value"]))["feature"])
    summary = data.get("summary")
    worse = worse_off_entries(summary) or (summary or {}).get("worse_off") or []
    return str(worse[0]["feature"]) if worse else str(data["audit"]["groupings"][0])


def _chart(data: Mapping[str, Any]) -> Any:
    """Return the card's one chart: selection rate (regression: MAE) by group of one
    grouping, with intervals."""
    grouping = _chart_grouping(data)
    rows = [r for r in data["metrics"]["by_group"] if r["feature"] == grouping]
    if not rows:
        return None
    metric = "mean_absolute_error" if is_regression(data) else "selection_rate"
    labels = [group_label(r["group"]) for r in rows]
    values = [[r["metrics"].get(metric) for r in rows]]
    intervals = [[((r.get("ci") or {}).get(metric)) for r in rows]]
    reference = next((label for label, r in zip(labels, rows) if r.get("reference")), None)
    return metrics_chart(
        f"{metric.replace('_', ' ').capitalize()} by {grouping}",
        labels,
        [metric],
        values,
        intervals if any(ci for ci in intervals[0]) else None,
        reference=reference,
    )


def _overall_mae(entry: Mapping[str, Any]) -> float | None:
    value = ((entry.get("metrics") or {}).get("overall") or {}).get("mean_absolute_error")
    return None if value is None else float(value)


def _regression_mitigation_text(entries: Any) -> str:
    """Return what the BoundedGroupLoss comparison found: each variant's overall MAE against
    the audited model's, or why none ran."""
    if not entries:
        return REGRESSION_MITIGATION
    parts = []
    for entry in entries:
        name = entry.get("constraint") or "the audited model"
        if entry.get("status") != "ok":
            parts.append(f"{name}: failed ({entry.get('reason')})")
        elif _overall_mae(entry) is not None:
            parts.append(f"{name}: MAE {_overall_mae(entry):.3f}")
        else:
            parts.append(f"{name}: ran")
    return "BoundedGroupLoss comparison: " + "; ".join(parts) + "." + _SEE_ALL


def _mitigation_text(data: Mapping[str, Any]) -> str:
    summary = data.get("mitigation_summary")
    if not summary and is_regression(data):
        return _regression_mitigation_text(data.get("mitigations"))
    if not summary:
        return (
            "No mitigation comparison in this result "
            "(it needs a model or scores; mitigations=() turns it off)."
        )
    judged = [
        m for m in (data.get("policy") or {}).get("mitigations") or [] if m["method"] != BASELINE
    ]
    passing = sum(1 for m in judged if m["verdict"] == "pass")
    verdicts = f" {passing} of {len(judged)} variants pass the policy." if judged else ""
    best = summary.get("best")
    if not best:
        return f"No variant is recommended by the trade-off rule.{verdicts}" + _SEE_ALL
    return f"Recommended: {best}.{verdicts}" + _SEE_ALL


def _headline_rows(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the headline metrics one row per metric, one cell (value, interval) per
    grouping, in the result's order; a regression result with a favourable threshold adds
    its derived outcome's (fairlearn's six metrics), each named after its label, e.g.
    ``derived outcome: prediction > 150: demographic_parity_ratio``."""
    rows: dict[str, dict[str, Any]] = {}
    for entry in data["headline"]:
        cells = rows.setdefault(entry["metric"], {})
        cells[entry["feature"]] = entry
    label = favorable_outcome_label(data)
    if label is not None:
        for entry in data["summary"]["favorable_outcome"].get("headline") or []:
            cells = rows.setdefault(f"{label}: {entry['metric']}", {})
            cells[entry["feature"]] = entry
    return [{"metric": metric, "cells": cells} for metric, cells in rows.items()]


def card_context(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return what the notebook card shows, read from an audit result's JSON."""
    verdict = data.get("verdict")
    regression = is_regression(data)
    entries = worse_off_entries(data.get("summary"))
    worse = [display_text(worse_off_text(e)) for e in entries[:_WORSE_OFF_SHOWN]]
    if regression:  # with a favourable threshold, the derived outcome's worse-off groups too
        texts = regression_headline_texts(data) + favorable_worse_off_texts(data)
        worse = [display_text(text) for text in texts]
    confidence = (data.get("uncertainty") or {}).get("confidence")
    return {
        "name": data["audit"].get("name"),
        "verdict": verdict,
        "verdict_class": verdict or "none",
        "verdict_text": _VERDICTS.get(verdict, f"Policy: {verdict}"),
        "failed_rules": _failed_rules(data),
        "rows": data["lineage"]["data"].get("rows"),
        "features": data["audit"]["sensitive_features"],
        "worse_off": worse,
        "worse_off_title": REGRESSION_TITLE if regression else "Who is worse off",
        "worse_off_prefix": "" if regression else "worse off: ",
        "no_worse_off": NO_REGRESSION_HEADLINE if regression else NO_WORSE_OFF,
        "groupings": data["audit"]["groupings"],
        "headline": _headline_rows(data),
        "confidence": f"{confidence:.0%}" if isinstance(confidence, float) else "",
        "chart": _chart(data),
        "mitigation": _mitigation_text(data),
    }


def render_card(data: Mapping[str, Any]) -> str:
    """Return the notebook card as an HTML fragment."""
    template = template_environment().get_template("_notebook.html")
    return template.render(card=card_context(data))


def _plain(value: Any) -> str:
    return terminal_text(value)


def _markdown(value: Any) -> str:
    """Return a value as Markdown text: control characters escaped, markup characters too."""
    text = display_text(value)
    for char in "\\`*_[]<>|":
        text = text.replace(char, "\\" + char)
    return text


def _headline_cell(entry: Mapping[str, Any] | None) -> str:
    if entry is None:
        return ""
    value = "undefined" if entry.get("value") is None else f"{entry['value']:.3f}"
    ci = entry.get("ci")
    return value + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci and None not in ci[:2] else "")


def render_markdown(data: Mapping[str, Any], *, plain: bool = False) -> str:
    """Return the result as Markdown: verdict, who is worse off, the headline metrics;
    ``plain`` writes the same lines as text for a terminal (``repr``)."""
    _md = _plain if plain else _markdown
    card = card_context(data)
    bold = "" if plain else "**"
    lines = [f"{bold}Fairness audit: {_md(card['name'])}{bold} — {card['verdict_text']}"]
    if card["failed_rules"]:
        lines[0] += f" (failed rules: {_md(', '.join(card['failed_rules']))})"
    lines += ["", f"{card['rows']} rows; by {_md(', '.join(card['features']))}.", ""]
    prefix = card["worse_off_prefix"]
    lines += [f"- {prefix}{_md(w)}" for w in card["worse_off"]] or [card["no_worse_off"]]
    groupings = card["groupings"]
    lines += ["", "| metric | " + " | ".join(_md(g) for g in groupings) + " |"]
    lines.append("| --- |" + " --- |" * len(groupings))
    for row in card["headline"]:
        cells = [_headline_cell(row["cells"].get(g)) for g in groupings]
        lines.append(f"| {_md(row['metric'])} | " + " | ".join(cells) + " |")
    lines += ["", card["mitigation"]]
    return "\n".join(lines) + "\n"
