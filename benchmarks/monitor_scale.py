"""How ``fairaudit monitor`` scales: a big Parquet log cut into weekly windows by DuckDB,
then a daily incremental run over new rows (issue 20's "100M log rows ... within 24 GiB;
a daily incremental run over 1M new rows in seconds").

Usage (from the repository root; the log and outputs go under --root)::

    nice python benchmarks/monitor_scale.py --rows 100000000 --daily-rows 1000000 \\
        --root /tmp/monitor_scale

Steps, each timed with ``/usr/bin/time -v`` (wall seconds, peak RSS):

1. a 5,000-row scored holdout audited and signed (the baseline);
2. a Parquet log of ``--rows`` rows written with pyarrow in chunks (ts: a UTC timestamp,
   label, pred, score, sex), spread evenly over 52 ISO weeks from 2026-01-05; from the
   31st week the watched group's selection rate is 0.7 times the reference's;
3. ``fairaudit monitor LOG --time-col ts --window week --engine duckdb`` into a new state;
4. the daily run: ``--daily-rows`` rows of the next Monday (2027-W01) in a Parquet file,
   added to the same state (``--engine duckdb``).

Prints one Markdown table row per step. Nothing is written outside --root.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

WEEKS = 52
START = np.datetime64("2026-01-05T00:00:00", "s")  # a Monday: ISO week 2026-W02
CHANGE_WEEK = 30  # 0-based: the 31st week
CHUNK = 2_000_000
FAIRAUDIT = [sys.executable, "-m", "fairaudit"]


def rows_table(
    rng: np.random.Generator, rows: int, start: np.datetime64, seconds: int, ratio: float
):
    """Return one chunk as a pyarrow Table (times spread over ``seconds`` from ``start``)."""
    import pyarrow as pa

    sex = rng.random(rows) < 0.4  # True: the watched group "f"
    rate = np.where(sex, 0.5 * ratio, 0.5)
    offsets = np.sort(rng.integers(0, seconds, rows))
    return pa.table(
        {
            "ts": pa.array(start + offsets, type=pa.timestamp("s", tz="UTC")),
            "label": pa.array(rng.binomial(1, 0.5, rows).astype(np.int8)),
            "pred": pa.array(rng.binomial(1, rate).astype(np.int8)),
            "score": pa.array(rng.random(rows, dtype=np.float32)),
            "sex": pa.DictionaryArray.from_arrays(
                pa.array(sex.astype(np.int8)), pa.array(["m", "f"])
            ),
        }
    )


def write_log(path: Path, rows: int, seed: int = 0) -> None:
    """Write ``rows`` rows over 52 weeks in chunks of at most CHUNK rows (time order)."""
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    per_week = np.full(WEEKS, rows // WEEKS)
    per_week[: rows % WEEKS] += 1
    week_seconds = 7 * 86400
    writer = None
    try:
        for week, count in enumerate(per_week):
            ratio = 1.0 if week < CHANGE_WEEK else 0.7
            start = START + np.timedelta64(week * week_seconds, "s")
            pieces = -(-int(count) // CHUNK)
            for piece in range(pieces):
                n = int(count) // pieces + (piece < int(count) % pieces)
                span = week_seconds // pieces
                table = rows_table(rng, n, start + np.timedelta64(piece * span, "s"), span, ratio)
                if writer is None:
                    writer = pq.ParquetWriter(str(path), table.schema)
                writer.write_table(table, row_group_size=1_000_000)
    finally:
        if writer is not None:
            writer.close()


def write_day(path: Path, rows: int, seed: int = 1) -> None:
    """Write ``rows`` rows of one day, 2027-01-04 (ISO week 2027-W01), after the log."""
    import pyarrow.parquet as pq

    day = START + np.timedelta64(WEEKS * 7 * 86400, "s")
    pq.write_table(rows_table(np.random.default_rng(seed), rows, day, 86400, 0.7), str(path))


def write_holdout(path: Path, rows: int = 5000) -> None:
    """Write the pre-release holdout (CSV: label, pred, sex; no disparity)."""
    table = rows_table(np.random.default_rng(2), rows, START, 86400, 1.0)
    frame = table.select(["label", "pred", "sex"]).to_pandas()
    frame.to_csv(path, index=False)


def timed(args: list, log: Path) -> dict:
    """Run ``args`` under /usr/bin/time -v; return exit code, seconds and peak RSS (MiB)."""
    started = time.monotonic()
    with log.open("w") as out:
        done = subprocess.run(
            ["/usr/bin/time", "-v", *map(str, args)], stdout=out, stderr=subprocess.STDOUT
        )
    seconds = time.monotonic() - started
    text = log.read_text()
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    return {
        "code": done.returncode,
        "seconds": seconds,
        "peak_mib": int(peak.group(1)) / 1024 if peak else float("nan"),
    }


def row(step: str, result: dict, note: str = "") -> None:
    print(
        f"| {step} | {result['seconds']:.1f} | {result['peak_mib']:,.0f} | "
        f"{result['code']} | {note} |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="log rows")
    parser.add_argument("--daily-rows", type=int, default=1_000_000, help="rows of the daily run")
    parser.add_argument("--root", type=Path, default=Path("/tmp/monitor_scale"))
    parser.add_argument("--keep-log", action="store_true", help="reuse an existing log")
    args = parser.parse_args()
    if args.rows < WEEKS or args.daily_rows < 1:
        parser.error("--rows must be at least 52 and --daily-rows at least 1")
    root = args.root
    root.mkdir(parents=True, exist_ok=True)
    log, day = root / f"log-{args.rows}.parquet", root / "day.parquet"
    out = root / "out"
    shutil.rmtree(out, ignore_errors=True)
    for folder in ("base", "full", "daily"):
        (out / folder).mkdir(parents=True)
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()}", flush=True)
    print("| step | seconds | peak RSS (MiB) | exit | note |\n|---|---|---|---|---|", flush=True)

    holdout = root / "holdout.csv"
    write_holdout(holdout)
    keygen = FAIRAUDIT + ["keygen", "-o", out / "keys", "--name", "scale"]
    subprocess.run(list(map(str, keygen)), check=True, stdout=subprocess.DEVNULL)
    key, pub = out / "keys" / "scale.key", out / "keys" / "scale.pub"
    audit = FAIRAUDIT + [
        "run", holdout, "--target", "label", "--prediction-col", "pred", "--sensitive", "sex",
        "--no-mitigation", "--no-ledger", "--sign-key", key, "-o", out / "base" / "report.html",
    ]  # fmt: skip
    result = timed(audit, out / "audit.log")
    row("signed baseline audit (5,000 rows)", result)
    if result["code"] != 0:
        sys.exit(f"the baseline audit failed: {out / 'audit.log'}")

    if not (args.keep_log and log.exists()):
        started = time.monotonic()
        write_log(log, args.rows)
        size = log.stat().st_size / 2**30
        print(f"wrote {log} ({args.rows:,} rows, {size:.2f} GiB) in "
              f"{time.monotonic() - started:.0f} s", flush=True)  # fmt: skip
    write_day(day, args.daily_rows)
    monitor = FAIRAUDIT + [
        "monitor", "--baseline", out / "base" / "report.html", "--key", pub,
        "--state", out / "state.sqlite", "--no-ledger", "--engine", "duckdb",
        "--time-col", "ts", "--window", "week",
    ]  # fmt: skip
    full = timed(monitor + [log, "-o", out / "full" / "monitor.html"], out / "full.log")
    row(f"log of {args.rows:,} rows, 52 weeks", full, "exit 3: the week-31 step alarmed")
    daily = timed(monitor + [day, "-o", out / "daily" / "monitor.html"], out / "daily.log")
    row(f"daily run, {args.daily_rows:,} new rows", daily, "53 windows judged")
    for name in ("full.log", "daily.log"):
        alarms = [x for x in (out / name).read_text().splitlines() if x.startswith("ALARM")]
        print(f"{name}: {len(alarms)} alarm line(s); first: {alarms[:1]}", flush=True)


if __name__ == "__main__":
    main()
