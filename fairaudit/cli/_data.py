"""``fairaudit data``: a data audit of one labelled file (bias before the model), as JSON."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import click

from fairaudit.cli._command import Command
from fairaudit.cli._options import parse_bins, parse_edges, parse_pairs
from fairaudit.errors import ConfigError, OutputError

__all__ = [
    "MSG_BAD_POPULATION",
    "MSG_DATA_OUTPUT_NOT_JSON",
    "MSG_NO_POPULATION_FILE",
    "data_audit",
    "read_population",
]

MSG_BAD_POPULATION = (
    "population file '{path}' must be a CSV with the columns group,share and a number in "
    "every share: {problem}"
)
MSG_NO_POPULATION_FILE = "population file '{path}' not found"
MSG_DATA_OUTPUT_NOT_JSON = "-o takes a .json path for a data audit (the JSON only), not '{path}'"


def read_population(path: Path) -> dict[str, float]:
    """Return ``{group: share}`` from a small CSV with the header ``group,share``."""
    from fairaudit.paths import read_regular_bytes

    try:
        text = read_regular_bytes(path).decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(MSG_NO_POPULATION_FILE.format(path=path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(MSG_BAD_POPULATION.format(path=path, problem=exc)) from None
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"group", "share"} <= set(reader.fieldnames):
        raise ConfigError(MSG_BAD_POPULATION.format(path=path, problem="no such header"))
    shares = {}
    for line, record in enumerate(reader, start=2):
        try:
            shares[record["group"]] = float(record["share"])
        except (TypeError, ValueError):
            problem = f"line {line} has share {record['share']!r}"
            raise ConfigError(MSG_BAD_POPULATION.format(path=path, problem=problem)) from None
    return shares


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
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the data audit (.json).",
)
def data_audit(data_path: Path, output: Path, **options: Any) -> None:
    """Audit a labelled data set for bias before any model: labels, representation, proxies.

    Label metrics per sensitive feature and their intersection (class imbalance, difference
    in label proportions, KL/JS divergence, L2 norm, total variation and KS distance, the
    conditional demographic disparity given --strata), each group against the reference and
    against the rest, with intervals and Holm-adjusted p-values; representation against
    --population shares; missing values by group; and the features that stand in for a
    sensitive attribute (Cramér's V, mutual information, cross-validated AUC). Formulas:
    docs/databias.md. Writes the JSON only.

    Example:

    \b
        fairaudit data train.csv --target risk --sensitive sex --strata purpose \\
            --population sex=census.csv -o data-report.json
    """
    from fairaudit.data import file_sha256, read_table
    from fairaudit.databias import data_report
    from fairaudit.paths import FileRole, atomic_write_bytes, check_file_roles

    if output.suffix.lower() != ".json":
        raise OutputError(MSG_DATA_OUTPUT_NOT_JSON.format(path=output))
    population_files = options.pop("population")
    check_file_roles(
        [FileRole("output", output, "-o")],
        [FileRole("data", data_path)]
        + [FileRole("--population", Path(p)) for p in population_files.values()],
    )
    population = {f: read_population(Path(p)) for f, p in population_files.items()}
    frame, fmt, _ = read_table(data_path)
    report = data_report(
        frame,
        source={"path": str(data_path), "format": fmt, "sha256": file_sha256(data_path)},
        population=population,
        features=list(options.pop("features")) or None,
        **options,
    )
    text = json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    atomic_write_bytes(output, text.encode("utf-8"))
    click.echo(f"Wrote {output}")
