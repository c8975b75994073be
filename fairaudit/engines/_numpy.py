"""The numpy engine: the in-memory path (pandas read, predict, ``count_groups``).

It is the reference the other engines are tested against, and the only engine that can
score a model. Its score sums are computed from rows with the same integer arithmetic
as the SQL engines, so every engine returns the same ``ScoreSums``.
"""

from __future__ import annotations

from fairaudit.counts import count_groups
from fairaudit.data import load_evaluation_data
from fairaudit.engines._rank_sums import score_summary_from_rows
from fairaudit.engines._types import EngineCounts, Progress, check_reference
from fairaudit.measure import check_rows_group_limit
from fairaudit.models import audit_predictions
from fairaudit.spec import AuditSpec

__all__ = ["count_numpy", "score_summary_from_rows"]


def count_numpy(spec: AuditSpec, progress: Progress) -> EngineCounts:
    """Return the EngineCounts of ``spec`` from the in-memory (pandas + numpy) path."""
    progress(f"reading {spec.source_label('data')}")
    data = load_evaluation_data(spec)
    features = tuple(f.name for f in data.sensitive)
    levels = tuple(f.levels for f in data.sensitive)
    check_reference(spec, features, levels)
    check_rows_group_limit(spec, data)  # before predicting: the model may be slow
    progress("predicting" if spec.model is not None else "reading predictions")
    predicted = audit_predictions(spec, data)
    progress("counting")
    score = predicted.score
    group_counts = count_groups(
        features,
        [f.codes for f in data.sensitive],
        levels,
        data.y_true,
        predicted.y_pred,
        with_row_cells=score is not None,
    )
    # Score metrics from the same exact sufficient statistics every engine computes, so
    # all engines agree to the last bit.
    score_summary = (
        score_summary_from_rows(group_counts, data.y_true, score, predicted.score_is_probability)
        if score is not None
        else None
    )
    return EngineCounts(
        engine="numpy",
        group_counts=group_counts,
        checks=tuple(data.checks),
        rows_read=data.rows_read,
        rows=len(data.y_true),
        label_values=data.label_values,
        score_summary=score_summary,
        lineage_data=data.lineage(),
        prediction_source=predicted.source,
        model_lineage=predicted.model_lineage,
        data=data,
        y_pred=predicted.y_pred,
        score=score,
        estimator=predicted.estimator,
        feature_columns=predicted.feature_columns,
    )
