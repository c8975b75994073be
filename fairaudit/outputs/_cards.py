"""Model-card exports of an audit result: Hugging Face, Google Model Card Toolkit, Markdown.

Every number comes from the audit result's JSON form; nothing is recomputed here.

* ``huggingface``: a fairness section in the card's Markdown between ``BEGIN_MARKER`` and
  ``END_MARKER``, plus one ``model-index`` entry in the YAML front matter between the
  comment lines ``YAML_BEGIN`` and ``YAML_END``. The front matter is edited as text, line
  by line, not parsed and re-dumped: every other key, its order, quoting and comments stay
  byte for byte as they were, and no YAML library is needed.
* ``markdown``: the same section for any other card.
* ``mct``: a JSON document valid against Google Model Card Toolkit's schema v0.0.2
  (``fairaudit/schema/model-card-toolkit-0.0.2.schema.json``).

Updating is idempotent: a second run with the same report rewrites the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fairaudit.display import BIDI_CONTROLS, display_text, terminal_json
from fairaudit.errors import FairauditError
from fairaudit.paths import read_regular_bytes

__all__ = [
    "BEGIN_MARKER",
    "CARD_FORMATS",
    "CARD_METRICS",
    "END_MARKER",
    "MCT_SCHEMA_VERSION",
    "YAML_BEGIN",
    "YAML_END",
    "CardError",
    "CardFormat",
    "ReportReference",
    "export_card",
    "fairness_section",
    "load_report",
    "mct_card",
    "mct_schema_path",
    "model_index_lines",
    "report_reference",
    "update_huggingface_card",
    "update_markdown_card",
]

CardFormat = Literal["huggingface", "mct", "markdown"]
CARD_FORMATS: tuple[str, ...] = ("huggingface", "mct", "markdown")

BEGIN_MARKER = "<!-- fairaudit:begin -->"
END_MARKER = "<!-- fairaudit:end -->"
YAML_BEGIN = "# fairaudit:begin (written by `fairaudit card`; replaced on every run)"
YAML_END = "# fairaudit:end"
_YAML_BEGIN_PREFIX = "# fairaudit:begin"

#: Per-group metrics the cards tabulate (with their intervals).
CARD_METRICS = ("selection_rate", "true_positive_rate", "false_positive_rate", "accuracy")
#: The MCT schema version the ``mct`` format targets.
MCT_SCHEMA_VERSION = "0.0.2"
#: The model-index task type (Hugging Face task ids).
HF_TASK = "tabular-classification"

MSG_REPORT_NOT_FOUND = "report file '{path}' not found"
MSG_REPORT_UNREADABLE = "cannot read '{path}': {detail}"
MSG_NOT_JSON = "'{path}' is not a fairaudit report.json: {detail}"
MSG_NOT_RESULT = "'{path}' is not a fairaudit audit result (no {key!r} section)"
MSG_NO_END = "{path}: found '{begin}' but no '{end}' after it; restore the marker or delete both"
MSG_NO_FRONT_MATTER_END = "{path}: the YAML front matter opened with '---' is never closed"
MSG_FLOW_INDEX = (
    "{path}: model-index is written inline ({line!r}); write it as a block list "
    "('model-index:' then '- name: ...' lines) so fairaudit can add its entry"
)
MSG_YAML_NO_END = "{path}: found '{begin}' in the front matter but no '{end}' after it"


class CardError(FairauditError):
    """A report cannot be read as an audit result, or a card cannot be updated safely."""


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class ReportReference:
    """The report file a card cites: its name, SHA-256 and the key ids that signed it.

    ``key_ids`` is empty for an unsigned file; ``malformed`` is true when the file has a
    signature trailer that cannot be read (``fairaudit verify`` says why).
    """

    file_name: str
    sha256: str
    key_ids: tuple[str, ...] = ()
    malformed: bool = False


def _read_bytes(path: Path) -> bytes:
    try:
        return read_regular_bytes(path)
    except FileNotFoundError:
        raise CardError(MSG_REPORT_NOT_FOUND.format(path=path)) from None
    except OSError as exc:
        raise CardError(
            MSG_REPORT_UNREADABLE.format(path=path, detail=exc.strerror or exc)
        ) from None


def report_reference(path: str | Path) -> ReportReference:
    """Return the file name, SHA-256 of every byte, and signer key ids of a report file."""
    from fairaudit.errors import VerificationError
    from fairaudit.provenance import detached_path_for, parse_detached, split_trailer

    report = Path(path)
    content = _read_bytes(report)
    digest = hashlib.sha256(content).hexdigest()
    try:
        _, envelopes = split_trailer(content)
        detached = detached_path_for(report)
        if envelopes is None and detached.exists():
            envelopes = parse_detached(_read_bytes(detached))
    except VerificationError:
        return ReportReference(report.name, digest, (), malformed=True)
    key_ids = tuple(str(e["signatures"][0]["keyid"]) for e in envelopes or ())
    return ReportReference(report.name, digest, key_ids)


def load_report(path: str | Path) -> dict[str, Any]:
    """Return the audit result of a ``report.json`` (or the JSON embedded in a report.html)."""
    report = Path(path)
    content = _read_bytes(report)
    if report.suffix.lower() in (".html", ".htm"):
        from fairaudit.provenance import extract_results, split_trailer

        try:
            data: Any = extract_results(split_trailer(content)[0])
        except FairauditError as exc:
            raise CardError(MSG_NOT_JSON.format(path=report, detail=exc)) from None
    else:
        try:
            data = json.loads(content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise CardError(MSG_NOT_JSON.format(path=report, detail=exc)) from None
    if not isinstance(data, dict):
        raise CardError(MSG_NOT_JSON.format(path=report, detail="not a JSON object"))
    for key in ("audit", "lineage", "metrics", "headline"):
        if not isinstance(data.get(key), dict | list):
            raise CardError(MSG_NOT_RESULT.format(path=report, key=key))
    return data


def default_report_html(report_json: Path) -> Path | None:
    """Return the HTML report beside ``report_json`` (same stem), if it exists."""
    if report_json.suffix.lower() in (".html", ".htm"):
        return report_json
    html = report_json.with_suffix(".html")
    return html if html.is_file() else None


# --------------------------------------------------------------------------- markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def _md(value: Any) -> str:
    """Return untrusted text inert in Markdown and in table cells: no HTML, links or markup.

    Control and bidi characters are shown as escapes first (``_display``), so that no value
    can reorder the text around it.
    """
    text = " ".join(display_text(value).split())  # a newline would end a table row or paragraph
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _num(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "undefined"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return f"{float(value):.{digits}f}"


def _with_ci(value: Any, ci: Any) -> str:
    text = _num(value)
    if isinstance(ci, list | tuple) and len(ci) == 2 and None not in ci and value is not None:
        text += f" [{float(ci[0]):.3f}, {float(ci[1]):.3f}]"
    return text


def _group_text(group: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in group.items())


def _label(metric: str) -> str:
    return metric.replace("_", " ")


def _factors(data: Mapping[str, Any]) -> list[str]:
    audit = data["audit"]
    config = data["lineage"].get("config") or {}
    bins = config.get("bins") or {}
    features = list(audit.get("sensitive_features") or [])
    lines = ["### Factors", ""]
    described = []
    for feature in features:
        text = _md(feature)
        if feature in bins:
            edges = ", ".join(_num(e, 6).rstrip("0").rstrip(".") for e in bins[feature])
            text += f" (binned at {edges})"
        described.append(text)
    intersection = " and their intersection" if len(features) > 1 else ""
    lines.append(f"Sensitive features: {', '.join(described)}{intersection}.")
    references = audit.get("reference") or {}
    if references:
        lines.append("Reference groups (the comparison point for disparities): ")
        lines[-1] += "; ".join(
            f"{_md(name)}: {_md(_group_text(group))}" for name, group in references.items()
        )
        lines[-1] += "."
    lines.append(
        f"Groups with fewer than {_num(audit.get('min_group_size'))} rows are marked "
        "insufficient data."
    )
    return lines


def _group_tables(data: Mapping[str, Any]) -> list[str]:
    audit = data["audit"]
    names = data["metrics"].get("names") or []
    metrics = [m for m in CARD_METRICS if m in names]
    by_group = data["metrics"].get("by_group") or []
    confidence = (data.get("uncertainty") or {}).get("confidence")
    lines = ["### Results by group", ""]
    if confidence is not None:
        lines.append(f"Brackets give {confidence:.0%} confidence intervals.")
        lines.append("")
    for grouping in audit.get("groupings") or []:
        rows = [r for r in by_group if r.get("feature") == grouping]
        lines.append(f"#### {_md(grouping)}")
        lines.append("")
        lines.append("| group | rows | " + " | ".join(_label(m) for m in metrics) + " | note |")
        lines.append("| --- | ---: | " + " | ".join("---:" for _ in metrics) + " | --- |")
        for row in rows:
            notes = [
                text
                for flag, text in (
                    ("reference", "reference"),
                    ("insufficient_data", "insufficient data"),
                    ("single_class", "one class"),
                )
                if row.get(flag)
            ]
            cis = row.get("ci") or {}
            cells = [_with_ci(row["metrics"].get(m), cis.get(m)) for m in metrics]
            lines.append(
                f"| {_md(_group_text(row['group']))} | {_num(row.get('count'))} | "
                + " | ".join(cells)
                + f" | {', '.join(notes)} |"
            )
        lines.append("")
    return lines


def _disparities(data: Mapping[str, Any]) -> list[str]:
    headline = data.get("headline") or []
    metrics: list[str] = []
    for h in headline:
        if h["metric"] not in metrics:
            metrics.append(h["metric"])
    lines = [
        "### Disparities",
        "",
        "Between the best- and worst-off group of each grouping, as fairlearn computes them "
        "(differences are 0 and ratios 1 when every group is treated alike).",
        "",
        "| grouping | " + " | ".join(_label(m) for m in metrics) + " |",
        "| --- | " + " | ".join("---:" for _ in metrics) + " |",
    ]
    for grouping in data["audit"].get("groupings") or []:
        values = {h["metric"]: h for h in headline if h["feature"] == grouping}
        cells = [
            _with_ci(values[m].get("value"), values[m].get("ci")) if m in values else ""
            for m in metrics
        ]
        lines.append(f"| {_md(grouping)} | " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def _bound(bound: Mapping[str, Any]) -> str:
    parts = []
    if bound.get("min") is not None:
        parts.append(f">= {bound['min']}")
    if bound.get("max") is not None:
        parts.append(f"<= {bound['max']}")
    return " and ".join(parts)


def _verdict(data: Mapping[str, Any]) -> list[str]:
    policy = data.get("policy")
    lines = ["### Verdict", ""]
    if not policy:
        lines.append(
            "No policy was applied: this audit measures disparities and does not decide "
            "whether they are acceptable."
        )
        return lines
    layers = ", ".join(_md(layer.get("source", "")) for layer in policy.get("layers") or [])
    verdict = str(data.get("verdict") or policy.get("verdict") or "none")
    lines.append(f"**{_md(verdict.upper())}** against the policy ({layers}).")
    lines.append("")
    lines.append("| rule | metric | bound | status |")
    lines.append("| --- | --- | --- | --- |")
    for rule in policy.get("rules") or []:
        feature = f" ({_md(rule['feature'])})" if rule.get("feature") else ""
        lines.append(
            f"| {_md(rule.get('id', ''))} | {_md(rule.get('metric', ''))}{feature} | "
            f"{_bound(rule.get('bound') or {})} | {_md(rule.get('status', ''))} |"
        )
    failed = [
        f"{_md(rule.get('id', ''))} on {_md(o.get('feature', ''))}: {_md(o.get('reason', ''))}"
        for rule in policy.get("rules") or []
        for o in rule.get("outcomes") or []
        if o.get("status") in ("fail", "warn", "not evaluable", "not_evaluable")
    ]
    if failed:
        lines.append("")
        lines.extend(f"- {text}" for text in failed)
    return lines


def _mitigation_texts(data: Mapping[str, Any], esc: Any) -> list[str]:
    """Return one line per mitigation considered; ``esc`` escapes untrusted text."""
    judged = {
        (m.get("method"), m.get("constraint")): m
        for m in (data.get("policy") or {}).get("mitigations") or []
    }
    entries = list(data.get("mitigations") or [])
    known = {(m.get("method"), m.get("constraint")) for m in entries}
    entries += [m for key, m in judged.items() if key not in known]
    texts = []
    for m in entries:
        text = esc(m.get("method") or "unnamed")
        if m.get("constraint"):
            text += f" ({esc(m['constraint'])})"
        status = m.get("status")
        if status and status != "ok":
            text += f": {esc(status)}"
            if m.get("reason"):
                text += f", {esc(m['reason'])}"
        verdict = judged.get((m.get("method"), m.get("constraint")), {}).get("verdict")
        if verdict:
            text += f"; policy verdict with it: {esc(verdict)}"
        if m.get("protocol"):
            text += f". {esc(m['protocol'])}"
        texts.append(text)
    return texts


def _mitigations(data: Mapping[str, Any]) -> list[str]:
    texts = _mitigation_texts(data, _md)
    if not texts:
        return ["### Mitigations considered", "", "No mitigations were evaluated in this audit."]
    return ["### Mitigations considered", "", *(f"- {text}" for text in texts)]


def _caveats(data: Mapping[str, Any]) -> list[str]:
    checks = [c for c in data.get("data_checks") or [] if c.get("status") in ("warning", "error")]
    if not checks:
        return []
    return ["### Caveats", "", *(f"- {_md(c.get('message', ''))}" for c in checks), ""]


def _report_lines(reference: ReportReference | None) -> list[str]:
    lines = ["### Audit report", ""]
    if reference is None:
        lines.append("The audit report file was not given.")
        return lines
    text = f"The full report is {_md(reference.file_name)} (SHA-256 `{reference.sha256}`)"
    if reference.malformed:
        text += "; its signature trailer is malformed"
    elif reference.key_ids:
        keys = ", ".join(f"`{k[:16]}`" for k in reference.key_ids)
        text += f", signed by key {keys}"
        lines.append(text + ".")
        lines.append(
            f"Check it offline with `fairaudit verify {_md(reference.file_name)} "
            "--key PUBLIC_KEY` and `sha256sum`."
        )
        return lines
    else:
        text += "; it is not signed"
    lines.append(text + ".")
    return lines


def fairness_section(data: Mapping[str, Any], reference: ReportReference | None) -> str:
    """Return the card's fairness section, markers included, ending with a newline."""
    audit = data["audit"]
    lineage = data["lineage"]
    tool = data.get("tool") or {}
    model = _md(audit.get("name") or "unnamed")
    if audit.get("model_version"):
        model += " " + _md(audit["model_version"])
    data_lineage = lineage.get("data") or {}
    lines = [
        BEGIN_MARKER,
        "## Fairness evaluation",
        "",
        f"Generated by {_md(tool.get('name', 'fairaudit'))} {_md(tool.get('version', ''))} "
        f"from audit `{str(audit.get('id', ''))[:12]}` of {_md(audit.get('created_at', ''))}; "
        "`fairaudit card` replaces everything between the fairaudit markers.",
        "",
        f"- Model: {model}",
        f"- Evaluation data: {_md(data_lineage.get('file_name', ''))} "
        f"({_num(data_lineage.get('rows'))} rows, SHA-256 `{data_lineage.get('sha256', '')}`)",
    ]
    if audit.get("owner"):
        lines.append(f"- Owner: {_md(audit['owner'])}")
    if audit.get("intended_use"):
        lines.append(f"- Intended use: {_md(audit['intended_use'])}")
    lines.append("")
    for part in (_verdict, _factors, _group_tables, _disparities, _mitigations, _caveats):
        body = part(data)
        if body:
            lines.extend(body)
            if lines[-1] != "":
                lines.append("")
    lines.extend(_report_lines(reference))
    lines.append(END_MARKER)
    return "\n".join(lines) + "\n"


def _replace_between_markers(text: str, section: str, source: str, eol: str = "\n") -> str:
    """Return ``text`` with the marked section replaced, or the section appended."""
    start = text.find(BEGIN_MARKER)
    if start < 0:
        if not text:
            return section
        if text.endswith(eol + eol):
            separator = ""
        else:
            separator = eol if text.endswith(eol) else eol + eol
        return text + separator + section
    end = text.find(END_MARKER, start)
    if end < 0:
        raise CardError(MSG_NO_END.format(path=source, begin=BEGIN_MARKER, end=END_MARKER))
    end += len(END_MARKER)
    if text.startswith(eol, end):
        end += len(eol)
    return text[:start] + section + text[end:]


def _eol(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def update_markdown_card(
    card: str | None,
    data: Mapping[str, Any],
    reference: ReportReference | None,
    *,
    source: str = "card",
) -> str:
    """Return ``card`` with the fairness section inserted or replaced (a new card if None)."""
    text = card or ""
    eol = _eol(text)
    section = fairness_section(data, reference).replace("\n", eol)
    return _replace_between_markers(text, section, source, eol)


# --------------------------------------------------------------------------- YAML front matter

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

    One result (task ``tabular-classification`` on the evaluation data) with one metric per
    headline metric and grouping; undefined (null) values are left out.
    """
    audit = data["audit"]
    data_lineage = data["lineage"].get("data") or {}
    dataset = data_lineage.get("file_name") or "evaluation data"
    name = audit.get("name") or "unnamed"
    if audit.get("model_version"):
        name = f"{name} {audit['model_version']}"
    lines = [
        YAML_BEGIN,
        f"- name: {_yaml_string(name)}",
        "  results:",
        "  - task:",
        f"      type: {HF_TASK}",
        "    dataset:",
        f"      name: {_yaml_string(dataset)}",
        f"      type: {_yaml_string(dataset)}",
        "    metrics:",
    ]
    metrics = 0
    for h in data.get("headline") or []:
        value = h.get("value")
        if value is None or not math.isfinite(float(value)):
            continue
        metrics += 1
        label = f"{h['metric']} ({h['feature']})"
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
    eol = _eol(text)
    lines = text.splitlines(keepends=True)
    lines = _update_front_matter(lines, model_index_lines(data), eol, source)
    return update_markdown_card("".join(lines), data, reference, source=source)


# --------------------------------------------------------------------------- MCT


def mct_schema_path() -> Path:
    """Return the committed copy of Model Card Toolkit's JSON Schema v0.0.2."""
    schema_folder = Path(__file__).resolve().parent.parent / "schema"
    return schema_folder / "model-card-toolkit-0.0.2.schema.json"


def _metric(kind: str, value: Any, slice_name: str, ci: Any) -> dict[str, Any] | None:
    if value is None or not math.isfinite(float(value)):
        return None
    entry: dict[str, Any] = {"type": kind, "value": float(value), "slice": slice_name}
    if isinstance(ci, list | tuple) and len(ci) == 2 and None not in ci:
        entry["confidence_interval"] = {"lower_bound": float(ci[0]), "upper_bound": float(ci[1])}
    return entry


def mct_card(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return a Model Card Toolkit (schema v0.0.2) document for the audit result.

    ``performance_metrics`` holds the overall and per-group values of ``CARD_METRICS``
    (slice ``overall`` or e.g. ``sex=female``) and the headline disparities (slice: the
    grouping), each with its confidence interval when the audit computed one.
    """
    audit = data["audit"]
    lineage = data["lineage"]
    data_lineage = lineage.get("data") or {}
    metrics_section = data["metrics"]
    names = metrics_section.get("names") or []
    metrics = [m for m in CARD_METRICS if m in names]
    overall_ci = (data.get("uncertainty") or {}).get("overall_ci") or {}
    performance: list[dict[str, Any] | None] = []
    overall = metrics_section.get("overall") or {}
    performance += [_metric(m, overall.get(m), "overall", overall_ci.get(m)) for m in metrics]
    for row in metrics_section.get("by_group") or []:
        cis = row.get("ci") or {}
        slice_name = _group_text(row["group"])
        performance += [_metric(m, row["metrics"].get(m), slice_name, cis.get(m)) for m in metrics]
    for h in data.get("headline") or []:
        performance.append(_metric(h["metric"], h.get("value"), h["feature"], h.get("ci")))

    tool = data.get("tool") or {}
    overview = (
        f"Fairness audit {audit.get('id', '')} by {tool.get('name', 'fairaudit')} "
        f"{tool.get('version', '')} of {audit.get('created_at', '')}: "
    )
    if data.get("policy"):
        layers = ", ".join(str(x.get("source")) for x in data["policy"].get("layers") or [])
        overview += f"verdict {data.get('verdict')} against the policy ({layers})."
    else:
        overview += "no policy was applied."
    details: dict[str, Any] = {"name": str(audit.get("name") or "unnamed"), "overview": overview}
    if audit.get("model_version"):
        details["version"] = {"name": str(audit["model_version"])}
    if audit.get("owner"):
        details["owners"] = [{"name": str(audit["owner"])}]
    dataset: dict[str, Any] = {
        "name": str(data_lineage.get("file_name") or "evaluation data"),
        "sensitive": {"sensitive_data": [str(f) for f in audit.get("sensitive_features") or []]},
        "description": f"Evaluation set: {data_lineage.get('rows')} rows, "
        f"SHA-256 {data_lineage.get('sha256')}.",
    }
    considerations: dict[str, Any] = {}
    if audit.get("intended_use"):
        considerations["use_cases"] = [{"description": str(audit["intended_use"])}]
    limitations = [
        {"description": str(c.get("message", ""))}
        for c in data.get("data_checks") or []
        if c.get("status") in ("warning", "error")
    ]
    if limitations:
        considerations["limitations"] = limitations
    risks = [
        {"name": str(f.get("message", "")), "mitigation_strategy": str(f.get("next_step", ""))}
        for f in data.get("findings") or []
        if f.get("kind") in ("policy", "not_evaluable", "security")
    ]
    if risks:
        considerations["ethical_considerations"] = risks
    tradeoffs = [{"description": text} for text in _mitigation_texts(data, str)]
    if tradeoffs:
        considerations["tradeoffs"] = tradeoffs
    card: dict[str, Any] = {
        "schema_version": MCT_SCHEMA_VERSION,
        "model_details": details,
        "model_parameters": {"data": [dataset]},
        "quantitative_analysis": {"performance_metrics": [p for p in performance if p]},
    }
    if considerations:
        card["considerations"] = considerations
    return card


# --------------------------------------------------------------------------- one entry point


def export_card(
    report: str | Path,
    *,
    format: CardFormat,
    card: str | Path | None = None,
    report_html: str | Path | None = None,
) -> str:
    """Return the exported card text; with ``card`` (huggingface, markdown) update that file.

    ``report`` is a ``report.json`` (or a report.html with embedded results).
    ``report_html`` names the report file whose SHA-256 the card cites (default: the
    ``.html`` beside the JSON, if present). The ``mct`` format returns JSON text and
    ignores ``card``; the caller writes it where it wants.
    """
    from fairaudit.paths import atomic_write_bytes

    if format not in CARD_FORMATS:
        raise CardError(f"unknown card format {format!r}; choose one of {', '.join(CARD_FORMATS)}")
    data = load_report(report)
    if format == "mct":
        # Bidi and C1 controls as JSON escapes: the same data, safe to print.
        return terminal_json(mct_card(data), indent=2, allow_nan=False) + "\n"
    html = Path(report_html) if report_html is not None else default_report_html(Path(report))
    reference = report_reference(html) if html is not None else None
    existing: str | None = None
    if card is not None and Path(card).exists():
        try:
            existing = _read_bytes(Path(card)).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CardError(MSG_REPORT_UNREADABLE.format(path=card, detail=exc)) from None
    update = update_huggingface_card if format == "huggingface" else update_markdown_card
    text = update(existing, data, reference, source=str(card or "card"))
    if card is not None and text != existing:
        atomic_write_bytes(Path(card), text.encode("utf-8"))
    return text
