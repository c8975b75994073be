"""Review fixes of ``fairaudit monitor``: a fixed family of tests, escaped names, epoch
times, windows without the reference group, the state's chain head, messages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.test_monitor import monitor, signed, valid, window

__all__ = ["signed"]  # the fixture, shared with test_monitor


def many_groups(path: Path, rng: np.random.Generator, extra: int = 20) -> Path:
    """A window of f and m (no disparity) and ``extra`` groups the baseline never saw."""
    frame = pd.read_csv(window(path, rng))
    new = pd.DataFrame(
        {
            "label": rng.binomial(1, 0.5, 40 * extra),
            "pred": rng.binomial(1, 0.5, 40 * extra),
            "sex": [f"new{i}" for i in range(extra) for _ in range(40)],
        }
    )
    pd.concat([frame, new]).to_csv(path, index=False)
    return path


def test_new_groups_do_not_change_the_tests_nor_erase_an_earlier_alarm(signed, tmp_path) -> None:
    rng = np.random.default_rng(3)
    first = monitor(signed, window(tmp_path / "w1.csv", rng, ratio=0.55), tmp_path, "--no-ledger")
    assert first.exit_code == 3, first.output
    before = json.loads((tmp_path / "monitor.json").read_text())
    second = monitor(signed, many_groups(tmp_path / "w2.csv", rng), tmp_path, "--no-ledger")
    assert second.exit_code == 3, second.output
    after = valid(json.loads((tmp_path / "monitor.json").read_text()))
    assert after["settings"]["tests"] == before["settings"]["tests"] == 3
    assert after["alarms"][0] == before["alarms"][0]
    w1 = [s["windows"][0] for s in after["series"]]
    assert w1 == [s["windows"][0] for s in before["series"]]  # earlier intervals unchanged
    assert len(after["unmonitored"]) == 20
    assert {u["first_window"] for u in after["unmonitored"]} == {"w2"}
    assert (
        "notice: 20 group(s) not in the baseline, not monitored (the page lists them): "
        "sex=new0 (since w2); sex=new1 (since w2);"
    ) in second.output
    assert "and 15 more\n" in second.output
    page = (tmp_path / "monitor.html").read_text()
    assert "Unmonitored groups" in page and "sex=new19" in page


def test_an_alarm_once_raised_is_kept_in_later_reports() -> None:
    from fairaudit.monitor._analysis import analyse
    from fairaudit.monitor._settings import MonitorSettings
    from fairaudit.monitor._window import Window

    counts = [
        {"grouping": "sex", "group": {"sex": "f"}, "tp": 500, "fp": 500, "fn": 500, "tn": 500},
        {"grouping": "sex", "group": {"sex": "m"}, "tp": 750, "fp": 750, "fn": 750, "tn": 750},
    ]
    windows = [Window(1, "w1", 5000, ("x",), counts, "")]
    references = {"sex": {"sex": "m"}}
    settings = MonitorSettings(metrics=("selection_rate",))
    kept = {
        "grouping": "sex",
        "group": {"sex": "f"},
        "reference": {"sex": "m"},
        "metric": "selection_rate",
        "rule": "window ratio",
        "window": "w0",
        "window_seq": 1,
        "group_label": "sex=f",
        "reference_label": "sex=m",
        "span_start": "w0",
        "estimate": 0.5,
        "low": 0.4,
        "high": 0.6,
        "bound": 0.8,
    }
    quiet = analyse(windows, counts, references, ["sex"], settings)
    assert quiet["alarms"] == []
    kept_run = analyse(windows, counts, references, ["sex"], settings, [kept])
    assert [a["window"] for a in kept_run["alarms"]] == ["w0"]
    assert kept_run["series"][0]["alarms"] == kept_run["alarms"]


def test_an_alarm_line_escapes_names_from_the_data() -> None:
    from fairaudit.monitor import alarm_line

    alarm = {
        "window": "w\x1b[2J1",
        "rule": "window ratio",
        "grouping": "sex",
        "group_label": "sex=f\nALARM window w9 (forged)",
        "reference_label": "sex=\x1b]8;;http://x\x07m",
        "metric": "selection_rate",
        "estimate": 0.5,
        "low": 0.4,
        "high": 0.6,
        "bound": 0.8,
        "span_start": "w\r1",
    }
    line = alarm_line(alarm)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\x07" not in line
    assert line.count("ALARM") == 2 and line.startswith("ALARM window w")


@pytest.mark.parametrize("engine", ["numpy", "duckdb"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_epoch_second_times_are_refused_alike_on_both_engines(
    signed, tmp_path, engine, suffix
) -> None:
    if engine == "duckdb":
        pytest.importorskip("duckdb")
    rng = np.random.default_rng(5)
    frame = pd.read_csv(window(tmp_path / "w.csv", rng, rows=200))
    frame.insert(0, "ts", 1_767_600_000 + np.arange(200) * 3600)  # epoch seconds, Jan 2026
    data = tmp_path / f"log{suffix}"
    frame.to_parquet(data) if suffix == ".parquet" else frame.to_csv(data, index=False)
    result = monitor(
        signed,
        data,
        tmp_path,
        "--no-ledger",
        "--time-col",
        "ts",
        "--window",
        "week",
        "--engine",
        engine,
    )
    assert result.exit_code == 1
    assert result.output == (
        "Error: the time column 'ts' holds numbers, not dates or times (epoch seconds?); "
        "write it as ISO 8601 text (2026-01-05T08:00:00Z) or a timestamp column\n"
    )
    assert not (tmp_path / "monitor.html").exists()


def test_a_window_without_the_reference_group_is_counted_with_no_data_for_its_comparisons(
    signed, tmp_path
) -> None:
    rng = np.random.default_rng(8)
    assert monitor(signed, window(tmp_path / "w1.csv", rng), tmp_path, "--no-ledger").exit_code == 0
    small = window(tmp_path / "w2.csv", rng, rows=60, groups=("f",), shares=(1.0,))
    result = monitor(signed, small, tmp_path, "--no-ledger")
    assert result.exit_code == 0, result.output
    document = valid(json.loads((tmp_path / "monitor.json").read_text()))
    assert [w["rows"] for w in document["windows"]] == [5000, 60]
    for series in document["series"]:
        row = series["windows"][1]
        assert row["reference_trials"] == 0 and row["ratio"] is None
        assert row["ratio_anytime"] == [None, None]
    third = monitor(signed, window(tmp_path / "w3.csv", rng, ratio=0.5), tmp_path, "--no-ledger")
    assert third.exit_code == 3  # the stream goes on: later windows are judged


def _two_runs(signed, tmp_path, seed: int) -> tuple[Path, list[Path]]:
    """Run the monitor on two of three windows into tmp_path/state.sqlite (with a ledger)."""
    rng = np.random.default_rng(seed)
    state = tmp_path / "state.sqlite"
    files = [window(tmp_path / f"w{i}.csv", rng) for i in range(1, 4)]
    for data in files[:2]:
        assert monitor(signed, data, tmp_path, "--state", state).exit_code == 0
    return state, files


def test_a_truncated_state_is_refused_against_the_ledger(signed, tmp_path) -> None:
    import sqlite3

    state, files = _two_runs(signed, tmp_path, 9)
    document = valid(json.loads((tmp_path / "monitor.json").read_text()))
    with sqlite3.connect(state) as db:
        last = db.execute("SELECT entry_hash FROM windows ORDER BY seq DESC").fetchone()[0]
        assert document["state"]["chunks"] == 2 and document["state"]["head"] == last
        db.execute("DELETE FROM windows WHERE seq = 2")  # the chain of what is left verifies
    db.close()
    result = monitor(signed, files[2], tmp_path, "--state", state)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: the monitor state {state} is behind the ledger")
    assert "left 2 chunk(s)" in result.output and result.output.count("\n") == 1
    # a new monitoring period: another state file, same page and ledger, is not refused
    fresh = monitor(signed, files[2], tmp_path, "--state", tmp_path / "period2.sqlite")
    assert fresh.exit_code == 0, fresh.output


def test_messages_name_the_file_the_rules_and_the_label_already_counted(signed, tmp_path) -> None:
    rng = np.random.default_rng(10)
    data = window(tmp_path / "w1.csv", rng)
    assert monitor(signed, data, tmp_path, "--no-ledger").exit_code == 0
    again = monitor(signed, data, tmp_path, "--no-ledger", "--window-label", "2026-W09")
    assert again.exit_code == 0
    assert "already counted under window 'w1', not '2026-W09'; nothing added" in again.output
    empty = tmp_path / "empty.csv"
    empty.write_text("label,pred,sex\n")
    result = monitor(signed, empty, tmp_path, "--no-ledger")
    assert result.exit_code == 1 and result.output == f"Error: data file '{empty}' has no rows\n"
    other = monitor(
        signed, window(tmp_path / "w2.csv", rng), tmp_path, "--no-ledger", "--drift", "0.1"
    )
    assert other.exit_code == 1
    assert "was started with different rules (--metric, --ratio-min" in other.output


def test_deleting_the_json_beside_the_page_does_not_turn_the_head_check_off(
    signed, tmp_path
) -> None:
    # review R3: deleting the last rows AND monitor.json ran (exit 0) on the truncated state
    import sqlite3

    state, files = _two_runs(signed, tmp_path, 11)
    with sqlite3.connect(state) as db:
        db.execute("DELETE FROM windows WHERE seq = 2")
    db.close()
    report = tmp_path / "monitor.json"
    report.unlink()
    result = monitor(signed, files[2], tmp_path, "--state", state)
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert result.output.startswith(f"Error: the monitor state {state} cannot be checked")
    assert "missing or unreadable" in result.output and not report.exists()
    report.write_text('{"audit": {"id": "0"}, "state": {"chunks": 1, "head": ""}}')
    forged = monitor(signed, files[2], tmp_path, "--state", state)
    assert forged.exit_code == 1 and "not the JSON the ledger recorded" in forged.output
    # a new monitoring period (a new state file) still starts
    fresh = monitor(signed, files[2], tmp_path, "--state", tmp_path / "period2.sqlite")
    assert fresh.exit_code == 0, fresh.output


def test_a_state_rehashed_without_its_id_is_refused_against_the_ledger(signed, tmp_path) -> None:
    # review R3: dropping state_id from the binding, deleting the last row and rehashing
    # the (unkeyed) chain verified and skipped the head check (exit 0)
    import sqlite3

    from fairaudit.monitor import _state

    state, files = _two_runs(signed, tmp_path, 12)
    with sqlite3.connect(state) as db:
        binding = json.loads(
            db.execute("SELECT value FROM meta WHERE key = 'binding'").fetchone()[0]
        )
        del binding["state_id"]
        db.execute("UPDATE meta SET value = ? WHERE key = 'binding'", (json.dumps(binding),))
        db.execute("DELETE FROM windows WHERE seq = 2")
        row = db.execute(f"SELECT {_state._COLUMNS} FROM windows").fetchone()
        kept = _state.StoredWindow(*row[:4], json.loads(row[4]), row[5], "")
        previous = _state.binding_hash(binding)
        db.execute(
            "UPDATE windows SET previous_hash = ?, entry_hash = ?",
            (previous, _state._entry_hash(kept, previous)),
        )
    db.close()
    result = monitor(signed, files[2], tmp_path, "--state", state)
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert result.output.startswith(f"Error: the monitor state {state} is not the state")
