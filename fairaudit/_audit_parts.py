"""The AuditResult's parts that every task's audit fills alike (the time, the environment,
the ``audit`` section, lineage, checks on an unsafe model, the measured sections) and the
audits of the tasks other than binary (issue 17), on any engine
(``engines.count_task_with_engine``): decide the task from the label, count, measure,
assemble (``TASK_AUDITS``)."""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable
from importlib import metadata
from typing import TYPE_CHECKING, Any

from fairaudit._version import __version__
from fairaudit.data import Check, EvaluationData
from fairaudit.errors import ConfigError
from fairaudit.measure import (
    MulticlassMeasurement,
    MulticlassStatistics,
    RegressionMeasurement,
    RegressionStatistics,
    TargetSummary,
    TaskDecision,
    count_regression,
    decide_task,
    favorable_classes,
    multiclass_checks,
    refuse_unbuilt,
    regression_checks,
)
from fairaudit.result import (
    FAVORABLE_OUTCOME_SCHEMA_VERSION,
    MULTICLASS_SCHEMA_VERSION,
    TASK_SCHEMA_VERSION,
    AuditResult,
)
from fairaudit.runtime import BadSourceDateEpoch, reproducible_time
from fairaudit.spec import AuditSpec

if TYPE_CHECKING:
    from fairaudit.engines import TaskCounts

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
    spec: AuditSpec, measurement: Any, checks: list[Check], counted: Any
) -> dict[str, Any]:
    """Return the AuditResult's fields that every task fills alike: lineage, checks,
    metrics, disparities, headline, uncertainty, findings and summary. ``counted``: the
    engine's counts (``EngineCounts`` or ``TaskCounts``: their ``lineage_data``, ``engine``,
    ``model_lineage`` and ``prediction_source``)."""
    model = counted.model_lineage
    return {
        "lineage": {
            "data": counted.lineage_data,
            "engine": counted.engine,
            "model": model,
            "predictions": counted.prediction_source,
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


#: A label of another task than the audit's (``auto`` that the binary audit refused for
#: another reason than its label).
MSG_OTHER_TASK = "the label is {task} ({reason}); use --task binary"


def _decider(spec: AuditSpec, task: str) -> Callable[[TargetSummary], TaskDecision]:
    """Return the rule every engine applies to the label's summary: the task it decides
    (or its one-line mismatch error), what that task cannot do, and another task refused."""

    def decide(summary: TargetSummary) -> TaskDecision:
        decision = decide_task(
            summary, task=spec.task, positive_label=spec.positive_label, column=spec.target
        )
        refuse_unbuilt(spec, decision)
        spec.check_task(decision.task)  # options of another task
        if decision.task != task:
            raise ConfigError(MSG_OTHER_TASK.format(task=decision.task, reason=decision.reason))
        return decision

    return decide


def _count_task(spec: AuditSpec, say: Progress, task: str) -> TaskCounts:
    """Return the counts of a regression or multiclass audit on the engine ``spec`` asks
    for (``auto``: numpy unless the file is large next to the memory)."""
    from fairaudit.engines import count_task_with_engine

    return count_task_with_engine(
        spec,
        spec.engine,
        decide=_decider(spec, task),
        progress=say,
    )


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
    """Return the AuditResult of a regression audit of ``spec`` (on any engine), without its
    policy and id."""
    counted = _count_task(spec, say, "regression")
    assert counted.regression is not None
    say("computing metrics")
    measurement = RegressionMeasurement(
        RegressionStatistics(counted.regression),
        reference=spec.reference,
        min_group_size=spec.min_group_size,
    )
    group_checks = measurement.checks()
    if spec.intervals:
        say(f"computing {spec.confidence:.0%} intervals and tests")
        measurement.add_uncertainty(confidence=spec.confidence)
    # --favorable-above/-below T: the derived binary view
    from fairaudit.measure._regression_threshold import favorable_outcome

    outcome = favorable_outcome(counted.regression, spec)
    mitigations = None
    if counted.data is not None:  # the numpy engine: the rows a mitigation refits on
        mitigations = _regression_mitigations(spec, counted.data, counted.numbers, measurement, say)
    checks = [*counted.checks, counted.decision.check(), *group_checks]
    checks += outcome.checks if outcome else []
    checks += unsafe_model_checks(counted.model_lineage) + [
        c if c.id != "mitigation" or mitigations is None else Check("mitigation", "info", _RAN)
        for c in regression_checks(spec)
    ]
    task = {"task": counted.decision.task, "task_reason": counted.decision.reason}
    features = list(counted.regression.group_counts.features)
    return AuditResult(
        mitigations=mitigations,
        schema_version=FAVORABLE_OUTCOME_SCHEMA_VERSION if outcome else TASK_SCHEMA_VERSION,
        tool={"name": "fairaudit", "version": __version__},
        audit=audit_section(spec, features, measurement, task),
        **measured(spec, measurement, checks, counted)
        | (  # --favorable-above/-below: summary.favorable_outcome
            {"summary": {**measurement.summary(), "favorable_outcome": outcome.section}}
            if outcome
            else {}
        ),  # fmt: skip
    )


def audit_multiclass(spec: AuditSpec, say: Progress) -> AuditResult:
    """Return the AuditResult of a multiclass audit of ``spec`` (on any engine), without its
    policy and id; ``--favorable-label`` (once or more) adds the binary view of the union."""
    counted = _count_task(spec, say, "multiclass")
    counts = counted.multiclass
    assert counts is not None
    favorable = favorable_classes(spec.favorable_label)
    say("computing metrics")
    measurement = MulticlassMeasurement(
        # per-class scores (numpy engine) give one-vs-rest roc_auc by class
        MulticlassStatistics(counts, getattr(counted.numbers, "scores", None)),
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
    checks = [*counted.checks, counted.decision.check(), *group_checks]
    checks += unsafe_model_checks(counted.model_lineage) + multiclass_checks(spec)
    decision = counted.decision
    task = {"task": decision.task, "task_reason": decision.reason,
            "classes": list(counts.classes), "favorable_classes": list(favorable)}  # fmt: skip
    section = audit_section(spec, list(counts.features), measurement, task)
    section["min_denominator"] = spec.min_denominator  # one-vs-rest rates have denominators
    return AuditResult(
        schema_version=MULTICLASS_SCHEMA_VERSION,
        tool={"name": "fairaudit", "version": __version__},
        audit=section,
        **measured(spec, measurement, checks, counted) | {"summary": summary},  # fmt: skip
    )


#: The audits of the tasks other than binary, by task.
TASK_AUDITS: dict[str, Callable[[AuditSpec, Progress], AuditResult]] = {
    "regression": audit_regression,
    "multiclass": audit_multiclass,
}
