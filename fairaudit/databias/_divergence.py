"""Distances between two label distributions, as SageMaker Clarify defines them.

Each function takes two count (or probability) arrays of shape ``(..., k)`` over the same
label values, normalises each over its last axis and returns shape ``(...)``, so one call
covers a comparison and all its bootstrap resamples. ``p_a`` is the comparison group
(the reference, or the rest), ``p_d`` the group. NaN where either side has no rows.

- ``kl_divergence``: ``Σ P_a log(P_a / P_d)`` over the label values where both shares are
  positive (Clarify drops the others too, so the value stays finite);
- ``js_divergence``: ``½ [KL(P_a, M) + KL(P_d, M)]`` with ``M = ½ (P_a + P_d)``;
- ``lp_norm``: ``(Σ |P_a − P_d|^p)^(1/p)``, p = 2;
- ``total_variation_distance``: ``½ Σ |P_a − P_d|``;
- ``ks_distance``: ``max |P_a − P_d|`` over the label values (Clarify's definition: for a
  binary label it equals the Kolmogorov-Smirnov distance of the two label distributions).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["DIVERGENCES", "kl_divergence", "js_divergence", "ks_distance", "lp_norm", "tvd"]


def _shares(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, counts / np.where(total > 0, total, 1.0), np.nan)


def _kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    both = (p > 0) & (q > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(both, p * np.log(np.where(both, p / np.where(both, q, 1.0), 1.0)), 0.0)
    undefined = np.isnan(p).any(axis=-1) | np.isnan(q).any(axis=-1)
    return np.where(undefined, np.nan, terms.sum(axis=-1))


def kl_divergence(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Return KL(P_a, P_d) over the label values both distributions give positive share."""
    return _kl(_shares(a), _shares(d))


def js_divergence(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Return the Jensen-Shannon divergence of P_a and P_d (natural log)."""
    p, q = _shares(a), _shares(d)
    m = (p + q) / 2
    return (_kl(p, m) + _kl(q, m)) / 2


def lp_norm(a: np.ndarray, d: np.ndarray, p: float = 2.0) -> np.ndarray:
    """Return the L-p norm of P_a − P_d (p = 2 by default)."""
    diff = np.abs(_shares(a) - _shares(d))
    return (diff**p).sum(axis=-1) ** (1 / p)


def tvd(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Return the total variation distance ½ Σ |P_a − P_d|."""
    return np.abs(_shares(a) - _shares(d)).sum(axis=-1) / 2


def ks_distance(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Return max |P_a − P_d| over the label values."""
    return np.abs(_shares(a) - _shares(d)).max(axis=-1)


#: The label-distribution distances, in the order the report lists them.
DIVERGENCES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "kl_divergence": kl_divergence,
    "js_divergence": js_divergence,
    "lp_norm": lp_norm,
    "total_variation_distance": tvd,
    "ks_distance": ks_distance,
}
