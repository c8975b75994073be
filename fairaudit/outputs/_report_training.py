"""The model report's training-data section: bias before the model, built from the result's
``training_data`` (``fairaudit run --train``) only.

It reads the section as the data report reads its document (``data_report_view``: the same
ranking of label disparities, the same proxy views), and keeps what a model audit's reader
needs on one screen: the few largest label disparities with their intervals and each
sensitive feature's strongest proxy with its AUC. Every kept row and every proxy feature
follow in folded tables; the full data audit is ``fairaudit data`` on the training set.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fairaudit.outputs._data_report_view import DataReportView, ProxyView, data_report_view

__all__ = ["TRAINING_DISPARITIES", "TrainingView", "training_view"]

#: Label disparities the section shows first (the largest |difference|, with intervals).
TRAINING_DISPARITIES = 3


@dataclass(frozen=True)
class TrainingView:
    """What the page shows of ``training_data`` (``report.training`` in the templates)."""

    section: Mapping[str, Any]
    view: DataReportView
    command: str
    notes: list[str]

    @property
    def disparities(self) -> list[dict[str, Any]]:
        """Return the largest label disparities (|value| first), as the data report ranks them."""
        return self.view.disparities[:TRAINING_DISPARITIES]

    @property
    def proxies(self) -> list[ProxyView]:
        """Return each sensitive feature's proxy analysis (features ranked by AUC)."""
        return self.view.proxies

    @property
    def comparisons(self) -> list[dict[str, Any]]:
        """Return one entry per group and its comparison: its row of each kept metric."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for row in self.view.rows:
            key = (row["group_text"], row["against"])
            entry = out.setdefault(key, {"group_text": key[0], "against": key[1]})
            entry[row["metric"]] = row
        return list(out.values())

    @property
    def feature_count(self) -> int:
        """Return the number of proxy features over every sensitive feature."""
        return sum(len(p.features) for p in self.view.proxies)

    @property
    def flagged(self) -> list[ProxyView]:
        """Return the sensitive features with at least one feature over the threshold."""
        return [p for p in self.view.proxies if p.flagged]


def _edge_text(edge: float) -> str:
    """Return a bin edge as the shortest text that reads back as the same number."""
    text = repr(float(edge))
    return text.removesuffix(".0")


def _command(section: Mapping[str, Any]) -> str:
    """Return the ``fairaudit data`` command that gives every row of the section's analysis."""
    options = section["options"]
    parts = ["fairaudit", "data", str(section["data"]["path"]), "--target", str(options["target"])]
    for name in options["sensitive"]:
        parts += ["--sensitive", str(name)]
    for name, edges in options.get("bins", {}).items():
        parts += ["--bins", f"{name}=" + ",".join(map(_edge_text, edges))]
    for name, value in options.get("reference", {}).items():
        parts += ["--reference", f"{name}={value}"]
    if options.get("favorable_label") is not None:
        parts += ["--favorable-label", str(options["favorable_label"])]
    return shlex.join(parts + ["-o", "data-report.html"])


#: The data report's notes that do not apply to the section: about options ``fairaudit run``
#: lacks, and the missing label disparity (the section says why in its own words).
_NOT_HERE = ("--strata", "--population", "No label-proportion")


def _notes(view: DataReportView) -> list[str]:
    """Return, in words, what could not be evaluated: the data report's notes (undefined
    values, groups left out of the proxy models, sampling) that apply here."""
    return [n for n in view.not_evaluated if not any(o in n for o in _NOT_HERE)]


def training_view(data: Mapping[str, Any]) -> TrainingView | None:
    """Return the section's view of a result's JSON form, or None without ``training_data``."""
    section = data.get("training_data")
    if not section:
        return None
    document = {**section, "audit": {"name": section["data"].get("file_name")}}
    view = data_report_view(document, None)
    return TrainingView(section=section, view=view, command=_command(section), notes=_notes(view))
