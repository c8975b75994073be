"""Coverage study: do nominal 95% intervals cover the truth 93-97% of the time?

Simulates audits of two groups (a group and the reference group, both of ``n`` rows)
drawn from populations whose metric values are known, runs the real pipeline
(``build_tables`` -> ``disparities_vs_reference`` -> ``compute_uncertainty``) on each,
and counts how often each interval contains the true value. Coverage is over the
audits where the interval is defined (non-null); the share of null intervals is
reported separately. As a baseline, the plain count-bootstrap percentile interval is
also scored for a few metrics (the method fairlearn's MetricFrame uses).
A "null" scenario (identical populations) measures the tests' false-positive rate.

Score metrics (ROC AUC, Brier score) are studied the same way on rows drawn from a
binormal model: a latent ``X ~ N(+-delta / 2, 1)`` for positives / negatives, score
``Phi(X)``, so that the true AUC is ``Phi(delta / sqrt(2))``. Their baseline is the
stratified row-bootstrap percentile interval (the method the analytic intervals
replaced), at n <= 100 only, where it is cheap.

Usage::

    PYTHONPATH=. python benchmarks/coverage.py [--replicates 2000] [--sizes 30 100 1000]
        [--part confusion|score|all]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from scipy import stats as scipy_stats

from fairaudit.counts import GroupCounts, count_groups
from fairaudit.measure import build_tables
from fairaudit.measure import disparities_vs_reference as disparities
from fairaudit.stats import (
    bootstrap_counts,
    bootstrap_score_metrics,
    compute_uncertainty,
    confusion_metrics,
    percentile_interval,
)
from fairaudit.vocabulary import CONFUSION_METRICS, SCORE_METRICS

METRICS = [m for m in CONFUSION_METRICS if m != "count"]
BASELINE_METRICS = ("selection_rate", "true_positive_rate", "precision", "balanced_accuracy", "f1")
# (base rate, true positive rate, false positive rate) of the group and the reference.
SCENARIOS = {
    "typical": ((0.35, 0.70, 0.15), (0.45, 0.80, 0.10)),
    "rare positives": ((0.08, 0.60, 0.05), (0.12, 0.70, 0.04)),
    "near-perfect classifier": ((0.50, 0.97, 0.03), (0.50, 0.99, 0.01)),
    "null (identical groups)": ((0.45, 0.80, 0.10), (0.45, 0.80, 0.10)),
}

# (base rate, true ROC AUC) of the group and the reference, binormal scores.
SCORE_SCENARIOS = {
    "typical": ((0.35, 0.75), (0.45, 0.85)),
    "rare positives": ((0.08, 0.80), (0.12, 0.85)),
    "high AUC": ((0.50, 0.95), (0.50, 0.98)),
    "null (identical groups)": ((0.45, 0.80), (0.45, 0.80)),
}
# Row bootstrap baseline only up to this group size (its cost grows with rows).
SCORE_BASELINE_MAX_N = 100


def cell_probabilities(base: float, tpr: float, fpr: float) -> np.ndarray:
    """Return the population shares of [tn, fp, fn, tp]."""
    return np.array([(1 - base) * (1 - fpr), (1 - base) * fpr, base * (1 - tpr), base * tpr])


def covered(interval: np.ndarray | tuple[float, float], truth: float) -> float:
    """Return 1.0 if covered, 0.0 if not, NaN if the interval is null."""
    low, high = float(interval[0]), float(interval[1])
    if np.isnan(low) or np.isnan(high) or np.isnan(truth):
        return float("nan")
    return float(low - 1e-12 <= truth <= high + 1e-12)


def run_condition(
    p_group: np.ndarray, p_ref: np.ndarray, n: int, replicates: int, seed: int
) -> dict[str, np.ndarray]:
    """Return per-replicate coverage indicators (NaN = null interval) by key."""
    truth_g = {k: float(v) for k, v in confusion_metrics(p_group).items()}
    truth_r = {k: float(v) for k, v in confusion_metrics(p_ref).items()}
    rng = np.random.default_rng(seed)
    hits: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        hits.setdefault(key, []).append(value)

    for rep in range(replicates):
        counts = np.stack([rng.multinomial(n, p_group), rng.multinomial(n, p_ref)])
        gc = GroupCounts(("group",), (("g", "ref"),), np.array([[0], [1]]), counts)
        _, tables = build_tables(gc, reference={"group": "ref"})
        rows = disparities(tables[0], METRICS)
        u = compute_uncertainty(gc, tables, rows, seed=rep)
        for metric in METRICS:
            add(f"group|{metric}", covered(u.group_ci["group"][metric][0], truth_g[metric]))
        for row, d in zip(rows, u.disparities, strict=True):
            m = row.metric
            add(f"difference|{m}", covered(d.ci_difference, truth_g[m] - truth_r[m]))
            ratio = truth_g[m] / truth_r[m] if truth_r[m] else float("nan")
            add(f"ratio|{m}", covered(d.ci_ratio, ratio))
            add(f"raw p<0.05|{m}", float(d.p_value < 0.05) if not np.isnan(d.p_value) else np.nan)
            add(f"significant|{m}", float(d.significance == "significant"))
        dp_truth = abs(truth_g["selection_rate"] - truth_r["selection_rate"])
        add(
            "headline|demographic_parity_difference",
            covered(u.headline_ci["group"]["demographic_parity_difference"], dp_truth),
        )
        # Baseline: the count-bootstrap percentile interval for a few proportions.
        draws = np.concatenate(list(bootstrap_counts(counts, 1000, np.random.default_rng(rep))))
        boot = confusion_metrics(draws)
        for m in BASELINE_METRICS:
            add(
                f"group percentile|{m}", covered(percentile_interval(boot[m][:, :1])[0], truth_g[m])
            )
            diff = boot[m][:, :1] - boot[m][:, 1:]
            add(
                f"difference percentile|{m}",
                covered(percentile_interval(diff)[0], truth_g[m] - truth_r[m]),
            )
    return {k: np.array(v) for k, v in hits.items()}


def binormal_truth(base: float, auc: float) -> dict[str, float]:
    """Return the true ROC AUC and Brier score of the binormal model (quadrature)."""
    delta = np.sqrt(2) * scipy_stats.norm.ppf(auc)
    x, w = np.polynomial.hermite_e.hermegauss(120)  # E[f(Z)] = sum(w f(x)) / sqrt(2 pi)
    w = w / np.sqrt(2 * np.pi)
    positive_error = np.sum(w * (1 - scipy_stats.norm.cdf(x + delta / 2)) ** 2)
    negative_error = np.sum(w * scipy_stats.norm.cdf(x - delta / 2) ** 2)
    return {"roc_auc": auc, "brier_score": base * positive_error + (1 - base) * negative_error}


def binormal_rows(
    base: float, auc: float, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Return labels and scores ``Phi(X)``, ``X ~ N(+-delta / 2, 1)``, of n rows."""
    delta = np.sqrt(2) * scipy_stats.norm.ppf(auc)
    y = rng.random(n) < base
    latent = rng.normal(size=n) + np.where(y, delta / 2, -delta / 2)
    return y, scipy_stats.norm.cdf(latent)


def run_score_condition(
    group: tuple[float, float],
    ref: tuple[float, float],
    n: int,
    replicates: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """Return per-replicate coverage indicators of the score-metric intervals by key."""
    truth_g, truth_r = binormal_truth(*group), binormal_truth(*ref)
    rng = np.random.default_rng(seed)
    codes = np.repeat([0, 1], n)
    hits: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        hits.setdefault(key, []).append(value)

    for rep in range(replicates):
        y_g, s_g = binormal_rows(*group, n, rng)
        y_r, s_r = binormal_rows(*ref, n, rng)
        y, score = np.concatenate([y_g, y_r]), np.concatenate([s_g, s_r])
        gc = count_groups(["group"], [codes], [["g", "ref"]], y, score > 0.5, with_row_cells=True)
        _, tables = build_tables(
            gc, reference={"group": "ref"}, y_true=y, score=score, codes=[codes]
        )
        rows = disparities(tables[0], list(SCORE_METRICS))
        u = compute_uncertainty(gc, tables, rows, seed=rep, y_true=y, score=score)
        for m in SCORE_METRICS:
            add(f"group|{m}", covered(u.group_ci["group"][m][0], truth_g[m]))
        for row, d in zip(rows, u.disparities, strict=True):
            m = row.metric
            add(f"difference|{m}", covered(d.ci_difference, truth_g[m] - truth_r[m]))
            add(f"ratio|{m}", covered(d.ci_ratio, truth_g[m] / truth_r[m]))
            add(f"raw p<0.05|{m}", float(d.p_value < 0.05) if not np.isnan(d.p_value) else np.nan)
        if n <= SCORE_BASELINE_MAX_N:
            boot = bootstrap_score_metrics(
                y, score, codes, [np.arange(2)], n_resamples=1000, rng=np.random.default_rng(rep)
            )[0]
            for m in SCORE_METRICS:
                add(
                    f"group percentile|{m}",
                    covered(percentile_interval(boot[m][:, :1])[0], truth_g[m]),
                )
                diff = boot[m][:, :1] - boot[m][:, 1:]
                add(
                    f"difference percentile|{m}",
                    covered(percentile_interval(diff)[0], truth_g[m] - truth_r[m]),
                )
    return {k: np.array(v) for k, v in hits.items()}


def fmt(values: np.ndarray) -> str:
    """Return 'coverage%' (and '[null x%]' when some intervals were null)."""
    defined = ~np.isnan(values)
    if not defined.any():
        return "null"
    text = f"{100 * values[defined].mean():.1f}"
    null_share = 1 - defined.mean()
    if null_share > 0.0005:
        text += f" ({100 * null_share:.0f}% null)"
    if not 0.93 <= values[defined].mean() <= 0.97:
        text = f"**{text}**"
    return text


def report_confusion(args: argparse.Namespace) -> None:
    """Print the coverage tables of the confusion metrics, one per scenario."""
    for s_index, (name, (group, ref)) in enumerate(SCENARIOS.items()):
        results = {
            n: run_condition(
                cell_probabilities(*group),
                cell_probabilities(*ref),
                n,
                args.replicates,
                seed=1000 * s_index + n,
            )
            for n in args.sizes
        }
        print(f"\n### Scenario: {name} (group {group}, reference {ref}; base, TPR, FPR)\n")
        kinds = ["group", "difference", "ratio"]
        header = (
            "| metric | " + " | ".join(f"{kind} n={n}" for kind in kinds for n in args.sizes) + " |"
        )
        print(header)
        print("|" + " --- |" * (1 + len(kinds) * len(args.sizes)))
        for m in METRICS:
            cells = [fmt(results[n][f"{kind}|{m}"]) for kind in kinds for n in args.sizes]
            print(f"| {m} | " + " | ".join(cells) + " |")
        for m in BASELINE_METRICS:
            cells = [
                fmt(results[n][f"{kind} percentile|{m}"]) if kind != "ratio" else ""
                for kind in kinds
                for n in args.sizes
            ]
            print(f"| {m} (percentile baseline) | " + " | ".join(cells) + " |")
        key = "headline|demographic_parity_difference"
        print(
            "| demographic_parity_difference (headline) | "
            + " | ".join(fmt(results[n][key]) for n in args.sizes)
            + " |"
            + " |" * (2 * len(args.sizes))
        )
        if name.startswith("null"):
            print("\nFalse-positive rate under the null (share of audits):\n")
            print(
                "| metric | "
                + " | ".join(f"raw p<0.05 n={n} | significant (Holm) n={n}" for n in args.sizes)
                + " |"
            )
            print("|" + " --- |" * (1 + 2 * len(args.sizes)))
            for m in METRICS:
                cells = []
                for n in args.sizes:
                    raw = results[n][f"raw p<0.05|{m}"]
                    sig = results[n][f"significant|{m}"]
                    cells += [f"{100 * np.nanmean(raw):.1f}", f"{100 * sig.mean():.1f}"]
                print(f"| {m} | " + " | ".join(cells) + " |")
        sys.stdout.flush()


def report_scores(args: argparse.Namespace) -> None:
    """Print the coverage tables of the score metrics, one per scenario."""
    for s_index, (name, (group, ref)) in enumerate(SCORE_SCENARIOS.items()):
        results = {
            n: run_score_condition(group, ref, n, args.replicates, seed=5000 + 1000 * s_index + n)
            for n in args.sizes
        }
        truth_g, truth_r = binormal_truth(*group), binormal_truth(*ref)
        print(
            f"\n### Score scenario: {name} (group base {group[0]}, AUC {group[1]}, Brier "
            f"{truth_g['brier_score']:.3f}; reference base {ref[0]}, AUC {ref[1]}, Brier "
            f"{truth_r['brier_score']:.3f})\n"
        )
        kinds = ["group", "difference", "ratio"]
        print("| metric | " + " | ".join(f"{k} n={n}" for k in kinds for n in args.sizes) + " |")
        print("|" + " --- |" * (1 + len(kinds) * len(args.sizes)))
        for m in SCORE_METRICS:
            cells = [fmt(results[n][f"{kind}|{m}"]) for kind in kinds for n in args.sizes]
            print(f"| {m} | " + " | ".join(cells) + " |")
        for m in SCORE_METRICS:
            cells = [
                fmt(results[n][f"{kind} percentile|{m}"])
                if kind != "ratio" and n <= SCORE_BASELINE_MAX_N
                else ""
                for kind in kinds
                for n in args.sizes
            ]
            print(f"| {m} (row-bootstrap percentile baseline) | " + " | ".join(cells) + " |")
        if name.startswith("null"):
            print("\nRaw p < 0.05 under the null (share of tested audits):\n")
            print("| metric | " + " | ".join(f"n={n}" for n in args.sizes) + " |")
            print("|" + " --- |" * (1 + len(args.sizes)))
            for m in SCORE_METRICS:
                raw = [f"{100 * np.nanmean(results[n][f'raw p<0.05|{m}']):.1f}" for n in args.sizes]
                print(f"| {m} | " + " | ".join(raw) + " |")
        sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 100, 1000])
    parser.add_argument("--part", choices=["confusion", "score", "all"], default="all")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.part in ("confusion", "all"):
        report_confusion(args)
    if args.part in ("score", "all"):
        report_scores(args)
    print(f"\n{args.replicates} audits per condition; {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
