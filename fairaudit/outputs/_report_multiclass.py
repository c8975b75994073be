"""The report's view of a multiclass audit (``audit.task`` is ``multiclass``).

The page says first what was measured and the worst class of each headline metric per
grouping, then the favourable-outcome view when favourable classes were named (the
four-fifths ratio of their union), then per grouping: the per-class parity table
(fairlearn's demographic parity and equalized odds difference and ratio, one-vs-rest,
with simultaneous intervals), the by-group table of accuracy, balanced accuracy and macro
F1 (with intervals), with per-class scores each class's one-vs-rest ROC AUC per group
(with DeLong intervals), each class's selection rate and true positive rate per group, and
the groups' confusion matrices folded. With a policy the summary gives its verdict and
the policy section (``_policy.html``) each rule's outcomes, class by class. What does not
exist for multiclass (fairlearn's mitigations), is not built yet (some intervals) or was
left out (no scores) is said, not left out. Only the result's JSON form is read; the
template escapes every value.
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

#: What a multiclass audit does not do, said on the page (tag, text).
MULTICLASS_NOT_BUILT: tuple[tuple[str, str], ...] = (
    (
        "does not apply",
        "Mitigation: fairlearn has no mitigation for multiclass classifiers (its reductions "
        "and ThresholdOptimizer are binary), so no mitigation comparison ran.",
    ),
    (
        "not built",
        "f1_macro has no interval; balanced_accuracy and f1_macro disparities have no test.",
    ),
)
#: Said when the audit had no per-class scores.
NO_SCORES = (
    "left out",
    "One-vs-rest ROC AUC needs per-class scores: a model with predict_proba (or a "
    "decision_function per class), or --score-col CLASS=COL once per class.",
)
#: Said when the audit had no policy.
NO_POLICY = (
    "left out",
    "No policy was given (--policy FILE or preset:NAME): this report has no verdict.",
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
    "roc_auc": (
        "One-vs-rest ROC AUC of the class within the group: the chance that a row of the "
        "class is scored above a row of another class (ties count half); needs per-class "
        "scores, and rows of the class and of other classes in the group."
    ),
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
    auc: dict[str, Any] | None = None


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
    not_built: tuple[tuple[str, str], ...] = MULTICLASS_NOT_BUILT
    warnings: list[dict[str, Any]] = field(default_factory=list)
    #: Whether the audit had per-class scores (``roc_auc`` by class).
    has_auc: bool = False
    #: The policy's verdict and its rules' counts by status (None without a policy).
    policy: dict[str, Any] | None = None


def _accuracy(row: Mapping[str, Any]) -> float:
    value = row["metrics"].get("accuracy")
    return 2.0 if value is None else float(value)


def _has_auc(data: Mapping[str, Any]) -> bool:
    by_class = data["metrics"]["overall"].get("by_class") or {}
    return any("roc_auc" in values for values in by_class.values())


def _policy(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the policy's verdict and how many rules failed, warned or were not evaluable."""
    policy = data.get("policy")
    if not policy:
        return None
    statuses = [r["status"] for r in policy.get("rules") or []]
    return {
        "verdict": policy.get("verdict"),
        "rules": len(statuses),
        "counts": {s: statuses.count(s) for s in ("fail", "warn", "not evaluable")},
    }


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


def _auc_rows(data: Mapping[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the AUC table's rows: per group, each class's ``roc_auc`` and its interval."""
    out = []
    for row in rows:
        cis = ((row.get("ci") or {}).get("by_class")) or {}
        out.append(
            {
                "row": row,
                "auc": {
                    label: (values.get("roc_auc"), (cis.get(label) or {}).get("roc_auc"))
                    for label, values in row["by_class"].items()
                },
            }
        )
    return out


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
    has_auc = _has_auc(data)
    groupings = [_grouping(data, n, i) for i, n in enumerate(audit["groupings"], 1)]
    if has_auc:
        for g in groupings:
            g.auc = {"rows": _auc_rows(data, g.rows)}
        measured += " With per-class scores: each class's one-vs-rest ROC AUC per group."
    policy = _policy(data)
    notices = MULTICLASS_NOT_BUILT + (() if has_auc else (NO_SCORES,))
    return MulticlassView(
        measured=measured,
        classes=classes,
        worst=_worst(data),
        favorable=(data.get("summary") or {}).get("favorable_view"),
        groupings=groupings,
        not_built=notices + (() if policy else (NO_POLICY,)),
        warnings=[c for c in data["data_checks"] if c["status"] in ("warning", "error")],
        has_auc=has_auc,
        policy=policy,
    )


def multiclass_context(data: dict[str, Any], data_json: Markup) -> ReportContext:
    """Return the template context of a multiclass result's JSON form (``multiclass``
    set; the binary parts empty)."""
    view = multiclass_view(data)
    definitions = {
        k: v for k, v in MULTICLASS_DEFINITIONS.items() if view.has_auc or k != "roc_auc"
    }
    return task_context(
        data,
        data_json,
        task="multiclass",
        view=view,
        key_metrics=GROUP_METRICS,
        definitions=definitions,
        headline_names=PARITY_METRICS,
    )
