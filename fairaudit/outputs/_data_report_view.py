"""What the data report's HTML page shows, built from the data report's JSON form only.

The first screen: the largest label disparities with their intervals, the strongest proxies
of each sensitive feature (a ranked dot-and-interval chart of their AUC), and what could
not be evaluated. The full tables follow, folded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fairaudit.outputs._charts import Chart, metrics_chart
from fairaudit.outputs._report_view import group_label
from fairaudit.outputs._text import bound_text

__all__ = [
    "DISPARITY_METRICS",
    "HTML_MAX_ROWS",
    "TOP_DISPARITIES",
    "TOP_PROXIES",
    "TOP_POLICY_OUTCOMES",
    "DataPolicyView",
    "DataReportView",
    "ProxyView",
    "data_report_view",
    "proxy_notes",
]

#: The label metrics the first screen ranks (signed differences: largest |value| first).
DISPARITY_METRICS = ("difference_in_label_proportions", "conditional_demographic_disparity")
#: How many disparities and proxies (per sensitive feature) the first screen shows.
TOP_DISPARITIES, TOP_PROXIES = 5, 5
#: How many failed, warned or not-evaluable policy outcomes the first screen lists.
TOP_POLICY_OUTCOMES = 10
_STATUS_ORDER = {"fail": 0, "warn": 1, "not evaluable": 2, "pass": 3}
#: Rows of the full table on the page; the rest are in the JSON only.
HTML_MAX_ROWS = 1000


@dataclass(frozen=True)
class ProxyView:
    """One sensitive feature's proxy analysis: its top features, the chart, the full list."""

    sensitive: str
    top: list[Mapping[str, Any]]
    features: list[Mapping[str, Any]]
    joint: Mapping[str, Any] | None
    flagged: int
    chart: Chart | None
    source: Mapping[str, Any]


@dataclass(frozen=True)
class DataPolicyView:
    """The policy's verdict on a data report: each rule's tally, the outcomes to read first
    (failed, warned, not evaluable: worst first), and the rules that cannot apply."""

    verdict: str
    not_evaluable: str
    layers: list[Mapping[str, Any]]
    rules: list[dict[str, Any]]
    attention: list[dict[str, Any]]
    more: int
    not_applicable: list[dict[str, Any]]


@dataclass(frozen=True)
class DataReportView:
    """The template context of a data report page (``report`` in the templates)."""

    result: Mapping[str, Any]
    data_json: Any
    title: str
    disparities: list[dict[str, Any]]
    proxies: list[ProxyView]
    not_evaluated: list[str]
    rows: list[dict[str, Any]]
    omitted: int
    policy: DataPolicyView | None = None


def who(group: Mapping[str, Any] | None, reference: Any) -> tuple[str, str]:
    """Return a row's group and comparison as page text (``the rest``, ``the whole feature``)."""
    name = "the whole feature" if not group else group_label(group)
    if reference == "rest":
        return name, "the rest"
    return name, "" if not reference else group_label(reference)


def _row_view(row: Mapping[str, Any]) -> dict[str, Any]:
    group, against = who(row.get("group"), row.get("reference"))
    return {**row, "group_text": group, "against": against}


def _disparities(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return the largest signed label disparities (|value| first), with intervals."""
    ranked = [r for r in rows if r["metric"] in DISPARITY_METRICS and r["value"] is not None]
    ranked.sort(key=lambda r: (-abs(r["value"]), r["feature"], r["metric"]))
    return [_row_view(r) for r in ranked[:TOP_DISPARITIES]]


def _proxy_chart(sensitive: str, top: Sequence[Mapping[str, Any]]) -> Chart | None:
    """Return the ranked dot-and-interval chart of the top features' AUC (folds as whiskers)."""
    if not top:
        return None
    names = [str(f["feature"]) for f in top]
    folds = [tuple(f["auc_folds"]) if f.get("auc_folds") else None for f in top]
    return metrics_chart(
        f"How well each feature predicts {sensitive} (cross-validated AUC)",
        names,
        ["auc"],
        [[f["auc"] for f in top]],
        [folds],
        words=("Feature", "a feature's cross-validated AUC", "lowest to highest over the folds"),
    )


def _proxy_view(analysis: Mapping[str, Any]) -> ProxyView:
    features = list(analysis.get("features") or [])
    top = features[:TOP_PROXIES]
    return ProxyView(
        sensitive=str(analysis["sensitive"]),
        top=top,
        features=features,
        joint=analysis.get("joint"),
        flagged=sum(1 for f in features if f.get("flagged")),
        chart=_proxy_chart(str(analysis["sensitive"]), top),
        source=analysis,
    )


def _not_evaluated(data: Mapping[str, Any]) -> list[str]:
    """Return, in words, every number the report could not give and why."""
    notes = []
    options = data["options"]
    metrics = {r["metric"] for r in data["data_bias"]}
    if "class_imbalance" not in metrics:
        notes.append(
            "No label or representation comparison: every sensitive feature has a single "
            "group, so there is nothing to compare."
        )
    elif "difference_in_label_proportions" not in metrics:
        notes.append(
            "No label-proportion or conditional disparity: the target has no favourable label "
            "(give --favorable-label for a label other than 0/1)."
        )
    elif options.get("strata") is None:
        notes.append("No conditional demographic disparity: no --strata column was given.")
    if not options.get("population"):
        notes.append("No representation against a population: no --population shares given.")
    undefined = [r for r in data["data_bias"] if r["value"] is None]
    for row in undefined[:TOP_DISPARITIES]:
        group, against = who(row.get("group"), row.get("reference"))
        versus = f" against {against}" if against else ""
        notes.append(f"{row['metric']} of {group}{versus} ({row['feature']}) is undefined.")
    if len(undefined) > TOP_DISPARITIES:
        notes.append(f"{len(undefined) - TOP_DISPARITIES} more undefined values: see the tables.")
    return notes + proxy_notes(data["proxies"])


def proxy_notes(analyses: Sequence[Mapping[str, Any]]) -> list[str]:
    """Return, in words, what each proxy analysis left out (groups, features, sampled rows)."""
    notes = []
    for analysis in analyses:
        name = analysis["sensitive"]
        left = analysis.get("groups_left_out") or []
        if left:
            notes.append(
                f"Proxies of {name}: groups of fewer than 5 rows left out: " + ", ".join(left)
            )
        if not analysis.get("features"):
            notes.append(f"Proxies of {name}: fewer than two groups to tell apart; no analysis.")
        if analysis.get("sampled"):
            notes.append(
                f"Proxies of {name}: the models saw a stratified sample of "
                f"{analysis['rows_modelled']:,} of {analysis['rows']:,} rows."
            )
    return notes


def _outcome_view(rule: Mapping[str, Any], outcome: Mapping[str, Any]) -> dict[str, Any]:
    group, against = who(outcome.get("group"), outcome.get("reference"))
    if outcome.get("reference") is None and outcome.get("group"):
        against = "the population"
    return {**outcome, "rule": rule["id"], "group_text": group, "against": against}


def _policy_view(policy: Mapping[str, Any] | None) -> DataPolicyView | None:
    """Return the page's view of a data report's ``policy`` section (None without one)."""
    if not policy:
        return None
    rules, flagged = [], []
    for rule in policy["rules"]:
        outcomes = [_outcome_view(rule, o) for o in rule["outcomes"]]
        tally = {s: sum(1 for o in outcomes if o["status"] == s) for s in _STATUS_ORDER}
        shown = outcomes[:HTML_MAX_ROWS]
        rules.append(
            {
                **rule,
                "bound_text": bound_text(rule["bound"]),
                "tally": tally,
                "shown": shown,
                "omitted": len(outcomes) - len(shown),
            }
        )
        flagged += [o for o in outcomes if o["status"] != "pass"]
    flagged.sort(key=lambda o: _STATUS_ORDER.get(o["status"], 4))
    return DataPolicyView(
        verdict=policy["verdict"],
        not_evaluable=policy["not_evaluable"],
        layers=list(policy["layers"]),
        rules=rules,
        attention=flagged[:TOP_POLICY_OUTCOMES],
        more=max(0, len(flagged) - TOP_POLICY_OUTCOMES),
        not_applicable=[
            {**r, "bound_text": bound_text(r["bound"])} for r in policy.get("not_applicable") or []
        ],
    )


def data_report_view(data: Mapping[str, Any], data_json: Any) -> DataReportView:
    """Return the page's context from the data report's JSON form (``data_json`` embedded)."""
    rows = [_row_view(r) for r in data["data_bias"]]
    name = data["audit"].get("name") or data["data"]["path"]
    return DataReportView(
        result=data,
        data_json=data_json,
        title=f"Data audit of {name}",
        disparities=_disparities(data["data_bias"]),
        proxies=[_proxy_view(a) for a in data["proxies"]],
        not_evaluated=_not_evaluated(data),
        rows=rows[:HTML_MAX_ROWS],
        omitted=max(0, len(rows) - HTML_MAX_ROWS),
        policy=_policy_view(data.get("policy")),
    )
