"""The data audit's engines: numpy and DuckDB give identical DataCounts and identical rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fairaudit.data import read_table
from fairaudit.databias import DataCounts, count_data, rows_from_counts
from fairaudit.engines import count_data_duckdb, count_data_with_engine
from fairaudit.errors import ConfigError, DataError

pytest.importorskip("duckdb")

ROOT = Path(__file__).resolve().parent.parent
GERMAN = ROOT / "sample_data" / "german_train.csv"
HOSTILE = "'; DROP TABLE x; --"


def _assert_same(a: DataCounts, b: DataCounts) -> None:
    for kind in ("sizes", "labels", "strata", "missing"):
        left, right = getattr(a, kind), getattr(b, kind)
        assert len(left) == len(right), kind
        for x, y in zip(left, right, strict=True):
            assert (x.feature, x.groups, x.levels, x.strata) == (
                y.feature,
                y.groups,
                y.levels,
                y.strata,
            ), kind
            assert x.counts.dtype == y.counts.dtype == np.int64, kind
            assert np.array_equal(x.counts, y.counts), kind


def _agree(path: Path, **options: Any) -> DataCounts:
    """Assert both engines count ``path`` alike (counts and every row); return the counts."""
    a = count_data(read_table(path)[0], **options)
    b = count_data_duckdb(path, **options)
    _assert_same(a, b)
    assert rows_from_counts(a, n_resamples=50) == rows_from_counts(b, n_resamples=50)
    return b


def _frame(n: int = 2000, seed: int = 3) -> pd.DataFrame:
    """Synthetic data: missing sensitive values and labels, an age to bin, strata, 3 classes."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male", "x"], n, p=[0.48, 0.48, 0.04]).astype(object)
    sex[rng.random(n) < 0.05] = None
    age = rng.integers(16, 90, n).astype(float)
    age[rng.random(n) < 0.03] = np.nan
    grade = rng.choice(["low", "mid", "high"], n).astype(object)
    grade[rng.random(n) < 0.02] = None
    label = (rng.random(n) < 0.4).astype(float)
    label[rng.random(n) < 0.02] = np.nan  # integral floats with gaps: labels "0" and "1"
    return pd.DataFrame(
        {
            "sex": sex,
            "age": age,
            "region": rng.choice(["north", "south", HOSTILE], n),
            "purpose": rng.choice(["car", "home", "edu", None], n),
            "label": label,
            "approved": rng.random(n) < 0.5,
            "grade": grade,
            "income": np.where(rng.random(n) < 0.1, np.nan, rng.normal(50, 10, n)),
        }
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("databias-engines")
    frame = _frame()
    frame.to_csv(folder / "data.csv", index=False)
    frame.to_parquet(folder / "data.parquet", index=False)
    return {"csv": folder / "data.csv", "parquet": folder / "data.parquet"}


def test_german_training_split() -> None:
    counts = _agree(GERMAN, target="risk", sensitive=["sex", "age"], bins={"age": [25, 40, 60]})
    assert [t.feature for t in counts.labels] == ["sex", "age", "intersection"]
    _agree(GERMAN, target="risk", sensitive=["sex", "housing"], strata="purpose")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize(
    "options",
    [
        {"target": "label", "sensitive": ["sex", "age"], "bins": {"age": [30, 50]}},
        {"target": "label", "sensitive": ["sex", "region"], "strata": "purpose"},
        {"target": "approved", "sensitive": ["region", "sex"], "strata": "grade"},
        {"target": "grade", "sensitive": ["sex"], "missing_columns": ["income", "purpose"]},
        {"target": "income", "sensitive": ["region"], "label_bins": [45, 55]},
        {"target": "label", "sensitive": ["age", "sex", "region"], "bins": {"age": [40]}},
    ],
)
def test_synthetic_data(files: dict[str, Path], fmt: str, options: dict[str, Any]) -> None:
    counts = _agree(files[fmt], **options)
    assert all(int(t.counts.sum()) == 2000 for t in counts.sizes)  # every row, none dropped


def test_missing_values_by_group_default_columns(files: dict[str, Path]) -> None:
    counts = _agree(files["parquet"], target="label", sensitive=["sex"])
    assert counts.missing[0].levels == ["age", "purpose", "label", "grade", "income"]
    assert counts.labels[0].levels == ["0", "1"]
    assert counts.sizes[0].groups[-1] == {"sex": "(missing)"}


def test_hostile_names(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 400
    quote, space, uni = "se\"x's", "age band", "ñandú 性别"
    frame = pd.DataFrame(
        {
            quote: rng.choice([HOSTILE, 'a"b', "c'd"], n),
            space: rng.choice(["young", "old", None], n),
            uni: rng.choice(["α", "β", "(missing"], n),
            "y y": rng.choice(["yes", "no", HOSTILE], n),
            "s'": rng.choice(["1", "2"], n),
        }
    )
    frame.to_csv(tmp_path / "h.csv", index=False)
    frame.to_parquet(tmp_path / "h.parquet", index=False)
    for path in (tmp_path / "h.csv", tmp_path / "h.parquet"):
        counts = _agree(path, target="y y", sensitive=[quote, space, uni], strata="s'")
        assert {quote: HOSTILE} in counts.sizes[0].groups
        assert HOSTILE in counts.labels[0].levels


def test_errors_match(files: dict[str, Path]) -> None:
    frame = read_table(files["csv"])[0]
    for options in (
        {"target": "label", "sensitive": ["nope"]},
        {"target": "nope", "sensitive": ["sex"]},
        {"target": "label", "sensitive": ["sex"], "strata": "nope"},
        {"target": "label", "sensitive": ["sex"], "missing_columns": ["nope"]},
        {"target": "region", "sensitive": ["sex"], "label_bins": [1]},
    ):
        with pytest.raises(DataError) as numpy_error:
            count_data(frame, **options)
        with pytest.raises(DataError) as duckdb_error:
            count_data_duckdb(files["csv"], **options)
        assert str(numpy_error.value) == str(duckdb_error.value)


def test_auto_counts_a_large_file_with_duckdb(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("fairaudit.engines._api.memory_bytes", lambda: 1000)
    counts, chosen = count_data_with_engine(files["parquet"], target="label", sensitive=["sex"])
    assert chosen == "duckdb"
    _assert_same(
        counts, count_data(read_table(files["parquet"])[0], target="label", sensitive=["sex"])
    )


def test_count_data_with_engine(files: dict[str, Path]) -> None:
    options = {"target": "label", "sensitive": ["sex"]}
    numpy_counts, chosen = count_data_with_engine(files["csv"], "numpy", **options)
    assert chosen == "numpy"
    duckdb_counts, chosen = count_data_with_engine(files["csv"], "duckdb", **options)
    assert chosen == "duckdb"
    _assert_same(numpy_counts, duckdb_counts)
    assert count_data_with_engine(files["csv"], "auto", **options)[1] == "numpy"
    for engine in ("spark", "polars"):
        with pytest.raises(ConfigError):
            count_data_with_engine(files["csv"], engine, **options)
