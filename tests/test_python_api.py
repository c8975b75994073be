"""The in-memory Python API (fairaudit.audit, Result, diff, testing.assert_fair): the same
pipe as files, the same numbers as fairlearn's MetricFrame, one-line errors, escaped display."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape

import fairaudit
from fairaudit.api import Result
from fairaudit.display import worse_off_entries, worse_off_text
from fairaudit.errors import ConfigError, DataError, FairauditError, OutputError
from fairaudit.result import load_schema
from fairaudit.spec import AuditSpec, load_config
from fairaudit.testing import assert_fair
from tests.conftest import SAMPLE_EPOCH, SampleAudit

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
FAST = {"mitigations": (), "intervals": False}


def _sample_model() -> Any:
    import skops.io as sio

    path = SAMPLE / "german_credit_model.skops"
    return sio.load(path, trusted=sio.get_untrusted_types(file=str(path)))


def _sample_options() -> dict[str, Any]:
    """Return every option of sample_data/audit.toml but its files."""
    spec = load_config(SAMPLE / "audit.toml")
    return {
        f.name: getattr(spec, f.name)
        for f in fields(AuditSpec)
        if f.name not in ("data", "model", "train")
    }


def _without_lineage(data: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in data.items() if k != "lineage"}
    out["audit"] = {k: v for k, v in data["audit"].items() if k != "id"}
    if data.get("training_data"):  # its ``data``: the training set's lineage
        out["training_data"] = {k: v for k, v in data["training_data"].items() if k != "data"}
    return out


def test_in_memory_audit_equals_the_file_audit_apart_from_lineage(
    sample_audit: SampleAudit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", SAMPLE_EPOCH)
    frame = pd.read_csv(SAMPLE / "german_eval.csv")
    train = pd.read_csv(SAMPLE / "german_train.csv")
    before = frame.copy()
    result = fairaudit.audit(frame, model=_sample_model(), train=train, **_sample_options())
    assert isinstance(result, Result)
    assert _without_lineage(result.to_dict()) == _without_lineage(sample_audit.json())
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is left as it was

    data = result.lineage["data"]
    assert data["format"] == "memory" and data["path"] == "in-memory DataFrame"
    assert data["hashed_columns"] == list(frame.columns)  # with a model: every column
    assert data["rows"] == 400 and len(data["sha256"]) == 64
    model = result.lineage["model"]
    assert model["format"] == "memory" and model["class"] == "sklearn.pipeline.Pipeline"
    assert model["params"]["steps"][1][1]["class"].endswith("LogisticRegression")
    json.dumps(result.lineage, allow_nan=False)  # JSON-safe
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(result.to_dict(), load_schema())  # format "memory" is in the schema
    assert result.lineage["config"]["data"] == "in-memory DataFrame"
    variants = result.mitigations  # one row per variant, as the JSON lists them
    data_json = result.to_dict()
    assert list(variants["method"]) == [m["method"] for m in data_json["mitigations"]]
    best = data_json["mitigation_summary"]["best"]
    assert list(variants["method"][variants["recommended"]]) == ([best] if best else [])
    html = result._repr_html_()  # the card names the groups the report's banner names
    entries = worse_off_entries(result.summary)
    assert entries and all(escape(worse_off_text(e)) in html for e in entries)


def test_the_digest_covers_the_columns_used_and_their_values() -> None:
    frame = pd.DataFrame(
        {"y": [0, 1] * 30, "p": [1, 1, 0] * 20, "sex": ["f", "m", "m"] * 20, "note": "x"}
    )
    options = {"target": "y", "prediction_col": "p", "sensitive": ["sex"], **FAST}
    first = fairaudit.audit(frame, **options).lineage["data"]
    assert first["hashed_columns"] == ["y", "p", "sex"]
    assert fairaudit.audit(frame.copy(), **options).lineage["data"]["sha256"] == first["sha256"]
    changed_unused = frame.assign(note="y")
    assert fairaudit.audit(changed_unused, **options).lineage["data"]["sha256"] == first["sha256"]
    changed = frame.assign(p=frame["p"].where(frame.index != 0, 0))
    assert fairaudit.audit(changed, **options).lineage["data"]["sha256"] != first["sha256"]


def _binary_data(n: int = 600, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], n)
    race = rng.choice(["a", "b", "c"], n)
    y = rng.integers(0, 2, n)
    score = np.clip(0.35 * y + 0.1 * (sex == "male") + rng.uniform(0, 0.6, n), 0, 1)
    return pd.DataFrame(
        {"y": y, "pred": (score > 0.5).astype(int), "score": score, "sex": sex, "race": race}
    )


def _metric_frame(frame: pd.DataFrame, sensitive: Any) -> Any:
    from fairlearn.metrics import (
        MetricFrame,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score

    metrics = {
        "selection_rate": selection_rate,
        "true_positive_rate": true_positive_rate,
        "false_positive_rate": false_positive_rate,
        "accuracy": accuracy_score,
        "precision": precision_score,
    }
    return MetricFrame(
        metrics=metrics, y_true=frame["y"], y_pred=frame["pred"], sensitive_features=sensitive
    )


def _assert_agrees(result: Result, grouping: str, expected: Any, features: list[str]) -> None:
    rows = result.by_group[result.by_group["grouping"] == grouping]
    assert len(rows) == len(expected.by_group)
    for _, row in rows.iterrows():
        key = tuple(row[f] for f in features)
        want = expected.by_group.loc[key if len(key) > 1 else key[0]]
        for metric, value in want.items():
            assert row[metric] == pytest.approx(value, abs=1e-12), (grouping, key, metric)


def test_array_and_dataframe_forms_agree_with_fairlearn() -> None:
    frame = _binary_data()
    from_arrays = fairaudit.audit(
        y_true=frame["y"].to_numpy(),
        y_pred=frame["pred"].tolist(),
        y_score=frame["score"],
        sensitive_features=frame[["sex", "race"]],
        **FAST,
    )
    from_frame = fairaudit.audit(
        frame,
        target="y",
        prediction_col="pred",
        score_col="score",
        sensitive=["sex", "race"],
        **FAST,
    )
    for result in (from_arrays, from_frame):
        _assert_agrees(result, "sex", _metric_frame(frame, frame["sex"]), ["sex"])
        _assert_agrees(result, "race", _metric_frame(frame, frame["race"]), ["race"])
        both = _metric_frame(frame, frame[["sex", "race"]])
        _assert_agrees(result, "intersection", both, ["sex", "race"])
    assert _without_lineage(from_arrays.to_dict())["metrics"] == from_frame.to_dict()["metrics"]

    from fairlearn.metrics import MetricFrame
    from sklearn.metrics import roc_auc_score

    auc = MetricFrame(
        metrics=roc_auc_score,
        y_true=frame["y"],
        y_pred=frame["score"],
        sensitive_features=frame["sex"],
    ).by_group
    rows = from_arrays.by_group.set_index("sex")[lambda t: t["grouping"] == "sex"]
    for group, value in auc.items():
        assert rows.loc[group, "roc_auc"] == pytest.approx(value, abs=1e-12)


def test_array_form_names_features_as_fairlearn_does() -> None:
    frame = _binary_data(200)
    unnamed = fairaudit.audit(
        y_true=frame["y"], y_pred=frame["pred"], sensitive_features=frame["sex"].to_numpy(), **FAST
    )
    assert unnamed.audit["sensitive_features"] == ["sensitive_feature_0"]
    named = fairaudit.audit(
        y_true=frame["y"], y_pred=frame["pred"], sensitive_features=frame["sex"], **FAST
    )
    assert named.audit["sensitive_features"] == ["sex"]
    assert named.lineage["data"]["hashed_columns"] == ["y_true", "y_pred", "sex"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, ConfigError, "nothing to audit"),
        ({"y_true": [0, 1]}, ConfigError, "y_true needs y_pred"),
        ({"y_true": [0, 1], "y_pred": [0, 1]}, ConfigError, "no sensitive feature"),
        (
            {"y_true": [0, 1, 1], "y_pred": [0, 1], "sensitive_features": ["a", "b", "a"]},
            ConfigError,
            "y_pred has 2 values but y_true has 3",
        ),
        ({"y_true": [[0, 1]], "y_pred": [0], "sensitive_features": [1]}, ConfigError, "one-dim"),
        ({"data": 12, "target": "y", "sensitive": ["s"]}, ConfigError, "not int"),
        ({"model": object()}, ConfigError, "fitted estimator with predict"),
        ({"frobnicate": 1}, ConfigError, "unknown option 'frobnicate'"),
        ({"engine": "duckdb"}, ConfigError, "numpy engine"),
        ({"sensitive": ["nation"]}, DataError, "not found in 'in-memory DataFrame'"),
        ({"y_pred": [1]}, ConfigError, "go with y_true"),
    ],
)
def test_errors_are_one_line_exceptions(
    kwargs: dict[str, Any], error: type[FairauditError], message: str
) -> None:
    frame = _binary_data(100)
    base: dict[str, Any] = {}
    if "y_true" not in kwargs and "data" not in kwargs and kwargs:
        base = {"data": frame, "target": "y", "sensitive": ["sex"], "prediction_col": "pred"}
        if "model" in kwargs:
            base.pop("prediction_col")
    with pytest.raises(error) as caught:
        fairaudit.audit(**{**base, **kwargs})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_polars_and_pyarrow_tables_are_converted() -> None:
    pyarrow = pytest.importorskip("pyarrow")
    frame = _binary_data(200)
    options = {"target": "y", "prediction_col": "pred", "sensitive": ["sex"], **FAST}
    expected = fairaudit.audit(frame, **options).to_dict()
    converted = fairaudit.audit(pyarrow.Table.from_pandas(frame), **options).to_dict()
    assert _without_lineage(converted) == _without_lineage(expected)


def test_display_escapes_every_value_and_runs_no_script() -> None:
    frame = _binary_data(300)
    frame["sex"] = frame["sex"].map({"female": "<script>alert(1)</script>", "male": 'm"&'})
    result = fairaudit.audit(
        frame, target="y", prediction_col="pred", sensitive=["sex"], name="<b>x</b>", **FAST
    )
    html = result._repr_html_()
    assert "<script" not in html.lower() and "<b>x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "Headline metrics" in html and "No policy" in html and "demographic parity ratio" in html
    assert "on" + "error" not in html and "javascript:" not in html
    markdown = result._repr_markdown_()
    assert "<script>" not in markdown and "\\<script\\>" in markdown
    assert "Fairness audit: <b>x</b>" in repr(result)  # text for a terminal: not markup


def test_tidy_views_are_read_from_the_json() -> None:
    frame = _binary_data(400)
    result = fairaudit.audit(
        frame,
        target="y",
        prediction_col="pred",
        score_col="score",
        sensitive=["sex"],
        mitigations=(),
    )
    data = result.to_dict()
    by_group = result.by_group
    assert len(by_group) == len(data["metrics"]["by_group"])
    first = data["metrics"]["by_group"][0]
    assert by_group.loc[0, "selection_rate"] == first["metrics"]["selection_rate"]
    assert by_group.loc[0, "selection_rate_low"] == first["ci"]["selection_rate"][0]
    assert list(result.headline["value"]) == [h["value"] for h in data["headline"]]
    assert len(result.disparities) == len(data["disparities"])
    assert len(result.worse_off) == len(data["summary"]["worse_off"])
    assert result.mitigations.empty
    assert Result.from_result(result.audit_result).to_json() == result.to_json()


def test_check_save_card_and_diff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fairaudit.provenance import generate_key_pair, load_public_key, verify_report_file

    monkeypatch.setenv("SOURCE_DATE_EPOCH", SAMPLE_EPOCH)
    frame = _binary_data(400)
    options = {"target": "y", "prediction_col": "pred", "sensitive": ["sex", "race"], **FAST}
    result = fairaudit.audit(frame, **options)
    checked = result.check("preset:four-fifths")
    assert checked.verdict in ("pass", "warn", "fail")
    assert result.verdict is None  # checking does not change the result

    with pytest.raises(OutputError, match="ends in .json"):
        result.save(tmp_path / "report.json")
    csv = tmp_path / "scored.csv"
    frame.to_csv(csv, index=False)
    from_file = fairaudit.audit(csv, **options)
    with pytest.raises(OutputError, match="is an input of this audit"):
        from_file.save(csv)  # the report would overwrite the data
    keys = generate_key_pair(tmp_path / "keys")
    published = result.save(tmp_path / "report.html", sign_key=keys.private_key)
    assert published.html.exists() and published.json.exists()
    assert (
        json.loads(published.json.read_text(encoding="utf-8"))["audit"]["id"] == result.audit["id"]
    )
    summary = verify_report_file(published.html, {keys.key_id: load_public_key(keys.public_key)})
    assert summary is not None
    assert "report.html" in result.card("markdown")  # cites the saved report
    assert Result.load(published.html).to_json() == result.to_json()

    changed = fairaudit.audit(frame.assign(pred=1 - frame["pred"]), **options)
    changes = fairaudit.diff(published.json, changed)
    assert changes.changes  # the AuditDiff
    assert "Old:" in repr(changes) and "New:" in repr(changes)
    assert fairaudit.diff(result, result.to_dict()).text().startswith("Old:")


def test_assert_fair_lists_the_failed_rules() -> None:
    frame = _binary_data(600)
    fair = {"data": frame, "target": "y", "prediction_col": "y", **FAST}
    fair = {**fair, "prediction_col": "pred", "sensitive": ["race"]}
    assert isinstance(assert_fair(fair), Result)
    unfair = frame.assign(pred=(frame["sex"] == "male").astype(int))
    result = fairaudit.audit(unfair, target="y", prediction_col="pred", sensitive=["sex"], **FAST)
    with pytest.raises(AssertionError) as caught:
        assert_fair(result, policy="preset:four-fifths")
    assert "four-fifths" in str(caught.value) and "sex" in str(caught.value)


def test_the_python_page_examples_run(tmp_path: Path) -> None:
    """docs/python.md: its Python blocks run in order, in a folder holding sample_data/."""
    import os
    import re
    import subprocess
    import sys

    root = SAMPLE.parent
    text = (root / "docs" / "python.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```$", text, re.S | re.M)
    assert len(blocks) >= 5
    (tmp_path / "sample_data").symlink_to(SAMPLE)
    run = subprocess.run(
        [sys.executable, "-c", "\n".join(blocks)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(root), "SOURCE_DATE_EPOCH": SAMPLE_EPOCH},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "not found in 'in-memory DataFrame'" in run.stdout
    assert (tmp_path / "report.html").is_file() and (tmp_path / "report.json").is_file()


class _Table:
    """A stand-in for a polars DataFrame (not installed here): columns and to_pandas()."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.columns = list(frame.columns)

    def to_pandas(self) -> pd.DataFrame:
        return self.frame


def test_any_table_with_to_pandas_is_converted() -> None:
    frame = _binary_data(200)
    options = {"target": "y", "prediction_col": "pred", "sensitive": ["sex"], **FAST}
    expected = fairaudit.audit(frame, **options).to_dict()
    assert fairaudit.audit(_Table(frame), **options).to_dict()["metrics"] == expected["metrics"]


def test_fairaudit_audit_is_the_api_function() -> None:
    import fairaudit.api
    import fairaudit.pipe

    assert fairaudit.audit is fairaudit.api.audit
    assert fairaudit.pipe.run_audit is fairaudit.run_audit
    assert fairaudit.diff is fairaudit.api.diff


def test_saving_never_overwrites_the_key_the_ledger_or_a_compared_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``fairaudit run`` and ``fairaudit diff --html`` refuse, the API refuses too."""
    from fairaudit.provenance import generate_key_pair

    keys = generate_key_pair(tmp_path / "keys")
    key_bytes = keys.private_key.read_bytes()
    frame = _binary_data(300)
    options = {"target": "y", "prediction_col": "pred", "sensitive": ["sex"], **FAST}
    result = fairaudit.audit(frame, **options)
    with pytest.raises(OutputError, match="is an input of this audit"):
        result.save(keys.private_key, sign_key=keys.private_key, use_ledger=False)
    assert keys.private_key.read_bytes() == key_bytes
    (tmp_path / "led").mkdir()
    first = result.save(tmp_path / "led" / "first.html")
    ledger = first.ledger
    assert ledger is not None and ledger.exists()
    ledger_bytes = ledger.read_bytes()
    with pytest.raises(OutputError, match="choose another"):
        result.save(ledger)  # the report would replace the ledger's hash chain
    assert ledger.read_bytes() == ledger_bytes

    # Relative input paths are those of the folder the audit ran in, whatever the cwd now.
    monkeypatch.chdir(tmp_path)
    frame.to_csv("scored.csv", index=False)
    from_file = fairaudit.audit("scored.csv", **options)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    with pytest.raises(OutputError, match="is an input of this audit"):
        from_file.save("../scored.csv", use_ledger=False)

    other = result.save(tmp_path / "other.html", use_ledger=False)
    changes = fairaudit.diff(first.html, other.html)
    before = first.html.read_bytes()
    with pytest.raises(OutputError, match="choose another"):
        changes.save(first.html)
    assert first.html.read_bytes() == before


def test_an_unpicklable_estimator_audits_in_memory_and_its_lineage_is_reproducible(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A lambda inside the pipeline: the library starts no early worker (which would have to
    pickle it), even on an idle machine, and the model is described without addresses."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    import fairaudit.runtime._lent as lent

    monkeypatch.setattr(lent, "_idle_core", lambda: True)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", SAMPLE_EPOCH)
    frame = _binary_data(300).assign(x=lambda d: d["score"] * 2)
    model = make_pipeline(FunctionTransformer(lambda X: X * 2), LogisticRegression())
    model.fit(frame[["x"]], frame["y"])
    options = {"target": "y", "sensitive": ["sex"], "features": ["x"], "intervals": False}
    runs = [
        fairaudit.audit(
            frame, model=model, train=frame, mitigations=["expgrad_demographic_parity"], **options
        )
        for _ in range(2)
    ]
    statuses = [m["status"] for m in runs[0].to_dict()["mitigations"]]
    assert statuses == ["ok", "ok"]
    assert runs[0].lineage["model"] == runs[1].lineage["model"]
    assert "0x" not in json.dumps(runs[0].lineage["model"])
    assert runs[0].audit["id"] == runs[1].audit["id"]


def test_tidy_groups_keep_a_feature_named_like_a_column() -> None:
    frame = _binary_data(300).rename(columns={"sex": "count", "race": "grouping"})
    result = fairaudit.audit(
        frame, target="y", prediction_col="pred", sensitive=["count", "grouping"], **FAST
    )
    table = result.by_group
    assert set(table["grouping"]) == {"count", "grouping", "intersection"}
    assert set(table["group:count"].dropna()) == {"female", "male"}
    assert set(table["group:grouping"].dropna()) == {"a", "b", "c"}
    assert table["count"].dtype.kind == "i"


def test_a_single_mitigation_or_feature_may_be_a_plain_string() -> None:
    spec = AuditSpec(
        data="d.csv",
        target="y",
        sensitive="sex",
        prediction_col="p",
        mitigations="threshold_equalized_odds",
        mitigate_on="sex",
    )
    assert spec.mitigations == ("threshold_equalized_odds",)
    assert spec.mitigate_on == ("sex",)
