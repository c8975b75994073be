"""The data audit's page, its JSON Schema, signing and the ledger (``fairaudit data -o x.html``)."""

from __future__ import annotations

import json
import re
import sqlite3

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fairaudit.cli import cli
from fairaudit.cli._data import MSG_DATA_OUTPUT_NOT_JSON, MSG_JSON_ONLY
from fairaudit.outputs._data_report import load_data_schema, render_data_html
from fairaudit.outputs._diff_compute import DiffError
from fairaudit.provenance import extract_results

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    """A 240-row file whose sensitive feature has a hostile value, a proxy and a skew."""
    rng = np.random.default_rng(7)
    n = 240
    group = np.where(rng.random(n) < 0.5, HOSTILE, "plain")
    frame = pd.DataFrame(
        {
            "label": (rng.random(n) < np.where(group == "plain", 0.6, 0.35)).astype(int),
            "grp": group,
            "zip": np.where(group == "plain", "A", "B"),  # a perfect proxy
            "noise": rng.normal(size=n).round(3),
            "region": rng.choice(["n", "s"], n),
        }
    )
    path = tmp_path_factory.mktemp("data") / "small.csv"
    frame.to_csv(path, index=False)
    return path


def _run(args, tmp_path, monkeypatch, env=None):
    monkeypatch.chdir(tmp_path)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    return CliRunner().invoke(cli, ["data", *map(str, args)])


def _base(path):
    return [path, "--target", "label", "--sensitive", "grp", "--strata", "region"]


def test_the_json_and_the_page_validate_against_the_schema(small_csv, tmp_path, monkeypatch):
    import jsonschema

    result = _run([*_base(small_csv), "-o", "r.html", "--no-ledger"], tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    twin = json.loads((tmp_path / "r.json").read_text())
    validator = jsonschema.Draft202012Validator(load_data_schema())
    validator.validate(twin)
    embedded = extract_results((tmp_path / "r.html").read_bytes())
    assert embedded == twin  # the page embeds exactly its JSON twin
    assert twin["kind"] == "data" and twin["audit"]["name"] == "small.csv"
    assert _run([*_base(small_csv), "-o", "r2.json"], tmp_path, monkeypatch).exit_code == 0
    validator.validate(json.loads((tmp_path / "r2.json").read_text()))
    broken = {**twin, "data_bias": [{**twin["data_bias"][0], "metric": "made_up"}]}
    assert not validator.is_valid(broken)


def test_a_hostile_group_name_is_escaped_and_the_only_script_is_the_data(small_csv, tmp_path):
    from fairaudit.databias import data_report
    from fairaudit.outputs._data_report import identified

    frame = pd.read_csv(small_csv)
    frame = frame.rename(columns={"zip": HOSTILE})  # a hostile column name too
    source = {"path": HOSTILE, "format": "csv", "sha256": "0" * 64}
    report = identified(
        data_report(frame, target="label", sensitive=["grp"], source=source), name=HOSTILE
    )
    html = render_data_html(report)
    assert HOSTILE not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    scripts = re.findall(r"<script\b[^>]*>", html, flags=re.IGNORECASE)
    assert scripts == ['<script type="application/json" id="fairaudit-data">']
    assert "onerror=alert(1)>" not in html.replace("\\u003e", "")
    assert 'http-equiv="Content-Security-Policy"' in html
    assert extract_results(html.encode()) == report  # the escaped JSON reads back unchanged
    assert "<details>" in html  # the full tables are folded


def test_reruns_are_byte_identical_with_source_date_epoch(small_csv, tmp_path, monkeypatch):
    from fairaudit.cli import cli as app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert CliRunner().invoke(app, ["keygen", "-o", "keys", "--name", "k"]).exit_code == 0
    pages = []
    for name in ("one", "two"):
        args = [*_base(small_csv), "-o", f"{name}/r.html", "--sign-key", "keys/k.key"]
        (tmp_path / name).mkdir()
        result = _run([*args, "--no-ledger"], tmp_path, monkeypatch)
        assert result.exit_code == 0, result.output
        pages.append([(tmp_path / name / f).read_bytes() for f in ("r.html", "r.json")])
    assert pages[0] == pages[1]


def test_sign_verify_and_the_ledger(small_csv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["keygen", "-o", "keys", "--name", "k"]).exit_code == 0
    first = _run([*_base(small_csv), "-o", "a.html"], tmp_path, monkeypatch)
    assert first.exit_code == 0, first.output
    args = [*_base(small_csv), "-o", "b.html", "--sign-key", "keys/k.key", "--name", "loans"]
    second = _run(args, tmp_path, monkeypatch)
    assert second.exit_code == 0, second.output
    assert (tmp_path / "b.html.intoto.jsonl").is_file()
    verified = runner.invoke(cli, ["verify", "b.html", "--key", "keys/k.pub"])
    assert verified.exit_code == 0, verified.output
    report = json.loads((tmp_path / "b.json").read_text())
    assert report["audit"]["id"] in verified.output
    unsigned = runner.invoke(cli, ["verify", "a.html", "--key", "keys/k.pub"])
    assert unsigned.exit_code == 1
    page = (tmp_path / "b.html").read_bytes()
    (tmp_path / "b.html").write_bytes(page.replace(b"small.csv", b"small.CSV", 1))
    assert runner.invoke(cli, ["verify", "b.html", "--key", "keys/k.pub"]).exit_code == 1
    ledger = tmp_path / "fairaudit-ledger.sqlite"
    with sqlite3.connect(ledger) as db:
        rows = db.execute("SELECT model_name, audit_id, data_sha256 FROM entries").fetchall()
    assert [r[0] for r in rows] == ["small.csv", "loans"]
    assert rows[1][1] == report["audit"]["id"] and rows[1][2] == report["data"]["sha256"]
    assert runner.invoke(cli, ["ledger", "verify", str(ledger)]).exit_code == 0
    third = _run([*args[:-2], "-o", "c.html", "--name", "loans"], tmp_path, monkeypatch)
    assert third.exit_code == 0, third.output
    superseded = json.loads((tmp_path / "c.json").read_text())["audit"]["supersedes"]
    assert superseded == report["audit"]["id"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-o", "x.txt"], MSG_DATA_OUTPUT_NOT_JSON.format(path="x.txt")),
        (["-o", "x.json", "--sign-key", "k.pem"], MSG_JSON_ONLY.format(path="x.json")),
        (["-o", "x.json", "--ledger", "l.sqlite"], MSG_JSON_ONLY.format(path="x.json")),
        (["-o", "x.html", "--sign-key", "absent.pem"], "signing key 'absent.pem' not found"),
        (["-o", "data.json"], None),  # the output would overwrite the data
        (["-o", "data.html"], None),  # ... its JSON twin would
    ],
)
def test_one_line_errors(tmp_path, monkeypatch, small_csv, extra, message):
    data = tmp_path / ("data.json" if extra[1].startswith("data.") else "data.csv")
    if data.suffix == ".json":
        pd.read_csv(small_csv).to_json(data, orient="records")
    else:
        data.write_bytes(small_csv.read_bytes())
    (tmp_path / "k.pem").write_text("not a key")
    result = _run([*_base(data.name), *extra], tmp_path, monkeypatch)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    if message is not None:
        assert message in lines[0]
    assert not (tmp_path / "fairaudit-ledger.sqlite").exists()


def test_a_json_output_ignores_a_ledger_and_key_from_the_environment(
    small_csv, tmp_path, monkeypatch
):
    env = {"FAIRAUDIT_LEDGER": "l.sqlite", "FAIRAUDIT_SIGNING_KEY": "k.pem"}
    result = _run([*_base(small_csv), "-o", "x.json"], tmp_path, monkeypatch, env)
    assert result.exit_code == 0, result.output
    assert result.output == "Wrote x.json\n" and not (tmp_path / "l.sqlite").exists()


def test_diff_of_two_data_audits(small_csv, tmp_path, monkeypatch):
    from fairaudit.outputs._data_report_diff import (
        MSG_MIXED_KINDS,
        diff_data_reports,
        format_data_diff,
    )

    for name, extra in (("a.json", []), ("b.json", ["--seed", "5", "--features", "zip"])):
        result = _run([*_base(small_csv), *extra, "-o", name], tmp_path, monkeypatch)
        assert result.exit_code == 0, result.output
    old, new = (json.loads((tmp_path / n).read_text()) for n in ("a.json", "b.json"))
    found = diff_data_reports(old, new)
    # --features is an option the numbers depend on: recorded, so the diff names it
    assert found["options_changed"] == ["features", "seed"] and not found["data_changed"]
    assert all(r["change"] != 0 for r in found["rows"])  # unchanged rows are left out
    assert {p["feature"] for p in found["proxies"]} == {"zip"}
    assert "options changed: features, seed" in format_data_diff(found)
    bell = {**new, "proxies": [{**a, "sensitive": "s\x1b[2J"} for a in new["proxies"]]}
    assert "\x1b" not in format_data_diff(diff_data_reports(old, bell))  # no terminal control
    mixed = MSG_MIXED_KINDS.format(old="old", old_kind="data", new="new", new_kind="model")
    with pytest.raises(DiffError, match=re.escape(mixed)):
        diff_data_reports(old, {"kind": None})


def test_a_single_group_is_not_called_a_missing_favourable_label(tmp_path, monkeypatch):
    data = tmp_path / "one.csv"
    data.write_text("y,s,x\n1,a,1\n0,a,2\n1,a,3\n0,a,4\n", encoding="utf-8")
    args = [data, "--target", "y", "--sensitive", "s", "-o", "r.html", "--no-ledger"]
    result = _run(args, tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "every sensitive feature has a single group" in page
    assert "no favourable label" not in page
