"""``fairaudit monitor``: add one window of scored data to a monitor and judge every window."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from fairaudit.cli._command import Command
from fairaudit.cli._options import (
    engine_option,
    junit_option,
    page_record_options,
    signing_key,
    trusted_keys_options,
)
from fairaudit.errors import OutputError

__all__ = ["MSG_NO_BASELINE", "MSG_NO_TRUSTED_KEY", "monitor"]

MSG_NO_BASELINE = (
    "without --baseline, give --baseline-windows N: the first N windows are the baseline"
)
MSG_NO_TRUSTED_KEY = (
    "the baseline must be verified before use: give its signer's public key with --key "
    "(or --keys-dir)"
)
#: The default state file, beside the ledger (fairaudit.monitor.STATE_FILE_NAME; not
#: imported here, so that ``import fairaudit.cli`` stays light).
STATE_FILE_NAME = "fairaudit-monitor.sqlite"
_METRICS = ("selection_rate", "true_positive_rate", "false_positive_rate")


@click.command("monitor", cls=Command)
@click.argument("data_path", metavar="DATA", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The signed pre-release audit (report.html, or its report.json twin): its options "
    "count every window and its counts are the drift baseline. Without it: "
    "--baseline-windows N with --target, --prediction-col and --sensitive (an unsigned "
    "baseline from the data).",
)
@click.option("--target", metavar="COL", help="Without --baseline: the label column.")
@click.option("--prediction-col", metavar="COL", help="Without --baseline: the prediction column.")
@click.option(
    "--sensitive",
    metavar="COL",
    multiple=True,
    help="Without --baseline: a sensitive column (repeatable).",
)
@click.option(
    "--positive-label", metavar="VALUE", help="Without --baseline: the positive label value."
)
@trusted_keys_options
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"The monitor's state file (SQLite) [default: {STATE_FILE_NAME} beside the output].",
)
@click.option(
    "--window-label",
    metavar="LABEL",
    help="The window this file's rows belong to [default: the file's name stem]; several "
    "files may feed one window (their counts add).",
)
@click.option(
    "--time-col",
    metavar="COL",
    help="Cut the file (a log) into windows by this date/time column (with --window).",
)
@click.option(
    "--window",
    "window_size",
    metavar="day|week|month|N-rows",
    help="The windows of --time-col: calendar day, ISO week or month (UTC), or N rows in "
    "file order.",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    type=click.Choice(_METRICS),
    help="A rate to watch (repeatable) [default: all three, or the policy's].",
)
@click.option(
    "--ratio-min",
    type=float,
    help="Window rule: a group's rate / the reference's must stay in [R, 1/R] [default: 0.8].",
)
@click.option(
    "--drift",
    type=float,
    help="Drift rule: alarm when that ratio moves more than this from the baseline's.",
)
@click.option(
    "--alpha", type=float, help="Chance of any false alarm over the whole period [default: 0.05]."
)
@click.option(
    "--horizon",
    type=int,
    help="The most windows this monitoring period will have (fixed in advance).",
)
@click.option(
    "--baseline-windows",
    type=int,
    metavar="N",
    help="Judge drift against the first N windows instead of the baseline audit's counts.",
)
@click.option(
    "--boundary",
    type=click.Choice(("normal", "bernoulli")),
    help="The confidence sequences' boundary: normal (default; best near rate 0.5) or "
    "bernoulli (narrower for rates far from 0.5). Fixed for the monitoring period.",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A policy file whose [monitor] table sets the rules (options given here override it).",
)
@engine_option(spark=False)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the monitor page (.html; its JSON is written beside it).",
)
@click.option(
    "--name",
    help="The monitor's name in the ledger [default: the baseline's name; without"
    " --baseline, the state file's].",
)
@junit_option("Also write JUnit XML, one test case per watched group and rate.")
@page_record_options("run")
def monitor(data_path: Path, output: Path, **options: Any) -> None:
    """Add one window of scored data to a fairness monitor and alarm honestly.

    DATA is one window's file (a day's or a week's scored rows, CSV or Parquet), or a log
    cut into windows with --time-col and --window. It is audited with the options of the
    signed --baseline report (verified against --key first), its per-group counts are
    stored in the --state file, and every window stored so far is judged: each group's
    selection rate (and true and false positive rate) over the reference group's, with
    anytime-valid confidence sequences, so the chance of any false alarm over the whole
    monitoring period stays below --alpha however often the monitor runs. A file already
    counted is not counted again. Method: docs/monitoring.md.

    Exit status: 0 no alarm, 1 error, 2 usage error, 3 an alarm fired (the page is still
    written).

    Example:

    \b
        fairaudit monitor scored-2026-w05.csv --baseline report.html --key auditor.pub \\
            --state monitor.sqlite --ratio-min 0.8 --drift 0.1 -o monitor.html
    """
    from fairaudit.monitor import run_monitor, settings_from

    columns = _data_columns(options)
    if columns is None and not options["key_paths"] and not options["key_dirs"]:
        raise click.UsageError(MSG_NO_TRUSTED_KEY)
    if output.suffix.lower() not in (".html", ".htm"):
        raise OutputError(f"-o takes the monitor page's .html path, not '{output}'")
    settings = settings_from(
        options["policy_path"],
        {
            "metrics": options["metrics"],
            "ratio_min": options["ratio_min"],
            "drift": options["drift"],
            "alpha": options["alpha"],
            "horizon": options["horizon"],
            "baseline_windows": options["baseline_windows"],
            "boundary": options["boundary"],
        },
    )
    if columns is not None and settings.baseline_windows is None:
        raise click.UsageError(MSG_NO_BASELINE)
    source = _source(data_path, options)
    state, ledger = _check_files(data_path, output, options)
    if columns is not None:
        from fairaudit.monitor import data_baseline

        baseline: Any = data_baseline(columns)
    else:
        baseline = options["baseline"]
    try:
        run = run_monitor(
            source,
            baseline=baseline,
            trusted_keys=_trusted(options) if columns is None else {},
            state=state,
            output=output,
            settings=settings,
            name=options["name"],
            sign_key=signing_key(options["sign_key"]),
            ledger=ledger,
            junit=options["junit_path"],
        )
    except KeyboardInterrupt as stop:  # DuckDB may leave Python's own Ctrl-C handler behind
        import signal

        from fairaudit.runtime import Interrupted

        if isinstance(stop, Interrupted):
            raise
        raise Interrupted(signal.SIGINT) from None
    unsigned = None if columns is None else settings.baseline_windows
    _echo_run(run, data_path, output, state, ledger, unsigned, options["window_label"])


def _echo_run(
    run: Any,
    data: Path,
    output: Path,
    state: Path,
    ledger: Path | None,
    unsigned: int | None,
    label: str | None = None,
) -> None:
    """Print what the run did and its alarms (stderr); exit 3 on an alarm."""
    from fairaudit.display import terminal_text
    from fairaudit.monitor import alarm_line

    document = run.document
    counted = "counted" if run.added else "already counted; nothing added or written"
    labels = ", ".join(run.labels) or "no rows"
    if not run.added and label is not None and label not in run.labels:
        counted = (
            f"already counted under window '{labels}', not '{label}'; nothing added or written"
        )
    windows = len(document["windows"])
    click.echo(terminal_text(f"{data.name} ({labels}): {counted}; {windows} windows in {state}"))
    if run.added:
        click.echo(f"Wrote {output} and {output.with_suffix('.json')}")
        if ledger is not None:
            click.echo(f"  ledger: recorded in {ledger}")
    if unsigned is not None:
        click.echo(
            f"  baseline: the first {unsigned} windows of the data (unsigned; no pre-release audit)"
        )
    new = document.get("unmonitored", [])
    if new:
        shown = [terminal_text(f"{g['group_label']} (since {g['first_window']})") for g in new[:5]]
        more = f" and {len(new) - 5} more" if len(new) > 5 else ""
        click.echo(
            f"  notice: {len(new)} group(s) not in the baseline, not monitored (the page lists "
            f"them): {'; '.join(shown)}{more}",
            err=True,
        )
    for alarm in document["alarms"]:
        click.echo(terminal_text(alarm_line(alarm)), err=True)
    if document["alarms"]:
        sys.exit(3)
    click.echo("No alarm.")


def _data_columns(options: dict[str, Any]) -> dict[str, Any] | None:
    """Return the columns of a baseline from the data (no --baseline), or None."""
    names = ("target", "prediction_col", "sensitive", "positive_label")
    given = [n for n in names if options[n]]
    if options["baseline"] is not None:
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise click.UsageError(f"{flag} comes from the --baseline audit; drop it")
        return None
    missing = [n for n in names[:3] if not options[n]]
    if missing:
        flags = ", ".join("--" + n.replace("_", "-") for n in missing)
        raise click.UsageError(f"without --baseline, give {flags} (and --baseline-windows N)")
    return {n: options[n] for n in names}


def _source(data: Path, options: dict[str, Any]) -> Any:
    """Return the run's WindowSource; usage errors for --time-col and --window apart."""
    from fairaudit.monitor import WindowSource, parse_window

    time_col, size = options["time_col"], options["window_size"]
    if (time_col is None) != (size is None):
        raise click.UsageError("--time-col and --window go together")
    if time_col is not None and options["window_label"] is not None:
        raise click.UsageError(
            "--window-label names a whole file's window; drop it with --time-col"
        )
    return WindowSource(
        data,
        label=options["window_label"],
        time_col=time_col,
        window=None if size is None else parse_window(size),
        engine=options["engine"] or "auto",
    )


def _trusted(options: dict[str, Any]) -> Any:
    from fairaudit.provenance import load_trusted_keys

    return load_trusted_keys(options["key_paths"], options["key_dirs"])


def _check_files(data: Path, output: Path, options: dict[str, Any]) -> tuple[Path, Path | None]:
    """Return the state file and ledger to use, once no output would overwrite an input."""
    from fairaudit.paths import FileRole, check_file_roles, require_regular_file
    from fairaudit.publish import check_ledger_appendable, ledger_path_for

    require_regular_file(data, "window data")
    state = options["state_path"] or output.parent / STATE_FILE_NAME
    baseline = options["baseline"]
    inputs = [FileRole("window data", data)]
    if baseline is not None:
        inputs += [FileRole("baseline", baseline)]
        inputs += [FileRole("baseline page", baseline.with_suffix(".html"))]
    inputs += [FileRole("trusted key", k) for k in options["key_paths"]]
    if options["policy_path"] is not None:
        inputs.append(FileRole("policy", options["policy_path"]))
    if options["sign_key"] is not None:
        require_regular_file(options["sign_key"], "signing key")
        inputs.append(FileRole("signing key", options["sign_key"]))
    ledger = None if options["no_ledger"] else ledger_path_for(output, options["ledger_path"])
    outputs = [
        FileRole("output", output, "-o"),
        FileRole("output", output.with_suffix(".json"), "-o"),
        FileRole("signature file", Path(f"{output}.intoto.jsonl"), "-o"),
        FileRole("state file", state, "--state"),
    ]
    if options["junit_path"] is not None:
        outputs.append(FileRole("JUnit XML", options["junit_path"], "--junit"))
    if ledger is not None:
        outputs.append(FileRole("ledger", ledger, "--ledger"))
    check_file_roles(outputs, inputs)
    if ledger is not None:
        check_ledger_appendable(ledger)
    return state, ledger
