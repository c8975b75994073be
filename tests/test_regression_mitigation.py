"""BoundedGroupLoss mitigation of a regression audit (issue 17): ExponentiatedGradient on
--train, measured on the evaluation set; its predictions equal a direct fairlearn fit."""

from __future__ import annotations

import warnings
from typing import Any

import jsonschema
import numpy as np
import pandas as pd
from fairlearn.reductions import AbsoluteLoss, BoundedGroupLoss, ExponentiatedGradient, SquareLoss
from sklearn.linear_model import LinearRegression

import fairaudit
from fairaudit.mitigation._regression import upper_bound
from fairaudit.result import load_schema


def _frame(n: int, seed: int) -> pd.DataFrame:
    """Group b's errors are larger: its target has a curve the linear model misses."""
    rng = np.random.default_rng(seed)
    g = rng.choice(["a", "b"], n, p=[0.7, 0.3])
    x = rng.normal(size=n)
    noise = np.where(g == "b", 3.0, 1.0) * rng.normal(size=n)
    y = 2 * x + np.where(g == "b", 1.5 * x**2, 0) + noise + 200
    return pd.DataFrame({"x": x, "group": g, "y": y})


TRAIN, EVAL = _frame(600, 1), _frame(400, 2)
MODEL = LinearRegression().fit(TRAIN[["x"]], TRAIN["y"])


def _audit(**options: Any) -> dict[str, Any]:
    return fairaudit.audit(
        EVAL, model=MODEL, target="y", sensitive="group", task="regression", **options
    ).to_dict()


def _ratio(entry: dict[str, Any]) -> float:
    return next(h["value"] for h in entry["headline"] if h["metric"] == "max_group_mae_ratio")


def test_variants_lower_the_worst_group_mae_ratio_and_equal_fairlearn() -> None:
    data = _audit(train=TRAIN)
    jsonschema.validate(data, load_schema())
    baseline, absolute, square = data["mitigations"]
    assert baseline["method"] == "baseline"
    assert [absolute["constraint"], square["constraint"]] == [
        "bounded_group_loss_absolute",
        "bounded_group_loss_square",
    ]
    assert absolute["status"] == square["status"] == "ok", (absolute["reason"], square["reason"])
    assert (
        baseline["metrics"]["overall"]["mean_absolute_error"]
        == data["metrics"]["overall"]["mean_absolute_error"]
    )
    for entry in (absolute, square):
        assert _ratio(entry) < _ratio(baseline)
    mitigation = next(c for c in data["data_checks"] if c["id"] == "mitigation")
    assert "not built" not in mitigation["message"]
    # the oracle: fairlearn directly, same loss, bound, groups and seed
    y, x, groups = TRAIN["y"].to_numpy(), TRAIN[["x"]], TRAIN["group"].to_numpy()
    for entry, kind in ((absolute, AbsoluteLoss), (square, SquareLoss)):
        loss = kind(float(y.min()), float(y.max()))
        bound = upper_bound(loss, y, MODEL.predict(x), groups)
        assert bound == entry["upper_bound"]
        with warnings.catch_warnings():  # fairlearn 0.15's use of deprecated pandas
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            direct = ExponentiatedGradient(
                LinearRegression(), constraints=BoundedGroupLoss(loss, upper_bound=bound)
            ).fit(x, y, sensitive_features=groups)
            pred = direct.predict(EVAL[["x"]], random_state=0)
        error = pred - EVAL["y"].to_numpy()
        overall = entry["metrics"]["overall"]
        assert abs(float(np.mean(np.abs(error))) - overall["mean_absolute_error"]) < 1e-9
        assert abs(float(np.sqrt(np.mean(error**2))) - overall["root_mean_squared_error"]) < 1e-9


def test_no_mitigation_and_no_train_leave_it_out() -> None:
    off = _audit(train=TRAIN, mitigations=())
    plain = _audit()
    for data in (off, plain):
        jsonschema.validate(data, load_schema())
        assert data["mitigations"] is None
        mitigation = next(c for c in data["data_checks"] if c["id"] == "mitigation")
        assert "needs a training set (--train) and a model" in mitigation["message"]


def test_pipeline_is_refit_and_a_model_without_weights_fails_with_its_reason() -> None:
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), LinearRegression()).fit(TRAIN[["x"]], TRAIN["y"])
    knn = KNeighborsRegressor().fit(TRAIN[["x"]], TRAIN["y"])
    for model, status in ((pipe, "ok"), (knn, "failed")):
        data = fairaudit.audit(
            EVAL, model=model, target="y", sensitive="group", task="regression", train=TRAIN
        ).to_dict()
        jsonschema.validate(data, load_schema())
        assert [e["status"] for e in data["mitigations"][1:]] == [status, status]
        if status == "failed":
            assert "sample_weight" in data["mitigations"][1]["reason"]


def test_report_shows_the_table_escaped_instead_of_the_notice(tmp_path: Any) -> None:
    hostile = {"a": "<script>x</script>", "b": "b&'\""}
    train, data = (f.assign(group=f["group"].map(hostile)) for f in (TRAIN, EVAL))
    result = fairaudit.audit(
        data, model=MODEL, target="y", sensitive="group", task="regression", train=train
    )
    result.save(tmp_path / "report.html", use_ledger=False)
    page = (tmp_path / "report.html").read_text()
    assert "Mitigation: what BoundedGroupLoss would cost" in page
    assert "bounded group loss square" in page
    assert "No mitigation comparison ran: BoundedGroupLoss mitigation" not in page
    assert "<script>x" not in page and "b&amp;" in page
    assert "bound not met" in page and "Overall RMSE against the worst group" in page
    # The notebook card says what the comparison found, each variant's MAE from the JSON.
    markdown = result._repr_markdown_()
    for entry in result.to_dict()["mitigations"][1:]:
        mae = entry["metrics"]["overall"]["mean_absolute_error"]
        assert f"{entry['constraint']}: MAE {mae:.3f}" in markdown
    assert "No mitigation comparison ran" not in markdown
    plain = fairaudit.audit(data, model=MODEL, target="y", sensitive="group", task="regression")
    plain.save(tmp_path / "plain.html", use_ledger=False)
    text = (tmp_path / "plain.html").read_text()
    assert "No mitigation comparison ran: BoundedGroupLoss mitigation" in text
    assert "Mitigation: what BoundedGroupLoss would cost" not in text


def test_predictions_equal_a_direct_fairlearn_fit_and_the_bound_is_checked(
    monkeypatch: Any,
) -> None:
    """Same data, loss, bound, groups and seed: the variant's evaluation predictions are a
    direct ExponentiatedGradient's, element for element; its training check is recomputed."""
    import fairaudit.mitigation as mitigation

    seen: list[np.ndarray] = []
    original = mitigation.regression_mitigations

    def spy(spec: Any, frame: Any, columns: Any, baseline: Any, measure: Any) -> Any:
        def kept(pred: np.ndarray) -> Any:
            seen.append(np.array(pred))
            return measure(pred)

        return original(spec, frame, columns, baseline, kept)

    monkeypatch.setattr(mitigation, "regression_mitigations", spy)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    data = _audit(train=TRAIN, seed=7)
    y, x, groups = TRAIN["y"].to_numpy(), TRAIN[["x"]], TRAIN["group"].to_numpy()
    for entry, kind, pred in zip(data["mitigations"][1:], (AbsoluteLoss, SquareLoss), seen):
        loss = kind(float(y.min()), float(y.max()))
        bound = upper_bound(loss, y, MODEL.predict(x), groups)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            direct = ExponentiatedGradient(
                LinearRegression(), constraints=BoundedGroupLoss(loss, upper_bound=bound)
            ).fit(x, y, sensitive_features=groups)
            assert np.array_equal(pred, direct.predict(EVAL[["x"]], random_state=7))
        mixture = sum(
            w * loss.eval(y, h.predict(x)) for w, h in zip(direct.weights_, direct.predictors_)
        )
        training = entry["training"]
        assert training["worst_group"] == {"group": "b"}
        before = loss.eval(y, MODEL.predict(x))[groups == "b"].mean()
        assert training["worst_group_loss_before"] == float(before)
        assert abs(training["worst_group_loss_after"] - mixture[groups == "b"].mean()) < 1e-9
        # A line cannot follow group b's curve: the bound is out of reach and said to be.
        assert training["max_group_loss_after"] > entry["upper_bound"]
        assert training["within_bound"] is False
        assert isinstance(entry["seconds"], float) and entry["seconds"] >= 0


def test_reproducible_run_has_no_times(monkeypatch: Any) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    data = _audit(train=TRAIN)
    assert [e.get("seconds") for e in data["mitigations"][1:]] == [None, None]


def test_report_draws_the_tradeoff_charts_and_reads_them(tmp_path: Any) -> None:
    """Two features with names holding the old separators: groups stay apart, the chart and
    the reading name the variants, and every data value is escaped."""
    hostile = {"a": "x × y|<b>", "b": "x"}
    other = {"a": "y|<b>", "b": "× y"}

    def two(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(
            g1=frame["group"].map(hostile), g2=np.where(frame["x"] > 0, "p", "q")
        ).assign(g3=lambda f: f["group"].map(other))

    result = fairaudit.audit(
        two(EVAL), model=MODEL, target="y", sensitive=["g1", "g2"], task="regression",
        train=two(TRAIN), min_group_size=5,
    )  # fmt: skip
    data = result.to_dict()
    jsonschema.validate(data, load_schema())
    assert all(e["status"] == "ok" for e in data["mitigations"])
    worst = data["mitigations"][1]["training"]["worst_group"]
    assert set(worst) == {"g1", "g2"} and worst["g1"] in hostile.values()
    result.save(tmp_path / "r.html", use_ledger=False)
    page = (tmp_path / "r.html").read_text()
    assert "y|<b>" not in page and "y|&lt;b&gt;" in page
    for short in ("MAE", "RMSE"):
        assert f"Overall {short} against the worst group&#39;s {short} ratio (intersection)" in page
    assert 'id="mitigation-reading"' in page and "On the evaluation set," in page
    assert page.count("upper bound ") >= 2 and "an RMSE of" in page
    assert "could not bring every group under the bound" not in page or "bound not met" in page


def test_report_without_two_drawn_entries_has_no_chart(tmp_path: Any) -> None:
    from sklearn.neighbors import KNeighborsRegressor

    knn = KNeighborsRegressor().fit(TRAIN[["x"]], TRAIN["y"])
    result = fairaudit.audit(
        EVAL, model=knn, target="y", sensitive="group", task="regression", train=TRAIN
    )
    result.save(tmp_path / "r.html", use_ledger=False)
    page = (tmp_path / "r.html").read_text()
    assert "Mitigation: what BoundedGroupLoss would cost" in page
    assert "Overall MAE against" not in page
    assert "no variant lowers the worst group&#39;s MAE ratio" in page
    assert "Bounded group loss absolute did not run (failed)" in page


def test_constant_training_target_fails_with_a_plain_reason(tmp_path: Any) -> None:
    result = fairaudit.audit(
        EVAL, model=MODEL, target="y", sensitive="group", task="regression",
        train=TRAIN.assign(y=5.0),
    )  # fmt: skip
    entries = result.to_dict()["mitigations"]
    assert [e["status"] for e in entries[1:]] == ["failed", "failed"]
    assert entries[1]["reason"] == "the training target is constant (5): no group loss to bound"
    result.save(tmp_path / "r.html", use_ledger=False)
    assert "no group loss to bound" in (tmp_path / "r.html").read_text()


def test_a_worst_training_group_absent_from_the_evaluation_set_is_said(tmp_path: Any) -> None:
    train = TRAIN.assign(group=np.where(TRAIN.index < 5, "only <i>train</i>", TRAIN["group"]))
    train.loc[train.index < 5, "y"] += 40  # its errors are the largest
    result = fairaudit.audit(
        EVAL, model=MODEL, target="y", sensitive="group", task="regression", train=train
    )
    assert result.to_dict()["mitigations"][1]["training"]["worst_group"] == {
        "group": "only <i>train</i>"
    }
    result.save(tmp_path / "r.html", use_ledger=False)
    page = (tmp_path / "r.html").read_text()
    assert "only &lt;i&gt;train&lt;/i&gt;" in page and "That group has no evaluation rows." in page


def test_an_undefined_ratio_reads_as_a_sentence(tmp_path: Any) -> None:
    # review R3: a model exact on the evaluation set (MAE 0, ratios undefined) read
    # "Bounded group loss absolute the worst group's MAE ratio is undefined; it the worst ..."
    from sklearn.tree import DecisionTreeRegressor

    tree = DecisionTreeRegressor(random_state=0).fit(EVAL[["x"]], EVAL["y"])
    result = fairaudit.audit(
        EVAL, model=tree, target="y", sensitive="group", task="regression", train=TRAIN
    )
    result.save(tmp_path / "r.html", use_ledger=False)
    page = (tmp_path / "r.html").read_text()
    assert "absolute the worst" not in page and "it the worst" not in page
    assert "ratio: undefined to " in page or "ratio undefined" in page
