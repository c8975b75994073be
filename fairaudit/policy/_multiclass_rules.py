"""Multiclass-audit rules (issue 17): which numbers of a multiclass result a rule judges.

A multiclass result restricted to one class reads as a binary result: its groups' one-vs-rest
metrics (``by_group[].by_class[class]``), the disparities and headline entries tagged with
that class. So a rule is judged by the model rules' own code (``_evaluate``), once per class,
on that class's :class:`View` (``class_view``), and each outcome carries its class:

- a headline metric (``demographic_parity_difference``, ``equalized_odds_ratio``, ...) or a
  one-vs-rest group metric's ``_difference`` / ``_ratio`` (``selection_rate_difference``,
  ``roc_auc_difference``, ...): the classes named by ``class`` (one label or a list), or
  every class without it (so the worst class decides the rule's status);
- ``accuracy``, ``balanced_accuracy`` and ``f1_macro`` without ``class``: the multiclass
  group metric (one view, class None; disparities tagged ``class: null``); with ``class``,
  the class's one-vs-rest accuracy or balanced accuracy (``f1_macro`` takes no class);
- ``favorable_rate_*`` and ``favorable_opportunity_*`` (the presets ``four-fifths`` and
  ``equal-opportunity``): the binary view of the union of the favourable classes
  (``summary.favorable_view``, from ``--favorable-label``); without favourable classes the
  rule is not evaluable and says so.

A ``class`` that is no class of the audit is an error naming it and the audit's classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fairaudit.policy._model import (
    FAVORABLE_METRICS,
    MULTICLASS_WHOLE_METRICS,
    PolicyError,
    Rule,
)
from fairaudit.policy._view import View, build_view, favorable_view

__all__ = [
    "MSG_UNKNOWN_CLASS",
    "REASON_NO_CLASSES",
    "REASON_NO_FAVORABLE_CLASSES",
    "REASON_NO_MULTICLASS_INTERVAL",
    "MulticlassViews",
    "multiclass_views",
]

MSG_UNKNOWN_CLASS = (
    "policy {source}: rule {rule!r}: class {label!r} is not a class of this audit "
    "(classes: {classes})"
)
REASON_NO_MULTICLASS_INTERVAL = (
    "evidence = 'interval', but a multiclass audit's {metric} disparity has no interval yet "
    "(only accuracy's and the one-vs-rest metrics' have one)"
)
#: The multiclass group metrics whose disparities have no interval yet.
_UNTESTED = ("balanced_accuracy", "f1_macro")
REASON_NO_CLASSES = "the multiclass result lists no classes (audit.classes)"
REASON_NO_FAVORABLE_CLASSES = (
    "{metric} judges the union of the favourable classes, and the audit names none: "
    "audit with --favorable-label CLASS (once per favourable class)"
)


def _class_result(result: Mapping[str, Any], label: str | None) -> dict[str, Any]:
    """Return ``result`` as a binary-shaped result of class ``label``'s one-vs-rest numbers
    (None: the multiclass group metrics): by_group metrics, disparities and headline."""
    metrics = result.get("metrics") or {}
    rows = []
    for row in metrics.get("by_group") or []:
        if label is None:
            rows.append(row)
            continue
        insufficient = (row.get("insufficient_by_class") or {}).get(label, [])
        rows.append(
            {**row, "metrics": row["by_class"][label], "insufficient_metrics": insufficient}
        )
    disparities = []
    for d in result.get("disparities") or []:
        if d.get("class") != label:
            continue
        if label is None and d["metric"] in _UNTESTED and d.get("ci_difference", 0) is None:
            # read by _evaluate's reference rules: why this row has no interval
            d = {**d, "interval_reason": REASON_NO_MULTICLASS_INTERVAL.format(metric=d["metric"])}
        disparities.append(d)
    return {
        "audit": result.get("audit") or {},
        "metrics": {"by_group": rows},
        "disparities": disparities,
        "headline": [h for h in result.get("headline") or [] if h.get("class") == label],
    }


class MulticlassViews:
    """The views a multiclass result's rules are judged on, built once per class as needed."""

    def __init__(self, result: Mapping[str, Any]) -> None:
        self.result = result
        audit = result.get("audit") or {}
        self.classes: tuple[str, ...] = tuple(str(c) for c in audit.get("classes") or ())
        self._views: dict[str | None, View] = {}

    def view(self, label: str | None) -> View:
        """Return the view of class ``label``'s one-vs-rest numbers (None: the multiclass
        group metrics)."""
        if label not in self._views:
            self._views[label] = build_view(_class_result(self.result, label))
        return self._views[label]

    def favorable(self) -> View | None:
        """Return the binary view of the favourable classes' union (``favorable_view``),
        None without them."""
        summary = self.result.get("summary") or {}
        return favorable_view(_class_result(self.result, None), summary.get("favorable_view"))

    def judged(self, rule: Rule) -> list[tuple[str | None, View | None]]:
        """Return the (class, view) pairs ``rule`` is judged on (see the module docstring);
        a view of None: the favourable view the audit does not have."""
        if rule.metric in FAVORABLE_METRICS:
            return [(None, self.favorable())]
        if rule.classes is None:
            if rule.base_metric in MULTICLASS_WHOLE_METRICS:
                return [(None, self.view(None))]
            return [(label, self.view(label)) for label in self.classes]
        for label in rule.classes:
            if label not in self.classes:
                raise PolicyError(
                    MSG_UNKNOWN_CLASS.format(
                        source=rule.layer,
                        rule=rule.id,
                        label=label,
                        classes=", ".join(repr(c) for c in self.classes) or "none",
                    )
                )
        return [(label, self.view(label)) for label in rule.classes]


def multiclass_views(result: Mapping[str, Any]) -> MulticlassViews:
    """Return the views of a multiclass result's JSON dict."""
    return MulticlassViews(result)
