"""The numpy engine's pass for a regression or multiclass audit: the evaluation set read
with its label as it is (``load_evaluation_data(binary=False)``), the task decided from
the label's values, then the rows counted at once (``count_regression``,
``count_multiclass``)."""

from __future__ import annotations

from typing import Any

from fairaudit.data import load_evaluation_data
from fairaudit.engines._sql_tasks import count_regression_chunk
from fairaudit.engines._task_counts import Decide, TaskCounts
from fairaudit.engines._types import Progress, check_reference
from fairaudit.errors import DataError
from fairaudit.measure import (
    check_rows_group_limit,
    count_multiclass,
    multiclass_input,
    regression_input,
    summarize_target,
)
from fairaudit.spec import AuditSpec

__all__ = ["count_task_numpy"]


def count_task_numpy(spec: AuditSpec, say: Progress, decide: Decide) -> TaskCounts:
    """Return the TaskCounts of ``spec`` read and counted in memory (a model predicts)."""
    say(f"reading {spec.source_label('data')}")
    data = load_evaluation_data(spec, binary=False)
    decision = decide(summarize_target(data.y_true))
    features = tuple(f.name for f in data.sensitive)
    levels = tuple(f.levels for f in data.sensitive)
    codes = [f.codes for f in data.sensitive]
    check_reference(spec, features, levels)
    check_rows_group_limit(spec, data)
    say("predicting" if spec.model is not None else "reading predictions")
    counted: dict[str, Any] = {}
    if decision.task == "regression":
        numbers: Any = regression_input(spec, data)
        say("counting")
        counted["regression"] = count_regression_chunk(
            spec, features, codes, levels, numbers.y_true, numbers.y_pred
        )
    else:
        numbers = multiclass_input(spec, data)
        say("counting")
        try:
            counted["multiclass"] = count_multiclass(
                features, codes, levels, numbers.classes, numbers.y_true, numbers.y_pred
            )
        except ValueError as exc:
            raise DataError(str(exc)) from None
    return TaskCounts(
        engine="numpy",
        decision=decision,
        checks=tuple(data.checks),
        lineage_data=data.lineage(),
        prediction_source=numbers.source,
        model_lineage=numbers.model_lineage,
        data=data,
        numbers=numbers,
        **counted,
    )
