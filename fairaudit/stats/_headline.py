"""Intervals for fairlearn's headline metrics from simultaneous Wilson intervals.

Package-private: ``fairaudit.stats`` re-exports the public names. A headline metric is
a max - min or a min / max over the groups of one or two rates (selection rate; TPR;
TPR and FPR for equalized odds). If every rate ``p_i`` entering it lies in its interval
``[L_i, U_i]``, then

* ``max p - min p`` lies in ``[max(0, max_i L_i - min_j U_j), max_i U_i - min_j L_j]``
  (``max p >= max L`` and ``min p <= min U``; ``max p <= max U`` and ``min p >= min L``);
* ``min p / max p`` lies in ``[min_j L_j / max_i U_i, min(1, min_j U_j / max_i L_i)]``;
* ``max`` / ``min`` of two such quantities (equalized odds) lies between the ``max`` /
  ``min`` of their bounds.

The k rates are estimated from disjoint groups (and, for TPR and FPR, disjoint classes),
so they are independent given their denominators, and Wilson intervals at Šidák's
level ``confidence ** (1 / k)`` hold all k rates at once with probability about
``confidence``. The headline interval is then valid by construction; it is
conservative (it covers at least as often as the rates are covered together).
"""

from __future__ import annotations

import numpy as np

from fairaudit.stats._intervals import proportion_parts, wilson_interval

__all__ = ["between_groups_bounds", "headline_intervals", "sidak_confidence"]

_NAN_PAIR = (float("nan"), float("nan"))


def sidak_confidence(confidence: float, k: int) -> float:
    """Return the per-interval level ``confidence ** (1 / k)`` holding k intervals at once."""
    return float(confidence ** (1.0 / max(k, 1)))


def between_groups_bounds(
    limits: np.ndarray,
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Return bounds on (max - min, min / max) of rates lying in ``limits (k, 2)``.

    NaN pairs when fewer than two rates are given.
    """
    limits = np.asarray(limits, dtype=np.float64)
    if len(limits) < 2:
        return _NAN_PAIR, _NAN_PAIR
    low, high = limits[:, 0], limits[:, 1]
    difference = (max(0.0, float(low.max() - high.min())), float(high.max() - low.min()))
    ratio_low = float(low.min() / high.max()) if high.max() > 0 else 0.0
    ratio_high = min(1.0, float(high.min() / low.max())) if low.max() > 0 else 1.0
    return difference, (ratio_low, ratio_high)


def _parts(counts: np.ndarray, rate: str) -> tuple[np.ndarray, np.ndarray]:
    parts = proportion_parts(counts, rate)
    assert parts is not None
    return parts


def _rate_limits(
    counts: np.ndarray, rate: str, confidence: float, k: int, minimum: int
) -> np.ndarray:
    """Return the Šidák-level Wilson limits ``(groups used, 2)`` of one rate."""
    x, n = _parts(counts, rate)
    defined = n >= minimum
    return wilson_interval(x[defined], n[defined], sidak_confidence(confidence, k))


def _undefined(counts: np.ndarray, rate: str, minimum: int) -> tuple[bool, bool]:
    """Return whether the observed (max - min, min / max) of ``rate`` is undefined."""
    x, n = _parts(counts, rate)
    defined = n >= minimum
    too_few = int(defined.sum()) < 2
    return too_few, too_few or not bool(np.any(x[defined] > 0))


def headline_intervals(
    counts: np.ndarray, confidence: float = 0.95, min_denominator: int = 0
) -> dict[str, tuple[float, float]]:
    """Return an interval for each headline metric of one grouping's ``counts (m, 4)``.

    NaN pairs where the observed headline value is undefined (fewer than two groups
    with the rate, or a ratio whose largest observed rate is 0). Demographic parity
    adjusts over the groups with a selection rate, equal opportunity over those with a
    TPR, equalized odds over the TPR and FPR families together. Like
    ``headline_metrics(table, min_denominator)``, a group's rate enters only when its
    denominator has at least ``min_denominator`` rows (and at least one).
    """
    counts = np.asarray(counts)
    m = max(int(min_denominator), 1)
    rates = ("selection_rate", "true_positive_rate", "false_positive_rate")
    k = {rate: int((_parts(counts, rate)[1] >= m).sum()) for rate in rates}
    k_odds = k["true_positive_rate"] + k["false_positive_rate"]
    sr = between_groups_bounds(_rate_limits(counts, rates[0], confidence, k[rates[0]], m))
    tpr = between_groups_bounds(_rate_limits(counts, rates[1], confidence, k[rates[1]], m))
    odds_tpr = between_groups_bounds(_rate_limits(counts, rates[1], confidence, k_odds, m))
    odds_fpr = between_groups_bounds(_rate_limits(counts, rates[2], confidence, k_odds, m))
    bad = {rate: _undefined(counts, rate, m) for rate in rates}
    out = {
        "demographic_parity_difference": (sr[0], bad[rates[0]][0]),
        "demographic_parity_ratio": (sr[1], bad[rates[0]][1]),
        "equalized_odds_difference": (
            (max(odds_tpr[0][0], odds_fpr[0][0]), max(odds_tpr[0][1], odds_fpr[0][1])),
            bad[rates[1]][0] or bad[rates[2]][0],
        ),
        "equalized_odds_ratio": (
            (min(odds_tpr[1][0], odds_fpr[1][0]), min(odds_tpr[1][1], odds_fpr[1][1])),
            bad[rates[1]][1] or bad[rates[2]][1],
        ),
        "equal_opportunity_difference": (tpr[0], bad[rates[1]][0]),
        "equal_opportunity_ratio": (tpr[1], bad[rates[1]][1]),
    }
    return {name: _NAN_PAIR if undefined else pair for name, (pair, undefined) in out.items()}
