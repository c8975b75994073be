"""Plan a mitigation run: the units of work of each family of methods, and their outcomes.

A threshold method becomes one unit per cross-fitting fold; a retraining method one unit.
Every randomized step gets a seed derived from the run's seed, the method and the fold,
so the outcomes are identical for any number of workers. A method the inputs do not allow
is settled without work (``skipped`` or ``failed``, with the reason).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from fairaudit.mitigation._folds import (
    FoldError,
    derived_seed,
    fold_of_row_plan,
    group_codes,
    threshold_scores,
)
from fairaudit.mitigation._methods import (
    correlation_remover_predictions,
    expgrad_predictions,
    groups_phrase,
    refit_protocol,
    threshold_fold_predictions,
    threshold_protocol,
)
from fairaudit.mitigation._outcome import (
    CONSTRAINTS,
    METHODS,
    NEEDS_SCORES,
    NEEDS_TRAINING,
    MitigationInputs,
    MitigationOutcome,
    Status,
    has_training,
)
from fairaudit.mitigation._thresholds import ScoreHistogram, score_histogram
from fairaudit.mitigation._units import Unit, UnitResult

__all__ = ["Plan", "cross_fitted_outcome", "plan_refit", "plan_threshold"]


#: The retraining methods, longest first: the order their units are queued in, so that
#: the worker lent to a run takes the longest first and the run's own process the rest
#: (``runtime.run_beside``). ExponentiatedGradient under equalized odds has twice the
#: constraints of demographic parity: 1.4 s against 0.5 s on the sample audit's 600
#: training rows; CorrelationRemover fits once (0.04 s).
_REFIT_ORDER = ("expgrad_equalized_odds", "expgrad_demographic_parity", "correlation_remover")


def _longest_first(methods: Sequence[str]) -> list[str]:
    """Return ``methods`` in ``_REFIT_ORDER`` (one not there last, in the given order)."""
    return sorted(
        methods, key=lambda m: _REFIT_ORDER.index(m) if m in _REFIT_ORDER else len(_REFIT_ORDER)
    )


def _unit_seed(seed: int, method: str, fold: int | None) -> int:
    """Return the seed of one unit: a function of the run's seed, the method and the fold."""
    return derived_seed(seed, METHODS.index(method) + 1, 0 if fold is None else fold + 1)


@dataclass
class Plan:
    """The units of work of one family of methods, and the outcomes settled without work."""

    columns: tuple[str, ...]
    protocols: dict[str, str] = field(default_factory=dict)
    units: list[Unit] = field(default_factory=list)
    settled: dict[str, MitigationOutcome] = field(default_factory=dict)
    fold_of_row: np.ndarray | None = None
    notes: tuple[str, ...] = ()
    #: The (group, score) histogram the threshold methods fit on, if they run.
    histogram: ScoreHistogram | None = None

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
        """Settle ``methods`` without work, with ``status`` and ``reason``."""
        for method in methods:
            self.settled[method] = self.outcome(method, status, reason)


def plan_threshold(
    inputs: MitigationInputs, methods: Sequence[str], columns: Sequence[str], folds: int, seed: int
) -> Plan:
    """Return the cross-fitting units of the threshold methods (one per method and fold)."""
    plan = Plan(tuple(columns))
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
    # One sort of the rows serves every fold and method: the (group, score) histogram.
    histogram = plan.histogram = score_histogram(scores, y_true, codes, fold_of_row, folds)
    held = [np.flatnonzero(fold_of_row == fold) for fold in range(folds)]
    held_inputs = [(scores[rows], codes[rows]) for rows in held]
    for method in methods:
        for fold in range(folds):
            args = (
                CONSTRAINTS[method],
                histogram,
                fold,
                *held_inputs[fold],
                _unit_seed(seed, method, fold),
            )
            plan.units.append(Unit(method, fold, threshold_fold_predictions, args))
    return plan


def plan_refit(
    inputs: MitigationInputs, methods: Sequence[str], columns: Sequence[str], seed: int
) -> Plan:
    """Return the retraining units (one per method, longest first), trained on train,
    applied to eval."""
    plan = Plan(tuple(columns))
    if not methods:
        return plan
    if not has_training(inputs):
        plan.settle(methods, "skipped", NEEDS_TRAINING)
        return plan
    assert inputs.train_features is not None and inputs.train_sensitive is not None
    names, (train_codes, eval_codes) = group_codes(
        [inputs.train_sensitive, inputs.sensitive], columns
    )
    train_y = np.asarray(inputs.train_y, dtype=bool)
    groups = groups_phrase(columns, len(np.unique(train_codes)))
    for method in _longest_first(methods):
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


def cross_fitted_outcome(
    shell: MitigationOutcome, parts: Sequence[UnitResult], fold_of_row: np.ndarray
) -> MitigationOutcome:
    """Return a threshold method's outcome from its folds: every row from its own fold."""
    notes = tuple(dict.fromkeys([*shell.warnings, *(n for part in parts for n in part.warnings)]))
    seconds = sum(part.seconds for part in parts)
    for fold, part in enumerate(parts):
        if part.reason is not None:
            reason = f"fold {fold + 1} of {len(parts)}: {part.reason}"
            return replace(shell, status="failed", reason=reason, warnings=notes, seconds=seconds)
    y_pred = np.zeros(len(fold_of_row), dtype=bool)
    for fold, part in enumerate(parts):
        assert part.y_pred is not None
        y_pred[fold_of_row == fold] = part.y_pred
    return replace(
        shell, y_pred=y_pred, fold_of_row=fold_of_row.copy(), warnings=notes, seconds=seconds
    )
