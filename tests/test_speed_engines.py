"""DuckDB maps a column to its codes with a CASE expression when its values allow it
(``engines._sql_source.case_code_sql``, issue 15): the same counts and score sums as the
numpy engine, with hostile values, and the map table's join for every other case. A CSV
field with a line break inside quotes is read too (DuckDB's serial CSV reader)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairaudit.engines import count_with_engine
from fairaudit.engines._sql_source import CASE_MAX_VALUES, case_code_sql
from fairaudit.spec import AuditSpec

from .test_engines import _assert_same

HOSTILE = [
    "O'Brien",
    "''",
    "a' OR '1'='1",
    "back\\slash",
    " padded ",
    "",
    "ünïcødé ☃",
    "--comment",
    "tab\tinside",
    "x'); DROP TABLE fa_src; --",
]


def test_case_code_sql_takes_text_and_integers_only() -> None:
    assert case_code_sql("x", ["a'b", "c"], [1, 0]) == (
        "CAST(CASE x WHEN 'a''b' THEN 1 WHEN 'c' THEN 0 END AS BIGINT)"
    )
    assert case_code_sql("x", [0, -3], [0, 1]) == (
        "CAST(CASE x WHEN 0 THEN 0 WHEN -3 THEN 1 END AS BIGINT)"
    )
    too_many = [str(i) for i in range(CASE_MAX_VALUES + 1)]
    for raw in (
        [],
        [True, False],  # booleans compare as booleans: the join
        [0.0, 1.0],
        ["a", 1],
        ["nul\x00inside", "b"],
        [2**63, 0],  # past BIGINT
        [None, "a"],
        too_many,
    ):
        assert case_code_sql("x", raw, list(range(len(raw)))) is None, raw


def _hostile_frame(values: list[str], n: int = 2000, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.choice(values, n).astype(object)
    group[rng.random(n) < 0.05] = None
    label = rng.choice(["it's yes", "no"], n)
    score = np.round(rng.random(n), 2)
    return pd.DataFrame(
        {
            "label": label,
            "pred": np.where(score > 0.5, "it's yes", "no"),
            "score": score,
            "group": group,
            "code": rng.choice([-5, 0, 7, 2**40], n),
            "flag": rng.choice([True, False], n),
        }
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("missing", ["group", "drop"])
def test_hostile_values_count_alike_in_both_engines(tmp_path: Path, fmt: str, missing: str) -> None:
    # A line break inside a quoted CSV field: DuckDB's parallel CSV reader refuses it, the
    # engine then reads the file with the serial reader (as pandas reads it).
    values = [*HOSTILE, "line\nbreak"]
    frame = _hostile_frame(values)
    path = tmp_path / f"hostile.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    spec = AuditSpec(
        data=path,
        target="label",
        sensitive=("group", "code", "flag"),
        prediction_col="pred",
        score_col="score",
        positive_label="it's yes",
        missing_sensitive=missing,
    )
    numpy_counts = count_with_engine(spec, "numpy")
    duckdb_counts = count_with_engine(spec, "duckdb")
    _assert_same(numpy_counts, duckdb_counts)
    levels = dict(zip(duckdb_counts.group_counts.features, duckdb_counts.group_counts.levels))
    # An empty CSV field is missing (pandas' rule, both engines); in Parquet it is text.
    assert {v for v in values if v or fmt == "parquet"} <= set(levels["group"])
    assert duckdb_counts.group_counts.overall.sum() == duckdb_counts.rows


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_many_values_and_categorical_columns_count_alike(tmp_path: Path, fmt: str) -> None:
    rng = np.random.default_rng(5)
    n = 3000
    score = rng.random(n)
    frame = pd.DataFrame(
        {
            "label": rng.choice([0, 1], n),
            "pred": (score > 0.5).astype(int),
            "score": score,
            # more values than CASE_MAX_VALUES: the map table's join
            "zip": rng.choice([f"z{i:03d}" for i in range(CASE_MAX_VALUES + 36)], n),
            "grade": pd.Categorical(rng.choice(["low", "mid", "high"], n)),
        }
    )
    path = tmp_path / f"many.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    spec = AuditSpec(
        data=path,
        target="label",
        sensitive=("zip", "grade"),
        prediction_col="pred",
        score_col="score",
        max_groups=100_000,
    )
    _assert_same(count_with_engine(spec, "numpy"), count_with_engine(spec, "duckdb"))
