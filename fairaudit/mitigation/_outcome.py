"""What a mitigation run takes and gives: the methods, their inputs and outcomes.

Two families, chosen by what the audit has: post-processing (``threshold_*``) needs only
scores for the evaluation rows; retraining (``expgrad_*``, ``correlation_remover``) needs
the training set and a scikit-learn model that can be cloned. ``CAVEATS`` says, for the
report, what each method's variant means for its use (``_tradeoff`` picks the variant the
report recommends).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from fairaudit.errors import FairauditError
from fairaudit.vocabulary import MITIGATION_METHODS

__all__ = [
    "CAVEATS",
    "CONSTRAINTS",
    "METHODS",
    "NEEDS_SCORES",
    "NEEDS_TRAINING",
    "REFIT_METHODS",
    "THRESHOLD_METHODS",
    "UNKNOWN_METHOD",
    "MethodName",
    "MitigationError",
    "MitigationInputs",
    "MitigationOutcome",
    "Status",
    "available_methods",
    "has_training",
]

MethodName = Literal[
    "threshold_demographic_parity",
    "threshold_equalized_odds",
    "threshold_true_positive_rate_parity",
    "expgrad_demographic_parity",
    "expgrad_equalized_odds",
    "correlation_remover",
]
Status = Literal["ok", "failed", "skipped"]

#: Every method, in report order.
METHODS = cast(tuple[MethodName, ...], MITIGATION_METHODS)
#: Post-processing methods: need scores for the evaluation rows (model or score column).
THRESHOLD_METHODS: tuple[MethodName, ...] = METHODS[:3]
#: Retraining methods: need the training set and a refittable scikit-learn model.
REFIT_METHODS: tuple[MethodName, ...] = METHODS[3:]

#: The fairness constraint each method targets, in fairlearn's words.
CONSTRAINTS: dict[str, str] = {
    "threshold_demographic_parity": "demographic_parity",
    "threshold_equalized_odds": "equalized_odds",
    "threshold_true_positive_rate_parity": "true_positive_rate_parity",
    "expgrad_demographic_parity": "demographic_parity",
    "expgrad_equalized_odds": "equalized_odds",
    "correlation_remover": "none (decorrelates the inputs from group membership)",
}

_THRESHOLD_CAVEAT = (
    "Group-specific thresholds: deciding a case needs its sensitive attribute at decision "
    "time, and two otherwise identical people in different groups can get different "
    "decisions; some jurisdictions restrict such explicit use of a protected attribute. "
    "Predictions are randomized: near a threshold the same case can be decided either way. "
    "The thresholds were fitted on the evaluation data (cross-fitted); fit them on fresh "
    "data before any use."
)
_EXPGRAD_CAVEAT = (
    "Retrains the model under a fairness constraint: the result is a new model, a "
    "randomized mixture of up to 50 retrained copies of the model's final step, which must be "
    "validated again. It needs the sensitive attribute for training only, not at decision "
    "time. Predictions are randomized: the same case can be decided either way."
)
#: Plain-language caveats for the report, one per method. They state, not decide.
CAVEATS: dict[str, str] = {
    "threshold_demographic_parity": _THRESHOLD_CAVEAT
    + " Demographic parity equalizes selection rates whatever the groups' base rates.",
    "threshold_equalized_odds": _THRESHOLD_CAVEAT
    + " Equalized odds is usually reached by lowering the better-served group's rates "
    "towards the other group's, which costs accuracy.",
    "threshold_true_positive_rate_parity": _THRESHOLD_CAVEAT
    + " Only true positive rates are equalized; false positive rates may still differ.",
    "expgrad_demographic_parity": _EXPGRAD_CAVEAT
    + " Demographic parity equalizes selection rates whatever the groups' base rates.",
    "expgrad_equalized_odds": _EXPGRAD_CAVEAT + " Equalized odds usually costs accuracy.",
    "correlation_remover": (
        "Retrains the model on inputs from which their linear correlation with group "
        "membership was removed: a new model, which must be validated again. Transforming "
        "a case's inputs needs its sensitive attribute at decision time. Removing linear "
        "correlation neither removes non-linear dependence nor guarantees any fairness "
        "metric."
    ),
}

#: ``--mitigations`` named a method that does not exist.
UNKNOWN_METHOD = "unknown mitigation method {name!r}; the methods are: {names}"
#: Skip reasons for a method the inputs do not allow.
NEEDS_SCORES = "needs the model or a score column"
NEEDS_TRAINING = "needs a training set (--train) and a scikit-learn model to retrain"


class MitigationError(FairauditError):
    """The mitigation comparison could not run to the end; the message says why."""


@dataclass
class MitigationInputs:
    """What the audit already has for the evaluation (and optionally the training) rows.

    Attributes
    ----------
    eval_features:
        The model's input columns for the evaluation rows.
    y_true:
        Bool evaluation labels (True = the positive label).
    sensitive:
        The sensitive columns for the evaluation rows, as group names (binned already).
    estimator:
        The loaded fitted model, or None when auditing a score column.
    score:
        Positive-class scores for the evaluation rows: the score column, or the model's
        scores as ``fairaudit.models.predict`` returns them (oriented to the positive
        label). Threshold methods use them; only when None do they ask the estimator,
        by fairlearn's ``predict_method="auto"`` rule (``predict_proba``'s second column,
        else ``decision_function``, else ``predict``).
    train_features, train_y, train_sensitive:
        The training set's model inputs, bool labels and sensitive columns (``--train``).
    """

    eval_features: pd.DataFrame
    y_true: np.ndarray
    sensitive: pd.DataFrame
    estimator: Any | None = None
    score: np.ndarray | None = None
    train_features: pd.DataFrame | None = None
    train_y: np.ndarray | None = None
    train_sensitive: pd.DataFrame | None = None


@dataclass(frozen=True)
class MitigationOutcome:
    """One mitigated variant of the audited model, or why there is none.

    Attributes
    ----------
    method, constraint:
        The method name (one of ``METHODS``) and the constraint it targets.
    protocol:
        One plain-language sentence or two: what was fitted on which rows, and how it
        was evaluated.
    status:
        ``"ok"``, ``"failed"`` (``reason`` says why) or ``"skipped"`` (the inputs do not
        allow the method; ``reason`` says what it needs).
    y_pred:
        Bool predictions for every evaluation row, in order (None unless ok).
    fold_of_row:
        For cross-fitted methods, the fold (0-based) each row was held out in.
    sensitive_features:
        The sensitive columns whose intersection defined the groups.
    warnings:
        Notes in plain words on warnings about the data or the fit (a solver that did
        not converge, a numeric overflow), one line each; other warnings are dropped.
    seconds:
        Time the method's work took (its folds' or its fit's wall times, summed), None
        when it did none (skipped, or failed before any work).
    """

    method: str
    constraint: str
    protocol: str
    status: Status
    reason: str | None = None
    y_pred: np.ndarray | None = None
    fold_of_row: np.ndarray | None = None
    sensitive_features: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    seconds: float | None = None


def has_training(inputs: MitigationInputs) -> bool:
    """Return True if the inputs allow retraining: a model and a whole training set."""
    return (
        inputs.estimator is not None
        and inputs.train_features is not None
        and inputs.train_y is not None
        and inputs.train_sensitive is not None
    )


def available_methods(inputs: MitigationInputs) -> list[str]:
    """Return the methods these inputs allow, in report order (the default selection)."""
    methods: list[str] = []
    if inputs.estimator is not None or inputs.score is not None:
        methods.extend(THRESHOLD_METHODS)
    if has_training(inputs):
        methods.extend(REFIT_METHODS)
    return methods
