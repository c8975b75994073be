"""The audit pipe: load → predict → count → metrics → stats, for one AuditSpec."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from fairaudit._audit_parts import (
    TASK_AUDITS,
    Progress,
    audit_section,
    audit_timestamp,
    measured,
    unsafe_model_checks,
)
from fairaudit._version import __version__
from fairaudit.data import Check, EvaluationData, load_evaluation_data
from fairaudit.engines import EngineCounts, count_with_engine
from fairaudit.errors import ConfigError, DataError
from fairaudit.measure import (
    BinaryCounts,
    Measurement,
    TaskDecision,
    refuse_unbuilt,
    resolve_direction,
    task_after_failure,
)
from fairaudit.policy import Policy, build_findings, evaluate_policy, load_policy
from fairaudit.result import SCHEMA_VERSION, AuditResult
from fairaudit.runtime import Prepared, while_waiting
from fairaudit.spec import AuditSpec

__all__ = ["audit_timestamp", "run_audit"]

MSG_ONE_FAVORABLE = (
    "--favorable-label is given more than once, but the label is binary: a binary audit "
    "has one favourable label"
)


def _compare_mitigations(
    spec: AuditSpec, counted: EngineCounts, measurement: Measurement, say: Progress
) -> tuple[list[dict[str, Any]] | None, dict[str, Any] | None]:
    """Return the mitigation comparison and its summary, or (None, None) when none runs."""
    if counted.data is None and spec.mitigations:
        raise ConfigError(
            f"the {counted.engine} engine keeps the rows where they are, so it cannot run "
            "mitigations; use --engine numpy, or --no-mitigation"
        )
    if (
        counted.data is None
        or spec.mitigations == ()
        or (counted.estimator is None and counted.score is None)
    ):
        return None, None
    say("comparing mitigations")
    # Imported here: scikit-learn and fairlearn (1.5 s) load only when mitigations run.
    from fairaudit.mitigation import compare_mitigations

    return compare_mitigations(
        spec,
        counted.data,
        measurement,
        estimator=counted.estimator,
        feature_columns=counted.feature_columns,
        score=counted.score,
        progress=say,
    )


def _run_checks(spec: AuditSpec, counted: EngineCounts) -> list[Check]:
    """Return the checks on the run itself: an unsafe model, no mitigation, no scores."""
    checks = unsafe_model_checks(counted.model_lineage)
    if counted.data is None and spec.mitigations is None:
        checks.append(
            Check(
                "mitigation",
                "info",
                f"no mitigation comparison: the {counted.engine} engine keeps the rows where "
                "they are; run with --engine numpy on a sample to compare mitigations",
            )
        )
    if spec.train is not None and spec.training_data and spec.model is None:
        checks.append(
            Check(
                "training_data",
                "info",
                "no training-data section: it analyses the training set with --model only; "
                "'fairaudit data TRAIN --target COL --sensitive COL' gives its label "
                "disparities and proxies",
            )
        )
    if not counted.has_scores:
        checks.append(
            Check("scores", "info", "no scores: roc_auc and brier_score are not computed")
        )
    elif not counted.score_is_probability:
        checks.append(
            Check("scores", "info", "scores are not probabilities: brier_score is undefined")
        )
    return checks


#: The ``data_bias`` rows the training-data section keeps: each group's class imbalance and
#: difference in label proportions against its reference group (for a 0/1 label the other
#: distances restate the latter). ``fairaudit data`` on the training set gives every row.
TRAINING_METRICS = ("class_imbalance", "difference_in_label_proportions")


def _training_features(spec: AuditSpec, counted: EngineCounts, columns: list[str]) -> list[str]:
    """Return the training set's columns the proxy analysis tests: the model's inputs when
    known (the training set must have them), else every column that has no role in the
    audit; sensitive features never."""
    roles = {spec.target, *spec.sensitive, *spec.id_cols, spec.prediction_col, spec.score_col}
    inputs = (counted.model_lineage or {}).get("feature_columns") or columns
    missing = [c for c in inputs if c not in columns]
    if missing:
        raise DataError(f"it lacks the model's input columns: {', '.join(map(repr, missing))}")
    return [c for c in inputs if c not in roles]


def _training_data(
    spec: AuditSpec, counted: EngineCounts, say: Progress
) -> Callable[[], dict[str, Any] | None]:
    """Read, check and measure the training set now; return what completes the
    ``training_data`` section: ``fairaudit data``'s analysis of the training set (its label
    rows of ``TRAINING_METRICS`` against the reference, and every proxy feature without the
    joint model), or None without a training set, with ``training_data`` off or without a
    model (whose inputs the proxies are; ``_run_checks`` says so).

    Everything that can refuse the training set (unreadable, without the model's inputs,
    one class, a reference group it lacks) fails here, before the mitigation comparison;
    the proxy models (0.13 s of the sample's 0.17 s, and they refuse nothing that passed
    here) may wait until then.
    """
    if spec.train is None or not spec.training_data or spec.model is None:
        return lambda: None
    say(f"analysing the training set {spec.source_label('train')}")
    from fairaudit.databias import data_bias

    options: dict[str, Any] = {
        "target": spec.target,
        "sensitive": list(spec.sensitive),
        "favorable_label": spec.favorable_label or spec.positive_label,
        "reference": dict(spec.reference),
        "bins": {k: list(v) for k, v in spec.bins.items()},
        "confidence": spec.confidence,
        "n_resamples": spec.resamples,
        "seed": spec.seed,
    }
    with _training_errors(spec):
        train = load_evaluation_data(
            replace(spec, data=spec.train, prediction_col=None, score_col=None)
        )
        features = _training_features(spec, counted, [str(c) for c in train.frame.columns])
        rows = data_bias(train.frame, **options)
    return lambda: _training_section(spec, train, options, features, rows)


@contextmanager
def _training_errors(spec: AuditSpec) -> Iterator[None]:
    """Name the training set, and the option that skips its analysis, in its errors."""
    try:
        yield
    except (ConfigError, DataError) as exc:
        kind = ConfigError if isinstance(exc, ConfigError) else DataError
        raise kind(
            f"training set '{spec.source_label('train')}': {exc} (--no-training-data skips "
            "its analysis)"
        ) from None


def _training_section(
    spec: AuditSpec,
    train: EvaluationData,
    options: dict[str, Any],
    features: list[str],
    rows: list[dict[str, Any]],
) -> dict[str, Any]:
    """Return the ``training_data`` section: ``_training_data``'s rows and the proxies."""
    from fairaudit.databias import MAX_MODEL_ROWS, PROXY_AUC_THRESHOLD, proxy_features

    shared = {k: options[k] for k in ("sensitive", "bins", "seed")}
    with _training_errors(spec):
        proxies = proxy_features(train.frame, features=features, joint=False, **shared)
    kept = [r for r in rows if r["metric"] in TRAINING_METRICS and r["reference"] != "rest"]
    return {
        "data": train.lineage(),
        "options": {
            **options,
            "features": features,
            "proxy_threshold": PROXY_AUC_THRESHOLD,
            "max_model_rows": MAX_MODEL_ROWS,
            "joint_model": False,
            "metrics": list(TRAINING_METRICS),
        },
        "rows_left_out": len(rows) - len(kept),
        "data_bias": kept,
        "proxies": proxies,
    }


def run_audit(spec: AuditSpec, *, progress: Progress | None = None) -> AuditResult:
    """Return the AuditResult of one audit: every group's metrics, disparities and lineage.

    Inside ``runtime.lend_worker`` (the command line lends one to an audit that may retrain
    its model, ``AuditSpec.may_retrain``), the mitigation comparison fits beside it.
    """
    audit_timestamp()  # a bad SOURCE_DATE_EPOCH fails now, not after the work
    # Read the policy first: a broken policy file should fail before any work is done.
    policy = load_policy(spec.policy) if spec.policy else None
    if spec.task in ("multiclass", "regression"):
        refuse_unbuilt(spec, TaskDecision(spec.task, f"--task {spec.task} is given"))
    say = progress or (lambda message: None)
    result = TASK_AUDITS.get(spec.task, _audit)(spec, say)
    _apply_policy(result, policy, spec)
    result.audit["id"] = result.content_id()
    return result


def _audit(spec: AuditSpec, say: Progress) -> AuditResult:
    """Return the AuditResult of ``spec``, without its policy and id.

    A label the binary audit refuses is read again to decide the task: ``auto`` on a
    regression target runs the regression audit; any mismatch is a one-line error.
    """
    try:
        counted = count_with_engine(spec, spec.engine, progress=say)
    except DataError:
        decision = task_after_failure(spec)
        if decision is None or decision.task == "binary":
            raise
        refuse_unbuilt(spec, decision)
        return TASK_AUDITS[decision.task](spec, say)
    spec.check_task("binary")  # --favorable-above, --score-col CLASS=COL
    favorable = spec.favorable_label
    if favorable is not None and not isinstance(favorable, str):
        if len(favorable) != 1:
            raise ConfigError(MSG_ONE_FAVORABLE)
        favorable = favorable[0]
        spec = replace(spec, favorable_label=favorable)
    say("computing metrics")
    # Score metrics come from the engine's exact sufficient statistics, never from rows.
    measurement = Measurement(
        BinaryCounts(counted.group_counts, counted.score_summary),
        reference=spec.reference,
        min_group_size=spec.min_group_size,
        min_denominator=spec.min_denominator,
        direction=resolve_direction(
            favorable, spec.positive_label, counted.label_values, column=spec.target
        ),
    )
    group_checks = measurement.checks()  # a named reference group without rows fails here
    if spec.intervals:
        say(f"computing {spec.confidence:.0%} intervals and tests")
        measurement.add_uncertainty(
            confidence=spec.confidence, n_resamples=spec.resamples, seed=spec.seed
        )
    # The training set's proxy models wait: they run in the time this process waits for the
    # worker the command line lent it, if it does (``runtime.Prepared``), else after it.
    training = Prepared(_training_data(spec, counted, say))
    with while_waiting(training.prepare):
        mitigations, mitigation_summary = _compare_mitigations(spec, counted, measurement, say)
    training_data = training.value()
    checks = [*counted.checks, *group_checks, *_run_checks(spec, counted)]
    return AuditResult(
        schema_version=SCHEMA_VERSION,
        tool={"name": "fairaudit", "version": __version__},
        audit=audit_section(
            spec,
            list(counted.group_counts.features),
            measurement,
            measurement.direction.to_json(),
        ),
        **measured(spec, measurement, checks, counted),
        mitigations=mitigations,
        mitigation_summary=mitigation_summary,
        training_data=training_data,
    )


def _apply_policy(result: AuditResult, policy: Policy | None, spec: AuditSpec) -> None:
    """Fill the result's policy, verdict and findings (findings also without a policy)."""
    data = result.to_dict()
    if policy is None:
        result.findings = build_findings(data)
        return
    evaluation = evaluate_policy(policy, data, not_evaluable=spec.not_evaluable)
    result.policy = evaluation.to_dict()
    result.verdict = evaluation.verdict
    result.findings = build_findings(data, evaluation, fail_on=spec.fail_on)
