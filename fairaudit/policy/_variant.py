"""A mitigation variant's disparity rows: as its entry stores them, or derived from its counts.

An entry written with ``mitigation_detail = "full"`` (and every entry before format 1.1.0)
stores its ``disparities``. A summary entry (the default) stores each group's confusion
counts instead; the rows are then recomputed by the audit's own ``Measurement`` from those
counts and the audit's options (the wanted reference groups, ``min_group_size``,
``min_denominator`` and, when the audit has intervals, its confidence): the same code on the
same inputs as the full entry's rows, so the same values, differences, ratios and intervals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fairaudit.result import BASELINE, jsonable
from fairaudit.vocabulary import INTERSECTION

__all__ = ["mitigation_disparities"]


def mitigation_disparities(
    result: Mapping[str, Any], entry: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Return a mitigation entry's disparity rows (each group against the reference).

    Stored rows as they are; the baseline's (the audited model) are the audit's own
    ``disparities``, score metrics included; otherwise derived from the entry's ``by_group``
    counts (see the module docstring). Empty when the entry has neither, or when the result
    lacks the audit's options (its group-size minimums) or the derived reference groups are
    not the audit's (the wanted references are not recorded): no number beats a wrong one.
    """
    stored = entry.get("disparities")
    if stored is not None:
        return list(stored)
    if entry.get("method") == BASELINE:
        return list(result.get("disparities") or [])
    rows = entry.get("by_group") or []
    if not rows or any("confusion" not in row for row in rows):
        return []
    # Imported here: evaluating a policy on an audit without mitigations needs no numpy.
    from fairaudit.measure import BinaryCounts, Measurement

    audit = result.get("audit") or {}
    config = (result.get("lineage") or {}).get("config") or {}
    if "min_group_size" not in audit or "min_denominator" not in audit:
        return []
    measurement = Measurement(
        BinaryCounts(_group_counts(rows)),
        reference=config.get("reference") or {},
        min_group_size=int(audit["min_group_size"]),
        min_denominator=int(audit["min_denominator"]),
    )
    if audit.get("reference") is not None and measurement.reference_groups() != audit["reference"]:
        return []
    uncertainty = result.get("uncertainty")
    if uncertainty is not None:
        measurement.add_uncertainty(
            confidence=float(uncertainty["confidence"]),
            n_resamples=int(uncertainty.get("resamples", 1000)),
            seed=int(uncertainty.get("seed", 0)),
        )
    derived: list[dict[str, Any]] = jsonable(measurement.disparities)
    return derived


def _group_counts(rows: Sequence[Mapping[str, Any]]) -> Any:
    """Return the ``GroupCounts`` behind an entry's group rows.

    The cells are the intersection's rows (the one feature's, with one feature), in their
    order; each feature's levels are its own table's groups, in their order, which is the
    order of the codes the counting pass gave them.
    """
    import numpy as np

    from fairaudit.counts import CELLS, GroupCounts

    features = list(dict.fromkeys(row["feature"] for row in rows if row["feature"] != INTERSECTION))
    levels = [[str(row["group"][f]) for row in rows if row["feature"] == f] for f in features]
    code = [{level: i for i, level in enumerate(names)} for names in levels]
    cells = [
        row
        for row in rows
        if row["feature"] == (INTERSECTION if len(features) > 1 else features[0])
    ]
    return GroupCounts(
        features=tuple(features),
        levels=tuple(tuple(names) for names in levels),
        cells=np.array(
            [[code[j][str(row["group"][f])] for j, f in enumerate(features)] for row in cells],
            dtype=np.int64,
        ).reshape(len(cells), len(features)),
        counts=np.array(
            [[int(row["confusion"][cell]) for cell in CELLS] for row in cells], dtype=np.int64
        ).reshape(len(cells), len(CELLS)),
    )
