"""Coverage study of the headline-metric intervals (issue 14 §4).

fairlearn's headline metrics are a max - min (difference) or a min / max (ratio) over
groups of a rate: selection rate (demographic parity), TPR (equal opportunity), TPR and
FPR (equalized odds). ``fairaudit.stats.headline_intervals`` bounds them from Wilson
intervals of the group rates at Šidák's level ``confidence ** (1 / k)``.

Each cell of the grid simulates ``--replicates`` audits of ``groups`` groups of ``n``
rows. Every row is a positive with probability 1/2; a group's TPR and FPR are both
``r_g``, so its selection rate is ``r_g`` too and the six headline values have known
truths: ``max r - min r`` and ``min r / max r``. "none": every ``r_g = p``; "ratio 0.8":
group 0 has ``r = 0.8 p``, the others ``p``. Coverage is over the audits where the
interval is defined; the share of undefined intervals (a ratio whose largest observed
rate is 0) is reported separately. The interval is computed by the real code
(``headline_intervals`` on the simulated confusion counts).

Usage::

    PYTHONPATH=. python benchmarks/headline_coverage.py [--replicates 1000]
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from fairaudit.stats import headline_intervals
from fairaudit.vocabulary import HEADLINE_METRICS

SIZES = (20, 50, 200, 2000)
RATES = (0.05, 0.3, 0.5)
SCENARIOS = ("none", "ratio 0.8")
GROUPS = (2, 5)


def simulate(groups: int, n: int, p: float, scenario: str, reps: int, rng: np.random.Generator):
    """Return coverage, undefined share and mean width per headline metric for one cell."""
    rate = np.full(groups, p)
    if scenario == "ratio 0.8":
        rate[0] = 0.8 * p
    truth = {"difference": rate.max() - rate.min(), "ratio": rate.min() / rate.max()}
    positives = rng.binomial(n, 0.5, size=(reps, groups))
    tp = rng.binomial(positives, rate)
    fp = rng.binomial(n - positives, rate)
    counts = np.stack([n - positives - fp, fp, positives - tp, tp], axis=-1)
    covered = {name: 0 for name in HEADLINE_METRICS}
    defined = {name: 0 for name in HEADLINE_METRICS}
    width = {name: 0.0 for name in HEADLINE_METRICS}
    for rep in range(reps):
        for name, (low, high) in headline_intervals(counts[rep]).items():
            if np.isnan(low):
                continue
            t = truth["difference" if name.endswith("difference") else "ratio"]
            defined[name] += 1
            covered[name] += bool(low - 1e-12 <= t <= high + 1e-12)
            width[name] += high - low
    return {
        name: (
            covered[name] / defined[name] if defined[name] else float("nan"),
            1 - defined[name] / reps,
            width[name] / defined[name] if defined[name] else float("nan"),
        )
        for name in HEADLINE_METRICS
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    short = {
        "demographic_parity_difference": "DP diff",
        "demographic_parity_ratio": "DP ratio",
        "equal_opportunity_difference": "EOpp diff",
        "equal_opportunity_ratio": "EOpp ratio",
        "equalized_odds_difference": "EOdds diff",
        "equalized_odds_ratio": "EOdds ratio",
    }
    names = list(short)
    print(
        "| groups | n | p | disparity | "
        + " | ".join(f"{short[m]} cov" for m in names)
        + " | DP diff width | DP ratio width | EOdds diff width | EOdds ratio width"
        + " | ratio undefined |"
    )
    print("|" + " --- |" * (4 + len(names) + 5))
    start = time.perf_counter()
    worst = 1.0
    for groups, n, p, scenario in itertools.product(GROUPS, SIZES, RATES, SCENARIOS):
        out = simulate(groups, n, p, scenario, args.replicates, rng)
        worst = min(worst, *(out[m][0] for m in names if not np.isnan(out[m][0])))
        cov = " | ".join(f"{100 * out[m][0]:.1f}" for m in names)
        widths = " | ".join(
            f"{out[m][2]:.3f}"
            for m in (
                "demographic_parity_difference",
                "demographic_parity_ratio",
                "equalized_odds_difference",
                "equalized_odds_ratio",
            )
        )
        undefined = max(out[m][1] for m in names)
        print(f"| {groups} | {n} | {p} | {scenario} | {cov} | {widths} | {100 * undefined:.1f}% |")
    print(
        f"\nlowest coverage in any cell: {100 * worst:.1f}%; "
        f"{args.replicates} replicates per cell, {time.perf_counter() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
