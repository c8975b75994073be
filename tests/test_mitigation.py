"""Tests of fairaudit.mitigation: cross-fitted post-processing, retraining, failures, seeds."""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from fairaudit.data import MISSING_GROUP
from fairaudit.errors import ConfigError
from fairaudit.mitigation import (
    CAVEATS,
    CONSTRAINTS,
    METHODS,
    NEEDS_SCORES,
    NEEDS_TRAINING,
    NO_SAMPLE_WEIGHT,
    NOT_CONVERGED,
    NUMERIC_TROUBLE,
    REFIT_METHODS,
    THRESHOLD_METHODS,
    TOO_FEW_FOR_FOLDS,
    UNKNOWN_METHOD,
    GroupingChoice,
    MitigationInputs,
    MitigationOutcome,
    TradeoffPoint,
    Unit,
    available_methods,
    best_tradeoff,
    choose_grouping,
    eligibility,
    group_codes,
    is_imbalanced,
    run_mitigations,
    run_unit,
    score_histogram,
    threshold_fold_predictions,
    tradeoff_measure,
)

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


def synthetic(n: int, *, seed: int = 0, gap: float = 1.0) -> tuple[pd.DataFrame, np.ndarray]:
    """Return (frame, y) with an injected disparity: group b's scores sit ``gap`` lower.

    Labels are independent of the group (base rate 0.5 in both), so any difference in
    selection rates comes from the scores alone.
    """
    rng = np.random.default_rng(seed)
    group = rng.choice(np.array(["a", "b"]), size=n, p=[0.6, 0.4])
    y = rng.random(n) < 0.5
    latent = 1.5 * y + rng.normal(size=n) - gap * (group == "b")
    frame = pd.DataFrame(
        {
            "x1": latent + rng.normal(scale=0.3, size=n),
            "x2": rng.normal(size=n),
            "colour": rng.choice(np.array(["red", "green", "blue"]), size=n),
            "group": group,
            "score": 1.0 / (1.0 + np.exp(-(latent - 0.75))),
        }
    )
    return frame, y


#: Model inputs: no group indicator, so a model cannot undo the shift of group b's scores.
FEATURES = ["x1", "x2"]


def score_inputs(n: int = 4000, *, seed: int = 0) -> MitigationInputs:
    """Return inputs for the score-column path: no model, no training set."""
    frame, y = synthetic(n, seed=seed)
    return MitigationInputs(
        eval_features=frame[FEATURES],
        y_true=y,
        sensitive=frame[["group"]],
        estimator=None,
        score=frame["score"].to_numpy(),
    )


def model_inputs(
    estimator: Any, *, n_train: int = 600, n_eval: int = 500, fit: bool = True
) -> MitigationInputs:
    """Return inputs with a model (fitted on the training rows) and a training set."""
    train, train_y = synthetic(n_train, seed=1)
    evaluation, y = synthetic(n_eval, seed=2)
    if fit:
        estimator.fit(train[FEATURES], train_y)
    return MitigationInputs(
        eval_features=evaluation[FEATURES],
        y_true=y,
        sensitive=evaluation[["group"]],
        estimator=estimator,
        score=None,
        train_features=train[FEATURES],
        train_y=train_y,
        train_sensitive=train[["group"]],
    )


def selection_gap(y_pred: np.ndarray, group: pd.Series) -> float:
    """Return the demographic parity difference (max - min selection rate over groups)."""
    rates = pd.Series(y_pred).groupby(group.to_numpy()).mean()
    return float(rates.max() - rates.min())


def by_method(outcomes: list[MitigationOutcome]) -> dict[str, MitigationOutcome]:
    return {o.method: o for o in outcomes}


# ---------------------------------------------------------------------------------------
# Post-processing, cross-fitted


def test_threshold_demographic_parity_halves_the_injected_disparity() -> None:
    inputs = score_inputs()
    group = inputs.sensitive["group"]
    assert inputs.score is not None
    baseline = inputs.score >= 0.5
    before = selection_gap(baseline, group)
    assert before > 0.25  # the injected disparity is large

    (outcome,) = run_mitigations(inputs, ["threshold_demographic_parity"], jobs=1)

    assert outcome.status == "ok" and outcome.reason is None
    assert outcome.y_pred is not None and outcome.y_pred.dtype == bool
    assert len(outcome.y_pred) == len(inputs.y_true)
    after = selection_gap(outcome.y_pred, group)
    assert after < before / 4
    # ...without wrecking accuracy on rows the thresholds never saw.
    accuracy = float((outcome.y_pred == inputs.y_true).mean())
    assert accuracy > float((baseline == inputs.y_true).mean()) - 0.05
    # Each held-out fold on its own is fairer too, not just the pooled rows.
    assert outcome.fold_of_row is not None
    for fold in range(5):
        rows = outcome.fold_of_row == fold
        assert selection_gap(outcome.y_pred[rows], group[rows]) < before / 2


def test_threshold_equalized_odds_and_tpr_parity_reduce_their_gaps() -> None:
    inputs = score_inputs()
    group = inputs.sensitive["group"].to_numpy()
    assert inputs.score is not None
    positives = inputs.y_true

    def tpr_gap(y_pred: np.ndarray) -> float:
        return abs(
            y_pred[positives & (group == "a")].mean() - y_pred[positives & (group == "b")].mean()
        )

    before = tpr_gap(inputs.score >= 0.5)
    outcomes = by_method(
        run_mitigations(
            inputs, ["threshold_equalized_odds", "threshold_true_positive_rate_parity"], jobs=1
        )
    )
    for outcome in outcomes.values():
        assert outcome.status == "ok" and outcome.y_pred is not None
        assert tpr_gap(outcome.y_pred) < before / 2


def test_no_row_is_scored_by_thresholds_fitted_on_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from fairaudit.mitigation import _plan

    seen: list[dict[str, Any]] = []

    def spy(*args: Any) -> np.ndarray:
        _, histogram, fold, held_scores, _, _ = args
        seen.append({"fit": histogram.fit_counts(fold), "held": held_scores, "fold": fold})
        return threshold_fold_predictions(*args)

    monkeypatch.setattr(_plan, "threshold_fold_predictions", spy)
    inputs = score_inputs(1000)
    outcomes = run_mitigations(inputs, list(THRESHOLD_METHODS), folds=4, jobs=1)

    assert [o.status for o in outcomes] == ["ok"] * 3
    assert len(seen) == 3 * 4
    fold_of_row = outcomes[0].fold_of_row
    assert fold_of_row is not None
    assert inputs.score is not None
    _, (codes,) = group_codes([inputs.sensitive], ["group"])
    for record in seen:
        held = fold_of_row == record["fold"]
        # The held-out fold's rows are predicted, in row order...
        assert np.array_equal(record["held"], inputs.score[held])
        # ...by thresholds fitted on the histogram of exactly the other folds' rows.
        fitted_on = score_histogram(inputs.score[~held], inputs.y_true[~held], codes[~held])
        present = record["fit"].sum(axis=1) > 0
        assert np.array_equal(record["fit"][present], fitted_on.total)
        assert int(record["fit"].sum()) == int((~held).sum())


def test_folds_are_stratified_by_group_and_label() -> None:
    inputs = score_inputs(2000)
    (outcome,) = run_mitigations(inputs, ["threshold_demographic_parity"], jobs=1)
    assert outcome.fold_of_row is not None
    strata = inputs.sensitive["group"].to_numpy() + inputs.y_true.astype(str)
    table = pd.crosstab(outcome.fold_of_row, strata)
    # Each stratum splits into 5 folds whose sizes differ by at most one row.
    assert ((table.max() - table.min()) <= 1).all()
    assert "(stratified by group and label)" in outcome.protocol
    assert "fitted on 4 of 5 folds of the evaluation set" in outcome.protocol


def test_score_column_path_runs_threshold_methods_only() -> None:
    inputs = score_inputs(1000)
    assert available_methods(inputs) == list(THRESHOLD_METHODS)
    outcomes = by_method(run_mitigations(inputs, list(METHODS), jobs=1))
    for method in THRESHOLD_METHODS:
        assert outcomes[method].status == "ok"
        assert "on the score column" in outcomes[method].protocol
    for method in REFIT_METHODS:
        assert outcomes[method].status == "skipped"
        assert outcomes[method].reason == NEEDS_TRAINING
        assert outcomes[method].y_pred is None


def test_model_scores_are_asked_for_only_without_a_score_column() -> None:
    inputs = model_inputs(LogisticRegression(), fit=True)
    assert inputs.estimator is not None
    from_model = run_mitigations(inputs, ["threshold_demographic_parity"], jobs=1)[0]
    inputs.score = inputs.estimator.predict_proba(inputs.eval_features)[:, 1]
    from_column = run_mitigations(inputs, ["threshold_demographic_parity"], jobs=1)[0]
    assert from_model.status == from_column.status == "ok"
    assert from_model.y_pred is not None and from_column.y_pred is not None
    assert np.array_equal(from_model.y_pred, from_column.y_pred)
    assert "on the model's scores" in from_model.protocol


def test_missing_scores_fail_the_threshold_methods() -> None:
    inputs = score_inputs(400)
    assert inputs.score is not None
    # pandas 3 hands out read-only arrays (copy-on-write): change a copy.
    score = inputs.score.copy()
    score[[3, 7]] = np.nan
    inputs = replace(inputs, score=score)
    outcomes = run_mitigations(inputs, jobs=1)
    assert [o.status for o in outcomes] == ["failed"] * 3
    assert outcomes[0].reason == (
        "2 of the scores are missing or not finite; thresholds need a score per row"
    )


# ---------------------------------------------------------------------------------------
# Failures are reported per method


def test_group_too_small_for_cross_fitting_fails_threshold_methods_only() -> None:
    inputs = model_inputs(LogisticRegression())
    sensitive = inputs.sensitive.copy()
    # One row alone in its group: no fold split can fit its thresholds on other rows.
    sensitive.loc[sensitive.index[0], "group"] = "c"
    inputs.sensitive = sensitive
    # Groups are checked positives first: the lone row leaves 0 or 1 positive rows.
    expected = TOO_FEW_FOR_FOLDS.format(group="'c'", count=int(inputs.y_true[0]), label="positive")

    messages: list[str] = []
    outcomes = by_method(
        run_mitigations(
            inputs, [*THRESHOLD_METHODS, "correlation_remover"], jobs=1, progress=messages.append
        )
    )
    for method in THRESHOLD_METHODS:
        assert outcomes[method].status == "failed"
        assert outcomes[method].reason == expected
        assert outcomes[method].y_pred is None
        assert f"{method}: failed: {expected}" in messages
    assert outcomes["correlation_remover"].status == "ok"


def test_two_rows_per_group_and_label_are_enough_for_five_folds() -> None:
    inputs = score_inputs(1000)
    sensitive = inputs.sensitive.copy()
    positives = np.flatnonzero(inputs.y_true)[:2]
    negatives = np.flatnonzero(~inputs.y_true)[:2]
    sensitive.iloc[np.r_[positives, negatives], 0] = "c"
    inputs.sensitive = sensitive
    # StratifiedKFold warns about strata smaller than the folds; that warning is expected
    # and silenced precisely (pytest turns any other warning into an error).
    outcomes = run_mitigations(inputs, jobs=1)
    assert [o.status for o in outcomes] == ["ok"] * 3
    assert outcomes[0].sensitive_features == ("group",)


class Unclonable:
    """A fitted classifier that scikit-learn cannot clone (no get_params)."""

    classes_ = np.array([False, True])

    def predict_proba(self, X: Any) -> np.ndarray:
        first = np.asarray(X, dtype=np.float64)[:, 0]
        p = 1.0 / (1.0 + np.exp(-first))
        return np.column_stack([1 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        return self.predict_proba(X)[:, 1] >= 0.5


def test_a_model_that_cannot_be_retrained_fails_only_the_retraining_methods() -> None:
    inputs = model_inputs(Unclonable(), fit=False)
    outcomes = by_method(run_mitigations(inputs, jobs=1))
    assert list(outcomes) == list(METHODS)
    for method in THRESHOLD_METHODS:
        assert outcomes[method].status == "ok"
    for method in REFIT_METHODS:
        outcome = outcomes[method]
        assert outcome.status == "failed"
        assert outcome.reason is not None
        assert outcome.reason.startswith(
            "the model cannot be retrained: cloning Unclonable failed: TypeError: Cannot clone"
        )


def test_expgrad_needs_sample_weight_correlation_remover_does_not() -> None:
    inputs = model_inputs(KNeighborsClassifier(n_neighbors=15))
    outcomes = by_method(run_mitigations(inputs, list(REFIT_METHODS), jobs=1))
    for method in ("expgrad_demographic_parity", "expgrad_equalized_odds"):
        assert outcomes[method].status == "failed"
        assert outcomes[method].reason == NO_SAMPLE_WEIGHT.format(name="KNeighborsClassifier")
    assert outcomes["correlation_remover"].status == "ok"


def test_a_fit_that_did_not_converge_is_a_note_in_plain_words() -> None:
    inputs = model_inputs(LogisticRegression(max_iter=2), fit=False)
    (outcome,) = run_mitigations(inputs, ["correlation_remover"], jobs=1)
    assert outcome.status == "ok"
    assert outcome.warnings == (NOT_CONVERGED,)


def test_library_warnings_are_not_notes() -> None:
    # fairlearn 0.15's reductions set a Series value via .at, which pandas 3 deprecates
    # (Pandas4Warning): about fairlearn's code, not the data, so not for the report.
    inputs = model_inputs(LogisticRegression())
    outcomes = run_mitigations(inputs, list(REFIT_METHODS), jobs=1)
    assert [(o.status, o.warnings) for o in outcomes] == [("ok", ())] * len(REFIT_METHODS)


def _warns_like_libraries_and_the_data(values: np.ndarray) -> np.ndarray:
    from sklearn.exceptions import ConvergenceWarning

    warnings.warn("old API", DeprecationWarning, stacklevel=1)
    warnings.warn("changes in 2.0", FutureWarning, stacklevel=1)
    warnings.warn("Glyph 22899 missing from font(s) DejaVu Sans.", UserWarning, stacklevel=1)
    warnings.warn("lbfgs failed to converge", ConvergenceWarning, stacklevel=1)
    with np.errstate(over="warn"):
        np.exp(np.array([1000.0]))
    warnings.warn("lbfgs failed to converge", ConvergenceWarning, stacklevel=1)
    return values


def test_only_warnings_about_the_data_or_fit_become_notes() -> None:
    unit = Unit("correlation_remover", None, _warns_like_libraries_and_the_data, (np.ones(2),))
    result = run_unit(unit)
    assert result.reason is None
    assert result.warnings == (NOT_CONVERGED, NUMERIC_TROUBLE)


# ---------------------------------------------------------------------------------------
# Retraining


def test_expgrad_demographic_parity_reduces_disparity_on_the_evaluation_set() -> None:
    inputs = model_inputs(LogisticRegression(), n_train=1000)
    assert inputs.estimator is not None
    group = inputs.sensitive["group"]
    before = selection_gap(inputs.estimator.predict(inputs.eval_features), group)
    (outcome,) = run_mitigations(inputs, ["expgrad_demographic_parity"], jobs=1)
    assert outcome.status == "ok" and outcome.y_pred is not None
    assert selection_gap(outcome.y_pred, group) < before / 2
    assert outcome.fold_of_row is None
    assert "retrained the model (LogisticRegression) on the training set (1000 rows)" in (
        outcome.protocol
    )


def test_correlation_remover_takes_the_group_shift_out_of_the_inputs() -> None:
    # x1 carries group b's shift while the labels do not depend on the group: once the
    # shift is projected out of x1, the retrained model selects both groups alike.
    inputs = model_inputs(LogisticRegression(), n_train=1000)
    assert inputs.estimator is not None
    group = inputs.sensitive["group"]
    before = selection_gap(inputs.estimator.predict(inputs.eval_features), group)
    (outcome,) = run_mitigations(inputs, ["correlation_remover"], jobs=1)
    assert outcome.status == "ok" and outcome.y_pred is not None
    assert selection_gap(outcome.y_pred, group) < before / 2
    assert outcome.protocol.startswith(
        "CorrelationRemover (alpha 1) removed the linear correlation of the model's inputs "
        "with one indicator per group, fitted on the training set (1000 rows)"
    )


def german_inputs() -> MitigationInputs:
    """Return the bundled German credit sample as the audit would hand it over."""
    from fairaudit.data import encode_sensitive
    from fairaudit.models import load_model, predict

    def sensitive(frame: pd.DataFrame) -> pd.DataFrame:
        age = encode_sensitive(frame["age"], column="age", edges=[25, 40, 60])
        ages = np.asarray(age.levels)[age.codes]
        return pd.DataFrame({"sex": frame["sex"].astype(str), "age": ages})

    evaluation = pd.read_csv(SAMPLE / "german_eval.csv")
    train = pd.read_csv(SAMPLE / "german_train.csv")
    model = load_model(SAMPLE / "german_credit_model.skops")
    columns = [c for c in evaluation.columns if c != "risk"]
    scored = predict(model, evaluation, columns, None)
    return MitigationInputs(
        eval_features=evaluation[columns],
        y_true=evaluation["risk"].to_numpy() == 1,
        sensitive=sensitive(evaluation),
        estimator=model.estimator,
        score=scored.score,
        train_features=train[columns],
        train_y=train["risk"].to_numpy() == 1,
        train_sensitive=sensitive(train),
    )


def test_german_sample_intersection_is_too_small_for_thresholds_but_sex_is_not() -> None:
    inputs = german_inputs()
    outcomes = by_method(
        run_mitigations(inputs, [*THRESHOLD_METHODS, "correlation_remover"], jobs=1)
    )
    # Four women aged 60 or more, all good risks: no negative row to fit a threshold on.
    expected = TOO_FEW_FOR_FOLDS.format(group="'sex=female, age=>= 60'", count=0, label="negative")
    for method in THRESHOLD_METHODS:
        assert outcomes[method].reason == expected
    remover = outcomes["correlation_remover"]
    assert remover.status == "ok"
    # The Pipeline's ColumnTransformer encodes the strings; the remover works on its output.
    assert remover.protocol.startswith(
        "The model's preprocessing steps were refit on the training set; CorrelationRemover"
    )
    assert "Groups: the intersection of sex and age (8 groups)." in remover.protocol

    on_sex = run_mitigations(inputs, ["threshold_demographic_parity"], on=["sex"], jobs=1)
    assert on_sex[0].status == "ok"
    assert "Groups: sex (2 groups)." in on_sex[0].protocol
    assert on_sex[0].sensitive_features == ("sex",)


def test_pipeline_with_string_columns_is_retrained_by_expgrad() -> None:
    train, train_y = synthetic(600, seed=1)
    evaluation, y = synthetic(400, seed=2)
    columns = ["x1", "x2", "colour"]
    model = Pipeline(
        [
            (
                "prepare",
                ColumnTransformer(
                    [
                        ("words", OneHotEncoder(), ["colour"]),
                        ("numbers", StandardScaler(), ["x1", "x2"]),
                    ]
                ),
            ),
            ("classify", LogisticRegression()),
        ]
    ).fit(train[columns], train_y)
    inputs = MitigationInputs(
        evaluation[columns], y, evaluation[["group"]], model, None,
        train[columns], train_y, train[["group"]],
    )  # fmt: skip
    (outcome,) = run_mitigations(inputs, ["expgrad_demographic_parity"], jobs=1)
    assert outcome.status == "ok", outcome.reason
    before = selection_gap(model.predict(evaluation[columns]), evaluation["group"])
    assert outcome.y_pred is not None
    assert selection_gap(outcome.y_pred, evaluation["group"]) < before / 2
    assert "the model's final step 'classify' (LogisticRegression)" in outcome.protocol


# ---------------------------------------------------------------------------------------
# Reproducibility, selection, progress


def test_outcomes_are_identical_for_one_and_two_jobs() -> None:
    from sklearn.linear_model import SGDClassifier

    # SGDClassifier shuffles with its random_state, left unset here: the run's seed fixes it.
    inputs = model_inputs(SGDClassifier(loss="log_loss", max_iter=50, tol=None), n_train=400)
    inputs.score = np.asarray(inputs.eval_features["x1"])
    one = run_mitigations(inputs, seed=7, jobs=1)
    two = run_mitigations(inputs, seed=7, jobs=2)
    assert [o.method for o in one] == list(METHODS)
    for a, b in zip(one, two):
        assert (a.method, a.status, a.reason, a.protocol, a.warnings) == (
            b.method, b.status, b.reason, b.protocol, b.warnings,
        )  # fmt: skip
        assert a.status == "ok", a.reason
        assert a.y_pred is not None and b.y_pred is not None
        assert np.array_equal(a.y_pred, b.y_pred)
        assert (a.fold_of_row is None) == (b.fold_of_row is None)
        if a.fold_of_row is not None:
            assert np.array_equal(a.fold_of_row, b.fold_of_row)
    # Another seed draws other folds (the seed is used, not ignored).
    other = run_mitigations(inputs, ["threshold_demographic_parity"], seed=8, jobs=1)
    assert not np.array_equal(other[0].fold_of_row, one[0].fold_of_row)


def test_selection_defaults_and_errors() -> None:
    with_training = model_inputs(LogisticRegression())
    assert available_methods(with_training) == list(METHODS)
    nothing = MitigationInputs(
        with_training.eval_features, with_training.y_true, with_training.sensitive
    )
    assert available_methods(nothing) == []
    assert run_mitigations(nothing, jobs=1) == []
    skipped = run_mitigations(nothing, ["threshold_equalized_odds"], jobs=1)
    assert (skipped[0].status, skipped[0].reason) == ("skipped", NEEDS_SCORES)

    with pytest.raises(ConfigError) as caught:
        run_mitigations(with_training, ["threshold_demographic_parity", "reweighing"])
    assert str(caught.value) == UNKNOWN_METHOD.format(name="reweighing", names=", ".join(METHODS))
    with pytest.raises(ConfigError, match="cross-fitting needs at least 2 folds, not 1"):
        run_mitigations(with_training, folds=1)
    with pytest.raises(ConfigError, match="cannot mitigate on 'age': not a sensitive feature"):
        run_mitigations(with_training, on=["age"])
    # A method named twice runs once; the order given is the order returned.
    inputs = score_inputs(400)
    order = ["threshold_equalized_odds", "threshold_demographic_parity", "threshold_equalized_odds"]
    assert [o.method for o in run_mitigations(inputs, order, jobs=1)] == order[:2]


def test_progress_reports_every_method_with_its_time() -> None:
    inputs = model_inputs(LogisticRegression())
    messages: list[str] = []
    outcomes = run_mitigations(
        inputs, ["threshold_demographic_parity", "correlation_remover"], folds=3, jobs=1,
        progress=messages.append,
    )  # fmt: skip
    assert sorted(re.sub(r"[0-9]+\.[0-9] s", "T s", m) for m in messages) == [
        "correlation_remover: done in T s",
        "threshold_demographic_parity: done in T s",
    ]
    for outcome in outcomes:
        assert outcome.seconds is not None and outcome.seconds > 0
    skipped = run_mitigations(score_inputs(400), ["correlation_remover"], jobs=1)
    assert skipped[0].seconds is None


def test_a_failed_fold_is_reported_once_for_its_method(monkeypatch: pytest.MonkeyPatch) -> None:
    from fairaudit.mitigation import _plan

    def failing(*args: Any) -> np.ndarray:
        if args[2] == 1:
            raise ValueError("no thresholds today")
        return threshold_fold_predictions(*args)

    monkeypatch.setattr(_plan, "threshold_fold_predictions", failing)
    messages: list[str] = []
    (outcome,) = run_mitigations(
        score_inputs(400), ["threshold_equalized_odds"], folds=3, jobs=1,
        progress=messages.append,
    )  # fmt: skip
    assert outcome.status == "failed"
    assert outcome.reason == "fold 2 of 3: ValueError: no thresholds today"
    assert len(messages) == 1
    assert re.fullmatch(
        r"threshold_equalized_odds: failed after [0-9.]+ s: fold 2 of 3: ValueError: no "
        r"thresholds today",
        messages[0],
    )


def test_every_method_has_a_constraint_and_a_caveat() -> None:
    assert set(CONSTRAINTS) == set(CAVEATS) == set(METHODS)
    for method in THRESHOLD_METHODS:
        assert "sensitive attribute at decision time" in CAVEATS[method]
        assert "randomized" in CAVEATS[method]
    for method in REFIT_METHODS:
        assert "new model" in CAVEATS[method]


# ---------------------------------------------------------------------------------------
# Choosing the best trade-off


def test_best_tradeoff_is_the_fairest_within_the_accuracy_budget() -> None:
    def point(accuracy: float, disparity: float) -> TradeoffPoint:
        return TradeoffPoint(accuracy, accuracy, disparity)

    results = {
        "threshold_demographic_parity": point(0.80, 0.02),  # fairest, but loses 5 points
        "threshold_equalized_odds": point(0.84, 0.05),
        "expgrad_demographic_parity": point(0.845, 0.05),  # same disparity, more accurate
        "correlation_remover": point(0.86, 0.15),  # no fairer than the model
        "expgrad_equalized_odds": point(float("nan"), 0.01),
    }
    baseline = point(0.85, 0.12)
    best = partial(best_tradeoff, baseline=baseline, imbalanced=False)
    assert best(results) == "expgrad_demographic_parity"
    assert best(results, allowance=0.05) == "threshold_demographic_parity"
    assert best(results, allowance=0.0) is None
    assert best({}) is None


def test_a_variant_that_collapses_a_groups_selection_rate_is_not_eligible() -> None:
    baseline = TradeoffPoint(0.62, 0.596, 0.10)
    collapsed = TradeoffPoint(0.92, 0.5997, 0.001, frozenset({("g=a", "below"), ("g=b", "below")}))
    eligible, why = eligibility(collapsed, baseline, imbalanced=True)
    assert not eligible
    assert why == (
        "Not eligible: it predicts positive for g=a, g=b below 1% of the time "
        "(the audited model did not)."
    )
    # A group the audited model already selected under 1% of the time does not count.
    already = replace(baseline, extreme_groups=frozenset({("g=a", "below"), ("g=b", "below")}))
    assert eligibility(collapsed, already, imbalanced=True)[0]
    # Above 99% is a collapse too.
    everyone = replace(collapsed, extreme_groups=frozenset({("g=a", "above")}))
    assert (
        "predicts positive for g=a above 99% of the time"
        in eligibility(everyone, baseline, imbalanced=True)[1]
    )


def test_imbalanced_classes_judge_the_tradeoff_on_balanced_accuracy() -> None:
    # The résumé case: accuracy rises 0.62 -> 0.92 while balanced accuracy falls to 0.4997.
    baseline = TradeoffPoint(0.62, 0.596, 0.10)
    majority = TradeoffPoint(0.92, 0.4997, 0.001)
    for imbalanced in (True, False):
        eligible, why = eligibility(majority, baseline, imbalanced=imbalanced)
        assert not eligible
        assert "its balanced accuracy falls from 0.596 to 0.500, more than the 2-point" in why
    # Balanced classes: accuracy must hold too; imbalanced: only balanced accuracy counts.
    fair = TradeoffPoint(0.58, 0.59, 0.02)
    assert eligibility(fair, baseline, imbalanced=True) == (
        True,
        "Eligible: it lowers the demographic parity difference from 0.100 to 0.020, its "
        "balanced accuracy goes from 0.596 to 0.590 (allowance 2 points), and it collapses "
        "no group's selection rate.",
    )
    assert (
        "its accuracy falls from 0.620 to 0.580" in eligibility(fair, baseline, imbalanced=False)[1]
    )
    assert best_tradeoff({"a": fair, "b": majority}, baseline=baseline, imbalanced=True) == "a"
    assert [is_imbalanced(p) for p in (0.08, 0.2, 0.5, 0.8, 0.81)] == [
        True, False, False, False, True,
    ]  # fmt: skip
    assert tradeoff_measure(True) == "balanced_accuracy"


def _write_scored(tmp_path: Path, name: str, columns: dict[str, Any]) -> Path:
    path = tmp_path / f"{name}.csv"
    pd.DataFrame(columns).to_csv(path, index=False)
    return path


def test_rare_positives_a_collapsed_threshold_variant_is_not_recommended(tmp_path: Path) -> None:
    """Issue 14 §5: 8% positives; maximizing accuracy, thresholds select (almost) nobody."""
    from sklearn.metrics import balanced_accuracy_score

    from fairaudit.pipe import run_audit
    from fairaudit.result import load_schema
    from fairaudit.spec import AuditSpec

    rng = np.random.default_rng(3)
    n = 4000
    g = rng.choice(np.array(["a", "b"]), size=n, p=[0.6, 0.4])
    y = rng.random(n) < 0.08
    score = 1 / (1 + np.exp(-(0.8 * y + 0.4 * (g == "a") + rng.normal(0, 1, n))))
    pred = score > np.quantile(score, 0.62)
    path = _write_scored(
        tmp_path, "rare", {"y": y.astype(int), "pred": pred.astype(int), "score": score, "g": g}
    )
    spec = AuditSpec(
        data=path, target="y", sensitive=("g",), prediction_col="pred", score_col="score",
        intervals=False, jobs=1,
    )  # fmt: skip
    data = run_audit(spec).to_dict()
    import jsonschema

    jsonschema.Draft202012Validator(load_schema()).validate(data)
    baseline, *variants = data["mitigations"]
    assert baseline["metrics"]["overall"]["balanced_accuracy"] == pytest.approx(
        balanced_accuracy_score(y, pred), abs=1e-12
    )
    summary = data["mitigation_summary"]
    assert summary["tradeoff_measure"] == "balanced_accuracy"
    assert f"positives are {y.mean():.1%} of the evaluation rows" in summary["tradeoff_rule"]
    for variant in variants:
        rates = [r["metrics"]["selection_rate"] for r in variant["by_group"]]
        # Today's rule picked such a variant: accuracy up ~27 points, disparity ~0.
        assert max(rates) < 0.01
        assert (
            variant["metrics"]["overall"]["accuracy"] > baseline["metrics"]["overall"]["accuracy"]
        )
        assert variant["eligible"] is False
        assert variant["eligibility"].startswith(
            "Not eligible: it predicts positive for g=a, g=b below 1% of the time "
            "(the audited model did not)"
        )
    assert summary["best"] is None
    assert baseline["eligible"] is None


def three_features(n: int = 3000, seed: int = 5) -> dict[str, Any]:
    """Return scored rows with three sensitive features; cell (f, x, r) has no positive row."""
    rng = np.random.default_rng(seed)
    a = rng.choice(np.array(["f", "m"]), n)
    b = rng.choice(np.array(["x", "y"]), n)
    c = rng.choice(np.array(["p", "q", "r"]), n, p=[0.45, 0.45, 0.1])
    y = rng.random(n) < 0.4
    y[(a == "f") & (b == "x") & (c == "r")] = False
    score = 1 / (
        1 + np.exp(-(1.5 * y + 0.8 * (a == "m") + 0.3 * (b == "y") + rng.normal(size=n) - 0.8))
    )
    return {
        "y": y.astype(int),
        "pred": (score > 0.5).astype(int),
        "score": score,
        "a": a,
        "b": b,
        "c": c,
    }


def test_three_features_fall_back_to_the_feature_with_the_largest_disparity(
    tmp_path: Path,
) -> None:
    """Issue 14 §3: an intersection cell with 0 positives used to fail every threshold method."""
    from fairlearn.metrics import demographic_parity_difference

    from fairaudit.pipe import run_audit
    from fairaudit.spec import AuditSpec

    columns = three_features()
    path = _write_scored(tmp_path, "three", columns)
    spec = AuditSpec(
        data=path, target="y", sensitive=("a", "b", "c"), prediction_col="pred",
        score_col="score", intervals=False, jobs=1,
    )  # fmt: skip
    messages: list[str] = []
    data = run_audit(spec, progress=messages.append).to_dict()
    summary = data["mitigation_summary"]
    # The oracle: fairlearn's demographic parity difference of each feature; every feature's
    # groups have >= 10 rows of each class, so the largest disparity wins.
    frame = pd.DataFrame(columns)

    def disparity(feature: str) -> float:
        return float(
            demographic_parity_difference(
                frame["y"], frame["pred"], sensitive_features=frame[feature]
            )
        )

    largest = max("abc", key=disparity)
    assert largest == "a"
    assert (summary["grouping"], summary["grouping_features"]) == ("a", ["a"])
    assert summary["grouping_reason"] == (
        "Mitigations act on a, not the intersection of a, b and c: its group 'a=f, b=x, c=r' "
        "has 0 positive row(s), too few to fit group-specific thresholds (cross-fitting needs "
        "at least 2 positive and 2 negative rows in every group); a is the finest grouping in "
        "which every group has at least 10 positive and 10 negative rows, and of those the "
        "single feature with the "
        f"largest demographic parity difference ({disparity(largest):.3f})."
    )
    assert summary["grouping_reason"] in messages  # the console can print it
    assert summary["grouping_reason"] in summary["protocol"]
    for entry in data["mitigations"]:
        assert (entry["status"], entry["sensitive_features"]) == ("ok", ["a"]), entry["reason"]
    assert [r["group"] for r in summary["before_after"]] == [{"a": "f"}, {"a": "m"}]

    # A grouping the user chose is kept: the intersection still fails, with the reason.
    chosen = run_audit(replace(spec, mitigate_on=("a", "b", "c"))).to_dict()
    assert chosen["mitigation_summary"]["grouping_reason"] is None
    expected = TOO_FEW_FOR_FOLDS.format(group="'a=f, b=x, c=r'", count=0, label="positive")
    assert [e["reason"] for e in chosen["mitigations"][1:]] == [expected] * 3
    assert [e["eligible"] for e in chosen["mitigations"][1:]] == [False] * 3


def test_grouping_choice_prefers_the_finest_grouping_with_enough_rows() -> None:
    columns = three_features(2000, seed=1)
    sensitive = pd.DataFrame({k: columns[k] for k in "abc"})
    y = columns["y"] == 1
    disparity = {("a",): 0.1, ("b",): 0.3, ("c",): 0.2, ("a", "b", "c"): 0.4}
    assert choose_grouping(sensitive, y, ["a", "b", "c"], disparity).columns == ("b",)
    # Without the empty cell the intersection can be cross-fitted: kept as requested.
    y_full = np.random.default_rng(0).random(2000) < 0.5
    kept = choose_grouping(sensitive, y_full, ["a", "b", "c"], disparity)
    assert kept == GroupingChoice(("a", "b", "c"), None)
    # No grouping with 10 of each class: the finest one that can be cross-fitted.
    few = choose_grouping(sensitive, y, ["a", "b", "c"], disparity, min_rows=10_000)
    assert few.columns == ("b",)
    assert few.reason is not None and "enough to cross-fit" in few.reason
    # b (the largest disparity) has a group without positives: c, the next largest, wins.
    no_b_positives = y & (sensitive["b"].to_numpy() == "x")
    assert choose_grouping(sensitive, no_b_positives, ["a", "b", "c"], disparity).columns == ("c",)


# ---------------------------------------------------------------------------------------
# The command line: what reaches the user's terminal and the report


def test_a_successful_run_prints_no_library_warning(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    import skops.io as sio

    # Group names in scripts DejaVu Sans lacks (CJK, emoji): charts used to warn per glyph.
    names = np.array(["女性 👩", "男性 👨", "другие"])
    frames = []
    for name, seed in (("eval", 2), ("train", 1)):
        frame, y = synthetic(1500, seed=seed)
        frame["group"] = names[np.where(frame.index % 7 == 0, 2, frame["group"] == "b")]
        frame["label"] = y.astype(int)
        frame[["x1", "x2", "label", "group"]].to_csv(tmp_path / f"{name}.csv", index=False)
        frames.append(frame)
    model = LogisticRegression().fit(frames[1][FEATURES], frames[1]["label"])
    sio.dump(model, tmp_path / "model.skops")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    completed = subprocess.run(
        [sys.executable, "-m", "fairaudit", "run", str(tmp_path / "eval.csv"),
         "--target", "label", "--sensitive", "group", "--model", str(tmp_path / "model.skops"),
         "--train", str(tmp_path / "train.csv"), "--resamples", "100", "-j", "2",
         "--no-ledger", "-o", str(out_dir / "report.html")],
        capture_output=True, text=True, timeout=300,
        env={k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"},
    )  # fmt: skip
    assert (completed.returncode, completed.stderr) == (0, "")
    entries = json.loads((out_dir / "report.json").read_text())["mitigations"]
    assert [e["status"] for e in entries] == ["ok"] * (1 + len(METHODS))
    for entry in entries:
        text = " ".join([entry["caveat"] or "", *entry["warnings"]])
        assert "Warning" not in text, entry["method"]


def _group_codes_by_rows(frame: pd.DataFrame, columns: list[str]) -> tuple[list[str], np.ndarray]:
    """group_codes as it was: every value as text, then np.unique over the rows."""
    factorized, levels = [], []
    for column in columns:
        values = frame[column].astype(object)
        text = values.where(values.notna(), MISSING_GROUP).astype(str)
        codes, uniques = pd.factorize(text, sort=True)
        factorized.append(codes)
        levels.append([str(u) for u in uniques])
    cells, inverse = np.unique(np.stack(factorized, axis=1), axis=0, return_inverse=True)
    names = [
        levels[0][cell[0]]
        if len(columns) == 1
        else ", ".join(f"{c}={levels[i][cell[i]]}" for i, c in enumerate(columns))
        for cell in cells
    ]
    return names, inverse.reshape(-1)


def test_group_codes_are_those_of_every_row_as_text() -> None:
    # group_codes factorizes string columns as they are and keys each row by one integer,
    # instead of np.unique(..., axis=0) (2 s a million rows): the same names and codes.
    rng = np.random.default_rng(0)
    pools = [
        np.array(["x", "y", None, "z", MISSING_GROUP], dtype=object),
        np.array([1, 2.5, None, 10, 1.0], dtype=object),
        np.array(["b", "a", "c"], dtype=object),
    ]
    for _ in range(60):
        n = int(rng.integers(1, 500))
        columns = [f"c{i}" for i in range(int(rng.integers(1, 4)))]
        frame = pd.DataFrame(
            {c: rng.choice(pools[int(rng.integers(0, 3))], size=n) for c in columns}
        )
        if rng.random() < 0.3:
            frame[columns[0]] = frame[columns[0]].astype("string")
        names, (codes,) = group_codes([frame], columns)
        expected_names, expected_codes = _group_codes_by_rows(frame, columns)
        assert list(names) == expected_names
        assert np.array_equal(codes, expected_codes)


def test_worker_processes_only_when_asked_or_large(monkeypatch: pytest.MonkeyPatch) -> None:
    from fairaudit.mitigation import _protocol

    pools: list[int] = []
    real = _protocol.worker_results

    def spy(function: Any, items: Any, *, workers: int) -> Any:
        pools.append(workers)
        return real(function, items, workers=workers)

    monkeypatch.setattr(_protocol, "worker_results", spy)
    inputs = score_inputs(400)
    run_mitigations(inputs, ["threshold_demographic_parity"])  # small: in this process
    assert pools == []
    run_mitigations(inputs, ["threshold_demographic_parity"], jobs=2)  # asked for
    assert pools == [2]
    monkeypatch.setattr(_protocol, "PARALLEL_MIN_CELLS", 100)  # as if it were large
    run_mitigations(inputs, ["threshold_demographic_parity"])
    from joblib import cpu_count

    cores = cpu_count()
    assert pools[1:] == ([min(cores, 5)] if cores > 1 else [])  # the cores, for 5 folds
