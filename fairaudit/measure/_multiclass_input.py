"""The numbers a multiclass audit counts: labels and predictions as class codes.

The evaluation set is read by ``data.load_evaluation_data(spec, binary=False)`` (the
label kept as it is); here labels and predictions become text as the user writes them
(``value_text``: 1.0 is '1'), the classes are those seen in either (numbers in numeric
order, text in text order), and both columns become codes into them. A missing label or
prediction is refused with a one-line DataError. Predictions come from
``--prediction-col`` or the model's ``predict`` (loaded as for a regression audit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.data import EvaluationData, shorten, value_text
from fairaudit.errors import ConfigError, DataError
from fairaudit.measure._regression_input import raw_predictions
from fairaudit.measure._task import MAX_CLASSES
from fairaudit.spec import AuditSpec

__all__ = [
    "MSG_MISSING_CLASS",
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


@dataclass
class MulticlassInput:
    """Labels and predictions as class codes, the classes, the source and the model."""

    y_true: np.ndarray
    y_pred: np.ndarray
    classes: tuple[str, ...]
    source: dict[str, Any]
    model_lineage: dict[str, Any] | None


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
    """Return labels and predictions of ``data`` as class codes (see the module docstring)."""
    true_index, true_texts = _texts(data.y_true, f"label column {spec.target!r}")
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
    return MulticlassInput(true, pred, classes, source, lineage)


def favorable_classes(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """Return the favourable classes named by ``--favorable-label`` (given once or more)."""
    if value is None:
        return ()
    names = (value,) if isinstance(value, str) else tuple(value)
    if any(not str(n) for n in names):
        raise ConfigError("--favorable-label must name a class, not an empty string")
    return tuple(dict.fromkeys(str(n) for n in names))
