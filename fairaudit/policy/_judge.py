"""Judging: one value (and interval) against a rule's bound, the records of an evaluation
(outcomes, rules, the verdict) and the exit code. Model-audit and data-audit rules share it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fairaudit.display import group_text
from fairaudit.policy._model import (
    EXIT_OK,
    EXIT_POLICY_FAILED,
    FAVORABLE_METRICS,
    NOT_EVALUABLE,
    NotEvaluable,
    Policy,
    PolicyError,
    ReportKind,
    Rule,
    Status,
    Verdict,
)

# A bound met up to float rounding (0.4 / 0.5 is 0.8000000000000002) counts as met.
_TOLERANCE = 1e-12

MSG_BAD_FAIL_ON = "fail_on must be 'fail' or 'warn', not {value!r}"
MSG_NO_RULES_FOR = (
    "policy {sources} has no rule for a {kind} audit: its rules ({ids}) are for {other} "
    "audits, so it would pass this report without checking anything"
)
MSG_NO_RULES = (
    "policy {sources} has no rule for a {kind} audit (window rules are judged by fairaudit "
    "monitor), so it would pass this report without checking anything"
)

#: How messages name the kinds of audit a rule is for.
_KIND_NAMES = {
    "model": "binary model",
    "data": "data",
    "regression": "regression",
    "multiclass": "multiclass",
}
#: The kinds of rule a kind of audit is judged by (a multiclass audit: the model rules too).
_JUDGED_BY: dict[str, tuple[str, ...]] = {"multiclass": ("model", "multiclass")}
#: Model rules a kind of audit is judged by too: a regression audit's favourable-outcome
#: rules (judged on ``--favorable-above``/``--favorable-below``'s view, not evaluable without).
_ALSO_JUDGED: dict[str, tuple[str, ...]] = {"regression": FAVORABLE_METRICS}

# Reasons for a not-evaluable outcome (shown in the report, JUnit and findings).
REASON_UNDEFINED = "the value is undefined (a zero denominator)"
REASON_NO_INTERVAL = "evidence = 'interval', but the confidence interval is undefined"
REASON_DEGENERATE_INTERVAL = (
    "evidence = {evidence!r}, but the interval [{low:.4g}, {high:.4g}] has zero width: it "
    "carries no information about the uncertainty, so it is not evidence"
)


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Outcome:
    """One rule checked on one grouping (between groups) or one group (vs the reference).

    ``groups`` are the groups compared: ``[group, reference]`` or ``[lowest, highest]``;
    ``excluded`` are groups left out of a between-groups value for having too few rows.
    ``class_label``: the class of a multiclass audit whose one-vs-rest numbers were judged
    (None: a binary audit's, or a multiclass metric such as ``accuracy``).
    """

    feature: str | None
    groups: tuple[dict[str, str], ...]
    observed: float | None
    interval: tuple[float, float] | None
    status: Status
    reason: str
    excluded: tuple[dict[str, str], ...] = ()
    class_label: str | None = None

    @property
    def name(self) -> str:
        """Return a short, stable name such as ``sex: sex=female vs sex=male`` (``class
        rent: sex: ...`` for one class of a multiclass audit)."""
        feature = self.feature if self.feature is not None else "(no feature)"
        if self.class_label is not None:
            feature = f"class {self.class_label}: {feature}"
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
        } | ({} if self.class_label is None else {"class": self.class_label})


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
    #: The policy's rules for the other kind of report, not checked on this one.
    not_applicable: tuple[Rule, ...] = ()
    #: The rules the result's JSON lists under ``not_applicable``, each with its reason
    #: (``_evaluate.skipped_rules``); none: no key, so such reports keep their bytes.
    skipped: tuple[tuple[Rule, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the ``policy`` section of the audit result's JSON."""
        approvals = self.policy.approvals
        return {
            "layers": [layer.to_dict() for layer in self.policy.layers],
            "not_evaluable": self.not_evaluable,
            "rules": [r.to_dict() for r in self.rules],
            **(
                {
                    "not_applicable": [
                        {**rule.to_dict(), "applies_to": rule.applies_to, "reason": reason}
                        for rule, reason in self.skipped
                    ]
                }
                if self.skipped
                else {}
            ),
            "approvals": approvals.to_dict() if approvals is not None else None,
            "mitigations": [m.to_dict() for m in self.mitigations],
            "verdict": self.verdict,
        }


def _meets(value: float, rule: Rule) -> bool:
    return (rule.min is None or value >= rule.min - _TOLERANCE) and (
        rule.max is None or value <= rule.max + _TOLERANCE
    )


def judge(
    rule: Rule,
    observed: float | None,
    interval: tuple[float, float] | None,
    *,
    interval_reason: str | None,
    spread: bool = False,
) -> tuple[Status, str]:
    """Return the status and reason for a value (and interval) against the rule's bound.

    ``evidence``: ``point`` judges the value; ``interval`` passes only when the whole
    interval meets the bound; ``beyond`` fails only when the whole interval is beyond it.
    ``interval_reason`` says why there is no interval when ``interval`` is None. A
    confidence interval of zero width is no evidence; an observed ``spread`` (e.g. the
    lowest and highest cross-validation fold) of zero width is.
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
    if low == high and not spread:
        return NOT_EVALUABLE, REASON_DEGENERATE_INTERVAL.format(
            evidence=rule.evidence, low=low, high=high
        )
    text = f"interval [{low:.4g}, {high:.4g}]"
    if rule.evidence == "beyond":
        above = rule.max is not None and low > rule.max + _TOLERANCE
        below = rule.min is not None and high < rule.min - _TOLERANCE
        if above or below:
            return rule.severity, f"{text} is wholly beyond {rule.bound_text()}"
        return "pass", f"{text} is not wholly beyond {rule.bound_text()}"
    if _meets(low, rule) and _meets(high, rule):
        return "pass", f"{text} is wholly {rule.bound_text()}"
    return rule.severity, f"{text} is not wholly {rule.bound_text()}"


def size_interval(interval: tuple[float, float]) -> tuple[float, float]:
    """Return the interval of ``|x|`` for ``x`` in ``interval``."""
    low, high = float(interval[0]), float(interval[1])
    if low >= 0:
        return low, high
    if high <= 0:
        return -high, -low
    return 0.0, max(-low, high)


def judge_size(
    rule: Rule,
    value: float | None,
    interval: tuple[float, float] | None,
    *,
    interval_reason: str | None,
) -> tuple[float | None, tuple[float, float] | None, Status, str]:
    """Judge a signed value by its size ``|value|`` (and the interval of ``|value|``).

    Return the number judged, its interval, the status and the reason, which says that the
    size was judged (``|-0.12| = 0.12 is not <= 0.1``)."""
    observed = None if value is None else abs(value)
    interval = None if interval is None else size_interval(interval)
    status, reason = judge(rule, observed, interval, interval_reason=interval_reason)
    if status != NOT_EVALUABLE and value is not None:
        if rule.evidence == "point":
            reason = f"|{value:.4g}| = {reason}"
        else:
            reason = reason.replace("interval", "the interval of |value|", 1)
    return observed, interval, status, reason


def worst_status(outcomes: Iterable[Outcome]) -> Status:
    """Return the worst status of ``outcomes``: fail, warn, not evaluable, then pass."""
    statuses = {o.status for o in outcomes}
    worst: tuple[Status, ...] = ("fail", "warn", NOT_EVALUABLE)
    return next((s for s in worst if s in statuses), "pass")


def split_rules(policy: Policy, kind: ReportKind) -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
    """Return the policy's rules for a ``kind`` audit and the others, which cannot apply.

    A policy with no rule for this kind (none at all, or only window rules, which the
    loader leaves to fairaudit monitor) is a PolicyError: it would pass the report without
    checking anything.
    """
    kinds, also = _JUDGED_BY.get(kind, (kind,)), _ALSO_JUDGED.get(kind, ())
    applies = tuple(r for r in policy.rules if r.applies_to in kinds or r.metric in also)
    others = tuple(r for r in policy.rules if r not in applies)
    sources = ", ".join(layer.source for layer in policy.layers)
    if not policy.rules:
        raise PolicyError(MSG_NO_RULES.format(sources=sources, kind=_KIND_NAMES.get(kind, kind)))
    if others and not applies:
        raise PolicyError(
            MSG_NO_RULES_FOR.format(
                sources=sources,
                kind=kind,
                ids=", ".join(r.id for r in others),
                # every kind the rules are for, not only the first rule's
                other=" and ".join(
                    dict.fromkeys(_KIND_NAMES.get(r.applies_to, r.applies_to) for r in others)
                ),
            )
        )
    return applies, others


def resolve_not_evaluable(policy: Policy, not_evaluable: NotEvaluable | None) -> NotEvaluable:
    """Return how not-evaluable outcomes count: the override, else the policy's setting."""
    mode: NotEvaluable = not_evaluable or policy.not_evaluable
    if mode not in ("warn", "fail"):
        raise ValueError(f"not_evaluable must be 'warn' or 'fail', not {mode!r}")
    return mode


def verdict_of(rules: Iterable[RuleEvaluation], not_evaluable: NotEvaluable) -> Verdict:
    """Return the verdict of judged rules: fail, warn (or not evaluable), else pass."""
    statuses = {r.status for r in rules}
    if "fail" in statuses or (not_evaluable == "fail" and NOT_EVALUABLE in statuses):
        return "fail"
    if "warn" in statuses or NOT_EVALUABLE in statuses:
        return "warn"
    return "pass"


def exit_code_for(verdict: str | None, fail_on: str = "fail") -> int:
    """Return the exit code of ``fairaudit run`` for a verdict: 0 pass, 3 policy failed.

    ``fail_on = "warn"`` makes a ``warn`` verdict fail too. No policy (verdict None) is 0.
    """
    if fail_on not in ("fail", "warn"):
        raise ValueError(MSG_BAD_FAIL_ON.format(value=fail_on))
    if verdict == "fail" or (verdict == "warn" and fail_on == "warn"):
        return EXIT_POLICY_FAILED
    return EXIT_OK
