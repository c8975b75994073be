"""The ``fairaudit`` group, the ``run`` command and the console-script entry point.

Library exceptions become ``Error: ...`` on one line with the exception's exit code (see
``_command``); click's usage errors exit 2. Heavy imports happen inside commands so
``fairaudit verify`` starts fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from fairaudit._version import __version__
from fairaudit.cli._batch import batch, card
from fairaudit.cli._command import Group
from fairaudit.cli._console import policy_lines, run_summary
from fairaudit.cli._history import diff, history, ledger
from fairaudit.cli._options import (
    LEDGER_ENV,
    engine_option,
    jobs_option,
    mitigation_detail_option,
    no_ledger_option,
    parse_bins,
    parse_pairs,
    quiet_option,
    sign_key_option,
    signing_key,
    verdict_options,
)
from fairaudit.cli._preflight import (
    CONSOLE_PROCESS,
    audit_function,
    check_policy,
    check_run_files,
    check_source_date_epoch,
    early_worker,
    prepare_report,
)
from fairaudit.cli._review import review
from fairaudit.cli._signing import keygen, sign, verify
from fairaudit.display import terminal_text
from fairaudit.errors import FairauditError
from fairaudit.vocabulary import MITIGATION_METHODS

__all__ = ["cli", "main"]


class _StoppableGroup(Group):
    """Commands stopped by Ctrl-C or SIGTERM clean up (workers, temporary files) first.

    Then one line, ``Error: interrupted by SIGTERM``, and exit status 128 + the signal.
    Library errors are turned into click's by each command (``Command``, ``user_errors``).
    """

    def invoke(self, ctx: click.Context) -> Any:
        from fairaudit.runtime import Interrupted, stop_on_signals

        try:
            with stop_on_signals():
                return super().invoke(ctx)
        except Interrupted as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except click.ClickException as exc:
            # Messages quote values from the files. click types the attribute Final, yet
            # show() reads it when the error is printed: this is the one place to escape.
            exc.message = terminal_text(exc.message)  # type: ignore[misc]
            raise


@click.group(cls=_StoppableGroup)
@click.version_option(__version__, "--version", prog_name="fairaudit")
def cli() -> None:
    """Audit a machine-learning classifier for bias and write a report.

    Exit codes: 0 success, 1 error (one line on stderr), 2 usage error, 3 a policy failed;
    130 or 143 when Ctrl-C or SIGTERM stopped it (workers and temporary files are removed
    first).

    Example:

        fairaudit run --config sample_data/audit.toml -o report.html
    """


@cli.command()
@click.argument("data", required=False, type=click.Path(path_type=Path))
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="TOML file with any of these options; flags override it.",
)
@click.option("--target", help="Label column.")
@click.option(
    "--positive-label",
    help="Positive class of labels and predictions (e.g. yes). "
    "Without it labels must be 0/1 or booleans.",
)
@click.option(
    "--favorable-label",
    multiple=True,
    help="The label value that is good for the person (e.g. 0 for 'will not reoffend', or "
    "'approved'). Default: the positive label. When it is the other class, a positive "
    "prediction is adverse: who is worse off and the four-fifths ratio follow it. "
    "Multiclass: repeat it to name several favourable classes; their union is the "
    "favourable outcome of the four-fifths view.",
)
@click.option(
    "--task",
    type=click.Choice(["auto", "binary", "multiclass", "regression"]),
    help="What the model predicts. Default auto: binary for a label with two values (or "
    "with --positive-label), multiclass for 3-50 classes, regression for a numeric label "
    "with more than 50 values (on a spark: table, give the task).",
)
@click.option("--sensitive", multiple=True, help="Sensitive feature column (repeatable).")
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    help="Model file (.skops; .joblib/.pkl only with --allow-unsafe-pickle).",
)
@click.option("--prediction-col", help="Column of precomputed predictions (instead of --model).")
@click.option(
    "--score-col",
    multiple=True,
    help="Column of precomputed scores (with --prediction-col). Multiclass: CLASS=COL, "
    "repeated once per class (split at the first '='); one value is a column name, as for "
    "a binary audit, unless --task multiclass is given.",
)
@click.option(
    "--favorable-above",
    type=float,
    metavar="T",
    help="Regression: a prediction above T (strictly) is the favourable outcome; adds each "
    "group's share above T and the binary metrics of that derived outcome.",
)
@click.option("--favorable-below", type=float, metavar="T", help="As --favorable-above, for "
              "a prediction below T (strictly), e.g. a risk score.")  # fmt: skip
@click.option(
    "--id-col",
    "id_cols",
    multiple=True,
    help="Identifier column, never a model input (repeatable).",
)
@click.option(
    "--bins",
    multiple=True,
    help="Bin a numeric sensitive feature: FEATURE=EDGE,EDGE,... (repeatable).",
)
@click.option(
    "--missing-sensitive",
    type=click.Choice(["error", "group", "drop"]),
    help="Rows with a missing sensitive value: refuse (default), audit as a "
    "'(missing)' group, or drop and count them.",
)
@click.option(
    "--min-group-size",
    type=click.IntRange(min=1),
    help="Groups smaller than this are marked 'insufficient data' (default 30).",
)
@click.option(
    "--min-denominator",
    type=click.IntRange(min=0),
    help="A group's rate with fewer rows in its denominator (positives for TPR, negatives "
    "for FPR, ...) is 'insufficient data' for that metric (default 10).",
)
@click.option(
    "--max-groups",
    type=click.IntRange(min=1),
    help="Refuse an audit with more groups than this in a grouping, e.g. intersection "
    "cells (default 5000); the HTML shows the worst 200, the JSON all.",
)
@click.option(
    "--reference",
    multiple=True,
    help="Reference group: FEATURE=VALUE (repeatable; default: the largest group).",
)
@click.option("--name", help="Model name shown in the report.")
@click.option("--model-version", help="Model version shown in the report.")
@click.option("--seed", type=int, help="Seed for every random step (default 0).")
@click.option(
    "--allow-unsafe-pickle",
    is_flag=True,
    default=None,
    help="Load .joblib/.pkl models (runs the file's code; recorded as a finding).",
)
@click.option(
    "--trust-type",
    "trust_types",
    multiple=True,
    help="Type a .skops file may contain beyond scikit-learn models and numpy/scipy data, "
    "by the full name the refusal gives (repeatable). Types that read or write files or "
    "run programs (numpy.memmap, scipy.io, os, io, subprocess ...) are refused even so.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    default="report.html",
    show_default=True,
    help="HTML report path, or a folder to name it in; the JSON "
    "goes beside it with the suffix .json.",
)
@click.option(
    "--intervals/--no-intervals",
    default=None,
    help="Confidence intervals and significance tests for every number (default: on).",
)
@click.option(
    "--confidence",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Confidence level of the intervals (default 0.95).",
)
@click.option(
    "--resamples",
    type=click.IntRange(min=100),
    help="Accepted and recorded for older configs; no interval resamples any more (the "
    "headline intervals are simultaneous Wilson bounds).",
)
@engine_option()
@click.option(
    "--spark-master",
    metavar="URL",
    help="Spark master for --engine spark (local[4], spark://host:7077, yarn, or sc://host "
    "for Spark Connect). Default: the active session, SPARK_REMOTE or spark-defaults.conf.",
)
@click.option(
    "--verbose",
    is_flag=True,
    default=None,
    help="Show the engine's own log lines and progress bars (Spark's are hidden otherwise).",
)
@click.option(
    "--train",
    type=click.Path(path_type=Path),
    help="Training set (CSV or Parquet): enables the retraining mitigations "
    "(ExponentiatedGradient, CorrelationRemover).",
)
@click.option(
    "--training-data/--no-training-data",
    default=None,
    help="With --train, add the training set's label disparities and proxy features to the "
    "report, as 'fairaudit data' measures them (default: on).",
)
@click.option(
    "--mitigations",
    metavar="A,B,...",
    help="Mitigations to compare (default: every one the inputs allow): "
    + ", ".join(MITIGATION_METHODS)
    + ".",
)
@click.option("--no-mitigation", is_flag=True, help="Skip the mitigation comparison.")
@click.option(
    "--mitigate-on",
    multiple=True,
    help="Sensitive feature to mitigate on (repeatable; default: the intersection of all).",
)
@click.option(
    "--folds",
    "mitigation_folds",
    type=click.IntRange(min=2),
    help="Cross-fitting folds for post-processing mitigations (default 5).",
)
@mitigation_detail_option
@jobs_option(
    "Run the mitigation comparison on this many worker processes. Default: in the audit's "
    "own process, with one worker per core only for a large comparison (over 2,000,000 "
    "distinct group-score pairs or 200,000 training rows). Results do not depend on it."
)
@click.option(
    "--policy",
    multiple=True,
    metavar="FILE|preset:NAME",
    help="Check the audit against this policy; repeat to layer (later files may only "
    "tighten locked rules). Exit status 3 when it fails.",
)
@verdict_options
@click.option(
    "--junit",
    "junit_path",
    type=click.Path(path_type=Path),
    help="Also write JUnit XML, one test case per rule and group, for CI (needs --policy).",
)
@click.option("--owner", help="Who is accountable for the model (recorded in the report).")
@click.option("--intended-use", help="What the model is for (recorded in the report).")
@click.option(
    "--ledger",
    type=click.Path(path_type=Path),
    envvar=LEDGER_ENV,
    help=f"Audit ledger (SQLite) to record this run in [env {LEDGER_ENV}; default: "
    "fairaudit-ledger.sqlite in the output folder].",
)
@no_ledger_option("Do not record this run in a ledger.")
@sign_key_option(
    "Ed25519 private key (PEM) to sign the report with "
    "[env FAIRAUDIT_SIGNING_KEY; passphrase from FAIRAUDIT_KEY_PASSPHRASE]."
)
@quiet_option
def run(
    data: Path | None,
    config_path: Path | None,
    output: str,
    sign_key: Path | None,
    ledger: Path | None,
    no_ledger: bool,
    junit_path: Path | None,
    quiet: bool,
    **options: Any,
) -> None:
    """Audit a model (or precomputed predictions) and write an HTML and a JSON report.

    Every sensitive feature is reported on its own and, with several, their
    intersection too. Options may also come from a TOML --config file.

    Exit status: 0 success (the policy passed, if one was given), 1 error,
    2 usage error, 3 the policy failed (the report is still written).

    Example:

        fairaudit run --config sample_data/audit.toml -o report.html

        fairaudit run scored.csv --target label --prediction-col pred --sensitive sex
    """
    check_source_date_epoch()  # before the imports: numpy itself chokes on a bad value
    from fairaudit.provenance import ledger_path_for
    from fairaudit.runtime import while_waiting
    from fairaudit.spec import load_config

    options = _spec_options(data, options)
    progress = None
    if not quiet and sys.stderr.isatty():

        def progress(message: str) -> None:
            click.echo(f"… {message}", err=True)

    with _internal_errors():
        spec = load_config(config_path, options)
        if junit_path is not None and not spec.policy:
            raise click.UsageError("--junit needs a policy: add --policy FILE or preset:NAME")
        check_run_files(
            spec,
            output,
            config=config_path,
            junit=junit_path,
            ledger=None if no_ledger else ledger_path_for(output, ledger),
            sign_key=sign_key,
        )
        private_key = signing_key(sign_key)  # before the audit: a wrong key fails fast
        check_policy(spec)
        # The worker starts before the audit's own imports (pandas, the engines): it is
        # ready for the first retraining fit sooner. While only the wait for it is left,
        # this process prepares the report (``while_waiting``).
        with early_worker(spec), while_waiting(prepare_report):
            result = audit_function(spec)(spec, progress=progress)
        from fairaudit.publish import publish_report

        published = publish_report(
            result, output, sign_key=private_key, ledger=ledger, use_ledger=not no_ledger
        )
        html_path, json_path = published.html, published.json
        if junit_path is not None and result.policy is not None:
            from fairaudit.outputs import write_junit

            written = result.to_dict()
            write_junit(
                written["policy"], junit_path, fail_on=spec.fail_on, summary=written["summary"]
            )
    if not quiet:
        click.echo(run_summary(result.to_dict(), html_path, json_path, published.ledger))
        if private_key is not None:
            click.echo(f"  signed: {html_path}.intoto.jsonl written beside it")
    if result.verdict is not None:
        from fairaudit.policy import exit_code_for

        code = exit_code_for(result.verdict, spec.fail_on)
        if not quiet or code:
            click.echo(f"Policy verdict: {result.verdict}", err=bool(code))
            for line in policy_lines(result.to_dict()["policy"]):
                click.echo(line, err=bool(code))
        if code:
            sys.exit(code)


def _spec_options(data: Path | None, options: dict[str, Any]) -> dict[str, Any]:
    """Return the command-line options as ``load_config`` takes them."""
    options["reference"] = parse_pairs(options["reference"], "--reference")
    favorable = options["favorable_label"]  # one value: a str, as before; several: a tuple
    options["favorable_label"] = (
        (favorable[0] if len(favorable) == 1 else favorable) if favorable else None
    )
    options["bins"] = parse_bins(options["bins"])
    scores = options["score_col"]  # one value: a column name, as before; several: CLASS=COL
    options["score_col"] = (scores[0] if len(scores) == 1 else scores) if scores else None
    if options.pop("no_mitigation"):
        options["mitigations"] = []
    elif options["mitigations"] is not None:
        options["mitigations"] = [m.strip() for m in options["mitigations"].split(",") if m.strip()]
    options["data"] = data
    return options


@contextmanager
def _internal_errors() -> Iterator[None]:
    """Turn a bug (not the user's input) into one line too; reports are written atomically."""
    try:
        yield
    except (FairauditError, click.ClickException):
        raise  # the user's input: its own message (FairauditError: see _command)
    except Exception as exc:
        if os.environ.get("FAIRAUDIT_DEBUG"):
            raise
        detail = str(exc).splitlines()[0] if str(exc) else ""
        raise click.ClickException(
            f"internal error ({type(exc).__name__}: {detail}); please report it, with the "
            "traceback that FAIRAUDIT_DEBUG=1 shows"
        ) from None


for _command in (keygen, sign, verify, review, ledger, history, diff, batch, card):
    cli.add_command(_command)


def main() -> None:
    """Entry point of the ``fairaudit`` console script."""
    if not sys.warnoptions and not os.environ.get("FAIRAUDIT_DEBUG"):
        import warnings

        # Library warnings are about code, not the audit: what one says about the data is
        # a data check or a mitigation note. Tests turn them into errors; -W shows them.
        warnings.simplefilter("ignore")
    cli(prog_name="fairaudit", obj=CONSOLE_PROCESS)
