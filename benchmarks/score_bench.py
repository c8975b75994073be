"""Score-path benchmark: the numpy engine with scores against a read+count+sort floor.

Data is synthetic Parquet written with pyarrow into a scratch folder (default
/tmp/fairaudit-score-bench; never the repository): two sensitive features (``sex`` 2
levels, ``region`` 5), a binary label ``y`` and prediction ``yhat``, a probability score
``p`` rounded to 4 decimals (many ties) and ``pc``, the same score unrounded (continuous,
almost no ties).

Measured at each size, for each score column, interleaved and best-of-N:

* ``floor`` - pyarrow read of the five columns, dictionary codes of both sensitive
  features, one ``np.bincount`` of the combined (group, cell) code, and one
  ``np.argsort`` of the scores.
* ``summary`` - ``score_summary_from_rows`` alone (rank sums, DeLong placement sums and
  Brier sums for every grouping), on in-memory inputs.
* ``audit`` - ``fairaudit run --engine numpy --no-mitigation --no-ledger`` end to end,
  in a fresh subprocess (imports, read, checks, counts, score sums, stats, HTML/JSON).

Usage::

    python benchmarks/score_bench.py                       # 1M and 10M rows, 3 repeats
    python benchmarks/score_bench.py --sizes 1000000 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_bench import write_parquet_chunks  # noqa: E402  (a sibling script)

SCRATCH = Path(os.environ.get("FAIRAUDIT_SCORE_BENCH_DIR", "/tmp/fairaudit-score-bench"))
COLUMNS = ("y", "yhat", "sex", "region")
SCORES = ("p", "pc")


def data_path(n_rows: int) -> Path:
    """Return the scratch Parquet path of ``n_rows`` rows."""
    return SCRATCH / f"scores_{n_rows}.parquet"


def generate(n_rows: int, seed: int = 0) -> Path:
    """Write (once) the synthetic Parquet file of ``n_rows`` rows, in chunks."""
    rng = np.random.default_rng(seed)
    sex = pa.array(["female", "male"])
    region = pa.array(["north", "east", "south", "west", "centre"])

    def chunk(m: int) -> pa.Table:
        s = rng.integers(0, 2, m)
        r = rng.integers(0, 5, m)
        y = rng.random(m) < 0.25 + 0.05 * r + 0.05 * s
        pc = np.clip(rng.normal(0.35 + 0.3 * y - 0.02 * r, 0.2), 0.0, 1.0)
        return pa.table(
            {
                "y": y.astype(np.int8),
                "yhat": (pc > 0.5).astype(np.int8),
                "p": np.round(pc, 4),
                "pc": pc,
                "sex": sex.take(pa.array(s)),
                "region": region.take(pa.array(r)),
            }
        )

    # 2M-row chunks: the random stream (so the data) of the figures in benchmarks/README.md.
    return write_parquet_chunks(data_path(n_rows), n_rows, chunk, chunk=2_000_000)


def floor(path: Path, score_col: str) -> float:
    """Return seconds for read + dictionary codes + one bincount + one argsort of scores."""
    start = time.perf_counter()
    table = pq.read_table(path, columns=[*COLUMNS, score_col])
    codes = [
        table.column(c).dictionary_encode().combine_chunks().indices.to_numpy()
        for c in ("sex", "region")
    ]
    y = table.column("y").to_numpy()
    yhat = table.column("yhat").to_numpy()
    key = (codes[0].astype(np.int64) * 5 + codes[1]) * 4 + y * 2 + yhat
    np.bincount(key, minlength=40)
    np.argsort(table.column(score_col).to_numpy())
    return time.perf_counter() - start


def _inputs(path: Path, score_col: str):  # type: ignore[no-untyped-def]
    """Return (group_counts with row cells, y, score) of the file, in memory."""
    from fairaudit.counts import count_groups

    table = pq.read_table(path, columns=[*COLUMNS, score_col])
    encoded = [table.column(c).dictionary_encode().combine_chunks() for c in ("sex", "region")]
    y = table.column("y").to_numpy()
    gc = count_groups(
        ("sex", "region"),
        [e.indices.to_numpy() for e in encoded],
        [e.dictionary.to_pylist() for e in encoded],
        y,
        table.column("yhat").to_numpy(),
        with_row_cells=True,
    )
    return gc, y, table.column(score_col).to_numpy()


def summary(inputs) -> float:  # type: ignore[no-untyped-def]
    """Return seconds for ``score_summary_from_rows`` on in-memory inputs."""
    from fairaudit.engines._rank_sums import score_summary_from_rows

    start = time.perf_counter()
    score_summary_from_rows(*inputs, True)
    return time.perf_counter() - start


def audit(path: Path, score_col: str, out: Path) -> float:
    """Return seconds for ``fairaudit run`` (numpy engine, no mitigation) in a subprocess."""
    cmd = [
        sys.executable,
        "-m",
        "fairaudit",
        "run",
        str(path),
        "--target",
        "y",
        "--prediction-col",
        "yhat",
        "--score-col",
        score_col,
        "--sensitive",
        "sex",
        "--sensitive",
        "region",
        "--engine",
        "numpy",
        "--no-mitigation",
        "--no-ledger",
        "-q",
        "-o",
        str(out),
    ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - start


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{model}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"numpy {np.__version__}, pyarrow {pa.__version__}; load average {load}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--scores", nargs="+", default=list(SCORES), choices=SCORES)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-audit", action="store_true", help="skip the end-to-end runs")
    args = parser.parse_args()
    print(f"Machine: {_machine()}")
    print(time.strftime("Date: %Y-%m-%d %H:%M %Z"))
    print()
    print(
        "| rows | score | floor (s) | summary (s) | summary / floor | audit (s) | audit / floor |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for n_rows in args.sizes:
            path = generate(n_rows)
            for score_col in args.scores:
                inputs = _inputs(path, score_col)
                floors, summaries, audits = [], [], []
                for _ in range(args.repeats):  # interleaved: the anchor around each work
                    floors.append(floor(path, score_col))
                    summaries.append(summary(inputs))
                    floors.append(floor(path, score_col))
                    if not args.no_audit:
                        audits.append(audit(path, score_col, Path(tmp) / "report.html"))
                del inputs
                f, s = min(floors), min(summaries)
                a = f"{min(audits):.2f} | {min(audits) / f:.1f}×" if audits else "- | -"
                print(f"| {n_rows:,} | {score_col} | {f:.2f} | {s:.2f} | {s / f:.2f}× | {a} |")
                sys.stdout.flush()


if __name__ == "__main__":
    main()
