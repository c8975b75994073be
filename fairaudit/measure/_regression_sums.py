"""A regression model's sufficient statistics per intersectional cell, summed exactly.

For each cell: the row count ``n`` and the exact sums (as :class:`fractions.Fraction`) of

========================  ======================================================
``prediction``            ŷ
``target``                y
``prediction_squared``    ŷ²
``cross``                 ŷ·y
``target_squared``        y²
``absolute_error``        \\|ŷ − y\\|
``error_cubed``           s³ with s = fl(ŷ − y), each row's term in IEEE double
``absolute_error_cubed``  \\|s\\|³ (idem)
``error_fourth``          s⁴ (idem)
``error_sixth``           s⁶ (idem)
========================  ======================================================

Exactness
---------
The first six sums are *exact* real-number sums over the rows' float64 values, not
a floating-point sum: products are split exactly into two doubles (Dekker's product,
``p + q = a·b``), ``|ŷ − y|`` into ``|s| + sign(s)·t`` (Knuth's two-sum, ``s + t = ŷ − y``),
and a column of doubles is summed exactly by writing each as ``M · 2**E`` (53-bit
integer ``M``) and adding the halves of ``M`` per (cell, E) with ``np.bincount``, in
chunks small enough that every float partial sum is an integer below 2**53. So the sums
do not depend on the order of the rows or on how an engine splits them: cells add up to
marginal groups and to the overall row exactly, and two engines that both sum exactly
give identical numbers. Hence ``Σe = Σŷ − Σy`` and ``Σe² = Σŷ² − 2Σŷy + Σy²`` are exact,
and so is ``Σ(y − ȳ)² = Σy² − (Σy)²/n`` (no cancellation); each metric is rounded once,
when it becomes a float. The higher powers of the error only shape the intervals (their
variance and skewness): each row's term is rounded as every engine rounds it (IEEE
double, ``s*s*s``, ``(s*s)*(s*s)``, ``((s*s)*(s*s))*(s*s)``), then summed exactly.

Favourable outcome
------------------
With a threshold (``--favorable-above T``/``--favorable-below T``) each cell also keeps the
confusion counts of the derived binary outcome, ``favorable``: label = target favourable,
prediction = prediction favourable, where favourable means strictly above ``T`` (or
strictly below): a value equal to ``T`` is not favourable. The counts use the binary
encoding (``tn, fp, fn, tp``), so the binary measurement reads them as it reads a
classifier's (``measure._regression_threshold``).

Limits: values beyond 1e50 in magnitude are refused (so the sixth power of an error stays
finite and Dekker's split exact); products of values below 2**-500 may lose the bits
that fall below the smallest double (an absolute error under 2**-1074 per row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Protocol

import numpy as np

from fairaudit.counts import GroupCounts, count_groups

__all__ = [
    "MSG_NO_ROWS",
    "MSG_PARTS_DIFFER",
    "MSG_TOO_LARGE",
    "SUM_NAMES",
    "RegressionCells",
    "Threshold",
    "combine_regression_cells",
    "count_regression",
    "exact_group_sums",
    "favorable_outcome",
]

#: The exact sums each cell keeps, in order.
SUM_NAMES: tuple[str, ...] = (
    "prediction",
    "target",
    "prediction_squared",
    "cross",
    "target_squared",
    "absolute_error",
    "error_cubed",
    "absolute_error_cubed",
    "error_fourth",
    "error_sixth",
)

MSG_NO_ROWS = "there are no rows to measure"
MSG_PARTS_DIFFER = "regression cells of different features or levels cannot be combined"
MSG_TOO_LARGE = (
    "regression targets and predictions must be finite numbers below 1e50 in magnitude "
    "(powers of the errors up to the sixth are summed); found {value!r}"
)

# |value| at most this: Dekker's split (x * (2**27 + 1)) and the sixth power of an error
# stay finite.
_MAX_MAGNITUDE = 1e50
# Halves of a 53-bit mantissa: hi in [-2**27, 2**27), lo in [0, 2**26), so float partial
# sums of this many rows stay integers below 2**53 (exact).
_LOW_BITS = 26
_CHUNK_ROWS = 1 << 26
# Dense (group x exponent) bins up to this many; beyond, exponents are compressed.
_DENSE_LIMIT = 1 << 24
_SPLITTER = float((1 << 27) + 1)


class Threshold(Protocol):
    """A favourable threshold (``fairaudit.spec.FavorableThreshold``)."""

    @property
    def value(self) -> float: ...

    @property
    def direction(self) -> str: ...


def favorable_outcome(values: np.ndarray, threshold: Threshold) -> np.ndarray:
    """Return whether each value is favourable: strictly above the threshold's value
    (``direction="above"``) or strictly below it; a value equal to it is not."""
    values = np.asarray(values, dtype=np.float64)
    if threshold.direction == "above":
        return values > threshold.value
    return values < threshold.value


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return Dekker's split of ``a`` into 26-bit halves (hi + lo = a exactly)."""
    c = _SPLITTER * a
    hi = c - (c - a)
    return hi, a - hi


def _two_product(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (p, q) with p = fl(a·b) and p + q = a·b exactly (Dekker 1971)."""
    p = a * b
    a_hi, a_lo = _split(a)
    b_hi, b_lo = _split(b)
    q = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return p, q


def _two_difference(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (s, t) with s = fl(a − b) and s + t = a − b exactly (Knuth's two-sum)."""
    s = a - b
    z = s - a
    t = (a - (s - z)) - (b + z)
    return s, t


def _scaled(group_sums: dict[int, int], low: int, n_groups: int) -> list[Fraction]:
    """Return each group's integer sum times 2**low as a Fraction."""
    unit = Fraction(1, 1 << -low) if low < 0 else Fraction(1 << low)
    return [Fraction(group_sums.get(g, 0)) * unit for g in range(n_groups)]


def exact_group_sums(group: np.ndarray, n_groups: int, values: np.ndarray) -> list[Fraction]:
    """Return the exact sum of ``values`` (finite float64) for each group code 0..n_groups-1.

    ``v = M · 2**(E - 53)`` with ``M`` a 53-bit integer (``np.frexp``); ``M``'s halves are
    added per (group, E) by ``np.bincount`` in chunks whose float sums stay exact, then
    combined in Python integers.
    """
    values = np.asarray(values, dtype=np.float64)
    group = np.asarray(group, dtype=np.int64)
    if len(values) == 0:
        return [Fraction(0)] * n_groups
    fraction, exponent = np.frexp(values)
    zero = fraction == 0
    if zero.all():
        return [Fraction(0)] * n_groups
    # Zeros add nothing: give them the lowest exponent so they do not widen the span.
    low = int(exponent.min(where=~zero, initial=np.iinfo(exponent.dtype).max))
    if zero.any():
        exponent = np.where(zero, low, exponent)
    exponent = exponent.astype(np.int64)
    exponent -= low
    span = int(exponent.max()) + 1
    if n_groups * span <= _DENSE_LIMIT:
        key, exponents, n_keys = group * span + exponent, None, n_groups * span
    else:
        exponents, inverse = np.unique(exponent, return_inverse=True)
        span = len(exponents)
        key, n_keys = group * span + inverse.reshape(-1), n_groups * span
    # The mantissa's halves in float arithmetic, all exact (scalings by powers of two and a
    # difference of integers below 2**53): numpy's integer shifts are far slower.
    hi = np.floor(fraction * float(1 << (53 - _LOW_BITS)))
    lo = fraction * 2.0**53
    lo -= hi * float(1 << _LOW_BITS)
    hi_sum = np.zeros(n_keys, dtype=object)
    lo_sum = np.zeros(n_keys, dtype=object)
    for start in range(0, len(values), _CHUNK_ROWS):
        part = slice(start, start + _CHUNK_ROWS)
        hi_sum += np.bincount(key[part], weights=hi[part], minlength=n_keys).astype(np.int64)
        lo_sum += np.bincount(key[part], weights=lo[part], minlength=n_keys).astype(np.int64)
    group_sums: dict[int, int] = {}
    for k in np.flatnonzero((hi_sum != 0) | (lo_sum != 0)).tolist():
        g, e = divmod(k, span)
        shift = e if exponents is None else int(exponents[e])
        total = (int(hi_sum[k]) << _LOW_BITS) + int(lo_sum[k])
        group_sums[g] = group_sums.get(g, 0) + (total << shift)
    return _scaled(group_sums, low - 53, n_groups)


def _row_terms(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, list[np.ndarray]]:
    """Return, per sum of SUM_NAMES, the float64 columns whose exact total it is."""
    for column in (y_true, y_pred):
        bad = ~(np.abs(column) <= _MAX_MAGNITUDE)
        if bad.any():
            raise ValueError(MSG_TOO_LARGE.format(value=float(column[np.argmax(bad)])))
    s, t = _two_difference(y_pred, y_true)
    sign = np.sign(s)
    squared = s * s
    fourth = squared * squared
    cubed = squared * s
    return {
        "prediction": [y_pred],
        "target": [y_true],
        "prediction_squared": list(_two_product(y_pred, y_pred)),
        "cross": list(_two_product(y_pred, y_true)),
        "target_squared": list(_two_product(y_true, y_true)),
        "absolute_error": [np.abs(s), sign * t],
        "error_cubed": [cubed],
        "absolute_error_cubed": [np.abs(cubed)],
        "error_fourth": [fourth],
        "error_sixth": [fourth * squared],
    }


@dataclass(frozen=True)
class RegressionCells:
    """A regression model's sufficient statistics per non-empty intersectional cell.

    Attributes
    ----------
    group_counts:
        The cells (``count_groups``' encoding: ``features``, ``levels``, ``cells``), with
        every row counted in column 0 (``tn``), so marginal counts sum as for binary.
    sums:
        ``{name: one exact Fraction per cell}`` for each name of SUM_NAMES.
    predictions, starts:
        Every row's prediction, sorted within its cell, cell after cell; cell ``c``'s are
        ``predictions[starts[c]:starts[c + 1]]`` (for the distribution disparities).
    favorable:
        With a threshold: the binary confusion counts (``tn, fp, fn, tp``) of (target
        favourable, prediction favourable) for the same cells, in the same order; else None.
    """

    group_counts: GroupCounts
    sums: dict[str, tuple[Fraction, ...]]
    predictions: np.ndarray
    starts: np.ndarray
    favorable: GroupCounts | None = None

    @property
    def sizes(self) -> np.ndarray:
        """Return the row count of each cell."""
        return self.group_counts.counts[:, 0]

    def group_sums(self, cell_group: np.ndarray, n_groups: int) -> dict[str, list[Fraction]]:
        """Return the sums of groups made of cells (``cell_group`` maps cell -> group)."""
        out = {name: [Fraction(0)] * n_groups for name in SUM_NAMES}
        for c, g in enumerate(np.asarray(cell_group).tolist()):
            for name in SUM_NAMES:
                out[name][g] += self.sums[name][c]
        return out

    def group_predictions(self, members: np.ndarray) -> np.ndarray:
        """Return the sorted predictions of the union of cells ``members``."""
        parts = [self.predictions[self.starts[c] : self.starts[c + 1]] for c in members.tolist()]
        if len(parts) == 1:
            return parts[0]
        return np.sort(np.concatenate(parts)) if parts else self.predictions[:0]


def count_regression(
    features: Sequence[str],
    codes: Sequence[np.ndarray],
    levels: Sequence[Sequence[str]],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    threshold: Threshold | None = None,
) -> RegressionCells:
    """Return the RegressionCells of row-level targets and predictions, in one pass.

    ``features``, ``codes``, ``levels`` as for ``count_groups`` (which encodes the cells);
    ``y_true`` and ``y_pred`` finite numbers; with a ``threshold``, the cells' ``favorable``
    confusion counts too. Raises ValueError (MSG_TOO_LARGE) for a value that is not finite
    or beyond 1e50 in magnitude, and (MSG_NO_ROWS) without rows.
    """
    if len(y_true) == 0:
        raise ValueError(MSG_NO_ROWS)
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64) + 0.0  # -0.0 is 0.0, one tied value
    labels = [np.zeros(len(y_true), dtype=np.uint8)] * 2
    if threshold is not None:
        labels = [
            favorable_outcome(values, threshold).view(np.uint8) for values in (y_true, y_pred)
        ]
    counted = count_groups(features, codes, levels, *labels, with_row_cells=True)
    assert counted.row_cell is not None
    favorable = replace(counted, row_cell=None) if threshold is not None else None
    sizes = counted.counts.sum(axis=1)
    counted = replace(counted, counts=_all_in_first_column(sizes))
    row_cell = np.asarray(counted.row_cell, dtype=np.int64)
    n_cells = len(counted.cells)
    sums = {
        name: tuple(
            sum(parts, start=Fraction(0))
            for parts in zip(*(exact_group_sums(row_cell, n_cells, col) for col in columns))
        )
        for name, columns in _row_terms(y_true, y_pred).items()
    }
    # One sort of the predictions, then a stable counting sort by cell keeps each cell's
    # run sorted (as the binary score sums do).
    by_value = np.argsort(y_pred, kind="stable")
    narrow = np.min_scalar_type(max(n_cells - 1, 0))
    order = by_value[np.argsort(row_cell[by_value].astype(narrow), kind="stable")]
    starts = np.zeros(n_cells + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_cell, minlength=n_cells), out=starts[1:])
    return RegressionCells(replace(counted, row_cell=None), sums, y_pred[order], starts, favorable)


def _all_in_first_column(sizes: np.ndarray) -> np.ndarray:
    """Return ``(n, 4)`` counts with every row of a cell in column 0 (``tn``), so marginal
    sizes sum as binary counts do."""
    counts = np.zeros((len(sizes), 4), dtype=np.int64)
    counts[:, 0] = sizes
    return counts


def combine_regression_cells(parts: Sequence[RegressionCells]) -> RegressionCells:
    """Return the RegressionCells of rows split into ``parts`` in any way (an engine's
    chunks), exactly as if counted at once: cells are matched by their codes, sums add
    as Fractions and each cell's sorted predictions are merged.

    Every part must share the features and levels (the engine's one encoding); raises
    ValueError (MSG_PARTS_DIFFER) otherwise (or when some parts have ``favorable`` counts
    and others not), and (MSG_NO_ROWS) for no parts.
    """
    if not parts:
        raise ValueError(MSG_NO_ROWS)
    first = parts[0].group_counts
    if any(
        (p.group_counts.features, p.group_counts.levels) != (first.features, first.levels)
        for p in parts
    ):
        raise ValueError(MSG_PARTS_DIFFER)
    if len({p.favorable is None for p in parts}) > 1:
        raise ValueError(MSG_PARTS_DIFFER)
    found: dict[tuple[int, ...], list[tuple[RegressionCells, int]]] = {}
    for part in parts:
        for c, codes in enumerate(part.group_counts.cells.tolist()):
            found.setdefault(tuple(codes), []).append((part, c))
    keys = sorted(found)
    sizes = np.array([sum(int(p.sizes[c]) for p, c in found[k]) for k in keys], dtype=np.int64)
    sums = {
        name: tuple(sum((p.sums[name][c] for p, c in found[k]), Fraction(0)) for k in keys)
        for name in SUM_NAMES
    }
    runs = []
    for k in keys:
        pieces = [p.predictions[p.starts[c] : p.starts[c + 1]] for p, c in found[k]]
        runs.append(np.sort(np.concatenate(pieces), kind="stable"))
    starts = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum(sizes, out=starts[1:])
    cells = np.array(keys, dtype=np.int64).reshape(len(keys), len(first.features))
    group_counts = GroupCounts(first.features, first.levels, cells, _all_in_first_column(sizes))
    favorable = None
    if parts[0].favorable is not None:
        confusion = np.array(
            [sum(p.favorable.counts[c] for p, c in found[k]) for k in keys],  # type: ignore[union-attr]
            dtype=np.int64,
        ).reshape(len(keys), 4)
        favorable = replace(group_counts, counts=confusion)
    return RegressionCells(group_counts, sums, np.concatenate(runs), starts, favorable)
