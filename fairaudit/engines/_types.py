"""What every engine returns (``EngineCounts``) and the few helpers all engines share."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fairaudit.counts import GroupCounts, ScoreSummary
from fairaudit.data import Check, EvaluationData
from fairaudit.errors import ConfigError
from fairaudit.spec import AuditSpec
from fairaudit.vocabulary import INTERSECTION

__all__ = [
    "REFERENCE_NOT_FOUND",
    "SPARK_TABLE_PREFIX",
    "EngineCounts",
    "Progress",
    "check_reference",
    "groupings",
    "memory_bytes",
]

#: Prefix of a Spark table name given as the data "path".
SPARK_TABLE_PREFIX = "spark:"

REFERENCE_NOT_FOUND = (
    "reference group {feature}={wanted!r} not found; the groups of {feature!r} are: {levels}"
)

#: Called with a short line saying what the counting stage is doing now.
Progress = Callable[[str], None]


@dataclass(frozen=True)
class EngineCounts:
    """What the counting stage hands on, whichever engine ran it.

    ``group_counts`` equals what ``count_groups`` gives on the rows (``row_cell`` only
    from the numpy engine); ``checks`` equal ``load_evaluation_data``'s;
    ``score_summary`` holds the exact score sums (None without scores);
    ``lineage_data`` is the ``lineage.data`` section of the AuditResult. The rows
    (``data``, ``y_pred``, ``score``) and the model (``estimator``, ``feature_columns``)
    come only from the numpy engine: the mitigation comparison needs them.
    """

    engine: str
    group_counts: GroupCounts
    checks: tuple[Check, ...]
    rows_read: int
    rows: int
    label_values: tuple[str, ...]
    score_summary: ScoreSummary | None
    lineage_data: dict[str, Any]
    prediction_source: dict[str, Any]
    model_lineage: dict[str, Any] | None = None
    data: EvaluationData | None = field(default=None, repr=False, compare=False)
    y_pred: np.ndarray | None = field(default=None, repr=False, compare=False)
    score: np.ndarray | None = field(default=None, repr=False, compare=False)
    estimator: Any | None = field(default=None, repr=False, compare=False)
    feature_columns: list[str] = field(default_factory=list, repr=False, compare=False)

    @property
    def has_scores(self) -> bool:
        """Return whether the audit has scores (so ROC AUC, and maybe Brier, are computed)."""
        return self.score_summary is not None

    @property
    def score_is_probability(self) -> bool:
        """Return whether the scores are probabilities (so the Brier score is defined)."""
        return self.score_summary is not None and self.score_summary.is_probability


def groupings(features: tuple[str, ...]) -> list[tuple[str, tuple[int, ...]]]:
    """Return (name, feature indices) of every grouping but overall, in table order."""
    out: list[tuple[str, tuple[int, ...]]] = [(name, (i,)) for i, name in enumerate(features)]
    if len(features) > 1:
        out.append((INTERSECTION, tuple(range(len(features)))))
    return out


def check_reference(spec: AuditSpec, features: tuple[str, ...], levels: tuple) -> None:
    """Raise ConfigError if a ``--reference`` group is not among its feature's levels."""
    for name, feature_levels in zip(features, levels):
        wanted = spec.reference.get(name)
        if wanted is not None and wanted not in feature_levels:
            raise ConfigError(
                REFERENCE_NOT_FOUND.format(
                    feature=name,
                    wanted=wanted,
                    levels=", ".join(repr(v) for v in feature_levels),
                )
            )


def memory_bytes() -> int:
    """Return the machine's physical memory in bytes (8 GiB where it cannot be read)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 << 30
