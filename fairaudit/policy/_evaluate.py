"""Evaluating a policy: every rule's outcomes on an audit result's JSON, and the verdict."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from fairaudit.display import group_text
from fairaudit.policy._model import (
    EXIT_OK,
    EXIT_POLICY_FAILED,
    FAVORABLE_BASES,
    FAVORABLE_METRICS,
    NOT_EVALUABLE,
    NotEvaluable,
    Policy,
    Rule,
    Status,
    Verdict,
)
from fairaudit.policy._variant import mitigation_disparities
from fairaudit.policy._view import (
    GroupKey,
    View,
    as_interval,
    between_values,
    build_view,
    group_key,
)

# A bound met up to float rounding (0.4 / 0.5 is 0.8000000000000002) counts as met.
_TOLERANCE = 1e-12

MSG_BAD_FAIL_ON = "fail_on must be 'fail' or 'warn', not {value!r}"

# Reasons for a not-evaluable outcome (shown in the report, JUnit and findings).
REASON_NO_FEATURE = "the audit has no grouping {feature!r} (it has: {groupings})"
REASON_NO_GROUPINGS = "the audit has no groupings"
REASON_NO_METRIC = "the audit has no {metric!r} values for {feature!r}"
REASON_SMALL_GROUP = "{label} has {count} rows, fewer than min_group_size {minimum}"
REASON_TOO_FEW_GROUPS = "fewer than two groups with at least {minimum} rows and a defined value"
REASON_UNDEFINED = "the value is undefined (a zero denominator)"
REASON_NO_INTERVALS = (
    "evidence = 'interval', but the result has no confidence intervals (audit with uncertainty)"
)
REASON_NO_INTERVAL = "evidence = 'interval', but the confidence interval is undefined"
REASON_DEGENERATE_INTERVAL = (
    "evidence = 'interval', but the interval [{low:.4g}, {high:.4g}] has zero width: it "
    "carries no information about the uncertainty, so it is not evidence"
)
REASON_RESTRICTED = (
    "evidence = 'interval', but groups below min_group_size were left out, and the "
    "audit's interval covers every group"
)
REASON_NO_BETWEEN_INTERVAL = (
    "evidence = 'interval', but there is no interval for a between-groups {metric}"
)

# Headline metrics that are a between-groups comparison of one group metric.
_HEADLINE_BASE: dict[str, tuple[str, ...]] = {
    "demographic_parity": ("selection_rate",),
    "equal_opportunity": ("true_positive_rate",),
    "equalized_odds": ("true_positive_rate", "false_positive_rate"),
}
_ALIAS = {"selection_rate": "demographic_parity", "true_positive_rate": "equal_opportunity"}
# With a favourable positive prediction, a favourable-rate metric is this headline metric.
_FAVORABLE_HEADLINE = {
    "favorable_rate_difference": "demographic_parity_difference",
    "favorable_rate_ratio": "demographic_parity_ratio",
    "favorable_opportunity_difference": "equal_opportunity_difference",
    "favorable_opportunity_ratio": "equal_opportunity_ratio",
}


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Outcome:
    """One rule checked on one grouping (between groups) or one group (vs the reference).

    ``groups`` are the groups compared: ``[group, reference]`` or ``[lowest, highest]``;
    ``excluded`` are groups left out of a between-groups value for having too few rows.
    """

    feature: str | None
    groups: tuple[dict[str, str], ...]
    observed: float | None
    interval: tuple[float, float] | None
    status: Status
    reason: str
    excluded: tuple[dict[str, str], ...] = ()

    @property
    def name(self) -> str:
        """Return a short, stable name such as ``sex: sex=female vs sex=male``."""
        feature = self.feature if self.feature is not None else "(no feature)"
        if not self.groups:
            return feature
        joiner = " vs " if len(self.groups) == 2 else ", "
        return f"{feature}: " + joiner.join(group_text(g) for g in self.groups)

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome's JSON form."""
        return {
            "feature": self.feature,
            "groups": [dict(g) for g in self.groups],
            "excluded": [dict(g) for g in self.excluded],
            "observed": self.observed,
            "interval": list(self.interval) if self.interval is not None else None,
            "status": self.status,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RuleEvaluation:
    """A rule with its outcomes and its status (the worst outcome)."""

    rule: Rule
    outcomes: tuple[Outcome, ...]
    status: Status

    def to_dict(self) -> dict[str, Any]:
        """Return the rule's JSON form with outcomes and status."""
        return {
            **self.rule.to_dict(),
            "outcomes": [o.to_dict() for o in self.outcomes],
            "status": self.status,
        }


@dataclass(frozen=True)
class MitigationEvaluation:
    """The policy's verdict on one mitigation's numbers."""

    method: str
    constraint: str | None
    protocol: str | None
    verdict: Verdict
    failed_rules: tuple[str, ...]
    warned_rules: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return ``{method, constraint, protocol, verdict, failed_rules, warned_rules}``."""
        return {
            "method": self.method,
            "constraint": self.constraint,
            "protocol": self.protocol,
            "verdict": self.verdict,
            "failed_rules": list(self.failed_rules),
            "warned_rules": list(self.warned_rules),
        }


@dataclass(frozen=True)
class PolicyEvaluation:
    """A policy checked against one audit result: every rule's outcomes and the verdict."""

    policy: Policy
    rules: tuple[RuleEvaluation, ...]
    verdict: Verdict
    not_evaluable: NotEvaluable
    mitigations: tuple[MitigationEvaluation, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the ``policy`` section of the audit result's JSON."""
        approvals = self.policy.approvals
        return {
            "layers": [layer.to_dict() for layer in self.policy.layers],
            "not_evaluable": self.not_evaluable,
            "rules": [r.to_dict() for r in self.rules],
            "approvals": approvals.to_dict() if approvals is not None else None,
            "mitigations": [m.to_dict() for m in self.mitigations],
            "verdict": self.verdict,
        }


def _meets(value: float, rule: Rule) -> bool:
    return (rule.min is None or value >= rule.min - _TOLERANCE) and (
        rule.max is None or value <= rule.max + _TOLERANCE
    )


def _judge(
    rule: Rule,
    observed: float | None,
    interval: tuple[float, float] | None,
    *,
    interval_reason: str | None,
) -> tuple[Status, str]:
    """Return the status and reason for a value (and interval) against the rule's bound.

    ``interval_reason`` says why there is no interval when ``interval`` is None.
    """
    if rule.evidence == "point":
        if observed is None:
            return NOT_EVALUABLE, REASON_UNDEFINED
        if _meets(observed, rule):
            return "pass", f"{observed:.4g} is {rule.bound_text()}"
        return rule.severity, f"{observed:.4g} is not {rule.bound_text()}"
    if interval is None:
        return NOT_EVALUABLE, interval_reason or REASON_NO_INTERVAL
    low, high = interval
    if low == high:
        return NOT_EVALUABLE, REASON_DEGENERATE_INTERVAL.format(low=low, high=high)
    text = f"interval [{low:.4g}, {high:.4g}]"
    if _meets(low, rule) and _meets(high, rule):
        return "pass", f"{text} is wholly {rule.bound_text()}"
    return rule.severity, f"{text} is not wholly {rule.bound_text()}"


def _small_reason(view: View, feature: str, key: GroupKey, minimum: int) -> str:
    return REASON_SMALL_GROUP.format(
        label=group_text(view.groups[feature][key]),
        count=view.sizes[feature][key],
        minimum=minimum,
    )


def _between_outcome(rule: Rule, view: View, feature: str, minimum: int) -> Outcome:
    """Evaluate a headline rule, or a group-metric rule with compare = between_groups."""
    if rule.is_headline:
        family, kind = rule.metric.rsplit("_", 1)
        bases = _HEADLINE_BASE[family]
    else:
        kind, bases = rule.kind, (rule.base_metric,)
        family = _ALIAS.get(rule.base_metric, "")
    feature_values = view.values.get(feature, {})
    if any(base not in feature_values for base in bases):
        return Outcome(
            feature, (), None, None, NOT_EVALUABLE,
            REASON_NO_METRIC.format(metric=rule.metric, feature=feature),
        )  # fmt: skip
    sizes = view.sizes.get(feature, {})
    excluded = [k for k, n in sizes.items() if n < minimum]
    candidates = []
    for base in bases:
        eligible = {k: v for k, v in feature_values[base].items() if k not in excluded}
        candidates.append(between_values(eligible, kind))
    if any(value is None for value, _ in candidates):
        observed, keys = None, list[GroupKey]()
    else:
        # equalized odds: the larger difference, or the smaller ratio, of TPR and FPR.
        pick = max if kind == "difference" else min
        observed, keys = pick(candidates, key=lambda c: cast(float, c[0]))
    headline_metric = f"{family}_{kind}" if family else ""
    entry = view.headline.get((feature, headline_metric))
    interval, interval_reason = None, None
    if entry is not None and not excluded and entry.get("value") is not None:
        observed = float(entry["value"])  # the audit's own number, where it applies as is
    if entry is None:
        interval_reason = REASON_NO_BETWEEN_INTERVAL.format(metric=rule.metric)
    elif excluded:
        interval_reason = REASON_RESTRICTED
    elif "ci" not in entry:
        interval_reason = REASON_NO_INTERVALS
    else:
        interval = as_interval(entry["ci"])
    groups = tuple(view.groups[feature][k] for k in keys)
    excluded_groups = tuple(view.groups[feature][k] for k in excluded)
    if observed is None and not keys:
        return Outcome(
            feature, groups, None, None, NOT_EVALUABLE,
            REASON_TOO_FEW_GROUPS.format(minimum=minimum), excluded_groups,
        )  # fmt: skip
    status, reason = _judge(rule, observed, interval, interval_reason=interval_reason)
    return Outcome(feature, groups, observed, interval, status, reason, excluded_groups)


def _favorable_outcome(rule: Rule, view: View, feature: str, minimum: int) -> Outcome:
    """Evaluate a ``favorable_rate_*`` or ``favorable_opportunity_*`` rule: max - min or
    min / max over the groups of the rate of the favourable outcome (``FAVORABLE_BASES``),
    which follows the result's ``positive_prediction``; ``favorable_rate_ratio`` is the
    four-fifths ratio of the EEOC rule. Its interval is the simultaneous one of the result's
    worse-off entry, which compares the same groups when the rule uses the audit's
    min_group_size."""
    favorable_base, adverse_base = FAVORABLE_BASES[rule.base_metric]
    base = favorable_base if view.positive_favorable else adverse_base
    rates = view.values.get(feature, {}).get(base)
    if rates is None:
        return Outcome(
            feature, (), None, None, NOT_EVALUABLE,
            REASON_NO_METRIC.format(metric=base, feature=feature),
        )  # fmt: skip
    sizes = view.sizes.get(feature, {})
    small = [k for k, n in sizes.items() if n < minimum]
    # Left out too, and named: rates below min_denominator or undefined (None here).
    excluded = small + [k for k, v in rates.items() if v is None and k not in small]
    favorable = {
        k: (v if view.positive_favorable else 1.0 - v)
        for k, v in rates.items()
        if k not in excluded and v is not None
    }
    observed, keys = between_values(favorable, rule.kind)
    groups = tuple(view.groups[feature][k] for k in keys)
    excluded_groups = tuple(view.groups[feature][k] for k in excluded)
    if not keys:
        return Outcome(
            feature, groups, None, None, NOT_EVALUABLE,
            REASON_TOO_FEW_GROUPS.format(minimum=minimum), excluded_groups,
        )  # fmt: skip
    interval, interval_reason = _favorable_interval(rule, view, feature, base, minimum, bool(small))
    status, reason = _judge(rule, observed, interval, interval_reason=interval_reason)
    return Outcome(feature, groups, observed, interval, status, reason, excluded_groups)


def _favorable_interval(
    rule: Rule, view: View, feature: str, base: str, minimum: int, restricted: bool
) -> tuple[tuple[float, float] | None, str | None]:
    """Return the interval of a favourable-rate rule's value, or why there is none.

    The audit's: its worse-off entry's simultaneous interval, over the same groups when the
    rule uses the audit's min_group_size. A mitigation's numbers have no worse-off entries:
    with a favourable positive prediction and no group below min_group_size the value is
    a headline metric over the same groups, whose interval applies as is.
    """
    entry = view.worse_off.get((feature, base))
    if entry is not None:
        if minimum != view.min_group_size:
            return None, REASON_NO_BETWEEN_INTERVAL.format(metric=rule.metric)
        interval = entry.get(f"ci_{rule.kind}_between")
        return (None, REASON_NO_INTERVALS) if interval is None else (as_interval(interval), None)
    headline = view.headline.get((feature, _FAVORABLE_HEADLINE[rule.metric]))
    if not view.positive_favorable or restricted or headline is None:
        return None, REASON_NO_BETWEEN_INTERVAL.format(metric=rule.metric)
    if "ci" not in headline:
        return None, REASON_NO_INTERVALS
    return as_interval(headline["ci"]), None


def _reference_outcomes(rule: Rule, view: View, feature: str, minimum: int) -> list[Outcome]:
    """Evaluate a group-metric rule against the reference group: one outcome per group."""
    rows = view.disparities.get((feature, rule.base_metric))
    if not rows:
        return [
            Outcome(
                feature,
                (),
                None,
                None,
                NOT_EVALUABLE,
                REASON_NO_METRIC.format(metric=rule.base_metric, feature=feature),
            )  # fmt: skip
        ]
    outcomes = []
    sizes = view.sizes.get(feature, {})
    ci_key = f"ci_{rule.kind}"
    for row in rows:
        group, reference = dict(row["group"]), dict(row["reference"])
        observed = row.get(rule.kind)
        small = [
            k for k in (group_key(group), group_key(reference)) if sizes.get(k, minimum) < minimum
        ]
        if small:
            reason = _small_reason(view, feature, small[0], minimum)
            outcomes.append(
                Outcome(feature, (group, reference), observed, None, NOT_EVALUABLE, reason)
            )
            continue
        interval = as_interval(row.get(ci_key))
        missing = REASON_NO_INTERVALS if ci_key not in row else REASON_NO_INTERVAL
        status, reason = _judge(rule, observed, interval, interval_reason=missing)
        outcomes.append(Outcome(feature, (group, reference), observed, interval, status, reason))
    return outcomes


def _evaluate_rule(rule: Rule, view: View) -> RuleEvaluation:
    minimum = rule.min_group_size if rule.min_group_size is not None else view.min_group_size
    features = [rule.feature] if rule.feature is not None else view.groupings
    outcomes: list[Outcome] = []
    for feature in features:
        if feature not in view.groupings:
            reason = REASON_NO_FEATURE.format(
                feature=feature, groupings=", ".join(view.groupings) or "none"
            )
            outcomes.append(Outcome(feature, (), None, None, NOT_EVALUABLE, reason))
        elif rule.metric in FAVORABLE_METRICS:
            outcomes.append(_favorable_outcome(rule, view, feature, minimum))
        elif rule.compare == "between_groups":
            outcomes.append(_between_outcome(rule, view, feature, minimum))
        else:
            outcomes.extend(_reference_outcomes(rule, view, feature, minimum))
    if not outcomes:
        outcomes.append(Outcome(None, (), None, None, NOT_EVALUABLE, REASON_NO_GROUPINGS))
    statuses = {o.status for o in outcomes}
    worst: tuple[Status, ...] = ("fail", "warn", NOT_EVALUABLE)
    status: Status = next((s for s in worst if s in statuses), "pass")
    return RuleEvaluation(rule, tuple(outcomes), status)


def _verdict(rules: Iterable[RuleEvaluation], not_evaluable: NotEvaluable) -> Verdict:
    statuses = {r.status for r in rules}
    if "fail" in statuses or (not_evaluable == "fail" and NOT_EVALUABLE in statuses):
        return "fail"
    if "warn" in statuses or NOT_EVALUABLE in statuses:
        return "warn"
    return "pass"


def evaluate_policy(
    policy: Policy,
    result: Mapping[str, Any],
    *,
    not_evaluable: NotEvaluable | None = None,
) -> PolicyEvaluation:
    """Return every rule's outcomes on ``result`` (an audit result's JSON dict) and the verdict.

    ``not_evaluable`` ("warn" or "fail") overrides how the policy counts not-evaluable
    outcomes; either way they are never a pass. Each entry of ``result["mitigations"]`` with
    status ``ok`` (or none) and ``headline`` or ``disparities`` is judged too, on its own
    numbers (its disparity rows as stored, or derived from its groups' counts:
    ``mitigation_disparities``); group sizes come from the audit's ``by_group``.
    """
    mode: NotEvaluable = not_evaluable or policy.not_evaluable
    if mode not in ("warn", "fail"):
        raise ValueError(f"not_evaluable must be 'warn' or 'fail', not {mode!r}")
    view = build_view(result)
    rules = tuple(_evaluate_rule(rule, view) for rule in policy.rules)
    mitigations = []
    for mitigation in result.get("mitigations") or []:
        if mitigation.get("status", "ok") != "ok" or not (
            mitigation.get("headline") or mitigation.get("disparities")
        ):
            continue
        mitigated = build_view(
            result,
            disparities=mitigation_disparities(result, mitigation),
            headline=mitigation.get("headline") or [],
        )
        judged = [_evaluate_rule(rule, mitigated) for rule in policy.rules]
        mitigations.append(
            MitigationEvaluation(
                method=str(mitigation.get("method")),
                constraint=mitigation.get("constraint"),
                protocol=mitigation.get("protocol"),
                verdict=_verdict(judged, mode),
                failed_rules=tuple(r.rule.id for r in judged if r.status == "fail"),
                warned_rules=tuple(r.rule.id for r in judged if r.status == "warn"),
            )
        )
    return PolicyEvaluation(policy, rules, _verdict(rules, mode), mode, tuple(mitigations))


def exit_code_for(verdict: str | None, fail_on: str = "fail") -> int:
    """Return the exit code of ``fairaudit run`` for a verdict: 0 pass, 3 policy failed.

    ``fail_on = "warn"`` makes a ``warn`` verdict fail too. No policy (verdict None) is 0.
    """
    if fail_on not in ("fail", "warn"):
        raise ValueError(MSG_BAD_FAIL_ON.format(value=fail_on))
    if verdict == "fail" or (verdict == "warn" and fail_on == "warn"):
        return EXIT_POLICY_FAILED
    return EXIT_OK
