"""Group-specific thresholds: fairlearn's ThresholdOptimizer, computed on a score histogram.

fairlearn's ``ThresholdOptimizer`` (prefit, objective accuracy, no flip, a grid of 1,000
steps) needs only each row's group, score and label. Per group it walks the rows in
descending score order to build one trade-off point per distinct score, keeps their upper
convex hull, interpolates it on the grid, and picks the grid point that maximizes accuracy
under the constraint. It does this row by row in Python (with pandas around it): 15 fits on
1M rows took 85 s.

This module computes the same thing from the distinct-score histogram per group: one sort
of the evaluation rows serves every fold and every method, a fit costs the number of
distinct (group, score) pairs rather than rows, and the counts along the scores are
cumulative sums. Every floating-point operation fairlearn 0.15 does on the way to a
threshold, a mixing probability or a prediction is done here on the same values in the
same order (the same integer counts divided, the same hull test, the same interpolation,
``np.round(.., 15)`` and first-maximum rule, the same ``RandomState`` draw), so the fitted
thresholds and the predictions are identical to fairlearn's: ``tests/test_mitigation_thresholds.py``
compares them on random data sets (ties, one group, extreme scores, many groups).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DEGENERATE_LABELS",
    "GRID_SIZE",
    "GroupThresholds",
    "ScoreHistogram",
    "fit_thresholds",
    "predict_thresholds",
    "score_histogram",
]

#: fairlearn's error for a group with rows of one class only (its wording, kept).
DEGENERATE_LABELS = "Degenerate labels for sensitive feature value {}"
#: ThresholdOptimizer's default ``grid_size``.
GRID_SIZE = 1000


#: The arrays of a ScoreHistogram, in the order its constructor takes them.
_ARRAYS = ("group", "score", "counts", "total")


@dataclass(frozen=True)
class ScoreHistogram:
    """The distinct (group, score) cells of the rows, with their label counts per fold.

    Cells are sorted by group code, then score ascending. ``counts[cell, fold, label]`` is
    the number of rows of that cell held out in ``fold`` with that label (0 negative, 1
    positive); with no folds there is one "fold" holding every row. ``total[cell, label]``
    sums the folds. Once ``spill`` saved it, it pickles as its folder's name.
    """

    group: np.ndarray
    score: np.ndarray
    counts: np.ndarray
    total: np.ndarray
    folder: Path | None = None

    def fit_counts(self, held_out: int | None = None) -> np.ndarray:
        """Return the (cells, 2) label counts of every row not held out in ``held_out``."""
        return self.total if held_out is None else self.total - self.counts[:, held_out]

    def spill(self, folder: Path) -> None:
        """Save the arrays in ``folder``; the histogram then pickles as the folder's name.

        Worker processes then map the files instead of each unit of work receiving the
        whole histogram through a pipe (110 MB for a million distinct scores, 15 times).
        """
        for name in _ARRAYS:
            np.save(folder / f"{name}.npy", getattr(self, name))
        object.__setattr__(self, "folder", folder)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        if self.folder is None:
            return ScoreHistogram, tuple(getattr(self, name) for name in _ARRAYS)
        return _mapped_histogram, (str(self.folder),)


def _mapped_histogram(folder: str) -> ScoreHistogram:
    """Return the histogram ``spill`` saved in ``folder``, its arrays mapped, not read."""
    group, score, counts, total = (
        np.load(Path(folder) / f"{name}.npy", mmap_mode="r") for name in _ARRAYS
    )
    return ScoreHistogram(group, score, counts, total, Path(folder))


def score_histogram(
    scores: np.ndarray,
    y_true: np.ndarray,
    group_codes: np.ndarray,
    fold_of_row: np.ndarray | None = None,
    folds: int = 1,
) -> ScoreHistogram:
    """Return the histogram of (group, score) with label counts per fold (one sort)."""
    order = np.lexsort((scores, group_codes))
    sorted_scores = scores[order]
    sorted_groups = group_codes[order]
    n_rows = len(order)
    new_cell = np.ones(n_rows, dtype=bool)
    # ``!=`` as fairlearn's ``==`` sees ties: -0.0 and 0.0 are one score.
    new_cell[1:] = (sorted_groups[1:] != sorted_groups[:-1]) | (
        sorted_scores[1:] != sorted_scores[:-1]
    )
    cell_of_sorted = np.cumsum(new_cell) - 1
    n_cells = int(cell_of_sorted[-1]) + 1 if n_rows else 0
    fold = np.zeros(n_rows, dtype=np.int64) if fold_of_row is None else fold_of_row[order]
    label = np.asarray(y_true, dtype=bool)[order].astype(np.int64)
    counts = np.bincount(
        (cell_of_sorted * folds + fold) * 2 + label, minlength=n_cells * folds * 2
    ).reshape(n_cells, folds, 2)
    starts = np.flatnonzero(new_cell)
    return ScoreHistogram(sorted_groups[starts], sorted_scores[starts], counts, counts.sum(axis=1))


@dataclass(frozen=True)
class GroupThresholds:
    """One group's randomized threshold rule, as fairlearn's ``InterpolatedThresholder`` has it.

    A row of the group is predicted positive with probability ``p0 * (score > threshold0)
    + p1 * (score > threshold1)``; for equalized odds that probability is then mixed with
    the constant ``prediction_constant`` with weight ``p_ignore``.
    """

    p0: float
    threshold0: float
    p1: float
    threshold1: float
    p_ignore: float | None = None
    prediction_constant: float | None = None


@dataclass(frozen=True)
class _Curve:
    """One group's hull interpolated on the grid: y, and the two hull points mixed."""

    rows: int
    y: np.ndarray
    p0: np.ndarray
    threshold0: np.ndarray
    p1: np.ndarray
    threshold1: np.ndarray


def _upper_hull(x: np.ndarray, y: np.ndarray) -> list[int]:
    """Return the indices of the upper convex hull of points sorted by (x, y).

    Andrew's monotone chain with fairlearn's test, in Python floats as fairlearn does it,
    so near-collinear points are decided the same way. The two points below the incoming
    one are kept in locals: this loop is most of a fit's time (0.4 µs a point).
    """
    xs, ys = x.tolist(), y.tolist()
    if len(xs) < 2:
        return list(range(len(xs)))
    kept = [0, 1]
    pop, push = kept.pop, kept.append
    x0, y0, x1, y1 = xs[0], ys[0], xs[1], ys[1]
    top = 1  # the position in ``kept`` of the last point
    for index in range(2, len(xs)):
        x2, y2 = xs[index], ys[index]
        while (y1 - y0) * (x2 - x0) <= (y2 - y0) * (x1 - x0):
            pop()
            top -= 1
            x1, y1 = x0, y0
            if top == 0:
                break
            below = kept[top - 1]
            x0, y0 = xs[below], ys[below]
        push(index)
        top += 1
        x0, y0, x1, y1 = x1, y1, x2, y2
    return kept


def _points(
    constraint: str, negatives: np.ndarray, positives: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return (x, y) of every threshold, from the cumulative counts above it.

    The same integer ratios as fairlearn's ``METRIC_DICT`` (x: the constrained rate; y:
    accuracy, or the true positive rate for equalized odds).
    """
    false_pos = np.concatenate([[0], np.cumsum(negatives)])
    true_pos = np.concatenate([[0], np.cumsum(positives)])
    n_negative, n_positive = false_pos[-1], true_pos[-1]
    n = n_negative + n_positive
    true_neg = n_negative - false_pos
    if constraint == "equalized_odds":
        return false_pos / n_negative, true_pos / n_positive
    accuracy = (true_pos + true_neg) / n
    if constraint == "demographic_parity":
        return (true_pos + false_pos) / n, accuracy
    if constraint == "true_positive_rate_parity":
        return true_pos / n_positive, accuracy
    raise ValueError(f"unsupported constraint {constraint!r}")


def _curve(
    constraint: str,
    group: int,
    scores: np.ndarray,
    counts: np.ndarray,
    grid: np.ndarray,
) -> _Curve:
    """Return one group's hull interpolated on the grid (scores ascending, counts (k, 2))."""
    descending = scores[::-1]
    negatives, positives = counts[::-1, 0], counts[::-1, 1]
    if not positives.any() or not negatives.any():
        raise ValueError(DEGENERATE_LABELS.format(group))
    x, y = _points(constraint, negatives, positives)
    thresholds = np.empty(len(descending) + 1)
    thresholds[0] = np.inf
    with np.errstate(over="ignore"):  # fairlearn's Python floats overflow to inf silently
        thresholds[1:-1] = (descending[:-1] + descending[1:]) / 2
    thresholds[-1] = -np.inf
    dx, dy = np.diff(x), np.diff(y)
    if ((dx > 0) | ((dx == 0) & (dy >= 0))).all():  # already in (x, y) order: most curves
        order = np.arange(len(x))
    else:
        order = np.lexsort((y, x))
    hull = order[_upper_hull(x[order], y[order])]
    hull_x, hull_y, hull_threshold = x[hull], y[hull], thresholds[hull]
    # fairlearn's _interpolate_curve and _get_interpolation_indices, step for step.
    index = np.searchsorted(hull_x, grid, side="right") - 1
    index[1:] = np.where(grid[1:] == hull_x[index[1:]], index[1:] - 1, index[1:])
    p0 = (hull_x[index + 1] - grid) / (hull_x[index + 1] - hull_x[index])
    p1 = 1 - p0
    return _Curve(
        int(counts.sum()),
        p0 * hull_y[index] + p1 * hull_y[index + 1],
        p0,
        hull_threshold[index],
        p1,
        hull_threshold[index + 1],
    )


def _first_max(values: np.ndarray) -> int:
    """Return the index of the first maximum, NaN skipped (pandas' ``idxmax``)."""
    return int(np.argmax(np.where(np.isnan(values), -np.inf, values)))


def _curves(
    histogram: ScoreHistogram, fit_counts: np.ndarray, constraint: str, grid: np.ndarray
) -> dict[int, _Curve]:
    """Return the interpolated curve of every group with fitting rows, by group code."""
    present = fit_counts.sum(axis=1) > 0
    groups, scores, counts = histogram.group[present], histogram.score[present], fit_counts[present]
    bounds = np.flatnonzero(np.diff(groups)) + 1
    starts = np.concatenate([[0], bounds])
    stops = np.concatenate([bounds, [len(groups)]])
    return {
        int(groups[a]): _curve(constraint, int(groups[a]), scores[a:b], counts[a:b], grid)
        for a, b in zip(starts, stops, strict=True)
    }


def fit_thresholds(
    histogram: ScoreHistogram, constraint: str, held_out: int | None = None
) -> dict[int, GroupThresholds]:
    """Return each group's threshold rule, fitted on every row not held out in ``held_out``.

    ``constraint`` is ``demographic_parity``, ``true_positive_rate_parity`` or
    ``equalized_odds``; the objective is accuracy. The rules are fairlearn's for the same
    rows (``ThresholdOptimizer.interpolated_thresholder_.interpolation_dict``).
    """
    fit_counts = histogram.fit_counts(held_out)
    grid = np.linspace(0, 1, GRID_SIZE + 1)
    curves = _curves(histogram, fit_counts, constraint, grid)
    if not curves:
        raise ValueError("no rows to fit thresholds on")
    if constraint != "equalized_odds":
        n = int(fit_counts.sum())
        # pandas' concat(...).sum(axis=1): the groups' columns summed left to right.
        overall = np.vstack([curve.rows / n * curve.y for curve in curves.values()]).T.sum(axis=1)
        best = _first_max(overall)
        return {
            group: GroupThresholds(
                float(c.p0[best]),
                float(c.threshold0[best]),
                float(c.p1[best]),
                float(c.threshold1[best]),
            )
            for group, c in curves.items()
        }
    return _equalized_odds(curves, fit_counts, grid)


def _equalized_odds(
    curves: dict[int, _Curve], fit_counts: np.ndarray, grid: np.ndarray
) -> dict[int, GroupThresholds]:
    """Return the rules of fairlearn's ``_threshold_optimization_for_equalized_odds``."""
    n = int(fit_counts.sum())
    n_positive = int(fit_counts[:, 1].sum())
    n_negative = n - n_positive
    y_min = np.fmin.reduce(np.vstack([curve.y for curve in curves.values()]), axis=0)
    false_pos = n_negative * grid
    true_neg = n_negative * (1.0 - grid)
    true_pos = n_positive * y_min
    false_neg = n_positive * (1.0 - y_min)
    total = true_pos + true_neg + false_pos + false_neg
    best = _first_max(np.round((true_pos + true_neg) / total, 15))
    x_best, y_best = grid[best], y_min[best]
    rules = {}
    for group, c in curves.items():
        y = c.y[best]
        p_ignore = 0 if y == x_best else (y - y_best) / (y - x_best)
        rules[group] = GroupThresholds(
            float(c.p0[best]),
            float(c.threshold0[best]),
            float(c.p1[best]),
            float(c.threshold1[best]),
            float(p_ignore),
            float(x_best),
        )
    return rules


def predict_thresholds(
    rules: dict[int, GroupThresholds],
    scores: np.ndarray,
    group_codes: Sequence[int] | np.ndarray,
    random_state: int,
) -> np.ndarray:
    """Return bool predictions of the rules, randomized as fairlearn's ``predict`` draws them.

    A row whose group has no rule is predicted negative (fairlearn's probability 0).
    """
    codes = np.asarray(group_codes)
    probability = np.zeros(len(scores))
    for group, rule in rules.items():
        rows = codes == group
        score = scores[rows]
        mixed = rule.p0 * (score > rule.threshold0) + rule.p1 * (score > rule.threshold1)
        if rule.p_ignore is not None:
            assert rule.prediction_constant is not None
            mixed = rule.p_ignore * rule.prediction_constant + (1 - rule.p_ignore) * mixed
        probability[rows] = mixed
    draws = np.random.RandomState(random_state).rand(len(scores))
    return probability >= draws
