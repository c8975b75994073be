"""``fairaudit review`` and the ``--policy`` approval check of ``fairaudit verify``.

The lead registers ``review`` with ``cli.add_command(cli_review.review)``, adds
``policy_option`` to ``verify`` and calls ``check_verified_approvals(summary, policy)``
after a successful verification.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from fairaudit.cli_signing import DEFAULT_PASSPHRASE_ENV, SIGNING_KEY_ENV, _passphrase_from
from fairaudit.errors import FairauditError
from fairaudit.policy import (
    DECISIONS,
    EXIT_POLICY_FAILED,
    REVIEWER_ROLE,
    ApprovalStatus,
    check_approvals,
    load_policy,
    review_extra,
)
from fairaudit.signing import VerificationSummary, sign_report_file

__all__ = ["PolicyFailed", "check_verified_approvals", "policy_option", "review"]

F = TypeVar("F", bound=Callable[..., Any])


class PolicyFailed(click.ClickException):
    """The artifact does not meet the policy (exit status 3, as a failed policy in ``run``)."""

    exit_code = EXIT_POLICY_FAILED


@click.command()
@click.argument("report", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--key",
    "key_path",
    envvar=SIGNING_KEY_ENV,
    show_envvar=True,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Your Ed25519 private key PEM (the reviewer's, not the auditor's).",
)
@click.option(
    "--decision",
    required=True,
    type=click.Choice(DECISIONS),
    help="Approve or reject the audit for release.",
)
@click.option("--comment", default="", help="Why; signed with the decision.")
@click.option(
    "--passphrase-env",
    metavar="VAR",
    default=DEFAULT_PASSPHRASE_ENV,
    show_default=True,
    help="Environment variable holding the passphrase of an encrypted key.",
)
@click.option("--passphrase-prompt", is_flag=True, help="Prompt for the key's passphrase.")
def review(
    report: Path,
    key_path: Path,
    decision: str,
    comment: str,
    passphrase_env: str,
    passphrase_prompt: bool,
) -> None:
    """Add a signed review (approve or reject) to a report.html.

    The review is a countersignature in role "reviewer" whose signed statement carries the
    decision and comment. Verify the auditor's signature first (fairaudit verify); a policy's
    [approvals] table can then require approvals from listed reviewer keys, which
    fairaudit verify --policy checks.

    Example:

    \b
        fairaudit verify out/report.html --key keys/auditor.pub
        fairaudit review out/report.html --key keys/reviewer.key \\
            --decision approve --comment "Checked the age bands with the data owner."
    """
    try:
        signed = sign_report_file(
            report,
            key_path,
            role=REVIEWER_ROLE,
            passphrase=_passphrase_from(passphrase_env, passphrase_prompt),
            extra=review_extra(decision, comment),
        )
    except FairauditError as e:
        raise click.ClickException(str(e)) from e
    click.echo(
        f"Reviewed {signed.report}: {decision} by key {signed.key_id[:16]} at "
        f"{signed.signed_at} ({signed.signers} signature(s) in all)."
    )


def policy_option(command: F) -> F:
    """Add ``--policy FILE`` (repeatable) to a command, as ``policy: tuple[str, ...]``."""
    return click.option(
        "--policy",
        "policy",
        multiple=True,
        metavar="FILE|preset:NAME",
        help="Also check the approvals this policy requires ([approvals]); repeat to layer.",
    )(command)


def check_verified_approvals(summary: VerificationSummary, policy: Sequence[str]) -> ApprovalStatus:
    """Return the approval status after echoing it; raise PolicyFailed (exit 3) if unmet.

    Does nothing (and returns a status requiring 0) when ``policy`` is empty. A policy file
    that cannot be read or is invalid raises ``click.ClickException`` (exit 1).
    """
    try:
        status = check_approvals(summary, load_policy(policy)) if policy else None
    except FairauditError as e:
        raise click.ClickException(str(e)) from e
    if status is None:
        return ApprovalStatus(0, (), (), ())
    if not status.ok:
        raise PolicyFailed(status.describe())
    click.echo(status.describe())
    return status
