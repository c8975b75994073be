"""The ``fairaudit`` command line: click commands over the library."""

from __future__ import annotations

from fairaudit.cli._batch import batch, card
from fairaudit.cli._history import LEDGER_ENV, MSG_NO_HISTORY, diff, history, ledger
from fairaudit.cli._main import cli, main
from fairaudit.cli._review import (
    MSG_NOT_RECORDED,
    PolicyFailed,
    check_verified_approvals,
    policy_option,
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

__all__ = [
    "LEDGER_ENV",
    "MSG_NOT_RECORDED",
    "MSG_NO_HISTORY",
    "MSG_PASSPHRASE_CHOICE",
    "MSG_PASSPHRASE_ENV_UNSET",
    "PolicyFailed",
    "batch",
    "card",
    "check_verified_approvals",
    "cli",
    "diff",
    "history",
    "keygen",
    "ledger",
    "main",
    "policy_option",
    "review",
    "review_ledger",
    "sign",
    "verify",
]
