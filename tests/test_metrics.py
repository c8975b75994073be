"""Every metric of every group, single features and intersections, equals fairlearn's MetricFrame.

fairlearn returns 0 (with a warning) for a rate whose denominator is zero; fairaudit
returns NaN (null in JSON). Those cells are compared against the denominator instead.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equal_opportunity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_negative_rate,
    true_positive_rate,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fairaudit.counts import count_groups
from fairaudit.measure import (
    build_tables,
    disparities_vs_reference,
    headline_metrics,
)
from fairaudit.stats import confusion_metrics
from fairaudit.vocabulary import CONFUSION_METRICS, HEADLINE_METRICS, INTERSECTION

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
TOL = 1e-12

# Which counts each rate divides by: where that is zero fairaudit says NaN.
DENOMINATOR = {
    "true_positive_rate": ("tp", "fn"),
    "false_negative_rate": ("tp", "fn"),
    "false_positive_rate": ("fp", "tn"),
    "true_negative_rate": ("fp", "tn"),
    "balanced_accuracy": None,
}


def _nan_if_raises(fn):
    def wrapped(y_true, y_pred):
        try:
            return fn(y_true, y_pred)
        except ValueError:
            return np.nan

    return wrapped


def fairlearn_metrics(score: bool) -> dict:
    metrics = {
        "count": count,
        "base_rate": lambda y, p: float(np.mean(y)),
        "selection_rate": selection_rate,
        "accuracy": skm.accuracy_score,
        "balanced_accuracy": skm.balanced_accuracy_score,
        "true_positive_rate": true_positive_rate,
        "false_positive_rate": false_positive_rate,
        "true_negative_rate": true_negative_rate,
        "false_negative_rate": false_negative_rate,
        "precision": lambda y, p: skm.precision_score(y, p, zero_division=np.nan),
        "negative_predictive_value": lambda y, p: skm.precision_score(
            y, p, pos_label=0, zero_division=np.nan
        ),
        "false_discovery_rate": lambda y, p: 1 - skm.precision_score(y, p, zero_division=np.nan),
        "false_omission_rate": lambda y, p: (
            1 - skm.precision_score(y, p, pos_label=0, zero_division=np.nan)
        ),
        "f1": lambda y, p: skm.f1_score(y, p, zero_division=np.nan),
    }
    if score:
        metrics["roc_auc"] = _nan_if_raises(skm.roc_auc_score)
        metrics["brier_score"] = skm.brier_score_loss
    return metrics


def _frame(features, codes, levels):
    return pd.DataFrame(
        {f: np.asarray(lv, dtype=object)[c] for f, c, lv in zip(features, codes, levels)}
    )


def assert_equal_to_fairlearn(features, codes, levels, y, p, score=None):
    """Compare every group metric and headline metric with fairlearn, to 1e-12."""
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=int)
    gc = count_groups(features, codes, levels, y, p, with_row_cells=score is not None)
    overall, tables = build_tables(
        gc,
        y_true=y.astype(float) if score is not None else None,
        score=score,
        codes=codes if score is not None else None,
    )
    sf = _frame(features, codes, levels)
    checked = 0
    for table in tables:
        columns = list(table.features)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # fairlearn/sklearn warn on undefined rates
            frame = MetricFrame(
                metrics=fairlearn_metrics(score is not None),
                y_true=y,
                y_pred=p if score is None else pd.Series(p),
                sensitive_features=sf[columns],
            )
            if score is not None:
                frame_scores = MetricFrame(
                    metrics={
                        "roc_auc": _nan_if_raises(skm.roc_auc_score),
                        "brier_score": skm.brier_score_loss,
                    },
                    y_true=y,
                    y_pred=score,
                    sensitive_features=sf[columns],
                )
        by_group = frame.by_group
        # MetricFrame lists empty intersections as all-NaN rows; fairaudit leaves them out.
        by_group = by_group[by_group["count"].fillna(0) > 0]
        assert len(by_group) == len(table.groups)
        for i, group in enumerate(table.groups):
            key = tuple(group[c] for c in columns)
            expected = by_group.loc[key if len(key) > 1 else key[0]]
            tn, fp, fn, tp = table.counts[i]
            names = {"tp": tp, "fn": fn, "fp": fp, "tn": tn}
            for metric in CONFUSION_METRICS:
                ours = table.values[metric][i]
                theirs = float(expected[metric])
                denominator = DENOMINATOR.get(metric, ())
                if metric == "balanced_accuracy" and (tp + fn == 0 or tn + fp == 0):
                    assert np.isnan(ours), (table.name, key, metric)
                elif denominator and sum(names[c] for c in denominator) == 0:
                    assert np.isnan(ours), (table.name, key, metric)
                elif np.isnan(theirs):
                    assert np.isnan(ours), (table.name, key, metric)
                else:
                    assert abs(ours - theirs) <= TOL, (table.name, key, metric, ours, theirs)
                checked += 1
            if score is not None:
                expected_scores = frame_scores.by_group.loc[key if len(key) > 1 else key[0]]
                for metric in ("roc_auc", "brier_score"):
                    ours = table.values[metric][i]
                    theirs = float(expected_scores[metric])
                    if np.isnan(theirs):
                        assert np.isnan(ours)
                    else:
                        assert abs(ours - theirs) <= TOL, (table.name, key, metric, ours, theirs)

        # Headline metrics, exactly as fairlearn's functions compute them, when every
        # group's rates are defined (fairlearn counts an undefined rate as 0).
        ours_headline = headline_metrics(table)
        defined = all(
            not np.isnan(table.values[m]).any()
            for m in ("selection_rate", "true_positive_rate", "false_positive_rate")
        )
        if defined and len(table.groups) > 1:
            kwargs = {"sensitive_features": sf[columns]}
            expected_headline = {
                "demographic_parity_difference": demographic_parity_difference(y, p, **kwargs),
                "demographic_parity_ratio": demographic_parity_ratio(y, p, **kwargs),
                "equalized_odds_difference": equalized_odds_difference(y, p, **kwargs),
                "equalized_odds_ratio": equalized_odds_ratio(y, p, **kwargs),
                "equal_opportunity_difference": equal_opportunity_difference(y, p, **kwargs),
                "equal_opportunity_ratio": equal_opportunity_ratio(y, p, **kwargs),
            }
            for metric in HEADLINE_METRICS:
                theirs = expected_headline[metric]
                if np.isnan(theirs):
                    assert np.isnan(ours_headline[metric])
                else:
                    assert abs(ours_headline[metric] - theirs) <= TOL, (metric, table.name)

    # The overall row equals the metrics of all rows pooled.
    pooled = confusion_metrics(np.bincount(2 * y + p, minlength=4))
    for metric in CONFUSION_METRICS:
        assert overall[metric] == pytest.approx(float(pooled[metric]), nan_ok=True, abs=TOL)
    return checked


def _random_case(rng, n, levels_a, levels_b):
    a = rng.integers(0, len(levels_a), n)
    b = rng.integers(0, len(levels_b), n)
    y = (rng.random(n) < 0.35 + 0.2 * (a == 0)).astype(int)
    p = (rng.random(n) < 0.3 + 0.3 * y - 0.1 * (b == 1)).astype(int)
    return a, b, y, p


def test_german_credit_sample_equals_fairlearn():
    """The bundled model on the bundled evaluation data, by sex, age band and both."""
    import skops.io as sio

    data = pd.read_csv(SAMPLE / "german_eval.csv")
    path = SAMPLE / "german_credit_model.skops"
    model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    features = list(model.feature_names_in_)
    y = data["risk"].to_numpy()
    p = model.predict(data[features])
    score = model.predict_proba(data[features])[:, 1]
    sex_levels = sorted(data["sex"].unique())
    sex = np.searchsorted(sex_levels, data["sex"])
    age = np.searchsorted([25, 40, 60], data["age"], side="right")
    age_levels = ["< 25", "[25, 40)", "[40, 60)", ">= 60"]
    checked = assert_equal_to_fairlearn(
        ["sex", "age"], [sex, age], [sex_levels, age_levels], y, p, score
    )
    # 2 + 4 + 8 groups × 14 metrics
    assert checked == (2 + 4 + 8) * len(CONFUSION_METRICS)


def test_synthetic_with_degenerate_groups_equals_fairlearn():
    """Empty intersections, single-class groups and one-row groups."""
    rng = np.random.default_rng(7)
    a, b, y, p = _random_case(rng, 600, ["a0", "a1", "a2"], ["b0", "b1", "b2", "b3"])
    # a2 never meets b3 (an empty intersection), a2 x b2 has one row,
    # a1 x b3 has only positive labels, a0 x b3 predicts nothing positive.
    b[(a == 2) & (b == 3)] = 0
    idx = np.flatnonzero((a == 2) & (b == 2))
    b[idx[1:]] = 1
    y[(a == 1) & (b == 3)] = 1
    p[(a == 0) & (b == 3)] = 0
    score = np.clip(0.5 * p + 0.5 * rng.random(600), 0, 1)
    assert_equal_to_fairlearn(
        ["a", "b"], [a, b], [["a0", "a1", "a2"], ["b0", "b1", "b2", "b3"]], y, p, score
    )
    gc = count_groups(["a", "b"], [a, b], [["a0", "a1", "a2"], ["b0", "b1", "b2", "b3"]], y, p)
    assert len(gc.counts) == 11  # 12 possible, one empty
    _, tables = build_tables(gc)
    inter = tables[2]
    one_row = [i for i, g in enumerate(inter.groups) if g == {"a": "a2", "b": "b2"}][0]
    assert inter.sizes[one_row] == 1
    all_positive = [i for i, g in enumerate(inter.groups) if g == {"a": "a1", "b": "b3"}][0]
    assert np.isnan(inter.values["false_positive_rate"][all_positive])
    assert np.isnan(inter.values["balanced_accuracy"][all_positive])
    assert inter.values["true_positive_rate"][all_positive] >= 0


def test_hand_computed_tiny_case():
    """Six rows whose every number can be checked on paper."""
    # group x: (y,p) = (1,1) (1,0) (0,1)      -> tp=1 fn=1 fp=1 tn=0
    # group z: (y,p) = (0,0) (0,0) (1,1)      -> tp=1 fn=0 fp=0 tn=2
    codes = [np.array([0, 0, 0, 1, 1, 1])]
    y = np.array([1, 1, 0, 0, 0, 1])
    p = np.array([1, 0, 1, 0, 0, 1])
    gc = count_groups(["g"], codes, [["x", "z"]], y, p)
    assert gc.counts.tolist() == [[0, 1, 1, 1], [2, 0, 0, 1]]
    overall, (table,) = build_tables(gc)
    x = table.values
    assert x["count"].tolist() == [3, 3]
    assert x["selection_rate"].tolist() == pytest.approx([2 / 3, 1 / 3])
    assert x["base_rate"].tolist() == pytest.approx([2 / 3, 1 / 3])
    assert x["true_positive_rate"].tolist() == pytest.approx([0.5, 1.0])
    assert x["true_negative_rate"].tolist() == pytest.approx([0.0, 1.0])
    assert x["false_positive_rate"].tolist() == pytest.approx([1.0, 0.0])
    assert x["negative_predictive_value"].tolist() == pytest.approx([0.0, 1.0])
    assert x["precision"].tolist() == pytest.approx([0.5, 1.0])
    assert x["f1"].tolist() == pytest.approx([0.5, 1.0])
    assert x["balanced_accuracy"].tolist() == pytest.approx([0.25, 1.0])
    assert overall["accuracy"] == pytest.approx(4 / 6)
    # Reference is the largest group; a tie goes to the first in sort order: x.
    assert table.reference == 0
    rows = {r.metric: r for r in disparities_vs_reference(table, ["selection_rate"])}
    assert rows["selection_rate"].difference == pytest.approx(1 / 3 - 2 / 3)
    assert rows["selection_rate"].ratio == pytest.approx(0.5)


def test_undefined_is_nan_not_zero():
    codes = [np.array([0, 0, 1, 1])]
    y = np.array([0, 0, 1, 0])
    p = np.array([1, 0, 1, 0])
    _, (table,) = build_tables(count_groups(["g"], codes, [["a", "b"]], y, p))
    # Group a has no positive labels: TPR, FNR and balanced accuracy are undefined.
    for metric in ("true_positive_rate", "false_negative_rate", "balanced_accuracy"):
        assert np.isnan(table.values[metric][0])
    assert table.values["false_positive_rate"][0] == 0.5


def test_reference_override_and_intersection_reference():
    rng = np.random.default_rng(3)
    a, b, y, p = _random_case(rng, 400, ["a0", "a1"], ["b0", "b1", "b2"])
    gc = count_groups(["a", "b"], [a, b], [["a0", "a1"], ["b0", "b1", "b2"]], y, p)
    _, tables = build_tables(gc, reference={"a": "a1", "b": "b2"})
    assert tables[0].groups[tables[0].reference] == {"a": "a1"}
    assert tables[1].groups[tables[1].reference] == {"b": "b2"}
    assert tables[2].groups[tables[2].reference] == {"a": "a1", "b": "b2"}
    _, tables = build_tables(gc, reference={"a": "a1"})
    inter = tables[2]
    # Only a's reference given: the largest cell with a=a1.
    with_a1 = [i for i, g in enumerate(inter.groups) if g["a"] == "a1"]
    assert inter.reference == max(with_a1, key=lambda i: inter.sizes[i])
    assert inter.groups[inter.reference]["a"] == "a1"
    assert inter.name == INTERSECTION
    _, tables = build_tables(gc)
    assert tables[2].reference == int(np.argmax(tables[2].sizes))


def test_large_radix_compresses_keys_and_matches_dense():
    """Many features with many levels take the compressed path and give the same counts."""
    rng = np.random.default_rng(11)
    n = 3000
    features = [f"f{i}" for i in range(6)]
    levels = [[str(j) for j in range(300)] for _ in features]
    codes = [rng.integers(0, 3, n) * 100 for _ in features]  # few levels actually used
    y = rng.integers(0, 2, n)
    p = rng.integers(0, 2, n)
    gc = count_groups(features, codes, levels, y, p, with_row_cells=True)
    frame = pd.DataFrame({f: c for f, c in zip(features, codes)})
    frame["cell"] = 2 * y + p
    expected = frame.groupby(features)["cell"].value_counts().unstack(fill_value=0)
    assert len(gc.counts) == len(expected)
    for cell, row in zip(gc.cells.tolist(), gc.counts.tolist()):
        values = expected.loc[tuple(cell)]
        assert row == [int(values.get(k, 0)) for k in range(4)]
    # row_cell maps each row to its own cell
    assert (gc.cells[gc.row_cell] == np.stack(codes, axis=1)).all()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=1, max_value=120),
    n_a=st.integers(min_value=1, max_value=3),
    n_b=st.integers(min_value=1, max_value=3),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    p_pos=st.floats(min_value=0.0, max_value=1.0),
)
def test_property_engine_equals_metricframe(n, n_a, n_b, seed, p_pos):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n_a, n)
    b = rng.integers(0, n_b, n)
    y = (rng.random(n) < p_pos).astype(int)
    p = (rng.random(n) < 0.5).astype(int)
    levels = [[f"a{i}" for i in range(n_a)], [f"b{i}" for i in range(n_b)]]
    # Only levels that occur are groups (MetricFrame never sees the others).
    used = [sorted(set(a.tolist())), sorted(set(b.tolist()))]
    a = np.searchsorted(used[0], a)
    b = np.searchsorted(used[1], b)
    levels = [[levels[0][i] for i in used[0]], [levels[1][i] for i in used[1]]]
    assert_equal_to_fairlearn(["a", "b"], [a, b], levels, y, p)
