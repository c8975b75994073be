"""Data-bias metrics and proxy features (fairaudit.databias), each against its formula.

The expected values are computed here from the rows with pandas masks and the formulas as
written in docs/databias.md, never through the package's own functions.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairaudit.cli import MSG_DATA_OUTPUT_NOT_JSON, MSG_NO_POPULATION_FILE
from fairaudit.databias import (
    MSG_NO_FAVORABLE,
    MSG_NOT_IN_POPULATION,
    MSG_POPULATION_NOT_SENSITIVE,
    MSG_UNKNOWN_REFERENCE,
    PROXY_AUC_THRESHOLD,
    REST,
    DataCounts,
    GroupedCounts,
    conditional_demographic_disparity,
    data_bias,
    data_report,
    proxy_features,
    rows_from_counts,
)
from fairaudit.errors import ConfigError
from fairaudit.outputs import identified

GERMAN = Path(__file__).resolve().parent.parent / "sample_data" / "german_train.csv"
Z95 = 1.959963984540054


def _skewed(n: int = 3000, seed: int = 1, classes: int = 2) -> pd.DataFrame:
    """Groups a/b/c (60/30/10 %) whose favourable rates are 0.6/0.4/0.25: a known skew."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c"], size=n, p=[0.6, 0.3, 0.1])
    region = rng.choice(["north", "south"], size=n, p=[0.5, 0.5])
    rate = pd.Series(group).map({"a": 0.6, "b": 0.4, "c": 0.25}).to_numpy()
    label = (rng.random(n) < rate).astype(int)
    if classes == 3:  # split the unfavourable class in two
        label = np.where((label == 0) & (rng.random(n) < 0.5), 2, label)
    dept = np.where(rng.random(n) < 0.5 + 0.3 * (group == "c"), "hard", "easy")
    return pd.DataFrame({"group": group, "region": region, "dept": dept, "label": label})


def _german() -> pd.DataFrame:
    frame = pd.read_csv(GERMAN)
    frame["age_band"] = np.where(frame["age"] < 26, "young", "older")
    return frame


def _mask(frame: pd.DataFrame, group: dict) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for feature, value in group.items():
        column = frame[feature]
        mask &= column.isna() if value == "(missing)" else column.astype(str) == value
    return mask


def _sides(frame, row):
    d = _mask(frame, row["group"])
    a = ~d if row["reference"] == REST else _mask(frame, row["reference"])
    return a, d


def _distribution(labels: pd.Series, classes: list) -> list[float]:
    return [float((labels == c).sum()) / len(labels) for c in classes]


def _expected(frame, row, target, favorable):
    """Return the metric of ``row`` computed from the rows and the formula."""
    a, d = _sides(frame, row)
    n_a, n_d = int(a.sum()), int(d.sum())
    classes = sorted(frame[target].unique())
    pa = _distribution(frame.loc[a, target], classes)
    pd_ = _distribution(frame.loc[d, target], classes)
    metric = row["metric"]
    if metric == "class_imbalance":
        return (n_a - n_d) / (n_a + n_d)
    if metric == "difference_in_label_proportions":
        return (frame.loc[a, target] == favorable).mean() - (
            frame.loc[d, target] == favorable
        ).mean()
    if metric == "kl_divergence":
        return sum(x * math.log(x / y) for x, y in zip(pa, pd_) if x > 0 and y > 0)
    if metric == "js_divergence":
        m = [(x + y) / 2 for x, y in zip(pa, pd_)]
        kl_am = sum(x * math.log(x / y) for x, y in zip(pa, m) if x > 0)
        kl_dm = sum(x * math.log(x / y) for x, y in zip(pd_, m) if x > 0)
        return (kl_am + kl_dm) / 2
    if metric == "lp_norm":
        return math.sqrt(sum((x - y) ** 2 for x, y in zip(pa, pd_)))
    if metric == "total_variation_distance":
        return sum(abs(x - y) for x, y in zip(pa, pd_)) / 2
    if metric == "ks_distance":
        return max(abs(x - y) for x, y in zip(pa, pd_))
    raise AssertionError(metric)


LABEL_METRICS = {
    "class_imbalance",
    "difference_in_label_proportions",
    "kl_divergence",
    "js_divergence",
    "lp_norm",
    "total_variation_distance",
    "ks_distance",
}


def _check_label_rows(frame, rows, target, favorable, expected_features):
    checked = 0
    for row in rows:
        if row["metric"] in LABEL_METRICS:
            assert row["value"] == pytest.approx(
                _expected(frame, row, target, favorable), abs=1e-12
            )
            checked += 1
    assert {r["feature"] for r in rows} == expected_features
    return checked


def test_label_metrics_equal_their_formulas_on_injected_skew():
    frame = _skewed()
    rows = data_bias(frame, target="label", sensitive=["group", "region"], n_resamples=200)
    # 3 + 2 + 6 groups: (groups - 1) against the reference + groups against the rest, 7 metrics
    assert _check_label_rows(frame, rows, "label", 1, {"group", "region", "intersection"}) == 7 * (
        (2 + 3) + (1 + 2) + (5 + 6)
    )
    dpl = {
        r["group"]["group"]: r["value"]
        for r in rows
        if r["metric"] == "difference_in_label_proportions"
        and r["feature"] == "group"
        and r["reference"] != REST
    }
    # the injected skew: a's rate 0.6 against b's 0.4 and c's 0.25 (sampling noise aside)
    assert dpl["b"] == pytest.approx(0.2, abs=0.05) and dpl["c"] == pytest.approx(0.35, abs=0.07)


def test_multiclass_labels_and_the_favourable_label():
    frame = _skewed(classes=3)
    rows = data_bias(frame, target="label", sensitive=["group"], favorable_label=1, n_resamples=100)
    assert _check_label_rows(frame, rows, "label", 1, {"group"}) == 7 * (2 + 3)
    without = data_bias(frame, target="label", sensitive=["group"], n_resamples=50)
    assert "difference_in_label_proportions" not in {r["metric"] for r in without}
    booleans = _skewed().assign(label=lambda f: f.label == 1)  # True is favourable by default
    rows = data_bias(booleans, target="label", sensitive=["group"], n_resamples=50)
    assert _check_label_rows(booleans, rows, "label", True, {"group"}) == 7 * (2 + 3)


def test_label_metrics_on_the_german_sample():
    frame = _german()
    rows = data_bias(frame, target="risk", sensitive=["sex", "age_band"], n_resamples=200)
    # (1 + 2) comparisons for sex, as many for age_band, (3 + 4) for their 4 cells; 7 metrics
    assert _check_label_rows(frame, rows, "risk", 1, {"sex", "age_band", "intersection"}) == 91
    largest = frame["sex"].value_counts().idxmax()  # the default reference
    assert all(r["reference"] in ({"sex": largest}, REST) for r in rows if r["feature"] == "sex")
    # two groups: the smaller one against the rest is the same comparison, the same numbers
    smaller = [r for r in rows if r["feature"] == "sex" and r["group"] != {"sex": largest}]
    against_reference = [{**r, "reference": None} for r in smaller if r["reference"] != REST]
    against_rest = [{**r, "reference": None} for r in smaller if r["reference"] == REST]
    assert against_reference == against_rest and len(against_rest) == 7


def test_binned_target_binned_sensitive_and_missing_groups():
    frame = _german()
    frame.loc[frame.index[:40], "housing"] = np.nan  # a missing group of its own
    rows = data_bias(
        frame,
        target="credit_amount",
        sensitive=["age", "housing"],
        bins={"age": [26, 40]},
        label_bins=[2000, 5000],
        favorable_label="[2000, 5000)",
        n_resamples=50,
    )
    by_hand = frame.assign(
        age=np.select([frame.age < 26, frame.age < 40], ["< 26", "[26, 40)"], ">= 40"),
        amount=np.select(
            [frame.credit_amount < 2000, frame.credit_amount < 5000],
            ["< 2000", "[2000, 5000)"],
            ">= 5000",
        ),
    )
    groups = {str(r["group"]) for r in rows if r["feature"] == "housing"}
    assert "{'housing': '(missing)'}" in groups
    checked = _check_label_rows(
        by_hand, rows, "amount", "[2000, 5000)", {"age", "housing", "intersection"}
    )
    assert checked > 7 * 10


def _wilson(x: int, n: int) -> tuple[float, float]:
    p, z2 = x / n, Z95**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return centre - half, centre + half


def test_intervals_wilson_newcombe_and_bootstrap():
    frame = _german()
    rows = data_bias(frame, target="risk", sensitive=["sex"], reference={"sex": "male"})
    by = {(r["metric"], str(r["reference"])): r for r in rows if r["group"] == {"sex": "female"}}
    n_d, n_a = int((frame.sex == "female").sum()), int((frame.sex == "male").sum())
    low, high = _wilson(n_d, n_a + n_d)
    ci = by["class_imbalance", str({"sex": "male"})]["ci"]
    assert ci == pytest.approx([1 - 2 * high, 1 - 2 * low], abs=1e-12)
    x_a = int(((frame.sex == "male") & (frame.risk == 1)).sum())
    x_d = int(((frame.sex == "female") & (frame.risk == 1)).sum())
    qa, qd = x_a / n_a, x_d / n_d
    (la, ua), (ld, ud) = _wilson(x_a, n_a), _wilson(x_d, n_d)
    newcombe = [
        qa - qd - math.sqrt((qa - la) ** 2 + (ud - qd) ** 2),
        qa - qd + math.sqrt((ua - qa) ** 2 + (qd - ld) ** 2),
    ]
    dpl = by["difference_in_label_proportions", str({"sex": "male"})]
    assert dpl["ci"] == pytest.approx(newcombe, abs=1e-12)
    for metric in ("kl_divergence", "js_divergence", "lp_norm", "ks_distance"):
        row = by[metric, str({"sex": "male"})]
        assert 0 <= row["ci"][0] <= row["value"] <= row["ci"][1]
        assert row["p_value"] == dpl["p_value"]  # a binary label: one hypothesis


def test_holm_across_the_family():
    frame = _skewed()
    rows = data_bias(frame, target="label", sensitive=["group"], strata="dept", n_resamples=200)
    # 5 comparisons (2 against the reference, 3 against the rest), each with one label test
    # (binary: the proportions test, shared by the distances) and one CDD test: 10 tests
    tests = [
        r
        for r in rows
        if r["metric"] in ("difference_in_label_proportions", "conditional_demographic_disparity")
    ]
    assert len(tests) == 10
    order = sorted(tests, key=lambda r: r["p_value"])
    running = 0.0
    for i, row in enumerate(order):
        running = max(running, (len(order) - i) * row["p_value"])
        assert row["p_value_holm"] == pytest.approx(min(running, 1.0), rel=1e-12)
    for row in rows:  # the distances carry their comparison's test
        if row["metric"] == "kl_divergence":
            twin = next(
                t
                for t in tests
                if t["metric"] == "difference_in_label_proportions"
                and (t["group"], t["reference"]) == (row["group"], row["reference"])
            )
            assert (row["p_value"], row["p_value_holm"]) == (twin["p_value"], twin["p_value_holm"])


def test_cdd_reproduces_clarify_example():
    # Clarify's documented example: women are 46 % of the rejected and 32 % of the accepted
    # applicants, so DD = 0.46 - 0.32 = 0.14 (and -0.14 for men); one stratum.
    women = [46, 32]  # [rejected, accepted]
    men = [54, 68]
    counts = np.array([[women], [men]])  # [group, comparison] x stratum x [0, 1]
    assert conditional_demographic_disparity(counts) == pytest.approx(0.14)
    assert conditional_demographic_disparity(counts[::-1]) == pytest.approx(-0.14)


def test_clarify_test_suite_numbers():
    # Numbers from SageMaker Clarify's own unit tests (each group against the rest)
    def value(rows, metric, group):
        return next(
            r["value"]
            for r in rows
            if r["metric"] == metric and r["reference"] == REST and r["group"] == group
        )

    x = list("MMMFFFFMMMMFMMFMFFMMFMMF")
    y = [0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 1, 1, 0]
    g = [1, 0, 2, 2, 1, 1, 2, 1, 1, 2, 0, 1, 2, 0, 1, 1, 1, 2, 0, 1, 0, 0, 1, 1]
    frame = pd.DataFrame({"x": x, "y": y, "g": g})
    rows = data_bias(frame, target="y", sensitive=["x"], strata="g", n_resamples=50)
    cdd = "conditional_demographic_disparity"
    assert value(rows, cdd, {"x": "F"}) == pytest.approx(0.3982142857)
    assert value(rows, cdd, {"x": "M"}) == pytest.approx(-0.3982142857)
    frame = pd.DataFrame({"x": ["a", "a", "b", "b"], "y": [1, 1, 0, 1]})
    rows = data_bias(frame, target="y", sensitive=["x"], n_resamples=50)
    assert value(rows, "difference_in_label_proportions", {"x": "a"}) == pytest.approx(-0.5)
    assert value(rows, "difference_in_label_proportions", {"x": "b"}) == pytest.approx(0.5)
    facet = list("MFFMFMFFMMFF")
    frame = pd.DataFrame({"x": facet, "y": [0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0]})
    rows = data_bias(frame, target="y", sensitive=["x"], n_resamples=50)
    assert value(rows, "class_imbalance", {"x": "F"}) == pytest.approx(-1 / 6)
    assert value(rows, "class_imbalance", {"x": "M"}) == pytest.approx(1 / 6)


def test_rows_from_counts_an_engine_would_hand_over():
    # Clarify's example as counts: [rejected, accepted] of women and men, one stratum
    groups = [{"sex": "female"}, {"sex": "male"}]
    labels = np.array([[46, 32], [54, 68]])
    counts = DataCounts(
        sizes=[GroupedCounts("sex", groups, ["rows"], labels.sum(axis=1)[:, None])],
        labels=[GroupedCounts("sex", groups, ["0", "1"], labels)],
        strata=[GroupedCounts("sex", groups, ["0", "1"], labels[:, None, :], strata=["all"])],
        missing=[],
    )
    rows = rows_from_counts(counts, reference={"sex": "male"}, n_resamples=200)
    by = {(r["metric"], str(r["reference"])): r["value"] for r in rows if r["group"] == groups[0]}
    assert by["conditional_demographic_disparity", str(groups[1])] == pytest.approx(0.14)
    assert by["class_imbalance", str(groups[1])] == pytest.approx((122 - 78) / 200)
    assert by["difference_in_label_proportions", str(groups[1])] == pytest.approx(
        68 / 122 - 32 / 78
    )


def _cdd_by_hand(frame, row, target, strata, favorable):
    a, d = _sides(frame, row)
    both = frame[a | d]
    total, weighted = 0, 0.0
    for _, part in both.groupby(strata):
        in_d = d[part.index]
        rejected, accepted = part[target] != favorable, part[target] == favorable
        share_rejected = (in_d & rejected).sum() / rejected.sum() if rejected.sum() else 0.0
        share_accepted = (in_d & accepted).sum() / accepted.sum() if accepted.sum() else 0.0
        weighted += len(part) * (share_rejected - share_accepted)
        total += len(part)
    return weighted / total


@pytest.mark.parametrize("which", ["skewed", "german"])
def test_cdd_equals_its_formula(which):
    if which == "skewed":
        frame, target, sensitive, strata = _skewed(), "label", ["group"], "dept"
    else:
        frame, target, sensitive, strata = _german(), "risk", ["sex"], "purpose"
    rows = data_bias(frame, target=target, sensitive=sensitive, strata=strata, n_resamples=200)
    cdd = [r for r in rows if r["metric"] == "conditional_demographic_disparity"]
    assert cdd
    for row in cdd:
        assert row["value"] == pytest.approx(_cdd_by_hand(frame, row, target, strata, 1), abs=1e-12)
        assert row["ci"][0] <= row["value"] <= row["ci"][1]


def test_representation_against_population():
    frame = _skewed()
    population = {"a": 0.5, "b": 0.3, "c": 0.2}
    rows = data_bias(frame, target="label", sensitive=["group"], population={"group": population})
    by = {(r["metric"], str(r["group"])): r for r in rows}
    n = len(frame)
    statistic = 0.0
    for g, pi in population.items():
        count = int((frame.group == g).sum())
        assert by["share", str({"group": g})]["value"] == pytest.approx(count / n)
        assert by["share", str({"group": g})]["ci"] == pytest.approx(_wilson(count, n), abs=1e-12)
        assert by["expected_share", str({"group": g})]["value"] == pytest.approx(pi)
        assert by["representation_ratio", str({"group": g})]["value"] == pytest.approx(
            count / n / pi
        )
        statistic += (count - n * pi) ** 2 / (n * pi)
    fit = by["chi_square_goodness_of_fit", "None"]
    assert fit["value"] == pytest.approx(statistic) and fit["degrees_of_freedom"] == 2
    # chi-square with 2 degrees of freedom: survival function exp(-x / 2)
    assert fit["p_value"] == pytest.approx(math.exp(-statistic / 2), rel=1e-9)
    with pytest.raises(ConfigError) as caught:
        data_bias(frame, target="label", sensitive=["group"], population={"group": {"a": 1.0}})
    assert str(caught.value) == MSG_NOT_IN_POPULATION.format(feature="group", groups="'b', 'c'")
    with pytest.raises(ConfigError) as caught:
        data_bias(frame, target="label", sensitive=["group"], population={"region": {"n": 1}})
    assert str(caught.value) == MSG_POPULATION_NOT_SENSITIVE.format(feature="region")


def test_missing_share_by_group():
    frame = _skewed()
    rng = np.random.default_rng(3)
    # income goes missing for 30 % of group c and 5 % of the others: a bias signal
    rate = np.where(frame.group == "c", 0.3, 0.05)
    frame["income"] = np.where(rng.random(len(frame)) < rate, np.nan, 1.0)
    rows = data_bias(frame, target="label", sensitive=["group"], n_resamples=50)
    missing = [r for r in rows if r["metric"].startswith("missing")]
    assert {r["column"] for r in missing} == {"income"}
    for row in missing:
        d = _mask(frame, row["group"])
        share = frame.loc[d, "income"].isna().mean()
        if row["metric"] == "missing_share":
            assert row["value"] == pytest.approx(share)
        else:
            assert row["value"] == pytest.approx(share - frame.loc[~d, "income"].isna().mean())
    c = next(
        r
        for r in missing
        if r["metric"] == "missing_share_difference" and r["group"] == {"group": "c"}
    )
    assert c["value"] > 0.15 and c["p_value_holm"] < 1e-6


def test_configuration_errors():
    frame = _skewed()
    with pytest.raises(ConfigError) as caught:
        data_bias(frame, target="label", sensitive=["group"], reference={"group": "z"})
    assert str(caught.value) == MSG_UNKNOWN_REFERENCE.format(wanted="group='z'", feature="group")
    with pytest.raises(ConfigError) as caught:
        data_bias(frame, target="label", sensitive=["group"], favorable_label="yes")
    assert str(caught.value) == MSG_NO_FAVORABLE.format(label="yes", values="0, 1")


def _nmi(x: np.ndarray, y: np.ndarray) -> float:
    """Mutual information over the mean of the entropies, from the joint frequencies."""
    joint = pd.crosstab(x, y).to_numpy() / len(x)
    px, py = joint.sum(axis=1), joint.sum(axis=0)
    mi = sum(
        joint[i, j] * math.log(joint[i, j] / (px[i] * py[j]))
        for i in range(joint.shape[0])
        for j in range(joint.shape[1])
        if joint[i, j] > 0
    )
    h = lambda p: -sum(v * math.log(v) for v in p if v > 0)  # noqa: E731
    return mi / ((h(px) + h(py)) / 2)


def _cramers_v(x: np.ndarray, y: np.ndarray) -> float:
    observed = pd.crosstab(x, y).to_numpy().astype(float)
    n = observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / n
    chi2 = ((observed - expected) ** 2 / expected).sum()
    return math.sqrt(chi2 / (n * (min(observed.shape) - 1)))


def test_proxy_detection_ranks_an_injected_proxy_first():
    rng = np.random.default_rng(7)
    n = 3000
    sex = rng.choice(["female", "male"], size=n)
    flipped = rng.random(n) < 0.1  # the sensitive attribute with 10 % noise
    proxy = np.where(flipped, np.where(sex == "male", "f", "m"), np.where(sex == "male", "m", "f"))
    frame = pd.DataFrame(
        {
            "sex": sex,
            "proxy": proxy,
            "independent": rng.normal(size=n),
            "shop": rng.choice(["x", "y", "z"], size=n),
            "label": rng.integers(0, 2, n),
        }
    )
    [result] = proxy_features(frame, sensitive=["sex"], exclude=["label"])
    ranked = result["features"]
    assert [r["feature"] for r in ranked][0] == "proxy" and ranked[0]["rank"] == 1
    assert ranked[0]["auc"] == pytest.approx(0.9, abs=0.03) and ranked[0]["flagged"]
    independent = next(r for r in ranked if r["feature"] == "independent")
    assert independent["auc"] == pytest.approx(0.5, abs=0.05) and not independent["flagged"]
    assert result["joint"]["auc"] == pytest.approx(0.9, abs=0.05)
    assert ranked[0]["cramers_v"] == pytest.approx(_cramers_v(proxy, sex), abs=1e-12)
    assert ranked[0]["normalized_mutual_information"] == pytest.approx(_nmi(proxy, sex), abs=1e-9)
    shop = next(r for r in ranked if r["feature"] == "shop")
    assert shop["cramers_v"] == pytest.approx(_cramers_v(frame.shop.to_numpy(), sex), abs=1e-12)
    assert result["sampled"] is False and result["rows_modelled"] == n
    [small] = proxy_features(frame, sensitive=["sex"], exclude=["label"], max_rows=1000)
    assert small["sampled"] is True and small["rows_modelled"] == 1000 and small["rows"] == n
    assert small["features"][0]["feature"] == "proxy"


def test_proxy_binned_numeric_on_the_german_sample():
    frame = pd.read_csv(GERMAN)
    [result] = proxy_features(frame, sensitive=["sex"], exclude=["risk"])
    assert {r["feature"] for r in result["features"]} == set(frame.columns) - {"sex", "risk"}
    age = next(r for r in result["features"] if r["feature"] == "age")
    deciles = pd.qcut(frame["age"], 10, labels=False, duplicates="drop").to_numpy()
    assert age["cramers_v"] == pytest.approx(_cramers_v(deciles, frame.sex.to_numpy()), abs=1e-12)
    assert age["normalized_mutual_information"] == pytest.approx(
        _nmi(deciles, frame.sex.to_numpy()), abs=1e-9
    )
    aucs = [r["auc"] for r in result["features"]]
    assert aucs == sorted(aucs, reverse=True)


def test_proxy_small_groups_and_identifier_columns():
    frame = pd.read_csv(GERMAN)
    frame["row_id"] = [f"id{i}" for i in range(len(frame))]  # 600 categories
    frame.loc[frame.index[:3], "sex"] = "other"  # too few rows for 5 stratified folds
    [result] = proxy_features(frame, sensitive=["sex"], exclude=["risk"])
    assert result["groups_left_out"] == ["other"] and result["rows"] == len(frame) - 3
    row_id = next(r for r in result["features"] if r["feature"] == "row_id")
    assert 0.3 < row_id["auc"] < 0.7 and not math.isnan(result["joint"]["auc"])
    frame["sex"] = np.where(frame.index < 3, "other", "male")  # one usable group left
    [alone] = proxy_features(frame, sensitive=["sex"], exclude=["risk"])
    assert alone["features"] == [] and alone["joint"] is None


def test_fairaudit_data_writes_the_json(tmp_path):
    from click.testing import CliRunner

    from fairaudit.cli import cli

    census = tmp_path / "census.csv"
    census.write_text("group,share\nmale,0.49\nfemale,0.51\n")
    args = ["data", str(GERMAN), "--target", "risk", "--sensitive", "sex", "--strata", "purpose"]
    args += ["--population", f"sex={census}"]
    outputs = []
    for name in ("one.json", "two.json"):
        result = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        assert result.output == f"Wrote {tmp_path / name}\n"
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]  # same inputs and seed: the same bytes
    report = json.loads(outputs[0])
    assert report["kind"] == "data" and report["data"]["rows"] == 600
    metrics = {r["metric"] for r in report["data_bias"]}
    assert {
        "class_imbalance",
        "conditional_demographic_disparity",
        "representation_ratio",
    } <= metrics
    assert report["proxies"][0]["sensitive"] == "sex" and not report["proxies"][0]["sampled"]
    assert report["options"]["proxy_threshold"] == PROXY_AUC_THRESHOLD  # the CLI's default


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-o", "x.txt"], "Error: " + MSG_DATA_OUTPUT_NOT_JSON.format(path="x.txt")),
        (["--target", "nope", "-o", "x.json"], "Error: the data has no column 'nope'"),
        (["--features", "nope", "-o", "x.json"], "Error: the data has no column 'nope'"),
        (
            ["--population", "sex=absent.csv", "-o", "x.json"],
            "Error: " + MSG_NO_POPULATION_FILE.format(path="absent.csv"),
        ),
    ],
)
def test_fairaudit_data_errors(tmp_path, monkeypatch, extra, message):
    from click.testing import CliRunner

    from fairaudit.cli import cli

    monkeypatch.chdir(tmp_path)
    args = ["data", str(GERMAN), "--target", "risk", "--sensitive", "sex", *extra]
    if "--target" in extra:
        args[2:4] = []
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and result.output.strip().splitlines()[-1] == message


def test_proxy_fold_auc_reads_the_models_classes():
    """Each fold's AUC reads the model's probability columns by its ``classes_``: with
    labels 1 and 2 (a group absent from the rows modelled), column 1 is class 2's. The first
    fast path took column k as class k and scored P(2) against 'label is 1': AUC 0.114 for a
    proxy whose AUC is 0.886 (20,000 rows, a 6-row group, a 300-row sample)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.tree import DecisionTreeClassifier

    from fairaudit.databias._proxy import _cv_auc, _folds

    rng = np.random.default_rng(0)
    y = rng.integers(1, 3, 300)  # classes 1 and 2
    x = (np.where(y == 2, rng.normal(2, 1, 300), rng.normal(0, 1, 300)))[:, None]
    tree = DecisionTreeClassifier(max_depth=3, random_state=0)
    ours = _cv_auc(tree, x, y, _folds(y, 0))
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    assert ours == list(cross_val_score(tree, x, y, cv=cv, scoring="roc_auc"))
    assert min(ours) > 0.75
    y3 = np.where(rng.random(300) < 0.3, 3, y)  # classes 1, 2 and 3: macro one-vs-rest
    ours = _cv_auc(tree, x, y3, _folds(y3, 0))
    assert ours == list(cross_val_score(tree, x, y3, cv=cv, scoring="roc_auc_ovr"))


def test_proxy_sample_keeps_five_rows_of_every_group():
    """A group of 40 rows in 20,000 gets 0-1 rows of a 300-row stratified sample; the sample
    is topped up to 5 rows of it, so every fold has the group and the AUC is defined (it was
    NaN, and the data report's content id then failed: 'nan is not representable in JCS')."""
    rng = np.random.default_rng(1)
    n = 20_000
    group = np.where(rng.random(n) < 0.5, "b", "c").astype(object)
    group[:40] = "z"
    x = np.where(group == "c", rng.normal(2, 1, n), rng.normal(0, 1, n))
    frame = pd.DataFrame({"sex": group, "x": x, "label": rng.integers(0, 2, n)})
    [result] = proxy_features(frame, sensitive=["sex"], exclude=["label"], max_rows=300)
    assert result["sampled"] and 300 <= result["rows_modelled"] <= 305
    assert result["groups_left_out"] == []
    assert all(math.isfinite(v) for f in result["features"] for v in [f["auc"], *f["auc_folds"]])
    assert math.isfinite(result["joint"]["auc"])
    from fairaudit.databias._proxy import _sample

    codes = np.unique(group, return_inverse=True)[1]
    kept = _sample(codes, 300, 0)
    assert kept is not None and np.bincount(codes[kept]).min() == 5
    assert len(np.unique(kept)) == len(kept)
    source = {"path": "thin.csv", "format": "csv", "sha256": "0" * 64}
    report = data_report(
        frame, target="label", sensitive=["sex"], max_model_rows=300, source=source
    )
    assert identified(report, name="thin")["audit"]["id"]


def test_proxy_numbers_beyond_float32_and_infinities():
    """A numeric feature holding inf, -inf or 1e300 is modelled (clipped to ±1e30,
    order kept) instead of failing the tree's input check with a traceback ('Input X
    contains infinity or a value too large for dtype(float32)')."""
    rng = np.random.default_rng(2)
    n = 500
    sex = rng.choice(["f", "m"], n)
    wild = np.where(sex == "m", rng.normal(3, 1, n), rng.normal(0, 1, n))
    wild[:4], wild[4:7], wild[7] = np.inf, -np.inf, 1e300
    frame = pd.DataFrame({"sex": sex, "wild": wild, "tame": np.clip(wild, -1e30, 1e30)})
    [result] = proxy_features(frame, sensitive=["sex"])
    by_name = {f["feature"]: f for f in result["features"]}
    # Clipping keeps the order, so the infinite column is modelled as its clipped twin.
    assert by_name["wild"]["auc"] == by_name["tame"]["auc"] > 0.8
    assert by_name["wild"]["cramers_v"] == by_name["tame"]["cramers_v"]
    assert math.isfinite(result["joint"]["auc"])


def test_proxy_feature_with_no_value():
    """A numeric column with no value at all (an empty CSV column) tells nothing about the
    attribute: AUC 0.5 alone, and the joint model is fitted without failing (gradient
    boosting could not bin it: 'window shape cannot be larger than input array shape')."""
    rng = np.random.default_rng(3)
    n = 400
    sex = rng.choice(["f", "m"], n)
    frame = pd.DataFrame(
        {"sex": sex, "empty": np.full(n, np.nan), "x": (sex == "m") + rng.normal(0, 1, n)}
    )
    [result] = proxy_features(frame, sensitive=["sex"])
    empty = next(f for f in result["features"] if f["feature"] == "empty")
    assert empty["auc"] == 0.5 and empty["cramers_v"] == 0.0
    assert 0.6 < result["joint"]["auc"] < 0.9


def test_favorable_label_read_as_the_model_audit_reads_labels():
    """'1.0' and 'true' name the label 1 (True), as fairaudit run's --favorable-label does:
    'fairaudit run --favorable-label 1.0 --train ...' failed on its training set ("the
    favourable label '1.0' is not a value of the target: 0, 1")."""
    frame = pd.read_csv(GERMAN)
    rows = data_bias(frame, target="risk", sensitive=["sex"], favorable_label="1")
    for given in ("1.0", "true", " 1 "):
        assert data_bias(frame, target="risk", sensitive=["sex"], favorable_label=given) == rows
    frame["good"] = frame["risk"] == 1
    rows = data_bias(frame, target="good", sensitive=["sex"], favorable_label="True")
    assert data_bias(frame, target="good", sensitive=["sex"], favorable_label="true") == rows
    with pytest.raises(ConfigError) as caught:
        data_bias(frame, target="risk", sensitive=["sex"], favorable_label="yes")
    assert str(caught.value) == MSG_NO_FAVORABLE.format(label="yes", values="0, 1")
