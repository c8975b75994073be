"""One check that every output of an audit tells the same story of who is worse off.

Issue 14 §2: the HTML banner, the console summary, the JSON ``summary.worse_off``, the
model card and JUnit must name the same groups with the same numbers, and agree with the
policy's four-fifths rule. ``assert_outputs_agree`` is called on every audit the test suite
runs through the ``audit_cli`` and ``sample_audit`` fixtures (tests/conftest.py), so the
agreement is checked on every data set the tests use, not on one sample.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import unescape
from typing import Any
from xml.etree import ElementTree as ET

from fairaudit.display import worse_off_entries, worse_off_text
from fairaudit.outputs import fairness_section, junit_xml
from fairaudit.vocabulary import RATIO_BAND

_NUMBER = re.compile(r"-?\d+\.\d+|undefined")
_WHO_LIST = re.compile(r'<ul class="who">(.*?)</ul>', re.S)
_TAG = re.compile(r"<[^>]+>")


def _numbers(text: str) -> list[str]:
    return _NUMBER.findall(text)


def _expected(entry: Mapping[str, Any]) -> list[str]:
    """Return the numbers a worse-off entry shows: value, best value, ratio."""
    return _numbers(worse_off_text(entry))


def _fixed(value: float | None, digits: int) -> str:
    return "undefined" if value is None else f"{value:.{digits}f}"


def _banner_numbers(entry: Mapping[str, Any]) -> tuple[str, str, str]:
    """Return how the banner writes an entry's numbers (value and best value to 3 places,
    the ratio to 2)."""
    return (
        _fixed(entry["value"], 3),
        _fixed(entry.get("best_value"), 3),
        _fixed(entry["ratio"], 2),
    )


def _check_console(console: str, entries: list[Mapping[str, Any]]) -> None:
    prefix = "  worse off: "
    lines = [line[len(prefix) :] for line in console.splitlines() if line.startswith(prefix)]
    assert len(lines) == len(entries), (lines, entries)
    for line, entry in zip(lines, entries, strict=True):
        assert _numbers(line) == _expected(entry), (line, entry)


def _check_junit(data: Mapping[str, Any], entries: list[Mapping[str, Any]]) -> None:
    root = ET.fromstring(junit_xml(data["policy"], summary=data.get("summary")))
    values = [p.get("value", "") for p in root.iter("property") if p.get("name") == "worse_off"]
    assert [_numbers(v) for v in values] == [_expected(e) for e in entries], values


def _check_card(data: Mapping[str, Any], entries: list[Mapping[str, Any]]) -> None:
    section = fairness_section(data, None)
    if not entries:
        assert "### Who is worse off" not in section
        return
    assert section.count("Who is worse off") == 1, section  # one list, not two stories
    block = section.split("### Who is worse off", 1)[1].split("\n#", 1)[0]
    bullets = [line for line in block.splitlines() if line.startswith("- ")]
    assert [_numbers(b) for b in bullets] == [_expected(e) for e in entries], bullets


def _check_banner(html: str, entries: list[Mapping[str, Any]]) -> None:
    found = _WHO_LIST.findall(html)
    if not entries:
        assert not found, "the banner names groups the summary does not"
        return
    (who,) = found
    text = unescape(_TAG.sub("", who))
    shown = re.findall(r"(-?\d+\.\d{3}|undefined) vs (-?\d+\.\d{3}|undefined) for ", text)
    ratios = re.findall(r"rat(?:io|es) (-?\d+\.\d{2}|undefined)", text)
    expected = [_banner_numbers(e) for e in entries]
    # The banner groups entries by group; compare as multisets of (value, best, ratio).
    assert sorted(zip(*zip(*shown), ratios, strict=False)) == sorted(expected), (text, expected)


def _check_policy(data: Mapping[str, Any], entries: list[Mapping[str, Any]]) -> None:
    """A four-fifths rule on favorable_rate_ratio fails exactly where the banner names a
    selection-rate group, with the same groups and the same number."""
    flagged = {e["feature"]: e for e in entries if e["metric"] == "selection_rate"}
    for rule in (data.get("policy") or {}).get("rules", []):
        bound = rule.get("bound") or {}
        if rule["metric"] != "favorable_rate_ratio" or bound.get("min") != RATIO_BAND[0]:
            continue
        if rule.get("min_group_size") is not None or bound.get("max") is not None:
            continue
        for outcome in rule["outcomes"]:
            feature = outcome["feature"]
            failed = outcome["status"] in ("fail", "warn")
            assert failed == (feature in flagged), (outcome, flagged.get(feature))
            if failed and rule["evidence"] == "point":
                entry = flagged[feature]
                assert outcome["observed"] == entry["ratio"], (outcome, entry)
                assert outcome["groups"] == [entry["group"], entry["best_group"]]


def assert_outputs_agree(data: Mapping[str, Any], html: str, console: str | None) -> None:
    """Assert the banner, console (when shown), card, JUnit and policy agree with the JSON
    ``summary.worse_off`` of one audit."""
    entries = list(worse_off_entries(data.get("summary")))
    _check_banner(html, entries)
    if console is not None:
        _check_console(console, entries)
    # A regression audit's derived outcome (multiclass: the favourable classes' union) has
    # its own worse-off entries: the card lists them and the four-fifths rule judges them.
    summary = data.get("summary") or {}
    derived = summary.get("favorable_outcome") or summary.get("favorable_view")
    view = list(worse_off_entries(derived)) if derived else entries
    _check_card(data, view)
    if data.get("policy"):
        _check_junit(data, entries)
        _check_policy(data, view)
