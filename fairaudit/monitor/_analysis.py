"""The monitor's judgement: every watched rate of every group against its reference, per window.

For each grouping (a sensitive feature or the intersection), each group other than the
grouping's reference group (the baseline's), and each watched rate (selection rate, true
and false positive rate), the windows' counts form one two-group stream. Two rules judge
it with the anytime-valid intervals of ``fairaudit.stats`` (``ratio_alarm``,
``drift_alarm``): the *window rule* (the group's rate over the reference's lies outside
``[ratio_min, 1 / ratio_min]``) and, with a tolerance, the *drift rule* (that ratio moved
more than the tolerance from the baseline's: the signed audit's counts, or with
``baseline_windows`` N the first N windows', the drift rule then watching the rest). The
error budget ``alpha`` is split equally over every (grouping, group, rate, rule) test
of the baseline's groups (Bonferroni; fixed before the first look, see ``family``), so
the chance of any false alarm anywhere in the report, over the whole monitoring period,
stays at most ``alpha``. Groups the baseline did not count are listed as unmonitored.

Beside them each window gets its ordinary 95% intervals (Wilson for rates, MOVER-R for the
ratio), labelled as valid for one look only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from fairaudit.errors import ConfigError
from fairaudit.monitor._settings import METRICS, MonitorSettings
from fairaudit.monitor._window import group_key, group_label

__all__ = ["analyse", "family", "family_keys"]


def _num(value: Any) -> float | None:
    """Return a finite float, or None (JSON has no NaN or infinity)."""
    number = float(value)
    return number if math.isfinite(number) else None


def _pair(value: np.ndarray) -> list[float | None]:
    return [_num(value[0]), _num(value[1])]


def _rates(counts: Sequence[Mapping[str, Any]], key: str, metric: str) -> tuple[int, int]:
    """Return (successes, trials) of ``metric`` for the group ``key`` in one window's counts."""
    numerator, denominator = METRICS[metric]
    for row in counts:
        if group_key(row["grouping"], row["group"]) == key:
            if row.get("pending") and metric != "selection_rate":
                return 0, 0  # labels not yet in: no evidence about label metrics
            return sum(row[k] for k in numerator), sum(row[k] for k in denominator)
    return 0, 0


def family(
    windows: Sequence[Any], baseline: Sequence[Mapping[str, Any]], groupings: Sequence[str]
) -> dict[str, list[tuple[str, dict[str, str]]]]:
    """Return the watched groups of each grouping (key, values): the baseline audit's groups,
    or without audit counts (a baseline from the data) the first window's.

    The family of tests, and so each test's share of alpha, is fixed once, before any
    window is judged: a group that turns up later is reported as unmonitored, never
    added to the split (that would widen earlier windows' intervals after the fact)."""
    found: dict[str, dict[str, dict[str, str]]] = {g: {} for g in groupings}
    source = baseline if baseline else (windows[0].counts if windows else [])
    for row in source:
        found.setdefault(row["grouping"], {})
        found[row["grouping"]].setdefault(group_key(row["grouping"], row["group"]), row["group"])
    return {g: list(groups.items()) for g, groups in found.items()}


def family_keys(baseline: Sequence[Mapping[str, Any]], groupings: Sequence[str]) -> list[str]:
    """Return the watched groups' keys of a baseline with counts (sorted; the state binds it)."""
    return sorted(key for members in family([], baseline, groupings).values() for key, _ in members)


def _unmonitored(
    windows: Sequence[Any], watched: Mapping[str, list[tuple[str, dict[str, str]]]]
) -> list[dict[str, Any]]:
    """Return the groups the windows hold that the family does not watch (first window)."""
    known = {key for members in watched.values() for key, _ in members}
    out: dict[str, dict[str, Any]] = {}
    for window in windows:
        for row in window.counts:
            key = group_key(row["grouping"], row["group"])
            if key not in known and key not in out:
                out[key] = {
                    "grouping": row["grouping"],
                    "group": row["group"],
                    "group_label": group_label(row["group"]),
                    "first_window": window.label,
                }
    return list(out.values())


def _tests(
    groups: Mapping[str, list[tuple[str, dict[str, str]]]],
    references: Mapping[str, Mapping[str, Any]],
) -> list[tuple[str, str, dict[str, str], str]]:
    """Return (grouping, group key, group, reference key) of every watched pair."""
    pairs = []
    for grouping, members in groups.items():
        reference = references.get(grouping)
        if reference is None:
            continue
        ref_key = group_key(grouping, reference)
        pairs += [(grouping, key, group, ref_key) for key, group in members if key != ref_key]
    return pairs


def _series(
    windows: Sequence[Any],
    pair: tuple[str, str, dict[str, str], str],
    metric: str,
    baseline: Sequence[Mapping[str, Any]],
) -> tuple[list[np.ndarray], tuple[int, int, int, int], list[np.ndarray]]:
    """Return the pair's count arrays over the windows, its baseline counts, and the trials
    its confidence sequences are tuned to.

    The tuning is the signed baseline audit's trials of each group (the reference's for a
    group the audit did not see), the same for every window: fixed before the first look,
    so a window that grows between looks (daily files feeding a week) keeps one sequence,
    and counting a log in one run or day by day gives the same intervals. A baseline from
    the data has no audit counts: the first window's trials are used (the guarantee is
    conditional on the trial counts, so tuning to them spends no error budget).
    """
    _, key, _, ref_key = pair
    per_window = [
        (*_rates(w.counts, key, metric), *_rates(w.counts, ref_key, metric)) for w in windows
    ]
    arrays = [np.array([row[i] for row in per_window], dtype=np.float64) for i in range(4)]
    base = (*_rates(baseline, key, metric), *_rates(baseline, ref_key, metric))
    first = per_window[0] if per_window else (0, 0, 0, 0)
    if not base[1] and not base[3]:  # a baseline from the data: tuned to the first window
        base_trials = (first[1], first[3])
    else:
        base_trials = (base[1], base[3])
    tuned = (base_trials[0] or base_trials[1], base_trials[1] or base_trials[0])
    tune = [np.full(len(windows), float(max(n, 1))) for n in tuned]
    return arrays, base, tune


def _alarm_json(alarm: Any, windows: Sequence[Any], head: dict[str, Any]) -> dict[str, Any]:
    return {
        **head,
        "rule": "window ratio" if alarm.rule == "ratio" else "drift",
        "window": windows[alarm.window].label,
        "window_seq": alarm.window + 1,
        "span_start": windows[alarm.start].label,
        "estimate": _num(alarm.estimate),
        "low": _num(alarm.low),
        "high": _num(alarm.high),
        "bound": _num(alarm.bound),
    }


def _judge(
    counts: list[np.ndarray],
    base: tuple[int, int, int, int],
    settings: MonitorSettings,
    share: float,
    tune: list[np.ndarray],
) -> list[Any]:
    """Return the alarms (window rule, then drift rule) of one pair's stream.

    With ``baseline_windows`` N, the drift rule watches the windows after the first N
    (their counts are the baseline) and says nothing before window N + 1.
    """
    from fairaudit.stats import drift_alarm, ratio_alarm

    horizon = settings.horizon
    boundary: Any = settings.boundary
    found = [
        ratio_alarm(
            counts,
            bound=settings.ratio_min,
            alpha=share,
            horizon=horizon,
            tune=tune,
            boundary=boundary,
        )
    ]
    skip = settings.baseline_windows or 0
    if settings.drift is not None and min(base[1:]) > 0 and len(counts[0]) > skip:
        watched = [c[skip:] for c in counts]
        drift = drift_alarm(
            watched,
            baseline=base,
            tolerance=settings.drift,
            alpha=share,
            horizon=horizon,
            tune=[t[skip:] for t in tune],
            boundary=boundary,
        )
        if drift is not None:
            found.append(replace(drift, window=drift.window + skip, start=drift.start + skip))
    return [a for a in found if a is not None]


def _window_baseline(
    counts: list[np.ndarray], base: tuple[int, int, int, int], settings: MonitorSettings
) -> tuple[tuple[int, int, int, int], str]:
    """Return the drift baseline's counts and where they come from (the audit or windows)."""
    n = settings.baseline_windows
    if n is None:
        return base, "audit"
    if len(counts[0]) < n:  # not yet: no drift judgement until the N windows are in
        return (0, 0, 0, 0), f"windows 1-{n} (not complete)"
    return tuple(int(c[:n].sum()) for c in counts), f"windows 1-{n}"  # type: ignore[return-value]


def _window_rows(
    windows: Sequence[Any],
    metric: str,
    counts: list[np.ndarray],
    settings: MonitorSettings,
    share: float,
    tune: list[np.ndarray],
) -> list[dict[str, Any]]:
    """Return each window's rates, ratio, naive 95% and anytime-valid intervals; a label
    metric of a window whose labels have not arrived is ``pending`` (no trials)."""
    from fairaudit.stats import span_intervals, window_intervals

    naive = window_intervals(counts)
    horizon = settings.horizon
    boundary: Any = settings.boundary
    anytime = span_intervals(
        counts, alpha=share, max_span=1, horizon=horizon, tune=tune, boundary=boundary
    )[:, 0]
    rows = []
    for t, window in enumerate(windows):
        rows.append(
            {
                "window": window.label,
                "pending": window.pending and metric != "selection_rate",
                "successes": int(counts[0][t]),
                "trials": int(counts[1][t]),
                "reference_successes": int(counts[2][t]),
                "reference_trials": int(counts[3][t]),
                "rate": _num(naive.rate1[t]),
                "rate_ci_95": _pair(naive.rate1_ci[t]),
                "reference_rate": _num(naive.rate2[t]),
                "reference_rate_ci_95": _pair(naive.rate2_ci[t]),
                "ratio": _num(naive.ratio[t]),
                "ratio_ci_95": _pair(naive.ratio_ci[t]),
                # no rows of the group or its reference this window: no data, no interval
                "ratio_anytime": _pair(anytime[t])
                if min(counts[1][t], counts[3][t])
                else [None, None],
            }
        )
    return rows


def _alarm_key(alarm: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (
        str(alarm.get("rule")),
        group_key(str(alarm.get("grouping")), alarm.get("group") or {}),
        group_key(str(alarm.get("grouping")), alarm.get("reference") or {}),
        str(alarm.get("metric")),
    )


def _keep(
    found: list[dict[str, Any]], kept: Sequence[Mapping[str, Any]], head: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Return the pair's alarms: those found now, and each rule's alarm an earlier run
    raised that the stored windows no longer show (a window grown or filled with labels
    since): an alarm, once raised, stays in every later report."""
    mine = {_alarm_key(a): dict(a) for a in kept if _alarm_key(a)[1:] == _alarm_key(head)[1:]}
    for alarm in found:
        mine.pop(_alarm_key(alarm), None)
    return found + list(mine.values())


def analyse(
    windows: Sequence[Any],
    baseline: Sequence[Mapping[str, Any]],
    references: Mapping[str, Mapping[str, Any]],
    groupings: Sequence[str],
    settings: MonitorSettings,
    kept: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Return the report's ``tests``, ``alarms``, ``series`` and ``unmonitored`` groups for
    the stored ``windows``; ``kept`` are the alarms earlier runs raised, which stay when
    the windows no longer show an alarm of the same rule, group and rate."""
    watched = family(windows, baseline, groupings)
    pairs = _tests(watched, references)
    rules = 2 if settings.drift is not None else 1
    tests = max(1, len(pairs) * len(settings.metrics) * rules)
    share = settings.alpha / tests
    series, alarms = [], []
    for pair in pairs:
        grouping, _, group, ref_key = pair
        reference = dict(references[grouping])
        for metric in settings.metrics:
            counts, audit_base, tune = _series(windows, pair, metric, baseline)
            base, source = _window_baseline(counts, audit_base, settings)
            head = {
                "grouping": grouping,
                "group": group,
                "group_label": group_label(group),
                "reference": reference,
                "reference_label": group_label(reference),
                "metric": metric,
            }
            try:
                found = _judge(counts, base, settings, share, tune) if windows else []
                rows = (
                    _window_rows(windows, metric, counts, settings, share, tune) if windows else []
                )
            except ValueError as e:  # a spent horizon: one line, not a traceback
                raise ConfigError(f"monitor: {e}") from None
            pair_alarms = _keep([_alarm_json(a, windows, head) for a in found], kept, head)
            alarms += pair_alarms
            base_ratio = (
                (base[0] / base[1]) / (base[2] / base[3]) if min(base[1:]) > 0 and base[2] else None
            )
            series.append(
                {
                    **head,
                    "baseline": {
                        "successes": base[0],
                        "trials": base[1],
                        "reference_successes": base[2],
                        "reference_trials": base[3],
                        "ratio": None if base_ratio is None else _num(base_ratio),
                        "source": source,
                    },
                    "windows": rows,
                    "alarms": pair_alarms,
                }
            )
    alarms.sort(key=lambda a: (a["window_seq"], a["grouping"], a["group_label"], a["metric"]))
    return {
        "tests": tests,
        "alpha_per_test": share,
        "alarms": alarms,
        "series": series,
        "unmonitored": _unmonitored(windows, watched),
    }
