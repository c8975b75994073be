"""A monitor run's outputs: the JSON document, its page, its signature, ledger entry and JUnit.

The document is rebuilt from the stored windows on every run, so a rerun over the same
windows writes the same JSON (and, with ``SOURCE_DATE_EPOCH`` fixed, the same bytes). Its
``audit.id`` is the SHA-256 of its canonical JSON (with an empty id), as the other reports'.
The page is signed like ``fairaudit run``'s (``publish.write_signed``) and the run is
recorded in the ledger as an entry of kind ``"monitor"``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import rfc8785

__all__ = [
    "MONITOR_SCHEMA_VERSION",
    "monitor_document",
    "monitor_schema_path",
    "publish_monitor",
    "write_monitor_junit",
]

#: The version of ``monitor-report.schema.json`` (beside this module) the document follows.
MONITOR_SCHEMA_VERSION = "1.2.0"


def monitor_schema_path() -> Path:
    """Return the path of the JSON schema of the monitor document."""
    return Path(__file__).resolve().parent / "monitor-report.schema.json"


def monitor_document(
    name: str | None,
    baseline: Any,
    settings: Any,
    windows: Sequence[Any],
    analysis: Mapping[str, Any],
    read: Mapping[str, Any],
) -> dict[str, Any]:
    """Return the run's JSON document (without its id and supersedes, set when published).

    ``read`` is the file this run read (sha256, rows, file_name): the signed lineage.
    """
    from fairaudit._version import __version__
    from fairaudit.monitor._baseline import baseline_counts
    from fairaudit.runtime import reproducible_time

    audit = baseline.results.get("audit", {})
    return {
        "kind": "monitor",
        "schema_version": MONITOR_SCHEMA_VERSION,
        "tool": {"name": "fairaudit", "version": __version__},
        "audit": {"id": "", "name": name, "created_at": reproducible_time(), "supersedes": None},
        "baseline": _baseline_json(baseline, settings)
        if not baseline.signed
        else {
            "audit_id": baseline.audit_id,
            "name": audit.get("name"),
            "page_sha256": baseline.page_sha256,
            "signers": list(baseline.signers),
            "counts": baseline_counts(baseline),
        },
        "settings": {
            **settings.to_json(),
            "tests": analysis["tests"],
            "alpha_per_test": analysis["alpha_per_test"],
        },
        "lineage": {"data": dict(read), "model": None},
        "windows": [
            {
                "seq": w.seq,
                "label": w.label,
                "rows": w.rows,
                "files": list(w.files),
                "recorded_at": w.recorded_at,
                "labels_pending": w.pending,
            }
            for w in windows
        ],
        "alarms": analysis["alarms"],
        "unmonitored": analysis["unmonitored"],
        "series": analysis["series"],
        "headline": None,
        "verdict": "fail" if analysis["alarms"] else "pass",
    }


def _baseline_json(baseline: Any, settings: Any) -> dict[str, Any]:
    """Return the document's baseline for a baseline taken from the data (unsigned)."""
    return {
        "source": "windows",
        "signed": False,
        "windows": settings.baseline_windows,
        "columns": dict(baseline.results["lineage"]["config"]),
    }


def _identified(document: dict[str, Any], supersedes: str | None) -> dict[str, Any]:
    out = {**document, "audit": {**document["audit"], "id": "", "supersedes": supersedes}}
    out["audit"]["id"] = hashlib.sha256(rfc8785.dumps(out)).hexdigest()
    return out


def render_monitor_html(document: Mapping[str, Any]) -> str:
    """Return the monitor page: one self-contained HTML file, its JSON embedded once."""
    from fairaudit.monitor._chart import charts
    from fairaudit.outputs import embedded_json, template_environment

    context = {
        "result": document,
        "charts": charts(document["series"], len(document["windows"])),
        "data_json": embedded_json(dict(document)),
    }
    return template_environment().get_template("monitor.html").render(report=context)


def publish_monitor(
    document: dict[str, Any],
    output: Path,
    *,
    sign_key: Any = None,
    ledger: Path | None = None,
) -> dict[str, Any]:
    """Write the page and its JSON (signed with ``sign_key``) and record the run in ``ledger``.

    Returns the final document (id and supersedes filled). The ledger entry's supersedes is
    the latest monitor run of the same name.
    """
    from fairaudit.provenance import append_rendered, file_sha256
    from fairaudit.publish import write_signed
    from fairaudit.result import json_text

    json_path = output.with_suffix(".json")

    def write(supersedes: str | None) -> dict[str, Any]:
        final = _identified(document, supersedes)
        text = (json_text(final) + "\n").encode("utf-8")
        write_signed(output, render_monitor_html(final), json_path, text, sign_key)
        return final

    if ledger is None:
        return write(None)
    written: list[dict[str, Any]] = []

    def render(supersedes: str | None) -> tuple[dict[str, Any], str]:
        written[:] = [write(supersedes)]
        final = written[0]
        entry = {
            "kind": "monitor",
            "audit": final["audit"],
            "lineage": final["lineage"],
            "verdict": final["verdict"],
        }
        return entry, file_sha256(output)

    name = document["audit"]["name"]
    append_rendered(ledger, name, render, kind="monitor", signing_key=sign_key)
    return written[0]


def write_monitor_junit(document: Mapping[str, Any], path: Path) -> None:
    """Write JUnit XML: one test case per watched (grouping, group, rate), failed by an alarm."""
    from xml.etree import ElementTree as ET

    from fairaudit.outputs._junit import xml_text  # the audit's JUnit text rule
    from fairaudit.paths import atomic_write_bytes

    suite = ET.Element("testsuite", name="fairaudit monitor")
    failures = 0
    for entry in document["series"]:
        name = f"{entry['grouping']}: {entry['group_label']} vs {entry['reference_label']}"
        case = ET.SubElement(
            suite, "testcase", classname="monitor", name=xml_text(f"{name}: {entry['metric']}")
        )
        for alarm in entry["alarms"]:
            failures += 1
            failure = ET.SubElement(case, "failure", message=xml_text(alarm_line(alarm)))
            failure.text = xml_text(alarm_line(alarm))
    suite.set("tests", str(len(document["series"])))
    suite.set("failures", str(failures))
    body = ET.tostring(suite, encoding="utf-8", xml_declaration=True)
    atomic_write_bytes(path, body + b"\n")


def alarm_line(alarm: Mapping[str, Any]) -> str:
    """Return the console's line for an alarm: window, grouping, group, metric, value, bound.

    Names from the data (window labels, groupings, groups) are escaped for a terminal
    (``display.terminal_text``): a newline in a group's name cannot forge a second line."""
    from fairaudit.display import terminal_text

    def number(value: Any) -> str:
        return "undefined" if value is None else f"{value:.3f}"

    text = {k: terminal_text(alarm[k]) for k in _NAMES}
    side = "below" if alarm["high"] is not None and alarm["high"] < alarm["bound"] else "above"
    return (
        f"ALARM window {text['window']} ({alarm['rule']}): {text['grouping']} "
        f"{text['group_label']} vs {text['reference_label']}, {alarm['metric']} ratio "
        f"{number(alarm['estimate'])} [{number(alarm['low'])}, {number(alarm['high'])}] "
        f"{side} {number(alarm['bound'])} (windows {text['span_start']}..{text['window']})"
    )


#: The alarm's values that come from the data (escaped on the console).
_NAMES = ("window", "grouping", "group_label", "reference_label", "span_start")
