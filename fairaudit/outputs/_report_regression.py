"""The report's view of a regression audit (``audit.task`` is ``regression``).

The page says first what was measured and what stands out (the disparities significant
after Holm's adjustment), then the headline per grouping (the largest KS distance
between two groups' prediction distributions, the worst group's MAE and RMSE over the
overall), then per grouping: a chart of each group's MAE ratio to the reference (with
its MOVER-R interval) and of its prediction distribution's KS distance from the
reference's, the error table (count, mean prediction, mean target, mean error, MAE,
RMSE, r2, with intervals) and the disparity table. With a BoundedGroupLoss comparison
(``mitigations``: --train and a model) what each variant would cost
(:mod:`._report_regression_mitigation`: the table, the trade-off charts, the reading and each
variant's bound); without one the page says it did not run. What is not built yet for
regression is said, not left out. With a favourable threshold
(``summary.favorable_outcome``), a section labelled "derived outcome" gives the binary view:
the four-fifths ratio of the share of favourable predictions, fairlearn's headline metrics
and each group's rates of that outcome. Only the result's JSON form is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from fairaudit.display import display_text
from fairaudit.measure import MSG_REGRESSION_MITIGATION
from fairaudit.measure._regression_threshold import number_text
from fairaudit.outputs._charts import Chart, disparity_chart, metrics_chart
from fairaudit.outputs._report_groups import TOP_GROUPS
from fairaudit.outputs._report_regression_mitigation import (
    RegressionMitigation,
    regression_mitigation,
)
from fairaudit.outputs._report_view import ReportContext, group_label, grouping_title, task_context
from fairaudit.vocabulary import (
    HTML_MAX_GROUPS,
    RATIO_BAND,
    REGRESSION_DEFINITIONS,
    REGRESSION_HEADLINE_METRICS,
    REGRESSION_METRICS,
)

__all__ = [
    "FAVORABLE_RATES",
    "NOT_BUILT",
    "FavorableGrouping",
    "FavorableView",
    "RegressionGrouping",
    "RegressionView",
    "favorable_view",
    "regression_context",
    "regression_view",
]

#: What a regression audit does not do yet, said on the page.
NOT_BUILT = (
    MSG_REGRESSION_MITIGATION + ".",
    "r2 and wasserstein_distance have no interval or test yet.",
)

#: Metrics of the error table, in order.
ERROR_METRICS = tuple(m for m in REGRESSION_METRICS if m != "count")
#: Disparities named among the findings when significant (mean_target describes the data).
_FINDING_METRICS = (
    "ks_statistic",
    "mean_error",
    "mean_absolute_error",
    "root_mean_squared_error",
    "mean_prediction",
)


@dataclass
class RegressionGrouping:
    """What the page shows for one grouping of a regression audit.

    ``rows`` are the groups shown (at most ``HTML_MAX_GROUPS``, reference first, then by
    MAE, highest first); ``omitted`` the groups only in the JSON; ``disparities`` the
    shown groups' disparity rows, one list per group.
    """

    name: str
    anchor: str
    title: str
    reference: str
    rows: list[dict[str, Any]]
    disparities: list[list[dict[str, Any]]]
    headline: dict[str, dict[str, Any]]
    charts: list[Chart]
    omitted: int = 0

    @property
    def disparity_count(self) -> int:
        """Return the number of disparity rows shown."""
        return sum(len(rows) for rows in self.disparities)


#: The derived outcome's rates in its by-group table, in order.
FAVORABLE_RATES = (
    "selection_rate",
    "base_rate",
    "true_positive_rate",
    "false_positive_rate",
    "precision",
)
#: Its headline metrics (fairlearn's), in order.
_FAVORABLE_HEADLINE = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
)


@dataclass
class FavorableGrouping:
    """One grouping of the favourable-outcome view: its headline entries by metric and its
    group rows (reference first, then by selection rate, lowest first; at most
    ``HTML_MAX_GROUPS``, ``omitted`` more in the JSON)."""

    name: str
    headline: dict[str, dict[str, Any]]
    rows: list[dict[str, Any]]
    omitted: int = 0


@dataclass
class FavorableView:
    """The favourable-outcome view of ``summary.favorable_outcome``: what the derived
    outcome and label are, the worse-off entries (four-fifths), each grouping."""

    outcome: str
    label: str
    threshold: str
    direction: str
    worse_off: list[dict[str, Any]]
    groupings: list[FavorableGrouping]
    uncertainty: str | None
    rates: tuple[str, ...] = FAVORABLE_RATES
    headline_metrics: tuple[str, ...] = _FAVORABLE_HEADLINE


def _selection(row: Mapping[str, Any]) -> float:
    value = row["metrics"].get("selection_rate")
    return 2.0 if value is None else float(value)


def favorable_view(data: Mapping[str, Any]) -> FavorableView | None:
    """Return the favourable-outcome view of ``data``, or None without a threshold."""
    section = (data.get("summary") or {}).get("favorable_outcome")
    if not section:
        return None
    groupings = []
    for name in data["audit"]["groupings"]:
        rows = [r for r in section["metrics"]["by_group"] if r["feature"] == name]
        ordered = sorted(rows, key=lambda r: (not r["reference"], _selection(r)))
        headline = {h["metric"]: h for h in section["headline"] if h["feature"] == name}
        shown = ordered[:HTML_MAX_GROUPS]
        groupings.append(FavorableGrouping(name, headline, shown, len(rows) - len(shown)))
    return FavorableView(
        outcome=section["outcome"],
        label=section["label"],
        threshold=number_text(section["threshold"]),
        direction=section["direction"],
        worse_off=section["worse_off"],
        groupings=groupings,
        uncertainty=(section.get("uncertainty") or {}).get("summary"),
    )


@dataclass
class RegressionView:
    """The regression sections: what was measured, the findings, each grouping."""

    measured: str
    findings: list[str]
    groupings: list[RegressionGrouping]
    error_metrics: tuple[str, ...] = ERROR_METRICS
    not_built: tuple[str, ...] = NOT_BUILT
    warnings: list[dict[str, Any]] = field(default_factory=list)
    mitigation: RegressionMitigation | None = None
    favorable: FavorableView | None = None


def _mae(row: Mapping[str, Any]) -> float:
    value = row["metrics"].get("mean_absolute_error")
    return -1.0 if value is None else float(value)


def _charts(name: str, drawn: list[dict[str, Any]], disparities: list[dict[str, Any]],
            reference: str, of_all: str) -> list[Chart]:  # fmt: skip
    """Return the grouping's charts: MAE ratio to the reference, then KS distance."""
    keys = [tuple(r["group"].items()) for r in drawn if not r["reference"]]
    by_metric = {
        (d["metric"], tuple(d["group"].items())): d
        for d in disparities
        if d["metric"] in ("mean_absolute_error", "ks_statistic")
    }
    mae = [
        by_metric[("mean_absolute_error", k)]
        for k in keys
        if ("mean_absolute_error", k) in by_metric
    ]
    ks = [by_metric[("ks_statistic", k)] for k in keys if ("ks_statistic", k) in by_metric]
    labels = [display_text(group_label(d["group"])) for d in mae]
    ratio = disparity_chart(
        display_text(f"Mean absolute error, ratio to the reference ({name}{of_all})"),
        labels,
        [d["ratio"] for d in mae],
        display_text(reference),
        [d.get("ci_ratio") for d in mae] if any(d.get("ci_ratio") for d in mae) else None,
        RATIO_BAND,
    )
    distance = metrics_chart(
        display_text(f"Prediction distribution: KS distance from the reference ({name}{of_all})"),
        [display_text(group_label(d["group"])) for d in ks],
        ["ks_statistic"],
        [[d["value"] for d in ks]],
        words=("Group", "a group's KS distance", "confidence interval"),
    )
    # issue 17 (H5) wiring: each group's prediction ECDF, when the rows have their quantiles
    from fairaudit.outputs._chart_ecdf import ecdf_chart, ecdf_groups

    ecdf = ecdf_chart(
        display_text(f"Prediction distribution: empirical CDF per group ({name}{of_all})"),
        ecdf_groups(drawn, disparities, group_label),
    )
    return [ratio, distance] + ([ecdf] if ecdf is not None else [])


def _grouping(data: Mapping[str, Any], name: str, index: int) -> RegressionGrouping:
    """Return what the page shows for grouping ``name``."""
    audit = data["audit"]
    rows = [r for r in data["metrics"]["by_group"] if r["feature"] == name]
    ordered = sorted(rows, key=lambda r: (not r["reference"], -_mae(r)))
    shown = ordered[:HTML_MAX_GROUPS]
    drawn = ordered[: TOP_GROUPS + 1]
    of_all = (
        f", the {len(drawn)} of {len(rows)} groups with the highest MAE"
        if len(rows) > len(drawn)
        else ""
    )
    disparities = [d for d in data["disparities"] if d["feature"] == name]
    per_group: dict[tuple, list[dict[str, Any]]] = {
        tuple(r["group"].items()): [] for r in shown if not r["reference"]
    }
    for d in disparities:
        per_group.get(tuple(d["group"].items()), []).append(d)
    reference = group_label(audit["reference"][name])
    title = grouping_title(audit, name)
    return RegressionGrouping(
        name=name,
        anchor=f"grouping-{index}",
        title=title,
        reference=reference,
        rows=shown,
        disparities=[v for v in per_group.values() if v],
        headline={h["metric"]: h for h in data["headline"] if h["feature"] == name},
        charts=_charts(name, drawn, disparities, reference, of_all),
        omitted=len(rows) - len(shown),
    )


def _finding(d: Mapping[str, Any]) -> str:
    """Return one significant disparity in words, e.g. ``mean error 9.51 vs -8.38``."""
    if d["metric"] == "ks_statistic":
        return f"KS distance {d['value']:.3f}"
    return f"{d['metric'].replace('_', ' ')} {d['value']:.3g} vs {d['reference_value']:.3g}"


def _findings(data: Mapping[str, Any], shown: int = 6) -> list[str]:
    """Return one line per grouping with disparities significant after Holm: each group's
    significant metrics against the reference's (the first ``shown`` groups)."""
    out = []
    for name in data["audit"]["groupings"]:
        by_group: dict[str, list[str]] = {}
        for d in data["disparities"]:
            if (
                d["feature"] == name
                and d.get("significance") == "significant"
                and d["metric"] in _FINDING_METRICS
            ):
                by_group.setdefault(group_label(d["group"]), []).append(_finding(d))
        if not by_group:
            continue
        parts = [f"{group} — {', '.join(found)}" for group, found in by_group.items()]
        more = f"; and {len(parts) - shown} more groups" if len(parts) > shown else ""
        reference = group_label(data["audit"]["reference"][name])
        out.append(f"{name} (against {reference}): " + "; ".join(parts[:shown]) + more)
    return out


def regression_view(data: Mapping[str, Any]) -> RegressionView:
    """Return the regression sections of the report of ``data`` (a result's JSON form)."""
    audit = data["audit"]
    features = ", ".join(audit["sensitive_features"])
    intersection = " and their intersection" if len(audit["sensitive_features"]) > 1 else ""
    rows = data["lineage"]["data"]["rows"]
    measured = (
        f"Regression audit ({audit.get('task_reason', 'task: regression')}): on {rows:,} rows, "
        f"each group's prediction errors (mean error, MAE, RMSE, r2) and prediction "
        f"distribution (Kolmogorov–Smirnov and Wasserstein distances) are compared with its "
        f"reference group, by {features}{intersection}."
    )
    warnings = [c for c in data["data_checks"] if c["status"] in ("warning", "error")]
    mitigation = regression_mitigation(data)
    return RegressionView(
        measured=measured,
        findings=_findings(data),
        groupings=[_grouping(data, n, i) for i, n in enumerate(audit["groupings"], 1)],
        warnings=warnings,
        not_built=NOT_BUILT[1:] if mitigation else NOT_BUILT,
        mitigation=mitigation,
        favorable=favorable_view(data),
    )


def regression_context(data: dict[str, Any], data_json: Markup) -> ReportContext:
    """Return the template context of a regression result's JSON form (``regression``
    set; the binary parts empty)."""
    return task_context(
        data,
        data_json,
        task="regression",
        view=regression_view(data),
        key_metrics=ERROR_METRICS,
        definitions=REGRESSION_DEFINITIONS,
        headline_names=REGRESSION_HEADLINE_METRICS,
    )
