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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fairaudit.display import display_text, group_text, worse_off_entries, worse_off_text
from fairaudit.outputs._text import bound_text
from fairaudit.paths import atomic_write_bytes
from fairaudit.policy import MSG_BAD_FAIL_ON, NOT_EVALUABLE

__all__ = ["junit_xml", "write_junit"]

SUITE_NAME = "fairaudit policy"

# Characters XML 1.0 forbids even escaped; group values come from the data, so replace them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    # CI pages show these names: bidi and C1 controls become visible escapes too.
    return display_text(_NOT_XML.sub("\ufffd", text))


def _case_name(rule: Mapping[str, Any], outcome: Mapping[str, Any]) -> str:
    feature = outcome["feature"] if outcome["feature"] is not None else "(no feature)"
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
    if outcome.get("excluded"):
        left_out = "; ".join(group_text(g) for g in outcome["excluded"])
        lines.append(f"left out (too few rows): {left_out}")
    if rule.get("description"):
        lines.append(f"description: {rule['description']}")
    return "\n".join(lines)


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
    if fail_on not in ("fail", "warn"):
        raise ValueError(MSG_BAD_FAIL_ON.format(value=fail_on))
    suite = ET.Element("testsuite", name=SUITE_NAME)
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="verdict", value=policy["verdict"])
    for layer in policy["layers"]:
        ET.SubElement(
            properties,
            "property",
            name="policy",
            value=_xml(f"{layer['source']} {layer['sha256']}"),
        )
    for entry in worse_off_entries(summary):
        ET.SubElement(properties, "property", name="worse_off", value=_xml(worse_off_text(entry)))
    counts = {"tests": 0, "failures": 0, "skipped": 0}
    for rule in policy["rules"]:
        for outcome in rule["outcomes"]:
            counts["tests"] += 1
            case = ET.SubElement(
                suite,
                "testcase",
                classname=_xml(f"fairaudit.policy.{rule['id']}"),
                name=_xml(_case_name(rule, outcome)),
            )
            details = _xml(_details(rule, outcome))
            message = _xml(f"{rule['id']}: {outcome['reason']}")
            status = outcome["status"]
            failed = (
                status == "fail"
                or (status == "warn" and fail_on == "warn")
                or (status == NOT_EVALUABLE and policy["not_evaluable"] == "fail")
            )
            if failed:
                counts["failures"] += 1
                failure = ET.SubElement(case, "failure", message=message, type=status)
                failure.text = details
            elif status == NOT_EVALUABLE:
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=message)
                ET.SubElement(case, "system-out").text = details
            elif status == "warn":
                ET.SubElement(case, "system-out").text = f"WARNING: {message}\n{details}"
    for name, value in counts.items():
        suite.set(name, str(value))
    suite.set("errors", "0")
    root = ET.Element("testsuites", name="fairaudit")
    for name in ("tests", "failures", "skipped"):
        root.set(name, suite.get(name, "0"))
    root.set("errors", "0")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(
    policy: Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    fail_on: str = "fail",
    summary: Mapping[str, Any] | None = None,
) -> None:
    """Write the policy evaluation's JUnit XML to ``path`` atomically."""
    atomic_write_bytes(Path(path), junit_xml(policy, fail_on=fail_on, summary=summary))
