"""The histogram ThresholdOptimizer (fairaudit.mitigation._thresholds) against fairlearn's own.

fairlearn's ``ThresholdOptimizer``, fitted on the same rows (a score column wrapped as a
prefit estimator, ``RowScores``), is the oracle: every group's thresholds and mixing
probabilities, and every randomized prediction, must be identical, not merely close.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fairlearn.postprocessing import ThresholdOptimizer

from fairaudit.mitigation import (
    DEGENERATE_LABELS,
    GroupThresholds,
    RowScores,
    fit_thresholds,
    predict_thresholds,
    score_histogram,
)

CONSTRAINTS = ("demographic_parity", "equalized_odds", "true_positive_rate_parity")


def fairlearn_rules(
    constraint: str, scores: np.ndarray, y: np.ndarray, codes: np.ndarray, fit: np.ndarray
) -> tuple[ThresholdOptimizer, dict[int, GroupThresholds]]:
    """Return fairlearn's fitted optimizer and its rules, as GroupThresholds."""
    optimizer = ThresholdOptimizer(
        estimator=RowScores(scores),
        constraints=constraint,
        objective="accuracy_score",
        prefit=True,
        predict_method="auto",
    )
    optimizer.fit(fit.reshape(-1, 1), y[fit].astype(np.int8), sensitive_features=codes[fit])
    rules = {
        int(group): GroupThresholds(
            rule.p0,
            rule.operation0.threshold,
            rule.p1,
            rule.operation1.threshold,
            rule.get("p_ignore"),
            rule.get("prediction_constant"),
        )
        for group, rule in optimizer.interpolated_thresholder_.interpolation_dict.items()
    }
    return optimizer, rules


def same_number(a: Any, b: Any) -> bool:
    return (a is None and b is None) or a == b or (a != a and b != b)


def assert_identical(
    scores: np.ndarray,
    y: np.ndarray,
    codes: np.ndarray,
    fold_of_row: np.ndarray,
    folds: int,
    *,
    constraints: tuple[str, ...] = CONSTRAINTS,
) -> None:
    """Fit every constraint on every fold both ways; assert identical rules and predictions."""
    histogram = score_histogram(scores, y, codes, fold_of_row, folds)
    rows = np.arange(len(y))
    for constraint in constraints:
        for fold in range(folds):
            fit, held = rows[fold_of_row != fold], rows[fold_of_row == fold]
            optimizer, expected = fairlearn_rules(constraint, scores, y, codes, fit)
            rules = fit_thresholds(histogram, constraint, held_out=fold)
            assert rules.keys() == expected.keys()
            for group, rule in rules.items():
                want = expected[group]
                for name in GroupThresholds.__dataclass_fields__:
                    assert same_number(getattr(rule, name), getattr(want, name)), (
                        constraint, fold, group, name, rule, want,
                    )  # fmt: skip
            predicted = predict_thresholds(rules, scores[held], codes[held], 1234 + fold)
            oracle = optimizer.predict(
                held.reshape(-1, 1), sensitive_features=codes[held], random_state=1234 + fold
            )
            assert np.array_equal(predicted, np.asarray(oracle) == 1), (constraint, fold)


def random_case(
    rng: np.random.Generator, n: int, groups: int, scores: np.ndarray, folds: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return labels, group codes and folds with both classes of every group in every fit."""
    codes = rng.integers(0, groups, n)
    y = (rng.random(n) < rng.uniform(0.2, 0.8)) | (scores > np.quantile(scores, 0.8))
    fold_of_row = rng.integers(0, folds, n)
    for group in range(groups):
        rows = rng.choice(n, size=2 * folds + 2, replace=False)
        codes[rows] = group
        y[rows[: folds + 1]] = True
        y[rows[folds + 1 :]] = False
    return y, codes, fold_of_row


@pytest.mark.parametrize("seed", range(6))
def test_random_data_sets_give_fairlearns_thresholds_and_predictions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(4):
        n = int(rng.integers(40, 1500))
        groups = int(rng.integers(1, 12))  # 8 or more: fairlearn's pandas sum order too
        kind = int(rng.integers(0, 4))
        if kind == 0:  # few distinct scores: many ties
            scores = rng.integers(0, int(rng.integers(2, 20)), n) / 7.0
        elif kind == 1:  # continuous
            scores = rng.random(n)
        elif kind == 2:  # extremes: midpoints that overflow, or underflow to subnormals
            scale = 1e308 if rng.random() < 0.5 else 1e-310
            scores = rng.uniform(-1.7, 1.7, n) * scale
        else:  # negative, zero of both signs, ties
            scores = np.round(rng.random(n), 1) - 0.5
            scores[rng.random(n) < 0.1] = -0.0
        y, codes, fold_of_row = random_case(rng, n, groups, scores)
        assert_identical(scores, y, codes, fold_of_row, 3)


def test_one_group_and_two_distinct_scores() -> None:
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 2, 300).astype(float)
    y, codes, fold_of_row = random_case(rng, 300, 1, scores)
    assert_identical(scores, y, codes, fold_of_row, 3)


def test_one_score_for_every_row() -> None:
    rng = np.random.default_rng(2)
    scores = np.full(200, 0.5)
    y, codes, fold_of_row = random_case(rng, 200, 3, scores)
    assert_identical(scores, y, codes, fold_of_row, 3)


def test_a_perfectly_separating_score() -> None:
    rng = np.random.default_rng(3)
    y = rng.random(600) < 0.3
    scores = y + rng.random(600) * 0.5
    codes = rng.integers(0, 4, 600)
    assert_identical(scores, y, codes, rng.integers(0, 2, 600), 2)


def test_many_rows() -> None:
    rng = np.random.default_rng(4)
    n = 40_000
    y = rng.random(n) < 0.4
    codes = rng.integers(0, 6, n)
    scores = 1 / (1 + np.exp(-(1.5 * y + rng.normal(size=n) - 0.3 * codes)))
    assert_identical(scores, y, codes, rng.integers(0, 2, n), 2)


def test_a_group_of_one_class_fails_as_fairlearn_does() -> None:
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.6])
    y = np.array([False, True, False, True, True, True])
    codes = np.array([0, 0, 0, 0, 1, 1])
    histogram = score_histogram(scores, y, codes)
    for constraint in CONSTRAINTS:
        with pytest.raises(ValueError) as expected:
            fairlearn_rules(constraint, scores, y, codes, np.arange(6))
        with pytest.raises(ValueError) as caught:
            fit_thresholds(histogram, constraint)
        assert str(caught.value) == str(expected.value) == DEGENERATE_LABELS.format(1)


def test_a_group_without_rules_is_predicted_negative() -> None:
    rule = GroupThresholds(1.0, -np.inf, 0.0, -np.inf)
    predicted = predict_thresholds({0: rule}, np.array([0.1, 0.9, 0.5]), np.array([0, 1, 0]), 0)
    assert predicted.tolist() == [True, False, True]


def test_scores_whose_midpoints_overflow() -> None:
    rng = np.random.default_rng(5)
    scores = rng.choice(np.array([1.7e308, 1.6e308, -1.7e308, 0.0]), size=500)
    y, codes, fold_of_row = random_case(rng, 500, 2, scores)
    assert_identical(scores, y, codes, fold_of_row, 3)


def test_a_spilled_histogram_pickles_as_its_folder_and_fits_the_same(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    scores = rng.random(3000)
    y, codes, fold_of_row = random_case(rng, 3000, 4, scores)
    histogram = score_histogram(scores, y, codes, fold_of_row, 3)
    expected = pickle.loads(pickle.dumps(histogram))
    histogram.spill(tmp_path)
    pickled = pickle.dumps(histogram)
    assert len(pickled) < 500  # the folder's name, not the arrays
    mapped = pickle.loads(pickled)
    for constraint in CONSTRAINTS:
        assert fit_thresholds(mapped, constraint, 1) == fit_thresholds(expected, constraint, 1)
