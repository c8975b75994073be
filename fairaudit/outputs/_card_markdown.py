"""The fairness section of a model card in Markdown, and updating a card with it.

The section sits between ``BEGIN_MARKER`` and ``END_MARKER``; updating a card replaces what is
between them (or appends the section), so a second run with the same report rewrites the same
bytes. Every value from the data is made inert Markdown (``_card_text.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fairaudit.display import group_text, worse_off_entries
from fairaudit.outputs._card_source import (
    CardError,
    ReportReference,
    card_metrics,
    dataset_identity,
    favorable_outcome,
    headline_slice,
    is_multiclass,
    is_regression,
    metric_cis,
    regression_headline_texts,
)
from fairaudit.outputs._card_text import (
    BETWEEN_GROUPS,
    headline_table,
    label,
    md,
    num,
    with_ci,
    worse_off_lines,
)
from fairaudit.outputs._text import bound_text

__all__ = [
    "BEGIN_MARKER",
    "END_MARKER",
    "MSG_NO_END",
    "fairness_section",
    "line_ending",
    "mitigation_texts",
    "update_markdown_card",
]

BEGIN_MARKER = "<!-- fairaudit:begin -->"
END_MARKER = "<!-- fairaudit:end -->"
MSG_NO_END = "{path}: found '{begin}' but no '{end}' after it; restore the marker or delete both"


def _factors(data: Mapping[str, Any]) -> list[str]:
    audit = data["audit"]
    config = data["lineage"].get("config") or {}
    bins = config.get("bins") or {}
    features = list(audit.get("sensitive_features") or [])
    lines = ["### Factors", ""]
    described = []
    for feature in features:
        text = md(feature)
        if feature in bins:
            edges = ", ".join(num(e, 6).rstrip("0").rstrip(".") for e in bins[feature])
            text += f" (binned at {edges})"
        described.append(text)
    intersection = " and their intersection" if len(features) > 1 else ""
    lines.append(f"Sensitive features: {', '.join(described)}{intersection}.")
    references = audit.get("reference") or {}
    if references:
        lines.append("Reference groups (the comparison point for disparities): ")
        lines[-1] += "; ".join(
            f"{md(name)}: {md(group_text(group))}" for name, group in references.items()
        )
        lines[-1] += "."
    lines.append(
        f"Groups with fewer than {num(audit.get('min_group_size'))} rows are marked "
        "insufficient data."
    )
    if audit.get("positive_prediction") == "adverse":
        lines.append(
            f"The favourable label is {md(audit.get('favorable_label'))}: a positive "
            "prediction is adverse (flags the person), so the group flagged most often is "
            "worse off."
        )
    return lines


def _group_tables(data: Mapping[str, Any]) -> list[str]:
    audit = data["audit"]
    metrics = card_metrics(data)
    by_group = data["metrics"].get("by_group") or []
    confidence = (data.get("uncertainty") or {}).get("confidence")
    lines = ["### Results by group", ""]
    if confidence is not None:
        lines.append(f"Brackets give {confidence:.0%} confidence intervals.")
        lines.append("")
    for grouping in audit.get("groupings") or []:
        rows = [r for r in by_group if r.get("feature") == grouping]
        lines.append(f"#### {md(grouping)}")
        lines.append("")
        lines.append("| group | rows | " + " | ".join(label(m) for m in metrics) + " | note |")
        lines.append("| --- | ---: | " + " | ".join("---:" for _ in metrics) + " | --- |")
        for row in rows:
            notes = [
                text
                for flag, text in (
                    ("reference", "reference"),
                    ("insufficient_data", "insufficient data"),
                    ("single_class", "one class"),
                    ("constant_target", "constant target"),
                )
                if row.get(flag)
            ]
            cis = metric_cis(data, row.get("ci"))
            cells = [with_ci(row["metrics"].get(m), cis.get(m)) for m in metrics]
            lines.append(
                f"| {md(group_text(row['group']))} | {num(row.get('count'))} | "
                + " | ".join(cells)
                + f" | {', '.join(notes)} |"
            )
        lines.append("")
    return lines


def _regression_disparities(data: Mapping[str, Any]) -> list[str]:
    """Return a regression audit's headline: each grouping's largest KS distance and worst
    MAE and RMSE ratios, the worst group named; then its derived outcome, if any."""
    return [
        "### Disparities",
        "",
        "Per grouping: the largest Kolmogorov-Smirnov distance between two groups' prediction "
        "distributions (0 when alike), and the worst group's MAE and RMSE over the overall "
        "value (bounded group loss; 1 when no group's error exceeds the overall).",
        "",
        *(f"- {md(text)}" for text in regression_headline_texts(data)),
        "",
        *_derived_outcome(data),
    ]


def _derived_outcome(data: Mapping[str, Any]) -> list[str]:
    """Return a regression audit's derived outcome (``--favorable-above``/``-below``): its
    binary disparities, the groups left out of them and who is worse off; empty without."""
    section = favorable_outcome(data)
    if section is None:
        return []
    outcome, word = md(section["outcome"]), md(section.get("direction"))
    lines = [
        f"#### Derived outcome: {outcome}",
        "",
        "These are binary metrics of a derived outcome, not of the model's errors: a "
        f"prediction strictly {word} the threshold counts as a positive prediction ({outcome}), "
        f"and a target likewise as a positive label ({md(section.get('label'))}). "
        f"Differences and ratios are {BETWEEN_GROUPS}",
        "",
        *headline_table(data, section.get("headline") or [], per_class=False),
        "",
    ]
    left_out = _left_out_lines(section)
    if left_out:
        lines += [*left_out, ""]
    return lines + worse_off_lines(
        data, worse_off_entries(section), f"the derived outcome ({outcome})", "####"
    )


def _left_out_lines(section: Mapping[str, Any]) -> list[str]:
    """Return the groups left out of a derived-outcome rate for too small a denominator,
    per grouping, each rate with its denominator."""
    by_feature: dict[str, dict[str, dict[str, Any]]] = {}
    for entry in section.get("headline") or []:
        for e in entry.get("excluded") or []:
            rates = by_feature.setdefault(entry["feature"], {}).setdefault(
                group_text(e["group"]), {}
            )
            rates[e["metric"]] = e.get("denominator")
    if not by_feature:
        return []
    least = section.get("min_denominator")
    lines = [
        "Left out of a rate whose denominator has fewer than "
        f"{num(least) if least is not None else 'enough'} rows:",
        "",
    ]
    for feature, groups in by_feature.items():
        named = "; ".join(
            f"{md(group)} ("
            + ", ".join(f"{label(m)}: {num(n)} rows" for m, n in rates.items())
            + ")"
            for group, rates in groups.items()
        )
        lines.append(f"- {md(feature)}: {named}")
    return lines


def _worst_classes(data: Mapping[str, Any]) -> list[str]:
    """Return a multiclass audit's worst class of each grouping and metric (its summary's)."""
    worst = (data.get("summary") or {}).get("worst_classes") or []
    if not worst:
        return []
    lines = ["", "The worst class of each grouping and metric:", ""]
    return lines + [
        f"- {md(w['feature'])}: {label(w['metric'])} {num(w.get('value'))} (class {md(w['class'])})"
        for w in worst
    ]


def _disparities(data: Mapping[str, Any]) -> list[str]:
    """Return the headline per grouping (a multiclass audit's one row per grouping and
    class, one-vs-rest, then its worst classes)."""
    if is_regression(data):
        return _regression_disparities(data)
    per_class = is_multiclass(data)
    intro = BETWEEN_GROUPS[0].upper() + BETWEEN_GROUPS[1:]
    if per_class:
        intro = (
            "One-vs-rest, class by class (a prediction of the class against any other), "
            + BETWEEN_GROUPS
        )
    lines = ["### Disparities", "", intro, ""]
    lines += headline_table(data, data.get("headline") or [], per_class=per_class)
    if per_class:
        lines += _worst_classes(data)
    lines.append("")
    return lines


def _worse_off(data: Mapping[str, Any]) -> list[str]:
    """Return the groups the report's banner names as worse off (from ``summary``)."""
    summary = data.get("summary") or {}
    view = summary.get("favorable_view") or {}  # a multiclass audit's favourable classes
    outcome = "the favourable outcome"
    if is_multiclass(data):
        outcome += f" (a prediction of {', '.join(md(c) for c in view.get('classes') or [])})"
    entries = worse_off_entries(view if is_multiclass(data) else summary)
    return worse_off_lines(data, entries, outcome, "###")


def _verdict(data: Mapping[str, Any]) -> list[str]:
    policy = data.get("policy")
    lines = ["### Verdict", ""]
    if not policy:
        lines.append(
            "No policy was applied: this audit measures disparities and does not decide "
            "whether they are acceptable."
        )
        return lines
    layers = ", ".join(md(layer.get("source", "")) for layer in policy.get("layers") or [])
    verdict = str(data.get("verdict") or policy.get("verdict") or "none")
    lines.append(f"**{md(verdict.upper())}** against the policy ({layers}).")
    lines.append("")
    lines.append("| rule | metric | bound | status |")
    lines.append("| --- | --- | --- | --- |")
    for rule in policy.get("rules") or []:
        feature = f" ({md(rule['feature'])})" if rule.get("feature") else ""
        classes = rule.get("class")  # a multiclass rule's classes (issue 17), a list
        if classes is not None:
            named = ", ".join(map(str, classes)) if isinstance(classes, list) else classes
            feature += f" (class {md(named)})"
        lines.append(
            f"| {md(rule.get('id', ''))} | {md(rule.get('metric', ''))}{feature} | "
            f"{bound_text(rule.get('bound') or {})} | {md(rule.get('status', ''))} |"
        )
    failed = [
        f"{md(rule.get('id', ''))} on {md(headline_slice(o) if o.get('feature') else '')}: "
        f"{md(o.get('reason', ''))}"
        for rule in policy.get("rules") or []
        for o in rule.get("outcomes") or []
        if o.get("status") in ("fail", "warn", "not evaluable", "not_evaluable")
    ]
    if failed:
        lines.append("")
        lines.extend(f"- {text}" for text in failed)
    return lines


def mitigation_texts(data: Mapping[str, Any], esc: Callable[[Any], str]) -> list[str]:
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
    texts = mitigation_texts(data, md)
    if not texts:
        return ["### Mitigations considered", "", "No mitigations were evaluated in this audit."]
    return ["### Mitigations considered", "", *(f"- {text}" for text in texts)]


def _caveats(data: Mapping[str, Any]) -> list[str]:
    checks = [c for c in data.get("data_checks") or [] if c.get("status") in ("warning", "error")]
    if not checks:
        return []
    return ["### Caveats", "", *(f"- {md(c.get('message', ''))}" for c in checks), ""]


def _report_lines(reference: ReportReference | None) -> list[str]:
    lines = ["### Audit report", ""]
    if reference is None:
        lines.append("The audit report file was not given.")
        return lines
    text = f"The full report is {md(reference.file_name)} (SHA-256 `{reference.sha256}`)"
    if reference.malformed:
        text += "; its signature trailer is malformed"
    elif reference.key_ids:
        keys = ", ".join(f"`{k[:16]}`" for k in reference.key_ids)
        text += f", signed by key {keys}"
        lines.append(text + ".")
        lines.append(
            f"Check it offline with `fairaudit verify {md(reference.file_name)} "
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
    model = md(audit.get("name") or "unnamed")
    if audit.get("model_version"):
        model += " " + md(audit["model_version"])
    data_lineage = lineage.get("data") or {}
    lines = [
        BEGIN_MARKER,
        "## Fairness evaluation",
        "",
        f"Generated by {md(tool.get('name', 'fairaudit'))} {md(tool.get('version', ''))} "
        f"from audit `{str(audit.get('id', ''))[:12]}` of {md(audit.get('created_at', ''))}; "
        "`fairaudit card` replaces everything between the fairaudit markers.",
        "",
        f"- Model: {model}",
        f"- Evaluation data: {md(dataset_identity(data)[0])} "
        f"({num(data_lineage.get('rows'))} rows, SHA-256 `{data_lineage.get('sha256', '')}`)",
    ]
    if audit.get("task"):  # a regression or multiclass audit (a binary result names none)
        task = md(audit["task"])
        if audit.get("classes"):
            task += " (classes " + ", ".join(md(c) for c in audit["classes"]) + ")"
        lines.append(f"- Task: {task}")
    if audit.get("owner"):
        lines.append(f"- Owner: {md(audit['owner'])}")
    if audit.get("intended_use"):
        lines.append(f"- Intended use: {md(audit['intended_use'])}")
    lines.append("")
    parts = (_verdict, _worse_off, _factors, _group_tables, _disparities, _mitigations, _caveats)
    for part in parts:
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


def line_ending(text: str) -> str:
    """Return the line ending a card uses (CRLF if it has one, else LF)."""
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
    eol = line_ending(text)
    section = fairness_section(data, reference).replace("\n", eol)
    return _replace_between_markers(text, section, source, eol)
