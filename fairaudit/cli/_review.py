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

from fairaudit.cli._history import LEDGER_ENV
from fairaudit.cli._signing import DEFAULT_PASSPHRASE_ENV, SIGNING_KEY_ENV, _passphrase_from
from fairaudit.display import terminal_text
from fairaudit.errors import FairauditError
from fairaudit.paths import read_regular_bytes
from fairaudit.policy import (
    DECISIONS,
    EXIT_POLICY_FAILED,
    REVIEWER_ROLE,
    ApprovalStatus,
    check_approvals,
    load_policy,
    review_extra,
)
from fairaudit.provenance import VerificationSummary, sign_report_file

__all__ = [
    "MSG_NOT_RECORDED",
    "PolicyFailed",
    "check_verified_approvals",
    "policy_option",
    "review",
    "review_ledger",
]

MSG_NOT_RECORDED = (
    "The review was signed into {report}, but not recorded in the ledger: {detail} "
    "Until it is, 'fairaudit verify --ledger' cannot tell if it is removed."
)

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
@click.option(
    "--ledger",
    "ledger_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=LEDGER_ENV,
    show_envvar=True,
    help="Audit ledger to record the review in; it must hold the audit. Default: the "
    "ledger 'fairaudit run' used (fairaudit-ledger.sqlite beside the report), if it holds it.",
)
@click.option("--no-ledger", is_flag=True, help="Do not record the review in a ledger.")
def review(
    report: Path,
    key_path: Path,
    decision: str,
    comment: str,
    passphrase_env: str,
    passphrase_prompt: bool,
    ledger_path: Path | None,
    no_ledger: bool,
) -> None:
    """Add a signed review (approve or reject) to a report.html.

    The review is a countersignature in role "reviewer" whose signed statement carries the
    decision and comment. Verify the auditor's signature first (fairaudit verify); a policy's
    [approvals] table can then require approvals from listed reviewer keys, which
    fairaudit verify --policy checks. The review is also recorded in the audit's ledger, so
    that fairaudit verify --ledger can tell if it is later removed from the report.

    Example:

    \b
        fairaudit verify out/report.html --key keys/auditor.pub
        fairaudit review out/report.html --key keys/reviewer.key \\
            --decision approve --comment "Checked the age bands with the data owner."
    """
    from fairaudit.provenance import append_review, load_private_key

    try:
        audit_id, ledger = ("", None) if no_ledger else review_ledger(report, ledger_path)
        key = load_private_key(
            key_path, passphrase=_passphrase_from(passphrase_env, passphrase_prompt)
        )
        signed = sign_report_file(
            report, key, role=REVIEWER_ROLE, extra=review_extra(decision, comment)
        )
    except FairauditError as e:
        raise click.ClickException(str(e)) from e
    click.echo(
        f"Reviewed {signed.report}: {decision} by key {signed.key_id[:16]} at "
        f"{signed.signed_at} ({signed.signers} signature(s) in all)."
    )
    if ledger is None:
        return
    try:
        entry = append_review(
            ledger,
            audit_id=audit_id,
            decision=decision,
            envelope_sha256=signed.envelope_sha256,
            signing_key=key,
        )
    except FairauditError as e:
        raise click.ClickException(MSG_NOT_RECORDED.format(report=report, detail=e)) from e
    click.echo(f"Recorded in the ledger {ledger} as entry {entry.seq}.")


def review_ledger(report: Path, ledger: Path | None) -> tuple[str, Path | None]:
    """Return the report's audit id and the ledger to record its review in (None: none).

    A ledger given must hold the audit; without one, the ledger ``fairaudit run`` would
    have used for the report is taken if it holds the audit, else none.
    """
    from fairaudit.errors import SigningError
    from fairaudit.provenance import (
        MSG_AUDIT_NOT_IN_LEDGER,
        MSG_NO_AUDIT_ID,
        MSG_NO_LEDGER,
        LedgerError,
        extract_results,
        holds_audit,
    )
    from fairaudit.publish import ledger_path_for

    try:
        html = read_regular_bytes(report)
    except OSError as e:
        raise SigningError(f"Cannot read {report}: {e.strerror}.") from e
    audit = extract_results(html).get("audit")
    audit_id = audit.get("id") if isinstance(audit, dict) else None
    if not isinstance(audit_id, str) or not audit_id:
        if ledger is not None:
            raise LedgerError(MSG_NO_AUDIT_ID)
        return "", None
    candidate = ledger_path_for(report, ledger)
    if holds_audit(candidate, audit_id):
        return audit_id, candidate
    if ledger is None:
        return audit_id, None
    if not ledger.is_file():
        raise LedgerError(MSG_NO_LEDGER.format(path=ledger))
    raise LedgerError(MSG_AUDIT_NOT_IN_LEDGER.format(path=ledger, audit=audit_id))


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
    click.echo(terminal_text(status.describe()))
    return status
