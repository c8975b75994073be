"""Policies: fairness rules in TOML layers, evaluated against an audit result into a verdict.

A policy is one or more layers (``--policy org.toml --policy team.toml``); each layer is a
TOML file, or a preset shipped in ``fairaudit/policies`` (``preset:four-fifths``). Each
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

import hashlib
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from fairaudit.errors import ConfigError, SigningError
from fairaudit.vocabulary import CONFUSION_METRICS, HEADLINE_METRICS, SCORE_METRICS

if TYPE_CHECKING:
    from fairaudit.signing import VerificationSummary

__all__ = [
    "DECISIONS",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_POLICY_FAILED",
    "EXIT_USAGE",
    "GROUP_METRICS",
    "PRESETS",
    "PRESET_PREFIX",
    "REVIEWER_ROLE",
    "RULE_METRICS",
    "ApprovalStatus",
    "Approvals",
    "MitigationEvaluation",
    "Outcome",
    "Policy",
    "PolicyError",
    "PolicyEvaluation",
    "PolicyLayer",
    "Rule",
    "RuleEvaluation",
    "build_findings",
    "check_approvals",
    "evaluate_policy",
    "exit_code_for",
    "load_policy",
    "preset_path",
    "review_extra",
]

Severity = Literal["fail", "warn"]
Evidence = Literal["point", "interval"]
Compare = Literal["reference", "between_groups"]
Status = Literal["pass", "warn", "fail", "not evaluable"]
Verdict = Literal["pass", "warn", "fail"]
NotEvaluable = Literal["warn", "fail"]

PRESET_PREFIX = "preset:"
PRESETS: tuple[str, ...] = ("four-fifths", "equalized-odds", "equal-opportunity")
NOT_EVALUABLE: Literal["not evaluable"] = "not evaluable"

#: Group metrics a ``<metric>_difference`` / ``<metric>_ratio`` rule may name.
GROUP_METRICS: tuple[str, ...] = (*(m for m in CONFUSION_METRICS if m != "count"), *SCORE_METRICS)
#: Every metric name a rule may use.
RULE_METRICS: frozenset[str] = frozenset(
    (*HEADLINE_METRICS, *(f"{m}_{kind}" for m in GROUP_METRICS for kind in ("difference", "ratio")))
)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_POLICY_FAILED = 3

REVIEWER_ROLE = "reviewer"
DECISIONS: tuple[str, ...] = ("approve", "reject")

_RULE_KEYS = (
    "id",
    "metric",
    "compare",
    "min",
    "max",
    "feature",
    "severity",
    "min_group_size",
    "evidence",
    "locked",
    "description",
    "remove",
)
_TOP_KEYS = ("name", "description", "not_evaluable", "rule", "approvals")
_APPROVAL_KEYS = ("required", "reviewers")
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@/-]*")
_KEY_ID_PATTERN = re.compile(r"[0-9a-f]{64}")
# A bound met up to float rounding (0.4 / 0.5 is 0.8000000000000002) counts as met.
_TOLERANCE = 1e-12

# Messages: every one names the file and, where there is one, the rule and the key.
MSG_UNREADABLE = "cannot read policy file {source}: {detail}"
MSG_BAD_TOML = "{source}: not a valid TOML policy: {detail}"
MSG_UNKNOWN_PRESET = "unknown policy preset {name!r}; the presets are: {presets}"
MSG_UNKNOWN_TOP_KEY = "{source}: unknown key {key!r}; allowed keys: {allowed}"
MSG_UNKNOWN_KEY = "{source}: rule {rule}: unknown key {key!r}; allowed keys: {allowed}"
MSG_BAD_METRIC = (
    "{source}: rule {rule}: key 'metric': unknown metric {value!r}; use a headline metric "
    "({headline}) or <group metric>_difference / <group metric>_ratio with a group metric "
    "among: {group}"
)
MSG_BAD_SEVERITY = "{source}: rule {rule}: key 'severity' must be 'fail' or 'warn', not {value!r}"
MSG_BAD_EVIDENCE = (
    "{source}: rule {rule}: key 'evidence' must be 'point' or 'interval', not {value!r}"
)
MSG_BAD_COMPARE = (
    "{source}: rule {rule}: key 'compare' must be 'reference' or 'between_groups', not {value!r}"
)
MSG_HEADLINE_COMPARE = (
    "{source}: rule {rule}: key 'compare': headline metric {metric!r} is always "
    'between groups; remove compare = "reference"'
)
MSG_BAD_TYPE = "{source}: rule {rule}: key {key!r} must be {expected}, not {value!r}"
MSG_BAD_SETTING = "{source}: key {key!r} must be {expected}, not {value!r}"
MSG_MIN_GT_MAX = "{source}: rule {rule}: 'min' ({min}) is greater than 'max' ({max})"
MSG_NO_BOUND = "{source}: rule {rule}: give 'min' and/or 'max'"
MSG_NO_METRIC = (
    "{source}: rule {rule}: key 'metric' is missing, and no earlier layer has a rule with this id"
)
MSG_DUPLICATE_ID = (
    "{source}: rule {rule}: the id is used by another rule in this file; give each an 'id'"
)
MSG_REMOVE_KEYS = "{source}: rule {rule}: 'remove = true' takes only 'id', not {keys}"
MSG_REMOVE_UNKNOWN = "{source}: rule {rule}: 'remove = true', but no earlier layer has this rule"
MSG_LOCKED_LOOSENED = (
    "{source}: rule {rule}: key {key!r} loosens {old} to {new}, but {locked_by} locked this rule"
)
MSG_LOCKED_CHANGED = (
    "{source}: rule {rule}: key {key!r} changes {old} to {new}, but {locked_by} locked this rule"
)
MSG_LOCKED_REMOVED = "{source}: rule {rule}: removes a rule that {locked_by} locked"
MSG_APPROVALS_LOOSENED = (
    "{source}: [approvals] key {key!r} loosens what {earlier} requires ({detail})"
)
MSG_BAD_REVIEWER = (
    "{source}: [approvals] key 'reviewers': {value!r} is neither a 64-digit hex key id nor "
    "a readable public key file ({detail})"
)
MSG_BAD_DECISION = "review decision must be 'approve' or 'reject', not {value!r}"
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


class PolicyError(ConfigError):
    """A policy file is invalid, or a layer loosens what an earlier layer locked."""


# --------------------------------------------------------------------------- policy model


@dataclass(frozen=True)
class PolicyLayer:
    """One policy file or preset: where it came from and the SHA-256 of its bytes."""

    source: str
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        """Return ``{source, sha256}``."""
        return {"source": self.source, "sha256": self.sha256}


@dataclass(frozen=True)
class Rule:
    """One bound on one fairness metric, after layering.

    ``layer`` is the source that defined the rule, ``modified_by`` the later sources that
    changed it, and ``locked_by`` the source that locked it (None while unlocked).
    ``min_group_size`` None means the audit's own minimum.
    """

    id: str
    metric: str
    compare: Compare
    min: float | None
    max: float | None
    feature: str | None
    severity: Severity
    evidence: Evidence
    min_group_size: int | None
    locked: bool
    description: str
    layer: str
    modified_by: tuple[str, ...] = ()
    locked_by: str | None = None

    @property
    def is_headline(self) -> bool:
        """Return whether the metric is one of fairlearn's headline metrics."""
        return self.metric in HEADLINE_METRICS

    @property
    def kind(self) -> Literal["difference", "ratio"]:
        """Return whether the rule bounds a difference or a ratio."""
        return "ratio" if self.metric.endswith("_ratio") else "difference"

    @property
    def base_metric(self) -> str:
        """Return the metric name without its ``_difference`` / ``_ratio`` suffix."""
        return self.metric.rsplit("_", 1)[0]

    def bound_text(self) -> str:
        """Return the bound as text, e.g. ``>= 0.8`` or ``between -0.1 and 0.1``."""
        if self.min is not None and self.max is not None:
            return f"between {self.min:g} and {self.max:g}"
        return f">= {self.min:g}" if self.min is not None else f"<= {self.max:g}"

    def to_dict(self) -> dict[str, Any]:
        """Return the rule's JSON form (without outcomes)."""
        return {
            "id": self.id,
            "metric": self.metric,
            "feature": self.feature,
            "compare": self.compare,
            "bound": {"min": self.min, "max": self.max},
            "severity": self.severity,
            "evidence": self.evidence,
            "min_group_size": self.min_group_size,
            "locked": self.locked,
            "description": self.description,
            "layer": self.layer,
            "modified_by": list(self.modified_by),
        }


@dataclass(frozen=True)
class Approvals:
    """How many of the listed reviewer keys must approve a report (``[approvals]``)."""

    required: int
    reviewers: tuple[str, ...]
    source: str

    def to_dict(self) -> dict[str, Any]:
        """Return ``{required, reviewers, source}``."""
        return {"required": self.required, "reviewers": list(self.reviewers), "source": self.source}


@dataclass(frozen=True)
class Policy:
    """The layered policy: its layers in order, the resulting rules and approvals."""

    layers: tuple[PolicyLayer, ...]
    rules: tuple[Rule, ...]
    approvals: Approvals | None = None
    not_evaluable: NotEvaluable = "warn"


# --------------------------------------------------------------------------- loading


def preset_path(name: str) -> Path:
    """Return the path of the preset policy ``name`` shipped in ``fairaudit/policies``."""
    if name not in PRESETS:
        raise PolicyError(MSG_UNKNOWN_PRESET.format(name=name, presets=", ".join(PRESETS)))
    return Path(__file__).resolve().parent / "policies" / f"{name}.toml"


def _read_source(source: str) -> tuple[bytes, Path]:
    path = preset_path(source[len(PRESET_PREFIX) :]) if source.startswith(PRESET_PREFIX) else None
    path = path or Path(source)
    try:
        return path.read_bytes(), path
    except OSError as e:
        raise PolicyError(MSG_UNREADABLE.format(source=source, detail=e.strerror or e)) from None


def load_policy(sources: Sequence[str]) -> Policy:
    """Return the policy made by layering ``sources`` in order (paths or ``preset:NAME``)."""
    layers: list[PolicyLayer] = []
    rules: dict[str, Rule] = {}
    approvals: Approvals | None = None
    not_evaluable: NotEvaluable = "warn"
    for source in sources:
        content, path = _read_source(source)
        layers.append(PolicyLayer(source, hashlib.sha256(content).hexdigest()))
        try:
            document = tomllib.loads(content.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise PolicyError(MSG_BAD_TOML.format(source=source, detail=e)) from None
        for key in document:
            if key not in _TOP_KEYS:
                raise PolicyError(
                    MSG_UNKNOWN_TOP_KEY.format(source=source, key=key, allowed=", ".join(_TOP_KEYS))
                )
        for key in ("name", "description"):
            if key in document and not isinstance(document[key], str):
                raise PolicyError(
                    MSG_BAD_SETTING.format(
                        source=source, key=key, expected="text", value=document[key]
                    )
                )
        setting = document.get("not_evaluable", "warn")
        if setting not in ("warn", "fail"):
            raise PolicyError(
                MSG_BAD_SETTING.format(
                    source=source, key="not_evaluable", expected="'warn' or 'fail'", value=setting
                )
            )
        if setting == "fail":  # the strictest layer wins
            not_evaluable = "fail"
        entries = document.get("rule", [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise PolicyError(
                MSG_BAD_SETTING.format(
                    source=source, key="rule", expected="an array of tables [[rule]]", value=entries
                )
            )
        seen: set[str] = set()
        for index, entry in enumerate(entries, start=1):
            _apply_rule_entry(rules, entry, source=source, index=index, seen=seen)
        if "approvals" in document:
            approvals = _merge_approvals(approvals, document["approvals"], source, path)
    return Policy(tuple(layers), tuple(rules.values()), approvals, not_evaluable)


def _label(entry: Mapping[str, Any], index: int) -> str:
    """Return how messages name a rule before it has an id: ``'id'`` or ``#2 (metric)``."""
    explicit, metric = entry.get("id"), entry.get("metric")
    if isinstance(explicit, str):
        return repr(explicit)
    return f"#{index} ({metric})" if isinstance(metric, str) else f"#{index}"


def _derived_id(metric: str, compare: str, feature: str | None) -> str:
    parts = [metric]
    if metric not in HEADLINE_METRICS and compare == "between_groups":
        parts.append("between_groups")
    if feature is not None:
        parts.append(feature)
    return ":".join(parts)


def _validate_entry(entry: Mapping[str, Any], *, source: str, rule: str) -> dict[str, Any]:
    """Return the entry's keys, type-checked; raise PolicyError naming file, rule and key."""

    def bad(key: str, expected: str) -> PolicyError:
        return PolicyError(
            MSG_BAD_TYPE.format(
                source=source, rule=rule, key=key, expected=expected, value=entry[key]
            )
        )

    for key in entry:
        if key not in _RULE_KEYS:
            raise PolicyError(
                MSG_UNKNOWN_KEY.format(
                    source=source, rule=rule, key=key, allowed=", ".join(_RULE_KEYS)
                )
            )
    checked = dict(entry)
    if "id" in entry and not (isinstance(entry["id"], str) and _ID_PATTERN.fullmatch(entry["id"])):
        raise bad("id", "text of letters, digits and _ . : @ / -")
    for key in ("metric", "feature", "description"):
        if key in entry and not (isinstance(entry[key], str) and entry[key]):
            raise bad(key, "non-empty text")
    if "metric" in entry and entry["metric"] not in RULE_METRICS:
        raise PolicyError(
            MSG_BAD_METRIC.format(
                source=source,
                rule=rule,
                value=entry["metric"],
                headline=", ".join(HEADLINE_METRICS),
                group=", ".join(GROUP_METRICS),
            )
        )
    for key in ("min", "max"):
        value = entry.get(key)
        if key in entry:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise bad(key, "a number")
            if not math.isfinite(value):
                raise bad(key, "a finite number")
            checked[key] = float(value)
    for key in ("locked", "remove"):
        if key in entry and not isinstance(entry[key], bool):
            raise bad(key, "true or false")
    size = entry.get("min_group_size")
    if "min_group_size" in entry and (
        isinstance(size, bool) or not isinstance(size, int) or size < 0
    ):
        raise bad("min_group_size", "a whole number >= 0")
    if "severity" in entry and entry["severity"] not in ("fail", "warn"):
        raise PolicyError(
            MSG_BAD_SEVERITY.format(source=source, rule=rule, value=entry["severity"])
        )
    if "evidence" in entry and entry["evidence"] not in ("point", "interval"):
        raise PolicyError(
            MSG_BAD_EVIDENCE.format(source=source, rule=rule, value=entry["evidence"])
        )
    if "compare" in entry and entry["compare"] not in ("reference", "between_groups"):
        raise PolicyError(MSG_BAD_COMPARE.format(source=source, rule=rule, value=entry["compare"]))
    return checked


def _apply_rule_entry(
    rules: dict[str, Rule], entry: Mapping[str, Any], *, source: str, index: int, seen: set[str]
) -> None:
    """Add, change or remove one rule in ``rules`` (ordered by first definition)."""
    rule_label = _label(entry, index)
    checked = _validate_entry(entry, source=source, rule=rule_label)
    rule_id = checked.get("id")
    if rule_id is None and "metric" in checked:
        metric = checked["metric"]
        compare = checked.get(
            "compare", "between_groups" if metric in HEADLINE_METRICS else "reference"
        )
        rule_id = _derived_id(metric, compare, checked.get("feature"))
    if rule_id is None:
        raise PolicyError(MSG_NO_METRIC.format(source=source, rule=rule_label))
    rule_label = repr(rule_id)
    if rule_id in seen:
        raise PolicyError(MSG_DUPLICATE_ID.format(source=source, rule=rule_label))
    seen.add(rule_id)
    earlier = rules.get(rule_id)

    if checked.get("remove"):
        extra = sorted(set(checked) - {"id", "remove"})
        if extra:
            raise PolicyError(
                MSG_REMOVE_KEYS.format(source=source, rule=rule_label, keys=", ".join(extra))
            )
        if earlier is None:
            raise PolicyError(MSG_REMOVE_UNKNOWN.format(source=source, rule=rule_label))
        if earlier.locked:
            raise PolicyError(
                MSG_LOCKED_REMOVED.format(
                    source=source, rule=rule_label, locked_by=earlier.locked_by
                )
            )
        del rules[rule_id]
        return

    if earlier is None:
        if "metric" not in checked:
            raise PolicyError(MSG_NO_METRIC.format(source=source, rule=rule_label))
        rule = _new_rule(rule_id, checked, source=source, rule_label=rule_label)
    else:
        if earlier.locked:
            _check_tightens(earlier, checked, source=source, rule_label=rule_label)
        rule = _override(earlier, checked, source=source, rule_label=rule_label)
    if rule.min is None and rule.max is None:
        raise PolicyError(MSG_NO_BOUND.format(source=source, rule=rule_label))
    if rule.min is not None and rule.max is not None and rule.min > rule.max:
        raise PolicyError(
            MSG_MIN_GT_MAX.format(source=source, rule=rule_label, min=rule.min, max=rule.max)
        )
    rules[rule_id] = rule


def _new_rule(rule_id: str, checked: Mapping[str, Any], *, source: str, rule_label: str) -> Rule:
    metric = checked["metric"]
    headline = metric in HEADLINE_METRICS
    compare = checked.get("compare", "between_groups" if headline else "reference")
    if headline and compare != "between_groups":
        raise PolicyError(
            MSG_HEADLINE_COMPARE.format(source=source, rule=rule_label, metric=metric)
        )
    locked = bool(checked.get("locked", False))
    return Rule(
        id=rule_id,
        metric=metric,
        compare=compare,
        min=checked.get("min"),
        max=checked.get("max"),
        feature=checked.get("feature"),
        severity=checked.get("severity", "fail"),
        evidence=checked.get("evidence", "point"),
        min_group_size=checked.get("min_group_size"),
        locked=locked,
        description=checked.get("description", ""),
        layer=source,
        locked_by=source if locked else None,
    )


def _override(earlier: Rule, checked: Mapping[str, Any], *, source: str, rule_label: str) -> Rule:
    changes = {k: v for k, v in checked.items() if k not in ("id", "remove")}
    metric = changes.get("metric", earlier.metric)
    if metric in HEADLINE_METRICS and changes.get("compare", "between_groups") != "between_groups":
        raise PolicyError(
            MSG_HEADLINE_COMPARE.format(source=source, rule=rule_label, metric=metric)
        )
    if "metric" in changes and "compare" not in changes:
        changes["compare"] = "between_groups" if metric in HEADLINE_METRICS else earlier.compare
    locked_by = earlier.locked_by
    if changes.get("locked") and not earlier.locked:
        locked_by = source
    return replace(
        earlier,
        **changes,
        modified_by=(*earlier.modified_by, source),
        locked_by=locked_by,
    )


def _check_tightens(
    earlier: Rule, checked: Mapping[str, Any], *, source: str, rule_label: str
) -> None:
    """Raise PolicyError if ``checked`` loosens or reshapes the locked rule ``earlier``."""

    def fail(message: str, key: str, old: Any, new: Any) -> PolicyError:
        return PolicyError(
            message.format(
                source=source,
                rule=rule_label,
                key=key,
                old=repr(old),
                new=repr(new),
                locked_by=earlier.locked_by,
            )
        )

    for key in ("metric", "feature", "compare"):
        if key in checked and checked[key] != getattr(earlier, key):
            raise fail(MSG_LOCKED_CHANGED, key, getattr(earlier, key), checked[key])
    looser = {
        "min": lambda old, new: old is not None and new < old,
        "max": lambda old, new: old is not None and new > old,
        "severity": lambda old, new: old == "fail" and new == "warn",
        "evidence": lambda old, new: old == "interval" and new == "point",
        # A larger minimum leaves more groups out of the rule; an unset one is the audit's.
        "min_group_size": lambda old, new: old is None or new > old,
        "locked": lambda old, new: not new,
    }
    for key, is_looser in looser.items():
        if key in checked and is_looser(getattr(earlier, key), checked[key]):
            raise fail(MSG_LOCKED_LOOSENED, key, getattr(earlier, key), checked[key])


def _reviewer_key_id(value: Any, *, source: str, base: Path) -> str:
    if isinstance(value, str) and _KEY_ID_PATTERN.fullmatch(value.lower()):
        return value.lower()
    if not isinstance(value, str) or not value:
        raise PolicyError(MSG_BAD_REVIEWER.format(source=source, value=value, detail="not text"))
    from fairaudit.keys import key_id, load_public_key  # cryptography: only when needed

    path = Path(value) if Path(value).is_absolute() else base / value
    try:
        return key_id(load_public_key(path))
    except SigningError as e:
        raise PolicyError(MSG_BAD_REVIEWER.format(source=source, value=value, detail=e)) from None


def _merge_approvals(earlier: Approvals | None, table: Any, source: str, path: Path) -> Approvals:
    """Return the approvals after one layer's ``[approvals]``; later layers may only tighten."""
    if not isinstance(table, dict):
        raise PolicyError(
            MSG_BAD_SETTING.format(source=source, key="approvals", expected="a table", value=table)
        )
    for key in table:
        if key not in _APPROVAL_KEYS:
            raise PolicyError(
                MSG_UNKNOWN_TOP_KEY.format(
                    source=source, key=f"approvals.{key}", allowed=", ".join(_APPROVAL_KEYS)
                )
            )
    required = table.get("required", earlier.required if earlier else 1)
    if isinstance(required, bool) or not isinstance(required, int) or required < 0:
        raise PolicyError(
            MSG_BAD_SETTING.format(
                source=source,
                key="approvals.required",
                expected="a whole number >= 0",
                value=required,
            )
        )
    listed = table.get("reviewers")
    if listed is None:
        reviewers = earlier.reviewers if earlier else ()
    elif not isinstance(listed, list):
        raise PolicyError(
            MSG_BAD_SETTING.format(
                source=source, key="approvals.reviewers", expected="a list", value=listed
            )
        )
    else:
        base = path.parent if not source.startswith(PRESET_PREFIX) else Path(".")
        reviewers = tuple(
            dict.fromkeys(_reviewer_key_id(v, source=source, base=base) for v in listed)
        )
    if earlier is not None:
        if required < earlier.required:
            raise PolicyError(
                MSG_APPROVALS_LOOSENED.format(
                    source=source,
                    key="required",
                    earlier=earlier.source,
                    detail=f"{required} < {earlier.required}",
                )
            )
        added = [r for r in reviewers if earlier.reviewers and r not in earlier.reviewers]
        if added:
            raise PolicyError(
                MSG_APPROVALS_LOOSENED.format(
                    source=source,
                    key="reviewers",
                    earlier=earlier.source,
                    detail=f"adds key {added[0][:16]}",
                )
            )
    return Approvals(required, reviewers, source)


# --------------------------------------------------------------------------- evaluation

GroupKey = tuple[tuple[str, str], ...]


def _key(group: Mapping[str, Any]) -> GroupKey:
    return tuple((str(k), str(v)) for k, v in group.items())


def _group_label(group: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in group.items())


def _interval(value: Any) -> tuple[float, float] | None:
    if isinstance(value, list | tuple) and len(value) == 2 and None not in value:
        return float(value[0]), float(value[1])
    return None


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
        return f"{feature}: " + joiner.join(_group_label(g) for g in self.groups)

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


@dataclass
class _View:
    """The numbers evaluation reads, indexed: from a result, or a mitigation's numbers."""

    groupings: list[str]
    min_group_size: int
    groups: dict[str, dict[GroupKey, dict[str, str]]]
    sizes: dict[str, dict[GroupKey, int]]
    values: dict[str, dict[str, dict[GroupKey, float | None]]]
    disparities: dict[tuple[str, str], list[Mapping[str, Any]]]
    headline: dict[tuple[str, str], Mapping[str, Any]]


def _view(
    result: Mapping[str, Any],
    *,
    disparities: Sequence[Mapping[str, Any]] | None = None,
    headline: Sequence[Mapping[str, Any]] | None = None,
) -> _View:
    """Index ``result``; with ``disparities``/``headline`` (a mitigation's), take group values
    from those rows and only the group sizes from the result."""
    audit = result.get("audit") or {}
    by_group = (result.get("metrics") or {}).get("by_group") or []
    groupings = list(audit.get("groupings") or dict.fromkeys(r["feature"] for r in by_group))
    view = _View(
        groupings=groupings,
        min_group_size=int(audit.get("min_group_size") or 0),
        groups={},
        sizes={},
        values={},
        disparities={},
        headline={},
    )
    for row in by_group:
        key = _key(row["group"])
        view.groups.setdefault(row["feature"], {})[key] = dict(row["group"])
        view.sizes.setdefault(row["feature"], {})[key] = int(row["count"])
        if disparities is None:
            for metric, value in (row.get("metrics") or {}).items():
                view.values.setdefault(row["feature"], {}).setdefault(metric, {})[key] = value
    rows = (result.get("disparities") or []) if disparities is None else disparities
    for d in rows:
        view.disparities.setdefault((d["feature"], d["metric"]), []).append(d)
        if disparities is not None:
            metric_values = view.values.setdefault(d["feature"], {}).setdefault(d["metric"], {})
            metric_values[_key(d["group"])] = d.get("value")
            metric_values[_key(d["reference"])] = d.get("reference_value")
    for h in (result.get("headline") or []) if headline is None else headline:
        view.headline[(h["feature"], h["metric"])] = h
    return view


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
    text = f"interval [{low:.4g}, {high:.4g}]"
    if _meets(low, rule) and _meets(high, rule):
        return "pass", f"{text} is wholly {rule.bound_text()}"
    return rule.severity, f"{text} is not wholly {rule.bound_text()}"


def _between(
    values: Mapping[GroupKey, float | None], kind: str
) -> tuple[float | None, list[GroupKey]]:
    """Return fairlearn's between-groups value (max - min or min / max) and the two groups."""
    defined = [(v, k) for k, v in values.items() if v is not None and not math.isnan(v)]
    if len(defined) < 2:
        return None, []
    low_value, low_key = min(defined, key=lambda pair: pair[0])
    high_value, high_key = max(defined, key=lambda pair: pair[0])
    if kind == "difference":
        return high_value - low_value, [low_key, high_key]
    return (low_value / high_value if high_value != 0 else None), [low_key, high_key]


def _small_reason(view: _View, feature: str, key: GroupKey, minimum: int) -> str:
    return REASON_SMALL_GROUP.format(
        label=_group_label(view.groups[feature][key]),
        count=view.sizes[feature][key],
        minimum=minimum,
    )


def _between_outcome(rule: Rule, view: _View, feature: str, minimum: int) -> Outcome:
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
        candidates.append(_between(eligible, kind))
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
        interval = _interval(entry["ci"])
    groups = tuple(view.groups[feature][k] for k in keys)
    excluded_groups = tuple(view.groups[feature][k] for k in excluded)
    if observed is None and not keys:
        return Outcome(
            feature, groups, None, None, NOT_EVALUABLE,
            REASON_TOO_FEW_GROUPS.format(minimum=minimum), excluded_groups,
        )  # fmt: skip
    status, reason = _judge(rule, observed, interval, interval_reason=interval_reason)
    return Outcome(feature, groups, observed, interval, status, reason, excluded_groups)


def _reference_outcomes(rule: Rule, view: _View, feature: str, minimum: int) -> list[Outcome]:
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
        small = [k for k in (_key(group), _key(reference)) if sizes.get(k, minimum) < minimum]
        if small:
            reason = _small_reason(view, feature, small[0], minimum)
            outcomes.append(
                Outcome(feature, (group, reference), observed, None, NOT_EVALUABLE, reason)
            )
            continue
        interval = _interval(row.get(ci_key))
        missing = REASON_NO_INTERVALS if ci_key not in row else REASON_NO_INTERVAL
        status, reason = _judge(rule, observed, interval, interval_reason=missing)
        outcomes.append(Outcome(feature, (group, reference), observed, interval, status, reason))
    return outcomes


def _evaluate_rule(rule: Rule, view: _View) -> RuleEvaluation:
    minimum = rule.min_group_size if rule.min_group_size is not None else view.min_group_size
    features = [rule.feature] if rule.feature is not None else view.groupings
    outcomes: list[Outcome] = []
    for feature in features:
        if feature not in view.groupings:
            reason = REASON_NO_FEATURE.format(
                feature=feature, groupings=", ".join(view.groupings) or "none"
            )
            outcomes.append(Outcome(feature, (), None, None, NOT_EVALUABLE, reason))
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
    numbers; group sizes come from the audit's ``by_group``.
    """
    mode: NotEvaluable = not_evaluable or policy.not_evaluable
    if mode not in ("warn", "fail"):
        raise ValueError(f"not_evaluable must be 'warn' or 'fail', not {mode!r}")
    view = _view(result)
    rules = tuple(_evaluate_rule(rule, view) for rule in policy.rules)
    mitigations = []
    for mitigation in result.get("mitigations") or []:
        if mitigation.get("status", "ok") != "ok" or not (
            mitigation.get("headline") or mitigation.get("disparities")
        ):
            continue
        mitigated = _view(
            result,
            disparities=mitigation.get("disparities") or [],
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
                + "; ".join(f"{_group_label(r['group'])} ({r['count']})" for r in small),
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


# --------------------------------------------------------------------------- reviews


def review_extra(decision: str, comment: str = "") -> dict[str, Any]:
    """Return the ``extra`` predicate fields of a review signature (role ``reviewer``)."""
    if decision not in DECISIONS:
        raise PolicyError(MSG_BAD_DECISION.format(value=decision))
    return {"review": {"decision": decision, "comment": comment}}


@dataclass(frozen=True)
class ApprovalStatus:
    """Whether a verified report carries the approvals a policy requires."""

    required: int
    approved_by: tuple[str, ...]
    rejected_by: tuple[str, ...]
    reviewers: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Return True if enough listed reviewers approved and none rejected."""
        return len(self.approved_by) >= self.required and not self.rejected_by

    def describe(self) -> str:
        """Return a one-line summary for ``fairaudit verify --policy``."""
        approved = ", ".join(k[:16] for k in self.approved_by) or "none"
        if self.required:
            line = f"{len(self.approved_by)} of {self.required} required approval(s) ({approved})"
        else:
            line = f"the policy requires none; approved by: {approved}"
        if self.rejected_by:
            line += "; rejected by " + ", ".join(k[:16] for k in self.rejected_by)
        return f"Approvals {'met' if self.ok else 'NOT met'}: {line}."

    def to_dict(self) -> dict[str, Any]:
        """Return ``{required, approved_by, rejected_by, reviewers, ok}``."""
        return {
            "required": self.required,
            "approved_by": list(self.approved_by),
            "rejected_by": list(self.rejected_by),
            "reviewers": list(self.reviewers),
            "ok": self.ok,
        }


def check_approvals(summary: VerificationSummary, policy: Policy) -> ApprovalStatus:
    """Return which required approvals a verified report has.

    A review counts if its signer's role is ``reviewer``, its ``review.decision`` is
    ``approve`` and, when the policy lists reviewers, its key is listed; a rejection by a
    counted reviewer means the report is not approved. Distinct keys count once.
    """
    approvals = policy.approvals
    required = approvals.required if approvals is not None else 0
    listed = approvals.reviewers if approvals is not None else ()
    approved: dict[str, None] = {}
    rejected: dict[str, None] = {}
    for signer in summary.signers:
        review = signer.extra.get("review")
        if signer.role != REVIEWER_ROLE or not isinstance(review, Mapping):
            continue
        if listed and signer.key_id not in listed:
            continue
        decision = review.get("decision")
        if decision == "approve":
            approved[signer.key_id] = None
        elif decision == "reject":
            rejected[signer.key_id] = None
    return ApprovalStatus(required, tuple(approved), tuple(rejected), listed)
