"""``fairaudit diff`` on regression and multiclass results (issue 17).

Two audits of each bundled task sample (``sample_data/regression``,
``sample_data/multiclass``) from prediction columns: the new one's predictions for one group
are shifted (regression) or moved to another class (multiclass), so its numbers move beyond
their intervals; the diff lists them by group, metric and (multiclass) class.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from click.testing import CliRunner

import fairaudit
from fairaudit.cli import diff as diff_command
from fairaudit.outputs import DiffError, diff_results

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
HOSTILE = "own<script>\u202e"


def _model_predictions(folder: str, model: str, data: str) -> pd.DataFrame:
    frame = pd.read_csv(SAMPLE / folder / data)
    loaded = sio.load(
        SAMPLE / folder / model, trusted=sio.get_untrusted_types(file=SAMPLE / folder / model)
    )
    frame["pred"] = loaded.predict(frame[list(loaded.feature_names_in_)])
    return frame


def _audit(frame: pd.DataFrame, target: str, **options: object) -> dict:
    result = fairaudit.audit(data=frame, target=target, prediction_col="pred", **options)
    loaded: dict = json.loads(result.to_json())
    return loaded


@pytest.fixture(scope="module")
def regression() -> tuple[dict, dict]:
    frame = _model_predictions("regression", "diabetes_model.skops", "diabetes_eval.csv")
    frame["sex"] = frame["sex"].astype(str)
    old = _audit(frame, "target", sensitive="sex", task="regression")
    frame.loc[frame["sex"] == "2", "pred"] += 60.0  # over-predict one group
    new = _audit(frame, "target", sensitive="sex", task="regression")
    return old, new


@pytest.fixture(scope="module")
def multiclass() -> tuple[dict, dict]:
    frame = _model_predictions("multiclass", "housing_model.skops", "../german_eval.csv")
    options = {"sensitive": "sex", "task": "multiclass", "favorable_label": ["own"]}
    old = _audit(frame, "housing", **options)
    frame.loc[frame["sex"] == "female", "pred"] = "rent"  # one group always predicted rent
    new = _audit(frame, "housing", **options)
    return old, new


def _write(tmp_path: Path, pair: tuple[dict, dict]) -> tuple[str, str]:
    paths = tmp_path / "old.json", tmp_path / "new.json"
    for path, data in zip(paths, pair, strict=True):
        path.write_text(json.dumps(data), encoding="utf-8")
    return str(paths[0]), str(paths[1])


def test_regression_diff_lists_group_metrics_disparities_and_headline(
    regression: tuple[dict, dict], tmp_path: Path
) -> None:
    found = diff_results(*regression).to_dict()
    moved = {(c["section"], c["metric"]) for c in found["changes"]}
    assert ("group", "mean_prediction") in moved and ("group", "mean_error") in moved
    assert ("disparity", "ks_statistic") in moved
    assert ("headline", "ks_statistic") in moved
    assert all("class" not in c for c in found["changes"])
    assert (
        "The worst group of sex by max_group_mae_ratio changed from sex=1 to sex=2."
        in found["notes"]
    )
    beyond = [c for c in found["changes"] if c["beyond_intervals"]]
    assert any(c["metric"] == "mean_prediction" and c["group"] == {"sex": "2"} for c in beyond)
    run = CliRunner().invoke(
        diff_command, [*_write(tmp_path, regression), "--html", str(tmp_path / "d.html")]
    )
    assert run.exit_code == 0, run.output
    assert "sex=2" in run.output and "mean_prediction" in run.output
    assert "mean_prediction" in (tmp_path / "d.html").read_text(encoding="utf-8")


def test_multiclass_diff_compares_per_class(multiclass: tuple[dict, dict], tmp_path: Path) -> None:
    old, new = multiclass
    found = diff_results(old, new).to_dict()
    changes = found["changes"]
    keys = {(c["section"], c.get("class"), c["metric"]) for c in changes}
    assert ("headline", "rent", "demographic_parity_difference") in keys
    assert ("group", None, "accuracy") in keys
    assert ("group", "rent", "selection_rate") in keys
    assert ("overall", "rent", "selection_rate") in keys
    assert ("disparity", "rent", "selection_rate") in keys
    rent = next(
        c for c in changes
        if c["section"] == "group" and c.get("class") == "rent"
        and c["metric"] == "selection_rate" and c["group"] == {"sex": "female"}
    )  # fmt: skip
    assert rent["new"] == 1.0 and rent["beyond_intervals"]
    # each class's headline number is its own: nothing matched across classes
    for c in changes:
        if c["section"] == "headline":
            key = (c["class"], c["metric"], c["feature"])
            want = next(
                h["value"]
                for h in new["headline"]
                if (h["class"], h["metric"], h["feature"]) == key
            )
            assert c["new"] == want
    view = [c for c in changes if c.get("favorable_view")]
    assert {(c["section"], c["class"]) for c in view} == {("headline", "own"), ("disparity", "own")}
    dp = next(c for c in view if c["metric"] == "demographic_parity_difference")
    assert dp["new"] == next(
        h["value"] for h in new["summary"]["favorable_view"]["headline"]
        if h["feature"] == "sex" and h["metric"] == "demographic_parity_difference"
    )  # fmt: skip
    run = CliRunner().invoke(diff_command, [*_write(tmp_path, multiclass), "--all"])
    assert run.exit_code == 0, run.output
    assert "class rent: selection_rate" in run.output
    assert "favourable classes own: demographic_parity_difference" in run.output
    assert "not a number" not in run.output


def test_hostile_class_names_are_escaped(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    classes = np.array([HOSTILE, "rent", "free"])
    frame = pd.DataFrame(
        {"y": classes[rng.integers(0, 3, 600)], "sex": rng.choice(["a", "b"], 600)}
    )
    frame["pred"] = frame["y"]
    old = _audit(frame, "y", sensitive="sex", task="multiclass")
    frame.loc[frame["sex"] == "a", "pred"] = "rent"
    new = _audit(frame, "y", sensitive="sex", task="multiclass")
    html = tmp_path / "d.html"
    run = CliRunner().invoke(diff_command, [*_write(tmp_path, (old, new)), "--html", str(html)])
    assert run.exit_code == 0, run.output
    assert "own<script>" not in html.read_text(encoding="utf-8")
    assert "\u202e" not in run.output


def test_different_tasks_are_a_one_line_error(
    regression: tuple[dict, dict], multiclass: tuple[dict, dict], tmp_path: Path
) -> None:
    with pytest.raises(DiffError, match="regression audit with a multiclass audit"):
        diff_results(regression[0], multiclass[1])
    run = CliRunner().invoke(diff_command, list(_write(tmp_path, (regression[0], multiclass[1]))))
    assert run.exit_code == 1
    assert run.output.startswith("Error: ") and run.output.count("\n") == 1, run.output
