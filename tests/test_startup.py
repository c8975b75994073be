"""Startup: each heavy library is imported only by the stage that uses it.

Each check runs a fresh interpreter and reads its ``sys.modules``; nothing here is timed
(benchmarks/speed_bench.py times the commands).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"

#: Libraries that cost 0.2-1.5 s each to import.
HEAVY = ("pandas", "sklearn", "scipy", "matplotlib", "fairlearn", "skops", "pyarrow", "duckdb")

#: Prints, after running the code it is given, the heavy libraries that are imported.
PROBE = "import sys\n{code}\nprint('imported:', *(m for m in {heavy!r} if m in sys.modules))\n"


def _imported(code: str, *, cwd: Path = ROOT) -> list[str]:
    """Return the heavy libraries a fresh interpreter has imported after running code."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SOURCE_DATE_EPOCH": "1700000000"}
    run = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=code, heavy=HEAVY)],
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
    imported = _imported("import fairaudit.audit, fairaudit.publish")
    assert "pandas" in imported
    assert [m for m in imported if m in ("sklearn", "fairlearn", "scipy", "matplotlib")] == []


def test_audit_without_model_or_mitigation_imports_neither_sklearn_nor_matplotlib(
    tmp_path: Path,
) -> None:
    rows = ["y,pred,score,sex"] + [
        f"{i % 2},{(i // 2) % 2},{(i % 7) / 7:.3f},{'f' if i % 3 else 'm'}" for i in range(200)
    ]
    (tmp_path / "scored.csv").write_text("\n".join(rows) + "\n")
    code = (
        "from fairaudit.audit import run_audit\n"
        "from fairaudit.spec import AuditSpec\n"
        "spec = AuditSpec(data='scored.csv', target='y', prediction_col='pred',"
        " score_col='score', sensitive=['sex'], mitigations=())\n"
        "run_audit(spec)\n"
    )
    imported = _imported(code, cwd=tmp_path)
    assert "sklearn" not in imported
    assert "fairlearn" not in imported
    assert "matplotlib" not in imported


@pytest.mark.parametrize("chart", ["metrics_chart", "disparity_chart", "tradeoff_chart"])
def test_charts_do_not_load_pyplot(chart: str) -> None:
    """Charts are drawn on ``Figure`` objects: pyplot's global state is never set up."""
    calls = {
        "metrics_chart": "metrics_chart('t', ['a', 'b'], ['m'], [[0.5, 0.25]])",
        "disparity_chart": "disparity_chart('t', ['a', 'b'], [1.0, 0.5], 'a')",
        "tradeoff_chart": "tradeoff_chart('t', ['a'], [0.1], [None], [0.8], [None], 'gap')",
    }
    code = (
        "from fairaudit.outputs import metrics_chart, disparity_chart, tradeoff_chart\n"
        f"assert {calls[chart]}.data_uri.startswith('data:image/svg+xml;base64,')\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
    )
    assert "matplotlib" in _imported(code)
