"""Data-audit benchmark (issue 18): counting + rows with both engines against a floor.

Each measurement is one fresh subprocess timing its own work (imports excluded), its peak
memory read from ``os.wait4``; the kinds are interleaved over ``--repeats`` rounds and
reported best-of-N with the median and the ratio to the best floor of the same size.

* ``floor``   pyarrow read of the three columns, dictionary codes of sex and race, one
  ``np.bincount`` of the (sex, race, label) key.
* ``numpy``   ``fairaudit.data.read_table`` (pandas) + ``databias.count_data`` +
  ``databias.rows_from_counts``: the data audit's counts and rows, in memory.
* ``duckdb``  ``engines.count_data_duckdb`` + ``databias.rows_from_counts``.

Data: synthetic Parquet written once into ``$FAIRAUDIT_DATABIAS_DIR`` (default
/tmp/fairaudit-databias): ``label`` (int8, 0/1), ``sex`` (2 levels) and ``race`` (5).
Issue 18's target: each engine <= 10x the floor.

Usage::

    python benchmarks/databias_bench.py                      # 10M rows, 3 rounds
    python benchmarks/databias_bench.py --sizes 1000000 --repeats 2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from scale_bench import write_parquet_chunks  # noqa: E402  (a sibling script)
from speed_bench import machine  # noqa: E402

SCRATCH = Path(os.environ.get("FAIRAUDIT_DATABIAS_DIR", "/tmp/fairaudit-databias"))
KINDS = ("floor", "numpy", "duckdb")
TARGET = 10.0
WHAT = {
    "floor": "floor: pyarrow read of 3 columns + dictionary codes + 1 bincount",
    "numpy": "numpy: read_table + count_data + rows_from_counts",
    "duckdb": "duckdb: count_data_duckdb + rows_from_counts",
}


def generate(n_rows: int, seed: int = 0) -> Path:
    """Write (once) ``n_rows`` rows of label, sex and race to a Parquet file."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    sexes = pa.array(["female", "male"])
    races = pa.array(["asian", "black", "hispanic", "other", "white"])

    def chunk(m: int) -> pa.Table:
        race = rng.integers(0, 5, m)
        label = (rng.random(m) < 0.3 + 0.05 * race).astype(np.int8)
        return pa.table(
            {
                "label": pa.array(label),
                "sex": sexes.take(pa.array(rng.integers(0, 2, m))),
                "race": races.take(pa.array(race)),
            }
        )

    return write_parquet_chunks(SCRATCH / f"databias_{n_rows}.parquet", n_rows, chunk)


def run_one(kind: str, path: Path) -> float:
    """Return the seconds of one measurement of ``kind`` on ``path`` (imports excluded)."""
    import numpy as np
    import pyarrow.parquet as pq

    from fairaudit.data import read_table
    from fairaudit.databias import count_data, rows_from_counts
    from fairaudit.engines import count_data_duckdb

    options = {"target": "label", "sensitive": ["sex", "race"]}
    start = time.perf_counter()
    if kind == "floor":
        table = pq.read_table(path, columns=["label", "sex", "race"])
        sex = table.column("sex").dictionary_encode().combine_chunks()
        race = table.column("race").dictionary_encode().combine_chunks()
        key = sex.indices.to_numpy().astype(np.int64) * len(race.dictionary)
        key = (key + race.indices.to_numpy()) * 2 + table.column("label").to_numpy()
        np.bincount(key)
    elif kind == "numpy":
        rows_from_counts(count_data(read_table(path)[0], **options))
    else:
        rows_from_counts(count_data_duckdb(path, **options))
    return time.perf_counter() - start


def timed(kind: str, path: Path) -> dict[str, float]:
    """Run one measurement in a fresh process; return its seconds, peak MiB and load."""
    load = os.getloadavg()[0]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, __file__, "--one", kind, str(path)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"{kind} failed on {path}")
    seconds = json.loads(output)["seconds"]
    return {"seconds": seconds, "peak_mib": usage.ru_maxrss / 1024, "load": load}


def report(results: dict[tuple[str, int], list[dict[str, float]]], sizes: list[int]) -> None:
    """Print the markdown table and the target check."""
    print(
        "| work | rows | runs | best (s) | median (s) | peak MiB | floor (s) | best / floor "
        "| load |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    checks = []
    for n in sizes:
        floor = min(r["seconds"] for r in results[("floor", n)])
        for kind in KINDS:
            runs = results[(kind, n)]
            seconds = [r["seconds"] for r in runs]
            best, peak = min(seconds), max(r["peak_mib"] for r in runs)
            loads = [r["load"] for r in runs]
            ratio = "" if kind == "floor" else f"{best / floor:.1f}×"
            print(
                f"| {WHAT[kind]} | {n:,} | {len(runs)} | {best:.3f} | "
                f"{statistics.median(seconds):.3f} | {peak:.0f} | "
                f"{'' if kind == 'floor' else f'{floor:.3f}'} | {ratio} | "
                f"{min(loads):.1f}-{max(loads):.1f} |"
            )
            if kind != "floor":
                met = "met" if best / floor <= TARGET else "NOT met"
                checks.append(
                    f"* {kind} at {n:,} rows / floor: {best / floor:.2f}× (≤ 10×): {met}."
                )
    print("\n" + "\n".join(checks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write every timing here")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # one measurement
    args = parser.parse_args()
    if args.one:
        print(json.dumps({"seconds": run_one(args.one[0], Path(args.one[1]))}))
        return
    for line in machine():
        print(line + "  ")
    print(f"Load at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    for n in args.sizes:
        path = generate(n)
        for _ in range(args.repeats):
            for kind in KINDS:
                results.setdefault((kind, n), []).append(timed(kind, path))
                print(f"{kind} {n}: {results[(kind, n)][-1]}", file=sys.stderr, flush=True)
    report(results, args.sizes)
    if args.json:
        flat = {f"{k} {n}": v for (k, n), v in results.items()}
        args.json.write_text(json.dumps(flat, indent=2) + "\n")


if __name__ == "__main__":
    main()
