"""Regression audits through the real pipe (issue 17): ``fairaudit run --task regression``.

Every group metric of the JSON is held to fairlearn's MetricFrame with scikit-learn's
``mean_absolute_error``, ``root_mean_squared_error`` and ``r2_score`` (and numpy means)
within 1e-9, per feature and for the intersection; KS to ``scipy.stats.ks_2samp`` and
Wasserstein to ``scipy.stats.wasserstein_distance``; on scikit-learn's diabetes data (sex
as the sensitive feature, a LinearRegression saved with skops, or its predictions in a
column) and on synthetic data with a known shift. Then task detection and each mismatch
error, the schema, hostile group names, and what is refused for now (other engines, a
policy, multiclass).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame
from scipy import stats
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

import fairaudit
from fairaudit.errors import ConfigError
from fairaudit.measure import (
    MSG_BINARY_TOO_MANY,
    MSG_FEW_NUMERIC_VALUES,
    MSG_REGRESSION_MITIGATION,
    MSG_REGRESSION_NOT_NUMERIC,
)
from fairaudit.result import TASK_SCHEMA_VERSION, load_schema
from fairaudit.spec import AuditSpec
from tests.conftest import AuditRun

TOL = 1e-9
HOSTILE = '55+<script>alert("x")</script>&<b>'


def _metric_frame(y: np.ndarray, p: np.ndarray, sensitive: Any) -> MetricFrame:
    return MetricFrame(
        metrics={
            "mean_prediction": lambda t, q: float(np.mean(q)),
            "mean_target": lambda t, q: float(np.mean(t)),
            "mean_error": lambda t, q: float(np.mean(q - t)),
            "mean_absolute_error": mean_absolute_error,
            "root_mean_squared_error": root_mean_squared_error,
            "r2": r2_score,
        },
        y_true=y,
        y_pred=p,
        sensitive_features=sensitive,
    )


def _frame_rows(data: dict[str, Any], feature: str) -> dict[tuple[str, ...], dict[str, Any]]:
    rows = [r for r in data["metrics"]["by_group"] if r["feature"] == feature]
    return {tuple(r["group"].values()): r for r in rows}


def _assert_matches_fairlearn(data: dict[str, Any], frame: pd.DataFrame, pred: np.ndarray,
                              features: list[str]) -> None:  # fmt: skip
    """Every group metric of every grouping equals MetricFrame's within TOL."""
    y = frame["target"].to_numpy(dtype=float)
    groupings = [[f] for f in features] + ([features] if len(features) > 1 else [])
    for columns in groupings:
        name = columns[0] if len(columns) == 1 else "intersection"
        mf = _metric_frame(y, pred, frame[columns] if len(columns) > 1 else frame[columns[0]])
        rows = _frame_rows(data, name)
        assert len(rows) == len(mf.by_group)
        for key, expected in mf.by_group.iterrows():
            key = key if isinstance(key, tuple) else (key,)
            row = rows[tuple(str(k) for k in key)]
            for metric, value in expected.items():
                assert row["metrics"][metric] == pytest.approx(value, abs=TOL, rel=TOL), (
                    name,
                    key,
                    metric,
                )
        overall = mf.overall
        for metric, value in overall.items():
            assert data["metrics"]["overall"][metric] == pytest.approx(value, abs=TOL, rel=TOL)


def _assert_distances(data: dict[str, Any], frame: pd.DataFrame, pred: np.ndarray,
                      feature: str) -> None:  # fmt: skip
    """KS and Wasserstein rows equal scipy's on the group's and the reference's predictions."""
    reference = data["audit"]["reference"][feature][feature]
    ref_pred = pred[frame[feature].astype(str) == reference]
    rows = [d for d in data["disparities"] if d["feature"] == feature]
    ks = [d for d in rows if d["metric"] == "ks_statistic"]
    assert ks and len(ks) == frame[feature].nunique() - 1
    for d in ks:
        group = pred[frame[feature].astype(str) == d["group"][feature]]
        expected = stats.ks_2samp(group, ref_pred)
        assert d["value"] == pytest.approx(expected.statistic, abs=TOL)
        assert d["p_value"] == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-12)
        assert d["ratio"] is None
    for d in (d for d in rows if d["metric"] == "wasserstein_distance"):
        group = pred[frame[feature].astype(str) == d["group"][feature]]
        assert d["value"] == pytest.approx(stats.wasserstein_distance(group, ref_pred), abs=TOL)
        assert d["significance"] == "not tested"


@pytest.fixture(scope="module")
def diabetes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pd.DataFrame]:
    """scikit-learn's diabetes data (BSD) with sex as text, an age band, a LinearRegression
    saved with skops and its predictions in column ``pred``."""
    import skops.io as sio

    folder = tmp_path_factory.mktemp("diabetes")
    frame = load_diabetes(as_frame=True, scaled=False).frame
    frame["sex"] = np.where(frame["sex"] == 1, "one", "two")
    inputs = frame.drop(columns=["target", "sex"])
    model = LinearRegression().fit(inputs, frame["target"])
    sio.dump(model, folder / "linear.skops")
    frame["pred"] = model.predict(inputs)
    frame["age_band"] = pd.cut(frame["age"], [0, 40, 55, 100], labels=["<40", "40-55", HOSTILE])
    frame["age_band"] = frame["age_band"].astype(str)
    frame.to_csv(folder / "diabetes.csv", index=False)
    return folder / "diabetes.csv", folder / "linear.skops", frame


def test_diabetes_model_matches_fairlearn_and_scipy(diabetes: tuple, audit_cli: Any) -> None:
    path, model, frame = diabetes
    run: AuditRun = audit_cli(path, "--target", "target", "--model", model, sensitive=["sex"])
    run.assert_ok()
    data = run.json()
    assert data["audit"]["task"] == "regression" and data["schema_version"] == TASK_SCHEMA_VERSION
    (task,) = run.check("task")
    assert (
        task["message"]
        == "task: regression (a numeric label with 214 distinct values (more than 50))"
    )
    assert data["lineage"]["model"]["format"] == "skops"
    _assert_matches_fairlearn(data, frame, frame["pred"].to_numpy(), ["sex"])
    _assert_distances(data, frame, frame["pred"].to_numpy(), "sex")
    headline = {h["metric"]: h for h in data["headline"]}
    assert set(headline) == {"ks_statistic", "max_group_mae_ratio", "max_group_rmse_ratio"}
    groups = frame.groupby("sex")
    mae = groups.apply(lambda g: mean_absolute_error(g["target"], g["pred"]))
    overall = mean_absolute_error(frame["target"], frame["pred"])
    assert headline["max_group_mae_ratio"]["value"] == pytest.approx(mae.max() / overall, abs=TOL)
    assert headline["max_group_mae_ratio"]["group"] == {"sex": mae.idxmax()}
    assert headline["ks_statistic"]["value"] == pytest.approx(
        stats.ks_2samp(*(g["pred"] for _, g in groups)).statistic, abs=TOL
    )
    (mitigation,) = run.check("mitigation")
    assert mitigation["message"] == MSG_REGRESSION_MITIGATION
    assert "No mitigation comparison ran: BoundedGroupLoss mitigation" in run.html()
    jsonschema.Draft202012Validator(load_schema()).validate(data)


def test_prediction_column_and_intersection_with_hostile_names(
    diabetes: tuple, audit_cli: Any
) -> None:
    path, _, frame = diabetes
    run = audit_cli(
        path, "--target", "target", "--prediction-col", "pred", "--task", "regression",
        sensitive=["sex", "age_band"],
    )  # fmt: skip
    run.assert_ok()
    data = run.json()
    _assert_matches_fairlearn(data, frame, frame["pred"].to_numpy(), ["sex", "age_band"])
    _assert_distances(data, frame, frame["pred"].to_numpy(), "age_band")
    assert data["audit"]["task_reason"] == "--task regression is given (214 distinct values)"
    assert data["lineage"]["config"]["task"] == "regression"
    html = run.html()
    assert "<script>alert" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(" in html
    # Every tested row has an adjusted p-value; the family is one Holm family.
    tested = [
        d for d in data["disparities"] if d["significance"] in ("significant", "within noise")
    ]
    assert tested and all(d["p_value_adjusted"] >= d["p_value"] for d in tested)
    assert data["uncertainty"]["correction"] == "holm"
    jsonschema.Draft202012Validator(load_schema()).validate(data)


def _synthetic(seed: int = 3, n: int = 600) -> pd.DataFrame:
    """Targets with the same distribution in groups a and b; b's predictions 5 higher."""
    rng = np.random.default_rng(seed)
    group = np.where(np.arange(n) % 3 == 0, "b", "a")
    y = rng.normal(50, 10, n)
    pred = y + rng.normal(0, 2, n) + np.where(group == "b", 5.0, 0.0)
    return pd.DataFrame({"y": y, "pred": pred, "group": group})


def test_synthetic_shift_is_found_through_the_python_api() -> None:
    frame = _synthetic()
    result = fairaudit.audit(frame, target="y", sensitive="group", prediction_col="pred")
    data = result.to_dict()
    assert data["audit"]["task"] == "regression"
    rows = {r["group"]["group"]: r for r in data["metrics"]["by_group"]}
    assert rows["b"]["metrics"]["mean_error"] == pytest.approx(5.0, abs=0.5)
    assert rows["a"]["metrics"]["mean_error"] == pytest.approx(0.0, abs=0.5)
    shift = next(d for d in data["disparities"] if d["metric"] == "mean_error")
    assert shift["significance"] == "significant"
    low, high = shift["ci_difference"]
    assert low < 5.0 < high
    ks = next(d for d in data["disparities"] if d["metric"] == "ks_statistic")
    assert ks["significance"] == "significant"
    mf = _metric_frame(frame["y"].to_numpy(), frame["pred"].to_numpy(), frame["group"])
    for group, expected in mf.by_group.iterrows():
        for metric, value in expected.items():
            assert rows[group]["metrics"][metric] == pytest.approx(value, abs=TOL, rel=TOL)
    b, a = (frame.loc[frame["group"] == g, "pred"] for g in ("b", "a"))
    assert ks["value"] == pytest.approx(stats.ks_2samp(b, a).statistic, abs=TOL)
    wasserstein = next(d for d in data["disparities"] if d["metric"] == "wasserstein_distance")
    assert wasserstein["value"] == pytest.approx(stats.wasserstein_distance(b, a), abs=TOL)
    jsonschema.Draft202012Validator(load_schema()).validate(data)


def test_constant_target_group_has_null_r2_and_a_check() -> None:
    frame = _synthetic(n=300)
    frame.loc[frame["group"] == "b", "y"] = 42.0
    data = fairaudit.audit(frame, target="y", sensitive="group", prediction_col="pred").to_dict()
    rows = {r["group"]["group"]: r for r in data["metrics"]["by_group"]}
    assert rows["b"]["metrics"]["r2"] is None and rows["b"]["constant_target"] is True
    assert rows["a"]["constant_target"] is False
    (check,) = [c for c in data["data_checks"] if c["id"] == "constant_target"]
    assert check["status"] == "warning" and "group=b (100)" in check["message"]
    jsonschema.Draft202012Validator(load_schema()).validate(data)


def test_small_groups_are_flagged_and_not_tested() -> None:
    frame = _synthetic(n=400)
    frame.loc[:9, "group"] = "tiny"
    data = fairaudit.audit(frame, target="y", sensitive="group", prediction_col="pred").to_dict()
    tiny = [d for d in data["disparities"] if d["group"] == {"group": "tiny"}]
    assert tiny and all(d["insufficient_data"] for d in tiny)
    assert {d["significance"] for d in tiny} <= {"insufficient data", "not tested"}
    headline = {h["metric"]: h for h in data["headline"]}
    assert headline["max_group_mae_ratio"]["excluded"] == [
        {"group": {"group": "tiny"}, "metric": "count", "denominator": 10}
    ]
    (small,) = [c for c in data["data_checks"] if c["id"] == "insufficient_data"]
    assert small["status"] == "warning"


# -------------------------------------------------------------------------------------------
# Task detection and its errors


def _frame_with_target(values: list[Any]) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame({"y": values, "pred": [0.0] * n, "sex": ["a", "b"] * (n // 2)})


def _audit(frame: pd.DataFrame, sensitive: str = "sex", **options: Any) -> dict[str, Any]:
    return fairaudit.audit(
        frame, target="y", sensitive=sensitive, prediction_col="pred", **options
    ).to_dict()


def test_auto_detection_and_mismatch_errors(diabetes: tuple, audit_cli: Any) -> None:
    path = diabetes[0]
    run = audit_cli(path, "--target", "target", "--prediction-col", "pred", "--task", "binary")
    run.assert_error(
        MSG_BINARY_TOO_MANY.format(
            column="target", n=214, values="'151', '75', '141', '206', '135', '97', "
            "'138', '63', ...", suggested="regression", favorable_hint="",
        )
    )  # fmt: skip
    few = _frame_with_target([0.5, 1.5, 2.5, 0.5] * 10)
    with pytest.raises(ConfigError) as error:
        _audit(few)
    assert str(error.value) == MSG_FEW_NUMERIC_VALUES.format(
        column="y", n=3, values="'0.5', '1.5', '2.5'"
    )
    # --task regression accepts the few numbers.
    assert _audit(few, task="regression")["audit"]["task"] == "regression"
    text = _frame_with_target(["low", "mid", "high", "low"] * 10)
    with pytest.raises(ConfigError) as error:
        _audit(text, task="regression")
    assert str(error.value) == MSG_REGRESSION_NOT_NUMERIC.format(
        column="y", values="'low', 'mid', 'high'", suggested="multiclass"
    )


def test_task_from_the_config_file(diabetes: tuple, audit_cli: Any) -> None:
    base = (diabetes[0], "--target", "target", "--prediction-col", "pred")
    run = audit_cli(*base, config='task = "regression"')
    run.assert_ok()
    assert run.json()["audit"]["task_reason"] == "--task regression is given (214 distinct values)"
    audit_cli(*base, config='task = "ordinal"').assert_error(
        "unknown task 'ordinal'; use --task auto, binary, multiclass or regression"
    )


def test_multiclass_is_detected_and_audited(audit_cli: Any, write_csv: Any) -> None:
    rows = [(("low", "mid", "high")[i % 3], ("low", "mid", "high")[i % 2], ("a", "b")[i % 2])
            for i in range(60)]  # fmt: skip
    path = write_csv("classes.csv", ["y", "pred", "sex"], rows)
    run = audit_cli(path, "--target", "y", "--prediction-col", "pred")
    run.assert_ok()
    assert run.json()["audit"]["task_reason"] == "3 distinct text label values"


def test_binary_audits_keep_their_shape() -> None:
    frame = pd.DataFrame(
        {"y": [0, 1] * 40, "pred": [1, 1, 0, 0] * 20, "sex": ["a"] * 40 + ["b"] * 40}
    )
    data = _audit(frame)
    assert "task" not in data["audit"] and "task" not in data["lineage"]["config"]
    assert data["schema_version"] == "1.2.0"
    assert not [c for c in data["data_checks"] if c["id"] == "task"]
    assert (
        AuditSpec(data=frame, target="y", sensitive=("sex",), prediction_col="pred").task == "auto"
    )


# -------------------------------------------------------------------------------------------
# What is refused for now


def test_binary_policy_and_favorable_label_are_refused(diabetes: tuple, audit_cli: Any) -> None:
    # The DuckDB and Spark engines run regression audits: tests/test_task_engines.py.
    path = diabetes[0]
    base = (path, "--target", "target", "--prediction-col", "pred")
    # --policy is judged by the policy's regression rules: a binary-only one is refused.
    # H4b (issue 17): four-fifths judges --favorable-above's view now
    # (tests/test_regression_policy_favorable.py); equalized odds names no favourable outcome.
    audit_cli(*base, "--policy", "preset:equalized-odds").assert_error(
        "policy preset:equalized-odds has no rule for a regression audit", prefix=True
    )
    audit_cli(*base, "--task", "regression", "--favorable-label", "1").assert_error(
        "--favorable-label names a favourable class and does not apply to a regression audit; "
        "drop it"
    )
    audit_cli(*base, "--task", "regression", "--positive-label", "1").assert_error(
        "--positive-label names the positive class of a binary audit and does not apply to "
        "--task regression; drop it"
    )


def test_bad_predictions_are_one_line_errors(audit_cli: Any, write_csv: Any) -> None:
    rows = [(float(i), "x" if i == 3 else float(i) + 0.5, ("a", "b")[i % 2]) for i in range(80)]
    path = write_csv("bad.csv", ["y", "pred", "sex"], rows)
    run = audit_cli(path, "--target", "y", "--prediction-col", "pred", "--task", "regression")
    run.assert_error(
        "prediction column 'pred' has 1 value that is not a finite number ('x'); a regression "
        "audit needs a finite number under 1e50 in magnitude in every row"
    )


def test_schema_describes_regression_and_rejects_a_wrong_shape() -> None:
    data = _audit(_synthetic(n=200), sensitive="group")
    validator = jsonschema.Draft202012Validator(load_schema())
    validator.validate(data)
    broken = json.loads(json.dumps(data))
    del broken["metrics"]["by_group"][0]["constant_target"]
    assert list(validator.iter_errors(broken))
    broken = json.loads(json.dumps(data))
    broken["headline"][0]["metric"] = "demographic_parity_ratio"
    assert list(validator.iter_errors(broken))


# -------------------------------------------------------------------------------------------
# The page in a browser (skips without Playwright, Chromium or axe-core, as test_browser)

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
_AXE_RUN = """async () => {
    const r = await axe.run(document, {resultTypes: ['violations']});
    return r.violations.filter(v => ['serious', 'critical'].includes(v.impact))
        .map(v => ({id: v.id, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""


def test_regression_report_in_chromium(diabetes: tuple, audit_cli: Any, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists() or not AXE.exists():
        pytest.skip("Chromium or axe-core is not installed")
    path, model, _ = diabetes
    run = audit_cli(path, "--target", "target", "--model", model, sensitive=["sex", "age_band"])
    run.assert_ok()
    own = run.html_path.resolve().as_uri()
    problems: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        for width in (1280, 390):
            context = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 900})
            page = context.new_page()
            page.route("**/*", lambda r: r.continue_() if r.request.url == own else (
                problems.append(r.request.url), r.abort()))  # fmt: skip
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("dialog", lambda d: (problems.append(d.message), d.dismiss()))
            page.goto(own, wait_until="load")
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            page.screenshot(path=str(tmp_path / f"regression-{width}.png"), full_page=True)
            # Wide tables scroll in their own boxes: the page itself never scrolls sideways.
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            assert page.locator("table").count() >= 7
            page.evaluate(AXE.read_text(encoding="utf-8"))
            assert page.evaluate(_AXE_RUN) == []
            assert problems == []
            context.close()
        browser.close()


def test_a_model_may_take_a_sensitive_feature_but_not_the_target() -> None:
    """As for a binary model: the audit measures what the model does with a sensitive input;
    the target (or an id column) as an input is refused in one line."""
    from fairaudit.errors import ModelError

    frame = _synthetic()
    frame["x"] = frame["y"] + np.random.default_rng(1).normal(0, 3, len(frame))
    frame["is_b"] = (frame["group"] == "b").astype(float)
    uses_group = LinearRegression().fit(frame[["x", "is_b"]], frame["y"])
    data = fairaudit.audit(frame, target="y", sensitive="is_b", model=uses_group).to_dict()
    assert data["audit"]["task"] == "regression"
    expected = uses_group.predict(frame[["x", "is_b"]])
    assert data["metrics"]["overall"]["mean_prediction"] == pytest.approx(
        expected.mean(), rel=1e-12
    )
    uses_target = LinearRegression().fit(frame[["x", "y"]], frame["y"])
    with pytest.raises(ModelError, match="the model takes 'y' as input"):
        fairaudit.audit(frame, target="y", sensitive="group", model=uses_target, task="regression")
