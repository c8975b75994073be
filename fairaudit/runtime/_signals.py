"""Signals that stop a run cleanly: SIGINT and SIGTERM become an exception, so cleanup runs.

A run is stopped by Ctrl-C (SIGINT, sent to the whole foreground process group) or by
SIGTERM (CI runners, ``docker stop``, ``kill``; sent to the main process only).
``stop_on_signals`` turns both into ``Interrupted``, a KeyboardInterrupt, in the main
process, so every ``finally`` runs: temporary files are removed and worker processes
(``runtime._workers``) are terminated. ``signals_deferred`` holds them over a step that
must not stop half-way.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = ["INTERRUPTED", "Interrupted", "in_main_thread", "signals_deferred", "stop_on_signals"]

#: The one line the command line prints when a signal stopped the run.
INTERRUPTED = "interrupted by {name}"
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal; ``exit_code`` is 128 + the signal number.

    A KeyboardInterrupt, so the cleanup written for Ctrl-C also runs on SIGTERM, and no
    ``except Exception`` mistakes it for one step's failure.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(INTERRUPTED.format(name=signal.Signals(signum).name))

    def __str__(self) -> str:
        return str(self.args[0])


def in_main_thread() -> bool:
    """Return whether this is the main thread."""
    # Only the main thread may set signal handlers (and only it runs them).
    return threading.current_thread() is threading.main_thread()


@contextmanager
def _handlers(handler: Any) -> Iterator[None]:
    """Install ``handler`` for SIGINT and SIGTERM for the duration; restore the previous."""
    previous = {signum: signal.getsignal(signum) for signum in _STOP_SIGNALS}
    for signum in _STOP_SIGNALS:
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, before in previous.items():
            # None: a handler installed from C, which cannot be put back; the default is.
            signal.signal(signum, signal.SIG_DFL if before is None else before)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Raise ``Interrupted`` in the main thread on SIGINT or SIGTERM, for the duration.

    Outside the main thread (where handlers cannot be set) it does nothing.
    """
    if not in_main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    with _handlers(stop):
        yield


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then deliver the first one caught.

    For steps that must not stop half-way, e.g. renaming a report's files into place.
    """
    if not in_main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    try:
        with _handlers(hold):
            yield
    finally:
        if caught:
            signal.raise_signal(caught[0])  # to the handler that was there before
