"""``fairaudit data --engine``: numpy and DuckDB write the same data audit, byte for byte.

DuckDB counts the labels, groups and missing values out of core; pandas then reads only the
columns the proxy analysis needs. The JSON documents of the two engines are compared whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fairaudit.cli import cli
from fairaudit.data import read_table
from fairaudit.engines import choose_data_engine, data_report_file
from fairaudit.errors import ConfigError, DataError
from fairaudit.result import json_text

pytest.importorskip("duckdb")

ROOT = Path(__file__).resolve().parent.parent
GERMAN = ROOT / "sample_data" / "german_train.csv"
HOSTILE = "'; DROP TABLE x; --<b>"
QUOTE, SPACE, UNI = "se\"x's", "age band", "ñandú 性别"


def _both(path: Path, **options: Any) -> dict[str, Any]:
    """Assert both engines write the same document of ``path``; return it."""
    options.setdefault("n_resamples", 50)
    numpy_report, chosen = data_report_file(path, engine="numpy", **options)
    assert chosen == "numpy"
    duckdb_report, chosen = data_report_file(path, engine="duckdb", **options)
    assert chosen == "duckdb"
    assert json_text(duckdb_report) == json_text(numpy_report)
    return numpy_report


def test_german_training_split() -> None:
    report = _both(
        GERMAN,
        target="risk",
        sensitive=["sex", "age"],
        bins={"age": [25, 40, 60]},
        strata="purpose",
        reference={"sex": "male"},
        population={"sex": {"male": 0.49, "female": 0.51}},
    )
    assert report["data"]["rows"] == len(read_table(GERMAN)[0])
    assert report["data"]["columns"] == 10
    assert {p["sensitive"] for p in report["proxies"]} == {"sex", "age"}
    assert len(report["proxies"][0]["features"]) == 7  # every column but target and sensitive
    _both(GERMAN, target="risk", sensitive=["housing"], features=["purpose", "job"])


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Hostile column names and values, missing values everywhere, a proxy of ``QUOTE``."""
    rng = np.random.default_rng(5)
    n = 1500
    sex = rng.choice([HOSTILE, 'a"b', "c'd"], n).astype(object)
    sex[rng.random(n) < 0.05] = None
    band = rng.choice(["young", "old", None], n)
    label = (rng.random(n) < np.where(sex == HOSTILE, 0.3, 0.6)).astype(float)
    label[rng.random(n) < 0.02] = np.nan
    income = np.where(rng.random(n) < 0.1, np.nan, rng.normal(50, 10, n).round(2))
    proxy = np.where(rng.random(n) < 0.9, sex, "noise").astype(object)
    frame = pd.DataFrame(
        {
            QUOTE: sex,
            SPACE: band,
            "y y": label,
            UNI: proxy,
            "income; --": income,
            "s'": rng.choice(["1", "2", None], n),
            "flag": rng.random(n) < 0.5,
        }
    )
    folder = tmp_path_factory.mktemp("data-engine")
    frame.to_parquet(folder / "h.parquet", index=False)
    frame.to_csv(folder / "h.csv", index=False)
    return {"parquet": folder / "h.parquet", "csv": folder / "h.csv"}


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_hostile_names_and_missing_values(hostile: dict[str, Path], fmt: str) -> None:
    report = _both(hostile[fmt], target="y y", sensitive=[QUOTE, SPACE], strata="s'")
    assert any(r["metric"] == "missing_share" for r in report["data_bias"])
    top = report["proxies"][0]
    assert top["sensitive"] == QUOTE and top["features"][0]["feature"] == UNI
    _both(hostile[fmt], target="y y", sensitive=[QUOTE], features=[UNI, "income; --"])


def test_a_parquet_index_is_not_a_column(tmp_path: Path) -> None:
    """pandas makes a Parquet file's stored index the frame's index: not a feature, not a
    column, not a missing-value column (DuckDB sees it as the column __index_level_0__)."""
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {"y": rng.integers(0, 2, 300), "g": rng.choice(["a", "b"], 300), "x": rng.normal(size=300)},
        index=[f"r{i}" if i % 7 else None for i in range(300)],
    )
    frame.to_parquet(tmp_path / "indexed.parquet")
    report = _both(tmp_path / "indexed.parquet", target="y", sensitive=["g"])
    assert report["data"]["columns"] == 3
    assert [f["feature"] for f in report["proxies"][0]["features"]] == ["x"]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_line_break_inside_a_quoted_field(tmp_path: Path, newline: str) -> None:
    """A CSV value may hold a line break in quotes (RFC 4180), which pandas reads; DuckDB's
    parallel reader refused it ('cannot read data file ...: CSV Error on Line: 2'), so
    --engine duckdb failed where numpy worked. The serial reader is the fallback, as for
    the model audit (count_duckdb)."""
    rng = np.random.default_rng(4)
    values = ["a", "b", f'"two{newline}lines"']
    rows = [f"{rng.integers(0, 2)},{values[i % 3]},{i}" for i in range(200)]
    (tmp_path / "quoted.csv").write_bytes(newline.join(["y,g,x", *rows, ""]).encode())
    report = _both(tmp_path / "quoted.csv", target="y", sensitive=["g"])
    groups = {r["group"]["g"] for r in report["data_bias"] if r.get("group")}
    assert len(groups) == 3 and any(g.startswith("two") and "lines" in g for g in groups)


def test_more_rows_than_the_models_see(hostile: dict[str, Path]) -> None:
    """Above max_model_rows both engines model the same stratified sample."""
    report = _both(hostile["parquet"], target="y y", sensitive=[QUOTE], max_model_rows=300)
    assert report["proxies"][0]["sampled"] is True
    assert report["proxies"][0]["rows_modelled"] == 300


def test_errors_match(hostile: dict[str, Path]) -> None:
    for options in (
        {"target": "y y", "sensitive": ["nope"]},
        {"target": "nope", "sensitive": [QUOTE]},
        {"target": "y y", "sensitive": [QUOTE], "features": ["nope"]},
    ):
        messages = []
        for engine in ("numpy", "duckdb"):
            with pytest.raises(DataError) as error:
                data_report_file(hostile["parquet"], engine=engine, **options)
            messages.append(str(error.value))
        assert messages[0] == messages[1]


def test_choose_data_engine(hostile: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    assert choose_data_engine(hostile["csv"]) == "numpy"
    for engine in ("spark", "polars"):
        with pytest.raises(ConfigError):
            choose_data_engine(hostile["csv"], engine)
    monkeypatch.setattr("fairaudit.engines._api.memory_bytes", lambda: 1000)
    assert choose_data_engine(hostile["csv"]) == "duckdb"


def test_read_table_columns_are_typed_as_in_the_whole_file(hostile: dict[str, Path]) -> None:
    for path in hostile.values():
        whole = read_table(path)[0]
        part = read_table(path, columns=["income; --", QUOTE, "absent"])[0]
        assert list(part.columns) == [QUOTE, "income; --"]  # the file's order
        pd.testing.assert_frame_equal(part, whole[[QUOTE, "income; --"]])


def test_the_command_line_engines_write_the_same_json(
    hostile: dict[str, Path], tmp_path: Path
) -> None:
    texts = []
    for engine in ("numpy", "duckdb"):
        out = tmp_path / f"{engine}.json"
        args = ["data", hostile["csv"], "--target", "y y", "--sensitive", QUOTE]
        args += ["--features", UNI, "--engine", engine, "-o", out]
        result = CliRunner().invoke(cli, [str(a) for a in args])
        assert result.exit_code == 0, result.output
        texts.append(out.read_bytes())
    assert texts[0] == texts[1]
    result = CliRunner().invoke(
        cli,
        ["data", str(hostile["csv"]), "--target", "y y", "--sensitive", QUOTE]
        + ["--engine", "spark", "-o", str(tmp_path / "s.json")],
    )
    assert result.exit_code == 2 and "spark" in result.output
