"""Multiclass audits through the real pipe (issue 17): ``fairaudit run --task multiclass``.

Every per-class one-vs-rest metric of the JSON is held to fairlearn's MetricFrame on
``y_true == class`` and ``y_pred == class``, every group's accuracy, balanced accuracy
and macro F1 to scikit-learn's, and every group's ``confusion`` to scikit-learn's
``confusion_matrix``, per feature and for the intersection: on the German credit sample
with a 3-class target (``housing`` predicted by a LogisticRegression fitted on
sample_data/german_train.csv and saved with skops, or its predictions in a column) and on
synthetic data with an injected disparity. Then auto-detection, the favourable-classes
view, the schema, hostile class and group names, the checks and what is refused.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_negative_rate,
    true_positive_rate,
)
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
)

import fairaudit
from fairaudit.measure import MSG_MULTICLASS_MITIGATION
from fairaudit.result import MULTICLASS_SCHEMA_VERSION, SCHEMA_VERSION, load_schema

TOL = 1e-9
HOSTILE_CLASS = '<img src=x onerror="alert(1)">&amp;'
HOSTILE_GROUP = '55+<script>alert("x")</script>&<b>'
SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
FEATURES = ["job", "credit_amount", "duration", "risk", "age"]


def _defined(metric: Any, rows: str) -> Any:
    """Return fairlearn's ``metric``, NaN where its denominator is empty (fairlearn returns
    0 there; the audit writes null: undefined, never 0)."""

    def compute(t: Any, q: Any) -> float:
        t, q = np.asarray(t), np.asarray(q)
        n = {"positive": t.sum(), "negative": (1 - t).sum()}[rows]
        return float(metric(t, q)) if n else np.nan

    return compute


def _ovr_frame(y: np.ndarray, p: np.ndarray, label: str, sensitive: Any) -> MetricFrame:
    return MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "true_positive_rate": _defined(true_positive_rate, "positive"),
            "false_positive_rate": _defined(false_positive_rate, "negative"),
            "true_negative_rate": _defined(true_negative_rate, "negative"),
            "false_negative_rate": _defined(false_negative_rate, "positive"),
            "precision": lambda t, q: precision_score(t, q, zero_division=np.nan),
            "accuracy": accuracy_score,
        },
        y_true=(y == label).astype(int),
        y_pred=(p == label).astype(int),
        sensitive_features=sensitive,
    )


def _close(got: Any, want: float) -> bool:
    if got is None or (isinstance(got, float) and np.isnan(got)):
        return bool(np.isnan(want))
    return abs(got - want) <= TOL


def _assert_matches(data: dict[str, Any], frame: pd.DataFrame, pred: np.ndarray,
                    target: str, features: list[str]) -> int:  # fmt: skip
    """Assert every group row of each grouping equals fairlearn and scikit-learn; return
    the number of values compared."""
    y = frame[target].astype(str).to_numpy()
    p = np.asarray(pred).astype(str)
    classes = data["audit"]["classes"]
    compared = 0
    groupings = [(f, frame[f].astype(str)) for f in features]
    if len(features) > 1:
        groupings.append(("intersection", frame[features].astype(str)))
    for name, sensitive in groupings:
        rows = {tuple(r["group"].values()): r for r in data["metrics"]["by_group"]
                if r["feature"] == name}  # fmt: skip
        keys = [(k,) if not isinstance(k, tuple) else k for k in pd.unique(
            sensitive if isinstance(sensitive, pd.Series) else
            pd.Series(list(map(tuple, sensitive.to_numpy()))))]  # fmt: skip
        assert sorted(rows) == sorted(keys), name
        for label in classes:
            by_group = _ovr_frame(y, p, label, sensitive).by_group
            for key, values in by_group.iterrows():
                row = rows[key if isinstance(key, tuple) else (key,)]
                for metric, want in values.items():
                    assert _close(row["by_class"][label][metric], want), (name, key, label, metric)
                    compared += 1
        for key, row in rows.items():
            mask = np.ones(len(y), dtype=bool)
            for feature, value in row["group"].items():
                mask &= frame[feature].astype(str).to_numpy() == value
            yt, yp = y[mask], p[mask]
            assert row["count"] == int(mask.sum())
            assert row["confusion"] == confusion_matrix(yt, yp, labels=classes).tolist()
            assert _close(row["metrics"]["accuracy"], accuracy_score(yt, yp))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a class absent from the group
                balanced = balanced_accuracy_score(yt, yp)
                macro = f1_score(yt, yp, average="macro", zero_division=0.0)
            assert _close(row["metrics"]["balanced_accuracy"], balanced), (name, key)
            assert _close(row["metrics"]["f1_macro"], macro), (name, key)
            compared += 4
    return compared


@pytest.fixture(scope="module")
def german(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pd.DataFrame]:
    """The German credit evaluation split with ``housing`` (own/rent/free) as the target, a
    LogisticRegression fitted on the training split saved with skops, and its predictions
    in column ``pred``."""
    import skops.io as sio

    folder = tmp_path_factory.mktemp("german-multiclass")
    train = pd.read_csv(SAMPLE / "german_train.csv")
    model = LogisticRegression(solver="newton-cg", max_iter=1000, class_weight="balanced")
    model.fit(train[FEATURES], train["housing"])
    frame = pd.read_csv(SAMPLE / "german_eval.csv")
    frame["pred"] = model.predict(frame[FEATURES])
    sio.dump(model, folder / "housing.skops")
    frame.to_csv(folder / "german.csv", index=False)
    return folder / "german.csv", folder / "housing.skops", frame


def test_german_model_matches_fairlearn_and_sklearn(german: tuple, audit_cli: Any) -> None:
    path, model, frame = german
    run = audit_cli(path, "--target", "housing", "--model", model,
                    sensitive=["sex", "saving_accounts"])  # fmt: skip
    run.assert_ok()
    data = run.json()
    assert data["schema_version"] == MULTICLASS_SCHEMA_VERSION
    assert data["audit"]["task"] == "multiclass"
    assert data["audit"]["classes"] == ["free", "own", "rent"]
    assert data["lineage"]["model"]["format"] == "skops"
    compared = _assert_matches(data, frame, frame["pred"].to_numpy(), "housing",
                               ["sex", "saving_accounts"])  # fmt: skip
    assert compared > 400
    # The overall matrix and the headline per class equal fairlearn's one-vs-rest.
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_ratio

    y, p = frame["housing"].to_numpy(), frame["pred"].to_numpy()
    assert (
        data["metrics"]["overall"]["confusion"]
        == confusion_matrix(y, p, labels=["free", "own", "rent"]).tolist()
    )
    headline = {(h["feature"], h["class"], h["metric"]): h for h in data["headline"]}
    checked = 0
    for label in ("free", "own", "rent"):
        yt, yp = (y == label).astype(int), (p == label).astype(int)
        dpd = demographic_parity_difference(yt, yp, sensitive_features=frame["sex"])
        eor = equalized_odds_ratio(yt, yp, sensitive_features=frame["sex"])
        for metric, want in (("demographic_parity_difference", dpd), ("equalized_odds_ratio", eor)):
            entry = headline["sex", label, metric]
            if entry["excluded"]:  # a rate on fewer than min_denominator rows: left out
                assert entry["value"] is None
                continue
            assert _close(entry["value"], want), (label, metric)
            checked += 1
    assert checked >= 4
    mitigation = [c for c in data["data_checks"] if c["id"] == "mitigation"]
    assert mitigation[0]["message"] == MSG_MULTICLASS_MITIGATION
    assert "fairlearn has no mitigation for multiclass" in run.html()


def test_prediction_column_gives_the_same_numbers(german: tuple, audit_cli: Any) -> None:
    path, _, frame = german
    run = audit_cli(path, "--target", "housing", "--prediction-col", "pred", "--task",
                    "multiclass", sensitive=["sex", "saving_accounts"])  # fmt: skip
    run.assert_ok()
    data = run.json()
    assert data["audit"]["task_reason"].startswith("--task multiclass is given")
    _assert_matches(data, frame, frame["pred"].to_numpy(), "housing", ["sex", "saving_accounts"])


def _synthetic(seed: int = 5, n: int = 1500) -> pd.DataFrame:
    """Three classes; group ``b`` is pushed into class ``deny`` 30% of the time."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b"], n)
    region = rng.choice(["north", "south", "east"], n)
    y = rng.choice(["approve", "review", "deny"], n)
    pred = np.where(rng.random(n) < 0.75, y, rng.choice(["approve", "review", "deny"], n))
    pred = np.where((group == "b") & (rng.random(n) < 0.3), "deny", pred)
    return pd.DataFrame({"y": y, "pred": pred, "group": group, "region": region})


def test_synthetic_disparity_is_found_through_the_python_api() -> None:
    frame = _synthetic()
    result = fairaudit.audit(data=frame, target="y", prediction_col="pred",
                             sensitive=("group", "region"),
                             favorable_label=("approve", "review"))  # fmt: skip
    data = result.to_dict()
    _assert_matches(data, frame, frame["pred"].to_numpy(), "y", ["group", "region"])
    worst = {(w["feature"], w["metric"]): w for w in data["summary"]["worst_classes"]}
    assert worst["group", "demographic_parity_difference"]["class"] == "deny"
    assert worst["group", "demographic_parity_difference"]["value"] > 0.15
    sig = [d for d in data["disparities"] if d["feature"] == "group" and d["class"] == "deny"
           and d["metric"] == "selection_rate"]  # fmt: skip
    assert sig[0]["significance"] == "significant"
    # One Holm family across classes: every class's hypotheses are in one family.
    assert data["uncertainty"]["family"]["size"] > 3 * 10
    # The favourable view: the union of approve and review, its four-fifths ratio.
    view = data["summary"]["favorable_view"]
    assert view["classes"] == ["approve", "review"]
    favourable = np.isin(frame["pred"], ["approve", "review"])
    rates = {g: favourable[frame["group"] == g].mean() for g in ("a", "b")}
    assert data["summary"]["worse_off"] == []  # the binary banner's entries: none here
    worse = [w for w in view["worse_off"]
             if w["feature"] == "group" and w["metric"] == "selection_rate"]  # fmt: skip
    assert worse[0]["group"] == {"group": "b"}
    assert _close(worse[0]["ratio"], rates["b"] / rates["a"])
    assert worse[0]["ratio"] < 0.8
    assert data["audit"]["favorable_classes"] == ["approve", "review"]


def test_favorable_label_repeated_on_the_command_line(audit_cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "syn.csv"
    _synthetic().to_csv(path, index=False)
    run = audit_cli(path, "--target", "y", "--prediction-col", "pred", "--favorable-label",
                    "approve", "--favorable-label", "review", sensitive=["group"])  # fmt: skip
    run.assert_ok()
    data = run.json()
    assert data["summary"]["favorable_view"]["classes"] == ["approve", "review"]
    assert data["lineage"]["config"]["favorable_label"] == ["approve", "review"]
    assert 'id="favorable"' in run.html()
    # The console names each headline's class, and the favourable view's worse-off groups.
    out = run.result.output
    for h in data["headline"]:
        if h["metric"] == "demographic_parity_ratio":
            assert f"group, class {h['class']}: demographic_parity_ratio = " in out
    below = [e for e in data["summary"]["favorable_view"]["worse_off"] if e["below_band"]]
    assert below  # the injected disparity puts a group below the band
    for entry in below:
        assert "worse off (favourable: approve, review): " in out and f"{entry['ratio']:.3f}" in out
    # A class that is not one: one line.
    bad = audit_cli(path, "--target", "y", "--prediction-col", "pred", "--favorable-label",
                    "approved", sensitive=["group"])  # fmt: skip
    assert bad.result.exit_code == 1 and "is not a class of the label column 'y'" in (
        bad.result.stderr
    )
    # Several favourable labels on a binary label: one line.
    frame = pd.DataFrame({"y": [0, 1] * 40, "pred": [1, 0, 0, 1] * 20, "group": ["a", "b"] * 40})
    frame.to_csv(tmp_path / "binary.csv", index=False)
    binary = audit_cli(tmp_path / "binary.csv", "--target", "y", "--prediction-col", "pred",
                       "--favorable-label", "0", "--favorable-label", "1",
                       sensitive=["group"])  # fmt: skip
    binary.assert_error(
        "--favorable-label is given more than once, but the label is binary: a binary audit "
        "has one favourable label"
    )


def test_auto_detection_and_numbers_as_classes() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 400)
    frame = pd.DataFrame({"y": y, "pred": np.where(rng.random(400) < 0.6, y, 2),
                          "sex": rng.choice(["f", "m"], 400)})  # fmt: skip
    data = fairaudit.audit(data=frame, target="y", prediction_col="pred", sensitive="sex").to_dict()
    assert data["audit"]["task"] == "multiclass"
    assert data["audit"]["task_reason"] == "4 distinct whole-number label values"
    assert data["audit"]["classes"] == ["0", "1", "2", "3"]
    assert any(c["id"] == "task" for c in data["data_checks"])
    _assert_matches(data, frame, frame["pred"].to_numpy(), "y", ["sex"])


def test_checks_absent_classes_and_single_class_groups() -> None:
    frame = pd.DataFrame({
        "y": ["a", "b", "c"] * 20 + ["a", "b"] * 15 + ["c"] * 12,
        "pred": ["a", "b", "b"] * 20 + ["a", "a"] * 15 + ["c"] * 12,
        "g": ["x"] * 60 + ["y"] * 30 + ["z"] * 12,
    })  # fmt: skip
    data = fairaudit.audit(data=frame, target="y", prediction_col="pred", sensitive="g").to_dict()
    checks = {c["id"]: c for c in data["data_checks"]}
    assert "g=y ('c')" in checks["absent_classes"]["message"]
    assert "g=z" in checks["single_class"]["message"]
    rows = {r["group"]["g"]: r for r in data["metrics"]["by_group"]}
    assert rows["y"]["absent_classes"] == ["c"] and rows["z"]["single_class"]
    assert rows["y"]["by_class"]["c"]["true_positive_rate"] is None
    assert rows["z"]["insufficient_data"]


def test_schema_validates_multiclass_and_binary_stays_as_it_was(tmp_path: Path) -> None:
    schema = load_schema()
    frame = _synthetic(n=300)
    data = json.loads(
        fairaudit.audit(
            data=frame,
            target="y",
            prediction_col="pred",
            sensitive="group",
            favorable_label="approve",
        ).to_json()  # fmt: skip
    )
    jsonschema.validate(data, schema)
    broken = json.loads(json.dumps(data))
    del broken["metrics"]["by_group"][0]["confusion"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    broken = json.loads(json.dumps(data))
    del broken["audit"]["classes"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    binary = pd.DataFrame({"y": [0, 1] * 40, "pred": [1, 1, 0, 0] * 20, "sex": ["a", "b"] * 40})
    out = fairaudit.audit(data=binary, target="y", prediction_col="pred", sensitive="sex")
    assert out.to_dict()["schema_version"] == SCHEMA_VERSION
    jsonschema.validate(json.loads(out.to_json()), schema)


def _hostile_csv(folder: Path, n: int) -> Path:
    """Write the synthetic data with a hostile class (``deny``) and group (``b``) name."""
    frame = _synthetic(n=n)
    frame["y"] = frame["y"].replace("deny", HOSTILE_CLASS)
    frame["pred"] = frame["pred"].replace("deny", HOSTILE_CLASS)
    frame["group"] = frame["group"].replace("b", HOSTILE_GROUP)
    frame.to_csv(folder / "hostile.csv", index=False)
    return folder / "hostile.csv"


def test_hostile_class_and_group_names_are_escaped(audit_cli: Any, tmp_path: Path) -> None:
    path = _hostile_csv(tmp_path, 300)
    run = audit_cli(path, "--target", "y", "--prediction-col", "pred", "--favorable-label",
                    HOSTILE_CLASS, sensitive=["group"])  # fmt: skip
    run.assert_ok()
    page = run.html()
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>" not in page
    assert "&lt;img src=x onerror=" in page and "&lt;script&gt;alert" in page
    assert HOSTILE_CLASS in run.json()["audit"]["classes"]


def test_bad_input_is_a_one_line_error(audit_cli: Any, tmp_path: Path) -> None:
    # The DuckDB and Spark engines: tests/test_task_engines.py.
    path = tmp_path / "syn.csv"
    frame = _synthetic(n=200)
    frame.to_csv(path, index=False)
    base = (path, "--target", "y", "--prediction-col", "pred", "--sensitive", "group")
    # --policy: judged by the policy's multiclass rules (tests/test_multiclass_policy.py).
    frame.loc[3, "pred"] = None
    frame.to_csv(path, index=False)
    audit_cli(*base, "--task", "multiclass").assert_error(
        "prediction column 'pred' has 1 missing value", prefix=True
    )


def test_multiclass_report_in_chromium(audit_cli: Any, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    from tests.test_regression_audit import _AXE_RUN, AXE, CHROMIUM

    if not CHROMIUM.exists() or not AXE.exists():
        pytest.skip("Chromium or axe-core is not installed")
    path = _hostile_csv(tmp_path, 600)
    run = audit_cli(path, "--target", "y", "--prediction-col", "pred", "--favorable-label",
                    "approve", sensitive=["group", "region"])  # fmt: skip
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
            page.screenshot(path=str(tmp_path / f"multiclass-{width}.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            # worst classes, favourable view, overall, then per grouping (3): parity,
            # accuracy, rates, and a confusion matrix per group.
            assert page.locator("table").count() >= 15
            assert page.locator("#favorable").count() == 1
            page.evaluate(AXE.read_text(encoding="utf-8"))
            assert page.evaluate(_AXE_RUN) == []
            assert problems == []
            context.close()
        browser.close()
