"""Policies: fairness rules in TOML layers, evaluated against an audit result into a verdict.

A policy is one or more layers (``--policy org.toml --policy team.toml``); each layer is a
TOML file, or a preset shipped in ``fairaudit/policy/presets`` (``preset:four-fifths``). Each
``[[rule]]`` bounds one fairness metric; a later layer may add rules, change an earlier rule
by its ``id``, or remove it with ``remove = true``, except that a rule an earlier layer marked
``locked = true`` may only be tightened. Evaluation reads only the result's JSON dict, so it
works the same on a fresh audit, a ``report.json`` on disk, or a mitigation's numbers.

Outcomes are ``pass``, ``warn``, ``fail`` or ``not evaluable``. A not-evaluable outcome (a
group below ``min_group_size``, an undefined value, no interval for ``evidence = "interval"``,
a feature the audit lacks) never passes silently: it makes the verdict at least ``warn``
(``not_evaluable = "fail"`` in a layer, or ``evaluate_policy(..., not_evaluable="fail")``,
makes it ``fail``), and it is listed in the findings.
"""

from __future__ import annotations

from fairaudit.policy._approvals import (
    MSG_APPROVALS_LOOSENED,
    ApprovalStatus,
    check_approvals,
    review_extra,
)
from fairaudit.policy._data_rules import (
    DataOutcome,
    data_policy_section,
    evaluate_data_policy,
    judge_data_rules,
)
from fairaudit.policy._evaluate import (
    REASON_NO_FEATURE,
    REASON_NO_INTERVALS,
    REASON_RESTRICTED,
    REASON_SMALL_GROUP,
    REASON_UNDEFINED,
    evaluate_policy,
)
from fairaudit.policy._findings import build_findings
from fairaudit.policy._judge import (
    MSG_BAD_FAIL_ON,
    MSG_NO_RULES_FOR,
    MitigationEvaluation,
    Outcome,
    PolicyEvaluation,
    RuleEvaluation,
    exit_code_for,
    split_rules,
)
from fairaudit.policy._load import (
    MSG_BAD_METRIC,
    MSG_BAD_SEVERITY,
    MSG_BAD_TOML,
    MSG_BAD_TYPE,
    MSG_DUPLICATE_ID,
    MSG_HEADLINE_COMPARE,
    MSG_LOCKED_CHANGED,
    MSG_LOCKED_LOOSENED,
    MSG_LOCKED_REMOVED,
    MSG_MIN_GT_MAX,
    MSG_NO_BOUND,
    MSG_NO_METRIC,
    MSG_REMOVE_UNKNOWN,
    MSG_UNKNOWN_KEY,
    MSG_UNKNOWN_PRESET,
    MSG_UNKNOWN_TOP_KEY,
    load_policy,
    preset_path,
)
from fairaudit.policy._model import (
    BETWEEN_GROUPS_METRICS,
    DATA_LABEL_METRICS,
    DATA_RULE_COMPARES,
    DATA_RULE_METRICS,
    DATA_SIGNED_METRICS,
    DECISIONS,
    EVIDENCE_ORDER,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_POLICY_FAILED,
    EXIT_USAGE,
    FAVORABLE_RATE_RATIO,
    GROUP_METRICS,
    NOT_EVALUABLE,
    PRESET_PREFIX,
    PRESETS,
    REVIEWER_ROLE,
    RULE_METRICS,
    Approvals,
    Policy,
    PolicyError,
    PolicyLayer,
    Rule,
)
from fairaudit.policy._variant import mitigation_disparities

__all__ = [
    "ApprovalStatus",
    "DATA_LABEL_METRICS",
    "DATA_RULE_COMPARES",
    "DATA_RULE_METRICS",
    "DATA_SIGNED_METRICS",
    "DataOutcome",
    "EVIDENCE_ORDER",
    "MSG_NO_RULES_FOR",
    "data_policy_section",
    "evaluate_data_policy",
    "judge_data_rules",
    "split_rules",
    "Approvals",
    "DECISIONS",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_POLICY_FAILED",
    "EXIT_USAGE",
    "GROUP_METRICS",
    "MSG_APPROVALS_LOOSENED",
    "MSG_BAD_FAIL_ON",
    "MSG_BAD_METRIC",
    "MSG_BAD_SEVERITY",
    "MSG_BAD_TOML",
    "MSG_BAD_TYPE",
    "MSG_DUPLICATE_ID",
    "MSG_HEADLINE_COMPARE",
    "MSG_LOCKED_CHANGED",
    "MSG_LOCKED_LOOSENED",
    "MSG_LOCKED_REMOVED",
    "MSG_MIN_GT_MAX",
    "MSG_NO_BOUND",
    "MSG_NO_METRIC",
    "MSG_REMOVE_UNKNOWN",
    "MSG_UNKNOWN_KEY",
    "MSG_UNKNOWN_PRESET",
    "MSG_UNKNOWN_TOP_KEY",
    "MitigationEvaluation",
    "NOT_EVALUABLE",
    "Outcome",
    "PRESETS",
    "PRESET_PREFIX",
    "Policy",
    "PolicyError",
    "PolicyEvaluation",
    "PolicyLayer",
    "REASON_NO_FEATURE",
    "REASON_NO_INTERVALS",
    "REASON_RESTRICTED",
    "REASON_SMALL_GROUP",
    "REASON_UNDEFINED",
    "REVIEWER_ROLE",
    "RULE_METRICS",
    "BETWEEN_GROUPS_METRICS",
    "FAVORABLE_RATE_RATIO",
    "Rule",
    "RuleEvaluation",
    "build_findings",
    "check_approvals",
    "evaluate_policy",
    "mitigation_disparities",
    "exit_code_for",
    "load_policy",
    "preset_path",
    "review_extra",
]
