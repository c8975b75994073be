"""``fairaudit monitor`` without a pre-release audit: the first N windows are an unsigned
baseline taken from the data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tests.test_monitor import invoke, valid, window

COLUMNS = ("--target", "label", "--prediction-col", "pred", "--sensitive", "sex")


def run(data: Path, out: Path, *extra: Any) -> Any:
    return invoke("monitor", data, *COLUMNS, "--no-ledger", "-o", out / "monitor.html", *extra)


def test_the_first_windows_are_an_unsigned_baseline_and_drift_is_judged_after_them(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(11)
    codes = []
    for week, ratio in enumerate([1.0] * 4 + [0.6] * 4, start=1):
        data = window(tmp_path / f"week{week}.csv", rng, ratio=ratio)
        result = run(data, tmp_path, "--baseline-windows", 4, "--drift", 0.1, "--ratio-min", 0.3)
        assert result.exit_code in (0, 3), result.output
        assert "the first 4 windows of the data (unsigned" in result.output
        codes.append(result.exit_code)
    assert codes[:4] == [0] * 4 and 3 in codes[4:]
    document = valid(json.loads((tmp_path / "monitor.json").read_text()))
    assert document["baseline"] == {
        "source": "windows",
        "signed": False,
        "windows": 4,
        "columns": {"target": "label", "prediction_col": "pred", "sensitive": ["sex"]},
    }
    assert {a["rule"] for a in document["alarms"]} == {"drift"}
    alarm = document["alarms"][0]
    assert alarm["reference"] == {"sex": "m"}  # the largest group of the first window
    assert alarm["window_seq"] >= 5
    page = (tmp_path / "monitor.html").read_text()
    assert "<strong>unsigned</strong>" in page


def test_a_data_baseline_needs_its_columns_and_n_and_keeps_them(tmp_path: Path) -> None:
    data = window(tmp_path / "w1.csv", np.random.default_rng(12))
    out = tmp_path / "out.html"
    result = invoke("monitor", data, "--baseline-windows", 2, "-o", out)
    assert result.exit_code == 2 and "--target, --prediction-col, --sensitive" in result.output
    result = invoke("monitor", data, *COLUMNS, "-o", out)
    assert result.exit_code == 2 and "--baseline-windows N" in result.output
    result = invoke("monitor", data, "--baseline", data, "--target", "label", "-o", out)
    assert result.exit_code == 2 and "--target comes from the --baseline audit" in result.output
    assert run(data, tmp_path, "--baseline-windows", 2).exit_code == 0
    other = window(tmp_path / "w2.csv", np.random.default_rng(13))
    result = invoke(
        "monitor", other, "--target", "pred", "--prediction-col", "label", "--sensitive", "sex",
        "--no-ledger", "--baseline-windows", 2, "-o", tmp_path / "monitor.html",
    )  # fmt: skip
    assert result.exit_code == 1 and "started with different columns" in result.output


def test_hostile_group_names_are_escaped_on_the_page_console_and_junit(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    import pandas as pd

    rng = np.random.default_rng(14)
    names = np.array(["m", "<script>alert(1)</script>", "a\x1b[31mred\x07", "]]>&\"'\u202e"])
    sex = rng.choice(names, 4000, p=[0.4, 0.2, 0.2, 0.2])
    pred = rng.binomial(1, np.where(sex == "m", 0.5, 0.2))
    data = tmp_path / "w1.csv"
    pd.DataFrame({"label": rng.binomial(1, 0.5, 4000), "pred": pred, "sex": sex}).to_csv(
        data, index=False
    )
    junit = tmp_path / "monitor.xml"
    result = run(data, tmp_path, "--baseline-windows", 1, "--junit", junit)
    assert result.exit_code == 3
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert "<script>alert(1)</script>" in result.output  # shown as text, not run
    cases = ET.parse(junit).getroot().findall("testcase")  # well-formed XML
    assert not any("\x1b" in c.get("name") or "\u202e" in c.get("name") for c in cases)
    page = (tmp_path / "monitor.html").read_text()
    body = page[: page.index('<script type="application/json"')]
    assert "<script>alert" not in body and "\x1b" not in body and "\u202e" not in body


def test_runs_on_a_data_baseline_share_one_ledger_name_and_sign(tmp_path: Path) -> None:
    assert invoke("keygen", "-o", tmp_path / "keys", "--name", "k").exit_code == 0
    rng = np.random.default_rng(15)
    (tmp_path / "out").mkdir()
    names = []
    for week in (1, 2):
        data = window(tmp_path / f"week{week}.csv", rng)
        result = invoke(
            "monitor", data, *COLUMNS, "--baseline-windows", 1, "--state", tmp_path / "team.sqlite",
            "--sign-key", tmp_path / "keys/k.key", "-o", tmp_path / "out/monitor.html",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        names.append(json.loads((tmp_path / "out/monitor.json").read_text())["audit"]["name"])
    assert names == ["team", "team"]
    verified = invoke("verify", tmp_path / "out/monitor.html", "--key", tmp_path / "keys/k.pub")
    assert verified.exit_code == 0, verified.output
