"""Which groups of a large grouping the HTML report draws and lists, and in what order.

A grouping of at most ``TOP_GROUPS`` groups is shown whole. A larger one is split: the
``TOP_GROUPS`` worst off (lowest selection rate, the metric of the headline demographic
parity, or the highest when a positive prediction is adverse; groups with enough data
first), plus the reference group, are drawn and listed first; the others follow in the
folded tables, largest first. Past :data:`fairaudit.vocabulary.HTML_MAX_GROUPS` groups only the
worst ``HTML_MAX_GROUPS`` are in the HTML at all: the rest are counted (``omitted``) and
stay in the JSON, so the page stays readable and its size bounded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fairaudit.vocabulary import HTML_MAX_GROUPS

__all__ = ["TOP_GROUPS", "GroupSplit", "split_groups"]

#: A grouping with more groups than this shows its worst groups in full and folds the
#: rest into a <details> element; its charts draw only the worst groups.
TOP_GROUPS = 20

Rows = list[dict[str, Any]]


@dataclass
class GroupSplit:
    """The rows drawn and listed first, the other rows shown, and how many are left out."""

    top: Rows
    rest: Rows = field(default_factory=list)
    omitted: int = 0


def _badness(row: dict[str, Any], adverse: bool) -> tuple[bool, bool, float]:
    rate = row["metrics"].get("selection_rate")
    favorable = (1.0 - rate if adverse else rate) if rate is not None else 0.0
    return (row["insufficient_data"], rate is None, favorable)


def _key(group: dict[str, str]) -> str:
    return json.dumps(group, sort_keys=True)


def split_groups(rows: Rows, *, limit: int = HTML_MAX_GROUPS, adverse: bool = False) -> GroupSplit:
    """Return the split of one grouping's rows (see the module docstring).

    ``adverse``: a positive prediction is adverse, so the worst off are the groups with the
    highest selection rate (flagged most often).
    """
    if len(rows) <= TOP_GROUPS:
        return GroupSplit(rows)
    ranked = sorted(rows, key=lambda r: _badness(r, adverse))  # stable: ties keep JSON order
    top = ranked[:TOP_GROUPS] + [r for r in ranked[TOP_GROUPS:] if r["reference"]]
    kept = ranked[:limit] + [r for r in ranked[limit:] if r["reference"]]
    first = {_key(r["group"]) for r in top}
    rest = sorted((r for r in kept if _key(r["group"]) not in first), key=lambda r: -r["count"])
    return GroupSplit(top, rest, len(rows) - len(kept))
