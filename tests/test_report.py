"""The sample audit end to end: report.html + report.json, schema, offline, reproducible."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from click.testing import CliRunner
from fairlearn.metrics import MetricFrame
from markupsafe import escape

from fairaudit.cli import cli
from fairaudit.measure import MSG_TOO_MANY_GROUPS, WORSE_OFF_METRICS
from fairaudit.outputs import render_html
from fairaudit.pipe import run_audit
from fairaudit.policy import evaluate_policy, load_policy
from fairaudit.result import SCHEMA_VERSION, AuditResult, load_schema
from fairaudit.spec import AuditSpec
from fairaudit.vocabulary import HTML_MAX_GROUPS, MAX_GROUPS
from tests.conftest import AuditRun, SampleAudit
from tests.test_metrics import fairlearn_metrics

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
EMBEDDED = re.compile(
    r'<script type="application/json" id="fairaudit-data">(.*?)</script>', re.DOTALL
)


def run_sample(out: Path, *extra: str, mitigate: bool = False) -> tuple[str, dict]:
    """Run the sample audit; without ``mitigate`` skip the (slow) mitigation comparison."""
    flags = [] if mitigate else ["--no-mitigation"]
    result = CliRunner().invoke(
        cli, ["run", "--config", str(SAMPLE / "audit.toml"), "-o", str(out), *flags, *extra]
    )
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8"), json.loads(out.with_suffix(".json").read_text())


@pytest.fixture(scope="module")
def sample(sample_audit: SampleAudit) -> tuple[str, dict]:
    """The session's sample audit (conftest), with its mitigation comparison."""
    return sample_audit.html(), sample_audit.json()


def test_sample_json_is_valid_against_the_schema(sample: tuple[str, dict]) -> None:
    _, data = sample
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(data)
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["lineage"]["data"]["rows"] == 400
    assert data["lineage"]["model"]["format"] == "skops"
    assert re.fullmatch(r"[0-9a-f]{64}", data["lineage"]["model"]["sha256"])


def test_sample_summary_names_who_is_worse_off(sample: tuple[str, dict]) -> None:
    """The banner and the worst-off table show the JSON's summary, and nothing else."""
    html, data = sample
    worse_off = data["summary"]["worse_off"]
    assert data["summary"]["ratio_band"] == [0.8, 1.25]
    assert [(w["feature"], w["metric"]) for w in worse_off] == [
        (g, m) for g in data["audit"]["groupings"] for m in WORSE_OFF_METRICS
    ]
    flagged = [w for w in worse_off if w["below_band"]]
    assert flagged and all(w["ratio"] < 0.8 for w in flagged)
    for w in worse_off:
        # Against the best-off group (issue 14 §2; formerly against the reference group).
        assert w["ratio"] == pytest.approx(w["value"] / w["best_value"], abs=1e-15)
        assert w["difference"] == pytest.approx(w["value"] - w["best_value"], abs=1e-15)
        low, high = w["ci_ratio"]
        assert low <= w["ratio"] <= high
    # The selection-rate entries agree with the four-fifths preset: same groups, same numbers.
    four_fifths = evaluate_policy(load_policy(["preset:four-fifths"]), data).to_dict()
    outcomes = {o["feature"]: o for o in four_fifths["rules"][0]["outcomes"]}
    for w in (w for w in worse_off if w["metric"] == "selection_rate"):
        outcome = outcomes[w["feature"]]
        assert outcome["groups"] == [w["group"], w["best_group"]]
        assert outcome["observed"] == pytest.approx(w["ratio"], abs=1e-12)
        assert (outcome["status"] == "fail") is w["below_band"]
    banner = EMBEDDED.sub("", html).split('id="verdict"')[1].split("</dl>")[0]
    assert banner.count("<li>") == len({(w["feature"], str(w["group"])) for w in flagged})
    result = AuditResult.from_dict(data)
    result.summary = dict(data["summary"], worse_off=[])
    shown = EMBEDDED.sub("", render_html(result))
    assert "Who is worse off" not in shown and 'id="worst-off"' not in shown


def test_sample_numbers_equal_fairlearn(sample: tuple[str, dict]) -> None:
    """Every number of every by_group row of report.json equals MetricFrame's."""
    _, data = sample
    frame = pd.read_csv(SAMPLE / "german_eval.csv")
    path = SAMPLE / "german_credit_model.skops"
    model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    y = frame["risk"].to_numpy()
    p = model.predict(frame[list(model.feature_names_in_)])
    score = model.predict_proba(frame[list(model.feature_names_in_)])[:, 1]
    sensitive = pd.DataFrame(
        {
            "sex": frame["sex"],
            "age": pd.cut(
                frame["age"],
                [-np.inf, 25, 40, np.inf],
                right=False,
                labels=["< 25", "[25, 40)", ">= 40"],
            ).astype(str),
        }
    )
    compared = 0
    for grouping, columns in (("sex", ["sex"]), ("age", ["age"]), ("intersection", ["sex", "age"])):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mf = MetricFrame(
                metrics=fairlearn_metrics(False),
                y_true=y,
                y_pred=p,
                sensitive_features=sensitive[columns],
            )
            score_metrics = {
                k: v for k, v in fairlearn_metrics(True).items() if k in ("roc_auc", "brier_score")
            }
            mf_scores = MetricFrame(
                metrics=score_metrics,
                y_true=y,
                y_pred=score,
                sensitive_features=sensitive[columns],
            )
        rows = [r for r in data["metrics"]["by_group"] if r["feature"] == grouping]
        assert len(rows) == (mf.by_group["count"] > 0).sum()
        for row in rows:
            key = tuple(row["group"][c] for c in columns)
            expected = mf.by_group.loc[key if len(key) > 1 else key[0]]
            assert row["count"] == expected["count"]
            for metric, ours in row["metrics"].items():
                if metric in ("roc_auc", "brier_score"):
                    theirs = mf_scores.by_group.loc[key if len(key) > 1 else key[0]][metric]
                else:
                    theirs = expected[metric]
                if ours is None:
                    # Only rates with a zero denominator may be null.
                    confusion = row["confusion"]
                    assert (confusion["tp"] + confusion["fn"]) * (
                        confusion["tn"] + confusion["fp"]
                    ) == 0, (grouping, key, metric)
                else:
                    assert abs(ours - float(theirs)) <= 1e-12, (grouping, key, metric)
                    compared += 1
    assert compared == (2 + 3 + 6) * 15  # every group, every metric (none undefined)


def test_by_group_rows_and_small_groups(sample: tuple[str, dict]) -> None:
    html, data = sample
    rows = data["metrics"]["by_group"]
    assert [r["feature"] for r in rows].count("sex") == 2
    assert [r["feature"] for r in rows].count("age") == 3
    inter = [r for r in rows if r["feature"] == "intersection"]
    assert len(inter) == 6 and all(set(r["group"]) == {"sex", "age"} for r in inter)
    # (Single-class groups and their null rates are tested in test_data.py.)
    assert not any(r["single_class"] for r in rows)
    small = [r for r in rows if r["insufficient_data"]]
    assert {r["count"] for r in small} and all(r["count"] < 30 for r in small)
    assert "insufficient data" in html


def test_embedded_json_equals_the_json_twin(sample: tuple[str, dict]) -> None:
    html, data = sample
    (embedded,) = EMBEDDED.findall(html)
    assert json.loads(embedded) == data
    assert "<" not in embedded and ">" not in embedded and "&" not in embedded


def test_report_is_self_contained(sample: tuple[str, dict]) -> None:
    html, _ = sample
    assert (
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">" in html
    )
    # No external resource of any kind: every src is a data: URI, every href an anchor.
    for attribute, value in re.findall(r'\b(src|href)="([^"]*)"', html):
        if attribute == "src":
            assert value.startswith("data:image/svg+xml;base64,")
        else:
            assert value.startswith("#"), value
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert re.search(r"<script(?! type=\"application/json\")", html) is None
    # Every chart has a text alternative.
    for img in re.findall(r"<img [^>]*>", html):
        assert re.search(r'alt="[^"]{20,}"', img)


def test_sections_in_order(sample: tuple[str, dict]) -> None:
    html, _ = sample
    ids = ["summary", "metrics", "mitigations", "lineage", "checks", "definitions"]
    positions = [html.index(f'<section id="{i}"') for i in ids]
    assert positions == sorted(positions)


def test_two_runs_are_byte_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764000000")
    # Separate folders: each has its own ledger, so neither run supersedes the other.
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, _ = run_sample(tmp_path / "a" / "report.html")
    second, _ = run_sample(tmp_path / "b" / "report.html")
    assert first == second
    a_json = (tmp_path / "a" / "report.json").read_bytes()
    assert a_json == (tmp_path / "b" / "report.json").read_bytes()
    assert json.loads(a_json)["audit"]["created_at"] == "2025-11-24T16:00:00Z"


def test_a_rerun_supersedes_the_previous_audit(tmp_path: Path) -> None:
    _, first = run_sample(tmp_path / "report.html")
    assert first["audit"]["supersedes"] is None
    _, second = run_sample(tmp_path / "report.html", "--model-version", "1.0.1")
    assert second["audit"]["supersedes"] == first["audit"]["id"]
    assert (tmp_path / "fairaudit-ledger.sqlite").exists()
    history = CliRunner().invoke(
        cli,
        ["history", "german-credit-logreg", "--ledger", str(tmp_path / "fairaudit-ledger.sqlite")],
    )
    assert history.exit_code == 0, history.output
    assert "1.0.0" in history.output and "1.0.1" in history.output
    verify = CliRunner().invoke(
        cli, ["ledger", "verify", str(tmp_path / "fairaudit-ledger.sqlite")]
    )
    assert verify.exit_code == 0, verify.output
    assert "2 entries" in verify.output


def test_no_ledger_writes_no_ledger(tmp_path: Path) -> None:
    run_sample(tmp_path / "report.html", "--no-ledger")
    assert not (tmp_path / "fairaudit-ledger.sqlite").exists()


def test_signed_runs_are_byte_identical_and_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764000000")
    runner = CliRunner()
    assert runner.invoke(cli, ["keygen", "-o", str(tmp_path / "keys")]).exit_code == 0
    key = str(tmp_path / "keys" / "fairaudit.key")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, _ = run_sample(tmp_path / "a" / "report.html", "--sign-key", key)
    second, _ = run_sample(tmp_path / "b" / "report.html", "--sign-key", key)
    assert first == second
    assert (tmp_path / "a" / "report.html.intoto.jsonl").exists()
    result = runner.invoke(
        cli,
        [
            "verify",
            str(tmp_path / "a" / "report.html"),
            "--key",
            str(tmp_path / "keys" / "fairaudit.pub"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "german-credit-logreg 1.0.0" in result.output


def test_unsigned_run_removes_a_stale_detached_signature(tmp_path: Path) -> None:
    stale = tmp_path / "report.html.intoto.jsonl"
    stale.write_text("{}\n")
    run_sample(tmp_path / "report.html")
    assert not stale.exists()


def test_output_folder_names_the_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["run", "--config", str(SAMPLE / "audit.toml"), "-o", str(tmp_path), "--no-mitigation"]
    )
    assert result.exit_code == 0, result.output
    (html,) = tmp_path.glob("*.html")
    assert re.fullmatch(r"german-credit-logreg-1\.0\.0-[0-9a-f]{12}\.html", html.name)
    assert html.with_suffix(".json").exists()


def test_sample_mitigation_comparison(sample: tuple[str, dict]) -> None:
    """The README's first command shows a mitigation comparison with honest protocols."""
    html, data = sample
    entries = {e["method"]: e for e in data["mitigations"]}
    assert list(entries)[0] == "baseline"
    assert set(entries) == {
        "baseline",
        "threshold_demographic_parity",
        "threshold_equalized_odds",
        "threshold_true_positive_rate_parity",
        "expgrad_demographic_parity",
        "expgrad_equalized_odds",
        "correlation_remover",
    }
    assert all(e["status"] == "ok" for e in entries.values()), [
        (e["method"], e["reason"]) for e in entries.values()
    ]
    # The baseline entry is the audited model, number for number.
    assert entries["baseline"]["metrics"]["overall"] == data["metrics"]["overall"]

    def dp(method: str) -> float:
        return next(
            h["value"]
            for h in entries[method]["headline"]
            if h["feature"] == "intersection" and h["metric"] == "demographic_parity_difference"
        )

    # Demographic-parity thresholds, scored on held-out folds, lower the disparity.
    assert dp("threshold_demographic_parity") < dp("baseline")
    assert "held-out fold" in entries["threshold_demographic_parity"]["protocol"]
    summary = data["mitigation_summary"]
    assert summary["grouping"] == "intersection"
    assert "intersection of sex, age" in summary["protocol"]
    # Every variant costs more than 2 points of balanced accuracy here (issue 14 §5), and the
    # report says so under the table.
    assert summary["best"] is None
    assert all(e["eligible"] is False for e in data["mitigations"][1:])
    assert "Not eligible: its balanced accuracy falls from" in html
    assert '<section id="mitigations"' in html
    assert "sensitive attribute at decision time" in html


def test_mitigation_results_do_not_depend_on_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764000000")  # so the timings (seconds) are null
    methods = "threshold_demographic_parity,expgrad_equalized_odds"
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    _, one = run_sample(
        tmp_path / "one" / "r.html",
        "--mitigations",
        methods,
        "--jobs",
        "1",
        "--no-ledger",
        mitigate=True,
    )
    _, two = run_sample(
        tmp_path / "two" / "r.html",
        "--mitigations",
        methods,
        "--jobs",
        "2",
        "--no-ledger",
        mitigate=True,
    )
    assert [e["method"] for e in one["mitigations"]] == ["baseline", *methods.split(",")]
    for key in ("mitigations", "mitigation_summary", "metrics", "disparities"):
        assert one[key] == two[key]


# --- display escaping and size limits (issue 12 §6) ---------------------------------------

RLO, LRI = "\u202e", "\u2066"


def _audit(folder: Path, rows: list[tuple[int, int, str]], **options: object) -> AuditResult:
    """Return the audit of rows (y, pred, group) of precomputed predictions, without intervals."""
    data = folder / "rows.csv"
    pd.DataFrame(rows, columns=["y", "pred", "group"]).to_csv(data, index=False)
    spec = AuditSpec(
        data=data,
        target="y",
        prediction_col="pred",
        sensitive=("group",),
        intervals=False,
        **options,  # type: ignore[arg-type]
    )
    return run_audit(spec)


def _shown(html: str) -> str:
    """Return the HTML without its embedded JSON (data, not display)."""
    return EMBEDDED.sub("", html)


def test_html_shows_control_and_bidi_characters_visibly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    hostile = f"fe{RLO}elam"
    rows = [(i % 2, (i // 2) % 2, hostile if i < 40 else "male") for i in range(100)]
    result = _audit(tmp_path, rows, name=f"model\x1b[2J{LRI}x", owner=f"risk{RLO} team")
    html = render_html(result)
    shown = _shown(html)
    assert not set(shown) & {"\x1b", RLO, LRI}
    assert "group: fe&lt;U+202E&gt;elam" in shown
    assert "model\\x1b[2J&lt;U+2066&gt;x" in shown
    assert "risk&lt;U+202E&gt; team" in shown
    embedded = json.loads(EMBEDDED.search(html).group(1))  # type: ignore[union-attr]
    assert embedded == result.to_dict()
    assert embedded["audit"]["owner"] == f"risk{RLO} team"  # the data stays as it is


def test_run_summary_and_errors_print_no_control_character(
    audit_cli: Callable[..., AuditRun], write_csv: Callable[..., Path]
) -> None:
    column = f"se{RLO}x\x1b[31m"
    data = write_csv(
        "hostile.csv", ["y", "pred", column], [(i % 2, i % 3 % 2, "ab"[i % 2]) for i in range(12)]
    )
    run = audit_cli(data, "--target", "y", "--prediction-col", "pred", sensitive=(column,))
    run.assert_ok()
    assert not set(run.result.output) & {"\x1b", RLO}
    assert "  se<U+202E>x\\x1b[31m: demographic_parity_ratio = " in run.result.stdout
    failed = audit_cli(
        "--target", "y", "--prediction-col", "pred", config='data = "gone\\u202e\\u001b[2J.csv"'
    )
    assert failed.result.exit_code == 1
    assert failed.stderr.endswith("gone<U+202E>\\x1b[2J.csv' not found\n"), failed.stderr
    assert not set(failed.stderr) & {"\x1b", RLO}


def test_html_shows_the_worst_groups_of_a_large_grouping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """250 groups of 4 rows selecting 0, 1, 2, 3 or 4 of them: the 50 selecting all are left out."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    rows = [(i % 2, int(i < k % 5), f"g{k:03d}") for k in range(250) for i in range(4)]
    result = _audit(tmp_path, rows, min_group_size=1)
    assert HTML_MAX_GROUPS == 200 < 250
    html = render_html(result)
    shown = _shown(html)
    body = shown.split('<section id="metrics"')[1].split("</section>")[0]
    # The short table lists the 20 worst; every metric of the 200 shown is folded below it.
    _, short, full = body.split('<table class="wide">')  # overall, then the grouping's
    assert short.count('<tr><th scope="row">group: g') == 20
    assert full.count('<tr><th scope="row">group: g') == 200
    assert "50 more groups in the JSON" in body
    # Every disparity row of the 199 shown groups that are not the reference, every metric.
    disparities = body.split('<table class="disp">')[1]
    assert len(re.findall(r'<th scope="rowgroup"[^>]*>group: g', disparities)) == 199
    rows = re.findall(r'<tr(?: class="q")?><th>', disparities)
    assert len(rows) == 199 * len({d["metric"] for d in result.to_dict()["disparities"]})
    assert ">group: g003<" in shown and ">group: g005<" in shown
    assert "g004" not in shown and "g249" not in shown  # selection rate 1: the best off
    assert len(result.to_dict()["metrics"]["by_group"]) == 250
    assert json.loads(EMBEDDED.search(html).group(1)) == result.to_dict()  # type: ignore[union-attr]


def test_too_many_groups_are_refused_before_the_work(
    audit_cli: Callable[..., AuditRun], write_csv: Callable[..., Path]
) -> None:
    assert MAX_GROUPS == 5000
    cells = [(a, b) for a in "xyz" for b in "pqr"]
    data = write_csv(
        "cells.csv", ["y", "pred", "a", "b"], [(i % 2, i % 3 % 2, *cells[i % 9]) for i in range(36)]
    )
    flags = (data, "--target", "y", "--prediction-col", "pred")
    refused = audit_cli(*flags, "--max-groups", "8", sensitive=("a", "b"))
    refused.assert_error(
        MSG_TOO_MANY_GROUPS.format(grouping="the intersection of a × b", groups=9, limit=8)
    )
    assert refused.stderr == (
        "Error: the intersection of a × b has 9 groups, more than the limit of 8; use coarser "
        "--bins, fewer --sensitive features, or --max-groups 9 to allow them\n"
    )
    single = audit_cli(*flags, sensitive=("a",), config="max_groups = 2")
    single.assert_error(
        MSG_TOO_MANY_GROUPS.format(grouping="sensitive feature a", groups=3, limit=2)
    )
    allowed = audit_cli(*flags, "--max-groups", "9", sensitive=("a", "b"))
    allowed.assert_ok()
    assert "max_groups" not in allowed.json()["lineage"]["config"]  # changes no number


def test_banner_console_card_and_junit_name_the_same_worse_off_groups(tmp_path: Path) -> None:
    """Issue 13 §6: who is worse off is computed once (summary.worse_off); every output
    reads it from the result."""
    import xml.etree.ElementTree as ET

    from fairaudit.display import worse_off_entries, worse_off_text
    from fairaudit.outputs import export_card

    out, junit = tmp_path / "report.html", tmp_path / "junit.xml"
    result = CliRunner().invoke(
        cli,
        [
            "run", "--config", str(SAMPLE / "audit.toml"), "-o", str(out), "--no-mitigation",
            "--policy", "preset:four-fifths", "--junit", str(junit), "--no-ledger",
        ],
    )  # fmt: skip
    assert result.exit_code == 3, result.output  # the sample fails four-fifths
    data = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    expected = [worse_off_text(e) for e in worse_off_entries(data["summary"])]
    assert len(expected) >= 2  # age < 25 and its intersection cell, at least
    console = [line.strip() for line in result.stdout.splitlines()]
    assert [c.removeprefix("worse off: ") for c in console if c.startswith("worse off:")] == (
        expected
    )
    properties = ET.parse(junit).getroot().iter("property")
    assert [p.get("value") for p in properties if p.get("name") == "worse_off"] == expected
    card = export_card(out.with_suffix(".json"), format="markdown")
    shown = card[card.index("### Who is worse off") :]
    for entry in worse_off_entries(data["summary"]):
        assert entry["metric"].replace("_", "\\_") in shown
        assert f"ratio {entry['ratio']:.3f}" in shown
    page = out.read_text(encoding="utf-8")
    start = page.index('<ul class="who">')
    banner = page[start : page.index("</ul>", start)]
    groups = {json.dumps(e["group"], sort_keys=True) for e in worse_off_entries(data["summary"])}
    assert banner.count("<li>") == len(groups)
    for entry in worse_off_entries(data["summary"]):
        assert f"{entry['value']:.3f} vs {entry['best_value']:.3f}" in banner
        assert f'ratio <strong class="outside">{entry["ratio"]:.2f}</strong>' in banner


def test_wage_case_banner_names_the_reference_group_when_it_is_worst_off(
    audit_cli: Callable[..., AuditRun], write_csv: Callable[..., Path]
) -> None:
    """Issue 14 §2: south, the largest group and so the reference, selects 0.084 against
    west's 0.170 (ratio 0.494); the banner used to list only other groupings."""
    rows = []
    for region, n, selected in (("south", 500, 42), ("west", 200, 34), ("north", 300, 36)):
        rows += [(i % 2, int(i < selected), region) for i in range(n)]
    data = write_csv("wage.csv", ["y", "pred", "region"], rows)
    run = audit_cli(
        data, "--target", "y", "--prediction-col", "pred", "--policy", "preset:four-fifths",
        "--min-denominator", "12", sensitive=("region",),
    )  # fmt: skip
    assert run.result.exit_code == 3, run.result.output  # four-fifths fails
    result = run.json()
    assert result["audit"]["reference"] == {"region": {"region": "south"}}
    assert result["audit"]["min_denominator"] == 12
    jsonschema.Draft202012Validator(load_schema()).validate(result)
    sr = result["summary"]["worse_off"][0]
    assert (sr["group"], sr["best_group"]) == ({"region": "south"}, {"region": "west"})
    assert sr["ratio"] == pytest.approx((42 / 500) / (34 / 200)) and sr["below_band"]
    outcome = result["policy"]["rules"][0]["outcomes"][0]
    assert outcome["status"] == "fail"
    assert outcome["groups"] == [sr["group"], sr["best_group"]]
    assert outcome["observed"] == pytest.approx(sr["ratio"], abs=1e-12)
    page = _shown(run.html_path.read_text(encoding="utf-8"))
    banner = page[page.index('<ul class="who">') :].split("</ul>")[0]
    assert '<strong class="group">region: south</strong>' in banner
    assert "0.084 vs 0.170 for region: west" in banner
    assert f'ratio <strong class="outside">{sr["ratio"]:.2f}</strong>' in banner


#: Issue 16's size budgets, in bytes: the sample report was 1,062,329 bytes of HTML (593 KB of
#: it the embedded JSON, 398 KB seven chart images).
MAX_SAMPLE_HTML = 300_000
MAX_THREE_FEATURE_HTML = 600_000


def test_sample_report_fits_its_size_budget(sample_audit: SampleAudit) -> None:
    size = sample_audit.html_path.stat().st_size
    assert size <= MAX_SAMPLE_HTML, f"the sample report is {size:,} bytes"


def test_three_feature_report_fits_its_size_budget(three_feature_audit: SampleAudit) -> None:
    """600 rows by three features (18 cells, 330 disparity rows) with six mitigations."""
    size = three_feature_audit.html_path.stat().st_size
    assert size <= MAX_THREE_FEATURE_HTML, f"the three-feature report is {size:,} bytes"


def test_the_report_is_built_once_and_warns_once(three_feature_audit: SampleAudit) -> None:
    """The JSON is embedded once; each warning is listed once, in the summary's list, and
    the tables link to it; rows of insufficient data are muted, never marked as failures."""
    html = three_feature_audit.html()
    data = three_feature_audit.json()
    assert html.count('<script type="application/json"') == 1
    shown = _shown(html)
    small = next(f for f in data["findings"] if f["kind"] == "insufficient_data")
    assert shown.count(str(escape(small["message"]))) == 1
    assert 'id="n-insufficient-data"' in shown
    # Each small group's row in its grouping's every-metric table links to that one entry.
    small_rows = sum(r["insufficient_data"] for r in data["metrics"]["by_group"])
    assert small_rows and shown.count('<a class="tag q" href="#n-insufficient-data">') >= small_rows
    assert 'class="tag warn">insufficient data' not in shown
    assert re.search(r'<tr class="q">[^\n]*class="outside"', shown) is None


# --- the view model (outputs._report_view, _report_notices, _report_mitigation) -----------


def _data(**parts: Any) -> dict[str, Any]:
    """Return the parts of a result the view model reads, with ``parts`` replacing them."""
    base: dict[str, Any] = {
        "audit": {"positive_prediction": "favorable", "min_denominator": 10},
        "metrics": {"names": ["count", "selection_rate", "precision"], "by_group": []},
        "policy": None,
        "findings": [],
        "mitigations": None,
        "mitigation_summary": None,
    }
    return {**base, **parts}


def test_key_metrics_are_the_rates_the_policy_compares() -> None:
    from fairaudit.outputs._report_view import key_metrics

    def rules(*metrics: str) -> dict[str, Any]:
        return {"rules": [{"metric": m} for m in metrics]}

    assert key_metrics(_data()) == (
        "selection_rate",
        "true_positive_rate",
        "false_positive_rate",
    )
    assert key_metrics(_data(policy=rules("favorable_rate_ratio"))) == ("selection_rate",)
    assert key_metrics(_data(policy=rules("equalized_odds_difference", "precision_ratio"))) == (
        "true_positive_rate",
        "false_positive_rate",
        "precision",
    )
    adverse = _data(policy=rules("favorable_opportunity_difference"))
    adverse["audit"] = {"positive_prediction": "adverse"}
    assert key_metrics(adverse) == ("false_positive_rate",)


def test_notices_list_each_problem_once_worst_first() -> None:
    from fairaudit.outputs._report_notices import build_notices, check_anchors

    findings = [
        {"kind": "policy", "severity": "error", "message": "rule failed"},
        {"kind": "insufficient_data", "severity": "warning", "message": "2 small groups"},
        {"kind": "data_check", "severity": "warning", "message": "single class",
         "evidence": {"check": "single_class"}, "next_step": "look"},
        {"kind": "security", "severity": "error", "message": "unsafe pickle"},
        {"kind": "mitigation", "severity": "info", "message": "meets the policy"},
    ]  # fmt: skip
    rows = [{"group": {"sex": "f"}, "insufficient_metrics": ["precision"]}]
    failed = {"method": "expgrad_demographic_parity", "status": "failed", "reason": "boom"}
    data = _data(findings=findings, mitigations=[failed])
    data["metrics"]["by_group"] = rows
    notices = build_notices(data)
    assert [(n.anchor, n.tone) for n in notices] == [
        ("n-security", "bad"),
        ("n-data-check", "warn"),
        ("n-mitigation-expgrad_demographic_parity", "warn"),
        ("n-insufficient-data", "muted"),  # could not be evaluated: muted, never red
        ("n-small-denominators", "muted"),
    ]
    assert "sex=f: precision" in notices[-1].message
    checks = [{"id": "single_class", "status": "warning"}, {"id": "rows", "status": "info"}]
    assert check_anchors(checks, notices) == {"single_class": "n-data-check"}


def test_recommendation_is_the_best_variant_against_the_baseline() -> None:
    from fairaudit.outputs._report_mitigation import recommendation

    def entry(method: str, accuracy: float, dp: float, eligible: bool | None) -> dict[str, Any]:
        return {
            "method": method,
            "status": "ok",
            "eligible": eligible,
            "metrics": {"overall": {"accuracy": accuracy}, "overall_ci": {"accuracy": [0, 1]}},
            "headline": [
                {"feature": "sex", "metric": "demographic_parity_difference", "value": dp}
            ],
        }

    entries = [
        entry("baseline", 0.75, 0.20, None),
        entry("threshold_demographic_parity", 0.74, 0.05, True),
        {"method": "correlation_remover", "status": "failed", "reason": "boom"},
    ]
    summary = {"grouping": "sex", "tradeoff_measure": "accuracy", "best": None}
    none = recommendation(_data(mitigations=entries, mitigation_summary=summary))
    assert none is not None and none.method is None and (none.ran, none.failed) == (1, 1)
    summary["best"] = "threshold_demographic_parity"
    best = recommendation(_data(mitigations=entries, mitigation_summary=summary))
    assert best is not None and best.method == "threshold_demographic_parity"
    assert best.measure_change == pytest.approx(-0.01)
    assert best.disparity_change == pytest.approx(-0.15)
    assert recommendation(_data()) is None
