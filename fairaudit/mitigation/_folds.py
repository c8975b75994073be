"""Groups, seeds, folds and scores: what the mitigation units are given to work on.

Groups are the intersection of the sensitive features, coded once across the training and
evaluation rows. Every randomized step gets a seed derived from the run's seed, so the
outcomes are identical for any number of workers. The threshold methods are cross-fitted
on folds stratified by group and label, from one finite score per evaluation row.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.data import MISSING_GROUP
from fairaudit.mitigation._units import failure_reason, warning_notes

__all__ = [
    "TOO_FEW_FOR_FOLDS",
    "FoldError",
    "derived_seed",
    "fold_of_row_plan",
    "group_codes",
    "smallest_class_cell",
    "threshold_scores",
]

#: A group too small for cross-fitting (all threshold methods fail with it).
TOO_FEW_FOR_FOLDS = (
    "group {group} has {count} {label} row(s) in the evaluation set; cross-fitting needs at "
    "least 2 positive and 2 negative rows in every group, so that each held-out row's group "
    "has thresholds fitted on other rows (merge small groups, e.g. with coarser bins)"
)
_BAD_SCORES = "{count} of the scores are missing or not finite; thresholds need a score per row"
_NO_SCORES = "the model cannot score the evaluation rows: {error}"


def group_codes(
    frames: Sequence[pd.DataFrame], columns: Sequence[str]
) -> tuple[tuple[str, ...], list[np.ndarray]]:
    """Return the intersectional group names and, per frame, each row's group code.

    The frames are coded together, so a code means the same group in each of them.
    """
    joined = pd.concat([frame[list(columns)] for frame in frames], ignore_index=True)
    column_codes = []
    column_levels = []
    for column in columns:
        codes, levels = _text_codes(joined[column])
        column_codes.append(codes)
        column_levels.append([str(level) for level in levels])
    cells, inverse = _unique_rows(column_codes, [len(levels) for levels in column_levels])
    if len(columns) == 1:
        names = tuple(column_levels[0][cell[0]] for cell in cells)
    else:
        names = tuple(
            ", ".join(f"{c}={column_levels[i][cell[i]]}" for i, c in enumerate(columns))
            for cell in cells
        )
    inverse = inverse.reshape(-1).astype(np.int64)
    bounds = np.cumsum([0, *(len(frame) for frame in frames)])
    return names, [inverse[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _as_text(values: pd.Series) -> pd.Series:
    values = values.astype(object)
    return values.where(values.notna(), MISSING_GROUP).astype(str)


def _text_codes(values: pd.Series) -> tuple[np.ndarray, Any]:
    """Return ``pd.factorize`` (sorted) of the values as text, missing ones as MISSING_GROUP.

    A column of strings is factorized as it is and only its distinct values are turned
    into text (the same groups: equal strings are equal text); turning a million values
    into Python objects and back took a second.
    """
    if not pd.api.types.is_string_dtype(values):
        return pd.factorize(_as_text(values), sort=True)
    raw_codes, uniques = pd.factorize(values)
    labels = _as_text(pd.Series(uniques, dtype=object)).tolist()
    missing = raw_codes < 0
    if missing.any():
        raw_codes = np.where(missing, len(labels), raw_codes)
        labels.append(MISSING_GROUP)
    label_codes, levels = pd.factorize(np.asarray(labels, dtype=object), sort=True)
    return label_codes[raw_codes], levels


def _unique_rows(
    column_codes: Sequence[np.ndarray], sizes: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``np.unique(np.stack(column_codes, axis=1), axis=0, return_inverse=True)``.

    The same cells in the same (lexicographic) order, from one mixed-radix integer key per
    row: ``np.unique`` over rows sorts a structured view, 2 s for a million rows.
    """
    if not column_codes or math.prod(max(size, 1) for size in sizes) >= 2**62:
        return np.unique(np.stack(column_codes, axis=1), axis=0, return_inverse=True)
    key = np.zeros(len(column_codes[0]), dtype=np.int64)
    for codes, size in zip(column_codes, sizes, strict=True):
        key *= max(size, 1)
        key += codes
    keys, inverse = np.unique(key, return_inverse=True)
    cells = np.empty((len(keys), len(sizes)), dtype=np.int64)
    for position in range(len(sizes) - 1, -1, -1):
        keys, cells[:, position] = np.divmod(keys, max(sizes[position], 1))
    return cells, inverse


def smallest_class_cell(
    codes: np.ndarray, names: Sequence[str], y_true: np.ndarray
) -> tuple[int, str, str]:
    """Return the fewest rows of one class in one group: (count, group, "positive"/"negative").

    Groups are checked in order, positives first; the first smallest wins.
    """
    counts = np.bincount(codes * 2 + y_true.astype(np.int64), minlength=2 * len(names))
    smallest = (len(codes) + 1, "", "")
    for group, (negatives, positives) in enumerate(counts.reshape(-1, 2)):
        for count, label in ((positives, "positive"), (negatives, "negative")):
            if count < smallest[0]:
                smallest = (int(count), names[group], label)
    return smallest


def derived_seed(seed: int, *path: int) -> int:
    """Return a 32-bit seed derived from the run's seed and a path (method, fold)."""
    return int(np.random.SeedSequence([seed, *path]).generate_state(1)[0])


class FoldError(Exception):
    """The threshold methods cannot be cross-fitted on these rows; the message says why."""


def fold_of_row_plan(
    codes: np.ndarray, names: Sequence[str], y_true: np.ndarray, folds: int, seed: int
) -> np.ndarray:
    """Return the held-out fold of every row: stratified by group and label, seeded."""
    from sklearn.model_selection import StratifiedKFold

    n_strata = 2 * len(names)
    strata = codes * 2 + y_true.astype(np.int64)
    counts = np.bincount(strata, minlength=n_strata).reshape(-1, 2)
    for group, (negatives, positives) in enumerate(counts):
        for count, label in ((positives, "positive"), (negatives, "negative")):
            if count < 2:
                raise FoldError(
                    TOO_FEW_FOR_FOLDS.format(group=repr(names[group]), count=count, label=label)
                )
    fold_of_row = np.full(len(strata), -1, dtype=np.int64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=derived_seed(seed))
    try:
        with warnings.catch_warnings():
            # A stratum smaller than the number of folds is fine here: two rows suffice.
            warnings.filterwarnings(
                "ignore", message="The least populated class in y has only", category=UserWarning
            )
            for fold, (_, held) in enumerate(splitter.split(np.zeros((len(strata), 1)), strata)):
                fold_of_row[held] = fold
    except ValueError as exc:  # e.g. fewer rows than folds
        raise FoldError(str(exc).strip().splitlines()[0]) from None
    # Guard the guarantee itself: each held-out (group, label) also occurs in the fitting
    # folds, else fairlearn would silently predict 0 for an unseen group.
    held_counts = np.zeros((folds, n_strata), dtype=np.int64)
    np.add.at(held_counts, (fold_of_row, strata), 1)
    unseen = (held_counts > 0) & (counts.reshape(1, -1) - held_counts == 0)
    if unseen.any():
        fold, stratum = map(int, np.argwhere(unseen)[0])
        raise FoldError(
            f"fold {fold + 1} of {folds}: group {names[stratum // 2]!r} occurs in no other fold"
        )
    return fold_of_row


def threshold_scores(
    score: Any, estimator: Any, features: pd.DataFrame
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Return a finite score per evaluation row and the notes of warnings computing it.

    ``score`` when given, else the estimator's, in fairlearn's ``predict_method="auto"``
    order (``predict_proba``'s second column, ``decision_function``, ``predict``).
    Raise FoldError with the reason when there is no usable score.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if score is not None:
            raw: Any = score
        else:
            try:
                if hasattr(estimator, "predict_proba"):
                    raw = np.asarray(estimator.predict_proba(features))[:, 1]
                elif hasattr(estimator, "decision_function"):
                    raw = estimator.decision_function(features)
                else:
                    raw = estimator.predict(features)
                raw = np.asarray(raw, dtype=np.float64)
            except Exception as exc:
                raise FoldError(_NO_SCORES.format(error=failure_reason(exc))) from None
    scores = np.asarray(raw, dtype=np.float64).reshape(-1)
    bad = int((~np.isfinite(scores)).sum())
    if bad:
        raise FoldError(_BAD_SCORES.format(count=bad))
    return scores, warning_notes(caught)
