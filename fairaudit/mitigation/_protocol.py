"""fairlearn mitigations of the audited model, each evaluated on rows it was not fitted on.

Two families, chosen by what the audit has:

* **Post-processing** (``threshold_*``) needs only scores for the evaluation rows: the
  audited model's, or a score column. fairlearn's ``ThresholdOptimizer`` (prefit,
  ``predict_method="auto"``) sees the scores wrapped as a fitted estimator and picks
  group-specific thresholds maximizing accuracy under the constraint. It is cross-fitted:
  the evaluation rows are split into ``folds`` folds stratified by group and label, and
  each fold is predicted by thresholds fitted on the other folds only, so no row is ever
  scored by thresholds fitted on it and the comparison with the audited model is not
  optimistic.
* **Retraining** (``expgrad_*``, ``correlation_remover``) needs the training set and a
  scikit-learn model that can be cloned: trained on the training set, evaluated on the
  evaluation set. A Pipeline is split before its last step: its preprocessing steps are
  refit on the training set as they are, and the method works on their output (numbers,
  whatever the raw columns were). ``ExponentiatedGradient`` then retrains the final step
  under the constraint; ``CorrelationRemover`` gets one indicator column per group appended
  to that output, projects them out of every other column and drops them, and a clone of
  the final step is retrained on the result.

Groups are the intersection of the sensitive features (or of those named by ``on``).
Every randomized step (fold split, randomized predictions, an estimator's unset
``random_state``) gets a seed derived from the run's seed, the method and the fold, so the
outcomes are identical for any ``jobs``. Units of work (one fold of one threshold method,
one retraining) run in worker processes (``fairaudit._workers``, which also terminates them
when the run is stopped): ThresholdOptimizer is pandas code that holds the GIL, so threads
gave no speed-up (benchmarks/README.md).

Nothing here measures the variants: the caller recounts each ``MitigationOutcome.y_pred``
with the counting engine. The library never prints; progress goes to a callback.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from fairaudit.errors import ConfigError, FairauditError
from fairaudit.mitigation._methods import (
    TOO_FEW_FOR_FOLDS,
    FoldError,
    Unit,
    UnitResult,
    correlation_remover_predictions,
    derived_seed,
    expgrad_predictions,
    fold_of_row_plan,
    group_codes,
    groups_phrase,
    refit_protocol,
    run_unit,
    threshold_fold_predictions,
    threshold_protocol,
    threshold_scores,
)
from fairaudit.runtime import worker_results
from fairaudit.vocabulary import MITIGATION_METHODS

__all__ = [
    "CAVEATS",
    "CONSTRAINTS",
    "METHODS",
    "NEEDS_SCORES",
    "NEEDS_TRAINING",
    "REFIT_METHODS",
    "THRESHOLD_METHODS",
    "TOO_FEW_FOR_FOLDS",
    "TRADEOFF_RULE",
    "UNKNOWN_METHOD",
    "WORKER_DIED",
    "MethodName",
    "MitigationError",
    "MitigationInputs",
    "MitigationOutcome",
    "available_methods",
    "best_tradeoff",
    "run_mitigations",
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
Progress = Callable[[str], None]

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
#: A worker process died mid-run (killed from outside, e.g. by the out-of-memory killer).
WORKER_DIED = (
    "a mitigation worker process died while {jobs} ran at once (out of memory?); run with "
    "fewer --jobs, on fewer rows, or with --no-mitigation"
)
# How ``jobs > 1`` runs: processes (see the module docstring). Only the benchmark changes
# it, to "threading", to time threads against processes (threads make the per-unit
# warning capture unreliable, as warnings.catch_warnings is not thread-safe).
_PARALLEL_BACKEND = "processes"

#: How ``best_tradeoff`` chooses, for the report.
TRADEOFF_RULE = (
    "the lowest disparity among the methods that lower the audited model's disparity and "
    "lose at most {points:g} accuracy points against it (ties: the higher accuracy)"
)


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


def _has_training(inputs: MitigationInputs) -> bool:
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
    if _has_training(inputs):
        methods.extend(REFIT_METHODS)
    return methods


def best_tradeoff(
    results: Mapping[str, tuple[float, float]],
    *,
    baseline: tuple[float, float],
    max_accuracy_loss: float = 0.02,
) -> str | None:
    """Return the method with the best fairness/accuracy trade-off, or None if none qualifies.

    Parameters
    ----------
    results:
        ``method -> (accuracy, disparity)`` for each mitigated variant; a disparity is
        smaller-is-better (e.g. the demographic parity difference). NaN values are ignored.
    baseline:
        ``(accuracy, disparity)`` of the audited model on the same rows.
    max_accuracy_loss:
        The largest accuracy loss accepted, as a proportion (0.02 = 2 points).

    The rule is ``TRADEOFF_RULE``: among the methods whose disparity is below the
    baseline's and whose accuracy is at least ``baseline - max_accuracy_loss``, the lowest
    disparity; ties go to the higher accuracy, then to the method name.
    """
    base_accuracy, base_disparity = baseline
    eligible = [
        (disparity, -accuracy, method)
        for method, (accuracy, disparity) in results.items()
        if not (math.isnan(accuracy) or math.isnan(disparity))
        and disparity < base_disparity
        and accuracy >= base_accuracy - max_accuracy_loss - 1e-12
    ]
    return min(eligible)[2] if eligible else None


# ----------------------------------------------------------------------------------------
# Running


def _unit_seed(seed: int, method: str, fold: int | None) -> int:
    """Return the seed of one unit: a function of the run's seed, the method and the fold."""
    return derived_seed(seed, METHODS.index(method) + 1, 0 if fold is None else fold + 1)


def _selected(inputs: MitigationInputs, methods: Sequence[str] | None) -> list[str]:
    if methods is None:
        return available_methods(inputs)
    chosen: list[str] = []
    for name in methods:
        if name not in METHODS:
            raise ConfigError(UNKNOWN_METHOD.format(name=name, names=", ".join(METHODS)))
        if name not in chosen:
            chosen.append(name)
    return chosen


def _check_inputs(inputs: MitigationInputs, on: Sequence[str] | None) -> list[str]:
    n_rows = len(inputs.y_true)
    sized = {"eval_features": inputs.eval_features, "sensitive": inputs.sensitive}
    if inputs.score is not None:
        sized["score"] = inputs.score
    for name, value in sized.items():
        if len(value) != n_rows:
            raise ValueError(f"{name} has {len(value)} rows but y_true has {n_rows}")
    if inputs.train_features is not None:
        n_train = len(inputs.train_features)
        for name, value in (
            ("train_y", inputs.train_y),
            ("train_sensitive", inputs.train_sensitive),
        ):
            if value is not None and len(value) != n_train:
                raise ValueError(f"{name} has {len(value)} rows but train_features has {n_train}")
    columns = [str(c) for c in inputs.sensitive.columns] if on is None else list(on)
    if not columns:
        raise ConfigError("mitigation needs at least one sensitive feature")
    missing = [c for c in columns if c not in inputs.sensitive.columns]
    if missing:
        raise ConfigError(
            f"cannot mitigate on {', '.join(map(repr, missing))}: not a sensitive feature; "
            f"the sensitive features are: {', '.join(map(repr, inputs.sensitive.columns))}"
        )
    return columns


def _unit_message(result: UnitResult, folds: int) -> str:
    where = f"fold {result.fold + 1} of {folds}" if result.fold is not None else "fit"
    if result.reason is not None:
        return f"{result.method}: {where} failed: {result.reason}"
    return f"{result.method}: {where} done"


def _execute(
    units: Sequence[Unit], jobs: int, folds: int, say: Progress
) -> dict[tuple[str, int | None], UnitResult]:
    """Return every unit's result, keyed by (method, fold); run in ``jobs`` processes.

    Stopping the run (an exception in ``say``, Ctrl-C, SIGTERM) terminates the workers.
    """
    workers = min(jobs, len(units))
    done: dict[tuple[str, int | None], UnitResult] = {}

    def record(results: Iterable[UnitResult]) -> None:
        for result in results:
            done[(result.method, result.fold)] = result
            say(_unit_message(result, folds))

    if workers <= 1:
        record(map(run_unit, units))
    elif _PARALLEL_BACKEND == "threading":
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as threads:
            record(threads.map(run_unit, units))
    else:
        from concurrent.futures.process import BrokenProcessPool

        try:
            with worker_results(run_unit, units, workers=workers) as results:
                record(results)
        except BrokenProcessPool:
            raise MitigationError(WORKER_DIED.format(jobs=workers)) from None
    return done


def run_mitigations(
    inputs: MitigationInputs,
    methods: Sequence[str] | None = None,
    *,
    folds: int = 5,
    seed: int = 0,
    jobs: int | None = None,
    on: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> list[MitigationOutcome]:
    """Return one outcome per selected method, in the order selected.

    Parameters
    ----------
    inputs:
        The evaluation (and optionally training) data and the model or scores.
    methods:
        Method names (``METHODS``); None selects every method the inputs allow
        (``available_methods``). A named method the inputs do not allow is ``skipped``.
    folds:
        Cross-fitting folds for the threshold methods (at least 2).
    seed:
        The run's seed (a non-negative integer); every randomized step derives from it.
    jobs:
        Worker processes (default: the number of cores). Outcomes do not depend on it.
    on:
        The sensitive columns whose intersection defines the groups (default: all).
    progress:
        Called with one line per finished fold or fit.

    A method that cannot apply (a model that cannot be retrained, a group too small to
    cross-fit) gets status ``failed`` and a reason; the other methods still run.
    Raises ConfigError for an unknown method name or a bad option.
    """
    say = progress or (lambda message: None)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"the seed must be a non-negative integer, not {seed!r}")
    if folds < 2:
        raise ConfigError(f"cross-fitting needs at least 2 folds, not {folds}")
    if jobs is None:
        from joblib import cpu_count

        jobs = cpu_count()
    if jobs < 1:
        raise ConfigError(f"jobs must be at least 1, not {jobs}")
    columns = _check_inputs(inputs, on)
    chosen = _selected(inputs, methods)

    threshold = _plan_threshold(
        inputs, [m for m in chosen if m in THRESHOLD_METHODS], columns, folds, seed
    )
    refit = _plan_refit(inputs, [m for m in chosen if m in REFIT_METHODS], columns, seed)
    settled = {**threshold.settled, **refit.settled}
    for outcome in settled.values():
        if outcome.status == "failed":
            say(f"{outcome.method}: failed: {outcome.reason}")
    # Retraining units are the longest: queue them first so the workers stay busy.
    done = _execute([*refit.units, *threshold.units], jobs, folds, say)

    outcomes = []
    for method in chosen:
        if method in settled:
            outcomes.append(settled[method])
        elif method in THRESHOLD_METHODS:
            assert threshold.fold_of_row is not None
            parts = [done[(method, fold)] for fold in range(folds)]
            outcomes.append(
                _cross_fitted_outcome(threshold.outcome(method), parts, threshold.fold_of_row)
            )
        else:
            result = done[(method, None)]
            outcomes.append(
                replace(
                    refit.outcome(method),
                    status="failed" if result.reason is not None else "ok",
                    reason=result.reason,
                    y_pred=result.y_pred,
                    warnings=result.warnings,
                )
            )
    return outcomes


@dataclass
class _Plan:
    """The units of work of one family of methods, and the outcomes settled without work."""

    columns: tuple[str, ...]
    protocols: dict[str, str] = field(default_factory=dict)
    units: list[Unit] = field(default_factory=list)
    settled: dict[str, MitigationOutcome] = field(default_factory=dict)
    fold_of_row: np.ndarray | None = None
    notes: tuple[str, ...] = ()

    def outcome(
        self, method: str, status: Status = "ok", reason: str | None = None
    ) -> MitigationOutcome:
        """Return the method's outcome shell: name, constraint, protocol, groups, notes."""
        return MitigationOutcome(
            method,
            CONSTRAINTS[method],
            self.protocols.get(method, ""),
            status,
            reason,
            sensitive_features=self.columns,
            warnings=self.notes,
        )

    def settle(self, methods: Sequence[str], status: Status, reason: str) -> None:
        for method in methods:
            self.settled[method] = self.outcome(method, status, reason)


def _plan_threshold(
    inputs: MitigationInputs, methods: Sequence[str], columns: Sequence[str], folds: int, seed: int
) -> _Plan:
    """Return the cross-fitting units of the threshold methods (one per method and fold)."""
    plan = _Plan(tuple(columns))
    if not methods:
        return plan
    names, (codes,) = group_codes([inputs.sensitive], columns)
    source = "the model's scores" if inputs.estimator is not None else "the score column"
    groups = groups_phrase(columns, len(names))
    for method in methods:
        plan.protocols[method] = threshold_protocol(
            CONSTRAINTS[method], source, folds, groups, seed
        )
    if inputs.estimator is None and inputs.score is None:
        plan.settle(methods, "skipped", NEEDS_SCORES)
        return plan
    y_true = np.asarray(inputs.y_true, dtype=bool)
    try:
        scores, plan.notes = threshold_scores(inputs.score, inputs.estimator, inputs.eval_features)
        fold_of_row = fold_of_row_plan(codes, names, y_true, folds, seed)
    except FoldError as exc:
        plan.settle(methods, "failed", str(exc))
        return plan
    plan.fold_of_row = fold_of_row
    rows = np.arange(len(y_true))
    for method in methods:
        for fold in range(folds):
            held = fold_of_row == fold
            args = (
                CONSTRAINTS[method],
                scores,
                y_true,
                codes,
                rows[~held],
                rows[held],
                _unit_seed(seed, method, fold),
            )
            plan.units.append(Unit(method, fold, threshold_fold_predictions, args))
    return plan


def _plan_refit(
    inputs: MitigationInputs, methods: Sequence[str], columns: Sequence[str], seed: int
) -> _Plan:
    """Return the retraining units (one per method), trained on train, applied to eval."""
    plan = _Plan(tuple(columns))
    if not methods:
        return plan
    if not _has_training(inputs):
        plan.settle(methods, "skipped", NEEDS_TRAINING)
        return plan
    assert inputs.train_features is not None and inputs.train_sensitive is not None
    names, (train_codes, eval_codes) = group_codes(
        [inputs.train_sensitive, inputs.sensitive], columns
    )
    train_y = np.asarray(inputs.train_y, dtype=bool)
    groups = groups_phrase(columns, len(np.unique(train_codes)))
    for method in methods:
        plan.protocols[method] = refit_protocol(
            method,
            CONSTRAINTS[method],
            inputs.estimator,
            len(inputs.train_features),
            len(inputs.eval_features),
            groups,
            seed,
        )
        args: tuple[Any, ...]
        if method == "correlation_remover":
            args = (
                inputs.estimator,
                inputs.train_features,
                train_y,
                train_codes,
                inputs.eval_features,
                eval_codes,
                len(names),
                seed,
            )
            plan.units.append(Unit(method, None, correlation_remover_predictions, args))
        else:
            args = (
                CONSTRAINTS[method],
                inputs.estimator,
                inputs.train_features,
                train_y,
                train_codes,
                inputs.eval_features,
                seed,
                _unit_seed(seed, method, None),
            )
            plan.units.append(Unit(method, None, expgrad_predictions, args))
    return plan


def _cross_fitted_outcome(
    shell: MitigationOutcome, parts: Sequence[UnitResult], fold_of_row: np.ndarray
) -> MitigationOutcome:
    """Return a threshold method's outcome from its folds: every row from its own fold."""
    notes = tuple(dict.fromkeys([*shell.warnings, *(n for part in parts for n in part.warnings)]))
    for fold, part in enumerate(parts):
        if part.reason is not None:
            reason = f"fold {fold + 1} of {len(parts)}: {part.reason}"
            return replace(shell, status="failed", reason=reason, warnings=notes)
    y_pred = np.zeros(len(fold_of_row), dtype=bool)
    for fold, part in enumerate(parts):
        assert part.y_pred is not None
        y_pred[fold_of_row == fold] = part.y_pred
    return replace(shell, y_pred=y_pred, fold_of_row=fold_of_row.copy(), warnings=notes)
