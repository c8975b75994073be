"""``fairaudit diff`` of two data audits: which data-bias numbers and proxies moved.

A row is matched by its feature, group, comparison, metric and column; it moved beyond its
intervals when the old and new intervals do not overlap, as in the model audit's diff. A
proxy is matched by its sensitive feature and feature; its AUC moved beyond the folds when
the old and new fold ranges do not overlap.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from fairaudit.display import terminal_text
from fairaudit.outputs._data_report_view import who
from fairaudit.outputs._diff_compute import DiffError

__all__ = ["MSG_MIXED_KINDS", "diff_data_reports", "format_data_diff"]

MSG_MIXED_KINDS = (
    "cannot compare a data audit with a model audit: {old} is {old_kind}, {new} is {new_kind}"
)


def _key(row: Mapping[str, Any]) -> str:
    parts = [row.get(k) for k in ("feature", "group", "reference", "metric", "column")]
    return json.dumps(parts, sort_keys=True, ensure_ascii=False)


def _apart(old: Sequence[float | None] | None, new: Sequence[float | None] | None) -> bool:
    """Return True when two intervals are both known and do not overlap."""
    if not old or not new or None in (*old, *new):
        return False
    return bool(old[1] < new[0] or new[1] < old[0])  # type: ignore[operator]


def _change(old: float | None, new: float | None) -> float | None:
    return None if old is None or new is None else new - old


def _row_changes(old: Mapping[str, Any], new: Mapping[str, Any], threshold: float) -> dict:
    before = {_key(r): r for r in old["data_bias"]}
    after = {_key(r): r for r in new["data_bias"]}
    changed = []
    for key in sorted(before.keys() & after.keys()):
        o, n = before[key], after[key]
        change = _change(o["value"], n["value"])
        if change is None or change == 0 or abs(change) < threshold:
            continue
        group, against = who(n.get("group"), n.get("reference"))
        changed.append(
            {
                "feature": n["feature"],
                "group": group,
                "against": against,
                "metric": n["metric"],
                "old": o["value"],
                "new": n["value"],
                "change": change,
                "beyond_intervals": _apart(o.get("ci"), n.get("ci")),
            }
        )
    changed.sort(key=lambda c: (not c["beyond_intervals"], -abs(c["change"])))
    return {
        "rows": changed,
        "appeared": len(after.keys() - before.keys()),
        "disappeared": len(before.keys() - after.keys()),
    }


def _proxy_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    def index(report: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
        return {(a["sensitive"], f["feature"]): f for a in report["proxies"] for f in a["features"]}

    before, after = index(old), index(new)
    changes = []
    for key in sorted(before.keys() & after.keys()):
        o, n = before[key], after[key]
        changes.append(
            {
                "sensitive": key[0],
                "feature": key[1],
                "old_auc": o["auc"],
                "new_auc": n["auc"],
                "change": _change(o["auc"], n["auc"]),
                "beyond_folds": _apart(o.get("auc_folds"), n.get("auc_folds")),
                "flagged": [o["flagged"], n["flagged"]],
            }
        )
    changes.sort(key=lambda c: (not c["beyond_folds"], -abs(c["change"] or 0.0)))
    return changes


def diff_data_reports(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    *,
    threshold: float = 0.0,
    names: tuple[str, str] = ("old", "new"),
) -> dict[str, Any]:
    """Return what changed between two data audits (their JSON forms) as a JSON-ready dict.

    Rows whose value changed by less than ``threshold`` are left out. Raises DiffError when
    one of the two is not a data audit.
    """
    kinds = [r.get("kind") or "model" for r in (old, new)]
    if kinds != ["data", "data"]:
        raise DiffError(
            MSG_MIXED_KINDS.format(old=names[0], old_kind=kinds[0], new=names[1], new_kind=kinds[1])
        )
    options = sorted(
        k
        for k in old["options"].keys() | new["options"].keys()
        if old["options"].get(k) != new["options"].get(k)
    )
    return {
        "kind": "data",
        "old": old["audit"]["id"],
        "new": new["audit"]["id"],
        "data_changed": old["data"]["sha256"] != new["data"]["sha256"],
        "options_changed": options,
        **_row_changes(old, new, threshold),
        "proxies": _proxy_changes(old, new),
    }


def format_data_diff(diff: Mapping[str, Any], *, show_all: bool = False, top: int = 10) -> str:
    """Return the diff as text: what moved beyond its intervals first, then the largest moves."""
    rows = diff["rows"] if show_all else diff["rows"][:top]
    beyond = sum(1 for r in diff["rows"] if r["beyond_intervals"])
    lines = [
        f"Old: data audit {diff['old'][:12]}",
        f"New: data audit {diff['new'][:12]}",
        f"Data: {'changed' if diff['data_changed'] else 'unchanged'}; options changed: "
        + (", ".join(diff["options_changed"]) or "none"),
        f"Rows moved beyond their intervals: {beyond} of {len(diff['rows'])} changed "
        f"({diff['appeared']} appeared, {diff['disappeared']} disappeared)",
    ]
    for r in rows:
        group, against = terminal_text(r["group"]), terminal_text(r["against"])
        versus = f" vs {against}" if against else ""
        mark = " *" if r["beyond_intervals"] else ""
        lines.append(
            f"  {r['metric']} {group}{versus}: {r['old']:.4f} -> {r['new']:.4f} "
            f"({r['change']:+.4f}){mark}"
        )
    moved = [p for p in diff["proxies"] if p["change"]]
    lines.append(f"Proxies whose AUC changed: {len(moved)}")
    for p in moved if show_all else moved[:top]:
        mark = " *" if p["beyond_folds"] else ""
        name = f"{terminal_text(p['feature'])} for {terminal_text(p['sensitive'])}"
        lines.append(
            f"  {name}: AUC {p['old_auc']:.3f} -> {p['new_auc']:.3f} ({p['change']:+.3f}){mark}"
        )
    lines.append("* moved beyond the intervals (rows) or the fold range (proxies)")
    return "\n".join(lines)
