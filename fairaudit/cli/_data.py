"""``fairaudit data``: a data audit of one labelled file (bias before the model): page or JSON."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from fairaudit.batch import MSG_BAD_POPULATION, MSG_NO_POPULATION_FILE, read_population
from fairaudit.cli._command import Command
from fairaudit.cli._options import (
    engine_option,
    junit_option,
    page_record_options,
    parse_bins,
    parse_edges,
    parse_pairs,
    policy_option,
    signing_key,
    verdict_options,
)
from fairaudit.errors import OutputError

__all__ = [
    "MSG_BAD_POPULATION",
    "MSG_DATA_OUTPUT_NOT_JSON",
    "MSG_JSON_ONLY",
    "MSG_NO_POPULATION_FILE",
    "data_audit",
    "read_population",
]

MSG_DATA_OUTPUT_NOT_JSON = (
    "-o takes a .html path (the page, its JSON written beside it) or a .json path (the JSON "
    "only) for a data audit, not '{path}'"
)
MSG_JSON_ONLY = (
    "-o '{path}' writes the JSON only: --sign-key and --ledger need an .html page "
    "(-o data-report.html)"
)


def _pairs(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict:
    """Return ``{KEY: VALUE}`` from repeated ``KEY=VALUE`` options, as ``run`` reads them."""
    return parse_pairs(values, param.opts[0])


def _bins(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict:
    """Return ``{FEATURE: edges}`` from repeated ``FEATURE=E1,E2,...`` options."""
    return parse_bins(values, param.opts[0])


def _label_bins(ctx: click.Context, param: click.Parameter, value: str | None) -> list | None:
    """Return the edges of ``--label-bins E1,E2,...``, or None."""
    edges = None if value is None else parse_edges(value)
    if edges == []:
        raise click.BadParameter(f"takes EDGE,EDGE,...; got {value!r}", ctx, param)
    return edges


@click.command("data", cls=Command)
@click.argument("data_path", metavar="DATA", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--target", required=True, metavar="COL", help="The label column.")
@click.option(
    "--sensitive",
    multiple=True,
    required=True,
    metavar="COL",
    help="A sensitive column (repeatable).",
)
@click.option(
    "--favorable-label",
    metavar="VALUE",
    help="The favourable label value (default: 1 of a 0/1 label; without one, a multiclass "
    "label has no label-proportion or CDD rows).",
)
@click.option(
    "--reference",
    multiple=True,
    metavar="FEATURE=VALUE",
    callback=_pairs,
    help="The reference group of FEATURE (repeatable; default: the largest group).",
)
@click.option(
    "--bins",
    multiple=True,
    callback=_bins,
    metavar="FEATURE=E1,E2,...",
    help="Bin a numeric sensitive feature at these edges, as 'fairaudit run' does (repeatable).",
)
@click.option(
    "--label-bins",
    callback=_label_bins,
    metavar="E1,E2,...",
    help="Cut a numeric target into classes at these edges (a regression target).",
)
@click.option(
    "--strata", metavar="COL", help="Column whose values are strata for the conditional disparity."
)
@click.option(
    "--population",
    multiple=True,
    metavar="FEATURE=FILE",
    callback=_pairs,
    help="Known population shares of FEATURE's groups: a CSV with the columns group,share.",
)
@click.option(
    "--features",
    multiple=True,
    metavar="COL",
    help="A column to test as a proxy (repeatable; default: every other column).",
)
@click.option(
    "--proxy-threshold",
    type=click.FloatRange(0.5, 1),
    default=0.7,  # fairaudit.databias.PROXY_AUC_THRESHOLD, not imported: it loads pandas
    show_default=True,
    help="Flag a feature whose cross-validated AUC reaches this.",
)
@click.option(
    "--confidence",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.95,
    show_default=True,
    help="Confidence level of the intervals.",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, help="Seed of every random step.")
@engine_option(spark=False)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the data audit: .html (the page, its JSON beside it, a ledger entry) "
    "or .json (the JSON only).",
)
@click.option("--name", help="The audit's name in the ledger [default: the data file's name].")
@policy_option(
    help="Check the data audit against this policy's data rules (proxy_auc, label metrics, "
    "...); repeat to layer. Exit status 3 when it fails."
)
@verdict_options
@junit_option("Also write JUnit XML, one test case per rule outcome, for CI (needs --policy).")
@page_record_options("page")
def data_audit(data_path: Path, output: Path, **options: Any) -> None:
    """Audit a labelled data set for bias before any model: labels, representation, proxies.

    Label metrics per sensitive feature and their intersection (class imbalance, difference
    in label proportions, KL/JS divergence, L2 norm, total variation and KS distance, the
    conditional demographic disparity given --strata), each group against the reference and
    against the rest, with intervals and Holm-adjusted p-values; representation against
    --population shares; missing values by group; and the features that stand in for a
    sensitive attribute (Cramér's V, mutual information, cross-validated AUC). Formulas:
    docs/databias.md. An .html -o writes the page and its JSON twin, signed with --sign-key
    and recorded in the ledger as 'fairaudit run' does; a .json -o writes the JSON only.
    --engine duckdb counts out of core (the same JSON as numpy). --policy judges the data
    against a policy's data rules.

    Exit status: 0 success (the policy passed or warned, if one was given), 1 error,
    2 usage error, 3 the policy failed (the report is still written).

    Example:

    \b
        fairaudit data train.csv --target risk --sensitive sex --strata purpose \\
            --population sex=census.csv -o data-report.html
    """
    from fairaudit.batch import DataAuditSpec, data_audit, load_data_policy
    from fairaudit.paths import atomic_write_bytes
    from fairaudit.result import json_text

    publishing = _publishing(options, output)
    junit = options.pop("junit_path")
    if junit is not None and not options["policy"]:
        raise click.UsageError("--junit needs a policy: add --policy FILE or preset:NAME")
    spec = DataAuditSpec(
        data=data_path,
        name=publishing["name"],
        population={f: Path(p) for f, p in options.pop("population").items()},
        features=tuple(options.pop("features")),
        engine=options.pop("engine") or "auto",
        fail_on=options.pop("fail_on") or "fail",
        **options,
    )
    html_path, json_path = _check_files(spec, output, publishing, junit)
    key = signing_key(publishing["sign_key"])
    policy = load_data_policy(spec.policy)  # before any work: a broken policy fails fast
    report = data_audit(spec, policy)
    if html_path is None:
        atomic_write_bytes(json_path, (json_text(report) + "\n").encode("utf-8"))
        click.echo(f"Wrote {json_path}")
    else:
        from fairaudit.publish import publish_data_report

        published = publish_data_report(
            report,
            output,
            sign_key=key,
            ledger=publishing["ledger_path"],
            use_ledger=not publishing["no_ledger"],
        )
        click.echo(f"Wrote {published.html} and {published.json}")
        if published.ledger is not None:
            click.echo(f"  ledger: recorded in {published.ledger}")
        if key is not None:
            click.echo(f"  signed: {published.html}.intoto.jsonl written beside it")
    _verdict(json_path, junit, spec.fail_on)


def _verdict(json_path: Path, junit: Path | None, fail_on: str) -> None:
    """Write the JUnit XML, print the rules that did not pass; exit 3 when the policy failed."""
    import json

    report = json.loads(json_path.read_text(encoding="utf-8"))
    policy = report.get("policy")
    if policy is None:
        return
    from fairaudit.cli._console import policy_lines
    from fairaudit.policy import exit_code_for

    if junit is not None:
        from fairaudit.outputs import write_data_junit

        write_data_junit(report, junit, fail_on=fail_on)
    code = exit_code_for(policy["verdict"], fail_on)
    click.echo(f"Policy verdict: {policy['verdict']}", err=bool(code))
    for line in policy_lines(policy):
        click.echo(line, err=bool(code))
    if code:
        sys.exit(code)


def _publishing(options: dict[str, Any], output: Path) -> dict[str, Any]:
    """Pop the publishing options (name, ledger, signing key) out of the audit's options.

    For a .json output (no page to sign or record) a ledger or key set in the environment is
    dropped; given on the command line, it is an error (``_check_files``).
    """
    taken = {k: options.pop(k) for k in ("name", "ledger_path", "no_ledger", "sign_key")}
    if output.suffix.lower() == ".json":
        source = click.get_current_context().get_parameter_source
        for name in ("ledger_path", "sign_key"):
            if source(name) == click.core.ParameterSource.ENVIRONMENT:
                taken[name] = None
    return taken


def _check_files(
    spec: Any, output: Path, publishing: dict[str, Any], junit: Path | None
) -> tuple[Path | None, Path]:
    """Fail before the audit on outputs that overwrite an input, or a ledger that cannot work;
    return the page's path (None: the JSON only) and the JSON's.

    A .json output is the JSON only: signing and an explicit ledger need an .html page.
    """
    from fairaudit.outputs import data_report_paths
    from fairaudit.paths import FileRole, check_file_roles, require_regular_file
    from fairaudit.publish import check_ledger_appendable, ledger_path_for

    if output.suffix.lower() not in (".html", ".htm", ".json"):
        raise OutputError(MSG_DATA_OUTPUT_NOT_JSON.format(path=output))
    html_path, json_path = data_report_paths(output)
    sign_key, ledger = publishing["sign_key"], publishing["ledger_path"]
    inputs = spec.input_files()
    if sign_key is not None:
        require_regular_file(sign_key, "signing key")
        inputs.append(FileRole("signing key", sign_key))
    outputs = [FileRole("output", json_path, "-o")]
    if junit is not None:
        outputs.append(FileRole("JUnit XML", junit, "--junit"))
    if html_path is None:
        if sign_key is not None or ledger is not None:
            raise OutputError(MSG_JSON_ONLY.format(path=output))
        check_file_roles(outputs, inputs)
        return html_path, json_path
    outputs += [
        FileRole("output", html_path, "-o"),
        FileRole("signature file", Path(f"{html_path}.intoto.jsonl"), "-o"),
    ]
    ledger = None if publishing["no_ledger"] else ledger_path_for(output, ledger)
    if ledger is not None:
        outputs.append(FileRole("ledger", ledger, "--ledger"))
    check_file_roles(outputs, inputs)
    if ledger is not None:
        check_ledger_appendable(ledger)
    return html_path, json_path
