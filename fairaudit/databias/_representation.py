"""Representation against a known population, and missing values by group.

Representation (one sensitive feature, its group sizes ``n_g`` and population shares ``π_g``,
normalised to sum to 1): ``share`` ``n_g / n`` (Wilson interval), ``expected_share`` ``π_g``,
``representation_ratio`` ``(n_g / n) / π_g`` (the Wilson interval divided by ``π_g``), and one
``chi_square_goodness_of_fit`` row (group ``None``): Pearson's ``Σ (n_g − n π_g)² / (n π_g)``
with ``k − 1`` degrees of freedom, its p-value in the Holm family.

Missing values: for each grouping, each column and each group, ``missing_share`` ``m_g / n_g``
(Wilson), and ``missing_share_difference`` ``m_g / n_g − m_rest / n_rest`` (group minus the
rest: positive when the group's values are missing more often) with Newcombe's interval and
the test of equal proportions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from fairaudit.databias._label import REST, make_row
from fairaudit.databias._tables import GroupedCounts
from fairaudit.errors import ConfigError
from fairaudit.stats import newcombe_interval, proportion_test, wilson_interval

__all__ = [
    "MSG_BAD_SHARES",
    "MSG_NOT_IN_POPULATION",
    "missing_rows",
    "representation_rows",
]

MSG_NOT_IN_POPULATION = "the population shares of {feature!r} have no share for the groups {groups}"
MSG_BAD_SHARES = "the population shares of {feature!r} must be non-negative and not all 0"


def _expected_shares(
    feature: str, observed: list[str | None], population: Mapping[str, float]
) -> tuple[list[str], np.ndarray]:
    """Return the population's group names (data's groups first) and normalised shares."""
    absent = [g for g in observed if g not in population]
    if absent:
        raise ConfigError(
            MSG_NOT_IN_POPULATION.format(feature=feature, groups=", ".join(map(repr, absent)))
        )
    names = [g for g in observed if g is not None] + [g for g in population if g not in observed]
    shares = np.array([float(population[g]) for g in names])
    if (shares < 0).any() or not shares.sum() > 0 or not np.isfinite(shares).all():
        raise ConfigError(MSG_BAD_SHARES.format(feature=feature))
    return names, shares / shares.sum()


def representation_rows(
    table: GroupedCounts, population: Mapping[str, float], *, confidence: float
) -> list[dict[str, Any]]:
    """Return the representation rows of one sensitive feature against population shares."""
    feature = table.feature
    sizes = dict(zip([g[feature] for g in table.groups], table.sizes.tolist(), strict=True))
    names, expected = _expected_shares(feature, list(sizes), population)
    observed = np.array([sizes.get(g, 0) for g in names], dtype=np.float64)
    n = observed.sum()
    rows = []
    for name, count, pi in zip(names, observed, expected, strict=True):
        group = {feature: name}
        interval = wilson_interval(count, n, confidence)
        share = count / n if n else math.nan
        ratio = share / pi if pi > 0 else math.nan
        ratio_ci = interval / pi if pi > 0 else None
        rows.append(make_row(feature, group, None, "share", share, interval))
        rows.append(make_row(feature, group, None, "expected_share", pi))
        rows.append(make_row(feature, group, None, "representation_ratio", ratio, ratio_ci))
    tested = expected > 0
    statistic = float(((observed - n * expected)[tested] ** 2 / (n * expected[tested])).sum())
    if tested.sum() >= 2 and n > 0:
        from scipy.stats import chi2  # here: scipy.stats takes 0.5 s to import

        p_value = float(chi2.sf(statistic, int(tested.sum()) - 1))
    else:
        p_value = math.nan
    rows.append(
        make_row(
            feature,
            None,
            None,
            "chi_square_goodness_of_fit",
            statistic,
            None,
            p_value,
            (feature, "population"),
            degrees_of_freedom=int(tested.sum()) - 1,
        )
    )
    return rows


def missing_rows(
    table: GroupedCounts, sizes: np.ndarray, *, confidence: float
) -> list[dict[str, Any]]:
    """Return the missing-value rows of one grouping from group × column missing counts."""
    rows = []
    totals, n = table.counts.sum(axis=0), int(sizes.sum())
    for j, column in enumerate(table.levels):
        for g, group in enumerate(table.groups):
            m, n_g = int(table.counts[g, j]), int(sizes[g])
            m_rest, n_rest = int(totals[j]) - m, n - n_g
            share = m / n_g if n_g else math.nan
            rows.append(
                make_row(
                    table.feature,
                    group,
                    None,
                    "missing_share",
                    share,
                    wilson_interval(m, n_g, confidence),
                    column=column,
                )
            )
            if n_rest == 0:
                continue
            difference = share - m_rest / n_rest
            rows.append(
                make_row(
                    table.feature,
                    group,
                    REST,
                    "missing_share_difference",
                    difference,
                    newcombe_interval(m, n_g, m_rest, n_rest, confidence),
                    proportion_test(m, n_g, m_rest, n_rest),
                    (table.feature, g, column, "missing"),
                    column=column,
                )
            )
    return rows
