"""README.md and docs/: short README, every command and option documented, snippets that run.

docs/cli.md ends with each command's ``--help`` text; after changing a command, regenerate
that part with ``python tests/test_docs.py`` (a test fails until it matches).
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from fairaudit.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CLI_DOC = ROOT / "docs" / "cli.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
REFERENCE_START = "The text below is each command's `--help`.\n"
HELP_WIDTH = 100

FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
LINK = re.compile(r"\]\(([^)\s]+)\)|<img src=\"([^\"]+)\"")


def _commands(
    command: click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _commands(sub, (*path, name))


def _long_flags(command: click.Command) -> list[str]:
    flags = []
    for param in command.params:  # not get_params(): it would cache a help option
        if isinstance(param, click.Option):
            flags += [f for f in (*param.opts, *param.secondary_opts) if f.startswith("--")]
    return flags


def _help_text(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(
        cli, [*path, "--help"], prog_name="fairaudit", terminal_width=HELP_WIDTH
    )
    assert result.exit_code == 0, result.output
    return result.output.rstrip()


def reference() -> str:
    """Return the generated tail of docs/cli.md: every command's --help, in a code block."""
    sections = []
    for path, _command in _commands(cli):
        title = " ".join(("fairaudit", *path))
        sections.append(f"### {title}\n\n```text\n{_help_text(path)}\n```\n")
    return "\n".join(sections)


# --- README ------------------------------------------------------------------------------


def test_readme_is_short_and_links_every_page() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    for page in sorted((ROOT / "docs").glob("*.md")):
        if page.name != "ARCHITECTURE.md":
            assert f"](docs/{page.name})" in text, f"README.md does not link docs/{page.name}"


def test_readme_keeps_the_two_one_line_commands() -> None:
    """.ci/run and CI run the test line verbatim; the sample audit is the first thing to try."""
    text = README.read_text(encoding="utf-8")
    test_line = (
        "python3 -m venv .venv && .venv/bin/pip install '.[test]' && .venv/bin/python -m pytest"
    )
    assert f"```bash\n{test_line}\n```" in text
    assert test_line in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "fairaudit run --config sample_data/audit.toml -o report.html\n```" in text


def test_readme_python_example_runs_on_the_sample(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## The Python API") :]
    match = FENCE.search(section)
    assert match is not None and match.group(1) == "python"
    assert len(match.group(2).splitlines()) <= 10
    (tmp_path / "sample_data").symlink_to(ROOT / "sample_data")
    run = subprocess.run(
        [sys.executable, "-c", match.group(2)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert 0 < float(run.stdout) < 1
    assert (tmp_path / "report.html").is_file() and (tmp_path / "report.json").is_file()


# --- every page --------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_python_snippets_compile(page: Path) -> None:
    """Every Python block parses (the runnable ones also run: above and in test_signing)."""
    for match in FENCE.finditer(page.read_text(encoding="utf-8")):
        if match.group(1) == "python":
            ast.parse(match.group(2), filename=str(page))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_python_snippets_import_names_that_exist(page: Path) -> None:
    """A snippet's ``from fairaudit... import name`` names a public name of today's package."""
    for match in FENCE.finditer(page.read_text(encoding="utf-8")):
        if match.group(1) != "python":
            continue
        for node in ast.walk(ast.parse(match.group(2))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fairaudit"):
                module = importlib.import_module(node.module or "")
                for alias in node.names:
                    assert not alias.name.startswith("_"), f"{page.name}: {alias.name}"
                    assert hasattr(module, alias.name), f"{page.name}: {node.module}.{alias.name}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page: Path) -> None:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    for match in LINK.finditer(text):
        target = (match.group(1) or match.group(2)).split("#")[0]
        if target and not re.match(r"[a-z]+:", target):
            assert (page.parent / target).exists(), f"{page.name}: broken link {target}"


# --- docs/cli.md -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "command"),
    [pytest.param(*pc, id=" ".join(pc[0]) or "fairaudit") for pc in _commands(cli)],
)
def test_cli_doc_names_every_command_and_option(
    path: tuple[str, ...], command: click.Command
) -> None:
    text = CLI_DOC.read_text(encoding="utf-8")
    assert " ".join(("fairaudit", *path)) in text
    for flag in _long_flags(command):
        assert re.search(rf"{re.escape(flag)}(?![\w-])", text), f"{flag} missing from docs/cli.md"


def test_cli_doc_reference_is_each_commands_help() -> None:
    text = CLI_DOC.read_text(encoding="utf-8")
    generated = text[text.index(REFERENCE_START) + len(REFERENCE_START) :].strip()
    assert generated == reference().strip(), "regenerate it: python tests/test_docs.py"


def _write_reference() -> None:
    text = CLI_DOC.read_text(encoding="utf-8")
    head = text[: text.index(REFERENCE_START) + len(REFERENCE_START)]
    CLI_DOC.write_text(f"{head}\n{reference()}", encoding="utf-8")


if __name__ == "__main__":
    _write_reference()
