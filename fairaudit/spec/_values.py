"""The values of AuditSpec's options: Python objects (a path, a DataFrame, an estimator)
as the spec keeps them, a config file's or the command line's values with the spec's types,
class scores (``--score-col CLASS=COL``) and the regression audit's favourable threshold."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fairaudit.errors import ConfigError

__all__ = [
    "ADDED_LATER",
    "MEMORY_DATA",
    "MSG_CLASS_SCORES_TASK",
    "MSG_ONE_SCORE_MULTICLASS",
    "MSG_SCORE_CLASS_TWICE",
    "MSG_SCORE_COLUMN_TWICE",
    "MSG_SCORE_PAIR",
    "MSG_SCORE_REGRESSION",
    "MSG_SCORES_TWICE",
    "MSG_THRESHOLD_AND_LABEL",
    "MSG_THRESHOLD_BOTH",
    "MSG_THRESHOLD_FINITE",
    "MSG_THRESHOLD_TASK",
    "PATH_KEYS",
    "FavorableThreshold",
    "as_frame",
    "as_model",
    "as_number",
    "class_score_pairs",
    "in_memory",
    "names",
    "normalise_value",
]

# Keys that name files: relative paths in a config file are relative to that file.
PATH_KEYS = ("data", "model", "train")

#: How messages and lineage name a table passed in memory instead of a file.
MEMORY_DATA = "in-memory DataFrame"

#: Options the effective config (and so the audit id) records only when they are given.
ADDED_LATER = ("class_scores", "favorable_above", "favorable_below")

MSG_THRESHOLD_BOTH = "pass either --favorable-above or --favorable-below, not both"
MSG_THRESHOLD_FINITE = "{flag} must be a finite number, not {value}"
MSG_THRESHOLD_TASK = (
    "{flag} sets the favourable prediction of a regression audit, and this is a {task} "
    "audit: drop {flag}"
)
MSG_THRESHOLD_AND_LABEL = (
    "--favorable-label names a favourable class (classification) and {flag} a favourable "
    "prediction (regression): drop one"
)
MSG_CLASS_SCORES_TASK = (
    "--score-col CLASS=COL gives a multiclass model's class scores, and this is a {task} "
    "audit: drop it (a binary audit takes one --score-col COL)"
)
MSG_ONE_SCORE_MULTICLASS = (
    "--score-col {column!r} names one score column, as a binary audit takes; a multiclass "
    "audit takes --score-col CLASS=COL once per class"
)
MSG_SCORE_PAIR = (
    "--score-col takes CLASS=COL for a multiclass audit, e.g. approved=p_approved; got {item!r}"
)
MSG_SCORE_REGRESSION = (
    "--score-col {column!r} gives a classifier's scores (for ROC AUC), and this is a "
    "regression audit, which has none: drop --score-col"
)
MSG_SCORE_CLASS_TWICE = "--score-col: class {name!r} is given two score columns"
MSG_SCORE_COLUMN_TWICE = "--score-col: column {name!r} is given as the score of two classes"
MSG_SCORES_TWICE = "class scores are given twice (score_col and class_scores): give one"


@dataclass(frozen=True)
class FavorableThreshold:
    """A regression audit's favourable outcome: a prediction (or target) strictly above
    ``value`` (``direction="above"``) or strictly below it; one equal to it is not favourable."""

    value: float
    direction: Literal["above", "below"]

    @property
    def flag(self) -> str:
        """Return the command-line flag that sets it."""
        return f"--favorable-{self.direction}"


def class_score_pairs(value: Any) -> tuple[tuple[str, str], ...]:
    """Return ``(class label, score column)`` pairs from a table ``{CLASS: COL}``, or from
    ``CLASS=COL`` texts (split at the first ``=``: a column name may contain one) or pairs.

    Raises ConfigError for a malformed item, or a class or column named twice.
    """
    if isinstance(value, Mapping):
        items: Any = value.items()
    else:
        items = [value] if isinstance(value, str) else value
    pairs = []
    for item in items:
        pair = item.partition("=")[::2] if isinstance(item, str) and "=" in item else item
        if (
            isinstance(pair, str)
            or len(pair) != 2
            or not all(isinstance(part, str) and part for part in pair)
        ):
            raise ConfigError(MSG_SCORE_PAIR.format(item=item))
        pairs.append((pair[0], pair[1]))
    for index, message in ((0, MSG_SCORE_CLASS_TWICE), (1, MSG_SCORE_COLUMN_TWICE)):
        names = [pair[index] for pair in pairs]
        repeated = next((name for name in names if names.count(name) > 1), None)
        if repeated is not None:
            raise ConfigError(message.format(name=repeated))
    return tuple(pairs)


def in_memory(value: Any) -> bool:
    """Return whether ``value`` (an AuditSpec's data, model or train) is an object in memory."""
    return value is not None and not isinstance(value, Path)


def as_frame(value: Any, key: str) -> Any:
    """Return ``value`` as a path, or as a pandas DataFrame (polars and pyarrow converted)."""
    if isinstance(value, str | os.PathLike):
        return Path(value)
    pandas = sys.modules.get("pandas")  # a pandas DataFrame implies pandas is imported
    if pandas is not None and isinstance(value, pandas.DataFrame):
        return value
    if callable(getattr(value, "to_pandas", None)) and hasattr(value, "columns"):
        try:
            converted = value.to_pandas()  # a polars DataFrame or a pyarrow Table
        except Exception as exc:
            raise ConfigError(
                f"{key}: cannot convert the {type(value).__name__} to pandas: {exc}"
            ) from None
        pandas = sys.modules.get("pandas")
        if pandas is not None and isinstance(converted, pandas.DataFrame):
            return converted
    raise ConfigError(
        f"{key} must be a file path or a DataFrame (pandas, polars or pyarrow), "
        f"not {type(value).__name__}"
    )


def as_model(value: Any) -> Any:
    """Return ``value`` as a path, or the fitted estimator itself (it must have predict)."""
    if isinstance(value, str | os.PathLike):
        return Path(value)
    if not callable(getattr(value, "predict", None)):
        raise ConfigError(
            f"model must be a file path or a fitted estimator with predict(), "
            f"not {type(value).__name__}"
        )
    return value


def as_number(value: Any, key: str) -> float:
    """Return ``value`` (an int or a float, not a bool) as a float (-0.0 as 0.0)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ConfigError(f"{key} must be a number, not {value!r}")
    return float(value) + 0.0


def names(value: str | Sequence[str]) -> tuple[str, ...]:
    """Return a name or a sequence of names as a tuple (a plain string is one name)."""
    return (value,) if isinstance(value, str) else tuple(value)


def _as_tuple_of_str(key: str, value: Any, source: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{source}: {key} must be a string or a list of strings")


def _score_table(key: str, value: Any, source: str) -> Any:
    """Return class scores as a table ``{CLASS: COL}`` or a tuple of ``CLASS=COL`` texts."""
    if isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values()):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(
        f"{source}: {key} must be a column name, a table of class = column "
        f'(e.g. {key} = {{ approved = "p_approved" }}) or a list of "CLASS=COL"'
    )


def normalise_value(key: str, value: Any, source: str, base: Path | None) -> Any:
    """Return one option's value (not None) with the type AuditSpec wants; raise
    ConfigError naming the key and ``source`` (a config file, the command line)."""
    if key in PATH_KEYS:
        if not isinstance(value, str | Path):
            raise ConfigError(f"{source}: {key} must be a file path")
        path = Path(value)
        if str(value).startswith("spark:"):
            pass  # a Spark table name, not a file
        elif base is not None and not path.is_absolute():
            path = base / path
        value = path
    elif key in ("sensitive", "id_cols", "features", "trust_types", "mitigate_on"):
        value = _as_tuple_of_str(key, value, source)
    elif key == "policy":
        # preset:NAME stays as it is; a file path is relative to the config file.
        value = tuple(
            p
            if p.startswith("preset:") or base is None or Path(p).is_absolute()
            else (base / p).as_posix()
            for p in _as_tuple_of_str(key, value, source)
        )
    elif key == "bins":
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: bins must be a table, e.g. [bins] age = [25, 40]")
        bins = {}
        for feature, edges in value.items():
            if not isinstance(edges, list) or not all(
                isinstance(e, int | float) and not isinstance(e, bool) for e in edges
            ):
                raise ConfigError(
                    f"{source}: bins for {feature!r} must be a list of numbers, "
                    f"e.g. {feature} = [25, 40, 60]"
                )
            bins[str(feature)] = tuple(float(e) for e in edges)
        value = bins
    elif key == "reference":
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: reference must be a table, e.g. [reference] sex = 'male'")
        value = {str(k): str(v) for k, v in value.items()}
    elif key == "confidence":
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ConfigError(f"{source}: confidence must be a number such as 0.95")
        value = float(value)
    elif key == "mitigations":
        value = _as_tuple_of_str(key, value, source)
    elif key == "jobs":
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{source}: jobs must be a whole number")
    elif key in (
        "min_group_size",
        "min_denominator",
        "seed",
        "resamples",
        "mitigation_folds",
        "max_groups",
    ):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{source}: {key} must be a whole number")
    elif key in ("allow_unsafe_pickle", "intervals", "training_data", "verbose"):
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {key} must be true or false")
    elif key in ("score_col", "class_scores") and not isinstance(value, str):
        value = _score_table(key, value, source)
    elif key in ("favorable_above", "favorable_below"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ConfigError(f"{source}: {key} must be a number, e.g. {key} = 150")
        value = float(value)
    elif key == "favorable_label" and isinstance(value, list | tuple):
        value = tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in value)
    elif key in ("positive_label", "favorable_label"):
        value = str(value).lower() if isinstance(value, bool) else str(value)
    elif not isinstance(value, str):
        raise ConfigError(f"{source}: {key} must be a string")
    return value
