"""Engine benchmark: numpy, DuckDB and Spark counting passes with scores, against a floor.

Data: synthetic Parquet written in 5M-row chunks with pyarrow into a scratch folder
(``$FAIRAUDIT_ENGINE_DIR``, default /tmp/fairaudit-engine; never the repository): a
binary label and prediction, a full-precision probability score (float64, almost every
value distinct) and two sensitive features, sex (2 levels) and race (5).

Measured per size, each in its own subprocess (peak memory is that process's ``ru_maxrss``),
interleaved over ``--repeats`` rounds (best-of-N is reported):

* ``floor``  - pyarrow read of the five columns, dictionary codes of the two sensitive
  columns, one ``np.bincount`` of the combined (group, label, prediction) key and one
  ``np.argsort`` of the scores: the least an exact counting pass with ranks can do.
* ``numpy``  - ``count_with_engine(spec, "numpy")`` (counts, checks and exact score sums).
* ``duckdb`` - ``count_with_engine(spec, "duckdb")``.
* ``spark``  - ``count_with_engine(spec, "spark")`` on the session ``--spark-master local[2]``
  gives (session start timed separately and left out of ``seconds``).

Usage::

    python benchmarks/engine_bench.py --sizes 10000000 --repeats 3
    python benchmarks/engine_bench.py --sizes 1000000 --only floor numpy spark
    python benchmarks/engine_bench.py --sizes 100000000 --only floor duckdb --repeats 1
    python benchmarks/engine_bench.py --clean   # delete the scratch data
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_bench import write_parquet_chunks  # noqa: E402  (a sibling script)

SCRATCH = Path(os.environ.get("FAIRAUDIT_ENGINE_DIR", "/tmp/fairaudit-engine"))
KINDS = ("floor", "numpy", "duckdb", "spark")


def data_path(n_rows: int) -> Path:
    return SCRATCH / f"engine_{n_rows}.parquet"


def generate(n_rows: int, seed: int = 0) -> Path:
    """Write (once) the synthetic Parquet file of ``n_rows`` rows, in chunks."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    sex = pa.array(["female", "male"])
    race = pa.array(["asian", "black", "hispanic", "other", "white"])

    def chunk(m: int) -> pa.Table:
        r = rng.integers(0, 5, m)
        label = rng.random(m) < 0.3 + 0.05 * r
        score = 1.0 / (1.0 + np.exp(-rng.normal(-0.6 + 1.5 * label + 0.1 * r, 1.0)))
        return pa.table(
            {
                "race": race.take(pa.array(r)),
                "sex": sex.take(pa.array(rng.integers(0, 2, m))),
                "score": score,
                "label": label.astype(np.int8),
                "pred": (score > 0.5).astype(np.int8),
            }
        )

    return write_parquet_chunks(data_path(n_rows), n_rows, chunk)


def _spec(n_rows: int):  # type: ignore[no-untyped-def]
    from fairaudit.spec import AuditSpec

    return AuditSpec(
        data=data_path(n_rows),
        target="label",
        sensitive=("sex", "race"),
        prediction_col="pred",
        score_col="score",
    )


def _floor(n_rows: int) -> float:
    import numpy as np
    import pyarrow.parquet as pq

    start = time.perf_counter()
    table = pq.read_table(data_path(n_rows), columns=["label", "pred", "score", "sex", "race"])
    key = None
    for name in ("sex", "race"):
        encoded = table.column(name).dictionary_encode().combine_chunks()
        code = encoded.indices.to_numpy().astype(np.int64)
        key = code if key is None else key * len(encoded.dictionary) + code
    assert key is not None
    y = table.column("label").to_numpy()
    yhat = table.column("pred").to_numpy()
    np.bincount(key * 4 + 2 * y + yhat)
    np.argsort(table.column("score").to_numpy())
    return time.perf_counter() - start


def measure(kind: str, n_rows: int) -> dict:
    """Run one measurement in this process; return its figures."""
    out: dict = {"kind": kind, "rows": n_rows}
    if kind == "floor":
        out["seconds"] = _floor(n_rows)
    elif kind in ("numpy", "duckdb", "spark"):
        from fairaudit.engines import count_with_engine

        options: dict = {}
        if kind == "spark":
            from fairaudit.engines._spark import spark_session

            start = time.perf_counter()
            options["session"] = spark_session("local[2]")  # as `--spark-master local[2]`
            out["session_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        counted = count_with_engine(_spec(n_rows), kind, **options)  # type: ignore[arg-type]
        out["seconds"] = time.perf_counter() - start
        assert counted.score_summary is not None
        overall = counted.score_summary.overall
        out["check"] = [overall.n_pos[0], overall.u2[0] % 1_000_003, overall.b2[0] % 1_000_003]
    else:
        raise SystemExit(f"unknown measurement {kind!r}")
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def run_in_subprocess(kind: str, n_rows: int) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--sizes", str(n_rows)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        return {"kind": kind, "rows": n_rows, "error": done.stderr.strip().splitlines()[-3:]}
    result: dict = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000_000])
    parser.add_argument("--only", nargs="+", default=None, choices=KINDS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", default=None)
    parser.add_argument("--clean", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.sizes[0])))
        return
    if args.clean:
        shutil.rmtree(SCRATCH, ignore_errors=True)
        return
    kinds = args.only or ["floor", "numpy", "duckdb"]
    for n_rows in args.sizes:
        start = time.perf_counter()
        generate(n_rows)
        print(f"# data {n_rows} rows ready ({time.perf_counter() - start:.1f} s)", flush=True)
        best: dict[str, dict] = {}
        for _ in range(args.repeats):
            for kind in kinds:
                figures = run_in_subprocess(kind, n_rows)
                print(json.dumps(figures), flush=True)
                if "seconds" in figures and (
                    kind not in best or figures["seconds"] < best[kind]["seconds"]
                ):
                    best[kind] = figures
        floor = best.get("floor", {}).get("seconds")
        for kind, figures in best.items():
            ratio = f"{figures['seconds'] / floor:.1f}x floor" if floor else ""
            print(
                f"| {n_rows:,} | {kind} | {figures['seconds']:.2f} s | {ratio} | "
                f"{figures['peak_rss_mib']:,} MiB |",
                flush=True,
            )


if __name__ == "__main__":
    main()
