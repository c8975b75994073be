"""Intervals and tests of a multiclass model's metrics, one-vs-rest, with one Holm family.

The methods are the binary audit's (``fairaudit.stats``), applied to each class's
one-vs-rest 2 x 2 counts:

* per class and group, every one-vs-rest rate: ``analytic_interval`` (Wilson for the
  proportions, the transformed Wilson interval of ``tp / (tp + fp + fn)`` for f1, the
  MOVER sum for the one-vs-rest balanced accuracy);
* per class, fairlearn's headline metrics: ``headline_intervals`` (Šidák-level
  simultaneous Wilson bounds) over that class's groups;
* a group's multiclass ``accuracy``: Wilson of ``trace / n``; ``balanced_accuracy``: the
  MOVER sum of the present classes' recall Wilson intervals, divided by their number (the
  recalls are independent given the class sizes; for two classes this is the binary
  interval); ``f1_macro``: no interval yet (null);
* disparities (group against the reference): ``disparity_uncertainty``, i.e. MOVER-D /
  MOVER-R intervals and the two-proportion z-test (Fisher's exact test when small) for
  every one-vs-rest rate and the multiclass accuracy (the binary accuracy of "correct"
  against "wrong"). The multiclass ``balanced_accuracy`` and ``f1_macro`` disparities get
  no test yet (``significance`` null).

One call to ``disparity_uncertainty`` covers every class of every grouping, each class's
table under its own key, so Holm's adjustment runs over one family spanning the classes:
one hypothesis per (grouping, class, group, reference, metric), an exact complement (FNR,
TNR, FDR, FOR) sharing its counterpart's, ``base_rate`` outside the family.

With per-class scores, each class's one-vs-rest ``roc_auc`` gets the binary audit's
logit-DeLong interval per group (``stats.auc_estimate``), its difference from the
reference a Wald interval and z-test on the DeLong variances, its ratio MOVER-R; those
tests join the same Holm family.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from fairaudit.measure._metrics import DisparityRow, GroupTable
from fairaudit.measure._multiclass import (
    AucParts,
    MulticlassTable,
    multiclass_metrics,
    one_vs_rest,
)
from fairaudit.stats import (
    ANALYTIC_METRICS,
    DisparityUncertainty,
    ScoreEstimate,
    analytic_interval,
    auc_estimate,
    check_options,
    confusion_metrics,
    disparity_uncertainty,
    headline_intervals,
    safe_divide,
    wilson_interval,
)

__all__ = [
    "METHOD",
    "ClassDisparity",
    "MulticlassUncertainty",
    "class_intervals",
    "multiclass_intervals",
    "multiclass_uncertainty",
]

#: Only the multiclass accuracy among MULTICLASS_METRICS has a test.
_TESTED_GROUP_METRICS = ("accuracy",)

METHOD: dict[str, Any] = {
    "description": (
        "One-vs-rest: each class's rates get the binary audit's intervals (Wilson for "
        "proportions, transformed Wilson for f1, MOVER sum for balanced_accuracy), MOVER "
        "differences and ratios vs the reference, two-proportion z-tests (Fisher's exact "
        "test for small counts) and Sidak-simultaneous Wilson bounds for the headline "
        "metrics. Multiclass accuracy: Wilson interval and z / Fisher test; "
        "balanced_accuracy: MOVER sum of the per-class recall Wilson intervals; f1_macro: "
        "no interval. Holm's adjustment runs over one family spanning every class."
    ),
    "correction": "holm",
    "intervals": {
        "proportion": "wilson (one-vs-rest)",
        "f1": "wilson-on-tp/(tp+fp+fn)-transformed (one-vs-rest)",
        "accuracy": "wilson",
        "balanced_accuracy": "mover-sum-of-wilson (per-class recalls)",
        "f1_macro": None,
        "difference": "mover-d (newcombe-hybrid-score)",
        "ratio": "mover-r",
        "headline": "sidak-simultaneous-wilson-bounds (per class)",
    },
    "tests": {
        "proportion_and_f1": "two-proportion-z (fisher-exact if an expected cell < 5)",
        "accuracy": "two-proportion-z on correct vs wrong",
        "balanced_accuracy": "inverted-mover-interval (one-vs-rest only)",
        "f1_macro": None,
    },
}


def _with_auc(method: dict[str, Any]) -> dict[str, Any]:
    """Return the method with what the per-class ROC AUC's intervals and tests are."""
    return {
        **method,
        "description": method["description"] + " Per-class ROC AUC (one-vs-rest, from the "
        "class scores): logit-DeLong intervals, Wald differences and z-tests on the DeLong "
        "variances, MOVER-R ratios, in the same Holm family.",
        "intervals": {**method["intervals"], "roc_auc": "delong-logit (one-vs-rest)"},
        "tests": {**method["tests"], "roc_auc": "z (delong variances)"},
    }


@dataclass(frozen=True)
class ClassDisparity:
    """One disparity of a multiclass audit: a binary ``DisparityRow`` and its class code
    (None for a multiclass group metric such as ``accuracy``)."""

    class_index: int | None
    row: DisparityRow


@dataclass(frozen=True)
class _Keyed:
    """A grouping under a key unique to (grouping, class): what ``disparity_uncertainty``
    reads (the ``Grouping`` protocol)."""

    name: str
    groups: list[dict[str, str]]
    counts: np.ndarray
    reference: int
    cell_group: np.ndarray


@dataclass
class MulticlassUncertainty:
    """Intervals and tests of one multiclass audit (NaN: undefined).

    ``overall_ci``: ``{"metrics": {metric: (2,)}, "by_class": {metric: (K, 2)}}``;
    ``group_ci``: ``{grouping: {"metrics": {metric: (m, 2)}, "by_class": {metric:
    (m, K, 2)}}}``; ``disparities``: one DisparityUncertainty (None: not tested) per
    ClassDisparity; ``headline_ci``: ``{grouping: one {headline metric: (low, high)} per
    class}``; ``family_size``: the distinct hypotheses Holm adjusted over.
    """

    method: dict[str, Any]
    overall_ci: dict[str, dict[str, np.ndarray]]
    group_ci: dict[str, dict[str, dict[str, np.ndarray]]]
    disparities: list[DisparityUncertainty | None]
    headline_ci: dict[str, list[dict[str, tuple[float, float]]]]
    family_size: int


def _null_where_undefined(intervals: np.ndarray, point: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(point)[..., None], np.nan, intervals)


def class_intervals(ovr: np.ndarray, confidence: float) -> dict[str, np.ndarray]:
    """Return ``{metric: (..., 2)}`` intervals of every one-vs-rest rate of ``ovr (..., 4)``,
    null where the rate is undefined."""
    points = confusion_metrics(ovr)
    out = {}
    for metric in ANALYTIC_METRICS:
        interval = analytic_interval(ovr, metric, confidence)
        assert interval is not None
        out[metric] = _null_where_undefined(interval, points[metric])
    return out


def multiclass_intervals(confusion: np.ndarray, confidence: float) -> dict[str, np.ndarray]:
    """Return ``{metric: (m, 2)}`` intervals of MULTICLASS_METRICS for ``(m, K, K)``
    matrices: Wilson for accuracy, the MOVER sum of recall Wilson intervals for
    balanced_accuracy, NaN for f1_macro."""
    confusion = np.asarray(confusion, dtype=np.int64)
    n = confusion.sum(axis=(1, 2))
    correct = np.diagonal(confusion, axis1=1, axis2=2)
    support = confusion.sum(axis=2)
    present = support > 0
    recall = safe_divide(correct.astype(np.float64), support.astype(np.float64))
    limits = wilson_interval(correct, support, confidence)
    k = present.sum(axis=1).astype(np.float64)
    estimate = safe_divide(np.where(present, recall, 0.0).sum(axis=1), k)
    below = np.where(present, recall - limits[..., 0], 0.0)
    above = np.where(present, limits[..., 1] - recall, 0.0)
    low = estimate - safe_divide(np.sqrt((below**2).sum(axis=1)), k)
    high = estimate + safe_divide(np.sqrt((above**2).sum(axis=1)), k)
    points = multiclass_metrics(confusion)
    accuracy = _null_where_undefined(wilson_interval(correct.sum(axis=1), n, confidence),
                                     points["accuracy"])  # fmt: skip
    return {
        "accuracy": accuracy,
        "balanced_accuracy": np.stack([low, high], axis=-1),
        "f1_macro": np.full((len(confusion), 2), np.nan),
    }


def _accuracy_counts(confusion: np.ndarray) -> np.ndarray:
    """Return ``(m, 4)`` counts whose binary accuracy is the multiclass accuracy:
    correct rows as true positives, wrong rows as false positives."""
    correct = np.diagonal(confusion, axis1=1, axis2=2).sum(axis=1)
    wrong = confusion.sum(axis=(1, 2)) - correct
    zeros = np.zeros_like(correct)
    return np.stack([zeros, wrong, zeros, correct], axis=1)


def _auc_estimates(auc: Sequence[AucParts | None], confidence: float) -> list[ScoreEstimate | None]:
    """Return each class's logit-DeLong estimate over the groups (None: no scores)."""
    return [None if parts is None else auc_estimate(*parts, confidence) for parts in auc]


def _auc_intervals(estimates: Sequence[ScoreEstimate | None], n_groups: int) -> np.ndarray:
    """Return ``(n_groups, K, 2)`` AUC intervals, NaN for a class without scores."""
    nan = np.full((n_groups, 2), np.nan)
    return np.stack([nan if e is None else e.interval for e in estimates], axis=1)


def _keyed_tables(
    tables: Sequence[MulticlassTable], confidence: float
) -> tuple[list[_Keyed], list[dict[str, np.ndarray]], list[dict[str, np.ndarray]], list[dict]]:
    """Return every (grouping, class) table and each grouping's accuracy table under
    their own keys, with their point values, group intervals and score estimates."""
    keyed, points, intervals, scores = [], [], [], []
    for t, table in enumerate(tables):
        base: GroupTable = table.table
        estimates = _auc_estimates(table.auc, confidence)
        for k, class_table in enumerate(table.by_class):
            keyed.append(_Keyed(f"{t}:{k}", base.groups, class_table.counts, base.reference,
                                base.cell_group))  # fmt: skip
            points.append(class_table.values)
            intervals.append(class_intervals(class_table.counts, confidence))
            estimate = estimates[k] if estimates else None
            scores.append({} if estimate is None else {"roc_auc": estimate})
            if estimate is not None:
                intervals[-1]["roc_auc"] = estimate.interval
        accuracy = _accuracy_counts(table.confusion)
        keyed.append(_Keyed(f"{t}:accuracy", base.groups, accuracy, base.reference,
                            base.cell_group))  # fmt: skip
        points.append({"accuracy": base.values["accuracy"]})
        intervals.append(
            {"accuracy": multiclass_intervals(table.confusion, confidence)["accuracy"]}
        )
        scores.append({})
    return keyed, points, intervals, scores


def _class_ci(table: MulticlassTable, confidence: float) -> dict[str, np.ndarray]:
    """Return ``{metric: (m, K, 2)}`` intervals of every class's one-vs-rest metrics."""
    out = class_intervals(one_vs_rest(table.confusion), confidence)
    if table.auc:
        m = len(table.table.groups)
        out["roc_auc"] = _auc_intervals(_auc_estimates(table.auc, confidence), m)
    return out


def _key(tables: Sequence[MulticlassTable], item: ClassDisparity) -> str:
    t = next(i for i, table in enumerate(tables) if table.name == item.row.feature)
    return f"{t}:{'accuracy' if item.class_index is None else item.class_index}"


def multiclass_uncertainty(
    tables: Sequence[MulticlassTable],
    overall_confusion: np.ndarray,
    disparities: Sequence[ClassDisparity],
    *,
    confidence: float,
    n_resamples: int = 1000,
    min_group_size: int,
    min_denominator: int = 0,
    overall_auc: Sequence[AucParts | None] = (),
) -> MulticlassUncertainty:
    """Return the intervals and tests of every group metric, disparity and headline metric.

    A disparity is tested when both groups have ``min_group_size`` rows and both rates
    ``min_denominator`` rows in their denominators (as for binary); the multiclass
    balanced_accuracy and f1_macro disparities are not tested (None). ``overall_auc``:
    each class's AucParts over all rows, with scores.
    """
    check_options(confidence, n_resamples)
    keyed, points, intervals, scores = _keyed_tables(tables, confidence)
    testable = [
        j for j, d in enumerate(disparities)
        if d.class_index is not None or d.row.metric in _TESTED_GROUP_METRICS
    ]  # fmt: skip
    rows = [replace(disparities[j].row, feature=_key(tables, disparities[j])) for j in testable]
    tested, family_size = disparity_uncertainty(
        keyed,
        rows,
        [k.counts for k in keyed],
        points,
        intervals,
        scores,
        confidence=confidence,
        min_group_size=min_group_size,
        min_denominator=min_denominator,
    )
    results: list[DisparityUncertainty | None] = [None] * len(disparities)
    for j, result in zip(testable, tested, strict=True):
        results[j] = result
    overall = np.asarray(overall_confusion)[None]
    overall_by_class = class_intervals(one_vs_rest(overall)[0], confidence)
    method = {**METHOD, "confidence": confidence, "min_group_size": min_group_size}
    if overall_auc:
        overall_by_class["roc_auc"] = _auc_intervals(_auc_estimates(overall_auc, confidence), 1)[0]
        method = _with_auc(method)
    return MulticlassUncertainty(
        method=method,
        overall_ci={
            "metrics": {m: v[0] for m, v in multiclass_intervals(overall, confidence).items()},
            "by_class": overall_by_class,
        },
        group_ci={
            table.name: {
                "metrics": multiclass_intervals(table.confusion, confidence),
                "by_class": _class_ci(table, confidence),
            }
            for table in tables
        },
        disparities=results,
        headline_ci={
            table.name: [
                headline_intervals(c.counts, confidence, min_denominator) for c in table.by_class
            ]
            for table in tables
        },
        family_size=family_size,
    )
