"""docs/tutorial.md: every command on the page runs, in order, and does what the page says."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "tutorial.md"
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.S)

# `fairaudit` is this interpreter's package, installed or not.
SHELL_PRELUDE = f'set -euo pipefail\nfairaudit() {{ "{sys.executable}" -m fairaudit "$@"; }}\n'


def _blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(TUTORIAL.read_text("utf-8"))]


def _run(language: str, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", code] if language == "python" else ["bash", "-c"]
    if language == "bash":
        command.append(SHELL_PRELUDE + code)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SOURCE_DATE_EPOCH": "1764000000"}
    env.pop("FAIRAUDIT_SIGNING_KEY", None)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_every_tutorial_command_runs_in_order(tmp_path: Path) -> None:
    (tmp_path / "sample_data").symlink_to(ROOT / "sample_data")
    blocks = _blocks()
    assert [language for language, _ in blocks] == ["python", "python", *["bash"] * 5]
    outputs, variants = [], 0
    for language, code in blocks:
        done = _run(language, code, tmp_path)
        assert done.returncode == 0, f"{code}\n{done.stdout}\n{done.stderr[-3000:]}"
        outputs.append(done.stdout + done.stderr)
        if "--train" in code:  # step 5: the report compares the mitigated variants
            report = json.loads((tmp_path / "audit" / "report.json").read_text("utf-8"))
            variants = len(report["mitigations"])
    assert variants >= 2
    assert outputs[0].strip() == "1000 rows"
    # Step 1 wrote the model and both splits; step 3 the report, its JSON and the ledger.
    for name in ("model.skops", "train.csv", "eval.csv", "audit/fairaudit-ledger.sqlite"):
        assert (tmp_path / name).is_file(), name
    data = json.loads((tmp_path / "audit" / "report.json").read_text("utf-8"))
    assert data["audit"]["groupings"] == ["sex", "age", "intersection"]
    assert data["metrics"]["overall"]["count"] == 300
    # Step 6's JUnit, step 7's signature and its verification, step 8's card section.
    assert (tmp_path / "audit" / "fairness.xml").read_text("utf-8").startswith("<?xml")
    assert "OK" in outputs[5] or "verified" in outputs[5].lower(), outputs[5]
    card = (tmp_path / "MODEL_CARD.md").read_text("utf-8")
    assert "<!-- fairaudit:begin -->" in card and "## Fairness evaluation" in card
