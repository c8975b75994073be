"""``fairaudit ledger verify|head``, ``history`` and ``diff``: thin commands over ledger and diff.

The lead registers them on the main group with ``cli.add_command(...)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from fairaudit.display import terminal_json, terminal_text
from fairaudit.errors import FairauditError

__all__ = ["LEDGER_ENV", "MSG_NO_HISTORY", "diff", "history", "ledger"]

#: Environment variable naming a shared ledger (the default is ./fairaudit-ledger.sqlite).
LEDGER_ENV = "FAIRAUDIT_LEDGER"

MSG_NO_HISTORY = "No audits of model {name!r} in {path}; models recorded: {known}."
MSG_HISTORY_UNVERIFIED = "Warning: the ledger does not verify. {problem}"


def _ledger_option(func: Any) -> Any:
    return click.option(
        "--ledger",
        "ledger_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar=LEDGER_ENV,
        show_envvar=True,
        default="fairaudit-ledger.sqlite",
        show_default=True,
        help="The ledger file (SQLite).",
    )(func)


@click.group()
def ledger() -> None:
    """Check the audit ledger: the hash-chained record of every audit run.

    Example:

    \b
        fairaudit ledger verify out/fairaudit-ledger.sqlite --key keys/auditor.pub
        fairaudit ledger head out/fairaudit-ledger.sqlite
    """


@ledger.command("verify")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--expect-head",
    metavar="HASH",
    help="A head hash noted earlier ('fairaudit ledger head'): fail unless it is still in the "
    "chain (catches a truncated or rewritten ledger).",
)
@click.option(
    "--key",
    "key_paths",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A trusted public key PEM; repeat for several. With keys, every entry must be "
    "signed by one of them.",
)
@click.option(
    "--keys-dir",
    "key_dirs",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A directory of trusted public keys (*.pub, *.pem).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verification report as JSON.")
def ledger_verify(
    path: Path,
    expect_head: str | None,
    key_paths: tuple[Path, ...],
    key_dirs: tuple[Path, ...],
    as_json: bool,
) -> None:
    """Check that no ledger entry was edited, deleted, reordered or inserted.

    Exit status 0 and a summary line (entries, head hash) if the chain is intact; otherwise
    1 and the first problem.

    Example:

    \b
        fairaudit ledger verify out/fairaudit-ledger.sqlite
        fairaudit ledger verify ledger.sqlite --expect-head 3f2a... --keys-dir trusted/
    """
    from fairaudit.provenance import load_trusted_keys, verify_ledger

    try:
        trusted = load_trusted_keys(key_paths, key_dirs) if key_paths or key_dirs else None
        report = verify_ledger(path, trusted_keys=trusted, expect_head=expect_head)
    except FairauditError as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    if not report.ok:
        raise click.ClickException(terminal_text(report.describe()))
    if not as_json:
        click.echo(terminal_text(report.describe()))


@ledger.command("head")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def head(path: Path) -> None:
    """Print the hash of the ledger's last entry; keep it to check the ledger later.

    An empty ledger's head is 64 zeros. The hash is printed whether or not the chain
    verifies: check it with 'fairaudit ledger verify'.

    Example:

    \b
        fairaudit ledger head out/fairaudit-ledger.sqlite > ledger-head.txt
        fairaudit ledger verify out/fairaudit-ledger.sqlite --expect-head "$(cat ledger-head.txt)"
    """
    from fairaudit.provenance import ledger_head

    try:
        click.echo(ledger_head(path))
    except FairauditError as e:
        raise click.ClickException(str(e)) from e


def _history_table(entries: list[Any]) -> str:
    header = ("seq", "created", "version", "verdict", "audit", "data", "model", "report", "signer")
    rows = [header]
    previous = None
    for e in entries:
        data = (e.data_sha256 or "-")[:12]
        model = (e.model_sha256 or "-")[:12]
        # Mark what changed since the model's previous audit: the usual question in a history.
        if previous is not None:
            data += "*" if e.data_sha256 != previous.data_sha256 else ""
            model += "*" if e.model_sha256 != previous.model_sha256 else ""
        rows.append(
            (
                str(e.seq),
                e.created_at or "-",
                e.model_version or "-",
                e.verdict or "-",
                e.audit_id[:12],
                data,
                model,
                e.report_sha256[:12],
                (e.key_id or "-")[:16],
            )
        )
        previous = e
    shown = [[terminal_text(cell) for cell in row] for row in rows]  # values from the file
    widths = [max(len(row[i]) for row in shown) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in shown]
    return "\n".join(lines)


@click.command()
@click.argument("name")
@_ledger_option
@click.option("--json", "as_json", is_flag=True, help="Print the entries as a JSON list.")
def history(name: str, ledger_path: Path, as_json: bool) -> None:
    """List the audits of model NAME over time, oldest first, from the ledger.

    A * after a data or model digest marks a change since the model's previous audit. A
    warning goes to stderr if the ledger's chain does not verify.

    Example:

    \b
        fairaudit history german-credit-logreg --ledger out/fairaudit-ledger.sqlite
        fairaudit history german-credit-logreg --json
    """
    from fairaudit.provenance import model_history, model_names, verify_ledger

    try:
        entries = model_history(ledger_path, name)
        if not entries:
            known = ", ".join(repr(n) for n in model_names(ledger_path)) or "none"
            raise click.ClickException(
                MSG_NO_HISTORY.format(name=name, path=ledger_path, known=known)
            )
        report = verify_ledger(ledger_path)
    except FairauditError as e:
        raise click.ClickException(str(e)) from e
    if not report.ok:
        problem = terminal_text(report.problems[0].message)
        click.echo(MSG_HISTORY_UNVERIFIED.format(problem=problem), err=True)
    if as_json:
        click.echo(json.dumps([e.to_dict() for e in entries], indent=2))
    else:
        click.echo(_history_table(entries))


@click.command("diff")
@click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the diff as JSON.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a self-contained HTML page of the diff.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Leave out changes this small or smaller (absolute).",
)
@click.option(
    "--all", "show_all", is_flag=True, help="Also list changes within their intervals (text)."
)
def diff(
    old: Path, new: Path, as_json: bool, html_path: Path | None, threshold: float, show_all: bool
) -> None:
    """Compare two audits (report .html or .json): what moved, and whether beyond noise.

    A number moved beyond its intervals when its old and new confidence intervals do not
    overlap. Also shows the verdict change and groups that appeared or disappeared. Exit
    status 0 whatever changed; 1 if an input cannot be read.

    Example:

    \b
        fairaudit diff reports/v1/report.html reports/v2/report.html
        fairaudit diff old.json new.json --json --threshold 0.01
        fairaudit diff old.html new.html --html diff.html
    """
    from fairaudit.outputs import diff_results, format_text, load_results, write_diff_html

    try:
        if html_path is not None:  # never over either report, whichever twin was named
            from fairaudit.paths import FileRole, check_file_roles

            reports = [p.with_suffix(s) for p in (old, new) for s in (".html", ".json")]
            check_file_roles(
                [FileRole("--html", html_path)],
                [FileRole("report", p) for p in [old, new, *reports]],
            )
        result = diff_results(load_results(old), load_results(new), threshold=threshold)
        if html_path is not None:
            write_diff_html(result, html_path)
    except FairauditError as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        click.echo(terminal_json(result.to_dict(), indent=2))
    else:
        click.echo(format_text(result, show_all=show_all))
        if html_path is not None:
            click.echo(f"Wrote {html_path}")
