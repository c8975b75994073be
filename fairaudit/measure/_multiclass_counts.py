"""A multiclass classifier's sufficient statistics: a K x K confusion matrix per cell.

One counting pass: every row's intersectional cell (``count_groups``' encoding, so cells,
their order and the marginal groups are those of a binary audit), true class code ``t``
and predicted class code ``p`` are combined into one bin ``(cell * K + t) * K + p`` and
counted with ``np.bincount``. ``confusion[c, t, p]`` is the number of rows of cell ``c``
whose true class is ``t`` and predicted class ``p`` (rows: true class, columns: predicted
class, as scikit-learn's ``confusion_matrix``). Marginal groups and the overall matrix are
sums of cells, never a second pass over the rows.

An engine that aggregates where the data lives (SQL ``GROUP BY`` sensitive columns, label,
prediction) hands its rows of counts to :func:`multiclass_counts_from_aggregates`, which
gives the same :class:`MulticlassCounts` as :func:`count_multiclass` on the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fairaudit.counts import GroupCounts, count_groups
from fairaudit.measure._regression_sums import MSG_NO_ROWS

__all__ = [
    "MAX_CONFUSION_ENTRIES",
    "MSG_CLASS_CODE",
    "MSG_DUPLICATE_CLASSES",
    "MSG_GROUP_CODE",
    "MSG_TOO_MANY_CONFUSION_CELLS",
    "MulticlassCounts",
    "count_multiclass",
    "multiclass_counts_from_aggregates",
]

#: The dense (cells x K x K) table is refused above this many entries (256 MiB of int64).
MAX_CONFUSION_ENTRIES = 1 << 25

MSG_CLASS_CODE = "a class code is outside 0..{limit} (the {k} classes given)"
MSG_GROUP_CODE = "a group code is out of range"
MSG_DUPLICATE_CLASSES = "the class labels must be distinct; {label!r} appears twice"
MSG_TOO_MANY_CONFUSION_CELLS = (
    "{cells:,} intersectional cells x {k} classes x {k} classes is {entries:,} confusion "
    "counts, more than {limit:,}; use fewer sensitive features, coarser --bins or fewer classes"
)


@dataclass(frozen=True)
class MulticlassCounts:
    """Confusion matrices of every non-empty intersectional cell.

    Attributes
    ----------
    features, levels, cells:
        As ``GroupCounts``: feature names, group names per feature, and the level codes of
        each non-empty cell, in lexicographic order.
    classes:
        The class labels; class code ``k`` means ``classes[k]``.
    confusion:
        ``(n_cells, K, K)`` int64: ``confusion[c, t, p]`` rows of cell ``c`` with true
        class ``t`` and predicted class ``p``.
    """

    features: tuple[str, ...]
    levels: tuple[tuple[str, ...], ...]
    classes: tuple[str, ...]
    cells: np.ndarray
    confusion: np.ndarray

    @property
    def sizes(self) -> np.ndarray:
        """Return the number of rows of each cell."""
        return self.confusion.sum(axis=(1, 2))

    @property
    def overall(self) -> np.ndarray:
        """Return the ``(K, K)`` confusion matrix of all rows together."""
        return self.confusion.sum(axis=0)

    def group_confusion(self, cell_group: np.ndarray, n_groups: int) -> np.ndarray:
        """Return ``(n_groups, K, K)`` matrices of groups made of cells (cell -> group)."""
        k = len(self.classes)
        out = np.zeros((n_groups, k, k), dtype=np.int64)
        np.add.at(out, np.asarray(cell_group, dtype=np.int64), self.confusion)
        return out

    def marginal(self, feature_index: int) -> np.ndarray:
        """Return ``(n_levels, K, K)`` matrices of one feature's groups (sums of cells)."""
        n_levels = len(self.levels[feature_index])
        return self.group_confusion(self.cells[:, feature_index], n_levels)

    def layout(self) -> GroupCounts:
        """Return the cells as ``GroupCounts`` with every row counted in column 0 (``tn``),
        so ``build_tables`` lays out groups, their order and the reference as for binary."""
        counts = np.zeros((len(self.cells), 4), dtype=np.int64)
        counts[:, 0] = self.sizes
        return GroupCounts(self.features, self.levels, self.cells, counts)


def _check_classes(classes: Sequence[str]) -> int:
    """Return the number of classes; ValueError if there are none or two are equal."""
    if not classes:
        raise ValueError(MSG_CLASS_CODE.format(limit=-1, k=0))
    seen: set[str] = set()
    for label in classes:
        if label in seen:
            raise ValueError(MSG_DUPLICATE_CLASSES.format(label=label))
        seen.add(label)
    return len(classes)


def _check_size(n_cells: int, k: int) -> None:
    """Raise ValueError without a row (MSG_NO_ROWS) or above MAX_CONFUSION_ENTRIES."""
    if n_cells == 0:
        raise ValueError(MSG_NO_ROWS)
    entries = n_cells * k * k
    if entries > MAX_CONFUSION_ENTRIES:
        raise ValueError(
            MSG_TOO_MANY_CONFUSION_CELLS.format(
                cells=n_cells, k=k, entries=entries, limit=MAX_CONFUSION_ENTRIES
            )
        )


def _class_codes(values: np.ndarray, k: int) -> np.ndarray:
    """Return class codes as int64, ValueError (MSG_CLASS_CODE) if one is out of range."""
    codes = np.asarray(values)
    if codes.dtype.kind not in "biu":
        raise ValueError(MSG_CLASS_CODE.format(limit=k - 1, k=k))
    codes = codes.astype(np.int64, copy=False)
    if len(codes) and (int(codes.min()) < 0 or int(codes.max()) >= k):
        raise ValueError(MSG_CLASS_CODE.format(limit=k - 1, k=k))
    return codes


def count_multiclass(
    features: Sequence[str],
    codes: Sequence[np.ndarray],
    levels: Sequence[Sequence[str]],
    classes: Sequence[str],
    y_true: np.ndarray,
    y_pred: np.ndarray,
) -> MulticlassCounts:
    """Return the confusion matrix of every intersectional cell, in one counting pass.

    ``features``, ``codes``, ``levels`` as for ``count_groups``; ``y_true`` and ``y_pred``
    integer class codes ``0 <= code < len(classes)``, ``classes`` distinct labels. Raises
    ValueError for a code out of range (MSG_CLASS_CODE), repeated labels
    (MSG_DUPLICATE_CLASSES), no rows (MSG_NO_ROWS) or a table above MAX_CONFUSION_ENTRIES.
    """
    k = _check_classes(classes)
    if len(y_true) == 0:
        raise ValueError(MSG_NO_ROWS)
    true, pred = _class_codes(y_true, k), _class_codes(y_pred, k)
    if len(true) != len(pred):
        raise ValueError("y_true and y_pred differ in length")
    zeros = np.zeros(len(true), dtype=np.uint8)
    layout = count_groups(features, codes, levels, zeros, zeros, with_row_cells=True)
    assert layout.row_cell is not None
    n_cells = len(layout.cells)
    _check_size(n_cells, k)
    binned = np.asarray(layout.row_cell, dtype=np.int64) * k
    binned += true
    binned *= k
    binned += pred
    confusion = np.bincount(binned, minlength=n_cells * k * k).reshape(n_cells, k, k)
    return MulticlassCounts(
        features=tuple(features),
        levels=tuple(tuple(lv) for lv in levels),
        classes=tuple(classes),
        cells=layout.cells,
        confusion=confusion.astype(np.int64, copy=False),
    )


def multiclass_counts_from_aggregates(
    features: Sequence[str],
    levels: Sequence[Sequence[str]],
    classes: Sequence[str],
    cell_codes: np.ndarray,
    true_codes: np.ndarray,
    pred_codes: np.ndarray,
    counts: np.ndarray,
) -> MulticlassCounts:
    """Return MulticlassCounts from an engine's aggregated rows.

    Row ``r`` says that ``counts[r]`` rows have level codes ``cell_codes[r]`` (one column
    per feature), true class ``true_codes[r]`` and predicted class ``pred_codes[r]``; a
    combination may appear in several rows (partial aggregates add up). Rows with a zero
    count are ignored, so cells are exactly the non-empty ones, as ``count_multiclass``;
    the same ValueErrors.
    """
    k = _check_classes(classes)
    counts = np.asarray(counts, dtype=np.int64)
    keep = counts > 0
    cell_codes = np.asarray(cell_codes, dtype=np.int64).reshape(len(counts), len(features))[keep]
    true, pred = _class_codes(true_codes, k)[keep], _class_codes(pred_codes, k)[keep]
    if not len(cell_codes):
        raise ValueError(MSG_NO_ROWS)
    sizes = np.array([len(lv) for lv in levels])
    if cell_codes.min() < 0 or np.any(cell_codes.max(axis=0) >= sizes):
        raise ValueError(MSG_GROUP_CODE)
    cells, cell_of_row = np.unique(cell_codes, axis=0, return_inverse=True)
    _check_size(len(cells), k)
    confusion = np.zeros((len(cells), k, k), dtype=np.int64)
    np.add.at(confusion, (cell_of_row.reshape(-1), true, pred), counts[keep])
    return MulticlassCounts(
        features=tuple(features),
        levels=tuple(tuple(lv) for lv in levels),
        classes=tuple(classes),
        cells=cells.reshape(len(cells), len(features)),
        confusion=confusion,
    )
