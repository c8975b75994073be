"""Comparing two audits: which numbers moved, by how much, and whether beyond their intervals.

``diff_results(old, new)`` reads two audit results in their JSON form (``report.json``, or the
``fairaudit-data`` element embedded in a report's HTML) and compares, wherever both audits
have the number: the overall metrics, every group's metrics, every disparity (difference and
ratio against the reference group) and the headline metrics. It also reports the verdict
change, groups and features that appeared or disappeared, reference groups that changed, and
whether the data or the model file changed. Nothing is recomputed: the numbers and intervals
are the ones the reports hold.

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

import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fairaudit.errors import FairauditError
from fairaudit.paths import read_regular_bytes

__all__ = [
    "AuditDiff",
    "AuditRef",
    "DiffContext",
    "DiffError",
    "GroupChange",
    "HEADINGS",
    "MetricChange",
    "STATUSES",
    "build_diff_context",
    "diff_results",
    "format_text",
    "intervals_disjoint",
    "load_results",
    "render_diff_html",
    "write_diff_html",
]

Section = Literal["overall", "group", "disparity", "headline"]
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
#: How each status is headed in the text and HTML output.
HEADINGS: dict[Status, str] = {
    "beyond intervals": "Moved beyond their intervals",
    "became undefined": "Became undefined",
    "became defined": "Became defined",
    "within intervals": "Changed within their intervals",
    "no intervals": "Changed, without intervals to judge",
}
_SECTIONS: tuple[Section, ...] = ("headline", "overall", "group", "disparity")

MSG_NOT_FOUND = "Cannot read {path}: no such file."
MSG_UNREADABLE = "Cannot read {path}: {detail}."
MSG_BAD_JSON = "{path} is not valid JSON: {detail}."
MSG_NOT_RESULTS = "{path} is not a fairaudit report or result: {detail}"
MSG_BAD_FIELD = "The {side} result's {where} {problem}."
MSG_SCHEMA_MAJOR = (
    "Cannot compare results of schema {old} and {new}: their major versions differ; "
    "re-run the older audit with this fairaudit."
)
MSG_BAD_THRESHOLD = "The threshold must be a finite number >= 0, got {value!r}."


class DiffError(FairauditError):
    """An input cannot be read or compared as a fairaudit result."""


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
        where = _group_label(self.group)
        if self.reference is not None:
            where += " vs " + _group_label(self.reference)
        return where

    @property
    def quantity(self) -> str:
        """Return the metric name with its measure, e.g. ``selection_rate ratio``."""
        return self.metric if self.measure == "value" else f"{self.metric} {self.measure}"

    def to_dict(self) -> dict[str, Any]:
        """Return the change as a JSON-ready dict."""
        return {
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

    @property
    def verdict_changed(self) -> bool:
        """Return whether the policy verdict differs (null counts as a value)."""
        return self.old.verdict != self.new.verdict

    def by_status(self, status: Status) -> list[MetricChange]:
        """Return the changes with this status, in report order."""
        return [c for c in self.changes if c.status == status]

    def to_dict(self) -> dict[str, Any]:
        """Return the diff as a JSON-ready dict."""
        return {
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


# ---------------------------------------------------------------------------------------------
# Reading results


def load_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the audit results in a report (.html: the embedded JSON) or a result .json file.

    The format is told by the content, not the name: a file whose first non-blank byte is
    ``{`` is JSON, anything else is read as a report's HTML.
    """
    file = Path(path)
    try:
        raw = read_regular_bytes(file)
    except FileNotFoundError:
        raise DiffError(MSG_NOT_FOUND.format(path=file)) from None
    except OSError as e:
        raise DiffError(MSG_UNREADABLE.format(path=file, detail=e.strerror or e)) from None
    if raw.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        try:
            results = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as e:
            raise DiffError(MSG_BAD_JSON.format(path=file, detail=e)) from None
    else:
        from fairaudit.provenance import extract_results

        try:
            results = extract_results(raw)
        except FairauditError as e:
            raise DiffError(MSG_NOT_RESULTS.format(path=file, detail=e)) from None
    if not isinstance(results, dict) or "schema_version" not in results:
        raise DiffError(MSG_NOT_RESULTS.format(path=file, detail="it has no schema_version."))
    return results


class _Reader:
    """Typed access to one untrusted result dict; every problem names the side and the field."""

    def __init__(self, data: object, side: str) -> None:
        self.side = side
        self.data = self.mapping(data, "top level")

    def fail(self, where: str, problem: str) -> DiffError:
        return DiffError(MSG_BAD_FIELD.format(side=self.side, where=where, problem=problem))

    def mapping(self, value: object, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, "is not an object")
        return value

    def optional_mapping(self, value: object, where: str) -> Mapping[str, Any]:
        return {} if value is None else self.mapping(value, where)

    def rows(self, value: object, where: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        if value is None:
            return
        if not isinstance(value, list):
            raise self.fail(where, "is not a list")
        for index, row in enumerate(value):
            yield f"{where}[{index}]", self.mapping(row, f"{where}[{index}]")

    def number(self, value: object, where: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(where, "is not a number or null")
        return float(value) if math.isfinite(value) else None

    def interval(self, value: object, where: str) -> Interval | None:
        if value is None:
            return None
        if not isinstance(value, list) or len(value) != 2:
            raise self.fail(where, "is not an interval [low, high]")
        low, high = self.number(value[0], where), self.number(value[1], where)
        return None if low is None or high is None else (low, high)

    def text(self, value: object, where: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(where, "is not a string")
        return value

    def group(self, value: object, where: str) -> dict[str, str]:
        group = self.mapping(value, where)
        return {str(k): str(v) for k, v in group.items()}

    def ref(self) -> AuditRef:
        audit = self.optional_mapping(self.data.get("audit"), "audit")
        lineage = self.optional_mapping(self.data.get("lineage"), "lineage")
        data = self.optional_mapping(lineage.get("data"), "lineage.data")
        model = self.optional_mapping(lineage.get("model"), "lineage.model")
        uncertainty = self.optional_mapping(self.data.get("uncertainty"), "uncertainty")
        return AuditRef(
            audit_id=self.text(audit.get("id"), "audit.id"),
            name=self.text(audit.get("name"), "audit.name"),
            model_version=self.text(audit.get("model_version"), "audit.model_version"),
            created_at=self.text(audit.get("created_at"), "audit.created_at"),
            data_sha256=self.text(data.get("sha256"), "lineage.data.sha256"),
            model_sha256=self.text(model.get("sha256"), "lineage.model.sha256"),
            verdict=self.text(self.data.get("verdict"), "verdict"),
            confidence=self.number(uncertainty.get("confidence"), "uncertainty.confidence"),
        )


_Key = tuple[Any, ...]
_Point = tuple[float | None, Interval | None]


def _group_key(group: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(group.items()))


def _group_label(group: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in group.items())


@dataclass
class _Numbers:
    """Every comparable number of one audit, by a key that matches across audits."""

    points: dict[_Key, _Point] = field(default_factory=dict)
    changes: dict[_Key, MetricChange] = field(default_factory=dict)  # templates for output
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], GroupChange] = field(default_factory=dict)
    features: list[str] = field(default_factory=list)
    references: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, key: _Key, template: MetricChange, value: float | None, ci: Interval | None):
        self.points[key] = (value, ci)
        self.changes[key] = template


def _collect(reader: _Reader) -> _Numbers:
    data = reader.data
    numbers = _Numbers()
    audit = reader.optional_mapping(data.get("audit"), "audit")
    features = audit.get("sensitive_features") or []
    if not isinstance(features, list):
        raise reader.fail("audit.sensitive_features", "is not a list")
    numbers.features = [str(f) for f in features]
    references = reader.optional_mapping(audit.get("reference"), "audit.reference")
    numbers.references = {
        str(k): reader.group(v, f"audit.reference.{k}") for k, v in references.items()
    }

    for where, row in reader.rows(data.get("headline"), "headline"):
        feature = str(row.get("feature"))
        metric = str(row.get("metric"))
        template = MetricChange("headline", feature, None, metric, "value", None, None)
        value = reader.number(row.get("value"), f"{where}.value")
        numbers.add(
            ("headline", feature, metric), template, value, reader.interval(row.get("ci"), where)
        )

    metrics = reader.optional_mapping(data.get("metrics"), "metrics")
    overall = reader.optional_mapping(metrics.get("overall"), "metrics.overall")
    uncertainty = reader.optional_mapping(data.get("uncertainty"), "uncertainty")
    overall_ci = reader.optional_mapping(uncertainty.get("overall_ci"), "uncertainty.overall_ci")
    for metric, value in overall.items():
        if metric == "count":
            continue
        template = MetricChange("overall", None, None, metric, "value", None, None)
        numbers.add(
            ("overall", metric),
            template,
            reader.number(value, f"metrics.overall.{metric}"),
            reader.interval(overall_ci.get(metric), f"uncertainty.overall_ci.{metric}"),
        )

    for where, row in reader.rows(metrics.get("by_group"), "metrics.by_group"):
        feature = str(row.get("feature"))
        group = reader.group(row.get("group"), f"{where}.group")
        count = row.get("count")
        numbers.groups[(feature, _group_key(group))] = GroupChange(
            feature,
            group,
            count if isinstance(count, int) and not isinstance(count, bool) else None,
        )
        values = reader.mapping(row.get("metrics"), f"{where}.metrics")
        cis = reader.optional_mapping(row.get("ci"), f"{where}.ci")
        for metric, value in values.items():
            template = MetricChange("group", feature, group, metric, "value", None, None)
            numbers.add(
                ("group", feature, _group_key(group), metric),
                template,
                reader.number(value, f"{where}.metrics.{metric}"),
                reader.interval(cis.get(metric), f"{where}.ci.{metric}"),
            )

    for where, row in reader.rows(data.get("disparities"), "disparities"):
        feature = str(row.get("feature"))
        metric = str(row.get("metric"))
        group = reader.group(row.get("group"), f"{where}.group")
        reference = reader.group(row.get("reference"), f"{where}.reference")
        for measure in ("difference", "ratio"):
            template = MetricChange(
                "disparity", feature, group, metric, measure, None, None, reference=reference
            )
            numbers.add(
                ("disparity", feature, _group_key(group), metric, measure),
                template,
                reader.number(row.get(measure), f"{where}.{measure}"),
                reader.interval(row.get(f"ci_{measure}"), f"{where}.ci_{measure}"),
            )
    return numbers


def _major(version: object) -> str:
    return str(version).split(".")[0]


def _moved(old: float | None, new: float | None, threshold: float) -> bool:
    if old is None or new is None:
        return (old is None) != (new is None)
    return abs(new - old) > threshold


def diff_results(
    old: Mapping[str, Any], new: Mapping[str, Any], *, threshold: float = 0.0
) -> AuditDiff:
    """Return what changed from the ``old`` audit result to the ``new`` one.

    A number is listed when it differs by more than ``threshold`` (any difference at 0) or
    became defined or undefined; each is judged *beyond intervals* when its old and new
    confidence intervals do not overlap (see the module docstring for why). Numbers are
    matched by section, feature, group (whatever the order of its features), metric and
    measure; a number present in only one audit is not a change (its group or feature is
    reported as added or removed instead).
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise DiffError(MSG_BAD_THRESHOLD.format(value=threshold))
    if not math.isfinite(threshold) or threshold < 0:
        raise DiffError(MSG_BAD_THRESHOLD.format(value=threshold))
    old_reader, new_reader = _Reader(old, "old"), _Reader(new, "new")
    if _major(old_reader.data.get("schema_version")) != _major(
        new_reader.data.get("schema_version")
    ):
        raise DiffError(
            MSG_SCHEMA_MAJOR.format(
                old=old_reader.data.get("schema_version"),
                new=new_reader.data.get("schema_version"),
            )
        )
    before, after = _collect(old_reader), _collect(new_reader)
    result = AuditDiff(old=old_reader.ref(), new=new_reader.ref(), threshold=float(threshold))

    changes = []
    for key, (new_value, new_ci) in after.points.items():
        if key not in before.points:
            continue
        old_value, old_ci = before.points[key]
        if not _moved(old_value, new_value, threshold):
            continue
        template = after.changes[key]
        changes.append(
            MetricChange(
                template.section,
                template.feature,
                template.group,
                template.metric,
                template.measure,
                old_value,
                new_value,
                old_ci,
                new_ci,
                template.reference,
            )
        )
    # Headline first, then overall, groups, disparities; within each, the new report's order.
    result.changes = sorted(changes, key=lambda c: _SECTIONS.index(c.section))

    result.groups_added = [g for k, g in after.groups.items() if k not in before.groups]
    result.groups_removed = [g for k, g in before.groups.items() if k not in after.groups]
    result.features_added = [f for f in after.features if f not in before.features]
    result.features_removed = [f for f in before.features if f not in after.features]
    for feature, reference in after.references.items():
        previous = before.references.get(feature)
        if previous is not None and _group_key(previous) != _group_key(reference):
            result.reference_changes.append({"feature": feature, "old": previous, "new": reference})
    result.notes = _notes(result)
    return result


def _notes(diff: AuditDiff) -> list[str]:
    old, new = diff.old, diff.new
    notes = []
    if old.name != new.name:
        notes.append(f"The audits are of different models: {old.name!r} and {new.name!r}.")
    if old.data_sha256 != new.data_sha256:
        notes.append("The evaluation data changed: changes may come from the data, not the model.")
    elif old.model_sha256 == new.model_sha256 and old.model_sha256 is not None and diff.changes:
        notes.append(
            "Same data and model file in both audits: the changes come from the audit's "
            "options, seed or fairaudit version."
        )
    if old.confidence != new.confidence:
        notes.append(
            f"The confidence levels differ ({old.confidence} and {new.confidence}); "
            "intervals are compared as they are."
        )
    for change in diff.reference_changes:
        notes.append(
            f"The reference group of {change['feature']} changed from "
            f"{_group_label(change['old'])} to {_group_label(change['new'])}: its disparities "
            "compare against different groups."
        )
    return notes


# ---------------------------------------------------------------------------------------------
# Output: text and HTML


def _number(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4f}"


def _interval(ci: Interval | None) -> str:
    return "" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _delta(change: MetricChange) -> str:
    delta = change.delta
    return "" if delta is None else f"{delta:+.4f}"


def _change_line(change: MetricChange) -> str:
    where = f"{change.section}: {change.label}"
    numbers = f"{_number(change.old)} -> {_number(change.new)}"
    delta = _delta(change)
    intervals = ""
    if change.old_ci or change.new_ci:
        intervals = (
            f"  {_interval(change.old_ci) or 'none'} -> {_interval(change.new_ci) or 'none'}"
        )
    return f"  {where}  {change.quantity}  {numbers}" + (f" ({delta})" if delta else "") + intervals


def format_text(diff: AuditDiff, *, show_all: bool = False) -> str:
    """Return the diff as text for a terminal (within-interval changes counted unless shown).

    Control and bidi characters in the files' values are shown as escapes (``_display``).
    """
    from fairaudit.display import terminal_text

    lines = [f"Old: {diff.old.describe()}", f"New: {diff.new.describe()}"]
    if diff.verdict_changed:
        lines.append(
            f"Verdict changed: {diff.old.verdict or 'none'} -> {diff.new.verdict or 'none'}"
        )
    elif diff.old.verdict is None:
        lines.append("Verdict: none (no policy in either audit)")
    else:
        lines.append(f"Verdict unchanged: {diff.new.verdict}")
    lines.append(
        "Data: "
        + ("changed" if diff.old.data_sha256 != diff.new.data_sha256 else "unchanged")
        + "; model file: "
        + ("changed" if diff.old.model_sha256 != diff.new.model_sha256 else "unchanged")
    )
    for title, features in (
        ("Features added", diff.features_added),
        ("Features removed", diff.features_removed),
    ):
        if features:
            lines.append(f"{title}: {', '.join(features)}")
    for title, groups in (
        ("Groups appeared", diff.groups_added),
        ("Groups disappeared", diff.groups_removed),
    ):
        for group in groups:
            lines.append(f"{title}: {_group_label(group.group)} ({group.feature}, n={group.count})")
    lines.extend(f"Note: {note}" for note in diff.notes)
    for status in STATUSES:
        changed = diff.by_status(status)
        listed = show_all or status not in ("within intervals", "no intervals")
        if changed or status == "beyond intervals":
            hint = "" if listed or not changed else " (--all lists them)"
            lines.append(f"{HEADINGS[status]}: {len(changed)}{hint}")
        if listed:
            lines.extend(_change_line(c) for c in changed)
    return "\n".join(terminal_text(line) for line in lines)


@dataclass
class DiffContext:
    """Everything ``templates/diff.html`` reads. Every string is shown with its control and
    bidi characters made visible, then escaped by Jinja2 (see ``report._environment``).

    ``sections`` pairs a heading with its change rows; each row is a dict of display strings
    (``section``, ``where``, ``quantity``, ``old``, ``new``, ``delta``, ``old_ci``,
    ``new_ci``, ``status``).
    """

    title: str
    diff: dict[str, Any]
    old: AuditRef
    new: AuditRef
    verdict_changed: bool
    notes: list[str]
    groups_added: list[dict[str, Any]]
    groups_removed: list[dict[str, Any]]
    sections: list[tuple[str, list[dict[str, str]]]]
    data_json: Any
    tool_version: str


def _row(change: MetricChange) -> dict[str, str]:
    return {
        "section": change.section,
        "where": change.label,
        "quantity": change.quantity,
        "old": _number(change.old),
        "new": _number(change.new),
        "delta": _delta(change),
        "old_ci": _interval(change.old_ci),
        "new_ci": _interval(change.new_ci),
        "status": change.status,
    }


def build_diff_context(diff: AuditDiff) -> DiffContext:
    """Return the template context for a diff page."""
    from fairaudit._version import __version__
    from fairaudit.outputs._report import embedded_json

    def groups(items: Sequence[GroupChange]) -> list[dict[str, Any]]:
        return [
            {"feature": g.feature, "group": _group_label(g.group), "count": g.count} for g in items
        ]

    name = diff.new.name or diff.old.name or "audit"
    return DiffContext(
        title=f"Fairness audit diff: {name}",
        diff=diff.to_dict(),
        old=diff.old,
        new=diff.new,
        verdict_changed=diff.verdict_changed,
        notes=diff.notes,
        groups_added=groups(diff.groups_added),
        groups_removed=groups(diff.groups_removed),
        sections=[(HEADINGS[s], [_row(c) for c in diff.by_status(s)]) for s in STATUSES],
        data_json=embedded_json(diff.to_dict()),
        tool_version=__version__,
    )


def render_diff_html(diff: AuditDiff) -> str:
    """Return the diff as one self-contained HTML page (no external resources)."""
    from fairaudit.outputs._report import _environment

    template = _environment().get_template("diff.html")
    return template.render(page=build_diff_context(diff))


def write_diff_html(diff: AuditDiff, path: str | os.PathLike[str]) -> Path:
    """Write the diff page atomically; return its path."""
    from fairaudit.paths import atomic_write_bytes

    target = Path(path)
    atomic_write_bytes(target, render_diff_html(diff).encode("utf-8"))
    return target
