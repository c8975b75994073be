"""The built wheel carries the templates and the schema, and renders a report once installed."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("fairaudit-*.whl")
    return built


def test_wheel_contains_templates_and_schema(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in (ROOT / "templates").glob("*.html"):
        assert f"fairaudit/templates/{template.name}" in names
    assert "fairaudit/schema/audit-result.schema.json" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_installed_wheel_renders_a_report(wheel: Path, tmp_path: Path) -> None:
    """Install the wheel (without dependencies, which this environment has) and run it."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    code = (
        "import fairaudit, fairaudit.outputs._report as r, sys;"
        "print(fairaudit.__file__); print(r.template_dir());"
        "from fairaudit.cli import main; sys.argv=['fairaudit']+sys.argv[1:]; main()"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "run",
            "--config",
            str(ROOT / "sample_data" / "audit.toml"),
            "-o",
            str(work / "report.html"),
        ],
        cwd=work,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "SOURCE_DATE_EPOCH": "0"},
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    module_file, templates = run.stdout.splitlines()[:2]
    assert module_file.startswith(str(target))
    assert templates == str(target / "fairaudit" / "templates")
    html = (work / "report.html").read_text(encoding="utf-8")
    assert '<h2 id="summary-h">Summary</h2>' in html
    data = json.loads((work / "report.json").read_text(encoding="utf-8"))
    assert data["lineage"]["data"]["rows"] == 400
