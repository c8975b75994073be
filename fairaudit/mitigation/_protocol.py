"""fairlearn mitigations of the audited model, each evaluated on rows it was not fitted on.

Two families, chosen by what the audit has:

* **Post-processing** (``threshold_*``) needs only scores for the evaluation rows: the
  audited model's, or a score column. fairlearn's ``ThresholdOptimizer`` (prefit,
  ``predict_method="auto"``) picks group-specific thresholds maximizing accuracy under the
  constraint; it is computed here on the scores' histogram per group (``_thresholds``:
  the same thresholds and predictions as fairlearn's, at the cost of the distinct scores,
  not the rows). It is cross-fitted: the evaluation rows are split into ``folds`` folds
  stratified by group and label, and each fold is predicted by thresholds fitted on the
  other folds only, so no row is ever scored by thresholds fitted on it and the
  comparison with the audited model is not optimistic.
* **Retraining** (``expgrad_*``, ``correlation_remover``) needs the training set and a
  scikit-learn model that can be cloned: trained on the training set, evaluated on the
  evaluation set. A Pipeline is split before its last step: its preprocessing steps are
  refit on the training set as they are, and the method works on their output (numbers,
  whatever the raw columns were). ``ExponentiatedGradient`` then retrains the final step
  under the constraint; ``CorrelationRemover`` gets one indicator column per group appended
  to that output, projects them out of every other column and drops them, and a clone of
  the final step is retrained on the result.

Groups are the intersection of the sensitive features (or of those named by ``on``).
Every randomized step (fold split, randomized predictions, an estimator's unset
``random_state``) gets a seed derived from the run's seed, the method and the fold, so the
outcomes are identical for any ``jobs``. Units of work (one fold of one threshold method,
one retraining) run in worker processes (``fairaudit.runtime``, which also terminates them
when the run is stopped) when ``jobs`` asks for them, or by default when the comparison is
large; a smaller one runs in this process, as starting workers would cost more than it
saves, beside the one worker the run may have started early (``runtime.lend_worker``:
it takes retraining fits). Threads gave no speed-up (benchmarks/README.md).

Nothing here measures the variants: the caller recounts each ``MitigationOutcome.y_pred``
with the counting engine. The library never prints; progress goes to a callback.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np

from fairaudit.errors import ConfigError
from fairaudit.mitigation._outcome import (
    METHODS,
    REFIT_METHODS,
    THRESHOLD_METHODS,
    UNKNOWN_METHOD,
    MitigationError,
    MitigationInputs,
    MitigationOutcome,
    available_methods,
)
from fairaudit.mitigation._plan import Plan, cross_fitted_outcome, plan_refit, plan_threshold
from fairaudit.mitigation._units import Unit, UnitResult, run_unit
from fairaudit.runtime import run_beside, worker_results

__all__ = ["WORKER_DIED", "run_mitigations"]

Progress = Callable[[str], None]

#: A worker process died mid-run (killed from outside, e.g. by the out-of-memory killer).
WORKER_DIED = (
    "a mitigation worker process died while {jobs} ran at once (out of memory?); run with "
    "fewer --jobs, on fewer rows, or with --no-mitigation"
)
# How ``jobs > 1`` runs: processes (see the module docstring). Only the benchmark changes
# it, to "threading", to time threads against processes (threads make the per-unit
# warning capture unreliable, as warnings.catch_warnings is not thread-safe).
_PARALLEL_BACKEND = "processes"
#: Unless ``jobs`` is given, worker processes run the comparison only when it is this
#: large: distinct (group, score) pairs the threshold methods fit on, or training rows the
#: retraining methods fit on. Outcomes do not depend on it.
PARALLEL_MIN_CELLS = 2_000_000
PARALLEL_MIN_TRAIN_ROWS = 200_000


def _selected(inputs: MitigationInputs, methods: Sequence[str] | None) -> list[str]:
    if methods is None:
        return available_methods(inputs)
    chosen: list[str] = []
    for name in methods:
        if name not in METHODS:
            raise ConfigError(UNKNOWN_METHOD.format(name=name, names=", ".join(METHODS)))
        if name not in chosen:
            chosen.append(name)
    return chosen


def _check_inputs(inputs: MitigationInputs, on: Sequence[str] | None) -> list[str]:
    n_rows = len(inputs.y_true)
    sized = {"eval_features": inputs.eval_features, "sensitive": inputs.sensitive}
    if inputs.score is not None:
        sized["score"] = inputs.score
    for name, value in sized.items():
        if len(value) != n_rows:
            raise ValueError(f"{name} has {len(value)} rows but y_true has {n_rows}")
    if inputs.train_features is not None:
        n_train = len(inputs.train_features)
        for name, value in (
            ("train_y", inputs.train_y),
            ("train_sensitive", inputs.train_sensitive),
        ):
            if value is not None and len(value) != n_train:
                raise ValueError(f"{name} has {len(value)} rows but train_features has {n_train}")
    columns = [str(c) for c in inputs.sensitive.columns] if on is None else list(on)
    if not columns:
        raise ConfigError("mitigation needs at least one sensitive feature")
    missing = [c for c in columns if c not in inputs.sensitive.columns]
    if missing:
        raise ConfigError(
            f"cannot mitigate on {', '.join(map(repr, missing))}: not a sensitive feature; "
            f"the sensitive features are: {', '.join(map(repr, inputs.sensitive.columns))}"
        )
    return columns


def _method_line(method: str, results: Sequence[UnitResult]) -> str:
    """Return the progress line of a method whose units are all done: its time, or failure."""
    seconds = sum(result.seconds for result in results)
    for result in results:
        if result.reason is not None:
            where = f"fold {result.fold + 1} of {len(results)}: " if result.fold is not None else ""
            return f"{method}: failed after {seconds:.1f} s: {where}{result.reason}"
    return f"{method}: done in {seconds:.1f} s"


def _execute(
    units: Sequence[Unit], workers: int | None, finished: Callable[[str, list[UnitResult]], None]
) -> None:
    """Run every unit in ``workers`` processes; hand each method its results when done.

    ``workers`` None: in this process, beside the worker the run lent (``lend_worker``),
    if any, which takes retraining units (a fold's inputs, the histogram, may be large).
    ``finished(method, results)`` is called as soon as a method's last unit is done, with
    its units' results (by fold), here, while the other units may still run elsewhere.
    Stopping the run (an exception in ``finished``, Ctrl-C, SIGTERM) terminates the workers.
    """
    done: dict[tuple[str, int | None], UnitResult] = {}
    pending = Counter(unit.method for unit in units)

    def record(results: Iterable[UnitResult]) -> None:
        for result in results:
            done[(result.method, result.fold)] = result
            pending[result.method] -= 1
            if not pending[result.method]:
                parts = [r for (method, _), r in done.items() if method == result.method]
                parts.sort(key=lambda part: -1 if part.fold is None else part.fold)
                finished(result.method, parts)

    from concurrent.futures.process import BrokenProcessPool

    results: Iterable[UnitResult]
    with ExitStack() as stack:
        try:
            if workers is None:
                local = [unit for unit in units if unit.fold is not None]
                results = run_beside(run_unit, local, [u for u in units if u.fold is None])
            elif min(workers, len(units)) <= 1:
                results = map(run_unit, units)
            elif _PARALLEL_BACKEND == "threading":
                from concurrent.futures import ThreadPoolExecutor

                threads = stack.enter_context(ThreadPoolExecutor(min(workers, len(units))))
                results = threads.map(run_unit, units)
            else:
                workers = min(workers, len(units))
                results = stack.enter_context(worker_results(run_unit, units, workers=workers))
            record(results)
        except BrokenProcessPool:
            raise MitigationError(WORKER_DIED.format(jobs=workers or 2)) from None


def _workers(
    jobs: int | None, threshold: Plan, refit: Plan, inputs: MitigationInputs
) -> int | None:
    """Return how many processes run the units: ``jobs``; by default the cores, if large.

    Starting a worker process costs 1-5 s (it imports scikit-learn and fairlearn), and
    on a busy machine two processes were slower than one even at a million rows
    (benchmarks/README.md): by default only a comparison larger than that uses them, and
    a smaller one runs here (None), beside the worker the run may have started early.
    """
    if jobs is not None:
        return jobs
    train_rows = (
        len(inputs.train_features) if refit.units and inputs.train_features is not None else 0
    )
    cells = 0 if threshold.histogram is None else len(threshold.histogram.score)
    if cells < PARALLEL_MIN_CELLS and train_rows < PARALLEL_MIN_TRAIN_ROWS:
        return None
    from joblib import cpu_count

    return int(cpu_count())


def _check_options(seed: int, folds: int, jobs: int | None) -> None:
    """Raise ConfigError for a bad option."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"the seed must be a non-negative integer, not {seed!r}")
    if folds < 2:
        raise ConfigError(f"cross-fitting needs at least 2 folds, not {folds}")
    if jobs is not None and jobs < 1:
        raise ConfigError(f"jobs must be at least 1, not {jobs}")


def run_mitigations(
    inputs: MitigationInputs,
    methods: Sequence[str] | None = None,
    *,
    folds: int = 5,
    seed: int = 0,
    jobs: int | None = None,
    on: Sequence[str] | None = None,
    progress: Progress | None = None,
    on_outcome: Callable[[MitigationOutcome], None] | None = None,
) -> list[MitigationOutcome]:
    """Return one outcome per selected method, in the order selected.

    Parameters
    ----------
    inputs:
        The evaluation (and optionally training) data and the model or scores.
    methods:
        Method names (``METHODS``); None selects every method the inputs allow
        (``available_methods``). A named method the inputs do not allow is ``skipped``.
    folds:
        Cross-fitting folds for the threshold methods (at least 2).
    seed:
        The run's seed (a non-negative integer); every randomized step derives from it.
    jobs:
        Worker processes (1: none, in this process). Default: the number of cores when
        the comparison is large (``PARALLEL_MIN_CELLS``, ``PARALLEL_MIN_TRAIN_ROWS``),
        else none. Outcomes do not depend on it.
    on:
        The sensitive columns whose intersection defines the groups (default: all).
    progress:
        Called with one line per method as it finishes, with the time it took.
    on_outcome:
        Called with each method's outcome as soon as it is known (those settled without
        work first, then each as its last unit finishes), in this process, while other
        methods may still run in workers: the caller can measure one while the others fit.

    A method that cannot apply (a model that cannot be retrained, a group too small to
    cross-fit) gets status ``failed`` and a reason; the other methods still run.
    Raises ConfigError for an unknown method name or a bad option.
    """
    say = progress or (lambda message: None)
    _check_options(seed, folds, jobs)
    columns = _check_inputs(inputs, on)
    chosen = _selected(inputs, methods)

    threshold = plan_threshold(
        inputs, [m for m in chosen if m in THRESHOLD_METHODS], columns, folds, seed
    )
    refit = plan_refit(inputs, [m for m in chosen if m in REFIT_METHODS], columns, seed)
    outcomes = {**threshold.settled, **refit.settled}
    for outcome in outcomes.values():
        if outcome.status == "failed":
            say(f"{outcome.method}: failed: {outcome.reason}")
        if on_outcome is not None:
            on_outcome(outcome)

    def finished(method: str, parts: list[UnitResult]) -> None:
        say(_method_line(method, parts))
        if method in THRESHOLD_METHODS:
            assert threshold.fold_of_row is not None
            outcome = cross_fitted_outcome(threshold.outcome(method), parts, threshold.fold_of_row)
        else:
            outcome = _refit_outcome(refit.outcome(method), parts[0])
        outcomes[method] = outcome
        if on_outcome is not None:
            on_outcome(outcome)

    # Retraining units are the longest (and the longest of them first, ``plan_refit``):
    # queue them first so the workers stay busy.
    workers = _workers(jobs, threshold, refit, inputs)
    with ExitStack() as stack:
        if (workers or 1) > 1 and threshold.histogram is not None and threshold.units:
            folder = stack.enter_context(TemporaryDirectory(prefix="fairaudit-mitigation-"))
            threshold.histogram.spill(Path(folder))
        _execute([*refit.units, *threshold.units], workers, finished)
    return [outcomes[method] for method in chosen]


def _refit_outcome(shell: MitigationOutcome, result: UnitResult) -> MitigationOutcome:
    """Return a retraining method's outcome from its one unit's result."""
    return replace(
        shell,
        status="failed" if result.reason is not None else "ok",
        reason=result.reason,
        y_pred=result.y_pred,
        warnings=result.warnings,
        seconds=result.seconds,
    )
