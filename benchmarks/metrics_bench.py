"""Benchmark of the metrics engine against a bare ``np.bincount`` and fairlearn's MetricFrame.

The stage timed here goes from per-feature integer group codes plus ``y_true`` and
``y_pred`` to every per-group confusion metric of each sensitive feature and of their
intersection, plus the headline disparities:
``count_groups`` -> ``build_tables`` -> ``headline_metrics`` for each table.

Two anchors are timed in the same run on the same data:

* the floor: one bare ``np.bincount`` over the combined code
  ``intersectional key * 4 + confusion cell``, precomputed outside the timed region;
* fairlearn: one ``MetricFrame`` over both features (the intersection) plus one per
  single feature, with the same metrics and their between-groups differences and ratios.

The script also checks that our figures agree with MetricFrame's.

Run from the repository root::

    PYTHONPATH=. python benchmarks/metrics_bench.py            # 1,000,000 rows
    PYTHONPATH=. python benchmarks/metrics_bench.py --rows 100000
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import statistics
import subprocess
import sys
import time
import timeit
import warnings
from collections.abc import Callable

import fairlearn
import numpy as np
import pandas as pd
import sklearn
from fairlearn.metrics import (
    MetricFrame,
    count,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_negative_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, precision_score

from fairaudit.counts import count_groups
from fairaudit.measure import build_tables, headline_metrics
from fairaudit.vocabulary import INTERSECTION

FEATURES = ("sex", "age_band")
LEVELS = (("female", "male"), ("<25", "25-34", "35-44", "45-54", "55+"))
LEVEL_SHARES = ((0.48, 0.52), (0.15, 0.25, 0.25, 0.20, 0.15))

#: Targets: ours within this many times the bare bincount ...
FLOOR_TARGET = 3.0
#: ... and at least this many times faster than MetricFrame.
FAIRLEARN_TARGET = 100.0
#: Largest absolute difference allowed between our values and MetricFrame's.
TOLERANCE = 1e-12


def base_rate(y_true, y_pred) -> float:
    """Share of rows whose true label is positive (fairlearn has no such metric)."""
    return selection_rate(y_true, y_true)


def precision(y_true, y_pred) -> float:
    return precision_score(y_true, y_pred, zero_division=np.nan)


def f1(y_true, y_pred) -> float:
    return f1_score(y_true, y_pred, zero_division=np.nan)


#: Our metric name -> the fairlearn / scikit-learn function computing it.
FAIRLEARN_METRICS: dict[str, Callable] = {
    "count": count,
    "base_rate": base_rate,
    "selection_rate": selection_rate,
    "accuracy": accuracy_score,
    "balanced_accuracy": balanced_accuracy_score,
    "true_positive_rate": true_positive_rate,
    "false_positive_rate": false_positive_rate,
    "true_negative_rate": true_negative_rate,
    "false_negative_rate": false_negative_rate,
    "precision": precision,
    "f1": f1,
}


def make_data(n_rows: int, seed: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Return int8 group codes per feature and int8 0/1 labels and predictions.

    Base rate, true positive rate and false positive rate all depend on the group, so
    every headline disparity is non-zero.
    """
    rng = np.random.default_rng(seed)
    codes = [
        rng.choice(len(lv), size=n_rows, p=p).astype(np.int8)
        for lv, p in zip(LEVELS, LEVEL_SHARES, strict=True)
    ]
    sex, age = codes
    p_label = 0.30 + 0.04 * age + 0.05 * sex
    y_true = rng.random(n_rows) < p_label
    tpr = 0.80 - 0.10 * sex - 0.03 * age
    fpr = 0.10 + 0.06 * sex + 0.01 * age
    y_pred = rng.random(n_rows) < np.where(y_true, tpr, fpr)
    return codes, y_true.astype(np.int8), y_pred.astype(np.int8)


def run_engine(codes: list[np.ndarray], y_true: np.ndarray, y_pred: np.ndarray):
    """The timed stage: counts, every table's metrics and the headline disparities."""
    group_counts = count_groups(FEATURES, codes, LEVELS, y_true, y_pred)
    overall, tables = build_tables(group_counts)
    return overall, tables, [headline_metrics(t) for t in tables]


def run_fairlearn(sensitive: pd.DataFrame, y_true: np.ndarray, y_pred: np.ndarray):
    """The same work with fairlearn: one MetricFrame per single feature and one for both."""
    frames = {}
    for name, columns in [(f, [f]) for f in FEATURES] + [(INTERSECTION, list(FEATURES))]:
        sf = sensitive[columns[0]] if len(columns) == 1 else sensitive[columns]
        mf = MetricFrame(
            metrics=FAIRLEARN_METRICS, y_true=y_true, y_pred=y_pred, sensitive_features=sf
        )
        frames[name] = (mf, mf.difference(), mf.ratio())
    return frames


def fairlearn_headlines(difference: pd.Series, ratio: pd.Series) -> dict[str, float]:
    """fairlearn's six headline metrics, from a MetricFrame's between-groups figures."""
    return {
        "demographic_parity_difference": difference["selection_rate"],
        "demographic_parity_ratio": ratio["selection_rate"],
        "equalized_odds_difference": max(
            difference["true_positive_rate"], difference["false_positive_rate"]
        ),
        "equalized_odds_ratio": min(ratio["true_positive_rate"], ratio["false_positive_rate"]),
        "equal_opportunity_difference": difference["true_positive_rate"],
        "equal_opportunity_ratio": ratio["true_positive_rate"],
    }


def check_agreement(ours, theirs) -> tuple[float, int]:
    """Assert that our values match MetricFrame's; return (max abs diff, values compared)."""
    overall, tables, headlines = ours
    worst = 0.0
    compared = 0

    def compare(a: float, b: float, what: str) -> None:
        nonlocal worst, compared
        a, b = float(a), float(b)
        assert np.isnan(a) == np.isnan(b), f"{what}: ours {a}, fairlearn {b}"
        if not np.isnan(a):
            worst = max(worst, abs(a - b))
            compared += 1

    for table, heads in zip(tables, headlines, strict=True):
        mf, difference, ratio = theirs[table.name]
        by_group = mf.by_group
        assert len(by_group) == len(table.groups), table.name
        for i, group in enumerate(table.groups):
            key = tuple(group[f] for f in table.features)
            row = by_group.loc[key[0] if len(key) == 1 else key]
            for metric in FAIRLEARN_METRICS:
                compare(table.values[metric][i], row[metric], f"{table.name} {key} {metric}")
        for metric in FAIRLEARN_METRICS:
            compare(overall[metric], mf.overall[metric], f"overall {metric}")
        for name, value in fairlearn_headlines(difference, ratio).items():
            compare(heads[name], value, f"{table.name} {name}")
    assert worst < TOLERANCE, f"max abs diff {worst:.3g} >= {TOLERANCE}"
    return worst, compared


def time_interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list]:
    """Per-call seconds of each function over ``repeats`` timeit-style repeats.

    Each function's loop count is sized (as ``timeit`` does) so one repeat takes at least
    0.2 s; the repeats of the functions are interleaved, so a burst of load from other
    processes hits all of them alike. The garbage collector is off while timing.
    """
    timers = {name: timeit.Timer(fn) for name, fn in fns.items()}
    numbers = {name: timer.autorange()[0] for name, timer in timers.items()}
    times: dict[str, list] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, timer in timers.items():
            times[name].append(timer.timeit(numbers[name]) / numbers[name])
    return times


def time_slow(fn: Callable[[], object], repeats: int) -> tuple[list[float], object]:
    """Seconds of each of ``repeats`` single calls (gc off), and the first call's result."""
    times, first = [], None
    for i in range(repeats):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
        if i == 0:
            first = result
        del result
    return times, first


def machine() -> dict[str, str]:
    """Facts about this machine and the library versions, for the README."""
    model = "unknown"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    ram = "unknown"
    try:
        with open("/proc/meminfo") as meminfo:
            kib = int(meminfo.readline().split()[1])
        ram = f"{kib / 2**20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "ram": ram,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "fairlearn": fairlearn.__version__,
        "scikit-learn": sklearn.__version__,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE", "(unset)"),
        "load average (1, 5, 15 min)": load_average(),
    }


def load_average() -> str:
    """The machine's load average: other processes' work skews every timing."""
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def fmt_time(seconds: float) -> str:
    return f"{seconds * 1e3:,.2f} ms" if seconds < 1 else f"{seconds:,.1f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=7, help="repeats for ours and the floor")
    parser.add_argument(
        "--fairlearn-rows",
        type=int,
        default=100_000,
        help="rows given to MetricFrame, the first ones of the same data (default 100,000: "
        "MetricFrame takes about 5 minutes per call at 1,000,000 rows); ours is also timed "
        "on them, for the fairlearn / ours ratio",
    )
    parser.add_argument(
        "--fairlearn-repeats", type=int, default=3, help="repeats for MetricFrame (default 3)"
    )
    parser.add_argument("--seed", type=int, default=20261128)
    args = parser.parse_args(argv)
    fl_rows = min(args.fairlearn_rows, args.rows)
    wall = time.perf_counter()

    print(f"# metrics engine benchmark, {dt.date.today().isoformat()}")
    print(f"command: {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    for key, value in machine().items():
        print(f"{key}: {value}")

    codes, y_true, y_pred = make_data(args.rows, args.seed)
    sizes = [len(lv) for lv in LEVELS]
    # The floor's input: intersectional key * 4 + confusion cell, built before timing.
    key = codes[0].astype(np.int64) * sizes[1] + codes[1]
    combined = key * 4 + 2 * y_true.astype(np.int64) + y_pred
    n_bins = sizes[0] * sizes[1] * 4
    described = ", ".join(f"{f} ({n} levels)" for f, n in zip(FEATURES, sizes, strict=True))
    print(f"data: {args.rows:,} rows; {described}; int8 codes, int8 0/1 y_true and y_pred")

    # The floor and ours must count the same thing.
    ours = run_engine(codes, y_true, y_pred)
    floor_counts = np.bincount(combined, minlength=n_bins).reshape(-1, 4)
    assert np.array_equal(floor_counts, ours[1][-1].counts), "floor and engine counts differ"

    fl_codes = [c[:fl_rows] for c in codes]
    fl_true, fl_pred = y_true[:fl_rows], y_pred[:fl_rows]
    fns = {
        "floor": lambda: np.bincount(combined, minlength=n_bins),
        "ours": lambda: run_engine(codes, y_true, y_pred),
    }
    if fl_rows < args.rows:
        fns["ours_fl"] = lambda: run_engine(fl_codes, fl_true, fl_pred)
    times = time_interleaved(fns, args.repeats)
    times.setdefault("ours_fl", times["ours"])

    sensitive = pd.DataFrame(
        {
            f: pd.Categorical.from_codes(c, categories=list(lv))
            for f, c, lv in zip(FEATURES, fl_codes, LEVELS, strict=True)
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fairlearn's and pandas' deprecation notices
        fl_times, theirs = time_slow(
            lambda: run_fairlearn(sensitive, fl_true, fl_pred), args.fairlearn_repeats
        )
    worst, compared = check_agreement(run_engine(fl_codes, fl_true, fl_pred), theirs)
    print(
        f"agreement with MetricFrame on {fl_rows:,} rows: {compared} values "
        f"(every group, overall and headline), max abs diff {worst:.2e}"
    )

    rows = [
        ("floor: bare np.bincount", args.rows, times["floor"]),
        ("ours: count_groups + build_tables + headline_metrics", args.rows, times["ours"]),
    ]
    if fl_rows < args.rows:
        rows.append(("ours, on fairlearn's rows", fl_rows, times["ours_fl"]))
    rows.append(("fairlearn: 3 MetricFrames + difference/ratio", fl_rows, fl_times))
    print()
    print("| what | rows | repeats | best | median |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, n, ts in rows:
        best, median = fmt_time(min(ts)), fmt_time(statistics.median(ts))
        print(f"| {name} | {n:,} | {len(ts)} | {best} | {median} |")
    ours_over_floor = statistics.median(times["ours"]) / statistics.median(times["floor"])
    fl_over_ours = statistics.median(fl_times) / statistics.median(times["ours_fl"])
    print()
    verdict = "met" if ours_over_floor <= FLOOR_TARGET else "MISSED"
    print(
        f"ours / floor (medians, {args.rows:,} rows): {ours_over_floor:.2f}x "
        f"(target <= {FLOOR_TARGET:g}x: {verdict})"
    )
    verdict = "met" if fl_over_ours >= FAIRLEARN_TARGET else "MISSED"
    print(
        f"fairlearn / ours (medians, {fl_rows:,} rows): {fl_over_ours:,.0f}x "
        f"(target >= {FAIRLEARN_TARGET:g}x: {verdict})"
    )
    print(f"load average at the end (1, 5, 15 min): {load_average()}")
    print(f"wall time: {time.perf_counter() - wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
