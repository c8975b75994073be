"""The favourable-outcome view of a regression audit (``--favorable-above T``/``-below T``).

A prediction strictly above ``T`` (or strictly below it, e.g. a risk score) is the
favourable outcome; a prediction equal to ``T`` is not. The audit counts, per cell, the
binary confusion of (target favourable, prediction favourable)
(``RegressionCells.favorable``), and this module reads those counts with the binary
measurement core: each group's share of favourable predictions is its ``selection_rate``,
its true and false positive rates are those of the derived outcome, and the disparities,
fairlearn's headline metrics (demographic parity and equalized odds, difference and
ratio), the worse-off groups with the four-fifths ratio and the intervals and tests are
the binary audit's, computed the same way. The result is ``summary.favorable_outcome``:
labelled as a derived outcome everywhere it is shown, with its own Holm family.

A rate with no rows behind it (a group with no favourable target has no true positive
rate) is undefined: null in the JSON, never 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fairaudit.counts import GroupCounts
from fairaudit.data import Check
from fairaudit.measure._core import BinaryCounts, Measurement
from fairaudit.measure._regression_sums import RegressionCells, Threshold
from fairaudit.vocabulary import CONFUSION_METRICS

if TYPE_CHECKING:
    from fairaudit.spec import AuditSpec

__all__ = [
    "FAVORABLE_OUTCOME_METRICS",
    "MSG_FAVORABLE_COUNTS",
    "MSG_ONE_OUTCOME",
    "FavorableOutcome",
    "favorable_measurement",
    "favorable_outcome",
    "number_text",
    "outcome_text",
]

#: The derived outcome's rates compared between groups (its disparities): the rates behind
#: demographic parity (selection_rate) and equalized odds (true and false positive rates).
FAVORABLE_OUTCOME_METRICS: tuple[str, ...] = (
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
)

MSG_FAVORABLE_COUNTS = (
    "favourable outcome (derived): {outcome}; {predicted} of {n} predictions and {actual} "
    "of {n} targets are favourable"
)
MSG_ONE_OUTCOME = (
    "favourable outcome (derived): {what} {side} {value}, so the derived outcome has one "
    "class; the rates conditioned on the other class are undefined (null)"
)


def number_text(value: float) -> str:
    """Return ``value`` short (``150``, ``0.25``) unless that would round it (``repr``)."""
    text = f"{value:g}"
    return text if float(text) == value else repr(value)


def outcome_text(threshold: Threshold, subject: str = "prediction") -> str:
    """Return how the report names the derived outcome, e.g. ``prediction > 150``."""
    sign = ">" if threshold.direction == "above" else "<"
    return f"{subject} {sign} {number_text(threshold.value)}"


@dataclass(frozen=True)
class FavorableOutcome:
    """The favourable-outcome view: ``summary.favorable_outcome`` and its data checks."""

    section: dict[str, Any]
    checks: list[Check]


def favorable_measurement(
    counts: GroupCounts,
    *,
    reference: Mapping[str, str] | None = None,
    min_group_size: int = 30,
    min_denominator: int = 10,
) -> Measurement:
    """Return the binary Measurement of the derived outcome's confusion counts (a positive
    prediction is the favourable one), disparities on FAVORABLE_OUTCOME_METRICS."""
    return Measurement(
        BinaryCounts(counts),
        reference=reference,
        min_group_size=min_group_size,
        min_denominator=min_denominator,
        metrics=FAVORABLE_OUTCOME_METRICS,
    )


def _checks(threshold: Threshold, counts: GroupCounts, view: Measurement) -> list[Check]:
    """Return the view's checks: how many rows are favourable, an outcome with one class,
    and the groups whose target is all on one side (the binary ``single_class`` check)."""
    tn, fp, fn, tp = (int(v) for v in counts.overall)
    n, predicted, actual = tn + fp + fn + tp, fp + tp, fn + tp
    share = "{} ({:.1%})"
    checks = [
        Check(
            "favorable_outcome",
            "info",
            MSG_FAVORABLE_COUNTS.format(
                outcome=outcome_text(threshold) + " (strictly; the target likewise)",
                predicted=share.format(predicted, predicted / n),
                actual=share.format(actual, actual / n),
                n=n,
            ),
        )
    ]
    for noun, favourable in (("prediction", predicted), ("target", actual)):
        if favourable in (0, n):
            every = "every" if favourable == n else "no"
            checks.append(
                Check(
                    "favorable_outcome_one_class",
                    "warning",
                    MSG_ONE_OUTCOME.format(
                        what=f"{every} {noun} is",
                        side=threshold.direction,
                        value=number_text(threshold.value),
                    ),
                )
            )
    for check in view.checks():
        if check.id == "single_class":
            message = "favourable outcome (derived): " + check.message.replace(
                "only one true class", "targets on one side of the threshold only"
            )
            checks.append(Check("favorable_outcome_single_class", check.status, message))
    return checks


def favorable_outcome(cells: RegressionCells, spec: AuditSpec) -> FavorableOutcome | None:
    """Return the favourable-outcome view of ``cells`` (counted with the spec's threshold):
    the spec's reference, minimums and, with ``intervals``, its intervals and tests; None
    without a threshold."""
    threshold = spec.favorable_threshold
    if threshold is None or cells.favorable is None:
        return None
    view = favorable_measurement(
        cells.favorable,
        reference=spec.reference,
        min_group_size=spec.min_group_size,
        min_denominator=spec.min_denominator,
    )
    checks = _checks(threshold, cells.favorable, view)
    if spec.intervals:
        view.add_uncertainty(confidence=spec.confidence, n_resamples=spec.resamples, seed=spec.seed)
    section = {
        "threshold": threshold.value,
        "direction": threshold.direction,
        "outcome": outcome_text(threshold),
        "label": outcome_text(threshold, "target"),
        "min_denominator": spec.min_denominator,
        "metrics": {
            "names": list(CONFUSION_METRICS),
            "overall": view.overall_json(),
            "by_group": view.by_group,
        },
        "disparities": view.disparities,
        "headline": view.headline,
        "worse_off": view.worse_off(),
        "uncertainty": view.uncertainty_section(),
    }
    return FavorableOutcome(section, checks)
