"""A worker process started early and lent to a run's stages, to work beside the main one.

A small audit's mitigation comparison runs in the main process: starting worker processes
when the comparison begins costs more than it saves, as each imports scikit-learn and
fairlearn (1-2 s) first. ``lend_worker`` starts one worker at the start of the run
instead: it imports those on the other core while the main process reads the data, loads
the model and measures. ``run_beside`` then runs units of work in the main process and in
that worker at once. The worker is a ``worker_pool``'s, so it never outlives the block
that lent it, and Ctrl-C and SIGTERM stop it as they stop any worker.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from fairaudit.runtime._collector import imports_frozen
from fairaudit.runtime._signals import signals_deferred
from fairaudit.runtime._workers import finished_results, terminate_pool, worker_pool

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

__all__ = ["Prepared", "lend_worker", "run_beside", "while_waiting"]

Item = TypeVar("Item")
Result = TypeVar("Result")
Value = TypeVar("Value")


@dataclass(frozen=True)
class _Lent:
    pool: ProcessPoolExecutor
    #: The worker's first task, importing what the work needs: done when it is ready.
    ready: Future[None]


#: The worker lent to the current block (``lend_worker``), if any.
_LENT: ContextVar[_Lent | None] = ContextVar("fairaudit_lent_worker", default=None)
#: What this process may do while it waits for the lent worker (``while_waiting``).
_WAITING: ContextVar[list[Callable[[], object]] | None] = ContextVar(
    "fairaudit_while_waiting", default=None
)


@contextmanager
def while_waiting(*tasks: Callable[[], object]) -> Iterator[None]:
    """Let ``run_beside`` inside the block run ``tasks``, each at most once, when this
    process has nothing left to do but wait for the lent worker: work for later stages,
    such as compiling the report's templates while the worker still fits a model.

    A task's exception is dropped: the work it prepares is done again where it is needed,
    and fails there if it fails. Without a lent worker, or with nothing to wait for, the
    tasks do not run.
    """
    outer = _WAITING.get()
    if outer is None:
        token = _WAITING.set(list(tasks))
        try:
            yield
        finally:
            _WAITING.reset(token)
        return
    # Nested: one list, so that a task of the outer block run inside this one is gone from
    # it too (each runs at most once); this block's tasks not run leave with it.
    outer.extend(tasks)
    try:
        yield
    finally:
        for task in tasks:
            if task in outer:
                outer.remove(task)


class Prepared(Generic[Value]):
    """A value computed ahead, while this process waits for the lent worker, or when asked.

    ``prepare`` is the ``while_waiting`` task; ``value()`` returns what it computed, or
    computes it now (raising what it raises) when it has not run or failed. Either way the
    value is the same: only when it is computed changes.
    """

    def __init__(self, compute: Callable[[], Value]) -> None:
        self._compute = compute
        self._done = False
        self._value: Value | None = None

    def prepare(self) -> None:
        """Compute the value, unless done."""
        if not self._done:
            self._value = self._compute()
            self._done = True

    def value(self) -> Value:
        """Return the value, computed now if it was not ahead."""
        self.prepare()
        return cast(Value, self._value)


def _run_waiting_tasks() -> None:
    """Run (and forget) the tasks of ``while_waiting``, dropping their exceptions."""
    tasks = _WAITING.get()
    while tasks:
        task = tasks.pop(0)
        try:
            task()
        except Exception:  # noqa: BLE001 - see while_waiting
            pass


def _idle_core() -> bool:
    """Return whether a core is free for a second process: two or more usable cores, and
    a load average (over the last minute) that leaves one of them idle.

    On a busy machine a worker only takes time from this process: measured on 2 cores
    at load 4, the sample audit took 9.5-11.3 s with the worker against 6.0-7.8 s without.
    """
    sched_getaffinity = getattr(os, "sched_getaffinity", None)
    cores = len(sched_getaffinity(0)) if sched_getaffinity else (os.cpu_count() or 1)
    getloadavg = getattr(os, "getloadavg", None)
    try:
        load = getloadavg()[0] if getloadavg else float(cores)
    except OSError:  # not known here: assume the machine is busy
        return False
    return cores >= 2 and load < cores - 0.5


def _import_modules(names: tuple[str, ...]) -> None:
    """Import ``names`` (a lent worker's first task), out of the collector's way."""
    with imports_frozen(True):  # the worker is this package's own process
        for name in names:
            importlib.import_module(name)


@contextmanager
def lend_worker(preload: Sequence[str]) -> Iterator[None]:
    """Start one worker process that imports ``preload``, and lend it to the block.

    ``run_beside`` inside the block uses it. Nothing is started without an idle core
    (``_idle_core``): results are the same either way.
    Leaving the block terminates the worker whatever it is doing: a warm-up no stage used,
    or work an exception abandoned.
    """
    if not _idle_core():
        yield
        return
    with worker_pool(1) as pool:
        token = _LENT.set(_Lent(pool, pool.submit(_import_modules, tuple(preload))))
        try:
            yield
        finally:
            _LENT.reset(token)
            with signals_deferred():
                terminate_pool(pool)


def run_beside(
    function: Callable[[Item], Result], local: Iterable[Item], shared: Sequence[Item]
) -> Iterator[Result]:
    """Yield ``function(item)`` for every item of ``local`` and ``shared``, as each finishes.

    Without a lent worker, all run here, ``shared`` first. With one, ``local`` runs here,
    while the worker takes ``shared`` items one at a time from the front as soon as it is
    ready (a thread hands them over), and this process then takes the ones left from the
    back. ``function`` and the shared items must pickle. A worker that dies with work
    pending raises ``concurrent.futures.process.BrokenProcessPool``.
    """
    from concurrent.futures import FIRST_COMPLETED, Future, wait

    lent = _LENT.get()
    if lent is None or not shared:
        for item in [*shared, *local]:
            yield function(item)
        return
    queue: deque[Item] = deque(shared)
    lock = threading.Lock()
    sent: list[Future[Result]] = []
    stop: Future[None] = Future()

    def feed() -> None:
        previous: Future[Any] = lent.ready
        while True:
            wait([previous, stop], return_when=FIRST_COMPLETED)
            if stop.done() or previous.exception() is not None:
                return  # this process is done with the rest, or the worker failed
            with lock:
                if not queue:
                    return
                previous = lent.pool.submit(function, queue.popleft())
                sent.append(previous)

    feeder = threading.Thread(target=feed, name="fairaudit-feeder", daemon=True)
    feeder.start()
    try:
        for item in local:
            yield function(item)
        while True:
            with lock:
                if not queue:
                    break
                item = queue.pop()
            yield function(item)
    finally:
        stop.set_result(None)
        feeder.join()
    if not all(future.done() for future in sent):
        _run_waiting_tasks()  # nothing left here but to wait for the worker
    yield from finished_results(lent.pool, sent)
