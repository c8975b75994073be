"""Units of parallel work behind ``fairaudit.mitigation``, and how one is run.

Each unit (one cross-fitting fold of a ThresholdOptimizer, one ExponentiatedGradient fit,
one CorrelationRemover refit) is a module-level function of plain arrays, so that it
pickles by reference into a worker process and its result depends only on its arguments,
never on which worker ran it or when. ``run_unit`` wraps one unit: it turns an exception
into a one-line reason, and the warnings raised inside it that say something about the
data or the fit (a solver that did not converge, a numeric overflow) into notes in plain
words on the method's outcome. Other warnings, such as a library's deprecation of another
library's API, are about code, not the audit: they are dropped, never shown to the user or
written into the report.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "NOT_CONVERGED",
    "NUMERIC_TROUBLE",
    "RefitError",
    "Unit",
    "UnitResult",
    "failure_reason",
    "run_unit",
    "warning_notes",
]

#: Note: the fit stopped at its iteration limit (scikit-learn's ConvergenceWarning).
NOT_CONVERGED = (
    "the solver stopped at its iteration limit before converging, so this variant may fit "
    "less well than a converged one (raise the model's max_iter, or scale its inputs)"
)
#: Note: numpy met an overflow, a division by zero or an invalid value while fitting.
NUMERIC_TROUBLE = (
    "the fit met a numeric overflow, division by zero or invalid value; check the model's "
    "inputs for extreme or constant values"
)


class RefitError(Exception):
    """A retraining method cannot apply to this model; the message is the reason."""


@dataclass(frozen=True)
class Unit:
    """One unit of parallel work: a method's fit (``fold`` is None) or one fold of it."""

    method: str
    fold: int | None
    function: Callable[..., np.ndarray]
    args: tuple[Any, ...]


@dataclass(frozen=True)
class UnitResult:
    """What one unit produced: predictions, or the reason it failed; and its notes."""

    method: str
    fold: int | None
    y_pred: np.ndarray | None
    reason: str | None
    warnings: tuple[str, ...]
    #: Wall time the unit took (seconds), in whichever process ran it.
    seconds: float = 0.0


def failure_reason(exc: BaseException) -> str:
    """Return the one-line reason an exception gives (its type too, unless a RefitError)."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    if isinstance(exc, RefitError):
        return first
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


#: How numpy's floating-point warnings begin ("overflow encountered in exp", ...).
_NUMERIC_MESSAGES = ("overflow encountered", "divide by zero encountered", "invalid value")


def _note(item: warnings.WarningMessage) -> str | None:
    """Return the plain-language note for a warning about the data or the fit, else None."""
    from sklearn.exceptions import ConvergenceWarning

    if issubclass(item.category, ConvergenceWarning):
        return NOT_CONVERGED
    # numpy's floating-point warnings only: another library's RuntimeWarning is about
    # its own code, not these rows.
    if item.category is RuntimeWarning and str(item.message).startswith(_NUMERIC_MESSAGES):
        return NUMERIC_TROUBLE
    return None


def warning_notes(caught: Sequence[warnings.WarningMessage]) -> tuple[str, ...]:
    """Return the notes of the warnings that say something about the data, each once."""
    return tuple(dict.fromkeys(note for item in caught if (note := _note(item)) is not None))


def run_unit(unit: Unit) -> UnitResult:
    """Return one unit's result; an exception becomes its reason, a data warning a note.

    BLAS runs single-threaded inside a unit: units are the parallelism, multithreaded
    BLAS on these small solver steps was 3-7 times slower on a busy machine, and a fixed
    thread count keeps floating-point sums, hence predictions, the same for any ``jobs``.
    """
    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    with threadpool_limits(limits=1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            y_pred: np.ndarray | None = unit.function(*unit.args)
            reason = None
        except Exception as exc:  # any failure of one method is reported, not raised
            y_pred, reason = None, failure_reason(exc)
    seconds = time.perf_counter() - started
    return UnitResult(unit.method, unit.fold, y_pred, reason, warning_notes(caught), seconds)
