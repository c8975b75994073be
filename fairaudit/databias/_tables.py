"""Group × level contingency tables: the counts every data-bias metric is computed from.

Rows never reach the metrics: ``group_codes`` encodes each grouping (each sensitive feature,
then their intersection when there are several) once, the ``*_tables`` functions count it
into one ``GroupedCounts`` per grouping, and ``count_data`` gathers them in a ``DataCounts``.
The metrics read only those counts, so an engine that counts the same tables where the data
lives (group sizes, group × label, group × stratum × label, missing values per group) can
hand them to ``fairaudit.databias.rows_from_counts``.

Group names are the model audit's (``fairaudit.data.encode_sensitive``), missing values
included (the group ``(missing)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fairaudit.data import MISSING_GROUP, bin_labels, encode_sensitive
from fairaudit.errors import DataError
from fairaudit.vocabulary import INTERSECTION, MAX_GROUPS

__all__ = [
    "DataCounts",
    "GroupedCounts",
    "Grouping",
    "MSG_LABEL_BINS_NOT_NUMERIC",
    "MSG_ONE_CLASS",
    "MSG_TOO_MANY_GROUPS",
    "MSG_UNKNOWN_COLUMN",
    "count_data",
    "factorize_levels",
    "group_codes",
    "intersection",
    "label_codes",
    "label_tables",
    "missing_count_tables",
    "missing_tables",
    "size_tables",
    "strata_code_tables",
    "strata_tables",
]

MSG_UNKNOWN_COLUMN = "the data has no column {column!r}"
MSG_ONE_CLASS = "the target column {column!r} has fewer than two label values: {values}"
MSG_LABEL_BINS_NOT_NUMERIC = "the target column {column!r} is not numeric; it cannot be binned"
MSG_TOO_MANY_GROUPS = (
    "the intersection of the sensitive features has {groups:,} groups, more than the limit of "
    "{limit:,}; use coarser bins or fewer sensitive features"
)


#: One grouping: its name (a feature, or ``intersection``), each row's group code, the groups.
Grouping = tuple[str, np.ndarray, list[dict[str, str]]]


@dataclass(frozen=True)
class GroupedCounts:
    """Counts of one grouping: ``counts[g, ...]`` for group ``groups[g]``.

    ``levels`` names the last axis (label values, or feature names for missing counts);
    for the strata table the middle axis is named by ``strata``.
    """

    feature: str
    groups: list[dict[str, str]]
    levels: list[str]
    counts: np.ndarray
    strata: list[str] | None = None

    @property
    def sizes(self) -> np.ndarray:
        """Return the rows of each group (summed over every other axis)."""
        return self.counts.reshape(len(self.groups), -1).sum(axis=1)


def _column(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        raise DataError(MSG_UNKNOWN_COLUMN.format(column=column))
    return frame[column]


def factorize_levels(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Return sorted codes and level texts; a missing value is the level ``(missing)``, last."""
    codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
    levels = [str(u) for u in uniques]
    if (codes < 0).any():
        codes = np.where(codes < 0, len(levels), codes)
        levels.append(MISSING_GROUP)
    return codes.astype(np.int64), levels


def group_codes(
    frame: pd.DataFrame,
    sensitive: Sequence[str],
    *,
    bins: Mapping[str, Sequence[float]] | None = None,
) -> list[Grouping]:
    """Return ``(name, codes, groups)`` for each sensitive feature and their intersection.

    Each feature is encoded as the model audit encodes it (``fairaudit.data.encode_sensitive``:
    the same group names, ``bins`` per feature, the missing group last).
    """
    singles = []
    for feature in sensitive:
        edges = (bins or {}).get(feature)
        encoded = encode_sensitive(_column(frame, feature), column=feature, edges=edges)
        singles.append((feature, encoded.codes, [{feature: v} for v in encoded.levels]))
    if len(singles) < 2:
        return singles
    return [*singles, intersection(singles)]


def intersection(singles: Sequence[Grouping]) -> Grouping:
    """Return the intersection of single-feature groupings: its observed cells, in code order."""
    key = np.zeros(len(singles[0][1]), dtype=np.int64)
    for _, codes, groups in singles:
        key = key * len(groups) + codes
    cells, inverse = np.unique(key, return_inverse=True)
    if len(cells) > MAX_GROUPS:
        raise DataError(MSG_TOO_MANY_GROUPS.format(groups=len(cells), limit=MAX_GROUPS))
    groups = []
    for cell in cells:
        group: dict[str, str] = {}
        for feature, _, levels in reversed(singles):
            cell, index = divmod(int(cell), len(levels))
            group = {feature: levels[index][feature], **group}
        groups.append(group)
    return INTERSECTION, inverse.astype(np.int64), groups


def label_codes(
    frame: pd.DataFrame, target: str, *, bins: Sequence[float] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Return label codes (-1 where the label is missing) and the label values as text.

    Integral floats read as integers (``1.0`` is the label ``"1"``); with ``bins`` a numeric
    target is cut at those edges into the model audit's bins (``< a``, ``[a, b)``, ``>= b``):
    a binned regression target.
    """
    values = _column(frame, target)
    if bins is not None:
        if not pd.api.types.is_numeric_dtype(values.dtype) or values.dtype == bool:
            raise DataError(MSG_LABEL_BINS_NOT_NUMERIC.format(column=target))
        edges = np.asarray(sorted(float(b) for b in bins))
        raw = values.to_numpy(dtype=np.float64, na_value=np.nan)
        codes = np.searchsorted(edges, raw, side="right").astype(np.int64)
        return np.where(np.isnan(raw), -1, codes), bin_labels(edges.tolist())
    if values.dtype.kind == "f" and np.all(np.mod(values.dropna(), 1) == 0):
        values = values.astype("Int64")
    codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
    levels = [str(u) for u in uniques]
    if len(levels) < 2:
        raise DataError(MSG_ONE_CLASS.format(column=target, values=levels or "none"))
    return codes.astype(np.int64), levels


def _cross(
    group: np.ndarray,
    n_groups: int,
    other: np.ndarray,
    n_other: int,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Return the ``(n_groups, n_other)`` table of code pairs; negative codes are left out.

    ``weights``: how many rows each entry stands for (an engine's aggregated cells).
    """
    kept = other >= 0
    flat = np.bincount(
        group[kept] * n_other + other[kept],
        weights=None if weights is None else weights[kept],
        minlength=n_groups * n_other,
    )
    return flat.reshape(n_groups, n_other).astype(np.int64)


def size_tables(
    groupings: Sequence[Grouping], weights: np.ndarray | None = None
) -> list[GroupedCounts]:
    """Return the rows of each group of each grouping (levels ``["rows"]``)."""
    return [
        GroupedCounts(name, groups, ["rows"], _cross(codes, len(groups), codes * 0, 1, weights))
        for name, codes, groups in groupings
    ]


def label_tables(
    groupings: Sequence[Grouping],
    labels: np.ndarray,
    levels: list[str],
    weights: np.ndarray | None = None,
) -> list[GroupedCounts]:
    """Return the group × label counts of each grouping (rows without a label left out)."""
    return [
        GroupedCounts(
            name, groups, levels, _cross(codes, len(groups), labels, len(levels), weights)
        )
        for name, codes, groups in groupings
    ]


def strata_tables(
    groupings: Sequence[Grouping], labels: np.ndarray, levels: list[str], strata: pd.Series
) -> list[GroupedCounts]:
    """Return group × stratum × label counts of each grouping (for the conditional metrics)."""
    stratum, strata_levels = factorize_levels(strata)
    return strata_code_tables(groupings, labels, levels, stratum, strata_levels)


def strata_code_tables(
    groupings: Sequence[Grouping],
    labels: np.ndarray,
    levels: list[str],
    stratum: np.ndarray,
    strata_levels: list[str],
    weights: np.ndarray | None = None,
) -> list[GroupedCounts]:
    """Return group × stratum × label counts from stratum codes (``factorize_levels``)."""
    n_strata, n_labels = len(strata_levels), len(levels)
    cell = np.where(labels >= 0, stratum * n_labels + labels, -1)
    tables = []
    for name, codes, groups in groupings:
        counts = _cross(codes, len(groups), cell, n_strata * n_labels, weights)
        shaped = counts.reshape(len(groups), n_strata, n_labels)
        tables.append(GroupedCounts(name, groups, levels, shaped, strata=strata_levels))
    return tables


def missing_tables(
    groupings: Sequence[Grouping], frame: pd.DataFrame, columns: Sequence[str]
) -> list[GroupedCounts]:
    """Return, per grouping, the group × column counts of missing values."""
    missing = np.stack([_column(frame, c).isna().to_numpy() for c in columns], axis=1)
    return missing_count_tables(groupings, missing, columns)


def missing_count_tables(
    groupings: Sequence[Grouping], missing: np.ndarray, columns: Sequence[str]
) -> list[GroupedCounts]:
    """Return group × column missing counts from ``missing[row, column]`` (flags or counts)."""
    out = []
    for name, codes, groups in groupings:
        counts = np.stack(
            [
                np.bincount(codes, weights=missing[:, j], minlength=len(groups))
                for j in range(len(columns))
            ],
            axis=1,
        ).astype(np.int64)
        out.append(GroupedCounts(name, groups, list(columns), counts))
    return out


@dataclass(frozen=True)
class DataCounts:
    """Every count the data-bias metrics need, one entry per grouping in the same order.

    ``sizes``: all rows per group (levels ``["rows"]``); ``labels``: group × label;
    ``strata``: group × stratum × label (empty without a strata column); ``missing``:
    group × column missing values (empty without such columns). An engine that counts these
    where the data lives can hand them to ``fairaudit.databias.rows_from_counts``.
    """

    sizes: list[GroupedCounts]
    labels: list[GroupedCounts]
    strata: list[GroupedCounts]
    missing: list[GroupedCounts]


def count_data(
    frame: pd.DataFrame,
    *,
    target: str,
    sensitive: Sequence[str],
    strata: str | None = None,
    missing_columns: Sequence[str] | None = None,
    bins: Mapping[str, Sequence[float]] | None = None,
    label_bins: Sequence[float] | None = None,
) -> DataCounts:
    """Return the ``DataCounts`` of ``frame``: the numpy engine of the data audit.

    ``missing_columns`` defaults to every non-sensitive column with a missing value.
    """
    groupings = group_codes(frame, sensitive, bins=bins)
    labels, levels = label_codes(frame, target, bins=label_bins)
    if missing_columns is None:
        missing_columns = [
            c for c in frame.columns if c not in sensitive and bool(frame[c].isna().any())
        ]
    return DataCounts(
        sizes=size_tables(groupings),
        labels=label_tables(groupings, labels, levels),
        strata=[]
        if strata is None
        else strata_tables(groupings, labels, levels, _column(frame, strata)),
        missing=missing_tables(groupings, frame, missing_columns) if missing_columns else [],
    )
