"""``fairaudit.audit``: one function, two ways in — a DataFrame and a fitted estimator, or
arrays of labels, predictions and sensitive features as fairlearn's MetricFrame takes them.

Both build one :class:`~fairaudit.spec.AuditSpec` and run the one pipe
(:func:`fairaudit.pipe.run_audit`); nothing here computes a number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.api._result import Result
from fairaudit.errors import ConfigError
from fairaudit.pipe import run_audit
from fairaudit.spec import AuditSpec

__all__ = ["ARRAY_COLUMNS", "audit", "arrays_frame"]

#: The columns the array form names its label, prediction and score arrays in the table.
ARRAY_COLUMNS = {"y_true": "y_true", "y_pred": "y_pred", "y_score": "y_score"}
_OPTIONS = {f.name for f in fields(AuditSpec)} - {"data", "model", "target", "sensitive"}


def _one_column(values: Any, name: str) -> np.ndarray:
    """Return one array argument as a 1-D numpy array (a Series keeps its values' types)."""
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise ConfigError(f"{name} must be one column, not a table of {values.shape[1]}")
        values = values.iloc[:, 0]
    array = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if array.ndim != 1:
        raise ConfigError(
            f"{name} must be one-dimensional (one value per row), not of shape {array.shape}"
        )
    return array


def _sensitive_columns(values: Any) -> dict[str, np.ndarray]:
    """Return the sensitive features by name, named as fairlearn names them."""
    if isinstance(values, pd.DataFrame):
        return {str(c): _one_column(values[c], f"sensitive feature {c!r}") for c in values}
    if isinstance(values, Mapping):
        return {str(k): _one_column(v, f"sensitive feature {k!r}") for k, v in values.items()}
    if isinstance(values, pd.Series):
        name = str(values.name) if values.name is not None else "sensitive_feature_0"
        return {name: _one_column(values, "sensitive_features")}
    array = np.asarray(values)
    if array.ndim == 2:
        return {f"sensitive_feature_{i}": array[:, i] for i in range(array.shape[1])}
    return {"sensitive_feature_0": _one_column(array, "sensitive_features")}


def arrays_frame(
    y_true: Any, y_pred: Any, y_score: Any | None, sensitive_features: Any
) -> tuple[pd.DataFrame, list[str]]:
    """Return the table the array form audits (columns ``y_true``, ``y_pred``, ``y_score``
    and the sensitive features) and the sensitive features' names."""
    if y_pred is None:
        raise ConfigError("y_true needs y_pred: pass the predicted labels as y_pred=...")
    if sensitive_features is None:
        raise ConfigError("no sensitive feature: pass sensitive_features=... (one per row)")
    columns = {"y_true": _one_column(y_true, "y_true"), "y_pred": _one_column(y_pred, "y_pred")}
    if y_score is not None:
        columns["y_score"] = _one_column(y_score, "y_score")
    sensitive = _sensitive_columns(sensitive_features)
    clash = sorted(set(sensitive) & set(ARRAY_COLUMNS))
    if clash:
        raise ConfigError(
            f"a sensitive feature is named {clash[0]!r}, the name of an array argument; rename it"
        )
    columns.update(sensitive)
    rows = len(columns["y_true"])
    for name, column in columns.items():
        if len(column) != rows:
            raise ConfigError(
                f"{name} has {len(column)} values but y_true has {rows}; pass one value per row"
            )
    return pd.DataFrame(columns), list(sensitive)


def audit(
    data: Any = None,
    *,
    model: Any = None,
    target: str | None = None,
    sensitive: str | list[str] | tuple[str, ...] | None = None,
    y_true: Any = None,
    y_pred: Any = None,
    y_score: Any = None,
    sensitive_features: Any = None,
    progress: Callable[[str], None] | None = None,
    **options: Any,
) -> Result:
    """Audit a classifier or regression model in memory; return its :class:`~fairaudit.api.Result`.

    Two ways in:

    - ``audit(df, model=estimator, target="y", sensitive=["sex", "age"], ...)``: a
      DataFrame (pandas, polars or pyarrow; or a CSV/Parquet path) and a fitted estimator
      with ``predict`` (or a model file), or ``prediction_col=``/``score_col=`` naming
      precomputed columns;
    - ``audit(y_true=..., y_pred=..., y_score=..., sensitive_features=...)``: arrays,
      Series or a DataFrame of sensitive features, as fairlearn's ``MetricFrame`` takes
      them (a Series keeps its name, unnamed features are ``sensitive_feature_0``, ...).

    ``task="regression"`` (or the default ``auto`` on a numeric target with more than 50
    values) audits a regression model on its errors and prediction distributions
    (docs/regression.md); ``task="multiclass"`` (or ``auto`` on 3-50 text or whole-number
    labels) audits a multiclass classifier per class, one-vs-rest, and
    ``favorable_label=("a", "b")`` names favourable classes (docs/multiclass.md). Every
    other :class:`~fairaudit.spec.AuditSpec` option is a keyword (``bins``, ``policy``,
    ``train``, ``reference``, ``mitigations``, ``seed``, ...). Problems raise a
    :class:`~fairaudit.errors.FairauditError` with a one-line message; nothing is printed.
    """
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise ConfigError(
            f"unknown option {unknown[0]!r}; known options: {', '.join(sorted(_OPTIONS))}"
        )
    if y_true is not None:
        if data is not None or model is not None or target is not None or sensitive is not None:
            raise ConfigError(
                "pass either data (with model or prediction_col, target and sensitive) or "
                "y_true/y_pred/sensitive_features, not both"
            )
        data, names = arrays_frame(y_true, y_pred, y_score, sensitive_features)
        options.update(
            prediction_col="y_pred", score_col="y_score" if y_score is not None else None
        )
        target, sensitive = "y_true", names
    elif y_pred is not None or y_score is not None or sensitive_features is not None:
        raise ConfigError("y_pred, y_score and sensitive_features go with y_true=...")
    elif data is None:
        raise ConfigError(
            "nothing to audit: pass a DataFrame with model=... (or prediction_col=...), or "
            "y_true=..., y_pred=..., sensitive_features=..."
        )
    spec = AuditSpec(
        data=data,
        model=model,
        target=target or "",
        sensitive=(sensitive,) if isinstance(sensitive, str) else tuple(sensitive or ()),
        **{k: v for k, v in options.items() if v is not None},
    )
    return Result.from_result(run_audit(spec, progress=progress))
