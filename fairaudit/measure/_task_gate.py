"""What the audit of each task can do yet, decided before the work (issue 17).

``refuse_unbuilt`` refuses, with one line, what a regression or multiclass audit cannot do
(regression with ``--favorable-label``); every engine runs both tasks;
``task_after_failure`` reads the label column alone when the binary audit refused the
label, and decides the task (``auto``) or names the flag to use; ``regression_checks`` and
``multiclass_checks`` are the report's notes on what such an audit leaves out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fairaudit.data import Check
from fairaudit.errors import ConfigError
from fairaudit.measure._task import TaskDecision, decide_task, summarize_target
from fairaudit.spec import AuditSpec

__all__ = [
    "MSG_MULTICLASS_MITIGATION",
    "MSG_MULTICLASS_POLICY",
    "MSG_REGRESSION_FAVORABLE",
    "MSG_REGRESSION_MITIGATION",
    "MSG_REGRESSION_POLICY",
    "multiclass_checks",
    "refuse_unbuilt",
    "regression_checks",
    "task_after_failure",
]

MSG_MULTICLASS_POLICY = (
    "policy rules on multiclass metrics are not built yet; run the multiclass audit "
    "without --policy"
)
MSG_MULTICLASS_MITIGATION = (
    "fairlearn has no mitigation for multiclass classifiers (its reductions and threshold "
    "optimizer are binary): no mitigation comparison ran"
)
MSG_REGRESSION_POLICY = (
    "policy rules on regression metrics are not built yet; run the regression audit "
    "without --policy"
)
MSG_REGRESSION_FAVORABLE = (
    "--favorable-label names a favourable class and does not apply to a regression audit; drop it"
)
MSG_REGRESSION_MITIGATION = (
    "No mitigation comparison ran: BoundedGroupLoss mitigation (fairlearn's "
    "ExponentiatedGradient) needs a training set (--train) and a model, and --no-mitigation "
    "turns it off; threshold post-processing does not apply to regression"
)


def refuse_unbuilt(spec: AuditSpec, decision: TaskDecision) -> None:
    """Raise ConfigError for what a task's audit cannot do yet (before any work)."""
    # Every engine runs both tasks. --policy is judged by the policy's
    # multiclass rules (class = ...); a regression audit's by its regression rules.
    if decision.task == "regression" and spec.favorable_label is not None:
        raise ConfigError(MSG_REGRESSION_FAVORABLE)


def task_after_failure(spec: AuditSpec) -> TaskDecision | None:
    """Return the task of a label the binary audit refused (``auto`` or ``--task binary``),
    reading the label column alone; None when it cannot be read. A label that is not binary
    raises the one-line mismatch error of ``decide_task`` (which flag to use)."""
    from fairaudit.data import read_table
    from fairaudit.spec import in_memory

    if spec.positive_label is not None and spec.task == "auto":
        return None  # a binary audit was asked for: its own error stands
    try:
        frame: Any = spec.data
        if in_memory(frame):
            values = frame[spec.target]
        elif str(spec.data).startswith("spark:"):
            return None
        else:
            values = read_table(Path(spec.data), columns=[spec.target])[0][spec.target]
        summary = summarize_target(values)
    except Exception:  # the binary audit's own error says what is wrong
        return None
    return decide_task(
        summary, task=spec.task, positive_label=spec.positive_label, column=spec.target
    )


def regression_checks(spec: AuditSpec) -> list[Check]:
    """Return the checks on what a regression audit does not do yet."""
    return _left_out(spec, "regression", MSG_REGRESSION_MITIGATION)


def multiclass_checks(spec: AuditSpec) -> list[Check]:
    """Return the checks on what a multiclass audit does not do: mitigation (none in
    fairlearn), the training-data section."""
    return _left_out(spec, "multiclass", MSG_MULTICLASS_MITIGATION)


def _left_out(spec: AuditSpec, task: str, mitigation: str) -> list[Check]:
    checks = [Check("mitigation", "info", mitigation)]
    if spec.train is not None and spec.training_data:
        checks.append(
            Check(
                "training_data",
                "info",
                f"no training-data section: the data audit of a {task} target is not built yet",
            )
        )
    return checks
