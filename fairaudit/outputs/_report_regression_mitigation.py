"""The report's view of a regression audit's BoundedGroupLoss comparison (``mitigations``).

On the grouping the variants acted on (the intersection of the sensitive features, or the one
feature): a row per entry (overall MAE and RMSE, the worst group's MAE and RMSE ratios with
the group, the upper bound, the time it took, the bound's check on the training set), two
trade-off charts (MAE, RMSE: the worst group's ratio beside the overall error relative to the
audited model's) and a reading in words: which variant lowers which worst-group ratio and
at what cost in overall MAE and RMSE. Only the result's JSON form is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fairaudit.display import display_text
from fairaudit.outputs._chart_error_tradeoff import error_tradeoff_chart
from fairaudit.outputs._chart_html import Chart
from fairaudit.outputs._report_view import group_label
from fairaudit.vocabulary import INTERSECTION

__all__ = ["RegressionMitigation", "regression_mitigation"]

#: The two error measures compared: (short name, overall metric, headline ratio).
_MEASURES = (
    ("MAE", "mean_absolute_error", "max_group_mae_ratio"),
    ("RMSE", "root_mean_squared_error", "max_group_rmse_ratio"),
)


@dataclass
class RegressionMitigation:
    """What the page shows of the comparison: the ``grouping`` mitigated, a row per entry,
    the trade-off charts and the reading (one sentence per variant, then the bound's)."""

    grouping: str
    rows: list[dict[str, Any]]
    charts: list[Chart] = field(default_factory=list)
    reading: list[str] = field(default_factory=list)
    bounds: list[str] = field(default_factory=list)


def _row(entry: Mapping[str, Any], grouping: str) -> dict[str, Any]:
    """Return one entry's row: name, status, reason, MAE, RMSE, ratios, bound, time, check."""
    overall = (entry.get("metrics") or {}).get("overall") or {}
    headline = {h["metric"]: h for h in entry.get("headline") or [] if h["feature"] == grouping}
    return {
        "name": (entry.get("constraint") or "audited model").replace("_", " "),
        "status": entry.get("status"),
        "reason": entry.get("reason"),
        "mae": overall.get("mean_absolute_error"),
        "rmse": overall.get("root_mean_squared_error"),
        "mae_ratio": headline.get("max_group_mae_ratio") or {},
        "rmse_ratio": headline.get("max_group_rmse_ratio") or {},
        "upper_bound": entry.get("upper_bound"),
        "seconds": entry.get("seconds"),
        "training": entry.get("training"),
        "constraint": entry.get("constraint"),
    }


def _change(before: float, after: float) -> str:
    """Return ``after`` against ``before`` in words, e.g. ``44.12 to 45.19 (+2.4%)``."""
    share = f" ({(after - before) / before:+.1%})" if before else ""
    return f"{before:.4g} to {after:.4g}{share}"


def _ratio_words(short: str, base: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    """Return how the worst group's ``short`` ratio moves from the audited model to a row."""
    key = "mae_ratio" if short == "MAE" else "rmse_ratio"
    before, after = base[key].get("value"), row[key].get("value")
    who = f" ({display_text(group_label(row[key]['group']))})" if row[key].get("group") else ""
    if before is None and after is None:
        return f"leaves the worst group's {short} ratio undefined"
    if before is None or after is None:  # a phrase that starts with a verb, as the others
        shown = ["undefined" if v is None else f"{v:.3f}" for v in (before, after)]
        return f"changes the worst group's {short} ratio: {shown[0]} to {shown[1]}{who}"
    verb = "lowers" if after < before else "raises" if after > before else "leaves"
    return f"{verb} the worst group's {short} ratio: {before:.3f} to {after:.3f}{who}"


def _sentence(base: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    """Return one variant's reading: its ratios against the audited model's and the cost."""
    if row["status"] != "ok":
        return f"{row['name']} did not run ({row['status']}): {row['reason']}."
    ratios = "; it ".join(_ratio_words(short, base, row) for short, _, _ in _MEASURES)
    costs = [
        f"overall {short} {_change(base[key], row[key])}"
        for short, key in (("MAE", "mae"), ("RMSE", "rmse"))
        if base[key] is not None and row[key] is not None
    ]
    return f"{row['name']} {ratios}; " + (", ".join(costs) or "no overall error") + "."


def _verdict(base: Mapping[str, Any], variants: list[dict[str, Any]]) -> str:
    """Return the reading's first sentence: the variant with the lowest worst-group MAE
    ratio when it is below the audited model's, and its cost; else that none lowers it."""
    found = []
    for short, key in (("MAE", "mae"), ("RMSE", "rmse")):
        ratio = f"{key}_ratio"
        before = base[ratio].get("value")
        lower = [
            r for r in variants
            if r["status"] == "ok" and None not in (before, r[ratio].get("value"))
            and r[ratio]["value"] < before
        ]  # fmt: skip
        if not lower:
            found.append(f"no variant lowers the worst group's {short} ratio")
            continue
        best = min(lower, key=lambda r: r[ratio]["value"])
        cost = _change(base[key], best[key]) if None not in (base[key], best[key]) else "?"
        found.append(
            f"{best['name']} lowers the worst group's {short} ratio most "
            f"({before:.3f} to {best[ratio]['value']:.3f}), overall {short} {cost}"
        )
    text = "; ".join(found)
    return f"On the evaluation set, {text}."


def _bound(row: Mapping[str, Any], excluded: set[tuple], present: set[tuple]) -> str | None:
    """Return the bound a variant was given and how it fared on the training set."""
    check, bound = row.get("training"), row.get("upper_bound")
    if row["status"] != "ok" or not check or bound is None:
        return None
    square = not row["constraint"].endswith("absolute")
    loss = f"squared error (an RMSE of {bound**0.5:.4g})" if square else "absolute error"
    group = check["worst_group"]
    met = "met" if check["within_bound"] else "not met"
    text = (
        f"{row['name']}: upper bound {bound:.4g} on each group's mean {loss}, halfway "
        f"between the audited model's overall training loss and its worst group's "
        f"({display_text(group_label(group))}: {check['worst_group_loss_before']:.4g}); on the "
        f"training set that group's loss became {check['worst_group_loss_after']:.4g} and "
        f"the largest group loss {check['max_group_loss_after']:.4g}: bound {met}."
    )
    if not check["within_bound"]:
        text += (
            " The refit model could not bring every group under the bound: the comparison shows"
            " the best mixture ExponentiatedGradient found, whose worst-group ratio may fall"
            " only because the overall error rose."
        )
    if tuple(group.items()) in excluded:
        text += " That group has too few evaluation rows to enter the worst-group ratios."
    elif tuple(group.items()) not in present:
        text += " That group has no evaluation rows."
    return text


def _excluded(data: Mapping[str, Any], grouping: str) -> set[tuple]:
    """Return the groups of ``grouping`` left out of the audit's headline (too few rows)."""
    return {
        tuple(e["group"].items())
        for h in data.get("headline") or []
        if h["feature"] == grouping
        for e in h.get("excluded") or []
    }


def _capital(sentence: str) -> str:
    """Return ``sentence`` with its first letter upper case (a variant's name starts it)."""
    return sentence[:1].upper() + sentence[1:]


def regression_mitigation(data: Mapping[str, Any]) -> RegressionMitigation | None:
    """Return the comparison's view, or None when no comparison ran."""
    entries = data.get("mitigations") or []
    if not entries:
        return None
    features = data["audit"]["sensitive_features"]
    grouping = INTERSECTION if len(features) > 1 else features[0]
    rows = [_row(e, grouping) for e in entries]
    base, variants = rows[0], rows[1:]
    drawn = [r for r in rows if r["status"] == "ok"]
    charts = []
    if len(drawn) > 1 and base["status"] == "ok":
        for short, _, _ in _MEASURES:
            ratio = "mae_ratio" if short == "MAE" else "rmse_ratio"
            charts.append(
                error_tradeoff_chart(
                    display_text(
                        f"Overall {short} against the worst group's {short} ratio ({grouping})"
                    ),  # fmt: skip
                    [r["name"] for r in drawn],
                    [r[ratio].get("value") for r in drawn],
                    [r[short.lower()] for r in drawn],
                    short,
                )
            )
    excluded = _excluded(data, grouping)
    present = {
        tuple(r["group"].items()) for r in data["metrics"]["by_group"] if r["feature"] == grouping
    }
    return RegressionMitigation(
        grouping=grouping,
        rows=rows,
        charts=charts,
        reading=[_verdict(base, variants)] + [_capital(_sentence(base, r)) for r in variants],
        bounds=[_capital(b) for b in (_bound(r, excluded, present) for r in variants) if b],
    )
