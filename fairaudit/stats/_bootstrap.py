"""The multinomial count bootstrap, percentile intervals and the headline-metric draws.

Package-private: ``fairaudit.stats`` re-exports the public names. Also holds
``bootstrap_score_metrics``, the stratified row bootstrap of ROC AUC and the Brier
score that the analytic intervals of ``fairaudit._score_stats`` replaced; it is kept
as the reference those intervals are checked against (tests, benchmarks), not called
by ``compute_uncertainty``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from fairaudit.stats._rates import safe_divide

__all__ = [
    "ScoreLayout",
    "aggregate_cells",
    "bootstrap_counts",
    "bootstrap_p_value",
    "bootstrap_score_metrics",
    "headline_draws",
    "percentile_interval",
]

# Resampled counts per chunk, in int64 elements (about 32 MB).
_CHUNK_ELEMENTS = 1 << 22


def _chunks(n_resamples: int, per_resample: int) -> Iterator[int]:
    size = max(1, _CHUNK_ELEMENTS // max(per_resample, 1))
    for start in range(0, n_resamples, size):
        yield min(size, n_resamples - start)


def bootstrap_counts(
    counts: np.ndarray, n_resamples: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """Yield resampled counts, chunks of shape ``(b, n_cells, 4)`` summing to ``n_resamples``.

    A row bootstrap of the n rows behind ``counts`` changes only the counts, and the
    resampled counts are ``Multinomial(n, counts / n)``: this draws them directly.
    """
    counts = np.asarray(counts, dtype=np.int64)
    flat = counts.reshape(-1)
    n = int(flat.sum())
    pvals = flat / n if n else np.full(flat.shape, 1.0 / max(flat.size, 1))
    for b in _chunks(n_resamples, flat.size):
        yield rng.multinomial(n, pvals, size=b).reshape((b, *counts.shape))


def percentile_interval(draws: np.ndarray, confidence: float = 0.95) -> np.ndarray:
    """Return percentile intervals over axis 0 of ``draws``, ignoring NaN resamples.

    Shape ``draws.shape[1:] + (2,)``; quantiles interpolate linearly like numpy's
    default. NaN where fewer than two resamples are defined.
    """
    alpha = 1 - confidence
    ordered = np.sort(draws, axis=0)  # NaN sorts last
    defined = (~np.isnan(draws)).sum(axis=0)
    out = np.full((*draws.shape[1:], 2), np.nan)
    for j, q in enumerate((alpha / 2, 1 - alpha / 2)):
        h = np.maximum(defined - 1, 0) * q
        below = np.floor(h).astype(np.int64)
        above = np.minimum(below + 1, np.maximum(defined - 1, 0))
        v_below = np.take_along_axis(ordered, below[None], axis=0)[0]
        v_above = np.take_along_axis(ordered, above[None], axis=0)[0]
        value = v_below + (h - below) * (v_above - v_below)
        out[..., j] = np.where(defined >= 2, value, np.nan)
    return out


def bootstrap_p_value(differences: np.ndarray) -> np.ndarray:
    """Return ``2 min(P*(d <= 0), P*(d >= 0))`` over axis 0, NaN resamples ignored."""
    defined = (~np.isnan(differences)).sum(axis=0)
    at_most = (differences <= 0).sum(axis=0)
    at_least = (differences >= 0).sum(axis=0)
    p = 2 * (np.minimum(at_most, at_least) + 1) / (defined + 1)
    return np.where(defined >= 2, np.minimum(p, 1.0), np.nan)


def _between_groups(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return per-resample (max - min, min / max) over axis 1, NaN if < 2 defined."""
    defined = ~np.isnan(values)
    enough = defined.sum(axis=1) >= 2
    high = np.where(defined, values, -np.inf).max(axis=1)
    low = np.where(defined, values, np.inf).min(axis=1)
    difference = np.where(enough, high - low, np.nan)
    ratio = np.where(enough, safe_divide(low, np.where(enough, high, 0.0)), np.nan)
    return difference, ratio


def headline_draws(resampled: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Return fairlearn's headline metrics of every resample, from its resampled rates."""
    sr_diff, sr_ratio = _between_groups(resampled["selection_rate"])
    tpr_diff, tpr_ratio = _between_groups(resampled["true_positive_rate"])
    fpr_diff, fpr_ratio = _between_groups(resampled["false_positive_rate"])
    # np.maximum / np.minimum propagate NaN, as headline_metrics does.
    return {
        "demographic_parity_difference": sr_diff,
        "demographic_parity_ratio": sr_ratio,
        "equalized_odds_difference": np.maximum(tpr_diff, fpr_diff),
        "equalized_odds_ratio": np.minimum(tpr_ratio, fpr_ratio),
        "equal_opportunity_difference": tpr_diff,
        "equal_opportunity_ratio": tpr_ratio,
    }


def aggregate_cells(draws: np.ndarray, cell_group: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum resampled cell counts ``(b, n_cells, 4)`` into a table's groups ``(b, m, 4)``."""
    if n_groups == draws.shape[1] and np.array_equal(cell_group, np.arange(n_groups)):
        return draws
    one_hot = np.zeros((n_groups, draws.shape[1]))
    one_hot[cell_group, np.arange(draws.shape[1])] = 1.0
    # float64 matmul is exact for counts below 2**53.
    return np.matmul(one_hot, draws.astype(np.float64))


class ScoreLayout:
    """Rows of one grouping sorted by (group, score), with tie blocks, for weighted metrics."""

    def __init__(self, y: np.ndarray, score: np.ndarray, group: np.ndarray, n_groups: int):
        n = len(y)
        self.order = np.lexsort((score, group))
        g_sorted, s_sorted = group[self.order], score[self.order]
        new_block = np.ones(n, dtype=bool)
        new_block[1:] = (g_sorted[1:] != g_sorted[:-1]) | (s_sorted[1:] != s_sorted[:-1])
        block_start = np.flatnonzero(new_block)
        block_id = np.cumsum(new_block) - 1
        # For every sorted row: first row of its tie block, last row of it, first of its group.
        self.block_first_row = block_start[block_id]
        self.block_last_row = np.append(block_start[1:], n)[block_id] - 1
        self.has_ties = len(block_start) < n
        self.group_first_row = np.searchsorted(g_sorted, np.arange(n_groups))
        self.positive = y[self.order][:, None]
        self.squared = ((score - y) ** 2)[self.order][:, None]

    def evaluate(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Return ROC AUC and Brier score ``(b, m)`` for row multiplicities ``(n, b)``.

        Rows on axis 0 keep every operation a contiguous sweep over rows of length b.
        """
        w = weights[self.order]
        negative = np.where(self.positive, 0.0, w)
        positive = w - negative
        below_or_at = np.cumsum(negative, axis=0)
        strictly_below = below_or_at - negative
        if self.has_ties:
            block_below = strictly_below[self.block_first_row]
            in_block = below_or_at[self.block_last_row] - block_below
        else:
            block_below, in_block = strictly_below, negative
        # A negative in a lower tie block counts 1, in the same tie block 1/2; negatives
        # of earlier groups (all below the group's first row) are subtracted per group.
        starts = self.group_first_row
        wins = np.add.reduceat(positive * (block_below + in_block / 2), starts, axis=0)
        n_pos = np.add.reduceat(positive, starts, axis=0)
        n_neg = np.add.reduceat(negative, starts, axis=0)
        u_stat = wins - strictly_below[starts] * n_pos
        sq_sum = np.add.reduceat(w * self.squared, starts, axis=0)
        return {
            "roc_auc": safe_divide(u_stat, n_pos * n_neg).T,
            "brier_score": safe_divide(sq_sum, n_pos + n_neg).T,
        }


def bootstrap_score_metrics(
    y_true: np.ndarray,
    score: np.ndarray,
    row_cell: np.ndarray,
    cell_groups: Sequence[np.ndarray],
    *,
    n_resamples: int,
    rng: np.random.Generator,
) -> list[dict[str, np.ndarray]]:
    """Return resampled ROC AUC and Brier score, ``(n_resamples, m)`` per grouping.

    A row bootstrap stratified by intersectional group (each cell keeps its size), so
    groups are resampled independently. ``row_cell`` is each row's intersectional cell;
    ``cell_groups[k]`` maps cells to grouping k's groups (all non-empty, numbered
    ``0..m-1``). Rows are sorted once per grouping; each resample is a vector of row
    multiplicities, so the cost is O(n_resamples x n_rows) per grouping: about
    ``n_resamples * n_rows * n_groupings * 20`` float operations, and roughly 50 MB of
    working memory per chunk.
    """
    y = np.asarray(y_true, dtype=bool)
    score = np.asarray(score, dtype=np.float64)
    row_cell = np.asarray(row_cell, dtype=np.int64)
    n = len(y)
    cell_sizes = np.bincount(row_cell)
    cell_start = np.cumsum(cell_sizes) - cell_sizes
    by_cell = np.argsort(row_cell, kind="stable")
    slot_start = cell_start[row_cell[by_cell]]
    slot_size = cell_sizes[row_cell[by_cell]]
    layouts = [
        ScoreLayout(y, score, np.asarray(cg)[row_cell], int(np.max(cg, initial=-1)) + 1)
        for cg in cell_groups
    ]
    out: list[dict[str, list[np.ndarray]]] = [{"roc_auc": [], "brier_score": []} for _ in layouts]
    for b in _chunks(n_resamples, 8 * n):
        # Each slot of each cell draws a row of the same cell: row multiplicities (n, b).
        picks = by_cell[slot_start[:, None] + rng.integers(0, slot_size[:, None], size=(n, b))]
        picks *= b
        picks += np.arange(b)
        weights = np.bincount(picks.ravel(), minlength=n * b).reshape(n, b).astype(np.float64)
        for layout, result in zip(layouts, out, strict=True):
            for metric, values in layout.evaluate(weights).items():
                result[metric].append(values)
    return [{k: np.concatenate(v) for k, v in r.items()} for r in out]
