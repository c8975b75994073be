"""How a command runs: signals that stop it cleanly, worker processes that never outlive
it (one of them started early and lent to the run's stages), the time it records, and how
its process ends (at once, without tearing down its modules)."""

from __future__ import annotations

from fairaudit.runtime._clock import BadSourceDateEpoch, reproducible_time
from fairaudit.runtime._collector import imports_frozen
from fairaudit.runtime._exit import exit_process
from fairaudit.runtime._lent import Prepared, lend_worker, run_beside, while_waiting
from fairaudit.runtime._signals import (
    INTERRUPTED,
    Interrupted,
    in_main_thread,
    signals_deferred,
    stop_on_signals,
)
from fairaudit.runtime._workers import in_worker_process, worker_pool, worker_results

__all__ = [
    "BadSourceDateEpoch",
    "INTERRUPTED",
    "Interrupted",
    "Prepared",
    "exit_process",
    "imports_frozen",
    "in_worker_process",
    "in_main_thread",
    "lend_worker",
    "reproducible_time",
    "run_beside",
    "signals_deferred",
    "stop_on_signals",
    "worker_pool",
    "while_waiting",
    "worker_results",
]
