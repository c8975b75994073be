"""Size of the balanced-accuracy disparity test under no true difference (issue 14 §4).

A group of ``n`` rows and a reference group of ``n_ref`` rows with the same TPR and TNR
(so the same balanced accuracy); ``negatives`` of the group's rows are negatives (a
fixed number, the reference having the same share, or ``~Binomial(n, q)`` when given as
a share q). Each replicate draws the confusion counts and computes the
two-sided p-value of "equal balanced accuracy" two ways:

* **old**: the count-bootstrap p-value ``2 min(P*(d <= 0), P*(d >= 0))`` with the +1
  correction (``bootstrap_counts`` + ``bootstrap_p_value``, ``--resamples`` resamples);
* **new**: ``balanced_accuracy_test``, the inverted MOVER interval of the difference.

The size is the share of replicates with p < 0.05 (unadjusted, one test); the target
is at most 6%.

Usage::

    PYTHONPATH=. python benchmarks/balanced_accuracy_size.py [--replicates 2000] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fairaudit.stats import (
    balanced_accuracy_test,
    bootstrap_counts,
    bootstrap_p_value,
    confusion_metrics,
)

# (n, n_ref, negatives: an int is the group's fixed count, a float a Bernoulli share,
#  TPR, TNR)
SCENARIOS: tuple[tuple[int, int, int | float, float, float], ...] = (
    (40, 40, 4, 0.95, 0.95),
    (40, 400, 4, 0.95, 0.95),
    (40, 400, 4, 0.97, 0.97),
    (40, 400, 4, 0.9, 0.75),
    (40, 400, 0.1, 0.95, 0.95),
    (100, 1000, 0.1, 0.9, 0.9),
    (200, 200, 0.5, 0.8, 0.7),
)


def draw(n: int, negatives: int | float, tpr: float, tnr: float, rng: np.random.Generator):
    """Return one group's counts ``(tn, fp, fn, tp)``."""
    neg = negatives if isinstance(negatives, int) else int(rng.binomial(n, negatives))
    tn = int(rng.binomial(neg, tnr))
    tp = int(rng.binomial(n - neg, tpr))
    return np.array([tn, neg - tn, n - neg - tp, tp])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(
        "| n | n_ref | negatives | TPR | TNR | old size (bootstrap) | new size (inverted MOVER) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    start = time.perf_counter()
    for n, n_ref, negatives, tpr, tnr in SCENARIOS:
        old = new = tested = 0
        ref_negatives = negatives if isinstance(negatives, float) else negatives * n_ref // n
        for _ in range(args.replicates):
            counts = np.stack(
                [draw(n, negatives, tpr, tnr, rng), draw(n_ref, ref_negatives, tpr, tnr, rng)]
            )
            if np.isnan(confusion_metrics(counts)["balanced_accuracy"]).any():
                continue  # a group without one class: undefined, not tested
            tested += 1
            draws = np.concatenate(list(bootstrap_counts(counts, args.resamples, rng)))
            ba = confusion_metrics(draws)["balanced_accuracy"]
            old += bootstrap_p_value(ba[:, :1] - ba[:, 1:])[0] < 0.05
            new += balanced_accuracy_test(counts[0], counts[1]) < 0.05
        label = f"{negatives}" if isinstance(negatives, int) else f"~Bin(n, {negatives})"
        print(
            f"| {n} | {n_ref} | {label} | {tpr} | {tnr} | {100 * old / tested:.1f}% "
            f"| {100 * new / tested:.1f}% |"
        )
    print(
        f"\n{args.replicates} replicates per row (rows with an undefined value skipped), "
        f"{args.resamples} resamples; {time.perf_counter() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
