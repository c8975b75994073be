"""``fairaudit monitor``: a signed baseline, one window per run, honest alarms, exit codes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fairaudit.cli import cli

ROWS = 5000


def invoke(*args: Any) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args])


def window(
    path: Path,
    rng: np.random.Generator,
    *,
    ratio: float = 1.0,
    rows: int = ROWS,
    groups: tuple[str, ...] = ("f", "m"),
    shares: tuple[float, ...] = (0.4, 0.6),
    watched: str = "f",
) -> Path:
    """Write one window: label, pred, sex; ``watched``'s selection rate is 0.5 * ratio."""
    sex = rng.choice(list(groups), rows, p=list(shares))
    rate = np.where(sex == watched, 0.5 * ratio, 0.5)
    frame = pd.DataFrame(
        {"label": rng.binomial(1, 0.5, rows), "pred": rng.binomial(1, rate), "sex": sex}
    )
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A key pair and a signed baseline audit of a scored file (two groups, no disparity)."""
    root = tmp_path_factory.mktemp("baseline")
    assert invoke("keygen", "-o", root / "keys", "--name", "aud").exit_code == 0
    data = window(root / "base.csv", np.random.default_rng(1))
    result = invoke(
        "run",
        data,
        "--target",
        "label",
        "--prediction-col",
        "pred",
        "--sensitive",
        "sex",
        "--no-mitigation",
        "--no-ledger",
        "--sign-key",
        root / "keys/aud.key",
        "-o",
        root / "report.html",
    )
    assert result.exit_code == 0, result.output
    return {
        "page": root / "report.html",
        "json": root / "report.json",
        "pub": root / "keys/aud.pub",
        "key": root / "keys/aud.key",
        "root": root,
    }


def monitor(signed: dict[str, Path], data: Path, out: Path, *extra: Any) -> Any:
    return invoke(
        "monitor",
        data,
        "--baseline",
        signed["page"],
        "--key",
        signed["pub"],
        "-o",
        out / "monitor.html",
        *extra,
    )


def stream(
    signed: dict[str, Path], tmp_path: Path, ratios: list[float], seed: int, *extra: Any
) -> list[int]:
    rng = np.random.default_rng(seed)
    codes = []
    for week, ratio in enumerate(ratios, start=1):
        data = window(tmp_path / f"week{week:02d}.csv", rng, ratio=ratio)
        result = monitor(signed, data, tmp_path, *extra)
        assert result.exit_code in (0, 3), result.output
        codes.append(result.exit_code)
    return codes


def valid(document: dict[str, Any]) -> dict[str, Any]:
    """Return ``document`` once it follows the monitor report's JSON schema."""
    import jsonschema

    from fairaudit.monitor import MONITOR_SCHEMA_VERSION, monitor_schema_path

    schema = json.loads(monitor_schema_path().read_text())
    assert schema["$id"].endswith("/" + MONITOR_SCHEMA_VERSION)
    assert document["schema_version"] == MONITOR_SCHEMA_VERSION
    jsonschema.Draft202012Validator(schema).validate(document)
    return document


def test_a_step_change_at_week_31_alarms_within_4_windows_and_exits_3(
    signed, tmp_path: Path
) -> None:
    codes = stream(signed, tmp_path, [1.0] * 30 + [0.7] * 22, 7, "--no-ledger")
    first = codes.index(3) + 1
    assert 31 <= first <= 34, first
    assert all(c == 3 for c in codes[first - 1 :])  # an alarm stays until a new period starts
    document = valid(json.loads((tmp_path / "monitor.json").read_text()))
    alarm = document["alarms"][0]
    assert alarm["metric"] == "selection_rate" and alarm["group"] == {"sex": "f"}
    assert alarm["high"] < 0.8 and alarm["window"] == f"week{first:02d}"
    assert len(document["windows"]) == 52


def test_a_null_stream_raises_no_alarm_in_52_looks(signed, tmp_path: Path) -> None:
    codes = stream(signed, tmp_path, [1.0] * 52, 8, "--no-ledger", "--drift", "0.1")
    assert codes == [0] * 52
    document = valid(json.loads((tmp_path / "monitor.json").read_text()))
    assert document["alarms"] == [] and document["verdict"] == "pass"
    assert document["settings"]["tests"] == 6  # 1 pair x 3 rates x 2 rules
    assert document["settings"]["alpha_per_test"] == pytest.approx(0.05 / 6)


def test_a_rerun_over_a_counted_file_changes_nothing(signed, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    files = [window(tmp_path / f"w{i}.csv", rng) for i in range(3)]
    for data in files:
        assert monitor(signed, data, tmp_path).exit_code == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.suffix != ".csv"}
    result = monitor(signed, files[1], tmp_path, "--window-label", "again")
    assert result.exit_code == 0 and "already counted" in result.output
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.suffix != ".csv"}
    assert after == before


def test_incremental_runs_rebuild_the_same_json(signed, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    rng = np.random.default_rng(4)
    files = [window(tmp_path / f"w{i}.csv", rng) for i in range(3)]
    for out in ("a", "b"):
        (tmp_path / out).mkdir()
    for data in files:
        assert monitor(signed, data, tmp_path / "a", "--no-ledger").exit_code == 0
    for data in files:  # a second monitor: same windows, same order
        assert monitor(signed, data, tmp_path / "b", "--no-ledger").exit_code == 0
    assert (tmp_path / "a/monitor.json").read_bytes() == (tmp_path / "b/monitor.json").read_bytes()


def test_drift_from_the_first_windows_ignores_a_gap_the_audit_did_not_have(
    signed, tmp_path
) -> None:
    ratios = [0.7] * 12  # a steady 0.7 from the start: far from the audit's 1.0, not drifting
    quiet = ("--no-ledger", "--ratio-min", "0.5", "--drift", "0.1")
    (tmp_path / "audit").mkdir()
    (tmp_path / "first").mkdir()
    codes = stream(signed, tmp_path / "audit", ratios, 23, *quiet)
    assert codes[-1] == 3
    document = valid(json.loads((tmp_path / "audit/monitor.json").read_text()))
    assert {a["rule"] for a in document["alarms"]} == {"drift"}
    codes = stream(signed, tmp_path / "first", ratios, 23, *quiet, "--baseline-windows", "4")
    assert codes == [0] * 12
    document = valid(json.loads((tmp_path / "first/monitor.json").read_text()))
    assert document["series"][0]["baseline"]["source"] == "windows 1-4"
    assert document["settings"]["baseline_windows"] == 4


def test_a_tampered_baseline_is_refused_in_one_line(signed, tmp_path: Path) -> None:
    page = signed["page"].read_bytes()
    forged = tmp_path / "report.html"
    forged.write_bytes(page.replace(b'"tp":', b'"tp":1', 1))  # one confusion count edited
    assert forged.read_bytes() != page
    (tmp_path / "report.html.intoto.jsonl").write_bytes(
        Path(f"{signed['page']}.intoto.jsonl").read_bytes()
    )
    data = window(tmp_path / "w.csv", np.random.default_rng(5))
    result = invoke(
        "monitor", data, "--baseline", forged, "--key", signed["pub"], "-o", tmp_path / "m.html"
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert (
        not (tmp_path / "m.html").exists() and not (tmp_path / "fairaudit-monitor.sqlite").exists()
    )


def test_a_baseline_json_that_is_not_its_page_s_twin_is_refused(signed, tmp_path: Path) -> None:
    for suffix in (".html", ".html.intoto.jsonl"):
        (tmp_path / f"report{suffix}").write_bytes(
            Path(f"{signed['root']}/report{suffix}").read_bytes()
        )
    twin = json.loads(signed["json"].read_text())
    twin["metrics"]["by_group"][0]["confusion"]["tp"] += 100
    (tmp_path / "report.json").write_text(json.dumps(twin))
    data = window(tmp_path / "w.csv", np.random.default_rng(5))
    result = invoke(
        "monitor",
        data,
        "--baseline",
        tmp_path / "report.json",
        "--key",
        signed["pub"],
        "-o",
        tmp_path / "m.html",
    )
    assert result.exit_code == 1 and "JSON twin" in result.output


def test_the_baseline_needs_a_trusted_key(signed, tmp_path: Path) -> None:
    data = window(tmp_path / "w.csv", np.random.default_rng(5))
    result = invoke("monitor", data, "--baseline", signed["page"], "-o", tmp_path / "m.html")
    assert result.exit_code == 2 and "verified before use" in result.output


@pytest.mark.parametrize("which", ["window", "baseline", "ledger"])
def test_a_state_file_pointed_at_an_input_or_a_ledger_is_refused(
    signed, tmp_path: Path, which: str
) -> None:
    data = window(tmp_path / "w.csv", np.random.default_rng(6))
    assert monitor(signed, data, tmp_path).exit_code == 0  # makes a ledger beside the page
    target = {
        "window": data,
        "baseline": signed["page"],
        "ledger": tmp_path / "fairaudit-ledger.sqlite",
    }[which]
    before = target.read_bytes()
    other = window(tmp_path / "w2.csv", np.random.default_rng(7))
    result = monitor(signed, other, tmp_path, "--state", target)
    assert result.exit_code == 1 and result.output.startswith("Error: "), result.output
    assert "Traceback" not in result.output and target.read_bytes() == before


def test_an_interrupted_run_leaves_the_state_as_it_was(signed, tmp_path: Path, monkeypatch) -> None:
    rng = np.random.default_rng(9)
    first, second = window(tmp_path / "w1.csv", rng), window(tmp_path / "w2.csv", rng)
    assert monitor(signed, first, tmp_path).exit_code == 0
    state = tmp_path / "fairaudit-monitor.sqlite"
    before = state.read_bytes()
    import fairaudit.monitor._report as report

    def fail(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt  # the process stops while the page is being written

    monkeypatch.setattr(report, "publish_monitor", fail)
    stopped = monitor(signed, second, tmp_path)  # Ctrl-C: one line, exit 130
    assert stopped.exit_code == 130 and "interrupted by SIGINT" in stopped.output
    assert state.read_bytes() == before
    monkeypatch.undo()
    result = monitor(signed, second, tmp_path)
    assert result.exit_code == 0 and "2 windows" in result.output


def test_an_edited_state_fails_verification(signed, tmp_path: Path) -> None:
    rng = np.random.default_rng(10)
    assert monitor(signed, window(tmp_path / "w1.csv", rng), tmp_path).exit_code == 0
    state = tmp_path / "fairaudit-monitor.sqlite"
    with sqlite3.connect(state) as connection:
        counts = json.loads(connection.execute("SELECT counts FROM windows").fetchone()[0])
        counts[0]["fp"] += 50
        connection.execute("UPDATE windows SET counts = ?", (json.dumps(counts),))
    result = monitor(signed, window(tmp_path / "w2.csv", rng), tmp_path)
    assert result.exit_code == 1 and "fails verification at window 1" in result.output


def test_other_rules_on_the_same_state_are_refused(signed, tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    assert monitor(signed, window(tmp_path / "w1.csv", rng), tmp_path).exit_code == 0
    result = monitor(signed, window(tmp_path / "w2.csv", rng), tmp_path, "--alpha", "0.2")
    assert result.exit_code == 1 and "started with different rules" in result.output


def test_two_files_feeding_one_window_add_up(signed, tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    halves = [window(tmp_path / f"d{i}.csv", rng, rows=2500) for i in range(2)]
    for half in halves:
        assert monitor(signed, half, tmp_path, "--window-label", "w1").exit_code == 0
    document = valid(json.loads((tmp_path / "monitor.json").read_text()))
    assert [w["label"] for w in document["windows"]] == ["w1"]
    assert document["windows"][0]["rows"] == 5000 and len(document["windows"][0]["files"]) == 2
    frames = pd.concat([pd.read_csv(h) for h in halves])
    selected = frames[frames.sex == "f"].pred.sum()
    row = next(s for s in document["series"] if s["metric"] == "selection_rate")["windows"][0]
    assert row["successes"] == selected and row["trials"] == (frames.sex == "f").sum()


def test_rows_for_an_older_window_are_refused(signed, tmp_path: Path) -> None:
    rng = np.random.default_rng(25)
    for label in ("w1", "w2"):
        data = window(tmp_path / f"{label}.csv", rng)
        assert monitor(signed, data, tmp_path, "--window-label", label).exit_code == 0
    state = (tmp_path / "fairaudit-monitor.sqlite").read_bytes()
    late = window(tmp_path / "late.csv", rng, rows=500)
    result = monitor(signed, late, tmp_path, "--window-label", "w1")
    assert result.exit_code == 1 and "is already counted after it" in result.output
    assert (tmp_path / "fairaudit-monitor.sqlite").read_bytes() == state
    assert monitor(signed, late, tmp_path, "--window-label", "w2").exit_code == 0  # the latest


def log(path: Path, rng: np.random.Generator, weeks: int, change: int) -> Path:
    """Write a log of ``weeks`` ISO weeks from Monday 2026-01-05; ratio 0.7 from ``change``."""
    rows = 4000 * weeks
    seconds = np.sort(rng.integers(0, weeks * 7 * 86400, rows))
    week = seconds // (7 * 86400) + 1
    sex = rng.choice(["f", "m"], rows, p=[0.4, 0.6])
    rate = np.where((sex == "f") & (week >= change), 0.35, 0.5)
    stamps = pd.Timestamp("2026-01-05") + pd.to_timedelta(seconds, unit="s")
    frame = pd.DataFrame(
        {
            "ts": stamps.astype(str),
            "label": rng.binomial(1, 0.5, rows),
            "pred": rng.binomial(1, rate),
            "sex": sex,
        }
    )
    frame.to_csv(path, index=False)
    return path


def test_a_log_cut_by_week_equals_its_parts_counted_day_by_day(signed, tmp_path: Path) -> None:
    whole = log(tmp_path / "log.csv", np.random.default_rng(21), weeks=10, change=7)
    (tmp_path / "one").mkdir()
    result = monitor(signed, whole, tmp_path / "one", "--time-col", "ts", "--window", "week")
    assert result.exit_code == 3 and "ALARM window 2026-W" in result.output
    frame = pd.read_csv(whole)
    (tmp_path / "parts").mkdir()
    for day, rows in frame.groupby(frame.ts.str[:10]):  # daily files; weeks fed by 7 files
        part = tmp_path / f"parts/{day}.csv"
        rows.to_csv(part, index=False)
        monitor(signed, part, tmp_path / "parts", "--time-col", "ts", "--window", "week")
    one = json.loads((tmp_path / "one/monitor.json").read_text())
    parts = json.loads((tmp_path / "parts/monitor.json").read_text())
    assert [w["label"] for w in one["windows"]] == [f"2026-W{k:02d}" for k in range(2, 12)]
    for key in ("series", "alarms"):
        assert one[key] == parts[key]
    assert one["alarms"][0]["window_seq"] in range(7, 11)  # weeks 7-10 of the log


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_log_cut_out_of_core_by_duckdb_equals_the_in_memory_cut(signed, tmp_path, suffix) -> None:
    pytest.importorskip("duckdb")
    whole = log(tmp_path / "log.csv", np.random.default_rng(28), weeks=6, change=4)
    if suffix == ".parquet":
        frame = pd.read_csv(whole)
        frame["ts"] = pd.to_datetime(frame["ts"])
        whole = tmp_path / "log.parquet"
        frame.to_parquet(whole)
    for engine in ("numpy", "duckdb"):
        (tmp_path / engine).mkdir()
        args = ("--time-col", "ts", "--window", "week", "--engine", engine, "--no-ledger")
        assert monitor(signed, whole, tmp_path / engine, *args).exit_code in (0, 3)
    numpy_json = valid(json.loads((tmp_path / "numpy/monitor.json").read_text()))
    duckdb_json = valid(json.loads((tmp_path / "duckdb/monitor.json").read_text()))
    assert [w["label"] for w in duckdb_json["windows"]] == [f"2026-W{k:02d}" for k in range(2, 8)]
    assert numpy_json["series"] == duckdb_json["series"]
    assert numpy_json["alarms"] == duckdb_json["alarms"]


def test_a_bad_window_option_is_one_line(signed, tmp_path: Path) -> None:
    data = window(tmp_path / "w.csv", np.random.default_rng(22))
    result = monitor(signed, data, tmp_path, "--time-col", "ts", "--window", "fortnight")
    assert result.exit_code == 1 and result.output.startswith("Error: --window takes")
    assert monitor(signed, data, tmp_path, "--window", "week").exit_code == 2
    for engine in ("numpy", "duckdb"):
        args = ("--time-col", "sex", "--window", "week", "--engine", engine)
        result = monitor(signed, data, tmp_path, *args)
        assert result.exit_code == 1 and "not dates or times" in result.output
        args = ("--time-col", "when", "--window", "week", "--engine", engine)
        result = monitor(signed, data, tmp_path, *args)
        assert result.exit_code == 1 and "'when' is not in w.csv" in result.output


def test_tiny_windows_and_empty_groups_do_not_alarm(signed, tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    tiny = window(tmp_path / "tiny.csv", rng, rows=3, groups=("f", "m"), shares=(0.5, 0.5))
    only_m = window(tmp_path / "only_m.csv", rng, rows=200, groups=("m",), shares=(1.0,))
    for data in (tiny, only_m):
        result = monitor(signed, data, tmp_path, "--drift", "0")
        assert result.exit_code == 0, result.output
    document = valid(json.loads((tmp_path / "monitor.json").read_text()))
    rows = document["series"][0]["windows"]
    assert (
        rows[1]["trials"] == 0 and rows[1]["rate"] is None and rows[1]["ratio_anytime"][1] is None
    )


def test_more_than_two_groups_name_the_group_that_drifts(signed, tmp_path: Path) -> None:
    rng = np.random.default_rng(14)
    groups, shares = ("f", "m", "x"), (0.3, 0.4, 0.3)
    for week in range(1, 9):
        ratio = 1.0 if week < 4 else 0.6
        data = window(
            tmp_path / f"w{week}.csv", rng, groups=groups, shares=shares, watched="f", ratio=ratio
        )
        result = monitor(signed, data, tmp_path, "--no-ledger", "--metric", "selection_rate")
    assert result.exit_code == 3
    document = valid(json.loads((tmp_path / "monitor.json").read_text()))
    assert {a["group_label"] for a in document["alarms"]} == {"sex=f"}
    assert "sex=f vs sex=m, selection_rate" in result.output
    # x is not in the baseline: reported, not watched (the tests were fixed by the baseline)
    assert [u["group_label"] for u in document["unmonitored"]] == ["sex=x"]
    assert document["settings"]["tests"] == 1


def test_the_run_is_a_signed_monitor_entry_in_the_ledger(signed, tmp_path: Path) -> None:
    from fairaudit.provenance import read_entries, verify_ledger

    result = monitor(
        signed,
        window(tmp_path / "w.csv", np.random.default_rng(15)),
        tmp_path,
        "--sign-key",
        signed["key"],
        "--junit",
        tmp_path / "m.xml",
    )
    assert result.exit_code == 0, result.output
    assert invoke("verify", tmp_path / "monitor.html", "--key", signed["pub"]).exit_code == 0
    entries = read_entries(tmp_path / "fairaudit-ledger.sqlite", kind="monitor")
    document = valid(json.loads((tmp_path / "monitor.json").read_text()))
    assert [e.audit_id for e in entries] == [document["audit"]["id"]]
    assert entries[0].kind == "monitor" and entries[0].verdict == "pass"
    assert verify_ledger(tmp_path / "fairaudit-ledger.sqlite").ok
    assert b'failures="0"' in (tmp_path / "m.xml").read_bytes()


def test_a_legacy_ledger_takes_a_monitor_entry_and_still_verifies(signed, tmp_path: Path) -> None:
    import shutil

    from fairaudit.provenance import read_entries, verify_ledger

    ledger = tmp_path / "old.sqlite"
    shutil.copy(Path(__file__).parent / "data/legacy-ledger-v1.sqlite", ledger)
    data = window(tmp_path / "w.csv", np.random.default_rng(16))
    assert monitor(signed, data, tmp_path, "--ledger", ledger).exit_code == 0
    assert verify_ledger(ledger).ok
    assert [e.kind for e in read_entries(ledger)][-1] == "monitor"


def test_hostile_group_names_are_escaped(signed, tmp_path: Path) -> None:
    rng = np.random.default_rng(17)
    data = window(
        tmp_path / "w.csv", rng, groups=("m", "<script>alert(1)</script>"), shares=(0.6, 0.4)
    )
    result = monitor(signed, data, tmp_path)
    assert result.exit_code == 0, result.output
    page = (tmp_path / "monitor.html").read_text()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_the_policy_monitor_table_sets_the_rules(signed, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[monitor]\nmetrics = ["selection_rate"]\nratio_min = 0.9\ndrift = 0.05\nhorizon = 52\n'
    )
    result = monitor(
        signed, window(tmp_path / "w.csv", np.random.default_rng(18)), tmp_path, "--policy", policy
    )
    assert result.exit_code == 0, result.output
    settings = json.loads((tmp_path / "monitor.json").read_text())["settings"]
    assert settings["metrics"] == ["selection_rate"] and settings["ratio_min"] == 0.9
    assert settings["horizon"] == 52 and settings["tests"] == 2
    policy.write_text("[monitor]\nratio_mn = 0.9\n")
    result = monitor(
        signed, window(tmp_path / "w2.csv", np.random.default_rng(18)), tmp_path, "--policy", policy
    )
    assert result.exit_code == 1 and "unknown [monitor] key 'ratio_mn'" in result.output


def test_window_rates_equal_fairlearn_metricframe(signed, tmp_path: Path) -> None:
    from fairlearn.metrics import MetricFrame, selection_rate, true_positive_rate

    data = window(tmp_path / "w.csv", np.random.default_rng(19), ratio=0.8)
    assert monitor(signed, data, tmp_path).exit_code == 0
    frame = pd.read_csv(data)
    expected = MetricFrame(
        metrics={"selection_rate": selection_rate, "true_positive_rate": true_positive_rate},
        y_true=frame["label"],
        y_pred=frame["pred"],
        sensitive_features=frame["sex"],
    ).by_group
    for entry in json.loads((tmp_path / "monitor.json").read_text())["series"]:
        if entry["metric"] in expected.columns:
            row = entry["windows"][0]
            assert row["rate"] == pytest.approx(expected.loc["f", entry["metric"]], abs=1e-12)
            assert row["reference_rate"] == pytest.approx(
                expected.loc["m", entry["metric"]], abs=1e-12
            )


def test_numpy_and_duckdb_windows_agree(signed, tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("duckdb")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    data = window(tmp_path / "w.csv", np.random.default_rng(20))
    for engine in ("numpy", "duckdb"):
        (tmp_path / engine).mkdir()
        assert (
            monitor(signed, data, tmp_path / engine, "--engine", engine, "--no-ledger").exit_code
            == 0
        )
    numpy_json = json.loads((tmp_path / "numpy/monitor.json").read_text())
    duckdb_json = json.loads((tmp_path / "duckdb/monitor.json").read_text())
    assert numpy_json["series"] == duckdb_json["series"]


def test_a_model_baseline_counts_windows_with_its_model_and_refuses_a_changed_one(
    signed, tmp_path: Path
) -> None:
    import shutil

    sample = Path(__file__).resolve().parent.parent / "sample_data"
    for name in ("german_eval.csv", "german_credit_model.skops"):
        shutil.copy(sample / name, tmp_path / name)
    (tmp_path / "base").mkdir()
    result = invoke(
        "run", tmp_path / "german_eval.csv", "--model", tmp_path / "german_credit_model.skops",
        "--target", "risk", "--sensitive", "sex", "--no-mitigation", "--no-ledger",
        "--sign-key", signed["key"], "-o", tmp_path / "base/report.html",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    args = ("--baseline", tmp_path / "base/report.html", "--key", signed["pub"], "--no-ledger")
    result = invoke("monitor", tmp_path / "german_eval.csv", *args, "-o", tmp_path / "m.html")
    assert result.exit_code == 0, result.output
    document = valid(json.loads((tmp_path / "m.json").read_text()))
    baseline = {(c["group"]["sex"], c["tp"], c["fp"]) for c in document["baseline"]["counts"]}
    first = next(s for s in document["series"] if s["metric"] == "selection_rate")
    assert first["windows"][0]["trials"] + first["windows"][0]["reference_trials"] == sum(
        c["tp"] + c["fp"] + c["fn"] + c["tn"] for c in document["baseline"]["counts"]
    )
    assert len(baseline) == 2
    with open(tmp_path / "german_credit_model.skops", "ab") as fh:
        fh.write(b"\0")  # the model file changed since the signed audit
    again = window(tmp_path / "w2.csv", np.random.default_rng(26))
    result = invoke("monitor", again, *args, "-o", tmp_path / "m.html")
    assert result.exit_code == 1 and "has changed since the baseline audit" in result.output
    assert result.output.count("\n") == 1 and "(SHA-256 " in result.output


def test_bad_rule_options_and_a_spent_horizon_are_one_line(signed, tmp_path: Path) -> None:
    rng = np.random.default_rng(27)
    data = window(tmp_path / "w0.csv", rng)
    result = monitor(signed, data, tmp_path, "--alpha", "0")
    assert result.exit_code == 1 and result.output == (
        "Error: --alpha must be a number strictly between 0 and 1, got 0.0\n"
    )
    for week in (1, 2):
        data = window(tmp_path / f"w{week}.csv", rng)
        assert monitor(signed, data, tmp_path, "--horizon", "2").exit_code == 0
    state = (tmp_path / "fairaudit-monitor.sqlite").read_bytes()
    result = monitor(signed, window(tmp_path / "w3.csv", rng), tmp_path, "--horizon", "2")
    assert result.exit_code == 1 and "horizon" in result.output and result.output.count("\n") == 1
    assert (tmp_path / "fairaudit-monitor.sqlite").read_bytes() == state


def test_the_bernoulli_boundary_is_chosen_for_the_whole_period(signed, tmp_path: Path) -> None:
    rng = np.random.default_rng(29)
    for week in (1, 2):
        data = window(tmp_path / f"w{week}.csv", rng)
        result = monitor(signed, data, tmp_path, "--boundary", "bernoulli", "--no-ledger")
        assert result.exit_code == 0, result.output
    document = valid(json.loads((tmp_path / "monitor.json").read_text()))
    assert document["settings"]["boundary"] == "bernoulli"
    low, high = document["series"][0]["windows"][0]["ratio_anytime"]
    assert low < 1 < high
    result = monitor(signed, window(tmp_path / "w3.csv", rng), tmp_path, "--no-ledger")
    assert result.exit_code == 1 and "started with different rules" in result.output
