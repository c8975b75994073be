"""``data_bias``: every label, conditional, representation and missing-value row of one frame.

Counts first (``count_data``: the numpy engine), metrics from the counts only
(``rows_from_counts``, which another engine's ``DataCounts`` can feed), then Holm's
adjustment over the whole family of tests (each distinct test once: the five distances of
one comparison share one chi-square test), and NaN turned into ``None`` for JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.data import MISSING_GROUP
from fairaudit.databias._conditional import cdd_rows
from fairaudit.databias._label import label_rows
from fairaudit.databias._representation import missing_rows, representation_rows
from fairaudit.databias._tables import DataCounts, GroupedCounts, count_data
from fairaudit.errors import ConfigError
from fairaudit.measure import same_label
from fairaudit.stats import holm_adjust
from fairaudit.vocabulary import BAD_CONFIDENCE, INTERSECTION

__all__ = [
    "MSG_NO_FAVORABLE",
    "MSG_POPULATION_NOT_SENSITIVE",
    "MSG_UNKNOWN_REFERENCE",
    "data_bias",
    "holm_family",
    "rows_from_counts",
    "reference_index",
]

MSG_UNKNOWN_REFERENCE = "the reference group {wanted} has no rows in {feature!r}"
MSG_POPULATION_NOT_SENSITIVE = "population shares name {feature!r}, not a sensitive feature"
MSG_NO_FAVORABLE = "the favourable label {label!r} is not a value of the target: {values}"


def reference_index(table: GroupedCounts, wanted: Mapping[str, str]) -> int:
    """Return the index of the wanted reference group; the largest group otherwise.

    A single feature's named reference must have rows (ConfigError); for the intersection a
    cell matching every named value is used when it exists, else the largest cell.
    """
    named = {f: str(v) for f, v in wanted.items() if f in table.groups[0]}
    for g, group in enumerate(table.groups):
        if named and all(group[f] == v for f, v in named.items()):
            return g
    if named and table.feature != INTERSECTION:
        text = ", ".join(f"{f}={v!r}" for f, v in named.items())
        raise ConfigError(MSG_UNKNOWN_REFERENCE.format(wanted=text, feature=table.feature))
    return int(np.argmax(table.sizes))


def _favorable_index(levels: list[str], favorable: Any) -> int | None:
    """Return the index of the favourable label; 1 (or True) of a 0/1 label when not given."""
    if favorable is None:
        for binary, yes in ((["0", "1"], "1"), (["False", "True"], "True")):
            if sorted(levels) == binary:
                return levels.index(yes)
        return None
    text = str(favorable)
    if text in levels:
        return levels.index(text)
    # As the model audit reads a label: '1.0' and 'true' name the label 1 (or True), so
    # 'fairaudit run --favorable-label 1.0 --train' measures its training set too.
    same = [i for i, level in enumerate(levels) if same_label(text, level)]
    if not same:
        raise ConfigError(MSG_NO_FAVORABLE.format(label=text, values=", ".join(levels)))
    return same[0]


def _known(sizes: list[GroupedCounts], feature: str) -> GroupedCounts:
    """Return the group sizes of one sensitive feature, the (missing) group left out."""
    for table in sizes:
        if table.feature == feature:
            known = [i for i, g in enumerate(table.groups) if g[feature] != MISSING_GROUP]
            groups = [table.groups[i] for i in known]
            return GroupedCounts(feature, groups, table.levels, table.counts[known])
    raise ConfigError(MSG_POPULATION_NOT_SENSITIVE.format(feature=feature))


def holm_family(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ``p_value_holm`` to every tested row: Holm over the distinct tests of ``rows``."""
    keys: dict[tuple, float] = {}
    for row in rows:
        if "_test" in row:
            keys.setdefault(row["_test"], row["p_value"])
    adjusted = dict(zip(keys, holm_adjust(list(keys.values())).tolist(), strict=True))
    for row in rows:
        if "_test" in row:
            key = row.pop("_test")
            row["p_value"], row["p_value_holm"] = keys[key], adjusted[key]
    return rows


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def rows_from_counts(
    counts: DataCounts,
    *,
    favorable_label: Any = None,
    reference: Mapping[str, str] | None = None,
    population: Mapping[str, Mapping[str, float]] | None = None,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Return the ``data_bias`` rows of ``counts`` (whichever engine counted them)."""
    if not 0 < confidence < 1:
        raise ConfigError(BAD_CONFIDENCE.format(value=confidence))
    rng = np.random.default_rng(seed)
    wanted = dict(reference or {})
    options: dict[str, Any] = {"confidence": confidence, "n_resamples": n_resamples, "rng": rng}
    rows: list[dict[str, Any]] = []
    favorable = None
    for table in counts.labels:
        favorable = _favorable_index(table.levels, favorable_label)
        rows += label_rows(table, reference_index(table, wanted), favorable=favorable, **options)
    if favorable is not None:  # CDD needs a favourable label
        for table in counts.strata:
            ref = reference_index(table, wanted)
            rows += cdd_rows(table, ref, favorable=favorable, **options)
    for name, shares in (population or {}).items():
        rows += representation_rows(_known(counts.sizes, name), shares, confidence=confidence)
    for table, sizes in zip(counts.missing, counts.sizes, strict=False):
        rows += missing_rows(table, sizes.counts[:, 0], confidence=confidence)
    return [{k: _json_safe(v) for k, v in row.items()} for row in holm_family(rows)]


def data_bias(
    frame: pd.DataFrame,
    *,
    target: str,
    sensitive: Sequence[str],
    favorable_label: Any = None,
    reference: Mapping[str, str] | None = None,
    strata: str | None = None,
    population: Mapping[str, Mapping[str, float]] | None = None,
    missing_columns: Sequence[str] | None = None,
    bins: Mapping[str, Sequence[float]] | None = None,
    label_bins: Sequence[float] | None = None,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Return the ``data_bias`` rows of ``frame`` (see ``docs/databias.md``).

    Label metrics per sensitive feature and their intersection, each group against the
    reference and against the rest; CDD given ``strata``; representation of each feature
    named in ``population`` (``{feature: {group: share}}``); the missing-value share of each
    of ``missing_columns`` (default: every non-sensitive column with a missing value) per group.
    ``bins`` cuts numeric sensitive features (``{feature: edges}``, as the model audit's
    ``--bins``); ``label_bins`` cuts a numeric target into classes (a regression target).
    ``count_data`` then ``rows_from_counts``.
    """
    counts = count_data(
        frame,
        target=target,
        sensitive=sensitive,
        strata=strata,
        missing_columns=missing_columns,
        bins=bins,
        label_bins=label_bins,
    )
    return rows_from_counts(
        counts,
        favorable_label=favorable_label,
        reference=reference,
        population=population,
        confidence=confidence,
        n_resamples=n_resamples,
        seed=seed,
    )
