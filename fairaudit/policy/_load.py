"""Loading a policy: TOML layers and presets, validated and merged into one Policy."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from fairaudit.paths import parse_toml, read_regular_bytes
from fairaudit.policy._approvals import (
    MSG_BAD_SETTING,
    MSG_UNKNOWN_TOP_KEY,
    merge_approvals,
)
from fairaudit.policy._model import (
    BETWEEN_GROUPS_METRICS,
    DATA_RULE_COMPARES,
    EVIDENCE_ORDER,
    FAVORABLE_METRICS,
    GROUP_METRICS,
    MULTICLASS_RULE_METRICS,
    PRESET_PREFIX,
    PRESETS,
    REGRESSION_RULE_COMPARES,
    RULE_METRICS,
    TASK_RULE_COMPARES,
    Approvals,
    NotEvaluable,
    Policy,
    PolicyError,
    PolicyLayer,
    Rule,
)

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
    "class",
)
#: ``monitor``: the settings of ``fairaudit monitor`` (checked by fairaudit.monitor, which
#: reads the same file); a model or data audit ignores the table.
_TOP_KEYS = ("name", "description", "not_evaluable", "rule", "approvals", "monitor")
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@/-]*")

# Messages: every one names the file and, where there is one, the rule and the key.
MSG_UNREADABLE = "cannot read policy file {source}: {detail}"
MSG_BAD_TOML = "policy file {source} is not valid TOML: {detail}"
MSG_UNKNOWN_PRESET = "unknown policy preset {name!r}; the presets are: {presets}"
MSG_UNKNOWN_KEY = "{source}: rule {rule}: unknown key {key!r}; allowed keys: {allowed}"
MSG_BAD_METRIC = (
    "{source}: rule {rule}: key 'metric': unknown metric {value!r}; use a between-groups metric "
    "({headline}) or <group metric>_difference / <group metric>_ratio with a group metric "
    "among: {group}; or, for a data audit: " + ", ".join(DATA_RULE_COMPARES) + "; or, for a "
    "regression audit: " + ", ".join(REGRESSION_RULE_COMPARES) + "; or, for a multiclass audit, "
    "also: " + ", ".join(sorted(MULTICLASS_RULE_METRICS)) + " (and class = ... on a model metric)"
)
MSG_BAD_SEVERITY = "{source}: rule {rule}: key 'severity' must be 'fail' or 'warn', not {value!r}"
MSG_BAD_EVIDENCE = (
    "{source}: rule {rule}: key 'evidence' must be 'point', 'interval' or 'beyond', not {value!r}"
)
MSG_BEYOND_MODEL = (
    "{source}: rule {rule}: key 'evidence': 'beyond' is for data-audit rules; a model-audit "
    "rule takes 'point' or 'interval'"
)
MSG_DATA_COMPARE = (
    "{source}: rule {rule}: key 'compare': {metric!r} is a {kind}-audit metric whose rows "
    "compare with: {allowed}; not {value!r}"
)
MSG_DATA_GROUP_SIZE = (
    "{source}: rule {rule}: key 'min_group_size' is for model-audit rules; a data audit's "
    "rows carry no group sizes to judge it by (use evidence = 'interval' to judge small "
    "groups by their uncertainty)"
)
MSG_BAD_COMPARE = (
    "{source}: rule {rule}: key 'compare' must be 'reference' or 'between_groups', not {value!r}"
)
MSG_HEADLINE_COMPARE = (
    "{source}: rule {rule}: key 'compare': {metric!r} is always "
    'between groups; remove compare = "reference"'
)
MSG_BAD_TYPE = "{source}: rule {rule}: key {key!r} must be {expected}, not {value!r}"
MSG_CLASS_KIND = (
    "{source}: rule {rule}: key 'class' is for multiclass rules; {metric!r} is a "
    "{kind}-audit metric"
)
MSG_CLASS_FAVORABLE = (
    "{source}: rule {rule}: key 'class': {metric!r} judges the union of the favourable "
    "classes (--favorable-label), not one class; remove 'class'"
)
MSG_CLASS_MACRO = (
    "{source}: rule {rule}: key 'class': f1_macro is a mean over the classes, not one "
    "class's metric; use f1_difference or f1_ratio for one class's F1"
)
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


# --------------------------------------------------------------------------- loading


def preset_path(name: str) -> Path:
    """Return the path of the preset policy ``name`` shipped in ``fairaudit/policies``."""
    if name not in PRESETS:
        raise PolicyError(MSG_UNKNOWN_PRESET.format(name=name, presets=", ".join(PRESETS)))
    return Path(__file__).resolve().parent / "presets" / f"{name}.toml"


def _read_source(source: str) -> tuple[bytes, Path]:
    path = preset_path(source[len(PRESET_PREFIX) :]) if source.startswith(PRESET_PREFIX) else None
    path = path or Path(source)
    try:
        return read_regular_bytes(path), path
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
        document = parse_toml(content, f"policy file {source}", error=PolicyError)
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
            if isinstance(entry, dict) and entry.get("scope") == "window":
                continue  # a window rule is judged by fairaudit monitor (monitor._settings)
            _apply_rule_entry(rules, entry, source=source, index=index, seen=seen)
        if "approvals" in document:
            approvals = merge_approvals(approvals, document["approvals"], source, path)
    return Policy(tuple(layers), tuple(rules.values()), approvals, not_evaluable)


def _label(entry: Mapping[str, Any], index: int) -> str:
    """Return how messages name a rule before it has an id: ``'id'`` or ``#2 (metric)``."""
    explicit, metric = entry.get("id"), entry.get("metric")
    if isinstance(explicit, str):
        return repr(explicit)
    return f"#{index} ({metric})" if isinstance(metric, str) else f"#{index}"


def default_compare(metric: str) -> str:
    """Return the comparison a rule on ``metric`` makes when it names none."""
    if metric in TASK_RULE_COMPARES:
        return TASK_RULE_COMPARES[metric][0]
    return "between_groups" if metric in BETWEEN_GROUPS_METRICS else "reference"


def _derived_id(
    metric: str, compare: str, feature: str | None, classes: tuple[str, ...] | None
) -> str:
    parts = [metric]
    if compare != default_compare(metric) and metric not in BETWEEN_GROUPS_METRICS:
        parts.append(compare)
    if classes is not None:
        parts.append("class=" + ",".join(classes))
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
    if "metric" in entry and entry["metric"] not in RULE_METRICS | TASK_RULE_COMPARES.keys():
        raise PolicyError(
            MSG_BAD_METRIC.format(
                source=source,
                rule=rule,
                value=entry["metric"],
                headline=", ".join(BETWEEN_GROUPS_METRICS),
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
    if "class" in entry:
        del checked["class"]
        checked["classes"] = _classes(entry["class"], bad)
    size = entry.get("min_group_size")
    if "min_group_size" in entry and (
        isinstance(size, bool) or not isinstance(size, int) or size < 0
    ):
        raise bad("min_group_size", "a whole number >= 0")
    if "severity" in entry and entry["severity"] not in ("fail", "warn"):
        raise PolicyError(
            MSG_BAD_SEVERITY.format(source=source, rule=rule, value=entry["severity"])
        )
    if "evidence" in entry and entry["evidence"] not in EVIDENCE_ORDER:
        raise PolicyError(
            MSG_BAD_EVIDENCE.format(source=source, rule=rule, value=entry["evidence"])
        )
    return checked


def _classes(value: Any, bad: Any) -> tuple[str, ...]:
    """Return a rule's ``class`` (a class label, or a list of them) as text; a whole number
    names the class it prints as (``class = 2`` is class ``"2"``)."""
    values = value if isinstance(value, list) else [value]
    texts = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, str | int) or v == "":
            raise bad("class", "a class label (text or a whole number) or a non-empty list of them")
        texts.append(str(v))
    if not texts:
        raise bad("class", "a class label (text or a whole number) or a non-empty list of them")
    return tuple(dict.fromkeys(texts))


def _check_kind(rule: Rule, *, source: str, rule_label: str) -> None:
    """Raise PolicyError if the rule's keys do not fit the kind of report its metric is in."""
    label = {"source": source, "rule": rule_label}
    if rule.classes is not None:
        if rule.metric in TASK_RULE_COMPARES:
            kind = "data" if rule.metric in DATA_RULE_COMPARES else "regression"
            raise PolicyError(MSG_CLASS_KIND.format(**label, metric=rule.metric, kind=kind))
        if rule.metric in FAVORABLE_METRICS:
            raise PolicyError(MSG_CLASS_FAVORABLE.format(**label, metric=rule.metric))
        if rule.metric in MULTICLASS_RULE_METRICS:
            raise PolicyError(MSG_CLASS_MACRO.format(**label))
    if rule.applies_to == "model" and rule.compare not in ("reference", "between_groups"):
        raise PolicyError(MSG_BAD_COMPARE.format(**label, value=rule.compare))
    allowed = TASK_RULE_COMPARES.get(rule.metric, ("reference", "between_groups"))
    if rule.compare not in allowed:
        text = ", ".join(allowed)
        raise PolicyError(
            MSG_DATA_COMPARE.format(
                **label, kind=rule.applies_to, metric=rule.metric, allowed=text, value=rule.compare
            )
        )
    if rule.applies_to != "data":  # model and regression rules: judged on a result's rows
        if rule.evidence == "beyond":
            raise PolicyError(MSG_BEYOND_MODEL.format(**label))
        return
    if rule.min_group_size is not None:
        raise PolicyError(MSG_DATA_GROUP_SIZE.format(**label))


def _apply_rule_entry(
    rules: dict[str, Rule], entry: Mapping[str, Any], *, source: str, index: int, seen: set[str]
) -> None:
    """Add, change or remove one rule in ``rules`` (ordered by first definition)."""
    rule_label = _label(entry, index)
    checked = _validate_entry(entry, source=source, rule=rule_label)
    rule_id = checked.get("id")
    if rule_id is None and "metric" in checked:
        metric = checked["metric"]
        compare = checked.get("compare", default_compare(metric))
        rule_id = _derived_id(metric, compare, checked.get("feature"), checked.get("classes"))
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
    _check_kind(rule, source=source, rule_label=rule_label)
    if rule.min is None and rule.max is None:
        raise PolicyError(MSG_NO_BOUND.format(source=source, rule=rule_label))
    if rule.min is not None and rule.max is not None and rule.min > rule.max:
        raise PolicyError(
            MSG_MIN_GT_MAX.format(source=source, rule=rule_label, min=rule.min, max=rule.max)
        )
    rules[rule_id] = rule


def _new_rule(rule_id: str, checked: Mapping[str, Any], *, source: str, rule_label: str) -> Rule:
    metric = checked["metric"]
    headline = metric in BETWEEN_GROUPS_METRICS
    compare = checked.get("compare", default_compare(metric))
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
        classes=checked.get("classes"),
    )


def _override(earlier: Rule, checked: Mapping[str, Any], *, source: str, rule_label: str) -> Rule:
    changes = {k: v for k, v in checked.items() if k not in ("id", "remove")}
    metric = changes.get("metric", earlier.metric)
    if (
        metric in BETWEEN_GROUPS_METRICS
        and changes.get("compare", "between_groups") != "between_groups"
    ):
        raise PolicyError(
            MSG_HEADLINE_COMPARE.format(source=source, rule=rule_label, metric=metric)
        )
    if "metric" in changes and "compare" not in changes:
        allowed = TASK_RULE_COMPARES.get(metric, ("reference", "between_groups"))
        kept = metric not in BETWEEN_GROUPS_METRICS and earlier.compare in allowed
        changes["compare"] = earlier.compare if kept else default_compare(metric)
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

    for key in ("metric", "feature", "compare", "classes"):
        if key in checked and checked[key] != getattr(earlier, key):
            shown = "class" if key == "classes" else key
            raise fail(MSG_LOCKED_CHANGED, shown, getattr(earlier, key), checked[key])
    looser = {
        "min": lambda old, new: old is not None and new < old,
        "max": lambda old, new: old is not None and new > old,
        "severity": lambda old, new: old == "fail" and new == "warn",
        "evidence": lambda old, new: EVIDENCE_ORDER.index(new) < EVIDENCE_ORDER.index(old),
        # A larger minimum leaves more groups out of the rule; an unset one is the audit's.
        "min_group_size": lambda old, new: old is None or new > old,
        "locked": lambda old, new: not new,
    }
    for key, is_looser in looser.items():
        if key in checked and is_looser(getattr(earlier, key), checked[key]):
            raise fail(MSG_LOCKED_LOOSENED, key, getattr(earlier, key), checked[key])
