"""Benchmark of the mitigation engine: time per method with jobs=1 and jobs=2.

Two data sets:

* the German credit sample (``sample_data/``: 400 evaluation rows, 600 training rows, the
  bundled scikit-learn Pipeline), sensitive ``sex`` and ``age`` binned as in sample_data/audit.toml
  exactly as ``sample_data/audit.toml`` audits them. On their intersection (8 groups) the
  threshold methods fail fast (4 women aged 60+, all good risks: no negative row to fit a
  threshold on), so they are also timed on ``age`` alone (4 groups);
* synthetic data: ``--rows`` evaluation rows and as many training rows, two sensitive
  columns (3 x 2 = 6 intersectional groups), group "c" with lower scores, and a
  ``StandardScaler`` + ``LogisticRegression`` Pipeline.

For each method: ``run_mitigations(inputs, [method], jobs=...)``, best of ``--repeats``
wall-clock runs after one warm-up parallel call (worker start-up is timed separately).
Then every method at once with jobs=1, jobs=2 (processes, the default) and jobs=2 with
joblib's threading backend, the comparison behind the choice of processes. Each run also
checks that jobs=1 and jobs=2 give identical predictions.

Run from the repository root::

    PYTHONPATH=. python benchmarks/mitigation_bench.py                 # 100,000 rows
    PYTHONPATH=. python benchmarks/mitigation_bench.py --rows 20000 --repeats 1
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import fairlearn
import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fairaudit.data import encode_sensitive
from fairaudit.mitigation import (
    METHODS,
    THRESHOLD_METHODS,
    MitigationInputs,
    MitigationOutcome,
    run_mitigations,
)
from fairaudit.mitigation import _protocol as mitigation
from fairaudit.models import load_model, predict
from fairaudit.spec import load_config

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


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
        f"joblib {joblib.__version__}, numpy {np.__version__}, pandas {pd.__version__}"
    )


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def german_inputs() -> MitigationInputs:
    def sensitive(frame: pd.DataFrame) -> pd.DataFrame:
        edges = load_config(SAMPLE / "audit.toml").bins["age"]  # as the sample config bins it
        age = encode_sensitive(frame["age"], column="age", edges=edges)
        return pd.DataFrame(
            {"sex": frame["sex"].astype(str), "age": np.asarray(age.levels)[age.codes]}
        )

    evaluation = pd.read_csv(SAMPLE / "german_eval.csv")
    train = pd.read_csv(SAMPLE / "german_train.csv")
    model = load_model(SAMPLE / "german_credit_model.skops")
    columns = [c for c in evaluation.columns if c != "risk"]
    return MitigationInputs(
        eval_features=evaluation[columns],
        y_true=evaluation["risk"].to_numpy() == 1,
        sensitive=sensitive(evaluation),
        estimator=model.estimator,
        score=predict(model, evaluation, columns, None).score,
        train_features=train[columns],
        train_y=train["risk"].to_numpy() == 1,
        train_sensitive=sensitive(train),
    )


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


def synthetic_inputs(rows: int) -> MitigationInputs:
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


def timed(
    inputs: MitigationInputs,
    methods: Sequence[str],
    jobs: int,
    repeats: int,
    on: Sequence[str] | None,
) -> tuple[float, list[MitigationOutcome]]:
    best = float("inf")
    outcomes: list[MitigationOutcome] = []
    for _ in range(repeats):
        start = time.perf_counter()
        outcomes = run_mitigations(inputs, methods, jobs=jobs, on=on, seed=0)
        best = min(best, time.perf_counter() - start)
    return best, outcomes


def same(a: list[MitigationOutcome], b: list[MitigationOutcome]) -> bool:
    return all(
        x.status == y.status
        and (x.y_pred is None) == (y.y_pred is None)
        and (x.y_pred is None or np.array_equal(x.y_pred, y.y_pred))
        for x, y in zip(a, b, strict=True)
    )


def quality(
    outcome: MitigationOutcome, inputs: MitigationInputs, on: Sequence[str]
) -> tuple[str, str]:
    if outcome.y_pred is None:
        return "–", "–"
    groups = inputs.sensitive[list(on)].astype(str).agg("|".join, axis=1).to_numpy()
    rates = pd.Series(outcome.y_pred).groupby(groups).mean()
    accuracy = float((outcome.y_pred == inputs.y_true).mean())
    return f"{accuracy:.3f}", f"{rates.max() - rates.min():.3f}"


def bench(
    name: str,
    inputs: MitigationInputs,
    plan: Sequence[tuple[Sequence[str], Sequence[str] | None]],
    repeats: int,
) -> None:
    print(f"\n### {name}\n")
    print("| method | groups | status | accuracy | DP difference | jobs=1 (s) | jobs=2 (s) |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    reasons: dict[str, str] = {}
    for methods, on in plan:
        columns = list(on) if on is not None else [str(c) for c in inputs.sensitive.columns]
        for method in methods:
            one, first = timed(inputs, [method], 1, repeats, on)
            two, second = timed(inputs, [method], 2, repeats, on)
            assert same(first, second), f"{method}: jobs=1 and jobs=2 differ"
            outcome = first[0]
            accuracy, gap = quality(outcome, inputs, columns)
            status = outcome.status
            if outcome.reason is not None:
                reasons.setdefault(outcome.reason, f"{len(reasons) + 1}")
                status += f" ({reasons[outcome.reason]})"
            print(
                f"| {method} | {' × '.join(columns)} | {status} | {accuracy} | {gap} | "
                f"{one:.2f} | {two:.2f} |"
            )
    base = inputs.score >= 0.5 if inputs.score is not None else None
    if base is not None:
        fake = MitigationOutcome("model", "", "", "ok", y_pred=base)
        for on in dict.fromkeys(tuple(o) if o is not None else None for _, o in plan):
            columns = list(on) if on else [str(c) for c in inputs.sensitive.columns]
            accuracy, gap = quality(fake, inputs, columns)
            print(f"| (audited model) | {' × '.join(columns)} | | {accuracy} | {gap} | | |")
    for reason, mark in reasons.items():
        print(f"\n({mark}) {reason}")

    on_all = plan[-1][1]
    print(f"\nAll methods at once (groups: {on_all or 'intersection'}):\n")
    print("| run | seconds |")
    print("| --- | ---: |")
    one, first = timed(inputs, list(METHODS), 1, repeats, on_all)
    two, second = timed(inputs, list(METHODS), 2, repeats, on_all)
    assert same(first, second), "all methods: jobs=1 and jobs=2 differ"
    mitigation._PARALLEL_BACKEND = "threading"
    try:
        threads, _ = timed(inputs, list(METHODS), 2, repeats, on_all)
    finally:
        mitigation._PARALLEL_BACKEND = "loky"
    print(f"| jobs=1 (in process) | {one:.2f} |")
    print(f"| jobs=2, processes (loky, the default) | {two:.2f} |")
    print(f"| jobs=2, threads (joblib threading) | {threads:.2f} |")
    for outcome in first:
        if outcome.status != "ok":
            print(f"\n{outcome.method} {outcome.status}: {outcome.reason}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=1, help="runs per figure (best of)")
    parser.add_argument("--german-repeats", type=int, default=3)
    args = parser.parse_args()

    print(f"Machine: {machine()}")
    print(f"Before: {load()}")
    # The first parallel call in a process starts the worker processes: time it apart.
    tiny = german_inputs()
    start = time.perf_counter()
    run_mitigations(tiny, ["threshold_demographic_parity"], on=["sex"], jobs=2)
    print(f"Worker start-up (first jobs=2 call, German, one threshold method): "
          f"{time.perf_counter() - start:.2f} s")  # fmt: skip

    german = german_inputs()
    bench(
        "German credit sample (400 evaluation rows, 600 training rows)",
        german,
        [(list(METHODS), None), (list(THRESHOLD_METHODS), ["age"])],
        args.german_repeats,
    )
    rows = args.rows
    bench(
        f"Synthetic, {rows:,} evaluation rows and {rows:,} training rows",
        synthetic_inputs(rows),
        [(list(METHODS), None)],
        args.repeats,
    )
    print(f"\nAfter: {load()}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
