"""What a monitor watches and how strictly: command-line options or a policy's ``[monitor]`` table.

A policy file may carry, besides its ``[[rule]]`` tables, one ``[monitor]`` table::

    [monitor]
    metrics = ["selection_rate", "true_positive_rate"]   # default: the three below
    ratio_min = 0.8     # window rule: a group's rate / the reference's stays in [0.8, 1 / 0.8]
    drift = 0.1         # drift rule: that ratio moves at most 0.1 from the baseline's
    alpha = 0.05        # the chance of any false alarm over the whole monitoring period
    horizon = 52        # optional: the most windows this monitoring period will have
    baseline_windows = 4  # optional: drift from the first 4 windows, not the audit
    boundary = "bernoulli"  # optional: narrower intervals for rates far from 0.5

Or as policy rules with a ``window`` scope (an audit skips them)::

    [[rule]]
    scope = "window"
    metric = "demographic_parity_ratio"   # or selection_rate_ratio, true_positive_rate_ratio
    min = 0.8                             #    (equal_opportunity_ratio), false_positive_rate_ratio
    drift = 0.1                           # optional: the drift rule's tolerance

The window rules' metrics are the rates watched; the monitor applies one bound and one drift
tolerance to every watched rate, so every window rule must give the same ``min`` (and the
same ``drift``, or none). A ``[monitor]`` key set differently from the rules is an error.
Options given on the command line override both.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fairaudit.errors import ConfigError

__all__ = [
    "METRICS",
    "WINDOW_METRICS",
    "MonitorSettings",
    "read_monitor_table",
    "read_window_rules",
    "settings_from",
]

#: The rates a monitor can watch: (numerator counts, denominator counts) of the confusion.
METRICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "selection_rate": (("tp", "fp"), ("tp", "fp", "fn", "tn")),
    "true_positive_rate": (("tp",), ("tp", "fn")),
    "false_positive_rate": (("fp",), ("fp", "tn")),
}
_KEYS = ("metrics", "ratio_min", "drift", "alpha", "horizon", "baseline_windows", "boundary")
MSG_BAD = "{where} must be {expected}, got {value!r}"


@dataclass(frozen=True)
class MonitorSettings:
    """The monitored rates and the two rules' parameters (see the module docstring)."""

    metrics: tuple[str, ...] = tuple(METRICS)
    ratio_min: float = 0.8
    drift: float | None = None
    alpha: float = 0.05
    horizon: int | None = None
    baseline_windows: int | None = None
    boundary: str = "normal"

    def to_json(self) -> dict[str, Any]:
        return {
            "boundary": self.boundary,
            "baseline_windows": self.baseline_windows,
            "metrics": list(self.metrics),
            "ratio_min": self.ratio_min,
            "drift": self.drift,
            "alpha": self.alpha,
            "horizon": self.horizon,
        }


def _check(key: str, value: Any, where: str) -> Any:
    """Return ``value`` for ``key`` once valid; ConfigError naming ``where`` it was set if not."""
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    whole = isinstance(value, int) and not isinstance(value, bool)
    checks: dict[str, tuple[bool, str]] = {
        "ratio_min": (number and 0 < value < 1, "a number strictly between 0 and 1"),
        "alpha": (number and 0 < value < 1, "a number strictly between 0 and 1"),
        "drift": (number and math.isfinite(value) and value >= 0, "a number >= 0"),
        "horizon": (whole and value >= 1, "a whole number >= 1"),
        "baseline_windows": (whole and value >= 1, "a whole number >= 1"),
        "boundary": (value in ("normal", "bernoulli"), "'normal' or 'bernoulli'"),
        "metrics": (
            isinstance(value, list | tuple) and bool(value) and all(m in METRICS for m in value),
            "a non-empty list of " + ", ".join(METRICS),
        ),
    }
    ok, expected = checks[key]
    if not ok:
        raise ConfigError(MSG_BAD.format(where=where, expected=expected, value=value))
    return tuple(dict.fromkeys(value)) if key == "metrics" else value


def read_monitor_table(path: Path) -> dict[str, Any]:
    """Return the checked ``[monitor]`` table of a policy file ({} if it has none)."""
    from fairaudit.paths import read_toml_file

    document, _ = read_toml_file(path, "policy file")
    table = document.get("monitor", {})
    if not isinstance(table, Mapping):
        raise ConfigError(f"policy file {path}: [monitor] must be a table")
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        allowed = ", ".join(_KEYS)
        raise ConfigError(
            f"policy file {path}: unknown [monitor] key {unknown[0]!r} (allowed: {allowed})"
        )
    return {
        key: _check(key, value, f"policy file {path}: [monitor] {key}")
        for key, value in table.items()
    }


#: Policy metrics a window rule may name, and the rate the monitor watches for each.
WINDOW_METRICS = {
    "demographic_parity_ratio": "selection_rate",
    "selection_rate_ratio": "selection_rate",
    "true_positive_rate_ratio": "true_positive_rate",
    "equal_opportunity_ratio": "true_positive_rate",
    "false_positive_rate_ratio": "false_positive_rate",
}
_WINDOW_RULE_KEYS = ("scope", "id", "metric", "min", "drift", "description")


def _window_rule(entry: Mapping[str, Any], where: str) -> tuple[str, float, float | None]:
    """Return (rate, min, drift) of one ``scope = "window"`` rule; ConfigError if malformed."""
    unknown = sorted(set(entry) - set(_WINDOW_RULE_KEYS))
    if unknown:
        allowed = ", ".join(_WINDOW_RULE_KEYS)
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {allowed})")
    metric = entry.get("metric")
    if metric not in WINDOW_METRICS:
        raise ConfigError(
            MSG_BAD.format(
                where=f"{where}: metric",
                expected="one of " + ", ".join(WINDOW_METRICS),
                value=metric,
            )  # fmt: skip
        )
    ratio_min = _check("ratio_min", entry.get("min", 0.8), f"{where}: min")
    drift = entry.get("drift")
    if drift is not None:
        drift = _check("drift", drift, f"{where}: drift")
    return WINDOW_METRICS[metric], ratio_min, drift


def read_window_rules(path: Path) -> dict[str, Any]:
    """Return the settings the policy's ``scope = "window"`` rules set ({} if none)."""
    from fairaudit.paths import read_toml_file

    document, _ = read_toml_file(path, "policy file")
    entries = document.get("rule", [])
    if not isinstance(entries, list):
        return {}  # the policy loader reports it
    rules = [
        _window_rule(entry, f"policy file {path}: rule {index}")
        for index, entry in enumerate(entries, start=1)
        if isinstance(entry, Mapping) and entry.get("scope") == "window"
    ]
    if not rules:
        return {}
    for position, name in ((1, "min"), (2, "drift")):
        if len({rule[position] for rule in rules}) > 1:
            raise ConfigError(
                f"policy file {path}: the window rules give different {name} values; the "
                f"monitor applies one {name} to every watched rate"
            )
    values = {"metrics": tuple(dict.fromkeys(r[0] for r in rules)), "ratio_min": rules[0][1]}
    return values if rules[0][2] is None else {**values, "drift": rules[0][2]}


def settings_from(policy: Path | None, overrides: Mapping[str, Any]) -> MonitorSettings:
    """Return the settings: defaults, then the policy's window rules and ``[monitor]`` table,
    then ``overrides``."""
    values = read_window_rules(policy) if policy is not None else {}
    table = read_monitor_table(policy) if policy is not None else {}
    for key, value in table.items():
        if key in values and values[key] != value:
            raise ConfigError(
                f"policy file {policy}: [monitor] {key} = {value!r} disagrees with its window "
                f"rules ({values[key]!r}); set it in one place"
            )
        values[key] = value
    for key, value in overrides.items():
        if value is not None and value != ():
            values[key] = _check(key, value, "--" + key.replace("_", "-"))
    return MonitorSettings(**values)
