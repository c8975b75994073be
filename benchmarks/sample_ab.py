"""Before and after: the README's sample audit in two (or more) trees, interleaved.

Each round runs ``fairaudit run --config sample_data/audit.toml --no-ledger -q`` once in every
tree, in alternating order, each run after the 1-minute load average fell below ``--below``
(or ``--settle`` seconds passed), with ``PYTHONPATH`` set to the tree, so both see the same
machine at nearly the same moment. Prints each run, then best and median per tree.

Usage (from the repository; ``git worktree add /tmp/base <commit>`` makes the other tree)::

    python benchmarks/sample_ab.py --rounds 8 /tmp/base .
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _settle(below: float, seconds: float) -> float:
    """Wait until the 1-minute load average is below ``below`` (at most ``seconds``)."""
    started = time.monotonic()
    while os.getloadavg()[0] >= below and time.monotonic() - started < seconds:
        time.sleep(1)
    return os.getloadavg()[0]


def _run(tree: Path, output: Path) -> float:
    command = [sys.executable, "-m", "fairaudit", "run", "--config", "sample_data/audit.toml"]
    command += ["--no-ledger", "-q", "-o", str(output)]
    env = dict(os.environ, PYTHONPATH=str(tree))
    started = time.perf_counter()
    subprocess.run(command, cwd=tree, env=env, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="+", type=Path, help="source trees (each with fairaudit/)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--below", type=float, default=1.5, help="load average to wait for")
    parser.add_argument("--settle", type=float, default=40, help="longest wait, seconds")
    args = parser.parse_args()
    trees = [tree.resolve() for tree in args.trees]
    times: dict[Path, list[float]] = {tree: [] for tree in trees}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            for tree in trees if round_ % 2 == 0 else trees[::-1]:
                load = _settle(args.below, args.settle)
                seconds = _run(tree, Path(scratch) / "report.html")
                times[tree].append(seconds)
                print(f"round {round_ + 1}: {tree} {seconds:.3f} s (load {load:.2f})", flush=True)
    for tree, values in times.items():
        print(f"{tree}: best {min(values):.3f} s, median {statistics.median(values):.3f} s")


if __name__ == "__main__":
    main()
