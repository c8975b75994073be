"""The regression and multiclass samples (issue 17) run end to end from their configs.

``sample_data/regression/audit.toml`` (scikit-learn's diabetes data, a skops
LinearRegression) and ``sample_data/multiclass/audit.toml`` (German credit with ``housing``
as the target, a skops LogisticRegression): each run writes a report whose JSON validates
against the schema and says the right task.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from fairaudit.cli import cli
from fairaudit.result import MULTICLASS_SCHEMA_VERSION, TASK_SCHEMA_VERSION, load_schema

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


def _run(config: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.delenv("FAIRAUDIT_SIGNING_KEY", raising=False)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    result = CliRunner().invoke(cli, ["run", "--config", str(config), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert out.is_file()
    data: dict = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    jsonschema.validate(data, load_schema())
    return data


def test_regression_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _run(SAMPLE / "regression" / "audit.toml", tmp_path / "r.html", monkeypatch)
    assert data["schema_version"] == TASK_SCHEMA_VERSION
    assert data["audit"]["task"] == "regression"
    assert data["lineage"]["model"]["format"] == "skops"
    assert data["lineage"]["model"]["type"] == "LinearRegression"
    assert data["metrics"]["overall"]["count"] == 177
    features = {r["feature"] for r in data["metrics"]["by_group"]}
    assert {"sex", "age"} <= features
    assert {h["metric"] for h in data["headline"]} >= {"ks_statistic", "max_group_mae_ratio"}


def test_multiclass_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _run(SAMPLE / "multiclass" / "audit.toml", tmp_path / "m.html", monkeypatch)
    assert data["schema_version"] == MULTICLASS_SCHEMA_VERSION
    assert data["audit"]["task"] == "multiclass"
    assert data["audit"]["classes"] == ["free", "own", "rent"]
    assert data["audit"]["favorable_classes"] == ["own"]
    assert data["lineage"]["model"]["format"] == "skops"
    assert data["metrics"]["overall"]["count"] == 400
    assert data["summary"]["favorable_view"] is not None
    assert {h["class"] for h in data["headline"]} == {"free", "own", "rent"}
