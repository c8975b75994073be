"""Encoding the label, prediction and sensitive columns: binary classes and group codes.

Both run on a column's values or, in the SQL engines, on its distinct values only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fairaudit.data._checks import MISSING_GROUP, MSG_BINS_NOT_NUMERIC, shorten, value_text
from fairaudit.errors import DataError

__all__ = [
    "MAX_NUMERIC_LEVELS",
    "MSG_MISSING_GROUP_CLASH",
    "MSG_NOT_BINARY",
    "MSG_NOT_ZERO_ONE",
    "MSG_TOO_MANY_LEVELS",
    "SensitiveFeature",
    "bin_labels",
    "binarize",
    "binned_levels",
    "encode_sensitive",
    "suggest_bins",
]

#: A numeric sensitive column with more distinct values than this must be binned.
MAX_NUMERIC_LEVELS = 10

MSG_NOT_BINARY = (
    "{source} has {n} distinct values ({values}); fairaudit audits binary "
    "classifiers: map them to two classes first"
)
MSG_NOT_ZERO_ONE = (
    "{source} has values {values}, not 0/1; pass "
    "--positive-label VALUE to say which value is the positive class"
)
MSG_TOO_MANY_LEVELS = (
    "sensitive column {column!r} is numeric with {n} distinct values "
    "(from {low} to {high}); bin it, e.g. at its rounded quartiles, with --bins "
    "{column}={edges} or in the config ([bins] {column} = [{toml}]) rather "
    "than audit {n} groups"
)
MSG_MISSING_GROUP_CLASH = (
    "sensitive column {column!r} has both missing values and the value "
    "{group!r}; rename that value (or, in 'fairaudit run', drop the rows with "
    "--missing-sensitive drop)"
)


@dataclass(frozen=True)
class SensitiveFeature:
    """A sensitive feature encoded as integer codes into ``levels`` (group names)."""

    name: str
    codes: np.ndarray
    levels: tuple[str, ...]
    binned: bool


def binarize(
    values: pd.Series,
    positive_label: str | None,
    *,
    column: str,
    role: str,
    source: str | None = None,
) -> np.ndarray:
    """Return a bool array: True where ``values`` equals the positive label.

    Without ``positive_label`` the values must be 0/1 or booleans.
    Raises DataError naming the column (or ``source``) and the offending values.
    """
    source = source or f"{role} column {column!r}"
    distinct = pd.unique(values)
    if len(distinct) > 2:
        shown = shorten([value_text(v) for v in distinct])
        raise DataError(MSG_NOT_BINARY.format(source=source, n=len(distinct), values=shown))
    if positive_label is None:
        if values.dtype == bool:
            return values.to_numpy(dtype=bool)
        if pd.api.types.is_numeric_dtype(values.dtype) and all(v in (0, 1) for v in distinct):
            return values.to_numpy() == 1
        shown = shorten([value_text(v) for v in distinct])
        raise DataError(MSG_NOT_ZERO_ONE.format(source=source, values=shown))
    # Compare as text, the way the user wrote the label; at most two distinct values, so
    # convert those and look rows up by their factorized code.
    raw, uniques = pd.factorize(values)
    wanted = positive_label.lower() if values.dtype == bool else positive_label
    if pd.api.types.is_numeric_dtype(values.dtype) and values.dtype != bool:
        # "1.0" names the value 1 of a numeric column, as "1" does.
        try:
            wanted = value_text(float(positive_label))
        except ValueError:
            pass
    texts = [value_text(v) for v in uniques]
    if values.dtype == bool:
        texts = [t.lower() for t in texts]
    is_positive = np.array([t == wanted for t in texts] + [False], dtype=bool)
    return is_positive[raw]


def _format_edge(edge: float) -> str:
    return str(int(edge)) if float(edge).is_integer() else repr(edge)


def bin_labels(edges: Sequence[float]) -> list[str]:
    """Return the group names of the bins that ``edges`` cut: ``< a``, ``[a, b)``, ``>= b``."""
    labels = [f"< {_format_edge(edges[0])}"]
    labels += [f"[{_format_edge(a)}, {_format_edge(b)})" for a, b in zip(edges, edges[1:])]
    labels.append(f">= {_format_edge(edges[-1])}")
    return labels


def binned_levels(column: str, edges: Sequence[float], *, numeric: bool) -> list[str]:
    """Return the bin names of a binned sensitive column; raise unless it holds numbers."""
    if not numeric:
        raise DataError(MSG_BINS_NOT_NUMERIC.format(column=column))
    return bin_labels(edges)


def _round_step(spread: float) -> float:
    """Return a round step: 1, 2 or 5 times a power of ten, at most a quarter of ``spread``."""
    rough = spread / 4
    power = 10.0 ** math.floor(math.log10(rough))
    return max(m * power for m in (1, 2, 5) if m * power <= rough)


def suggest_bins(distinct: Sequence[float]) -> list[float]:
    """Return bin edges for a numeric column: the quartiles of its values, rounded.

    ``distinct`` are the column's distinct values (what every engine has of a column, so
    the suggestion is the same whichever engine read it). Each quartile is rounded to a
    multiple of a round step (1, 2 or 5 times a power of ten, at most a quarter of the
    interquartile range); edges that coincide or leave a bin without values are dropped.
    """
    values = np.unique(np.asarray(distinct, dtype=np.float64))
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return []
    quartiles = [float(q) for q in np.quantile(values, [0.25, 0.5, 0.75])]
    low, high = float(values[0]), float(values[-1])
    step = _round_step(quartiles[2] - quartiles[0] or high - low)
    digits = max(0, -math.floor(math.log10(step)))
    edges: list[float] = []
    for quartile in quartiles:
        edge = round(math.floor(quartile / step + 0.5) * step, digits)
        if low < edge <= high and edge not in edges:
            edges.append(edge)
    return edges or [quartiles[1]]


def _level_codes(values: pd.Series, missing: np.ndarray, column: str, numeric: bool) -> tuple:
    """Return the levels (as text, ordered) and each row's code of an unbinned column."""
    # One hashing pass over the rows: missing values factorize to -1 (and stay -1), and
    # the uniques are the distinct present values in order of appearance; pd.unique of
    # them has the scalar types pd.unique of the present rows would have.
    raw, uniques = pd.factorize(values)
    distinct = pd.unique(pd.Series(uniques, dtype=values.dtype))
    if numeric and len(distinct) > MAX_NUMERIC_LEVELS:
        present = values[~missing]
        edges = [value_text(e) for e in suggest_bins(distinct)]
        raise DataError(
            MSG_TOO_MANY_LEVELS.format(
                column=column,
                n=len(distinct),
                low=value_text(present.min()),
                high=value_text(present.max()),
                edges=",".join(edges),
                toml=", ".join(edges),
            )
        )
    ordered = sorted(distinct) if numeric else sorted(distinct, key=lambda v: str(v))
    levels = [value_text(v) for v in ordered]
    if len(set(levels)) != len(levels):
        # e.g. 1 and 1.0 in an object column: merge by text, the way users read them.
        levels = sorted(set(levels))
    # Text of each distinct value once, then every row by its factorized code. The text
    # comes from the same scalars as the levels' (``distinct`` is ``uniques`` in the same
    # order): a datetime's unique is a Timestamp, its pd.unique a datetime64 of other text.
    lookup = pd.Index(levels).get_indexer([value_text(v) for v in distinct])
    return levels, np.append(lookup, -1).astype(np.int64)[raw]


def encode_sensitive(
    values: pd.Series, *, column: str, edges: Sequence[float] | None
) -> SensitiveFeature:
    """Return integer group codes for one sensitive column (binned when ``edges`` given).

    Levels are ordered numerically for numbers and bins, else as text; the missing
    group, if any, comes last.
    """
    missing = values.isna().to_numpy()
    numeric = pd.api.types.is_numeric_dtype(values.dtype) and values.dtype != bool
    if edges is not None:
        levels = binned_levels(column, edges, numeric=numeric)
        boundaries = np.asarray(edges, dtype=np.float64)
        raw = values.to_numpy(dtype=np.float64, na_value=np.nan)
        codes = np.searchsorted(boundaries, raw, side="right").astype(np.int64)
    else:
        levels, codes = _level_codes(values, missing, column, numeric)
    if missing.any():
        if MISSING_GROUP in levels:
            raise DataError(MSG_MISSING_GROUP_CLASH.format(column=column, group=MISSING_GROUP))
        levels = list(levels) + [MISSING_GROUP]
        codes = np.where(missing, len(levels) - 1, codes)
    return SensitiveFeature(
        column, np.asarray(codes, dtype=np.int64), tuple(levels), edges is not None
    )
