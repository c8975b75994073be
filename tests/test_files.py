"""Which files a command reads and writes (fairaudit.paths), checked before any work.

Each case is an attack from issue 12 §2: an output pointed at an input, a key, a ledger,
another output or a device, and inputs that are not regular files. Every one must end in
one ``Error:`` line, exit 1, with the input byte-identical and nothing written; the audit
itself must not start (``run_audit`` is replaced by a function that fails the test).
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fairaudit.cli import cli
from fairaudit.errors import ConfigError, OutputError
from fairaudit.paths import (
    FileRole,
    check_file_roles,
    check_folder_writable,
    parse_toml,
    require_regular_file,
)
from tests.conftest import SCORED_ROWS

PRED = ("--target", "y", "--prediction-col", "pred", "--no-mitigation", "--no-intervals")


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with scored.csv and audit.toml, as the current directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FAIRAUDIT_SIGNING_KEY", raising=False)
    monkeypatch.delenv("FAIRAUDIT_LEDGER", raising=False)
    lines = ["y,pred,sex", *(f"{y},{p},{s}" for y, p, s in SCORED_ROWS)]
    (tmp_path / "scored.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "audit.toml").write_text('sensitive = ["sex"]\n', encoding="utf-8")
    return tmp_path


@pytest.fixture
def no_audit(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if the audit starts: every refusal here comes before any work."""
    import fairaudit.pipe

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the audit ran although its files were unusable")

    monkeypatch.setattr(fairaudit.pipe, "run_audit", refuse)
    yield


def _run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["run", "scored.csv", *PRED, *map(str, args)])


def _snapshot(folder: Path) -> dict[str, bytes | str]:
    return {
        p.name: p.read_bytes() if p.is_file() else "dir"
        for p in sorted(folder.iterdir())
        if not p.is_symlink() and (p.is_file() or p.is_dir())
    }


def _assert_refused(result: Result, message: str, before: dict[str, bytes | str], folder: Path):
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1, result.output
    assert result.stderr == f"Error: {message}\n"
    assert _snapshot(folder) == before  # inputs byte-identical, nothing new written


@pytest.mark.usefixtures("no_audit")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--config", "audit.toml", "-o", "audit.toml"),
            "output 'audit.toml' is an input of this audit (config file 'audit.toml'); "
            "choose another -o path",
        ),
        (
            ("--config", "audit.toml", "--policy", "p.toml", "-o", "p.toml"),
            "output 'p.toml' is an input of this audit (policy file 'p.toml'); "
            "choose another -o path",
        ),
        (
            ("--config", "audit.toml", "--sign-key", "k.key", "-o", "k.key"),
            "output 'k.key' is an input of this audit (signing key 'k.key'); "
            "choose another -o path",
        ),
        (
            ("--config", "audit.toml", "--junit", "scored.csv", "--policy", "p.toml"),
            "--junit 'scored.csv' is an input of this audit (data file 'scored.csv'); "
            "choose another --junit path",
        ),
        (
            ("--config", "audit.toml", "--policy", "p.toml", "--junit", "o.html", "-o", "o.html"),
            "--junit 'o.html' and output 'o.html' are the same file; choose another --junit path",
        ),
        (
            ("--config", "audit.toml", "--policy", "p.toml", "--junit", "o.json", "-o", "o.html"),
            "--junit 'o.json' and output 'o.json' are the same file; choose another --junit path",
        ),
        (
            ("--config", "audit.toml", "-o", "fairaudit-ledger.sqlite"),
            "ledger 'fairaudit-ledger.sqlite' and output 'fairaudit-ledger.sqlite' are the "
            "same file; choose another --ledger path",
        ),
        (
            ("--config", "audit.toml", "--ledger", "l.sqlite", "-o", "l.sqlite"),
            "ledger 'l.sqlite' and output 'l.sqlite' are the same file; "
            "choose another --ledger path",
        ),
        (
            ("--config", "audit.toml", "--ledger", "scored.csv"),
            "ledger 'scored.csv' is an input of this audit (data file 'scored.csv'); "
            "choose another --ledger path",
        ),
    ],
    ids=[
        "config",
        "policy",
        "private-key",
        "junit-over-data",
        "junit-over-report",
        "junit-over-json",
        "report-over-default-ledger",
        "report-over-ledger",
        "ledger-over-data",
    ],
)
def test_an_output_over_an_input_or_another_output_is_refused(
    folder: Path, args: tuple[str, ...], message: str
) -> None:
    (folder / "p.toml").write_text("[rules]\n", encoding="utf-8")
    (folder / "k.key").write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot a real key\n")
    (folder / "l.sqlite").write_bytes(b"")
    (folder / "fairaudit-ledger.sqlite").write_bytes(b"")
    before = _snapshot(folder)
    _assert_refused(_run(*args), message, before, folder)


@pytest.mark.usefixtures("no_audit")
def test_symlinks_and_hard_links_to_an_input_are_the_input(folder: Path) -> None:
    os.symlink(folder / "scored.csv", folder / "via-symlink.html")
    os.link(folder / "scored.csv", folder / "via-hardlink.html")
    before = _snapshot(folder)
    for name in ("via-symlink.html", "via-hardlink.html"):
        result = _run("--config", "audit.toml", "-o", name, "--no-ledger")
        _assert_refused(
            result,
            f"output '{name}' is an input of this audit (data file 'scored.csv'); "
            "choose another -o path",
            before,
            folder,
        )


@pytest.mark.usefixtures("no_audit")
def test_an_output_that_is_a_device_or_fifo_is_refused(folder: Path) -> None:
    """As root, `-o /dev/null` used to replace the device with a regular file. The test makes
    its own device node (a copy of /dev/null, root only) and a FIFO rather than risk the
    machine's /dev/null."""
    os.mkfifo(folder / "fifo.html")
    names = ["fifo.html"]
    if hasattr(os, "getuid") and os.getuid() == 0:
        os.mknod(folder / "null.html", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        names.append("null.html")
    for name in names:
        result = _run("--config", "audit.toml", "-o", name, "--no-ledger")
        assert result.exit_code == 1
        assert result.stderr == (
            f"Error: output '{name}' exists and is not a regular file; choose a file path for -o\n"
        )
        mode = os.stat(folder / name).st_mode
        assert stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


@pytest.mark.usefixtures("no_audit")
def test_a_folder_where_a_file_is_meant_is_refused(folder: Path) -> None:
    (folder / "j.xml").mkdir()
    before = _snapshot(folder)
    result = _run("--config", "audit.toml", "--policy", "preset:four-fifths", "--junit", "j.xml")
    _assert_refused(
        result,
        "--junit 'j.xml' exists and is a directory; choose a file path for --junit",
        before,
        folder,
    )


def test_a_data_file_that_is_a_device_is_refused_at_once(folder: Path) -> None:
    os.symlink("/dev/zero", folder / "zero.csv")
    result = CliRunner().invoke(
        cli, ["run", "zero.csv", *PRED, "--config", "audit.toml", "--no-ledger"]
    )
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: data file 'zero.csv' is not a regular file (a device, FIFO or socket); "
        "pass a file, or copy the contents into one\n"
    )


@pytest.mark.parametrize("engine", ["numpy", "duckdb"])
def test_a_fifo_as_data_fails_instead_of_blocking(folder: Path, engine: str) -> None:
    os.mkfifo(folder / "pipe.csv")
    command = [sys.executable, "-m", "fairaudit", "run", "pipe.csv", *PRED]
    command += ["--config", "audit.toml", "--no-ledger", "--engine", engine]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=folder)
    assert done.returncode == 1
    assert done.stderr == (
        "Error: data file 'pipe.csv' is not a regular file (a device, FIFO or socket); "
        "pass a file, or copy the contents into one\n"
    )


@pytest.mark.usefixtures("no_audit")
@pytest.mark.parametrize(
    ("flag", "what"),
    [("--config", "config file"), ("--policy", "policy file"), ("--sign-key", "signing key")],
)
def test_other_inputs_that_are_not_regular_files_are_refused(
    folder: Path, flag: str, what: str
) -> None:
    os.mkfifo(folder / "pipe")
    args = ("--config", "audit.toml") if flag != "--config" else ()
    result = _run(*args, flag, "pipe", "--no-ledger")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {what} 'pipe' is not a regular file (a device, FIFO or socket); "
        "pass a file, or copy the contents into one\n"
    )


@pytest.mark.usefixtures("no_audit")
def test_a_missing_output_folder_is_found_before_the_audit(folder: Path) -> None:
    before = _snapshot(folder)
    result = _run("--config", "audit.toml", "-o", "missing/out.html")
    _assert_refused(
        result, "output folder 'missing' does not exist; create it first", before, folder
    )


@pytest.mark.usefixtures("no_audit")
def test_another_programs_sqlite_file_as_ledger_is_refused_before_the_report(
    folder: Path,
) -> None:
    other = folder / "other.sqlite"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
    connection.close()
    before = _snapshot(folder)
    result = _run("--config", "audit.toml", "--ledger", "other.sqlite", "-o", "out.html")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "other.sqlite" in result.stderr
    assert "not a fairaudit ledger" in result.stderr or "ledger" in result.stderr
    assert _snapshot(folder) == before
    with sqlite3.connect(other) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    connection.close()


@pytest.mark.usefixtures("no_audit")
def test_an_unwritable_ledger_folder_fails_before_the_report(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only ledger folder (here: creating a file in it fails, as on a read-only
    mount, where root's permission bits say nothing) stops the run before the report."""
    import tempfile

    (folder / "ro").mkdir()
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args: object, **kwargs: object) -> tuple[int, str]:
        if Path(str(kwargs.get("dir", ""))).name == "ro":
            raise PermissionError(13, "Permission denied")
        return real_mkstemp(*args, **kwargs)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    before = _snapshot(folder)
    result = _run("--config", "audit.toml", "--ledger", "ro/l.sqlite", "-o", "out.html")
    _assert_refused(
        result,
        "cannot write to the ledger folder 'ro': Permission denied",
        before,
        folder,
    )


# --------------------------------------------------------------------------- the library


def test_check_file_roles_accepts_distinct_files(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("x\n")
    check_file_roles(
        [FileRole("output", tmp_path / "a.html"), FileRole("output", tmp_path / "a.json")],
        [FileRole("data file", tmp_path / "in.csv")],
    )


def test_require_regular_file_messages(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^policy file '.*nope' not found$"):
        require_regular_file(tmp_path / "nope", "policy file")
    with pytest.raises(ConfigError, match="is a directory; pass a file$"):
        require_regular_file(tmp_path, "policy file")
    dangling = tmp_path / "dangling"
    os.symlink(tmp_path / "gone", dangling)
    with pytest.raises(ConfigError, match="not found$"):
        require_regular_file(dangling, "policy file")


def test_check_folder_writable_leaves_nothing_behind(tmp_path: Path) -> None:
    check_folder_writable(tmp_path, "output")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OutputError, match="does not exist; create it first$"):
        check_folder_writable(tmp_path / "missing", "output")


def _nested(depth: int) -> str:
    return "x = " + "[" * depth + "]" * depth + "\n"


@pytest.mark.parametrize("reader", ["config", "policy"])
def test_deeply_nested_toml_is_one_line(folder: Path, reader: str) -> None:
    (folder / "deep.toml").write_text(_nested(5000), encoding="utf-8")
    args = ("--config", "deep.toml") if reader == "config" else ("--config", "audit.toml")
    args += ("--policy", "deep.toml") if reader == "policy" else ()
    result = _run(*args, "--no-ledger")
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        f"Error: {reader} file 'deep.toml' nests arrays or tables too deeply to be read\n"
        if reader == "config"
        else "Error: policy file deep.toml nests arrays or tables too deeply to be read\n"
    )


def test_parse_toml_names_its_source() -> None:
    with pytest.raises(ConfigError, match="^manifest 'm.toml' is not valid TOML: "):
        parse_toml("x = ", "manifest 'm.toml'")


# --------------------------------------------------------------------------- other commands


def test_card_never_overwrites_the_report(folder: Path) -> None:
    (folder / "r.json").write_text("{}", encoding="utf-8")
    (folder / "r.html").write_text("<html></html>", encoding="utf-8")
    before = _snapshot(folder)
    for args, message in (
        (["--card", "r.html"], "--card 'r.html' is an input of this audit (report 'r.html')"),
        (["--format", "mct", "-o", "r.json"], "-o 'r.json' is an input of this audit"),
    ):
        result = CliRunner().invoke(cli, ["card", "r.json", *args])
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith(f"Error: {message}"), result.stderr
    assert _snapshot(folder) == before


def test_atomic_writes_never_replace_a_device_or_fifo(tmp_path: Path) -> None:
    from fairaudit.paths import atomic_write_bytes

    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OutputError, match="exists and is not a regular file"):
        atomic_write_bytes(tmp_path / "fifo", b"x")
    assert stat.S_ISFIFO(os.stat(tmp_path / "fifo").st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]


def test_diff_html_never_overwrites_a_report(folder: Path) -> None:
    for name in ("a.json", "b.json"):
        (folder / name).write_text("{}", encoding="utf-8")
    (folder / "a.html").write_text("<html></html>", encoding="utf-8")
    before = _snapshot(folder)
    result = CliRunner().invoke(cli, ["diff", "a.json", "b.json", "--html", "a.html"])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: --html 'a.html' is an input of this audit (report 'a.html'); "
        "choose another --html path\n"
    )
    assert _snapshot(folder) == before


@pytest.mark.usefixtures("no_audit")
@pytest.mark.parametrize(
    ("ledger", "message"),
    [
        ("m.toml", "ledger 'm.toml' is an input of this audit (manifest 'm.toml')"),
        ("scored.csv", "ledger 'scored.csv' is an input of this audit (data file "),
    ],
)
def test_batch_never_overwrites_its_inputs(folder: Path, ledger: str, message: str) -> None:
    (folder / "m.toml").write_text(
        'target = "y"\nprediction_col = "pred"\nsensitive = ["sex"]\n'
        'mitigations = []\n[[audit]]\ndata = "scored.csv"\n',
        encoding="utf-8",
    )
    before = _snapshot(folder)
    result = CliRunner().invoke(cli, ["batch", "m.toml", "--ledger", ledger, "-j", "1"])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"Error: {message}"), result.stderr
    assert _snapshot(folder) == before


def test_sign_never_overwrites_its_key(folder: Path) -> None:
    from fairaudit.provenance import generate_key_pair

    files = generate_key_pair(folder / "keys", name="k")
    before = files.private_key.read_bytes()
    result = CliRunner().invoke(
        cli, ["sign", str(files.private_key), "--key", str(files.private_key)]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: report '"), result.stderr
    assert "is an input of this audit (signing key" in result.stderr
    assert files.private_key.read_bytes() == before


@pytest.mark.parametrize("command", ["verify", "card", "diff", "review"])
def test_reading_a_fifo_as_a_report_fails_instead_of_blocking(folder: Path, command: str) -> None:
    os.mkfifo(folder / "r.html")
    (folder / "b.json").write_text("{}", encoding="utf-8")
    argv = {
        "verify": ["verify", "r.html", "--key", "k.pub"],
        "card": ["card", "r.html", "--format", "markdown"],
        "diff": ["diff", "r.html", "b.json"],
        "review": ["review", "r.html", "--key", "k.key", "--decision", "approve"],
    }[command]
    from fairaudit.provenance import generate_key_pair

    generate_key_pair(folder, name="k")
    done = subprocess.run(
        [sys.executable, "-m", "fairaudit", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=folder,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("Error: ") and done.stderr.count("\n") == 1, done.stderr
    assert "not a regular file" in done.stderr
