"""Label metrics of one grouping from its group × label counts: each group against a comparison.

A comparison is the reference group or the rest (every other row). In the formulas ``a`` is
the comparison and ``d`` the group, as in SageMaker Clarify's pre-training metrics:

- ``class_imbalance`` ``(n_a − n_d) / (n_a + n_d)``: the Wilson interval of the share
  ``n_d / (n_a + n_d)`` mapped through ``1 − 2s``;
- ``difference_in_label_proportions`` ``q_a − q_d`` (favourable-label rates): Newcombe's
  interval, and the z / Fisher test of equal proportions;
- the distances of ``fairaudit.databias._divergence``: a percentile interval from a bootstrap
  of each side's label counts (multinomial, each side resampled on its own, as the rows of
  two groups would be), and the chi-square test of homogeneity of the 2 × k table (one test
  for all five distances; for a binary label it is the test of equal proportions above, and
  the rows share that test's p-value).

Each row carries ``_test``, the key of its hypothesis test (rows sharing a test share one
p-value); ``fairaudit.databias._report`` runs Holm over the family and drops the key.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from fairaudit.databias._divergence import DIVERGENCES
from fairaudit.databias._tables import GroupedCounts
from fairaudit.stats import (
    bootstrap_counts,
    newcombe_interval,
    percentile_interval,
    proportion_test,
    wilson_interval,
)

__all__ = ["REST", "comparisons", "homogeneity_p_value", "label_rows", "make_row"]

#: The ``reference`` of a row that compares a group with every other row.
REST = "rest"


def make_row(
    feature: str,
    group: Any,
    reference: Any,
    metric: str,
    value: float,
    ci: Any = None,
    p_value: float | None = None,
    test: tuple | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Return one ``data_bias`` row (``ci`` as ``[low, high]``; NaN stays NaN until JSON)."""
    row = {
        "feature": feature,
        "group": group,
        "reference": reference,
        "metric": metric,
        "value": float(value),
        "ci": None if ci is None else [float(ci[0]), float(ci[1])],
        **extra,
    }
    if test is not None:
        row["p_value"] = float("nan") if p_value is None else float(p_value)
        row["_test"] = test
    return row


def comparisons(
    table: GroupedCounts, reference: int
) -> Iterator[tuple[int, Any, np.ndarray, np.ndarray]]:
    """Yield ``(group index, reference field, group counts, comparison counts)`` per comparison.

    Against the reference for every other group, then against the rest for every group
    that has one.
    """
    counts = table.counts
    total = counts.sum(axis=0)
    for g in range(len(table.groups)):
        if g != reference:
            yield g, table.groups[reference], counts[g], counts[reference]
    for g in range(len(table.groups)):
        if counts[g].sum() < total.sum():
            yield g, REST, counts[g], total - counts[g]


def homogeneity_p_value(table: np.ndarray) -> float:
    """Return the chi-square test p-value that the rows of ``table`` share one distribution.

    Columns with no rows are left out; NaN when fewer than two rows or columns remain.
    """
    table = np.asarray(table, dtype=np.float64).reshape(table.shape[0], -1)
    table = table[:, table.sum(axis=0) > 0]
    table = table[table.sum(axis=1) > 0]
    if min(table.shape) < 2:
        return float("nan")
    from scipy.stats import chi2_contingency  # here: scipy.stats takes 0.5 s to import

    return float(chi2_contingency(table, correction=False).pvalue)


def _resampled(counts: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    return np.concatenate(list(bootstrap_counts(counts, n_resamples, rng)), axis=0)


def label_rows(
    table: GroupedCounts,
    reference: int,
    *,
    favorable: int | None,
    confidence: float,
    n_resamples: int,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """Return the label metric rows of one grouping (see the module docstring)."""
    rows = []
    resampled: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
    for g, ref, d, a in comparisons(table, reference):
        group, n_d, n_a = table.groups[g], int(d.sum()), int(a.sum())
        # Keyed by content: for a feature of two groups, "against the rest" is the same test.
        key = (table.feature, g, a.tobytes())
        p_value = homogeneity_p_value(np.stack([a, d]))
        share = wilson_interval(n_d, n_a + n_d, confidence)
        imbalance = (n_a - n_d) / (n_a + n_d) if n_a + n_d else math.nan
        rows.append(
            make_row(table.feature, group, ref, "class_imbalance", imbalance, 1 - 2 * share[::-1])
        )
        if favorable is not None:
            x_d, x_a = int(d[favorable]), int(a[favorable])
            q_a = x_a / n_a if n_a else math.nan
            q_d = x_d / n_d if n_d else math.nan
            binary = len(table.levels) == 2
            if binary:  # one hypothesis: equal label distributions are equal proportions
                p_value = proportion_test(x_a, n_a, x_d, n_d)
            rows.append(
                make_row(
                    table.feature,
                    group,
                    ref,
                    "difference_in_label_proportions",
                    q_a - q_d,
                    newcombe_interval(x_a, n_a, x_d, n_d, confidence),
                    proportion_test(x_a, n_a, x_d, n_d),
                    (*key, "homogeneity" if binary else "proportions"),
                )
            )
        if key not in resampled:  # the same comparison keeps the same resamples
            resampled[key] = _resampled(a, n_resamples, rng), _resampled(d, n_resamples, rng)
        draws_a, draws_d = resampled[key]
        for metric, distance in DIVERGENCES.items():
            ci = percentile_interval(distance(draws_a, draws_d), confidence)
            rows.append(
                make_row(
                    table.feature,
                    group,
                    ref,
                    metric,
                    float(distance(a, d)),
                    ci,
                    p_value,
                    (*key, "homogeneity"),
                )
            )
    return rows
