"""Policies: loading and layering, evaluation and verdicts, findings, JUnit, exit codes, reviews.

Most tests use `tiny_result`, a hand-made audit result whose numbers can be checked by eye:
one feature, sex, with male (200 rows, the reference), female (100) and other (10 rows, below
min_group_size 30).

    group   n    selection_rate  true_positive_rate  false_positive_rate
    male    200  0.50            0.80                0.20
    female  100  0.45            0.70                0.25
    other    10  0.10            0.50                0.00

Over all groups demographic_parity_ratio = 0.1 / 0.5 = 0.2; over the two groups with at least
30 rows it is 0.45 / 0.5 = 0.9.
"""

from __future__ import annotations

import copy
import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import click
import pytest
from click.testing import CliRunner

from fairaudit.cli import PolicyFailed, check_verified_approvals, policy_option, review
from fairaudit.outputs import junit_xml, write_junit
from fairaudit.policy import (
    BETWEEN_GROUPS_METRICS,
    EXIT_OK,
    EXIT_POLICY_FAILED,
    GROUP_METRICS,
    MSG_APPROVALS_LOOSENED,
    MSG_BAD_METRIC,
    MSG_BAD_SEVERITY,
    MSG_BAD_TOML,
    MSG_BAD_TYPE,
    MSG_DUPLICATE_ID,
    MSG_HEADLINE_COMPARE,
    MSG_LOCKED_CHANGED,
    MSG_LOCKED_LOOSENED,
    MSG_LOCKED_REMOVED,
    MSG_MIN_GT_MAX,
    MSG_NO_BOUND,
    MSG_NO_METRIC,
    MSG_REMOVE_UNKNOWN,
    MSG_UNKNOWN_KEY,
    MSG_UNKNOWN_PRESET,
    MSG_UNKNOWN_TOP_KEY,
    NOT_EVALUABLE,
    PRESETS,
    REASON_NO_FEATURE,
    REASON_NO_INTERVALS,
    REASON_RESTRICTED,
    REASON_SMALL_GROUP,
    REASON_UNDEFINED,
    Policy,
    PolicyError,
    build_findings,
    check_approvals,
    evaluate_policy,
    exit_code_for,
    load_policy,
    preset_path,
)
from fairaudit.provenance import (
    generate_key_pair,
    load_private_key,
    load_trusted_keys,
    verify_report_file,
)

ROOT = Path(__file__).resolve().parent.parent

RATES = {
    "male": (200, 0.50, 0.80, 0.20),
    "female": (100, 0.45, 0.70, 0.25),
    "other": (10, 0.10, 0.50, 0.00),
}
METRICS = ("selection_rate", "true_positive_rate", "false_positive_rate")


def _tiny_result() -> dict[str, Any]:
    by_group = [
        {
            "feature": "sex",
            "group": {"sex": name},
            "count": n,
            "metrics": dict(zip(METRICS, rates)),
            "reference": name == "male",
            "insufficient_data": n < 30,
        }
        for name, (n, *rates) in RATES.items()
    ]
    disparities = []
    for metric_index, metric in enumerate(METRICS, start=1):
        ref = RATES["male"][metric_index]
        for name in ("female", "other"):
            value = RATES[name][metric_index]
            disparities.append(
                {
                    "feature": "sex",
                    "metric": metric,
                    "group": {"sex": name},
                    "reference": {"sex": "male"},
                    "value": value,
                    "reference_value": ref,
                    "difference": value - ref,
                    "ratio": value / ref,
                }
            )
    headline = [
        {"feature": "sex", "metric": "demographic_parity_ratio", "value": 0.2},
        {"feature": "sex", "metric": "demographic_parity_difference", "value": 0.4},
        {"feature": "sex", "metric": "equal_opportunity_difference", "value": 0.3},
        {"feature": "sex", "metric": "equalized_odds_difference", "value": 0.3},
    ]
    return {
        "audit": {"groupings": ["sex"], "min_group_size": 30},
        "data_checks": [
            {"id": "rows", "status": "info", "message": "310 rows"},
            {"id": "insufficient_data", "status": "warning", "message": "1 group is small"},
            {"id": "single_class", "status": "warning", "message": "1 group has one class"},
        ],
        "metrics": {"overall": {}, "by_group": by_group},
        "disparities": disparities,
        "headline": headline,
        "findings": [],
    }


def _with_intervals(result: dict[str, Any], half_width: float) -> dict[str, Any]:
    """Return ``result`` with the uncertainty keys: intervals of +- half_width around values."""
    result = copy.deepcopy(result)
    for row in result["disparities"]:
        row["ci_difference"] = [row["difference"] - half_width, row["difference"] + half_width]
        row["ci_ratio"] = [row["ratio"] - half_width, row["ratio"] + half_width]
        row["p_value"] = row["p_value_adjusted"] = 0.5
        row["significance"] = "within noise"
    for row in result["headline"]:
        row["ci"] = [row["value"] - half_width, row["value"] + half_width]
    return result


@pytest.fixture
def tiny_result() -> dict[str, Any]:
    return _tiny_result()


@pytest.fixture
def write_policy(tmp_path: Path) -> Callable[[str, str], str]:
    """Write a policy file into tmp_path and return its path as given on the command line."""

    def write(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


def _policy(write: Callable[[str, str], str], text: str) -> Policy:
    return load_policy([write("policy.toml", text)])


# --------------------------------------------------------------------------- verdicts


def test_point_pass_leaves_small_groups_out_of_between_groups_value(
    tiny_result: dict[str, Any], write_policy: Callable[[str, str], str]
) -> None:
    policy = _policy(write_policy, '[[rule]]\nmetric = "demographic_parity_ratio"\nmin = 0.8\n')
    evaluation = evaluate_policy(policy, tiny_result)
    (judged,) = evaluation.rules
    (outcome,) = judged.outcomes
    assert judged.rule.id == "demographic_parity_ratio"
    assert outcome.observed == pytest.approx(0.9)
    assert outcome.groups == ({"sex": "female"}, {"sex": "male"})
    assert outcome.excluded == ({"sex": "other"},)
    assert (outcome.status, judged.status, evaluation.verdict) == ("pass", "pass", "pass")


def test_headline_value_used_as_is_when_no_group_is_left_out(
    tiny_result: dict[str, Any], write_policy: Callable[[str, str], str]
) -> None:
    policy = _policy(
        write_policy,
        '[[rule]]\nmetric = "demographic_parity_ratio"\nmin = 0.8\nmin_group_size = 0\n',
    )
    evaluation = evaluate_policy(policy, tiny_result)
    outcome = evaluation.rules[0].outcomes[0]
    assert outcome.observed == 0.2
    tiny_result["headline"][0]["value"] = 0.2000001  # read from the result, not recomputed
    assert evaluate_policy(policy, tiny_result).rules[0].outcomes[0].observed == 0.2000001
    assert outcome.groups == ({"sex": "other"}, {"sex": "male"})
    assert outcome.reason == "0.2 is not >= 0.8"
    assert (outcome.status, evaluation.verdict) == ("fail", "fail")


def test_warn_severity_gives_warn_verdict(
    tiny_result: dict[str, Any], write_policy: Callable[[str, str], str]
) -> None:
    policy = _policy(
        write_policy,
        '[[rule]]\nmetric = "equal_opportunity_difference"\nmax = 0.05\nseverity = "warn"\n',
    )
    evaluation = evaluate_policy(policy, tiny_result)
    outcome = evaluation.rules[0].outcomes[0]
    assert outcome.observed == pytest.approx(0.1)  # 0.8 - 0.7 without the small group
    assert (outcome.status, evaluation.rules[0].status, evaluation.verdict) == (
        "warn",
        "warn",
        "warn",
    )


def test_equalized_odds_takes_the_larger_of_tpr_and_fpr_differences(
    tiny_result: dict[str, Any], write_policy: Callable[[str, str], str]
) -> None:
    policy = _policy(write_policy, '[[rule]]\nmetric = "equalized_odds_difference"\nmax = 0.1\n')
    outcome = evaluate_policy(policy, tiny_result).rules[0].outcomes[0]
    # TPR 0.8 - 0.7 = 0.1 beats FPR 0.25 - 0.2 = 0.05; 0.1 meets max 0.1 (up to rounding).
    assert outcome.observed == pytest.approx(0.1)
    assert outcome.groups == ({"sex": "female"}, {"sex": "male"})
    assert outcome.status == "pass"


def test_reference_rule_outcome_per_group_and_not_evaluable_small_group(
    tiny_result: dict[str, Any], write_policy: Callable[[str, str], str]
) -> None:
    policy = _policy(write_policy, '[[rule]]\nmetric = "selection_rate_ratio"\nmin = 0.8\n')
    evaluation = evaluate_policy(policy, tiny_result)
    (judged,) = evaluation.rules
    female, other = judged.outcomes
    assert judged.rule.compare == "reference"
    assert female.groups == ({"sex": "female"}, {"sex": "male"})
    assert (female.observed, female.status) == (pytest.approx(0.9), "pass")
    assert other.status == NOT_EVALUABLE
    assert other.reason == REASON_SMALL_GROUP.format(label="sex=other", count=10, minimum=30)
    assert judged.status == NOT_EVALUABLE
    assert evaluation.verdict == "warn"  # not evaluable never passes silently
    assert evaluate_policy(policy, tiny_result, not_evaluable="fail").verdict == "fail"


def test_not_evaluable_fail_set_in_the_policy(
    tiny_result: dict[str, Any], write_policy: Callable[[str, str], str]
) -> None:
    policy = _policy(
        write_policy,
        'not_evaluable = "fail"\n[[rule]]\nmetric = "selection_rate_ratio"\nmin = 0.8\n',
    )
    evaluation = evaluate_policy(policy, tiny_result)
    assert (evaluation.not_evaluable, evaluation.verdict) == ("fail", "fail")
    assert evaluation.to_dict()["not_evaluable"] == "fail"


def test_signed_difference_between_bounds_and_between_groups_rule(
    tiny_result: dict[str, Any], write_policy: Callable[[str, str], str]
) -> None:
    policy = _policy(
        write_policy,
        """
        [[rule]]
        metric = "false_positive_rate_difference"
        min = -0.1
        max = 0.1
        min_group_size = 50

        [[rule]]
        metric = "false_positive_rate_difference"
        compare = "between_groups"
        max = 0.04
        """,
    )
    reference, between = evaluate_policy(policy, tiny_result).rules
    assert [o.observed for o in reference.outcomes][0] == pytest.approx(0.05)
    assert reference.status == NOT_EVALUABLE  # other (10 rows) is below 50
    assert between.rule.id == "false_positive_rate_difference:between_groups"
    (outcome,) = between.outcomes
    assert outcome.observed == pytest.approx(0.05)
    assert outcome.groups == ({"sex": "male"}, {"sex": "female"})
    assert (outcome.status, outcome.reason) == ("fail", "0.05 is not <= 0.04")


def test_missing_feature_and_undefined_value_are_not_evaluable(
    tiny_result: dict[str, Any], write_policy: Callable[[str, str], str]
) -> None:
    tiny_result["disparities"][0]["ratio"] = None  # female selection_rate ratio undefined
    policy = _policy(
        write_policy,
        """
        [[rule]]
        metric = "demographic_parity_ratio"
        feature = "race"
        min = 0.8

        [[rule]]
        metric = "selection_rate_ratio"
        min = 0.8
        min_group_size = 5
        """,
    )
    missing, undefined = evaluate_policy(policy, tiny_result).rules
    assert missing.rule.id == "demographic_parity_ratio:race"
    assert missing.outcomes[0].reason == REASON_NO_FEATURE.format(feature="race", groupings="sex")
    assert undefined.outcomes[0].status == NOT_EVALUABLE
    assert undefined.outcomes[0].reason == REASON_UNDEFINED
    assert undefined.outcomes[1].status == "fail"  # other: 0.1 / 0.5 = 0.2


# --------------------------------------------------------------------------- evidence


INTERVAL_RULE = """
[[rule]]
metric = "selection_rate_ratio"
min = 0.8
min_group_size = 50
evidence = "{evidence}"
"""


def test_interval_evidence_without_intervals_is_not_evaluable(
    tiny_result: dict[str, Any], write_policy: Callable[[str, str], str]
) -> None:
    policy = _policy(write_policy, INTERVAL_RULE.format(evidence="interval"))
    outcome = evaluate_policy(policy, tiny_result).rules[0].outcomes[0]
    assert (outcome.status, outcome.reason) == (NOT_EVALUABLE, REASON_NO_INTERVALS)


@pytest.mark.parametrize(
    ("evidence", "half_width", "status"),
    [
        ("point", 0.2, "pass"),  # 0.9 >= 0.8
        ("interval", 0.05, "pass"),  # [0.85, 0.95] wholly >= 0.8
        ("interval", 0.2, "fail"),  # [0.7, 1.1] is not
    ],
)
def test_point_versus_interval_evidence(
    tiny_result: dict[str, Any],
    write_policy: Callable[[str, str], str],
    evidence: str,
    half_width: float,
    status: str,
) -> None:
    policy = _policy(write_policy, INTERVAL_RULE.format(evidence=evidence))
    result = _with_intervals(tiny_result, half_width)
    female = evaluate_policy(policy, result).rules[0].outcomes[0]
    assert female.status == status
    if evidence == "interval":
        assert female.interval == pytest.approx((0.9 - half_width, 0.9 + half_width))


def test_headline_interval_used_only_when_no_group_left_out(
    tiny_result: dict[str, Any], write_policy: Callable[[str, str], str]
) -> None:
    result = _with_intervals(tiny_result, 0.05)
    rule = '[[rule]]\nmetric = "demographic_parity_difference"\nmax = 0.5\nevidence = "interval"\n'
    restricted = evaluate_policy(_policy(write_policy, rule), result).rules[0].outcomes[0]
    assert (restricted.status, restricted.reason) == (NOT_EVALUABLE, REASON_RESTRICTED)
    everyone = (
        evaluate_policy(_policy(write_policy, rule + "min_group_size = 0\n"), result)
        .rules[0]
        .outcomes[0]
    )
    assert everyone.interval == pytest.approx((0.35, 0.45))
    assert everyone.status == "pass"


# --------------------------------------------------------------------------- layering

ORG = """
[[rule]]
id = "eo"
metric = "equalized_odds_difference"
max = 0.1
locked = true

[[rule]]
id = "dp"
metric = "demographic_parity_ratio"
min = 0.8
"""


def test_tightening_adding_and_removing_unlocked_rules(
    tiny_result: dict[str, Any], write_policy: Callable[[str, str], str]
) -> None:
    org = write_policy("org.toml", ORG)
    team = write_policy(
        "team.toml",
        """
        [[rule]]
        id = "eo"
        max = 0.05
        severity = "fail"
        evidence = "interval"

        [[rule]]
        id = "dp"
        remove = true

        [[rule]]
        metric = "selection_rate_ratio"
        min = 0.9
        """,
    )
    policy = load_policy([org, team])
    assert [r.id for r in policy.rules] == ["eo", "selection_rate_ratio"]
    eo, added = policy.rules
    assert (eo.max, eo.evidence, eo.layer, eo.modified_by, eo.locked_by) == (
        0.05,
        "interval",
        org,
        (team,),
        org,
    )
    assert added.layer == team
    layers = evaluate_policy(policy, tiny_result).to_dict()["layers"]
    assert layers == [
        {"source": org, "sha256": hashlib.sha256(Path(org).read_bytes()).hexdigest()},
        {"source": team, "sha256": hashlib.sha256(Path(team).read_bytes()).hexdigest()},
    ]


@pytest.mark.parametrize(
    ("override", "message", "key", "old", "new"),
    [
        ("max = 0.2", MSG_LOCKED_LOOSENED, "max", "0.1", "0.2"),
        ('severity = "warn"', MSG_LOCKED_LOOSENED, "severity", "'fail'", "'warn'"),
        ("locked = false", MSG_LOCKED_LOOSENED, "locked", "True", "False"),
        ("min_group_size = 100", MSG_LOCKED_LOOSENED, "min_group_size", "None", "100"),
        ('feature = "sex"', MSG_LOCKED_CHANGED, "feature", "None", "'sex'"),
    ],
)
def test_loosening_a_locked_rule_names_both_files_and_the_rule(
    write_policy: Callable[[str, str], str],
    override: str,
    message: str,
    key: str,
    old: str,
    new: str,
) -> None:
    org = write_policy("org.toml", ORG)
    team = write_policy("team.toml", f'[[rule]]\nid = "eo"\n{override}\n')
    with pytest.raises(PolicyError) as raised:
        load_policy([org, team])
    assert str(raised.value) == message.format(
        source=team, rule="'eo'", key=key, old=old, new=new, locked_by=org
    )
    assert org in str(raised.value) and team in str(raised.value)


def test_removing_a_locked_rule_is_an_error(write_policy: Callable[[str, str], str]) -> None:
    org = write_policy("org.toml", ORG)
    team = write_policy("team.toml", '[[rule]]\nid = "eo"\nremove = true\n')
    with pytest.raises(PolicyError) as raised:
        load_policy([org, team])
    assert str(raised.value) == MSG_LOCKED_REMOVED.format(source=team, rule="'eo'", locked_by=org)


def test_a_later_layer_can_lock_and_then_is_bound(write_policy: Callable[[str, str], str]) -> None:
    org = write_policy("org.toml", ORG)
    lock = write_policy("lock.toml", '[[rule]]\nid = "dp"\nlocked = true\n')
    loosen = write_policy("loosen.toml", '[[rule]]\nid = "dp"\nmin = 0.7\n')
    with pytest.raises(PolicyError) as raised:
        load_policy([org, lock, loosen])
    assert str(raised.value) == MSG_LOCKED_LOOSENED.format(
        source=loosen, rule="'dp'", key="min", old="0.8", new="0.7", locked_by=lock
    )


def test_remove_or_change_of_an_unknown_rule_is_an_error(
    write_policy: Callable[[str, str], str],
) -> None:
    path = write_policy("team.toml", '[[rule]]\nid = "nope"\nremove = true\n')
    with pytest.raises(PolicyError) as raised:
        load_policy([path])
    assert str(raised.value) == MSG_REMOVE_UNKNOWN.format(source=path, rule="'nope'")
    path = write_policy("team2.toml", '[[rule]]\nid = "nope"\nmax = 0.1\n')
    with pytest.raises(PolicyError) as raised:
        load_policy([path])
    assert str(raised.value) == MSG_NO_METRIC.format(source=path, rule="'nope'")


def test_approvals_layers_may_only_tighten(
    sample_run: dict[str, Any], write_policy: Callable[[str, str], str]
) -> None:
    keys = sample_run["keys"]
    alice, bob = keys["alice"].key_id, keys["bob"].key_id
    org = write_policy("org.toml", f'[approvals]\nrequired = 2\nreviewers = ["{alice}", "{bob}"]\n')
    fewer = write_policy("fewer.toml", "[approvals]\nrequired = 1\n")
    with pytest.raises(PolicyError) as raised:
        load_policy([org, fewer])
    assert str(raised.value) == MSG_APPROVALS_LOOSENED.format(
        source=fewer, key="required", earlier=org, detail="1 < 2"
    )
    narrower = write_policy("narrower.toml", f'[approvals]\nreviewers = ["{alice}"]\n')
    approvals = load_policy([org, narrower]).approvals
    assert approvals is not None and (approvals.required, approvals.reviewers) == (2, (alice,))
    missing = write_policy("missing.toml", '[approvals]\nreviewers = ["nobody.pub"]\n')
    with pytest.raises(PolicyError, match=r"key 'reviewers': 'nobody.pub' is neither"):
        load_policy([missing])


# --------------------------------------------------------------------------- presets


def test_presets_load_with_their_digest_and_origin() -> None:
    expected = {
        "four-fifths": ("favorable_rate_ratio", 0.8, None, "29 CFR 1607.4(D)"),
        "equalized-odds": ("equalized_odds_difference", None, 0.1, "Hardt, Price and Srebro"),
        "equal-opportunity": ("favorable_opportunity_difference", None, 0.05, "Hardt, Price and"),
    }
    assert set(expected) == set(PRESETS)
    for name, (metric, low, high, origin) in expected.items():
        policy = load_policy([f"preset:{name}"])
        (rule,) = policy.rules
        assert (rule.id, rule.metric, rule.min, rule.max, rule.severity) == (
            name,
            metric,
            low,
            high,
            "fail",
        )
        content = preset_path(name).read_bytes()
        assert policy.layers[0].sha256 == hashlib.sha256(content).hexdigest()
        assert policy.layers[0].source == f"preset:{name}"
        assert origin in content.decode("utf-8")


def test_presets_on_the_sample_audit(sample_run: dict[str, Any]) -> None:
    result = sample_run["result"]
    policy = load_policy(["preset:four-fifths"])
    evaluation = evaluate_policy(policy, result)
    by_feature = {o.feature: o for o in evaluation.rules[0].outcomes}
    # sex has no small group: the audit's own headline value is used as is.
    sex = next(h for h in result["headline"] if h["feature"] == "sex")
    assert sex["metric"] == "demographic_parity_difference"
    ratio = next(
        h["value"]
        for h in result["headline"]
        if h["feature"] == "sex" and h["metric"] == "demographic_parity_ratio"
    )
    assert by_feature["sex"].observed == ratio
    assert by_feature["sex"].status == "pass"
    # Every age band has 30 rows or more; the intersection leaves out its one small cell.
    assert by_feature["age"].excluded == ()
    assert by_feature["age"].status == "fail"
    assert by_feature["intersection"].excluded == ({"sex": "male", "age": "< 25"},)
    assert evaluation.verdict == "fail"
    json.dumps(evaluation.to_dict(), allow_nan=False)  # JSON-ready


def test_unknown_preset_is_an_error() -> None:
    with pytest.raises(PolicyError) as raised:
        load_policy(["preset:eighty-percent"])
    assert str(raised.value) == MSG_UNKNOWN_PRESET.format(
        name="eighty-percent", presets=", ".join(PRESETS)
    )


# --------------------------------------------------------------------------- validation

RULE_KEYS = (
    "id, metric, compare, min, max, feature, severity, min_group_size, evidence, locked, "
    "description, remove, class"  # H4 (issue 17): the multiclass rules' class key
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[rule]]\nmetric = "demographic_parity_ratio"\nmin = 0.8\nthreshold = 1\n',
            lambda s: MSG_UNKNOWN_KEY.format(
                source=s, rule="#1 (demographic_parity_ratio)", key="threshold", allowed=RULE_KEYS
            ),
        ),
        (
            '[[rule]]\nid = "x"\nmetric = "disparate_impact"\nmin = 0.8\n',
            lambda s: MSG_BAD_METRIC.format(
                source=s,
                rule="'x'",
                value="disparate_impact",
                headline=", ".join(BETWEEN_GROUPS_METRICS),
                group=", ".join(GROUP_METRICS),
            ),
        ),
        (
            '[[rule]]\nid = "x"\nmetric = "count_difference"\nmax = 1\n',
            lambda s: MSG_BAD_METRIC.format(
                source=s,
                rule="'x'",
                value="count_difference",
                headline=", ".join(BETWEEN_GROUPS_METRICS),
                group=", ".join(GROUP_METRICS),
            ),
        ),
        (
            '[[rule]]\nmetric = "demographic_parity_ratio"\nmin = 0.9\nmax = 0.8\n',
            lambda s: MSG_MIN_GT_MAX.format(
                source=s, rule="'demographic_parity_ratio'", min=0.9, max=0.8
            ),
        ),
        (
            '[[rule]]\nid = "x"\nmetric = "demographic_parity_ratio"\nmin = 0.8\n'
            'severity = "error"\n',
            lambda s: MSG_BAD_SEVERITY.format(source=s, rule="'x'", value="error"),
        ),
        (
            '[[rule]]\nmetric = "demographic_parity_ratio"\n',
            lambda s: MSG_NO_BOUND.format(source=s, rule="'demographic_parity_ratio'"),
        ),
        (
            '[[rule]]\nmetric = "demographic_parity_ratio"\nmin = "0.8"\n',
            lambda s: MSG_BAD_TYPE.format(
                source=s,
                rule="#1 (demographic_parity_ratio)",
                key="min",
                expected="a number",
                value="0.8",
            ),
        ),
        (
            '[[rule]]\nmetric = "demographic_parity_ratio"\nmin = 0.8\ncompare = "reference"\n',
            lambda s: MSG_HEADLINE_COMPARE.format(
                source=s, rule="'demographic_parity_ratio'", metric="demographic_parity_ratio"
            ),
        ),
        (
            '[[rule]]\nmetric = "selection_rate_ratio"\nmin = 0.8\n'
            '[[rule]]\nmetric = "selection_rate_ratio"\nmin = 0.9\n',
            lambda s: MSG_DUPLICATE_ID.format(source=s, rule="'selection_rate_ratio'"),
        ),
        (
            "threshold = 0.8\n",
            lambda s: MSG_UNKNOWN_TOP_KEY.format(
                source=s,
                key="threshold",
                allowed="name, description, not_evaluable, rule, approvals, monitor",
            ),
        ),
    ],
    ids=[
        "unknown-key",
        "bad-metric",
        "count-metric",
        "min-gt-max",
        "bad-severity",
        "no-bound",
        "bad-type",
        "headline-reference",
        "duplicate-id",
        "unknown-top-key",
    ],
)
def test_validation_errors_name_file_rule_and_key(
    write_policy: Callable[[str, str], str], text: str, expected: Callable[[str], str]
) -> None:
    path = write_policy("policy.toml", text)
    with pytest.raises(PolicyError) as raised:
        load_policy([path])
    assert str(raised.value) == expected(path)


def test_bad_toml_and_missing_file(write_policy: Callable[[str, str], str]) -> None:
    path = write_policy("policy.toml", "[[rule]\n")
    with pytest.raises(PolicyError) as raised:
        load_policy([path])
    assert str(raised.value).startswith(MSG_BAD_TOML.format(source=path, detail=""))
    with pytest.raises(PolicyError, match="cannot read policy file nowhere.toml: "):
        load_policy(["nowhere.toml"])


# --------------------------------------------------------------------------- exit codes


@pytest.mark.parametrize(
    ("verdict", "fail_on", "code"),
    [
        (None, "fail", EXIT_OK),
        ("pass", "fail", EXIT_OK),
        ("warn", "fail", EXIT_OK),
        ("fail", "fail", EXIT_POLICY_FAILED),
        ("pass", "warn", EXIT_OK),
        ("warn", "warn", EXIT_POLICY_FAILED),
        ("fail", "warn", EXIT_POLICY_FAILED),
    ],
)
def test_exit_code_for(verdict: str | None, fail_on: str, code: int) -> None:
    assert exit_code_for(verdict, fail_on) == code
    assert (EXIT_OK, EXIT_POLICY_FAILED) == (0, 3)


# --------------------------------------------------------------------------- JUnit

MIXED = """
[[rule]]
id = "ratio"
metric = "selection_rate_ratio"
min = 0.95

[[rule]]
id = "opportunity"
metric = "equal_opportunity_difference"
max = 0.05
severity = "warn"

[[rule]]
id = "parity"
metric = "demographic_parity_ratio"
min = 0.8
"""


@pytest.mark.parametrize(
    ("fail_on", "not_evaluable", "failures", "skipped"),
    [("fail", "warn", 1, 1), ("warn", "warn", 2, 1), ("fail", "fail", 2, 0)],
)
def test_junit_counts(
    tiny_result: dict[str, Any],
    write_policy: Callable[[str, str], str],
    tmp_path: Path,
    fail_on: str,
    not_evaluable: Literal["warn", "fail"],
    failures: int,
    skipped: int,
) -> None:
    # ratio: female 0.9 fails, other not evaluable; opportunity warns; parity passes.
    evaluation = evaluate_policy(
        _policy(write_policy, MIXED),
        tiny_result,
        not_evaluable=not_evaluable,
    )
    path = tmp_path / "policy.xml"
    write_junit(evaluation.to_dict(), path, fail_on=fail_on)
    root = ET.parse(path).getroot()
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 4
    assert len(suite.findall("testcase/failure")) == failures
    assert len(suite.findall("testcase/skipped")) == skipped
    for element in (root, suite):
        assert element.get("tests") == "4"
        assert element.get("failures") == str(failures)
        assert element.get("skipped") == str(skipped)
    names = [(c.get("classname"), c.get("name")) for c in cases]
    assert names == [
        ("fairaudit.policy.ratio", "sex: sex=female"),
        ("fairaudit.policy.ratio", "sex: sex=other"),
        ("fairaudit.policy.opportunity", "sex (between groups)"),
        ("fairaudit.policy.parity", "sex (between groups)"),
    ]
    verdict = suite.find("properties/property[@name='verdict']")
    assert verdict is not None and verdict.get("value") == evaluation.verdict


def test_junit_replaces_characters_xml_forbids(
    tiny_result: dict[str, Any], write_policy: Callable[[str, str], str]
) -> None:
    for row in tiny_result["disparities"]:
        if row["group"] == {"sex": "female"}:
            row["group"] = {"sex": "fe\x01male"}
    for row in tiny_result["metrics"]["by_group"]:
        if row["group"] == {"sex": "female"}:
            row["group"] = {"sex": "fe\x01male"}
    evaluation = evaluate_policy(_policy(write_policy, MIXED), tiny_result)
    root = ET.fromstring(junit_xml(evaluation.to_dict()))
    assert root.find("testsuite/testcase[@name='sex: sex=fe\ufffdmale']") is not None


# --------------------------------------------------------------------------- findings


def test_findings_merge_security_and_cover_every_kind(
    tiny_result: dict[str, Any], write_policy: Callable[[str, str], str]
) -> None:
    tiny_result["data_checks"].append(
        {"id": "unsafe_model", "status": "warning", "message": "pickle"}
    )
    tiny_result["findings"] = [
        {
            "kind": "security",
            "severity": "warning",
            "message": "model loaded with unsafe pickle deserialization",
            "next_step": "save the model with skops.io.dump and audit the .skops file",
        }
    ]
    tiny_result["mitigations"] = [
        {
            "method": "ThresholdOptimizer",
            "constraint": "demographic_parity",
            "protocol": "holdout",
            "status": "ok",
            "metrics": {"overall": {}},
            # every group selected at 0.5: the ratio rule passes for the mitigated model.
            "disparities": [
                {**row, "value": 0.5, "reference_value": 0.5, "difference": 0.0, "ratio": 1.0}
                for row in tiny_result["disparities"]
            ],
            "headline": [
                {"feature": "sex", "metric": "equal_opportunity_difference", "value": 0.0},
                {"feature": "sex", "metric": "demographic_parity_ratio", "value": 1.0},
            ],
        }
    ]
    failed_method = {"method": "ExponentiatedGradient", "status": "failed", "reason": "no"}
    tiny_result["mitigations"].append(failed_method)
    evaluation = evaluate_policy(_policy(write_policy, MIXED), tiny_result)
    findings = build_findings(tiny_result, evaluation)
    kinds = [(f["kind"], f["severity"]) for f in findings]
    assert kinds == [
        ("policy", "error"),
        ("policy", "warning"),
        ("not_evaluable", "warning"),
        ("security", "warning"),
        ("data_check", "warning"),
        ("insufficient_data", "warning"),
        ("mitigation", "info"),
    ]
    failed = findings[0]
    assert failed["groups"] == [
        {"feature": "sex", "group": {"sex": "female"}},
        {"feature": "sex", "group": {"sex": "male"}},
    ]
    assert failed["evidence"]["rule"] == "ratio"
    assert [o["observed"] for o in failed["evidence"]["outcomes"]] == [pytest.approx(0.9)]
    assert (
        failed["message"] == "rule ratio failed on sex: sex=female vs sex=male (0.9 is not >= 0.95)"
    )
    assert all(f["next_step"] for f in findings)
    assert findings[4]["evidence"] == {"check": "single_class"}
    assert findings[5]["groups"] == [{"feature": "sex", "group": {"sex": "other"}}]
    (mitigation,) = evaluation.mitigations
    assert mitigation.verdict == "warn"  # other is still below min_group_size
    assert findings[6]["message"] == (
        "mitigation ThresholdOptimizer (demographic_parity) meets the policy (verdict warn)"
    )
    assert not [f for f in build_findings(tiny_result, evaluation, fail_on="warn") if
                f["kind"] == "mitigation"]  # fmt: skip
    json.dumps(findings, allow_nan=False)


def test_findings_without_a_policy(tiny_result: dict[str, Any]) -> None:
    kinds = [f["kind"] for f in build_findings(tiny_result)]
    assert kinds == ["data_check", "insufficient_data"]


# --------------------------------------------------------------------------- reviews


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Audit the sample data once, sign the report as auditor; keys for three reviewers."""
    from fairaudit.pipe import run_audit
    from fairaudit.publish import write_report
    from fairaudit.spec import load_config

    out = tmp_path_factory.mktemp("sample")
    keys = {
        name: generate_key_pair(out / "keys", name=name)
        for name in ("auditor", "alice", "bob", "carol")
    }
    result = run_audit(load_config(ROOT / "sample_data" / "audit.toml", {"mitigations": []}))
    evaluation = evaluate_policy(load_policy(["preset:four-fifths"]), result.to_dict())
    result.verdict = evaluation.verdict
    result.findings = build_findings(result.to_dict(), evaluation)
    html, _ = write_report(
        result,
        out / "report.html",
        sign_key=load_private_key(keys["auditor"].private_key),
    )
    return {"result": result.to_dict(), "html": html, "keys": keys, "out": out}


def _reviewed_copy(sample_run: dict[str, Any], tmp_path: Path, reviews: list[tuple]) -> Path:
    report = tmp_path / "report.html"
    report.write_bytes(Path(sample_run["html"]).read_bytes())
    runner = CliRunner()
    for name, decision in reviews:
        key = sample_run["keys"][name].private_key
        args = [str(report), "--key", str(key), "--decision", decision, "--comment", "ok"]
        run = runner.invoke(review, args)
        assert run.exit_code == 0, run.output
        assert run.output.startswith(f"Reviewed {report}: {decision} by key ")
    return report


def _approvals_policy(sample_run: dict[str, Any], tmp_path: Path, required: int) -> Policy:
    keys = sample_run["keys"]
    (tmp_path / "alice.pub").write_bytes(keys["alice"].public_key.read_bytes())
    path = tmp_path / "release.toml"
    path.write_text(
        f'[approvals]\nrequired = {required}\nreviewers = ["alice.pub", "{keys["bob"].key_id}"]\n',
        encoding="utf-8",
    )
    return load_policy([str(path)])


def _verify(sample_run: dict[str, Any], report: Path) -> Any:
    trusted = load_trusted_keys([k.public_key for k in sample_run["keys"].values()])
    return verify_report_file(report, trusted)


def test_review_approvals_counted_from_listed_keys(
    sample_run: dict[str, Any], tmp_path: Path
) -> None:
    keys = sample_run["keys"]
    report = _reviewed_copy(
        sample_run, tmp_path, [("alice", "approve"), ("carol", "approve"), ("bob", "approve")]
    )
    summary = _verify(sample_run, report)
    assert summary.verdict == "fail"
    assert summary.signers[1].extra == {"review": {"decision": "approve", "comment": "ok"}}
    status = check_approvals(summary, _approvals_policy(sample_run, tmp_path, 2))
    assert status.approved_by == (keys["alice"].key_id, keys["bob"].key_id)  # carol unlisted
    assert status.ok
    assert not check_approvals(summary, _approvals_policy(sample_run, tmp_path, 3)).ok


def test_too_few_approvals_or_a_rejection_fail(sample_run: dict[str, Any], tmp_path: Path) -> None:
    keys = sample_run["keys"]
    report = _reviewed_copy(sample_run, tmp_path, [("alice", "approve"), ("bob", "reject")])
    summary = _verify(sample_run, report)
    status = check_approvals(summary, _approvals_policy(sample_run, tmp_path, 1))
    assert (status.approved_by, status.rejected_by) == (
        (keys["alice"].key_id,),
        (keys["bob"].key_id,),
    )
    assert not status.ok
    assert status.describe() == (
        f"Approvals NOT met: 1 of 1 required approval(s) ({keys['alice'].key_id[:16]}); "
        f"rejected by {keys['bob'].key_id[:16]}."
    )


def test_verify_policy_check_exits_3_when_approvals_are_missing(
    sample_run: dict[str, Any], tmp_path: Path
) -> None:
    report = _reviewed_copy(sample_run, tmp_path, [("alice", "approve")])
    _approvals_policy(sample_run, tmp_path, 2)

    @click.command()
    @policy_option
    def verify_like(policy: tuple[str, ...]) -> None:
        check_verified_approvals(_verify(sample_run, report), policy)

    runner = CliRunner()
    failed = runner.invoke(verify_like, ["--policy", str(tmp_path / "release.toml")])
    assert failed.exit_code == PolicyFailed.exit_code == 3
    assert "Error: Approvals NOT met: 1 of 2 required approval(s)" in failed.output
    passed = runner.invoke(verify_like, ["--policy", "preset:four-fifths"])
    alice = sample_run["keys"]["alice"].key_id[:16]
    assert (passed.exit_code, passed.output) == (
        0,
        f"Approvals met: the policy requires none; approved by: {alice}.\n",
    )


def test_review_errors_are_one_line(sample_run: dict[str, Any], tmp_path: Path) -> None:
    report = _reviewed_copy(sample_run, tmp_path, [("alice", "approve")])
    key = sample_run["keys"]["alice"].private_key
    run = CliRunner().invoke(review, [str(report), "--key", str(key), "--decision", "approve"])
    assert run.exit_code == 1
    assert run.output.startswith("Error: The report is already signed by key ")
    bad = CliRunner().invoke(review, [str(report), "--key", str(key), "--decision", "maybe"])
    assert bad.exit_code == 2
    assert review.help and "Example:" in review.help


# --------------------------------------------------------------------------- mitigation detail

GROUP_RULES = """
[[rule]]
id = "selection-ratio"
metric = "selection_rate_ratio"
min = 0.8

[[rule]]
id = "fpr-difference-interval"
metric = "false_positive_rate_difference"
min = -0.05
max = 0.05
evidence = "interval"
severity = "warn"

[[rule]]
id = "tpr-between"
metric = "true_positive_rate_difference"
compare = "between_groups"
max = 0.1
evidence = "interval"

[[rule]]
id = "four-fifths"
metric = "favorable_rate_ratio"
min = 0.8
"""


def _scored_two_features(path: Path, n: int = 1500, seed: int = 11) -> Path:
    """Write scored rows with two sensitive features whose selection rates differ."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    sex = rng.choice(np.array(["female", "male"]), n)
    age = rng.choice(np.array(["young", "middle", "old"]), n, p=[0.3, 0.45, 0.25])
    y = rng.random(n) < 0.45
    score = 1 / (1 + np.exp(-(1.4 * y + 0.7 * (sex == "male") - 0.4 * (age == "young"))))
    score = score + rng.normal(0, 0.15, n)
    columns = {"y": y.astype(int), "pred": (score > 0.6).astype(int), "score": score}
    pd.DataFrame({**columns, "sex": sex, "age": age}).to_csv(path, index=False)
    return path


def test_rules_on_mitigations_judge_alike_with_summary_and_full_detail(
    tmp_path: Path, write_policy: Callable[[str, str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A summary entry's disparities, derived from its counts, are the full entry's rows."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764000000")  # no wall times in the entries
    from dataclasses import replace

    from fairaudit.pipe import run_audit
    from fairaudit.policy import mitigation_disparities
    from fairaudit.spec import AuditSpec

    spec = AuditSpec(
        data=_scored_two_features(tmp_path / "scored.csv"), target="y", sensitive=("sex", "age"),
        prediction_col="pred", score_col="score", mitigations=("threshold_demographic_parity",
        "threshold_equalized_odds"), policy=(write_policy("rules.toml", GROUP_RULES),), jobs=1,
    )  # fmt: skip
    summary = run_audit(spec).to_dict()
    full = run_audit(replace(spec, mitigation_detail="full")).to_dict()
    assert (summary["mitigation_summary"]["detail"], full["mitigation_summary"]["detail"]) == (
        "summary",
        "full",
    )
    for brief, whole in zip(summary["mitigations"], full["mitigations"], strict=True):
        assert "disparities" not in brief and "disparities" in whole
        assert all("ci" not in row for row in brief["by_group"])
        # The derived rows are the stored ones, value for value and interval for interval.
        assert mitigation_disparities(summary, brief) == whole["disparities"]
        # The rest is the same numbers: overall, headline, eligibility, each group's metrics.
        assert {k: v for k, v in brief.items() if k != "by_group"} == {
            k: whole[k] for k in brief if k != "by_group"
        }
        assert [(r["group"], r["metrics"]) for r in brief["by_group"]] == [
            (r["group"], r["metrics"]) for r in whole["by_group"]
        ]
    assert {**summary["mitigation_summary"], "detail": "full"} == full["mitigation_summary"]
    assert summary["policy"]["mitigations"] == full["policy"]["mitigations"]
    assert summary["findings"] == full["findings"]
    policy = load_policy([str(tmp_path / "rules.toml")])
    judged = [evaluate_policy(policy, result).to_dict() for result in (summary, full)]
    assert judged[0] == judged[1]
    verdicts = {
        m["method"]: m["failed_rules"] + m["warned_rules"] for m in judged[0]["mitigations"]
    }
    assert set(verdicts) == {"baseline", "threshold_demographic_parity", "threshold_equalized_odds"}
    assert any(verdicts.values())  # some rule is violated, so the comparison means something


def test_summary_entry_without_the_audits_options_derives_no_rows(
    tmp_path: Path, write_policy: Callable[[str, str], str]
) -> None:
    """Without its options a result cannot say which reference the variant used: no rows."""
    from fairaudit.pipe import run_audit
    from fairaudit.policy import mitigation_disparities
    from fairaudit.spec import AuditSpec

    spec = AuditSpec(
        data=_scored_two_features(tmp_path / "scored.csv", n=600), target="y",
        sensitive=("sex", "age"), prediction_col="pred", score_col="score",
        reference={"age": "old"}, mitigations=("threshold_demographic_parity",), jobs=1,
        intervals=False,
    )  # fmt: skip
    result = run_audit(spec).to_dict()
    variant = result["mitigations"][1]
    derived = mitigation_disparities(result, variant)
    assert {d["reference"]["age"] for d in derived if d["feature"] == "age"} == {"old"}
    assert all("ci_ratio" not in d for d in derived)  # the audit has no intervals
    del result["lineage"]["config"]  # the largest age group is "middle", not the reference
    assert mitigation_disparities(result, variant) == []
    policy = _policy(write_policy, GROUP_RULES)
    (_, judged) = evaluate_policy(policy, result).mitigations
    assert (judged.verdict, judged.failed_rules) == ("warn", ())  # not evaluable, not judged
    # The baseline's rows are the audit's own, score metrics included.
    assert mitigation_disparities(result, result["mitigations"][0]) == result["disparities"]


def test_a_monitor_table_is_left_to_fairaudit_monitor(tmp_path: Path) -> None:
    """One policy file can carry the audit's rules and ``fairaudit monitor``'s ``[monitor]``
    settings: loading it for an audit keeps the rules and ignores the table."""
    path = tmp_path / "p.toml"
    path.write_text(
        '[[rule]]\nmetric = "demographic_parity_ratio"\nmin = 0.8\n[monitor]\nratio = 0.8\n',
        encoding="utf-8",
    )
    policy = load_policy([str(path)])
    assert [r.metric for r in policy.rules] == ["demographic_parity_ratio"]


def test_history_kinds_are_the_ledger_kinds() -> None:
    from fairaudit.cli._history import KINDS
    from fairaudit.provenance._ledger_store import ENTRY_KINDS

    assert KINDS == ENTRY_KINDS


@pytest.mark.parametrize(
    "text",
    ["", '[[rule]]\nscope = "window"\nmetric = "selection_rate_ratio"\nmin = 0.8\n'],
    ids=["empty", "window-only"],
)
def test_a_policy_without_rules_for_the_audit_is_an_error_not_a_pass(
    text: str, tiny_result: dict[str, Any], write_policy: Callable[[str, str], str]
) -> None:
    # review R3: a policy whose only rules are the monitor's window rules (which the loader
    # skips) passed `fairaudit run` with nothing checked (exit 0, verdict pass)
    policy = _policy(write_policy, text)
    with pytest.raises(PolicyError, match="would pass this report without checking anything"):
        evaluate_policy(policy, tiny_result)
