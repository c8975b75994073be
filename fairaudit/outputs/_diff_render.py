"""A diff of two audits as text for a terminal and as one self-contained HTML page."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fairaudit.display import group_text, terminal_text
from fairaudit.outputs._diff_model import (
    STATUSES,
    AuditDiff,
    AuditRef,
    GroupChange,
    Interval,
    MetricChange,
    Status,
)

__all__ = [
    "HEADINGS",
    "DiffContext",
    "build_diff_context",
    "format_text",
    "render_diff_html",
    "write_diff_html",
]

#: How each status is headed in the text and HTML output.
HEADINGS: dict[Status, str] = {
    "beyond intervals": "Moved beyond their intervals",
    "became undefined": "Became undefined",
    "became defined": "Became defined",
    "within intervals": "Changed within their intervals",
    "no intervals": "Changed, without intervals to judge",
}


def _number(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4f}"


def _interval(ci: Interval | None) -> str:
    return "" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _delta(change: MetricChange) -> str:
    delta = change.delta
    return "" if delta is None else f"{delta:+.4f}"


def _section(change: MetricChange) -> str:
    return change.section.replace("_", "-")  # four_fifths is shown four-fifths


def _change_line(change: MetricChange) -> str:
    where = f"{_section(change)}: {change.label}"
    numbers = f"{_number(change.old)} -> {_number(change.new)}"
    delta = _delta(change)
    intervals = ""
    if change.old_ci or change.new_ci:
        intervals = (
            f"  {_interval(change.old_ci) or 'none'} -> {_interval(change.new_ci) or 'none'}"
        )
    return f"  {where}  {change.quantity}  {numbers}" + (f" ({delta})" if delta else "") + intervals


def format_text(diff: AuditDiff, *, show_all: bool = False) -> str:
    """Return the diff as text for a terminal (within-interval changes counted unless shown).

    Control and bidi characters in the files' values are shown as escapes (``terminal_text``).
    """
    lines = [f"Old: {diff.old.describe()}", f"New: {diff.new.describe()}"]
    if diff.verdict_changed:
        lines.append(
            f"Verdict changed: {diff.old.verdict or 'none'} -> {diff.new.verdict or 'none'}"
        )
    elif diff.old.verdict is None:
        lines.append("Verdict: none (no policy in either audit)")
    else:
        lines.append(f"Verdict unchanged: {diff.new.verdict}")
    lines.append(
        "Data: "
        + ("changed" if diff.old.data_sha256 != diff.new.data_sha256 else "unchanged")
        + "; model file: "
        + ("changed" if diff.old.model_sha256 != diff.new.model_sha256 else "unchanged")
    )
    for title, features in (
        ("Features added", diff.features_added),
        ("Features removed", diff.features_removed),
    ):
        if features:
            lines.append(f"{title}: {', '.join(features)}")
    for title, groups in (
        ("Groups appeared", diff.groups_added),
        ("Groups disappeared", diff.groups_removed),
    ):
        for group in groups:
            lines.append(f"{title}: {group_text(group.group)} ({group.feature}, n={group.count})")
    lines.extend(f"Note: {note}" for note in diff.notes)
    for status in STATUSES:
        changed = diff.by_status(status)
        listed = show_all or status not in ("within intervals", "no intervals")
        if changed or status == "beyond intervals":
            hint = "" if listed or not changed else " (--all lists them)"
            lines.append(f"{HEADINGS[status]}: {len(changed)}{hint}")
        if listed:
            lines.extend(_change_line(c) for c in changed)
    return "\n".join(terminal_text(line) for line in lines)


@dataclass
class DiffContext:
    """Everything ``templates/diff.html`` reads. Every string is shown with its control and
    bidi characters made visible, then escaped by Jinja2 (see ``template_environment``).

    ``sections`` pairs a heading with its change rows; each row is a dict of display strings
    (``section``, ``where``, ``quantity``, ``old``, ``new``, ``delta``, ``old_ci``,
    ``new_ci``, ``status``).
    """

    title: str
    diff: dict[str, Any]
    old: AuditRef
    new: AuditRef
    verdict_changed: bool
    notes: list[str]
    groups_added: list[dict[str, Any]]
    groups_removed: list[dict[str, Any]]
    sections: list[tuple[str, list[dict[str, str]]]]
    data_json: Any
    tool_version: str


def _row(change: MetricChange) -> dict[str, str]:
    return {
        "section": _section(change),
        "where": change.label,
        "quantity": change.quantity,
        "old": _number(change.old),
        "new": _number(change.new),
        "delta": _delta(change),
        "old_ci": _interval(change.old_ci),
        "new_ci": _interval(change.new_ci),
        "status": change.status,
    }


def build_diff_context(diff: AuditDiff) -> DiffContext:
    """Return the template context for a diff page."""
    from fairaudit._version import __version__
    from fairaudit.outputs._report import embedded_json

    def groups(items: Sequence[GroupChange]) -> list[dict[str, Any]]:
        return [
            {"feature": g.feature, "group": group_text(g.group), "count": g.count} for g in items
        ]

    name = diff.new.name or diff.old.name or "audit"
    return DiffContext(
        title=f"Fairness audit diff: {name}",
        diff=diff.to_dict(),
        old=diff.old,
        new=diff.new,
        verdict_changed=diff.verdict_changed,
        notes=diff.notes,
        groups_added=groups(diff.groups_added),
        groups_removed=groups(diff.groups_removed),
        sections=[(HEADINGS[s], [_row(c) for c in diff.by_status(s)]) for s in STATUSES],
        data_json=embedded_json(diff.to_dict()),
        tool_version=__version__,
    )


def render_diff_html(diff: AuditDiff) -> str:
    """Return the diff as one self-contained HTML page (no external resources)."""
    from fairaudit.outputs._report import template_environment

    template = template_environment().get_template("diff.html")
    return template.render(page=build_diff_context(diff))


def write_diff_html(diff: AuditDiff, path: str | os.PathLike[str]) -> Path:
    """Write the diff page atomically; return its path."""
    from fairaudit.paths import atomic_write_bytes

    target = Path(path)
    atomic_write_bytes(target, render_diff_html(diff).encode("utf-8"))
    return target
