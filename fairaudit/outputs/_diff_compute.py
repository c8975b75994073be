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
from pathlib import Path
from typing import Any

from fairaudit.display import group_text
from fairaudit.errors import FairauditError
from fairaudit.outputs._diff_model import AuditDiff, GroupChange, MetricChange, Section
from fairaudit.outputs._diff_read import (
    MSG_BAD_FIELD,
    DiffError,
    Key,
    Numbers,
    ResultReader,
    collect_four_fifths,
    collect_rows,
    group_key,
)
from fairaudit.paths import read_regular_bytes

__all__ = [
    "MSG_BAD_FIELD",
    "MSG_BAD_JSON",
    "MSG_NOT_FOUND",
    "MSG_OUTCOME_CHANGED",
    "MSG_OUTCOME_ONE_SIDE",
    "MSG_SCHEMA_MAJOR",
    "MSG_TASKS",
    "MSG_WORSE_OFF",
    "DiffError",
    "diff_results",
    "load_results",
]

_SECTIONS: tuple[Section, ...] = ("headline", "four_fifths", "overall", "group", "disparity")

MSG_NOT_FOUND = "Cannot read {path}: no such file."
MSG_UNREADABLE = "Cannot read {path}: {detail}."
MSG_BAD_JSON = "{path} is not valid JSON: {detail}."
MSG_NOT_RESULTS = "{path} is not a fairaudit report or result: {detail}"
MSG_SCHEMA_MAJOR = (
    "Cannot compare results of schema {old} and {new}: their major versions differ; "
    "re-run the older audit with this fairaudit."
)
MSG_TASKS = (
    "Cannot compare a {old} audit with a {new} audit: a diff compares two audits of the same task."
)
MSG_OUTCOME_ONE_SIDE = (
    "Only the {side} audit has a favourable threshold (derived outcome: {outcome}): "
    "its derived outcome's rows have nothing to compare with."
)
MSG_OUTCOME_CHANGED = (
    "The favourable threshold changed (derived outcome: {old} -> {new}): the two derived "
    "outcomes are not comparable, so their headline, four-fifths and disparity rows are not "
    "compared."
)
MSG_WORST = "The worst group of {feature} by {metric} changed from {old} to {new}."
MSG_WORSE_OFF = (
    "The worse-off group of {feature} by {metric} (derived outcome: {outcome}) changed from "
    "{old} to {new}."
)
MSG_BAD_THRESHOLD = "The threshold must be a finite number >= 0, got {value!r}."


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


def _collect(reader: ResultReader) -> Numbers:
    """Read every comparable number of one result (binary, regression or multiclass).

    A multiclass result's numbers carry their class: headline and disparity rows by their
    ``class`` field, and the one-vs-rest metrics in ``by_class`` (overall and per group)
    beside the accuracy metrics; confusion matrices are counts and are not compared.
    """
    data = reader.data
    numbers = Numbers()
    audit = reader.optional_mapping(data.get("audit"), "audit")
    features = audit.get("sensitive_features") or []
    if not isinstance(features, list):
        raise reader.fail("audit.sensitive_features", "is not a list")
    numbers.features = [str(f) for f in features]
    references = reader.optional_mapping(audit.get("reference"), "audit.reference")
    numbers.references = {
        str(k): reader.group(v, f"audit.reference.{k}") for k, v in references.items()
    }
    collect_rows(reader, numbers, "headline", (data.get("headline"), "headline"), None)
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
        numbers.groups[(feature, group_key(group))] = GroupChange(
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
    collect_rows(reader, numbers, "disparity", (data.get("disparities"), "disparities"), None)
    if multiclass:
        _collect_favorable_view(reader, numbers)
    elif audit.get("task") == "regression":
        _collect_favorable_outcome(reader, numbers)
    return numbers


def _collect_favorable_outcome(reader: ResultReader, numbers: Numbers) -> None:
    """Add a regression result's favourable-outcome view (``--favorable-above/-below T``):
    its derived outcome's headline, four-fifths rows and disparities, keyed by the outcome
    (``prediction > 150``) so that another threshold's rows match none of them."""
    summary = reader.optional_mapping(reader.data.get("summary"), "summary")
    path = "summary.favorable_outcome"
    section = reader.optional_mapping(summary.get("favorable_outcome"), path)
    outcome = reader.text(section.get("outcome"), f"{path}.outcome")
    if not section or outcome is None:
        return
    numbers.outcome = outcome
    found = (section.get("headline"), f"{path}.headline")
    collect_rows(reader, numbers, "headline", found, None, outcome=outcome)
    collect_four_fifths(reader, numbers, (section.get("worse_off"), f"{path}.worse_off"), outcome)
    found = (section.get("disparities"), f"{path}.disparities")
    collect_rows(reader, numbers, "disparity", found, None, outcome=outcome)


def _collect_favorable_view(reader: ResultReader, numbers: Numbers) -> None:
    """Add a multiclass result's favourable-outcome view: its headline and disparities."""
    summary = reader.optional_mapping(reader.data.get("summary"), "summary")
    path = "summary.favorable_view"
    view = reader.optional_mapping(summary.get("favorable_view"), path)
    classes = view.get("classes")
    if not view or not isinstance(classes, list):
        return
    name = ", ".join(str(c) for c in classes)
    collect_rows(reader, numbers, "headline", (view.get("headline"), f"{path}.headline"), name)
    found = (view.get("disparities"), f"{path}.disparities")
    collect_rows(reader, numbers, "disparity", found, name)


def _collect_metrics(
    reader: ResultReader,
    numbers: Numbers,
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
    key: Key = ("overall",) if group is None else ("group", feature, group_key(group))
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


def _task(reader: ResultReader) -> str:
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
    old_reader, new_reader = ResultReader(old, "old"), ResultReader(new, "new")
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
                template.outcome,
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
        if previous is not None and group_key(previous) != group_key(reference):
            result.reference_changes.append({"feature": feature, "old": previous, "new": reference})
    result.notes = _notes(result)
    for (feature, metric), was, now in _new_groups(before.worst, after.worst):
        result.notes.append(MSG_WORST.format(feature=feature, metric=metric, old=was, new=now))
    result.outcomes = (before.outcome, after.outcome)
    result.notes.extend(_outcome_notes(before, after))
    return result


def _outcome_notes(before: Numbers, after: Numbers) -> list[str]:
    """Return the notes on two regression audits' derived outcomes: one audit without a
    threshold, or another threshold (its rows are not compared: a share above 150 and a
    share above 160 are different quantities), or a new worse-off group on a rate."""
    old, new = before.outcome, after.outcome
    if old is None and new is None:
        return []
    if old is None or new is None:
        side, outcome = ("new", new) if old is None else ("old", old)
        return [MSG_OUTCOME_ONE_SIDE.format(side=side, outcome=outcome)]
    if old != new:
        return [MSG_OUTCOME_CHANGED.format(old=old, new=new)]
    return [
        MSG_WORSE_OFF.format(feature=feature, metric=metric, outcome=new, old=was, new=now)
        for (feature, metric), was, now in _new_groups(before.worse_off, after.worse_off)
    ]


_Groups = Mapping[tuple[str, str], dict[str, str]]


def _new_groups(before: _Groups, after: _Groups) -> Iterator[tuple[tuple[str, str], str, str]]:
    """Yield each (feature, metric) whose group (the worst, the worse-off) differs between
    the audits, with the old and the new group as text."""
    for key, group in after.items():
        previous = before.get(key)
        if previous is not None and group_key(previous) != group_key(group):
            yield key, group_text(previous), group_text(group)


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
