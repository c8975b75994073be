"""Policy rules on data audits: evaluate_data_policy, layering, JUnit and the page."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairaudit.databias import data_report
from fairaudit.policy import (
    DATA_LABEL_METRICS,
    DATA_RULE_METRICS,
    EXIT_OK,
    EXIT_POLICY_FAILED,
    MSG_LOCKED_LOOSENED,
    PolicyError,
    evaluate_data_policy,
    evaluate_policy,
    exit_code_for,
    judge_data_rules,
    load_policy,
    split_rules,
)
from tests.test_databias import _german

HOSTILE = "<img src=x onerror=alert(1)>]]>\x1b[31m\u202e"


@pytest.fixture
def write_policy(tmp_path: Path):
    def write(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


def _row(metric, value, ci=None, *, group="f", reference=None, feature="sex", **extra):
    ref = {feature: "m"} if reference is None else reference
    return {
        "feature": feature,
        "group": {feature: group},
        "reference": ref,
        "metric": metric,
        "value": value,
        "ci": ci,
        **extra,
    }


def _report(rows=None, proxies=None, *, strata="dept", population=None):
    """A synthetic data report with known values."""
    return {
        "kind": "data",
        "audit": {"id": "a" * 64, "name": "synthetic"},
        "data": {"path": "synthetic.csv", "rows": 100, "columns": 4},
        "options": {
            "target": "label",
            "sensitive": ["sex"],
            "strata": strata,
            "population": population or {},
        },
        "data_bias": rows if rows is not None else [],
        "proxies": proxies
        if proxies is not None
        else [
            {
                "sensitive": "sex",
                "threshold": 0.7,
                "features": [
                    {"feature": "zip", "auc": 0.9, "auc_folds": [0.85, 0.95]},
                    {"feature": "noise", "auc": 0.5, "auc_folds": [0.45, 0.56]},
                ],
                "joint": {"auc": 0.92, "auc_folds": [0.9, 0.94]},
            }
        ],
    }


def _policy(write_policy, text: str, name: str = "p.toml"):
    return load_policy([write_policy(name, text)])


def _statuses(section):
    return {r["id"]: [o["status"] for o in r["outcomes"]] for r in section["rules"]}


# --------------------------------------------------------------------------- each rule kind


# Signed label metrics (a difference, not a distance), judged by their size.
SIGNED = ("class_imbalance", "difference_in_label_proportions", "conditional_demographic_disparity")
LABEL_CASES = [
    (metric, value, bound, expected)
    for metric in DATA_LABEL_METRICS
    for value, bound, expected in (
        (0.08, 0.1, "pass"),
        (0.12, 0.1, "fail"),
        (-0.12, 0.1, "fail"),
        (-0.08, 0.1, "pass"),
        (0.1, 0.1, "pass"),
    )
    if value >= 0 or metric in SIGNED
]


@pytest.mark.parametrize(("metric", "value", "bound", "expected"), LABEL_CASES)
def test_label_metrics_pass_and_fail_by_size(write_policy, metric, value, bound, expected):
    report = _report([_row(metric, value, [value - 0.05, value + 0.05])])
    section = evaluate_data_policy(
        report, _policy(write_policy, f'[[rule]]\nmetric = "{metric}"\nmax = {bound}\n')
    )
    (outcome,) = section["rules"][0]["outcomes"]
    assert outcome["status"] == expected
    assert outcome["value"] == value and outcome["observed"] == pytest.approx(abs(value))
    assert outcome["bound"] == {"min": None, "max": bound}
    assert outcome["group"] == {"sex": "f"} and outcome["reference"] == {"sex": "m"}
    assert section["verdict"] == expected


def test_interval_and_beyond_evidence_on_a_signed_row(write_policy):
    # class imbalance -0.4 in [-0.5, -0.3]: its size 0.4 in [0.3, 0.5].
    report = _report([_row("class_imbalance", -0.4, [-0.5, -0.3])])

    def status(evidence, bound):
        text = f'[[rule]]\nmetric = "class_imbalance"\nmax = {bound}\nevidence = "{evidence}"\n'
        section = evaluate_data_policy(report, _policy(write_policy, text))
        return section["rules"][0]["outcomes"][0]

    assert status("point", 0.45)["status"] == "pass"
    strict = status("interval", 0.45)
    assert strict["status"] == "fail" and strict["interval"] == [0.3, 0.5]
    assert status("interval", 0.5)["status"] == "pass"
    assert status("beyond", 0.45)["status"] == "pass"  # not wholly beyond 0.45
    assert status("beyond", 0.25)["status"] == "fail"  # [0.3, 0.5] wholly above 0.25
    # An interval straddling 0: |value| in [0, 0.2].
    straddle = _report([_row("difference_in_label_proportions", 0.05, [-0.1, 0.2])])
    text = (
        '[[rule]]\nmetric = "difference_in_label_proportions"\nmax = 0.15\nevidence = "interval"\n'
    )
    outcome = evaluate_data_policy(straddle, _policy(write_policy, text))["rules"][0]["outcomes"][0]
    assert outcome["interval"] == [0.0, 0.2] and outcome["status"] == "fail"


def test_compare_reference_or_rest(write_policy):
    rows = [
        _row("kl_divergence", 0.02, [0.01, 0.03]),
        _row("kl_divergence", 0.3, [0.2, 0.4], reference="rest"),
    ]
    text = (
        '[[rule]]\nmetric = "kl_divergence"\nmax = 0.1\n'
        '[[rule]]\nmetric = "kl_divergence"\ncompare = "rest"\nmax = 0.1\n'
    )
    section = evaluate_data_policy(_report(rows), _policy(write_policy, text))
    assert _statuses(section) == {"kl_divergence": ["pass"], "kl_divergence:rest": ["fail"]}
    rest = section["rules"][1]["outcomes"][0]
    assert rest["reference"] == "rest" and rest["name"] == "sex: sex=f vs the rest"


def test_proxy_auc_point_interval_and_beyond(write_policy):
    report = _report()

    def outcomes(text):
        section = evaluate_data_policy(report, _policy(write_policy, text))
        return {o["column"]: o["status"] for o in section["rules"][0]["outcomes"]}

    assert outcomes('[[rule]]\nmetric = "proxy_auc"\nmax = 0.7\n') == {
        "zip": "fail",
        "noise": "pass",
    }
    # interval: the whole fold range must be below; noise's [0.45, 0.56] is, up to 0.55 not.
    text = '[[rule]]\nmetric = "proxy_auc"\nmax = 0.55\nevidence = "interval"\n'
    assert outcomes(text) == {"zip": "fail", "noise": "fail"}
    # beyond: fails only when the lowest fold reaches past the bound.
    text = '[[rule]]\nmetric = "proxy_auc"\nmax = 0.9\nevidence = "beyond"\n'
    assert outcomes(text) == {"zip": "pass", "noise": "pass"}
    text = '[[rule]]\nmetric = "proxy_auc"\nmax = 0.8\nevidence = "beyond"\n'
    assert outcomes(text) == {"zip": "fail", "noise": "pass"}
    section = evaluate_data_policy(
        report, _policy(write_policy, '[[rule]]\nmetric = "joint_proxy_auc"\nmax = 0.8\n')
    )
    (joint,) = section["rules"][0]["outcomes"]
    assert joint["status"] == "fail" and joint["observed"] == 0.92
    assert joint["interval"] == [0.9, 0.94] and joint["name"] == "sex: all features together"


def test_a_fold_range_of_zero_width_is_evidence(write_policy):
    proxies = [
        {
            "sensitive": "sex",
            "features": [{"feature": "age", "auc": 1.0, "auc_folds": [1.0, 1.0]}],
            "joint": {"auc": 1.0, "auc_folds": [1.0, 1.0]},
        }
    ]
    text = '[[rule]]\nmetric = "proxy_auc"\nmax = 0.7\nevidence = "interval"\n'
    section = evaluate_data_policy(_report(proxies=proxies), _policy(write_policy, text))
    assert _statuses(section) == {"proxy_auc": ["fail"]}


def test_representation_ratio_and_missing_shares(write_policy):
    rows = [
        _row("representation_ratio", 0.6, [0.5, 0.7], reference=None),
        _row("representation_ratio", 1.3, [1.2, 1.4], group="m", reference=None),
    ]
    rows[0]["reference"] = rows[1]["reference"] = None
    report = _report(rows, population={"sex": {"f": 0.5, "m": 0.5}})
    text = '[[rule]]\nmetric = "representation_ratio"\nmin = 0.8\nmax = 1.25\n'
    section = evaluate_data_policy(report, _policy(write_policy, text))
    assert _statuses(section) == {"representation_ratio": ["fail", "fail"]}
    assert section["rules"][0]["outcomes"][0]["name"] == "sex: sex=f vs the population"
    # No column with a missing value: every group's difference is 0, which meets the bound.
    text = '[[rule]]\nmetric = "missing_share_difference"\nmax = 0.05\n'
    section = evaluate_data_policy(report, _policy(write_policy, text))
    (outcome,) = section["rules"][0]["outcomes"]
    assert outcome["status"] == "pass" and "no column" in outcome["reason"]
    missing = _row("missing_share_difference", -0.2, [-0.3, -0.1], reference="rest")
    section = evaluate_data_policy(
        _report([{**missing, "column": HOSTILE}]), _policy(write_policy, text)
    )
    (outcome,) = section["rules"][0]["outcomes"]
    assert outcome["status"] == "fail" and outcome["column"] == HOSTILE


@pytest.mark.parametrize(
    ("text", "report", "reason"),
    [
        (
            'metric = "ks_distance"\nfeature = "race"\nmax = 0.1',
            _report(),
            "no sensitive feature 'race'",
        ),
        (
            'metric = "conditional_demographic_disparity"\nmax = 0.1',
            _report([_row("difference_in_label_proportions", 0.1)], strata=None),
            "no --strata",
        ),
        (
            'metric = "difference_in_label_proportions"\nmax = 0.1',
            _report([_row("kl_divergence", 0.1)]),
            "no favourable label",
        ),
        ('metric = "representation_ratio"\nmin = 0.8', _report(), "no --population"),
        (
            'metric = "js_divergence"\nmax = 0.1',
            _report([_row("js_divergence", None)]),
            "undefined",
        ),
        (
            'metric = "js_divergence"\nmax = 0.1',
            _report([_row("js_divergence", float("nan"))]),
            "undefined",
        ),
        ('metric = "class_imbalance"\nmax = 0.5', _report([]), "fewer than two groups to compare"),
        (
            'metric = "lp_norm"\nmax = 0.1\nevidence = "beyond"',
            _report([_row("lp_norm", 0.0, [0.0, 0.0])]),
            "evidence = 'beyond', but the interval [0, 0] has zero width",
        ),
        (
            'metric = "js_divergence"\nmax = 0.1\nevidence = "interval"',
            _report([_row("js_divergence", 0.01, None)]),
            "no interval",
        ),
        (
            'metric = "js_divergence"\nmax = 0.1\nevidence = "interval"',
            _report([_row("js_divergence", 0.0, [0.0, 0.0])]),
            "zero width",
        ),
        (
            'metric = "proxy_auc"\nmax = 0.7',
            _report(proxies=[{"sensitive": "sex", "features": [], "joint": None}]),
            "fewer than two groups",
        ),
        (
            'metric = "joint_proxy_auc"\nfeature = "intersection"\nmax = 0.7',
            _report(),
            "intersection",
        ),
        (
            'metric = "proxy_auc"\nmax = 0.7\nevidence = "interval"',
            _report(proxies=[{"sensitive": "sex", "features": [{"feature": "z", "auc": 0.6}]}]),
            "no fold range",
        ),
    ],
    ids=[
        "no-feature",
        "no-strata",
        "no-favourable",
        "no-population",
        "undefined",
        "nan",
        "one-group",
        "degenerate-beyond",
        "no-interval",
        "degenerate-ci",
        "no-proxies",
        "proxy-intersection",
        "no-folds",
    ],  # fmt: skip
)
def test_not_evaluable_never_passes(write_policy, text, report, reason):
    policy = _policy(write_policy, f"[[rule]]\n{text}\n")
    section = evaluate_data_policy(report, policy)
    outcomes = section["rules"][0]["outcomes"]
    assert [o["status"] for o in outcomes] == ["not evaluable"]
    assert reason in outcomes[0]["reason"]
    assert section["verdict"] == "warn" and exit_code_for(section["verdict"]) == EXIT_OK
    assert exit_code_for(section["verdict"], "warn") == EXIT_POLICY_FAILED
    strict = evaluate_data_policy(report, policy, not_evaluable="fail")
    assert strict["verdict"] == "fail" and strict["not_evaluable"] == "fail"
    layered = load_policy([policy.layers[0].source, _strict_layer(write_policy)])
    assert evaluate_data_policy(report, layered)["verdict"] == "fail"


def _strict_layer(write_policy):
    return write_policy("strict.toml", 'not_evaluable = "fail"\n')


def test_severity_warn_and_the_verdict(write_policy):
    text = '[[rule]]\nmetric = "proxy_auc"\nmax = 0.7\nseverity = "warn"\n'
    section = evaluate_data_policy(_report(), _policy(write_policy, text))
    assert section["verdict"] == "warn" and section["rules"][0]["status"] == "warn"
    assert exit_code_for(section["verdict"]) == EXIT_OK


# --------------------------------------------------------------------------- the German sample


@pytest.fixture(scope="module")
def german_report():
    frame = _german()
    report = data_report(
        frame,
        target="risk",
        sensitive=["sex", "age_band"],
        source={"path": "german_train.csv", "format": "csv", "sha256": "0" * 64},
        strata="purpose",
        population={"sex": {"male": 0.5, "female": 0.5}},
        n_resamples=200,
    )
    return frame, report


def test_on_the_german_sample(write_policy, german_report):
    frame, report = german_report
    text = """
[[rule]]
metric = "class_imbalance"
feature = "sex"
max = 0.35
[[rule]]
metric = "proxy_auc"
feature = "age_band"
max = 0.7
[[rule]]
metric = "representation_ratio"
min = 0.8
[[rule]]
metric = "conditional_demographic_disparity"
max = 0.5
[[rule]]
metric = "equalized_odds_difference"
max = 0.1
"""
    section = evaluate_data_policy(report, _policy(write_policy, text))
    rules = {r["id"]: r for r in section["rules"]}
    # class imbalance of women against men from its formula, (n_m - n_f) / (n_m + n_f).
    n_f, n_m = (frame["sex"] == "female").sum(), (frame["sex"] == "male").sum()
    (imbalance,) = rules["class_imbalance:sex"]["outcomes"]
    assert imbalance["observed"] == pytest.approx((n_m - n_f) / (n_m + n_f))
    assert imbalance["status"] == ("fail" if (n_m - n_f) / (n_m + n_f) > 0.35 else "pass")
    # age_band is cut from age: age predicts it perfectly, and is the top proxy.
    proxies = {o["column"]: o for o in rules["proxy_auc:age_band"]["outcomes"]}
    assert proxies["age"]["observed"] == pytest.approx(1.0) and proxies["age"]["status"] == "fail"
    assert len(proxies) == len(report["proxies"][1]["features"])
    # Representation of women: share / 0.5 is below 0.8; only sex has population shares.
    ratio = {
        (o["feature"], json.dumps(o["group"])): o for o in rules["representation_ratio"]["outcomes"]
    }
    female, male = ratio["sex", '{"sex": "female"}'], ratio["sex", '{"sex": "male"}']
    assert female["observed"] == pytest.approx(n_f / len(frame) / 0.5)
    assert (female["status"], male["status"]) == ("fail", "pass")
    assert ratio["age_band", "null"]["status"] == "not evaluable"
    # CDD: every grouping, the intersection too, each against its reference.
    features = {o["feature"] for o in rules["conditional_demographic_disparity"]["outcomes"]}
    assert features == {"sex", "age_band", "intersection"}
    assert [r["id"] for r in section["not_applicable"]] == ["equalized_odds_difference"]
    assert section["verdict"] == "fail"
    assert json.loads(json.dumps(section)) == section


# --------------------------------------------------------------------------- loading and layers


def test_locked_data_rules_may_only_tighten(write_policy):
    org = write_policy(
        "org.toml",
        '[[rule]]\nid = "proxies"\nmetric = "proxy_auc"\nmax = 0.8\nevidence = "point"\n'
        "locked = true\n",
    )
    tighter = write_policy("t.toml", '[[rule]]\nid = "proxies"\nmax = 0.7\nevidence = "interval"\n')
    policy = load_policy([org, tighter])
    (rule,) = policy.rules
    assert (rule.max, rule.evidence, rule.locked_by) == (0.7, "interval", org)
    looser = write_policy("l.toml", '[[rule]]\nid = "proxies"\nmax = 0.9\n')
    with pytest.raises(PolicyError) as raised:
        load_policy([org, looser])
    assert str(raised.value) == MSG_LOCKED_LOOSENED.format(
        source=looser, rule="'proxies'", key="max", old="0.8", new="0.9", locked_by=org
    )
    lenient = write_policy("b.toml", '[[rule]]\nid = "proxies"\nevidence = "beyond"\n')
    with pytest.raises(PolicyError, match="key 'evidence' loosens 'point' to 'beyond'"):
        load_policy([org, lenient])
    other = write_policy("o.toml", '[[rule]]\nid = "proxies"\nmetric = "joint_proxy_auc"\n')
    with pytest.raises(PolicyError, match="key 'metric' changes"):
        load_policy([org, other])
    removed = write_policy("r.toml", '[[rule]]\nid = "proxies"\nremove = true\n')
    with pytest.raises(PolicyError, match="removes a rule"):
        load_policy([org, removed])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('metric = "proxy_auc"\nmax = 0.7\ncompare = "rest"', "compare with: proxy; not 'rest'"),
        (
            'metric = "class_imbalance"\nmax = 0.7\ncompare = "between_groups"',
            "compare with: reference, rest; not 'between_groups'",
        ),
        ('metric = "ks_distance"\nmax = 0.1\nmin_group_size = 30', "'min_group_size' is for model"),
        ('metric = "selection_rate_ratio"\nmin = 0.8\nevidence = "beyond"', "'beyond' is for data"),
        ('metric = "selection_rate_ratio"\nmin = 0.8\ncompare = "rest"', "'reference' or"),
        ('metric = "proxy_aucc"\nmax = 0.7', "for a data audit: class_imbalance"),
        ('metric = "proxy_auc"\nmax = 0.7\nevidence = "likely"', "'point', 'interval' or 'beyond'"),
    ],
)
def test_validation_names_file_rule_and_key(write_policy, text, message):
    path = write_policy("bad.toml", f"[[rule]]\n{text}\n")
    with pytest.raises(PolicyError) as raised:
        load_policy([path])
    assert message in str(raised.value) and path in str(raised.value)


def test_derived_ids_and_metric_names(write_policy):
    text = (
        '[[rule]]\nmetric = "class_imbalance"\ncompare = "rest"\nfeature = "sex"\nmax = 0.5\n'
        '[[rule]]\nmetric = "missing_share_difference"\nmax = 0.1\n'
    )
    ids = [r.id for r in _policy(write_policy, text).rules]
    assert ids == ["class_imbalance:rest:sex", "missing_share_difference"]
    assert {"proxy_auc", "joint_proxy_auc", "representation_ratio"} <= DATA_RULE_METRICS


def _model_result():
    rows = [
        {"feature": "sex", "group": {"sex": g}, "count": 50, "metrics": {"selection_rate": r}}
        for g, r in (("f", 0.45), ("m", 0.5))
    ]
    return {
        "audit": {"groupings": ["sex"], "min_group_size": 0},
        "metrics": {"by_group": rows},
    }


def test_one_policy_file_for_both_kinds(write_policy):
    both = _policy(
        write_policy,
        '[[rule]]\nmetric = "selection_rate_ratio"\ncompare = "between_groups"\nmin = 0.8\n'
        '[[rule]]\nmetric = "proxy_auc"\nmax = 0.7\n',
    )
    model = evaluate_policy(both, _model_result())
    assert [r.rule.id for r in model.rules] == ["selection_rate_ratio:between_groups"]
    assert [r.id for r in model.not_applicable] == ["proxy_auc"] and model.verdict == "pass"
    data = judge_data_rules(both, _report())
    assert [r.rule.id for r in data.rules] == ["proxy_auc"]
    assert [r.id for r in data.not_applicable] == ["selection_rate_ratio:between_groups"]
    # A policy that could check nothing on the report is an error, not a pass.
    data_only = _policy(write_policy, '[[rule]]\nmetric = "proxy_auc"\nmax = 0.7\n', "d.toml")
    with pytest.raises(PolicyError, match="no rule for a model audit"):
        evaluate_policy(data_only, _model_result())
    with pytest.raises(PolicyError, match="no rule for a data audit"):
        evaluate_data_policy(_report(), load_policy(["preset:four-fifths"]))
    # The same check before any work, as a command does right after loading the policy.
    with pytest.raises(PolicyError, match="preset:four-fifths has no rule for a data audit"):
        split_rules(load_policy(["preset:four-fifths"]), "data")
    applies, others = split_rules(both, "data")
    assert [r.id for r in applies] == ["proxy_auc"] and len(others) == 1


# --------------------------------------------------------------------------- JUnit


def test_junit_parses_counts_and_escapes_a_hostile_group(write_policy):
    from fairaudit.outputs import data_junit_xml, write_data_junit

    rows = [
        _row("class_imbalance", 0.6, [0.5, 0.7], group=HOSTILE),
        _row("class_imbalance", 0.1, [0.0, 0.2], group="ok"),
        _row("kl_divergence", None, None, group=HOSTILE),
    ]
    report = _report(rows)
    text = (
        '[[rule]]\nmetric = "class_imbalance"\nmax = 0.5\n'
        '[[rule]]\nmetric = "kl_divergence"\nmax = 0.5\n'
        '[[rule]]\nmetric = "demographic_parity_ratio"\nmin = 0.8\n'
    )
    report["policy"] = evaluate_data_policy(report, _policy(write_policy, text))
    xml = data_junit_xml(report)
    assert isinstance(xml, str)
    root = ET.fromstring(xml.encode("utf-8"))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "2")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["verdict"] == "fail" and properties["report"] == "data"
    names = [case.get("name") or "" for case in suite.iter("testcase")]
    assert all("\x1b" not in n and "\u202e" not in n for n in names)
    assert any("<img src=x onerror=alert(1)>" in n for n in names)  # parsed back: escaped
    assert "<img src" not in xml and "&lt;img" in xml
    failed = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failed[0].get("classname") == "fairaudit.policy.class_imbalance"
    skipped = [c.get("classname") for c in suite.iter("testcase") if c.find("skipped") is not None]
    assert skipped == [
        "fairaudit.policy.kl_divergence",
        "fairaudit.policy.demographic_parity_ratio",
    ]
    strict = ET.fromstring(data_junit_xml(report, fail_on="warn").encode()).find("testsuite")
    assert strict is not None and strict.get("failures") == "1"
    out = Path(write_policy("x", "")).with_name("data-junit.xml")
    write_data_junit(report, out)
    assert out.read_text(encoding="utf-8") == xml
    with pytest.raises(ValueError, match="no policy section"):
        data_junit_xml(_report())
    with pytest.raises(ValueError, match="fail_on"):
        data_junit_xml(report, fail_on="never")


def test_numbers_match_an_independent_injected_proxy(write_policy):
    """A feature that is the attribute with 10 % noise fails proxy_auc; noise passes."""
    rng = np.random.default_rng(3)
    n = 2000
    sex = rng.choice(["f", "m"], n)
    frame = pd.DataFrame(
        {
            "label": rng.integers(0, 2, n),
            "sex": sex,
            "proxy": np.where(rng.random(n) < 0.9, sex, np.where(sex == "f", "m", "f")),
            "noise": rng.normal(size=n),
        }
    )
    source = {"path": "s.csv", "format": "csv", "sha256": "0" * 64}
    report = data_report(frame, target="label", sensitive=["sex"], source=source, n_resamples=50)
    text = '[[rule]]\nmetric = "proxy_auc"\nmax = 0.7\nevidence = "beyond"\n'
    section = evaluate_data_policy(report, _policy(write_policy, text))
    outcomes = {o["column"]: o for o in section["rules"][0]["outcomes"]}
    assert outcomes["proxy"]["status"] == "fail" and outcomes["proxy"]["observed"] > 0.85
    assert outcomes["noise"]["status"] == "pass"


# --------------------------------------------------------------------------- page and schema


def test_the_page_shows_the_verdict_first_and_the_schema_holds_the_policy(
    write_policy, german_report
):
    import re

    import jsonschema

    from fairaudit.outputs._data_report import identified, load_data_schema, render_data_html
    from fairaudit.provenance import extract_results

    _, report = german_report
    report = identified(json.loads(json.dumps(report)))
    rows = [*report["data_bias"], _row("class_imbalance", 0.9, [0.85, 0.95], group=HOSTILE)]
    report["data_bias"] = rows
    text = (
        '[[rule]]\nmetric = "class_imbalance"\nfeature = "sex"\nmax = 0.5\n'
        'description = "<b>no</b>"\n'
        '[[rule]]\nmetric = "proxy_auc"\nmax = 0.7\nseverity = "warn"\n'
        '[[rule]]\nmetric = "selection_rate_ratio"\nmin = 0.8\n'
    )
    report["policy"] = evaluate_data_policy(report, _policy(write_policy, text))
    validator = jsonschema.Draft202012Validator(load_data_schema())
    validator.validate(report)
    assert report["schema_version"] == "1.1.0"
    broken = json.loads(json.dumps(report))
    broken["policy"]["rules"][0]["outcomes"][0]["status"] = "ok"
    assert not validator.is_valid(broken)
    html = render_data_html(report)
    summary = html[html.index('id="summary"') : html.index('id="disparities"')]
    assert "FAIL</span> The data fails the policy" in summary
    assert "<code>class_imbalance:sex</code>" in summary
    assert "<code>selection_rate_ratio</code>" in summary  # not applicable, said so
    assert HOSTILE not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>no</b>" not in html
    scripts = re.findall(r"<script\b[^>]*>", html, flags=re.IGNORECASE)
    assert scripts == ['<script type="application/json" id="fairaudit-data">']
    assert extract_results(html.encode()) == report
    assert 'href="#policy"' in html and 'id="policy"' in html
    del report["policy"]
    plain = render_data_html(report)
    assert 'id="verdict"' not in plain and 'id="policy"' not in plain
