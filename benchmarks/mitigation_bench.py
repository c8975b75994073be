"""Benchmark of the mitigation comparison: thresholds, six methods, whole audits, a batch.

Parts (``--part``, default all):

* ``thresholds``: the three threshold methods cross-fitted (3 x 5 fits) on synthetic scored
  rows, 2 x 5 = 10 intersectional groups, continuous scores and scores rounded to 2
  decimals, by ``run_mitigations`` (the histogram ThresholdOptimizer) and, interleaved,
  by fairlearn's own ThresholdOptimizer on the same folds (what fairaudit ran before;
  skipped above ``--fairlearn-rows``), checking that the predictions are identical. Floor:
  one ``np.lexsort`` of (group, score), the sort the histogram starts from.
* ``six``: all six methods on ``--rows`` synthetic evaluation rows and as many training
  rows (a ``StandardScaler`` + ``LogisticRegression`` Pipeline), jobs=1 and jobs=2.
* ``audit``: ``fairaudit run`` end to end (a fresh process, imports included): the sample
  audit (400 rows, six methods), and a 1,000,000-row scored Parquet file (no model, no
  training set), each with and without ``--no-mitigation`` (the floor).
* ``batch``: ``fairaudit.batch.run_batch`` of two sample audits with jobs=2, in a fresh
  process: its wall time against its slowest audit's (best of the differences), and the
  same batch with jobs=1 (the audits one after the other).

Every figure is the best of ``--repeats`` runs; what is compared is timed interleaved.

Run from the repository root::

    PYTHONPATH=. python benchmarks/mitigation_bench.py
    PYTHONPATH=. python benchmarks/mitigation_bench.py --part thresholds --rows 20000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import fairlearn
import numpy as np
import pandas as pd
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fairaudit.mitigation import (
    METHODS,
    THRESHOLD_METHODS,
    MitigationInputs,
    MitigationOutcome,
    RowScores,
    group_codes,
    run_mitigations,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "audit.toml"
FAIRAUDIT = [sys.executable, "-c", "import sys; from fairaudit.cli import main; sys.exit(main())"]


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(
            line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line
        )
    except (OSError, subprocess.CalledProcessError, StopIteration):
        model = platform.processor() or "unknown CPU"
    return (
        f"{model}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"fairlearn {fairlearn.__version__}, scikit-learn {sklearn.__version__}, "
        f"numpy {np.__version__}, pandas {pd.__version__}"
    )


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def best_of(repeats: int, *runs: Callable[[], Any]) -> list[float]:
    """Return each run's best wall time over ``repeats`` rounds, the runs interleaved."""
    best = [float("inf")] * len(runs)
    for _ in range(repeats):
        for i, run in enumerate(runs):
            start = time.perf_counter()
            run()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


# --- thresholds -------------------------------------------------------------------------


def scored_frame(n: int, seed: int = 0, decimals: int | None = None) -> pd.DataFrame:
    """Return n rows: sex (2), age_band (5), label, prediction and a probability score."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(np.array(["female", "male"]), size=n, p=[0.4, 0.6])
    band = rng.choice(np.array(["18-25", "26-35", "36-45", "46-60", "60+"]), size=n)
    label = rng.random(n) < 0.4
    latent = 1.5 * label + rng.normal(size=n) - 0.8 * (sex == "female") - 0.2 * (band == "60+")
    score = 1 / (1 + np.exp(-(latent - 0.75)))
    if decimals is not None:
        score = np.round(score, decimals)
    return pd.DataFrame(
        {"sex": sex, "age_band": band, "label": label, "pred": score >= 0.5, "score": score}
    )


def score_inputs(frame: pd.DataFrame) -> MitigationInputs:
    return MitigationInputs(
        eval_features=pd.DataFrame(index=frame.index),
        y_true=frame["label"].to_numpy(),
        sensitive=frame[["sex", "age_band"]],
        score=frame["score"].to_numpy(),
    )


def fairlearn_predictions(
    inputs: MitigationInputs, fold_of_row: np.ndarray, method: str, seeds: Sequence[int]
) -> np.ndarray:
    """Return one method's cross-fitted predictions by fairlearn's ThresholdOptimizer."""
    from fairlearn.postprocessing import ThresholdOptimizer

    from fairaudit.mitigation import CONSTRAINTS

    assert inputs.score is not None
    _, (codes,) = group_codes([inputs.sensitive], ["sex", "age_band"])
    y = np.asarray(inputs.y_true, dtype=np.int8)
    rows = np.arange(len(y))
    y_pred = np.zeros(len(y), dtype=bool)
    for fold, seed in enumerate(seeds):
        fit, held = rows[fold_of_row != fold], rows[fold_of_row == fold]
        optimizer = ThresholdOptimizer(
            estimator=RowScores(inputs.score),
            constraints=CONSTRAINTS[method],
            objective="accuracy_score",
            prefit=True,
            predict_method="auto",
        )
        optimizer.fit(fit.reshape(-1, 1), y[fit], sensitive_features=codes[fit])
        predicted = optimizer.predict(
            held.reshape(-1, 1), sensitive_features=codes[held], random_state=seed
        )
        y_pred[held] = np.asarray(predicted) == 1
    return y_pred


def fairlearn_all(inputs: MitigationInputs, fold_of_row: np.ndarray) -> list[np.ndarray]:
    from fairaudit.mitigation import derived_seed

    return [
        fairlearn_predictions(
            inputs,
            fold_of_row,
            method,
            [derived_seed(0, METHODS.index(method) + 1, fold + 1) for fold in range(5)],
        )
        for method in THRESHOLD_METHODS
    ]


def threshold_case(n: int, decimals: int | None, repeats: int, fairlearn_rows: int) -> str:
    """Return one table row: the floor, fairaudit and (up to fairlearn_rows) fairlearn."""
    inputs = score_inputs(scored_frame(n, decimals=decimals))
    _, (codes,) = group_codes([inputs.sensitive], ["sex", "age_band"])
    assert inputs.score is not None
    score = inputs.score
    outcomes: list[MitigationOutcome] = []
    theirs: list[np.ndarray] = []

    def ours() -> None:
        outcomes[:] = run_mitigations(inputs, list(THRESHOLD_METHODS), jobs=1)

    def fairlearns() -> None:
        fold_of_row = outcomes[0].fold_of_row
        assert fold_of_row is not None
        theirs[:] = fairlearn_all(inputs, fold_of_row)

    runs: list[Callable[[], Any]] = [lambda: np.lexsort((score, codes)), ours]
    if n <= fairlearn_rows:
        runs.append(fairlearns)
    times = best_of(repeats, *runs)
    floor, new = times[0], times[1]
    kind = "continuous" if decimals is None else f"{decimals} decimals"
    old = "– | – | – | –"
    if theirs:
        same = all(
            np.array_equal(np.asarray(o.y_pred), t) for o, t in zip(outcomes, theirs, strict=True)
        )
        old = f"{times[2]:.2f} | {times[2] / floor:.0f}× | {times[2] / new:.0f}× | {same}"
    return (
        f"| {n:,} | {kind} | {len(np.unique(score)):,} | {floor:.3f} | {new:.2f} | "
        f"{new / floor:.0f}× | {old} |"
    )


def part_thresholds(rows: Sequence[int], repeats: int, fairlearn_rows: int) -> None:
    print("\n### Threshold methods: 3 methods x 5 folds, 10 groups, score column\n")
    print(
        "| rows | scores | distinct | floor: one sort (s) | fairaudit (s) | / floor | "
        "fairlearn (s) | / floor | fairlearn / fairaudit | identical |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for n in rows:
        for decimals in (None, 2):
            print(threshold_case(n, decimals, repeats, fairlearn_rows), flush=True)


# --- six methods ----------------------------------------------------------------------


def synthetic_frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    group = rng.choice(np.array(["a", "b", "c"]), size=n, p=[0.5, 0.3, 0.2])
    band = rng.choice(np.array(["young", "old"]), size=n)
    y = rng.random(n) < 0.4
    latent = 1.5 * y + rng.normal(size=n) - 0.8 * (group == "c") - 0.3 * (band == "old")
    frame = pd.DataFrame(
        {
            "x1": latent + rng.normal(scale=0.5, size=n),
            "x2": rng.normal(size=n) + 0.5 * y,
            "x3": rng.normal(size=n),
            "group": group,
            "band": band,
        }
    )
    return frame, y


def model_inputs(rows: int) -> MitigationInputs:
    features = ["x1", "x2", "x3"]
    train, train_y = synthetic_frame(rows, seed=1)
    evaluation, y = synthetic_frame(rows, seed=2)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(train[features], train_y)
    return MitigationInputs(
        eval_features=evaluation[features],
        y_true=y,
        sensitive=evaluation[["group", "band"]],
        estimator=model,
        score=model.predict_proba(evaluation[features])[:, 1],
        train_features=train[features],
        train_y=train_y,
        train_sensitive=train[["group", "band"]],
    )


def part_six(rows: int, repeats: int) -> None:
    print(f"\n### All six methods: {rows:,} evaluation rows, {rows:,} training rows\n")
    inputs = model_inputs(rows)
    results: dict[int, list[MitigationOutcome]] = {}

    def run(jobs: int) -> Callable[[], None]:
        return lambda: results.__setitem__(jobs, run_mitigations(inputs, jobs=jobs, seed=0))

    one, two = best_of(repeats, run(1), run(2))
    same = all(
        a.status == b.status and np.array_equal(np.asarray(a.y_pred), np.asarray(b.y_pred))
        for a, b in zip(results[1], results[2], strict=True)
    )
    print("| method | status | seconds (jobs=1, from the result) |")
    print("| --- | --- | ---: |")
    for outcome in results[1]:
        print(f"| {outcome.method} | {outcome.status} | {outcome.seconds or 0:.2f} |")
    print(f"\nAll six: jobs=1 {one:.2f} s, jobs=2 {two:.2f} s; identical predictions: {same}")


# --- whole audits and a batch -----------------------------------------------------------


def fairaudit_run(args: Sequence[str], out: Path) -> None:
    command = [*FAIRAUDIT, "run", *args, "--no-ledger", "-q", "-o", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(command, check=True, env=env, capture_output=True)


def part_audit(repeats: int, big_rows: int) -> None:
    print("\n### `fairaudit run` end to end (a fresh process each time)\n")
    print("| audit | with mitigations (s) | --no-mitigation (s) | mitigation cost (s) |")
    print("| --- | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        parquet = folder / "scored.parquet"
        scored_frame(big_rows).to_parquet(parquet)
        big = [
            str(parquet), "--target", "label", "--prediction-col", "pred",
            "--score-col", "score", "--sensitive", "sex", "--sensitive", "age_band",
        ]  # fmt: skip
        cases = {
            "sample audit (400 rows, six methods)": ["--config", str(SAMPLE)],
            f"{big_rows:,} scored rows, Parquet (three threshold methods)": big,
        }
        out = folder / "report.html"
        for name, args in cases.items():
            with_m, without = best_of(
                repeats,
                partial(fairaudit_run, args, out),
                partial(fairaudit_run, [*args, "--no-mitigation"], out),
            )
            print(f"| {name} | {with_m:.2f} | {without:.2f} | {with_m - without:.2f} |")


#: Runs a batch in a fresh process whose main module is light (as the `fairaudit` command's
#: is): spawned workers re-import the main module, and this script's imports take seconds.
BATCH = """
import json, sys, time
from fairaudit.batch import load_manifest, run_batch
if __name__ == "__main__":
    manifest = load_manifest(sys.argv[1])
    start = time.perf_counter()
    result = run_batch(manifest, jobs=int(sys.argv[2]))
    total = time.perf_counter() - start
    assert all(o.status == "passed" for o in result.outcomes)
    print(json.dumps([total, [o.seconds for o in result.outcomes]]))
"""


def part_batch(repeats: int) -> None:
    print("\n### `run_batch` of two sample audits (six methods each), in a fresh process\n")
    print("| jobs | batch (s) | audits (s) | batch − slowest audit (s) |")
    print("| ---: | ---: | --- | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "batch.toml"
        manifest.write_text(
            "".join(
                f'[[audit]]\nconfig = {json.dumps(str(SAMPLE))}\nmodel_version = "{v}"\n'
                for v in ("1.0.0", "1.1.0")
            )
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for jobs in (2, 1):
            runs = []
            for _ in range(repeats):
                command = [sys.executable, "-c", BATCH, str(manifest), str(jobs)]
                done = subprocess.run(command, check=True, env=env, capture_output=True, text=True)
                total, seconds = json.loads(done.stdout.strip().splitlines()[-1])
                runs.append((total - max(seconds), total, seconds))
            over, total, seconds = min(runs)
            audits = ", ".join(f"{s:.2f}" for s in seconds)
            print(f"| {jobs} | {total:.2f} | {audits} | {over:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = ("thresholds", "six", "audit", "batch")
    parser.add_argument("--part", choices=parts, action="append")
    parser.add_argument("--rows", type=int, default=100_000, help="rows of 'six'")
    parser.add_argument("--threshold-rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--fairlearn-rows", type=int, default=100_000)
    parser.add_argument("--big-rows", type=int, default=1_000_000, help="rows of 'audit'")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (best of)")
    args = parser.parse_args()

    print(f"Machine: {machine()}")
    print(time.strftime("Date: %Y-%m-%d %H:%M %Z"))
    print(f"Before: {load()}")
    chosen = args.part or parts
    if "thresholds" in chosen:
        part_thresholds(args.threshold_rows, args.repeats, args.fairlearn_rows)
    if "six" in chosen:
        part_six(args.rows, args.repeats)
    if "audit" in chosen:
        part_audit(args.repeats, args.big_rows)
    if "batch" in chosen:
        part_batch(args.repeats)
    print(f"\nAfter: {load()}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
