"""Safe model loading (skops by default, pickle only when allowed) and scoring.

A model file is untrusted input. skops builds each object by calling its type with
arguments from the file, so a .skops file loads only when every type it names is on an
explicit allowlist (scikit-learn estimators and the parts fitted models carry, numpy
arrays, dtypes and scalars, scipy sparse matrices: ``trusted_model_types``) or named by
the user with --trust-type; anything else is refused before skops builds anything. Types
that read or write files or run programs (``numpy.memmap``, ``scipy.io.FortranFile``,
anything from ``os``, ``io``, ``subprocess`` ...: ``is_never_trusted``) are refused even
when named. Pickle, which runs arbitrary code when loaded, is refused unless the user
explicitly allows it — and the report then says so.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairaudit._skops_trust import (
    NEVER_TRUSTED_TYPES,
    UNTRUSTED_TYPES,
    is_never_trusted,
    trusted_model_types,
)
from fairaudit.data import EvaluationData, binarize, check_prediction_values, file_sha256
from fairaudit.errors import ModelError, UnsafeModelError
from fairaudit.paths import read_regular_bytes, refuse_special_file
from fairaudit.spec import AuditSpec

__all__ = [
    "AuditPredictions",
    "LoadedModel",
    "audit_predictions",
    "Predictions",
    "NEVER_TRUSTED_TYPES",
    "UNTRUSTED_TYPES",
    "feature_columns",
    "is_never_trusted",
    "load_model",
    "memory_model",
    "model_predictions",
    "predict",
    "refuse_reserved_inputs",
    "trusted_model_types",
]

_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")


@dataclass
class LoadedModel:
    """A loaded estimator and where it came from (``path`` None: passed in memory)."""

    estimator: Any
    path: Path | None
    format: str
    sha256: str
    unsafe_pickle: bool


@dataclass
class Predictions:
    """Predicted labels as the model returned them, and optional scores."""

    labels: pd.Series
    score: np.ndarray | None
    score_is_probability: bool
    score_source: str | None


def _load_skops(path: Path, content: bytes, trust_types: Sequence[str]) -> Any:
    """Return the object in a .skops file's ``content``; refuse untrusted types first.

    Nothing in the file is imported or built until every type it names is trusted: skops
    calls a type's constructor with arguments taken from the file.
    """
    import skops.io as sio

    if not content:
        raise ModelError(f"cannot read model file '{path}' as skops: the file is empty")
    try:
        untrusted = sio.get_untrusted_types(data=content)
    except Exception as exc:
        raise ModelError(f"cannot read model file '{path}' as skops: {exc}") from None
    never = [t for t in untrusted if is_never_trusted(t)]
    if never:
        raise UnsafeModelError(NEVER_TRUSTED_TYPES.format(path=path, types=", ".join(never)))
    allowed = trusted_model_types() | set(trust_types)
    refused = [t for t in untrusted if t not in allowed]
    if refused:
        raise UnsafeModelError(
            UNTRUSTED_TYPES.format(
                path=path,
                types=", ".join(refused),
                flags=" ".join(f"--trust-type {t}" for t in refused),
            )
        )
    try:
        estimator = sio.loads(content, trusted=untrusted)
    except Exception as exc:
        raise ModelError(f"cannot load model file '{path}': {exc}") from None
    _refuse_cache_folders(path, estimator)
    return estimator


def _refuse_cache_folders(path: Path, estimator: Any) -> None:
    """Refuse a model whose pipelines cache to a folder: retraining would write there."""
    get_params = getattr(estimator, "get_params", None)
    try:
        params = get_params(deep=True) if callable(get_params) else {}
    except Exception:
        return  # not a scikit-learn-style estimator; predict() is checked later
    cached = sorted(k for k, v in params.items() if k.split("__")[-1] == "memory" and v)
    if cached:
        raise UnsafeModelError(
            f"model file '{path}' sets {', '.join(cached)}: a cache folder that retraining "
            "would write to; save the model with memory=None"
        )


def load_model(
    path: Path, *, trust_types: Sequence[str] = (), allow_unsafe_pickle: bool = False
) -> LoadedModel:
    """Return the model in ``path``; refuse formats that would run untrusted code."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"model file '{path}' not found")
    refuse_special_file(path, "model file", error=ModelError)
    suffix = path.suffix.lower()
    sha256 = None
    if suffix == ".skops":
        # Audit and load the same bytes, and fingerprint them: the file may change meanwhile.
        try:
            content = read_regular_bytes(path)
        except OSError as exc:
            raise ModelError(f"cannot read model file '{path}': {exc.strerror or exc}") from None
        estimator = _load_skops(path, content, trust_types)
        fmt, unsafe, sha256 = "skops", False, hashlib.sha256(content).hexdigest()
    elif suffix in _PICKLE_SUFFIXES:
        if not allow_unsafe_pickle:
            raise UnsafeModelError(
                f"refusing to load pickle file '{path}': unpickling runs arbitrary code; "
                "save the model with skops.io.dump as .skops, or pass --allow-unsafe-pickle "
                "if you trust this file"
            )
        import joblib

        try:
            estimator = joblib.load(path)
        except Exception as exc:
            raise ModelError(f"cannot load model file '{path}': {exc}") from None
        fmt, unsafe = suffix.lstrip("."), True
    else:
        raise ModelError(
            f"model file '{path}' has an unsupported format '{suffix or '(none)'}'; "
            "use .skops (or .joblib/.pkl with --allow-unsafe-pickle)"
        )
    if not hasattr(estimator, "predict"):
        raise ModelError(
            f"model file '{path}' holds a {type(estimator).__name__}, which has no predict()"
        )
    return LoadedModel(estimator, path, fmt, sha256 or file_sha256(path), unsafe)


def _json_safe(value: Any, depth: int = 0) -> Any:
    """Return a parameter value as plain JSON: estimators as their class and parameters."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, np.generic):
        return _json_safe(value.item(), depth)
    if isinstance(value, dict) and depth < 8:
        return {str(k): _json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple) and depth < 8:
        return [_json_safe(v, depth + 1) for v in value]
    if callable(getattr(value, "get_params", None)) and depth < 8:
        return {"class": _class_name(value), "params": _estimator_params(value, depth + 1)}
    if isinstance(value, type) or inspect.isroutine(value):  # a function: by its name
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', '?')}"
    # No memory address: the same estimator describes itself the same way in every run.
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))[:200]


def _class_name(value: Any) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"


def _estimator_params(estimator: Any, depth: int = 0) -> dict[str, Any]:
    """Return ``get_params(deep=False)`` made JSON-safe (empty when it fails)."""
    try:
        params = estimator.get_params(deep=False)
    except Exception:
        return {}
    return {str(k): _json_safe(v, depth) for k, v in sorted(params.items())}


def memory_model(estimator: Any) -> LoadedModel:
    """Return a fitted estimator passed in memory as a LoadedModel (format ``memory``).

    Its ``sha256`` is joblib's hash of its fitted state (a pickle stream with sets and
    dicts in sorted order and arrays by their bytes, so the same state gives the same hash
    in every process whatever ``PYTHONHASHSEED``; nothing is unpickled), or, when it
    cannot be pickled (a lambda inside), the SHA-256 of its class and parameters as JSON.
    """
    import json

    from joblib.hashing import NumpyHasher  # scikit-learn's own dependency

    try:
        digest = str(NumpyHasher(hash_name="sha256").hash(estimator))
    except Exception:
        described = {"class": _class_name(estimator), "params": _estimator_params(estimator)}
        content = json.dumps(described, sort_keys=True).encode("utf-8")
        digest = hashlib.sha256(content).hexdigest()
    return LoadedModel(estimator, None, "memory", digest, False)


def refuse_reserved_inputs(estimator: Any, spec: AuditSpec) -> None:
    """Raise ModelError when the model takes the target or an id column as an input.

    A sensitive feature may be an input (the audit measures what the model does with it).
    """
    reserved = [
        c for c in getattr(estimator, "feature_names_in_", ()) if c in (spec.target, *spec.id_cols)
    ]
    if reserved:
        raise ModelError(
            f"the model takes {', '.join(map(repr, map(str, reserved)))} as input, which this "
            "audit declares as the target or an id column; labels and ids are never model inputs"
        )


def feature_columns(
    estimator: Any,
    columns: Sequence[str],
    *,
    excluded: Sequence[str],
    explicit: Sequence[str] | None,
    data_name: str,
) -> list[str]:
    """Return the columns to feed the model; raise ModelError for missing ones."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        wanted = [str(n) for n in names]

    elif explicit is not None:
        wanted = list(explicit)
    else:
        return [c for c in columns if c not in set(excluded)]
    missing = [c for c in wanted if c not in set(columns)]
    if missing:
        raise ModelError(
            f"the model needs columns that '{data_name}' lacks: {', '.join(map(repr, missing))}"
        )
    return wanted


def _positive_index(classes: Sequence[Any], positive_label: str | None) -> int | None:
    texts = [str(int(c)) if isinstance(c, float) and c.is_integer() else str(c) for c in classes]
    if positive_label is None:
        for i, c in enumerate(classes):
            if c is True or (not isinstance(c, str) and c == 1):
                return i
        return None
    lowered = [t.lower() if isinstance(c, bool | np.bool_) else t for t, c in zip(texts, classes)]
    wanted = (
        positive_label.lower()
        if any(isinstance(c, bool | np.bool_) for c in classes)
        else positive_label
    )
    return lowered.index(wanted) if wanted in lowered else None


def predict(
    model: LoadedModel, frame: pd.DataFrame, columns: Sequence[str], positive_label: str | None
) -> Predictions:
    """Return the model's predicted labels and, when it can score, its positive-class scores."""
    estimator = model.estimator
    features: Any = frame[list(columns)]
    if getattr(estimator, "feature_names_in_", None) is None:
        # Fitted on a plain array: passing named columns would make scikit-learn warn.
        features = features.to_numpy()
    try:
        labels = estimator.predict(features)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"the model failed to predict on the data: {first}") from None
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(frame):
        raise ModelError(
            f"the model returned predictions of shape {labels.shape} for {len(frame)} rows; "
            "fairaudit audits binary classifiers with one prediction per row"
        )
    classes = getattr(estimator, "classes_", None)
    score = None
    is_probability = False
    source = None
    if classes is not None and len(classes) == 2:
        pos = _positive_index(list(classes), positive_label)
        if pos is not None:
            try:
                if hasattr(estimator, "predict_proba"):
                    proba = np.asarray(estimator.predict_proba(features), dtype=np.float64)
                    if proba.shape != (len(frame), 2):
                        raise ModelError(
                            f"the model's predict_proba returned shape {proba.shape} for "
                            f"{len(frame)} rows; expected ({len(frame)}, 2)"
                        )
                    score = proba[:, pos]
                    is_probability, source = True, "predict_proba"
                elif hasattr(estimator, "decision_function"):
                    raw = np.asarray(estimator.decision_function(features), dtype=np.float64)
                    if raw.shape != (len(frame),):
                        raise ModelError(
                            f"the model's decision_function returned shape {raw.shape} for "
                            f"{len(frame)} rows; expected ({len(frame)},)"
                        )
                    score = raw if pos == 1 else -raw
                    source = "decision_function"
            except ModelError:
                raise
            except Exception as exc:  # a model may expose predict_proba yet refuse it
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ModelError(f"the model failed to score the data: {first}") from None
            if score is not None and not np.isfinite(score).all():
                bad = int((~np.isfinite(score)).sum())
                raise ModelError(
                    f"the model's {source} returned {bad} missing or infinite scores; "
                    "fix the model, or audit precomputed --prediction-col/--score-col"
                )
    return Predictions(pd.Series(labels), score, is_probability, source)


@dataclass
class AuditPredictions:
    """What the predict stage hands on: predictions, scores, lineage and the model."""

    y_pred: np.ndarray
    score: np.ndarray | None
    score_is_probability: bool
    source: dict[str, Any]
    model_lineage: dict[str, Any] | None
    estimator: Any | None = None
    feature_columns: list[str] = field(default_factory=list)


def model_predictions(
    spec: AuditSpec, data: EvaluationData, positive_label: str | None = None
) -> tuple[Predictions, dict[str, Any], Any]:
    """Load ``spec.model`` (or take the estimator in memory), predict on the evaluation data
    and return the predictions, the result's ``lineage.model`` (every task alike; its
    ``feature_columns`` are the columns fed to the model) and the estimator."""
    assert spec.model is not None
    loaded = (
        load_model(
            spec.model, trust_types=spec.trust_types, allow_unsafe_pickle=spec.allow_unsafe_pickle
        )
        if isinstance(spec.model, Path)
        else memory_model(spec.model)
    )
    refuse_reserved_inputs(loaded.estimator, spec)  # a sensitive feature may be an input
    columns = feature_columns(
        loaded.estimator,
        list(data.frame.columns),
        excluded=[spec.target, *spec.sensitive, *spec.id_cols],
        explicit=spec.features,
        data_name=data.name,
    )
    result = predict(loaded, data.frame, columns, positive_label)
    label = spec.source_label("model")
    lineage = {
        "path": loaded.path.as_posix() if loaded.path is not None else label,
        "file_name": loaded.path.name if loaded.path is not None else label,
        "sha256": loaded.sha256,
        "format": loaded.format,
        "type": type(loaded.estimator).__name__,
        "unsafe_pickle": loaded.unsafe_pickle,
        "feature_columns": columns,
    }
    if loaded.path is None:
        lineage["class"] = _class_name(loaded.estimator)
        lineage["params"] = _estimator_params(loaded.estimator)
    return result, lineage, loaded.estimator


def audit_predictions(spec: AuditSpec, data: EvaluationData) -> AuditPredictions:
    """Return the predictions to audit: from the model, or from the data's columns."""
    frame = data.frame
    if spec.model is None:
        assert spec.prediction_col is not None
        column = frame[spec.prediction_col]
        check_prediction_values(
            column,
            data.label_values,
            spec.positive_label,
            f"predictions in column {spec.prediction_col!r}",
        )
        y_pred = binarize(
            column, spec.positive_label, column=spec.prediction_col, role="prediction"
        )
        score = None
        is_probability = False
        if spec.score_col is not None:
            score = pd.to_numeric(frame[spec.score_col]).to_numpy(dtype=np.float64)
            is_probability = bool(((score >= 0) & (score <= 1)).all())
        source = {"source": "column", "column": spec.prediction_col, "score": spec.score_col}
        return AuditPredictions(y_pred, score, is_probability, source, None)

    result, model_lineage, estimator = model_predictions(spec, data, spec.positive_label)
    check_prediction_values(
        result.labels, data.label_values, spec.positive_label, "the model's predictions"
    )
    y_pred = binarize(
        result.labels,
        spec.positive_label,
        column="prediction",
        role="prediction",
        source="the model's predictions",
    )
    source = {"source": "model", "score": result.score_source}
    return AuditPredictions(
        y_pred,
        result.score,
        result.score_is_probability,
        source,
        model_lineage,
        estimator,
        list(model_lineage["feature_columns"]),
    )
