"""The regression audit's favourable threshold (``--favorable-above T``/``--favorable-below T``)
and the options it needs (issue 17): how the flags and config keys are read, and each
misuse a one-line error; then ``--score-col CLASS=COL`` (multiclass class scores), whose
parsing lives beside it in the spec.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

import fairaudit
from fairaudit.errors import ConfigError
from fairaudit.measure._regression_sums import (
    RegressionCells,
    combine_regression_cells,
    count_regression,
)
from fairaudit.measure._regression_threshold import MSG_ONE_OUTCOME
from fairaudit.result import FAVORABLE_OUTCOME_SCHEMA_VERSION, TASK_SCHEMA_VERSION, load_schema
from fairaudit.spec import (
    MSG_CLASS_SCORES_TASK,
    MSG_ONE_SCORE_MULTICLASS,
    MSG_SCORE_CLASS_TWICE,
    MSG_SCORE_COLUMN_TWICE,
    MSG_SCORE_PAIR,
    MSG_SCORE_REGRESSION,
    MSG_THRESHOLD_BOTH,
    MSG_THRESHOLD_FINITE,
    MSG_THRESHOLD_TASK,
    FavorableThreshold,
    load_config,
)
from tests.conftest import SCORED_ROWS, AuditRun
from tests.test_regression_audit import (  # noqa: F401 (diabetes: a fixture)
    _AXE_RUN,
    AXE,
    CHROMIUM,
    HOSTILE,
    diabetes,
)
from tests.test_spec import _spec  # data d.csv, target y, sensitive sex, prediction_col pred


def _config(tmp_path: Path, text: str) -> Path:
    """Return a config file of a binary-looking audit (d.csv, y, sex, p) plus ``text``."""
    config = tmp_path / "audit.toml"
    base = 'data = "d.csv"\ntarget = "y"\nsensitive = ["sex"]\nprediction_col = "p"\n'
    config.write_text(base + text, encoding="utf-8")
    return config


def _error(**options: Any) -> str:
    with pytest.raises(ConfigError) as error:
        _spec(**options)
    return str(error.value)


# --- options: --favorable-above / --favorable-below -------------------------------------


def test_threshold_is_read_and_recorded_only_when_given() -> None:
    spec = _spec(favorable_above=150)
    assert spec.favorable_threshold == FavorableThreshold(150.0, "above")
    assert isinstance(spec.favorable_above, float)
    assert spec.effective_config()["favorable_above"] == 150.0
    assert "favorable_below" not in spec.effective_config()
    below = _spec(favorable_below=-0.5, task="regression")
    assert below.favorable_threshold == FavorableThreshold(-0.5, "below")
    assert below.favorable_threshold.flag == "--favorable-below"  # type: ignore[union-attr]
    plain = _spec().effective_config()
    assert not {"favorable_above", "favorable_below", "class_scores"} & set(plain)
    # A threshold changes the audit's options, so its id; zero is a threshold too.
    assert _spec(favorable_above=0).effective_config()["favorable_above"] == 0.0
    assert str(_spec(favorable_above=-0.0).favorable_above) == "0.0"  # one zero, one audit id


def test_threshold_misuse_is_one_line() -> None:
    assert _error(favorable_above=1, favorable_below=2) == MSG_THRESHOLD_BOTH
    for value in (math.nan, math.inf, -math.inf):
        assert _error(favorable_above=value) == MSG_THRESHOLD_FINITE.format(
            flag="--favorable-above", value=value
        )
    assert _error(favorable_below=math.nan) == "--favorable-below must be a finite number, not nan"
    for task in ("binary", "multiclass"):
        assert _error(favorable_above=1, task=task) == MSG_THRESHOLD_TASK.format(
            flag="--favorable-above", task=task
        )
    # --positive-label makes the audit binary before any data is read.
    assert _error(favorable_below=1, positive_label="yes") == MSG_THRESHOLD_TASK.format(
        flag="--favorable-below", task="binary"
    )
    assert _error(favorable_above=1, favorable_label="good") == (
        "--favorable-label names a favourable class (classification) and --favorable-above "
        "a favourable prediction (regression): drop one"
    )
    assert _error(favorable_above="150") == "favorable_above must be a number, not '150'"
    assert _error(favorable_above=True) == "favorable_above must be a number, not True"


def test_threshold_from_the_config_file(tmp_path: Path) -> None:
    config = _config(tmp_path, "favorable_below = 0.25\n")
    assert load_config(config).favorable_threshold == FavorableThreshold(0.25, "below")
    config = _config(tmp_path, "favorable_above = 100\n")
    assert load_config(config).favorable_above == 100.0
    # The flag wins over the config, as every flag does, in either direction (the reviewer's
    # finding: favorable_above in the config plus --favorable-below was refused as "both").
    assert load_config(config, {"favorable_above": 7.5}).favorable_above == 7.5
    flipped = load_config(config, {"favorable_below": 7.5})
    assert flipped.favorable_threshold == FavorableThreshold(7.5, "below")
    assert flipped.favorable_above is None
    assert load_config(config).with_overrides(favorable_below=2).favorable_above is None
    with pytest.raises(ConfigError, match=MSG_THRESHOLD_BOTH):  # both on one layer
        load_config(config, {"favorable_below": 7.5, "favorable_above": 1})
    with pytest.raises(ConfigError, match=MSG_THRESHOLD_BOTH):
        load_config(_config(tmp_path, "favorable_above = 1\nfavorable_below = 2\n"))
    config = _config(tmp_path, 'favorable_above = "high"\n')
    with pytest.raises(ConfigError) as error:
        load_config(config)
    assert str(error.value) == (
        f"config file '{config}': favorable_above must be a number, e.g. favorable_above = 150"
    )
    with pytest.raises(ConfigError, match="favorable-above must be a finite number, not nan"):
        load_config(_config(tmp_path, "favorable_above = nan\n"))


def test_an_audits_threshold_replaces_the_manifests_shared_one(tmp_path: Path) -> None:
    """A batch manifest's shared favorable_above under one audit's favorable_below: the
    audit's own key wins (either direction); both keys on the audit stays an error."""
    from fairaudit.batch import load_manifest

    manifest = tmp_path / "audits.toml"
    audit = 'data = "d.csv"\ntarget = "y"\nsensitive = ["sex"]\nprediction_col = "p"\n'
    shared = 'task = "regression"\nfavorable_above = 150\n'
    manifest.write_text(
        f"{shared}[[audit]]\nname = 'one'\n{audit}favorable_below = 90\n"
        f"[[audit]]\nname = 'two'\n{audit}",
        encoding="utf-8",
    )
    one, two = load_manifest(manifest).audits
    assert one.spec.favorable_threshold == FavorableThreshold(90.0, "below")
    assert two.spec.favorable_threshold == FavorableThreshold(150.0, "above")
    config = _config(tmp_path, "favorable_below = 3\n")  # a config file is the middle layer
    manifest.write_text(f"{shared}[[audit]]\nconfig = '{config.name}'\n", encoding="utf-8")
    assert load_manifest(manifest).audits[0].spec.favorable_below == 3.0
    manifest.write_text(
        f"[[audit]]\n{audit}task = 'regression'\nfavorable_above = 1\nfavorable_below = 2\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=MSG_THRESHOLD_BOTH):
        load_manifest(manifest)


def test_threshold_flags_on_the_command_line(
    audit_cli: Any, scored_csv: Path, write_csv: Any
) -> None:
    run: AuditRun = audit_cli(scored_csv, "--target", "y", "--prediction-col", "pred",
                              "--favorable-above", "0.5")  # fmt: skip
    # The binary label is decided from the data: the flag to drop is named after reading.
    run.assert_error(MSG_THRESHOLD_TASK.format(flag="--favorable-above", task="binary"))
    run = audit_cli(scored_csv, "--target", "y", "--prediction-col", "pred",
                    "--favorable-below", "nan")  # fmt: skip
    run.assert_error(MSG_THRESHOLD_FINITE.format(flag="--favorable-below", value="nan"))
    run = audit_cli(scored_csv, "--target", "y", "--prediction-col", "pred",
                    "--favorable-below", "1", "--favorable-above", "2")  # fmt: skip
    run.assert_error(MSG_THRESHOLD_BOTH)
    rows = [(("low", "mid", "high")[i % 3], ("low", "mid", "high")[i % 2], ("a", "b")[i % 2])
            for i in range(60)]  # fmt: skip
    classes = write_csv("classes.csv", ["y", "pred", "sex"], rows)
    run = audit_cli(classes, "--target", "y", "--prediction-col", "pred",
                    "--favorable-above", "1")  # fmt: skip
    run.assert_error(MSG_THRESHOLD_TASK.format(flag="--favorable-above", task="multiclass"))


# --- options: --score-col CLASS=COL ------------------------------------------------------


def test_one_plain_score_column_keeps_its_meaning() -> None:
    assert _spec(score_col="p").score_col == "p"
    # One value is a column name even with '=' in it, unless the task is multiclass.
    spec = _spec(score_col="p(y=1)")
    assert (spec.score_col, spec.class_scores) == ("p(y=1)", ())
    assert "class_scores" not in spec.effective_config()
    spec = _spec(score_col="approved=p_approved", task="multiclass")
    assert (spec.score_col, spec.class_scores) == (None, (("approved", "p_approved"),))


def test_class_scores_from_every_form() -> None:
    expected = (("approved", "p(y=approved)"), ("denied", "p_denied"))
    # Split at the first '=': the column name may hold one, the class label may not.
    for given in (
        ["approved=p(y=approved)", "denied=p_denied"],
        {"approved": "p(y=approved)", "denied": "p_denied"},
        (("approved", "p(y=approved)"), ("denied", "p_denied")),
    ):
        spec = _spec(score_col=given)
        assert (spec.score_col, spec.class_scores) == (None, expected)
        assert _spec(class_scores=given).class_scores == expected
    config = _spec(score_col=list(expected), task="multiclass").effective_config()
    assert config["class_scores"] == {"approved": "p(y=approved)", "denied": "p_denied"}
    assert config["score_col"] is None


def test_class_score_misuse_is_one_line() -> None:
    assert _error(score_col=["a=pa", "b"]) == MSG_SCORE_PAIR.format(item="b")
    assert _error(score_col=["=pa", "b=pb"]) == MSG_SCORE_PAIR.format(item="=pa")
    assert _error(score_col=["a=", "b=pb"]) == MSG_SCORE_PAIR.format(item="a=")
    assert _error(score_col=["a=pa", "a=pb"]) == MSG_SCORE_CLASS_TWICE.format(name="a")
    assert _error(score_col=["a=p", "b=p"]) == MSG_SCORE_COLUMN_TWICE.format(name="p")
    assert _error(score_col=["a=pa", "b=y"]) == (
        "column 'y' is given two roles (--target and --score-col); each column has one role"
    )
    assert _error(score_col=["a=pa", "b=pb"], task="binary") == MSG_CLASS_SCORES_TASK.format(
        task="binary"
    )
    assert _error(score_col=["a=pa", "b=pb"], task="regression") == (
        MSG_CLASS_SCORES_TASK.format(task="regression")
    )
    assert _error(score_col="p", task="multiclass") == MSG_ONE_SCORE_MULTICLASS.format(column="p")
    assert _error(score_col=["a=pa"], model="m.skops", prediction_col=None) == (
        "--score-col goes with --prediction-col; with --model the scores come from the model"
    )
    assert _error(score_col="x", class_scores=["a=pa"]) == (
        "class scores are given twice (score_col and class_scores): give one"
    )


def test_a_score_column_on_a_regression_audit_is_refused(audit_cli: Any, write_csv: Any) -> None:
    """A regression audit has no ROC AUC: its --score-col was read and silently dropped."""
    assert _error(score_col="s", task="regression") == MSG_SCORE_REGRESSION.format(column="s")
    rows = [(float(i), i + 0.5, "ab"[i % 2], i / 100) for i in range(80)]  # 80 values: auto
    scored = write_csv("scored.csv", ["y", "pred", "sex", "s"], rows)
    for engine in ("numpy", "duckdb"):
        run = audit_cli(scored, "--target", "y", "--prediction-col", "pred",
                        "--score-col", "s", "--engine", engine)  # fmt: skip
        run.assert_error(MSG_SCORE_REGRESSION.format(column="s"))


def test_class_scores_from_the_config_file(tmp_path: Path) -> None:
    table = 'score_col = { approved = "p_approved", "with=sign" = "p2" }\n'
    assert load_config(_config(tmp_path, table)).class_scores == (
        ("approved", "p_approved"),
        ("with=sign", "p2"),
    )
    listed = _config(tmp_path, 'score_col = ["approved=p_approved", "denied=p_d"]\n')
    assert load_config(listed).class_scores == (("approved", "p_approved"), ("denied", "p_d"))
    config = _config(tmp_path, 'task = "multiclass"\nscore_col = "approved=p_a"\n')
    assert load_config(config).class_scores == (("approved", "p_a"),)
    # Several flags override the config's scores.
    assert load_config(config, {"score_col": ("a=pa", "b=pb")}).class_scores == (
        ("a", "pa"),
        ("b", "pb"),
    )
    config = _config(tmp_path, "score_col = { approved = 1 }\n")
    with pytest.raises(ConfigError) as error:
        load_config(config)
    assert str(error.value) == (
        f"config file '{config}': score_col must be a column name, a table of class = column "
        '(e.g. score_col = { approved = "p_approved" }) or a list of "CLASS=COL"'
    )


def test_class_scores_on_the_command_line(audit_cli: Any, write_csv: Any) -> None:
    rows = [(*row, 0.5, 0.5) for row in SCORED_ROWS]
    scored = write_csv("scored.csv", ["y", "pred", "sex", "p1", "p0"], rows)
    run: AuditRun = audit_cli(scored, "--target", "y", "--prediction-col", "pred",
                              "--score-col", "1=p1", "--score-col", "0=p0")  # fmt: skip
    run.assert_error(MSG_CLASS_SCORES_TASK.format(task="binary"))
    run = audit_cli(scored, "--target", "y", "--prediction-col", "pred",
                    "--score-col", "a=p1", "--score-col", "b=p1")  # fmt: skip
    run.assert_error(MSG_SCORE_COLUMN_TWICE.format(name="p1"))


def test_a_score_flag_replaces_the_config_files_scores(tmp_path: Path) -> None:
    config = _config(tmp_path, 'class_scores = { a = "pa", b = "pb" }\n')
    assert load_config(config).class_scores == (("a", "pa"), ("b", "pb"))
    spec = load_config(config, {"score_col": "s"})  # one plain flag: a binary score column
    assert (spec.score_col, spec.class_scores) == ("s", ())


# --- the derived outcome: counts ---------------------------------------------------------


def _cells(y: Any, p: Any, group: Any, threshold: Any = None) -> RegressionCells:
    codes, levels = np.unique(np.asarray(group), return_inverse=True)
    return count_regression(["g"], [levels], [tuple(codes)], np.asarray(y, float),
                            np.asarray(p, float), threshold=threshold)  # fmt: skip


def test_count_regression_keeps_the_confusion_of_the_derived_outcome() -> None:
    y = [1.0, 5.0, 5.0, 9.0, 2.0, 7.0]
    p = [6.0, 5.0, 8.0, 1.0, 5.0, 9.0]  # two predictions equal T = 5: not favourable
    group = ["a", "a", "a", "a", "b", "b"]
    cells = _cells(y, p, group, FavorableThreshold(5.0, "above"))
    assert cells.favorable is not None
    # a: (y>5, p>5) = (F,T) fp, (F,F) tn, (F,T) fp, (T,F) fn; b: (F,F) tn, (T,T) tp
    assert cells.favorable.counts.tolist() == [[1, 2, 1, 0], [1, 0, 0, 1]]
    assert cells.sizes.tolist() == [4, 2]  # the regression's cells are as without it
    assert cells.group_counts.counts.tolist() == _cells(y, p, group).group_counts.counts.tolist()
    assert _cells(y, p, group).favorable is None
    below = _cells(y, p, group, FavorableThreshold(5.0, "below")).favorable
    assert below is not None  # a: (T,F) fn, (F,F) tn, (F,F) tn, (F,T) fp; b: (T,F) fn, (F,F)
    assert below.counts.tolist() == [[2, 1, 1, 0], [1, 0, 1, 0]]


def test_chunks_combine_to_the_whole() -> None:
    rng = np.random.default_rng(3)
    y, p = rng.normal(0, 1, 500).round(1), rng.normal(0, 1, 500).round(1)  # many ties at T
    group = rng.choice(["a", "b", "c"], 500)
    threshold = FavorableThreshold(0.0, "above")
    whole = _cells(y, p, group, threshold)
    cut = [0, 7, 180, 181, 500]
    codes, levels = np.unique(group, return_inverse=True)
    parts = [
        count_regression(["g"], [levels[a:b]], [tuple(codes)], y[a:b], p[a:b], threshold=threshold)
        for a, b in zip(cut, cut[1:])
    ]
    combined = combine_regression_cells(parts)
    assert combined.favorable is not None and whole.favorable is not None
    assert combined.favorable.counts.tolist() == whole.favorable.counts.tolist()
    assert combined.favorable.cells.tolist() == whole.favorable.cells.tolist()
    assert combined.sums == whole.sums
    plain = count_regression(["g"], [levels[:7]], [tuple(codes)], y[:7], p[:7])
    with pytest.raises(ValueError, match="cannot be combined"):
        combine_regression_cells([parts[0], plain])


# --- the derived outcome: metrics equal fairlearn's ---------------------------------------

TOL = 1e-12


def _derived(values: np.ndarray, threshold: float, direction: str) -> np.ndarray:
    return (values > threshold if direction == "above" else values < threshold).astype(int)


def _assert_matches_fairlearn(section: dict[str, Any], frame: pd.DataFrame, target: str,
                              pred: str, features: list[str]) -> None:  # fmt: skip
    """Every derived rate and headline metric equals fairlearn's on (y > T, ŷ > T)."""
    threshold, direction = section["threshold"], section["direction"]
    y = _derived(frame[target].to_numpy(float), threshold, direction)
    p = _derived(frame[pred].to_numpy(float), threshold, direction)
    metrics = {
        "selection_rate": selection_rate,
        "true_positive_rate": true_positive_rate,
        "false_positive_rate": false_positive_rate,
        "base_rate": lambda t, q: float(np.mean(t)),
        "accuracy": lambda t, q: float(np.mean(t == q)),
    }
    groupings = [[f] for f in features] + ([features] if len(features) > 1 else [])
    for columns in groupings:
        name = columns[0] if len(columns) == 1 else "intersection"
        sensitive = frame[columns] if len(columns) > 1 else frame[columns[0]]
        mf = MetricFrame(metrics=metrics, y_true=y, y_pred=p, sensitive_features=sensitive)
        rows = {
            tuple(r["group"].values()): r
            for r in section["metrics"]["by_group"]
            if r["feature"] == name
        }
        assert len(rows) == len(mf.by_group)
        for key, expected in mf.by_group.iterrows():
            row = rows[tuple(str(k) for k in (key if isinstance(key, tuple) else (key,)))]
            for metric, value in expected.items():
                assert row["metrics"][metric] == pytest.approx(value, abs=TOL), (name, key, metric)
        headline = {h["metric"]: h["value"] for h in section["headline"] if h["feature"] == name}
        for metric, function in (
            ("demographic_parity_difference", demographic_parity_difference),
            ("demographic_parity_ratio", demographic_parity_ratio),
            ("equalized_odds_difference", equalized_odds_difference),
            ("equalized_odds_ratio", equalized_odds_ratio),
        ):
            expected = function(y, p, sensitive_features=sensitive)
            assert headline[metric] == pytest.approx(expected, abs=TOL), (name, metric)
    for metric, value in mf.overall.items():
        assert section["metrics"]["overall"][metric] == pytest.approx(value, abs=TOL)


def test_diabetes_derived_outcome_matches_fairlearn(diabetes: tuple, audit_cli: Any) -> None:  # noqa: F811
    path, _, frame = diabetes  # test_regression_audit's: predictions in 'pred'
    run: AuditRun = audit_cli(path, "--target", "target", "--prediction-col", "pred",
                              "--favorable-above", "150", "--min-denominator", "0",
                              sensitive=["sex", "age_band"])  # fmt: skip
    run.assert_ok()
    data = run.json()
    assert data["schema_version"] == FAVORABLE_OUTCOME_SCHEMA_VERSION == "1.5.0"
    jsonschema.Draft202012Validator(load_schema()).validate(data)
    section = data["summary"]["favorable_outcome"]
    assert (section["threshold"], section["direction"]) == (150.0, "above")
    assert section["outcome"] == "prediction > 150" and section["label"] == "target > 150"
    _assert_matches_fairlearn(section, frame, "target", "pred", ["sex", "age_band"])
    # The regression sections are those of the audit without a threshold.
    plain = audit_cli(path, "--target", "target", "--prediction-col", "pred",
                      "--min-denominator", "0", sensitive=["sex", "age_band"])  # fmt: skip
    plain.assert_ok()
    before = plain.json()
    assert before["schema_version"] == TASK_SCHEMA_VERSION
    assert "favorable_outcome" not in before["summary"]
    for key in ("metrics", "disparities", "headline", "uncertainty"):
        assert data[key] == before[key]
    predicted = int((frame["pred"] > 150).sum())
    (check,) = [c for c in data["data_checks"] if c["id"] == "favorable_outcome"]
    assert (
        f"{predicted} ({predicted / len(frame):.1%}) of {len(frame)} predictions"
        in (check["message"])
    )
    page = run.html()
    assert "Derived outcome: prediction &gt; 150" in page
    assert "binary metrics of a derived outcome, not of the model's errors" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page


def _synthetic(n: int = 4000, seed: int = 1) -> pd.DataFrame:
    """Group b's predictions are 15 lower than its targets; a's are unbiased: b is less
    often predicted above 110 although its targets are distributed as a's."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b"], n)
    y = rng.normal(100, 20, n)
    pred = y + rng.normal(0, 5, n) - np.where(group == "b", 15.0, 0.0)
    return pd.DataFrame({"y": y, "pred": pred, "group": group})


def _audit(frame: pd.DataFrame, **options: Any) -> dict[str, Any]:
    return fairaudit.audit(
        frame, target="y", sensitive="group", prediction_col="pred", **options
    ).to_dict()


def test_known_disparity_is_found_and_equals_fairlearn() -> None:
    frame = _synthetic()
    data = _audit(frame, favorable_above=110)
    section = data["summary"]["favorable_outcome"]
    _assert_matches_fairlearn(section, frame, "y", "pred", ["group"])
    rows = {r["group"]["group"]: r["metrics"] for r in section["metrics"]["by_group"]}
    # Targets alike (base rates within noise); b's share of favourable predictions far lower.
    assert rows["a"]["base_rate"] == pytest.approx(rows["b"]["base_rate"], abs=0.04)
    assert rows["b"]["selection_rate"] < 0.6 * rows["a"]["selection_rate"]
    (worst,) = [w for w in section["worse_off"] if w["metric"] == "selection_rate"]
    assert worst["group"] == {"group": "b"} and worst["below_band"] is True
    selection = next(d for d in section["disparities"] if d["metric"] == "selection_rate")
    assert selection["significance"] == "significant"
    jsonschema.Draft202012Validator(load_schema()).validate(data)
    # A risk score: below T is favourable; b, predicted low, is now the better off.
    below = _audit(frame, favorable_below=90)["summary"]["favorable_outcome"]
    _assert_matches_fairlearn(below, frame, "y", "pred", ["group"])
    (worst,) = [w for w in below["worse_off"] if w["metric"] == "selection_rate"]
    assert worst["group"] == {"group": "a"}


# --- attacks: one class, ties, groups with nothing favourable -----------------------------


def _rows(section: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["group"]["group"]: r for r in section["metrics"]["by_group"]}


def test_a_threshold_below_every_value_gives_one_class() -> None:
    frame = _synthetic(n=400)
    data = _audit(frame, favorable_above=-1e6)
    section = data["summary"]["favorable_outcome"]
    rows = _rows(section)
    for row in rows.values():
        assert row["metrics"]["selection_rate"] == 1.0 and row["metrics"]["base_rate"] == 1.0
        assert row["metrics"]["true_positive_rate"] == 1.0
        # No unfavourable target: the false positive rate is undefined, null and not 0.
        assert row["metrics"]["false_positive_rate"] is None
        assert row["single_class"] is True
    assert section["metrics"]["overall"]["false_positive_rate"] is None
    headline = {h["metric"]: h["value"] for h in section["headline"]}
    assert headline["demographic_parity_difference"] == 0.0
    assert headline["demographic_parity_ratio"] == 1.0
    assert headline["equalized_odds_difference"] is None  # FPR undefined everywhere
    one = [c for c in data["data_checks"] if c["id"] == "favorable_outcome_one_class"]
    assert [c["message"] for c in one] == [
        MSG_ONE_OUTCOME.format(what=f"every {noun} is", side="above", value="-1e+06")
        for noun in ("prediction", "target")
    ]
    (single,) = [c for c in data["data_checks"] if c["id"] == "favorable_outcome_single_class"]
    assert single["message"].startswith("favourable outcome (derived): 2 groups have targets")
    jsonschema.Draft202012Validator(load_schema()).validate(data)
    # Above every value: nothing is favourable; selection rate 0 is a defined rate.
    none = _audit(frame, favorable_above=1e6)["summary"]["favorable_outcome"]
    for row in _rows(none).values():
        assert row["metrics"]["selection_rate"] == 0.0
        assert row["metrics"]["true_positive_rate"] is None
        assert row["metrics"]["precision"] is None
    ratio = next(h for h in none["headline"] if h["metric"] == "demographic_parity_ratio")
    assert ratio["value"] is None  # 0 / 0
    assert [w for w in none["worse_off"] if w["metric"] == "selection_rate"][0]["ratio"] is None


def test_a_prediction_equal_to_the_threshold_is_not_favourable() -> None:
    frame = pd.DataFrame(
        {
            "y": np.arange(200, dtype=float),
            "pred": [100.0] * 120 + [101.0] * 40 + [99.0] * 40,  # 120 tied at T
            "group": ["a", "b"] * 100,
        }
    )
    above = _rows(_audit(frame, favorable_above=100)["summary"]["favorable_outcome"])
    assert above["a"]["confusion"]["fp"] + above["a"]["confusion"]["tp"] == 20  # only 101s
    below = _rows(_audit(frame, favorable_below=100)["summary"]["favorable_outcome"])
    assert below["a"]["confusion"]["fp"] + below["a"]["confusion"]["tp"] == 20  # only 99s
    # T = 100 itself is not a favourable target either: y = 100 counts as unfavourable.
    total = sum(r["confusion"]["fn"] + r["confusion"]["tp"] for r in above.values())
    assert total == 99  # 101..199


def test_a_group_with_no_favourable_target_has_undefined_rates() -> None:
    frame = _synthetic(n=600)
    frame.loc[frame["group"] == "b", "y"] = 50.0  # b's targets all below T
    section = _audit(frame, favorable_above=110)["summary"]["favorable_outcome"]
    rows = _rows(section)
    assert rows["b"]["metrics"]["base_rate"] == 0.0
    assert rows["b"]["metrics"]["true_positive_rate"] is None
    assert rows["b"]["metrics"]["false_negative_rate"] is None
    assert rows["a"]["metrics"]["true_positive_rate"] is not None
    (tpr,) = [d for d in section["disparities"] if d["metric"] == "true_positive_rate"]
    side = "value" if tpr["group"] == {"group": "b"} else "reference_value"
    assert tpr[side] is None and tpr["difference"] is None
    assert tpr["significance"] == "insufficient data"
    # Equalized odds leaves b out (its TPR has no rows behind it) and says so.
    odds = next(h for h in section["headline"] if h["metric"] == "equalized_odds_difference")
    assert {"group": {"group": "b"}, "metric": "true_positive_rate", "denominator": 0} in (
        odds["excluded"]
    )


def test_without_intervals_the_view_has_none() -> None:
    section = _audit(_synthetic(n=400), favorable_above=110, intervals=False)["summary"][
        "favorable_outcome"
    ]
    assert section["uncertainty"] is None
    assert all("ci" not in r for r in section["metrics"]["by_group"])


def test_duckdb_counts_the_derived_outcome_as_numpy_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("duckdb")
    frame = _synthetic(n=300)
    frame["group"] = frame["group"].map({"a": HOSTILE, "b": "b"})
    path = tmp_path / "scored.csv"
    frame.to_csv(path, index=False)
    monkeypatch.setattr("fairaudit.engines._sql_tasks.CHUNK_ROWS", 7)  # many chunks
    results = [
        _audit(path, engine=engine, favorable_below=95)["summary"]["favorable_outcome"]
        for engine in ("numpy", "duckdb")
    ]
    assert results[0] == results[1]


def test_the_section_in_chromium(diabetes: tuple, audit_cli: Any, tmp_path: Path) -> None:  # noqa: F811
    playwright = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists() or not AXE.exists():
        pytest.skip("Chromium or axe-core is not installed")
    run: AuditRun = audit_cli(diabetes[0], "--target", "target", "--prediction-col", "pred",
                              "--favorable-above", "150",
                              sensitive=["sex", "age_band"])  # fmt: skip
    run.assert_ok()
    own = run.html_path.resolve().as_uri()
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        for width in (1280, 390):
            page = browser.new_page(bypass_csp=True, viewport={"width": width, "height": 900})
            page.route("**/*", lambda r: r.continue_() if r.request.url == own else r.abort())
            page.goto(own, wait_until="load")
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            section = page.locator("#favorable-outcome")
            assert section.locator("h2").inner_text() == "Derived outcome: prediction > 150"
            assert section.locator("table").count() == 2 + 3  # four-fifths, headline, groupings
            section.screenshot(path=str(tmp_path / f"favorable-{width}.png"))
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.evaluate(AXE.read_text(encoding="utf-8"))
            assert page.evaluate(_AXE_RUN) == []
            page.close()
        browser.close()


# --- where the view is shown besides the report: console, notebook ------------------------


def test_console_and_notebook_show_the_derived_outcome(diabetes: tuple, audit_cli: Any) -> None:  # noqa: F811
    from fairaudit.api import Result

    path, _, frame = diabetes
    run: AuditRun = audit_cli(path, "--target", "target", "--prediction-col", "pred",
                              "--favorable-above", "150",
                              sensitive=["sex", "age_band"])  # fmt: skip
    run.assert_ok()
    y, p = frame["target"] > 150, frame["pred"] > 150
    label = "derived outcome: prediction > 150"
    for feature in ("sex", "age_band"):
        dp = demographic_parity_ratio(y, p, sensitive_features=frame[feature])
        eod = equalized_odds_difference(y, p, sensitive_features=frame[feature])
        line = f"  {label}: {feature}: demographic_parity_ratio = {dp:.3f}, "
        assert f"{line}equalized_odds_difference = {eod:.3f}\n" in run.result.stdout
    section = run.json()["summary"]["favorable_outcome"]
    below = [w for w in section["worse_off"] if w["below_band"]]
    assert below  # the sample's sex 1 and youngest band are below 0.8
    worse = [line for line in run.result.stdout.splitlines() if f"{label}: worse off:" in line]
    assert len(worse) == len(below)
    # the notebook: the headline table gains the derived rows, the list its worse-off groups
    result = Result.load(run.json_path)
    markdown = result._repr_markdown_()
    assert "| derived outcome: prediction \\> 150: demographic\\_parity\\_ratio |" in markdown
    assert "<script>" not in markdown and "\\<script\\>" in markdown
    card = result._repr_html_()
    assert "derived outcome: prediction &gt; 150: demographic parity ratio" in card
    assert "derived outcome: prediction &gt; 150: worse off: sex=" in card
    assert "<script>alert" not in card
    headline = result.favorable_headline
    assert len(headline) == 6 * 3 and set(headline["outcome"]) == {"prediction > 150"}
    row = headline[
        (headline["grouping"] == "sex") & (headline["metric"] == "demographic_parity_ratio")
    ]
    assert row["value"].item() == pytest.approx(
        demographic_parity_ratio(y, p, sensitive_features=frame["sex"]), abs=TOL
    )
    assert list(result.favorable_worse_off["ratio"]) == [w["ratio"] for w in section["worse_off"]]


def test_hostile_group_names_in_the_derived_lines() -> None:
    from fairaudit.api import Result
    from fairaudit.cli._console import run_summary

    frame = _synthetic(n=600)
    frame["group"] = frame["group"].map({"a": "a", "b": "b\x1b[31m<i>|*\u202e"})
    result = fairaudit.audit(frame, target="y", sensitive="group", prediction_col="pred",
                             favorable_above=110)  # fmt: skip
    assert isinstance(result, Result)
    printed = run_summary(result.to_dict(), Path("r.html"), Path("r.json"), None)
    lines = [s for s in printed.splitlines() if "worse off" in s]  # selection rate and TPR
    assert len(lines) == 2
    assert lines[0].startswith("  derived outcome: prediction > 110: worse off: group=b\\x1b[31m")
    assert "\x1b" not in printed and "\u202e" not in printed and "<U+202E>" in printed
    markdown = result._repr_markdown_()
    assert "worse off: group=b\\\\x1b\\[31m\\<i\\>\\|\\*\\<U+202E\\>: selection" in markdown
    assert "\x1b" not in markdown and "<i>" not in markdown
    card = result._repr_html_()
    assert "&lt;i&gt;" in card and "<i>" not in card and "\u202e" not in card


def test_a_plain_regression_audit_shows_no_derived_outcome() -> None:
    from fairaudit.cli._console import run_summary

    result = fairaudit.audit(_synthetic(n=300), target="y", sensitive="group",
                             prediction_col="pred")  # fmt: skip
    printed = run_summary(result.to_dict(), Path("r.html"), Path("r.json"), None)
    assert "derived outcome" not in printed
    assert "derived outcome" not in result._repr_markdown_()
    assert result.favorable_headline.empty and result.favorable_worse_off.empty
    assert "ratio_low" in result.favorable_worse_off.columns
