"""The AuditResult's parts that every task's audit fills alike (the time, the environment,
the ``audit`` section, lineage, checks on an unsafe model, the measured sections) and the
audits of the tasks other than binary (issue 17), on the numpy engine: read the evaluation
set with its label as it is, decide the task, count, measure, assemble (``TASK_AUDITS``)."""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable
from importlib import metadata
from typing import Any

from fairaudit._version import __version__
from fairaudit.data import Check, EvaluationData
from fairaudit.errors import ConfigError, DataError
from fairaudit.measure import (
    MulticlassMeasurement,
    MulticlassStatistics,
    RegressionMeasurement,
    RegressionStatistics,
    TaskDecision,
    count_multiclass,
    count_regression,
    detect_task,
    favorable_classes,
    multiclass_checks,
    multiclass_input,
    refuse_unbuilt,
    regression_checks,
    regression_input,
)
from fairaudit.result import MULTICLASS_SCHEMA_VERSION, TASK_SCHEMA_VERSION, AuditResult
from fairaudit.runtime import BadSourceDateEpoch, reproducible_time
from fairaudit.spec import AuditSpec

__all__ = [
    "TASK_AUDITS",
    "Progress",
    "audit_section",
    "audit_timestamp",
    "environment",
    "measured",
    "security_findings",
    "unsafe_model_checks",
]

_KEY_PACKAGES = (
    "fairlearn",
    "scikit-learn",
    "pandas",
    "numpy",
    "scipy",
    "skops",
    "jinja2",
    "click",
    "cryptography",
)

Progress = Callable[[str], None]


def audit_timestamp() -> str:
    """Return the audit time as UTC ISO-8601; SOURCE_DATE_EPOCH fixes it for reproducible runs."""
    try:
        return reproducible_time()
    except BadSourceDateEpoch as exc:
        raise ConfigError(str(exc)) from None


def environment() -> dict[str, Any]:
    packages: dict[str, str | None] = {}
    for name in _KEY_PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "packages": packages,
    }


def unsafe_model_checks(model_lineage: dict[str, Any] | None) -> list[Check]:
    """Return the warning that the model was unpickled, or nothing."""
    if model_lineage is None or not model_lineage["unsafe_pickle"]:
        return []
    return [
        Check(
            "unsafe_model",
            "warning",
            f"the model was loaded from a pickle file ('{model_lineage['file_name']}') "
            "with --allow-unsafe-pickle: loading it could run arbitrary code",
        )
    ]


def security_findings(model_lineage: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Return the findings that hold whatever the policy: an unsafe pickle was loaded."""
    if model_lineage is None or not model_lineage["unsafe_pickle"]:
        return []
    return [
        {
            "kind": "security",
            "severity": "warning",
            "message": "model loaded with unsafe pickle deserialization",
            "next_step": "save the model with skops.io.dump and audit the .skops file",
        }
    ]


def audit_section(
    spec: AuditSpec,
    features: list[str],
    measurement: Any,
    task: dict[str, Any],
) -> dict[str, Any]:
    """Return the AuditResult's ``audit`` section (its ``id`` is filled in last); ``task``:
    the binary audit's direction, or another task's ``task`` and ``task_reason``
    (and a multiclass audit's classes)."""
    section = {
        "id": "",
        "name": spec.default_name(),
        "model_version": spec.model_version,
        "created_at": audit_timestamp(),
        "seed": spec.seed,
        "supersedes": None,
        "sensitive_features": features,
        "groupings": measurement.groupings,
        "reference": measurement.reference_groups(),
        "min_group_size": spec.min_group_size,
        "min_denominator": spec.min_denominator,
        **task,
        "owner": spec.owner,
        "intended_use": spec.intended_use,
        **{
            k: v
            for k, v in (("dataset_name", spec.dataset_name), ("dataset_type", spec.dataset_type))
            if v
        },
    }
    if task.get("task") == "regression":
        del section["min_denominator"]  # a count of a rate's denominator: binary only
    return section


def measured(
    spec: AuditSpec,
    measurement: Any,
    checks: list[Check],
    data: dict[str, Any],
    engine: str,
    model: dict[str, Any] | None,
    predictions: dict[str, Any],
) -> dict[str, Any]:
    """Return the AuditResult's fields that every task fills alike: lineage, checks,
    metrics, disparities, headline, uncertainty, findings and summary."""
    return {
        "lineage": {
            "data": data,
            "engine": engine,
            "model": model,
            "predictions": predictions,
            "environment": environment(),
            "config": spec.effective_config(),
        },
        "data_checks": [{"id": c.id, "status": c.status, "message": c.message} for c in checks],
        "metrics": {
            "names": ["count", *measurement.metric_names],
            "overall": measurement.overall_json(),
            "by_group": measurement.by_group,
        },
        "disparities": measurement.disparities,
        "headline": measurement.headline,
        "uncertainty": measurement.uncertainty_section(),
        "findings": security_findings(model),
        "summary": measurement.summary(),
    }


def _read_task_data(
    spec: AuditSpec, say: Progress, task: str
) -> tuple[TaskDecision, EvaluationData, tuple[str, ...], tuple]:
    """Return the task decision, the evaluation data, its features and their levels, for a
    regression or multiclass audit (the numpy engine's reading, done here until engines
    count these tasks); a label of another task is a one-line error."""
    from fairaudit.data import load_evaluation_data
    from fairaudit.engines import check_reference
    from fairaudit.measure import check_rows_group_limit

    say(f"reading {spec.source_label('data')}")
    data = load_evaluation_data(spec, binary=False)
    decision = detect_task(
        data.y_true, task=spec.task, positive_label=spec.positive_label, column=spec.target
    )
    refuse_unbuilt(spec, decision)
    if decision.task != task:  # auto that the binary audit refused for another reason
        raise ConfigError(f"the label is {decision.task} ({decision.reason}); use --task binary")
    features = tuple(f.name for f in data.sensitive)
    levels = tuple(f.levels for f in data.sensitive)
    check_reference(spec, features, levels)
    check_rows_group_limit(spec, data)
    say("predicting" if spec.model is not None else "reading predictions")
    return decision, data, features, levels


#: The mitigation check's message when the BoundedGroupLoss comparison ran.
_RAN = (
    "BoundedGroupLoss mitigation ran (ExponentiatedGradient on the training set, absolute "
    "and square loss; threshold post-processing does not apply to regression)"
)


def _regression_numbers(measurement: RegressionMeasurement) -> dict[str, Any]:
    """Return a mitigations entry's numbers: overall MAE and RMSE, the headline ratios."""
    overall = measurement.overall_json()
    keep = ("max_group_mae_ratio", "max_group_rmse_ratio")
    return {
        "metrics": {
            "overall": {k: overall[k] for k in ("mean_absolute_error", "root_mean_squared_error")}
        },
        "headline": [
            {k: h[k] for k in ("feature", "metric", "value", "group")}
            for h in measurement.headline
            if h["metric"] in keep
        ],
    }


def _regression_mitigations(
    spec: AuditSpec, data: EvaluationData, numbers: Any, measurement: Any, say: Progress
) -> list[dict[str, Any]] | None:
    """Return the BoundedGroupLoss comparison's entries, or None when it does not run
    (no --train, no model, or --no-mitigation)."""
    if spec.train is None or spec.model is None or spec.mitigations == ():
        return None
    from fairaudit.mitigation import regression_mitigations

    features = [f.name for f in data.sensitive]
    codes, levels = [f.codes for f in data.sensitive], [f.levels for f in data.sensitive]

    def measure(y_pred: Any) -> dict[str, Any]:
        cells = count_regression(features, codes, levels, numbers.y_true, y_pred)
        return _regression_numbers(
            RegressionMeasurement(
                RegressionStatistics(cells),
                reference=spec.reference,
                min_group_size=spec.min_group_size,
            )
        )

    say("comparing mitigations")
    columns = list(numbers.model_lineage["feature_columns"])
    return regression_mitigations(
        spec, data.frame, columns, _regression_numbers(measurement), measure
    )


def audit_regression(spec: AuditSpec, say: Progress) -> AuditResult:
    """Return the AuditResult of a regression audit of ``spec`` (numpy engine), without its
    policy and id."""
    decision, data, features, levels = _read_task_data(spec, say, "regression")
    numbers = regression_input(spec, data)
    say("counting")
    try:
        cells = count_regression(
            features, [f.codes for f in data.sensitive], levels, numbers.y_true, numbers.y_pred
        )
    except ValueError as exc:
        raise DataError(str(exc)) from None
    say("computing metrics")
    measurement = RegressionMeasurement(
        RegressionStatistics(cells), reference=spec.reference, min_group_size=spec.min_group_size
    )
    group_checks = measurement.checks()
    if spec.intervals:
        say(f"computing {spec.confidence:.0%} intervals and tests")
        measurement.add_uncertainty(confidence=spec.confidence)
    mitigations = _regression_mitigations(spec, data, numbers, measurement, say)
    checks = [*data.checks, decision.check(), *group_checks]
    checks += unsafe_model_checks(numbers.model_lineage) + [
        c if c.id != "mitigation" or mitigations is None else Check("mitigation", "info", _RAN)
        for c in regression_checks(spec)
    ]
    task = {"task": decision.task, "task_reason": decision.reason}
    return AuditResult(
        mitigations=mitigations,
        schema_version=TASK_SCHEMA_VERSION,
        tool={"name": "fairaudit", "version": __version__},
        audit=audit_section(spec, [f.name for f in data.sensitive], measurement, task),
        **measured(
            spec,
            measurement,
            checks,
            data.lineage(),
            "numpy",
            numbers.model_lineage,
            numbers.source,
        ),  # fmt: skip
    )


def audit_multiclass(spec: AuditSpec, say: Progress) -> AuditResult:
    """Return the AuditResult of a multiclass audit of ``spec`` (numpy engine), without its
    policy and id; ``--favorable-label`` (once or more) adds the binary view of the union."""
    decision, data, features, levels = _read_task_data(spec, say, "multiclass")
    favorable = favorable_classes(spec.favorable_label)
    labels = multiclass_input(spec, data)
    say("counting")
    try:
        counts = count_multiclass(
            features, [f.codes for f in data.sensitive], levels, labels.classes,
            labels.y_true, labels.y_pred,
        )  # fmt: skip
    except ValueError as exc:
        raise DataError(str(exc)) from None
    say("computing metrics")
    measurement = MulticlassMeasurement(
        MulticlassStatistics(counts),
        reference=spec.reference,
        min_group_size=spec.min_group_size,
        min_denominator=spec.min_denominator,
    )
    group_checks = measurement.checks()
    summary = measurement.summary(favorable, column=spec.target)  # a wrong class fails here
    if spec.intervals:
        say(f"computing {spec.confidence:.0%} intervals and tests")
        measurement.add_uncertainty(confidence=spec.confidence, n_resamples=spec.resamples)
        for row in measurement.disparities:  # no test exists (f1_macro, balanced_accuracy)
            if row["significance"] is None:
                row["significance"] = "not tested"
    checks = [*data.checks, decision.check(), *group_checks]
    checks += unsafe_model_checks(labels.model_lineage) + multiclass_checks(spec)
    task = {"task": decision.task, "task_reason": decision.reason,
            "classes": list(labels.classes), "favorable_classes": list(favorable)}  # fmt: skip
    section = audit_section(spec, list(features), measurement, task)
    section["min_denominator"] = spec.min_denominator  # one-vs-rest rates have denominators
    return AuditResult(
        schema_version=MULTICLASS_SCHEMA_VERSION,
        tool={"name": "fairaudit", "version": __version__},
        audit=section,
        **measured(
            spec,
            measurement,
            checks,
            data.lineage(),
            "numpy",
            labels.model_lineage,
            labels.source,
        )
        | {"summary": summary},  # fmt: skip
    )


#: The audits of the tasks other than binary, by task.
TASK_AUDITS: dict[str, Callable[[AuditSpec, Progress], AuditResult]] = {
    "regression": audit_regression,
    "multiclass": audit_multiclass,
}
