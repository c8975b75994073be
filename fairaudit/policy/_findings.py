"""Findings: the report's risk register, from a policy evaluation and an audit result."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fairaudit.display import group_text
from fairaudit.policy._judge import Outcome, PolicyEvaluation, exit_code_for
from fairaudit.policy._model import EXIT_OK, NOT_EVALUABLE

# --------------------------------------------------------------------------- findings

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
_KIND_ORDER = {
    "policy": 0,
    "not_evaluable": 1,
    "security": 2,
    "data_check": 3,
    "insufficient_data": 4,
    "mitigation": 5,
}
# Data checks with findings of their own kind, not repeated as "data_check" findings.
_CHECKS_WITH_OWN_FINDING = {"insufficient_data": "insufficient_data", "unsafe_model": "security"}

NEXT_STEP_RULE = (
    "Investigate {metric} for the groups named: check their data and labels, compare the "
    "mitigations in the report, or record a justified exception in a policy layer."
)
NEXT_STEP_SMALL = (
    "Collect more labelled evaluation data for the group, or set a smaller min_group_size "
    "on the rule if that is justified."
)
NEXT_STEP_NO_INTERVAL = 'Run the audit with confidence intervals, or use evidence = "point".'
NEXT_STEP_NO_FEATURE = "Audit with this sensitive feature, or remove the rule in a policy layer."
NEXT_STEP_NOT_BUILT = 'Use evidence = "point" for this metric: its interval is not built yet.'
NEXT_STEP_FAVORABLE = (
    "Audit with --favorable-label naming the favourable classes, or remove the rule in a "
    "policy layer."
)
NEXT_STEP_THRESHOLD = (
    "Audit with --favorable-above T (or --favorable-below T) naming the cut-off that makes "
    "a prediction favourable, or remove the rule in a policy layer."
)
NEXT_STEP_UNDEFINED = (
    "The value has a zero denominator (e.g. no positives in a group): collect data with "
    "both classes in every group."
)
NEXT_STEP_DATA = "Read the data checks in the report and fix the evaluation data."
NEXT_STEP_INSUFFICIENT = (
    "Collect more labelled evaluation data for these groups; their numbers are too "
    "uncertain to act on."
)
NEXT_STEP_MITIGATION = (
    "Consider adopting this mitigation: re-train with it and audit the mitigated model."
)


_VERB = {"fail": "failed", "warn": "warns"}


def _next_step_not_evaluable(reason: str) -> str:
    if "min_group_size" in reason or "fewer than two groups" in reason:
        return NEXT_STEP_SMALL
    if "--favorable-label" in reason:  # a multiclass audit without favourable classes
        return NEXT_STEP_FAVORABLE
    if "--favorable-above" in reason:  # a regression audit without a favourable threshold
        return NEXT_STEP_THRESHOLD
    if "has no interval yet" in reason:
        return NEXT_STEP_NOT_BUILT
    if "interval" in reason:
        return NEXT_STEP_NO_INTERVAL
    if "has no grouping" in reason or "has no " in reason:
        return NEXT_STEP_NO_FEATURE
    return NEXT_STEP_UNDEFINED


def _affected(outcome: Outcome) -> list[dict[str, Any]]:
    return [{"feature": outcome.feature, "group": dict(g)} for g in outcome.groups]


def _rule_findings(evaluation: PolicyEvaluation) -> list[dict[str, Any]]:
    """Return one finding per rule and status (failed, warned, not evaluable), all groups."""
    findings = []
    for judged in evaluation.rules:
        rule = judged.rule
        for status in ("fail", "warn", NOT_EVALUABLE):
            outcomes = [o for o in judged.outcomes if o.status == status]
            if not outcomes:
                continue
            groups: list[dict[str, Any]] = []
            for outcome in outcomes:
                groups.extend(g for g in _affected(outcome) if g not in groups)
            checks = "; ".join(f"{o.name} ({o.reason})" for o in outcomes)
            evidence = {
                "rule": rule.id,
                "metric": rule.metric,
                "bound": {"min": rule.min, "max": rule.max},
                "evidence": rule.evidence,
                "layer": rule.layer,
                "outcomes": [o.to_dict() for o in outcomes],
            }
            if status == NOT_EVALUABLE:
                severity = "error" if evaluation.not_evaluable == "fail" else "warning"
                message = f"rule {rule.id} cannot be evaluated on {checks}"
                next_step = _next_step_not_evaluable(outcomes[0].reason)
            else:
                severity = "error" if status == "fail" else "warning"
                message = f"rule {rule.id} {_VERB[status]} on {checks}"
                next_step = NEXT_STEP_RULE.format(metric=rule.metric)
            findings.append(
                {
                    "kind": "policy" if status != NOT_EVALUABLE else "not_evaluable",
                    "severity": severity,
                    "message": message,
                    "groups": groups,
                    "evidence": evidence,
                    "next_step": next_step,
                }
            )
    return findings


def build_findings(
    result: Mapping[str, Any],
    evaluation: PolicyEvaluation | None = None,
    *,
    fail_on: str = "fail",
) -> list[dict[str, Any]]:
    """Return the risk register for the report: one finding per problem, worst first.

    Failed and warned rule outcomes, not-evaluable outcomes, data-check warnings and errors,
    the result's existing findings (e.g. the unsafe-model ``security`` finding, kept once),
    groups with insufficient data, and each mitigation that meets the policy (its verdict
    gives exit code 0 under ``fail_on``). Each finding has ``kind``, ``severity`` (error,
    warning, info), ``message``, ``groups`` ([{feature, group}]), ``evidence`` and ``next_step``.
    Works without a policy (``evaluation`` None).
    """
    findings: list[dict[str, Any]] = []
    if evaluation is not None:
        findings.extend(_rule_findings(evaluation))
    existing = [dict(f) for f in result.get("findings") or []]
    existing_kinds = {f.get("kind") for f in existing}
    for finding in existing:
        finding.setdefault("groups", [])
        finding.setdefault("evidence", {})
        finding.setdefault("next_step", None)
        findings.append(finding)
    audit = result.get("audit") or {}
    for check in result.get("data_checks") or []:
        if check.get("status") not in ("warning", "error"):
            continue
        own = _CHECKS_WITH_OWN_FINDING.get(check.get("id", ""))
        if own == "insufficient_data" or (own is not None and own in existing_kinds):
            continue
        findings.append(
            {
                "kind": "data_check",
                "severity": check["status"],
                "message": check.get("message", ""),
                "groups": [],
                "evidence": {"check": check.get("id")},
                "next_step": NEXT_STEP_DATA,
            }
        )
    rows = (result.get("metrics") or {}).get("by_group") or []
    small = [r for r in rows if r.get("insufficient_data")]
    if small:
        minimum = audit.get("min_group_size")
        findings.append(
            {
                "kind": "insufficient_data",
                "severity": "warning",
                "message": f"{len(small)} group(s) have fewer than {minimum} rows: "
                + "; ".join(f"{group_text(r['group'])} ({r['count']})" for r in small),
                "groups": [{"feature": r["feature"], "group": dict(r["group"])} for r in small],
                "evidence": {
                    "min_group_size": minimum,
                    "counts": [int(r["count"]) for r in small],
                },
                "next_step": NEXT_STEP_INSUFFICIENT,
            }
        )
    if evaluation is not None:
        for mitigation in evaluation.mitigations:
            if exit_code_for(mitigation.verdict, fail_on) != EXIT_OK:
                continue
            constraint = f" ({mitigation.constraint})" if mitigation.constraint else ""
            findings.append(
                {
                    "kind": "mitigation",
                    "severity": "info",
                    "message": f"mitigation {mitigation.method}{constraint} meets the policy "
                    f"(verdict {mitigation.verdict})",
                    "groups": [],
                    "evidence": mitigation.to_dict(),
                    "next_step": NEXT_STEP_MITIGATION,
                }
            )
    order = {id(f): i for i, f in enumerate(findings)}
    return sorted(
        findings,
        key=lambda f: (
            _SEVERITY_ORDER.get(f.get("severity", ""), 3),
            _KIND_ORDER.get(f.get("kind", ""), 6),
            order[id(f)],
        ),
    )
