"""Regression and multiclass audits on the numpy and DuckDB engines (issue 17).

Data: synthetic Parquet in a scratch folder (``$FAIRAUDIT_ENGINE_DIR``, default
/tmp/fairaudit-task-engine; never the repository), ``--rows`` rows (default 1M), two
sensitive features (group: 4 levels, region: 3): a regression file (normal target,
full-precision predictions, group ``b`` over-predicted by 2) and a multiclass file (5
classes, 60% of predictions right).

Each (task, engine) runs in its own subprocess (peak memory: its VmHWM) and times
the counting pass alone (``engines.count_task_with_engine``) and the whole audit
(``pipe.run_audit``, intervals included). It checks that both engines give the same JSON
(but the engine) and prints the load average, as the machine is shared.

Usage::

    python benchmarks/task_engine_bench.py --rows 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

SCRATCH = Path(os.environ.get("FAIRAUDIT_ENGINE_DIR", "/tmp/fairaudit-task-engine"))


def write_data(rows: int) -> dict[str, Path]:
    """Write (once) the regression and multiclass Parquet files of ``rows`` rows."""
    import numpy as np
    import pandas as pd

    SCRATCH.mkdir(parents=True, exist_ok=True)
    paths = {t: SCRATCH / f"{t}-{rows}.parquet" for t in ("regression", "multiclass")}
    if all(p.exists() for p in paths.values()):
        return paths
    rng = np.random.default_rng(0)
    group = rng.choice(["a", "b", "c", "d"], rows)
    region = rng.choice(["n", "s", "e"], rows)
    y = rng.normal(50, 10, rows)
    pred = y + rng.normal(0, 3, rows) + np.where(group == "b", 2.0, 0.0)
    frame = pd.DataFrame({"group": group, "region": region, "y": y, "pred": pred})
    frame.to_parquet(paths["regression"], index=False)
    names = np.array([f"c{k}" for k in range(5)])
    true = rng.integers(0, 5, rows)
    guess = np.where(rng.random(rows) < 0.6, true, rng.integers(0, 5, rows))
    frame = pd.DataFrame({"group": group, "region": region, "y": names[true], "pred": names[guess]})
    frame.to_parquet(paths["multiclass"], index=False)
    return paths


def _peak_mib() -> float:
    """Return this process's peak resident memory in MiB: VmHWM (reset by exec, unlike
    ``ru_maxrss``, which a child inherits from the parent that wrote the data)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(path: str, task: str, engine: str) -> dict:
    """Return the timings, peak memory and JSON digest of one (task, engine) run."""
    os.environ["SOURCE_DATE_EPOCH"] = "1700000000"
    from fairaudit.engines import count_task_with_engine
    from fairaudit.measure import decide_task
    from fairaudit.pipe import run_audit
    from fairaudit.spec import AuditSpec

    spec = AuditSpec(data=Path(path), target="y", prediction_col="pred",
                     sensitive=("group", "region"), task=task, engine=engine)  # fmt: skip
    start = time.perf_counter()
    count_task_with_engine(spec, engine, decide=lambda s: decide_task(s, task=task, column="y"))
    counting = time.perf_counter() - start
    start = time.perf_counter()
    data = json.loads(run_audit(spec).to_json())
    audit = time.perf_counter() - start
    data["lineage"].pop("engine")
    data["lineage"]["config"].pop("engine", None)
    data["audit"].pop("id")
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]
    peak = _peak_mib()
    return {"counting_s": round(counting, 2), "audit_s": round(audit, 2),
            "peak_mib": round(peak), "json": digest, "load": os.getloadavg()[0]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--one", nargs=3, metavar=("PATH", "TASK", "ENGINE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one)))
        return
    paths = write_data(args.rows)
    for task, path in paths.items():
        digests = set()
        for engine in ("numpy", "duckdb"):
            out = subprocess.run([sys.executable, __file__, "--one", str(path), task, engine],
                                 check=True, capture_output=True, text=True)  # fmt: skip
            row = json.loads(out.stdout.strip().splitlines()[-1])
            digests.add(row.pop("json"))
            print(f"{task:10s} {engine:6s} {args.rows:>9,} rows  " + "  ".join(
                f"{k} {v}" for k, v in row.items()))  # fmt: skip
        print(f"{task:10s} identical JSON: {len(digests) == 1}")


if __name__ == "__main__":
    main()
