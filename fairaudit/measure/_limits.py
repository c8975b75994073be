"""The limit on groups per grouping (``max_groups``), checked before the expensive work.

A grouping's groups are its values with rows: one feature's, or the intersection's cells.
Above ``AuditSpec.max_groups`` (default :data:`fairaudit.vocabulary.MAX_GROUPS`) the audit is
refused with a message naming the grouping and its size, since every later stage (intervals,
the report, the JSON) grows with the number of groups.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from fairaudit.counts import GroupCounts
from fairaudit.data import EvaluationData
from fairaudit.errors import DataError
from fairaudit.spec import AuditSpec

__all__ = ["MSG_TOO_MANY_GROUPS", "check_group_limit", "check_rows_group_limit"]

MSG_TOO_MANY_GROUPS = (
    "{grouping} has {groups:,} groups, more than the limit of {limit:,}; use coarser --bins, "
    "fewer --sensitive features, or --max-groups {groups} to allow them"
)


def _check(spec: AuditSpec, features: Sequence[str], groups: Sequence[int], cells: int) -> None:
    """Raise DataError if the intersection (``cells``) or one feature has too many groups."""
    counted = [(f"sensitive feature {f}", n) for f, n in zip(features, groups)]
    if len(features) > 1:
        counted.insert(0, ("the intersection of " + " × ".join(features), cells))
    grouping, largest = max(counted, key=lambda item: item[1])
    if largest > spec.max_groups:
        raise DataError(
            MSG_TOO_MANY_GROUPS.format(grouping=grouping, groups=largest, limit=spec.max_groups)
        )


def check_group_limit(spec: AuditSpec, group_counts: GroupCounts) -> None:
    """Raise DataError if a grouping of the counted groups has more than ``spec.max_groups``."""
    cells = group_counts.cells
    groups = [len(np.unique(cells[:, i])) for i in range(cells.shape[1])]
    _check(spec, group_counts.features, groups, len(cells))


def check_rows_group_limit(spec: AuditSpec, data: EvaluationData) -> None:
    """Raise DataError if the rows' sensitive values form more groups than ``spec.max_groups``.

    Costs nothing when every possible cell fits the limit; otherwise one pass over the codes.
    """
    codes = [f.codes for f in data.sensitive]
    sizes = [len(f.levels) for f in data.sensitive]
    if math.prod(sizes) <= spec.max_groups:
        return
    groups = [int(np.count_nonzero(np.bincount(c, minlength=n))) for c, n in zip(codes, sizes)]
    key = np.zeros(len(codes[0]), dtype=np.int64)
    radix = 1
    for code, size in zip(codes, sizes):
        if radix * size >= 2**62:  # keep the mixed-radix key in int64: renumber the cells
            key = np.unique(key, return_inverse=True)[1].astype(np.int64)
            radix = int(key.max()) + 1 if len(key) else 1
        key = key * size + code
        radix *= size
    _check(spec, [f.name for f in data.sensitive], groups, len(np.unique(key)))
