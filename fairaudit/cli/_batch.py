"""The ``fairaudit batch`` and ``fairaudit card`` commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fairaudit.cli._command import Command
from fairaudit.cli._options import (
    jobs_option,
    quiet_option,
    sign_key_option,
    signing_key,
)
from fairaudit.display import terminal_text

if TYPE_CHECKING:
    from fairaudit.batch import AuditOutcome

__all__ = ["batch", "card"]


@click.command(cls=Command)
@click.argument("manifest", type=click.Path(path_type=Path))
@jobs_option(
    "Audits to run at once, each in its own process (default: the number of cores; "
    "1 runs them one after another in this process)."
)
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(path_type=Path),
    help="Folder for the reports and the index (default: the manifest's output_dir, "
    "else 'reports' beside the manifest). Created if missing.",
)
@sign_key_option(
    "Ed25519 private key (PEM) to sign every report with; overrides the manifest's "
    "sign_key [env FAIRAUDIT_SIGNING_KEY; passphrase from FAIRAUDIT_KEY_PASSPHRASE]."
)
@click.option(
    "--ledger",
    type=click.Path(path_type=Path),
    help="Audit ledger to append each audit to (overrides the manifest's ledger).",
)
@quiet_option
def batch(
    manifest: Path,
    jobs: int | None,
    output_dir: Path | None,
    sign_key: Path | None,
    ledger: Path | None,
    quiet: bool,
) -> None:
    """Run every audit of a TOML manifest and write their reports plus an index.

    Each [[audit]] table takes the options of an audit config (or config = "path",
    relative to the manifest); keys at the top are shared defaults, plus output_dir,
    sign_key and ledger. An [[audit]] with kind = "data" is a data audit and takes the
    options of 'fairaudit data' (docs/batch.md). The index (index.html and index.json in
    the output folder) lists every audit: its kind, verdict, headline, signature status
    and a link to its report, or its error.

    One failing audit does not stop the others. Exit status, by severity: 1 if any
    audit errored, else 3 if any failed its policy, else 0 (2 is a usage error).

    Example:

        fairaudit batch audits.toml --jobs 4 -o reports/
    """
    from fairaudit.batch import (
        check_manifest_files,
        load_manifest,
        outcome_line,
        run_batch,
        write_index,
    )

    progress = None
    if not quiet and sys.stderr.isatty():

        def progress(outcome: AuditOutcome, finished: int, total: int) -> None:
            click.echo(terminal_text(outcome_line(outcome, finished, total)), err=True)

    parsed = load_manifest(manifest, output_dir=output_dir, sign_key=sign_key, ledger=ledger)
    check_manifest_files(parsed)
    private_key = signing_key(parsed.sign_key)
    result = run_batch(parsed, jobs=jobs, sign_key=private_key, progress=progress)
    html_path, json_path = write_index(result)
    for outcome in result.outcomes:
        if outcome.status == "error":
            line = f"Error: audit {outcome.index} ({outcome.name}): {outcome.error}"
            click.echo(terminal_text(line), err=True)
    if not quiet:
        counts = result.counts()
        click.echo(
            f"Wrote {html_path} and {json_path}: {counts['passed']} passed, "
            f"{counts['policy_failed']} failed their policy, {counts['error']} errored"
        )
    if result.exit_code:
        sys.exit(result.exit_code)


@click.command(cls=Command)
@click.argument("report", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "card_format",
    type=click.Choice(["huggingface", "mct", "markdown"]),
    default="huggingface",
    show_default=True,
    help="huggingface: a README.md model card (front matter model-index + a section); "
    "mct: Model Card Toolkit JSON (schema v0.0.2); markdown: a section for any card.",
)
@click.option(
    "--card",
    "card_path",
    type=click.Path(path_type=Path),
    help="Card to update in place between the fairaudit markers (created if missing); "
    "without it the card is printed (huggingface, markdown).",
)
@click.option(
    "--report",
    "report_html",
    type=click.Path(path_type=Path),
    help="The report file whose SHA-256 and signatures the card cites "
    "(default: the .html beside REPORT, if present).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="With --format mct: write the JSON here instead of printing it.",
)
@click.option(
    "--dataset-name",
    help="Name of the evaluation data in the card (default: the audit's dataset_name, "
    "else the data file's name).",
)
@click.option(
    "--dataset-type",
    help="Its type, e.g. a Hugging Face dataset id (default: the audit's dataset_type, "
    "else the name).",
)
def card(
    report: Path,
    card_format: str,
    card_path: Path | None,
    report_html: Path | None,
    output: Path | None,
    dataset_name: str | None,
    dataset_type: str | None,
) -> None:
    """Export an audit's fairness results to a model card.

    REPORT is a report.json (or a report.html, whose embedded results are read). Updating
    a card is idempotent: only the text between the fairaudit markers changes, and a
    second run with the same report changes nothing. In a Hugging Face card every other
    front-matter key, comment and line stays as it was.

    Example:

        fairaudit card report.json --format huggingface --card README.md

        fairaudit card report.json --format mct -o model_card.json
    """
    from fairaudit.outputs import export_card
    from fairaudit.paths import FileRole, atomic_write_bytes, check_file_roles

    if card_format == "mct" and card_path is not None:
        raise click.UsageError("--card goes with huggingface and markdown; for mct use -o FILE")
    if card_format != "mct" and output is not None:
        raise click.UsageError("-o goes with --format mct; to update a card use --card FILE")
    written = card_path if card_path is not None else output
    check_file_roles(
        [FileRole("--card" if card_path else "-o", written)] if written else [],
        [FileRole("report", p) for p in (report, report.with_suffix(".html"))]
        + [FileRole("report", report.with_suffix(".json"))]
        + ([FileRole("--report", report_html)] if report_html is not None else []),
    )
    text = export_card(
        report,
        format=card_format,  # type: ignore[arg-type]
        card=card_path,
        report_html=report_html,
        dataset_name=dataset_name,
        dataset_type=dataset_type,
    )
    if output is not None:
        atomic_write_bytes(output, text.encode("utf-8"))
    if card_path is None and output is None:
        click.echo(text, nl=False)
    else:
        click.echo(f"Wrote {card_path or output}", err=True)
