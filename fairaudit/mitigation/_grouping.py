"""The grouping mitigations act on: the intersection, or a coarser one when its cells are small.

Group-specific thresholds need, in every group, rows of both classes: at least two of each
to cross-fit at all, and ``MIN_CLASS_ROWS`` of each for thresholds (and TPR, FPR) that are
not noise. With three sensitive features an intersection cell often has no positive row,
and every threshold method used to fail. When the default grouping (the intersection)
cannot be cross-fitted, it falls back to the finest grouping the audit measures in which
every group has enough rows of both classes: a single feature, the one with the largest
demographic parity difference among those that qualify. ``GroupingChoice.reason`` says
which and why, for the report and the console. A grouping the user chose
(``--mitigate-on``) is kept as chosen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fairaudit.mitigation._folds import group_codes, smallest_class_cell

__all__ = ["MIN_CLASS_ROWS", "GroupingChoice", "choose_grouping"]

#: Rows of each class every group needs for its thresholds (the audit passes --min-denominator).
MIN_CLASS_ROWS = 10


@dataclass(frozen=True)
class GroupingChoice:
    """The sensitive columns mitigations act on, and why, if not the requested ones."""

    columns: tuple[str, ...]
    reason: str | None = None


def _name(columns: Sequence[str]) -> str:
    if len(columns) == 1:
        return columns[0]
    return "the intersection of " + ", ".join(columns[:-1]) + f" and {columns[-1]}"


def choose_grouping(
    sensitive: pd.DataFrame,
    y_true: np.ndarray,
    requested: Sequence[str],
    disparity: Mapping[tuple[str, ...], float],
    *,
    min_rows: int = MIN_CLASS_ROWS,
) -> GroupingChoice:
    """Return the grouping to mitigate on: ``requested``, or a single feature if it cannot be.

    ``disparity`` maps a candidate's columns to the audited model's demographic parity
    difference on it (the tie-break among single features). The requested grouping is
    kept whenever every group has 2 rows of each class (enough to cross-fit). Else the
    single features are ranked by: every group has ``min_rows`` of each class; every group
    has 2; larger disparity; then the order of ``requested``. When none can be
    cross-fitted either, the requested grouping is kept (and its methods fail, saying why).
    """
    y = np.asarray(y_true, dtype=bool)
    candidates = [tuple(requested)]
    if len(requested) > 1:
        candidates.extend((column,) for column in requested)
    smallest = {}
    for columns in candidates:
        names, (codes,) = group_codes([sensitive], columns)
        smallest[columns] = smallest_class_cell(codes, names, y)

    def rank(columns: tuple[str, ...]) -> tuple[bool, bool, float]:
        count = smallest[columns][0]
        value = disparity.get(columns, math.nan)
        return count >= min_rows, count >= 2, -math.inf if math.isnan(value) else value

    first = candidates[0]
    singles = candidates[1:]
    if smallest[first][0] >= 2 or not singles:
        return GroupingChoice(first)
    chosen = max(singles, key=rank)  # the first of equals: the order of ``requested``
    if not rank(chosen)[1]:
        return GroupingChoice(first)  # nothing can be cross-fitted: the reason stays first's
    count, group, label = smallest[first]
    enough = (
        f"the finest grouping in which every group has at least {min_rows} positive and "
        f"{min_rows} negative rows"
        if rank(chosen)[0]
        else f"no grouping has {min_rows} rows of each class in every group; the finest in "
        "which every group has at least 2 of each (enough to cross-fit)"
    )
    value = disparity.get(chosen, math.nan)
    largest = (
        f", and of those the single feature with the largest demographic parity difference "
        f"({value:.3f})"
        if not math.isnan(value) and sum(rank(c)[:2] == rank(chosen)[:2] for c in singles) > 1
        else ""
    )
    return GroupingChoice(
        chosen,
        f"Mitigations act on {_name(chosen)}, not {_name(first)}: its group {group!r} has "
        f"{count} {label} row(s), too few to fit group-specific thresholds (cross-fitting "
        f"needs at least 2 positive and 2 negative rows in every group); {_name(chosen)} is "
        f"{enough}{largest}.",
    )
