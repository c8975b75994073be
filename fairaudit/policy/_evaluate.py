"""Evaluating a policy on a model audit: every rule's outcomes on the result's JSON."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any, cast

from fairaudit.display import group_text
from fairaudit.policy._judge import (
    REASON_NO_INTERVAL,
    REASON_UNDEFINED,
    MitigationEvaluation,
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
    FAVORABLE_BASES,
    FAVORABLE_METRICS,
    NOT_EVALUABLE,
    NotEvaluable,
    Policy,
    Rule,
)
from fairaudit.policy._multiclass_rules import (
    REASON_NO_CLASSES,
    REASON_NO_FAVORABLE_CLASSES,
    multiclass_views,
)
from fairaudit.policy._regression_rules import (
    REASON_NO_DISTANCE_INTERVAL,
    REASON_NO_THRESHOLD,
    REASON_NOT_MITIGATED,
    reference_reading,
    regression_between_outcome,
    regression_favorable_view,
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

__all__ = [
    "REASON_NOT_APPLICABLE",
    "REASON_NO_FEATURE",
    "REASON_NO_GROUPINGS",
    "REASON_NO_INTERVALS",
    "REASON_NO_METRIC",
    "REASON_RESTRICTED",
    "REASON_SMALL_GROUP",
    "REASON_TOO_FEW_GROUPS",
    "REASON_UNDEFINED",
    "evaluate_policy",
    "skipped_rules",
]

# Reasons for a not-evaluable outcome (shown in the report, JUnit and findings).
REASON_NO_FEATURE = "the audit has no grouping {feature!r} (it has: {groupings})"
REASON_NO_GROUPINGS = "the audit has no groupings"
REASON_NO_METRIC = "the audit has no {metric!r} values for {feature!r}"
REASON_SMALL_GROUP = "{label} has {count} rows, fewer than min_group_size {minimum}"
REASON_TOO_FEW_GROUPS = "fewer than two groups with at least {minimum} rows and a defined value"
REASON_NO_INTERVALS = (
    "evidence = 'interval', but the result has no confidence intervals (audit with uncertainty)"
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
    status, reason = judge(rule, observed, interval, interval_reason=interval_reason)
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
    status, reason = judge(rule, observed, interval, interval_reason=interval_reason)
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
    """Evaluate a group-metric rule against the reference group: one outcome per group.

    Where each row's number is: ``reference_reading`` (a regression distance's ``value``, a
    signed regression difference judged by its size)."""
    metric, key, ci_key, size = reference_reading(rule)
    rows = view.disparities.get((feature, metric))
    if not rows:
        return [
            Outcome(
                feature,
                (),
                None,
                None,
                NOT_EVALUABLE,
                REASON_NO_METRIC.format(metric=metric, feature=feature),
            )  # fmt: skip
        ]
    outcomes = []
    sizes = view.sizes.get(feature, {})
    for row in rows:
        group, reference = dict(row["group"]), dict(row["reference"])
        observed = row.get(key)
        small = [
            k for k in (group_key(group), group_key(reference)) if sizes.get(k, minimum) < minimum
        ]
        if small:
            reason = _small_reason(view, feature, small[0], minimum)
            outcomes.append(
                Outcome(feature, (group, reference), observed, None, NOT_EVALUABLE, reason)
            )
            continue
        interval = as_interval(row.get(ci_key)) if ci_key else None
        if ci_key is None:
            missing = REASON_NO_DISTANCE_INTERVAL.format(metric=metric)
        else:
            missing = REASON_NO_INTERVALS if ci_key not in row else REASON_NO_INTERVAL
            missing = row.get("interval_reason") or missing  # a multiclass metric's own
        if size:
            observed, interval, status, reason = judge_size(
                rule, observed, interval, interval_reason=missing
            )
        else:
            status, reason = judge(rule, observed, interval, interval_reason=missing)
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
        elif rule.applies_to == "regression" and rule.compare == "between_groups":
            outcomes.append(regression_between_outcome(rule, view, feature, minimum))
        elif rule.compare == "between_groups":
            outcomes.append(_between_outcome(rule, view, feature, minimum))
        else:
            outcomes.extend(_reference_outcomes(rule, view, feature, minimum))
    if not outcomes:
        outcomes.append(Outcome(None, (), None, None, NOT_EVALUABLE, REASON_NO_GROUPINGS))
    return RuleEvaluation(rule, tuple(outcomes), worst_status(outcomes))


def _evaluate_views(
    rule: Rule, judged: list[tuple[str | None, View | None]], missing: str
) -> RuleEvaluation:
    """Judge a rule on each view it applies to, each outcome tagged with its class (a
    multiclass audit's, ``_multiclass_rules``; None elsewhere); a view of None (a
    favourable outcome the audit does not have) is one not-evaluable outcome saying
    ``missing``."""
    outcomes: list[Outcome] = []
    for label, view in judged:
        if view is None:
            reason = missing.format(metric=rule.metric)
            outcomes.append(Outcome(rule.feature, (), None, None, NOT_EVALUABLE, reason))
            continue
        outcomes.extend(replace(o, class_label=label) for o in _evaluate_rule(rule, view).outcomes)
    if not outcomes:  # a multiclass result that lists no classes: never a silent pass
        outcomes.append(Outcome(None, (), None, None, NOT_EVALUABLE, REASON_NO_CLASSES))
    return RuleEvaluation(rule, tuple(outcomes), worst_status(outcomes))


def _evaluate_regression(
    rule: Rule, view: View, favorable: View | None, missing: str
) -> RuleEvaluation:
    """Judge a rule on a regression result: a favourable-outcome rule on its favourable view
    (``regression_favorable_view``; None: not evaluable, saying ``missing``), the others on
    ``view``."""
    if rule.metric in FAVORABLE_METRICS:
        return _evaluate_views(rule, [(None, favorable)], missing)
    return _evaluate_rule(rule, view)


#: The rules of each kind, and the audits they apply to, as a not-applicable reason says.
_SKIPPED_KINDS = {
    "model": ("binary model rules", "binary and multiclass audits"),
    "data": ("data rules", "data audits (fairaudit data)"),
    "regression": ("regression rules", "regression audits"),
    "multiclass": ("multiclass rules", "multiclass audits"),
}
REASON_NOT_APPLICABLE = "{rules} apply to {audits}; this audit is {task}"


def skipped_rules(others: tuple[Rule, ...], task: str) -> tuple[tuple[Rule, str], ...]:
    """Return the rules a ``task`` audit cannot judge, each with why: listed in its JSON as
    ``policy.not_applicable`` and left out of the verdict, as a data report lists a model
    audit's rules (a ``class`` rule on a binary audit: "class rules apply to multiclass
    audits; this audit is binary")."""
    skipped = []
    for rule in others:
        rules, audits = _SKIPPED_KINDS.get(rule.applies_to, (rule.applies_to, rule.applies_to))
        if rule.classes is not None:
            rules = "class rules"
        skipped.append((rule, REASON_NOT_APPLICABLE.format(rules=rules, audits=audits, task=task)))
    return tuple(skipped)


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
    ``mitigation_disparities``); group sizes come from the audit's ``by_group``. A
    regression audit's result (``audit.task``) is judged by the policy's regression rules
    (``_regression_rules``) and its favourable-outcome rules, on the view of
    ``--favorable-above``/``--favorable-below`` (not evaluable without one, and on a
    mitigation's numbers); a multiclass one by its model and multiclass rules, per class
    (``_multiclass_rules``); a binary one by its model rules; the others cannot apply.
    """
    mode = resolve_not_evaluable(policy, not_evaluable)
    task = (result.get("audit") or {}).get("task")
    if task == "multiclass":
        applies, others = split_rules(policy, "multiclass")
        views = multiclass_views(result)
        missing = REASON_NO_FAVORABLE_CLASSES
        evaluated = tuple(_evaluate_views(rule, views.judged(rule), missing) for rule in applies)
        verdict = verdict_of(evaluated, mode)
        skipped = skipped_rules(others, "multiclass")
        return PolicyEvaluation(policy, evaluated, verdict, mode, (), others, skipped)
    regression = task == "regression"
    applies, others = split_rules(policy, "regression" if regression else "model")
    view = build_view(result)
    judge_rule: Callable[[Rule, View], RuleEvaluation] = _evaluate_rule
    if regression:
        favorable = regression_favorable_view(result)
        judge_rule = partial(_evaluate_regression, favorable=favorable, missing=REASON_NO_THRESHOLD)
    rules = tuple(judge_rule(rule, view) for rule in applies)
    if regression:  # a mitigation's numbers have no favourable outcome
        judge_rule = partial(_evaluate_regression, favorable=None, missing=REASON_NOT_MITIGATED)
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
        judged = [judge_rule(rule, mitigated) for rule in applies]
        mitigations.append(
            MitigationEvaluation(
                method=str(mitigation.get("method")),
                constraint=mitigation.get("constraint"),
                protocol=mitigation.get("protocol"),
                verdict=verdict_of(judged, mode),
                failed_rules=tuple(r.rule.id for r in judged if r.status == "fail"),
                warned_rules=tuple(r.rule.id for r in judged if r.status == "warn"),
            )
        )
    verdict = verdict_of(rules, mode)
    skipped = skipped_rules(others, "regression" if regression else "binary")
    return PolicyEvaluation(policy, rules, verdict, mode, tuple(mitigations), others, skipped)
