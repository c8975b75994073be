"""How a command runs: signals that stop it cleanly, and worker processes that never
outlive it."""

from __future__ import annotations

from fairaudit.runtime._signals import (
    INTERRUPTED,
    Interrupted,
    in_main_thread,
    signals_deferred,
    stop_on_signals,
)
from fairaudit.runtime._workers import worker_pool, worker_results

__all__ = [
    "INTERRUPTED",
    "Interrupted",
    "in_main_thread",
    "signals_deferred",
    "stop_on_signals",
    "worker_pool",
    "worker_results",
]
