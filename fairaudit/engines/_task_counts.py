"""What a regression or multiclass counting pass returns, whichever engine ran it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fairaudit.data import Check

if TYPE_CHECKING:
    from fairaudit.measure import MulticlassCounts, RegressionCells, TargetSummary, TaskDecision

__all__ = ["Decide", "TaskCounts"]

#: Decides the audit's task from the label's summary, or raises the one-line mismatch
#: error (the numpy engine's rule, passed in by the audit).
Decide = Callable[["TargetSummary"], "TaskDecision"]


@dataclass(frozen=True)
class TaskCounts:
    """The counts and checks of a regression or multiclass audit.

    ``checks`` are the data checks (``load_evaluation_data``'s); ``decision`` the task and
    why; ``regression`` or ``multiclass`` holds the counts of the audit's task;
    ``lineage_data`` and ``prediction_source`` are the AuditResult's ``lineage.data`` and
    ``lineage.predictions``. ``data`` and ``numbers`` (the rows, which the mitigation
    comparison needs) come only from the numpy engine.
    """

    engine: str
    decision: TaskDecision
    checks: tuple[Check, ...]
    lineage_data: dict[str, Any]
    prediction_source: dict[str, Any]
    model_lineage: dict[str, Any] | None = None
    regression: RegressionCells | None = None
    multiclass: MulticlassCounts | None = None
    data: Any = field(default=None, repr=False, compare=False)
    numbers: Any = field(default=None, repr=False, compare=False)
