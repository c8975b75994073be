"""Worker processes that never outlive the run.

The workers leave stopping to the main process. They ignore SIGINT (Ctrl-C reaches the
whole process group; the main process decides). On SIGTERM, which the main process sends
them when it is stopped (``fairaudit._signals``), a worker exits at once, after the
running task's own cleanup (its temporary files, its own workers). And a worker exits by
itself when the main process dies without cleaning up (SIGKILL). So no worker keeps
computing, or keeps the caller's stdout and stderr open, after the run is over.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

from fairaudit.runtime._signals import Interrupted, in_main_thread, signals_deferred

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

__all__ = [
    "finished_results",
    "in_worker_process",
    "terminate_pool",
    "worker_pool",
    "worker_results",
]

#: How often a worker checks that the process that started it is still there (seconds).
_PARENT_CHECK_INTERVAL = 0.25
#: How long terminated workers get to exit before they are killed (seconds).
_TERMINATE_GRACE = 2.0

Result = TypeVar("Result")


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_PARENT_CHECK_INTERVAL)
    os._exit(1)  # the parent died without terminating us: nothing is waiting for a result


#: Whether this worker runs a task now (set by ``_run_task``; read by ``_stop_worker``).
_running_task = False
#: Whether this process is a worker a ``worker_pool`` started (set by ``_worker_setup``).
_is_worker = False


def in_worker_process() -> bool:
    """Return whether this process is a worker of a ``worker_pool``: fairaudit's own."""
    return _is_worker


def _stop_worker(signum: int, frame: FrameType | None) -> None:
    """Stop this worker: end the running task through its cleanup, or exit now if idle."""
    if _running_task:
        raise Interrupted(signum)  # the task's finally blocks run, then _run_task exits
    os._exit(128 + signum)


def _run_task(function: Callable[..., Result], /, *args: Any, **kwargs: Any) -> Result:
    """Return ``function(*args, **kwargs)``; exit the worker if SIGTERM stopped it."""
    global _running_task
    _running_task = True
    try:
        return function(*args, **kwargs)
    except Interrupted as exc:
        exit_code = exc.exit_code
    finally:
        _running_task = False
    # Out of the except block, the traceback no longer holds the task's objects: collect
    # them, so what the task's own workers used (semaphores) is released, not reported
    # as leaked. Then exit: a result would only leave this worker waiting for more work.
    gc.collect()
    os._exit(exit_code)


def _exit_at_once() -> None:
    """End a worker that finished its work without tearing down its modules one by one.

    Run at interpreter exit, after multiprocessing's own clean-up: the parent waits for
    its workers' exit, and tearing down pandas, scikit-learn and the rest took 0.5 s of
    a two-audit batch on a busy machine, for nothing.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def _worker_setup(parent: int) -> None:
    """Prepare a worker: the parent decides when to stop, and the worker dies with it."""
    global _is_worker
    _is_worker = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_worker)
    atexit.register(_exit_at_once)
    # Library warnings (deprecations, fonts) are not for the user's terminal; a unit of
    # work records the warnings it cares about itself.
    warnings.simplefilter("ignore")
    threading.Thread(
        target=_exit_with_parent, args=(parent,), name="fairaudit-parent-check", daemon=True
    ).start()


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while a worker starts: it inherits that before any of its code runs."""
    if not in_main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)


def _pool(workers: int) -> ProcessPoolExecutor:
    """Return a process pool of ``workers`` spawned workers prepared by ``_worker_setup``."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    class WorkerPool(ProcessPoolExecutor):
        def submit(self, fn: Callable[..., Result], /, *args: Any, **kwargs: Any) -> Future[Result]:
            return super().submit(_run_task, fn, *args, **kwargs)

        # ``_spawn_process`` is the (private) step that starts one worker; without it
        # (another Python) a Ctrl-C during a worker's start-up may print its traceback.
        def _spawn_process(self) -> None:
            with _sigint_ignored():
                super()._spawn_process()  # type: ignore[misc]

    # spawn, not fork: the caller may hold threads (BLAS, DuckDB) that a fork would copy
    # mid-operation.
    return WorkerPool(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_setup,
        initargs=(os.getpid(),),
    )


def terminate_pool(pool: ProcessPoolExecutor) -> None:
    """Stop the pool now: terminate (then kill) its workers, drop the work not started."""
    # shutdown() never stops a running task, and Python < 3.14 has no public way to reach
    # the workers: ``_processes`` maps their pids to their Process objects.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + _TERMINATE_GRACE
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
    # A worker killed while sending a result leaves the pool's manager thread waiting for
    # the rest of that message, on a pipe this process also holds open for writing. With
    # every worker gone, closing that end ends the wait (end of file), so that the pool
    # notices it is broken and shutdown() below returns.
    result_queue = getattr(pool, "_result_queue", None)
    with contextlib.suppress(Exception):
        result_queue._writer.close()  # type: ignore[union-attr]
    # With its workers gone the pool is "broken" and its manager thread winds down: wait
    # for it, so that the pool's queues (and their named semaphores) are released now.
    pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def worker_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """Yield a process pool whose workers never outlive the block.

    Leaving the block normally waits for the submitted work and the workers' exit, as
    ``with ProcessPoolExecutor()`` does; leaving it by any exception, ``Interrupted``
    (Ctrl-C, SIGTERM) included, cancels the work not started and terminates the workers.
    """
    pool = _pool(workers)
    try:
        yield pool
    except BaseException:
        with signals_deferred():  # a second Ctrl-C must not cut the clean-up short
            terminate_pool(pool)
        raise
    pool.shutdown(wait=True)


@contextmanager
def worker_results(
    function: Callable[[Any], Result], items: Iterable[Any], *, workers: int
) -> Iterator[Iterator[Result]]:
    """Yield an iterator of ``function(item)`` for every item, in the order they finish.

    ``function`` and the items must pickle (a module-level function, plain data). The
    workers are a ``worker_pool``. A worker that dies makes the iterator raise
    ``concurrent.futures.process.BrokenProcessPool``.
    """
    with worker_pool(workers) as pool:
        futures = [pool.submit(function, item) for item in items]
        yield finished_results(pool, futures)


def finished_results(pool: ProcessPoolExecutor, futures: list[Future[Result]]) -> Iterator[Result]:
    """Yield the futures' results as they finish; raise BrokenProcessPool when a worker has
    died while work is pending.

    The pool notices a dead worker itself, except when it was killed (SIGKILL, the
    out-of-memory killer) while waiting for work: it then dies holding the lock of the
    pool's task queue, and the other workers and the pool wait for that lock forever.
    Checking the workers every ``_PARENT_CHECK_INTERVAL`` seconds turns that hang into the
    same error; ``worker_pool`` then terminates the rest.
    """
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=_PARENT_CHECK_INTERVAL, return_when=FIRST_COMPLETED)
        for future in done:
            yield future.result()
        processes = (getattr(pool, "_processes", None) or {}).values()
        if pending and any(p.exitcode is not None for p in processes):
            raise BrokenProcessPool("a worker process died while work was pending")
