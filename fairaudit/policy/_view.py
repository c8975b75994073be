"""The numbers a policy is judged on, indexed from an audit result (or a mitigation's rows)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fairaudit.policy._model import FAVORABLE_BASES

__all__ = [
    "GroupKey",
    "View",
    "as_interval",
    "between_values",
    "build_view",
    "favorable_view",
    "group_key",
]

GroupKey = tuple[tuple[str, str], ...]


def group_key(group: Mapping[str, Any]) -> GroupKey:
    """Return a group as a hashable key."""
    return tuple((str(k), str(v)) for k, v in group.items())


def as_interval(value: Any) -> tuple[float, float] | None:
    """Return a JSON interval as a pair of floats, None when absent or undefined."""
    if isinstance(value, list | tuple) and len(value) == 2 and None not in value:
        return float(value[0]), float(value[1])
    return None


@dataclass
class View:
    """The numbers evaluation reads, indexed: from a result, or a mitigation's numbers."""

    groupings: list[str]
    min_group_size: int
    groups: dict[str, dict[GroupKey, dict[str, str]]]
    sizes: dict[str, dict[GroupKey, int]]
    values: dict[str, dict[str, dict[GroupKey, float | None]]]
    disparities: dict[tuple[str, str], list[Mapping[str, Any]]]
    headline: dict[tuple[str, str], Mapping[str, Any]]
    positive_favorable: bool = True
    worse_off: dict[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    #: The metrics over every row (``metrics.overall``): a regression rule's denominator.
    overall: Mapping[str, Any] = field(default_factory=dict)


def build_view(
    result: Mapping[str, Any],
    *,
    disparities: Sequence[Mapping[str, Any]] | None = None,
    headline: Sequence[Mapping[str, Any]] | None = None,
) -> View:
    """Index ``result``; with ``disparities``/``headline`` (a mitigation's), take group values
    from those rows and only the group sizes from the result."""
    audit = result.get("audit") or {}
    by_group = (result.get("metrics") or {}).get("by_group") or []
    groupings = list(audit.get("groupings") or dict.fromkeys(r["feature"] for r in by_group))
    view = View(
        groupings=groupings,
        min_group_size=int(audit.get("min_group_size") or 0),
        groups={},
        sizes={},
        values={},
        disparities={},
        headline={},
        overall=(result.get("metrics") or {}).get("overall") or {},
    )
    for row in by_group:
        key = group_key(row["group"])
        view.groups.setdefault(row["feature"], {})[key] = dict(row["group"])
        view.sizes.setdefault(row["feature"], {})[key] = int(row["count"])
        if disparities is None:
            insufficient = row.get("insufficient_metrics") or ()  # below min_denominator
            for metric, value in (row.get("metrics") or {}).items():
                value = None if metric in insufficient else value
                view.values.setdefault(row["feature"], {}).setdefault(metric, {})[key] = value
    rows = (result.get("disparities") or []) if disparities is None else disparities
    for d in rows:
        view.disparities.setdefault((d["feature"], d["metric"]), []).append(d)
        if disparities is not None:
            metric_values = view.values.setdefault(d["feature"], {}).setdefault(d["metric"], {})
            metric_values[group_key(d["group"])] = d.get("value")
            metric_values[group_key(d["reference"])] = d.get("reference_value")
    for h in (result.get("headline") or []) if headline is None else headline:
        view.headline[(h["feature"], h["metric"])] = h
        # A rate below min_denominator judges nothing: a mitigation's rows do not say which
        # those are, its headline entries do (the audit's rows say so themselves).
        for left_out in h.get("excluded") or ():
            rates = view.values.get(h["feature"], {}).get(left_out["metric"])
            if rates is not None:
                rates[group_key(left_out["group"])] = None
    view.positive_favorable = audit.get("positive_prediction", "favorable") == "favorable"
    if disparities is None:  # a mitigation's numbers have no worse-off summary
        for w in (result.get("summary") or {}).get("worse_off") or []:
            view.worse_off[(w["feature"], w["metric"])] = w
    return view


def favorable_view(result: Mapping[str, Any], section: Mapping[str, Any] | None) -> View | None:
    """Return the view of a derived favourable outcome's numbers, None without ``section``.

    ``section`` is a binary measurement of "the outcome is favourable" (a multiclass
    audit's ``summary.favorable_view``, a regression audit's ``summary.favorable_outcome``):
    the rates from its disparity rows, rates below min_denominator from its headline's
    ``excluded`` entries, its worse-off entries (the four-fifths ratio and its interval);
    the groups, their sizes and min_group_size from ``result``. A grouping with one group
    has no disparity rows: no rate to compare, so fewer than two groups (not a missing metric).
    """
    if not section:
        return None
    view = build_view(
        result,
        disparities=section.get("disparities") or [],
        headline=section.get("headline") or [],
    )
    for feature in view.groups:
        for base in dict.fromkeys(b for pair in FAVORABLE_BASES.values() for b in pair):
            view.values.setdefault(feature, {}).setdefault(base, {})
    for w in section.get("worse_off") or []:
        view.worse_off[(w["feature"], w["metric"])] = w
    return view


def between_values(
    values: Mapping[GroupKey, float | None], kind: str
) -> tuple[float | None, list[GroupKey]]:
    """Return fairlearn's between-groups value (max - min or min / max) and the two groups."""
    defined = [(v, k) for k, v in values.items() if v is not None and not math.isnan(v)]
    if len(defined) < 2:
        return None, []
    low_value, low_key = min(defined, key=lambda pair: pair[0])
    high_value, high_key = max(defined, key=lambda pair: pair[0])
    if kind == "difference":
        return high_value - low_value, [low_key, high_key]
    return (low_value / high_value if high_value != 0 else None), [low_key, high_key]
