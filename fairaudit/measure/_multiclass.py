"""A multiclass classifier's group metrics, from the K x K confusion matrix of each group.

Group metrics (``MULTICLASS_METRICS``), for a group's matrix ``C`` (rows: true class,
columns: predicted class), ``n = ΣC``, ``support_k = Σ_p C[k, p]`` (rows whose label is k),
``predicted_k = Σ_t C[t, k]``:

* ``accuracy = trace(C) / n``;
* ``balanced_accuracy``: the mean recall ``C[k, k] / support_k`` over the classes *present
  in the group's labels* (``support_k > 0``), as scikit-learn's ``balanced_accuracy_score``
  on the group's rows; a class absent from the group's labels has no recall and is left
  out of the mean (scikit-learn warns and drops it too), so a group whose labels are all
  one class gets that class's recall;
* ``f1_macro``: the mean of ``2 C[k, k] / (support_k + predicted_k)`` over the classes
  present in the group's labels *or* predictions, as ``f1_score(average="macro")`` on the
  group's rows (whose default labels are the classes seen in either). A class predicted
  but absent from the labels, or present but never predicted, counts with F1 = 0. Classes
  in neither are left out: ``f1_score(labels=<all K classes>)`` would count them as 0
  through ``zero_division`` and give a lower value.

Undefined values (an empty group) are NaN, ``null`` in JSON.

With per-class scores (:class:`ClassScores`: the model's ``predict_proba`` or
``--score-col CLASS=COL``), each class's ``roc_auc`` is the one-vs-rest ROC AUC of the
group's rows, ``y = (label == class)`` ranked by that class's score, computed by the binary
audit's DeLong code (``stats.delong_auc``: midrank placements, ties count one half), so it
equals scikit-learn's ``roc_auc_score`` on the group's rows. It is undefined (null) in a
group without a row of the class or without a row of another class.

Per class ``k``, one-vs-rest: the 2 x 2 counts of "label is k" against "prediction is k"
(``one_vs_rest``) fed to the binary metric definitions (``fairaudit.stats
.confusion_metrics``), so each value equals fairlearn's ``MetricFrame`` with
``y_true == k`` and ``y_pred == k``. Each grouping's :class:`MulticlassTable` holds the
group table (laid out by ``build_tables``, so groups, order and reference follow the
binary rule), the groups' matrices and one binary ``GroupTable`` per class.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from fairaudit.counts import GroupCounts
from fairaudit.errors import DataError
from fairaudit.measure._direction import same_label
from fairaudit.measure._metrics import GroupTable, build_tables
from fairaudit.measure._multiclass_counts import MulticlassCounts
from fairaudit.stats import confusion_metrics, delong_auc, safe_divide
from fairaudit.vocabulary import CONFUSION_METRICS

__all__ = [
    "CLASS_METRICS",
    "ClassScores",
    "MSG_FAVORABLE_NOT_A_CLASS",
    "MSG_NO_FAVORABLE_CLASS",
    "MULTICLASS_METRICS",
    "MulticlassStatistics",
    "MulticlassTable",
    "favorable_codes",
    "favorable_counts",
    "multiclass_metrics",
    "one_vs_rest",
]

#: The group metrics of a multiclass model, in report order.
MULTICLASS_METRICS: tuple[str, ...] = ("accuracy", "balanced_accuracy", "f1_macro")
#: The one-vs-rest metrics of each class (``by_class``): the binary confusion metrics.
CLASS_METRICS: tuple[str, ...] = tuple(m for m in CONFUSION_METRICS if m != "count")

MSG_FAVORABLE_NOT_A_CLASS = (
    "favorable label {label!r} is not a class of the label column {column!r} (classes: "
    "{classes}); pass one or more classes that are good for the person"
)
MSG_NO_FAVORABLE_CLASS = "name at least one favourable class"


def one_vs_rest(confusion: np.ndarray) -> np.ndarray:
    """Return ``(..., K, 4)`` counts (``CELLS``: tn, fp, fn, tp) of each class against the
    rest, from ``(..., K, K)`` confusion matrices."""
    confusion = np.asarray(confusion, dtype=np.int64)
    tp = np.diagonal(confusion, axis1=-2, axis2=-1)
    fn = confusion.sum(axis=-1) - tp
    fp = confusion.sum(axis=-2) - tp
    tn = confusion.sum(axis=(-2, -1))[..., None] - tp - fn - fp
    return np.stack([tn, fp, fn, tp], axis=-1)


def multiclass_metrics(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """Return ``{metric: (m,) values}`` of MULTICLASS_METRICS for ``(m, K, K)`` matrices."""
    confusion = np.asarray(confusion, dtype=np.int64)
    n = confusion.sum(axis=(1, 2)).astype(np.float64)
    correct = np.diagonal(confusion, axis1=1, axis2=2).astype(np.float64)
    support = confusion.sum(axis=2).astype(np.float64)
    predicted = confusion.sum(axis=1).astype(np.float64)
    present = support > 0
    seen = present | (predicted > 0)
    recall = np.where(present, safe_divide(correct, support), 0.0)
    f1 = np.where(seen, safe_divide(2 * correct, support + predicted), 0.0)
    return {
        "accuracy": safe_divide(correct.sum(axis=1), n),
        "balanced_accuracy": safe_divide(recall.sum(axis=1), present.sum(axis=1)),
        "f1_macro": safe_divide(f1.sum(axis=1), seen.sum(axis=1)),
    }


def favorable_codes(
    classes: Sequence[str], favorable: Sequence[str], *, column: str = "label"
) -> list[int]:
    """Return the class codes of the favourable classes (``same_label`` matching, so "1"
    names class "1.0"). Raises DataError for a name that is no class, or none given."""
    if not favorable:
        raise DataError(MSG_NO_FAVORABLE_CLASS)
    out: list[int] = []
    for label in favorable:
        matches = [k for k, c in enumerate(classes) if same_label(label, c)]
        if not matches:
            shown = ", ".join(repr(c) for c in classes[:20]) + (
                ", ..." if len(classes) > 20 else ""
            )
            raise DataError(
                MSG_FAVORABLE_NOT_A_CLASS.format(label=label, column=column, classes=shown)
            )
        out.extend(k for k in matches if k not in out)
    return sorted(out)


def favorable_counts(counts: MulticlassCounts, favorable: Sequence[int]) -> GroupCounts:
    """Return binary ``GroupCounts`` of the favourable outcome: label in the favourable
    classes against prediction in them, collapsed from each cell's K x K matrix.

    ``BinaryCounts`` of these gives a ``Measurement`` whose selection rate is the rate of
    the favourable outcome and whose worse-off ratio is the four-fifths ratio.
    """
    chosen = np.zeros(len(counts.classes), dtype=bool)
    chosen[list(favorable)] = True
    c = counts.confusion
    tp = c[:, chosen][:, :, chosen].sum(axis=(1, 2))
    fn = c[:, chosen][:, :, ~chosen].sum(axis=(1, 2))
    fp = c[:, ~chosen][:, :, chosen].sum(axis=(1, 2))
    tn = c[:, ~chosen][:, :, ~chosen].sum(axis=(1, 2))
    binary = np.stack([tn, fp, fn, tp], axis=1).astype(np.int64)
    return GroupCounts(counts.features, counts.levels, counts.cells, binary)


#: One class's ROC AUC over the groups of a grouping: the AUC, its DeLong variance, the
#: positives and negatives (``stats.delong_auc``), each ``(m,)``.
AucParts = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True, eq=False)
class ClassScores:
    """Per-class scores of every row, for one-vs-rest ROC AUC.

    ``row_cell``: each row's intersectional cell (an index into the counts' ``cells``);
    ``y_true``: each row's class code; ``scores (n, K)``: the score of each class (in
    class-code order), a column of NaN where ``scored[k]`` is False (no score for that
    class); ``source``: ``predict_proba``, ``decision_function`` or ``columns``;
    ``notes``: what the report says about the scores (rows not summing to 1, classes
    without a score).
    """

    row_cell: np.ndarray
    y_true: np.ndarray
    scores: np.ndarray
    scored: tuple[bool, ...]
    source: str
    notes: tuple[str, ...] = ()

    @cached_property
    def _orders(self) -> list[np.ndarray | None]:
        """Each scored class's rows sorted by its score: the one sort, shared by groupings."""
        return [
            np.argsort(self.scores[:, k], kind="stable") if scored else None
            for k, scored in enumerate(self.scored)
        ]

    def auc(self, cell_group: np.ndarray, n_groups: int) -> list[AucParts | None]:
        """Return each class's AucParts over groups made of cells (cell -> group); None
        for a class without scores."""
        group = np.asarray(cell_group, dtype=np.int64)[self.row_cell]
        out: list[AucParts | None] = []
        for k, order in enumerate(self._orders):
            positive = self.y_true == k
            out.append(
                None
                if order is None
                else delong_auc(group, n_groups, positive, self.scores[:, k], by_score=order)
            )
        return out


@dataclass(frozen=True)
class MulticlassTable:
    """One grouping of a multiclass audit.

    ``table``: the groups (``build_tables``' layout and reference), ``counts`` the group
    sizes ``(m, 1)``, ``values`` MULTICLASS_METRICS; ``confusion``: ``(m, K, K)``;
    ``by_class[k]``: class k's one-vs-rest ``GroupTable`` (same groups and reference,
    ``counts (m, 4)``, the binary confusion metrics as ``values``, and ``roc_auc`` with
    scores); ``auc[k]``: class k's AucParts (None: no scores for it, or none at all).
    """

    table: GroupTable
    confusion: np.ndarray
    by_class: tuple[GroupTable, ...]
    auc: tuple[AucParts | None, ...] = ()

    @property
    def name(self) -> str:
        """Return the grouping's name (a feature, or the intersection)."""
        return self.table.name


def _json_value(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class MulticlassStatistics:
    """A multiclass model's statistics: a confusion matrix per intersectional cell, and
    the rows' per-class scores when there are any (``roc_auc`` by class)."""

    counts: MulticlassCounts
    scores: ClassScores | None = None

    @property
    def class_metrics(self) -> tuple[str, ...]:
        """Return the one-vs-rest metrics of each class: CLASS_METRICS, and ``roc_auc``
        with scores."""
        return CLASS_METRICS + (("roc_auc",) if self.scores is not None else ())

    def _auc(self, cell_group: np.ndarray, n_groups: int) -> tuple[AucParts | None, ...]:
        if self.scores is None:
            return ()
        return tuple(self.scores.auc(cell_group, n_groups))

    @property
    def classes(self) -> tuple[str, ...]:
        """Return the class labels, in class-code order."""
        return self.counts.classes

    def metric_names(self) -> list[str]:
        """Return the group metrics, in report order."""
        return list(MULTICLASS_METRICS)

    def _table(self, laid_out: GroupTable) -> MulticlassTable:
        m = len(laid_out.groups)
        confusion = self.counts.group_confusion(laid_out.cell_group, m)
        sizes = confusion.sum(axis=(1, 2))[:, None]
        table = replace(laid_out, counts=sizes, values=multiclass_metrics(confusion))
        ovr = one_vs_rest(confusion)
        auc = self._auc(laid_out.cell_group, m)
        by_class = tuple(
            replace(laid_out, counts=ovr[:, k], values=confusion_metrics(ovr[:, k]))
            for k in range(len(self.classes))
        )
        for k, parts in enumerate(auc):
            by_class[k].values["roc_auc"] = np.full(m, np.nan) if parts is None else parts[0]
        return MulticlassTable(table, confusion, by_class, auc)

    def tables(
        self, reference: Mapping[str, str] | None = None
    ) -> tuple[dict[str, Any], list[MulticlassTable]]:
        """Return the overall values and one MulticlassTable per grouping.

        The overall values are MULTICLASS_METRICS, ``count``, ``confusion`` (the K x K
        matrix) and ``by_class`` (one-vs-rest metrics per class label).
        """
        _, laid_out = build_tables(self.counts.layout(), reference=reference)
        overall_matrix = self.counts.overall[None]
        overall: dict[str, Any] = {
            name: float(values[0]) for name, values in multiclass_metrics(overall_matrix).items()
        }
        overall["count"] = int(overall_matrix.sum())
        ovr = confusion_metrics(one_vs_rest(overall_matrix)[0])
        if self.scores is not None:
            parts = self.overall_auc()
            ovr["roc_auc"] = np.array([np.nan if p is None else p[0][0] for p in parts])
        overall["by_class"] = {
            label: {m: float(ovr[m][k]) for m in self.class_metrics}
            for k, label in enumerate(self.classes)
        }
        overall["confusion"] = self.counts.overall.tolist()
        return overall, [self._table(t) for t in laid_out]

    def overall_auc(self) -> tuple[AucParts | None, ...]:
        """Return each class's AucParts over all rows (one group), () without scores."""
        return self._auc(np.zeros(len(self.counts.cells), dtype=np.int64), 1)

    def group_rows(self, table: MulticlassTable, min_group_size: int) -> list[dict[str, Any]]:
        """Return each group's JSON row: size, metrics, ``by_class``, ``confusion`` and flags.

        ``confusion`` is the K x K matrix (rows: true class, columns: predicted class, in
        ``classes`` order); ``absent_classes`` the classes with no row labelled so in the
        group (their recall, TPR and FNR are null); ``single_class`` whether the group's
        labels are all one class.
        """
        rows = []
        t = table.table
        support = table.confusion.sum(axis=2)
        for i, group in enumerate(t.groups):
            by_class = {
                label: {m: float(table.by_class[k].values[m][i]) for m in self.class_metrics}
                for k, label in enumerate(self.classes)
            }
            rows.append(
                {
                    "feature": t.name,
                    "group": dict(group),
                    "count": int(t.sizes[i]),
                    "metrics": {m: float(t.values[m][i]) for m in MULTICLASS_METRICS},
                    "by_class": by_class,
                    "confusion": table.confusion[i].tolist(),
                    "reference": i == t.reference,
                    "insufficient_data": bool(t.sizes[i] < min_group_size),
                    "single_class": bool(np.count_nonzero(support[i]) == 1),
                    "absent_classes": [
                        label for k, label in enumerate(self.classes) if support[i, k] == 0
                    ],
                }
            )
        return rows

    def cells(self) -> tuple[int, int, int]:
        """Return (features, intersectional cells with rows, possible cells)."""
        possible = math.prod(len(levels) for levels in self.counts.levels)
        return len(self.counts.features), len(self.counts.cells), possible
