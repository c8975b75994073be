"""Counting engines: numpy, DuckDB and Spark give identical counts, checks and score sums."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairaudit.engines import (
    NEEDS_PREDICTIONS,
    UNKNOWN_ENGINE,
    EngineCounts,
    choose_engine,
    count_with_engine,
)
from fairaudit.errors import ConfigError, DataError
from fairaudit.measure import MSG_TOO_MANY_GROUPS, grouped_brier_score, grouped_roc_auc
from fairaudit.spec import AuditSpec
from fairaudit.stats import brier_estimates, roc_auc_estimates, score_sums_estimates


def _frame(n: int = 3000, seed: int = 7) -> pd.DataFrame:
    """Synthetic audit data: string labels, missing values, a binned age, degenerate groups."""
    rng = np.random.default_rng(seed)
    race = rng.choice(["asian", "black", "white", "other"], n)
    race[:5] = "zz"  # a tiny group with a single true class (set below)
    label = np.where(rng.random(n) < 0.4, "yes", "no")
    label[:5] = "no"
    score = np.round(np.clip(rng.normal(np.where(label == "yes", 0.6, 0.4), 0.2), 0, 1), 3)
    score[5] = -0.0  # one tie block with 0.0
    pred = np.where(score > 0.5, "yes", "no")
    sex = rng.choice(["female", "male", ""], n, p=[0.47, 0.47, 0.06]).astype(object)
    sex[sex == ""] = None
    age = rng.integers(18, 90, n).astype(float)
    age[rng.random(n) < 0.04] = np.nan
    return pd.DataFrame(
        {"label": label, "pred": pred, "score": score, "sex": sex, "age": age, "race": race}
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("engines")
    frame = _frame()
    frame.to_csv(folder / "audit.csv", index=False)
    frame.to_parquet(folder / "audit.parquet", index=False)
    return {"csv": folder / "audit.csv", "parquet": folder / "audit.parquet"}


def _spec(path: Path, **overrides: object) -> AuditSpec:
    options: dict[str, object] = {
        "data": path,
        "target": "label",
        "sensitive": ("sex", "age", "race"),
        "prediction_col": "pred",
        "score_col": "score",
        "positive_label": "yes",
        "bins": {"age": (25, 40, 60)},
        "missing_sensitive": "group",
    }
    options.update(overrides)
    return AuditSpec(**options)  # type: ignore[arg-type]


def _assert_same(a: EngineCounts, b: EngineCounts) -> None:
    assert a.group_counts.features == b.group_counts.features
    assert a.group_counts.levels == b.group_counts.levels
    np.testing.assert_array_equal(a.group_counts.cells, b.group_counts.cells)
    np.testing.assert_array_equal(a.group_counts.counts, b.group_counts.counts)
    assert a.checks == b.checks
    assert (a.rows, a.rows_read, a.label_values) == (b.rows, b.rows_read, b.label_values)
    assert a.lineage_data == b.lineage_data
    assert a.prediction_source == b.prediction_source
    assert (a.score_summary is None) == (b.score_summary is None)
    if a.score_summary is not None and b.score_summary is not None:
        assert a.score_summary.by_grouping == b.score_summary.by_grouping
        assert a.score_summary.overall == b.score_summary.overall
        assert a.score_summary.is_probability == b.score_summary.is_probability
        for name in a.score_summary.by_grouping:
            for metric, values in a.score_summary.by_grouping[name].metric_values().items():
                other = b.score_summary.by_grouping[name].metric_values()[metric]
                np.testing.assert_array_equal(values, other)  # exact, not approximately


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("missing", ["group", "drop"])
def test_numpy_and_duckdb_agree(files: dict[str, Path], fmt: str, missing: str) -> None:
    spec = _spec(files[fmt], missing_sensitive=missing)
    a = count_with_engine(spec, "numpy")
    b = count_with_engine(spec, "duckdb")
    _assert_same(a, b)
    levels = dict(zip(a.group_counts.features, a.group_counts.levels))
    expected_sex = ("female", "male", "(missing)") if missing == "group" else ("female", "male")
    assert levels["sex"] == expected_sex
    assert levels["age"][:4] == ("< 25", "[25, 40)", "[40, 60)", ">= 60")
    assert levels["race"] == ("asian", "black", "other", "white", "zz")
    assert b.group_counts.overall.sum() == b.rows


@pytest.mark.parametrize("kind", ["datetime", "datetime_tz", "date", "timedelta"])
@pytest.mark.parametrize("missing", ["group", "drop"])
def test_time_valued_sensitive_columns(tmp_path: Path, kind: str, missing: str) -> None:
    # A datetime column once got group code -1 for every row: its levels were made from
    # numpy datetime64 values, its rows looked up by pandas Timestamps, whose text differs.
    rng = np.random.default_rng(3)
    n = 400
    moments = pd.to_datetime(pd.Series(rng.choice(["2020-01-01 00:00", "2021-06-01 12:30"], n)))
    when = {
        "datetime": moments,
        "datetime_tz": moments.dt.tz_localize("Europe/Paris"),
        "date": moments.dt.date,
        "timedelta": moments - pd.Timestamp("2019-01-01"),
    }[kind]
    frame = _frame(n).assign(when=when)
    frame.loc[:9, "when"] = None
    path = tmp_path / "time.parquet"
    frame.to_parquet(path, index=False)
    spec = _spec(path, sensitive=("when", "race"), bins={}, missing_sensitive=missing)
    a = count_with_engine(spec, "numpy")
    _assert_same(a, count_with_engine(spec, "duckdb"))
    levels = a.group_counts.levels[0]
    assert len(levels) == 2 + (missing == "group")
    assert levels[0].startswith("2020-01-01") or kind == "timedelta"
    assert a.group_counts.cells.min() >= 0
    assert a.group_counts.overall.sum() == a.rows == n - 10 * (missing == "drop")


def test_score_sums_match_row_metrics(files: dict[str, Path]) -> None:
    """The exact sums give the row-based AUC, Brier score and their intervals."""
    counted = count_with_engine(_spec(files["csv"]), "duckdb")
    rows = count_with_engine(_spec(files["csv"]), "numpy")
    assert counted.score_summary is not None and rows.score is not None and rows.data is not None
    y = rows.data.y_true.astype(np.float64)
    gc = rows.group_counts
    assert gc.row_cell is not None
    sums = counted.score_summary.by_grouping["intersection"]
    np.testing.assert_allclose(
        sums.roc_auc(), grouped_roc_auc(gc.row_cell, len(gc.cells), y, rows.score), atol=1e-12
    )
    np.testing.assert_allclose(
        sums.brier()[0],
        grouped_brier_score(gc.row_cell, len(gc.cells), y, rows.score),
        rtol=1e-12,
    )
    expected = {
        "roc_auc": roc_auc_estimates(gc.row_cell, len(gc.cells), y, rows.score, confidence=0.95),
        "brier_score": brier_estimates(gc.row_cell, len(gc.cells), y, rows.score, confidence=0.95),
    }
    got = score_sums_estimates(sums, 0.95)
    for metric in ("roc_auc", "brier_score"):
        for part in ("value", "interval", "variance"):
            np.testing.assert_allclose(
                getattr(got[metric], part), getattr(expected[metric], part), rtol=1e-9
            )
    # The zz group has one class: AUC undefined, Brier defined.
    race = counted.score_summary.by_grouping["race"]
    assert np.isnan(race.roc_auc()[-1]) and not np.isnan(race.brier()[0][-1])


def test_non_probability_scores_have_no_brier(tmp_path: Path) -> None:
    frame = _frame(400)
    frame["score"] = frame["score"] * 4 - 1
    frame.to_csv(tmp_path / "d.csv", index=False)
    spec = _spec(tmp_path / "d.csv", sensitive=("sex", "race"), bins={})
    a, b = count_with_engine(spec, "numpy"), count_with_engine(spec, "duckdb")
    _assert_same(a, b)
    assert b.score_summary is not None and not b.score_summary.is_probability
    assert b.score_summary.overall.brier1 is None
    assert np.isnan(b.score_summary.overall.brier()[0]).all()


@pytest.mark.parametrize(
    ("label", "pred", "positive"),
    [
        ([0, 1, 1, 0], [1, 1, 0, 0], None),
        ([True, False, True, True], [True, True, False, False], None),
        ([True, False, True, True], [True, True, False, False], "true"),
        ([1.0, 2.0, 2.0, 1.0], [2, 2, 1, 1], "2"),
    ],
)
def test_label_types(tmp_path: Path, label: list, pred: list, positive: str | None) -> None:
    frame = pd.DataFrame({"label": label * 5, "pred": pred * 5, "sex": ["a", "b"] * 10})
    for name, write in (("d.csv", frame.to_csv), ("d.parquet", frame.to_parquet)):
        write(tmp_path / name, index=False)
        spec = AuditSpec(
            data=tmp_path / name,
            target="label",
            sensitive=("sex",),
            prediction_col="pred",
            positive_label=positive,
        )
        _assert_same(count_with_engine(spec, "numpy"), count_with_engine(spec, "duckdb"))


def _error(spec: AuditSpec, engine: str) -> str:
    with pytest.raises((DataError, ConfigError)) as info:
        count_with_engine(spec, engine)  # type: ignore[arg-type]
    return str(info.value)


@pytest.mark.parametrize(
    ("change", "overrides"),
    [
        (None, {"missing_sensitive": "error"}),
        (None, {"positive_label": "maybe"}),
        (None, {"positive_label": None}),
        (None, {"bins": {}}),  # age: numeric with many values
        (None, {"bins": {"race": (1.0, 2.0)}}),
        (None, {"target": "nope"}),
        (None, {"reference": {"race": "martian"}}),
        ("three_labels", {}),
        ("unknown_prediction", {}),
        ("missing_label", {}),
        ("bad_score", {}),
        ("infinite_score", {}),
        ("missing_group_value", {}),
        ("all_dropped", {"missing_sensitive": "drop", "sensitive": ("sex",), "bins": {}}),
    ],
)
def test_errors_are_identical(
    tmp_path: Path, change: str | None, overrides: dict[str, object]
) -> None:
    frame = _frame(300).astype({"score": object})
    if change == "three_labels":
        frame.loc[7, "label"] = "maybe"
    elif change == "unknown_prediction":
        frame.loc[3, "pred"] = "perhaps"
    elif change == "missing_label":
        frame.loc[3, "label"] = None
    elif change == "bad_score":
        frame.loc[3, "score"] = "high"
    elif change == "infinite_score":
        frame.loc[3, "score"] = "inf"
    elif change == "missing_group_value":
        frame.loc[4, "sex"] = "(missing)"
    elif change == "all_dropped":
        frame["sex"] = None
    frame.to_csv(tmp_path / "d.csv", index=False)
    spec = _spec(tmp_path / "d.csv", **overrides)
    message = _error(spec, "numpy")
    assert _error(spec, "duckdb") == message


def test_csv_reading_errors_are_identical(tmp_path: Path) -> None:
    (tmp_path / "wide.csv").write_text("label,pred,sex\nyes,no,a\nno,no,b,extra\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("label,pred,sex\n")
    (tmp_path / "twice.csv").write_text("label,pred,sex,sex\nyes,no,a,a\n")
    for name in ("wide.csv", "empty.csv", "header.csv", "twice.csv", "missing.csv", "x.json"):
        if name == "x.json":
            (tmp_path / name).write_text("{}")
        spec = AuditSpec(
            data=tmp_path / name,
            target="label",
            sensitive=("sex",),
            prediction_col="pred",
            positive_label="yes",
        )
        assert _error(spec, "duckdb") == _error(spec, "numpy"), name


def test_text_looking_like_numbers_is_typed_as_pandas_types_it(tmp_path: Path) -> None:
    # ' 5' and '05' are the number 5 for pandas; 'NA' and 'None' are text values.
    (tmp_path / "d.csv").write_text(
        "label,pred,grp,cc\n1,1, 5,NA\n0,1,05,None\n1,0,7,\n0,0,7.0,NA\n1,1,,DE\n"
    )
    spec = AuditSpec(
        data=tmp_path / "d.csv",
        target="label",
        sensitive=("grp", "cc"),
        prediction_col="pred",
        missing_sensitive="group",
    )
    a, b = count_with_engine(spec, "numpy"), count_with_engine(spec, "duckdb")
    _assert_same(a, b)
    assert b.group_counts.levels == (("5", "7", "(missing)"), ("DE", "NA", "None", "(missing)"))


def test_auto_engine_and_refusals(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _spec(files["parquet"])
    assert choose_engine(spec, "auto") == "numpy"
    monkeypatch.setattr("fairaudit.engines._api.memory_bytes", lambda: 1000)
    assert choose_engine(spec, "auto") == "duckdb"
    assert choose_engine(_spec(Path("spark:db.people")), "auto") == "spark"
    model_spec = dataclasses.replace(
        spec, model=Path("m.skops"), prediction_col=None, score_col=None
    )
    assert choose_engine(model_spec, "auto") == "numpy"
    assert _error(model_spec, "duckdb") == NEEDS_PREDICTIONS.format(engine="duckdb")
    with pytest.raises(ConfigError) as info:
        choose_engine(spec, "polars")  # type: ignore[arg-type]
    assert str(info.value) == UNKNOWN_ENGINE.format(engine="polars")


def test_engine_api_counts_every_row_and_says_what_it_does(files: dict[str, Path]) -> None:
    said: list[str] = []
    counted = count_with_engine(_spec(files["csv"]), "duckdb", progress=said.append)
    assert said == [f"counting {files['csv']} with duckdb"]
    assert counted.checks[0].id == "rows" and counted.lineage_data["format"] == "csv"
    assert counted.group_counts.overall.sum() == counted.lineage_data["rows"] == 3000
    assert counted.score_summary is not None and counted.has_scores
    assert counted.score_summary.overall.n_pos[0] + counted.score_summary.overall.n_neg[0] == 3000
    said.clear()
    rows = count_with_engine(_spec(files["csv"]), "numpy", progress=said.append)
    assert said == [f"reading {files['csv']}", "reading predictions", "counting"]
    assert rows.score_is_probability and rows.data is not None and rows.estimator is None


def test_too_many_groups_are_refused_by_every_engine(files: dict[str, Path]) -> None:
    spec = _spec(files["csv"], max_groups=4)
    message = MSG_TOO_MANY_GROUPS.format(
        grouping="the intersection of sex × age × race", groups=63, limit=4
    )
    for engine in ("numpy", "duckdb"):
        assert _error(spec, engine) == message, engine


# --- Spark: few tests, the JVM start costs ~10 s -----------------------------------------


@pytest.fixture(scope="module")
def spark():  # type: ignore[no-untyped-def]
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("fairaudit-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .config("spark.sql.adaptive.enabled", "false")
        # Tiny data: compiling generated code costs more than it saves.
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.codegen.factoryMode", "NO_CODEGEN")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_spark_matches_numpy(files: dict[str, Path], spark) -> None:  # type: ignore[no-untyped-def]
    # Two features (four groupings): each grouping's score sums is a Spark job of its own.
    spec = _spec(files["parquet"], sensitive=("sex", "age"))
    _assert_same(count_with_engine(spec, "numpy"), count_with_engine(spec, "spark", session=spark))


def test_spark_table(files: dict[str, Path], spark) -> None:  # type: ignore[no-untyped-def]
    spark.read.parquet(str(files["parquet"])).createOrReplaceTempView("people")
    spec = _spec(
        Path("spark:people"),
        score_col=None,
        sensitive=("sex", "race"),
        bins={},
        missing_sensitive="drop",
    )
    got = count_with_engine(spec, "spark", session=spark)
    expected = count_with_engine(dataclasses.replace(spec, data=files["parquet"]), "numpy")
    np.testing.assert_array_equal(got.group_counts.counts, expected.group_counts.counts)
    assert got.group_counts.levels == expected.group_counts.levels
    assert got.checks == expected.checks
    assert got.lineage_data["format"] == "spark-table" and got.lineage_data["sha256"] is None
