"""Regression-audit rules (issue 17): what each reads from a regression result's JSON.

Layering, the feature loop, the small-group rule, judging and the verdict are the model
rules' own (``_load``, ``_evaluate``, ``_judge``); this module only says where a
regression rule's number is:

- between groups, from the result's ``headline``: ``ks_statistic`` (the largest KS distance
  between two groups' predictions, over the groups of at least the audit's
  ``min_group_size``), ``max_group_mae_ratio`` and ``max_group_rmse_ratio`` (the worst
  group's error over the overall; with a rule's own ``min_group_size`` recomputed from
  ``by_group`` and ``metrics.overall``, the worst group named);
- against the reference, from the ``disparities`` rows (``reference_reading``): a group
  metric's ``difference`` (``ci_difference``) or ``ratio`` (``ci_ratio``), the size
  ``|difference|`` for the signed ``mean_error`` and ``mean_prediction``
  (``REGRESSION_SIGNED_METRICS``), and the row's ``value`` for ``ks_statistic`` and
  ``wasserstein_distance`` (no interval).

The headline has no interval yet, so ``evidence = "interval"`` on a between-groups rule is
not evaluable, and says why.

The favourable-outcome rules (``favorable_rate_*``, ``favorable_opportunity_*``; the presets
``four-fifths`` and ``equal-opportunity``) judge the binary view of "the prediction is
favourable" that ``--favorable-above T`` / ``--favorable-below T`` adds
(``summary.favorable_outcome``, :func:`regression_favorable_view`): the model rules' own code
on it, as on a multiclass audit's favourable classes. Without a threshold they are not
evaluable (``REASON_NO_THRESHOLD``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fairaudit.policy._judge import Outcome, judge
from fairaudit.policy._model import (
    NOT_EVALUABLE,
    REGRESSION_SIGNED_METRICS,
    Rule,
)
from fairaudit.policy._view import View, as_interval, favorable_view
from fairaudit.vocabulary import REGRESSION_DISTRIBUTION_METRICS

__all__ = [
    "REASON_KS_MINIMUM",
    "REASON_KS_TOO_FEW",
    "REASON_NO_DISTANCE_INTERVAL",
    "REASON_NO_HEADLINE",
    "REASON_NO_HEADLINE_INTERVAL",
    "REASON_NO_OVERALL",
    "REASON_NO_THRESHOLD",
    "REASON_NOT_MITIGATED",
    "REASON_TOO_FEW_GROUPS",
    "reference_reading",
    "regression_favorable_view",
    "regression_between_outcome",
]

REASON_NO_HEADLINE = "the regression audit has no {metric!r} headline for {feature!r}"
REASON_KS_MINIMUM = (
    "the largest KS distance between groups is measured over groups of at least the audit's "
    "min_group_size ({audit}); the rule's min_group_size {rule} needs the groups' predictions, "
    "which the result does not hold (give the audit --min-group-size {rule})"
)
REASON_NO_HEADLINE_INTERVAL = (
    "evidence = 'interval', but a regression audit's between-groups {metric} has no interval yet"
)
REASON_NO_DISTANCE_INTERVAL = (
    "evidence = 'interval', but a regression audit's {metric} against the reference has no "
    "interval (only a test)"
)
REASON_KS_TOO_FEW = (
    "fewer than two groups with at least {minimum} rows: no KS distance between groups"
)
REASON_NO_OVERALL = "the overall {metric} is undefined or 0, so no ratio to it is defined"
REASON_TOO_FEW_GROUPS = "no group with at least {minimum} rows and a defined {metric}"

REASON_NO_THRESHOLD = (
    "{metric} judges the favourable outcome of a regression audit (a prediction above or "
    "below a threshold), and the audit has none: audit with --favorable-above T or "
    "--favorable-below T"
)
REASON_NOT_MITIGATED = (
    "{metric} judges the favourable outcome, which a mitigation's numbers do not hold"
)

#: The group metric each bounded-group-loss headline divides by its overall value.
_LOSS_BASE = {
    "max_group_mae_ratio": "mean_absolute_error",
    "max_group_rmse_ratio": "root_mean_squared_error",
}


def reference_reading(rule: Rule) -> tuple[str, str, str | None, bool]:
    """Return where a rule against the reference reads each ``disparities`` row: the row's
    metric, the value's key, the interval's key (None: no interval) and whether the value
    is judged by its size; for a binary rule ``(base metric, kind, ci_<kind>, False)``."""
    if rule.metric in REGRESSION_DISTRIBUTION_METRICS:
        return rule.metric, "value", None, False
    signed = rule.metric in REGRESSION_SIGNED_METRICS
    return rule.base_metric, rule.kind, f"ci_{rule.kind}", signed


def regression_favorable_view(result: Mapping[str, Any]) -> View | None:
    """Return the view of a regression result's favourable outcome
    (``summary.favorable_outcome``), None when the audit had no threshold."""
    summary = result.get("summary") or {}
    return favorable_view(result, summary.get("favorable_outcome"))


def _interval_reason(rule: Rule) -> str:
    return REASON_NO_HEADLINE_INTERVAL.format(metric=rule.metric)


def regression_between_outcome(rule: Rule, view: View, feature: str, minimum: int) -> Outcome:
    """Judge a regression headline rule on one grouping (see the module docstring)."""
    entry = view.headline.get((feature, rule.metric))
    sizes = view.sizes.get(feature, {})
    small = [k for k, n in sizes.items() if n < minimum]
    excluded = tuple(view.groups[feature][k] for k in small)
    own = minimum == view.min_group_size and entry is not None
    if rule.metric == "ks_statistic":
        if entry is None:
            reason = REASON_NO_HEADLINE.format(metric=rule.metric, feature=feature)
            return Outcome(feature, (), None, None, NOT_EVALUABLE, reason)
        if not own:
            reason = REASON_KS_MINIMUM.format(audit=view.min_group_size, rule=minimum)
            return Outcome(feature, (), None, None, NOT_EVALUABLE, reason, excluded)
        observed = entry.get("value")
        if observed is None:
            reason = REASON_KS_TOO_FEW.format(minimum=minimum)
            return Outcome(feature, (), None, None, NOT_EVALUABLE, reason, excluded)
        groups: tuple[dict[str, str], ...] = ()
    else:
        base = _LOSS_BASE[rule.metric]
        overall = view.overall.get(base)
        if not overall:
            reason = REASON_NO_OVERALL.format(metric=base)
            return Outcome(feature, (), None, None, NOT_EVALUABLE, reason, excluded)
        values = view.values.get(feature, {}).get(base, {})
        eligible = {k: v for k, v in values.items() if k not in small and v is not None}
        if not eligible:
            reason = REASON_TOO_FEW_GROUPS.format(minimum=minimum, metric=base)
            return Outcome(feature, (), None, None, NOT_EVALUABLE, reason, excluded)
        worst = max(eligible, key=lambda k: float(eligible[k] or 0.0))
        observed = float(eligible[worst]) / float(overall)
        if own and entry is not None and entry.get("value") is not None:
            observed = entry["value"]  # the audit's own number, where it applies as is
        groups = (view.groups[feature][worst],)
    interval = as_interval(entry.get("ci")) if own and entry is not None else None
    status, reason = judge(
        rule,
        None if observed is None else float(observed),
        interval,
        interval_reason=_interval_reason(rule),
    )
    value = None if observed is None else float(observed)
    return Outcome(feature, groups, value, interval, status, reason, excluded)
