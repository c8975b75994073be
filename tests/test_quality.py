"""Lint, format and type checks run with the tests, so CI holds them."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install '.[test]'")
    return found


@pytest.mark.parametrize(
    "args",
    [
        ["ruff", "check", "fairaudit", "tests", "benchmarks", "sample_data"],
        ["ruff", "format", "--check", "fairaudit", "tests", "benchmarks", "sample_data"],
        ["mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_static_checks(args: list[str]) -> None:
    run = subprocess.run([_tool(args[0]), *args[1:]], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def _imports(path: Path) -> list[ast.ImportFrom | ast.Import]:
    """Every import of a module, at module level, in functions and under TYPE_CHECKING."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom | ast.Import)]


def _imported_modules(node: ast.ImportFrom | ast.Import) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    module = node.module or ""
    # ``from fairaudit.cli import _batch`` imports the module fairaudit.cli._batch.
    return [module, *(f"{module}.{a.name}" for a in node.names if a.name.startswith("_"))]


CLI = ROOT / "fairaudit" / "cli"


def test_cli_imports_point_one_way() -> None:
    """Inside cli/, no module imports the package or, directly or not, itself."""
    modules = {f"fairaudit.cli.{p.stem}": p for p in CLI.glob("_*.py") if p.stem != "__init__"}
    graph = {
        name: {m for node in _imports(path) for m in _imported_modules(node) if m in modules}
        for name, path in modules.items()
    }
    for name, path in modules.items():
        imported = {m for node in _imports(path) for m in _imported_modules(node)}
        assert "fairaudit.cli" not in imported, f"{name} imports its own package"
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, "import cycle: " + " -> ".join((*trail, name))
        if name not in done:
            for target in graph[name]:
                visit(target, (*trail, name))
            done.add(name)

    for name in graph:
        visit(name, ())


def test_cli_imports_no_private_names() -> None:
    """Names shared across modules are public: no ``from x import _name`` in cli/."""
    for path in CLI.glob("*.py"):
        for node in _imports(path):
            if isinstance(node, ast.ImportFrom):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert private in ([], ["__version__"]), f"{path.name}: {node.module} {private}"


def test_errors_carry_exit_codes_and_import_nothing_of_ours() -> None:
    from fairaudit.errors import FairauditError, PolicyFailed

    assert (FairauditError.exit_code, PolicyFailed.exit_code) == (1, 3)
    errors = ROOT / "fairaudit" / "errors.py"
    imported = {m for node in _imports(errors) for m in _imported_modules(node)}
    assert not {m for m in imported if m.startswith("fairaudit")}


def test_no_command_catches_library_errors_itself() -> None:
    """One handler (cli/_command.py) turns a FairauditError into its message and exit code."""
    for path in CLI.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "click.ClickException(str(" not in text, path.name
        if path.name != "_command.py":
            assert "CommandError(" not in text, path.name


SHAPE_TOOL = ROOT.parent / "shared" / "tools" / "shape.py"


@pytest.mark.skipif(not SHAPE_TOOL.is_file(), reason="the shape tool lives beside the project")
def test_the_house_keeps_its_shape() -> None:
    """No import cycle, modules <= 500 lines, functions <= 90, <= 15 top-level modules and a
    README <= 300 lines (docs/ARCHITECTURE.md states these rules)."""
    run = subprocess.run(
        [sys.executable, str(SHAPE_TOOL), "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
