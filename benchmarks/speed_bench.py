"""Speed benchmark: issue 15's table in one command, floors included, through the real CLI.

Every measurement is one subprocess running ``fairaudit`` exactly as a user would (wall time
from spawn to exit, peak memory from that process's ``ru_maxrss``), except the floor, which
is a subprocess timing its own work. Measurements are interleaved over ``--repeats`` rounds
(each engine run right after a floor of its size) and reported best-of-N with the median.

Data: synthetic Parquet in a scratch folder (``$FAIRAUDIT_SPEED_DIR``, default
/tmp/fairaudit-speed; never the repository): label, prediction, a float64 probability score
(almost every value distinct) and two sensitive features, sex (2 levels) and race (5).

Measured (``--only`` picks a subset; names in brackets):

* ``floor``      pyarrow read of the five columns, dictionary codes of sex and race, one
  ``np.bincount`` of the (group, label, prediction) key, one ``np.argsort`` of the scores.
* ``numpy``      ``fairaudit run FILE --engine numpy --no-mitigation`` with scores.
* ``duckdb``     the same with ``--engine duckdb``.
* ``mitigation`` ``fairaudit run FILE --engine numpy`` (default: the mitigation comparison
  on the score), at 1M rows only.
* ``sample``     the README's sample audit (``--config sample_data/audit.toml``). Each run
  first waits (``--settle``, up to 60 s) for the 1-minute load average to fall below
  cores - 0.5, the condition under which the audit lends itself a worker process
  (``runtime.lend_worker``): the benchmark's own previous runs raise the load average by
  about 1, which alone would keep the worker off on an otherwise quiet machine.
* ``version``    ``fairaudit --version``.
* ``verify``     ``fairaudit verify`` of a signed sample report (made once, untimed).
* ``batch``      ``fairaudit batch -j 2`` of two sample audits, against the same two audits
  run one by one with ``fairaudit run``.

Usage::

    python benchmarks/speed_bench.py                  # everything: 1M and 10M rows
    python benchmarks/speed_bench.py --quick          # 1M rows only (a few minutes)
    python benchmarks/speed_bench.py --only version verify sample --repeats 5
    python benchmarks/speed_bench.py --sizes 100000 --only floor numpy duckdb
    python benchmarks/speed_bench.py --clean          # delete the scratch folder
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_bench import write_parquet_chunks  # noqa: E402  (a sibling script)

SAMPLE_CONFIG = ROOT / "sample_data" / "audit.toml"
SCRATCH = Path(os.environ.get("FAIRAUDIT_SPEED_DIR", "/tmp/fairaudit-speed"))
SIZES = (1_000_000, 10_000_000)
KINDS = ("floor", "numpy", "duckdb", "mitigation", "sample", "version", "verify", "batch")
TIMEOUT = 1800.0  # seconds; a run past it is reported as such, not waited for

#: Columns of the synthetic data, as the floor reads them.
COLUMNS = ("label", "pred", "score", "sex", "race")
RUN_FLAGS = (
    "--target", "label", "--prediction-col", "pred", "--score-col", "score",
    "--sensitive", "sex", "--sensitive", "race", "--no-ledger", "--quiet",
)  # fmt: skip


# ---------------------------------------------------------------------------------------
# data


def parquet_path(n_rows: int) -> Path:
    return SCRATCH / f"speed_{n_rows}.parquet"


def make_parquet(n_rows: int, seed: int = 15) -> Path:
    """Return the synthetic Parquet file of ``n_rows`` rows, writing it the first time."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    sexes = pa.array(["female", "male"])
    races = pa.array(["asian", "black", "hispanic", "other", "white"])
    schema = pa.schema(
        [("label", pa.int8()), ("pred", pa.int8()), ("score", pa.float64())]
        + [("sex", pa.string()), ("race", pa.string())]
    )

    def chunk(size: int) -> pa.Table:
        race_code = rng.integers(0, len(races), size)
        label = rng.random(size) < 0.25 + 0.06 * race_code
        logit = rng.normal(1.4 * label - 0.7 + 0.08 * race_code, 1.0)
        score = 1.0 / (1.0 + np.exp(-logit))
        block = {
            "label": pa.array(label.astype(np.int8)),
            "pred": pa.array((score >= 0.5).astype(np.int8)),
            "score": pa.array(score),
            "sex": sexes.take(pa.array(rng.integers(0, len(sexes), size))),
            "race": races.take(pa.array(race_code)),
        }
        return pa.table(block, schema=schema)

    # 2M-row chunks: the random stream (so the data) of the figures in benchmarks/README.md.
    return write_parquet_chunks(parquet_path(n_rows), n_rows, chunk, chunk=2_000_000)


def floor_seconds(path: Path) -> float:
    """Return the floor's seconds on ``path``: read, codes, one bincount, one argsort."""
    import numpy as np
    import pyarrow.parquet as pq

    start = time.perf_counter()
    table = pq.read_table(path, columns=list(COLUMNS))
    sex = table.column("sex").dictionary_encode().combine_chunks()
    race = table.column("race").dictionary_encode().combine_chunks()
    n_race = len(race.dictionary)
    key = sex.indices.to_numpy().astype(np.int64) * n_race + race.indices.to_numpy()
    key = key * 4 + 2 * table.column("label").to_numpy() + table.column("pred").to_numpy()
    np.bincount(key)
    np.argsort(table.column("score").to_numpy())
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------
# running one measurement


@dataclass
class Timing:
    """What one subprocess took: wall seconds, peak memory (MiB) and its exit status."""

    seconds: float
    peak_mib: float
    returncode: int
    output: str = ""
    load: float = 0.0  # the 1-minute load average when it started


def _cli() -> list[str]:
    """Return the command that starts the CLI: the venv's script, else ``python -m``."""
    script = Path(sys.executable).with_name("fairaudit")
    return [str(script)] if script.exists() else [sys.executable, "-m", "fairaudit"]


def _env() -> dict[str, str]:
    """Return the environment of every run: this checkout's fairaudit first on the path."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(ROOT) + (os.pathsep + path if path else "")}


def timed(command: Sequence[str | Path], cwd: Path) -> Timing:
    """Run command to its end; return its wall time and its own peak memory (``wait4``)."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(
            [str(c) for c in command], cwd=cwd, env=_env(), stdout=out, stderr=err
        )
        killer = threading.Timer(TIMEOUT, process.kill)
        killer.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        killer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode not in (0, 3):  # 3: a policy failed, and the report is written
        sys.stderr.write(f"exit {process.returncode}: {' '.join(map(str, command))}\n{stderr}\n")
    return Timing(seconds, usage.ru_maxrss / 1024, process.returncode, stdout, load)


# ---------------------------------------------------------------------------------------
# the measurements


@dataclass
class Row:
    """One line of the table: a kind of work at a size, and every round's timing."""

    kind: str
    rows: int | None
    label: str
    timings: list[Timing] = field(default_factory=list)

    def seconds(self) -> list[float]:
        return [t.seconds for t in self.timings if t.returncode in (0, 3)]

    def best(self) -> float | None:
        return min(self.seconds(), default=None)

    def median(self) -> float | None:
        values = self.seconds()
        return statistics.median(values) if values else None

    def loads(self) -> str:
        """Return the range of load averages the runs started at."""
        values = [t.load for t in self.timings]
        return f"{min(values):.1f}-{max(values):.1f}" if values else ""

    def peak(self) -> float | None:
        return max((t.peak_mib for t in self.timings), default=None)


class Bench:
    """Runs the chosen measurements in interleaved rounds and keeps every timing."""

    def __init__(
        self, kinds: Sequence[str], sizes: Sequence[int], work: Path, settle: float = 0.0
    ) -> None:
        self.work = work
        self.settle = settle
        self.rows: dict[tuple[str, int | None], Row] = {}
        self.plan: list[tuple[str, int | None]] = []
        for n in sizes:
            for engine in ("numpy", "duckdb"):
                if engine in kinds:  # each engine run right after a floor of its size
                    self.plan += [("floor", n), (engine, n)] if "floor" in kinds else [(engine, n)]
            if "floor" in kinds and not any(k in kinds for k in ("numpy", "duckdb")):
                self.plan.append(("floor", n))
            if "mitigation" in kinds and n == 1_000_000:
                self.plan.append(("mitigation", n))
        self.plan += [(k, None) for k in ("sample", "version", "verify", "batch") if k in kinds]
        for kind, n in self.plan:
            if kind == "batch":
                for sub in ("batch", "one_a", "one_b"):
                    self.rows.setdefault((sub, None), Row(sub, None, _LABELS[sub]))
            else:
                self.rows.setdefault((kind, n), Row(kind, n, _LABELS[kind]))

    def prepare(self) -> None:
        """Write the data, the key pair, the signed report and the manifest the plan needs."""
        kinds = {kind for kind, _ in self.plan}
        for n in sorted({n for _, n in self.plan if n is not None}):
            say(f"data: {n:,} rows -> {make_parquet(n)}")
        if "verify" in kinds:
            keys = self.work / "keys"
            _check(timed([*_cli(), "keygen", "-o", keys, "--name", "bench"], self.work))
            signed = self.work / "signed"
            signed.mkdir()
            _check(
                timed([*_cli(), *_sample_args(signed), "--sign-key", keys / "bench.key"], self.work)
            )
            say("verify: signed sample report written")
        if "batch" in kinds:
            manifest = "\n".join(
                f'[[audit]]\nconfig = "{SAMPLE_CONFIG}"\nname = "sample-{x}"\n' for x in "ab"
            )
            (self.work / "batch.toml").write_text(manifest)

    def command(self, kind: str, n: int | None, out: Path) -> list[str | Path]:
        """Return the command of one measurement; its outputs go to the folder ``out``."""
        if kind == "floor":
            assert n is not None
            return [sys.executable, __file__, "--floor-of", parquet_path(n)]
        if kind in ("numpy", "duckdb", "mitigation"):
            assert n is not None
            engine = "numpy" if kind == "mitigation" else kind
            extra = [] if kind == "mitigation" else ["--no-mitigation"]
            return [
                *_cli(),
                "run",
                parquet_path(n),
                *RUN_FLAGS,
                "--engine",
                engine,
                *extra,
                "-o",
                out / "r.html",
            ]
        if kind == "sample":
            return [*_cli(), *_sample_args(out)]
        if kind == "version":
            return [*_cli(), "--version"]
        if kind == "verify":
            report = self.work / "signed" / "report.html"
            return [*_cli(), "verify", report, "--key", self.work / "keys" / "bench.pub"]
        if kind == "batch":
            return [*_cli(), "batch", self.work / "batch.toml", "-j", "2", "-q", "-o", out]
        if kind in ("one_a", "one_b"):
            return [*_cli(), *_sample_args(out), "--name", f"sample-{kind[-1]}"]
        raise ValueError(kind)

    def run_once(self, kind: str, n: int | None) -> None:
        """Time one measurement in a fresh output folder, and record it."""
        subs = ("batch", "one_a", "one_b") if kind == "batch" else (kind,)
        for sub in subs:
            if sub == "sample":
                _settle(self.settle)
            out = Path(tempfile.mkdtemp(prefix=f"{sub}-", dir=self.work))
            timing = timed(self.command(sub, n, out), self.work)
            shutil.rmtree(out, ignore_errors=True)
            if sub == "floor" and timing.returncode == 0:  # the floor times its own work
                wall = timing.seconds
                timing.seconds = float(json.loads(timing.output.splitlines()[-1])["seconds"])
                timing.output = f"wall {wall:.3f} s"
            self.rows[(sub, n)].timings.append(timing)
            size = f" {n:,}" if n else ""
            say(
                f"  {sub}{size}: {timing.seconds:.3f} s "
                f"(exit {timing.returncode}, load {timing.load:.1f})"
            )

    def run(self, repeats: int) -> None:
        for round_ in range(1, repeats + 1):
            say(f"round {round_}/{repeats} (load average {_load()})")
            for kind, n in self.plan:
                self.run_once(kind, n)


_LABELS = {
    "floor": "floor: pyarrow read of 5 columns + dictionary codes + 1 bincount + 1 argsort",
    "numpy": "`fairaudit run` numpy engine, scores, `--no-mitigation`",
    "duckdb": "`fairaudit run` duckdb engine, scores, `--no-mitigation`",
    "mitigation": "`fairaudit run` numpy engine, default (mitigation comparison on the score)",
    "sample": "sample audit (`--config sample_data/audit.toml`, six mitigations)",
    "version": "`fairaudit --version`",
    "verify": "`fairaudit verify` of the signed sample report",
    "batch": "`fairaudit batch -j 2` of two sample audits",
    "one_a": "the first of them alone (`fairaudit run`)",
    "one_b": "the second of them alone (`fairaudit run`)",
}


def _sample_args(out: Path) -> list[str | Path]:
    return ["run", "--config", SAMPLE_CONFIG, "--no-ledger", "-q", "-o", out / "report.html"]


def _check(timing: Timing) -> None:
    if timing.returncode not in (0, 3):
        raise SystemExit("a preparation step failed (see above)")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _settle(limit: float) -> None:
    """Wait up to ``limit`` seconds for the 1-minute load average to leave a core idle
    (below cores - 0.5, the lent worker's own condition)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    deadline = time.monotonic() + limit
    while os.getloadavg()[0] >= (cores or 1) - 0.5 and time.monotonic() < deadline:
        time.sleep(1.0)


def _spin() -> None:
    total = 0
    for i in range(20_000_000):  # about 1.7 s
        total += i


def parallel_share() -> float:
    """Return how many CPU-bound processes run at full speed at once here (1.0 to 2.0).

    One pure-Python loop, then two at once in separate processes: 2.0 means a second
    core is free (the sample audit's lent worker can help), about 1.0 that this run
    gets one core's worth of CPU (other work, or CPU shares, take the rest).
    """
    import multiprocessing

    started = time.perf_counter()
    _spin()
    alone = time.perf_counter() - started
    context = multiprocessing.get_context("spawn")
    started = time.perf_counter()
    workers = [context.Process(target=_spin) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    both = time.perf_counter() - started
    return max(1.0, min(2.0, 2 * alone / both))


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# the report


def machine() -> list[str]:
    """Return lines naming the machine, the versions and the moment of the run."""
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        ram = int(meminfo.readline().split()[1]) / 1024**2
    packages = ("numpy", "pandas", "pyarrow", "duckdb", "scipy", "scikit-learn", "fairlearn")
    versions = []
    for name in (*packages, "matplotlib"):
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return [
        f"Command: `{' '.join(['python', *sys.argv])}`",
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; commit {commit or '?'}",
        f"Machine: {model}, {os.cpu_count()} cores, {ram:.1f} GiB RAM; "
        f"Python {platform.python_version()}; " + ", ".join(versions),
    ]


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "failed"
    return f"{seconds:.3f}" if seconds < 10 else f"{seconds:.1f}"


def table(bench: Bench) -> list[str]:
    """Return the markdown table: best and median of each row, and its ratio to its floor."""
    lines = [
        "| work | rows | runs | best (s) | median (s) | peak MiB | floor (s) | best / floor "
        "| load |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (kind, n), row in bench.rows.items():
        floor = bench.rows.get(("floor", n)) if kind in ("numpy", "duckdb") else None
        floor_best = floor.best() if floor is not None else None
        best = row.best()
        ratio = f"{best / floor_best:.1f}×" if best and floor_best else ""
        peak = row.peak()
        lines.append(
            f"| {row.label} | {f'{n:,}' if n else ''} | {len(row.timings)} | {_fmt(best)} | "
            f"{_fmt(row.median())} | {f'{peak:.0f}' if peak else ''} | "
            f"{_fmt(floor_best) if floor is not None else ''} | {ratio} | {row.loads()} |"
        )
    return lines


def targets(bench: Bench) -> list[str]:
    """Return one line per target of issue 15 that this run measured: met or not."""
    best = {key: row.best() for key, row in bench.rows.items()}
    lines = []

    def check(what: str, value: float | None, limit: float, unit: str = "s") -> None:
        if value is None:
            return
        verdict = "met" if value <= limit else "NOT met"
        lines.append(f"* {what}: {value:.2f}{unit} (target ≤ {limit:g}{unit}): {verdict}")

    n = 10_000_000
    floor = best.get(("floor", n))
    for engine, limit in (("numpy", 4.0), ("duckdb", 6.0)):
        if floor and best.get((engine, n)):
            check(f"{engine} at 10M rows / floor", best[(engine, n)] / floor, limit, "×")  # type: ignore[operator]
    for size in sorted({size for _, size in best if size}):
        numpy_s, duckdb_s = best.get(("numpy", size)), best.get(("duckdb", size))
        if numpy_s and duckdb_s:
            check(f"duckdb / numpy at {size:,} rows", duckdb_s / numpy_s, 1.0, "×")
    check("mitigation comparison at 1M rows, whole run", best.get(("mitigation", 1_000_000)), 20.0)
    check("sample audit (quiet machine)", best.get(("sample", None)), 4.0)
    check("`fairaudit --version`", best.get(("version", None)), 0.3)
    check("`fairaudit verify`", best.get(("verify", None)), 0.3)
    batch, a, b = (bench.rows.get((k, None)) for k in ("batch", "one_a", "one_b"))
    if batch is not None and a is not None and b is not None and batch.best() is not None:
        alone = [max(x.seconds, y.seconds) for x, y in zip(a.timings, b.timings)]
        together = [x.seconds + y.seconds for x, y in zip(a.timings, b.timings)]
        slowest = min(alone)
        lines.append(
            f"* batch -j 2: {batch.best():.2f} s; its slowest audit alone {slowest:.2f} s; "
            f"both one by one {min(together):.2f} s (best of {len(alone)})"
        )
        check("batch -j 2 minus its slowest audit alone", batch.best() - slowest, 2.0)  # type: ignore[operator]
    return lines


# ---------------------------------------------------------------------------------------
# command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="rows")
    parser.add_argument("--quick", action="store_true", help="1M rows only (--sizes 1000000)")
    parser.add_argument("--only", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--repeats", type=int, default=3, help="rounds (best-of-N)")
    parser.add_argument("--json", type=Path, help="also write every timing to this file")
    parser.add_argument("--clean", action="store_true", help="delete the scratch folder")
    parser.add_argument(
        "--settle",
        type=float,
        default=60.0,
        help="seconds each sample audit may wait for the load average to leave a core idle",
    )
    parser.add_argument("--floor-of", type=Path, help=argparse.SUPPRESS)  # one floor run
    args = parser.parse_args(argv)
    if args.floor_of is not None:
        print(json.dumps({"seconds": floor_seconds(args.floor_of)}))
        return 0
    if args.clean:
        shutil.rmtree(SCRATCH, ignore_errors=True)
        return 0
    sizes = [1_000_000] if args.quick else args.sizes
    SCRATCH.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=SCRATCH))
    try:
        bench = Bench(args.only, sizes, work, args.settle)
        say(f"load average at the start: {_load()}")
        share = parallel_share()
        bench.prepare()
        bench.run(args.repeats)
        share = min(share, parallel_share())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [*machine(), f"Load average at the end: {_load()}"]
    lines.append(f"Cores this run had (two busy processes against one, lower of 2): {share:.2f}")
    print("\n".join([*lines, "", *table(bench)]))
    print("\n".join(["", *targets(bench)]))
    if args.json is not None:
        rows = [
            {"kind": r.kind, "rows": r.rows, "timings": [vars(t) for t in r.timings]}
            for r in bench.rows.values()
        ]
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
