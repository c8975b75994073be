"""The mitigation comparison as the report shows it: the recommendation and its cost, the
trade-off chart, and each variant's row of the comparison table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fairaudit.display import display_text
from fairaudit.outputs._charts import Chart, tradeoff_chart

__all__ = ["DISPARITY", "Recommendation", "headline_of", "mitigation_chart", "recommendation"]

#: The disparity the recommendation minimises (mitigation_summary.tradeoff_rule).
DISPARITY = "demographic_parity_difference"


def headline_of(entry: Mapping[str, Any], grouping: str, metric: str) -> Mapping[str, Any]:
    """Return a variant's headline entry of ``metric`` on ``grouping`` (value None if absent)."""
    for h in entry.get("headline") or []:
        if h["feature"] == grouping and h["metric"] == metric:
            return h
    return {"value": None}


def _overall(entry: Mapping[str, Any], metric: str) -> tuple[float | None, Any]:
    metrics = entry.get("metrics") or {}
    return (metrics.get("overall") or {}).get(metric), (metrics.get("overall_ci") or {}).get(metric)


def _change(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


@dataclass
class Recommendation:
    """The first screen's answer to "what would it cost to fix it?".

    ``method`` is ``mitigation_summary.best`` (None when no variant qualifies); ``measure``
    the accuracy measure the trade-off is judged on; ``before``/``after`` the baseline's and
    the method's values of the measure and of the demographic parity difference on
    ``grouping``; ``ran`` the variants that ran, ``failed`` those that did not, ``passing``
    those whose verdict under the policy is pass (None without a policy).
    """

    method: str | None
    grouping: str
    measure: str
    measure_before: float | None
    measure_after: float | None
    measure_ci: Any
    disparity_before: float | None
    disparity_after: float | None
    disparity_ci: Any
    ran: int
    failed: int
    passing: int | None = None

    @property
    def measure_change(self) -> float | None:
        """Return the change of the accuracy measure (after minus before)."""
        return _change(self.measure_before, self.measure_after)

    @property
    def disparity_change(self) -> float | None:
        """Return the change of the demographic parity difference (after minus before)."""
        return _change(self.disparity_before, self.disparity_after)


def recommendation(data: Mapping[str, Any]) -> Recommendation | None:
    """Return the recommended mitigation and its cost, or None without a comparison."""
    summary = data.get("mitigation_summary")
    entries = {e["method"]: e for e in data.get("mitigations") or []}
    if summary is None or "baseline" not in entries:
        return None
    grouping = summary["grouping"]
    measure = summary.get("tradeoff_measure") or "accuracy"
    baseline = entries["baseline"]
    best = entries.get(summary.get("best") or "")
    m_before, _ = _overall(baseline, measure)
    m_after, m_ci = _overall(best, measure) if best else (None, None)
    after = headline_of(best, grouping, DISPARITY) if best else {"value": None}
    variants = [e for name, e in entries.items() if name != "baseline"]
    judged = (data.get("policy") or {}).get("mitigations")
    return Recommendation(
        method=best["method"] if best else None,
        grouping=grouping,
        measure=measure,
        measure_before=m_before,
        measure_after=m_after,
        measure_ci=m_ci,
        disparity_before=headline_of(baseline, grouping, DISPARITY)["value"],
        disparity_after=after["value"],
        disparity_ci=after.get("ci"),
        ran=sum(e["status"] == "ok" for e in variants),
        failed=sum(e["status"] != "ok" for e in variants),
        passing=None
        if not judged
        else sum(m["verdict"] == "pass" for m in judged if m["method"] != "baseline"),
    )


def mitigation_chart(data: Mapping[str, Any]) -> Chart | None:
    """Return the accuracy/disparity trade-off chart of the mitigation comparison, if any."""
    entries = [e for e in data.get("mitigations") or [] if e["status"] == "ok"]
    summary = data.get("mitigation_summary")
    if len(entries) < 2 or summary is None:
        return None
    grouping = summary["grouping"]
    points = [headline_of(e, grouping, DISPARITY) for e in entries]
    return tradeoff_chart(
        display_text(f"Accuracy against demographic parity difference ({grouping})"),
        [e["method"].replace("_", " ") for e in entries],
        [p["value"] for p in points],
        [p.get("ci") for p in points],
        [_overall(e, "accuracy")[0] for e in entries],
        [_overall(e, "accuracy")[1] for e in entries],
        "demographic parity difference",
    )
