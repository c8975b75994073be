"""Reading one audit result for a diff: typed access to its untrusted JSON (every problem
names the side and the field) and the comparable numbers it holds, by a key that matches
across audits (``_diff_compute`` compares two of them).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from fairaudit.errors import FairauditError
from fairaudit.outputs._diff_model import (
    AuditRef,
    GroupChange,
    Interval,
    Measure,
    MetricChange,
    Section,
)

__all__ = [
    "MSG_BAD_FIELD",
    "DiffError",
    "Key",
    "Numbers",
    "Point",
    "ResultReader",
    "collect_four_fifths",
    "collect_rows",
    "group_key",
    "row_class",
]

MSG_BAD_FIELD = "The {side} result's {where} {problem}."


class DiffError(FairauditError):
    """An input cannot be read or compared as a fairaudit result."""


class ResultReader:
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


Key = tuple[Any, ...]
Point = tuple[float | None, Interval | None]


def group_key(group: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(group.items()))


@dataclass
class Numbers:
    """Every comparable number of one audit, by a key that matches across audits."""

    points: dict[Key, Point] = field(default_factory=dict)
    changes: dict[Key, MetricChange] = field(default_factory=dict)  # templates for output
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], GroupChange] = field(default_factory=dict)
    features: list[str] = field(default_factory=list)
    references: dict[str, dict[str, str]] = field(default_factory=dict)
    worst: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # regression
    #: A regression audit's derived outcome (``prediction > 150``), None without a threshold.
    outcome: str | None = None
    #: The derived outcome's worse-off group by (feature, metric): its four-fifths rows.
    worse_off: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def add(self, key: Key, template: MetricChange, value: float | None, ci: Interval | None):
        self.points[key] = (value, ci)
        self.changes[key] = template


def collect_rows(
    reader: ResultReader,
    numbers: Numbers,
    section: Section,
    found: tuple[object, str],
    view: str | None,
    *,
    outcome: str | None = None,
) -> None:
    """Add headline or disparity rows (``found``: the rows and their path in the result);
    ``view`` names the favourable classes when the rows are a multiclass favourable view's,
    ``outcome`` the derived outcome (``prediction > 150``) when they are a regression
    audit's favourable-outcome view's."""
    rows, path = found
    for where, row in reader.rows(rows, path):
        feature, metric = str(row.get("feature")), str(row.get("metric"))
        klass = view if view is not None else row_class(row)
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
                klass=klass, favorable=view is not None, outcome=outcome,
            )  # fmt: skip
            ci = "ci" if measure == "value" else f"ci_{measure}"
            key = (section, feature, group_key(group or {}), view is not None, klass, outcome)
            numbers.add(
                (*key, metric, measure),
                template,
                reader.number(row.get(measure), f"{where}.{measure}"),
                reader.interval(row.get(ci), f"{where}.{ci}"),
            )


def collect_four_fifths(
    reader: ResultReader, numbers: Numbers, found: tuple[object, str], outcome: str
) -> None:
    """Add the derived outcome's four-fifths rows (its ``worse_off``): per grouping and rate,
    the worse-off group's favourable rate over the best group's, with its MOVER-R interval;
    the rows match by grouping and rate (the worse-off group is noted when it changes)."""
    rows, path = found
    for where, row in reader.rows(rows, path):
        feature, metric = str(row.get("feature")), str(row.get("metric"))
        numbers.worse_off[(feature, metric)] = reader.group(row.get("group"), f"{where}.group")
        template = MetricChange(
            "four_fifths", feature, None, metric, "ratio", None, None, outcome=outcome
        )
        numbers.add(
            ("four_fifths", feature, (), False, None, outcome, metric, "ratio"),
            template,
            reader.number(row.get("ratio"), f"{where}.ratio"),
            reader.interval(row.get("ci_ratio"), f"{where}.ci_ratio"),
        )


def row_class(row: Mapping[str, Any]) -> str | None:
    """Return a multiclass row's class label as text (None for binary and regression rows)."""
    klass = row.get("class")
    return None if klass is None else str(klass)
