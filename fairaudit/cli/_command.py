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

__all__ = ["Command", "CommandError", "Group", "user_errors"]


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


class Command(click.Command):
    """A click command whose library errors go through :func:`user_errors`."""

    def invoke(self, ctx: click.Context) -> Any:
        with user_errors():
            return super().invoke(ctx)


class Group(click.Group):
    """A click group whose commands and subgroups are :class:`Command` and :class:`Group`."""

    command_class = Command
    group_class = type  # subgroups are of the same class as their parent
