"""Conditional demographic disparity in labels (SageMaker Clarify's CDDL).

For a group ``d`` and its comparison ``a`` (the reference group, or the rest), within each
stratum ``i`` of the strata column, over the rows of ``d`` and ``a`` with a label:

    DD_i = n_d,i(0) / n_i(0) − n_d,i(1) / n_i(1)

where ``(0)`` counts the rows without the favourable label (rejected), ``(1)`` those with it
(accepted), ``n_d,i`` the group's rows and ``n_i`` all of ``d`` and ``a``'s rows in the
stratum; a share whose denominator is 0 counts as 0, as in Clarify. Then

    CDD = Σ_i n_i DD_i / Σ_i n_i.

Against the rest, ``d`` and ``a`` together are every row, which is Clarify's definition.
With one stratum CDD is the demographic disparity DD itself (Clarify's example: 46 % of
rejected and 32 % of accepted applicants are women gives DD = 0.14).

Interval and test: a row bootstrap of ``d`` and ``a``'s rows (multinomial on the
2 × strata × 2 counts), percentile interval, and the bootstrap p-value of CDD = 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fairaudit.databias._label import comparisons, make_row
from fairaudit.databias._tables import GroupedCounts
from fairaudit.stats import bootstrap_counts, bootstrap_p_value, percentile_interval

__all__ = ["cdd_rows", "conditional_demographic_disparity"]

METRIC = "conditional_demographic_disparity"


def _share(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    safe = np.where(denominator > 0, denominator, 1)
    return np.where(denominator > 0, numerator / safe, 0.0)


def conditional_demographic_disparity(counts: np.ndarray) -> np.ndarray:
    """Return CDD from ``counts (..., 2, strata, 2)``: [group, comparison] × stratum × [0, 1].

    The last axis is [not favourable, favourable]. NaN when there are no rows.
    """
    counts = np.asarray(counts, dtype=np.float64)
    group = counts[..., 0, :, :]
    both = group + counts[..., 1, :, :]
    rejected = _share(group[..., 0], both[..., 0])
    accepted = _share(group[..., 1], both[..., 1])
    weight = both.sum(axis=-1)
    total = weight.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (weight * (rejected - accepted)).sum(axis=-1) / total, np.nan)


def _favourable_split(counts: np.ndarray, favorable: int) -> np.ndarray:
    """Return ``(..., strata, 2)`` [not favourable, favourable] from label counts."""
    yes = counts[..., favorable]
    return np.stack([counts.sum(axis=-1) - yes, yes], axis=-1)


def cdd_rows(
    table: GroupedCounts,
    reference: int,
    *,
    favorable: int,
    confidence: float,
    n_resamples: int,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """Return the CDD rows of one grouping from its group × stratum × label counts."""
    split = _favourable_split(table.counts, favorable)
    plain = GroupedCounts(table.feature, table.groups, ["0", "1"], split)
    rows = []
    resampled: dict[tuple, np.ndarray] = {}
    for g, ref, d, a in comparisons(plain, reference):
        pair = np.stack([d, a])
        key = (table.feature, g, a.tobytes(), "cdd")
        if key not in resampled:  # the same comparison keeps the same resamples
            draws = np.concatenate(list(bootstrap_counts(pair, n_resamples, rng)), axis=0)
            resampled[key] = conditional_demographic_disparity(draws)
        values = resampled[key]
        rows.append(
            make_row(
                table.feature,
                table.groups[g],
                ref,
                METRIC,
                float(conditional_demographic_disparity(pair)),
                percentile_interval(values, confidence),
                float(bootstrap_p_value(values)),
                key,
                strata=len(table.strata or []),
            )
        )
    return rows
