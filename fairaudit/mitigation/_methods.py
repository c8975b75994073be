"""The groups, folds and fits behind ``fairaudit.mitigation``.

Each unit of parallel work (one cross-fitting fold of a ThresholdOptimizer, one
ExponentiatedGradient fit, one CorrelationRemover refit) is a module-level function of
plain arrays, so that it pickles by reference into a worker process and its result
depends only on its arguments, never on which worker ran it or when. ``run_unit`` wraps
one unit: it turns an exception into a one-line reason, and the warnings raised inside it
that say something about the data or the fit (a solver that did not converge, a numeric
overflow) into notes in plain words on the method's outcome. Other warnings, such as a
library's deprecation of another library's API, are about code, not the audit: they are
dropped, never shown to the user or written into the report.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import has_fit_parameter

from fairaudit.data import MISSING_GROUP

__all__ = [
    "NOT_CLONABLE",
    "NOT_CONVERGED",
    "NOT_NUMERIC",
    "NUMERIC_TROUBLE",
    "NO_SAMPLE_WEIGHT",
    "TOO_FEW_FOR_FOLDS",
    "FoldError",
    "RefitError",
    "RowScores",
    "Unit",
    "UnitResult",
    "correlation_remover_predictions",
    "derived_seed",
    "expgrad_predictions",
    "final_step_name",
    "fold_of_row_plan",
    "group_codes",
    "groups_phrase",
    "refit_protocol",
    "run_unit",
    "threshold_fold_predictions",
    "threshold_protocol",
    "threshold_scores",
]

#: The model (or its final step) cannot be cloned, so it cannot be retrained.
NOT_CLONABLE = "the model cannot be retrained: cloning {name} failed: {error}"
#: ExponentiatedGradient reweights the training rows on every iteration.
NO_SAMPLE_WEIGHT = (
    "the model cannot be retrained by ExponentiatedGradient: {name}.fit() does not accept "
    "sample_weight"
)
#: The inputs reaching the final estimator (or CorrelationRemover) must be numbers.
NOT_NUMERIC = (
    "the model's inputs are not all numeric after its preprocessing steps ({error}); "
    "retraining needs a Pipeline whose preprocessing encodes them"
)

#: A group too small for cross-fitting (all threshold methods fail with it).
TOO_FEW_FOR_FOLDS = (
    "group {group} has {count} {label} row(s) in the evaluation set; cross-fitting needs at "
    "least 2 positive and 2 negative rows in every group, so that each held-out row's group "
    "has thresholds fitted on other rows (merge small groups, e.g. with coarser bins)"
)
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
_BAD_SCORES = "{count} of the scores are missing or not finite; thresholds need a score per row"
_NO_SCORES = "the model cannot score the evaluation rows: {error}"


class RefitError(Exception):
    """A retraining method cannot apply to this model; the message is the reason."""


class RowScores(ClassifierMixin, BaseEstimator):
    """A prefit 'estimator' whose input is a row number and whose output is that row's score.

    ThresholdOptimizer only needs scores from its estimator, so a score column (or the
    audited model's scores, computed once) is wrapped as a fitted estimator. Passing row
    numbers as ``X`` also lets a test see exactly which rows each optimizer saw.
    """

    def __init__(self, scores: np.ndarray | None = None) -> None:
        self.scores = scores

    def fit(self, X: Any, y: Any = None) -> RowScores:
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        assert self.scores is not None
        return self.scores[np.asarray(X)[:, 0].astype(np.intp)]

    def __sklearn_is_fitted__(self) -> bool:
        return True


def group_codes(
    frames: Sequence[pd.DataFrame], columns: Sequence[str]
) -> tuple[tuple[str, ...], list[np.ndarray]]:
    """Return the intersectional group names and, per frame, each row's group code.

    The frames are coded together, so a code means the same group in each of them.
    """
    joined = pd.concat([frame[list(columns)] for frame in frames], ignore_index=True)
    column_codes = []
    column_levels = []
    for column in columns:
        values = joined[column].astype(object)
        text = values.where(values.notna(), MISSING_GROUP).astype(str)
        codes, levels = pd.factorize(text, sort=True)
        column_codes.append(codes)
        column_levels.append([str(level) for level in levels])
    cells, inverse = np.unique(np.stack(column_codes, axis=1), axis=0, return_inverse=True)
    if len(columns) == 1:
        names = tuple(column_levels[0][cell[0]] for cell in cells)
    else:
        names = tuple(
            ", ".join(f"{c}={column_levels[i][cell[i]]}" for i, c in enumerate(columns))
            for cell in cells
        )
    inverse = inverse.reshape(-1).astype(np.int64)
    bounds = np.cumsum([0, *(len(frame) for frame in frames)])
    return names, [inverse[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def derived_seed(seed: int, *path: int) -> int:
    """Return a 32-bit seed derived from the run's seed and a path (method, fold)."""
    return int(np.random.SeedSequence([seed, *path]).generate_state(1)[0])


class FoldError(Exception):
    """The threshold methods cannot be cross-fitted on these rows; the message says why."""


def fold_of_row_plan(
    codes: np.ndarray, names: Sequence[str], y_true: np.ndarray, folds: int, seed: int
) -> np.ndarray:
    """Return the held-out fold of every row: stratified by group and label, seeded."""
    from sklearn.model_selection import StratifiedKFold

    n_strata = 2 * len(names)
    strata = codes * 2 + y_true.astype(np.int64)
    counts = np.bincount(strata, minlength=n_strata).reshape(-1, 2)
    for group, (negatives, positives) in enumerate(counts):
        for count, label in ((positives, "positive"), (negatives, "negative")):
            if count < 2:
                raise FoldError(
                    TOO_FEW_FOR_FOLDS.format(group=repr(names[group]), count=count, label=label)
                )
    fold_of_row = np.full(len(strata), -1, dtype=np.int64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=derived_seed(seed))
    try:
        with warnings.catch_warnings():
            # A stratum smaller than the number of folds is fine here: two rows suffice.
            warnings.filterwarnings(
                "ignore", message="The least populated class in y has only", category=UserWarning
            )
            for fold, (_, held) in enumerate(splitter.split(np.zeros((len(strata), 1)), strata)):
                fold_of_row[held] = fold
    except ValueError as exc:  # e.g. fewer rows than folds
        raise FoldError(str(exc).strip().splitlines()[0]) from None
    # Guard the guarantee itself: each held-out (group, label) also occurs in the fitting
    # folds, else fairlearn would silently predict 0 for an unseen group.
    held_counts = np.zeros((folds, n_strata), dtype=np.int64)
    np.add.at(held_counts, (fold_of_row, strata), 1)
    unseen = (held_counts > 0) & (counts.reshape(1, -1) - held_counts == 0)
    if unseen.any():
        fold, stratum = map(int, np.argwhere(unseen)[0])
        raise FoldError(
            f"fold {fold + 1} of {folds}: group {names[stratum // 2]!r} occurs in no other fold"
        )
    return fold_of_row


def threshold_scores(
    score: Any, estimator: Any, features: pd.DataFrame
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Return a finite score per evaluation row and the notes of warnings computing it.

    ``score`` when given, else the estimator's, in fairlearn's ``predict_method="auto"``
    order (``predict_proba``'s second column, ``decision_function``, ``predict``).
    Raise FoldError with the reason when there is no usable score.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if score is not None:
            raw: Any = score
        else:
            try:
                if hasattr(estimator, "predict_proba"):
                    raw = np.asarray(estimator.predict_proba(features))[:, 1]
                elif hasattr(estimator, "decision_function"):
                    raw = estimator.decision_function(features)
                else:
                    raw = estimator.predict(features)
                raw = np.asarray(raw, dtype=np.float64)
            except Exception as exc:
                raise FoldError(_NO_SCORES.format(error=_first_line(exc))) from None
    scores = np.asarray(raw, dtype=np.float64).reshape(-1)
    bad = int((~np.isfinite(scores)).sum())
    if bad:
        raise FoldError(_BAD_SCORES.format(count=bad))
    return scores, _warning_notes(caught)


def groups_phrase(columns: Sequence[str], n_groups: int) -> str:
    """Return how the protocol names the groups: 'sex (2 groups)', 'the intersection of ...'."""
    if len(columns) == 1:
        return f"{columns[0]} ({n_groups} groups)"
    listed = ", ".join(columns[:-1]) + f" and {columns[-1]}"
    return f"the intersection of {listed} ({n_groups} groups)"


def threshold_protocol(constraint: str, source: str, folds: int, groups: str, seed: int) -> str:
    """Return the plain-language protocol of a cross-fitted threshold method, for the report."""
    return (
        f"ThresholdOptimizer ({constraint}, maximizing accuracy) on {source}, fitted on "
        f"{folds - 1} of {folds} folds of the evaluation set (stratified by group and label) "
        "and applied to the held-out fold; every row is scored by thresholds not fitted on "
        f"it. Groups: {groups}. Predictions are randomized (seed {seed})."
    )


def refit_protocol(
    method: str, constraint: str, estimator: Any, n_train: int, n_eval: int, groups: str, seed: int
) -> str:
    """Return the plain-language protocol of a retraining method, for the report."""
    final, has_preprocessing = final_step_name(estimator)
    prepared = (
        "The model's preprocessing steps were refit on the training set; "
        if has_preprocessing
        else ""
    )
    if method == "correlation_remover":
        inputs_text = "their output" if has_preprocessing else "the model's inputs"
        return (
            f"{prepared}CorrelationRemover (alpha 1) removed the linear correlation of "
            f"{inputs_text} with one indicator per group, fitted on the training set "
            f"({n_train} rows), and a clone of {final} was retrained on the result; it was "
            f"evaluated on the evaluation set ({n_eval} rows), transformed the same way. "
            f"Groups: {groups}."
        )
    return (
        f"{prepared}ExponentiatedGradient ({constraint}, eps 0.01, at most 50 "
        f"iterations) retrained {final} on the training set ({n_train} rows); it was "
        f"evaluated on the evaluation set ({n_eval} rows). Groups: {groups}. Predictions "
        f"are randomized (seed {seed})."
    )


def threshold_fold_predictions(
    constraints: str,
    scores: np.ndarray,
    y_true: np.ndarray,
    group_codes: np.ndarray,
    fit_rows: np.ndarray,
    held_rows: np.ndarray,
    random_state: int,
) -> np.ndarray:
    """Return bool predictions for ``held_rows`` from thresholds fitted on ``fit_rows`` only."""
    from fairlearn.postprocessing import ThresholdOptimizer

    optimizer = ThresholdOptimizer(
        estimator=RowScores(scores),
        constraints=constraints,
        objective="accuracy_score",
        prefit=True,
        predict_method="auto",
    )
    optimizer.fit(
        fit_rows.reshape(-1, 1),
        y_true[fit_rows].astype(np.int8),
        sensitive_features=group_codes[fit_rows],
    )
    predicted = optimizer.predict(
        held_rows.reshape(-1, 1),
        sensitive_features=group_codes[held_rows],
        random_state=random_state,
    )
    return np.asarray(predicted) == 1


def _split_model(estimator: Any) -> tuple[Any | None, Any, str]:
    """Return unfitted clones of the model's preprocessing steps and final step, and its name.

    A Pipeline is split before its last step: the reductions and CorrelationRemover work
    on the numbers the preprocessing produces, which also keeps column names and
    categorical encodings out of fairlearn's input checks.
    """
    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        name, final = estimator.steps[-1]
        parts: list[tuple[str, Any]] = [("its preprocessing steps", estimator[:-1])]
        parts.append((f"its final step {name!r} ({type(final).__name__})", final))
    else:
        parts = [(type(estimator).__name__, estimator)]
    cloned = []
    for label, part in parts:
        try:
            cloned.append(clone(part))
        except Exception as exc:
            raise RefitError(NOT_CLONABLE.format(name=label, error=_first_line(exc))) from None
    if len(cloned) == 1:
        return None, cloned[0], parts[0][0]
    return cloned[0], cloned[1], type(cloned[1]).__name__


def final_step_name(estimator: Any) -> tuple[str, bool]:
    """Return how the protocol names what is retrained, and whether there is preprocessing."""
    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        name, final = estimator.steps[-1]
        return f"the model's final step {name!r} ({type(final).__name__})", True
    return f"the model ({type(estimator).__name__})", False


def _seed_unset_random_states(estimator: Any, seed: int) -> None:
    """Give every ``random_state`` parameter left at None the run's seed (set ones are kept)."""
    if estimator is None or not hasattr(estimator, "get_params"):
        return
    unset = {
        key: seed
        for key, value in estimator.get_params(deep=True).items()
        if value is None and (key == "random_state" or key.endswith("__random_state"))
    }
    if unset:
        estimator.set_params(**unset)


def _as_numbers(matrix: Any) -> np.ndarray:
    if hasattr(matrix, "toarray"):  # a sparse one-hot encoding
        matrix = matrix.toarray()
    try:
        return np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        if isinstance(matrix, pd.DataFrame):
            columns = [
                str(c) for c in matrix.columns if not pd.api.types.is_numeric_dtype(matrix[c])
            ]
            detail = "non-numeric columns: " + ", ".join(repr(c) for c in columns[:5])
        else:
            detail = _first_line(exc)
        raise RefitError(NOT_NUMERIC.format(error=detail)) from None


def _prepared_features(
    preprocessing: Any | None,
    train_features: pd.DataFrame,
    train_y: np.ndarray,
    eval_features: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray]:
    """Return training and evaluation inputs of the final step, preprocessing refit on train."""
    if preprocessing is None:
        return _as_numbers(train_features), _as_numbers(eval_features)
    preprocessing.fit(train_features, train_y)
    return (
        _as_numbers(preprocessing.transform(train_features)),
        _as_numbers(preprocessing.transform(eval_features)),
    )


def expgrad_predictions(
    constraints: str,
    estimator: Any,
    train_features: pd.DataFrame,
    train_y: np.ndarray,
    train_group_codes: np.ndarray,
    eval_features: pd.DataFrame,
    seed: int,
    random_state: int,
) -> np.ndarray:
    """Return bool predictions on the evaluation rows of ExponentiatedGradient trained on train."""
    from fairlearn.reductions import DemographicParity, EqualizedOdds, ExponentiatedGradient

    preprocessing, final, final_name = _split_model(estimator)
    if not has_fit_parameter(final, "sample_weight"):
        raise RefitError(NO_SAMPLE_WEIGHT.format(name=final_name))
    _seed_unset_random_states(preprocessing, seed)
    _seed_unset_random_states(final, seed)
    labels = train_y.astype(np.int8)
    train_inputs, eval_inputs = _prepared_features(
        preprocessing, train_features, labels, eval_features
    )
    moment = DemographicParity() if constraints == "demographic_parity" else EqualizedOdds()
    reduction = ExponentiatedGradient(final, constraints=moment)
    reduction.fit(train_inputs, labels, sensitive_features=train_group_codes)
    return np.asarray(reduction.predict(eval_inputs, random_state=random_state)) == 1


def _indicators(group_codes: np.ndarray, n_groups: int) -> np.ndarray:
    out = np.zeros((len(group_codes), n_groups), dtype=np.float64)
    out[np.arange(len(group_codes)), group_codes] = 1.0
    return out


def correlation_remover_predictions(
    estimator: Any,
    train_features: pd.DataFrame,
    train_y: np.ndarray,
    train_group_codes: np.ndarray,
    eval_features: pd.DataFrame,
    eval_group_codes: np.ndarray,
    n_groups: int,
    seed: int,
) -> np.ndarray:
    """Return bool predictions of the final step refit on decorrelated training inputs.

    The preprocessing steps are refit on the training set; one indicator column per group
    (of the training and evaluation sets together) is appended to their output, and
    CorrelationRemover projects the group indicators out of every other column (then
    drops them) before a clone of the final step is trained on the result.
    """
    from fairlearn.preprocessing import CorrelationRemover

    preprocessing, final, _ = _split_model(estimator)
    _seed_unset_random_states(preprocessing, seed)
    _seed_unset_random_states(final, seed)
    labels = train_y.astype(np.int8)
    train_inputs, eval_inputs = _prepared_features(
        preprocessing, train_features, labels, eval_features
    )
    n_inputs = train_inputs.shape[1]
    remover = CorrelationRemover(sensitive_feature_ids=list(range(n_inputs, n_inputs + n_groups)))
    train_decorrelated = remover.fit_transform(
        np.hstack([train_inputs, _indicators(train_group_codes, n_groups)])
    )
    eval_decorrelated = remover.transform(
        np.hstack([eval_inputs, _indicators(eval_group_codes, n_groups)])
    )
    final.fit(train_decorrelated, labels)
    return np.asarray(final.predict(eval_decorrelated)) == 1


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


def _first_line(exc: BaseException) -> str:
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


def _warning_notes(caught: Sequence[warnings.WarningMessage]) -> tuple[str, ...]:
    """Return the notes of the warnings that say something about the data, each once."""
    return tuple(dict.fromkeys(note for item in caught if (note := _note(item)) is not None))


def run_unit(unit: Unit) -> UnitResult:
    """Return one unit's result; an exception becomes its reason, a data warning a note.

    BLAS runs single-threaded inside a unit: units are the parallelism, multithreaded
    BLAS on these small solver steps was 3-7 times slower on a busy machine, and a fixed
    thread count keeps floating-point sums, hence predictions, the same for any ``jobs``.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            y_pred: np.ndarray | None = unit.function(*unit.args)
            reason = None
        except Exception as exc:  # any failure of one method is reported, not raised
            y_pred, reason = None, _first_line(exc)
    return UnitResult(unit.method, unit.fold, y_pred, reason, _warning_notes(caught))
