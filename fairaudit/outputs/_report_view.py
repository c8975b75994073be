"""The report's view model: what each part of the page shows, built from the result's JSON.

The page answers in order: the verdict, who is worse off and by how much, the recommended
mitigation and its cost, and what could not be evaluated (:mod:`._report_notices`); then one
part per grouping that opens with its chart and a short table of the metrics that matter (the
policy's, else the headline metrics'), with every metric and every disparity row in
``<details>``. Only the result's JSON form is read, so the HTML shows the JSON's numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from fairaudit.display import display_text, ratio_name, worse_off_what
from fairaudit.outputs._chart_heatmap import heatmap_chart
from fairaudit.outputs._charts import Chart, disparity_chart, metrics_chart
from fairaudit.outputs._report_groups import TOP_GROUPS, split_groups
from fairaudit.outputs._report_mitigation import Recommendation, mitigation_chart, recommendation
from fairaudit.outputs._report_notices import Notice, build_notices, check_anchors
from fairaudit.vocabulary import (
    DEFINITIONS,
    HEADLINE_BASES,
    HEADLINE_METRICS,
    HTML_MAX_GROUPS,
    INTERSECTION,
    RATIO_BAND,
)

__all__ = [
    "grouping_title",
    "CHART_METRICS",
    "DISPARITY_METRICS",
    "GroupingView",
    "ReportContext",
    "Verdict",
    "WorstOff",
    "group_label",
    "key_metrics",
    "task_context",
    "view_context",
]

#: Metrics drawn in each grouping's chart.
CHART_METRICS = ("selection_rate", "true_positive_rate", "false_positive_rate")
#: Metrics of the ratio chart of each grouping (every metric's disparities are tabled).
DISPARITY_METRICS = ("selection_rate",)

#: Short names of rates in chart titles.
_SHORT = {"true_positive_rate": "TPR", "false_positive_rate": "FPR"}

#: The group rates each between-groups rule or headline metric compares (its name without
#: ``_difference``/``_ratio``); any other rule metric names its group metric directly.
_RATES_BEHIND = {**HEADLINE_BASES, "favorable_rate": ("selection_rate",)}


GroupKey = tuple[tuple[str, Any], ...]


def _key(group: Mapping[str, Any]) -> GroupKey:
    return tuple(group.items())


def group_label(group: Mapping[str, Any]) -> str:
    """Return a group's display name, e.g. ``sex: female · age: [25, 40)``.

    Display only: the JSON keeps the values as they are. ``·`` separates the features
    because binned values such as ``[25, 40)`` contain commas.
    """
    return " · ".join(f"{k}: {v}" for k, v in group.items())


def grouping_title(audit: Mapping[str, Any], name: str) -> str:
    """Return a grouping's section title: the sensitive feature, or what the intersection
    crosses."""
    if name == INTERSECTION:
        return "Intersection of " + " × ".join(audit["sensitive_features"])
    return f"Sensitive feature: {name}"


def key_metrics(data: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the group metrics each grouping's short table shows.

    With a policy, the rates its rules compare (``favorable_opportunity`` is the false
    positive rate when a positive prediction is adverse); without one, those of the
    headline metrics.
    """
    names = set(data["metrics"]["names"])
    adverse = data["audit"].get("positive_prediction") == "adverse"
    policy = data.get("policy")
    metrics = [r["metric"] for r in policy["rules"]] if policy else list(HEADLINE_METRICS)
    out: list[str] = []
    for metric in metrics:
        base = metric.rsplit("_", 1)[0]
        if base == "favorable_opportunity":
            out.append("false_positive_rate" if adverse else "true_positive_rate")
        else:
            out.extend(_RATES_BEHIND.get(base, (base,) if base in names else ()))
    return tuple(dict.fromkeys(out)) or CHART_METRICS


@dataclass
class GroupingView:
    """What the page shows for one grouping.

    ``rows`` holds every group in the JSON's order. A grouping of more than
    :data:`TOP_GROUPS` groups is split: ``top_rows`` are the groups with the lowest
    selection rate (groups with enough data first, worst first, plus the reference group)
    and ``rest_rows`` the others, largest first. Otherwise ``top_rows`` is ``rows`` and
    ``rest_rows`` is empty. ``disparities`` are the disparity rows of the shown groups, by
    group in the order of ``shown_rows``. Past ``HTML_MAX_GROUPS`` groups, ``omitted``
    groups are in neither (only in the JSON).
    """

    name: str
    anchor: str
    title: str
    reference: str
    rows: list[dict[str, Any]]
    disparities: list[list[dict[str, Any]]]
    headline: dict[str, Any]
    chart: Chart
    disparity_chart: Chart
    top_rows: list[dict[str, Any]] = field(default_factory=list)
    rest_rows: list[dict[str, Any]] = field(default_factory=list)
    omitted: int = 0

    @property
    def folded(self) -> bool:
        """Return whether the short table shows only some of the groups."""
        return bool(self.rest_rows)

    @property
    def shown_rows(self) -> list[dict[str, Any]]:
        """Return every group in the page: the short table's, then the others."""
        return self.top_rows + self.rest_rows

    @property
    def notes(self) -> list[str]:
        """Return the distinct notes of the disparity rows, each printed once under the table
        (the rows mark theirs with its number)."""
        return list(
            dict.fromkeys(d["note"] for rows in self.disparities for d in rows if d.get("note"))
        )

    @property
    def disparity_count(self) -> int:
        """Return the number of disparity rows shown."""
        return sum(len(rows) for rows in self.disparities)


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
    characters made visible (the Environment's ``finalize``), then escaped by Jinja2.

    ``anchors`` maps a row flag (``insufficient_data``, ``single_class``,
    ``small_denominators``) and each warned data check's id to the anchor of its notice.
    """

    title: str
    result: dict[str, Any]
    metric_names: list[str]
    key_metrics: tuple[str, ...]
    groupings: list[GroupingView]
    notices: list[Notice]
    anchors: dict[str, str]
    worst_off: list[WorstOff]
    definitions: dict[str, str]
    headline_names: tuple[str, ...]
    ratio_band: tuple[float, float]
    data_json: Markup
    verdict: Verdict
    recommendation: Recommendation | None = None
    has_intervals: bool = False
    mitigation_chart: Chart | None = None
    top_groups: int = TOP_GROUPS
    worst_order: str = "lowest selection rate"
    html_max_groups: int = HTML_MAX_GROUPS
    #: The training-data section (``_report_training.TrainingView``), or None without one.
    training: Any = None
    #: A regression audit's sections (``_report_regression.RegressionView``), else None.
    regression: Any = None
    #: A multiclass audit's sections (``_report_multiclass.MulticlassView``), else None.
    multiclass: Any = None


def _worst_off(data: Mapping[str, Any]) -> list[WorstOff]:
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


def _verdict(data: Mapping[str, Any], worst: list[WorstOff]) -> Verdict:
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


def _heatmap(data: Mapping[str, Any], rows: list[dict[str, Any]], metric: str) -> Chart:
    """Return the intersection of two features as a heat map of ``metric`` (A × B)."""
    first, second = data["audit"]["sensitive_features"]
    by_group = data["metrics"]["by_group"]
    values_a = [r["group"][first] for r in by_group if r["feature"] == first]
    values_b = [r["group"][second] for r in by_group if r["feature"] == second]
    cells = {(r["group"][first], r["group"][second]): r for r in rows}

    def grid(read: Any) -> list[list[Any]]:
        return [
            [read(cells[(a, b)]) if (a, b) in cells else None for b in values_b] for a in values_a
        ]

    reference = data["audit"]["reference"][INTERSECTION]
    name = metric.replace("_", " ")
    return heatmap_chart(
        display_text(f"{name.capitalize()} of each cell: {first} (rows) × {second} (columns)"),
        display_text(first),
        display_text(second),
        [display_text(v) for v in values_a],
        [display_text(v) for v in values_b],
        grid(lambda r: r["metrics"].get(metric)),
        metric=name,
        counts=[[c if c is not None else 0 for c in row] for row in grid(lambda r: r["count"])],
        intervals=grid(lambda r: (r.get("ci") or {}).get(metric)),
        insufficient=grid(lambda r: bool(r["insufficient_data"])),
        min_group_size=data["audit"]["min_group_size"],
        reference=(display_text(reference[first]), display_text(reference[second])),
    )


def _rate_chart(
    name: str, drawn: list[dict[str, Any]], metrics: tuple[str, ...], of_all: str, reference: str
) -> Chart:
    """Return the small multiples of ``metrics`` by group (the drawn groups)."""
    has_ci = any(r.get("ci") for r in drawn)
    short = [_SHORT.get(m, m.replace("_", " ")) for m in metrics]
    names = " and ".join([", ".join(short[:-1]), short[-1]] if len(short) > 1 else short)
    return metrics_chart(
        display_text(f"{names[0].upper()}{names[1:]} by group ({name}{of_all})"),
        [display_text(group_label(r["group"])) for r in drawn],
        metrics,
        [[r["metrics"].get(m) for r in drawn] for m in metrics],
        [[(r.get("ci") or {}).get(m) for r in drawn] for m in metrics] if has_ci else None,
        reference=display_text(reference),
    )


def _ratio_chart(
    name: str,
    drawn: list[dict[str, Any]],
    by_group: list[list[dict[str, Any]]],
    of_all: str,
    reference: str,
) -> Chart:
    """Return the selection-rate ratio of each drawn group to the reference, over the band."""
    drawn_keys = {_key(r["group"]) for r in drawn}
    sr = [d for rows in by_group for d in rows if d["metric"] in DISPARITY_METRICS]
    sr = [d for d in sr if _key(d["group"]) in drawn_keys]
    return disparity_chart(
        display_text(f"Selection-rate ratio to the reference ({name}{of_all})"),
        [display_text(group_label(d["group"])) for d in sr],
        [d["ratio"] for d in sr],
        display_text(reference),
        [d.get("ci_ratio") for d in sr] if any(d.get("ci_ratio") for d in sr) else None,
        RATIO_BAND,
    )


def _grouping_view(
    data: Mapping[str, Any], name: str, index: int, adverse: bool, first: tuple[str, ...]
) -> GroupingView:
    """Return what the page shows for grouping ``name`` (``first``: the first key metric)."""
    audit = data["audit"]
    rows = [r for r in data["metrics"]["by_group"] if r["feature"] == name]
    reference = group_label(audit["reference"][name])
    title = grouping_title(audit, name)
    disparities = [d for d in data["disparities"] if d["feature"] == name]
    split = split_groups(rows, adverse=adverse)
    shown = split.top + split.rest
    by_group: dict[GroupKey, list[dict[str, Any]]] = {_key(r["group"]): [] for r in shown}
    for d in disparities:
        by_group.get(_key(d["group"]), []).append(d)
    drawn = split.top
    order = "highest selection rates" if adverse else "lowest selection rates"
    of_all = f", the {len(drawn)} of {len(rows)} groups with the {order}" if split.rest else ""
    grouped = [rows for rows in by_group.values() if rows]
    # The intersection: a heat map of two features, else its first key metric only (its
    # every-metric table is folded below the chart).
    if name == INTERSECTION and len(audit["sensitive_features"]) == 2:
        chart = _heatmap(data, rows, first[0])
    else:
        metrics = first if name == INTERSECTION else CHART_METRICS
        chart = _rate_chart(name, drawn, metrics, of_all, reference)
    ratio_chart = _ratio_chart(name, drawn, grouped, of_all, reference)
    return GroupingView(
        name=name,
        anchor=f"grouping-{index}",
        title=title,
        reference=reference,
        rows=rows,
        disparities=grouped,
        headline={h["metric"]: h for h in data["headline"] if h["feature"] == name},
        chart=chart,
        disparity_chart=ratio_chart,
        top_rows=split.top,
        rest_rows=split.rest,
        omitted=split.omitted,
    )


def _anchors(data: Mapping[str, Any], notices: list[Notice]) -> dict[str, str]:
    """Return the anchors of the notices that table rows link to (see ReportContext)."""
    anchors = check_anchors(data["data_checks"], notices)
    for n in notices:
        anchors.setdefault(n.kind, n.anchor)
    anchors.setdefault("insufficient_data", "attention")
    anchors.setdefault("single_class", "attention")
    anchors.setdefault("small_denominators", "attention")
    return anchors


def view_context(data: dict[str, Any], data_json: Markup) -> ReportContext:
    """Return the template context for a result's JSON form (charts included)."""
    audit = data["audit"]
    adverse = audit.get("positive_prediction") == "adverse"
    metrics = key_metrics(data)
    groupings = [
        _grouping_view(data, name, i, adverse, metrics[:1])
        for i, name in enumerate(audit["groupings"], 1)
    ]
    worst = _worst_off(data)
    notices = build_notices(data)
    model, version = audit["name"], audit["model_version"]
    return ReportContext(
        title=f"Fairness audit: {model}" + (f" {version}" if version else ""),
        result=data,
        metric_names=[m for m in data["metrics"]["names"] if m != "count"],
        key_metrics=metrics,
        groupings=groupings,
        notices=notices,
        anchors=_anchors(data, notices),
        worst_off=worst,
        definitions=DEFINITIONS,
        headline_names=HEADLINE_METRICS,
        ratio_band=RATIO_BAND,
        data_json=data_json,
        verdict=_verdict(data, worst),
        recommendation=recommendation(data),
        has_intervals=data.get("uncertainty") is not None,
        mitigation_chart=mitigation_chart(data),
        worst_order=(
            "highest selection rate (flagged most often)" if adverse else "lowest selection rate"
        ),
    )


def task_context(
    data: dict[str, Any],
    data_json: Markup,
    *,
    task: str,
    view: Any,
    key_metrics: tuple[str, ...],
    definitions: Mapping[str, str],
    headline_names: tuple[str, ...],
) -> ReportContext:
    """Return the template context of a regression or multiclass result's JSON form: the
    task's ``view`` (with ``measured``, ``groupings`` and ``warnings``) under ``task``, the
    binary parts empty."""
    audit = data["audit"]
    warned = {c["id"]: "attention" for c in view.warnings}
    model, version = audit["name"], audit["model_version"]
    return ReportContext(
        title=f"Fairness audit: {model}" + (f" {version}" if version else ""),
        result=data,
        metric_names=[m for m in data["metrics"]["names"] if m != "count"],
        key_metrics=key_metrics,
        groupings=view.groupings,  # the nav reads name and anchor
        notices=[],
        anchors={"insufficient_data": "attention", "single_class": "attention", **warned},
        worst_off=[],
        definitions=dict(definitions),
        headline_names=headline_names,
        ratio_band=RATIO_BAND,
        data_json=data_json,
        verdict=Verdict("none", task, view.measured, "", []),
        has_intervals=data.get("uncertainty") is not None,
        **{task: view},
    )
