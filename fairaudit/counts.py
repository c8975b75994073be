"""The per-group sufficient statistics every engine returns and every metric derives from.

``GroupCounts``: one table of confusion counts per intersectional group. Everything else
(per-feature groups, the overall row, every confusion-matrix metric, disparities and
bootstrap intervals) derives from this table and never sees rows again. A confusion cell
is ``2 * label + prediction``, so the four columns of a counts array are, in order, true
negatives, false positives, false negatives and true positives.

``ScoreSums`` / ``ScoreSummary``: exact integer sufficient statistics of the scores per
group (Mann-Whitney rank sums for ROC AUC and its DeLong variance, fixed-point sums of
squared errors for the Brier score); ``fairaudit.stats`` turns them into intervals.

Exactness of the score sums
---------------------------
ROC AUC is ``U / (n_pos n_neg)`` with the Mann-Whitney ``U`` (ties count 1/2); ``2U`` and
the DeLong placement sums are integers, summed exactly (int128 / DECIMAL(38) in SQL; in
numpy modulo 2**64 in uint64 plus a float estimate that fixes the high part, combined in
Python integers) and turned into floats once, with exact rational arithmetic.
Brier sums use fixed point: each squared error ``t = (score - y)^2`` (computed in IEEE
double, as every engine does) contributes ``floor(t * 2**62)``, so the sum is exact and
order-independent; the truncation costs less than ``2**-62`` per row, i.e. under
``2**-62`` on the Brier score itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

__all__ = ["BRIER_SCALE", "CELLS", "GroupCounts", "ScoreSummary", "ScoreSums", "count_groups"]

#: Column order of every counts array: index = 2 * label + prediction.
CELLS = ("tn", "fp", "fn", "tp")

#: Fixed-point scale of the Brier sums: each squared error contributes floor(t * 2**62).
BRIER_SCALE = 1 << 62

# Above this many possible (group x cell) bins the dense bincount would waste memory,
# so keys are compressed to the groups that actually occur.
_DENSE_BINS_LIMIT = 1 << 24
# Mixed-radix keys stay far below int64 overflow: compress once the radix passes this.
_RADIX_LIMIT = 1 << 40
# Bin narrow codes this many rows at a time: bincount casts its input to intp, and a
# chunk's cast stays in cache where a whole column's would be a fresh 8-byte-per-row array.
_CHUNK_ROWS = 1 << 16
# ... but only while the per-chunk bin array is small next to the chunk.
_CHUNK_BINS_LIMIT = 1 << 12


def _narrow(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Return non-negative integer (or bool) ``values`` as ``dtype``, without a copy if the
    width already matches (a view reinterprets non-negative signed values exactly)."""
    values = np.asarray(values)
    if values.dtype == dtype:
        return values
    if values.dtype.kind in "biu" and values.dtype.itemsize == dtype.itemsize:
        return values.view(dtype)
    return values.astype(dtype)


def _bincount(binned: np.ndarray, n_bins: int) -> np.ndarray:
    """Return ``np.bincount(binned, minlength=n_bins)``, binning narrow codes in chunks."""
    if binned.dtype.itemsize < 8 and n_bins <= _CHUNK_BINS_LIMIT and len(binned) > _CHUNK_ROWS:
        out = np.zeros(n_bins, dtype=np.int64)
        for start in range(0, len(binned), _CHUNK_ROWS):
            part = np.bincount(binned[start : start + _CHUNK_ROWS], minlength=n_bins)
            if len(part) != n_bins:
                raise ValueError("a group code is out of range")
            out += part
        return out
    out = np.bincount(binned, minlength=n_bins)
    if len(out) != n_bins:
        raise ValueError("a group code is out of range")
    return out


def _count_dense(
    codes: Sequence[np.ndarray],
    sizes: list[int],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    with_row_cells: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Return (counts, cells, cell keys, row cells) when every possible bin fits in memory."""
    dense_bins = 4 * math.prod(sizes)
    # Combined code per row, key * 4 + confusion cell, built in the narrowest
    # unsigned dtype that holds it (uint8 for up to 64 groups), so each pass touches
    # 1-4 bytes per row. Only + and * are used: numpy's integer shifts are not
    # vectorised and cost 10x more.
    small = np.min_scalar_type(dense_bins - 1)
    binned = _narrow(codes[0], small).copy()
    for code, size in zip(codes[1:], sizes[1:], strict=True):
        binned *= size
        binned += _narrow(code, small)
    binned *= 2
    binned += _narrow(y_true, small)
    binned *= 2
    binned += _narrow(y_pred, small)
    radix = dense_bins // 4
    dense = _bincount(binned, dense_bins).reshape(radix, 4)
    present = np.flatnonzero(dense.any(axis=1))
    counts = dense[present]
    cell_keys = present
    cells = np.stack(np.unravel_index(cell_keys, sizes), axis=1)
    row_cell = None
    if with_row_cells:
        # A table from combined code to cell index: one gather, no search or division.
        cell_of_bin = np.zeros(dense_bins, dtype=np.intp)
        cell_of_bin.reshape(radix, 4)[present] = np.arange(len(present))[:, None]
        row_cell = cell_of_bin[binned]
    return counts, cells, cell_keys, row_cell


def _count_sparse(
    codes: Sequence[np.ndarray],
    sizes: list[int],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    with_row_cells: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Return (counts, cells, cell keys, row cells) over mixed-radix keys of the groups."""
    n_rows = len(y_true)
    # Build one mixed-radix key per row: key = ((c0 * n1 + c1) * n2 + c2) ...
    key = np.asarray(codes[0]).astype(np.int64)
    radix = sizes[0]
    dims: list[int] | None = [sizes[0]]
    for code, size in zip(codes[1:], sizes[1:], strict=True):
        if radix * size > _RADIX_LIMIT:
            _, key = np.unique(key, return_inverse=True)
            radix = int(key.max()) + 1 if n_rows else 1
            dims = None
        key *= size
        key += code
        radix *= size
        if dims is not None:
            dims.append(size)

    confusion = np.asarray(y_true, dtype=np.uint8) << 1
    confusion |= np.asarray(y_pred, dtype=np.uint8)

    if radix * 4 <= _DENSE_BINS_LIMIT:
        binned = key << 2
        binned += confusion
        dense = np.bincount(binned, minlength=radix * 4).reshape(radix, 4)
        present = np.flatnonzero(dense.any(axis=1))
        counts = dense[present]
        cell_keys = present
    else:
        cell_keys, inverse = np.unique(key, return_inverse=True)
        binned = inverse << 2
        binned += confusion
        counts = np.bincount(binned, minlength=len(cell_keys) * 4).reshape(-1, 4)

    if dims is not None:
        cells = np.stack(np.unravel_index(cell_keys, dims), axis=1)
    else:
        # Keys were compressed, so they no longer decode: read each cell's codes off its
        # first row (np.unique orders cells exactly as cell_keys is ordered).
        _, first_rows = np.unique(key, return_index=True)
        cells = np.stack([np.asarray(c)[first_rows] for c in codes], axis=1)

    row_cell = np.searchsorted(cell_keys, key) if with_row_cells else None
    return counts, cells, cell_keys, row_cell


@dataclass(frozen=True)
class GroupCounts:
    """Confusion counts for every non-empty intersectional group.

    Attributes
    ----------
    features:
        Sensitive feature names, in the order the codes were given.
    levels:
        For each feature, the group names; a code ``i`` means ``levels[f][i]``.
    cells:
        ``(n_cells, n_features)`` level codes of each non-empty intersectional group,
        in lexicographic order of the codes.
    counts:
        ``(n_cells, 4)`` int64 counts of ``CELLS`` for each row of ``cells``.
    row_cell:
        For each input row, the index of its intersectional group in ``cells``
        (only computed when asked for, e.g. for score metrics; else ``None``).
    """

    features: tuple[str, ...]
    levels: tuple[tuple[str, ...], ...]
    cells: np.ndarray
    counts: np.ndarray
    row_cell: np.ndarray | None = None

    @property
    def overall(self) -> np.ndarray:
        """Return the ``(4,)`` counts of all rows together."""
        return self.counts.sum(axis=0)

    def marginal(self, feature_index: int) -> np.ndarray:
        """Return ``(n_levels, 4)`` counts for one feature's groups (sums of cells)."""
        n_levels = len(self.levels[feature_index])
        out = np.zeros((n_levels, 4), dtype=np.int64)
        np.add.at(out, self.cells[:, feature_index], self.counts)
        return out


def count_groups(
    features: Sequence[str],
    codes: Sequence[np.ndarray],
    levels: Sequence[Sequence[str]],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    with_row_cells: bool = False,
) -> GroupCounts:
    """Return the confusion counts per intersectional group, in one vectorised pass.

    Parameters
    ----------
    features, codes, levels:
        For each sensitive feature: its name, an integer code per row
        (``0 <= code < len(levels)``) and its group names.
    y_true, y_pred:
        Binary labels and predictions (bool or 0/1 integers), one per row.
    with_row_cells:
        Also return, for every row, the index of its intersectional group.
    """
    if not codes:
        raise ValueError("count_groups needs at least one sensitive feature")
    sizes = [len(lv) for lv in levels]

    count = _count_dense if 4 * math.prod(sizes) <= _DENSE_BINS_LIMIT else _count_sparse
    counts, cells, cell_keys, row_cell = count(codes, sizes, y_true, y_pred, with_row_cells)
    return GroupCounts(
        features=tuple(features),
        levels=tuple(tuple(lv) for lv in levels),
        cells=cells.astype(np.int64, copy=False).reshape(len(cell_keys), len(codes)),
        counts=counts.astype(np.int64, copy=False),
        row_cell=row_cell,
    )


@dataclass(frozen=True)
class ScoreSums:
    """Exact score statistics for the groups of one grouping (all integers).

    For group ``g``: ``n_pos``/``n_neg`` positives and negatives; with ``A`` a positive's
    ``2 * (negatives scored below) + (negatives tied)`` and ``B`` a negative's
    ``2 * (positives scored above) + (positives tied)`` (within the group),
    ``u2 = sum A`` (so AUC = u2 / (2 n_pos n_neg)), ``a2 = sum A**2``, ``b2 = sum B**2``;
    ``brier1 = sum floor(t * 2**62)`` and ``brier2 = sum floor(t**2 * 2**62)`` over rows
    with ``t = (score - y)**2`` (None when the scores are not probabilities).
    ``groups`` holds the level codes of each group (one column per feature of the
    grouping), in the order of ``build_tables``' groups.
    """

    groups: np.ndarray
    n_pos: tuple[int, ...]
    n_neg: tuple[int, ...]
    u2: tuple[int, ...]
    a2: tuple[int, ...]
    b2: tuple[int, ...]
    brier1: tuple[int, ...] | None = None
    brier2: tuple[int, ...] | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ScoreSums):
            return NotImplemented
        return (
            np.array_equal(self.groups, other.groups)
            and (self.n_pos, self.n_neg, self.u2, self.a2, self.b2)
            == (other.n_pos, other.n_neg, other.u2, other.a2, other.b2)
            and (self.brier1, self.brier2) == (other.brier1, other.brier2)
        )

    __hash__ = None  # type: ignore[assignment]

    def roc_auc(self) -> np.ndarray:
        """Return each group's ROC AUC (NaN without a positive or a negative)."""
        return np.array(
            [
                u2 / (2 * p * n) if p and n else math.nan
                for u2, p, n in zip(self.u2, self.n_pos, self.n_neg)
            ]
        )

    def delong_variance(self) -> np.ndarray:
        """Return each group's DeLong variance of the AUC (NaN below two of either class)."""
        out = []
        for u2, a2, b2, p, n in zip(self.u2, self.a2, self.b2, self.n_pos, self.n_neg):
            if p < 2 or n < 2:
                out.append(math.nan)
                continue
            # Both sets of placements sum to U: sum A = sum B = u2.
            ss_pos = Fraction(p * a2 - u2 * u2, 4 * n * n * p)
            ss_neg = Fraction(n * b2 - u2 * u2, 4 * p * p * n)
            out.append(float(ss_pos / ((p - 1) * p) + ss_neg / ((n - 1) * n)))
        return np.array(out, dtype=np.float64)

    def brier(self) -> tuple[np.ndarray, np.ndarray]:
        """Return each group's Brier score and the variance of its mean (NaN if undefined)."""
        sizes = [p + n for p, n in zip(self.n_pos, self.n_neg)]
        if self.brier1 is None or self.brier2 is None:
            nan = np.full(len(sizes), np.nan)
            return nan, nan.copy()
        means, variances = [], []
        for size, t1, t2 in zip(sizes, self.brier1, self.brier2):
            means.append(float(Fraction(t1, BRIER_SCALE * size)) if size else math.nan)
            if size < 2:
                variances.append(math.nan)
                continue
            # Fixed-point truncation can leave a hair below zero when all errors are equal.
            ss = Fraction(size * t2 * BRIER_SCALE - t1 * t1, BRIER_SCALE**2 * size)
            ss = max(ss, Fraction(0))
            variances.append(float(ss / ((size - 1) * size)))
        return np.array(means, dtype=np.float64), np.array(variances, dtype=np.float64)

    def metric_values(self) -> dict[str, np.ndarray]:
        """Return ``{"roc_auc": ..., "brier_score": ...}`` per group, as ``build_tables`` does."""
        return {"roc_auc": self.roc_auc(), "brier_score": self.brier()[0]}


@dataclass(frozen=True)
class ScoreSummary:
    """Score statistics of every grouping: per feature, the intersection and overall."""

    by_grouping: dict[str, ScoreSums]
    overall: ScoreSums
    is_probability: bool
    score_min: float
    score_max: float

    def grouping(self, name: str | None) -> ScoreSums:
        """Return the sums of grouping ``name`` (a feature or INTERSECTION; None: overall)."""
        return self.overall if name is None else self.by_grouping[name]
