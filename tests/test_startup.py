"""Startup: each heavy library is imported only by the stage that uses it.

Each check runs a fresh interpreter and reads its ``sys.modules``; nothing here is timed
(benchmarks/speed_bench.py times the commands).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairaudit.data import MISSING_GROUP, encode_sensitive, value_text
from fairaudit.stats import (
    analytic_interval,
    balanced_accuracy_test,
    confusion_metrics,
    mover_difference,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"

#: Libraries that cost 0.2-1.5 s each to import.
HEAVY = ("pandas", "sklearn", "scipy", "matplotlib", "fairlearn", "skops", "pyarrow", "duckdb")

#: Prints, after running the code it is given, the heavy libraries that are imported.
PROBE = "import sys\n{code}\nprint('imported:', *(m for m in {heavy!r} if m in sys.modules))\n"


def _imported(code: str, *, cwd: Path = ROOT, modules: tuple[str, ...] = HEAVY) -> list[str]:
    """Return which of ``modules`` a fresh interpreter has imported after running code."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SOURCE_DATE_EPOCH": "1700000000"}
    run = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=code, heavy=modules)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    last = run.stdout.splitlines()[-1].split()
    assert last[0] == "imported:", run.stdout
    return last[1:]


def test_importing_the_cli_imports_no_heavy_library() -> None:
    assert _imported("import fairaudit, fairaudit.cli") == []


def test_version_imports_no_heavy_library() -> None:
    code = (
        "from fairaudit.cli import cli\n"
        "try:\n"
        "    cli.main(['--version'], prog_name='fairaudit')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    assert _imported(code) == []


def test_the_cli_does_not_load_the_renderers() -> None:
    """jinja2 and the outputs package (0.14 s) load with the commands that render, not for
    --version: console helpers read the JSON through fairaudit.display."""
    renderers = ("jinja2", "fairaudit.outputs")
    assert _imported("import fairaudit.cli", modules=renderers) == []


def test_version_does_not_load_the_signing_code() -> None:
    """cryptography loads with the commands that sign or verify, not for --version or --help."""
    signing = ("cryptography", "fairaudit.provenance")
    assert _imported("import fairaudit.cli", modules=signing) == []


def test_verify_imports_no_heavy_library(tmp_path: Path) -> None:
    """``verify`` of a missing file fails after parsing its options, with nothing heavy loaded."""
    code = (
        "from fairaudit.cli import cli\n"
        "try:\n"
        "    cli.main(['verify', 'missing.html'], prog_name='fairaudit')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code != 0, exc.code\n"
    )
    assert _imported(code, cwd=tmp_path) == []


def test_importing_the_pipe_leaves_mitigation_libraries_for_the_mitigation_stage() -> None:
    """``run_audit`` reads data with pandas; scikit-learn and fairlearn wait for a model."""
    imported = _imported("import fairaudit.pipe, fairaudit.publish")
    assert "pandas" in imported
    assert [m for m in imported if m in ("sklearn", "fairlearn", "scipy", "matplotlib")] == []


def test_audit_without_model_or_mitigation_imports_no_modelling_library(
    tmp_path: Path,
) -> None:
    rows = ["y,pred,score,sex"] + [
        f"{i % 2},{(i // 2) % 2},{(i % 7) / 7:.3f},{'f' if i % 3 else 'm'}" for i in range(200)
    ]
    (tmp_path / "scored.csv").write_text("\n".join(rows) + "\n")
    code = (
        "from fairaudit.pipe import run_audit\n"
        "from fairaudit.spec import AuditSpec\n"
        "spec = AuditSpec(data='scored.csv', target='y', prediction_col='pred',"
        " score_col='score', sensitive=['sex'], mitigations=())\n"
        "run_audit(spec)\n"
    )
    imported = _imported(code, cwd=tmp_path)
    assert [m for m in imported if m in ("sklearn", "fairlearn", "matplotlib", "scipy")] == []


@pytest.mark.parametrize("chart", ["metrics_chart", "disparity_chart", "tradeoff_chart"])
def test_charts_load_no_plotting_library(chart: str) -> None:
    """Charts are HTML tables written from the numbers: no matplotlib is imported to draw them."""
    calls = {
        "metrics_chart": "metrics_chart('t', ['a', 'b'], ['m'], [[0.5, 0.25]])",
        "disparity_chart": "disparity_chart('t', ['a', 'b'], [1.0, 0.5], 'a')",
        "tradeoff_chart": "tradeoff_chart('t', ['a'], [0.1], [None], [0.8], [None], 'gap')",
    }
    code = (
        "from fairaudit.outputs import metrics_chart, disparity_chart, tradeoff_chart\n"
        f"assert {calls[chart]}.html.startswith('<figure class=\"chart\">')\n"
    )
    assert "matplotlib" not in _imported(code)


# ---------------------------------------------------------------------------------------
# The root finder that spares audits without a model importing scipy.optimize gives
# scipy's root to the last bit: balanced_accuracy_test against the scipy version it replaced.


def _balanced_accuracy_test_with_scipy(counts1: np.ndarray, counts2: np.ndarray) -> float:
    """Return the p-value as balanced_accuracy_test computed it with scipy's brentq."""
    from scipy.optimize import brentq

    c1, c2 = np.asarray(counts1)[None], np.asarray(counts2)[None]
    b1 = confusion_metrics(c1)["balanced_accuracy"]
    b2 = confusion_metrics(c2)["balanced_accuracy"]
    d = float(b1[0] - b2[0])
    if math.isnan(d):
        return float("nan")
    if abs(d) < 1e-12:
        return 1.0
    side = 0 if d > 0 else 1

    def bound(z: float) -> float:
        confidence = math.erf(z / math.sqrt(2))
        i1 = analytic_interval(c1, "balanced_accuracy", confidence)
        i2 = analytic_interval(c2, "balanced_accuracy", confidence)
        assert i1 is not None and i2 is not None
        return float(mover_difference(b1, i1, b2, i2)[0, side])

    bottom, top = 1e-9, 8.0
    if (bound(top) > 0) == (d > 0):
        return float(math.erfc(top / math.sqrt(2)))
    if (bound(bottom) > 0) != (d > 0):
        return 1.0
    z = brentq(bound, bottom, top, xtol=1e-10)
    return float(math.erfc(z / math.sqrt(2)))


def _hostile_count_pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    """Return pairs of (tn, fp, fn, tp) tables: random, tiny, one class, huge, near-equal."""
    rng = np.random.default_rng(15)
    pairs = [
        (rng.integers(0, n, 4), rng.integers(0, m, 4))
        for n, m in [(5, 5), (12, 400), (40, 40), (1000, 30), (10**6, 10**4)] * 40
    ]
    pairs += [
        (np.array([0, 0, 3, 7]), np.array([50, 10, 12, 40])),  # one class only
        (np.array([4, 0, 0, 36]), np.array([400, 40, 40, 400])),  # TPR = TNR = 1
        (np.array([1, 0, 0, 1]), np.array([10**9, 10**8, 10**8, 10**9])),  # huge n
        (np.array([10**9, 1, 1, 10**9]), np.array([10**9, 2, 1, 10**9])),  # near-equal
        (np.array([500, 500, 500, 500]), np.array([499, 501, 500, 500])),
        (np.array([3, 1, 1, 3]), np.array([30, 10, 10, 30])),  # equal rates
    ]
    return pairs


def test_balanced_accuracy_test_matches_scipy_brentq_to_the_last_bit() -> None:
    pairs = _hostile_count_pairs()
    ours = [balanced_accuracy_test(a, b) for a, b in pairs]
    oracle = [_balanced_accuracy_test_with_scipy(a, b) for a, b in pairs]
    assert [p.hex() for p in ours] == [p.hex() for p in oracle]
    roots = [p for p in ours if 1.3e-15 < p < 1.0]  # found by the root finder, not the ends
    assert len(roots) > 100


# ---------------------------------------------------------------------------------------
# encode_sensitive hashes the rows once (it used to take pd.unique of the present rows,
# then factorize all of them): the same levels and codes as that two-pass oracle.


def _two_pass_levels(values: pd.Series) -> tuple[tuple[str, ...], list[int]]:
    """Return (levels, codes) the way encode_sensitive computed them before (unbinned)."""
    missing = values.isna().to_numpy()
    numeric = pd.api.types.is_numeric_dtype(values.dtype) and values.dtype != bool
    distinct = pd.unique(values[~missing])
    ordered = sorted(distinct) if numeric else sorted(distinct, key=lambda v: str(v))
    levels = [value_text(v) for v in ordered]
    if len(set(levels)) != len(levels):
        levels = sorted(set(levels))
    raw, uniques = pd.factorize(values)
    lookup = pd.Index(levels).get_indexer([value_text(v) for v in uniques])
    codes = np.append(lookup, -1).astype(np.int64)[raw]
    if missing.any():
        levels.append(MISSING_GROUP)
        codes = np.where(missing, len(levels) - 1, codes)
    return tuple(levels), codes.tolist()


HOSTILE_COLUMNS = {
    "float with NaN": pd.Series([1.0, np.nan, 2.0, 1.0, 3.5, -0.0, 0.0]),
    "int": pd.Series([3, 1, 2, 3]),
    "nullable int": pd.Series([3, None, 2, 3], dtype="Int64"),
    "object, 1 and '1' and 1.0": pd.Series([1, "1", 1.0, None, np.nan, "a", True], dtype=object),
    "text with empty and blank": pd.Series(["b", "a", None, "b", "", " "]),
    "python strings": pd.Series(["b", "a", None, "b"], dtype="string[python]"),
    "categorical": pd.Series(["b", "a", None, "b"], dtype="category"),
    "bool": pd.Series([True, False, True]),
    "nullable bool": pd.Series([True, None, True], dtype="boolean"),
    "one group": pd.Series(["x"] * 5),
    "rounding": pd.Series([0.1, 0.2, 0.30000000000000004, 0.3]),
    "100k rows": pd.Series(np.random.default_rng(15).choice(["a", "b", "c", None], 100_000)),
}


@pytest.mark.parametrize("name", HOSTILE_COLUMNS)
def test_encode_sensitive_matches_the_two_pass_encoding(name: str) -> None:
    values = HOSTILE_COLUMNS[name]
    feature = encode_sensitive(values, column="group", edges=None)
    assert (feature.levels, feature.codes.tolist()) == _two_pass_levels(values)
