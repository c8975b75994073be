"""The data checks a measurement makes about its groups: the reference, small groups,
single-class groups and empty intersections."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fairaudit.data import Check
from fairaudit.display import group_text
from fairaudit.errors import ConfigError
from fairaudit.measure._metrics import GroupTable
from fairaudit.vocabulary import INTERSECTION

__all__ = ["MSG_REFERENCE_HAS_NO_ROWS", "group_checks", "reference_checks"]

MSG_REFERENCE_HAS_NO_ROWS = (
    "reference group {wanted} has no rows in the data; choose a group that occurs (see the "
    "group sizes), or change the bins"
)


def reference_checks(wanted: Mapping[str, str], tables: Sequence[GroupTable]) -> list[Check]:
    """Return a warning for each grouping whose named reference group has no rows.

    Raises ConfigError when a single feature's named reference has no rows; for the
    intersection the largest cell stands in, with a warning.
    """
    checks = []
    for table in tables:
        named = {f: v for f, v in wanted.items() if f in table.features}
        if not named:
            continue
        chosen = table.groups[table.reference]
        if all(chosen[f] == v for f, v in named.items()):
            continue
        text = ", ".join(f"{f}={v!r}" for f, v in named.items())
        if table.name != INTERSECTION:
            raise ConfigError(MSG_REFERENCE_HAS_NO_ROWS.format(wanted=text))
        checks.append(
            Check(
                "reference",
                "warning",
                f"the intersection has no rows with {text}; its reference group is the "
                f"largest cell instead: {group_text(chosen)}",
            )
        )
    return checks


def _how_many(n: int, noun: str) -> str:
    """Return e.g. '1 group has' or '3 groups have'."""
    return f"1 {noun} has" if n == 1 else f"{n} {noun}s have"


def _names(selected: list[dict[str, Any]]) -> str:
    return "; ".join(f"{group_text(r['group'])} ({r['count']})" for r in selected)


def group_checks(
    rows: Sequence[dict[str, Any]],
    min_group_size: int,
    n_cells_possible: int,
    n_cells: int,
    n_features: int,
) -> list[Check]:
    """Return the checks on the group rows: too small, one true class, empty intersections."""
    checks = []
    small = [r for r in rows if r["insufficient_data"]]
    if small:
        checks.append(
            Check(
                "insufficient_data",
                "warning",
                f"{_how_many(len(small), 'group')} fewer than {min_group_size} rows and "
                f"{'is' if len(small) == 1 else 'are'} marked "
                f"'insufficient data': {_names(small)}",
            )
        )
    else:
        checks.append(
            Check("insufficient_data", "ok", f"every group has at least {min_group_size} rows")
        )
    single = [r for r in rows if r.get("single_class")]
    if single:
        checks.append(
            Check(
                "single_class",
                "warning",
                f"{_how_many(len(single), 'group')} only one true class, so "
                f"{'its' if len(single) == 1 else 'their'} rates conditioned "
                f"on the other class are undefined (null): {_names(single)}",
            )
        )
    if n_features > 1 and n_cells < n_cells_possible:
        checks.append(
            Check(
                "empty_intersections",
                "info",
                f"{n_cells_possible - n_cells} of {n_cells_possible} possible intersectional "
                "groups have no rows and are not reported",
            )
        )
    return checks
