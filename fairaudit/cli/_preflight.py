"""What ``fairaudit run`` does before the audit: the checks that fail fast, the worker.

Every input and output file is checked before any work (``check_run_files``), a bad
``SOURCE_DATE_EPOCH`` too; an audit that may retrain its model gets its worker process
first (``early_worker``), and ``prepare_report`` is what this process does while it
waits for that worker.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from fairaudit.errors import ConfigError

__all__ = [
    "CONSOLE_PROCESS",
    "RETRAINING_MODULES",
    "audit_function",
    "check_run_files",
    "check_policy",
    "check_source_date_epoch",
    "early_worker",
    "owns_process",
    "prepare_report",
]


#: What the worker lent to an audit that may retrain its model imports first.
RETRAINING_MODULES = ("fairaudit.mitigation._methods", "fairlearn.reductions", "threadpoolctl")


def prepare_report() -> None:
    """Import the publishing code and compile the report's templates (0.3-0.4 s)."""
    import fairaudit.publish  # noqa: F401 - imported now, used after the audit
    from fairaudit.outputs import compile_templates

    compile_templates()


@contextmanager
def early_worker(spec: Any) -> Iterator[None]:
    """Lend the audit one worker process from now on, if it may retrain its model.

    Started before the audit's own imports (pandas, the engines), the worker has imported
    scikit-learn and fairlearn by the time the first retraining fit is ready for it.
    """
    if not spec.may_retrain:
        yield
        return
    from fairaudit.runtime import lend_worker

    with lend_worker(RETRAINING_MODULES):
        yield


#: ``ctx.obj`` of the console script's command (``main``): its process is the command's own
#: and ends with it (``runtime.imports_frozen`` may tune its garbage collector).
CONSOLE_PROCESS = "the fairaudit console script"


def owns_process() -> bool:
    """Return whether this command runs in the console script's own process (not in a
    ``CliRunner`` or another caller's)."""
    context = click.get_current_context(silent=True)
    return context is not None and context.find_root().obj == CONSOLE_PROCESS


def audit_function(spec: Any) -> Callable[..., Any]:
    """Import the audit and what loading its model needs; return ``pipe.run_audit``.

    scipy.special comes first when the model is a .skops file
    (``_skops_trust.import_allowlist_first``: 0.2 s less), and in the console script's own
    process the imports are frozen out of the garbage collector's way
    (``runtime.imports_frozen``). Nothing is read yet.
    """
    from fairaudit.runtime import imports_frozen

    with imports_frozen(owns_process()):
        from fairaudit._skops_trust import import_allowlist_first, import_skops

        import_allowlist_first(spec.model)
        from fairaudit.pipe import run_audit

        import_skops(spec.model)
    return run_audit


def check_policy(spec: Any) -> None:
    """Read the policy, if any, so that a broken one fails before the worker starts (the
    audit reads it again: ``pipe.run_audit`` takes a spec)."""
    if spec.policy:
        from fairaudit.policy import load_policy

        load_policy(spec.policy)


def check_source_date_epoch() -> None:
    """Refuse a SOURCE_DATE_EPOCH that is not whole seconds since 1970, before any work."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return
    from datetime import UTC, datetime

    try:
        datetime.fromtimestamp(int(epoch), tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise ConfigError(
            f"SOURCE_DATE_EPOCH must be whole seconds since 1970, not {epoch!r}"
        ) from None


def check_run_files(
    spec: Any,
    output: str,
    *,
    config: Path | None,
    junit: Path | None,
    ledger: Path | None,
    sign_key: Path | None,
) -> None:
    """Fail before the audit, not after writing the report, on files that cannot work.

    Every input must be a regular file; no output may be an input, another output, or an
    existing non-regular file; the output folders must be writable and the ledger a ledger.
    """
    from fairaudit.errors import OutputError
    from fairaudit.paths import (
        MSG_OUTPUT_IS_JSON,
        FileRole,
        check_file_roles,
        check_folder_writable,
        require_regular_file,
    )
    from fairaudit.provenance import check_ledger_appendable

    inputs = spec.input_files()
    inputs += [FileRole("config file", p) for p in (config,) if p is not None]
    inputs += [FileRole("signing key", p) for p in (sign_key,) if p is not None]
    for role in inputs:
        if role.what != "data file":  # the data loader checks it, with its own messages
            require_regular_file(role.path, role.what)
    outputs = []
    raw = os.fspath(output)
    # A folder (existing, or named with a trailing slash) gets a report named by the audit id.
    folder_output = raw.endswith(("/", os.sep)) or Path(raw).is_dir()
    if not folder_output:
        html = Path(raw)
        if html.suffix.lower() == ".json":
            raise OutputError(MSG_OUTPUT_IS_JSON.format(path=html))
        outputs += [
            FileRole("output", html, "-o"),
            FileRole("output", html.with_suffix(".json"), "-o"),
            FileRole("signature file", Path(f"{html}.intoto.jsonl"), "-o"),
        ]
    if junit is not None:
        outputs.append(FileRole("--junit", junit, "--junit"))
    if ledger is not None:
        outputs.append(FileRole("ledger", ledger, "--ledger"))
    check_folder_writable(Path(raw) if folder_output else Path(raw).parent, "output")
    check_file_roles(outputs, inputs)
    if ledger is not None:
        check_ledger_appendable(ledger)
