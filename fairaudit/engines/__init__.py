"""Counting engines: the one heavy pass, run where the data lives; only counts come back.

Every confusion-matrix metric and its interval derives from a table of counts per
(intersectional group x label x prediction), the ``GroupCounts``. Score metrics derive
from :class:`ScoreSums`: exact integer sufficient statistics per group (Mann-Whitney rank
sums for ROC AUC and its DeLong variance, fixed-point sums of squared errors for the
Brier score). An engine turns an ``AuditSpec`` into an :class:`EngineCounts`:

* ``numpy``  - the in-memory path (``data.load_evaluation_data`` + ``count_groups``);
  the only engine that can score a model.
* ``duckdb`` - streams CSV or Parquet of any size out of core and aggregates in SQL.
* ``spark``  - a Parquet path or a table (``spark:db.table``); the aggregation is a
  Spark job (``pip install fairaudit[spark]``).

All engines return identical group levels, counts, checks and score sums for the same
data, hence identical metrics and intervals.

Exactness of the score sums
---------------------------
ROC AUC is ``U / (n_pos n_neg)`` with the Mann-Whitney ``U`` (ties count 1/2); ``2U`` and
the DeLong placement sums are integers, summed exactly (int128 / DECIMAL(38) in SQL,
Python integers here) and turned into floats once, with exact rational arithmetic.
Brier sums use fixed point: each squared error ``t = (score - y)^2`` (computed in IEEE
double, as every engine does) contributes ``floor(t * 2**62)``, so the sum is exact and
order-independent; the truncation costs less than ``2**-62`` per row, i.e. under
``2**-62`` on the Brier score itself.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import numpy as np

from fairaudit.counts import GroupCounts
from fairaudit.data import Check, EvaluationData
from fairaudit.errors import ConfigError
from fairaudit.spec import AuditSpec
from fairaudit.vocabulary import INTERSECTION

__all__ = [
    "BRIER_SCALE",
    "ENGINES",
    "EngineCounts",
    "EngineName",
    "ScoreSummary",
    "ScoreSums",
    "choose_engine",
    "count_with_engine",
    "run_counts_stage",
]

EngineName = Literal["numpy", "duckdb", "spark", "auto"]
ENGINES: tuple[str, ...] = ("numpy", "duckdb", "spark", "auto")

#: Fixed-point scale of the Brier sums: each squared error contributes floor(t * 2**62).
BRIER_SCALE = 1 << 62

#: ``auto`` picks numpy while the file times this factor fits in half the memory
#: (a CSV expands ~10x into a DataFrame with its encodings; Parquet compresses ~4x more).
AUTO_CSV_FACTOR = 10
AUTO_PARQUET_FACTOR = 40

#: Prefix of a Spark table name given as the data "path".
SPARK_TABLE_PREFIX = "spark:"

UNKNOWN_ENGINE = "unknown engine {engine!r}; choose one of numpy, duckdb, spark, auto"
NEEDS_PREDICTIONS = (
    "the {engine} engine audits precomputed predictions: pass --prediction-col COL "
    "(score the data with your own infrastructure), or use --engine numpy with --model"
)
REFERENCE_NOT_FOUND = (
    "reference group {feature}={wanted!r} not found; the groups of {feature!r} are: {levels}"
)


@dataclass(frozen=True)
class ScoreSums:
    """Exact score statistics for the groups of one grouping (all integers).

    For group ``g``: ``n_pos``/``n_neg`` positives and negatives; with ``A`` a positive's
    ``2 * (negatives scored below) + (negatives tied)`` and ``B`` a negative's
    ``2 * (positives scored above) + (positives tied)`` (within the group),
    ``u2 = sum A`` (so AUC = u2 / (2 n_pos n_neg)), ``a2 = sum A**2``, ``b2 = sum B**2``;
    ``brier1 = sum floor(t * 2**62)`` and ``brier2 = sum floor(t**2 * 2**62)`` over rows
    with ``t = (score - y)**2`` (None when the scores are not probabilities).
    ``groups`` holds the level codes of each group (one column per feature of the
    grouping), in the order of ``build_tables``' groups.
    """

    groups: np.ndarray
    n_pos: tuple[int, ...]
    n_neg: tuple[int, ...]
    u2: tuple[int, ...]
    a2: tuple[int, ...]
    b2: tuple[int, ...]
    brier1: tuple[int, ...] | None = None
    brier2: tuple[int, ...] | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ScoreSums):
            return NotImplemented
        return (
            np.array_equal(self.groups, other.groups)
            and (self.n_pos, self.n_neg, self.u2, self.a2, self.b2)
            == (other.n_pos, other.n_neg, other.u2, other.a2, other.b2)
            and (self.brier1, self.brier2) == (other.brier1, other.brier2)
        )

    __hash__ = None  # type: ignore[assignment]

    def roc_auc(self) -> np.ndarray:
        """Return each group's ROC AUC (NaN without a positive or a negative)."""
        return np.array(
            [
                u2 / (2 * p * n) if p and n else math.nan
                for u2, p, n in zip(self.u2, self.n_pos, self.n_neg)
            ]
        )

    def delong_variance(self) -> np.ndarray:
        """Return each group's DeLong variance of the AUC (NaN below two of either class)."""
        out = []
        for u2, a2, b2, p, n in zip(self.u2, self.a2, self.b2, self.n_pos, self.n_neg):
            if p < 2 or n < 2:
                out.append(math.nan)
                continue
            # Both sets of placements sum to U: sum A = sum B = u2.
            ss_pos = Fraction(p * a2 - u2 * u2, 4 * n * n * p)
            ss_neg = Fraction(n * b2 - u2 * u2, 4 * p * p * n)
            out.append(float(ss_pos / ((p - 1) * p) + ss_neg / ((n - 1) * n)))
        return np.array(out, dtype=np.float64)

    def brier(self) -> tuple[np.ndarray, np.ndarray]:
        """Return each group's Brier score and the variance of its mean (NaN if undefined)."""
        sizes = [p + n for p, n in zip(self.n_pos, self.n_neg)]
        if self.brier1 is None or self.brier2 is None:
            nan = np.full(len(sizes), np.nan)
            return nan, nan.copy()
        means, variances = [], []
        for size, t1, t2 in zip(sizes, self.brier1, self.brier2):
            means.append(float(Fraction(t1, BRIER_SCALE * size)) if size else math.nan)
            if size < 2:
                variances.append(math.nan)
                continue
            # Fixed-point truncation can leave a hair below zero when all errors are equal.
            ss = Fraction(size * t2 * BRIER_SCALE - t1 * t1, BRIER_SCALE**2 * size)
            ss = max(ss, Fraction(0))
            variances.append(float(ss / ((size - 1) * size)))
        return np.array(means, dtype=np.float64), np.array(variances, dtype=np.float64)

    def metric_values(self) -> dict[str, np.ndarray]:
        """Return ``{"roc_auc": ..., "brier_score": ...}`` per group, as ``build_tables`` does."""
        return {"roc_auc": self.roc_auc(), "brier_score": self.brier()[0]}

    def estimates(self, confidence: float) -> dict[str, Any]:
        """Return ``{metric: ScoreEstimate}`` as ``stats._score_estimates`` does from rows."""
        from fairaudit.stats import auc_estimate, brier_estimate

        n_pos = np.array(self.n_pos, dtype=np.float64)
        n_neg = np.array(self.n_neg, dtype=np.float64)
        # The same intervals as from rows, computed from the exact moments.
        out = {
            "roc_auc": auc_estimate(
                self.roc_auc(), self.delong_variance(), n_pos, n_neg, confidence
            )
        }
        if self.brier1 is not None:
            out["brier_score"] = brier_estimate(*self.brier(), confidence)
        return out


@dataclass(frozen=True)
class ScoreSummary:
    """Score statistics of every grouping: per feature, the intersection and overall."""

    by_grouping: dict[str, ScoreSums]
    overall: ScoreSums
    is_probability: bool
    score_min: float
    score_max: float

    def grouping(self, name: str | None) -> ScoreSums:
        """Return the sums of grouping ``name`` (a feature or INTERSECTION; None: overall)."""
        return self.overall if name is None else self.by_grouping[name]


@dataclass(frozen=True)
class EngineCounts:
    """What the counting stage hands on: counts, checks, score sums and lineage.

    ``group_counts`` equals what ``count_groups`` gives on the rows (``row_cell`` only
    from the numpy engine); ``checks`` equal ``load_evaluation_data``'s;
    ``lineage_data`` is the ``lineage.data`` section of the AuditResult.
    ``evaluation`` is the in-memory data (numpy engine only: mitigation needs rows).
    """

    engine: str
    group_counts: GroupCounts
    checks: tuple[Check, ...]
    rows_read: int
    rows: int
    label_values: tuple[str, ...]
    scores: ScoreSummary | None
    lineage_data: dict[str, Any]
    prediction_source: dict[str, Any]
    model_lineage: dict[str, Any] | None = None
    evaluation: EvaluationData | None = field(default=None, repr=False, compare=False)
    y_pred: np.ndarray | None = field(default=None, repr=False, compare=False)
    score: np.ndarray | None = field(default=None, repr=False, compare=False)


def _groupings(features: tuple[str, ...]) -> list[tuple[str, tuple[int, ...]]]:
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


def _memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 << 30


def choose_engine(spec: AuditSpec, engine: EngineName = "auto") -> str:
    """Return the engine ``count_with_engine`` will use: ``auto`` resolved by size."""
    if engine not in ENGINES:
        raise ConfigError(UNKNOWN_ENGINE.format(engine=engine))
    if engine != "auto":
        return engine
    if str(spec.data).startswith(SPARK_TABLE_PREFIX):
        return "spark"
    if spec.model is not None:
        return "numpy"
    path = Path(spec.data)
    try:
        size = path.stat().st_size
    except OSError:
        return "numpy"  # let the numpy path raise its usual 'not found' error
    parquet = path.suffix.lower() in (".parquet", ".pq")
    factor = AUTO_PARQUET_FACTOR if parquet else AUTO_CSV_FACTOR
    return "numpy" if size * factor < _memory_bytes() // 2 else "duckdb"


def count_with_engine(spec: AuditSpec, engine: EngineName = "auto", **options: Any) -> EngineCounts:
    """Return the counts, checks and score sums of ``spec``'s data from one counting pass.

    Parameters
    ----------
    spec:
        The audit; non-numpy engines need ``prediction_col`` (and ``score_col`` for score
        metrics).
    engine:
        ``numpy``, ``duckdb``, ``spark`` or ``auto`` (numpy when the file is small next
        to the memory, else duckdb; a ``spark:`` table goes to spark).
    options:
        Engine options: duckdb ``memory_limit``, ``temp_directory``, ``threads``;
        spark ``session``.

    Raises
    ------
    ConfigError
        Unknown engine, a model with a non-numpy engine, pyspark not installed.
    DataError
        As ``load_evaluation_data`` would, with the same message.
    """
    chosen = choose_engine(spec, engine)
    if chosen != "numpy" and spec.model is not None:
        raise ConfigError(NEEDS_PREDICTIONS.format(engine=chosen))
    if chosen == "numpy":
        from fairaudit.engines.numpy_engine import count_numpy

        return count_numpy(spec, **options)
    if chosen == "duckdb":
        from fairaudit.engines.duckdb_engine import count_duckdb

        return count_duckdb(spec, **options)
    from fairaudit.engines.spark_engine import count_spark

    return count_spark(spec, **options)


def run_counts_stage(
    spec: AuditSpec, engine: EngineName = "auto", **options: Any
) -> tuple[list[Check], GroupCounts, ScoreSummary | None, dict[str, Any]]:
    """Return (data checks, group counts, score summary, lineage.data) for ``run_audit``."""
    counted = count_with_engine(spec, engine, **options)
    return list(counted.checks), counted.group_counts, counted.scores, counted.lineage_data
