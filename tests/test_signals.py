"""Stopping a run: SIGTERM, Ctrl-C and a killed parent leave no process and no partial output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairaudit.mitigation import WORKER_DIED, MitigationError, run_mitigations
from fairaudit.paths import atomic_write_many
from fairaudit.runtime import (
    INTERRUPTED,
    Interrupted,
    lend_worker,
    run_beside,
    signals_deferred,
    stop_on_signals,
    worker_results,
)
from tests.test_mitigation import score_inputs

HAS_PROC = Path("/proc/self/stat").exists()
needs_proc = pytest.mark.skipif(not HAS_PROC, reason="reads processes from /proc (Linux)")


def _stat(pid: str) -> tuple[str, int, int] | None:
    """Return (state, ppid, session) of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, ppid, _pgrp, session = text[text.rindex(")") + 2 :].split()[:4]
    return state, int(ppid), int(session)


def _live(predicate: Callable[[int, int], bool]) -> list[int]:
    """Return the live (not zombie) processes whose (ppid, session) satisfy the predicate."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(entry)) is not None and stat[0] != "Z":
            if predicate(stat[1], stat[2]):
                found.append(int(entry))
    return found


def _session(session: int) -> list[int]:
    return _live(lambda ppid, sid: sid == session)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


# ---------------------------------------------------------------------------------------
# The command line, on 1,000,000 rows


@pytest.fixture(scope="module")
def large_scored_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a CSV of 1,000,000 scored rows: its mitigation comparison (-j 2) lasts seconds."""
    rng = np.random.default_rng(0)
    n = 1_000_000
    sex = rng.choice(np.array(["female", "male"]), size=n, p=[0.4, 0.6])
    label = rng.random(n) < 0.5
    score = 1.0 / (1.0 + np.exp(-(1.5 * label + rng.normal(size=n) - (sex == "female") - 0.75)))
    path = tmp_path_factory.mktemp("large") / "scored.csv"
    pd.DataFrame(
        {"label": label.astype(int), "pred": (score > 0.5).astype(int), "score": score, "sex": sex}
    ).to_csv(path, index=False, float_format="%.6f")
    return path


@pytest.fixture
def started_run(
    large_scored_csv: Path, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """Start ``fairaudit run -j 2`` in its own session; yield it once its workers run."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    command = [
        sys.executable,
        "-m",
        "fairaudit",
        "run",
        str(large_scored_csv),
        "--target",
        "label",
        "--prediction-col",
        "pred",
        "--score-col",
        "score",
        "--sensitive",
        "sex",
        "--no-intervals",
        "-j",
        "2",
        "-o",
        str(out_dir) + os.sep,
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "PYTHONWARNINGS": ""},
    )
    try:
        deadline = time.monotonic() + 60
        # The main process and two workers (and maybe helpers) once mitigation runs.
        while len(_session(process.pid)) < 3 and process.poll() is None:
            assert time.monotonic() < deadline, "the workers never started"
            time.sleep(0.05)
        time.sleep(1.5)  # into the units, not just the workers' start-up
        assert process.poll() is None, process.communicate()
        yield process, out_dir
    finally:
        _kill_all(_session(process.pid))
        if process.poll() is None:
            process.kill()
        process.communicate()


def _stop_and_settle(
    process: subprocess.Popen[bytes], send: str
) -> tuple[int | None, str, list[int]]:
    """Send the signal; return the exit code, stderr, and the session's processes still
    alive 5 s later (polled: once the session is empty, nothing in it can start again)."""
    sent = time.monotonic()
    if send == "SIGINT to the group":  # what Ctrl-C in a terminal does
        os.killpg(process.pid, signal.SIGINT)
    else:
        os.kill(process.pid, getattr(signal, send))
    try:
        # A caller reading the output waits for every holder of the pipes to close them.
        _, stderr = process.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        stderr = b"(the pipes were still open after 5 s)"
    alive = [pid for pid in _session(process.pid) if pid != process.pid]
    while alive and time.monotonic() < sent + 5:
        time.sleep(0.05)
        alive = [pid for pid in _session(process.pid) if pid != process.pid]
    return process.returncode, stderr.decode(), alive


@needs_proc
@pytest.mark.parametrize(
    ("send", "exit_code", "line"),
    [
        ("SIGTERM", 143, "Error: " + INTERRUPTED.format(name="SIGTERM")),
        ("SIGINT to the group", 130, "Error: " + INTERRUPTED.format(name="SIGINT")),
    ],
)
def test_a_stopped_run_leaves_no_process_no_output_and_one_line(
    started_run: tuple[subprocess.Popen[bytes], Path], send: str, exit_code: int, line: str
) -> None:
    process, out_dir = started_run
    code, stderr, alive = _stop_and_settle(process, send)
    assert alive == [], [_cmdline(pid) for pid in alive]
    assert code == exit_code, stderr
    assert stderr == line + "\n"
    assert sorted(p.name for p in out_dir.iterdir()) == []


@needs_proc
def test_workers_exit_when_the_parent_is_killed(
    started_run: tuple[subprocess.Popen[bytes], Path],
) -> None:
    process, out_dir = started_run
    code, _, alive = _stop_and_settle(process, "SIGKILL")
    assert code == -signal.SIGKILL
    assert alive == [], [_cmdline(pid) for pid in alive]
    assert sorted(p.name for p in out_dir.iterdir()) == []


# ---------------------------------------------------------------------------------------
# The library


def _workers_of_this_process() -> list[int]:
    """Return this process's live children except multiprocessing's resource tracker."""
    me = os.getpid()
    return [
        pid
        for pid in _live(lambda ppid, sid: ppid == me)
        if "resource_tracker" not in _cmdline(pid)
    ]


@needs_proc
def test_an_interrupt_in_the_caller_terminates_the_mitigation_workers() -> None:
    before = set(_workers_of_this_process())

    def interrupt(message: str) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_mitigations(score_inputs(600_000), jobs=2, progress=interrupt)  # long enough
    deadline = time.monotonic() + 5
    while (left := set(_workers_of_this_process()) - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == set(), [_cmdline(pid) for pid in left]


@needs_proc
def test_a_worker_killed_from_outside_is_one_clear_error() -> None:
    before = set(_workers_of_this_process())

    def kill_a_worker(message: str) -> None:
        for pid in set(_workers_of_this_process()) - before:
            os.kill(pid, signal.SIGKILL)  # as the out-of-memory killer would
            break

    with pytest.raises(MitigationError) as caught:
        run_mitigations(score_inputs(600_000), jobs=2, progress=kill_a_worker)  # long enough
    assert str(caught.value) == WORKER_DIED.format(jobs=2)


def _square(value: int) -> int:
    return value * value


def test_worker_results_are_every_result_and_the_pool_is_gone() -> None:
    # Children of earlier tests (a pool being torn down) are not this pool's.
    before = set(_workers_of_this_process()) if HAS_PROC else set()
    with worker_results(_square, range(6), workers=2) as results:
        assert sorted(results) == [0, 1, 4, 9, 16, 25]
    if HAS_PROC:
        left = set(_workers_of_this_process()) - before
        deadline = time.monotonic() + 5  # terminated workers get a grace period to exit
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = set(_workers_of_this_process()) - before
        assert left == set(), [_cmdline(pid) for pid in left]


def _pid_and_square(value: int) -> tuple[int, int]:
    return os.getpid(), value * value


def _square_or_stop(value: int) -> int:
    if value == 2:  # a local item: Ctrl-C in this process, mid-work
        raise KeyboardInterrupt
    return value * value


def _wait_until_gone(before: set[int]) -> set[int]:
    """Return the worker processes of this process not in ``before``, after up to 5 s."""
    deadline = time.monotonic() + 5  # terminated workers get a grace period to exit
    while (left := set(_workers_of_this_process()) - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.mark.parametrize("lent", [True, False])
def test_run_beside_gives_every_result_and_the_lent_worker_is_gone(
    lent: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fairaudit.runtime._lent as lent_module

    monkeypatch.setattr(lent_module, "_idle_core", lambda: lent)
    before = set(_workers_of_this_process()) if HAS_PROC else set()
    with lend_worker(["numpy"]):
        results = list(run_beside(_pid_and_square, [1, 2], [3, 4, 5, 6]))
    assert sorted(value for _, value in results) == [1, 4, 9, 16, 25, 36]
    local = {value for pid, value in results if pid == os.getpid()}
    assert {1, 4} <= local  # local items never leave this process
    if not lent:
        assert len(local) == 6
    if HAS_PROC:
        left = _wait_until_gone(before)
        assert left == set(), [_cmdline(pid) for pid in left]


@needs_proc
def test_an_interrupt_beside_the_lent_worker_terminates_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import fairaudit.runtime._lent as lent_module

    monkeypatch.setattr(lent_module, "_idle_core", lambda: True)
    before = set(_workers_of_this_process())
    with pytest.raises(KeyboardInterrupt), lend_worker(["numpy"]):
        list(run_beside(_square_or_stop, [1, 2], [3]))
    left = _wait_until_gone(before)
    assert left == set(), [_cmdline(pid) for pid in left]


def test_the_lent_worker_changes_no_byte_of_the_sample_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sample audit's retraining fits run beside a worker lent at the start (on an idle
    core); with --jobs 1 they all run in the audit's process. Same report, byte for byte."""
    from click.testing import CliRunner

    import fairaudit.runtime._lent as lent_module
    from fairaudit.cli import cli

    monkeypatch.setattr(lent_module, "_idle_core", lambda: True)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    config = Path(__file__).resolve().parent.parent / "sample_data" / "audit.toml"
    outputs = []
    for name, jobs in (("lent", []), ("alone", ["--jobs", "1"])):
        (tmp_path / name).mkdir()
        html = tmp_path / name / "report.html"
        result = CliRunner().invoke(
            cli, ["run", "--config", str(config), "-o", str(html), "-q", "--no-ledger", *jobs]
        )
        assert result.exit_code == 0, result.output
        outputs.append((html.read_bytes(), html.with_suffix(".json").read_bytes()))
    assert outputs[0] == outputs[1]


def _die_while_sending_a_result(value: int) -> int:
    """Die as a worker killed while sending its result would: the pool's result pipe holds
    a message header announcing bytes that never come (found among the worker's objects)."""
    import gc
    import struct
    from multiprocessing.queues import SimpleQueue

    if value == 0:
        time.sleep(30)  # the other worker stays busy, holding the pipe open
        return value
    time.sleep(0.5)
    for queue in [o for o in gc.get_objects() if isinstance(o, SimpleQueue)]:
        os.write(queue._writer.fileno(), struct.pack("!i", 1000))  # type: ignore[attr-defined]
    os._exit(9)


def test_a_worker_that_dies_mid_result_is_an_error_not_a_hang() -> None:
    """A worker killed while sending its result left the pool waiting for the rest of the
    message forever (seen once in this file's kill test). The dead worker is now noticed,
    the other terminated and the pool's wait ended, in seconds."""
    from concurrent.futures.process import BrokenProcessPool

    def hung(signum: int, frame: object) -> None:
        raise TimeoutError("the pool hung")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    started = time.monotonic()
    try:
        with pytest.raises(BrokenProcessPool):
            with worker_results(_die_while_sending_a_result, [0, 1], workers=2) as results:
                list(results)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - started < 30  # not the busy worker's 30 s: it was terminated


def test_sigterm_becomes_interrupted_and_the_handlers_are_restored() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as caught, stop_on_signals():
        signal.raise_signal(signal.SIGTERM)
    assert caught.value.exit_code == 143
    assert str(caught.value) == INTERRUPTED.format(name="SIGTERM")
    assert isinstance(caught.value, KeyboardInterrupt)  # so KeyboardInterrupt cleanup runs
    assert signal.getsignal(signal.SIGTERM) == previous


def test_a_deferred_signal_is_raised_when_the_section_ends() -> None:
    steps = []
    with pytest.raises(Interrupted), stop_on_signals():
        with signals_deferred():
            signal.raise_signal(signal.SIGTERM)
            steps.append("after the signal")
        steps.append("after the section")
    assert steps == ["after the signal"]


def test_sigterm_while_staging_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {tmp_path / "report.html": b"<html>", tmp_path / "report.json": b"{}"}
    real_fsync = os.fsync
    calls = []

    def fsync_then_signal(fd: int) -> None:
        real_fsync(fd)
        calls.append(fd)
        if len(calls) == 2:  # both temporary files written, nothing renamed yet
            signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(os, "fsync", fsync_then_signal)
    with pytest.raises(Interrupted), stop_on_signals():
        atomic_write_many(files)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_sigterm_between_renames_waits_for_the_last_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {tmp_path / "report.html": b"<html>", tmp_path / "report.json": b"{}"}
    real_replace = os.replace

    def replace_then_signal(src: str, dst: Path) -> None:
        real_replace(src, dst)
        if Path(dst).name == "report.html":
            signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(os, "replace", replace_then_signal)
    with pytest.raises(Interrupted), stop_on_signals():
        atomic_write_many(files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.json"]
