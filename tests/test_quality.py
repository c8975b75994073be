"""Lint, format and type checks run with the tests, so CI holds them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install '.[test]'")
    return found


@pytest.mark.parametrize(
    "args",
    [
        ["ruff", "check", "fairaudit", "tests", "benchmarks", "sample_data"],
        ["ruff", "format", "--check", "fairaudit", "tests", "benchmarks", "sample_data"],
        ["mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_static_checks(args: list[str]) -> None:
    run = subprocess.run([_tool(args[0]), *args[1:]], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
