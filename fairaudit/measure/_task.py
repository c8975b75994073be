"""Which task a model solves: binary classification, multiclass classification or regression.

``--task binary|multiclass|regression`` (config ``task``) says it; the default ``auto``
reads it off the label column:

* **binary** when the label has at most two values, or when ``--positive-label`` is given
  (it names the positive one of two values);
* **multiclass** when it has 3 to ``MAX_AUTO_CLASSES`` (50) values that are text, booleans
  or whole numbers;
* **regression** when it is numeric with more than ``MAX_AUTO_CLASSES`` distinct values.

Anything else is a mismatch, refused with a one-line message naming the flag to use: a
numeric target with 3 to 50 distinct values not all whole (``--task regression`` or
``--task multiclass``), more than 50 text labels (``--task multiclass``), an explicit task
the label cannot be (a regression target with ``--task binary``, text with ``--task
regression``). The rule is a function of a :class:`TargetSummary` (distinct values, kind,
whether the numbers are whole), so an SQL engine can describe a column with one query and
reach the same decision as :func:`detect_task` on an array.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from fairaudit.data import Check, shorten, value_text
from fairaudit.errors import ConfigError

__all__ = [
    "MAX_AUTO_CLASSES",
    "MAX_CLASSES",
    "MSG_BINARY_TOO_MANY",
    "MSG_FEW_NUMERIC_VALUES",
    "MSG_MULTICLASS_CONTINUOUS",
    "MSG_MULTICLASS_TOO_MANY",
    "MSG_POSITIVE_LABEL_NOT_BINARY",
    "MSG_POSITIVE_LABEL_WITH_TASK",
    "MSG_REGRESSION_NOT_NUMERIC",
    "MSG_TOO_MANY_TEXT_LABELS",
    "MSG_UNKNOWN_TASK",
    "TASKS",
    "TargetSummary",
    "TaskDecision",
    "decide_task",
    "detect_task",
    "summarize_target",
]

#: The tasks fairaudit audits, and ``auto``.
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")
Task = Literal["binary", "multiclass", "regression"]

#: ``auto`` takes a label with 3 to this many values (text or whole numbers) as classes,
#: and a numeric target with more as a regression target.
MAX_AUTO_CLASSES = 50
#: ``--task multiclass`` accepts at most this many classes (a K x K confusion matrix per
#: intersectional cell).
MAX_CLASSES = 1000

MSG_UNKNOWN_TASK = "unknown task {task!r}; use --task auto, binary, multiclass or regression"
MSG_FEW_NUMERIC_VALUES = (
    "label column {column!r} is numeric with {n} distinct values, not all whole numbers "
    "({values}): too few for auto to call it a regression target; pass --task regression "
    "to audit it as one, or --task multiclass to treat the values as classes"
)
MSG_TOO_MANY_TEXT_LABELS = (
    "label column {column!r} has {n} distinct non-numeric values ({values}), more than "
    "auto takes as classes ({limit}); pass --task multiclass to audit them as classes, or "
    "check --target"
)
MSG_BINARY_TOO_MANY = (
    "label column {column!r} has {n} distinct values ({values}); --task binary needs two "
    "(--positive-label names the positive one); use --task {suggested}"
)
MSG_POSITIVE_LABEL_NOT_BINARY = (
    "--positive-label makes the audit binary, but label column {column!r} has {n} distinct "
    "values ({values}); drop --positive-label and use --task {suggested}"
    "{favorable_hint}"
)
MSG_POSITIVE_LABEL_WITH_TASK = (
    "--positive-label names the positive class of a binary audit and does not apply to "
    "--task {task}; drop it{favorable_hint}"
)
MSG_REGRESSION_NOT_NUMERIC = (
    "label column {column!r} is not numeric ({values}); --task regression needs a numeric "
    "target; use --task {suggested}"
)
MSG_MULTICLASS_CONTINUOUS = (
    "label column {column!r} has {n} distinct numbers, not all whole ({values}): a "
    "regression target, not classes; use --task regression"
)
MSG_MULTICLASS_TOO_MANY = (
    "label column {column!r} has {n} distinct values, more classes than --task multiclass "
    "audits ({limit}); check --target, or use --task regression for a numeric target"
)
_FAVORABLE_HINT = " (name favourable classes with --favorable-label)"


@dataclass(frozen=True)
class TargetSummary:
    """What task detection needs to know of a label column.

    ``kind`` is ``numeric``, ``boolean`` or ``text``; ``whole`` whether every numeric value
    is a whole number; ``examples`` a few distinct values as the user would write them
    (for messages).
    """

    n_distinct: int
    kind: Literal["numeric", "boolean", "text"]
    whole: bool
    examples: tuple[str, ...]


@dataclass(frozen=True)
class TaskDecision:
    """The task of an audit and why (the report's data check)."""

    task: Task
    reason: str

    def check(self) -> Check:
        """Return the data check that states the task and why."""
        return Check("task", "info", f"task: {self.task} ({self.reason})")


def _as_number(value: Any) -> float | None:
    """Return a value as a finite float, or None when it is not a number."""
    if isinstance(value, bool | np.bool_):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def summarize_target(values: Sequence[Any] | np.ndarray) -> TargetSummary:
    """Return the TargetSummary of a label column's values (missing values are ignored).

    Numbers written as text (``"1.5"``) count as numbers, as a CSV reader would read them.
    """
    import pandas as pd  # here, not at import: the measure layer's numeric callers have it

    series = pd.Series(values)
    series = series[series.notna()]
    distinct = pd.unique(series)
    examples = tuple(value_text(v) for v in distinct[:8])
    if series.dtype == bool or all(isinstance(v, bool | np.bool_) for v in distinct):
        return TargetSummary(len(distinct), "boolean", False, examples)
    if pd.api.types.is_numeric_dtype(series.dtype):
        numbers = np.asarray(distinct, dtype=np.float64)
    else:
        parsed = [_as_number(v) for v in distinct]
        if any(p is None for p in parsed):
            return TargetSummary(len(distinct), "text", False, examples)
        numbers = np.asarray(parsed, dtype=np.float64)
        # "1" and "1.0" are one number: count distinct numbers, not texts.
        distinct = np.unique(numbers)
    whole = bool(np.all(np.floor(numbers) == numbers))
    return TargetSummary(len(np.unique(numbers)), "numeric", whole, examples)


def _suggested(summary: TargetSummary) -> str:
    """Return the task a label that is not binary most likely is."""
    if summary.kind == "numeric" and summary.n_distinct > MAX_AUTO_CLASSES:
        return "regression"
    return "multiclass"


def _classes_reason(summary: TargetSummary) -> str:
    kind = {"numeric": "whole-number", "boolean": "boolean", "text": "text"}[summary.kind]
    return f"{summary.n_distinct} distinct {kind} label values"


def _auto(summary: TargetSummary, positive_label: str | None, fields: dict) -> TaskDecision:
    """Return the task ``auto`` reads off the label (or raise a mismatch ConfigError)."""
    n = summary.n_distinct
    if positive_label is not None:
        if n > 2:
            raise ConfigError(MSG_POSITIVE_LABEL_NOT_BINARY.format(**fields))
        return TaskDecision("binary", "--positive-label is given")
    if n <= 2:
        return TaskDecision("binary", f"the label has {n} distinct value{'s' * (n != 1)}")
    if summary.kind == "numeric" and n > MAX_AUTO_CLASSES:
        return TaskDecision(
            "regression", f"a numeric label with {n} distinct values (more than {MAX_AUTO_CLASSES})"
        )
    if summary.kind == "numeric" and not summary.whole:
        raise ConfigError(MSG_FEW_NUMERIC_VALUES.format(**fields))
    if n > MAX_AUTO_CLASSES:
        raise ConfigError(MSG_TOO_MANY_TEXT_LABELS.format(**fields, limit=MAX_AUTO_CLASSES))
    return TaskDecision("multiclass", _classes_reason(summary))


def decide_task(
    summary: TargetSummary,
    *,
    task: str = "auto",
    positive_label: str | None = None,
    column: str = "label",
) -> TaskDecision:
    """Return the audit's task for a label column described by ``summary``.

    Raises ConfigError (one line, naming the flag to use) when ``task`` is unknown or the
    label cannot be that task, and when ``auto`` cannot tell.
    """
    n = summary.n_distinct
    suggested = _suggested(summary)
    fields = {
        "column": column,
        "n": n,
        "values": shorten(summary.examples) + (", ..." if n > len(summary.examples) else ""),
        "suggested": suggested,
        "favorable_hint": _FAVORABLE_HINT if suggested == "multiclass" else "",
    }
    if task == "auto":
        return _auto(summary, positive_label, fields)
    if task == "binary":
        if n > 2:
            raise ConfigError(MSG_BINARY_TOO_MANY.format(**fields))
        return TaskDecision("binary", "--task binary is given")
    if task == "regression":
        if summary.kind != "numeric":
            fields["suggested"] = "binary" if n <= 2 else "multiclass"
            raise ConfigError(MSG_REGRESSION_NOT_NUMERIC.format(**fields))
        if positive_label is not None:
            raise ConfigError(MSG_POSITIVE_LABEL_WITH_TASK.format(task=task, favorable_hint=""))
        return TaskDecision("regression", f"--task regression is given ({n} distinct values)")
    if task == "multiclass":
        if positive_label is not None:
            raise ConfigError(
                MSG_POSITIVE_LABEL_WITH_TASK.format(task=task, favorable_hint=_FAVORABLE_HINT)
            )
        if summary.kind == "numeric" and not summary.whole and n > MAX_AUTO_CLASSES:
            raise ConfigError(MSG_MULTICLASS_CONTINUOUS.format(**fields))
        if n > MAX_CLASSES:
            raise ConfigError(MSG_MULTICLASS_TOO_MANY.format(**fields, limit=MAX_CLASSES))
        reason = f"--task multiclass is given ({_classes_reason(summary)})"
        return TaskDecision("multiclass", reason)
    raise ConfigError(MSG_UNKNOWN_TASK.format(task=task))


def detect_task(
    y: Sequence[Any] | np.ndarray,
    *,
    task: str = "auto",
    positive_label: str | None = None,
    column: str = "label",
) -> TaskDecision:
    """Return the audit's task for the label values ``y`` (see :func:`decide_task`)."""
    if task not in ("auto", *TASKS):
        raise ConfigError(MSG_UNKNOWN_TASK.format(task=task))
    return decide_task(summarize_target(y), task=task, positive_label=positive_label, column=column)
