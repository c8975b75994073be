"""The fairlearn methods behind ``fairaudit.mitigation``: one unit function per method.

``threshold_fold_predictions`` cross-fits fairlearn's ThresholdOptimizer, computed on the
scores' histogram (``_thresholds``); ``expgrad_predictions`` and
``correlation_remover_predictions`` retrain the model (split before a Pipeline's last step)
on the training set. Each is a unit of parallel work (``_units``). The protocol sentences
say, for the report, what each method fitted on which rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import has_fit_parameter

from fairaudit.mitigation._thresholds import ScoreHistogram, fit_thresholds, predict_thresholds
from fairaudit.mitigation._units import RefitError, failure_reason

__all__ = [
    "NOT_CLONABLE",
    "NOT_NUMERIC",
    "NO_SAMPLE_WEIGHT",
    "RowScores",
    "correlation_remover_predictions",
    "expgrad_predictions",
    "final_step_name",
    "groups_phrase",
    "refit_protocol",
    "threshold_fold_predictions",
    "threshold_protocol",
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


class RowScores(ClassifierMixin, BaseEstimator):
    """A prefit 'estimator' whose input is a row number and whose output is that row's score.

    fairlearn's ThresholdOptimizer only needs scores from its estimator, so a score column
    is wrapped as a fitted estimator to run fairlearn itself on the same rows: the oracle
    ``_thresholds`` is checked against (tests, benchmarks).
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
    histogram: ScoreHistogram,
    fold: int,
    held_scores: np.ndarray,
    held_codes: np.ndarray,
    random_state: int,
) -> np.ndarray:
    """Return bool predictions for the rows held out in ``fold``, fitted on the other folds.

    The thresholds are fairlearn's ThresholdOptimizer's for the rows of the other folds,
    computed on their score histogram (``_thresholds``); ``held_scores`` and
    ``held_codes`` are the held-out rows' scores and group codes, in row order.
    """
    rules = fit_thresholds(histogram, constraints, held_out=fold)
    return predict_thresholds(rules, held_scores, held_codes, random_state)


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
            raise RefitError(NOT_CLONABLE.format(name=label, error=failure_reason(exc))) from None
    if len(cloned) == 1:
        return None, cloned[0], parts[0][0]
    return cloned[0], cloned[1], type(cloned[1]).__name__


def final_step_name(estimator: Any) -> tuple[str, bool]:
    """Return how the protocol names what is retrained, and whether there is preprocessing."""
    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        name, final = estimator.steps[-1]
        return f"the model's final step {name!r} ({type(final).__name__})", True
    return f"the model ({type(estimator).__name__})", False


def seed_unset_random_states(estimator: Any, seed: int) -> None:
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
            detail = failure_reason(exc)
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


def _refit_inputs(
    estimator: Any,
    train_features: pd.DataFrame,
    train_y: np.ndarray,
    eval_features: pd.DataFrame,
    seed: int,
    *,
    needs_sample_weight: bool,
) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """Return the unfitted final step, the int labels, and its training and evaluation inputs.

    The preprocessing steps (if any) are refit on the training set; every unset
    ``random_state`` gets the run's seed. With ``needs_sample_weight``, a final step whose
    ``fit`` takes no ``sample_weight`` is refused before anything is fitted.
    """
    preprocessing, final, final_name = _split_model(estimator)
    if needs_sample_weight and not has_fit_parameter(final, "sample_weight"):
        raise RefitError(NO_SAMPLE_WEIGHT.format(name=final_name))
    seed_unset_random_states(preprocessing, seed)
    seed_unset_random_states(final, seed)
    labels = train_y.astype(np.int8)
    train_inputs, eval_inputs = _prepared_features(
        preprocessing, train_features, labels, eval_features
    )
    return final, labels, train_inputs, eval_inputs


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

    final, labels, train_inputs, eval_inputs = _refit_inputs(
        estimator, train_features, train_y, eval_features, seed, needs_sample_weight=True
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

    final, labels, train_inputs, eval_inputs = _refit_inputs(
        estimator, train_features, train_y, eval_features, seed, needs_sample_weight=False
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
