"""The policy model: layers, rules, approvals and the layered policy, with their shared names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fairaudit.errors import ConfigError
from fairaudit.vocabulary import (
    CONFUSION_METRICS,
    HEADLINE_METRICS,
    REGRESSION_DISTRIBUTION_METRICS,
    REGRESSION_HEADLINE_METRICS,
    SCORE_METRICS,
)

Severity = Literal["fail", "warn"]
Evidence = Literal["point", "interval", "beyond"]
Compare = Literal["reference", "between_groups", "rest", "population", "proxy"]
ReportKind = Literal["model", "data", "regression", "multiclass"]
Status = Literal["pass", "warn", "fail", "not evaluable"]
Verdict = Literal["pass", "warn", "fail"]
NotEvaluable = Literal["warn", "fail"]

PRESET_PREFIX = "preset:"
PRESETS: tuple[str, ...] = ("four-fifths", "equalized-odds", "equal-opportunity")
NOT_EVALUABLE: Literal["not evaluable"] = "not evaluable"

#: Group metrics a ``<metric>_difference`` / ``<metric>_ratio`` rule may name.
GROUP_METRICS: tuple[str, ...] = (*(m for m in CONFUSION_METRICS if m != "count"), *SCORE_METRICS)
#: Multiclass group metrics a ``<metric>_difference`` / ``<metric>_ratio`` rule may name
#: besides the binary ones (``accuracy`` and ``balanced_accuracy`` are both: without
#: ``class`` they are the multiclass metric, with it the class's one-vs-rest one).
MULTICLASS_GROUP_METRICS: tuple[str, ...] = ("f1_macro",)
MULTICLASS_RULE_METRICS: frozenset[str] = frozenset(
    f"{m}_{kind}" for m in MULTICLASS_GROUP_METRICS for kind in ("difference", "ratio")
)
#: Rates of the favourable outcome, which follow ``favorable_label``: ``favorable_rate`` is
#: the selection rate (1 - selection rate when a positive prediction is adverse),
#: ``favorable_opportunity`` the rate among people whose label is the favourable one (the
#: true positive rate, or the true negative rate). Each maps to the worse-off metric of the
#: result's ``summary.worse_off`` it is read with (when positive is favourable, adverse).
FAVORABLE_BASES: dict[str, tuple[str, str]] = {
    "favorable_rate": ("selection_rate", "selection_rate"),
    "favorable_opportunity": ("true_positive_rate", "false_positive_rate"),
}
#: Rule metrics on the favourable rates, between groups; ``favorable_rate_ratio`` is the
#: four-fifths ratio as the EEOC rule computes it.
FAVORABLE_METRICS: tuple[str, ...] = tuple(
    f"{base}_{kind}" for base in FAVORABLE_BASES for kind in ("difference", "ratio")
)
FAVORABLE_RATE_RATIO = "favorable_rate_ratio"
#: Metrics that are always a comparison between groups (never with the reference).
BETWEEN_GROUPS_METRICS: tuple[str, ...] = (*HEADLINE_METRICS, *FAVORABLE_METRICS)
#: Every metric name a rule may use.
RULE_METRICS: frozenset[str] = frozenset(
    (
        *BETWEEN_GROUPS_METRICS,
        *(f"{m}_{kind}" for m in GROUP_METRICS for kind in ("difference", "ratio")),
        *MULTICLASS_RULE_METRICS,
    )
)

#: Data-audit metrics (``fairaudit data``) a rule may name, with the comparisons their rows
#: hold (the first is the default). Label metrics compare a group with the reference group
#: or with the rest; ``missing_share_difference`` only with the rest; a representation
#: ratio with the population; ``proxy_auc`` and ``joint_proxy_auc`` read the proxy analysis.
DATA_LABEL_METRICS: tuple[str, ...] = (
    "class_imbalance",
    "difference_in_label_proportions",
    "kl_divergence",
    "js_divergence",
    "lp_norm",
    "total_variation_distance",
    "ks_distance",
    "conditional_demographic_disparity",
)
DATA_RULE_COMPARES: dict[str, tuple[str, ...]] = {
    **{m: ("reference", "rest") for m in DATA_LABEL_METRICS},
    "missing_share_difference": ("rest",),
    "representation_ratio": ("population",),
    "proxy_auc": ("proxy",),
    "joint_proxy_auc": ("proxy",),
}
DATA_RULE_METRICS: frozenset[str] = frozenset(DATA_RULE_COMPARES)
#: Signed data metrics: a rule bounds their size, ``|value|`` (and the interval of it).
DATA_SIGNED_METRICS: tuple[str, ...] = (
    "class_imbalance",
    "difference_in_label_proportions",
    "conditional_demographic_disparity",
    "missing_share_difference",
)
#: Regression-audit metrics (issue 17) a rule may name, with the comparisons they make (the
#: first is the default): the headline's between-groups values (the largest KS distance
#: between two groups, the worst group's MAE and RMSE over the overall), each group's KS and
#: Wasserstein distance from the reference, and differences (ratios for the non-negative
#: MAE and RMSE) of the group metrics against the reference.
REGRESSION_RULE_COMPARES: dict[str, tuple[str, ...]] = {
    "ks_statistic": ("between_groups", "reference"),
    **{m: ("between_groups",) for m in REGRESSION_HEADLINE_METRICS if m != "ks_statistic"},
    **{m: ("reference",) for m in REGRESSION_DISTRIBUTION_METRICS if m != "ks_statistic"},
    **{
        f"{m}_difference": ("reference",)
        for m in ("mean_prediction", "mean_error", "mean_absolute_error")
        + ("root_mean_squared_error", "r2")
    },
    "mean_absolute_error_ratio": ("reference",),
    "root_mean_squared_error_ratio": ("reference",),
}
REGRESSION_RULE_METRICS: frozenset[str] = frozenset(REGRESSION_RULE_COMPARES)
#: Signed regression differences whose sign only says which way the model errs or shifts
#: (over- or under-prediction): a rule bounds their size, ``|difference|`` (and its interval).
REGRESSION_SIGNED_METRICS: tuple[str, ...] = ("mean_prediction_difference", "mean_error_difference")
#: The comparisons a data- or regression-audit metric makes (model-audit metrics: either).
TASK_RULE_COMPARES: dict[str, tuple[str, ...]] = {**DATA_RULE_COMPARES, **REGRESSION_RULE_COMPARES}
#: Metrics whose rule without ``class`` judges the multiclass group metric (one value per
#: group), not every class's one-vs-rest metric.
MULTICLASS_WHOLE_METRICS: tuple[str, ...] = ("accuracy", "balanced_accuracy", "f1_macro")
#: Evidence from the most lenient to the strictest (a locked rule may only move right).
EVIDENCE_ORDER: tuple[str, ...] = ("beyond", "point", "interval")
REPORT_KINDS: tuple[str, ...] = ("model", "data", "regression", "multiclass")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_POLICY_FAILED = 3

REVIEWER_ROLE = "reviewer"
DECISIONS: tuple[str, ...] = ("approve", "reject")


class PolicyError(ConfigError):
    """A policy file is invalid, or a layer loosens what an earlier layer locked."""


# --------------------------------------------------------------------------- policy model


@dataclass(frozen=True)
class PolicyLayer:
    """One policy file or preset: where it came from and the SHA-256 of its bytes."""

    source: str
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        """Return ``{source, sha256}``."""
        return {"source": self.source, "sha256": self.sha256}


@dataclass(frozen=True)
class Rule:
    """One bound on one fairness metric, after layering.

    ``layer`` is the source that defined the rule, ``modified_by`` the later sources that
    changed it, and ``locked_by`` the source that locked it (None while unlocked).
    ``min_group_size`` None means the audit's own minimum. ``classes`` (a multiclass
    rule's ``class = ...``) names the classes whose one-vs-rest metric it bounds; None:
    every class (or, for ``accuracy``, ``balanced_accuracy`` and ``f1_macro``, the
    multiclass metric).
    """

    id: str
    metric: str
    compare: Compare
    min: float | None
    max: float | None
    feature: str | None
    severity: Severity
    evidence: Evidence
    min_group_size: int | None
    locked: bool
    description: str
    layer: str
    modified_by: tuple[str, ...] = ()
    locked_by: str | None = None
    classes: tuple[str, ...] | None = None

    @property
    def applies_to(self) -> ReportKind:
        """Return the kind of report the rule's metric is in: ``model`` (a binary model's
        audit, and a multiclass one's), ``data``, ``regression`` or ``multiclass`` (a rule
        with ``class``, or on ``f1_macro``: for multiclass audits only)."""
        if self.metric in DATA_RULE_METRICS:
            return "data"
        if self.metric in REGRESSION_RULE_METRICS:
            return "regression"
        if self.classes is not None or self.metric in MULTICLASS_RULE_METRICS:
            return "multiclass"
        return "model"

    @property
    def is_headline(self) -> bool:
        """Return whether the metric is one of fairlearn's headline metrics."""
        return self.metric in HEADLINE_METRICS

    @property
    def kind(self) -> Literal["difference", "ratio"]:
        """Return whether the rule bounds a difference or a ratio."""
        return "ratio" if self.metric.endswith("_ratio") else "difference"

    @property
    def base_metric(self) -> str:
        """Return the metric name without its ``_difference`` / ``_ratio`` suffix."""
        return self.metric.rsplit("_", 1)[0]

    def bound_text(self) -> str:
        """Return the bound as text, e.g. ``>= 0.8`` or ``between -0.1 and 0.1``."""
        if self.min is not None and self.max is not None:
            return f"between {self.min:g} and {self.max:g}"
        return f">= {self.min:g}" if self.min is not None else f"<= {self.max:g}"

    def to_dict(self) -> dict[str, Any]:
        """Return the rule's JSON form (without outcomes)."""
        return {
            "id": self.id,
            "metric": self.metric,
            "feature": self.feature,
            "compare": self.compare,
            "bound": {"min": self.min, "max": self.max},
            "severity": self.severity,
            "evidence": self.evidence,
            "min_group_size": self.min_group_size,
            "locked": self.locked,
            "description": self.description,
            "layer": self.layer,
            "modified_by": list(self.modified_by),
        } | ({} if self.classes is None else {"class": list(self.classes)})


@dataclass(frozen=True)
class Approvals:
    """How many of the listed reviewer keys must approve a report (``[approvals]``)."""

    required: int
    reviewers: tuple[str, ...]
    source: str

    def to_dict(self) -> dict[str, Any]:
        """Return ``{required, reviewers, source}``."""
        return {"required": self.required, "reviewers": list(self.reviewers), "source": self.source}


@dataclass(frozen=True)
class Policy:
    """The layered policy: its layers in order, the resulting rules and approvals."""

    layers: tuple[PolicyLayer, ...]
    rules: tuple[Rule, ...]
    approvals: Approvals | None = None
    not_evaluable: NotEvaluable = "warn"
