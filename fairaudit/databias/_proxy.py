"""Proxy features: which non-sensitive features stand in for a sensitive attribute.

For each sensitive feature ``s`` and each other feature ``x``:

- ``cramers_v``: ``sqrt(χ² / (n (min(r, c) − 1)))`` of the ``x × s`` table, with a numeric
  ``x`` of more than ``NUMERIC_BINS`` values cut into ``NUMERIC_BINS`` quantile bins (a
  missing value is a level of its own);
- ``normalized_mutual_information``: ``I(x; s) / ((H(x) + H(s)) / 2)`` on the same binned
  levels (scikit-learn's arithmetic normalisation);
- ``auc``: the cross-validated ROC AUC (``FOLDS`` stratified folds; one-vs-rest macro
  average for more than two groups) of a depth-3 decision tree predicting ``s`` from ``x``
  alone (a numeric ``x`` as it is, missing as the column's median; a categorical one
  one-hot encoded). ``auc_folds`` is the spread over the folds.

Features are ranked by ``auc``; those at or above ``threshold`` (``PROXY_AUC_THRESHOLD`` by
default) are flagged. ``joint`` is the cross-validated AUC of a gradient-boosted model
predicting ``s`` from all the features together: near 0.5 the inputs do not encode the
attribute, near 1 dropping the attribute from the inputs changed nothing.

The cross-validated models see at most ``max_rows`` rows (``MAX_MODEL_ROWS`` by default), a
stratified sample drawn with ``seed``; the result says so in ``rows_modelled`` and
``sampled``. Cramér's V and the mutual information use every row.

Every model of one attribute is scored on the same folds, drawn once, and each fold's AUC is
scikit-learn's ``roc_auc_score`` computed from the counts behind each distinct score
(``_binary_auc``): the numbers ``cross_val_score`` gives, at a tenth of its cost on small
data (600 rows: 0.13 s of CPU for the single-feature models of two attributes, against
0.3 s; the joint model takes 1.5 s more, which ``joint=False`` leaves out).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.data import MISSING_GROUP
from fairaudit.databias._tables import MSG_UNKNOWN_COLUMN, group_codes
from fairaudit.errors import DataError

__all__ = [
    "FOLDS",
    "MAX_MODEL_ROWS",
    "NUMERIC_BINS",
    "PROXY_AUC_THRESHOLD",
    "cramers_v",
    "proxy_features",
]

#: A feature whose single-feature AUC reaches this is flagged as a proxy.
PROXY_AUC_THRESHOLD = 0.7
#: Rows the cross-validated models see at most; above it a stratified sample is drawn.
MAX_MODEL_ROWS = 100_000
#: Quantile bins of a numeric feature for Cramér's V and the mutual information.
NUMERIC_BINS = 10
FOLDS = 5
#: Categories a feature keeps in the single-feature model's one-hot input, and in the joint
#: model (gradient boosting takes at most 254); the rarest share the last one beyond that.
ONE_HOT_LEVELS = 32
JOINT_LEVELS = 250
#: The largest size a number keeps in the proxy models' input: the trees take float32, and
#: scikit-learn sums a column in float32 (1e30 x 3.4e8 rows still fits).
_LARGEST = 1e30


def cramers_v(table: np.ndarray) -> float:
    """Return Cramér's V of a contingency table (empty rows and columns left out)."""
    table = np.asarray(table, dtype=np.float64)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return 0.0
    n = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return math.sqrt(chi2 / (n * (min(table.shape) - 1)))


def _in_range(values: pd.Series) -> pd.Series:
    """Return the numbers as float64, those beyond ±``_LARGEST`` (infinities) clipped to it:
    the trees take float32 input and refuse what does not fit, and an infinity turns
    quantile edges into NaN. Missing values stay missing; other values are unchanged."""
    return values.astype(np.float64).clip(-_LARGEST, _LARGEST)


def _is_numeric(values: pd.Series) -> bool:
    return values.dtype.kind in "iuf" and values.nunique() > NUMERIC_BINS


def _levels(values: pd.Series) -> np.ndarray:
    """Return level codes: quantile bins of a many-valued numeric column, else its values."""
    if _is_numeric(values):
        binned = pd.qcut(_in_range(values), NUMERIC_BINS, labels=False, duplicates="drop")
        return np.where(binned.isna(), -1, binned).astype(np.int64) + 1
    return pd.factorize(values, use_na_sentinel=False)[0].astype(np.int64)


def _design(values: pd.Series) -> Any:
    """Return the single-feature model input: the numbers, or a one-hot encoding."""
    if _is_numeric(values) or values.dtype.kind == "b":
        numeric = _in_range(values)
        return numeric.fillna(numeric.median()).to_numpy()[:, None]
    codes = _category_codes(values, ONE_HOT_LEVELS)
    return np.eye(codes.max() + 1, dtype=np.float32)[codes]


def _category_codes(values: pd.Series, cap: int) -> np.ndarray:
    """Return category codes (missing is a category); past ``cap`` categories, the rarest
    share the last code, so an identifier column cannot blow up the model's input."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    if len(uniques) <= cap:
        return codes
    order = np.argsort(-np.bincount(codes), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return np.minimum(rank[codes], cap - 1)


def _sample(target: np.ndarray, max_rows: int, seed: int) -> np.ndarray | None:
    """Return a stratified sample of about ``max_rows`` row indices, with at least ``FOLDS``
    of each group, or None when every row fits."""
    if len(target) <= max_rows:
        return None
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(target))
    kept, rest = train_test_split(rows, train_size=max_rows, stratify=target, random_state=seed)
    # A group the sample thins below FOLDS rows (every group has FOLDS rows or more) would
    # leave a fold without it, and every fold AUC undefined: top it up from the rows left
    # out (shuffled by the split), so each group reaches FOLDS rows.
    short = FOLDS - np.bincount(target[kept], minlength=int(target.max()) + 1)
    extra = [rest[target[rest] == g][: short[g]] for g in np.flatnonzero(short > 0)]
    return np.sort(np.concatenate([kept, *extra]))


def _folds(y: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return the stratified folds every model of one attribute is scored on (they depend
    on the attribute only, so they are drawn once, as ``cross_val_score`` would draw them)."""
    from sklearn.model_selection import StratifiedKFold

    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    return list(folds.split(np.zeros((len(y), 1)), y))


def _binary_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Return scikit-learn's ``roc_auc_score(y, score)`` of 0/1 labels, computed as it does
    (the same curve, intermediate points dropped, trapezoids) from the counts behind each
    distinct score: the same float, without its input checks (``tests/test_databias.py``)."""
    from scipy.integrate import trapezoid  # what scikit-learn's auc() sums with

    levels, where = np.unique(score, return_inverse=True)
    positives = np.bincount(where, weights=y, minlength=len(levels))[::-1]
    tps = np.cumsum(positives)
    fps = np.cumsum(np.bincount(where, minlength=len(levels))[::-1]) - tps
    if len(fps) > 2:
        kept = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        fps, tps = fps[kept], tps[kept]
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    return float(trapezoid(tps / tps[-1], fps / fps[-1]))


def _cv_auc(
    model: Any, x: Any, y: np.ndarray, folds: Sequence[tuple[np.ndarray, np.ndarray]]
) -> list[float]:
    """Return the model's ROC AUC on each fold: ``cross_val_score`` with ``roc_auc`` (two
    groups) or ``roc_auc_ovr`` (macro average over the groups), the same numbers at a
    fraction of its cost (no clone, scorer or checks per fold)."""
    rows = (lambda i: x.iloc[i]) if hasattr(x, "iloc") else (lambda i: x[i])
    out = []
    for train, test in folds:
        fitted = model.fit(rows(train), y[train])
        out.append(_fold_auc(fitted.classes_, y[test], fitted.predict_proba(rows(test))))
    return out


def _fold_auc(classes: np.ndarray, truth: np.ndarray, proba: np.ndarray) -> float:
    """Return one fold's AUC from the probabilities of the model's ``classes`` (its columns).

    The columns are the classes the model was fitted on, which need not be ``0..K-1``: a
    sample (``max_rows``) can leave a small group out. NaN, as ``cross_val_score`` scores a
    fold whose scorer fails, when the fold's labels are not exactly those classes.
    """
    if not np.array_equal(np.unique(truth), classes):
        return math.nan
    if len(classes) == 2:
        return _binary_auc(truth == classes[1], proba[:, 1])
    per_class = [_binary_auc(truth == c, proba[:, j]) for j, c in enumerate(classes)]
    return float(np.average(per_class))


def _joint_input(frame: pd.DataFrame, features: Sequence[str]) -> tuple[pd.DataFrame, list[bool]]:
    columns, categorical = {}, []
    for name in features:
        values = frame[name]
        numeric = values.dtype.kind in "iufb"
        if numeric:
            # A column with no value says nothing; gradient boosting cannot bin it (a
            # traceback: 'window shape cannot be larger than input array shape').
            number = _in_range(values)
            columns[name] = number if number.notna().any() else number.fillna(0.0)
        else:
            columns[name] = _category_codes(values, JOINT_LEVELS)
        categorical.append(not numeric)
    return pd.DataFrame(columns), categorical


def _one_attribute(
    frame: pd.DataFrame,
    features: Sequence[str],
    codes: np.ndarray,
    kept: np.ndarray | None,
    *,
    threshold: float,
    seed: int,
    joint: bool,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import normalized_mutual_info_score
    from sklearn.tree import DecisionTreeClassifier

    n_groups = int(codes.max()) + 1
    y = codes if kept is None else codes[kept]
    splits = _folds(y, seed)
    tree = DecisionTreeClassifier(max_depth=3, random_state=seed)
    rows: list[dict[str, Any]] = []
    for name in features:
        levels = _levels(frame[name])
        table = np.zeros((int(levels.max()) + 1, n_groups))
        np.add.at(table, (levels, codes), 1)
        x = _design(frame[name] if kept is None else frame[name].iloc[kept])
        folds = _cv_auc(tree, x, y, splits)
        rows.append(
            {
                "feature": name,
                "cramers_v": cramers_v(table),
                "normalized_mutual_information": float(normalized_mutual_info_score(codes, levels)),
                "auc": float(np.mean(folds)),
                "auc_folds": [min(folds), max(folds)],
            }
        )
    rows.sort(key=lambda r: -r["auc"])
    for rank, row in enumerate(rows, start=1):
        row.update(rank=rank, flagged=row["auc"] >= threshold)
    if not joint:
        return rows, None
    encoded, categorical = _joint_input(frame if kept is None else frame.iloc[kept], features)
    model = HistGradientBoostingClassifier(
        max_iter=100, categorical_features=categorical, random_state=seed
    )
    folds = _cv_auc(model, encoded, y, splits)
    return rows, {"auc": float(np.mean(folds)), "auc_folds": [min(folds), max(folds)]}


def proxy_features(
    frame: pd.DataFrame,
    *,
    sensitive: Sequence[str],
    features: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    bins: Mapping[str, Sequence[float]] | None = None,
    threshold: float = PROXY_AUC_THRESHOLD,
    max_rows: int = MAX_MODEL_ROWS,
    seed: int = 0,
    joint: bool = True,
) -> list[dict[str, Any]]:
    """Return one proxy analysis per sensitive feature (see the module docstring).

    ``features`` defaults to every column that is neither sensitive nor in ``exclude``
    (pass the target there). Rows whose sensitive value is missing are left out; ``bins``
    cuts numeric sensitive features as for the label metrics. ``joint=False`` leaves out
    the joint model (``joint`` is then None): on 600 rows it takes 1.5 s of the 1.6 s.
    """
    if features is None:
        features = [c for c in frame.columns if c not in sensitive and c not in exclude]
    for name in features:
        if name not in frame.columns:
            raise DataError(MSG_UNKNOWN_COLUMN.format(column=name))
    import sklearn.ensemble  # noqa: F401  loaded first: threadpoolctl limits loaded libraries only
    from threadpoolctl import threadpool_limits

    # One thread: OpenMP's spinning threads make gradient boosting 20x slower on a busy
    # machine (24 s against 1.2 s for 4,000 rows, measured), as in the mitigation fits.
    with threadpool_limits(limits=1):
        return [
            _analysis(frame, name, codes, groups, features, (threshold, max_rows, seed, joint))
            for name, codes, groups in group_codes(frame, sensitive, bins=bins)[: len(sensitive)]
        ]


def _analysis(
    frame: pd.DataFrame,
    name: str,
    codes: np.ndarray,
    groups: list[dict[str, str]],
    features: Sequence[str],
    settings: tuple[float, int, int, bool],
) -> dict[str, Any]:
    """Return the proxy analysis of one sensitive feature (``settings``: the threshold,
    ``max_rows``, the seed and whether to fit the joint model).

    Rows whose value is missing, and groups of fewer than ``FOLDS`` rows (too small for
    stratified folds), are left out; ``groups_left_out`` names the latter.
    """
    threshold, max_rows, seed, joint = settings
    sizes = np.bincount(codes, minlength=len(groups))
    usable = [g[name] != MISSING_GROUP and sizes[i] >= FOLDS for i, g in enumerate(groups)]
    small = [g[name] for i, g in enumerate(groups) if g[name] != MISSING_GROUP and not usable[i]]
    known = np.asarray(usable)[codes]
    part = frame.loc[known].reset_index(drop=True)
    attribute = np.unique(codes[known], return_inverse=True)[1].astype(np.int64)
    out: dict[str, Any] = {
        "sensitive": name,
        "threshold": threshold,
        "rows": int(len(attribute)),
        "groups_left_out": small,
    }
    if sum(usable) < 2:  # nothing to tell apart
        return {**out, "rows_modelled": 0, "sampled": False, "features": [], "joint": None}
    kept = _sample(attribute, max_rows, seed)
    rows, together = _one_attribute(
        part, features, attribute, kept, threshold=threshold, seed=seed, joint=joint
    )
    return {
        **out,
        "rows_modelled": int(len(attribute) if kept is None else len(kept)),
        "sampled": kept is not None,
        "features": rows,
        "joint": together,
    }
