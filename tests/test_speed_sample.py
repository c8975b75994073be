"""The sample audit's speed-ups keep results and exit statuses (issue 15; no timing here).

* ``runtime.exit_process``, which ends the console script without module teardown: the
  same exit status and output as ``sys.exit``, ``atexit`` handlers still run, and the
  normal exit when another thread still runs.
* The retraining units are queued longest first (the lent worker takes the first).
* ``run_mitigations(on_outcome=...)`` hands over every outcome, the same ones it returns.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from fairaudit.mitigation import METHODS, MitigationInputs, MitigationOutcome, run_mitigations
from fairaudit.mitigation._plan import plan_refit


def _run(code: str) -> subprocess.CompletedProcess[str]:
    program = textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("code", "status", "stderr"),
    [("None", 0, ""), ("0", 0, ""), ("3", 3, ""), ("256 + 7", 7, ""), ("'bad'", 1, "bad")],
)
def test_exit_process_gives_sys_exit_status_and_runs_atexit(
    code: str, status: int, stderr: str
) -> None:
    done = _run(
        f"""
        import atexit, sys
        from fairaudit.runtime._exit import exit_process
        atexit.register(lambda: print("atexit ran", flush=False))
        sys.stdout.write("unflushed output")
        exit_process({code})
        """
    )
    assert done.returncode == status
    assert done.stdout == "unflushed outputatexit ran\n"
    assert done.stderr.strip() == stderr


def test_exit_process_waits_for_another_running_thread() -> None:
    done = _run(
        """
        import threading, time
        from fairaudit.runtime._exit import exit_process
        def late():
            time.sleep(0.3)
            print("thread finished", flush=True)
        threading.Thread(target=late).start()
        exit_process(5)
        """
    )
    assert (done.returncode, done.stdout) == (5, "thread finished\n")


def test_the_console_script_exits_with_the_command_status(tmp_path: Path) -> None:
    entry = (
        "import sys; from fairaudit.cli import main; sys.argv = ['fairaudit', *sys.argv[1:]]; "
        "main()"
    )
    version = subprocess.run(
        [sys.executable, "-c", entry, "--version"], capture_output=True, text=True, timeout=120
    )
    assert version.returncode == 0 and version.stdout.startswith("fairaudit, version ")
    usage = subprocess.run(
        [sys.executable, "-c", entry, "no-such-command"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert usage.returncode == 2 and "No such command" in usage.stderr
    missing = subprocess.run(
        [sys.executable, "-c", entry, "run", "--config", str(tmp_path / "none.toml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 1
    assert missing.stderr.startswith("Error: config file ") and "Traceback" not in missing.stderr


def _inputs(n: int = 300) -> MitigationInputs:
    rng = np.random.default_rng(3)

    def frame(rows: int) -> tuple[pd.DataFrame, np.ndarray]:
        group = rng.choice(["a", "b"], rows)
        x = rng.normal(size=(rows, 2)) + (group == "a")[:, None]
        y = (x[:, 0] + rng.normal(size=rows)) > 0.5
        return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "group": group}), y

    train, train_y = frame(n)
    evaluation, y = frame(n)
    model = LogisticRegression().fit(train[["x1", "x2"]], train_y)
    return MitigationInputs(
        eval_features=evaluation[["x1", "x2"]],
        y_true=y,
        sensitive=evaluation[["group"]],
        estimator=model,
        score=model.predict_proba(evaluation[["x1", "x2"]])[:, 1],
        train_features=train[["x1", "x2"]],
        train_y=train_y,
        train_sensitive=train[["group"]],
    )


def test_retraining_units_are_queued_longest_first() -> None:
    methods = ["correlation_remover", "expgrad_demographic_parity", "expgrad_equalized_odds"]
    plan = plan_refit(_inputs(), methods, ["group"], seed=0)
    assert [unit.method for unit in plan.units] == [
        "expgrad_equalized_odds",
        "expgrad_demographic_parity",
        "correlation_remover",
    ]
    assert set(plan.protocols) == set(methods)


def test_every_outcome_is_handed_over_as_it_is_known() -> None:
    inputs = _inputs()
    heard: list[MitigationOutcome] = []
    chosen = [*METHODS, "threshold_equalized_odds"]  # named twice: runs once
    outcomes = run_mitigations(inputs, chosen, folds=3, jobs=1, on_outcome=heard.append)
    assert [o.method for o in outcomes] == list(METHODS)
    assert sorted(o.method for o in heard) == sorted(METHODS)
    by_method = {o.method: o for o in heard}
    for outcome in outcomes:
        assert by_method[outcome.method] is outcome
    plain = run_mitigations(inputs, chosen, folds=3, jobs=1)
    for a, b in zip(plain, outcomes):
        assert (a.method, a.status, a.reason) == (b.method, b.status, b.reason)
        assert a.y_pred is not None and b.y_pred is not None
        assert np.array_equal(a.y_pred, b.y_pred)
    # Methods settled without work are handed over too (no training set: skipped).
    untrained = MitigationInputs(
        inputs.eval_features, inputs.y_true, inputs.sensitive, inputs.estimator, inputs.score
    )
    heard.clear()
    skipped = run_mitigations(
        untrained, ["expgrad_equalized_odds"], jobs=1, on_outcome=heard.append
    )
    assert heard == skipped and skipped[0].status == "skipped"


def _square_after_marker(item: tuple[int, str]) -> tuple[int, int]:
    """Square ``value``: the shared item (3) marks that it started, then takes 1 s; a local
    item waits for that mark, so that this process is left waiting for the worker."""
    value, marker = item
    if value == 3:
        Path(marker).touch()
        time.sleep(1.0)
    else:
        deadline = time.monotonic() + 60
        while not Path(marker).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    return os.getpid(), value * value


@pytest.mark.parametrize("lent", [True, False])
def test_while_waiting_runs_its_tasks_once_when_only_the_worker_is_left(
    lent: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import fairaudit.runtime._lent as lent_module
    from fairaudit.runtime import lend_worker, run_beside, while_waiting

    monkeypatch.setattr(lent_module, "_idle_core", lambda: lent)
    ran: list[str] = []

    def failing() -> None:
        ran.append("failing")
        raise RuntimeError("dropped: the work is done again where it is needed")

    marker = str(tmp_path / "started")
    local, shared = [(1, marker), (2, marker)], [(3, marker)]
    with lend_worker(["time"]), while_waiting(lambda: ran.append("task"), failing):
        results = list(run_beside(_square_after_marker, local, shared))
    assert sorted(value for _, value in results) == [1, 4, 9]
    # With a worker, it took the shared item and this process had only the wait left: the
    # tasks ran, once each. Without one there was nothing to wait for: they did not run.
    assert any(pid != os.getpid() for pid, _ in results) is lent
    assert ran == (["task", "failing"] if lent else [])


def test_prepared_computes_once_and_again_after_a_failure() -> None:
    from fairaudit.runtime import Prepared

    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    prepared = Prepared(compute)
    prepared.prepare()
    prepared.prepare()
    assert prepared.value() == 1 and calls == [1]
    assert Prepared(compute).value() == 2  # not prepared ahead: computed when asked
    failing: Prepared[float] = Prepared(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing.prepare()  # a while_waiting task: its runner drops this
    with pytest.raises(ZeroDivisionError):
        failing.value()  # computed again where it is needed, and fails there


SAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "sample_data" / "audit.toml"


def test_only_an_audit_that_may_retrain_its_model_gets_the_early_worker() -> None:
    from fairaudit.spec import load_config

    spec = load_config(SAMPLE_CONFIG)
    assert spec.may_retrain
    for overrides in (
        {"jobs": 1},
        {"mitigations": ()},
        {"train": None},
        {"engine": "duckdb"},
        {"model": LogisticRegression()},  # in memory: the command line never has one
    ):
        assert not replace(spec, **overrides).may_retrain, overrides


def test_the_training_set_is_analysed_while_waiting_for_the_worker_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The training-data section's proxies are a ``while_waiting`` task of the comparison: run there
    (as when this process has only the wait for the lent worker left), it gives the same
    result as computed after it (no worker: the library's default). Which of the two
    happens in a real run depends on timing; ``runtime``'s own tests cover when tasks run."""
    from contextlib import contextmanager

    import fairaudit.pipe as pipe
    from fairaudit.spec import load_config

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764000000")
    spec = load_config(SAMPLE_CONFIG)
    plain = pipe.run_audit(spec)
    waiting: list[object] = []
    analysed_while_comparing: list[bool] = []
    comparing: list[bool] = []
    compare, analyse = pipe._compare_mitigations, pipe._training_section

    @contextmanager
    def while_waiting(*tasks: object) -> Iterator[None]:
        waiting.extend(tasks)
        yield

    def comparison(*args: object, **kwargs: object) -> object:
        comparing.append(True)
        try:
            outcome = compare(*args, **kwargs)  # type: ignore[arg-type]
            for task in waiting:  # this process waited for the worker: the tasks ran
                task()  # type: ignore[operator]
            return outcome
        finally:
            comparing.clear()

    def analysis(*args: object, **kwargs: object) -> object:
        analysed_while_comparing.append(bool(comparing))
        return analyse(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipe, "while_waiting", while_waiting)
    monkeypatch.setattr(pipe, "_compare_mitigations", comparison)
    monkeypatch.setattr(pipe, "_training_section", analysis)
    ahead = pipe.run_audit(spec)
    assert analysed_while_comparing == [True]  # once: the value is kept, not recomputed
    assert plain.training_data is not None and plain.training_data["proxies"]
    assert ahead.to_dict() == plain.to_dict()


def test_a_training_set_that_cannot_be_analysed_fails_before_the_comparison(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What refuses a training set (here: one class) is checked before the comparison, as
    before the proxies could wait for it: the error comes without running the fits."""
    import fairaudit.pipe as pipe
    from fairaudit.errors import DataError
    from fairaudit.spec import load_config

    spec = load_config(SAMPLE_CONFIG)
    one_class = pd.read_csv(spec.train).assign(risk=1)
    one_class.to_csv(tmp_path / "train.csv", index=False)
    compared: list[bool] = []
    monkeypatch.setattr(pipe, "_compare_mitigations", lambda *a, **k: compared.append(True))
    with pytest.raises(DataError, match="fewer than two label values") as caught:
        pipe.run_audit(replace(spec, train=tmp_path / "train.csv"))
    assert str(caught.value).startswith(f"training set '{tmp_path / 'train.csv'}': ")
    assert compared == []


def _freeze_count(_: int) -> int:
    import gc

    return gc.get_freeze_count()


def test_the_lent_worker_freezes_what_its_imports_left(monkeypatch: pytest.MonkeyPatch) -> None:
    import fairaudit.runtime._lent as lent_module
    from fairaudit.runtime import lend_worker, run_beside

    monkeypatch.setattr(lent_module, "_idle_core", lambda: True)
    with lend_worker(["fairaudit.data"]):
        lent = lent_module._LENT.get()
        assert lent is not None
        lent.ready.result(timeout=120)  # the worker has imported: it takes the shared item
        [frozen] = list(run_beside(_freeze_count, [], [0]))
    assert frozen > 10_000  # pandas and numpy's objects, out of its collector's way


def test_only_the_console_scripts_own_process_pauses_and_freezes_the_collector(
    tmp_path: Path,
) -> None:
    """In the console script's process ``run`` pauses the collector during its imports and
    freezes what they left; it is running again afterwards. Invoked in another caller's
    process (CliRunner, here), it leaves the collector alone."""
    import gc

    from click.testing import CliRunner

    from fairaudit.cli import cli

    data = tmp_path / "scored.csv"
    pd.DataFrame({"y": [0, 1] * 40, "pred": [0, 1, 1, 0] * 20, "sex": ["a"] * 40 + ["b"] * 40})\
        .to_csv(data, index=False)  # fmt: skip
    args = ["run", str(data), "--target", "y", "--prediction-col", "pred", "--sensitive", "sex"]
    args += ["--no-ledger", "-q", "-o"]
    frozen = gc.get_freeze_count()
    outcome = CliRunner().invoke(cli, [*args, str(tmp_path / "here.html")])
    assert outcome.exit_code == 0, outcome.output
    assert gc.get_freeze_count() == frozen and gc.isenabled()
    console = _run(
        f"""
        import gc
        from fairaudit.cli import cli
        from fairaudit.cli._preflight import CONSOLE_PROCESS
        try:
            cli.main({[*args, str(tmp_path / "console.html")]!r}, obj=CONSOLE_PROCESS)
        except SystemExit as exc:
            print(exc.code, gc.isenabled(), gc.get_freeze_count() > 50_000)
        """
    )
    assert console.stdout.split() == ["0", "True", "True"], console.stderr


def test_nested_while_waiting_runs_each_task_once_and_drops_its_own_on_leaving() -> None:
    import fairaudit.runtime._lent as lent_module
    from fairaudit.runtime import while_waiting

    ran: list[str] = []
    with while_waiting(lambda: ran.append("outer")):
        with while_waiting(lambda: ran.append("inner")):
            lent_module._run_waiting_tasks()  # what run_beside does when only waiting is left
        assert ran == ["outer", "inner"]
        lent_module._run_waiting_tasks()  # a later wait in the outer block: nothing again
        with while_waiting(lambda: ran.append("never")):
            pass
        lent_module._run_waiting_tasks()
    assert ran == ["outer", "inner"]


def test_a_broken_policy_fails_before_the_worker_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    import fairaudit.runtime as runtime
    from fairaudit.cli import cli

    lent: list[object] = []
    monkeypatch.setattr(runtime, "lend_worker", lambda *a: lent.append(a))
    policy = tmp_path / "policy.toml"
    policy.write_text("this is [not toml\n", encoding="utf-8")
    args = ["run", "--config", str(SAMPLE_CONFIG), "--policy", str(policy), "--no-ledger"]
    outcome = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "r.html")])
    assert outcome.exit_code == 1 and "is not valid TOML" in outcome.output
    assert lent == [] and not (tmp_path / "r.html").exists()


def test_imports_are_frozen_once_and_only_in_a_process_fairaudit_owns() -> None:
    done = _run(
        """
        import gc
        from fairaudit.runtime import imports_frozen
        with imports_frozen(False):  # a caller's process: left alone
            paused = not gc.isenabled()
        before = gc.get_freeze_count()
        with imports_frozen(True):
            paused_own = not gc.isenabled()
            import decimal
        frozen = gc.get_freeze_count()
        with imports_frozen(True):  # once per process
            paused_again = not gc.isenabled()
        print(paused, before, paused_own, frozen > 1000, paused_again, gc.isenabled(),
              gc.get_freeze_count() == frozen)
        """
    )
    assert done.stdout.split() == ["False", "0", "True", "True", "False", "True", "True"], (
        done.stderr
    )


def _worker_flag(_: int) -> bool:
    from fairaudit.runtime import in_worker_process

    return in_worker_process()


def test_only_a_pool_worker_says_it_is_one() -> None:
    from fairaudit.runtime import in_worker_process, worker_results

    with worker_results(_worker_flag, [0], workers=1) as results:
        assert list(results) == [True]
    assert not in_worker_process()


def test_scipy_special_is_imported_before_pandas_for_a_skops_model_only() -> None:
    """skops' allowlist finds scipy.special's ufuncs by walking sys.modules in import order
    (``_skops_trust.import_allowlist_first``): the run imports it before pandas."""
    done = _run(
        f"""
        import sys
        from pathlib import Path
        from fairaudit.cli._preflight import audit_function
        from fairaudit.spec import load_config
        from fairaudit._skops_trust import import_allowlist_first
        import_allowlist_first(Path("model.joblib"))
        import_allowlist_first(None)
        print("scipy.special" in sys.modules)
        audit_function(load_config(Path({str(SAMPLE_CONFIG)!r})))
        order = list(sys.modules)
        print(order.index("scipy.special") < order.index("pandas"), "skops.io" in order)
        """
    )
    assert done.stdout.split() == ["False", "True", "True"], done.stderr
