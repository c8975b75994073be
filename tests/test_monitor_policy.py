"""Policy ``[[rule]]``s with ``scope = "window"``: judged by ``fairaudit monitor``, skipped by
an audit's policy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fairaudit.errors import ConfigError
from fairaudit.monitor import settings_from
from fairaudit.policy import load_policy
from tests.test_monitor import monitor, signed, valid, window

__all__ = ["signed"]  # the fixture, shared with test_monitor

WINDOW_RULES = """
[[rule]]
metric = "demographic_parity_ratio"
min = 0.7

[[rule]]
scope = "window"
metric = "demographic_parity_ratio"
min = 0.8
drift = 0.1

[[rule]]
scope = "window"
metric = "equal_opportunity_ratio"
min = 0.8
drift = 0.1
"""


def test_window_rules_set_the_monitor_and_an_audit_skips_them(signed, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(WINDOW_RULES)
    settings = settings_from(policy, {})
    assert settings.metrics == ("selection_rate", "true_positive_rate")
    assert (settings.ratio_min, settings.drift) == (0.8, 0.1)
    assert [r.metric for r in load_policy([str(policy)]).rules] == ["demographic_parity_ratio"]
    assert settings_from(policy, {"ratio_min": 0.9}).ratio_min == 0.9  # the command line wins
    data = window(tmp_path / "w1.csv", np.random.default_rng(21), ratio=0.5)
    result = monitor(signed, data, tmp_path, "--policy", policy, "--no-ledger")
    assert result.exit_code == 3, result.output
    assert "selection_rate ratio" in result.output
    document = valid(json.loads((tmp_path / "monitor.json").read_text()))
    assert document["settings"]["metrics"] == ["selection_rate", "true_positive_rate"]
    assert {a["metric"] for a in document["alarms"]} <= {"selection_rate", "true_positive_rate"}


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ('metric = "roc_auc_ratio"\nmin = 0.8', "metric must be one of demographic_parity_ratio"),
        ('metric = "demographic_parity_ratio"\nmin = 1.5', "min must be a number strictly"),
        ('metric = "demographic_parity_ratio"\nmax = 1.2', "unknown key 'max'"),
        (
            'metric = "demographic_parity_ratio"\nmin = 0.8\n[[rule]]\nscope = "window"\n'
            'metric = "false_positive_rate_ratio"\nmin = 0.7',
            "different min values",
        ),
    ],
)
def test_bad_window_rules_are_one_line_errors(tmp_path: Path, rules: str, message: str) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(f'[[rule]]\nscope = "window"\n{rules}\n')
    with pytest.raises(ConfigError, match=message) as caught:
        settings_from(policy, {})
    assert "rule 1" in str(caught.value) or "window rules" in str(caught.value)


def test_a_monitor_table_that_disagrees_with_the_window_rules_is_refused(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(WINDOW_RULES + "\n[monitor]\nratio_min = 0.9\nalpha = 0.01\n")
    with pytest.raises(ConfigError, match=r"\[monitor\] ratio_min = 0.9 disagrees"):
        settings_from(policy, {})
    policy.write_text(WINDOW_RULES + "\n[monitor]\nratio_min = 0.8\nalpha = 0.01\n")
    assert settings_from(policy, {}).alpha == 0.01


def test_another_scope_is_still_an_unknown_key_for_the_audit(tmp_path: Path) -> None:
    from fairaudit.policy import PolicyError

    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[[rule]]\nscope = "weekly"\nmetric = "demographic_parity_ratio"\nmin = 0.8\n'
    )
    with pytest.raises(PolicyError, match="unknown key 'scope'"):
        load_policy([str(policy)])
