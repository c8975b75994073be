"""Confidence intervals and significance tests for every group metric and disparity.

Everything here works on the counts table (``GroupCounts``), never on rows, except the
score metrics (ROC AUC, Brier score), which are not functions of confusion counts. This
module assembles the results; the methods live in package-private modules:
``_rates`` (the point values), ``_intervals`` (Wilson, MOVER / Newcombe, z / Fisher
tests, Holm), ``_bootstrap`` (the count bootstrap), ``_score_stats`` (DeLong, Brier) and
``_significance`` (the disparities' intervals and tests).

Choosing the interval method
----------------------------
Each number gets the interval that held its nominal coverage in our coverage study
(``benchmarks/coverage.py``, figures in ``benchmarks/README.md``): simulated
populations with known metric values, 2,000 audits per condition, a group and a
reference group of 30, 100 and 1,000 rows each, typical rates, rare positives and a
near-perfect classifier.

* **Proportion metrics** (the eleven rates in ``PROPORTIONS``): the Wilson score
  interval of ``numerator / denominator``. The bootstrap percentile interval of a
  proportion behaves like a Wald interval: with a handful of denominator cases it
  collapses (0/3 resamples to ``[0, 0]``) and covered only 37-61% at 30 rows with rare
  positives or a near-perfect classifier, where Wilson kept 92.7-99%.
* **f1**: ``f1 = 2J / (1 + J)`` with ``J = tp / (tp + fp + fn)``, a binomial proportion
  given ``tp + fp + fn``; its interval is the image of J's Wilson interval (exact, as
  the map is monotone). **balanced_accuracy** ``(TPR + TNR) / 2``: the MOVER sum of the
  two Wilson intervals (TPR and TNR are independent given the class sizes). Both failed
  with the percentile bootstrap at 30 rows (53-70% coverage) for the same reason.
* **Differences** (group minus reference): MOVER-D from the two groups' intervals,
  which for proportions is Newcombe's hybrid score interval (Newcombe 1998, method 10).
  Groups of a grouping are disjoint, so their estimates are independent given their
  denominators.
* **Ratios** (group / reference): MOVER-R (Donner & Zou 2012) from the same intervals.
  Unlike the Katz log interval it needs no continuity correction when the group's
  numerator is zero (it then gives ``[0, upper]``).
* **fairlearn's headline metrics** (between-groups max - min and min / max):
  simultaneous Wilson intervals for the k group rates that enter the metric, each at
  Šidák's level ``confidence ** (1 / k)`` (equalized odds: the TPR and FPR families
  together), turned into bounds that hold whenever all k rates are in their intervals
  (``fairaudit.stats._headline``). Valid by construction and conservative. It replaced
  the percentile count bootstrap, which covered the true value 0% of the time under no
  disparity (max - min of noisy rates is biased away from 0) and 40-78% for ratios of
  rare outcomes; coverage and width of the new interval are in ``benchmarks/README.md``
  (``benchmarks/headline_coverage.py``).
* **Score metrics** (roc_auc, brier_score): analytic intervals whose cost is one sort of
  the scores plus O(n) per grouping (details in ``fairaudit._score_stats``). ROC AUC:
  DeLong's variance (Sun & Xu's midrank algorithm) and a Wald interval on the logit
  scale, which stays inside [0, 1]; an AUC of exactly 0 or 1 (zero DeLong variance)
  gets the score interval under the largest variance such an AUC can have. Brier
  score: ``mean +- z sd / sqrt(n)`` of the squared errors, clipped to [0, 1].
  Differences: Wald from the two groups' variances; ratios: MOVER-R from the two
  intervals. They replaced a stratified row bootstrap costing 0.25-0.46 us per
  row x resample (25-46 s for 100,000 rows x 1,000 resamples), which is kept as
  ``bootstrap_score_metrics`` only as the reference the analytic intervals are
  checked against. Coverage (binormal scores): AUC 93.5-95.7% except with about 8
  positives per group (90-91%; the bootstrap: 87%) and AUC >= 0.95 at 30 rows
  (conservative, 97-99%); Brier score 89-92% at 30 rows (skewed squared errors; the
  bootstrap did the same), 93-95% from 100 rows.

Analytic intervals are conservative (above 97%) at 30 rows when a rate is near 0 or 1
or a denominator holds a handful of cases, and ratios are null when the reference
value is 0. Undefined values (a zero denominator in the point estimate) get null
intervals, as do score metrics of a group with fewer than two positives or negatives
(ROC AUC) or two rows (Brier score). No interval or test uses the count bootstrap
any more; ``resamples`` and ``seed`` are still validated and recorded.

Significance
------------
Every disparity is a test of "the group's value equals the reference's value".
Proportion metrics and f1 (through J) use the pooled two-proportion z-test, or
Fisher's exact test when an expected cell of the 2x2 table is below 5. Score metrics
use the z-test of the difference with the two groups' DeLong / CLT variances.
balanced_accuracy inverts its MOVER interval: the p-value is ``1 - c`` for the level c
at which the interval of the difference reaches 0 (a count-bootstrap p-value it
replaced took few distinct values when TPR and TNR were 0 or 1, and rejected 21.9% of
the time at a nominal 5%). A disparity is ``"insufficient data"`` when either group
has fewer than ``min_group_size`` rows or a value is undefined; those are not tested.

The family adjusted with Holm's step-down method is the distinct hypotheses: one per
(grouping, group, reference, metric), where an exact complement (FNR = 1 - TPR,
TNR = 1 - FPR, FDR = 1 - precision, FOR = 1 - NPV) is its counterpart's hypothesis and
counts once, and ``base_rate`` (a property of the data, not the model) is tested on its
own, outside the family. ``method.family`` records the family and its size. A
disparity is ``"significant"`` when its adjusted p-value is below ``1 - confidence``,
else ``"within noise"``; a ``note`` says when its unadjusted interval excludes no
difference although the adjusted test does not reject.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from typing import TYPE_CHECKING, Any

import numpy as np

from fairaudit.counts import GroupCounts
from fairaudit.errors import ConfigError
from fairaudit.stats._headline import headline_intervals
from fairaudit.stats._intervals import analytic_interval
from fairaudit.stats._rates import confusion_metrics
from fairaudit.stats._score_stats import (
    ScoreEstimate,
    brier_estimates,
    roc_auc_estimates,
    score_sums_estimates,
)
from fairaudit.stats._significance import (
    ANALYTIC_METRICS,
    DisparityUncertainty,
    GroupComparison,
    Grouping,
    disparity_uncertainty,
)
from fairaudit.vocabulary import (
    BAD_CONFIDENCE,
    BAD_RESAMPLES,
    SCORE_METRICS,
)

if TYPE_CHECKING:
    from fairaudit.counts import ScoreSummary

__all__ = [
    "Uncertainty",
    "attach_to_rows",
    "check_options",
    "compute_uncertainty",
    "uncertainty_to_json",
]

# Percentile intervals from fewer resamples move visibly from one seed to the next.
_MIN_RESAMPLES = 100

_DESCRIPTION = (
    "Wilson score intervals for proportions (and, transformed, for f1), a MOVER "
    "sum of Wilson intervals for balanced_accuracy, MOVER differences (Newcombe's "
    "hybrid score interval for proportions) and MOVER-R ratios vs the reference; "
    "DeLong intervals (logit scale) for roc_auc and CLT intervals for brier_score, "
    "with Wald differences. Headline metrics (max - min and min / max over groups): "
    "bounds from simultaneous Wilson intervals of the group rates at the Sidak level "
    "confidence ** (1 / k), k the rates entering the metric (TPR and FPR together for "
    "equalized odds), valid by construction. Disparities are tested with a "
    "two-proportion z-test (Fisher's exact test for small counts), a z-test for score "
    "metrics, or by inverting the MOVER interval for balanced_accuracy, then "
    "Holm-adjusted over the distinct hypotheses (method.family)."
)


@dataclass
class Uncertainty:
    """Intervals and tests for one audit; NaN marks an undefined bound or p-value.

    Attributes
    ----------
    method:
        How the numbers were made: description, confidence, resamples, seed, correction,
        the interval method of each kind of metric, ``min_group_size`` and the
        multiple-testing ``family`` (description and size).
    overall_ci:
        ``{metric: (low, high)}`` for the overall row.
    group_ci:
        ``{table_name: {metric: array of shape (m, 2)}}``, rows in the table's group order.
    disparities:
        One DisparityUncertainty per given DisparityRow, in the same order.
    headline_ci:
        ``{table_name: {headline_metric: (low, high)}}`` from simultaneous Wilson bounds.
    """

    method: dict[str, Any]
    overall_ci: dict[str, tuple[float, float]]
    group_ci: dict[str, dict[str, np.ndarray]]
    disparities: list[DisparityUncertainty]
    headline_ci: dict[str, dict[str, tuple[float, float]]]


def _interval_tuple(pair: np.ndarray) -> tuple[float, float]:
    return float(pair[0]), float(pair[1])


def _null_where_undefined(intervals: np.ndarray, point: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(point)[..., None], np.nan, intervals)


def check_options(confidence: float, n_resamples: int) -> None:
    """Raise ConfigError unless 0 < confidence < 1 and n_resamples is a whole number >= 100."""
    if isinstance(confidence, bool) or not isinstance(confidence, Real) or not 0 < confidence < 1:
        raise ConfigError(BAD_CONFIDENCE.format(value=confidence))
    if (
        isinstance(n_resamples, bool)
        or not isinstance(n_resamples, Real)
        or not math.isfinite(n_resamples)
        or n_resamples != int(n_resamples)
        or n_resamples < _MIN_RESAMPLES
    ):
        raise ConfigError(BAD_RESAMPLES.format(value=n_resamples))


def _row_score_estimates(
    cell_groups: Sequence[np.ndarray],
    sizes: Sequence[int],
    y_true: np.ndarray,
    score: np.ndarray,
    row_codes: np.ndarray,
    confidence: float,
    score_is_probability: bool,
) -> list[dict[str, ScoreEstimate]]:
    """Return ROC AUC (and Brier score, for probabilities) estimates per grouping, from rows."""
    y = np.asarray(y_true, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    row_codes = np.asarray(row_codes, dtype=np.int64)
    by_score = np.argsort(score, kind="stable")  # the one O(n log n) step, shared
    out = []
    for cell_group, m in zip(cell_groups, sizes, strict=True):
        group = np.asarray(cell_group)[row_codes]
        estimates = {
            "roc_auc": roc_auc_estimates(
                group, m, y, score, confidence=confidence, by_score=by_score
            )
        }
        if score_is_probability:
            estimates["brier_score"] = brier_estimates(group, m, y, score, confidence=confidence)
        out.append(estimates)
    return out


def _groupings(
    group_counts: GroupCounts, tables: Sequence[Grouping]
) -> tuple[list[np.ndarray], list[int], list[np.ndarray]]:
    """Return each grouping's cell map, size and counts: every table, then the overall row
    as a one-group grouping."""
    cell_groups = [np.asarray(t.cell_group) for t in tables]
    cell_groups.append(np.zeros(len(group_counts.counts), dtype=np.int64))
    sizes = [len(t.groups) for t in tables] + [1]
    point_counts = [np.asarray(t.counts) for t in tables] + [group_counts.overall[None]]
    return cell_groups, sizes, point_counts


def _group_intervals(
    counts: np.ndarray,
    point: dict[str, np.ndarray],
    estimates: dict[str, ScoreEstimate],
    confidence: float,
) -> dict[str, np.ndarray]:
    """Return ``{metric: (m, 2) intervals}`` of one grouping, null where the value is."""
    undefined = np.full(len(counts), np.nan)
    ci: dict[str, np.ndarray] = {}
    for metric in ANALYTIC_METRICS:
        interval = analytic_interval(counts, metric, confidence)
        assert interval is not None
        ci[metric] = interval
    for metric in SCORE_METRICS:
        ci[metric] = (
            estimates[metric].interval if metric in estimates else np.full((len(counts), 2), np.nan)
        )
    return {k: _null_where_undefined(v, point.get(k, undefined)) for k, v in ci.items()}


def _method(
    confidence: float,
    n_resamples: int,
    seed: int,
    min_group_size: int,
    with_scores: bool,
    family_size: int,
) -> dict[str, Any]:
    """Return the ``method`` record: how every interval and test was made."""
    return {
        "description": _DESCRIPTION,
        "confidence": confidence,
        "resamples": n_resamples,
        "seed": seed,
        "correction": "holm",
        "min_group_size": min_group_size,
        "intervals": {
            "proportion": "wilson",
            "f1": "wilson-on-tp/(tp+fp+fn)-transformed",
            "balanced_accuracy": "mover-sum-of-wilson",
            "difference": "mover-d (newcombe-hybrid-score for proportions); wald for scores",
            "ratio": "mover-r",
            "headline": "sidak-simultaneous-wilson-bounds",
            "score": "delong-logit (roc_auc), clt (brier_score)" if with_scores else None,
        },
        "tests": {
            "proportion_and_f1": "two-proportion-z (fisher-exact if an expected cell < 5)",
            "balanced_accuracy": "inverted-mover-interval",
            "score": "z (delong / clt variances)",
        },
        "family": {
            "size": family_size,
            "description": (
                "Holm's adjustment runs over the distinct hypotheses tested: one per "
                "grouping, group, reference and metric; an exact complement (FNR, TNR, "
                "FDR, FOR) shares the test of TPR, FPR, precision or NPV and counts "
                "once; base_rate, a property of the data, is tested on its own."
            ),
        },
    }


def compute_uncertainty(
    group_counts: GroupCounts,
    tables: Sequence[Grouping],
    disparity_rows: Sequence[GroupComparison],
    *,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
    min_group_size: int = 30,
    min_denominator: int = 0,
    y_true: np.ndarray | None = None,
    score: np.ndarray | None = None,
    row_codes: np.ndarray | None = None,
    score_is_probability: bool = True,
    score_summary: ScoreSummary | None = None,
) -> Uncertainty:
    """Return intervals for every group metric and disparity, with tests and verdicts.

    Score-metric intervals come from the rows (``y_true``, ``score``, ``row_codes``) or,
    when an engine aggregated them where the data lives, from ``score_summary``.

    Parameters
    ----------
    group_counts, tables, disparity_rows:
        The counting pass, ``build_tables``'s tables and the disparities to test.
    confidence:
        Of every interval; ``1 - confidence`` is the level of the Holm-adjusted tests.
    n_resamples, seed:
        Validated (at least 100 resamples) and recorded; nothing here resamples any more.
    min_group_size, min_denominator:
        Disparities involving a smaller group, or a rate with fewer rows behind it, are
        ``"insufficient data"`` and outside the test family; headline intervals use such a
        rate nowhere (as ``headline_metrics``).
    y_true, score, row_codes:
        For intervals on score metrics: labels, scores and each row's intersectional
        cell (defaults to ``group_counts.row_cell``). Without them score metrics get
        null intervals.
    score_is_probability:
        False when scores are decision values, for which the Brier score is undefined.

    Raises
    ------
    ConfigError
        ``confidence`` or ``n_resamples`` is out of range (``BAD_CONFIDENCE``,
        ``BAD_RESAMPLES``).
    """
    check_options(confidence, n_resamples)
    cell_groups, sizes, point_counts = _groupings(group_counts, tables)
    points = [confusion_metrics(c) for c in point_counts]
    row_codes = group_counts.row_cell if row_codes is None else row_codes
    if score_summary is not None:
        score_estimates: list[dict[str, ScoreEstimate]] | None = [
            score_sums_estimates(score_summary.grouping(name), confidence)
            for name in [*(t.name for t in tables), None]
        ]
    elif y_true is not None and score is not None and row_codes is not None:
        score_estimates = _row_score_estimates(
            cell_groups, sizes, y_true, score, row_codes, confidence, score_is_probability
        )
    else:
        score_estimates = None
    with_scores = score_estimates is not None
    score_estimates = score_estimates or [{} for _ in sizes]
    for point, estimates in zip(points, score_estimates, strict=True):
        point.update({metric: e.value for metric, e in estimates.items()})
    intervals = [
        _group_intervals(counts, point, estimates, confidence)
        for counts, point, estimates in zip(point_counts, points, score_estimates, strict=True)
    ]
    disparities, family_size = disparity_uncertainty(
        tables,
        disparity_rows,
        point_counts,
        points,
        intervals,
        score_estimates,
        confidence=confidence,
        min_group_size=min_group_size,
        min_denominator=min_denominator,
    )
    return Uncertainty(
        _method(confidence, int(n_resamples), seed, min_group_size, with_scores, family_size),
        {k: _interval_tuple(v[0]) for k, v in intervals[-1].items()},
        {t.name: intervals[k] for k, t in enumerate(tables)},
        disparities,
        {
            t.name: headline_intervals(point_counts[k], confidence, min_denominator)
            for k, t in enumerate(tables)
        },
    )


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _json_pair(pair: Sequence[float] | np.ndarray) -> list[float | None] | None:
    low, high = float(pair[0]), float(pair[1])
    if math.isnan(low) and math.isnan(high):
        return None
    return [_json_number(low), _json_number(high)]


def uncertainty_to_json(uncertainty: Uncertainty) -> dict[str, Any]:
    """Return a JSON-ready dict (NaN becomes None, a fully undefined interval None).

    ``group_ci[table][metric]`` is a list with one ``[low, high]`` or None per group.
    """
    return {
        "method": uncertainty.method,
        "overall_ci": {k: _json_pair(v) for k, v in uncertainty.overall_ci.items()},
        "group_ci": {
            name: {metric: [_json_pair(pair) for pair in arr] for metric, arr in cis.items()}
            for name, cis in uncertainty.group_ci.items()
        },
        "disparities": [
            {
                "ci_difference": _json_pair(d.ci_difference),
                "ci_ratio": _json_pair(d.ci_ratio),
                "p_value": _json_number(d.p_value),
                "p_value_adjusted": _json_number(d.p_value_adjusted),
                "significance": d.significance,
                "note": d.note,
            }
            for d in uncertainty.disparities
        ],
        "headline_ci": {
            name: {k: _json_pair(v) for k, v in cis.items()}
            for name, cis in uncertainty.headline_ci.items()
        },
    }


def attach_to_rows(
    computed: dict[str, Any],
    *,
    by_group: list[dict[str, Any]],
    disparities: list[dict[str, Any]],
    headline: list[dict[str, Any]],
) -> None:
    """Add ``uncertainty_to_json`` output to the result's JSON rows, in place.

    ``by_group`` rows carry ``feature`` (the grouping) and follow the tables' group order;
    ``disparities`` are aligned one to one with the rows the intervals were computed for.
    """
    position: dict[str, int] = {}
    for row in by_group:
        index = position.get(row["feature"], 0)
        position[row["feature"]] = index + 1
        cis = computed["group_ci"][row["feature"]]
        row["ci"] = {metric: cis[metric][index] for metric in row["metrics"] if metric in cis}
    for row, extra in zip(disparities, computed["disparities"], strict=True):
        row.update(extra)
    for entry in headline:
        entry["ci"] = computed["headline_ci"].get(entry["feature"], {}).get(entry["metric"])
