"""The report's view of a multiclass audit (``audit.task`` is ``multiclass``).

The page says first what was measured and the worst class of each headline metric per
grouping, then the favourable-outcome view when favourable classes were named (the
four-fifths ratio of their union), then per grouping: the per-class parity table
(fairlearn's demographic parity and equalized odds difference and ratio, one-vs-rest,
with simultaneous intervals), the by-group table of accuracy, balanced accuracy and macro
F1 (with intervals), each class's selection rate and true positive rate per group, and
the groups' confusion matrices folded. What does not exist for multiclass (fairlearn's
mitigations) or is not built yet (policy rules, some intervals) is said, not left out.
Only the result's JSON form is read; the template escapes every value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from fairaudit.outputs._report_view import ReportContext, group_label, grouping_title, task_context
from fairaudit.vocabulary import HTML_MAX_GROUPS

__all__ = [
    "MULTICLASS_NOT_BUILT",
    "MulticlassGrouping",
    "MulticlassView",
    "multiclass_context",
    "multiclass_view",
]

#: What a multiclass audit does not do, said on the page.
MULTICLASS_NOT_BUILT = (
    "Mitigation: fairlearn has no mitigation for multiclass classifiers (its reductions and "
    "ThresholdOptimizer are binary), so no mitigation comparison ran.",
    "Policy rules on multiclass metrics are not built yet: this report has no verdict.",
    "f1_macro has no interval; balanced_accuracy and f1_macro disparities have no test.",
    "Per-class scores (one-vs-rest AUC) are not built yet.",
)

#: The group metrics of the by-group table, in order.
GROUP_METRICS = ("accuracy", "balanced_accuracy", "f1_macro")
#: The headline metrics of the parity table, in order.
PARITY_METRICS = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
)
#: Each class's one-vs-rest rates shown per group.
CLASS_RATES = ("selection_rate", "true_positive_rate")

#: What the page's definitions list says about the multiclass metrics.
MULTICLASS_DEFINITIONS: dict[str, str] = {
    "accuracy": "Share of the group whose predicted class is the true class.",
    "balanced_accuracy": (
        "Mean recall over the classes present in the group's labels (scikit-learn's "
        "balanced_accuracy_score)."
    ),
    "f1_macro": (
        "Mean F1 over the classes in the group's labels or predictions (scikit-learn's "
        "f1_score, average='macro')."
    ),
    "one-vs-rest": (
        "For a class k, 'positive' means 'is k' for the label and 'predicted k' for the "
        "prediction; every binary metric of class k is computed on that view."
    ),
    "selection_rate": "Share of the group predicted as the class (one-vs-rest).",
    "true_positive_rate": "Of the group's rows of the class, the share predicted as it (recall).",
    "demographic_parity_difference": (
        "Largest minus smallest selection rate of the class between groups (fairlearn's, "
        "one-vs-rest)."
    ),
    "demographic_parity_ratio": "Smallest over largest selection rate of the class.",
    "equalized_odds_difference": (
        "The larger of the between-group differences of the class's true and false positive rates."
    ),
    "equalized_odds_ratio": "The smaller of the ratios of those rates.",
    "four-fifths ratio": (
        "In the favourable view: a group's share predicted into a favourable class over the "
        "best group's; below 0.8 fails the four-fifths rule of thumb."
    ),
}


@dataclass
class MulticlassGrouping:
    """What the page shows for one grouping of a multiclass audit.

    ``rows`` are the groups shown (at most ``HTML_MAX_GROUPS``, reference first, then by
    accuracy, lowest first); ``omitted`` the groups only in the JSON; ``parity`` one row
    per class with its headline metrics (``{metric: entry}``).
    """

    name: str
    anchor: str
    title: str
    reference: str
    rows: list[dict[str, Any]]
    parity: list[dict[str, Any]]
    omitted: int = 0


@dataclass
class MulticlassView:
    """The multiclass sections: what was measured, the worst classes, each grouping."""

    measured: str
    classes: list[str]
    worst: list[dict[str, Any]]
    favorable: dict[str, Any] | None
    groupings: list[MulticlassGrouping]
    group_metrics: tuple[str, ...] = GROUP_METRICS
    parity_metrics: tuple[str, ...] = PARITY_METRICS
    class_rates: tuple[str, ...] = CLASS_RATES
    not_built: tuple[str, ...] = MULTICLASS_NOT_BUILT
    warnings: list[dict[str, Any]] = field(default_factory=list)


def _accuracy(row: Mapping[str, Any]) -> float:
    value = row["metrics"].get("accuracy")
    return 2.0 if value is None else float(value)


def _grouping(data: Mapping[str, Any], name: str, index: int) -> MulticlassGrouping:
    """Return what the page shows for grouping ``name``."""
    audit = data["audit"]
    rows = [r for r in data["metrics"]["by_group"] if r["feature"] == name]
    ordered = sorted(rows, key=lambda r: (not r["reference"], _accuracy(r)))
    shown = ordered[:HTML_MAX_GROUPS]
    entries = [h for h in data["headline"] if h["feature"] == name]
    parity = [
        {"class": label, **{h["metric"]: h for h in entries if h["class"] == label}}
        for label in audit["classes"]
    ]
    title = grouping_title(audit, name)
    return MulticlassGrouping(
        name=name,
        anchor=f"grouping-{index}",
        title=title,
        reference=group_label(audit["reference"][name]),
        rows=shown,
        parity=parity,
        omitted=len(rows) - len(shown),
    )


def _worst(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return, per grouping, the worst class of each parity metric (``{metric: entry}``)."""
    worst = (data.get("summary") or {}).get("worst_classes", [])
    return [
        {"grouping": name, **{w["metric"]: w for w in worst if w["feature"] == name}}
        for name in data["audit"]["groupings"]
    ]


def multiclass_view(data: Mapping[str, Any]) -> MulticlassView:
    """Return the multiclass sections of the report of ``data`` (a result's JSON form)."""
    audit = data["audit"]
    features = ", ".join(audit["sensitive_features"])
    intersection = " and their intersection" if len(audit["sensitive_features"]) > 1 else ""
    rows = data["lineage"]["data"]["rows"]
    classes = list(audit["classes"])
    measured = (
        f"Multiclass audit ({audit.get('task_reason', 'task: multiclass')}): on {rows:,} rows "
        f"and {len(classes)} classes, each group's accuracy, balanced accuracy and macro F1, "
        f"and for each class one-vs-rest its selection rate and error rates, compared between "
        f"groups by {features}{intersection}."
    )
    return MulticlassView(
        measured=measured,
        classes=classes,
        worst=_worst(data),
        favorable=(data.get("summary") or {}).get("favorable_view"),
        groupings=[_grouping(data, n, i) for i, n in enumerate(audit["groupings"], 1)],
        warnings=[c for c in data["data_checks"] if c["status"] in ("warning", "error")],
    )


def multiclass_context(data: dict[str, Any], data_json: Markup) -> ReportContext:
    """Return the template context of a multiclass result's JSON form (``multiclass``
    set; the binary parts empty)."""
    return task_context(
        data,
        data_json,
        task="multiclass",
        view=multiclass_view(data),
        key_metrics=GROUP_METRICS,
        definitions=MULTICLASS_DEFINITIONS,
        headline_names=PARITY_METRICS,
    )
