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
from fairaudit.outputs import DiffError, diff_results, format_text
from fairaudit.outputs._diff_compute import MSG_OUTCOME_CHANGED, MSG_OUTCOME_ONE_SIDE

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


@pytest.fixture(scope="module")
def thresholded() -> dict[str, dict]:
    """Regression audits of the diabetes sample with a favourable threshold: ``old`` and
    ``new`` (sex 1's predictions lowered by 40) above 150, ``other`` above 160, ``plain``
    without a threshold."""
    frame = _model_predictions("regression", "diabetes_model.skops", "diabetes_eval.csv")
    frame["sex"] = frame["sex"].astype(str)
    audits = {"old": _audit(frame, "target", sensitive="sex", task="regression",
                            favorable_above=150)}  # fmt: skip
    frame.loc[frame["sex"] == "1", "pred"] -= 40.0  # under-predict one group
    audits["frame"] = frame
    for name, options in (("new", {"favorable_above": 150}), ("other", {"favorable_above": 160}),
                          ("plain", {})):  # fmt: skip
        audits[name] = _audit(frame, "target", sensitive="sex", task="regression", **options)
    return audits


def test_derived_outcome_rows_are_compared(thresholded: dict[str, dict]) -> None:
    from fairlearn.metrics import demographic_parity_ratio, equalized_odds_difference

    found = diff_results(thresholded["old"], thresholded["new"]).to_dict()
    assert found["derived_outcome"] == {
        "old": "prediction > 150", "new": "prediction > 150", "compared": True
    }  # fmt: skip
    derived = {
        (c["section"], c["metric"], c["measure"]): c
        for c in found["changes"]
        if c.get("derived_outcome") == "prediction > 150"
    }
    assert ("four_fifths", "selection_rate", "ratio") in derived
    assert ("headline", "demographic_parity_ratio", "value") in derived
    assert ("disparity", "selection_rate", "ratio") in derived
    assert all("class" not in c for c in derived.values())
    # the new numbers are fairlearn's on (target > 150, prediction > 150)
    frame = thresholded["frame"]
    y, p = frame["target"] > 150, frame["pred"] > 150
    want = demographic_parity_ratio(y, p, sensitive_features=frame["sex"])
    assert derived[("four_fifths", "selection_rate", "ratio")]["new"] == pytest.approx(want, 1e-12)
    assert derived[("headline", "demographic_parity_ratio", "value")]["new"] == pytest.approx(
        want, abs=1e-12
    )
    eod = derived[("headline", "equalized_odds_difference", "value")]["new"]
    assert eod == pytest.approx(
        equalized_odds_difference(y, p, sensitive_features=frame["sex"]), abs=1e-12
    )
    ratio = derived[("four_fifths", "selection_rate", "ratio")]
    assert ratio["beyond_intervals"] and ratio["old"] > 0.75 > 0.33 > ratio["new"]
    text = format_text(diff_results(thresholded["old"], thresholded["new"]))
    assert (
        "four-fifths: sex  derived outcome (prediction > 150): selection_rate four-fifths ratio"
        in text
    )


def test_a_changed_threshold_is_not_compared(thresholded: dict[str, dict], tmp_path: Path) -> None:
    found = diff_results(thresholded["old"], thresholded["other"]).to_dict()
    assert not [c for c in found["changes"] if "derived_outcome" in c]
    assert found["derived_outcome"] == {
        "old": "prediction > 150", "new": "prediction > 160", "compared": False
    }  # fmt: skip
    assert (
        MSG_OUTCOME_CHANGED.format(old="prediction > 150", new="prediction > 160")
        in (found["notes"])
    )
    html = tmp_path / "d.html"
    run = CliRunner().invoke(
        diff_command,
        [*_write(tmp_path, (thresholded["old"], thresholded["other"])), "--html", str(html)],
    )
    assert run.exit_code == 0, run.output
    assert "Note: The favourable threshold changed (derived outcome: prediction &gt; 150" in (
        html.read_text(encoding="utf-8").replace("<p>", "Note: ")
    )
    assert "derived outcome: prediction > 150 -> prediction > 160" in run.output


def test_an_audit_without_threshold_against_one_with(thresholded: dict[str, dict]) -> None:
    for old, new, side, outcome in (
        ("plain", "new", "new", "prediction > 150"),
        ("new", "plain", "old", "prediction > 150"),
    ):
        found = diff_results(thresholded[old], thresholded[new]).to_dict()
        assert not [c for c in found["changes"] if "derived_outcome" in c]
        assert MSG_OUTCOME_ONE_SIDE.format(side=side, outcome=outcome) in found["notes"]
        assert found["derived_outcome"]["compared"] is False
    # the regression rows are still compared; a plain audit's diff has no derived_outcome
    same = diff_results(thresholded["plain"], thresholded["plain"]).to_dict()
    assert "derived_outcome" not in same


def test_hostile_outcome_and_group_text_is_escaped(
    thresholded: dict[str, dict], tmp_path: Path
) -> None:
    old, new = (json.loads(json.dumps(thresholded[k])) for k in ("old", "new"))
    for data in (old, new):
        section = data["summary"]["favorable_outcome"]
        section["outcome"] = "prediction > <b>1</b>\u202e"
        for row in section["worse_off"]:
            row["group"] = {"sex": HOSTILE}
    old["summary"]["favorable_outcome"]["worse_off"][0]["group"] = {"sex": "1"}
    html = tmp_path / "d.html"
    run = CliRunner().invoke(diff_command, [*_write(tmp_path, (old, new)), "--html", str(html)])
    assert run.exit_code == 0, run.output
    assert "\u202e" not in run.output and "own<script>" in run.output  # shown, made visible
    page = html.read_text(encoding="utf-8")
    assert "<b>1</b>" not in page and "own<script>" not in page
    shown = page.split('<script type="application/json"')[0]  # the JSON keeps the data as is
    assert "\u202e" not in shown and "own&lt;script&gt;&lt;U+202E&gt;" in shown


def test_a_malformed_outcome_is_a_one_line_error(thresholded: dict[str, dict]) -> None:
    new = json.loads(json.dumps(thresholded["new"]))
    new["summary"]["favorable_outcome"]["worse_off"] = {"not": "a list"}
    with pytest.raises(DiffError, match=r"summary.favorable_outcome.worse_off is not a list"):
        diff_results(thresholded["old"], new)
