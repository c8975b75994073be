"""``fairaudit monitor`` with late labels: prediction-only windows, pending label metrics, and
the labels filling in later (the same rows, never counted twice)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from tests.test_monitor import monitor, signed, valid, window

__all__ = ["signed"]  # the fixture, shared with test_monitor


def unlabelled(path: Path, out: Path, *, drop: bool = False) -> Path:
    """Write ``path``'s rows without labels: the column emptied (or dropped)."""
    frame = pd.read_csv(path)
    frame = frame.drop(columns=["label"]) if drop else frame.assign(label=None)
    frame.to_csv(out, index=False)
    return out


def series(document: dict, metric: str) -> dict:
    return next(s for s in document["series"] if s["metric"] == metric)


def test_a_window_without_labels_shows_selection_and_marks_label_metrics_pending(
    signed, tmp_path: Path
) -> None:
    rng = np.random.default_rng(3)
    first = window(tmp_path / "w1-full.csv", rng)
    second = window(tmp_path / "w2-full.csv", rng)
    args = ("--no-ledger", "--state", tmp_path / "state.sqlite")
    assert monitor(signed, first, tmp_path, *args, "--window-label", "w1").exit_code == 0
    empty = unlabelled(second, tmp_path / "w2-empty.csv")
    result = monitor(signed, empty, tmp_path, *args, "--window-label", "w2")
    assert result.exit_code == 0, result.output
    document = valid(json.loads((tmp_path / "monitor.json").read_text()))
    assert [w["labels_pending"] for w in document["windows"]] == [False, True]
    selection = series(document, "selection_rate")["windows"][1]
    truth = pd.read_csv(second)
    f = truth[truth.sex == "f"]
    assert selection["trials"] == len(f) and selection["successes"] == int(f.pred.sum())
    assert not selection["pending"]
    for metric in ("true_positive_rate", "false_positive_rate"):
        row = series(document, metric)["windows"][1]
        assert row["pending"] and row["trials"] == 0 and row["reference_trials"] == 0
    page = (tmp_path / "monitor.html").read_text()
    assert "labels pending" in page and "labels have not arrived" in page

    # The labels arrive: the same rows with labels replace the window's counts (not added).
    full_state = tmp_path / "full.sqlite"
    (tmp_path / "ref").mkdir()
    for label, path in (("w1", first), ("w2", second)):
        assert monitor(signed, path, tmp_path / "ref", "--no-ledger", "--state", full_state,
                       "--window-label", label).exit_code == 0  # fmt: skip
    reference = json.loads((tmp_path / "ref/monitor.json").read_text())
    result = monitor(signed, second, tmp_path, *args, "--window-label", "w2")
    assert result.exit_code == 0, result.output
    filled = valid(json.loads((tmp_path / "monitor.json").read_text()))
    assert filled["series"] == reference["series"]
    assert [w["rows"] for w in filled["windows"]] == [w["rows"] for w in reference["windows"]]
    assert not any(w["labels_pending"] for w in filled["windows"])


def test_labels_for_other_rows_or_out_of_order_are_refused_and_nothing_written(
    signed, tmp_path: Path
) -> None:
    rng = np.random.default_rng(4)
    state = tmp_path / "state.sqlite"
    args = ("--no-ledger", "--state", state)
    full = [window(tmp_path / f"w{i}-full.csv", rng) for i in (1, 2, 3)]
    for i, path in enumerate(full[:2], start=1):
        empty = unlabelled(path, tmp_path / f"w{i}.csv", drop=i == 2)
        assert monitor(signed, empty, tmp_path, *args).exit_code == 0
    before = state.read_bytes()
    other = window(tmp_path / "w1-other.csv", rng)  # labelled, but not w1's rows
    result = monitor(signed, other, tmp_path, *args, "--window-label", "w1")
    assert result.exit_code == 1 and "differ from the counted ones" in result.output
    assert state.read_bytes() == before
    # w2's labels first, then w1's: out of window order, refused
    assert monitor(signed, full[1], tmp_path, *args, "--window-label", "w2").exit_code == 0
    result = monitor(signed, full[0], tmp_path, *args, "--window-label", "w1")
    assert result.exit_code == 1 and "a later window already has its labels" in result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    # a rerun of labels already counted changes nothing
    after = state.read_bytes()
    assert monitor(signed, full[1], tmp_path, *args, "--window-label", "w2").exit_code == 0
    assert state.read_bytes() == after


def test_text_labels_with_a_named_positive_label_can_be_pending_then_filled(
    tmp_path: Path,
) -> None:
    from tests.test_monitor import invoke

    rng = np.random.default_rng(5)
    rows = 3000
    frame = pd.DataFrame(
        {
            "label": rng.choice(["good", "bad"], rows),
            "pred": rng.choice(["good", "bad"], rows),
            "sex": rng.choice(["f", "m"], rows),
        }
    )
    frame.to_csv(tmp_path / "a.csv", index=False)
    later = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
    later.to_csv(tmp_path / "b-labels.csv", index=False)
    later.assign(label=None).to_csv(tmp_path / "b.csv", index=False)
    args = ("--target", "label", "--prediction-col", "pred", "--sensitive", "sex")
    args += ("--positive-label", "good", "--baseline-windows", "1", "--no-ledger")
    out = ("-o", tmp_path / "monitor.html")
    assert invoke("monitor", tmp_path / "a.csv", *args, *out).exit_code == 0
    result = invoke("monitor", tmp_path / "b.csv", *args, *out)
    assert result.exit_code == 0, result.output
    pending = json.loads((tmp_path / "monitor.json").read_text())
    assert [w["labels_pending"] for w in pending["windows"]] == [False, True]
    result = invoke("monitor", tmp_path / "b-labels.csv", *args, "--window-label", "b", *out)
    assert result.exit_code == 0, result.output
    filled = valid(json.loads((tmp_path / "monitor.json").read_text()))
    tpr = series(filled, "true_positive_rate")["windows"]
    assert tpr[1]["trials"] == tpr[0]["trials"] > 0  # the same rows, shuffled
    assert (
        series(filled, "selection_rate")["windows"] == series(pending, "selection_rate")["windows"]
    )
