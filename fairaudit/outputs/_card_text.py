"""Markdown building blocks of a model card's fairness section: inert text, numbers with
their intervals, a headline table and a "Who is worse off" list.

Every value from the data is made inert Markdown (``md``): no HTML, links or markup.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from fairaudit.display import display_text, worse_off_text

__all__ = ["BETWEEN_GROUPS", "headline_table", "label", "md", "num", "with_ci", "worse_off_lines"]

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md(value: Any) -> str:
    """Return untrusted text inert in Markdown and in table cells: no HTML, links or markup.

    Control and bidi characters are shown as escapes first (``display_text``), so that no value
    can reorder the text around it.
    """
    text = " ".join(display_text(value).split())  # a newline would end a table row or paragraph
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def num(value: Any, digits: int = 4) -> str:
    """Return a number as cards and the report (its ``num`` filter) show it: ``digits``
    places, counts with separators, 'undefined' for null or not finite."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "undefined"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return f"{float(value):.{digits}f}"


def with_ci(value: Any, ci: Any) -> str:
    """Return a value and, when there is one, its interval in brackets (3 places)."""
    text = num(value)
    if isinstance(ci, list | tuple) and len(ci) == 2 and None not in ci and value is not None:
        text += f" [{float(ci[0]):.3f}, {float(ci[1]):.3f}]"
    return text


def label(metric: str) -> str:
    """Return a metric's name as words (``selection rate``)."""
    return metric.replace("_", " ")


BETWEEN_GROUPS = (
    "between the best- and worst-off group of each grouping, as fairlearn computes them "
    "(differences are 0 and ratios 1 when every group is treated alike)."
)


def headline_table(
    data: Mapping[str, Any], headline: list[Mapping[str, Any]], *, per_class: bool
) -> list[str]:
    """Return headline entries as a table: one row per grouping (and class), one column per
    metric, each value with its interval."""
    metrics = list(dict.fromkeys(h["metric"] for h in headline))
    lines = [
        "| grouping | " + ("class | " if per_class else "")
        + " | ".join(label(m) for m in metrics) + " |",
        "| --- | " + ("--- | " if per_class else "") + " | ".join("---:" for _ in metrics) + " |",
    ]  # fmt: skip
    for grouping in data["audit"].get("groupings") or []:
        entries = [h for h in headline if h["feature"] == grouping]
        for class_label in list(dict.fromkeys(h.get("class") for h in entries)) or [None]:
            values = {h["metric"]: h for h in entries if h.get("class") == class_label}
            cells = [
                with_ci(values[m].get("value"), values[m].get("ci")) if m in values else ""
                for m in metrics
            ]
            key = f"| {md(grouping)} | " + (f"{md(class_label)} | " if per_class else "")
            lines.append(key + " | ".join(cells) + " |")
    return lines


def worse_off_lines(
    data: Mapping[str, Any], entries: list[Mapping[str, Any]], outcome: str, level: str
) -> list[str]:
    """Return a "Who is worse off" heading (at ``level``) and the entries below the band,
    or nothing without one; ``outcome`` (Markdown) says which outcome's rates."""
    if not entries:
        return []
    low = (data.get("summary") or {}).get("ratio_band", [0.8])[0]
    return [
        f"{level} Who is worse off",
        "",
        f"Groups whose rate of {outcome} is below {num(low, 2)} times the best-off group's:",
        "",
        *(f"- {md(worse_off_text(e))}" for e in entries),
        "",
    ]
