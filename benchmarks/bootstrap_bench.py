"""Benchmark of the uncertainty stage (``fairaudit.stats.compute_uncertainty``).

Times, in one run on the same machine:

1. the count bootstrap at scale: 1,000 resamples for 10,000,000 rows in 20
   intersectional groups (two features, 5 x 4 levels), from the GroupCounts onwards,
   i.e. what uncertainty adds to the metrics stage (target: under 1 second); also the
   bare ``Generator.multinomial`` draw and the metrics stage itself for scale;
2. the same pipeline against fairlearn's ``MetricFrame(..., n_boot=, ci_quantiles=)``
   at a size MetricFrame handles (10,000 rows, 100 resamples), with the ratio;
3. the analytic score-metric intervals (DeLong for ROC AUC, CLT for the Brier score) at
   100,000 and 1,000,000 rows, against the stratified row bootstrap they replaced
   (timed with 100 resamples at 100,000 rows and extrapolated: its cost is linear in
   resamples, and per row it grows once the rows no longer fit in cache).

Run from the repository root (about 2 minutes)::

    PYTHONPATH=. python benchmarks/bootstrap_bench.py
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
from collections.abc import Callable
from functools import partial

import fairlearn
import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

from fairaudit.counts import count_groups
from fairaudit.measure import build_tables, disparities_vs_reference
from fairaudit.stats import bootstrap_score_metrics, compute_uncertainty
from fairaudit.vocabulary import CONFUSION_METRICS

METRICS = [m for m in CONFUSION_METRICS if m != "count"]


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Return the fastest of ``repeat`` wall-clock timings of ``fn()``, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def make_rows(
    n: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return codes a (5 levels), b (4 levels), labels, scores and predictions."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 5, n)
    b = rng.integers(0, 4, n)
    y = rng.random(n) < 0.3 + 0.05 * b
    score = np.clip(0.4 * y + 0.6 * rng.random(n) - 0.03 * a, 0, 1)
    return a, b, y, score, score > 0.45


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(
            (ln.split(":", 1)[1].strip() for ln in lscpu.splitlines() if "Model name" in ln),
            platform.processor(),
        )
    except OSError:
        model = platform.processor()
    return (
        f"{model}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"numpy {np.__version__}, pandas {pd.__version__}, fairlearn {fairlearn.__version__}"
    )


def bench_scale(n_rows: int, n_resamples: int) -> None:
    a, b, y, _, y_pred = make_rows(n_rows, seed=0)
    levels = [[f"a{i}" for i in range(5)], [f"b{i}" for i in range(4)]]
    gc = count_groups(["a", "b"], [a, b], levels, y, y_pred)
    del a, b, y, y_pred

    def metrics_stage():
        _, tables = build_tables(gc)
        return tables, [r for t in tables for r in disparities_vs_reference(t, METRICS)]

    tables, rows = metrics_stage()
    flat = gc.counts.reshape(-1)
    rng = np.random.default_rng(0)
    t_draw = best_of(lambda: rng.multinomial(int(flat.sum()), flat / flat.sum(), n_resamples), 5)
    t_metrics = best_of(metrics_stage, 5)
    t_stats = best_of(lambda: compute_uncertainty(gc, tables, rows, n_resamples=n_resamples), 5)
    print(
        f"\n## Count bootstrap at scale: {n_rows:,} rows, {len(gc.counts)} intersectional "
        f"groups, {n_resamples:,} resamples, {len(rows)} disparities\n"
    )
    print("| step | seconds (best of 5) |\n| --- | --- |")
    print(
        f"| `Generator.multinomial` draw alone ({n_resamples:,} x {flat.size} cells) "
        f"| {t_draw:.4f} |"
    )
    print(f"| metrics stage (build_tables + disparities), for scale | {t_metrics:.4f} |")
    print(f"| **compute_uncertainty** (all intervals, tests, headline CIs) | **{t_stats:.4f}** |")


def bench_fairlearn(n_rows: int, n_boot: int) -> None:
    a, b, y, _, y_pred = make_rows(n_rows, seed=1)
    levels = [[f"a{i}" for i in range(5)], [f"b{i}" for i in range(4)]]
    sf = pd.DataFrame({"a": np.array(levels[0])[a], "b": np.array(levels[1])[b]})
    metrics = {
        "selection_rate": selection_rate,
        "true_positive_rate": true_positive_rate,
        "false_positive_rate": false_positive_rate,
    }

    def fairlearn_run():
        # Same coverage as ours: the intersection plus each single feature.
        for features in (sf, sf[["a"]], sf[["b"]]):
            MetricFrame(
                metrics=metrics,
                y_true=y,
                y_pred=y_pred,
                sensitive_features=features,
                n_boot=n_boot,
                ci_quantiles=[0.025, 0.975],
                random_state=0,
            )

    def ours(resamples: int) -> Callable[[], object]:
        def run():
            gc = count_groups(["a", "b"], [a, b], levels, y, y_pred)
            _, tables = build_tables(gc)
            rows = [r for t in tables for r in disparities_vs_reference(t, METRICS)]
            return compute_uncertainty(gc, tables, rows, n_resamples=resamples)

        return run

    t_fl = best_of(fairlearn_run, 1)
    t_ours = best_of(ours(n_boot), 5)
    t_ours_1000 = best_of(ours(1000), 5)
    print(
        f"\n## Against fairlearn MetricFrame bootstrap: {n_rows:,} rows, 20 intersectional "
        "groups, intersection + both single features\n"
    )
    print("| pipeline | resamples | metrics | seconds | ratio to ours |")
    print("| --- | --- | --- | --- | --- |")
    print(
        f"| fairlearn MetricFrame x3 (n_boot, ci_quantiles) | {n_boot} | 3 | {t_fl:.2f} "
        f"| {t_fl / t_ours:,.0f}x |"
    )
    print(
        f"| fairaudit count -> tables -> compute_uncertainty | {n_boot} | {len(METRICS)} "
        f"| {t_ours:.4f} | 1x |"
    )
    print(
        f"| fairaudit count -> tables -> compute_uncertainty | 1000 | {len(METRICS)} "
        f"| {t_ours_1000:.4f} | {t_ours_1000 / t_ours:.1f}x |"
    )


def bench_scores(
    sizes: list[int], n_resamples: int, bootstrap_rows: int, bootstrap_resamples: int
) -> None:
    levels = [[f"a{i}" for i in range(5)], [f"b{i}" for i in range(4)]]
    print(
        "\n## Score metrics (roc_auc, brier_score): analytic intervals (DeLong, CLT), "
        f"3 groupings + overall, {n_resamples:,} count resamples\n"
    )
    print("| rows | compute_uncertainty without scores | with scores | added by scores |")
    print("| --- | --- | --- | --- |")
    for n in sizes:
        a, b, y, score, y_pred = make_rows(n, seed=2)
        gc = count_groups(["a", "b"], [a, b], levels, y, y_pred, with_row_cells=True)
        _, tables = build_tables(gc, y_true=y, score=score, codes=[a, b])
        rows = [
            r
            for t in tables
            for r in disparities_vs_reference(t, [*METRICS, "roc_auc", "brier_score"])
        ]
        run = partial(compute_uncertainty, gc, tables, rows, n_resamples=n_resamples)
        t_plain = best_of(run, 3)
        t_scores = best_of(partial(run, y_true=y.astype(np.float64), score=score), 3)
        print(f"| {n:,} | {t_plain:.3f} | {t_scores:.3f} | {t_scores - t_plain:.3f} |")

    # The replaced method: stratified row bootstrap, cost linear in rows x resamples.
    a, b, y, score, y_pred = make_rows(bootstrap_rows, seed=2)
    gc = count_groups(["a", "b"], [a, b], levels, y, y_pred, with_row_cells=True)
    _, tables = build_tables(gc)
    cell_groups = [t.cell_group for t in tables] + [np.zeros(len(gc.counts), dtype=np.int64)]
    assert gc.row_cell is not None
    row_cell = gc.row_cell
    t_boot = best_of(
        lambda: bootstrap_score_metrics(
            y,
            score,
            row_cell,
            cell_groups,
            n_resamples=bootstrap_resamples,
            rng=np.random.default_rng(0),
        ),
        1,
    )
    per = t_boot / (bootstrap_rows * bootstrap_resamples) * 1e9
    print(
        f"\nReplaced stratified row bootstrap (`bootstrap_score_metrics`), 4 groupings: "
        f"{t_boot:.2f} s for {bootstrap_resamples:,} resamples of {bootstrap_rows:,} rows = "
        f"{per:.0f} ns per row x resample; extrapolated to {n_resamples:,} resamples: "
        + ", ".join(f"{per * n * n_resamples / 1e9:,.0f} s at {n:,} rows" for n in sizes)
        + "."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--fairlearn-rows", type=int, default=10_000)
    parser.add_argument("--fairlearn-boot", type=int, default=100)
    parser.add_argument("--score-rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--bootstrap-rows", type=int, default=100_000)
    parser.add_argument("--bootstrap-resamples", type=int, default=100)
    args = parser.parse_args(argv)
    print(f"Machine: {machine()}")
    bench_scale(args.rows, args.resamples)
    bench_fairlearn(args.fairlearn_rows, args.fairlearn_boot)
    bench_scores(args.score_rows, args.resamples, args.bootstrap_rows, args.bootstrap_resamples)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
