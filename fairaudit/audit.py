"""The audit pipe: load → predict → count → metrics → stats, for one AuditSpec."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import numpy as np

from fairaudit._version import __version__
from fairaudit.counts import CELLS, GroupCounts, ScoreSummary
from fairaudit.data import Check
from fairaudit.engines import count_with_engine
from fairaudit.errors import ConfigError
from fairaudit.measure import (
    DisparityRow,
    GroupTable,
    build_tables,
    disparities_vs_reference,
    headline_metrics,
)
from fairaudit.mitigation import compare_mitigations
from fairaudit.policy import Policy, build_findings, evaluate_policy, load_policy
from fairaudit.result import SCHEMA_VERSION, AuditResult, jsonable
from fairaudit.spec import AuditSpec
from fairaudit.stats import attach_to_rows, compute_uncertainty, uncertainty_to_json
from fairaudit.vocabulary import CONFUSION_METRICS, INTERSECTION, SCORE_METRICS

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
        except (ValueError, OverflowError, OSError):
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


def _check_reference_rows(spec: AuditSpec, tables: list[GroupTable]) -> list[Check]:
    """Refuse a named reference group with no rows; say when the intersection's differs."""
    checks = []
    for table in tables:
        named = {f: v for f, v in spec.reference.items() if f in table.features}
        if not named:
            continue
        chosen = table.groups[table.reference]
        if all(chosen[f] == v for f, v in named.items()):
            continue
        wanted = ", ".join(f"{f}={v!r}" for f, v in named.items())
        if table.name != INTERSECTION:
            raise ConfigError(
                f"reference group {wanted} has no rows in the data; choose a group that "
                "occurs (see the group sizes), or change the bins"
            )
        checks.append(
            Check(
                "reference",
                "warning",
                f"the intersection has no rows with {wanted}; its reference group is the "
                f"largest cell instead: " + ", ".join(f"{f}={v}" for f, v in chosen.items()),
            )
        )
    return checks


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


def _how_many(n: int, noun: str) -> str:
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
                f"{_how_many(len(small), 'group')} fewer than {min_group_size} rows and "
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
                f"{_how_many(len(single), 'group')} only one true class, so "
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
    score_summary: ScoreSummary | None,
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
            score_summary=score_summary,
        )
    )
    attach_to_rows(computed, by_group=by_group, disparities=disparities, headline=headline)
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
    audit_timestamp()  # a bad SOURCE_DATE_EPOCH fails now, not after the work
    # Read the policy first: a broken policy file should fail before any work is done.
    policy = load_policy(spec.policy) if spec.policy else None
    counted = count_with_engine(spec, spec.engine, progress=say)
    group_counts, score = counted.group_counts, counted.score
    is_probability = counted.score_is_probability
    model_lineage = counted.model_lineage
    features = list(group_counts.features)
    say("computing metrics")
    # Score metrics come from the engine's exact sufficient statistics, never from rows.
    overall, tables = build_tables(
        group_counts, reference=spec.reference, score_summary=counted.score_summary
    )
    reference_checks = _check_reference_rows(spec, tables)
    metric_names = [m for m in CONFUSION_METRICS if m != "count"]
    if counted.has_scores:
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
            score_summary=counted.score_summary,
        )

    mitigations = summary = None
    if counted.data is None and spec.mitigations:
        raise ConfigError(
            f"the {counted.engine} engine keeps the rows where they are, so it cannot run "
            "mitigations; use --engine numpy, or --no-mitigation"
        )
    if (
        counted.data is not None
        and spec.mitigations != ()
        and (counted.estimator is not None or score is not None)
    ):
        say("comparing mitigations")
        mitigations, summary = compare_mitigations(
            spec,
            counted.data,
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
            estimator=counted.estimator,
            feature_columns=counted.feature_columns,
            score=score,
            progress=say,
        )

    n_possible = int(np.prod([len(levels) for levels in group_counts.levels]))
    checks = list(counted.checks) + reference_checks
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
    if counted.data is None and spec.mitigations is None:
        checks.append(
            Check(
                "mitigation",
                "info",
                f"no mitigation comparison: the {counted.engine} engine keeps the rows where "
                "they are; run with --engine numpy on a sample to compare mitigations",
            )
        )
    if not counted.has_scores:
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
            "data": counted.lineage_data,
            "engine": counted.engine,
            "model": model_lineage,
            "predictions": counted.prediction_source,
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
