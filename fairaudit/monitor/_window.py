"""One window of a monitor: its file audited with the baseline's options, reduced to counts.

The window's rows go through the same audit as ``fairaudit run`` (the numpy or DuckDB
engine, the same checks, the same measurement), without intervals or mitigation; what the
monitor keeps of the result is each group's confusion counts, which are additive, so the
report can be rebuilt from the stored counts of every window.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["COUNT_KEYS", "audit_window", "group_counts", "group_key", "group_label"]

#: The confusion counts kept per group and window.
COUNT_KEYS = ("tp", "fp", "fn", "tn")


def group_key(grouping: str, group: Mapping[str, Any]) -> str:
    """Return the text that identifies a group of a grouping (its values, in feature order)."""
    return f"{grouping}|" + "|".join(f"{k}={group[k]}" for k in sorted(group))


def group_label(group: Mapping[str, Any]) -> str:
    """Return a group's label for pages and the console: ``sex=f`` or ``sex=f, age=young``."""
    return ", ".join(f"{k}={v}" for k, v in group.items())


def group_counts(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return each group's counts of an audit result: grouping, group and ``COUNT_KEYS``."""
    out = []
    for row in results.get("metrics", {}).get("by_group", []):
        confusion = row.get("confusion") or {}
        counts = {k: int(confusion.get(k, 0) or 0) for k in COUNT_KEYS}
        group = {str(k): str(v) for k, v in (row.get("group") or {}).items()}
        out.append({"grouping": str(row.get("feature")), "group": group, **counts})
    return out


def audit_window(spec: Any) -> dict[str, Any]:
    """Return the window's record: file SHA-256, rows, and per-group counts (``counts``).

    ``spec`` is ``_baseline.window_spec``'s AuditSpec for the window's file.
    """
    from fairaudit.pipe import run_audit

    result = run_audit(spec).to_dict()
    data = result["lineage"]["data"]
    return {
        "file_sha256": str(data["sha256"]),
        "file_name": Path(str(data.get("file_name") or spec.data)).name,
        "rows": int(data.get("rows") or 0),
        "counts": group_counts(result),
        "groupings": list(result["audit"].get("groupings") or []),
    }
