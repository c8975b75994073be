"""A Hugging Face model card: fairaudit's ``model-index`` entry in the YAML front matter.

The entry sits between the comment lines ``YAML_BEGIN`` and ``YAML_END``. The front matter is
edited as text, line by line, not parsed and re-dumped: every other key, its order, quoting and
comments stay byte for byte as they were, and no YAML library is needed. The card's Markdown
gets the fairness section as any other card (``update_markdown_card``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from fairaudit.display import BIDI_CONTROLS
from fairaudit.outputs._card_markdown import line_ending, update_markdown_card
from fairaudit.outputs._card_source import (
    CardError,
    ReportReference,
    dataset_identity,
    headline_entries,
    is_regression,
)

__all__ = [
    "HF_REGRESSION_TASK",
    "HF_TASK",
    "MSG_FLOW_INDEX",
    "YAML_BEGIN",
    "YAML_END",
    "model_index_lines",
    "update_huggingface_card",
]

YAML_BEGIN = "# fairaudit:begin (written by `fairaudit card`; replaced on every run)"
YAML_END = "# fairaudit:end"
_YAML_BEGIN_PREFIX = "# fairaudit:begin"
#: The model-index task type (Hugging Face task ids).
HF_TASK = "tabular-classification"
#: The task of a regression audit's result (issue 17).
HF_REGRESSION_TASK = "tabular-regression"

MSG_NO_FRONT_MATTER_END = "{path}: the YAML front matter opened with '---' is never closed"
MSG_FLOW_INDEX = (
    "{path}: model-index is written inline ({line!r}); write it as a block list "
    "('model-index:' then '- name: ...' lines) so fairaudit can add its entry"
)
MSG_YAML_NO_END = "{path}: found '{begin}' in the front matter but no '{end}' after it"


# Characters YAML may not hold raw, and bidi controls (shown escaped, like everywhere).
_YAML_PRINTABLE = re.compile(
    "[^\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029\ufeff"
    + "".join(sorted(BIDI_CONTROLS))
    + "]"
)


def _yaml_string(value: Any) -> str:
    """Return ``value`` as a YAML double-quoted scalar (any text, one line, parsed back exact)."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')

    def escape(match: re.Match[str]) -> str:
        code = ord(match.group(0))
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"

    return '"' + _YAML_PRINTABLE.sub(escape, text) + '"'


def _yaml_number(value: float) -> str:
    """Return a float YAML 1.1 and 1.2 loaders both read as a float (``1.0e-05``, not ``1e-05``)."""
    text = repr(float(value))
    mantissa, _, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    if exponent and exponent[0] not in "+-":
        exponent = "+" + exponent
    return mantissa + ("e" + exponent if exponent else "")


def model_index_lines(data: Mapping[str, Any]) -> list[str]:
    """Return fairaudit's ``model-index`` list item (markers included), at indentation 0.

    One result (task ``tabular-classification``, or ``tabular-regression``, on the
    evaluation data) with one metric per headline metric and grouping (and, with a favourable
    threshold, per derived-outcome metric, labelled in its name); undefined (null) values are
    left out.
    """
    audit = data["audit"]
    dataset, dataset_type = dataset_identity(data)
    name = audit.get("name") or "unnamed"
    if audit.get("model_version"):
        name = f"{name} {audit['model_version']}"
    lines = [
        YAML_BEGIN,
        f"- name: {_yaml_string(name)}",
        "  results:",
        "  - task:",
        f"      type: {HF_REGRESSION_TASK if is_regression(data) else HF_TASK}",
        "    dataset:",
        f"      name: {_yaml_string(dataset)}",
        f"      type: {_yaml_string(dataset_type)}",
        "    metrics:",
    ]
    metrics = 0
    for h, slice_name in headline_entries(data):
        value = h.get("value")
        if value is None or not math.isfinite(float(value)):
            continue
        metrics += 1
        label = f"{h['metric']} ({slice_name})"
        lines += [
            f"    - type: {_yaml_string(h['metric'])}",
            f"      value: {_yaml_number(value)}",
            f"      name: {_yaml_string(label)}",
        ]
    if not metrics:
        lines[-1] = "    metrics: []"
    lines.append(YAML_END)
    return lines


def _front_matter_bounds(lines: list[str], source: str) -> tuple[int, int] | None:
    """Return the indexes of the opening and closing ``---`` lines, or None without one."""
    if not lines or lines[0].rstrip("\r\n") != "---":
        return None
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n") in ("---", "..."):
            return 0, index
    raise CardError(MSG_NO_FRONT_MATTER_END.format(path=source))


def _top_level_key(line: str) -> bool:
    stripped = line.rstrip("\r\n")
    return bool(stripped) and stripped[0] not in " \t#-"


def _update_front_matter(lines: list[str], block: list[str], eol: str, source: str) -> list[str]:
    """Return the card's lines with fairaudit's model-index item inserted or replaced."""
    bounds = _front_matter_bounds(lines, source)
    if bounds is None:
        return ["---" + eol, "model-index:" + eol, *(b + eol for b in block), "---" + eol, *lines]
    opening, closing = bounds
    inner = range(opening + 1, closing)
    begin = next((i for i in inner if lines[i].strip().startswith(_YAML_BEGIN_PREFIX)), None)
    if begin is not None:
        end = next((i for i in range(begin + 1, closing) if lines[i].strip() == YAML_END), None)
        if end is None:
            raise CardError(MSG_YAML_NO_END.format(path=source, begin=YAML_BEGIN, end=YAML_END))
        indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip(" "))]
        return [*lines[:begin], *(indent + b + eol for b in block), *lines[end + 1 :]]
    key = next((i for i in inner if re.match(r"model-index\s*:", lines[i])), None)
    if key is None:
        new = ["model-index:" + eol, *(b + eol for b in block)]
        return [*lines[:closing], *new, *lines[closing:]]
    after_colon = lines[key].split(":", 1)[1].split("#", 1)[0].strip()
    if after_colon:
        raise CardError(MSG_FLOW_INDEX.format(path=source, line=lines[key].rstrip("\r\n")))
    last = key
    for i in range(key + 1, closing):
        if _top_level_key(lines[i]):
            break
        if lines[i].strip() and not lines[i].startswith("#"):
            last = i
    item = next(
        (lines[i] for i in range(key + 1, last + 1) if lines[i].lstrip().startswith("-")), ""
    )
    indent = item[: len(item) - len(item.lstrip(" "))]
    return [*lines[: last + 1], *(indent + b + eol for b in block), *lines[last + 1 :]]


def update_huggingface_card(
    card: str | None,
    data: Mapping[str, Any],
    reference: ReportReference | None,
    *,
    source: str = "card",
) -> str:
    """Return a Hugging Face card with fairaudit's model-index entry and fairness section.

    Only the lines between fairaudit's markers change (or are added); every other byte of
    ``card``, front matter included, is kept. ``card`` None starts a new card.
    """
    text = card or ""
    eol = line_ending(text)
    lines = text.splitlines(keepends=True)
    lines = _update_front_matter(lines, model_index_lines(data), eol, source)
    return update_markdown_card("".join(lines), data, reference, source=source)
