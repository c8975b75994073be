"""Point values of the confusion-matrix metrics: the rates every interval and test is about.

Every confusion-matrix metric is a ratio of sums of the four counts (``CELLS``: tn, fp,
fn, tp); an undefined value (a zero denominator) is NaN here and ``null`` in JSON, never
0. Names follow fairlearn and scikit-learn. ``fairaudit.measure`` builds its tables from
these values and ``fairaudit.stats`` resamples them, so both use one definition.
"""

from __future__ import annotations

import numpy as np

from fairaudit.vocabulary import PROPORTIONS

__all__ = ["confusion_metrics", "metric_denominators", "safe_divide"]


def safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Return numerator / denominator, NaN where the denominator is zero."""
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def confusion_metrics(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Return every metric of ``CONFUSION_METRICS`` for counts of shape ``(..., 4)``.

    Works for any leading shape, so one call evaluates all groups of all bootstrap
    resamples at once.
    """
    counts = np.asarray(counts)
    tn, fp, fn, tp = (counts[..., i].astype(np.float64) for i in range(4))
    n = tn + fp + fn + tp
    positives = tp + fn
    negatives = tn + fp
    predicted_positive = tp + fp
    predicted_negative = tn + fn
    tpr = safe_divide(tp, positives)
    tnr = safe_divide(tn, negatives)
    return {
        "count": n,
        "base_rate": safe_divide(positives, n),
        "selection_rate": safe_divide(predicted_positive, n),
        "accuracy": safe_divide(tp + tn, n),
        # NaN when a class is missing: scikit-learn would silently average one recall.
        "balanced_accuracy": (tpr + tnr) / 2,
        "true_positive_rate": tpr,
        "false_positive_rate": safe_divide(fp, negatives),
        "true_negative_rate": tnr,
        "false_negative_rate": safe_divide(fn, positives),
        "precision": safe_divide(tp, predicted_positive),
        "negative_predictive_value": safe_divide(tn, predicted_negative),
        "false_discovery_rate": safe_divide(fp, predicted_positive),
        "false_omission_rate": safe_divide(fn, predicted_negative),
        "f1": safe_divide(2 * tp, 2 * tp + fp + fn),
    }


def metric_denominators(counts: np.ndarray, metric: str) -> np.ndarray:
    """Return the number of rows each group's ``metric`` is a share of: its denominator.

    Positives for TPR and FNR, negatives for FPR and TNR, predicted positives for precision
    and FDR, predicted negatives for NPV and FOR, all rows for the rates of rows; the
    smaller class for balanced accuracy and ROC AUC; ``tp + fp + fn`` for f1; all rows
    for the rest (count, Brier score).
    """
    counts = np.asarray(counts)
    if metric in PROPORTIONS:
        return counts[..., list(PROPORTIONS[metric][1])].sum(axis=-1)
    if metric in ("balanced_accuracy", "roc_auc"):
        return np.minimum(counts[..., 2] + counts[..., 3], counts[..., 0] + counts[..., 1])
    if metric == "f1":
        return counts[..., 1:].sum(axis=-1)
    return counts.sum(axis=-1)
