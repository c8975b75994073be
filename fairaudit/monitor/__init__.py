"""Continuous fairness monitoring (``fairaudit monitor``): the same audit, window after window.

Modules, in import order: ``_settings`` (what is watched and the rules' parameters, from
options or a policy's ``[monitor]`` table), ``_window`` (one window's file audited with the
baseline's options, reduced to per-group counts), ``_baseline`` (the signed pre-release
audit, verified), ``_state`` (the hash-chained SQLite state of every counted window),
``_analysis`` (anytime-valid alarms per grouping, group and rate), ``_chart`` and
``_report`` (the page, JSON, signature, ledger entry and JUnit), ``_run`` (one run, in
order). Method and guarantee: docs/monitoring.md.
"""

from __future__ import annotations

from fairaudit.monitor._baseline import data_baseline
from fairaudit.monitor._report import MONITOR_SCHEMA_VERSION, alarm_line, monitor_schema_path
from fairaudit.monitor._run import MonitorRun, WindowSource, run_monitor
from fairaudit.monitor._settings import METRICS, MonitorSettings, settings_from
from fairaudit.monitor._state import STATE_FILE_NAME, StateError
from fairaudit.monitor._window import parse_window

__all__ = [
    "METRICS",
    "MONITOR_SCHEMA_VERSION",
    "STATE_FILE_NAME",
    "MonitorRun",
    "MonitorSettings",
    "StateError",
    "WindowSource",
    "alarm_line",
    "data_baseline",
    "monitor_schema_path",
    "parse_window",
    "run_monitor",
    "settings_from",
]
