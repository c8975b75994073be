"""``fairaudit review`` and the ``--policy`` approval check of ``fairaudit verify``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fairaudit.cli._command import Command, user_errors
from fairaudit.cli._options import (
    ledger_option,
    no_ledger_option,
    passphrase_from,
    passphrase_options,
    private_key_option,
)
from fairaudit.display import terminal_text
from fairaudit.errors import FairauditError, PolicyFailed
from fairaudit.paths import read_regular_bytes
from fairaudit.policy import (
    DECISIONS,
    REVIEWER_ROLE,
    ApprovalStatus,
    check_approvals,
    load_policy,
    review_extra,
)

if TYPE_CHECKING:
    from fairaudit.provenance import VerificationSummary

__all__ = ["MSG_NOT_RECORDED", "check_verified_approvals", "review", "review_ledger"]

MSG_NOT_RECORDED = (
    "The review was signed into {report}, but not recorded in the ledger: {detail} "
    "Until it is, 'fairaudit verify --ledger' cannot tell if it is removed."
)


@click.command(cls=Command)
@click.argument("report", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@private_key_option("Your Ed25519 private key PEM (the reviewer's, not the auditor's).")
@click.option(
    "--decision",
    required=True,
    type=click.Choice(DECISIONS),
    help="Approve or reject the audit for release.",
)
@click.option("--comment", default="", help="Why; signed with the decision.")
@passphrase_options
@ledger_option(
    "Audit ledger to record the review in; it must hold the audit. Default: the ledger "
    "'fairaudit run' or 'fairaudit data' used (fairaudit-ledger.sqlite beside the report), "
    "if it holds it."
)
@no_ledger_option("Do not record the review in a ledger.")
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
    # provenance (cryptography) is imported by the commands that sign or verify only.
    from fairaudit.provenance import append_review, load_private_key, sign_report_file

    audit_id, ledger = ("", None) if no_ledger else review_ledger(report, ledger_path)
    key = load_private_key(key_path, passphrase=passphrase_from(passphrase_env, passphrase_prompt))
    signed = sign_report_file(
        report, key, role=REVIEWER_ROLE, extra=review_extra(decision, comment)
    )
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
        # The user must know that the report itself was signed all the same.
        raise FairauditError(MSG_NOT_RECORDED.format(report=report, detail=e)) from e
    click.echo(f"Recorded in the ledger {ledger} as entry {entry.seq}.")


def review_ledger(report: Path, ledger: Path | None) -> tuple[str, Path | None]:
    """Return the report's audit id and the ledger to record its review in (None: none).

    A ledger given must hold the audit; without one, the ledger ``fairaudit run`` (or
    ``fairaudit data``) would have used for the report is taken if it holds it, else none.
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


def check_verified_approvals(summary: VerificationSummary, policy: Sequence[str]) -> ApprovalStatus:
    """Return the approval status after echoing it; raise PolicyFailed (exit 3) if unmet.

    Does nothing (and returns a status requiring 0) when ``policy`` is empty. A policy file
    that cannot be read or is invalid exits 1. For any click command, not only ours: the
    errors go through the CLI's one handler here.
    """
    with user_errors():
        status = check_approvals(summary, load_policy(policy)) if policy else None
        if status is not None and not status.ok:
            raise PolicyFailed(status.describe())
    if status is None:
        return ApprovalStatus(0, (), (), ())
    click.echo(terminal_text(status.describe()))
    return status
