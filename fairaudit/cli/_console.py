"""What ``fairaudit run`` prints: the summary, the mitigation outcome, the policy's failures.

Everything is read from the result's JSON dict (the single source of truth), never
recomputed; every line goes through :func:`fairaudit.display.terminal_text`, since group,
feature and rule names come from files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fairaudit.display import (
    favorable_outcome_texts,
    group_text,
    is_regression,
    regression_headline_texts,
    terminal_text,
    worse_off_entries,
    worse_off_text,
)

__all__ = [
    "MAX_POLICY_LINES",
    "mitigation_lines",
    "policy_lines",
    "run_summary",
]

#: At most this many policy outcomes are printed; the report has them all.
MAX_POLICY_LINES = 20
#: The headline metric the mitigation trade-off is judged on (``mitigation_summary``).
_TRADEOFF_METRIC = "demographic_parity_difference"
_ORDER = {"fail": 0, "not evaluable": 1, "warn": 2}


def _number(value: Any) -> str:
    return "undefined" if value is None else f"{float(value):.3f}"


def _bound(bound: Mapping[str, Any]) -> str:
    parts = [f">= {bound['min']:g}"] if bound.get("min") is not None else []
    parts += [f"<= {bound['max']:g}"] if bound.get("max") is not None else []
    return " and ".join(parts) or "(none)"


def _outcome_line(rule: Mapping[str, Any], outcome: Mapping[str, Any]) -> str:
    """Return one policy outcome: status, rule, grouping, groups, metric, value, bound, evidence."""
    feature = outcome.get("feature") or "(no grouping)"
    groups = " vs ".join(group_text(g) for g in outcome.get("groups") or [])
    # A data rule's outcome names its own row (group vs reference, proxy column).
    where = outcome.get("name") or (f"{feature} ({groups})" if groups else feature)
    if outcome.get("class") is not None:  # a multiclass outcome names its class
        where = f"class {outcome['class']}, {where}"
    value = f"{rule['metric']} = {_number(outcome.get('observed'))}"
    interval = outcome.get("interval")
    if interval is not None and None not in interval:
        value += f", interval [{interval[0]:.3f}, {interval[1]:.3f}]"
    line = (
        f"  {outcome['status']}: rule {rule['id']} on {where}: {value}; bound "
        f"{_bound(rule['bound'])}, evidence {rule['evidence']}"
    )
    if outcome["status"] == "not evaluable" and outcome.get("reason"):
        line += f" ({outcome['reason']})"
    excluded = outcome.get("excluded") or []
    if excluded:
        line += "; left out (too few rows): " + "; ".join(group_text(g) for g in excluded)
    return line


def policy_lines(policy: Mapping[str, Any] | None) -> list[str]:
    """Return one line per rule outcome that did not pass (failures first), for a console.

    Each names the rule, the grouping and groups, the metric and its value (and interval),
    the bound and the evidence; at most :data:`MAX_POLICY_LINES`, then a count of the rest.
    """
    if not policy or policy.get("verdict") in (None, "pass"):
        return []
    found = [
        (rule, outcome)
        for rule in policy.get("rules") or []
        for outcome in rule.get("outcomes") or []
        if outcome.get("status") in _ORDER
    ]
    found.sort(key=lambda pair: _ORDER[pair[1]["status"]])  # stable: rule order within
    lines = [_outcome_line(rule, outcome) for rule, outcome in found[:MAX_POLICY_LINES]]
    if len(found) > MAX_POLICY_LINES:
        lines.append(f"  ... and {len(found) - MAX_POLICY_LINES} more in the report")
    return [terminal_text(line) for line in lines]


def _tradeoff(entry: Mapping[str, Any], grouping: str) -> Any:
    for headline in entry.get("headline") or []:
        if headline.get("feature") == grouping and headline.get("metric") == _TRADEOFF_METRIC:
            return headline.get("value")
    return None


def _why_none(entries: Sequence[Mapping[str, Any]]) -> tuple[str, list[str]]:
    """Return why no variant was picked (one phrase) and each variant's own reason, if any."""
    variants = entries[1:]
    if not variants:
        return "no mitigation could run on these inputs", []
    failed = [e for e in variants if e.get("status") != "ok"]
    ran = len(variants) - len(failed)
    text = f"none of the {ran} that ran is eligible" if ran else "none ran"
    if failed:
        text += f"; {len(failed)} failed"
    reasons = [
        f"    {e.get('method')}: {e.get('reason') if e in failed else e.get('eligibility')}"
        for e in variants
        if (e in failed and e.get("reason"))
        or (e.get("eligible") is False and e.get("eligibility"))
    ]
    return text, reasons


def mitigation_lines(data: Mapping[str, Any]) -> list[str]:
    """Return the mitigation outcome: one line with the best variant's before/after, or why
    none was picked; then, when the result says so, why another grouping was mitigated
    (``mitigation_summary.grouping_reason``) and why each variant is not eligible.

    Reads ``mitigation_summary`` (the trade-off grouping and the best method) and the
    ``mitigations`` entries. Format only: show the lines with :func:`terminal_text`.
    """
    summary = data.get("mitigation_summary")
    entries = data.get("mitigations") or []
    if not summary or not entries:
        return []
    grouping = summary.get("grouping", "")
    best = summary.get("best")
    chosen = next((e for e in entries if e.get("method") == best), None)
    details: list[str] = []
    if best is None or chosen is None:
        why, details = _why_none(entries)
        line = f"  mitigation: no variant recommended on {grouping}: {why}"
    else:
        before, after = entries[0], chosen
        parts = [
            f"{_TRADEOFF_METRIC} {_number(_tradeoff(before, grouping))} -> "
            f"{_number(_tradeoff(after, grouping))}"
        ]
        for metric in ("accuracy", "balanced_accuracy"):
            old = before.get("metrics", {}).get("overall", {}).get(metric)
            new = after.get("metrics", {}).get("overall", {}).get(metric)
            if old is not None or new is not None:
                parts.append(f"{metric} {_number(old)} -> {_number(new)}")
        line = f"  mitigation: best trade-off {best} on {grouping}: " + ", ".join(parts)
    lines = [line]
    for key in ("grouping_reason", "fallback"):
        note = summary.get(key)
        if isinstance(note, Mapping):
            note = note.get("reason") or note.get("message")
        if note:
            lines.append(f"    {note}")
    return lines + details


def run_summary(data: Mapping[str, Any], html: Path, json: Path, ledger: Path | None) -> str:
    """Return what ``fairaudit run`` prints on success.

    The files written and the ledger that recorded them, the headline metrics (a regression
    audit's per grouping, the worst group named, and with a favourable threshold its derived
    outcome's, labelled ``derived outcome: prediction > T``), who is worse off, the
    mitigation outcome and the count of data-check warnings.
    """
    lines = [f"Wrote {html} and {json}"]
    if ledger is not None:
        lines.append(f"  recorded in the ledger {ledger}")
    adverse = data["audit"].get("positive_prediction") == "adverse"
    four_fifths = {  # with an adverse positive, fairlearn's ratio is of flag rates
        w["feature"]: w["ratio"]
        for w in (data.get("summary") or {}).get("worse_off") or []
        if adverse and w["metric"] == "selection_rate"
    }
    for h in data["headline"]:
        if h["metric"] in ("demographic_parity_ratio", "equalized_odds_difference"):
            # a multiclass headline is one-vs-rest, one entry per class
            where = (
                h["feature"] if h.get("class") is None else f"{h['feature']}, class {h['class']}"
            )
            lines.append(f"  {where}: {h['metric']} = {_number(h['value'])}")
        if h["metric"] == "demographic_parity_ratio" and h["feature"] in four_fifths:
            ratio = _number(four_fifths[h["feature"]])
            lines.append(f"  {h['feature']}: favorable_rate_ratio (not flagged) = {ratio}")
    lines += [f"  worse off: {worse_off_text(e)}" for e in worse_off_entries(data.get("summary"))]
    view = (data.get("summary") or {}).get("favorable_view")
    if view:  # multiclass: the union of the favourable classes, as a binary outcome
        said = f"worse off (favourable: {', '.join(map(str, view.get('classes') or []))})"
        lines += [f"  {said}: {worse_off_text(e)}" for e in worse_off_entries(view)]
    if is_regression(data):  # the largest KS and the worst MAE/RMSE ratio, groups named
        lines += [f"  {text}" for text in regression_headline_texts(data)]
        # with --favorable-above/-below T: the derived outcome's parity and who is worse off
        lines += [f"  {text}" for text in favorable_outcome_texts(data)]
    lines += mitigation_lines(data)
    warnings = [c for c in data["data_checks"] if c["status"] == "warning"]
    if warnings:
        noun = "warning" if len(warnings) == 1 else "warnings"
        lines.append(f"  {len(warnings)} {noun}: see the report's data checks")
    return "\n".join(terminal_text(line) for line in lines)
