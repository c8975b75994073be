"""Scale benchmark: counts, metrics and 1,000-resample intervals from 1M to 100M rows.

Each measurement runs in its own subprocess, so its peak memory (``ru_maxrss``) is its
own. Data is synthetic Parquet written in chunks with pyarrow into a scratch folder
(default /tmp/fairaudit-scale; never the repository): a binary label and prediction, a
probability score with 4 decimals, and up to four sensitive features (sex 2 levels,
race 5, region 8, age binned into 4 plus missing).

Measured, per size:

* ``floor``   - one ``np.bincount`` of a precomputed combined (group, cell) key: the
  least any in-memory counting can do.
* ``count_groups`` - the numpy engine's counting on in-memory codes (target: <= 3x floor).
* ``numpy``   - the numpy engine end to end from the Parquet file (pandas read, checks,
  counts, score sums), then metrics and 1,000-resample intervals.
* ``duckdb``  - the DuckDB engine end to end from the same file, then the same stats.
* ``metricframe`` - fairlearn's MetricFrame with the same metrics and ``n_boot``
  bootstrap (only at sizes it can handle).

Usage::

    python benchmarks/scale_bench.py --sizes 1000000 10000000 100000000 --features 3
    python benchmarks/scale_bench.py --only metricframe --sizes 100000 --n-boot 1000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCRATCH = Path(os.environ.get("FAIRAUDIT_SCALE_DIR", "/tmp/fairaudit-scale"))
FEATURES = ("sex", "race", "region", "age")
BINS = {"age": (25.0, 40.0, 60.0)}
CHUNK = 5_000_000


def data_path(n_rows: int) -> Path:
    return SCRATCH / f"scale_{n_rows}.parquet"


def write_parquet_chunks(
    path: Path, n_rows: int, make_chunk: Callable[[int], Any], chunk: int = CHUNK
) -> Path:
    """Write (once) ``n_rows`` rows to ``path``, ``make_chunk(m)`` giving each pyarrow table
    of at most ``chunk`` rows; the file appears only when complete."""
    import pyarrow.parquet as pq

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    writer = None
    for start in range(0, n_rows, chunk):
        table = make_chunk(min(chunk, n_rows - start))
        if writer is None:
            writer = pq.ParquetWriter(tmp, table.schema, compression="snappy")
        writer.write_table(table, row_group_size=1_000_000)
    assert writer is not None
    writer.close()
    tmp.rename(path)
    return path


def generate(n_rows: int, seed: int = 0) -> Path:
    """Write (once) the synthetic Parquet file of ``n_rows`` rows, in chunks."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    sex = pa.array(["female", "male"])
    race = pa.array(["asian", "black", "hispanic", "other", "white"])
    region = pa.array([f"r{i}" for i in range(8)])

    def chunk(m: int) -> pa.Table:
        r = rng.integers(0, 5, m)
        label = rng.random(m) < 0.3 + 0.05 * r
        score = np.round(np.clip(rng.normal(0.35 + 0.3 * label, 0.2), 0, 1), 4)
        age = rng.integers(18, 90, m).astype(np.float64)
        age[rng.random(m) < 0.02] = np.nan
        return pa.table(
            {
                "label": label.astype(np.int8),
                "pred": (score > 0.5).astype(np.int8),
                "score": score,
                "sex": sex.take(pa.array(rng.integers(0, 2, m))),
                "race": race.take(pa.array(r)),
                "region": region.take(pa.array(rng.integers(0, 8, m))),
                "age": pa.array(age, from_pandas=True),
            }
        )

    return write_parquet_chunks(data_path(n_rows), n_rows, chunk)


def _spec(n_rows: int, n_features: int):  # type: ignore[no-untyped-def]
    from fairaudit.spec import AuditSpec

    features = FEATURES[:n_features] if n_features < 4 else FEATURES
    return AuditSpec(
        data=data_path(n_rows),
        target="label",
        sensitive=features,
        prediction_col="pred",
        score_col="score",
        bins={k: v for k, v in BINS.items() if k in features},
        missing_sensitive="group",
    )


def _stats(counted, n_resamples: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Run metrics + intervals on an EngineCounts; return seconds for metrics, for all."""
    from fairaudit.measure import build_tables, disparities_vs_reference
    from fairaudit.stats import compute_uncertainty, score_sums_estimates
    from fairaudit.vocabulary import CONFUSION_METRICS

    start = time.perf_counter()
    _, tables = build_tables(counted.group_counts)
    metrics_seconds = time.perf_counter() - start
    names = [m for m in CONFUSION_METRICS if m != "count"]
    rows = [r for t in tables for r in disparities_vs_reference(t, names)]
    compute_uncertainty(counted.group_counts, tables, rows, n_resamples=n_resamples, seed=0)
    summary = counted.score_summary
    if summary is not None:  # score metrics and DeLong / CLT intervals from sums
        for sums in [*summary.by_grouping.values(), summary.overall]:
            score_sums_estimates(sums, 0.95)
    return metrics_seconds, time.perf_counter() - start


def measure(kind: str, n_rows: int, n_features: int, n_resamples: int) -> dict:
    """Run one measurement in this process; return its figures."""
    import numpy as np

    out: dict = {"kind": kind, "rows": n_rows, "features": n_features}
    if kind in ("floor", "count_groups"):
        import pyarrow.parquet as pq

        from fairaudit.counts import count_groups

        spec = _spec(n_rows, n_features)
        table = pq.read_table(spec.data, columns=[*spec.sensitive, "label", "pred"])
        codes, levels = [], []
        for name in spec.sensitive:
            column = table.column(name)
            if name in BINS:
                values = column.to_numpy(zero_copy_only=False)
                code = np.searchsorted(np.asarray(BINS[name]), values, side="right")
                code[np.isnan(values)] = len(BINS[name]) + 1
                codes.append(code.astype(np.int8))
                levels.append([str(i) for i in range(len(BINS[name]) + 2)])
            else:
                encoded = column.dictionary_encode().combine_chunks()
                codes.append(encoded.indices.to_numpy().astype(np.int8))
                levels.append([str(v) for v in encoded.dictionary.to_pylist()])
        y = table.column("label").to_numpy().astype(bool)
        yhat = table.column("pred").to_numpy().astype(bool)
        start = time.perf_counter()
        if kind == "floor":
            key = codes[0].astype(np.int64)
            for code, lv in zip(codes[1:], levels[1:]):
                key = key * len(lv) + code
            key = key * 4 + 2 * y + yhat
            prep = time.perf_counter() - start
            start = time.perf_counter()
            np.bincount(key)
            out["seconds"] = time.perf_counter() - start
            out["key_seconds"] = prep
        else:
            count_groups(list(spec.sensitive), codes, levels, y, yhat)
            out["seconds"] = time.perf_counter() - start
    elif kind in ("numpy", "duckdb"):
        from fairaudit.engines import count_with_engine

        start = time.perf_counter()
        counted = count_with_engine(_spec(n_rows, n_features), kind)  # type: ignore[arg-type]
        out["count_seconds"] = time.perf_counter() - start
        out["metrics_seconds"], out["stats_seconds"] = _stats(counted, n_resamples)
        out["seconds"] = out["count_seconds"] + out["stats_seconds"]
        out["cells"] = int(len(counted.group_counts.cells))
    elif kind == "metricframe":
        import pandas as pd
        from fairlearn.metrics import (
            MetricFrame,
            false_positive_rate,
            selection_rate,
            true_positive_rate,
        )
        from sklearn.metrics import accuracy_score, balanced_accuracy_score, precision_score

        spec = _spec(n_rows, n_features)
        frame = pd.read_parquet(spec.data)
        if "age" in spec.sensitive:
            frame["age"] = pd.cut(frame["age"], [-np.inf, 25, 40, 60, np.inf], right=False)
            frame["age"] = frame["age"].cat.add_categories("(missing)").fillna("(missing)")
        metrics = {
            "selection_rate": selection_rate,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
            "accuracy": accuracy_score,
            "balanced_accuracy": balanced_accuracy_score,
            "precision": lambda a, b: precision_score(a, b, zero_division=np.nan),
        }
        start = time.perf_counter()
        MetricFrame(
            metrics=metrics,
            y_true=frame["label"],
            y_pred=frame["pred"],
            sensitive_features=frame[list(spec.sensitive)],
            n_boot=n_resamples or None,
            ci_quantiles=[0.025, 0.975] if n_resamples else None,
            random_state=0,
        )
        out["seconds"] = time.perf_counter() - start
        out["metrics"] = len(metrics)
        out["n_boot"] = n_resamples
    elif kind == "aequitas":
        # Runs under the Python of a separate venv with aequitas (AEQUITAS_PYTHON).
        import pandas as pd
        from aequitas.group import Group

        frame = pd.read_parquet(data_path(n_rows))
        features = list(FEATURES[:n_features])
        if "age" in features:
            cut = pd.cut(frame["age"], [-np.inf, 25, 40, 60, np.inf], right=False)
            frame["age"] = cut.astype(str).where(frame["age"].notna(), "(missing)")
        frame = frame.rename(columns={"label": "label_value", "pred": "score_bin"})
        table = frame[["score_bin", "label_value", *features]].rename(
            columns={"score_bin": "score"}
        )
        start = time.perf_counter()
        Group().get_crosstabs(table, attr_cols=features)
        out["seconds"] = time.perf_counter() - start
    else:
        raise SystemExit(f"unknown measurement {kind!r}")
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_in_subprocess(kind: str, n_rows: int, n_features: int, n_resamples: int) -> dict:
    python = os.environ.get("AEQUITAS_PYTHON", sys.executable) if kind == "aequitas" else None
    command = [
        python or sys.executable,
        __file__,
        "--child",
        kind,
        "--sizes",
        str(n_rows),
        "--features",
        str(n_features),
        "--n-boot",
        str(n_resamples),
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        return {"kind": kind, "rows": n_rows, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--features", type=int, default=3)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--only", nargs="+", default=None)
    parser.add_argument("--child", default=None)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.sizes[0], args.features, args.n_boot)))
        return
    kinds = args.only or ["floor", "count_groups", "numpy", "duckdb"]
    for n_rows in args.sizes:
        start = time.perf_counter()
        generate(n_rows)
        print(f"# data {n_rows} rows ready ({time.perf_counter() - start:.1f} s)", flush=True)
        for kind in kinds:
            print(
                json.dumps(run_in_subprocess(kind, n_rows, args.features, args.n_boot)), flush=True
            )


if __name__ == "__main__":
    main()
