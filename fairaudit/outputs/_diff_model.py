"""What a diff of two audits is: the numbers that moved, and whether beyond their intervals.

``diff_results(old, new)`` (``_diff_compute``) reads two audit results in their JSON form
(``report.json``, or the ``fairaudit-data`` element embedded in a report's HTML) and
compares, wherever both audits have the number: the overall metrics, every group's metrics,
every disparity (difference and ratio against the reference group) and the headline metrics;
for a regression audit with a favourable threshold also its derived outcome's headline,
four-fifths rows (section ``four_fifths``) and disparities, when both audits derived the
same outcome (the same threshold and direction: with another one they are not comparable,
and a note says so).
It also reports the verdict change, groups and features that appeared or disappeared,
reference groups that changed, and whether the data or the model file changed. Nothing is
recomputed: the numbers and intervals are the ones the reports hold.

When is a change more than noise? A number *moved beyond its intervals* when its confidence
interval in the old audit and its interval in the new audit do not overlap (intervals that
touch at an end overlap). We chose this rule because:

- it is symmetric: neither audit is treated as the truth the other is measured against, and
  the uncertainty of both counts (the rule "the new estimate lies outside the old interval"
  ignores the new audit's uncertainty and flags more than its nominal share of pure noise);
- it is conservative: two independent 95 % intervals that do not overlap imply a difference
  significant at well below 5 % (about 0.6 % for equal standard errors), so a flagged change
  is rarely noise, which is what a reviewer scanning hundreds of numbers needs;
- it needs nothing the reports do not hold (no standard errors, no raw data).

The price is power: overlapping intervals do not prove that nothing changed, and a real change
smaller than the intervals' width is reported as *within intervals*. When the two audits used
the same evaluation data their intervals are not independent; the rule stays conservative.
Numbers without an interval on either side (``--no-intervals`` audits, undefined values) are
reported as *no intervals*, with their change but no judgement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from fairaudit.display import group_text

__all__ = [
    "STATUSES",
    "AuditDiff",
    "AuditRef",
    "GroupChange",
    "Interval",
    "Measure",
    "MetricChange",
    "Section",
    "Status",
    "intervals_disjoint",
]

Section = Literal["overall", "group", "disparity", "headline", "four_fifths"]
Measure = Literal["value", "difference", "ratio"]
Status = Literal[
    "beyond intervals", "within intervals", "no intervals", "became undefined", "became defined"
]
#: Every status a change can have, most important first.
STATUSES: tuple[Status, ...] = (
    "beyond intervals",
    "became undefined",
    "became defined",
    "within intervals",
    "no intervals",
)

Interval = tuple[float, float]


def intervals_disjoint(old: Interval | None, new: Interval | None) -> bool | None:
    """Return whether two intervals do not overlap (None when either is missing).

    Intervals that share an end point overlap.
    """
    if old is None or new is None:
        return None
    return old[1] < new[0] or new[1] < old[0]


@dataclass(frozen=True)
class MetricChange:
    """One number that differs between the audits, with its intervals and their judgement."""

    section: Section
    feature: str | None
    group: dict[str, str] | None
    metric: str
    measure: Measure
    old: float | None
    new: float | None
    old_ci: Interval | None = None
    new_ci: Interval | None = None
    reference: dict[str, str] | None = None
    klass: str | None = None  # a multiclass result's class (one-vs-rest); None otherwise
    favorable: bool = False  # klass names the favourable classes of the favourable view
    outcome: str | None = None  # a regression audit's derived outcome, e.g. prediction > 150

    @property
    def delta(self) -> float | None:
        """Return new - old, or None when either is undefined."""
        if self.old is None or self.new is None:
            return None
        return self.new - self.old

    @property
    def status(self) -> Status:
        """Return how the change is judged (see the module docstring)."""
        if self.old is not None and self.new is None:
            return "became undefined"
        if self.old is None and self.new is not None:
            return "became defined"
        disjoint = intervals_disjoint(self.old_ci, self.new_ci)
        if disjoint is None:
            return "no intervals"
        return "beyond intervals" if disjoint else "within intervals"

    @property
    def label(self) -> str:
        """Return where the number is, e.g. ``sex=female vs sex=male``, or ``overall``."""
        if self.group is None:
            return self.feature or "overall"
        where = group_text(self.group)
        if self.reference is not None:
            where += " vs " + group_text(self.reference)
        return where

    @property
    def quantity(self) -> str:
        """Return the metric name with its measure, e.g. ``selection_rate ratio``, and a
        multiclass number's class, e.g. ``class own: selection_rate ratio`` (``favourable
        classes own, rent: ...`` for the favourable-outcome view's numbers; ``derived
        outcome (prediction > 150): ...`` for a regression audit's, with ``four-fifths ratio``
        for its four-fifths rows)."""
        kind = "favourable classes" if self.favorable else "class"
        name = self.metric if self.klass is None else f"{kind} {self.klass}: {self.metric}"
        if self.outcome is not None:
            name = f"derived outcome ({self.outcome}): {self.metric}"
            if self.section == "four_fifths":
                return f"{name} four-fifths ratio"
        return name if self.measure == "value" else f"{name} {self.measure}"

    def to_dict(self) -> dict[str, Any]:
        """Return the change as a JSON-ready dict (``class`` only for a multiclass number, and
        ``favorable_view`` true for the favourable-outcome view's, where ``class`` lists the
        favourable classes; ``derived_outcome`` only for a regression audit's derived outcome,
        e.g. ``prediction > 150``)."""
        out: dict[str, Any] = {
            "section": self.section,
            "feature": self.feature,
            "group": self.group,
            "reference": self.reference,
            "metric": self.metric,
            "measure": self.measure,
            "old": self.old,
            "new": self.new,
            "delta": self.delta,
            "old_ci": list(self.old_ci) if self.old_ci else None,
            "new_ci": list(self.new_ci) if self.new_ci else None,
            "status": self.status,
            "beyond_intervals": self.status == "beyond intervals",
        }
        if self.klass is not None:
            out["class"] = self.klass
            out["favorable_view"] = self.favorable
        if self.outcome is not None:
            out["derived_outcome"] = self.outcome
        return out


@dataclass(frozen=True)
class GroupChange:
    """A group present in only one of the audits."""

    feature: str
    group: dict[str, str]
    count: int | None

    def to_dict(self) -> dict[str, Any]:
        """Return the group as a JSON-ready dict."""
        return {"feature": self.feature, "group": self.group, "count": self.count}


@dataclass(frozen=True)
class AuditRef:
    """Which audit one side of a diff is."""

    audit_id: str | None
    name: str | None
    model_version: str | None
    created_at: str | None
    data_sha256: str | None
    model_sha256: str | None
    verdict: str | None
    confidence: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return the reference as a JSON-ready dict."""
        return dict(self.__dict__)

    def describe(self) -> str:
        """Return e.g. ``german-credit 1.0.0, audit 1a2b3c4d5e6f at 2024-05-01T10:00:00Z``."""
        name = " ".join(str(p) for p in (self.name, self.model_version) if p) or "(unnamed)"
        return f"{name}, audit {str(self.audit_id)[:12]} at {self.created_at}"


@dataclass
class AuditDiff:
    """What changed from one audit to another (``to_dict()`` is the ``--json`` output)."""

    old: AuditRef
    new: AuditRef
    threshold: float
    changes: list[MetricChange] = field(default_factory=list)
    groups_added: list[GroupChange] = field(default_factory=list)
    groups_removed: list[GroupChange] = field(default_factory=list)
    features_added: list[str] = field(default_factory=list)
    features_removed: list[str] = field(default_factory=list)
    reference_changes: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The regression audits' derived outcomes (old, new), e.g. ``prediction > 150``; None
    #: for an audit without a favourable threshold (and for binary and multiclass audits).
    outcomes: tuple[str | None, str | None] = (None, None)

    @property
    def verdict_changed(self) -> bool:
        """Return whether the policy verdict differs (null counts as a value)."""
        return self.old.verdict != self.new.verdict

    def by_status(self, status: Status) -> list[MetricChange]:
        """Return the changes with this status, in report order."""
        return [c for c in self.changes if c.status == status]

    def to_dict(self) -> dict[str, Any]:
        """Return the diff as a JSON-ready dict (``derived_outcome`` only when an audit has
        a favourable threshold: old, new, and whether their rows were compared)."""
        out: dict[str, Any] = {
            "old": self.old.to_dict(),
            "new": self.new.to_dict(),
            "rule": "beyond intervals: the old and the new confidence intervals do not overlap",
            "threshold": self.threshold,
            "verdict": {
                "old": self.old.verdict,
                "new": self.new.verdict,
                "changed": self.verdict_changed,
            },
            "data_changed": self.old.data_sha256 != self.new.data_sha256,
            "model_changed": self.old.model_sha256 != self.new.model_sha256,
            "features_added": self.features_added,
            "features_removed": self.features_removed,
            "groups_added": [g.to_dict() for g in self.groups_added],
            "groups_removed": [g.to_dict() for g in self.groups_removed],
            "reference_changes": self.reference_changes,
            "summary": {status: len(self.by_status(status)) for status in STATUSES},
            "changes": [c.to_dict() for c in self.changes],
            "notes": self.notes,
        }
        old, new = self.outcomes
        if old is not None or new is not None:
            out["derived_outcome"] = {"old": old, "new": new, "compared": old == new}
        return out
