"""The audit's vocabulary: metric names, groupings and plain-language definitions.

Kept free of numpy and pandas so that light commands (``verify``, policy checks) can use
the names without loading the numeric stack.
"""

from __future__ import annotations

#: The messages for an out-of-range confidence level or resample count, shared by the
#: options (spec) and the statistics that receive them.
BAD_CONFIDENCE = "confidence must be strictly between 0 and 1 (e.g. 0.95), not {value}"
BAD_RESAMPLES = (
    "resamples must be a whole number of at least 100 (fewer give unstable percentile "
    "intervals), not {value}"
)

__all__ = [
    "BAD_CONFIDENCE",
    "BAD_RESAMPLES",
    "CONFUSION_METRICS",
    "DEFINITIONS",
    "HEADLINE_METRICS",
    "HTML_MAX_GROUPS",
    "INTERSECTION",
    "MAX_GROUPS",
    "MITIGATION_METHODS",
    "PROPORTIONS",
    "RATIO_BAND",
    "REGRESSION_DATA_METRICS",
    "REGRESSION_DEFINITIONS",
    "REGRESSION_DISTRIBUTION_METRICS",
    "REGRESSION_HEADLINE_METRICS",
    "REGRESSION_METRICS",
    "SCORE_METRICS",
]

#: Name of the grouping formed by all sensitive features together.
INTERSECTION = "intersection"

#: Default limit on the groups of one grouping (the intersection's cells with rows, or one
#: feature's values): a larger audit is refused before the work, as its report would run to
#: hundreds of megabytes (10,000 cells: 111 MB of HTML, 1.65 GB of memory). ``max_groups``
#: (``--max-groups N``) raises it.
MAX_GROUPS = 5000

#: The HTML report tabulates and draws at most this many groups of one grouping (the worst
#: off); the others are counted in a line that points to the JSON, which keeps every group.
HTML_MAX_GROUPS = 200

#: Ratios to the reference outside this band are highlighted, and a worst-off group below
#: its lower end is "worse off" (the four-fifths rule and its inverse).
RATIO_BAND: tuple[float, float] = (0.8, 1.25)

#: Metrics computed from confusion counts, in report order (``count`` first).
CONFUSION_METRICS: tuple[str, ...] = (
    "count",
    "base_rate",
    "selection_rate",
    "accuracy",
    "balanced_accuracy",
    "true_positive_rate",
    "false_positive_rate",
    "true_negative_rate",
    "false_negative_rate",
    "precision",
    "negative_predictive_value",
    "false_discovery_rate",
    "false_omission_rate",
    "f1",
)

#: Confusion metrics that are a proportion: (numerator cells, denominator cells) as
#: indices into CELLS (tn=0, fp=1, fn=2, tp=3). balanced_accuracy and f1 are not.
PROPORTIONS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "base_rate": ((2, 3), (0, 1, 2, 3)),
    "selection_rate": ((1, 3), (0, 1, 2, 3)),
    "accuracy": ((0, 3), (0, 1, 2, 3)),
    "true_positive_rate": ((3,), (2, 3)),
    "false_positive_rate": ((1,), (0, 1)),
    "true_negative_rate": ((0,), (0, 1)),
    "false_negative_rate": ((2,), (2, 3)),
    "precision": ((3,), (1, 3)),
    "negative_predictive_value": ((0,), (0, 2)),
    "false_discovery_rate": ((1,), (1, 3)),
    "false_omission_rate": ((2,), (0, 2)),
}

#: Metrics that need a score per row (probability or decision value).
SCORE_METRICS: tuple[str, ...] = ("roc_auc", "brier_score")

#: fairlearn's headline fairness metrics, computed between groups.
HEADLINE_METRICS: tuple[str, ...] = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
)

#: The group rates each headline metric compares between groups (its name without
#: ``_difference``/``_ratio``).
HEADLINE_BASES: dict[str, tuple[str, ...]] = {
    "demographic_parity": ("selection_rate",),
    "equalized_odds": ("true_positive_rate", "false_positive_rate"),
    "equal_opportunity": ("true_positive_rate",),
}

#: Plain-language definitions shown in the report and documented in the README.
DEFINITIONS: dict[str, str] = {
    "count": "Number of people (rows) in the group.",
    "base_rate": "Share of the group whose true label is positive.",
    "selection_rate": "Share of the group the model predicts positive (selects).",
    "accuracy": "Share of the group the model classifies correctly.",
    "balanced_accuracy": (
        "Average of the true positive rate and the true negative rate; "
        "undefined when the group has only one true class."
    ),
    "true_positive_rate": (
        "Of those truly positive, the share predicted positive (recall, sensitivity)."
    ),
    "false_positive_rate": "Of those truly negative, the share wrongly predicted positive.",
    "true_negative_rate": "Of those truly negative, the share predicted negative (specificity).",
    "false_negative_rate": "Of those truly positive, the share wrongly predicted negative.",
    "precision": "Of those predicted positive, the share truly positive.",
    "negative_predictive_value": "Of those predicted negative, the share truly negative.",
    "false_discovery_rate": "Of those predicted positive, the share truly negative.",
    "false_omission_rate": "Of those predicted negative, the share truly positive.",
    "f1": "Harmonic mean of precision and true positive rate.",
    "roc_auc": (
        "Probability that the score ranks a random positive above a random negative "
        "of the same group (ties count half)."
    ),
    "brier_score": (
        "Mean squared difference between the predicted probability and the true label "
        "(lower is better)."
    ),
    "demographic_parity_difference": (
        "Largest minus smallest group selection rate (0 means every group is selected "
        "at the same rate)."
    ),
    "demographic_parity_ratio": (
        "Smallest divided by largest group selection rate (1 means equal rates; when a "
        "positive prediction is the favourable outcome, the four-fifths rule asks for at "
        "least 0.8)."
    ),
    "equalized_odds_difference": (
        "The larger of the between-group differences in true positive rate and in "
        "false positive rate."
    ),
    "equalized_odds_ratio": (
        "The smaller of the between-group ratios of true positive rate and of false positive rate."
    ),
    "equal_opportunity_difference": ("Largest minus smallest group true positive rate."),
    "equal_opportunity_ratio": "Smallest divided by largest group true positive rate.",
    "difference": "The group's value minus the reference group's value.",
    "ratio": "The group's value divided by the reference group's value.",
}

#: Mitigation methods, in report order: three post-processing (ThresholdOptimizer), two
#: reductions (ExponentiatedGradient) and one pre-processing (CorrelationRemover).
MITIGATION_METHODS: tuple[str, ...] = (
    "threshold_demographic_parity",
    "threshold_equalized_odds",
    "threshold_true_positive_rate_parity",
    "expgrad_demographic_parity",
    "expgrad_equalized_odds",
    "correlation_remover",
)

#: A regression model's group metrics, in report order (``count`` first).
REGRESSION_METRICS: tuple[str, ...] = (
    "count",
    "mean_prediction",
    "mean_target",
    "mean_error",
    "mean_absolute_error",
    "root_mean_squared_error",
    "r2",
)

#: Regression metrics that describe the data, not the model: their disparities are tested
#: on their own, outside the multiple-testing family (as ``base_rate`` for binary).
REGRESSION_DATA_METRICS: tuple[str, ...] = ("mean_target",)

#: Distances between a group's prediction distribution and the reference group's
#: (demographic parity for regression, Agarwal, Dudik & Wu 2019).
REGRESSION_DISTRIBUTION_METRICS: tuple[str, ...] = ("ks_statistic", "wasserstein_distance")

#: A regression model's headline metrics per grouping: the largest KS statistic between
#: any two groups and the bounded-group-loss ratios (worst group over the overall).
REGRESSION_HEADLINE_METRICS: tuple[str, ...] = (
    "ks_statistic",
    "max_group_mae_ratio",
    "max_group_rmse_ratio",
)

#: Plain-language definitions of the regression metrics (kept apart from DEFINITIONS,
#: which a binary report lists in full).
REGRESSION_DEFINITIONS: dict[str, str] = {
    "count": "Number of people (rows) in the group.",
    "mean_prediction": "Average predicted value in the group.",
    "mean_target": "Average true value in the group (a property of the data, not the model).",
    "mean_error": (
        "Average of prediction minus true value: above 0 the model over-predicts for the "
        "group, below 0 it under-predicts."
    ),
    "mean_absolute_error": "Average distance between prediction and true value.",
    "root_mean_squared_error": (
        "Square root of the average squared distance between prediction and true value "
        "(weighs large errors more)."
    ),
    "r2": (
        "Share of the variance of the group's true values the predictions explain "
        "(1 is perfect, 0 no better than the group's mean; undefined when every true value "
        "in the group is the same)."
    ),
    "ks_statistic": (
        "Kolmogorov-Smirnov distance: the largest gap between the share of the group and the "
        "share of the reference group predicted at or below any value (0: the same "
        "distribution of predictions; 1: no overlap). As a headline, the largest over any "
        "two groups."
    ),
    "wasserstein_distance": (
        "How far, in the prediction's units, the group's predictions would have to move on "
        "average to match the reference group's distribution (1-Wasserstein distance)."
    ),
    "max_group_mae_ratio": (
        "The worst group's mean absolute error divided by the overall mean absolute error "
        "(bounded group loss; 1 means no group is served worse than everyone together)."
    ),
    "max_group_rmse_ratio": (
        "The worst group's root mean squared error divided by the overall one (bounded group loss)."
    ),
}
