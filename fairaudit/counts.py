"""The counting pass: one table of confusion counts per intersectional group.

Everything else (per-feature groups, the overall row, every confusion-matrix metric,
disparities and bootstrap intervals) derives from this table and never sees rows again.

A confusion cell is ``2 * label + prediction``, so the four columns of a counts array
are, in order, true negatives, false positives, false negatives and true positives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["CELLS", "GroupCounts", "count_groups"]

#: Column order of every counts array: index = 2 * label + prediction.
CELLS = ("tn", "fp", "fn", "tp")

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
    n_rows = len(y_true)
    sizes = [len(lv) for lv in levels]

    dense_bins = 4 * math.prod(sizes)
    if dense_bins <= _DENSE_BINS_LIMIT:
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
        row_cell = np.searchsorted(cell_keys, binned // 4) if with_row_cells else None
    else:
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

    return GroupCounts(
        features=tuple(features),
        levels=tuple(tuple(lv) for lv in levels),
        cells=cells.astype(np.int64, copy=False).reshape(len(cell_keys), len(codes)),
        counts=counts.astype(np.int64, copy=False),
        row_cell=row_cell,
    )
