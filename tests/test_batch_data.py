"""Data audits in a batch manifest (``kind = "data"``), and ``fairaudit data --policy``."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from fairaudit.batch import (
    EXIT_ERROR,
    EXIT_POLICY_FAILED,
    MSG_BAD_EDGES,
    MSG_NAMED_TWICE,
    MSG_NOT_SENSITIVE,
    MSG_TWO_ROLES,
    DataAuditSpec,
    data_audit,
    load_manifest,
    run_batch,
)
from fairaudit.cli import batch, cli
from fairaudit.errors import ConfigError
from fairaudit.result import json_text

EPOCH = "1700000000"
HOSTILE = "<b>x</b>'\""

PROXY_POLICY = """\
[[rule]]
metric = "proxy_auc"
max = 0.75
"""
LOOSE_POLICY = """\
[[rule]]
metric = "proxy_auc"
max = 1.0
"""

MIXED = """\
policy = "preset:four-fifths"
target = "y"
prediction_col = "pred"
sensitive = ["sex"]
seed = 3
output_dir = "out"

[[audit]]
name = "model"
data = "preds.csv"

[[audit]]
kind = "data"
name = "train-proxy"
data = "train.csv"
target = "label"
sensitive = ["grp"]
strata = "region"
policy = ["proxy.toml"]

[[audit]]
kind = "data"
data = "train.csv"
target = "label"
sensitive = ["grp", "region"]
features = ["noise"]
engine = "duckdb"

[[audit]]
kind = "data"
name = "broken"
data = "train.csv"
target = "nope"
sensitive = ["grp"]
"""


def _write_csv(path: Path, header: list[str], rows: Any) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model audit's predictions, a 240-row training set with a perfect proxy, policies."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    monkeypatch.delenv("FAIRAUDIT_SIGNING_KEY", raising=False)
    _write_csv(
        tmp_path / "preds.csv",
        ["y", "pred", "sex"],
        [[i % 2, int(i < 20), s] for s in ("a", "b") for i in range(40)],
    )
    rng = np.random.default_rng(7)
    group = np.where(rng.random(240) < 0.5, HOSTILE, "plain")
    rows = [
        [int(rng.random() < (0.6 if g == "plain" else 0.35)), g, "A" if g == "plain" else "B"]
        + [round(float(rng.normal()), 3), rng.choice(["n", "s"])]
        for g in group
    ]
    _write_csv(tmp_path / "train.csv", ["label", "grp", "zip", "noise", "region"], rows)
    (tmp_path / "proxy.toml").write_text(PROXY_POLICY)
    (tmp_path / "loose.toml").write_text(LOOSE_POLICY)
    (tmp_path / "batch.toml").write_text(MIXED)
    return tmp_path


def _batch(*args: str) -> Result:
    return CliRunner().invoke(batch, list(args), catch_exceptions=False)


def _index(out: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((out / "index.json").read_text())
    return loaded


def test_a_mixed_batch_lists_data_audits_with_their_kind_and_headline(folder: Path) -> None:
    result = _batch(str(folder / "batch.toml"), "--jobs", "1")
    assert result.exit_code == EXIT_ERROR  # an error outranks the failed data policy
    out = folder / "out"
    rows = _index(out)["audits"]
    assert [(r["name"], r["kind"], r["status"], r["verdict"]) for r in rows] == [
        ("model", "model", "passed", "pass"),
        ("train-proxy", "data", "policy_failed", "fail"),
        ("train.csv", "data", "passed", None),
        ("broken", "data", "error", None),
    ]
    assert rows[3]["error"] == "the data has no column 'nope'"
    proxy = json.loads((out / rows[1]["report_json"]).read_text())
    assert proxy["kind"] == "data" and proxy["policy"]["verdict"] == "fail"
    assert proxy["options"]["seed"] == 3  # the shared seed; not the shared (model) policy
    assert [layer["source"] for layer in proxy["policy"]["layers"]] == [str(folder / "proxy.toml")]
    headline = {h["metric"]: h for h in rows[1]["headline"]}
    assert headline["proxy_auc"]["proxy"] == "zip" and headline["proxy_auc"]["value"] == 1.0
    assert headline["difference_in_label_proportions"]["feature"] == "grp"
    assert all(h["metric"] != "proxy_auc" or h["proxy"] == "noise" for h in rows[2]["headline"])
    html = (out / "index.html").read_text()
    assert "grp: strongest proxy zip, AUC 1.000" in html
    assert '<td class="text">data</td>' in html and HOSTILE not in html
    for row in rows[1:3]:
        assert row["report"] == f"data-audit-{row['index']}-{row['audit_id'][:12]}.html"
        page = (out / row["report"]).read_text()
        assert 'id="fairaudit-data"' in page


def test_a_failed_data_policy_alone_exits_3(folder: Path) -> None:
    text = MIXED.split('[[audit]]\nkind = "data"\nname = "broken"')[0]
    (folder / "batch.toml").write_text(text)
    result = _batch(str(folder / "batch.toml"), "--jobs", "2", "-q")
    assert result.exit_code == EXIT_POLICY_FAILED, result.output
    assert _index(folder / "out")["status"] == "policy_failed"


def test_the_batch_writes_what_fairaudit_data_writes(folder: Path) -> None:
    """The batch's data report is the command's for the same options (no ledger: same id)."""
    manifest = load_manifest(folder / "batch.toml")
    run_batch(manifest, jobs=1)
    spec = manifest.audits[2].spec
    assert isinstance(spec, DataAuditSpec) and spec.engine == "duckdb"
    args = ["data", str(folder / "train.csv"), "--target", "label", "--sensitive", "grp"]
    args += ["--sensitive", "region", "--features", "noise", "--seed", "3"]
    args += ["-o", str(folder / "cli.json"), "--engine", "numpy"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    written = json.loads((folder / "cli.json").read_text())
    assert json_text(data_audit(spec)) == json_text(written)
    batch_json = next((folder / "out").glob("data-audit-3-*.json"))
    assert json.loads(batch_json.read_text()) == written


def test_signed_data_reports_verify_and_enter_the_ledger(folder: Path) -> None:
    from fairaudit.provenance import generate_key_pair, read_entries, verify_ledger

    generate_key_pair(folder / "keys", name="auditor")
    text = 'sign_key = "keys/auditor.key"\nledger = "audits.sqlite"\n' + MIXED
    (folder / "batch.toml").write_text(text)
    result = run_batch(load_manifest(folder / "batch.toml"), jobs=1, sign_key=_key(folder))
    assert [o.signature for o in result.outcomes] == ["verified"] * 3 + ["unsigned"]
    assert [o.ledger for o in result.outcomes] == ["appended"] * 3 + [None]
    assert verify_ledger(folder / "audits.sqlite").ok
    ids = [e.audit_id for e in read_entries(folder / "audits.sqlite")]
    assert ids == [o.audit_id for o in result.outcomes[:3]]


def _key(folder: Path) -> Any:
    from fairaudit.provenance import load_private_key

    return load_private_key(folder / "keys" / "auditor.key")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('prediction_col = "p"', "unknown key 'prediction_col'; known keys: kind, name, data"),
        ('config = "a.toml"', "unknown key 'config'"),
        ('engine = "spark"', "engine must be one of auto, numpy, duckdb, not 'spark'"),
        ("label_bins = 3", "label_bins must be a list of numbers"),
        ("population = 3", "population must be a table of file paths"),
        ("proxy_threshold = 2", "proxy_threshold must be a number from 0.5 to 1"),
        ("strata = 1", "strata must be a column name"),
        ("confidence = 1.5", "confidence must be between 0 and 1"),
        ('reference = { zip = "A" }', "--reference names 'zip', which is not a sensitive feature"),
        ("bins = { noise = [0.0] }", "--bins names 'noise', which is not a sensitive feature"),
        ("label_bins = [1, 0]", "--label-bins must be increasing finite numbers"),
    ],
)
def test_a_bad_data_entry_names_the_audit_and_key(folder: Path, entry: str, message: str) -> None:
    text = MIXED.replace('engine = "duckdb"\n', "").replace(
        'features = ["noise"]\n', f'features = ["noise"]\n{entry}\n'
    )
    (folder / "batch.toml").write_text(text)
    with pytest.raises(ConfigError) as error:
        load_manifest(folder / "batch.toml")
    assert "audit 3 (" in str(error.value)
    assert message in str(error.value)


def test_kind_must_be_model_or_data(folder: Path) -> None:
    (folder / "batch.toml").write_text(
        MIXED.replace('kind = "data"\nname = "broken"', 'kind = "dta"\nname = "broken"')
    )
    with pytest.raises(ConfigError, match="audit 4 \\('broken'\\): kind must be"):
        load_manifest(folder / "batch.toml")
    text = MIXED.replace('name = "model"', 'kind = "model"\nname = "model"')
    (folder / "batch.toml").write_text(text)
    assert load_manifest(folder / "batch.toml").audits[0].name == "model"


def test_a_data_entry_missing_its_sensitive_features(folder: Path) -> None:
    text = MIXED.replace('sensitive = ["grp"]\nstrata', "strata")
    (folder / "batch.toml").write_text(text)
    with pytest.raises(ConfigError, match="audit 2 \\('train-proxy'\\): missing sensitive"):
        load_manifest(folder / "batch.toml")


def test_data_outputs_may_not_overwrite_a_data_input(folder: Path) -> None:
    """The index may not be the training set or a population file of a data audit."""
    (folder / "out").mkdir()
    (folder / "out" / "index.json").write_text("{}")
    text = MIXED.replace(
        'data = "train.csv"\ntarget = "label"\nsensitive = ["grp"]\nstrata',
        'data = "out/index.json"\ntarget = "label"\nsensitive = ["grp"]\nstrata',
    )
    (folder / "batch.toml").write_text(text)
    result = CliRunner().invoke(batch, [str(folder / "batch.toml")])
    assert result.exit_code == 1 and "index" in result.output


# --- fairaudit data --policy / --junit ----------------------------------------------------


def _data(folder: Path, *extra: str) -> Result:
    args = ["data", str(folder / "train.csv"), "--target", "label", "--sensitive", "grp"]
    return CliRunner().invoke(cli, [*args, *extra])


def test_data_policy_fails_with_exit_3_and_writes_junit(folder: Path) -> None:
    out, junit = folder / "r.html", folder / "r.xml"
    result = _data(folder, "--policy", str(folder / "proxy.toml"), "--junit", str(junit))
    assert result.exit_code == 2  # -o is required
    result = _data(
        folder, "--policy", str(folder / "proxy.toml"), "--junit", str(junit), "-o", str(out)
    )
    assert result.exit_code == 3, result.output
    assert "Policy verdict: fail" in result.output
    assert "fail: rule proxy_auc" in result.output
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["policy"]["verdict"] == "fail"
    xml = junit.read_text()
    assert 'name="verdict" value="fail"' in xml and "<failure" in xml
    assert HOSTILE not in xml  # the group name is escaped in XML too


def test_data_policy_passes_with_exit_0(folder: Path) -> None:
    result = _data(folder, "--policy", str(folder / "loose.toml"), "-o", str(folder / "r.json"))
    assert result.exit_code == 0, result.output
    assert "Policy verdict: pass" in result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--junit", "j.xml"], "--junit needs a policy"),
        (["--policy", "absent.toml"], "absent.toml"),
        (["--policy", "preset:four-fifths"], "has no rule for a data audit"),
        (["--policy", "proxy.toml", "--junit", "train.csv"], "is an input of this audit"),
        (["--policy", "proxy.toml", "--junit", "proxy.toml"], "is an input of this audit"),
    ],
)
def test_data_policy_errors(
    folder: Path, monkeypatch: pytest.MonkeyPatch, extra: list[str], message: str
) -> None:
    monkeypatch.chdir(folder)
    result = _data(folder, *extra, "-o", "r.json")
    assert result.exit_code in (1, 2)
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (folder / "r.json").exists()


def test_a_policy_without_data_rules_fails_before_any_work(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The policy is checked first: the missing target column is never reached."""
    monkeypatch.chdir(folder)
    args = ["data", "train.csv", "--target", "nope", "--sensitive", "grp", "-o", "r.json"]
    result = CliRunner().invoke(cli, [*args, "--policy", "preset:four-fifths"])
    assert result.exit_code == 1
    assert "has no rule for a data audit" in result.output
    assert "nope" not in result.output


def test_jobs_1_and_jobs_2_write_the_same_data_reports(folder: Path) -> None:
    manifest = str(folder / "batch.toml")
    for jobs, out in (("1", "one"), ("2", "two")):
        assert _batch(manifest, "--jobs", jobs, "-q", "-o", str(folder / out)).exit_code == 1
    one, two = folder / "one", folder / "two"
    assert sorted(p.name for p in one.iterdir()) == sorted(p.name for p in two.iterdir())
    for path in one.iterdir():
        assert path.read_bytes() == (two / path.name).read_bytes(), path.name


NOT_EVALUABLE_POLICY = """\
[[rule]]
metric = "representation_ratio"
min = 0.8
"""


def test_fail_on_and_not_evaluable_as_run_takes_them(folder: Path) -> None:
    """A rule that cannot be judged (no --population) warns; --fail-on warn or
    --not-evaluable fail make the run exit 3, on the command line and in a batch."""
    (folder / "ne.toml").write_text(NOT_EVALUABLE_POLICY)
    base = ["data", str(folder / "train.csv"), "--target", "label", "--sensitive", "grp"]
    base += ["--features", "noise", "--policy", str(folder / "ne.toml")]
    verdicts = {}
    for extra, code in (([], 0), (["--fail-on", "warn"], 3), (["--not-evaluable", "fail"], 3)):
        out = folder / f"ne{len(verdicts)}.json"
        result = CliRunner().invoke(cli, [*base, *extra, "-o", str(out)])
        assert result.exit_code == code, result.output
        verdicts[tuple(extra)] = json.loads(out.read_text())["policy"]["verdict"]
    assert verdicts == {
        (): "warn",
        ("--fail-on", "warn"): "warn",
        ("--not-evaluable", "fail"): "fail",
    }
    entry = '[[audit]]\nkind = "data"\ndata = "train.csv"\ntarget = "label"\nsensitive = ["grp"]\n'
    entry += 'features = ["noise"]\npolicy = ["ne.toml"]\n'
    (folder / "ne-batch.toml").write_text('output_dir = "ne"\n' + entry + 'fail_on = "warn"\n')
    result = _batch(str(folder / "ne-batch.toml"), "--jobs", "1", "-q")
    assert result.exit_code == EXIT_POLICY_FAILED, result.output
    (folder / "bad.toml").write_text(entry + 'fail_on = "never"\n')
    with pytest.raises(ConfigError, match="fail_on must be 'fail' or 'warn', not 'never'"):
        load_manifest(folder / "bad.toml")


SENSITIVE = "grp, region"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--bins", "region=2,1"], MSG_BAD_EDGES.format(option="--bins region", edges="2,1")),
        (["--bins", "region=nan"], MSG_BAD_EDGES.format(option="--bins region", edges="nan")),
        (
            ["--reference", "zip=A"],
            MSG_NOT_SENSITIVE.format(option="--reference", feature="zip", sensitive=SENSITIVE),
        ),
        (
            ["--bins", "noise=0"],
            MSG_NOT_SENSITIVE.format(option="--bins", feature="noise", sensitive=SENSITIVE),
        ),
    ],
)
def test_fairaudit_data_refuses_options_of_no_sensitive_feature_and_bad_edges(
    folder: Path, options: list[str], message: str
) -> None:
    """Decreasing edges made groups such as '[2, 1)', a NaN edge a traceback (the content
    id), and a --reference or --bins of another column was silently ignored."""
    args = ["data", str(folder / "train.csv"), "--target", "label", "--sensitive", "grp"]
    args += ["--sensitive", "region", *options, "-o", str(folder / "d.json")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and result.output == f"Error: {message}\n"
    assert not (folder / "d.json").exists()


def _two_roles(column: str, first: str, second: str) -> str:
    return MSG_TWO_ROLES.format(column=column, first=first, second=second)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--sensitive", "grp"], MSG_NAMED_TWICE.format(option="--sensitive", column="grp")),
        (["--features", "zip"] * 2, MSG_NAMED_TWICE.format(option="--features", column="zip")),
        (["--sensitive", "label"], _two_roles("label", "--target", "--sensitive")),
        (["--strata", "grp"], _two_roles("grp", "--sensitive", "--strata")),
        (["--features", "label"], _two_roles("label", "--target", "--features")),
    ],
)  # fmt: skip
def test_fairaudit_data_refuses_a_column_named_twice_or_in_two_roles(
    folder: Path, options: list[str], message: str
) -> None:
    """A sensitive feature named twice made an intersection of it with itself, the target
    as a sensitive feature or proxy candidate a meaningless audit, and a repeated --features
    a traceback (gradient boosting's categorical mask had one entry too many)."""
    args = ["data", str(folder / "train.csv"), "--target", "label", "--sensitive", "grp"]
    result = CliRunner().invoke(cli, [*args, *options, "-o", str(folder / "d.json")])
    assert result.exit_code == 1 and result.output == f"Error: {message}\n"
    # A strata column may also be a proxy candidate, as it is when --features is not given.
    ok = [*args, "--strata", "region", "--features", "region", "-o", str(folder / "d.json")]
    assert CliRunner().invoke(cli, ok).exit_code == 0


def test_fairaudit_data_names_a_folder_given_as_a_policy_or_population(folder: Path) -> None:
    """A folder was 'not a regular file (a device, FIFO or socket)', and the population
    message carried Python's '[Errno 22] ...' text."""
    (folder / "shares").mkdir()
    args = ["data", str(folder / "train.csv"), "--target", "label", "--sensitive", "grp"]
    args += ["-o", str(folder / "d.json")]
    result = CliRunner().invoke(cli, [*args, "--policy", str(folder / "shares")])
    assert result.exit_code == 1
    assert (
        result.output
        == f"Error: cannot read policy file {folder / 'shares'}: a directory, not a file\n"
    )
    result = CliRunner().invoke(cli, [*args, "--population", f"grp={folder / 'shares'}"])
    assert result.exit_code == 1 and result.output.endswith(": a directory, not a file\n")
    assert "Errno" not in result.output and not (folder / "d.json").exists()


def test_a_population_file_naming_a_group_twice(folder: Path) -> None:
    """The later line replaced the earlier one silently; the file is refused instead."""
    _write_csv(folder / "shares.csv", ["group", "share"], [["plain", 0.3], ["plain", 0.6]])
    args = ["data", str(folder / "train.csv"), "--target", "label", "--sensitive", "grp"]
    args += ["--population", f"grp={folder / 'shares.csv'}", "-o", str(folder / "d.json")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert result.output.endswith(": line 3 repeats the group 'plain'\n")
