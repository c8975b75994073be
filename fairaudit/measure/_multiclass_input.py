"""The numbers a multiclass audit counts: labels and predictions as class codes.

The evaluation set is read by ``data.load_evaluation_data(spec, binary=False)`` (the
label kept as it is); here labels and predictions become text as the user writes them
(``value_text``: 1.0 is '1'), the classes are those seen in either (numbers in numeric
order, text in text order), and both columns become codes into them. A missing label or
prediction is refused with a one-line DataError. Predictions come from
``--prediction-col`` or the model's ``predict`` (loaded as for a regression audit).

Per-class scores (:class:`ClassScores`, for one-vs-rest ROC AUC) come from the model's
``predict_proba`` (or an ``(n, K)`` ``decision_function``), its columns in the order of
``model.classes_`` (a class of the audit the model has no column for has no score), or
from ``--score-col CLASS=COL`` given once per class (numeric, finite values; a class
without a column has no score). Scores need not be probabilities: one-vs-rest AUC ranks
each class's scores alone. Probabilities whose rows do not sum to 1 are noted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.counts import count_groups
from fairaudit.data import EvaluationData, shorten, value_text
from fairaudit.errors import ConfigError, DataError, ModelError
from fairaudit.measure._direction import same_label
from fairaudit.measure._multiclass import ClassScores
from fairaudit.measure._regression_input import raw_predictions
from fairaudit.measure._task import MAX_CLASSES
from fairaudit.spec import AuditSpec

__all__ = [
    "MSG_BAD_SCORES",
    "MSG_MISSING_CLASS",
    "MSG_SCORE_CLASS",
    "MSG_SCORES_OFF_ONE",
    "MSG_UNSCORED_CLASSES",
    "MSG_TOO_MANY_PREDICTED",
    "MulticlassInput",
    "favorable_classes",
    "multiclass_input",
]

MSG_MISSING_CLASS = (
    "{source} has {n} missing value{s}; a multiclass audit needs a class in every row"
)
MSG_TOO_MANY_PREDICTED = (
    "labels and predictions together have {n} classes, more than {limit}; check that the "
    "prediction column holds class labels ({values})"
)


MSG_SCORE_CLASS = (
    "--score-col names class {label!r}, which is not a class of the label column {column!r} "
    "(classes: {classes})"
)
MSG_BAD_SCORES = (
    "{source} has {n} value{s} that {are} not a finite number ({values}); class scores must "
    "be numbers in every row"
)
MSG_SCORES_OFF_ONE = (
    "the class probabilities of {n} of {rows} rows do not sum to 1 (up to 1e-6; e.g. "
    "{example:.6g}); one-vs-rest AUC ranks each class's scores alone and is unaffected"
)
MSG_UNSCORED_CLASSES = "no score for class{es} {names} ({why}): {its} roc_auc is null"


@dataclass
class MulticlassInput:
    """Labels and predictions as class codes, the classes, the source and the model;
    ``scores``: the per-class scores with each row's cell (None without scores)."""

    y_true: np.ndarray
    y_pred: np.ndarray
    classes: tuple[str, ...]
    source: dict[str, Any]
    model_lineage: dict[str, Any] | None
    scores: ClassScores | None = None


def _texts(values: Any, source: str) -> tuple[np.ndarray, list[str]]:
    """Return each row's index into the distinct values and those values as class text
    (read once per distinct value); raise DataError for a missing one."""
    series = pd.Series(values).reset_index(drop=True)
    missing = series.isna()
    if missing.any():
        n = int(missing.sum())
        raise DataError(MSG_MISSING_CLASS.format(source=source, n=n, s="" if n == 1 else "s"))
    if series.dtype == object and series.map(type).nunique() > 1:
        # 1, 1.0 and True hash alike: read mixed types value by value.
        series = pd.Series([_text(v) for v in series], dtype=object)
    codes, uniques = pd.factorize(series)
    return codes, [_text(v) for v in uniques]


def _text(value: Any) -> str:
    """Return a class as text as the user writes it (1.0 is '1', True is 'true')."""
    return value_text(value).lower() if isinstance(value, bool | np.bool_) else value_text(value)


def _order(classes: set[str]) -> tuple[str, ...]:
    """Return the classes in numeric order when all are numbers, else in text order."""
    try:
        return tuple(sorted(classes, key=float))
    except ValueError:
        return tuple(sorted(classes))


def multiclass_input(spec: AuditSpec, data: EvaluationData) -> MulticlassInput:
    """Return labels and predictions of ``data`` as class codes, and the class scores when
    the model scores or ``--score-col CLASS=COL`` names columns (see the module docstring)."""
    true_index, true_texts = _texts(data.y_true, f"label column {spec.target!r}")
    estimator = None
    lineage: dict[str, Any] | None
    if spec.model is not None:
        from fairaudit.models import model_predictions

        predicted, lineage, estimator = model_predictions(spec, data)
        raw, name = predicted.labels, "the model's predictions"
        source: dict[str, Any] = {"source": "model", "score": None}
    else:
        raw, name, source, lineage = raw_predictions(spec, data)
    pred_index, pred_texts = _texts(raw, name)
    classes = _order(set(true_texts) | set(pred_texts))
    if len(classes) > MAX_CLASSES:
        extra = sorted(set(pred_texts) - set(true_texts))
        raise DataError(
            MSG_TOO_MANY_PREDICTED.format(
                n=len(classes), limit=MAX_CLASSES, values=shorten(extra[:8])
            )
        )
    code = {c: i for i, c in enumerate(classes)}
    true = np.array([code[t] for t in true_texts], dtype=np.int64)[true_index]
    pred = np.array([code[t] for t in pred_texts], dtype=np.int64)[pred_index]
    read = _model_scores(estimator, data, lineage, classes) if estimator is not None else None
    if read is None and spec.class_scores:
        read = _column_scores(spec, data, classes)
    scores = None
    if read is not None:
        matrix, scored, kind, notes = read
        source["score"] = kind
        if kind == "columns":
            source["class_scores"] = dict(spec.class_scores)
        scores = ClassScores(_row_cells(data), true, matrix, scored, kind, notes)
    return MulticlassInput(true, pred, classes, source, lineage, scores)


_Read = tuple[np.ndarray, tuple[bool, ...], str, tuple[str, ...]]


def _row_cells(data: EvaluationData) -> np.ndarray:
    """Return each row's intersectional cell, as ``count_multiclass`` numbers the cells."""
    codes = [f.codes for f in data.sensitive]
    zeros = np.zeros(len(data.frame), dtype=np.uint8)
    names = [f.name for f in data.sensitive]
    layout = count_groups(names, codes, [f.levels for f in data.sensitive], zeros, zeros,
                          with_row_cells=True)  # fmt: skip
    assert layout.row_cell is not None
    return np.asarray(layout.row_cell, dtype=np.int64)


def _notes(matrix: np.ndarray, scored: tuple[bool, ...], classes: Sequence[str], why: str,
           probabilities: bool) -> tuple[str, ...]:  # fmt: skip
    """Return the notes on the scores: classes without one, rows not summing to 1."""
    notes = []
    missing = [repr(c) for c, ok in zip(classes, scored, strict=True) if not ok]
    if missing:
        many = len(missing) > 1
        text = MSG_UNSCORED_CLASSES.format(
            es="es" if many else "",
            names=", ".join(missing),
            why=why,
            its="their" if many else "its",
        )
        notes.append(text)
    if probabilities and all(scored) and len(matrix):
        sums = matrix.sum(axis=1)
        off = np.abs(sums - 1.0) > 1e-6
        if off.any():
            example = float(sums[np.flatnonzero(off)[0]])
            notes.append(MSG_SCORES_OFF_ONE.format(n=int(off.sum()), rows=len(matrix),
                                                   example=example))  # fmt: skip
    return tuple(notes)


def _model_scores(
    estimator: Any, data: EvaluationData, lineage: Any, classes: Sequence[str]
) -> _Read | None:
    """Return the model's per-class scores (``predict_proba``, else an ``(n, K)``
    ``decision_function``) in class-code order; None when it has neither."""
    features: Any = data.frame[list(lineage["feature_columns"])]
    if getattr(estimator, "feature_names_in_", None) is None:
        features = features.to_numpy()  # fitted on an array: no feature names
    model_classes = [_text(c) for c in getattr(estimator, "classes_", [])]
    kind = next((k for k in ("predict_proba", "decision_function") if hasattr(estimator, k)), None)
    if kind is None or not model_classes:
        return None
    try:
        raw = np.asarray(getattr(estimator, kind)(features), dtype=np.float64)
    except Exception as exc:  # a model may expose predict_proba yet refuse it
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"the model failed to score the data ({kind}): {first}") from None
    if raw.shape != (len(data.frame), len(model_classes)):
        if kind == "decision_function":
            return None  # one-vs-one or binary decision values: no score per class
        raise ModelError(f"the model's predict_proba returned shape {raw.shape} for "
                         f"{len(data.frame)} rows and {len(model_classes)} classes")  # fmt: skip
    if not np.isfinite(raw).all():
        raise ModelError(f"the model's {kind} returned missing or infinite scores")
    column = {c: j for j, c in enumerate(model_classes)}
    matrix = np.full((len(raw), len(classes)), np.nan)
    for k, label in enumerate(classes):
        if label in column:
            matrix[:, k] = raw[:, column[label]]
    scored = tuple(label in column for label in classes)
    why = "not among the model's classes_"
    return matrix, scored, kind, _notes(matrix, scored, classes, why, kind == "predict_proba")


def _column_scores(spec: AuditSpec, data: EvaluationData, classes: Sequence[str]) -> _Read:
    """Return the scores of ``--score-col CLASS=COL`` in class-code order; a CLASS that is
    no class, or a column with a value that is not a finite number, is a DataError."""
    matrix = np.full((len(data.frame), len(classes)), np.nan)
    for label, column in spec.class_scores:
        matches = [k for k, c in enumerate(classes) if same_label(label, c)]
        if not matches:
            shown = ", ".join(repr(c) for c in classes[:20]) + (
                ", ..." if len(classes) > 20 else ""
            )
            raise DataError(MSG_SCORE_CLASS.format(label=label, column=spec.target, classes=shown))
        values = pd.to_numeric(data.frame[column], errors="coerce").to_numpy(dtype=np.float64)
        if data.frame[column].dtype == bool:
            values = np.full(len(values), np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            n = int(bad.sum())
            shown = shorten([value_text(v) for v in pd.unique(data.frame[column][bad])][:8])
            raise DataError(MSG_BAD_SCORES.format(source=f"score column {column!r} (class "
                            f"{label!r})", n=n, s="" if n == 1 else "s",
                            are="is" if n == 1 else "are", values=shown))  # fmt: skip
        matrix[:, matches[0]] = values
    scored = tuple(bool(not np.isnan(matrix[:, k]).all()) for k in range(len(classes)))
    probabilities = bool(((matrix >= 0) & (matrix <= 1)).all()) if all(scored) else False
    why = "no --score-col CLASS=COL for it"
    return matrix, scored, "columns", _notes(matrix, scored, classes, why, probabilities)


def favorable_classes(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """Return the favourable classes named by ``--favorable-label`` (given once or more)."""
    if value is None:
        return ()
    names = (value,) if isinstance(value, str) else tuple(value)
    if any(not str(n) for n in names):
        raise ConfigError("--favorable-label must name a class, not an empty string")
    return tuple(dict.fromkeys(str(n) for n in names))
