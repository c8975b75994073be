"""Every number of a multiclass audit: what ``Measurement`` is for a binary one.

:class:`MulticlassMeasurement` is built from :class:`MulticlassStatistics` (a confusion
matrix per intersectional cell) and owns the overall values, one ``MulticlassTable`` per
grouping, the JSON rows of ``by_group`` (metrics, ``by_class``, ``confusion``), the
disparities against the reference group (the multiclass metrics, and every one-vs-rest
metric of every class, tagged with ``class``), the headline metrics per class (fairlearn's
six, one-vs-rest: equal to ``demographic_parity_difference`` etc. with
``y_true == class`` and ``y_pred == class``), the worst class of each headline metric,
the checks on the groups and, given a confidence, the intervals and tests
(``_multiclass_uncertainty``). :meth:`MulticlassMeasurement.favorable_view` collapses
the matrices to the union of one or more favourable classes and returns the binary
``Measurement`` of that outcome, whose worse-off entries carry the four-fifths ratio.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fairaudit.data import Check
from fairaudit.display import group_text
from fairaudit.measure._checks import group_checks, reference_checks
from fairaudit.measure._core import BinaryCounts, Measurement, uncertainty_section
from fairaudit.measure._direction import Direction
from fairaudit.measure._metrics import (
    disparities_vs_reference,
    headline_exclusions,
    headline_metrics,
)
from fairaudit.measure._multiclass import (
    MULTICLASS_METRICS,
    MulticlassStatistics,
    MulticlassTable,
    favorable_codes,
    favorable_counts,
)
from fairaudit.measure._multiclass_uncertainty import ClassDisparity, multiclass_uncertainty
from fairaudit.stats import DisparityUncertainty, metric_denominators
from fairaudit.vocabulary import RATIO_BAND

__all__ = ["MSG_ABSENT_CLASSES", "MSG_UNDEFINED_AUC", "MulticlassMeasurement", "worst_classes"]

#: The Holm family's description in the ``uncertainty`` section.
_FAMILY = (
    "every tested one-vs-rest disparity of every class and every accuracy disparity against "
    "the reference group, across groupings and classes; base_rate (a property of the data) "
    "is tested on its own"
)

#: The favourable view's disparity rows kept in the summary: its selection rate and true
#: positive rate against the reference (policy rules on the favourable outcome read them).
_FAVORABLE_RATES = ("selection_rate", "true_positive_rate")

MSG_ABSENT_CLASSES = (
    "{n} group{s} {have} no row labelled with some class, so that class's one-vs-rest "
    "true_positive_rate and false_negative_rate are undefined (null) there: {names}"
)


MSG_UNDEFINED_AUC = (
    "roc_auc is undefined (null) for {n} group and class pair(s): one-vs-rest AUC needs "
    "rows of the class and rows of other classes in the group: {names}"
)


def _auc_reason(row: Mapping[str, Any], label: str) -> str:
    """Return why a group's one-vs-rest AUC of class ``label`` is undefined."""
    if label in row["absent_classes"]:
        return "no row of the class"
    return "every row is of the class"


def _pair(values: np.ndarray) -> list[float | None] | None:
    low, high = float(values[0]), float(values[1])
    if math.isnan(low) and math.isnan(high):
        return None
    return [None if math.isnan(v) else v for v in (low, high)]


def _denominators(table: MulticlassTable, class_index: int | None, metric: str) -> np.ndarray:
    """Return each group's denominator of a metric: one-vs-rest as for binary; the smallest
    present class for balanced_accuracy; the group's rows for accuracy and f1_macro."""
    if class_index is not None:
        return metric_denominators(table.by_class[class_index].counts, metric)
    if metric == "balanced_accuracy":
        support = table.confusion.sum(axis=2)
        return np.where(support > 0, support, np.iinfo(np.int64).max).min(axis=1) * (
            support.any(axis=1)
        )
    return table.table.sizes


def worst_classes(headline: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return, per grouping and headline metric, the class where it is worst: the largest
    difference or the smallest ratio among classes with a defined value (ties: the first
    class; ``class`` None when no class has one)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in headline:
        key = (entry["feature"], entry["metric"])
        best = out.setdefault(key, {"feature": key[0], "metric": key[1], "class": None,
                                    "value": math.nan})  # fmt: skip
        value = entry["value"]
        if math.isnan(value):
            continue
        worse = value < best["value"] if key[1].endswith("_ratio") else value > best["value"]
        if best["class"] is None or worse:
            best.update({"class": entry["class"], "value": value})
    return list(out.values())


class MulticlassMeasurement:
    """Every number of one multiclass audit, computed once (see the module docstring).

    Parameters are those of ``Measurement``: ``reference`` (``{feature: value}``; the
    largest group otherwise), ``min_group_size`` (smaller groups are insufficient data,
    never tested) and ``min_denominator`` (a rate with fewer rows behind it is
    insufficient: listed per row, left out of the headline metrics, not tested).
    """

    task = "multiclass"
    metric_names: tuple[str, ...] = MULTICLASS_METRICS

    def __init__(
        self,
        statistics: MulticlassStatistics,
        *,
        reference: Mapping[str, str] | None = None,
        min_group_size: int = 30,
        min_denominator: int = 10,
    ) -> None:
        self.statistics = statistics
        self.classes = statistics.classes
        self.wanted_reference = dict(reference or {})
        self.min_group_size = min_group_size
        self.min_denominator = min_denominator
        self.overall, self.tables = statistics.tables(self.wanted_reference)
        self.disparity_items: list[ClassDisparity] = []
        self.disparities: list[dict[str, Any]] = []
        self.by_group: list[dict[str, Any]] = []
        for table in self.tables:
            low = self._low_denominators(table)
            self.by_group.extend(self._rows(table, low))
            self._add_disparities(table, low)
        self.headline = [entry for t in self.tables for entry in self._headline(t)]
        self.worst_classes = worst_classes(self.headline)
        self.uncertainty: dict[str, Any] | None = None
        # The favourable view and the summary holding it (intervals added in place).
        self._favorable: Measurement | None = None
        self._summary: dict[str, Any] | None = None
        self._options: dict[str, Any] | None = None  # add_uncertainty's, once it ran

    def _low_denominators(self, table: MulticlassTable) -> dict[tuple[int | None, str], np.ndarray]:
        """Return ``{(class code or None, metric): per group, whether its denominator is
        below min_denominator}``."""
        return {
            (k, m): _denominators(table, k, m) < self.min_denominator
            for k in [None, *range(len(self.classes))]
            for m in (MULTICLASS_METRICS if k is None else self.statistics.class_metrics)
        }

    def _rows(
        self, table: MulticlassTable, low: dict[tuple[int | None, str], np.ndarray]
    ) -> list[dict[str, Any]]:
        """Return the group rows with ``insufficient_metrics`` (multiclass metrics) and
        ``insufficient_by_class`` (``{class: [one-vs-rest metrics]}``, classes with any)."""
        rows = self.statistics.group_rows(table, self.min_group_size)
        for i, row in enumerate(rows):
            row["insufficient_metrics"] = [m for m in MULTICLASS_METRICS if low[None, m][i]]
            by_class = {
                label: [m for m in self.statistics.class_metrics if low[k, m][i]]
                for k, label in enumerate(self.classes)
            }
            row["insufficient_by_class"] = {c: ms for c, ms in by_class.items() if ms}
        return rows

    def _add_disparities(
        self, table: MulticlassTable, low: dict[tuple[int | None, str], np.ndarray]
    ) -> None:
        """Add every group's disparities against the reference: the multiclass metrics
        (class None), then each class's one-vs-rest metrics."""
        groups, ref = table.table.groups, table.table.reference
        others = [i for i in range(len(groups)) if i != ref]
        parts: list[tuple[int | None, Any, tuple[str, ...]]] = [
            (None, table.table, MULTICLASS_METRICS)
        ]
        metrics = self.statistics.class_metrics
        parts += [(k, c, metrics) for k, c in enumerate(table.by_class)]
        for k, grouping, metrics in parts:
            # disparities_vs_reference lists each metric's non-reference groups in order.
            for j, row in enumerate(disparities_vs_reference(grouping, metrics)):
                i = others[j % len(others)]
                assert row.group == groups[i]
                self.disparity_items.append(ClassDisparity(k, row))
                # The binary row's fields (DisparityRow's, as Measurement's JSON), with class.
                self.disparities.append(
                    {
                        "feature": row.feature,
                        "class": None if k is None else self.classes[k],
                        **vars(row),
                        "insufficient_data": bool(low[k, row.metric][[i, ref]].any()),
                    }
                )

    def _headline(self, table: MulticlassTable) -> list[dict[str, Any]]:
        """Return fairlearn's six headline metrics of each class, one-vs-rest."""
        out = []
        for k, class_table in enumerate(table.by_class):
            excluded = headline_exclusions(class_table, self.min_denominator)
            for metric, value in headline_metrics(class_table, self.min_denominator).items():
                out.append({"feature": table.name, "class": self.classes[k], "metric": metric,
                            "value": value, "excluded": excluded[metric]})  # fmt: skip
        return out

    @property
    def groupings(self) -> list[str]:
        """Return the groupings' names: each feature, then the intersection (if any)."""
        return [t.name for t in self.tables]

    def reference_groups(self) -> dict[str, dict[str, str]]:
        """Return ``{grouping: reference group}``."""
        return {t.name: t.table.groups[t.table.reference] for t in self.tables}

    def uncertainty_section(self) -> dict[str, Any] | None:
        """Return the AuditResult's ``uncertainty`` section (None without intervals)."""
        if self.uncertainty is None:
            return None
        computed = {
            "method": {**self.uncertainty["method"], "family": self.uncertainty["family"]},
            "overall_ci": self.uncertainty["overall_ci"],
        }
        note = "; balanced_accuracy and f1_macro disparities have no test yet"
        return uncertainty_section(self.disparities, computed, note)

    def summary(self, favorable: Sequence[str] = (), *, column: str = "label") -> dict[str, Any]:
        """Return the AuditResult's ``summary``: the worst class of each headline metric
        and, given favourable classes, the binary view of their union (its headline and
        worse-off groups, with the four-fifths ratio). ``worse_off`` (the binary banner's
        entries) stays empty: a multiclass audit names no single favourable outcome.
        ``add_uncertainty`` afterwards adds the view's intervals to this same dict."""
        out: dict[str, Any] = {
            "ratio_band": list(RATIO_BAND),
            "worse_off": [],
            "worst_classes": self.worst_classes,
            "favorable_view": None,
        }
        if favorable:
            view = self.favorable_view(favorable, column=column)
            if self._options is not None:  # intervals already computed: the view's too
                view.add_uncertainty(**self._options)
            out["favorable_view"] = {
                "classes": [c for c in self.classes if c in set(favorable)],
                **_favorable_numbers(view),
            }
            self._favorable = view
        self._summary = out
        return out

    def overall_json(self) -> dict[str, Any]:
        """Return the overall values (MULTICLASS_METRICS, count, by_class, confusion)."""
        return dict(self.overall)

    def checks(self) -> list[Check]:
        """Return the checks on the groups: the reference, small, single-class, empty cells.

        Raises ConfigError when a feature's named reference group has no rows.
        """
        n_features, n_cells, n_possible = self.statistics.cells()
        checks = reference_checks(
            self.wanted_reference, [t.table for t in self.tables]
        ) + group_checks(self.by_group, self.min_group_size, n_possible, n_cells, n_features)
        absent = [r for r in self.by_group if r["absent_classes"] and not r["single_class"]]
        if absent:
            shown = "; ".join(
                f"{group_text(r['group'])} ({', '.join(map(repr, r['absent_classes']))})"
                for r in absent[:20]
            ) + ("; ..." if len(absent) > 20 else "")
            n = len(absent)
            message = MSG_ABSENT_CLASSES.format(
                n=n, s="" if n == 1 else "s", have="has" if n == 1 else "have", names=shown
            )
            checks.append(Check("absent_classes", "warning", message))
        return checks + self._score_checks()

    def _score_checks(self) -> list[Check]:
        """Return the notes on the class scores and where a class's roc_auc is undefined."""
        scores = self.statistics.scores
        if scores is None:
            return []
        checks = [Check("class_scores", "info", note) for note in scores.notes]
        undefined = [
            (row, label)
            for row in self.by_group
            for k, label in enumerate(self.classes)
            if scores.scored[k] and math.isnan(row["by_class"][label]["roc_auc"])
        ]
        if undefined:
            shown = "; ".join(
                f"{group_text(row['group'])}: {label!r} ({_auc_reason(row, label)})"
                for row, label in undefined[:20]
            ) + ("; ..." if len(undefined) > 20 else "")
            message = MSG_UNDEFINED_AUC.format(n=len(undefined), names=shown)
            checks.append(Check("undefined_roc_auc", "warning", message))
        return checks

    def favorable_view(self, favorable: Sequence[str], *, column: str = "label") -> Measurement:
        """Return the binary Measurement of "label / prediction in the favourable classes"
        (their union), with the same reference and minimums; its ``worse_off()`` gives the
        four-fifths ratio. Raises DataError for a name that is no class."""
        codes = favorable_codes(self.classes, favorable, column=column)
        counts = favorable_counts(self.statistics.counts, codes)
        label = ", ".join(self.classes[k] for k in codes)
        return Measurement(
            BinaryCounts(counts),
            reference=self.wanted_reference,
            min_group_size=self.min_group_size,
            min_denominator=self.min_denominator,
            direction=Direction(True, label),
        )

    def add_uncertainty(self, *, confidence: float, n_resamples: int = 1000) -> None:
        """Compute intervals and tests and add them to the rows (``ci``, p-values, verdicts)."""
        computed = multiclass_uncertainty(
            self.tables,
            self.statistics.counts.overall,
            self.disparity_items,
            confidence=confidence,
            n_resamples=n_resamples,
            min_group_size=self.min_group_size,
            min_denominator=self.min_denominator,
            overall_auc=self.statistics.overall_auc(),
        )
        self._attach_group_ci(computed.group_ci)
        for row, result in zip(self.disparities, computed.disparities, strict=True):
            row.update(_test_json(result))
        self._options = {"confidence": confidence, "n_resamples": n_resamples, "seed": 0}
        if self._favorable is not None and self._summary is not None:
            # The favourable view's intervals (its four-fifths ratio's, for policy evidence),
            # in the summary the caller already holds.
            self._favorable.add_uncertainty(**self._options)
            self._summary["favorable_view"].update(_favorable_numbers(self._favorable))
        for entry in self.headline:
            k = self.classes.index(entry["class"])
            pair = computed.headline_ci[entry["feature"]][k][entry["metric"]]
            entry["ci"] = _pair(np.asarray(pair))
        overall = computed.overall_ci
        self.uncertainty = {
            "method": computed.method,
            "family": {"size": computed.family_size, "description": _FAMILY},
            "overall_ci": {
                "metrics": {m: _pair(v) for m, v in overall["metrics"].items()},
                "by_class": {
                    label: {m: _pair(v[k]) for m, v in overall["by_class"].items()}
                    for k, label in enumerate(self.classes)
                },
            },
        }

    def _attach_group_ci(self, group_ci: dict[str, dict[str, dict[str, np.ndarray]]]) -> None:
        position: dict[str, int] = {}
        for row in self.by_group:
            i = position.get(row["feature"], 0)
            position[row["feature"]] = i + 1
            cis = group_ci[row["feature"]]
            row["ci"] = {
                "metrics": {m: _pair(v[i]) for m, v in cis["metrics"].items()},
                "by_class": {
                    label: {m: _pair(v[i, k]) for m, v in cis["by_class"].items()}
                    for k, label in enumerate(self.classes)
                },
            }


def _favorable_numbers(view: Measurement) -> dict[str, Any]:
    """Return the favourable view's ``worse_off``, ``headline`` and the disparities of the
    rates policy rules judge (``favorable_rate_*``, ``favorable_opportunity_*``)."""
    return {
        "worse_off": view.worse_off(),
        "headline": view.headline,
        "disparities": [d for d in view.disparities if d["metric"] in _FAVORABLE_RATES],
    }


def _test_json(result: DisparityUncertainty | None) -> dict[str, Any]:
    """Return a disparity's interval and test fields (all null when it has no test)."""
    if result is None:
        return {"ci_difference": None, "ci_ratio": None, "p_value": None,
                "p_value_adjusted": None, "significance": None,
                "note": "no test for this multiclass metric yet"}  # fmt: skip
    return {
        "ci_difference": _pair(np.asarray(result.ci_difference)),
        "ci_ratio": _pair(np.asarray(result.ci_ratio)),
        "p_value": None if math.isnan(result.p_value) else result.p_value,
        "p_value_adjusted": None
        if math.isnan(result.p_value_adjusted)
        else result.p_value_adjusted,
        "significance": result.significance,
        "note": result.note,
    }
