"""Monitoring study (issue 20): alarm delay after a change, and false alarms over 52 looks.

Each stream is 52 weekly windows of 5,000 rows, split between a watched group and the
reference group (60/40 by default: 2,000 and 3,000 rows a week). Both select at rate 0.5
in weeks 1-30; from week 31 the watched group's rate falls so that the selection-rate
ratio goes from 1.0 to 0.7, as a step (week 31 on) or a ramp (0.95, 0.90, ... 0.70 in
weeks 31-36). Null streams never change: ratio 1.0 (the issue's "no drift") and ratio
0.8 held exactly at the policy bound (the hardest stream that still meets the policy,
so any alarm on it is false).

Rules compared, all judging "min / max selection-rate ratio >= 0.8" every week:

* ``anytime``: ``fairaudit.stats.ratio_alarm`` (restarted confidence sequences with the
  error budget spent over starts, alpha = 0.05);
* ``anytime, 52-week horizon``: the same with ``horizon=52`` (alpha / 52 per start);
* ``anytime, Bernoulli boundary`` (with and without the horizon): ``ratio_alarm(...,
  boundary="bernoulli")``, the Chernoff-mixture boundary for low rates (slow: about 0.8 s
  a stream; use ``--streams 100``);
* ``cumulative CS``: the confidence sequence since week 1 (``pair_sequence``) wholly
  outside [0.8, 1.25];
* ``naive interval``: the week's own 95% MOVER-R (Wilson) interval wholly outside
  [0.8, 1.25] (``window_intervals``);
* ``naive point``: the week's point estimate of min / max below 0.8.

The drift part uses weeks 1-4 as the baseline and watches weeks 5-52: ``drift_alarm``
(baseline counts at alpha / 2) against the naive rule "the week's 95% interval lies more
than the tolerance away from the baseline's point estimate".

Alarm weeks are 1-based: the change happens in week 31 and "within 4 windows" means an
alarm by week 34. The ramp's true ratio is first below 0.8 in week 35 (0.75). Usage::

    PYTHONPATH=. python benchmarks/monitor_study.py [--streams 1000] [--split 0.6] [--seed 20]
        [--rate 0.5]
    PYTHONPATH=. python benchmarks/monitor_study.py --command --streams 100 [--horizon 52]

``--command`` runs the third part only: ``fairaudit monitor``'s own judgement
(``fairaudit.monitor._analysis.analyse``) on per-group confusion counts, with its default
rules, against the naive per-week 95% intervals of the same checks.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from fairaudit.stats import drift_alarm, pair_sequence, ratio_alarm, window_intervals

WEEKS, ROWS, CHANGE, BOUND, ALPHA, BASELINE_WEEKS = 52, 5000, 30, 0.8, 0.05, 4
Counts = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def ratio_path(kind: str) -> np.ndarray:
    """Return the true selection-rate ratio of each week for a scenario."""
    path = np.ones(WEEKS)
    if kind == "step":
        path[CHANGE:] = 0.7
    elif kind == "ramp":
        path[CHANGE:] = np.maximum(0.7, 1.0 - 0.05 * np.arange(1, WEEKS - CHANGE + 1))
    elif kind == "bound":
        path[:] = BOUND
    return path


def stream(rng: np.random.Generator, ratio: np.ndarray, share: float, rate: float) -> Counts:
    """Return one stream's weekly counts (watched group first), reference rate ``rate``."""
    n1 = np.full(WEEKS, round(ROWS * (1 - share)))
    n2 = np.full(WEEKS, ROWS - n1[0])
    return rng.binomial(n1, rate * ratio), n1, rng.binomial(n2, rate), n2


def first_week(fired: np.ndarray) -> int | None:
    """Return the 1-based week of the first True, or None."""
    hits = np.flatnonzero(fired)
    return int(hits[0]) + 1 if len(hits) else None


def outside(interval: np.ndarray) -> np.ndarray:
    """Return where a ratio interval lies wholly outside [BOUND, 1 / BOUND]."""
    with np.errstate(invalid="ignore"):
        return (interval[:, 1] < BOUND) | (interval[:, 0] > 1 / BOUND)


def ratio_rules() -> dict[str, Callable[[Counts], int | None]]:
    """Return the min-ratio rules compared, each mapping a stream to its alarm week."""

    def anytime(c: Counts) -> int | None:
        alarm = ratio_alarm(c, bound=BOUND, alpha=ALPHA)
        return None if alarm is None else alarm.window + 1

    def horizon(c: Counts) -> int | None:
        alarm = ratio_alarm(c, bound=BOUND, alpha=ALPHA, horizon=WEEKS)
        return None if alarm is None else alarm.window + 1

    def naive_point(c: Counts) -> int | None:
        ratio = window_intervals(c).ratio
        return first_week(np.minimum(ratio, 1 / ratio) < BOUND)

    def bernoulli(c: Counts, weeks: int | None = None) -> int | None:
        alarm = ratio_alarm(c, bound=BOUND, alpha=ALPHA, horizon=weeks, boundary="bernoulli")
        return None if alarm is None else alarm.window + 1

    return {
        "anytime (this work)": anytime,
        "anytime, 52-week horizon declared": horizon,
        "anytime, Bernoulli boundary": bernoulli,
        "anytime, Bernoulli boundary, 52-week horizon": lambda c: bernoulli(c, WEEKS),
        "cumulative CS since week 1": lambda c: first_week(outside(pair_sequence(c))),
        "naive 95% interval per week": lambda c: first_week(outside(window_intervals(c).ratio_ci)),
        "naive point estimate per week": naive_point,
    }


def drift_rules(tolerance: float) -> dict[str, Callable[[Counts], int | None]]:
    """Return the drift rules (baseline = weeks 1-4), each mapping a stream to its week."""

    def split(c: Counts) -> tuple[tuple[int, int, int, int], Counts]:
        base = tuple(int(a[:BASELINE_WEEKS].sum()) for a in c)
        return base, tuple(a[BASELINE_WEEKS:] for a in c)  # type: ignore[return-value]

    def anytime(c: Counts) -> int | None:
        base, rest = split(c)
        alarm = drift_alarm(rest, baseline=base, tolerance=tolerance, alpha=ALPHA)
        return None if alarm is None else alarm.window + 1 + BASELINE_WEEKS

    def naive(c: Counts) -> int | None:
        base, rest = split(c)
        value = (base[0] / base[1]) / (base[2] / base[3])
        ci = window_intervals(rest).ratio_ci
        fired = (ci[:, 1] < value - tolerance) | (ci[:, 0] > value + tolerance)
        week = first_week(fired)
        return None if week is None else week + BASELINE_WEEKS

    return {"anytime (this work)": anytime, "naive 95% interval per week": naive}


def run(rules: dict, kind: str, args: argparse.Namespace, seed: int) -> dict[str, list]:
    """Return each rule's alarm weeks over ``args.streams`` streams of scenario ``kind``."""
    rng = np.random.default_rng(seed)
    data = [stream(rng, ratio_path(kind), args.split, args.rate) for _ in range(args.streams)]
    return {name: [rule(c) for c in data] for name, rule in rules.items()}


def delay_cells(weeks: list) -> str:
    """Return "median alarm week (share by week 34, latest)"; early alarms counted apart.

    Streams whose first alarm came before week 31 (false alarms, the change had not
    happened) are left out of the median and reported as a share.
    """
    early = np.mean([w is not None and w <= CHANGE for w in weeks])
    late = [w if w is not None else 10**6 for w in weeks if w is None or w > CHANGE]
    if not late or min(late) == 10**6:
        return "never" + (f"; {early:.1%} alarmed before wk 31" if early else "")
    caught = [w for w in late if w < 10**6]
    median = np.median(late)
    text = "never" if median >= 10**6 else f"wk {median:g}"
    text += f" ({np.mean(np.array(late) <= CHANGE + 4):.1%} by wk 34, latest {max(caught)}"
    text += f", {len(late) - len(caught)} never)" if len(caught) < len(late) else ")"
    return text + (f"; {early:.1%} alarmed before wk 31" if early else "")


def false_cells(weeks: list) -> str:
    """Return the share of null streams with any alarm."""
    return f"{np.mean([w is not None for w in weeks]):.1%}"


def confusion(rng: np.random.Generator, rows: int, share: float, rate: float, ratio: float) -> list:
    """Return one window's per-group confusion counts as ``fairaudit monitor`` stores them.

    Labels are 1 with probability 0.5; predictions are independent of labels, so the
    selection, true positive and false positive rates of a group are all its rate.
    """
    out = []
    for group, n, r in (("f", round(rows * (1 - share)), rate * ratio), ("m", None, rate)):
        n = rows - round(rows * (1 - share)) if n is None else n
        positives = int(rng.binomial(n, 0.5))
        tp, fp = int(rng.binomial(positives, r)), int(rng.binomial(n - positives, r))
        counts = {"tp": tp, "fn": positives - tp, "fp": fp, "tn": n - positives - fp}
        out.append({"grouping": "sex", "group": {"sex": group}, **counts})
    return out


def command_part(args: argparse.Namespace) -> None:
    """Print the alarm weeks of the command's own rules on per-group confusion counts.

    ``fairaudit monitor``'s defaults: three rates (selection, TPR, FPR), the window rule
    (ratio within [0.8, 1.25]) and the drift rule (tolerance 0.1 from a 5,000-row
    baseline audit), alpha = 0.05 split over the 6 tests; against the naive rule that
    fires when any of the same 6 checks fails on a week's own 95% interval.
    """
    from types import SimpleNamespace

    from fairaudit.monitor._analysis import analyse
    from fairaudit.monitor._settings import MonitorSettings

    settings = MonitorSettings(drift=0.1, horizon=args.horizon)
    references = {"sex": {"sex": "m"}}
    horizon = f", horizon {args.horizon}" if args.horizon else ""
    print(
        "\nThe command's rules (3 rates x window ratio + drift 0.1 vs a 5,000-row baseline"
        f"{horizon}), {args.streams} streams each:\n"
    )
    print("| rule | step 1.0 -> 0.7 at wk 31 | false alarms, ratio 1.0 | false alarms, ratio 0.8 |")
    print("| --- | --- | --- | --- |")
    cells: dict[str, list[str]] = {"fairaudit monitor": [], "naive 95% interval each week": []}
    for i, kind in enumerate(("step", "none", "bound")):
        rng = np.random.default_rng(args.seed + 30 + i)
        path = ratio_path(kind)
        weeks: dict[str, list] = {name: [] for name in cells}
        for _ in range(args.streams):
            base = confusion(rng, ROWS, args.split, args.rate, path[0])
            windows = [
                SimpleNamespace(
                    label=f"w{t + 1}", counts=confusion(rng, ROWS, args.split, args.rate, path[t])
                )
                for t in range(WEEKS)
            ]
            found = analyse(windows, base, references, ["sex"], settings)
            seqs = [a["window_seq"] for a in found["alarms"]]
            weeks["fairaudit monitor"].append(min(seqs) if seqs else None)
            weeks["naive 95% interval each week"].append(naive_week(found["series"], settings))
        for name, found_weeks in weeks.items():
            cells[name].append(
                delay_cells(found_weeks) if kind == "step" else false_cells(found_weeks)
            )
    for name, row in cells.items():
        print(f"| {name} | {' | '.join(row)} |")


def naive_week(series: list, settings: object) -> int | None:
    """Return the first week where a week's own 95% ratio interval breaks a rule, or None."""
    first = None
    for entry in series:
        base = entry["baseline"]["ratio"]
        for t, row in enumerate(entry["windows"]):
            low, high = row["ratio_ci_95"]
            if low is None or high is None:
                continue
            broken = high < 0.8 or low > 1.25
            broken |= base is not None and (high < base - 0.1 or low > base + 0.1)
            if broken:
                first = t + 1 if first is None else min(first, t + 1)
                break
    return first


def main() -> None:
    """Run both parts of the study and print markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--split", type=float, default=0.6, help="reference group's share")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--rate", type=float, default=0.5, help="reference selection rate")
    parser.add_argument("--command", action="store_true", help="only the command's rules")
    parser.add_argument("--horizon", type=int, help="the command's declared horizon (weeks)")
    args = parser.parse_args()
    if args.streams < 1 or not 0 < args.split < 1 or not 0 < args.rate <= 1:
        parser.error("need --streams >= 1, 0 < --split < 1 and 0 < --rate <= 1")
    start = time.perf_counter()
    if args.command:
        command_part(args)
        print(f"\n({time.perf_counter() - start:.1f} s)")
        return
    n1 = round(ROWS * (1 - args.split))
    print(
        f"{args.streams} streams per scenario, {WEEKS} weeks of {ROWS} rows "
        f"({n1} watched / {ROWS - n1} reference), reference selection rate {args.rate}, "
        f"alpha = {ALPHA}, seed {args.seed}\n"
    )
    print(
        "Rule: min/max selection-rate ratio >= 0.8. Cells: median alarm week (share of "
        "streams alarmed by week 34, latest alarm week).\n"
    )
    print(
        "| rule | step 1.0 -> 0.7 at wk 31 | ramp to 0.7 over wk 31-36 "
        "| false alarms, ratio 1.0 | false alarms, ratio 0.8 (at bound) |"
    )
    print("| --- | --- | --- | --- | --- |")
    results = {
        k: run(ratio_rules(), k, args, args.seed + i)
        for i, k in enumerate(("step", "ramp", "none", "bound"))
    }
    for name in ratio_rules():
        print(
            f"| {name} | {delay_cells(results['step'][name])} | "
            f"{delay_cells(results['ramp'][name])} | {false_cells(results['none'][name])} | "
            f"{false_cells(results['bound'][name])} |"
        )
    print("\nRule: drift of the ratio from the baseline (weeks 1-4), watching weeks 5-52.\n")
    print("| rule | tolerance | step 1.0 -> 0.7 at wk 31 | false alarms, no drift |")
    print("| --- | --- | --- | --- |")
    for tolerance in (0.0, 0.1):
        rules = drift_rules(tolerance)
        step = run(rules, "step", args, args.seed + 10)
        none = run(rules, "none", args, args.seed + 11)
        for name in rules:
            print(
                f"| {name} | {tolerance} | {delay_cells(step[name])} | {false_cells(none[name])} |"
            )
    print(f"\n({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
