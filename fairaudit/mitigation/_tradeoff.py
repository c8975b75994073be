"""Which mitigated variant the report recommends: each variant's eligibility, and the best.

A variant is eligible when it lowers the audited model's disparity, costs at most
``MAX_ACCURACY_LOSS`` of balanced accuracy (and of accuracy too, unless the classes are
imbalanced, where accuracy rewards predicting the majority class), and leaves no group with
enough rows selected less than ``EXTREME_RATE`` or more than ``1 - EXTREME_RATE`` of the time
unless the audited model already did. On the résumé data (8% positives) a threshold
method that selected nobody raised accuracy from 0.62 to 0.92 and was recommended; this
rule refuses it and says why (``eligibility``). The best trade-off is the eligible variant
with the lowest disparity (``best_tradeoff``). ``judge_entries`` applies both to the
comparison's JSON entries, marking each ``eligible`` with its ``eligibility`` sentence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EXTREME_RATE",
    "IMBALANCED_BELOW",
    "MAX_ACCURACY_LOSS",
    "TRADEOFF_RULE",
    "TradeoffPoint",
    "best_tradeoff",
    "eligibility",
    "headline_value",
    "is_imbalanced",
    "judge_entries",
    "tradeoff_measure",
]

#: Accuracy (or balanced accuracy) a mitigation may lose, as a proportion, and be eligible.
MAX_ACCURACY_LOSS = 0.02
#: A selection rate below this, or above 1 minus this, is a collapsed variant.
EXTREME_RATE = 0.01
#: The classes are imbalanced when positives are under this share of the rows, or over
#: 1 minus it; the trade-off is then judged on balanced accuracy.
IMBALANCED_BELOW = 0.2

#: How ``best_tradeoff`` chooses, for the report.
TRADEOFF_RULE = (
    "the lowest demographic parity difference on {grouping} among the eligible variants: "
    "those that lower the audited model's, lose at most {points:g} points of balanced "
    "accuracy{accuracy_too}, and select no group with enough rows (at least {min_rows}) "
    "less than {low:g}% or more than {high:g}% of the time unless the audited model already "
    "did; the trade-off is judged on {measure} ({why}); ties go to the higher {measure}"
)


@dataclass(frozen=True)
class TradeoffPoint:
    """One variant (or the audited model) as the trade-off rule sees it.

    ``extreme_groups`` holds ``(group, side)`` for each group with enough rows whose
    selection rate is below ``EXTREME_RATE`` (side ``"below"``) or above
    ``1 - EXTREME_RATE`` (``"above"``).
    """

    accuracy: float
    balanced_accuracy: float
    disparity: float
    extreme_groups: frozenset[tuple[str, str]] = field(default_factory=frozenset)


def is_imbalanced(positive_rate: float) -> bool:
    """Return True when positives are under 20% or over 80% of the rows."""
    return positive_rate < IMBALANCED_BELOW or positive_rate > 1 - IMBALANCED_BELOW


def tradeoff_measure(imbalanced: bool) -> str:
    """Return the metric the trade-off is judged on: balanced accuracy when imbalanced."""
    return "balanced_accuracy" if imbalanced else "accuracy"


def _fall(name: str, before: float, after: float, allowance: float) -> str | None:
    """Return why a loss of ``name`` is too large, or None when it is within the allowance."""
    if math.isnan(after):
        return f"its {name} is undefined"
    if after < before - allowance - 1e-12:
        return (
            f"its {name} falls from {before:.3f} to {after:.3f}, more than the "
            f"{allowance * 100:g}-point allowance"
        )
    return None


def eligibility(
    point: TradeoffPoint,
    baseline: TradeoffPoint,
    *,
    imbalanced: bool,
    allowance: float = MAX_ACCURACY_LOSS,
) -> tuple[bool, str]:
    """Return whether a variant may be recommended, and why in one sentence for the report."""
    reasons = []
    new = point.extreme_groups - baseline.extreme_groups
    for side, bound in (("below", EXTREME_RATE), ("above", 1 - EXTREME_RATE)):
        groups = sorted(group for group, where in new if where == side)
        if groups:
            reasons.append(
                f"it predicts positive for {', '.join(groups)} {side} {bound:.0%} of the time "
                "(the audited model did not)"
            )
    falls = [("balanced accuracy", baseline.balanced_accuracy, point.balanced_accuracy)]
    if not imbalanced:
        falls.append(("accuracy", baseline.accuracy, point.accuracy))
    reasons.extend(r for name, a, b in falls if (r := _fall(name, a, b, allowance)) is not None)
    if math.isnan(point.disparity):
        reasons.append("its demographic parity difference is undefined")
    elif not point.disparity < baseline.disparity:
        reasons.append(
            f"it does not lower the demographic parity difference ({point.disparity:.3f}, "
            f"the audited model's {baseline.disparity:.3f})"
        )
    if reasons:
        return False, "Not eligible: " + "; ".join(reasons) + "."
    measure = tradeoff_measure(imbalanced).replace("_", " ")
    before, after = (
        (baseline.balanced_accuracy, point.balanced_accuracy)
        if imbalanced
        else (baseline.accuracy, point.accuracy)
    )
    return True, (
        f"Eligible: it lowers the demographic parity difference from {baseline.disparity:.3f} "
        f"to {point.disparity:.3f}, its {measure} goes from {before:.3f} to {after:.3f} "
        f"(allowance {allowance * 100:g} points), and it collapses no group's selection rate."
    )


def best_tradeoff(
    results: Mapping[str, TradeoffPoint],
    *,
    baseline: TradeoffPoint,
    imbalanced: bool,
    allowance: float = MAX_ACCURACY_LOSS,
) -> str | None:
    """Return the eligible method with the lowest disparity, or None if none is eligible.

    Ties go to the higher trade-off measure (``tradeoff_measure``), then to the method name.
    """
    measure = tradeoff_measure(imbalanced)
    eligible = [
        (point.disparity, -float(getattr(point, measure)), method)
        for method, point in results.items()
        if eligibility(point, baseline, imbalanced=imbalanced, allowance=allowance)[0]
    ]
    return min(eligible)[2] if eligible else None


def headline_value(entry: dict[str, Any], grouping: str, metric: str) -> float:
    """Return an entry's headline ``metric`` on ``grouping`` (NaN when absent or undefined)."""
    for h in entry["headline"]:
        if h["feature"] == grouping and h["metric"] == metric:
            value = h["value"]
            return float("nan") if value is None else float(value)
    return float("nan")


def _tradeoff_point(entry: dict[str, Any], grouping: str, min_rows: int) -> TradeoffPoint:
    """Return an entry as the trade-off rule sees it (extreme rates of groups with enough rows)."""
    overall = entry["metrics"]["overall"]
    extreme = set()
    for row in entry["by_group"]:
        rate = row["metrics"].get("selection_rate")
        if row["count"] < min_rows or rate is None or math.isnan(rate):
            continue
        label = ", ".join(f"{k}={v}" for k, v in row["group"].items())
        if rate < EXTREME_RATE:
            extreme.add((label, "below"))
        elif rate > 1 - EXTREME_RATE:
            extreme.add((label, "above"))

    def number(value: Any) -> float:
        return math.nan if value is None else float(value)

    return TradeoffPoint(
        number(overall.get("accuracy")),
        number(overall.get("balanced_accuracy")),
        headline_value(entry, grouping, "demographic_parity_difference"),
        frozenset(extreme),
    )


def judge_entries(
    entries: list[dict[str, Any]], grouping: str, *, imbalanced: bool, min_rows: int
) -> str | None:
    """Mark each entry ``eligible`` (with the reason) and return the best trade-off."""
    baseline = _tradeoff_point(entries[0], grouping, min_rows)
    entries[0]["eligible"] = None
    entries[0]["eligibility"] = "The audited model: what each variant is compared with."
    points = {}
    for entry in entries[1:]:
        if entry["status"] != "ok":
            entry["eligible"] = False
            entry["eligibility"] = f"Not eligible: it did not run ({entry['status']})."
            continue
        points[entry["method"]] = point = _tradeoff_point(entry, grouping, min_rows)
        entry["eligible"], entry["eligibility"] = eligibility(
            point, baseline, imbalanced=imbalanced, allowance=MAX_ACCURACY_LOSS
        )
    return best_tradeoff(
        points, baseline=baseline, imbalanced=imbalanced, allowance=MAX_ACCURACY_LOSS
    )
