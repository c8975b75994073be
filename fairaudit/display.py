"""Text from data or files, made safe to show: on a terminal, in HTML and in Markdown.

Model names, group names, feature names, owners and messages come from files that anyone may
have written. Shown as they are, control characters (ESC, BEL, CR ...) could drive a
terminal, and Unicode bidirectional controls could reorder the text a reader sees (a group
name that displays as something else). The rule, in one place:

* C0 and C1 control characters and DEL become a visible escape ``\\x1b``; on a terminal
  every one of them, newline and tab included (one value stays on one line), in HTML and
  Markdown all but tab, newline and carriage return (which render as spaces there);
* the bidi embedding, override and isolate controls U+202A–U+202E and U+2066–U+2069
  become ``<U+202E>`` and the like.

A backslash in the data is left as it is, so ``\\x1b`` may also be literal text: the
escapes are for reading, not for parsing. Only display changes: the JSON outputs keep every
value as it is (they are data), and :func:`terminal_json` keeps it too, as JSON escapes.
HTML escaping itself stays Jinja2's autoescape; Markdown escaping stays in the model cards.

A group is written one way in text, ``feature=value`` pairs (:func:`group_text`); the HTML
report's own label (``sex: female · age: [25, 40)``) is ``outputs.group_label``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "BIDI_CONTROLS",
    "display_text",
    "favorable_outcome_label",
    "favorable_headline_texts",
    "favorable_outcome_texts",
    "favorable_worse_off_texts",
    "group_text",
    "is_adverse",
    "is_regression",
    "ratio_name",
    "regression_headline_texts",
    "terminal_json",
    "terminal_text",
    "worse_off_entries",
    "worse_off_what",
    "worse_off_text",
]

#: Bidi embedding, override and isolate controls (LRE RLE PDF LRO RLO, LRI RLI FSI PDI).
BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))

_CONTROLS = (*range(0x00, 0x20), *range(0x7F, 0xA0))
_WHITESPACE = frozenset("\t\n\r")


def _visible(char: str) -> str:
    code = ord(char)
    return f"<U+{code:04X}>" if char in BIDI_CONTROLS else f"\\x{code:02x}"


def _table(keep: frozenset[str]) -> dict[int, str]:
    chars = [chr(c) for c in _CONTROLS] + sorted(BIDI_CONTROLS)
    return {ord(c): _visible(c) for c in chars if c not in keep}


_TERMINAL = _table(frozenset())
_TERMINAL_LINES = _table(frozenset("\n"))
_DISPLAY = _table(_WHITESPACE)
_UNSAFE = frozenset(chr(c) for c in _TERMINAL)
# Inside JSON strings json.dumps escapes C0 already; outside them only its own white space.
_JSON_UNSAFE = frozenset(c for c in _UNSAFE if ord(c) >= 0x20)


def terminal_text(value: object, *, keep_newlines: bool = False) -> str:
    """Return ``str(value)`` with every control character and bidi control shown as an escape.

    For any value from a file or data printed to a terminal. ``keep_newlines`` keeps
    ``\\n`` for a block of lines built by the program (a value's own newline is escaped
    only when the value is escaped on its own, before it is put in the block).
    """
    text = str(value)
    if _UNSAFE.isdisjoint(text):
        return text
    return text.translate(_TERMINAL_LINES if keep_newlines else _TERMINAL)


def display_text(value: object) -> str:
    """Return ``str(value)`` for HTML or Markdown: controls and bidi controls shown as escapes.

    Tab, newline and carriage return stay (HTML and Markdown show them as white space);
    escape the result for its format afterwards (Jinja2 autoescape, ``_card_markdown._md``).
    """
    text = str(value)
    if _UNSAFE.isdisjoint(text):
        return text
    return text.translate(_DISPLAY)


def terminal_json(data: Any, **dumps: Any) -> str:
    """Return ``json.dumps(data, ensure_ascii=False, **dumps)`` safe to print.

    The JSON means the same data: C1 controls, DEL and bidi controls are written as
    ``\\uXXXX`` escapes (json already escapes C0 controls); other text stays readable.
    """
    text = json.dumps(data, ensure_ascii=False, **dumps)
    if _JSON_UNSAFE.isdisjoint(text):
        return text
    return "".join(f"\\u{ord(c):04x}" if c in _JSON_UNSAFE else c for c in text)


def group_text(group: Mapping[str, Any]) -> str:
    """Return a group as ``feature=value`` pairs, e.g. ``sex=female, age=30-40``.

    Only the format: show the result with :func:`terminal_text` or :func:`display_text`.
    """
    return ", ".join(f"{k}={v}" for k, v in group.items())


def _number(value: Any) -> str:
    return "undefined" if value is None else f"{float(value):.3f}"


def worse_off_entries(summary: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """Return the result's ``summary.worse_off`` entries whose ratio is below the band.

    These are the groups the report's banner names: the console, the model card and JUnit
    show the same ones, read from the result, never recomputed.
    """
    return [e for e in (summary or {}).get("worse_off") or [] if e.get("below_band")]


#: With an adverse positive prediction, what the favourable-outcome rate of a worse-off
#: metric is called: the ratio of these is the entry's ``ratio``.
_FAVORABLE_RATE_NAMES = {
    "selection_rate": "not-flagged rates",
    "false_positive_rate": "true negative rates",
}


def is_adverse(entry: Mapping[str, Any]) -> bool:
    """Return whether a worse-off entry reads with a positive prediction as adverse."""
    return entry.get("positive_prediction") == "adverse"


def ratio_name(entry: Mapping[str, Any]) -> str:
    """Return what a worse-off entry's ratio compares: ``ratio`` or, with an adverse positive
    prediction, e.g. ``ratio of not-flagged rates``."""
    if not is_adverse(entry):
        return "ratio"
    return "ratio of " + _FAVORABLE_RATE_NAMES.get(entry["metric"], "favourable-outcome rates")


def worse_off_what(entry: Mapping[str, Any]) -> str:
    """Return why an entry's group is worse off, e.g. ``lowest selection rate`` or, with an
    adverse positive prediction, ``highest selection rate (flagged most often)``."""
    name = entry["metric"].replace("_", " ")
    if not is_adverse(entry):
        return f"lowest {name}"
    if entry["metric"] == "selection_rate":
        return f"highest {name} (flagged most often)"
    return f"highest {name} (flagged most often with a favourable label)"


def worse_off_text(entry: Mapping[str, Any]) -> str:
    """Return one ``summary.worse_off`` entry as one line (format only, like group_text)."""
    return (
        f"{group_text(entry['group'])}: {entry['metric']} {_number(entry['value'])} vs "
        f"{_number(entry.get('best_value', entry['reference_value']))} for "
        f"{group_text(entry.get('best_group', entry['reference_group']))} "
        f"({'flagged more often; ' if is_adverse(entry) else ''}"
        f"{ratio_name(entry)} {_number(entry['ratio'])})"
    )


_REGRESSION_HEADLINE = {
    "ks_statistic": "largest KS distance between two groups' predictions",
    "max_group_mae_ratio": "worst group's MAE over the overall MAE",
    "max_group_rmse_ratio": "worst group's RMSE over the overall RMSE",
}


def is_regression(data: Mapping[str, Any]) -> bool:
    """Return whether ``data`` is a regression audit's result (``audit.task``)."""
    return (data.get("audit") or {}).get("task") == "regression"


def regression_headline_texts(data: Mapping[str, Any]) -> list[str]:
    """Return one plain sentence per regression headline entry, the worst group named, e.g.
    ``sex: worst group's MAE over the overall MAE = 1.028 (sex=female)``. Unescaped: the
    caller escapes for its medium (terminal, Markdown, HTML)."""
    texts = []
    for entry in data.get("headline") or []:
        phrase = _REGRESSION_HEADLINE.get(str(entry.get("metric")))
        if phrase is None:
            continue
        value = entry.get("value")
        text = f"{entry['feature']}: {phrase} = "
        text += "undefined" if value is None else f"{float(value):.3f}"
        if entry.get("group"):
            text += f" ({group_text(entry['group'])})"
        left_out = _left_out(entry.get("excluded"))
        texts.append(text + (f"; left out (too few rows): {left_out}" if left_out else ""))
    return texts


#: The derived outcome's headline metrics a one-line summary gives, per grouping (those
#: ``fairaudit run`` prints for a binary audit).
_FAVORABLE_HEADLINE = ("demographic_parity_ratio", "equalized_odds_difference")


def favorable_outcome_label(data: Mapping[str, Any]) -> str | None:
    """Return how a regression result's favourable-outcome view is labelled, e.g.
    ``derived outcome: prediction > 150``; None without a threshold (any other result).
    Unescaped: the outcome text is read from the result."""
    section = (data.get("summary") or {}).get("favorable_outcome")
    if not isinstance(section, Mapping) or section.get("outcome") is None:
        return None
    return f"derived outcome: {section['outcome']}"


def _left_out(entries: Any) -> str:
    """Return a headline entry's excluded groups as text, each once (a group left out of
    two rates is named once), e.g. ``sex=1, age=< 40; sex=2, age=< 40``."""
    return "; ".join(dict.fromkeys(group_text(e["group"]) for e in entries or []))


def favorable_headline_texts(data: Mapping[str, Any]) -> list[str]:
    """Return a regression result's derived outcome per grouping as one plain sentence each,
    starting with its label: the demographic parity ratio and equalized odds difference
    (fairlearn's, on the derived outcome), groups left out of a metric named. Empty without
    a threshold. Unescaped: the caller escapes for its medium."""
    label = favorable_outcome_label(data)
    if label is None:
        return []
    by_feature: dict[str, list[Mapping[str, Any]]] = {}
    for entry in data["summary"]["favorable_outcome"].get("headline") or []:
        if entry.get("metric") in _FAVORABLE_HEADLINE:
            by_feature.setdefault(entry["feature"], []).append(entry)
    texts = []
    for feature, entries in by_feature.items():
        parts = []
        for e in entries:
            left_out = _left_out(e.get("excluded"))
            parts.append(f"{e['metric']} = {_number(e.get('value'))}")
            parts[-1] += f" (without {left_out}: too few rows)" if left_out else ""
        texts.append(f"{label}: {feature}: {', '.join(parts)}")
    return texts


def favorable_worse_off_texts(data: Mapping[str, Any]) -> list[str]:
    """Return the derived outcome's worse-off groups below the ratio band, one plain
    sentence each (``worse_off_text``'s words after the label). Unescaped."""
    label = favorable_outcome_label(data)
    if label is None:
        return []
    section = data["summary"]["favorable_outcome"]
    return [f"{label}: worse off: {worse_off_text(e)}" for e in worse_off_entries(section)]


def favorable_outcome_texts(data: Mapping[str, Any]) -> list[str]:
    """Return a regression result's favourable-outcome view as plain sentences, each starting
    with its label (``derived outcome: prediction > 150``): the grouping sentences of
    :func:`favorable_headline_texts`, then :func:`favorable_worse_off_texts`. Empty without
    a threshold. Unescaped: the caller escapes for its medium."""
    return favorable_headline_texts(data) + favorable_worse_off_texts(data)
