"""The one error handler of the command line, and the click classes that apply it.

Any :class:`~fairaudit.errors.FairauditError` a command raises becomes one line on stderr,
``Error: <message>`` (through the terminal display rule: messages quote values from files),
and the exception's own ``exit_code``, exactly as click shows its own exceptions. No command
catches library errors itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from fairaudit.display import terminal_text
from fairaudit.errors import FairauditError

__all__ = ["HELP_OPTION_NAMES", "Command", "CommandError", "Group", "user_errors"]

#: Every command, also one invoked on its own (as tests and embedding programs do), takes -h.
HELP_OPTION_NAMES = ["-h", "--help"]


class CommandError(click.ClickException):
    """A library error as click shows it: ``Error: <message>``, exit status ``exit_code``."""

    def __init__(self, error: FairauditError) -> None:
        super().__init__(terminal_text(str(error)))
        # click types exit_code as a class variable, yet reads it from the instance.
        self.exit_code = error.exit_code  # type: ignore[misc]


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a :class:`FairauditError` raised inside into a :class:`CommandError`."""
    try:
        yield
    except FairauditError as exc:
        raise CommandError(exc) from exc


def _context_settings(settings: dict[str, Any] | None) -> dict[str, Any]:
    return {"help_option_names": HELP_OPTION_NAMES, **(settings or {})}


class Command(click.Command):
    """A click command whose library errors go through :func:`user_errors`."""

    def __init__(
        self, name: str | None, context_settings: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        super().__init__(name, context_settings=_context_settings(context_settings), **kw)

    def invoke(self, ctx: click.Context) -> Any:
        with user_errors():
            return super().invoke(ctx)


class Group(click.Group):
    """A click group whose commands and subgroups are :class:`Command` and :class:`Group`."""

    command_class = Command
    group_class = type  # subgroups are of the same class as their parent

    def __init__(
        self, name: str | None = None, context_settings: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        super().__init__(name, context_settings=_context_settings(context_settings), **kw)
