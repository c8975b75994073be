"""Evaluating a policy on a data audit (``fairaudit data``): its data-audit rules, judged on
the report's ``data_bias`` rows and ``proxies``, into the report's ``policy`` section.

Loading, layering, judging one value and the verdict are the model rules' own (``_load``,
``_judge``); this module only finds the numbers each data rule reads:

- a label metric (``DATA_LABEL_METRICS``) and ``missing_share_difference``: one outcome per
  row of the feature with ``compare`` ``reference`` (the reference group) or ``rest``; a
  signed metric is judged by its size ``|value|`` (and the interval of ``|value|``);
- ``representation_ratio``: one outcome per group of a feature with population shares;
- ``proxy_auc``: one outcome per candidate feature of a sensitive feature's proxy analysis,
  its interval the lowest and highest cross-validation fold (``auc_folds``);
- ``joint_proxy_auc``: one outcome per sensitive feature.

The policy's model-audit rules cannot apply to a data audit: they are listed in the
section's ``not_applicable``, never judged, never passed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fairaudit.display import group_text
from fairaudit.policy._judge import (
    Outcome,
    PolicyEvaluation,
    RuleEvaluation,
    judge,
    judge_size,
    resolve_not_evaluable,
    split_rules,
    verdict_of,
    worst_status,
)
from fairaudit.policy._model import (
    DATA_SIGNED_METRICS,
    NOT_EVALUABLE,
    NotEvaluable,
    Policy,
    Rule,
)

__all__ = ["DataOutcome", "data_policy_section", "evaluate_data_policy", "judge_data_rules"]

REST = "rest"

# Reasons for a not-evaluable (or trivially met) outcome of a data rule.
REASON_NO_SENSITIVE = "the data audit has no sensitive feature {feature!r} (it has: {features})"
REASON_NO_ROWS = "the data audit has no {metric!r} rows for {feature!r}{compare}{hint}"
REASON_NO_PROXIES = "the data audit has no proxy analysis of {feature!r}{hint}"
REASON_NO_JOINT = "the data audit has no joint proxy AUC for {feature!r}{hint}"
REASON_NO_ROW_INTERVAL = "evidence = {evidence!r}, but the row has no interval"
REASON_NO_FOLDS = "evidence = {evidence!r}, but the AUC has no fold range"
REASON_NO_MISSING = (
    "no column (the sensitive ones aside) has a missing value, so no group's share of "
    "missing values differs from the rest's: 0 is {bound}"
)
REASON_MODEL_RULE = (
    "bounds a model-audit metric: a data audit has no predictions to judge it on; it is "
    "checked by 'fairaudit run' with the same policy"
)
HINT_NO_STRATA = ": no --strata column was given"
HINT_NO_FAVORABLE = ": the target has no favourable label (--favorable-label)"
HINT_NO_POPULATION = ": no --population shares were given for it"
HINT_FEW_GROUPS = ": fewer than two groups of at least 5 rows to tell apart"
HINT_ONE_GROUP = ": the feature has fewer than two groups to compare"


@dataclass(frozen=True)
class DataOutcome(Outcome):
    """One data rule checked on one row: ``value`` is the report's number (signed), and
    ``observed`` the number judged (``|value|`` for a signed metric)."""

    metric: str = ""
    value: float | None = None
    group: Mapping[str, str] | None = None
    reference: Mapping[str, str] | str | None = None
    column: str | None = None
    bound: Mapping[str, float | None] | None = None

    @property
    def name(self) -> str:
        """Return a short, stable name such as ``sex: sex=female vs the rest``."""
        feature = self.feature if self.feature is not None else "(no feature)"
        if self.metric == "proxy_auc" and self.column is not None:
            return f"{feature}: proxy {self.column}"
        if self.metric == "joint_proxy_auc":
            return f"{feature}: all features together"
        if self.group is None:
            return feature
        if self.reference == REST:
            against = "the rest"
        elif isinstance(self.reference, Mapping):
            against = group_text(self.reference)
        else:
            against = "the population"
        column = f" [missing {self.column}]" if self.column is not None else ""
        return f"{feature}: {group_text(self.group)} vs {against}{column}"

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome's JSON form."""
        reference = self.reference
        return {
            "feature": self.feature,
            "metric": self.metric,
            "group": dict(self.group) if self.group is not None else None,
            "reference": dict(reference) if isinstance(reference, Mapping) else reference,
            "column": self.column,
            "value": self.value,
            "observed": self.observed,
            "interval": list(self.interval) if self.interval is not None else None,
            "bound": dict(self.bound or {}),
            "status": self.status,
            "reason": self.reason,
            "name": self.name,
        }


def _number(value: Any) -> float | None:
    """Return a JSON number as a float; None (undefined) for null or NaN."""
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _as_pair(value: Any) -> tuple[float, float] | None:
    if isinstance(value, list | tuple) and len(value) == 2:
        low, high = _number(value[0]), _number(value[1])
        if low is not None and high is not None:
            return low, high
    return None


def _bound(rule: Rule) -> dict[str, float | None]:
    return {"min": rule.min, "max": rule.max}


def _row_outcome(rule: Rule, row: Mapping[str, Any]) -> DataOutcome:
    """Judge one ``data_bias`` row."""
    value = _number(row.get("value"))
    interval = _as_pair(row.get("ci"))
    missing = REASON_NO_ROW_INTERVAL.format(evidence=rule.evidence)
    if rule.metric in DATA_SIGNED_METRICS:
        observed, interval, status, reason = judge_size(
            rule, value, interval, interval_reason=missing
        )
    else:
        observed = value
        status, reason = judge(rule, observed, interval, interval_reason=missing)
    return DataOutcome(
        feature=row["feature"],
        groups=(),
        observed=observed,
        interval=interval,
        status=status,
        reason=reason,
        metric=rule.metric,
        value=value,
        group=row.get("group"),
        reference=row.get("reference"),
        column=row.get("column"),
        bound=_bound(rule),
    )


def _missing(
    rule: Rule, feature: str | None, reason: str, *, column: str | None = None
) -> DataOutcome:
    return DataOutcome(
        feature,
        (),
        None,
        None,
        NOT_EVALUABLE,
        reason,
        metric=rule.metric,
        column=column,
        bound=_bound(rule),
    )


def _row_hint(rule: Rule, feature: str, report: Mapping[str, Any]) -> str:
    """Return why the report has no rows of the rule's metric for ``feature``, if known."""
    options = report.get("options") or {}
    metric = rule.metric
    if metric == "representation_ratio":
        return HINT_NO_POPULATION if feature not in (options.get("population") or {}) else ""
    rows = report.get("data_bias") or []
    compared = [r for r in rows if r.get("feature") == feature and r.get("reference") is not None]
    if not compared:
        return HINT_ONE_GROUP
    metrics = {r.get("metric") for r in rows}
    favourable = ("difference_in_label_proportions", "conditional_demographic_disparity")
    if metric in favourable and "difference_in_label_proportions" not in metrics:
        return HINT_NO_FAVORABLE
    if metric == "conditional_demographic_disparity" and options.get("strata") is None:
        return HINT_NO_STRATA
    return ""


def _row_outcomes(rule: Rule, report: Mapping[str, Any], feature: str) -> list[DataOutcome]:
    """Judge a label, missing-value or representation rule on the feature's rows."""
    rows = report.get("data_bias") or []

    def compares(row: Mapping[str, Any]) -> bool:
        reference = row.get("reference")
        if rule.compare == "rest":
            return reference == REST
        if rule.compare == "reference":
            return isinstance(reference, Mapping)
        return True  # representation: against the population

    matching = [
        r
        for r in rows
        if r.get("feature") == feature and r.get("metric") == rule.metric and compares(r)
    ]
    if matching:
        return [_row_outcome(rule, r) for r in matching]
    if rule.metric == "missing_share_difference" and not any(
        r.get("metric") == "missing_share_difference" for r in rows
    ):
        met = rule.min is None or rule.min <= 0 <= (rule.max if rule.max is not None else 0)
        reason = REASON_NO_MISSING.format(bound=rule.bound_text())
        status = "pass" if met else rule.severity
        if not met:
            reason = reason.replace(" is ", " is not ", 1)
        return [
            DataOutcome(
                feature,
                (),
                0.0,
                None,
                status,
                reason,
                metric=rule.metric,
                value=0.0,
                bound=_bound(rule),
            )
        ]
    against = {"rest": " against the rest", "reference": " against the reference"}
    reason = REASON_NO_ROWS.format(
        metric=rule.metric,
        feature=feature,
        compare=against.get(rule.compare, ""),
        hint=_row_hint(rule, feature, report),
    )
    return [_missing(rule, feature, reason)]


def _proxy_outcomes(rule: Rule, analysis: Mapping[str, Any] | None, feature: str) -> list[Outcome]:
    """Judge ``proxy_auc`` on each candidate feature, or ``joint_proxy_auc`` once."""
    if analysis is None:
        return [_missing(rule, feature, REASON_NO_PROXIES.format(feature=feature, hint=""))]
    joint = rule.metric == "joint_proxy_auc"
    found = [analysis.get("joint")] if joint else list(analysis.get("features") or [])
    entries: list[Mapping[str, Any]] = [e for e in found if e]
    if not entries:
        template = REASON_NO_JOINT if joint else REASON_NO_PROXIES
        return [_missing(rule, feature, template.format(feature=feature, hint=HINT_FEW_GROUPS))]
    outcomes: list[Outcome] = []
    for entry in entries:
        observed = _number(entry.get("auc"))
        interval = _as_pair(entry.get("auc_folds"))
        missing = REASON_NO_FOLDS.format(evidence=rule.evidence)
        status, reason = judge(rule, observed, interval, interval_reason=missing, spread=True)
        outcomes.append(
            DataOutcome(
                feature=feature,
                groups=(),
                observed=observed,
                interval=interval,
                status=status,
                reason=reason,
                metric=rule.metric,
                value=observed,
                column=None if joint else str(entry.get("feature")),
                bound=_bound(rule),
            )
        )
    return outcomes


def _judge_rule(rule: Rule, report: Mapping[str, Any]) -> RuleEvaluation:
    options = report.get("options") or {}
    sensitive = [str(s) for s in options.get("sensitive") or []]
    rows = report.get("data_bias") or []
    proxies = {str(a.get("sensitive")): a for a in report.get("proxies") or []}
    proxy_rule = rule.compare == "proxy"
    # Proxies and population shares are per sensitive feature; other rows per grouping.
    features = [*sensitive, *(str(r["feature"]) for r in rows)]
    per_feature = proxy_rule or rule.compare == "population"
    groupings = sensitive if per_feature else list(dict.fromkeys(features))
    outcomes: list[Outcome] = []
    for feature in [rule.feature] if rule.feature is not None else groupings:
        if feature not in groupings:
            reason = REASON_NO_SENSITIVE.format(
                feature=feature, features=", ".join(groupings) or "none"
            )
            outcomes.append(_missing(rule, feature, reason))
        elif proxy_rule:
            outcomes.extend(_proxy_outcomes(rule, proxies.get(feature), feature))
        else:
            outcomes.extend(_row_outcomes(rule, report, feature))
    if not outcomes:
        outcomes.append(_missing(rule, None, "the data audit has no sensitive features"))
    return RuleEvaluation(rule, tuple(outcomes), worst_status(outcomes))


def judge_data_rules(
    policy: Policy, report: Mapping[str, Any], *, not_evaluable: NotEvaluable | None = None
) -> PolicyEvaluation:
    """Return the policy's data-audit rules judged on ``report`` (a data audit's JSON dict).

    The policy's model-audit rules are the evaluation's ``not_applicable``; a policy whose
    rules are all model-audit rules is a PolicyError (it would check nothing).
    """
    mode = resolve_not_evaluable(policy, not_evaluable)
    applies, others = split_rules(policy, "data")
    rules = tuple(_judge_rule(rule, report) for rule in applies)
    return PolicyEvaluation(policy, rules, verdict_of(rules, mode), mode, (), others)


def data_policy_section(evaluation: PolicyEvaluation) -> dict[str, Any]:
    """Return the ``policy`` section of a data report for a data-rule evaluation."""
    approvals = evaluation.policy.approvals
    return {
        "kind": "data",
        "layers": [layer.to_dict() for layer in evaluation.policy.layers],
        "not_evaluable": evaluation.not_evaluable,
        "rules": [{**r.to_dict(), "applies_to": r.rule.applies_to} for r in evaluation.rules],
        "not_applicable": [
            {**rule.to_dict(), "applies_to": rule.applies_to, "reason": REASON_MODEL_RULE}
            for rule in evaluation.not_applicable
        ],
        "approvals": approvals.to_dict() if approvals is not None else None,
        "verdict": evaluation.verdict,
    }


def evaluate_data_policy(
    report: Mapping[str, Any], policy: Policy, *, not_evaluable: NotEvaluable | None = None
) -> dict[str, Any]:
    """Return the ``policy`` section to add to a data report (``report["policy"]``).

    ``policy`` is what ``load_policy`` returns; ``not_evaluable`` ("warn" or "fail")
    overrides how it counts not-evaluable outcomes, which are never a pass. The section
    holds the layers, each data rule with its outcomes (feature, metric, group, reference,
    column, value, observed, interval, bound, status, reason) and status, the model-audit
    rules that cannot apply (``not_applicable``), and the ``verdict`` (pass, warn, fail),
    which ``exit_code_for`` turns into the exit code.
    """
    return data_policy_section(judge_data_rules(policy, report, not_evaluable=not_evaluable))
