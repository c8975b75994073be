"""Comparing two audit results: reading them (a report's embedded JSON or a result file) and
listing every number that moved, matched across the audits; see ``_diff_model`` for when a
change counts as beyond its intervals. Nothing is recomputed: the numbers and intervals are
the ones the reports hold.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fairaudit.display import group_text
from fairaudit.errors import FairauditError
from fairaudit.outputs._diff_model import (
    AuditDiff,
    AuditRef,
    GroupChange,
    Interval,
    Measure,
    MetricChange,
    Section,
)
from fairaudit.paths import read_regular_bytes

__all__ = [
    "MSG_BAD_FIELD",
    "MSG_BAD_JSON",
    "MSG_NOT_FOUND",
    "MSG_SCHEMA_MAJOR",
    "MSG_TASKS",
    "DiffError",
    "diff_results",
    "load_results",
]

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
MSG_TASKS = (
    "Cannot compare a {old} audit with a {new} audit: a diff compares two audits of the same task."
)
MSG_BAD_THRESHOLD = "The threshold must be a finite number >= 0, got {value!r}."


class DiffError(FairauditError):
    """An input cannot be read or compared as a fairaudit result."""


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


@dataclass
class _Numbers:
    """Every comparable number of one audit, by a key that matches across audits."""

    points: dict[_Key, _Point] = field(default_factory=dict)
    changes: dict[_Key, MetricChange] = field(default_factory=dict)  # templates for output
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], GroupChange] = field(default_factory=dict)
    features: list[str] = field(default_factory=list)
    references: dict[str, dict[str, str]] = field(default_factory=dict)
    worst: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # regression

    def add(self, key: _Key, template: MetricChange, value: float | None, ci: Interval | None):
        self.points[key] = (value, ci)
        self.changes[key] = template


def _collect(reader: _Reader) -> _Numbers:
    """Read every comparable number of one result (binary, regression or multiclass).

    A multiclass result's numbers carry their class: headline and disparity rows by their
    ``class`` field, and the one-vs-rest metrics in ``by_class`` (overall and per group)
    beside the accuracy metrics; confusion matrices are counts and are not compared.
    """
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
    _collect_rows(reader, numbers, "headline", (data.get("headline"), "headline"), None)
    metrics = reader.optional_mapping(data.get("metrics"), "metrics")
    multiclass = audit.get("task") == "multiclass"
    uncertainty = reader.optional_mapping(data.get("uncertainty"), "uncertainty")
    overall = reader.optional_mapping(metrics.get("overall"), "metrics.overall")
    overall_ci = reader.optional_mapping(uncertainty.get("overall_ci"), "uncertainty.overall_ci")
    paths = ("metrics.overall", "uncertainty.overall_ci")
    _collect_metrics(
        reader, numbers, ("overall", None, None), paths, (overall, overall_ci), multiclass
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
        values = dict(reader.mapping(row.get("metrics"), f"{where}.metrics"))
        if multiclass:
            values["by_class"] = row.get("by_class")
        cis = reader.optional_mapping(row.get("ci"), f"{where}.ci")
        paths = (f"{where}.metrics", f"{where}.ci")
        _collect_metrics(
            reader, numbers, ("group", feature, group), paths, (values, cis), multiclass
        )
    _collect_rows(reader, numbers, "disparity", (data.get("disparities"), "disparities"), None)
    if multiclass:
        _collect_favorable_view(reader, numbers)
    return numbers


def _collect_favorable_view(reader: _Reader, numbers: _Numbers) -> None:
    """Add a multiclass result's favourable-outcome view: its headline and disparities."""
    summary = reader.optional_mapping(reader.data.get("summary"), "summary")
    path = "summary.favorable_view"
    view = reader.optional_mapping(summary.get("favorable_view"), path)
    classes = view.get("classes")
    if not view or not isinstance(classes, list):
        return
    name = ", ".join(str(c) for c in classes)
    _collect_rows(reader, numbers, "headline", (view.get("headline"), f"{path}.headline"), name)
    found = (view.get("disparities"), f"{path}.disparities")
    _collect_rows(reader, numbers, "disparity", found, name)


def _collect_rows(
    reader: _Reader,
    numbers: _Numbers,
    section: Section,
    found: tuple[object, str],
    view: str | None,
) -> None:
    """Add headline or disparity rows (``found``: the rows and their path in the result);
    ``view`` names the favourable classes when the rows are a favourable view's."""
    rows, path = found
    for where, row in reader.rows(rows, path):
        feature, metric = str(row.get("feature")), str(row.get("metric"))
        klass = view if view is not None else _class(row)
        if section == "headline" and isinstance(row.get("group"), Mapping):
            numbers.worst[(feature, metric)] = reader.group(row.get("group"), f"{where}.group")
        group, reference = None, None
        if section == "disparity":
            group = reader.group(row.get("group"), f"{where}.group")
            reference = reader.group(row.get("reference"), f"{where}.reference")
        measures: tuple[Measure, ...] = ("value",) if group is None else ("difference", "ratio")
        for measure in measures:
            template = MetricChange(
                section, feature, group, metric, measure, None, None, reference=reference,
                klass=klass, favorable=view is not None,
            )  # fmt: skip
            ci = "ci" if measure == "value" else f"ci_{measure}"
            numbers.add(
                (
                    section,
                    feature,
                    _group_key(group or {}),
                    view is not None,
                    klass,
                    metric,
                    measure,
                ),
                template,
                reader.number(row.get(measure), f"{where}.{measure}"),
                reader.interval(row.get(ci), f"{where}.{ci}"),
            )


def _class(row: Mapping[str, Any]) -> str | None:
    """Return a multiclass row's class label as text (None for binary and regression rows)."""
    klass = row.get("class")
    return None if klass is None else str(klass)


def _collect_metrics(
    reader: _Reader,
    numbers: _Numbers,
    where: tuple[Section, str | None, dict[str, str] | None],
    paths: tuple[str, str],
    found: tuple[Mapping[str, Any], Mapping[str, Any]],
    multiclass: bool,
) -> None:
    """Add one row's metrics (overall or a group's); a multiclass row's ``by_class`` too.

    ``paths`` name the values and their intervals in the result (for error messages),
    ``found`` holds them.
    """
    section, feature, group = where
    path, ci_path = paths
    values, cis = found
    key: _Key = ("overall",) if group is None else ("group", feature, _group_key(group))
    class_path = f"{path.removesuffix('.metrics')}.by_class"
    by_class = reader.optional_mapping(values.get("by_class"), class_path)
    class_cis: Mapping[str, Any] = {}
    if multiclass:
        class_cis = reader.optional_mapping(cis.get("by_class"), f"{ci_path}.by_class")
        cis = reader.optional_mapping(cis.get("metrics"), f"{ci_path}.metrics")
    rows: list[tuple[str | None, Mapping[str, Any], Mapping[str, Any]]] = [(None, values, cis)]
    for label, class_values in by_class.items():
        ci = reader.optional_mapping(class_cis.get(label), f"{ci_path}.by_class.{label}")
        rows.append(
            (
                str(label),
                reader.mapping(class_values, f"{class_path}.{label}"),
                ci,
            )
        )
    for klass, row, row_cis in rows:
        for metric, value in row.items():
            if metric in ("count", "by_class", "confusion"):
                continue
            template = MetricChange(
                section, feature, group, metric, "value", None, None, klass=klass
            )
            numbers.add(
                (*key, klass, metric),
                template,
                reader.number(value, f"{path}.{metric}"),
                reader.interval(row_cis.get(metric), f"{ci_path}.{metric}"),
            )


def _task(reader: _Reader) -> str:
    """Return the result's task: ``audit.task``, binary when absent (results before 1.3)."""
    audit = reader.optional_mapping(reader.data.get("audit"), "audit")
    return reader.text(audit.get("task"), "audit.task") or "binary"


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
    tasks = [_task(reader) for reader in (old_reader, new_reader)]
    if tasks[0] != tasks[1]:
        raise DiffError(MSG_TASKS.format(old=tasks[0], new=tasks[1]))
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
                template.klass,
                template.favorable,
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
    for (feature, metric), group in after.worst.items():
        previous = before.worst.get((feature, metric))
        if previous is not None and _group_key(previous) != _group_key(group):
            result.notes.append(
                f"The worst group of {feature} by {metric} changed from "
                f"{group_text(previous)} to {group_text(group)}."
            )
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
            f"{group_text(change['old'])} to {group_text(change['new'])}: its disparities "
            "compare against different groups."
        )
    return notes
