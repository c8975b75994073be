"""The numbers a regression audit counts: the target and the predictions as floats.

The evaluation set is read by ``data.load_evaluation_data(spec, binary=False)`` (the same
checks as a binary audit, the label kept as it is); here the target becomes float64
(text that is not a number, or a missing or infinite value, is refused with a one-line
DataError) and the predictions come from ``--prediction-col`` or from the model's
``predict`` (loaded as safely as for a binary audit, ``models.load_model``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.data import EvaluationData, shorten, value_text
from fairaudit.errors import DataError
from fairaudit.spec import AuditSpec

__all__ = ["MSG_NOT_NUMBERS", "RegressionInput", "raw_predictions", "regression_input"]

MSG_NOT_NUMBERS = (
    "{source} has {n} value{s} that {are} not {what} ({values}); a regression audit needs "
    "a finite number under 1e50 in magnitude in every row"
)


@dataclass
class RegressionInput:
    """Targets and predictions as float64, where the predictions came from, the model."""

    y_true: np.ndarray
    y_pred: np.ndarray
    source: dict[str, Any]
    model_lineage: dict[str, Any] | None


def _numbers(values: Any, source: str) -> np.ndarray:
    """Return ``values`` as finite float64 numbers; raise DataError naming ``source``."""
    series = pd.Series(values).reset_index(drop=True)
    if series.dtype == bool:
        numbers = np.full(len(series), np.nan)
    else:
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(numbers) | (np.abs(numbers) >= 1e50)
    if bad.any():
        n = int(bad.sum())
        shown = shorten([value_text(v) for v in pd.unique(series[bad])][:8])
        raise DataError(
            MSG_NOT_NUMBERS.format(
                source=source, n=n, s="" if n == 1 else "s", are="is" if n == 1 else "are",
                what="a finite number" if n == 1 else "finite numbers", values=shown,
            )
        )  # fmt: skip
    return numbers


def _model_predictions(spec: AuditSpec, data: EvaluationData) -> tuple[Any, dict[str, Any]]:
    """Return the model's predictions and the result's ``lineage.model``."""
    from fairaudit.models import model_predictions

    predicted, lineage, _ = model_predictions(spec, data)
    return predicted.labels, lineage


def raw_predictions(
    spec: AuditSpec, data: EvaluationData
) -> tuple[Any, str, dict[str, Any], dict[str, Any] | None]:
    """Return the predictions as given (``--prediction-col`` or the model's ``predict``),
    how to name them in an error, the result's ``lineage.predictions`` and
    ``lineage.model`` (None for a column)."""
    if spec.model is None:
        assert spec.prediction_col is not None
        source = {"source": "column", "column": spec.prediction_col, "score": None}
        name = f"prediction column {spec.prediction_col!r}"
        return data.frame[spec.prediction_col], name, source, None
    raw, lineage = _model_predictions(spec, data)
    return raw, "the model's predictions", {"source": "model", "score": None}, lineage


def regression_input(spec: AuditSpec, data: EvaluationData) -> RegressionInput:
    """Return the target and predictions of ``data`` as float64 (see the module docstring)."""
    y_true = _numbers(data.y_true, f"label column {spec.target!r}")
    raw, name, source, lineage = raw_predictions(spec, data)
    return RegressionInput(y_true, _numbers(raw, name), source, lineage)
