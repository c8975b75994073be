"""The audit pipe: load → predict → count → metrics → stats, for one AuditSpec."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from fairaudit._version import __version__
from fairaudit.comparison import compare_mitigations
from fairaudit.counts import CELLS, GroupCounts, count_groups
from fairaudit.data import (
    Check,
    EvaluationData,
    binarize,
    check_prediction_values,
    load_evaluation_data,
)
from fairaudit.errors import ConfigError
from fairaudit.metrics import (
    CONFUSION_METRICS,
    SCORE_METRICS,
    DisparityRow,
    GroupTable,
    build_tables,
    disparities_vs_reference,
    headline_metrics,
)
from fairaudit.models import feature_columns, load_model, predict
from fairaudit.policy import Policy, build_findings, evaluate_policy, load_policy
from fairaudit.result import SCHEMA_VERSION, AuditResult, jsonable
from fairaudit.spec import AuditSpec
from fairaudit.stats import compute_uncertainty, uncertainty_to_json

__all__ = ["audit_timestamp", "run_audit"]

_KEY_PACKAGES = (
    "fairlearn",
    "scikit-learn",
    "pandas",
    "numpy",
    "scipy",
    "skops",
    "jinja2",
    "matplotlib",
    "click",
    "cryptography",
)

Progress = Callable[[str], None]


def audit_timestamp() -> str:
    """Return the audit time as UTC ISO-8601; SOURCE_DATE_EPOCH fixes it for reproducible runs."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            moment = datetime.fromtimestamp(int(epoch), tz=UTC)
        except ValueError:
            raise ConfigError(
                f"SOURCE_DATE_EPOCH must be whole seconds since 1970, not {epoch!r}"
            ) from None
    else:
        moment = datetime.now(tz=UTC).replace(microsecond=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _environment() -> dict[str, Any]:
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


def _check_reference(spec: AuditSpec, data: EvaluationData) -> None:
    for feature in data.sensitive:
        wanted = spec.reference.get(feature.name)
        if wanted is not None and wanted not in feature.levels:
            raise ConfigError(
                f"reference group {feature.name}={wanted!r} not found; the groups of "
                f"{feature.name!r} are: {', '.join(repr(v) for v in feature.levels)}"
            )


@dataclass
class _Predicted:
    """What the predict stage hands on: predictions, scores, lineage and the model."""

    y_pred: np.ndarray
    score: np.ndarray | None
    score_is_probability: bool
    source: dict[str, Any]
    model_lineage: dict[str, Any] | None
    estimator: Any | None = None
    feature_columns: list[str] = field(default_factory=list)


def _predictions(spec: AuditSpec, data: EvaluationData) -> _Predicted:
    """Return the predictions to audit: from the model, or from the data's columns."""
    frame = data.frame
    if spec.model is None:
        assert spec.prediction_col is not None
        column = frame[spec.prediction_col]
        check_prediction_values(
            column,
            data.label_values,
            spec.positive_label,
            f"predictions in column {spec.prediction_col!r}",
        )
        y_pred = binarize(
            column, spec.positive_label, column=spec.prediction_col, role="prediction"
        )
        score = None
        is_probability = False
        if spec.score_col is not None:
            score = pd.to_numeric(frame[spec.score_col]).to_numpy(dtype=np.float64)
            is_probability = bool(((score >= 0) & (score <= 1)).all())
        source = {"source": "column", "column": spec.prediction_col, "score": spec.score_col}
        return _Predicted(y_pred, score, is_probability, source, None)

    loaded = load_model(
        spec.model, trust_types=spec.trust_types, allow_unsafe_pickle=spec.allow_unsafe_pickle
    )
    excluded = [spec.target, *spec.sensitive, *spec.id_cols]
    columns = feature_columns(
        loaded.estimator,
        list(frame.columns),
        excluded=excluded,
        explicit=spec.features,
        data_name=str(data.path),
    )
    result = predict(loaded, frame, columns, spec.positive_label)
    check_prediction_values(
        result.labels, data.label_values, spec.positive_label, "the model's predictions"
    )
    y_pred = binarize(
        result.labels,
        spec.positive_label,
        column="prediction",
        role="prediction",
        source="the model's predictions",
    )
    model_lineage = {
        "path": loaded.path.as_posix(),
        "file_name": loaded.path.name,
        "sha256": loaded.sha256,
        "format": loaded.format,
        "type": type(loaded.estimator).__name__,
        "unsafe_pickle": loaded.unsafe_pickle,
        "feature_columns": columns,
    }
    source = {"source": "model", "score": result.score_source}
    return _Predicted(
        y_pred,
        result.score,
        result.score_is_probability,
        source,
        model_lineage,
        loaded.estimator,
        list(columns),
    )


def _group_rows(table: GroupTable, min_group_size: int, feature: str) -> list[dict[str, Any]]:
    rows = []
    positives = table.counts[:, 2] + table.counts[:, 3]
    sizes = table.sizes
    for i, group in enumerate(table.groups):
        metrics = {name: float(table.values[name][i]) for name in table.values if name != "count"}
        rows.append(
            {
                "feature": feature,
                "group": dict(group),
                "count": int(sizes[i]),
                "confusion": {cell: int(table.counts[i, j]) for j, cell in enumerate(CELLS)},
                "metrics": metrics,
                "reference": i == table.reference,
                "insufficient_data": bool(sizes[i] < min_group_size),
                "single_class": bool(positives[i] == 0 or positives[i] == sizes[i]),
            }
        )
    return rows


def _count(n: int, noun: str) -> str:
    """Return e.g. '1 group has' or '3 groups have'."""
    return f"1 {noun} has" if n == 1 else f"{n} {noun}s have"


def _group_checks(
    rows: list[dict[str, Any]],
    min_group_size: int,
    n_cells_possible: int,
    n_cells: int,
    n_features: int,
) -> list[Check]:
    checks = []

    def names(selected: list[dict[str, Any]]) -> str:
        return "; ".join(
            ", ".join(f"{k}={v}" for k, v in r["group"].items()) + f" ({r['count']})"
            for r in selected
        )

    small = [r for r in rows if r["insufficient_data"]]
    if small:
        checks.append(
            Check(
                "insufficient_data",
                "warning",
                f"{_count(len(small), 'group')} fewer than {min_group_size} rows and "
                f"{'is' if len(small) == 1 else 'are'} marked "
                f"'insufficient data': {names(small)}",
            )
        )
    else:
        checks.append(
            Check("insufficient_data", "ok", f"every group has at least {min_group_size} rows")
        )
    single = [r for r in rows if r["single_class"]]
    if single:
        checks.append(
            Check(
                "single_class",
                "warning",
                f"{_count(len(single), 'group')} only one true class, so "
                f"{'its' if len(single) == 1 else 'their'} rates conditioned "
                f"on the other class are undefined (null): {names(single)}",
            )
        )
    if n_features > 1 and n_cells < n_cells_possible:
        checks.append(
            Check(
                "empty_intersections",
                "info",
                f"{n_cells_possible - n_cells} of {n_cells_possible} possible intersectional "
                "groups have no rows and are not reported",
            )
        )
    return checks


def _attach_uncertainty(
    spec: AuditSpec,
    group_counts: GroupCounts,
    tables: list[GroupTable],
    disparity_rows: list[DisparityRow],
    *,
    by_group: list[dict[str, Any]],
    disparities: list[dict[str, Any]],
    headline: list[dict[str, Any]],
    y_true: np.ndarray,
    score: np.ndarray | None,
    score_is_probability: bool,
) -> dict[str, Any]:
    """Add intervals and tests to the rows in place; return the ``uncertainty`` section."""
    computed = uncertainty_to_json(
        compute_uncertainty(
            group_counts,
            tables,
            disparity_rows,
            confidence=spec.confidence,
            n_resamples=spec.resamples,
            seed=spec.seed,
            min_group_size=spec.min_group_size,
            y_true=y_true.astype(np.float64) if score is not None else None,
            score=score,
            row_codes=group_counts.row_cell,
            score_is_probability=score_is_probability,
        )
    )
    position = {t.name: 0 for t in tables}
    for row in by_group:
        cis = computed["group_ci"][row["feature"]]
        index = position[row["feature"]]
        position[row["feature"]] += 1
        row["ci"] = {metric: cis[metric][index] for metric in row["metrics"] if metric in cis}
    for row, extra in zip(disparities, computed["disparities"], strict=True):
        row.update(extra)
    for entry in headline:
        entry["ci"] = computed["headline_ci"].get(entry["feature"], {}).get(entry["metric"])
    verdicts = [d["significance"] for d in disparities]
    significant = verdicts.count("significant")
    tested = significant + verdicts.count("within noise")
    method = computed["method"]
    return {
        **method,
        "overall_ci": computed["overall_ci"],
        "significant": significant,
        "tested": tested,
        "insufficient": verdicts.count("insufficient data"),
        "summary": (
            f"{significant} of {tested} tested disparities are significant at "
            f"{1 - spec.confidence:.2g} after {method.get('correction', 'holm').title()} "
            f"correction; {verdicts.count('insufficient data')} involve a group too small "
            f"or a value undefined and were not tested. Intervals are "
            f"{spec.confidence:.0%} confidence intervals."
        ),
    }


def run_audit(spec: AuditSpec, *, progress: Progress | None = None) -> AuditResult:
    """Return the AuditResult of one audit: every group's metrics, disparities and lineage."""
    say = progress or (lambda message: None)
    # Read the policy first: a broken policy file should fail before any work is done.
    policy = load_policy(spec.policy) if spec.policy else None
    say(f"reading {spec.data}")
    data = load_evaluation_data(spec)
    _check_reference(spec, data)
    say("predicting" if spec.model is not None else "reading predictions")
    predicted = _predictions(spec, data)
    y_pred, score, is_probability = (
        predicted.y_pred,
        predicted.score,
        predicted.score_is_probability,
    )
    prediction_source, model_lineage = predicted.source, predicted.model_lineage

    say("counting")
    features = [f.name for f in data.sensitive]
    codes = [f.codes for f in data.sensitive]
    group_counts = count_groups(
        features,
        codes,
        [f.levels for f in data.sensitive],
        data.y_true,
        y_pred,
        with_row_cells=score is not None,
    )
    say("computing metrics")
    overall, tables = build_tables(
        group_counts,
        reference=spec.reference,
        y_true=data.y_true.astype(np.float64) if score is not None else None,
        score=score,
        codes=codes if score is not None else None,
        score_is_probability=is_probability,
    )
    metric_names = [m for m in CONFUSION_METRICS if m != "count"]
    if score is not None:
        metric_names += list(SCORE_METRICS)

    by_group: list[dict[str, Any]] = []
    disparity_rows: list[DisparityRow] = []
    headline: list[dict[str, Any]] = []
    for table in tables:
        by_group.extend(_group_rows(table, spec.min_group_size, table.name))
        disparity_rows.extend(disparities_vs_reference(table, metric_names))
        for metric, value in headline_metrics(table).items():
            headline.append({"feature": table.name, "metric": metric, "value": value})
    disparities = [
        {
            "feature": row.feature,
            "metric": row.metric,
            "group": row.group,
            "reference": row.reference,
            "value": row.value,
            "reference_value": row.reference_value,
            "difference": row.difference,
            "ratio": row.ratio,
        }
        for row in disparity_rows
    ]
    uncertainty = None
    if spec.intervals:
        say(f"computing {spec.confidence:.0%} intervals ({spec.resamples} resamples)")
        uncertainty = _attach_uncertainty(
            spec,
            group_counts,
            tables,
            disparity_rows,
            by_group=by_group,
            disparities=disparities,
            headline=headline,
            y_true=data.y_true,
            score=score,
            score_is_probability=is_probability,
        )

    mitigations = summary = None
    if spec.mitigations != () and (predicted.estimator is not None or score is not None):
        say("comparing mitigations")
        mitigations, summary = compare_mitigations(
            spec,
            data,
            jsonable(
                {
                    "metrics": {
                        "overall": {**overall, "count": int(overall["count"])},
                        "overall_ci": (uncertainty or {}).get("overall_ci", {}),
                    },
                    "by_group": by_group,
                    "disparities": disparities,
                    "headline": headline,
                }
            ),
            estimator=predicted.estimator,
            feature_columns=predicted.feature_columns,
            score=score,
            progress=say,
        )

    n_possible = int(np.prod([len(f.levels) for f in data.sensitive]))
    checks = list(data.checks)
    checks.extend(
        _group_checks(
            by_group, spec.min_group_size, n_possible, len(group_counts.counts), len(features)
        )
    )
    if model_lineage is not None and model_lineage["unsafe_pickle"]:
        checks.append(
            Check(
                "unsafe_model",
                "warning",
                f"the model was loaded from a pickle file ('{model_lineage['file_name']}') "
                "with --allow-unsafe-pickle: loading it could run arbitrary code",
            )
        )
    if score is None:
        checks.append(
            Check("scores", "info", "no scores: roc_auc and brier_score are not computed")
        )
    elif not is_probability:
        checks.append(
            Check("scores", "info", "scores are not probabilities: brier_score is undefined")
        )

    findings = []
    if model_lineage is not None and model_lineage["unsafe_pickle"]:
        findings.append(
            {
                "kind": "security",
                "severity": "warning",
                "message": "model loaded with unsafe pickle deserialization",
                "next_step": "save the model with skops.io.dump and audit the .skops file",
            }
        )

    tables_by_name = {t.name: t for t in tables}
    reference = {name: table.groups[table.reference] for name, table in tables_by_name.items()}
    result = AuditResult(
        schema_version=SCHEMA_VERSION,
        tool={"name": "fairaudit", "version": __version__},
        audit={
            "id": "",
            "name": spec.name or (spec.model.stem if spec.model else spec.data.stem),
            "model_version": spec.model_version,
            "created_at": audit_timestamp(),
            "seed": spec.seed,
            "supersedes": None,
            "sensitive_features": features,
            "groupings": [t.name for t in tables],
            "reference": reference,
            "min_group_size": spec.min_group_size,
            "owner": spec.owner,
            "intended_use": spec.intended_use,
        },
        lineage={
            "data": {
                "path": data.path.as_posix(),
                "file_name": data.path.name,
                "sha256": data.sha256,
                "format": data.format,
                "rows": int(len(data.y_true)),
                "rows_read": data.rows_read,
                "columns": [str(c) for c in data.frame.columns],
            },
            "model": model_lineage,
            "predictions": prediction_source,
            "environment": _environment(),
            "config": spec.effective_config(),
        },
        data_checks=[{"id": c.id, "status": c.status, "message": c.message} for c in checks],
        metrics={
            "names": ["count", *metric_names],
            "overall": {**overall, "count": int(overall["count"])},
            "by_group": by_group,
        },
        disparities=disparities,
        headline=headline,
        uncertainty=uncertainty,
        mitigations=mitigations,
        mitigation_summary=summary,
        findings=findings,
    )
    _apply_policy(result, policy, spec)
    result.audit["id"] = result.content_id()
    return result


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
