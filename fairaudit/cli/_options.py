"""Options that several commands take, each defined once (``@ledger_option(...)`` and so on).

A decorator that takes ``help`` is one option whose meaning the command words for itself
(where to record, what to print); the rest of its definition is shared.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = [
    "LEDGER_ENV",
    "PASSPHRASE_ENV",
    "SIGNING_KEY_ENV",
    "engine_option",
    "verdict_options",
    "jobs_option",
    "json_option",
    "ledger_option",
    "mitigation_detail_option",
    "no_ledger_option",
    "parse_bins",
    "parse_edges",
    "parse_pairs",
    "junit_option",
    "page_record_options",
    "passphrase_from",
    "signing_key",
    "passphrase_options",
    "policy_option",
    "private_key_option",
    "quiet_option",
    "sign_key_option",
    "trusted_keys_options",
]

#: Environment variable naming a shared ledger (the default is ./fairaudit-ledger.sqlite).
LEDGER_ENV = "FAIRAUDIT_LEDGER"
#: Environment variable naming the private key to sign with.
SIGNING_KEY_ENV = "FAIRAUDIT_SIGNING_KEY"
#: Environment variable holding the passphrase of an encrypted private key.
PASSPHRASE_ENV = "FAIRAUDIT_KEY_PASSPHRASE"

F = TypeVar("F", bound=Callable[..., Any])
Decorator = Callable[[F], F]


def passphrase_from(env_var: str, prompt: bool) -> Callable[[], bytes]:
    """Return a callable the key loader asks only if the key is encrypted."""

    def ask() -> bytes:
        if prompt:
            return str(click.prompt("Key passphrase", hide_input=True)).encode("utf-8")
        return os.environ.get(env_var, "").encode("utf-8")

    return ask


def signing_key(path: Path | None) -> Any:
    """Return the ``--sign-key`` private key, loaded before the work runs (a wrong key or
    passphrase fails fast; the passphrase from FAIRAUDIT_KEY_PASSPHRASE), or None."""
    if path is None:
        return None
    from fairaudit.provenance import load_private_key

    return load_private_key(path, passphrase=passphrase_from(PASSPHRASE_ENV, False))


def private_key_option(help: str) -> Decorator[Any]:
    """``--key`` as ``key_path``: the signer's private key PEM, from FAIRAUDIT_SIGNING_KEY."""
    return click.option(
        "--key",
        "key_path",
        envvar=SIGNING_KEY_ENV,
        show_envvar=True,
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help=help,
    )


def passphrase_options(command: F) -> F:
    """Add ``--passphrase-env VAR`` and ``--passphrase-prompt`` for an encrypted private key."""
    command = click.option(
        "--passphrase-prompt", is_flag=True, help="Prompt for the key's passphrase."
    )(command)
    return click.option(
        "--passphrase-env",
        metavar="VAR",
        default=PASSPHRASE_ENV,
        show_default=True,
        help="Environment variable holding the passphrase of an encrypted key.",
    )(command)


def trusted_keys_options(command: F) -> F:
    """Add ``--key`` (``key_paths``) and ``--keys-dir`` (``key_dirs``): trusted public keys."""
    command = click.option(
        "--keys-dir",
        "key_dirs",
        multiple=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="A directory of trusted public keys (*.pub, *.pem).",
    )(command)
    return click.option(
        "--key",
        "key_paths",
        multiple=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="A trusted public key PEM; repeat for several.",
    )(command)


def sign_key_option(help: str) -> Decorator[Any]:
    """``--sign-key``: the private key to sign reports with as they are written."""
    return click.option(
        "--sign-key",
        type=click.Path(path_type=Path),
        envvar=SIGNING_KEY_ENV,
        help=help,
    )


def ledger_option(help: str, *, default: str | None = None) -> Decorator[Any]:
    """``--ledger`` as ``ledger_path``: a ledger file, from FAIRAUDIT_LEDGER when not given."""
    return click.option(
        "--ledger",
        "ledger_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar=LEDGER_ENV,
        show_envvar=True,
        default=default,
        show_default=default is not None,
        help=help,
    )


def no_ledger_option(help: str) -> Decorator[Any]:
    """``--no-ledger``: record nothing in a ledger."""
    return click.option("--no-ledger", is_flag=True, help=help)


def junit_option(help: str) -> Decorator[Any]:
    """``--junit`` as ``junit_path``: also write JUnit XML there."""
    return click.option(
        "--junit", "junit_path", type=click.Path(dir_okay=False, path_type=Path), help=help
    )


def page_record_options(thing: str) -> Callable[[F], F]:
    """``--ledger``, ``--no-ledger`` and ``--sign-key`` of a command that writes one signed
    page (``fairaudit data``, ``fairaudit monitor``); ``thing``: what the ledger records."""

    def add(command: F) -> F:
        command = sign_key_option(
            "Ed25519 private key (PEM) to sign the page with "
            "[env FAIRAUDIT_SIGNING_KEY; passphrase from FAIRAUDIT_KEY_PASSPHRASE]."
        )(command)
        command = no_ledger_option(f"Do not record the {thing} in a ledger.")(command)
        return ledger_option(
            f"Audit ledger (SQLite) to record the {thing} in [default: fairaudit-ledger.sqlite "
            "in the output folder]."
        )(command)

    return add


def engine_option(*, spark: bool = True) -> Decorator[Any]:
    """``--engine``: where the counting pass runs (``fairaudit run`` and ``fairaudit data``;
    ``spark=False``: without the Spark engine). Unset means auto, resolved by the engines."""
    choices = ["auto", "numpy", "duckdb", *(["spark"] if spark else [])]
    where = ", spark (a Parquet path or spark:db.table)" if spark else ""
    return click.option(
        "--engine",
        type=click.Choice(choices),
        help="Where the counting pass runs: numpy (in memory), duckdb (out of core, any size "
        f"of CSV/Parquet){where}. Default auto: numpy while the file fits comfortably in "
        "memory, else duckdb.",
    )


def policy_option(command: F | None = None, *, help: str | None = None) -> Any:
    """Add ``--policy FILE`` (repeatable) to a command, as ``policy: tuple[str, ...]``.

    ``@policy_option`` checks the approvals; ``@policy_option(help=...)`` words its own use.
    """
    option = click.option(
        "--policy",
        "policy",
        multiple=True,
        metavar="FILE|preset:NAME",
        help=help
        or "Also check the approvals this policy requires ([approvals]); repeat to layer. "
        "Exit status 3 if they are missing.",
    )
    return option if command is None else option(command)


def verdict_options(command: F) -> F:
    """Add ``--fail-on`` and ``--not-evaluable`` (how a policy's verdict becomes the exit
    status), as ``fail_on`` and ``not_evaluable``; unset, each is None (the default)."""
    command = click.option(
        "--not-evaluable",
        type=click.Choice(["warn", "fail"]),
        help="How rules that cannot be evaluated count in the verdict (default: the policy's, "
        "warn).",
    )(command)
    return click.option(
        "--fail-on",
        type=click.Choice(["fail", "warn"]),
        help="Exit with status 3 when the verdict is this bad or worse (default: fail).",
    )(command)


def json_option(help: str) -> Decorator[Any]:
    """``--json`` as ``as_json``: print JSON instead of text."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def jobs_option(help: str) -> Decorator[Any]:
    """``-j/--jobs N``: how many processes work at once."""
    return click.option("-j", "--jobs", type=click.IntRange(min=1), help=help)


def mitigation_detail_option(command: F) -> F:
    """Add ``--mitigation-detail summary|full``: how much of each mitigation variant to keep."""
    from fairaudit.spec import MITIGATION_DETAILS

    return click.option(
        "--mitigation-detail",
        type=click.Choice(MITIGATION_DETAILS),
        help="How much of each mitigation variant the JSON keeps: summary (each group's "
        "counts and metrics, the headline and overall numbers with intervals) or full (also "
        "its disparity table and every group's intervals). Default: summary.",
    )(command)


def quiet_option(command: F) -> F:
    """Add ``-q/--quiet``: no progress or summary output."""
    return click.option("-q", "--quiet", is_flag=True, help="No progress or summary output.")(
        command
    )


def parse_pairs(values: tuple[str, ...], flag: str) -> dict[str, str]:
    """Return ``{FEATURE: VALUE}`` from a repeated ``FEATURE=VALUE`` option (``--reference``)."""
    pairs = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.UsageError(
                f"{flag} takes FEATURE=VALUE, e.g. {flag} sex=male; got {item!r}"
            )
        pairs[key] = value
    return pairs


def parse_edges(text: str) -> list[float]:
    """Return the bin edges of ``E1,E2,...`` (empty when one is not a number)."""
    try:
        return [float(e) for e in text.split(",") if e.strip()]
    except ValueError:
        return []


def parse_bins(values: tuple[str, ...], flag: str = "--bins") -> dict[str, list[float]]:
    """Return ``{FEATURE: edges}`` from a repeated ``FEATURE=E1,E2,...`` option."""
    bins = {}
    for item in values:
        feature, sep, edges = item.partition("=")
        parsed = parse_edges(edges)
        if not sep or not feature or not parsed:
            raise click.UsageError(
                f"{flag} takes FEATURE=EDGE,EDGE,..., e.g. {flag} age=25,40,60; got {item!r}"
            )
        bins[feature] = parsed
    return bins
