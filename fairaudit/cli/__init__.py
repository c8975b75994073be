"""The ``fairaudit`` command line: click commands over the library.

Modules, in import order: ``_command`` (the one error handler: a library error's message
and exit code), ``_options`` (options shared by commands), ``_console`` (what ``run``
prints: the summary, the mitigation outcome and the policy's failures, read from the
result), then one module per command group (``_signing``, ``_review``, ``_history``,
``_batch``, ``_data``), ``_preflight`` (what ``run`` does before the audit: file checks, the
early worker) and ``_main`` (the group, ``run`` and the command line's ``main``), which
registers the others; ``fairaudit data`` (``_data``) is registered here, and ``main``, the
console script, which ends the process without tearing down its modules
(``runtime.exit_process``: 0.25-0.45 s after an audit).
"""

from __future__ import annotations

from fairaudit.cli._batch import batch, card
from fairaudit.cli._command import Command, CommandError, Group, user_errors
from fairaudit.cli._console import MAX_POLICY_LINES, mitigation_lines, policy_lines, run_summary
from fairaudit.cli._data import (
    MSG_BAD_POPULATION,
    MSG_DATA_OUTPUT_NOT_JSON,
    MSG_NO_POPULATION_FILE,
    data_audit,
)
from fairaudit.cli._history import MSG_NO_HISTORY, diff, history, ledger
from fairaudit.cli._main import cli
from fairaudit.cli._main import main as _command_line
from fairaudit.cli._options import (
    LEDGER_ENV,
    PASSPHRASE_ENV,
    SIGNING_KEY_ENV,
    jobs_option,
    json_option,
    ledger_option,
    no_ledger_option,
    passphrase_from,
    passphrase_options,
    policy_option,
    private_key_option,
    quiet_option,
    sign_key_option,
    trusted_keys_options,
)
from fairaudit.cli._review import (
    MSG_NOT_RECORDED,
    check_verified_approvals,
    review,
    review_ledger,
)
from fairaudit.cli._signing import (
    MSG_PASSPHRASE_CHOICE,
    MSG_PASSPHRASE_ENV_UNSET,
    keygen,
    sign,
    verify,
)

# Raised by check_verified_approvals; defined with the other library errors.
from fairaudit.errors import PolicyFailed

cli.add_command(data_audit)  # ``fairaudit data`` (issue 18); _main registers the others
# monitor wiring (issue 20, H6): ``fairaudit monitor``
from fairaudit.cli._monitor import monitor  # noqa: E402

cli.add_command(monitor)


def main() -> None:
    """Entry point of the ``fairaudit`` console script: run the command, then end at once."""
    from fairaudit.runtime import exit_process

    try:
        _command_line()
    except SystemExit as exc:
        exit_process(exc.code)
    exit_process(0)


__all__ = [
    "LEDGER_ENV",
    "MAX_POLICY_LINES",
    "MSG_BAD_POPULATION",
    "MSG_DATA_OUTPUT_NOT_JSON",
    "MSG_NO_POPULATION_FILE",
    "MSG_NOT_RECORDED",
    "MSG_NO_HISTORY",
    "MSG_PASSPHRASE_CHOICE",
    "MSG_PASSPHRASE_ENV_UNSET",
    "PASSPHRASE_ENV",
    "SIGNING_KEY_ENV",
    "Command",
    "CommandError",
    "Group",
    "PolicyFailed",
    "batch",
    "card",
    "check_verified_approvals",
    "cli",
    "data_audit",
    "diff",
    "history",
    "jobs_option",
    "json_option",
    "keygen",
    "ledger",
    "ledger_option",
    "main",
    "mitigation_lines",
    "no_ledger_option",
    "passphrase_from",
    "passphrase_options",
    "policy_lines",
    "policy_option",
    "private_key_option",
    "quiet_option",
    "review",
    "review_ledger",
    "run_summary",
    "sign",
    "sign_key_option",
    "trusted_keys_options",
    "user_errors",
    "verify",
]
