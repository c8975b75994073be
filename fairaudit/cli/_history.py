"""``fairaudit ledger verify|head``, ``history`` and ``diff``: thin commands over the ledger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from fairaudit.cli._command import Command, Group
from fairaudit.cli._options import json_option, ledger_option, trusted_keys_options
from fairaudit.display import terminal_json, terminal_text
from fairaudit.errors import VerificationError

__all__ = ["MSG_NO_HISTORY", "diff", "history", "ledger"]

MSG_NO_HISTORY = "No audits named {name!r} in {path}; names recorded: {known}."
MSG_NO_KIND_HISTORY = "No {kind} audits named {name!r} in {path}; {kind} audits recorded: {known}."
MSG_HISTORY_UNVERIFIED = "Warning: the ledger does not verify. {problem}"
KINDS = ("model", "data", "monitor")  # = provenance.ENTRY_KINDS, not imported at start-up
#: The number a history shows of each task's audit (issue 17), from its report's headline:
#: the metric, which value across groupings (and classes) is the worst, and its short name.
HISTORY_HEADLINE = {
    "binary": ("demographic_parity_ratio", min, "DP ratio"),
    "multiclass": ("demographic_parity_ratio", min, "DP ratio"),
    "regression": ("ks_statistic", max, "KS"),
}


def kind_option(what: str) -> Any:
    """``--kind model|data|monitor``: only the entries of one kind of audit."""
    return click.option(
        "--kind",
        type=click.Choice(KINDS),
        help=f"Only {what} of this kind: model audits (fairaudit run), data audits "
        "(fairaudit data) or monitor runs (fairaudit monitor).",
    )


@click.group(cls=Group)
def ledger() -> None:
    """Check the audit ledger: the hash-chained record of every audit run.

    Example:

    \b
        fairaudit ledger verify out/fairaudit-ledger.sqlite --key keys/auditor.pub
        fairaudit ledger head out/fairaudit-ledger.sqlite
        fairaudit ledger list out/fairaudit-ledger.sqlite --kind data
    """


@ledger.command("verify")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--expect-head",
    metavar="HASH",
    help="A head hash noted earlier ('fairaudit ledger head'): fail unless it is still in the "
    "chain (catches a truncated or rewritten ledger).",
)
@trusted_keys_options
@json_option("Print the verification report as JSON.")
def ledger_verify(
    path: Path,
    expect_head: str | None,
    key_paths: tuple[Path, ...],
    key_dirs: tuple[Path, ...],
    as_json: bool,
) -> None:
    """Check that no ledger entry was edited, deleted, reordered or inserted.

    With trusted keys (--key, --keys-dir), every entry must also be signed by one of them.
    Exit status 0 and a summary line (entries, head hash) if the chain is intact; otherwise
    1 and the first problem.

    Example:

    \b
        fairaudit ledger verify out/fairaudit-ledger.sqlite
        fairaudit ledger verify ledger.sqlite --expect-head 3f2a... --keys-dir trusted/
    """
    from fairaudit.provenance import load_trusted_keys, verify_ledger

    trusted = load_trusted_keys(key_paths, key_dirs) if key_paths or key_dirs else None
    report = verify_ledger(path, trusted_keys=trusted, expect_head=expect_head)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    if not report.ok:
        raise VerificationError(report.describe(), reason=report.problems[0].reason)
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

    click.echo(ledger_head(path))


@ledger.command("list")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@kind_option("entries")
@json_option("Print the entries as a JSON list.")
def ledger_list(path: Path, kind: str | None, as_json: bool) -> None:
    """List the ledger's audit entries in chain order: kind, name, digests, signer.

    The entries are shown as stored: check them with 'fairaudit ledger verify'. Reviews
    are not listed. A * after a data or model digest marks a change since the previous
    audit of the same kind and name.

    Example:

    \b
        fairaudit ledger list out/fairaudit-ledger.sqlite
        fairaudit ledger list out/fairaudit-ledger.sqlite --kind data --json
    """
    from fairaudit.provenance import read_entries

    entries = read_entries(path, kind)
    found = report_summaries(path.parent, entries)
    if as_json:
        click.echo(_entries_json(entries, found))
    else:
        click.echo(_history_table(entries, names=True, found=found))


def report_summary(data: dict[str, Any]) -> dict[str, Any]:
    """Return a model audit's task and its worst headline value (``HISTORY_HEADLINE``):
    ``{"task", "headline": {"metric", "value", "feature", "class"} | None, "text"}``."""
    task = str((data.get("audit") or {}).get("task") or "binary")
    metric, worst, label = HISTORY_HEADLINE.get(task, ("", min, ""))
    numbers = [
        h
        for h in data.get("headline") or []
        if isinstance(h, dict)
        and h.get("metric") == metric
        and isinstance(h.get("value"), int | float)
        and not isinstance(h.get("value"), bool)
    ]
    if not numbers:
        return {"task": task, "headline": None, "text": "-"}
    h = worst(numbers, key=lambda h: h["value"])
    where = str(h.get("feature"))
    if h.get("class") is not None:
        where += f", class {h['class']}"
    headline = {k: h.get(k) for k in ("metric", "value", "feature", "class")}
    return {"task": task, "headline": headline, "text": f"{label} {h['value']:.3f} ({where})"}


def report_summaries(folder: Path, entries: list[Any]) -> dict[str, dict[str, Any]]:
    """Return ``{audit id: report_summary}`` for the model audits whose report is in
    ``folder`` (where a ledger sits by default): a regular ``.html`` file whose SHA-256 is
    the entry's ``report_sha256``, read from the results embedded in those very bytes (never
    from a ``.json`` beside it, which the ledger does not vouch for). A report signed,
    reviewed or moved since, or anything that is not a readable report, is not found; its
    entry shows no task."""
    import hashlib

    from fairaudit.errors import FairauditError
    from fairaudit.paths import read_regular_bytes
    from fairaudit.provenance import extract_results

    wanted = {e.report_sha256: e for e in entries if e.kind == "model"}
    found: dict[str, dict[str, Any]] = {}
    try:
        pages = sorted(folder.glob("*.html")) if wanted else []
    except OSError:
        return found
    for page in pages:
        try:
            content = read_regular_bytes(page)  # not a directory, FIFO or device
            entry = wanted.get(hashlib.sha256(content).hexdigest())
            if entry is None:
                continue
            data = extract_results(content)
        except (OSError, FairauditError):
            continue
        if (data.get("audit") or {}).get("id") == entry.audit_id:
            found[entry.audit_id] = report_summary(data)
    return found


def _entries_json(entries: list[Any], found: dict[str, dict[str, Any]] | None = None) -> str:
    """Return the entries as a JSON list, each with its report's ``task`` and ``headline``
    (null when the report was not found); a value SQLite holds as a blob (an edit) as its
    repr."""
    found = found or {}
    listed = []
    for e in entries:
        summary = found.get(e.audit_id) or {}
        listed.append(
            {**e.to_dict(), "task": summary.get("task"), "headline": summary.get("headline")}
        )
    return json.dumps(listed, indent=2, default=repr)


def _history_table(
    entries: list[Any], *, names: bool = False, found: dict[str, dict[str, Any]] | None = None
) -> str:
    """Return the entries as a table; with ``found`` (``report_summaries``), the task and
    headline columns of the entries whose report was found."""
    header: tuple[str, ...] = ("seq", "kind", "name", "created", "version", "verdict")
    header = (*header, "audit", "data", "model", "report", "signer")
    if found:
        header = (*header, "task", "headline")
    rows: list[tuple[Any, ...]] = [header]
    previous: dict[tuple[str, str | None], Any] = {}
    for e in entries:
        data = (e.data_sha256 or "-")[:12]
        model = (e.model_sha256 or "-")[:12]
        # Mark what changed since the previous audit of the same kind and name: the usual
        # question in a history (a data audit's data against a model audit's means nothing).
        before = previous.get((e.kind, e.model_name))
        if before is not None:
            data += "*" if e.data_sha256 != before.data_sha256 else ""
            model += "*" if e.model_sha256 != before.model_sha256 else ""
        rows.append(
            (
                str(e.seq),
                e.kind,
                e.model_name or "-",
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
        if found:  # issue 17: the task and its headline number, from the report
            summary = found.get(e.audit_id) or {}
            rows[-1] = (*rows[-1], summary.get("task") or "-", summary.get("text") or "-")
        previous[(e.kind, e.model_name)] = e
    if not names:  # a history is of one name
        rows = [row[:2] + row[3:] for row in rows]
    shown = [[terminal_text(cell) for cell in row] for row in rows]  # values from the file
    widths = [max(len(row[i]) for row in shown) for i in range(len(shown[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in shown]
    return "\n".join(lines)


@click.command(cls=Command)
@click.argument("name")
@ledger_option("The ledger file (SQLite).", default="fairaudit-ledger.sqlite")
@kind_option("audits")
@json_option("Print the entries as a JSON list.")
def history(name: str, ledger_path: Path, kind: str | None, as_json: bool) -> None:
    """List the audits named NAME over time, oldest first, from the ledger.

    Model audits (fairaudit run) and data audits (fairaudit data) of that name are listed,
    each with its kind; --kind keeps one. A * after a data or model digest marks a change
    since the previous audit of the same kind. A warning goes to stderr if the ledger's
    chain does not verify.

    Example:

    \b
        fairaudit history german-credit-logreg --ledger out/fairaudit-ledger.sqlite
        fairaudit history german-credit --kind data --json
    """
    from fairaudit.provenance import LedgerError, model_history, model_names, verify_ledger

    entries = model_history(ledger_path, name, kind)
    if not entries:
        known = ", ".join(repr(n) for n in model_names(ledger_path, kind)) or "none"
        template = MSG_NO_HISTORY if kind is None else MSG_NO_KIND_HISTORY
        raise LedgerError(template.format(name=name, path=ledger_path, known=known, kind=kind))
    report = verify_ledger(ledger_path)
    if not report.ok:
        problem = terminal_text(report.problems[0].message)
        click.echo(MSG_HISTORY_UNVERIFIED.format(problem=problem), err=True)
    found = report_summaries(ledger_path.parent, entries)
    if as_json:
        click.echo(_entries_json(entries, found))
    else:
        click.echo(_history_table(entries, found=found))


@click.command("diff", cls=Command)
@click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@json_option("Print the diff as JSON.")
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

    if html_path is not None:  # never over either report, whichever twin was named
        from fairaudit.paths import FileRole, check_file_roles

        reports = [p.with_suffix(s) for p in (old, new) for s in (".html", ".json")]
        check_file_roles(
            [FileRole("--html", html_path)],
            [FileRole("report", p) for p in [old, new, *reports]],
        )
    before, after = load_results(old), load_results(new)
    if "data" in (before.get("kind"), after.get("kind")):  # a data audit's diff (issue 18)
        from fairaudit.outputs import diff_data_reports, format_data_diff

        if html_path is not None:
            raise click.UsageError("--html compares model audits; two data audits diff as text")
        found = diff_data_reports(before, after, threshold=threshold, names=(str(old), str(new)))
        text = (
            terminal_json(found, indent=2)
            if as_json
            else format_data_diff(found, show_all=show_all)
        )
        click.echo(text)
        return
    result = diff_results(before, after, threshold=threshold)
    if html_path is not None:
        write_diff_html(result, html_path)
    if as_json:
        click.echo(terminal_json(result.to_dict(), indent=2))
    else:
        click.echo(format_text(result, show_all=show_all))
        if html_path is not None:
            click.echo(f"Wrote {html_path}")
