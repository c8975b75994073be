"""The mitigation comparison stage: run fairlearn mitigations, re-count every variant.

``fairaudit.mitigation`` produces each mitigated variant's predictions for every
evaluation row (held-out predictions for post-processing). This module counts them with
the same engine, metrics and intervals as the audited model, so the comparison uses one
yardstick, and returns the JSON-ready ``mitigations`` section (baseline included).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.counts import count_groups
from fairaudit.data import EvaluationData, load_evaluation_data
from fairaudit.errors import ConfigError
from fairaudit.measure import BinaryCounts, Measurement
from fairaudit.mitigation._grouping import GroupingChoice, choose_grouping
from fairaudit.mitigation._outcome import (
    CAVEATS,
    METHODS,
    THRESHOLD_METHODS,
    MitigationInputs,
    MitigationOutcome,
)
from fairaudit.mitigation._protocol import run_mitigations
from fairaudit.mitigation._tradeoff import (
    EXTREME_RATE,
    MAX_ACCURACY_LOSS,
    TRADEOFF_RULE,
    headline_value,
    is_imbalanced,
    judge_entries,
    tradeoff_measure,
)
from fairaudit.result import BASELINE, jsonable
from fairaudit.spec import AuditSpec
from fairaudit.vocabulary import INTERSECTION

__all__ = [
    "BASELINE",
    "MAX_ACCURACY_LOSS",
    "SUMMARY_ROW",
    "compare_mitigations",
    "reported_seconds",
    "tradeoff_grouping",
]

#: Metrics shown before/after for the best trade-off.
BEFORE_AFTER_METRICS = ("selection_rate", "true_positive_rate", "false_positive_rate")
#: The keys of a group row in an entry's summary: the group's counts and metric values.
SUMMARY_ROW = ("feature", "group", "count", "confusion", "metrics")

Progress = Callable[[str], None]


def tradeoff_grouping(spec: AuditSpec, columns: Sequence[str] | None = None) -> str:
    """Return the grouping mitigations act on: the intersection, or the one feature."""
    on = columns or spec.mitigate_on or spec.sensitive
    return on[0] if len(on) == 1 else INTERSECTION


def _grouping_choice(
    spec: AuditSpec, data: EvaluationData, baseline: dict[str, Any]
) -> GroupingChoice:
    """Return the grouping to mitigate on: as chosen, or a coarser default when cells are small."""
    requested = tuple(spec.mitigate_on or spec.sensitive)
    thresholds = spec.mitigations is None or set(spec.mitigations) & set(THRESHOLD_METHODS)
    if spec.mitigate_on or len(requested) == 1 or not thresholds:
        return GroupingChoice(requested)
    disparity: dict[tuple[str, ...], float] = {
        (column,): headline_value(baseline, column, "demographic_parity_difference")
        for column in requested
    }
    disparity[requested] = headline_value(baseline, INTERSECTION, "demographic_parity_difference")
    return choose_grouping(
        _sensitive_frame(data), data.y_true, requested, disparity, min_rows=spec.min_denominator
    )


def _sensitive_frame(data: EvaluationData) -> pd.DataFrame:
    return pd.DataFrame(
        {f.name: np.asarray(f.levels, dtype=object)[f.codes] for f in data.sensitive}
    )


def _training_inputs(
    spec: AuditSpec, columns: Sequence[str]
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    assert spec.train is not None
    train_spec = replace(spec, data=spec.train, prediction_col=None, score_col=None)
    train = load_evaluation_data(train_spec)
    missing = [c for c in columns if c not in train.frame.columns]
    if missing:
        raise ConfigError(
            f"training set '{spec.source_label('train')}' lacks the model's input columns: "
            f"{', '.join(map(repr, missing))}"
        )
    return train.frame[list(columns)], train.y_true, _sensitive_frame(train)


def _numbers(measurement: Measurement, detail: str, *, compact: bool) -> dict[str, Any]:
    """Return the numbers an entry keeps: with ``detail`` ``full``, ``Measurement.entry``;
    with ``summary``, the overall metrics, headline metrics (with intervals) and each
    group's counts and metrics, from which a reader derives the disparities
    (``fairaudit.policy.mitigation_disparities``) instead of storing a second copy."""
    entry = measurement.entry(compact=compact)
    if detail == "full":
        return entry
    return {
        "metrics": entry["metrics"],
        "by_group": [{k: row[k] for k in SUMMARY_ROW} for row in measurement.by_group],
        "headline": entry["headline"],
    }


def _variant(spec: AuditSpec, data: EvaluationData, y_pred: np.ndarray) -> dict[str, Any]:
    """Return the numbers of one variant (``_numbers``: metrics, headline, by group)."""
    group_counts = count_groups(
        [f.name for f in data.sensitive],
        [f.codes for f in data.sensitive],
        [f.levels for f in data.sensitive],
        data.y_true,
        y_pred,
    )
    measurement = Measurement(
        BinaryCounts(group_counts),
        reference=spec.reference,
        min_group_size=spec.min_group_size,
        min_denominator=spec.min_denominator,
    )
    if spec.intervals:
        measurement.add_uncertainty(
            confidence=spec.confidence, n_resamples=spec.resamples, seed=spec.seed
        )
    return _numbers(measurement, spec.mitigation_detail, compact=True)


def _inputs(
    spec: AuditSpec,
    data: EvaluationData,
    estimator: Any | None,
    feature_columns: Sequence[str],
    score: np.ndarray | None,
) -> MitigationInputs:
    """Return what the mitigations fit and predict on: evaluation rows, and training rows."""
    inputs = MitigationInputs(
        eval_features=(
            data.frame[list(feature_columns)]
            if estimator is not None
            else pd.DataFrame(index=range(len(data.y_true)))
        ),
        y_true=data.y_true,
        sensitive=_sensitive_frame(data),
        estimator=estimator,
        score=score,
    )
    if spec.train is None:
        return inputs
    if estimator is None:
        raise ConfigError(
            "--train needs --model: retraining mitigations refit a clone of the model"
        )
    train_features, train_y, train_sensitive = _training_inputs(spec, feature_columns)
    return replace(
        inputs, train_features=train_features, train_y=train_y, train_sensitive=train_sensitive
    )


def reported_seconds(seconds: float | None) -> float | None:
    """Return a method's time for the result, to the millisecond; None in a reproducible run.

    With SOURCE_DATE_EPOCH set the artifacts must be byte-identical run after run, which a
    wall time never is.
    """
    if seconds is None or os.environ.get("SOURCE_DATE_EPOCH"):
        return None
    return round(seconds, 3)


def _entry(spec: AuditSpec, data: EvaluationData, outcome: MitigationOutcome) -> dict[str, Any]:
    """Return one mitigated variant's entry: how it was made and, if it ran, its numbers."""
    entry: dict[str, Any] = {
        "method": outcome.method,
        "constraint": outcome.constraint,
        "protocol": outcome.protocol,
        "status": outcome.status,
        "reason": outcome.reason,
        "caveat": CAVEATS.get(outcome.method),
        "sensitive_features": list(outcome.sensitive_features),
        "warnings": list(outcome.warnings),
        "seconds": reported_seconds(outcome.seconds),
    }
    if outcome.status == "ok" and outcome.y_pred is not None:
        entry.update(_variant(spec, data, np.asarray(outcome.y_pred, dtype=bool)))
    return entry


def _before_after(
    entries: list[dict[str, Any]], best: str | None, grouping: str
) -> list[dict[str, Any]]:
    """Return the grouping's groups before (baseline) and after the best trade-off."""
    if best is None:
        return []
    after = next(e for e in entries if e["method"] == best)
    return [
        {
            "group": before_row["group"],
            "count": before_row["count"],
            "before": {m: before_row["metrics"].get(m) for m in BEFORE_AFTER_METRICS},
            "after": {m: after_row["metrics"].get(m) for m in BEFORE_AFTER_METRICS},
        }
        for before_row, after_row in zip(entries[0]["by_group"], after["by_group"], strict=True)
        if before_row["feature"] == grouping
    ]


def _summary(
    spec: AuditSpec,
    choice: GroupingChoice,
    imbalance: tuple[bool, float],
    best: str | None,
    before_after: list[dict[str, Any]],
) -> dict[str, Any]:
    """Return the ``mitigation_summary``: protocol, grouping, trade-off rule, best, before/after."""
    folds = spec.mitigation_folds
    grouping = tradeoff_grouping(spec, choice.columns)
    imbalanced, positive_rate = imbalance
    measure = tradeoff_measure(imbalanced)
    share = f"positives are {positive_rate:.1%} of the evaluation rows"
    return {
        "grouping": grouping,
        "grouping_features": list(choice.columns),
        "grouping_reason": choice.reason,
        "methods_available": list(METHODS),
        "protocol": (
            f"Post-processing (ThresholdOptimizer) is cross-fitted over the evaluation "
            f"set: {folds} folds stratified by group and label; thresholds fitted on "
            f"{folds - 1} folds score the held-out fold, so no row is scored by "
            "thresholds fitted on it. Reductions (ExponentiatedGradient) and "
            "pre-processing (CorrelationRemover) retrain a clone of the model on the "
            "training set and are evaluated on the evaluation set. Every variant is "
            "counted with the same metrics and intervals as the audited model."
            + (
                f" Mitigations act on the intersection of {', '.join(choice.columns)}."
                if grouping == INTERSECTION
                else f" Mitigations act on {grouping}."
            )
            + (f" {choice.reason}" if choice.reason else "")
        ),
        "tradeoff_measure": measure,
        "tradeoff_rule": TRADEOFF_RULE.format(
            grouping=grouping,
            points=MAX_ACCURACY_LOSS * 100,
            accuracy_too="" if imbalanced else " and of accuracy",
            min_rows=spec.min_group_size,
            low=EXTREME_RATE * 100,
            high=(1 - EXTREME_RATE) * 100,
            measure=measure.replace("_", " "),
            why=(
                f"{share}, so accuracy would reward predicting the majority class"
                if imbalanced
                else share
            ),
        ),
        "best": best,
        "before_after": before_after,
        "detail": spec.mitigation_detail,
    }


def compare_mitigations(
    spec: AuditSpec,
    data: EvaluationData,
    baseline: Measurement,
    *,
    estimator: Any | None,
    feature_columns: Sequence[str],
    score: np.ndarray | None,
    progress: Progress | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return the ``mitigations`` entries (baseline first) and the ``mitigation_summary``.

    Every selected method is measured alike with the audited model, whose numbers come
    from ``baseline``, the audit's own Measurement. Each variant says whether it is
    ``eligible`` to be recommended, and why (``_tradeoff``).
    """
    baseline_entry = _numbers(baseline, spec.mitigation_detail, compact=False)
    choice = _grouping_choice(spec, data, baseline_entry)
    if choice.reason and progress is not None:
        progress(choice.reason)
    # Each variant is measured as soon as its method is done, while the others still fit
    # (in the worker the run lent, ``runtime.lend_worker``).
    measured: dict[str, dict[str, Any]] = {}
    outcomes: list[MitigationOutcome] = run_mitigations(
        _inputs(spec, data, estimator, feature_columns, score),
        list(spec.mitigations) if spec.mitigations is not None else None,
        folds=spec.mitigation_folds,
        seed=spec.seed,
        jobs=spec.jobs,
        on=list(choice.columns),
        progress=progress,
        on_outcome=lambda outcome: measured.update({outcome.method: _entry(spec, data, outcome)}),
    )
    grouping = tradeoff_grouping(spec, choice.columns)
    entries: list[dict[str, Any]] = [
        jsonable(
            {
                "method": BASELINE,
                "constraint": None,
                "protocol": "The audited model's own predictions on the evaluation set.",
                "status": "ok",
                "reason": None,
                "caveat": None,
                "sensitive_features": list(choice.columns),
                "warnings": [],
                "seconds": None,
                **baseline_entry,
            }
        )
    ]
    entries.extend(measured[outcome.method] for outcome in outcomes)
    positive_rate = float(np.mean(data.y_true)) if len(data.y_true) else math.nan
    imbalanced = is_imbalanced(positive_rate)
    best = judge_entries(entries, grouping, imbalanced=imbalanced, min_rows=spec.min_group_size)
    summary = _summary(
        spec, choice, (imbalanced, positive_rate), best, _before_after(entries, best, grouping)
    )
    return jsonable(entries), jsonable(summary)
