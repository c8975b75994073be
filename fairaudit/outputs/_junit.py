"""JUnit XML for CI systems: one test case per policy rule and group.

Test cases are named stably across runs (the rule id as class name; the feature, and for
reference comparisons the group, as name), so CI history tracks each check. A failed outcome
is a ``<failure>``; a not-evaluable one is ``<skipped>`` (a ``<failure>`` when the policy
counts not-evaluable outcomes as failures); a warning passes, with the warning in
``<system-out>``, unless ``fail_on = "warn"``, which makes it a ``<failure>``, matching the
exit code of ``fairaudit run``.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fairaudit.display import display_text, group_text, worse_off_entries, worse_off_text
from fairaudit.outputs._text import bound_text
from fairaudit.paths import atomic_write_bytes
from fairaudit.policy import MSG_BAD_FAIL_ON, NOT_EVALUABLE

__all__ = [
    "MSG_NO_DATA_POLICY",
    "NOT_APPLICABLE",
    "data_junit_xml",
    "junit_xml",
    "write_data_junit",
    "write_junit",
    "xml_text",
]

SUITE_NAME = "fairaudit policy"
#: The status of a JUnit case for a rule that cannot apply to the report's kind (skipped).
NOT_APPLICABLE = "not applicable"
MSG_NO_DATA_POLICY = "the data report has no policy section: audit it with a policy (--policy)"

# Characters XML 1.0 forbids even escaped; group values come from the data, so replace them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """Return ``text`` fit for JUnit XML: characters XML 1.0 forbids replaced, controls and
    bidi controls shown as escapes (CI pages show these names; values come from the data)."""
    return display_text(_NOT_XML.sub("\ufffd", text))


def _class_of(rule: Mapping[str, Any], outcome: Mapping[str, Any]) -> Any:
    """Return the class a multiclass rule's outcome judges (one-vs-rest), else None."""
    label = outcome.get("class")
    label = rule.get("class") if label is None else label
    # a rule names its classes as a list (``class = "own"`` or ``["own", "rent"]``)
    return ", ".join(map(str, label)) if isinstance(label, list) else label


def _case_name(rule: Mapping[str, Any], outcome: Mapping[str, Any]) -> str:
    feature = outcome["feature"] if outcome["feature"] is not None else "(no feature)"
    # A multiclass rule is judged class by class: the class names the case.
    label = _class_of(rule, outcome)
    if label is not None:
        feature = f"{feature}, class {label}"
    if rule["compare"] == "between_groups" or not outcome["groups"]:
        return f"{feature} (between groups)" if outcome["groups"] else feature
    return f"{feature}: {group_text(outcome['groups'][0])}"


def _details(rule: Mapping[str, Any], outcome: Mapping[str, Any]) -> str:
    lines = [
        f"rule: {rule['id']} ({rule['metric']}, {bound_text(rule['bound'])}, "
        f"evidence {rule['evidence']})",
        f"layer: {rule['layer']}",
        f"groups: {' vs '.join(group_text(g) for g in outcome['groups']) or '(none)'}",
        f"observed: {outcome['observed']}",
        f"interval: {outcome['interval']}",
        f"status: {outcome['status']}",
        f"reason: {outcome['reason']}",
    ]
    if _class_of(rule, outcome) is not None:
        lines.append(f"class: {_class_of(rule, outcome)}")
    if outcome.get("excluded"):
        left_out = "; ".join(group_text(g) for g in outcome["excluded"])
        lines.append(f"left out (too few rows): {left_out}")
    if rule.get("description"):
        lines.append(f"description: {rule['description']}")
    return "\n".join(lines)


def _status_element(
    case: ET.Element, status: str, message: str, details: str, *, failed: bool
) -> str | None:
    """Add the element of an outcome's status to ``case``; return the count it adds to."""
    if failed:
        failure = ET.SubElement(case, "failure", message=message, type=status)
        failure.text = details
        return "failures"
    if status == NOT_EVALUABLE:
        ET.SubElement(case, "skipped", message=message)
        ET.SubElement(case, "system-out").text = details
        return "skipped"
    if status == "warn":
        ET.SubElement(case, "system-out").text = f"WARNING: {message}\n{details}"
    return None


def _suite(
    policy: Mapping[str, Any],
    cases: Iterable[tuple[str, str, str, str, str]],
    *,
    fail_on: str,
    properties: Iterable[tuple[str, str]] = (),
) -> bytes:
    """Return the JUnit XML of ``cases`` (classname, name, status, message, details).

    A ``fail`` is a failure, and so is a ``warn`` with ``fail_on = "warn"`` and a not-evaluable
    outcome when the policy counts those as failures; another not-evaluable (or a
    ``not applicable``) case is skipped; a warning passes with a note.
    """
    if fail_on not in ("fail", "warn"):
        raise ValueError(MSG_BAD_FAIL_ON.format(value=fail_on))
    suite = ET.Element("testsuite", name=SUITE_NAME)
    listed = ET.SubElement(suite, "properties")
    ET.SubElement(listed, "property", name="verdict", value=policy["verdict"])
    for layer in policy["layers"]:
        value = xml_text(f"{layer['source']} {layer['sha256']}")
        ET.SubElement(listed, "property", name="policy", value=value)
    for name, value in properties:
        ET.SubElement(listed, "property", name=name, value=xml_text(value))
    counts = {"tests": 0, "failures": 0, "skipped": 0}
    for classname, name, status, message, details in cases:
        counts["tests"] += 1
        case = ET.SubElement(suite, "testcase", classname=xml_text(classname), name=xml_text(name))
        failed = (
            status == "fail"
            or (status == "warn" and fail_on == "warn")
            or (status == NOT_EVALUABLE and policy["not_evaluable"] == "fail")
        )
        skipped = NOT_EVALUABLE if status == NOT_APPLICABLE else status
        counted = _status_element(
            case, skipped, xml_text(message), xml_text(details), failed=failed
        )
        if counted is not None:
            counts[counted] += 1
    for key, count in counts.items():
        suite.set(key, str(count))
    suite.set("errors", "0")
    root = ET.Element("testsuites", name="fairaudit")
    for key in ("tests", "failures", "skipped"):
        root.set(key, suite.get(key, "0"))
    root.set("errors", "0")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def junit_xml(
    policy: Mapping[str, Any],
    *,
    fail_on: str = "fail",
    summary: Mapping[str, Any] | None = None,
) -> bytes:
    """Return a policy evaluation (the ``policy`` section of the result JSON) as JUnit XML.

    Reading the JSON form keeps the AuditResult the single source of truth. With the
    result's ``summary``, the groups its banner names as worse off become ``worse_off``
    properties of the suite.
    """
    cases = [
        (
            f"fairaudit.policy.{rule['id']}",
            _case_name(rule, outcome),
            outcome["status"],
            f"{rule['id']}: {outcome['reason']}",
            _details(rule, outcome),
        )
        for rule in policy["rules"]
        for outcome in rule["outcomes"]
    ]
    worse_off = [("worse_off", worse_off_text(e)) for e in worse_off_entries(summary)]
    return _suite(policy, cases, fail_on=fail_on, properties=worse_off)


def _data_details(rule: Mapping[str, Any], outcome: Mapping[str, Any]) -> str:
    lines = [
        f"rule: {rule['id']} ({rule['metric']}, {bound_text(rule['bound'])}, "
        f"evidence {rule['evidence']})",
        f"layer: {rule['layer']}",
    ]
    group, reference = outcome.get("group"), outcome.get("reference")
    if group is not None:
        lines.append(f"group: {group_text(group)}")
    if reference is not None:
        against = "the rest" if reference == "rest" else group_text(reference)
        lines.append(f"against: {against}")
    if outcome.get("column") is not None:
        lines.append(f"column: {outcome['column']}")
    lines += [
        f"value: {outcome['value']}",
        f"observed: {outcome['observed']}",
        f"interval: {outcome['interval']}",
        f"status: {outcome['status']}",
        f"reason: {outcome['reason']}",
    ]
    if rule.get("description"):
        lines.append(f"description: {rule['description']}")
    return "\n".join(lines)


def _data_cases(policy: Mapping[str, Any]) -> list[tuple[str, str, str, str, str]]:
    cases = [
        (
            f"fairaudit.policy.{rule['id']}",
            outcome["name"],
            outcome["status"],
            f"{rule['id']}: {outcome['reason']}",
            _data_details(rule, outcome),
        )
        for rule in policy["rules"]
        for outcome in rule["outcomes"]
    ]
    for rule in policy.get("not_applicable") or []:
        message = f"{rule['id']}: {rule['reason']}"
        details = f"rule: {rule['id']} ({rule['metric']}, {bound_text(rule['bound'])})\n"
        details += f"layer: {rule['layer']}\napplies to: {rule['applies_to']} audits"
        name = f"(not applicable to a data audit: {rule['applies_to']} audit rule)"
        cases.append((f"fairaudit.policy.{rule['id']}", name, NOT_APPLICABLE, message, details))
    return cases


def data_junit_xml(report: Mapping[str, Any], *, fail_on: str = "fail") -> str:
    """Return a data report's policy evaluation (its ``policy`` section) as JUnit XML.

    One test case per rule outcome (named by the rule id and the outcome's ``name``), and
    one skipped case per model-audit rule that cannot apply to a data audit. The suite's
    properties hold the verdict, each policy layer and the data audit's id and data file.
    """
    policy = report.get("policy")
    if not policy:
        raise ValueError(MSG_NO_DATA_POLICY)
    audit = report.get("audit") or {}
    properties = [("report", "data")]
    if audit.get("id"):
        properties.append(("audit", str(audit["id"])))
    if (report.get("data") or {}).get("path") is not None:
        properties.append(("data", str(report["data"]["path"])))
    xml = _suite(policy, _data_cases(policy), fail_on=fail_on, properties=properties)
    return xml.decode("utf-8")


def write_data_junit(
    report: Mapping[str, Any], path: str | os.PathLike[str], *, fail_on: str = "fail"
) -> None:
    """Write the data report's policy evaluation as JUnit XML to ``path`` atomically."""
    atomic_write_bytes(Path(path), data_junit_xml(report, fail_on=fail_on).encode("utf-8"))


def write_junit(
    policy: Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    fail_on: str = "fail",
    summary: Mapping[str, Any] | None = None,
) -> None:
    """Write the policy evaluation's JUnit XML to ``path`` atomically."""
    atomic_write_bytes(Path(path), junit_xml(policy, fail_on=fail_on, summary=summary))
