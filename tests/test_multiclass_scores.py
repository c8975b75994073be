"""Per-class one-vs-rest ROC AUC of a multiclass audit (issue 17).

Scores come from the model's ``predict_proba`` (columns in ``model.classes_`` order), an
``(n, K)`` ``decision_function``, or ``--score-col CLASS=COL``. Every group's (and the
intersection's, and the overall) ``by_class[class].roc_auc`` is held to scikit-learn's
``roc_auc_score`` on ``y == class`` and that class's score, through fairlearn's
MetricFrame; its interval and its disparity against the reference to the binary audit's
own (DeLong) numbers on the same one-vs-rest data. Then what is undefined and why, the
notes on the scores, the errors, the report and a policy rule on ``roc_auc_difference``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.svm import LinearSVC

import fairaudit
from fairaudit.measure._multiclass_input import MSG_SCORES_OFF_ONE

TOL = 1e-12
HOSTILE = '<script>alert("x")</script>&<b>'  # no '=': --score-col splits CLASS=COL at the first
FEATURES = ["x1", "x2"]


def _frame(seed: int = 3, n: int = 900) -> pd.DataFrame:
    """Three classes from two features; group b's features are noisier (lower AUC)."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b"], n, p=[0.6, 0.4])
    region = rng.choice(["north", "south"], n)
    y = rng.choice(["low", "mid", "high"], n)
    centre = pd.Series(y).map({"low": -1.0, "mid": 0.0, "high": 1.0}).to_numpy()
    noise = np.where(group == "b", 1.6, 0.7)
    x1 = centre + rng.normal(0, 1, n) * noise
    x2 = centre**2 + rng.normal(0, 1, n) * noise
    return pd.DataFrame({"x1": x1, "x2": x2, "y": y, "group": group, "region": region})


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, LogisticRegression, dict[str, Any]]:
    frame = _frame()
    model = LogisticRegression().fit(frame[FEATURES], frame["y"])
    result = fairaudit.audit(data=frame, target="y", model=model,
                             sensitive=("group", "region")).to_dict()  # fmt: skip
    return frame, model, result


def _groups(frame: pd.DataFrame, grouping: str) -> Any:
    if grouping == "intersection":
        return frame[["group", "region"]]
    return frame[grouping]


def _sklearn_auc(frame: pd.DataFrame, scores: np.ndarray, label: str, grouping: str) -> Any:
    positive = (frame["y"] == label).to_numpy().astype(int)
    return MetricFrame(metrics=roc_auc_score, y_true=positive, y_pred=scores,
                       sensitive_features=_groups(frame, grouping))  # fmt: skip


def test_auc_per_class_and_group_equals_sklearn(fitted: tuple) -> None:
    frame, model, result = fitted
    proba = model.predict_proba(frame[FEATURES])
    assert result["lineage"]["predictions"]["score"] == "predict_proba"
    rows = result["metrics"]["by_group"]
    checked = 0
    for k, label in enumerate(model.classes_):
        overall = roc_auc_score(frame["y"] == label, proba[:, k])
        assert abs(result["metrics"]["overall"]["by_class"][label]["roc_auc"] - overall) < TOL
        for grouping in ("group", "region", "intersection"):
            expected = _sklearn_auc(frame, proba[:, k], label, grouping).by_group
            for row in (r for r in rows if r["feature"] == grouping):
                key = tuple(row["group"].values())
                want = expected.loc[key if len(key) > 1 else key[0]]
                assert abs(row["by_class"][label]["roc_auc"] - want) < TOL
                checked += 1
    assert checked == 3 * (2 + 2 + 4)


def test_intervals_and_tests_are_the_binary_audits(fitted: tuple) -> None:
    frame, model, result = fitted
    proba = model.predict_proba(frame[FEATURES])
    k = list(model.classes_).index("mid")
    binary = frame.assign(
        yb=(frame["y"] == "mid").astype(int),
        pb=(model.predict(frame[FEATURES]) == "mid").astype(int),
        sb=proba[:, k],
    )
    one = fairaudit.audit(data=binary, target="yb", prediction_col="pb", score_col="sb",
                          positive_label="1", sensitive=("group",)).to_dict()  # fmt: skip
    ours = {json.dumps(r["group"]): r for r in result["metrics"]["by_group"]
            if r["feature"] == "group"}  # fmt: skip
    for row in one["metrics"]["by_group"]:
        mine = ours[json.dumps(row["group"])]
        assert mine["by_class"]["mid"]["roc_auc"] == pytest.approx(
            row["metrics"]["roc_auc"], abs=TOL
        )
        assert mine["ci"]["by_class"]["mid"]["roc_auc"] == pytest.approx(
            row["ci"]["roc_auc"], abs=TOL
        )
    (theirs,) = [d for d in one["disparities"] if d["metric"] == "roc_auc"]
    (mine,) = [d for d in result["disparities"] if d["metric"] == "roc_auc"
               and d["class"] == "mid" and d["feature"] == "group"]  # fmt: skip
    for key in ("difference", "ratio", "p_value"):
        assert mine[key] == pytest.approx(theirs[key], abs=1e-10)
    for key in ("ci_difference", "ci_ratio"):
        assert mine[key] == pytest.approx(theirs[key], abs=1e-10)
    # The AUC tests are in the one Holm family spanning classes.
    predicted = frame.assign(p=model.predict(frame[FEATURES]))
    plain = fairaudit.audit(data=predicted, target="y", prediction_col="p",
                            sensitive=("group", "region")).to_dict()  # fmt: skip
    tested = [d for d in result["disparities"]
              if d["metric"] == "roc_auc" and d["p_value_adjusted"] is not None]  # fmt: skip
    assert result["uncertainty"]["family"]["size"] == plain["uncertainty"]["family"]["size"] + len(
        tested
    )
    assert result["uncertainty"]["intervals"]["roc_auc"] == "delong-logit (one-vs-rest)"
    assert "roc_auc" not in plain["metrics"]["overall"]["by_class"]["mid"]


def test_undefined_auc_is_null_with_its_reason() -> None:
    frame = _frame(n=600)
    model = LogisticRegression().fit(frame[FEATURES], frame["y"])
    # Region "east": only rows of class high (one class); "west": no row of class low.
    east = frame[frame["y"] == "high"].head(40).assign(region="east")
    west = frame[frame["y"] != "low"].head(60).assign(region="west")
    data = pd.concat([frame, east, west], ignore_index=True)
    result = fairaudit.audit(data=data, target="y", model=model, sensitive=("region",),
                             min_group_size=10).to_dict()  # fmt: skip
    rows = {r["group"]["region"]: r for r in result["metrics"]["by_group"]}
    assert all(rows["east"]["by_class"][c]["roc_auc"] is None for c in ("low", "mid", "high"))
    assert rows["west"]["by_class"]["low"]["roc_auc"] is None
    assert rows["west"]["by_class"]["mid"]["roc_auc"] is not None
    (check,) = [c for c in result["data_checks"] if c["id"] == "undefined_roc_auc"]
    assert "region=east: 'high' (every row is of the class)" in check["message"]
    assert "region=west: 'low' (no row of the class)" in check["message"]
    assert "region=east: 'low' (no row of the class)" in check["message"]


def test_a_class_the_model_does_not_know_and_decision_values() -> None:
    frame = _frame()
    two = frame[frame["y"] != "mid"]
    model = LogisticRegression().fit(two[FEATURES], two["y"])  # knows low and high only
    result = fairaudit.audit(data=frame, target="y", model=model, sensitive=("group",),
                             task="multiclass").to_dict()  # fmt: skip
    overall = result["metrics"]["overall"]["by_class"]
    assert overall["mid"]["roc_auc"] is None and overall["low"]["roc_auc"] is not None
    notes = [c["message"] for c in result["data_checks"] if c["id"] == "class_scores"]
    assert notes == [
        "no score for class 'mid' (not among the model's classes_): its roc_auc is null"
    ]
    svc = LinearSVC().fit(frame[FEATURES], frame["y"])
    result = fairaudit.audit(data=frame, target="y", model=svc, sensitive=("group",)).to_dict()
    assert result["lineage"]["predictions"]["score"] == "decision_function"
    values = svc.decision_function(frame[FEATURES])
    for k, label in enumerate(svc.classes_):
        want = roc_auc_score(frame["y"] == label, values[:, k])
        assert abs(result["metrics"]["overall"]["by_class"][label]["roc_auc"] - want) < TOL


def _csv(tmp_path: Path, frame: pd.DataFrame, model: LogisticRegression) -> Path:
    proba = model.predict_proba(frame[FEATURES])
    columns = {f"p_{c}": proba[:, k] for k, c in enumerate(model.classes_)}
    scored = frame.assign(pred=model.predict(frame[FEATURES]), **columns)
    path = tmp_path / "scored.csv"
    scored.to_csv(path, index=False)
    return path


def test_score_columns_through_the_cli(fitted: tuple, audit_cli: Any, tmp_path: Path) -> None:
    frame, model, result = fitted
    path = _csv(tmp_path, frame, model)
    base = (path, "--target", "y", "--prediction-col", "pred", "--task", "multiclass")
    scores = [a for c in model.classes_ for a in ("--score-col", f"{c}=p_{c}")]
    run = audit_cli(*base, *scores, sensitive=["group", "region"])
    run.assert_ok()
    data = run.json()
    assert data["lineage"]["predictions"]["class_scores"] == {c: f"p_{c}" for c in model.classes_}
    for mine, theirs in zip(data["metrics"]["by_group"], result["metrics"]["by_group"]):
        for c in model.classes_:
            assert mine["by_class"][c]["roc_auc"] == pytest.approx(
                theirs["by_class"][c]["roc_auc"], abs=TOL
            )
    # The report shows the AUC table.
    assert "ROC AUC by class" in run.html()
    # Errors: a class that is no class, a missing column, a non-number.
    audit_cli(*base, "--score-col", "nope=p_low", sensitive=["group"]).assert_error(
        "--score-col names class 'nope', which is not a class of the label column 'y' "
        "(classes: 'high', 'low', 'mid')"
    )
    audit_cli(*base, "--score-col", "low=p_none", sensitive=["group"]).assert_error(
        "column 'p_none' (--score-col) not found in", prefix=True
    )
    broken = pd.read_csv(path)
    broken["p_low"] = broken["p_low"].astype(object)
    broken.loc[5, "p_low"] = "oops"
    broken.to_csv(path, index=False)
    audit_cli(*base, "--score-col", "low=p_low", sensitive=["group"]).assert_error(
        "score column 'p_low' (class 'low') has 1 value that is not a finite number ('oops')",
        prefix=True,
    )


def test_probabilities_not_summing_to_one_are_noted(audit_cli: Any, tmp_path: Path) -> None:
    frame = _frame(n=400)
    model = LogisticRegression().fit(frame[FEATURES], frame["y"])
    path = _csv(tmp_path, frame, model)
    scored = pd.read_csv(path)
    scored["p_low"] = scored["p_low"] * 0.5  # still in [0, 1], rows no longer sum to 1
    scored.to_csv(path, index=False)
    scores = [a for c in model.classes_ for a in ("--score-col", f"{c}=p_{c}")]
    run = audit_cli(path, "--target", "y", "--prediction-col", "pred", "--task", "multiclass",
                    *scores, sensitive=["group"])  # fmt: skip
    run.assert_ok()
    data = run.json()
    (note,) = [c["message"] for c in data["data_checks"] if c["id"] == "class_scores"]
    assert note.startswith(MSG_SCORES_OFF_ONE.split("{n}")[0])
    # A class's AUC ranks its own scores: halving them changes nothing.
    proba = model.predict_proba(frame[FEATURES])
    k = list(model.classes_).index("low")
    want = roc_auc_score(frame["y"] == "low", proba[:, k])
    assert abs(data["metrics"]["overall"]["by_class"]["low"]["roc_auc"] - want) < TOL


def test_hostile_class_names_and_a_policy_rule(audit_cli: Any, tmp_path: Path) -> None:
    frame = _frame(n=500)
    frame["y"] = frame["y"].replace("mid", HOSTILE)
    model = LogisticRegression().fit(frame[FEATURES], frame["y"])
    path = _csv(tmp_path, frame, model)
    renamed = pd.read_csv(path).rename(columns={f"p_{HOSTILE}": "p_mid"})
    renamed.to_csv(path, index=False)
    scores = ["--score-col", "low=p_low", "--score-col", "high=p_high",
              "--score-col", f"{HOSTILE}=p_mid"]  # fmt: skip
    policy = tmp_path / "auc.toml"
    rule = 'id = "auc"\nmetric = "roc_auc_difference"\nmin = -0.01\n'
    policy.write_text(f"[[rule]]\n{rule}class = {json.dumps(HOSTILE)}\n")
    run = audit_cli(path, "--target", "y", "--prediction-col", "pred", "--task", "multiclass",
                    "--policy", policy, *scores, sensitive=["group"])  # fmt: skip
    data = run.json()
    assert run.result.exit_code == 3  # group b's AUC is lower: the rule fails
    (rule,) = data["policy"]["rules"]
    assert [o["class"] for o in rule["outcomes"]] == [HOSTILE]
    row = next(d for d in data["disparities"] if d["metric"] == "roc_auc" and d["class"] == HOSTILE)
    assert rule["outcomes"][0]["observed"] == row["difference"] < -0.01
    page = run.html()
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page and "<b>" not in page
