"""The model audit's training-data section (issue 18: ``fairaudit run ... --train TRAIN``).

The section is the data audit of the training set: its rows equal ``data_bias`` and
``proxy_features`` run directly on the file; it is off with ``--no-training-data`` and absent
without a training set; the Python API's result has it; the page escapes what the data
says; the JSON Schema describes it; Chromium shows it within the width of a laptop and a
phone.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fairaudit.cli import cli
from fairaudit.databias import data_bias, proxy_features
from fairaudit.errors import ConfigError, DataError
from fairaudit.outputs import render_html
from fairaudit.pipe import TRAINING_METRICS, run_audit
from fairaudit.result import AuditResult, load_schema
from fairaudit.spec import AuditSpec, load_config
from tests.conftest import SampleAudit

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
TRAIN = SAMPLE / "german_train.csv"
CONFIG = SAMPLE / "audit.toml"


def _sample_spec(**overrides: Any) -> AuditSpec:
    """Return the sample audit without its mitigation comparison (the section's own inputs)."""
    return load_config(CONFIG, {"mitigations": [], **overrides})


@pytest.fixture(scope="module")
def sample_result() -> AuditResult:
    return run_audit(_sample_spec())


def test_section_rows_equal_the_data_audit_of_the_training_set(
    sample_result: AuditResult,
) -> None:
    section = sample_result.training_data
    assert section is not None
    frame = pd.read_csv(TRAIN)
    options = section["options"]
    assert options["sensitive"] == ["sex", "age"] and options["bins"] == {"age": [25.0, 40.0]}
    rows = data_bias(
        frame,
        target="risk",
        sensitive=["sex", "age"],
        favorable_label="1",
        bins={"age": [25, 40]},
        seed=0,
    )
    kept = [r for r in rows if r["metric"] in TRAINING_METRICS and r["reference"] != "rest"]
    assert section["data_bias"] == kept and len(kept) == 16
    assert section["rows_left_out"] == len(rows) - len(kept)
    # The model's inputs but the sensitive features: every other column of the file.
    features = [c for c in frame.columns if c not in ("risk", "sex", "age")]
    assert sorted(options["features"]) == sorted(features)
    direct = proxy_features(
        frame,
        sensitive=["sex", "age"],
        features=options["features"],
        bins={"age": [25, 40]},
        joint=False,
    )
    assert section["proxies"] == direct
    # The joint model only adds ``joint``: the single-feature rows are the data report's.
    full = proxy_features(frame, sensitive=["sex"], exclude=["risk", "age"])
    assert full[0]["features"] == direct[0]["features"] and full[0]["joint"] is not None
    assert section["data"]["sha256"] == hashlib.sha256(TRAIN.read_bytes()).hexdigest()
    assert section["data"]["file_name"] == "german_train.csv" and section["data"]["rows"] == 600


def test_proxy_auc_is_cross_val_score_of_a_depth_3_tree() -> None:
    """The fast fold loop gives scikit-learn's numbers, computed here as the docs define them."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.tree import DecisionTreeClassifier

    frame = pd.read_csv(TRAIN)
    [result] = proxy_features(frame, sensitive=["sex"], features=["duration", "housing"])
    sex = np.unique(frame["sex"], return_inverse=True)[1]  # groups in sorted order
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    tree = DecisionTreeClassifier(max_depth=3, random_state=0)
    by_name = {f["feature"]: f for f in result["features"]}
    duration = frame[["duration"]].to_numpy(dtype=float)
    expected = cross_val_score(tree, duration, sex, cv=folds, scoring="roc_auc")
    assert by_name["duration"]["auc"] == float(np.mean(expected))
    assert by_name["duration"]["auc_folds"] == [float(expected.min()), float(expected.max())]
    housing = pd.get_dummies(frame["housing"]).to_numpy(dtype=np.float32)
    expected = cross_val_score(tree, housing, sex, cv=folds, scoring="roc_auc")
    assert by_name["housing"]["auc"] == pytest.approx(float(np.mean(expected)), abs=1e-12)
    # Three groups: the one-vs-rest macro average.
    age = pd.cut(frame["age"], [-np.inf, 25, 40, np.inf], right=False, labels=False)
    [multi] = proxy_features(
        frame.assign(band=age.astype(int)), sensitive=["band"], features=["duration"]
    )
    expected = cross_val_score(tree, duration, age.to_numpy(), cv=folds, scoring="roc_auc_ovr")
    assert multi["features"][0]["auc"] == float(np.mean(expected))


def test_off_with_no_training_data_and_absent_without_a_training_set() -> None:
    assert run_audit(_sample_spec(training_data=False)).training_data is None
    data = pd.read_csv(SAMPLE / "german_eval.csv")
    spec = AuditSpec(
        data=data, model=SAMPLE / "german_credit_model.skops", target="risk",
        sensitive=("sex",), mitigations=(),
    )  # fmt: skip
    result = run_audit(spec)
    assert result.training_data is None and result.to_dict()["training_data"] is None
    assert 'id="training"' not in render_html(result)
    # With precomputed predictions there are no model inputs to test: a check says so.
    scored = data.assign(pred=data["risk"])
    spec = AuditSpec(
        data=scored, prediction_col="pred", target="risk", sensitive=("sex",), train=TRAIN,
        mitigations=(),
    )  # fmt: skip
    result = run_audit(spec)
    assert result.training_data is None
    assert [c["status"] for c in result.data_checks if c["id"] == "training_data"] == ["info"]


def test_cli_flag_and_config_key(tmp_path: Path) -> None:
    config = tmp_path / "audit.toml"
    text = CONFIG.read_text(encoding="utf-8").replace('"german_', f'"{SAMPLE.as_posix()}/german_')
    config.write_text("training_data = false\n" + text, encoding="utf-8")
    base = ["run", "--config", str(config), "--no-mitigation", "--no-ledger", "-q"]
    for flag, present in (([], False), (["--training-data"], True)):
        out = tmp_path / f"report{len(flag)}.html"
        result = CliRunner().invoke(cli, [*base, *flag, "-o", str(out)])
        assert result.exit_code == 0, result.output
        data = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
        assert (data["training_data"] is not None) is present
        assert data["lineage"]["config"]["training_data"] is present
    with pytest.raises(ConfigError, match="training_data must be true or false"):
        load_config(config, {"training_data": "no"})


def test_python_api_result_has_the_section() -> None:
    import skops.io as sio

    import fairaudit

    model_path = SAMPLE / "german_credit_model.skops"
    estimator = sio.load(model_path, trusted=sio.get_untrusted_types(file=model_path))
    train = pd.read_csv(TRAIN)
    result = fairaudit.audit(
        pd.read_csv(SAMPLE / "german_eval.csv"), model=estimator, target="risk",
        sensitive=["sex", "age"], bins={"age": [25, 40]}, train=train, favorable_label="1",
        mitigations=(),
    )  # fmt: skip
    section = result.to_dict()["training_data"]
    assert section["data"]["path"] == "in-memory DataFrame" and section["data"]["rows"] == 600
    assert section["data_bias"] == run_audit(_sample_spec()).training_data["data_bias"]


HOSTILE_COLUMN = "<img src=x onerror=alert(1)>"


def _hostile_training(folder: Path) -> AuditSpec:
    """Return an audit whose training set has hostile group values and a perfect proxy with a
    hostile name, among the inputs of an in-memory model."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    n = 300
    group = rng.choice(["<script>alert(1)</script>", "plain & <b>bold</b>"], n)
    frame = pd.DataFrame(
        {
            "y": rng.integers(0, 2, n),
            "x": rng.normal(size=n),
            "grp": group,
            HOSTILE_COLUMN: (group == "plain & <b>bold</b>").astype(float),
        }
    )
    frame.to_csv(folder / "data.csv", index=False)
    model = LogisticRegression().fit(frame[["x", HOSTILE_COLUMN]], frame["y"])
    return AuditSpec(
        data=folder / "data.csv", model=model, target="y", sensitive=("grp",),
        train=folder / "data.csv", mitigations=(), min_group_size=5,
    )  # fmt: skip


def test_hostile_group_and_column_names_are_escaped(tmp_path: Path) -> None:
    result = run_audit(_hostile_training(tmp_path))
    section = result.training_data
    assert section is not None
    [proxy] = section["proxies"]
    assert proxy["features"][0]["feature"] == HOSTILE_COLUMN
    assert proxy["features"][0]["flagged"] and proxy["features"][0]["auc"] == 1.0
    html = render_html(result)
    body = html[html.index('<section id="training"') :]
    body = body[: body.index("</section>")]
    assert "<script>alert" not in body and "<img src=x" not in body and "<b>bold" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "plain &amp; &lt;b&gt;bold&lt;/b&gt;" in body
    # The flagged proxy is a warning of the page's list, escaped too.
    notice = html[html.index('id="n-training-proxy-1"') :]
    notice = notice[: notice.index("</li>")]
    assert "&lt;img src=x onerror=alert(1)&gt;" in notice and "<img" not in notice


def test_a_reference_missing_from_the_training_set_names_the_training_set(tmp_path: Path) -> None:
    spec = _hostile_training(tmp_path)
    frame = pd.read_csv(tmp_path / "data.csv")
    frame.loc[frame["grp"] == "plain & <b>bold</b>", "grp"] = "other"
    frame.to_csv(tmp_path / "train.csv", index=False)
    from dataclasses import replace

    spec = replace(spec, train=tmp_path / "train.csv", reference={"grp": "plain & <b>bold</b>"})
    with pytest.raises(ConfigError) as caught:
        run_audit(spec)
    assert str(caught.value).startswith(f"training set '{tmp_path / 'train.csv'}': ")
    assert "--no-training-data" in str(caught.value)


def test_schema_validates_with_and_without_the_section(
    sample_audit: SampleAudit, sample_result: AuditResult
) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema())
    data = sample_audit.json()
    assert data["schema_version"] == "1.2.0" and data["training_data"] is not None
    validator.validate(data)
    validator.validate({**data, "training_data": None})
    validator.validate(sample_result.to_dict())
    broken = json.loads(json.dumps(data))
    broken["training_data"]["proxies"][0]["features"][0]["auc"] = "high"
    assert list(validator.iter_errors(broken))


def test_sample_page_shows_a_compact_section(sample_audit: SampleAudit) -> None:
    html = sample_audit.html()
    assert '<a href="#training">Training data</a>' in html
    section = html[html.index('<section id="training"') :]
    section = section[: section.index("</section>")]
    assert "Largest label disparities" in section and "Strongest proxy" in section
    assert section.count("<details>") == 1  # the full tables are folded
    path = sample_audit.json()["training_data"]["data"]["path"]
    assert f"fairaudit data {path} --target risk --sensitive sex" in section
    assert len(section.encode("utf-8")) < 8_000


def test_section_reads_well_in_chromium(sample_audit: SampleAudit, tmp_path: Path) -> None:
    """At 1,280 and 390 px the section is shown and nothing in it is wider than the page."""
    playwright = pytest.importorskip("playwright.sync_api")
    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for width in (1280, 390):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.route(
                    "**/*",
                    lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort(),
                )
                page.goto(sample_audit.html_path.resolve().as_uri())
                section = page.locator("#training")
                section.scroll_into_view_if_needed()
                assert section.is_visible()
                box = section.bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                wide = page.evaluate(
                    """() => [...document.querySelectorAll('#training *')]
                        .filter(e => e.getBoundingClientRect().right > innerWidth + 1
                                     && !e.closest('.table-wrap'))
                        .map(e => e.tagName)"""
                )
                assert wide == []
                page.screenshot(path=str(tmp_path / f"training-{width}.png"), full_page=False)
                page.close()
        finally:
            browser.close()


def test_small_groups_one_group_and_missing_inputs(tmp_path: Path) -> None:
    """A group of 3 rows is left out of the proxy models and named; one group leaves nothing
    to compare; a training set without the model's inputs or labels is an error naming it."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame(
        {"y": rng.integers(0, 2, n), "x": rng.normal(size=n), "g": rng.choice(["a", "b"], n)}
    )
    model = LogisticRegression().fit(frame[["x"]], frame["y"])

    def audit(train: pd.DataFrame) -> AuditResult:
        return run_audit(
            AuditSpec(
                data=frame,
                model=model,
                target="y",
                sensitive=("g",),
                train=train,
                mitigations=(),
                min_group_size=5,
            )  # fmt: skip
        )

    tiny = frame.assign(g=np.where(np.arange(n) < 3, "c", frame["g"]))
    result = audit(tiny)
    assert result.training_data["proxies"][0]["groups_left_out"] == ["c"]
    assert "groups of fewer than 5 rows left out: c" in render_html(result)
    alone = audit(frame.assign(g="a"))
    assert alone.training_data["data_bias"] == []
    html = render_html(alone)
    assert "a feature needs two groups to compare" in html and "no favourable label" not in html
    for broken, words in (
        (frame.drop(columns=["x"]), "it lacks the model's input columns: 'x'"),
        (frame.assign(y=1), "fewer than two label values"),
    ):
        with pytest.raises(DataError) as caught:
            audit(broken)
        assert str(caught.value).startswith("training set 'in-memory DataFrame': ")
        assert words in str(caught.value)


def test_section_command_keeps_every_bin_edge_exactly(sample_result: AuditResult) -> None:
    """The 'fairaudit data' command the section offers bins as the audit did: an edge such
    as 1234.5678 or 2,500,000 is written in full, not rounded to 6 digits (was '1234.57')."""
    from fairaudit.cli._options import parse_edges
    from fairaudit.outputs._report_training import training_view

    data = sample_result.to_dict()
    edges = [25.0, 1234.5678, 2_500_000.0, 1e-7, 0.1 + 0.2]
    data["training_data"]["options"]["bins"] = {"age": edges}
    view = training_view(data)
    assert view is not None
    (given,) = [w for w in view.command.split() if w.startswith("age=")]
    assert given == "age=25,1234.5678,2500000,1e-07,0.30000000000000004"
    assert parse_edges(given.removeprefix("age=")) == edges
