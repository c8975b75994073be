"""Regression and multiclass audits on the DuckDB and Spark engines (issue 17): the same
JSON as the numpy engine but for ``lineage.engine`` (and the ``engine`` setting and the id
that covers it), the same checks, task decisions and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fairaudit.errors import FairauditError
from fairaudit.measure import MSG_MULTICLASS_CONTINUOUS
from fairaudit.pipe import run_audit
from fairaudit.spec import AuditSpec

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
QUOTE = "ra'ce\"; DROP TABLE x; --"


@pytest.fixture(autouse=True)
def _fixed_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")


def _json(spec: AuditSpec, engine: str, **options: Any) -> dict:
    """Return the audit's JSON without what names the engine (lineage, config, id)."""
    result = run_audit(AuditSpec(**{**spec.__dict__, "engine": engine}), **options)
    data = json.loads(result.to_json())
    assert data["lineage"].pop("engine") == engine
    assert data["lineage"]["config"].pop("engine", engine) == engine
    data["audit"].pop("id")
    return data


def _same(spec: AuditSpec) -> dict:
    """Return the numpy engine's JSON after asserting DuckDB's is identical."""
    expected = _json(spec, "numpy")
    assert _json(spec, "duckdb") == expected
    return expected


def _error(spec: AuditSpec, engine: str) -> str:
    with pytest.raises(FairauditError) as info:
        run_audit(AuditSpec(**{**spec.__dict__, "engine": engine}))
    return f"{type(info.value).__name__}: {info.value}"


def _same_error(spec: AuditSpec) -> str:
    message = _error(spec, "numpy")
    assert _error(spec, "duckdb") == message
    return message


def _write(frame: pd.DataFrame, folder: Path, name: str) -> dict[str, Path]:
    paths = {"csv": folder / f"{name}.csv", "parquet": folder / f"{name}.parquet"}
    frame.to_csv(paths["csv"], index=False)
    frame.to_parquet(paths["parquet"], index=False)
    return paths


def _spec(path: Path, **overrides: Any) -> AuditSpec:
    fields: dict[str, Any] = {
        "data": path,
        "target": "y",
        "prediction_col": "pred",
        "sensitive": ("group",),
        "min_group_size": 5,
    }
    return AuditSpec(**{**fields, **overrides})


def _load_model(path: Path) -> Any:
    import skops.io as sio

    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    """The regression and multiclass samples with their models' predictions as a column."""
    folder = tmp_path_factory.mktemp("samples")
    out = {}
    for name, model, data in (
        ("regression", "regression/diabetes_model.skops", "regression/diabetes_eval.csv"),
        ("multiclass", "multiclass/housing_model.skops", "german_eval.csv"),
    ):
        estimator = _load_model(SAMPLE / model)
        frame = pd.read_csv(SAMPLE / data)
        frame["pred"] = estimator.predict(frame[list(estimator.feature_names_in_)])
        out[name] = _write(frame, folder, name)
    return out


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_regression_sample_is_identical_on_duckdb(samples: dict, fmt: str) -> None:
    spec = AuditSpec(
        data=samples["regression"][fmt], target="target", prediction_col="pred",
        sensitive=("sex", "age"), bins={"age": (40.0, 55.0)}, min_group_size=30,
    )  # fmt: skip
    data = _same(spec)
    assert data["audit"]["task"] == "regression" and data["metrics"]["overall"]["count"] == 177
    assert _same(AuditSpec(**{**spec.__dict__, "task": "regression", "intervals": False}))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_multiclass_sample_is_identical_on_duckdb(samples: dict, fmt: str) -> None:
    spec = AuditSpec(
        data=samples["multiclass"][fmt], target="housing", prediction_col="pred",
        sensitive=("sex", "age"), bins={"age": (25.0, 40.0)}, min_group_size=30,
        favorable_label=("own",),
    )  # fmt: skip
    data = _same(spec)
    assert data["audit"]["classes"] == ["free", "own", "rent"]
    assert data["metrics"]["overall"]["count"] == 400


def _regression_frame(n: int = 600, seed: int = 3) -> pd.DataFrame:
    """Group b is over-predicted by 5 on average; predictions rounded (ties)."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    y = np.round(rng.normal(50, 10, n), 2)
    pred = np.round(y + rng.normal(0, 3, n) + np.where(group == "b", 5.0, 0.0))
    return pd.DataFrame({"group": group, "region": rng.choice(["n", "s"], n), "y": y, "pred": pred})


def test_known_disparity_ties_and_many_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _write(_regression_frame(), tmp_path, "reg")
    for path in paths.values():
        spec = _spec(path, sensitive=("group", "region"))
        expected = _same(spec)
        mean_error = {
            r["group"]["group"]: r["metrics"]["mean_error"]
            for r in expected["metrics"]["by_group"]
            if r["feature"] == "group"
        }
        assert 4 < mean_error["b"] - mean_error["a"] < 6
        # Rows counted 7 at a time and merged give the same JSON.
        monkeypatch.setattr("fairaudit.engines._sql_tasks.CHUNK_ROWS", 7)
        assert _json(spec, "duckdb") == expected
        monkeypatch.undo()
        monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")


def test_group_of_one_row_and_missing_sensitive_values(tmp_path: Path) -> None:
    frame = _regression_frame(200)
    frame.loc[0, "group"] = "alone"
    frame.loc[[5, 9, 11], "region"] = None
    for path in _write(frame, tmp_path, "small").values():
        for missing in ("group", "drop"):
            spec = _spec(path, sensitive=("group", "region"), missing_sensitive=missing)
            data = _same(spec)
            assert any(
                r["group"].get("group") == "alone" and r["count"] == 1
                for r in data["metrics"]["by_group"]
            )
        message = _same_error(_spec(path, sensitive=("region",)))
        assert "missing" in message


def test_missing_and_bad_values_are_the_same_errors(tmp_path: Path) -> None:
    base = _regression_frame(120)
    cases = {
        "missing_target": base.assign(y=base["y"].where(base.index != 4)),
        "text_prediction": base.assign(pred=base["pred"].astype(str).where(base.index != 7, "n/a")),
        "huge_prediction": base.assign(pred=base["pred"].where(base.index != 8, 1e60)),
        "infinite_target": base.assign(y=base["y"].where(base.index != 2, np.inf)),
    }
    expected = {
        "missing_target": "target column 'y' has 1 missing values",
        "text_prediction": "prediction column 'pred' has 1 value that is not a finite "
        "number ('n/a')",
        "huge_prediction": "prediction column 'pred' has 1 value that is not a finite number",
        "infinite_target": "label column 'y' has 1 value that is not a finite number ('inf')",
    }
    for name, frame in cases.items():
        for path in _write(frame, tmp_path, name).values():
            message = _same_error(_spec(path, task="regression"))
            assert message.startswith("DataError: " + expected[name]), message


def test_hostile_names_and_values(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 300
    frame = pd.DataFrame(
        {
            QUOTE: rng.choice(["x'y", 'q"; --', "<b>z</b>", "plain"], n),
            "y; --": rng.normal(0, 1, n).round(3),
            "p'red": rng.normal(0, 1, n).round(1),
            'cls"': rng.choice(["a'; DROP", 'b"', "c"], n),
            "hat": rng.choice(["a'; DROP", 'b"', "c"], n),
        }
    )
    for path in _write(frame, tmp_path, "hostile").values():
        regression = _same(_spec(path, target="y; --", prediction_col="p'red", sensitive=(QUOTE,)))
        assert regression["audit"]["task"] == "regression"
        multiclass = _same(_spec(path, target='cls"', prediction_col="hat", sensitive=(QUOTE,)))
        assert multiclass["audit"]["classes"] == ["a'; DROP", 'b"', "c"]


def test_multiclass_labels_typed_as_pandas_types_them(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    n = 400
    y = rng.integers(0, 4, n)
    pred = np.where(rng.random(n) < 0.7, y, rng.integers(0, 5, n))  # class 4: predicted only
    frame = pd.DataFrame({"group": rng.choice(["u", "v"], n), "y": y, "pred": pred})
    for path in _write(frame, tmp_path, "ints").values():
        assert _same(_spec(path))["audit"]["classes"] == ["0", "1", "2", "3", "4"]
    text = tmp_path / "mixed.csv"  # "1" and "1.0" in a float column are one class
    lines = ["group,y,pred"] + [
        f"{g},{v},{'1.0' if v == 1 else v}" for g, v in zip("uvuvuvuv", [0, 1, 2, 1, 0, 2, 1, 0])
    ]
    text.write_text("\n".join(lines) + "\n")
    assert _same(_spec(text, min_group_size=1))["audit"]["classes"] == ["0", "1", "2"]


def test_task_detection_and_its_errors_are_the_same(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    n = 500
    group = rng.choice(["a", "b"], n)
    # 60 distinct whole numbers: auto takes them as a regression target.
    sixty = pd.DataFrame(
        {"group": group, "y": rng.integers(0, 60, n), "pred": rng.integers(0, 60, n)}
    )
    sixty.loc[:59, "y"] = np.arange(60)
    for path in _write(sixty, tmp_path, "sixty").values():
        data = _same(_spec(path))
        assert data["audit"]["task"] == "regression"
        assert (
            data["audit"]["task_reason"] == "a numeric label with 60 distinct values (more than 50)"
        )
    # A float target with 3 distinct values: the mismatch error names the flags.
    three = pd.DataFrame({"group": group, "y": rng.choice([0.5, 1.5, 2.25], n), "pred": 1.5})
    for path in _write(three, tmp_path, "three").values():
        assert "--task regression" in _same_error(_spec(path))
        for task in ("multiclass", "regression"):
            assert _same(_spec(path, task=task))["audit"]["task"] == task
    many = pd.DataFrame({"group": group, "y": rng.normal(0, 1, n), "pred": 0.0})
    for path in _write(many, tmp_path, "many").values():
        message = _same_error(_spec(path, task="multiclass"))
        assert message.startswith("ConfigError: " + MSG_MULTICLASS_CONTINUOUS.split("{")[0])
        assert "use --task" in _same_error(_spec(path, task="binary"))
    text = pd.DataFrame({"group": group, "y": rng.choice(["lo", "mid", "hi"], n), "pred": "lo"})
    for path in _write(text, tmp_path, "text").values():
        assert "not numeric" in _same_error(_spec(path, task="regression"))


def test_one_valued_target_and_empty_file(tmp_path: Path) -> None:
    frame = _regression_frame(100).assign(y=7.0)
    for path in _write(frame, tmp_path, "one").values():
        data = _same(_spec(path, task="regression"))
        assert data["metrics"]["overall"]["r2"] is None
    empty = _write(pd.DataFrame({"group": [], "y": [], "pred": []}), tmp_path, "empty")
    for path in empty.values():
        for task in ("regression", "multiclass"):
            assert "no rows" in _same_error(_spec(path, task=task))


def test_model_and_class_scores_are_refused_on_duckdb(samples: dict) -> None:
    from fairaudit.engines import CLASS_SCORES_NEED_NUMPY, NEEDS_PREDICTIONS

    spec = AuditSpec(
        data=samples["regression"]["parquet"], target="target", sensitive=("sex",),
        model=SAMPLE / "regression" / "diabetes_model.skops", task="regression",
        engine="duckdb",
    )  # fmt: skip
    assert _error(spec, "duckdb") == "ConfigError: " + NEEDS_PREDICTIONS.format(engine="duckdb")
    scores = AuditSpec(
        data=samples["multiclass"]["parquet"], target="housing", prediction_col="pred",
        sensitive=("sex",), task="multiclass", class_scores=(("own", "credit_amount"),),
    )  # fmt: skip
    message = CLASS_SCORES_NEED_NUMPY.format(engine="duckdb")
    assert _error(scores, "duckdb") == "ConfigError: " + message


# -------------------------------------------------------------------------------------------
# Spark: one regression and one multiclass audit on local[2] (slow: a JVM)


@pytest.fixture(scope="module")
def spark() -> Any:
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("fairaudit-tests-tasks")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_spark_regression_and_multiclass_match_numpy(
    samples: dict, spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The engine runs on the active session (the fixture's); the workers count buckets of
    # about 50 rows (7 buckets), merged on the driver.
    monkeypatch.setattr("fairaudit.engines._sql_tasks.BUCKET_ROWS", 50)
    frame = _regression_frame(300).rename(columns={"group": QUOTE})
    frame.loc[[3, 4], "region"] = None
    path = tmp_path / "reg.parquet"
    frame.to_parquet(path, index=False)
    spec = _spec(path, sensitive=(QUOTE, "region"), missing_sensitive="group")
    assert _json(spec, "spark") == _json(spec, "numpy")
    multiclass = AuditSpec(
        data=samples["multiclass"]["parquet"], target="housing", prediction_col="pred",
        sensitive=("sex", "age"), bins={"age": (25.0, 40.0)}, min_group_size=30,
    )  # fmt: skip
    assert _json(multiclass, "spark") == _json(multiclass, "numpy")


def test_column_types_are_read_as_pandas_reads_them(tmp_path: Path) -> None:
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    n = 300
    group = rng.choice(["a", "b"], n)
    tables = {
        "float32 predictions, whole-number target": {
            "y": pa.array(rng.integers(0, 200, n)),
            "pred": pa.array(rng.normal(100, 50, n).astype(np.float32)),
        },
        "numbers as text": {
            "y": pa.array([str(v) for v in np.round(rng.normal(0, 1, n), 3)]),
            "pred": pa.array(rng.normal(0, 1, n)),
        },
        "decimals": {
            "y": pa.array(
                [decimal.Decimal(str(round(v, 2))) for v in rng.normal(0, 100, n)],
                pa.decimal128(10, 2),
            ),
            "pred": pa.array(rng.normal(0, 1, n)),
        },
        "dictionary classes": {
            "y": pa.array(rng.choice(["x", "y", "z"], n)).dictionary_encode(),
            "pred": pa.array(rng.choice(["x", "y", "z", "w"], n)).dictionary_encode(),
        },
    }
    for j, columns in enumerate(tables.values()):
        path = tmp_path / f"t{j}.parquet"
        pq.write_table(pa.table({"group": pa.array(group), **columns}), path)
        _same(_spec(path))
    booleans = tmp_path / "bool.parquet"
    pq.write_table(
        pa.table({"group": group, "y": rng.normal(0, 1, n), "pred": rng.random(n) < 0.5}),
        booleans,
    )
    assert "300 values that are not finite numbers" in _same_error(
        _spec(booleans, task="regression")
    )
    # Text CSV numbers with spaces and exponents: parsed by pandas, the same bits.
    text = tmp_path / "exp.csv"
    rows = zip(group, rng.normal(0, 1, n), rng.normal(0, 1, n), strict=True)
    text.write_text("group,y,pred\n" + "".join(f"{g}, {y:.6e} ,{float(p)!r}\n" for g, y, p in rows))
    _same(_spec(text))


def test_binned_groups_group_limit_and_favorable_threshold(tmp_path: Path) -> None:
    frame = _regression_frame(300).assign(age=np.arange(300) % 70 + 18.0)
    frame.loc[[1, 2], "age"] = None
    paths = _write(frame.assign(pred=frame["pred"].astype(str).where(frame.index != 5, "n/a")),
                   tmp_path, "binned")  # fmt: skip
    for path in paths.values():
        for missing in ("group", "drop"):
            spec = _spec(
                path, sensitive=("group", "age"), bins={"age": (30.0, 50.0)},
                missing_sensitive=missing, task="regression",
            )  # fmt: skip
            assert "not a finite number ('n/a')" in _same_error(spec)
            # Too many groups is said first, as numpy says it, before any value is read.
            limited = AuditSpec(**{**spec.__dict__, "max_groups": 2})
            assert "more than the limit of 2" in _same_error(limited)
    for path in _write(frame, tmp_path, "fixed").values():
        spec = _spec(
            path, sensitive=("group", "age"), bins={"age": (30.0, 50.0)}, missing_sensitive="group"
        )
        _same(spec)
        outcome = _same(AuditSpec(**{**spec.__dict__, "favorable_above": 50.0}))
        assert outcome["summary"]["favorable_outcome"] is not None


def test_worker_parts_merge_to_the_cells_of_all_rows() -> None:
    from fractions import Fraction

    from fairaudit.engines._sql_task_parts import regression_from_parts, regression_part
    from fairaudit.measure import count_regression

    frame = _regression_frame(500).assign(
        c0=lambda f: f["group"].map({"a": 0, "b": 1, "c": 2}), t=lambda f: f["y"]
    )
    frame["p"] = np.arange(500) % 37  # indices into the distinct predictions' numbers
    numbers = np.linspace(-1e3, 1e3, 37) / 3
    frame["bk"] = np.arange(500) % 6
    levels = (("a", "b", "c"),)

    def count(codes: list, y_true: np.ndarray, y_pred: np.ndarray) -> Any:
        return count_regression(("group",), codes, levels, y_true, y_pred)

    rows = [
        tuple(regression_part(part, n_features=1, numbers=(None, numbers), count=count).iloc[0])
        for _, part in frame.groupby("bk")
    ]
    merged = regression_from_parts(rows, ("group",), levels)
    whole = count([frame["c0"].to_numpy()], frame["t"].to_numpy(), numbers[frame["p"].to_numpy()])
    assert merged.sums == whole.sums and isinstance(merged.sums["cross"][0], Fraction)
    np.testing.assert_array_equal(merged.predictions, whole.predictions)
    np.testing.assert_array_equal(merged.starts, whole.starts)
    np.testing.assert_array_equal(merged.group_counts.cells, whole.group_counts.cells)
    np.testing.assert_array_equal(merged.group_counts.counts, whole.group_counts.counts)


def test_csv_numbers_first_values_and_bad_values(tmp_path: Path) -> None:
    # The first 300 rows hold 3 texts of 2 numbers ("1" and "1.0" are one): the examples
    # in messages come from every distinct value's first row, as numpy shows them.
    rng = np.random.default_rng(4)
    head = [("a" if j % 2 else "b", ["1", "1.0", "2"][j % 3], "1.5") for j in range(300)]
    tail = [("a", f"{v:.4f}", f" {v + 1:.3e} ") for v in rng.normal(0, 5, 200)]
    rows = head + tail
    path = tmp_path / "late.csv"
    path.write_text("group,y,pred\n" + "".join(",".join(r) + "\n" for r in rows))
    assert _same(_spec(path))["audit"]["task"] == "regression"
    assert "('1', '2', " in _same_error(_spec(path, task="multiclass"))
    bad = tmp_path / "bad.csv"
    rows[400] = ("a", "-Infinity", "1")
    rows[450] = ("b", "1e60", "2")
    bad.write_text("group,y,pred\n" + "".join(",".join(r) + "\n" for r in rows))
    message = _same_error(_spec(bad, task="regression"))
    assert "label column 'y' has 2 values that are not finite numbers ('-inf', '9999" in message
    # pandas reads " inf" (with a space) as text, so the column is not numeric.
    rows[400] = ("a", " inf", "1")
    bad.write_text("group,y,pred\n" + "".join(",".join(r) + "\n" for r in rows))
    assert "is not numeric" in _same_error(_spec(bad, task="regression"))


def test_signed_zero_extreme_floats_unused_categories_bom_crlf(tmp_path: Path) -> None:
    """Review R2's inputs, identical on both engines: -0.0 beside 0.0 (ties), predictions
    of 1e-300 and 1e30 beside ordinary ones (1e40 overflows the Welch degrees of freedom
    of the mean squared error in stats._regression_intervals: reported to the lead),
    categorical group and class columns with an unused category, and a CSV with a BOM,
    CRLF line ends and a quoted group name holding a newline, a comma and a doubled quote."""
    rng = np.random.default_rng(3)
    n = 240
    group = rng.choice(["a", "b", 'new\nline, "q"'], n)
    y = np.round(rng.normal(100, 20, n), 3)
    pred = np.round(y + rng.normal(0, 10, n), 3)
    pred[:6], pred[6:12], pred[12], pred[13] = -0.0, 0.0, 1e-300, 1e30
    frame = pd.DataFrame({"y": y, "pred": pred, "group": group})
    for path in _write(frame, tmp_path, "extremes").values():
        _same(_spec(path))
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + frame.to_csv(index=False, lineterminator="\r\n").encode())
    with_bom, plain = _same(_spec(bom)), _same(_spec(tmp_path / "extremes.csv"))
    for key in ("metrics", "disparities", "headline", "uncertainty"):
        assert with_bom[key] == plain[key]
    classes = ["lo", "mid", "hi", "unused"]
    categorical = pd.DataFrame(
        {
            "y": pd.Categorical(rng.choice(classes[:3], n), categories=classes),
            "pred": pd.Categorical(rng.choice(classes[:3], n), categories=classes),
            "group": pd.Categorical(rng.choice(["a", "b"], n), categories=["a", "b", "c"]),
        }
    )
    categorical.to_parquet(tmp_path / "categorical.parquet")
    data = _same(_spec(tmp_path / "categorical.parquet"))
    assert "unused" not in json.dumps(data["metrics"])
