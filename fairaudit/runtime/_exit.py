"""End the command's process as soon as its work is done, without tearing down its modules.

A process that has imported pandas, scikit-learn, scipy and fairlearn spends 0.25-0.45 s
after its last line of work (measured on the benchmark machine, benchmarks/README.md)
destroying thousands of module objects one by one, which nothing needs: the operating
system frees the memory at once. ``exit_process`` runs what the normal exit would run that
matters (the ``atexit`` handlers, flushing stdout and stderr), then ends the process with
``os._exit``. It takes the normal exit instead whenever that could lose something: another
non-daemon thread still running, or an exit status that is not a number.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import NoReturn

__all__ = ["exit_process"]


def _status(code: object) -> int | None:
    """Return the exit status ``sys.exit(code)`` would give, or None if it would print."""
    if code is None:
        return 0
    if isinstance(code, bool) or not isinstance(code, int):
        return None
    return code & 0xFF


def exit_process(code: object) -> NoReturn:
    """End this process with ``sys.exit(code)``'s status, skipping the module teardown.

    Only the program's entry point calls this, once its command has returned: a library
    must never end its caller's process.
    """
    status = _status(code)
    main_thread = threading.main_thread()
    others = [t for t in threading.enumerate() if t is not main_thread and not t.daemon]
    if status is None or others or threading.current_thread() is not main_thread:
        raise SystemExit(code)  # what sys.exit(code) raises, for any code
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)
