"""Coverage study of the regression intervals: do nominal 95% intervals cover the truth?

Simulates audits of two groups (a group and the reference group, ``n`` rows each) drawn
from populations whose metric values are known, runs the library's regression core on
each (``count_regression`` -> ``RegressionStatistics.tables`` ->
``disparities_vs_reference`` -> ``RegressionStatistics.uncertainty``) and counts how
often each interval contains the true value: the group's interval of each metric (t
intervals for the means of predictions and targets; Hall's skewness-corrected interval for
the mean error, and with a conservative upper limit for the MAE and for the MSE,
square-rooted for the RMSE), the interval of the difference group - reference (Welch;
MOVER-D for the MAE and the RMSE) and of their ratio (MOVER-R, MAE and RMSE). Coverage
is over the audits where the interval is defined. In the null scenarios (identical
populations, normal or t3 errors) it also counts how often each test rejects at 5% before
Holm's adjustment (Welch for ME and MAE, Welch on the squared errors for the RMSE, the KS
test of the prediction distributions): the false-positive rate. The Monte Carlo standard
error of a coverage p is sqrt(p (1 - p) / replicates).

Each row is ``y ~ N(mu_y, sd_y)`` and a prediction ``y + e`` with an error ``e`` drawn
from the scenario's distribution (normal, heavy-tailed Student t with 3 degrees of
freedom, right-skewed exponential, each possibly shifted); the true MAE is a Monte Carlo
mean over 4 million draws, the other values are exact.

``--stress`` measures instead the group intervals alone on error laws beyond those cells
(log-normal, 5% of errors five times as large, t(2.5), t(4), Laplace, uniform).

Usage::

    PYTHONPATH=. python benchmarks/regression_coverage.py [--replicates 2000]
        [--sizes 30 100 1000] [--stress]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable

import numpy as np

from fairaudit.measure import RegressionStatistics, count_regression, disparities_vs_reference

Draw = Callable[[np.random.Generator, int], np.ndarray]
METRICS = (
    "mean_prediction",
    "mean_target",
    "mean_error",
    "mean_absolute_error",
    "root_mean_squared_error",
)
SHORT = {
    "mean_prediction": "pred",
    "mean_target": "target",
    "mean_error": "ME",
    "mean_absolute_error": "MAE",
    "root_mean_squared_error": "RMSE",
}


def _normal(shift: float, sd: float) -> tuple[Draw, float, float]:
    """Return a draw of N(shift, sd) errors, its mean and mean square."""
    return (lambda rng, n: shift + sd * rng.standard_normal(n)), shift, shift**2 + sd**2


def _student(shift: float, scale: float, df: int = 3) -> tuple[Draw, float, float]:
    """Return shifted, scaled Student t errors (df > 2), their mean and mean square."""
    draw = lambda rng, n: shift + scale * rng.standard_t(df, n)  # noqa: E731
    return draw, shift, shift**2 + scale**2 * df / (df - 2)


def _exponential(shift: float, scale: float) -> tuple[Draw, float, float]:
    """Return right-skewed errors scale * (Exp(1) - 1) + shift, their mean and square."""
    draw = lambda rng, n: shift + scale * (rng.exponential(1.0, n) - 1.0)  # noqa: E731
    return draw, shift, shift**2 + scale**2


# name: ((mu_y, sd_y, errors) of the group, the same of the reference)
SCENARIOS = {
    "normal errors, group +0.5": ((48.0, 8.0, _normal(0.5, 1.0)), (50.0, 10.0, _normal(0, 1))),
    "t3 errors (heavy tails)": ((48.0, 8.0, _student(0.3, 1.5)), (50.0, 10.0, _student(0, 1))),
    "exponential errors (skewed)": (
        (48.0, 8.0, _exponential(0.2, 2.0)),
        (50.0, 10.0, _exponential(0, 1.0)),
    ),
    "null (identical groups)": ((50.0, 10.0, _normal(0, 1)), (50.0, 10.0, _normal(0, 1))),
    "null, t3 errors": ((50.0, 10.0, _student(0, 1)), (50.0, 10.0, _student(0, 1))),
}
#: The metrics whose ratio group / reference has an interval (MOVER-R).
RATIOS = ("mean_absolute_error", "root_mean_squared_error")
#: The tests whose false-positive rate the null scenarios count (before Holm).
TESTS = {
    "mean_error": "Welch ME",
    "mean_absolute_error": "Welch MAE",
    "root_mean_squared_error": "Welch MSE",
    "ks_statistic": "KS",
}


def _truth(population: tuple, rng: np.random.Generator) -> dict[str, float]:
    mu, _, (draw, mean_error, mean_square) = population
    e = draw(rng, 4_000_000)
    return {
        "mean_prediction": mu + mean_error,
        "mean_target": mu,
        "mean_error": mean_error,
        "mean_absolute_error": float(np.mean(np.abs(e))),
        "root_mean_squared_error": math.sqrt(mean_square),
    }


def _audit(rng, n, group, reference, with_ks):
    """Return (group intervals, difference intervals, p-values) of one simulated audit."""
    ys, ps = [], []
    for mu, sd, (draw, _, _) in (group, reference):
        y = mu + sd * rng.standard_normal(n)
        ys.append(y)
        ps.append(y + draw(rng, n))
    codes = np.repeat([0, 1], n)
    cells = count_regression(
        ["g"], [codes], [["group", "reference"]], *map(np.concatenate, (ys, ps))
    )
    statistics = RegressionStatistics(cells)
    _, tables = statistics.tables({"g": "reference"})
    table = tables[0]
    rows = disparities_vs_reference(table, METRICS)
    if with_ks:
        rows += [
            r for r in statistics.distribution_disparities(table) if r.metric == "ks_statistic"
        ]
    result = statistics.uncertainty(tables, rows, confidence=0.95, min_group_size=2)
    i = table.groups.index({"g": "group"})
    group_ci = {m: result.group_ci["g"][m][i] for m in METRICS}
    diff_ci = {r.metric: u.ci_difference for r, u in zip(rows, result.disparities) if u}
    ratio_ci = {r.metric: u.ci_ratio for r, u in zip(rows, result.disparities) if u}
    p_values = {r.metric: u.p_value for r, u in zip(rows, result.disparities) if u}
    return group_ci, diff_ci, ratio_ci, p_values


def _inside(interval, value) -> bool | None:
    low, high = interval
    if math.isnan(low) or math.isnan(high):
        return None
    return bool(low <= value <= high)


def _share(hits: list[bool | None]) -> str:
    defined = [h for h in hits if h is not None]
    return f"{100 * sum(defined) / len(defined):.1f}" if defined else "-"


def run(replicates: int, sizes: list[int]) -> list[str]:
    rng = np.random.default_rng(20261130)
    header = (
        "| scenario | n | "
        + " | ".join(f"{SHORT[m]} ci | {SHORT[m]} diff" for m in METRICS)
        + "".join(f" | {SHORT[m]} ratio" for m in RATIOS)
        + f" | false positives ({' / '.join(TESTS.values())}) |"
    )
    lines = [header, "|" + " --- |" * (3 + 2 * len(METRICS) + len(RATIOS))]
    for name, (group, reference) in SCENARIOS.items():
        true_group, true_ref = _truth(group, rng), _truth(reference, rng)
        null = name.startswith("null")
        for n in sizes:
            hits = {m: [] for m in METRICS}
            diff_hits = {m: [] for m in METRICS}
            ratio_hits = {m: [] for m in RATIOS}
            rejections = dict.fromkeys(TESTS, 0)
            for _ in range(replicates):
                group_ci, diff_ci, ratio_ci, p_values = _audit(rng, n, group, reference, null)
                for m in METRICS:
                    hits[m].append(_inside(group_ci[m], true_group[m]))
                    diff_hits[m].append(_inside(diff_ci[m], true_group[m] - true_ref[m]))
                for m in RATIOS:
                    ratio_hits[m].append(_inside(ratio_ci[m], true_group[m] / true_ref[m]))
                for m in rejections if null else ():
                    rejections[m] += p_values[m] < 0.05
            cells = " | ".join(f"{_share(hits[m])} | {_share(diff_hits[m])}" for m in METRICS)
            cells += "".join(f" | {_share(ratio_hits[m])}" for m in RATIOS)
            fp = (
                " / ".join(f"{100 * rejections[m] / replicates:.1f}%" for m in rejections)
                if null
                else "-"
            )
            lines.append(f"| {name} | {n} | {cells} | {fp} |")
            print(lines[-1], file=sys.stderr, flush=True)
    return lines


#: Error distributions beyond the studied cells, for ``--stress``: name -> (draw, true ME,
#: true MSE or None for a Monte Carlo value).
STRESS: dict[str, tuple[Draw, float | None, float | None]] = {
    "log-normal(0, 1), centred": (
        lambda rng, shape: rng.lognormal(0, 1, shape) - math.exp(0.5),
        0.0,
        math.exp(2) - math.exp(1),
    ),
    "5% of errors 5 times as large": (
        lambda rng, shape: np.where(rng.random(shape) < 0.05, 5, 1) * rng.standard_normal(shape),
        0.0,
        0.95 + 0.05 * 25,
    ),
    "t(2.5)": (lambda rng, shape: rng.standard_t(2.5, shape), 0.0, 5.0),
    "t(4)": (lambda rng, shape: rng.standard_t(4, shape), 0.0, 2.0),
    "Laplace": (lambda rng, shape: rng.laplace(0, 1, shape), 0.0, 2.0),
    "uniform(-1, 1)": (lambda rng, shape: rng.uniform(-1, 1, shape), 0.0, 1 / 3),
}


def stress(replicates: int, sizes: list[int]) -> list[str]:
    """Return the group intervals' coverage on STRESS's errors: the library's intervals
    (``skew_interval`` with the core's SKEW_WEIGHT and UPPER_TAIL) from each sample's
    moments, vectorised over the replicates (tests/test_regression_intervals.py checks
    that the audit computes the same intervals from its exact sums)."""
    from fairaudit.measure._regression_uncertainty import SKEW_WEIGHT, UPPER_TAIL
    from fairaudit.stats import skew_interval

    rng = np.random.default_rng(20261130)
    lines = ["| errors | n | ME ci | MAE ci | RMSE ci |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, (draw, mean_error, mean_square) in STRESS.items():
        mae = float(np.mean(np.abs(draw(rng, 4_000_000))))
        for n in sizes:
            e = draw(rng, (replicates, n))
            cells = []
            for x, truth, weight, tail in (
                (e, mean_error, SKEW_WEIGHT["mean_error"], None),
                (np.abs(e), mae, 1.0, UPPER_TAIL["mean_absolute_error"] * 0.05),
                (e * e, mean_square, 1.0, UPPER_TAIL["squared_error"] * 0.05),
            ):
                m = x.mean(axis=1)
                d = x - m[:, None]
                var, third = (d * d).sum(axis=1) / (n - 1), (d**3).mean(axis=1)
                ci = skew_interval(m, var, weight * third, np.full(replicates, n), 0.95, tail)
                cells.append(f"{100 * np.mean((ci[:, 0] <= truth) & (truth <= ci[:, 1])):.1f}")
            lines.append(f"| {name} | {n} | {' | '.join(cells)} |")
            print(lines[-1], file=sys.stderr, flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 100, 1000])
    parser.add_argument(
        "--stress", action="store_true", help="the group intervals on other error laws"
    )
    args = parser.parse_args()
    start = time.perf_counter()
    lines = (stress if args.stress else run)(args.replicates, args.sizes)
    se = 100 * math.sqrt(0.95 * 0.05 / args.replicates)
    print(
        f"Coverage of nominal 95% intervals, % of {args.replicates} "
        f"{'samples' if args.stress else 'audits'} per row "
        f"(Monte Carlo standard error {se:.2f} points at 95%):\n"
    )
    print("\n".join(lines))
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
