"""Rendering an AuditResult as one self-contained HTML file (Jinja2, autoescaped).

The templates receive a :class:`ReportContext` built only from the AuditResult's JSON
form, so the HTML shows exactly the numbers of the JSON twin.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from fairaudit.display import display_text, ratio_name, worse_off_what
from fairaudit.errors import OutputError
from fairaudit.outputs._charts import Chart, disparity_chart, metrics_chart, tradeoff_chart
from fairaudit.outputs._report_groups import TOP_GROUPS, split_groups
from fairaudit.result import AuditResult
from fairaudit.vocabulary import (
    DEFINITIONS,
    HEADLINE_METRICS,
    HTML_MAX_GROUPS,
    INTERSECTION,
    RATIO_BAND,
)

if TYPE_CHECKING:
    pass

__all__ = [
    "CHART_METRICS",
    "DISPARITY_METRICS",
    "TOP_GROUPS",
    "GroupingView",
    "ReportContext",
    "Verdict",
    "WorstOff",
    "build_context",
    "embedded_json",
    "group_label",
    "render_html",
    "report_paths",
    "template_dir",
    "template_environment",
]

#: Metrics drawn in each grouping's chart.
CHART_METRICS = ("selection_rate", "true_positive_rate", "false_positive_rate")
#: Metrics whose disparities the report tabulates (all are in the JSON).
DISPARITY_METRICS = (
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "false_negative_rate",
    "precision",
    "accuracy",
)


def template_dir() -> Path:
    """Return the templates folder: inside the installed package, else the source tree's."""
    packaged = Path(__file__).resolve().parent.parent / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent.parent / "templates"


def _shown(value: Any) -> Any:
    """Return a value as a template prints it: text from data with its controls made visible.

    The Environment's ``finalize``: every ``{{ ... }}`` passes here before autoescape, so no
    template can forget it. Markup (macro output, the embedded JSON) passes unchanged.
    """
    if isinstance(value, str) and not isinstance(value, Markup):
        return display_text(value)
    return value


@cache
def template_environment() -> jinja2.Environment:
    """Return the Jinja2 environment of every page (report, diff, batch index): autoescaped."""
    env = jinja2.Environment(
        finalize=_shown,
        loader=jinja2.FileSystemLoader(str(template_dir())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = format_number
    env.filters["interval"] = format_interval
    env.filters["group"] = group_label
    return env


def format_number(value: Any, digits: int = 4) -> str:
    """Return a number rounded for display, or 'undefined' for null."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "undefined"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def format_interval(ci: Sequence[float | None] | None, digits: int = 3) -> str:
    """Return ``[low, high]`` for display, or an empty string without an interval."""
    if not ci or ci[0] is None or ci[1] is None:
        return ""
    return f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def embedded_json(data: dict[str, Any]) -> Markup:
    """Return JSON safe inside ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` become ``\\u003c`` etc., so no data value can close the
    element or open a comment; json.loads of the element's text gives ``data`` back.
    """
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return Markup(text)


def group_label(group: dict[str, str]) -> str:
    """Return a group's display name, e.g. ``sex: female · age: [25, 40)``.

    Display only: the JSON keeps the values as they are. ``·`` separates the features
    because binned values such as ``[25, 40)`` contain commas.
    """
    return " · ".join(f"{k}: {v}" for k, v in group.items())


@dataclass
class GroupingView:
    """What the metrics and disparities sections show for one grouping.

    ``rows`` holds every group in the JSON's order. A grouping of more than
    :data:`TOP_GROUPS` groups is split: ``top_rows`` are the groups with the lowest
    selection rate (groups with enough data first, worst first, plus the reference group)
    and ``rest_rows`` the others, largest first. Otherwise ``top_rows`` is ``rows`` and
    ``rest_rows`` is empty. ``top_disparities``/``rest_disparities`` follow the same split.
    Past ``HTML_MAX_GROUPS`` groups, ``omitted`` groups are in neither (only in the JSON).
    """

    name: str
    title: str
    reference: str
    rows: list[dict[str, Any]]
    disparities: list[dict[str, Any]]
    headline: dict[str, Any]
    chart: Chart
    disparity_chart: Chart
    top_rows: list[dict[str, Any]] = field(default_factory=list)
    rest_rows: list[dict[str, Any]] = field(default_factory=list)
    top_disparities: list[dict[str, Any]] = field(default_factory=list)
    rest_disparities: list[dict[str, Any]] = field(default_factory=list)
    omitted: int = 0

    @property
    def folded(self) -> bool:
        """Return whether some groups are folded into a <details> element."""
        return bool(self.rest_rows)


@dataclass
class WorstOff:
    """The group of one grouping with the lowest value of one metric, against the best-off
    group (``ratio``) and the reference."""

    grouping: str
    metric: str
    what: str
    group: str
    value: float
    count: int
    reference: str
    reference_value: float | None
    best: str
    best_value: float | None
    ratio: float | None
    ci_ratio: list[float | None] | None
    significance: str | None
    below_band: bool
    ratio_name: str = "ratio"


@dataclass
class Verdict:
    """The banner at the top of the report: the answer, then who is worse off.

    ``status`` is the policy verdict (``pass``, ``warn``, ``fail``, ``not-evaluable``) or
    ``none`` without a policy; ``flagged`` lists the worst-off groups whose ratio to the
    reference is below the band's lower end.
    """

    status: str
    label: str
    headline: str
    detail: str
    flagged: list[WorstOff]

    @property
    def flagged_groups(self) -> list[tuple[str, list[WorstOff]]]:
        """Return the flagged entries by group (``grouping: group``), in order."""
        out: dict[str, list[WorstOff]] = {}
        for w in self.flagged:
            out.setdefault(f"{w.grouping}\0{w.group}", []).append(w)
        return [(key.split("\0", 1)[1], items) for key, items in out.items()]


@dataclass
class ReportContext:
    """Everything the templates read. Every string is shown with its control and bidi
    characters made visible (the Environment's ``finalize``), then escaped by Jinja2."""

    title: str
    result: dict[str, Any]
    metric_names: list[str]
    groupings: list[GroupingView]
    warnings: list[dict[str, Any]]
    worst_off: list[WorstOff]
    definitions: dict[str, str]
    headline_names: tuple[str, ...]
    disparity_metrics: tuple[str, ...]
    ratio_band: tuple[float, float]
    data_json: Markup
    verdict: Verdict
    has_intervals: bool = False
    mitigation_chart: Chart | None = None
    notes: list[str] = field(default_factory=list)
    top_groups: int = TOP_GROUPS
    worst_order: str = "lowest selection rate"
    html_max_groups: int = HTML_MAX_GROUPS


def _worst_off(data: dict[str, Any]) -> list[WorstOff]:
    """Return the worst-off groups the result's ``summary`` names (none in an older result).

    A result written before ``best_group`` existed compared with the reference group.
    """
    entries = (data.get("summary") or {}).get("worse_off", [])
    return [
        WorstOff(
            grouping=w["feature"],
            metric=w["metric"],
            what=worse_off_what(w),
            ratio_name=ratio_name(w),
            group=group_label(w["group"]),
            value=w["value"],
            count=w["count"],
            reference=group_label(w["reference_group"]),
            reference_value=w["reference_value"],
            best=group_label(w.get("best_group", w["reference_group"])),
            best_value=w.get("best_value", w["reference_value"]),
            ratio=w["ratio"],
            ci_ratio=w["ci_ratio"],
            significance=w["significance"],
            below_band=w["below_band"],
        )
        for w in entries
    ]


def _verdict(data: dict[str, Any], worst: list[WorstOff]) -> Verdict:
    """Return the banner: the policy's answer (or that none was applied) and who is worse off."""
    flagged = [w for w in worst if w.below_band]
    policy = data.get("policy")
    low = RATIO_BAND[0]
    if policy and data.get("verdict"):
        status = str(data["verdict"])
        rules = policy["rules"]
        failed = sum(r["status"] == "fail" for r in rules)
        warned = sum(r["status"] == "warn" for r in rules)
        counts = f"{failed} of {len(rules)} rules failed" + (f", {warned} warned" if warned else "")
        label, headline = {
            "pass": ("PASS", f"Meets the policy: all {len(rules)} rules pass."),
            "warn": ("WARN", f"Meets the policy with warnings: {counts}."),
            "fail": ("FAIL", f"Does not meet the policy: {counts}."),
        }.get(status, (status.upper(), f"The policy could not be fully evaluated: {counts}."))
        detail = ""
    else:
        status, label = "none", "NOT JUDGED"
        headline = "No policy was applied."
        detail = "This report measures disparities; it does not decide whether they are acceptable."
    groupings = list(dict.fromkeys(w.grouping for w in worst))
    adverse = (data.get("audit") or {}).get("positive_prediction") == "adverse"
    rates = (
        "rate of not being flagged (or true negative rate)"
        if adverse
        else "selection rate or true positive rate"
    )
    if flagged:
        below = list(dict.fromkeys(w.grouping for w in flagged))
        detail += (
            f" In {len(below)} of {len(groupings)} groupings, a group's {rates} is below "
            f"{low} × the best-off group's."
        )
    elif worst:
        detail += f" No group's {rates} is below {low} × the best-off group's."
    return Verdict(status.replace(" ", "-"), label, headline, detail.strip(), flagged)


def _grouping_view(data: dict[str, Any], name: str, adverse: bool) -> GroupingView:
    """Return what the metrics and disparities sections show for grouping ``name``."""
    audit = data["audit"]
    rows = [r for r in data["metrics"]["by_group"] if r["feature"] == name]
    reference = group_label(audit["reference"][name])
    title = (
        "Intersection of " + " × ".join(audit["sensitive_features"])
        if name == INTERSECTION
        else f"Sensitive feature: {name}"
    )
    disparities = [d for d in data["disparities"] if d["feature"] == name]
    shown = [d for d in disparities if d["metric"] in DISPARITY_METRICS]
    split = split_groups(rows, shown, adverse=adverse)
    top, rest = split.top, split.rest
    drawn = top if rest else rows
    labels = [display_text(group_label(r["group"])) for r in drawn]
    has_ci = any(r.get("ci") for r in drawn)
    order = "highest selection rates" if adverse else "lowest selection rates"
    of_all = f", the {len(drawn)} of {len(rows)} groups with the {order}" if rest else ""
    chart = metrics_chart(
        display_text(f"Selection rate, TPR and FPR by group ({name}{of_all})"),
        labels,
        CHART_METRICS,
        [[r["metrics"].get(m) for r in drawn] for m in CHART_METRICS],
        [[(r.get("ci") or {}).get(m) for r in drawn] for m in CHART_METRICS] if has_ci else None,
    )
    drawn_groups = [r["group"] for r in drawn]
    sr = [
        d
        for d in disparities
        if d["metric"] == "selection_rate" and (not rest or d["group"] in drawn_groups)
    ]
    if rest:
        sr.sort(key=lambda d: drawn_groups.index(d["group"]))
    dchart = disparity_chart(
        display_text(f"Selection-rate ratio to the reference ({name}{of_all})"),
        [display_text(group_label(d["group"])) for d in sr],
        [d["ratio"] for d in sr],
        display_text(reference),
        [d.get("ci_ratio") for d in sr] if any(d.get("ci_ratio") for d in sr) else None,
        RATIO_BAND,
    )
    headline = {h["metric"]: h for h in data["headline"] if h["feature"] == name}
    return GroupingView(
        name,
        title,
        reference,
        rows,
        shown,
        headline,
        chart,
        dchart,
        top,
        rest,
        split.top_disparities,
        split.rest_disparities,
        split.omitted,
    )


def build_context(result: AuditResult) -> ReportContext:
    """Return the template context for an AuditResult (charts included)."""
    data = result.to_dict()
    audit = data["audit"]
    adverse = audit.get("positive_prediction") == "adverse"
    groupings = [_grouping_view(data, name, adverse) for name in audit["groupings"]]
    worst = _worst_off(data)
    warnings = [c for c in data["data_checks"] if c["status"] in ("warning", "error")]
    mitigation_chart = _mitigation_chart(data)
    model = data["audit"]["name"]
    version = data["audit"]["model_version"]
    return ReportContext(
        title=f"Fairness audit: {model}" + (f" {version}" if version else ""),
        result=data,
        metric_names=[m for m in data["metrics"]["names"] if m != "count"],
        groupings=groupings,
        warnings=warnings,
        worst_off=worst,
        definitions=DEFINITIONS,
        headline_names=HEADLINE_METRICS,
        disparity_metrics=DISPARITY_METRICS,
        ratio_band=RATIO_BAND,
        data_json=embedded_json(data),
        verdict=_verdict(data, worst),
        has_intervals=data.get("uncertainty") is not None,
        mitigation_chart=mitigation_chart,
        worst_order=(
            "highest selection rate (flagged most often)" if adverse else "lowest selection rate"
        ),
    )


def _mitigation_chart(data: dict[str, Any]) -> Chart | None:
    """Return the accuracy/disparity trade-off chart of the mitigation comparison, if any."""
    entries = [e for e in data.get("mitigations") or [] if e["status"] == "ok"]
    summary = data.get("mitigation_summary")
    if len(entries) < 2 or summary is None:
        return None
    grouping = summary["grouping"]

    def headline(entry: dict[str, Any]) -> dict[str, Any]:
        for h in entry["headline"]:
            if h["feature"] == grouping and h["metric"] == "demographic_parity_difference":
                return h
        return {"value": None}

    points = [headline(e) for e in entries]
    return tradeoff_chart(
        display_text(f"Accuracy against demographic parity difference ({grouping})"),
        [e["method"].replace("_", " ") for e in entries],
        [p["value"] for p in points],
        [p.get("ci") for p in points],
        [e["metrics"]["overall"].get("accuracy") for e in entries],
        [e["metrics"].get("overall_ci", {}).get("accuracy") for e in entries],
        "demographic parity difference",
    )


def render_html(result: AuditResult) -> str:
    """Return the report as one self-contained HTML document."""
    context = build_context(result)
    template = template_environment().get_template("report.html")
    return template.render(report=context)


def _safe_name_part(text: str) -> str:
    """Return text usable in a file name: letters, digits, dot, dash and underscore."""
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in text).strip("._")
    return cleaned[:80] or "audit"


MSG_OUTPUT_IS_JSON = (
    "output '{path}' ends in .json; -o names the HTML report (the JSON is written beside it)"
)


def report_paths(result: AuditResult, output: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Return the HTML and JSON paths for ``output`` (a file, or a folder to name it in).

    A string ending in a path separator always means a folder, which must exist.
    """
    raw = os.fspath(output)
    output = Path(raw)
    if raw.endswith(("/", os.sep)) and not output.is_dir():
        raise OutputError(f"output folder '{output}' does not exist; create it first")
    if output.is_dir():
        audit = result.audit
        parts = [_safe_name_part(audit["name"] or "audit")]
        if audit.get("model_version"):
            parts.append(_safe_name_part(audit["model_version"]))
        parts.append(audit["id"][:12])
        html_path = output / ("-".join(parts) + ".html")
    else:
        html_path = output
    if html_path.suffix.lower() == ".json":
        raise OutputError(MSG_OUTPUT_IS_JSON.format(path=html_path))
    return html_path, html_path.with_suffix(".json")
