"""``fairaudit keygen``, ``sign`` and ``verify``: thin click commands over fairaudit.provenance."""

from __future__ import annotations

import os
from pathlib import Path

import click

from fairaudit.cli._command import Command
from fairaudit.cli._options import (
    passphrase_from,
    passphrase_options,
    policy_option,
    private_key_option,
    trusted_keys_options,
)
from fairaudit.display import terminal_text
from fairaudit.errors import ConfigError

__all__ = ["MSG_PASSPHRASE_CHOICE", "MSG_PASSPHRASE_ENV_UNSET", "keygen", "sign", "verify"]

MSG_PASSPHRASE_ENV_UNSET = "Environment variable {name} is not set or empty."
MSG_PASSPHRASE_CHOICE = "Use either --passphrase-env or --passphrase-prompt, not both."
#: The type of a file argument or option that must exist (REPORT, --detached, --ledger, --data).
EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command(cls=Command)
@click.option(
    "-o",
    "--output-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the key files (created if missing).",
)
@click.option(
    "--name", default="fairaudit", show_default=True, help="File name stem: NAME.key, NAME.pub."
)
@click.option(
    "--passphrase-env",
    metavar="VAR",
    help="Encrypt the private key with the passphrase in environment variable VAR.",
)
@click.option(
    "--passphrase-prompt", is_flag=True, help="Encrypt the private key with a prompted passphrase."
)
def keygen(
    output_dir: Path, name: str, passphrase_env: str | None, passphrase_prompt: bool
) -> None:
    """Write a new Ed25519 key pair for signing reports.

    NAME.key is the private key (PKCS#8 PEM, mode 0600): keep it secret. NAME.pub is the
    public key (SubjectPublicKeyInfo PEM): give it to whoever verifies your reports. The key
    id printed is the SHA-256 of the DER public key.

    Example:

    \b
        fairaudit keygen -o ~/.fairaudit/keys --name auditor
        FAIRAUDIT_KEY_PASSPHRASE=... fairaudit keygen -o keys \\
            --passphrase-env FAIRAUDIT_KEY_PASSPHRASE
    """
    if passphrase_env and passphrase_prompt:
        raise click.UsageError(MSG_PASSPHRASE_CHOICE)
    passphrase: bytes | None = None
    if passphrase_env:
        value = os.environ.get(passphrase_env, "")
        if not value:
            raise ConfigError(MSG_PASSPHRASE_ENV_UNSET.format(name=passphrase_env))
        passphrase = value.encode("utf-8")
    elif passphrase_prompt:
        value = click.prompt("New key passphrase", hide_input=True, confirmation_prompt=True)
        passphrase = str(value).encode("utf-8")
    # provenance (cryptography, 40 ms) is imported here: --version and --help never need it.
    from fairaudit.provenance import generate_key_pair

    files = generate_key_pair(output_dir, name=name, passphrase=passphrase)
    click.echo(f"Private key: {files.private_key} (keep it secret)")
    click.echo(f"Public key:  {files.public_key}")
    click.echo(f"Key id:      {files.key_id}")


@click.command(cls=Command)
@click.argument("report", type=EXISTING_FILE)
@private_key_option(
    "Ed25519 private key PEM (fairaudit keygen, or openssl genpkey -algorithm ed25519)."
)
@click.option(
    "--role",
    default="auditor",
    show_default=True,
    help="Your role, signed with the report: auditor, reviewer or free text.",
)
@passphrase_options
@click.option(
    "--detached-only",
    is_flag=True,
    help="Leave the report untouched; write only REPORT.intoto.jsonl beside it.",
)
def sign(
    report: Path,
    key_path: Path,
    role: str,
    passphrase_env: str,
    passphrase_prompt: bool,
    detached_only: bool,
) -> None:
    """Sign a report.html, or countersign one that is already signed.

    The signature is appended to the report as a one-line comment after </html> and also
    written to REPORT.intoto.jsonl. Set SOURCE_DATE_EPOCH for a reproducible signature.

    Example:

    \b
        fairaudit sign out/report.html --key keys/auditor.key
        fairaudit sign out/report.html --key keys/reviewer.key --role reviewer
    """
    from fairaudit.provenance import sign_report_file

    signed = sign_report_file(
        report,
        key_path,
        role=role,
        passphrase=passphrase_from(passphrase_env, passphrase_prompt),
        embed=not detached_only,
    )
    where = signed.detached if detached_only else f"{signed.report} and {signed.detached}"
    click.echo(
        f"Signed {where} as {role} with key {signed.key_id[:16]} at {signed.signed_at} "
        f"({signed.signers} signature(s) in all)."
    )


@click.command(cls=Command)
@click.argument("report", type=EXISTING_FILE)
@trusted_keys_options
@click.option(
    "--require-signers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Fail unless at least N distinct trusted keys signed.",
)
@click.option(
    "--detached",
    type=EXISTING_FILE,
    help="Detached envelopes (.intoto.jsonl); default: REPORT.intoto.jsonl if REPORT has none.",
)
@policy_option
@click.option(
    "--ledger",
    "ledger_path",
    type=EXISTING_FILE,
    help="The audit's ledger: fail unless every review it records for this audit is still "
    "in the report (a removed countersignature is detectable only this way).",
)
@click.option(
    "--data",
    "data_path",
    type=EXISTING_FILE,
    help="A data file: fail unless it is the data the signed report names (the audited file "
    "of a data audit, the evaluation data of a model audit), by SHA-256.",
)
def verify(
    report: Path,
    key_paths: tuple[Path, ...],
    key_dirs: tuple[Path, ...],
    require_signers: int,
    detached: Path | None,
    policy: tuple[str, ...],
    ledger_path: Path | None,
    data_path: Path | None,
) -> None:
    """Check a signed report.html against trusted public keys.

    Every signature must be by a trusted key and cover the report's exact bytes. With
    --ledger, every review the ledger records for the audit must still be in the report;
    with --data, the file must be the data the report is about.
    Exit status 0 and a one-line summary if so; otherwise 1 and the reason (3 when the
    approvals a --policy requires are missing).

    Example:

    \b
        fairaudit verify out/report.html --key keys/auditor.pub
        fairaudit verify out/report.html --keys-dir trusted/ --require-signers 2
        fairaudit verify out/report.html --keys-dir trusted/ \\
            --ledger out/fairaudit-ledger.sqlite --policy release.toml
        fairaudit verify data-report.html --key keys/auditor.pub --data train.csv
    """
    from fairaudit.provenance import load_trusted_keys, verify_report_file

    trusted = load_trusted_keys(key_paths, key_dirs)
    summary = verify_report_file(
        report, trusted, require_signers=require_signers, detached=detached
    )
    recorded = None
    if ledger_path is not None:
        from fairaudit.provenance import check_reviews_recorded

        recorded = check_reviews_recorded(summary, ledger_path)
    data_sha256 = None
    if data_path is not None:
        from fairaudit.provenance import check_data_file

        data_sha256 = check_data_file(summary, data_path)
    click.echo(terminal_text(summary.describe()))  # names and roles from the signed file
    for signer in summary.signers:  # a review's decision and comment, one line each
        click.echo(terminal_text(signer.describe()))
    if recorded is not None:
        click.echo(f"Ledger: all {recorded} review(s) it records for this audit are present.")
    if data_sha256 is not None:
        shown = terminal_text(str(data_path))
        click.echo(f"Data: {shown} is the data the report is about (sha256 {data_sha256}).")
    if policy:
        # Imported only here: plain verification stays free of the metrics stack.
        from fairaudit.cli._review import check_verified_approvals

        check_verified_approvals(summary, policy)
