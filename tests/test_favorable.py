"""Issue 14 §1: which outcome is favourable (``--favorable-label``).

The fixture is a recidivism-like model with a known, injected disparity: a positive
prediction ("will reoffend") is the harm. Group ``young`` is flagged 40% of the time,
group ``old`` 6.5%: with the positive label assumed favourable (the default, and all
there was before) the report named ``old`` as worse off, the opposite of the truth.
Oracles: fairlearn on the flipped prediction (the favourable outcome), and the counts
written out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fairlearn.metrics import MetricFrame, demographic_parity_ratio, true_negative_rate

from fairaudit.errors import DataError
from fairaudit.measure import Direction, resolve_direction, same_label
from fairaudit.result import load_schema
from tests.conftest import AuditRun

RunCli = Callable[..., AuditRun]
PRED = ("--target", "y", "--prediction-col", "pred")

# young: 200 rows, 80 flagged (0.40); old: 200 rows, 13 flagged (0.065).
# Labels: young 100 reoffend (60 flagged), 100 do not (20 flagged: FPR 0.20);
#         old 20 reoffend (8 flagged), 180 do not (5 flagged: FPR 5/180).
_CELLS = {  # group: [(y, pred, n)]
    "young": [(1, 1, 60), (1, 0, 40), (0, 1, 20), (0, 0, 80)],
    "old": [(1, 1, 8), (1, 0, 12), (0, 1, 5), (0, 0, 175)],
}


def _rows(cells: dict[str, list[tuple[int, int, int]]]) -> list[list[Any]]:
    return [[g, y, p] for g, spec in cells.items() for y, p, n in spec for _ in range(n)]


@pytest.fixture
def recidivism_csv(write_csv: Callable[..., Path]) -> Path:
    return write_csv("recidivism.csv", ["sex", "y", "pred"], _rows(_CELLS))


def _arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = _rows(_CELLS)
    groups = np.array([r[0] for r in rows])
    return groups, np.array([r[1] for r in rows]), np.array([r[2] for r in rows])


def _entry(data: dict[str, Any], metric: str) -> dict[str, Any]:
    (entry,) = [w for w in data["summary"]["worse_off"] if w["metric"] == metric]
    return entry


def _validate(data: dict[str, Any]) -> None:
    import jsonschema

    jsonschema.Draft202012Validator(load_schema()).validate(data)


# --------------------------------------------------------------------------- the label


@pytest.mark.parametrize(
    ("favorable", "positive", "values", "expected"),
    [
        (None, None, ("0", "1"), True),
        ("1", None, ("0", "1"), True),
        ("1.0", None, ("0", "1"), True),
        ("true", None, ("False", "True"), True),
        ("0", None, ("0", "1"), False),
        ("0", None, ("1",), False),  # one class only: 0 is still the other class
        ("False", None, ("False", "True"), False),
        ("hired", "hired", ("rejected", "hired"), True),
        ("no", "yes", ("yes",), False),  # one class only, the other named by the user
        ("0", "1", ("1",), False),
        ("rejected", "hired", ("rejected", "hired"), False),
    ],
)
def test_direction_of_a_favorable_label(
    favorable: str | None, positive: str | None, values: tuple[str, ...], expected: bool
) -> None:
    direction = resolve_direction(favorable, positive, values, column="y")
    assert direction == Direction(expected, favorable)
    assert direction.positive_prediction == ("favorable" if expected else "adverse")


def test_a_favorable_label_that_is_no_label_names_the_column_and_values() -> None:
    with pytest.raises(DataError) as raised:
        resolve_direction("approved", "hired", ("rejected", "hired"), column="outcome")
    assert str(raised.value) == (
        "favorable label 'approved' is not a value of the label column 'outcome' (values: "
        "'rejected', 'hired'); pass the label value that is good for the person, e.g. "
        "--favorable-label rejected"
    )
    assert same_label("1", "1.0") and same_label("True", "1") and not same_label("yes", "1")


def test_cli_refuses_a_favorable_label_that_is_no_label(
    audit_cli: RunCli, recidivism_csv: Path
) -> None:
    run = audit_cli(recidivism_csv, *PRED, "--favorable-label", "no")
    run.assert_error(
        "favorable label 'no' is not a value of the label column 'y' (values: '1', '0'); "
        "pass the label value that is good for the person, e.g. --favorable-label 0"
    )


# --------------------------------------------------------------------------- who is worse off


def test_default_still_reads_a_positive_prediction_as_favourable(
    audit_cli: RunCli, recidivism_csv: Path
) -> None:
    """The case of the issue: without the option, 'old' (flagged least) reads as worse off."""
    run = audit_cli(recidivism_csv, *PRED)
    run.assert_ok()
    data = run.json()
    assert (data["audit"]["favorable_label"], data["audit"]["positive_prediction"]) == (
        None,
        "favorable",
    )
    entry = _entry(data, "selection_rate")
    assert entry["group"] == {"sex": "old"} and entry["value"] == pytest.approx(0.065)
    _validate(data)


def test_adverse_positive_names_the_group_flagged_most_often(
    audit_cli: RunCli, recidivism_csv: Path
) -> None:
    run = audit_cli(recidivism_csv, *PRED, "--favorable-label", "0")
    run.assert_ok()
    data = run.json()
    _validate(data)
    assert (data["audit"]["favorable_label"], data["audit"]["positive_prediction"]) == (
        "0",
        "adverse",
    )
    assert [w["metric"] for w in data["summary"]["worse_off"]] == [
        "selection_rate",
        "false_positive_rate",
    ]
    groups, y, pred = _arrays()
    # Oracle: fairlearn's demographic_parity_ratio of the favourable outcome (not flagged).
    favourable_ratio = demographic_parity_ratio(y, 1 - pred, sensitive_features=groups)
    entry = _entry(data, "selection_rate")
    assert entry["group"] == {"sex": "young"} and entry["best_group"] == {"sex": "old"}
    assert (entry["value"], entry["best_value"]) == (0.4, 0.065)  # metric values unchanged
    assert entry["favorable_value"] == pytest.approx(0.6)
    assert entry["ratio"] == pytest.approx(favourable_ratio, abs=1e-15)
    assert entry["ratio"] == pytest.approx(0.6 / 0.935)
    assert entry["difference"] == pytest.approx(0.4 - 0.065)
    assert entry["below_band"] and entry["positive_prediction"] == "adverse"
    # The favourable rate among people whose label is favourable: the true negative rate.
    tnr = MetricFrame(metrics=true_negative_rate, y_true=y, y_pred=pred, sensitive_features=groups)
    fpr_entry = _entry(data, "false_positive_rate")
    assert fpr_entry["group"] == {"sex": "young"}
    assert fpr_entry["value"] == pytest.approx(0.2)
    assert fpr_entry["ratio"] == pytest.approx(tnr.ratio(), abs=1e-15)


def test_metric_values_do_not_change_with_the_favourable_label(
    audit_cli: RunCli, recidivism_csv: Path
) -> None:
    plain = audit_cli(recidivism_csv, *PRED).json()
    adverse = audit_cli(recidivism_csv, *PRED, "--favorable-label", "0").json()
    for key in ("metrics", "disparities", "headline", "uncertainty"):
        assert plain[key] == adverse[key], key


def test_the_ratio_interval_is_the_headline_interval_of_the_favourable_outcome(
    audit_cli: RunCli, write_csv: Callable[..., Path], recidivism_csv: Path
) -> None:
    """ci_ratio_between: Šidák-Wilson bounds on the favourable rate. Oracle: the audit's
    own headline interval of demographic_parity_ratio when the prediction is flipped."""
    flipped = [[g, y, 1 - p] for g, y, p in _rows(_CELLS)]
    flipped_csv = write_csv("flipped.csv", ["sex", "y", "pred"], flipped)
    headline = {
        h["metric"]: h for h in audit_cli(flipped_csv, *PRED).json()["headline"] if h["feature"]
    }
    adverse = audit_cli(recidivism_csv, *PRED, "--favorable-label", "0").json()
    entry = _entry(adverse, "selection_rate")
    assert entry["ci_ratio_between"] == headline["demographic_parity_ratio"]["ci"]
    low, high = entry["ci_ratio_between"]
    assert low < entry["ratio"] < high


# --------------------------------------------------------------------------- four-fifths


def test_four_fifths_is_computed_on_the_favourable_outcome(
    audit_cli: RunCli, write_csv: Callable[..., Path]
) -> None:
    """Flag rates 0.05 and 0.03: fairlearn's demographic_parity_ratio is 0.6, but the rates
    of the favourable outcome, 0.95 and 0.97, are in ratio 0.979: the EEOC rule passes."""
    cells = {
        "a": [(1, 1, 5), (1, 0, 15), (0, 1, 5), (0, 0, 175)],
        "b": [(1, 1, 3), (1, 0, 17), (0, 1, 3), (0, 0, 177)],
    }
    rows = _rows(cells)
    data_csv = write_csv("fraud.csv", ["sex", "y", "pred"], rows)
    policy = ("--policy", "preset:four-fifths")
    plain = audit_cli(data_csv, *PRED, *policy)
    assert plain.result.exit_code == 3, plain.result.output
    adverse = audit_cli(data_csv, *PRED, *policy, "--favorable-label", "0")
    assert adverse.result.exit_code == 0, adverse.result.output
    (rule,) = adverse.json()["policy"]["rules"]
    (outcome,) = rule["outcomes"]
    groups = np.array([r[0] for r in rows])
    y, pred = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
    expected = demographic_parity_ratio(y, 1 - pred, sensitive_features=groups)
    assert outcome["observed"] == pytest.approx(expected, abs=1e-15)
    assert expected == pytest.approx(0.95 / 0.97)
    assert demographic_parity_ratio(y, pred, sensitive_features=groups) == pytest.approx(0.6)
    # The banner, the policy and the summary agree: same groups, same number.
    entry = _entry(adverse.json(), "selection_rate")
    assert outcome["observed"] == entry["ratio"]
    assert outcome["groups"] == [entry["group"], entry["best_group"]]


def test_four_fifths_interval_evidence_uses_the_simultaneous_interval(
    audit_cli: RunCli, recidivism_csv: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "ff.toml"
    policy.write_text(
        '[[rule]]\nid = "ff"\nmetric = "favorable_rate_ratio"\nmin = 0.5\nevidence = "interval"\n',
        encoding="utf-8",
    )
    run = audit_cli(recidivism_csv, *PRED, "--policy", policy, "--favorable-label", "0")
    data = run.json()
    (outcome,) = data["policy"]["rules"][0]["outcomes"]
    assert outcome["interval"] == _entry(data, "selection_rate")["ci_ratio_between"]
    assert outcome["status"] == ("pass" if outcome["interval"][0] >= 0.5 else "fail")


# --------------------------------------------------------------------------- wording


def test_every_output_says_flagged_when_a_positive_prediction_is_adverse(
    audit_cli: RunCli, recidivism_csv: Path, tmp_path: Path
) -> None:
    junit = tmp_path / "junit.xml"
    run = audit_cli(
        recidivism_csv, *PRED, "--favorable-label", "0",
        "--policy", "preset:four-fifths", "--junit", junit,
    )  # fmt: skip
    assert run.result.exit_code == 3, run.result.output
    text = (
        "sex=young: selection_rate 0.400 vs 0.065 for sex=old "
        "(flagged more often; ratio of not-flagged rates 0.642)"
    )
    assert text in run.result.output  # the console
    # Beside fairlearn's ratio of flag rates, the four-fifths ratio of the favourable outcome.
    assert "  sex: demographic_parity_ratio = 0.163\n" in run.result.output
    assert "  sex: favorable_rate_ratio (not flagged) = 0.642\n" in run.result.output
    assert json.dumps(text)[1:-1].replace("&", "&amp;") in junit.read_text(encoding="utf-8")
    html = run.html()
    assert "flagged more often: ratio of not-flagged rates" in html
    assert "highest selection rate (flagged most often)" in html
    assert "lowest selection rate" not in html
    assert "A positive prediction is adverse here" in html
    assert "a positive prediction is adverse (it flags the person)" in html
    from fairaudit.outputs import fairness_section

    assert "The favourable label is 0: a positive prediction is adverse" in fairness_section(
        run.json(), None
    )


def test_a_config_file_may_give_the_favourable_label_as_a_number(
    audit_cli: RunCli, recidivism_csv: Path
) -> None:
    run = audit_cli(recidivism_csv, *PRED, config="favorable_label = 0")
    run.assert_ok()
    assert run.json()["audit"]["positive_prediction"] == "adverse"
    assert not math.isnan(_entry(run.json(), "selection_rate")["ratio"])


# --------------------------------------------------------------------------- agreement


def test_the_agreement_check_catches_a_disagreement(
    audit_cli: RunCli, recidivism_csv: Path
) -> None:
    """tests/agreement.py runs on every audit of the suite; here it must catch an output
    that tells another story (so it is not vacuous)."""
    from tests.agreement import assert_outputs_agree

    run = audit_cli(
        recidivism_csv, *PRED, "--favorable-label", "0", "--policy", "preset:four-fifths"
    )
    data, html = run.json(), run.html()
    assert [w["below_band"] for w in data["summary"]["worse_off"]] == [True, False]
    assert_outputs_agree(data, html, run.result.output)
    tampered = json.loads(json.dumps(data))
    tampered["summary"]["worse_off"][0]["ratio"] = 0.9
    with pytest.raises(AssertionError):
        assert_outputs_agree(tampered, html, None)
    fewer = json.loads(json.dumps(data))
    fewer["summary"]["worse_off"][0]["below_band"] = False
    with pytest.raises(AssertionError):
        assert_outputs_agree(fewer, html, None)
    with pytest.raises(AssertionError):
        assert_outputs_agree(data, html, run.result.output.replace("0.642", "0.700"))


def test_equal_opportunity_follows_the_favourable_label(
    audit_cli: RunCli, recidivism_csv: Path
) -> None:
    """The preset judges the favourable outcome among people whose label is favourable:
    TPR by default (fairlearn's equal_opportunity_difference), TNR when positive is adverse."""
    from fairlearn.metrics import equal_opportunity_difference

    groups, y, pred = _arrays()
    policy = ("--policy", "preset:equal-opportunity")
    plain = audit_cli(recidivism_csv, *PRED, *policy).json()
    (outcome,) = plain["policy"]["rules"][0]["outcomes"]
    expected = equal_opportunity_difference(y, pred, sensitive_features=groups)
    assert outcome["observed"] == pytest.approx(expected, abs=1e-15)  # 0.6 - 0.4
    adverse = audit_cli(recidivism_csv, *PRED, *policy, "--favorable-label", "0").json()
    (outcome,) = adverse["policy"]["rules"][0]["outcomes"]
    tnr = MetricFrame(metrics=true_negative_rate, y_true=y, y_pred=pred, sensitive_features=groups)
    assert outcome["observed"] == pytest.approx(tnr.difference(), abs=1e-15)  # 175/180 - 0.8
    entry = _entry(adverse, "false_positive_rate")
    assert outcome["groups"] == [entry["group"], entry["best_group"]]
    assert outcome["observed"] == pytest.approx(abs(entry["difference"]), abs=1e-15)
    low, high = entry["ci_difference_between"]
    assert low <= outcome["observed"] <= high


def test_a_worse_off_verdict_says_when_only_the_adjustment_makes_it_noise(
    sample_audit: Any,
) -> None:
    """Sample, age < 25: ratio 0.74 with interval [0.58, 0.90] read "(within noise)" in the
    banner, which looked like a contradiction: the Holm-adjusted test does not reject."""
    data = sample_audit.json()
    (entry,) = [
        w for w in data["summary"]["worse_off"]
        if w["feature"] == "age" and w["metric"] == "selection_rate"
    ]  # fmt: skip
    low, high = entry["ci_ratio"]
    assert high < 1
    assert entry["significance"] == "within noise after Holm adjustment"
    (tested,) = [
        d for d in data["disparities"]
        if (d["feature"], d["metric"], d["group"]) == ("age", "selection_rate", entry["group"])
    ]  # fmt: skip
    assert tested["significance"] == "within noise" and "does not reject" in tested["note"]


# --------------------------------------------------------------------------- mitigations


def _small_positive_cell_rows() -> list[list[Any]]:
    """Group a has 5 positives, all predicted positive (TPR 1.0 from 5 rows: below
    min_denominator 10); groups b and c are identical (TPR 0.5)."""
    rows: list[list[Any]] = []
    for group, cells in {
        "a": [(1, 1, 5), (0, 1, 40), (0, 0, 155)],
        "b": [(1, 1, 50), (1, 0, 50), (0, 1, 20), (0, 0, 80)],
        "c": [(1, 1, 50), (1, 0, 50), (0, 1, 20), (0, 0, 80)],
    }.items():
        for y, p, n in cells:
            rows += [[group, y, p, round(0.3 + 0.4 * p + 0.002 * (i % 50), 3)] for i in range(n)]
    return rows


def test_mitigations_are_judged_on_sufficient_cells_like_the_audit(
    audit_cli: RunCli, write_csv: Callable[..., Path], tmp_path: Path
) -> None:
    """Review finding: the policy judged a mitigation entry (even 'baseline', the audited
    model's own predictions) on group a's TPR from 5 positives, which the audit leaves out:
    the audit passed equal opportunity, its baseline failed with 0.5."""
    data = write_csv("small.csv", ["g", "y", "pred", "score"], _small_positive_cell_rows())
    policy = tmp_path / "both.toml"
    rules = [
        'id = "eo"\nmetric = "favorable_opportunity_difference"\nmax = 0.05',
        'id = "ff"\nmetric = "favorable_rate_ratio"\nmin = 0.5\nevidence = "interval"',
        'id = "dp"\nmetric = "demographic_parity_ratio"\nmin = 0.5\nevidence = "interval"',
    ]
    policy.write_text("".join(f"[[rule]]\n{r}\n" for r in rules), encoding="utf-8")
    run = audit_cli(
        data, *PRED, "--score-col", "score", "--sensitive", "g", "--policy", policy,
        "--mitigations", "threshold_demographic_parity", sensitive=None,
    )  # fmt: skip
    result = run.json()
    rules = {r["id"]: r for r in result["policy"]["rules"]}
    (eo,) = rules["eo"]["outcomes"]
    assert (eo["observed"], eo["status"]) == (0.0, "pass")
    assert {"g": "a"} in eo["excluded"]  # named as left out (TPR from 5 positives)
    (baseline,) = [m for m in result["policy"]["mitigations"] if m["method"] == "baseline"]
    assert baseline["verdict"] == result["verdict"]
    # The favourable-rate interval rule is judged on a mitigation's numbers as the
    # headline rule it equals is: the same status, not 'not evaluable'.
    assert rules["ff"]["status"] == rules["dp"]["status"]
    assert "ff" not in baseline["warned_rules"] or "dp" in baseline["warned_rules"]
    assert ("ff" in baseline["failed_rules"]) == ("dp" in baseline["failed_rules"])
