"""Data audits as ``fairaudit data`` and a batch's ``kind = "data"`` entries run them.

``DataAuditSpec`` holds the options of one data audit (the command's, or a manifest entry's
after ``data_spec_from_table``); ``data_audit`` runs it: the population files read, the
document counted by the chosen engine (``engines.data_report_file``), the policy's verdict
added (``policy.evaluate_data_policy``) and the audit identified, ready to publish.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from fairaudit.errors import ConfigError
from fairaudit.paths import FileRole
from fairaudit.spec import normalise_options

if TYPE_CHECKING:
    from fairaudit.policy import Policy

__all__ = [
    "DATA_ENGINE_NAMES",
    "DATA_KEYS",
    "DATA_KIND",
    "MODEL_KIND",
    "MSG_BAD_EDGES",
    "MSG_BAD_POPULATION",
    "MSG_NAMED_TWICE",
    "MSG_NOT_SENSITIVE",
    "MSG_TWO_ROLES",
    "MSG_NO_POPULATION_FILE",
    "DataAuditSpec",
    "audit_kind",
    "data_headline",
    "run_data_job",
    "data_audit",
    "data_spec_from_table",
    "load_data_policy",
    "read_population",
]

DATA_KIND: Final = "data"
MODEL_KIND: Final = "model"
#: Engines of a data audit (``fairaudit.engines.DATA_ENGINES``, not imported: it loads pandas).
DATA_ENGINE_NAMES = ("auto", "numpy", "duckdb")
#: Keys of a ``kind = "data"`` manifest entry: the options of ``fairaudit data``.
DATA_KEYS = (
    "kind",
    "name",
    "data",
    "target",
    "sensitive",
    "favorable_label",
    "reference",
    "bins",
    "label_bins",
    "strata",
    "population",
    "features",
    "proxy_threshold",
    "confidence",
    "seed",
    "engine",
    "policy",
    "fail_on",
    "not_evaluable",
)
#: The signed label disparities the data page's first screen ranks (its DISPARITY_METRICS,
#: which ``fairaudit.outputs`` exports under the model report's constant of that name).
LABEL_DISPARITIES = ("difference_in_label_proportions", "conditional_demographic_disparity")
#: Keys shared with model audits that a data entry takes from the manifest's top level.
INHERITED_KEYS = ("confidence", "seed", "engine")
#: Keys ``normalise_options`` (the model audit's) reads the same way for a data audit.
_SHARED_KEYS = (
    frozenset(DATA_KEYS) - {"kind", "label_bins", "strata", "population"} - {"proxy_threshold"}
)

MSG_BAD_POPULATION = (
    "population file '{path}' must be a CSV with the columns group,share and a number in "
    "every share: {problem}"
)
MSG_NO_POPULATION_FILE = "population file '{path}' not found"
MSG_BAD_DATA_KEY = "{source}: {key} {problem}"
MSG_NOT_SENSITIVE = "{option} names {feature!r}, which is not a sensitive feature ({sensitive})"
MSG_BAD_EDGES = "{option} must be increasing finite numbers, e.g. 25,40; not {edges}"
MSG_NAMED_TWICE = "{option} names {column!r} twice: name each column once"
MSG_TWO_ROLES = (
    "column {column!r} is given two roles ({first} and {second}); each column has one role"
)


@dataclass(frozen=True)
class DataAuditSpec:
    """The options of one data audit (see ``fairaudit data --help``)."""

    data: Path
    target: str
    sensitive: tuple[str, ...]
    name: str | None = None
    favorable_label: str | None = None
    reference: Mapping[str, str] = field(default_factory=dict)
    bins: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    label_bins: tuple[float, ...] | None = None
    strata: str | None = None
    population: Mapping[str, Path] = field(default_factory=dict)
    features: tuple[str, ...] = ()
    proxy_threshold: float = 0.7  # fairaudit.databias.PROXY_AUC_THRESHOLD
    confidence: float = 0.95
    seed: int = 0
    engine: str = "auto"
    policy: tuple[str, ...] = ()
    fail_on: str = "fail"
    not_evaluable: str | None = None

    model_version = None  # as an AuditSpec's, for the batch's outcome

    def __post_init__(self) -> None:
        """Refuse, before any work, a column named twice or in two roles (a sensitive
        feature named twice made an intersection of it with itself; a repeated --features a
        traceback), a reference, bins or population of a feature that is not sensitive, and
        bin edges that do not increase (they made groups such as '[40, 25)'; a NaN edge
        failed the report's content id with a traceback)."""
        self._check_roles()
        named = [("--reference", f) for f in self.reference]
        named += [("--bins", f) for f in self.bins]
        named += [("--population", f) for f in self.population]
        for option, feature in named:
            if feature not in self.sensitive:
                sensitive = ", ".join(self.sensitive)
                raise ConfigError(
                    MSG_NOT_SENSITIVE.format(option=option, feature=feature, sensitive=sensitive)
                )
        edges = [(f"--bins {f}", e) for f, e in self.bins.items()]
        edges += [("--label-bins", self.label_bins)] if self.label_bins is not None else []
        for option, values in edges:
            if (
                not values
                or not all(math.isfinite(e) for e in values)
                or any(b <= a for a, b in zip(values, values[1:], strict=False))
            ):
                shown = ",".join(f"{e:g}" for e in values) or "none"
                raise ConfigError(MSG_BAD_EDGES.format(option=option, edges=shown))

    def _check_roles(self) -> None:
        """Raise ConfigError for a column named twice, or given two roles."""
        fixed = [("--target", self.target), *(("--sensitive", c) for c in self.sensitive)]
        _check_unique([*fixed, *([("--strata", self.strata)] if self.strata else [])])
        # A strata column may also be a --features one (by default every other column is).
        _check_unique([*fixed, *(("--features", c) for c in self.features)])

    @property
    def display_name(self) -> str:
        """Return the audit's name: ``name``, else the data file's name."""
        return self.name or self.data.name

    def input_files(self) -> list[FileRole]:
        """Return every file the audit reads: data, population shares, policy layers."""
        files = [FileRole("data", self.data)]
        files += [FileRole("--population", p) for p in self.population.values()]
        files += [
            FileRole("policy file", Path(p)) for p in self.policy if not p.startswith("preset:")
        ]
        return files


def _check_unique(roles: list[tuple[str, str]]) -> None:
    """Raise ConfigError for a column that ``roles`` (option, column) names twice."""
    seen: dict[str, str] = {}
    for option, column in roles:
        if column in seen:
            first = seen[column]
            raise ConfigError(
                MSG_NAMED_TWICE.format(option=option, column=column)
                if first == option
                else MSG_TWO_ROLES.format(column=column, first=first, second=option)
            )
        seen[column] = option


def audit_kind(spec: Any) -> str:
    """Return ``data`` for a DataAuditSpec, ``model`` for a (model) AuditSpec."""
    return DATA_KIND if isinstance(spec, DataAuditSpec) else MODEL_KIND


def read_population(path: Path) -> dict[str, float]:
    """Return ``{group: share}`` from a small CSV with the header ``group,share``."""
    from fairaudit.paths import read_regular_bytes

    try:
        text = read_regular_bytes(path).decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(MSG_NO_POPULATION_FILE.format(path=path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        problem = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigError(MSG_BAD_POPULATION.format(path=path, problem=problem)) from None
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"group", "share"} <= set(reader.fieldnames):
        raise ConfigError(MSG_BAD_POPULATION.format(path=path, problem="no such header"))
    shares = {}
    for line, record in enumerate(reader, start=2):
        if record["group"] in shares:  # the later line silently replaced the earlier
            problem = f"line {line} repeats the group {record['group']!r}"
            raise ConfigError(MSG_BAD_POPULATION.format(path=path, problem=problem))
        try:
            shares[record["group"]] = float(record["share"])
        except (TypeError, ValueError):
            problem = f"line {line} has share {record['share']!r}"
            raise ConfigError(MSG_BAD_POPULATION.format(path=path, problem=problem)) from None
    return shares


def load_data_policy(sources: tuple[str, ...]) -> Policy | None:
    """Return the layered policy of a data audit (None without one), checked before any
    work: a policy that does not load, or has no rule for a data audit, fails at once."""
    if not sources:
        return None
    from fairaudit.policy import load_policy, split_rules

    policy = load_policy(sources)
    split_rules(policy, DATA_KIND)
    return policy


def data_audit(spec: DataAuditSpec, policy: Policy | None = None) -> dict[str, Any]:
    """Return the identified data report of ``spec``, judged by ``policy`` when given.

    ``policy`` is ``load_data_policy(spec.policy)``, loaded by the caller before any work
    so that a broken policy fails fast.
    """
    from fairaudit.engines import data_report_file
    from fairaudit.outputs import identified

    population = {f: read_population(Path(p)) for f, p in spec.population.items()}
    report, _ = data_report_file(
        spec.data,
        engine=spec.engine,
        target=spec.target,
        sensitive=list(spec.sensitive),
        favorable_label=spec.favorable_label,
        reference=dict(spec.reference),
        strata=spec.strata,
        population=population,
        features=list(spec.features) or None,
        bins={k: list(v) for k, v in spec.bins.items()},
        label_bins=None if spec.label_bins is None else list(spec.label_bins),
        proxy_threshold=spec.proxy_threshold,
        confidence=spec.confidence,
        seed=spec.seed,
    )
    if policy is not None:
        from fairaudit.policy import evaluate_data_policy

        report["policy"] = evaluate_data_policy(
            report,
            policy,
            not_evaluable=spec.not_evaluable,  # type: ignore[arg-type]
        )
    return identified(report, name=spec.display_name)


def _numbers(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    )


def _data_only(table: Mapping[str, Any], source: str, base: Path) -> dict[str, Any]:
    """Return the data-audit keys the model audit's options do not have, checked."""
    out: dict[str, Any] = {}

    def bad(key: str, problem: str) -> ConfigError:
        return ConfigError(MSG_BAD_DATA_KEY.format(source=source, key=key, problem=problem))

    if "label_bins" in table:
        if not _numbers(table["label_bins"]) or not table["label_bins"]:
            raise bad("label_bins", "must be a list of numbers, e.g. label_bins = [0.5]")
        out["label_bins"] = tuple(float(e) for e in table["label_bins"])
    if "strata" in table:
        if not isinstance(table["strata"], str) or not table["strata"]:
            raise bad("strata", "must be a column name")
        out["strata"] = table["strata"]
    if "population" in table:
        shares = table["population"]
        if not isinstance(shares, Mapping) or not all(
            isinstance(p, str) and p for p in shares.values()
        ):
            raise bad(
                "population", "must be a table of file paths, e.g. [population] sex = 'x.csv'"
            )
        out["population"] = {str(f): base / p for f, p in shares.items()}
    if "proxy_threshold" in table:
        value = table["proxy_threshold"]
        if not _numbers([value]) or not 0.5 <= value <= 1:
            raise bad("proxy_threshold", "must be a number from 0.5 to 1")
        out["proxy_threshold"] = float(value)
    return out


def data_spec_from_table(
    table: Mapping[str, Any], source: str, base: Path, defaults: Mapping[str, Any]
) -> DataAuditSpec:
    """Return the data audit of a manifest entry (``kind = "data"``); raise ConfigError.

    ``source`` names the entry in messages, ``base`` is the folder relative paths start
    from; ``defaults`` are the manifest's shared options, of which a data entry takes
    ``INHERITED_KEYS`` (its policy is its own: a shared policy judges model audits).
    """
    inherited = {k: v for k, v in defaults.items() if k in INHERITED_KEYS}
    shared = {k: v for k, v in table.items() if k in _SHARED_KEYS}
    options = {**inherited, **normalise_options(shared, source, base)}
    options.update(_data_only(table, source, base))
    missing = [k for k in ("data", "target", "sensitive") if not options.get(k)]
    if missing:
        raise ConfigError(f"{source}: missing " + " and ".join(missing))
    if options.get("engine", "auto") not in DATA_ENGINE_NAMES:
        problem = f"must be one of {', '.join(DATA_ENGINE_NAMES)}, not {options['engine']!r}"
        raise ConfigError(MSG_BAD_DATA_KEY.format(source=source, key="engine", problem=problem))
    for key, allowed in (("fail_on", ("fail", "warn")), ("not_evaluable", (None, "warn", "fail"))):
        if options.get(key, allowed[0]) not in allowed:
            words = " or ".join(repr(a) for a in allowed if a is not None)
            problem = f"must be {words}, not {options[key]!r}"
            raise ConfigError(MSG_BAD_DATA_KEY.format(source=source, key=key, problem=problem))
    if not 0 < options.get("confidence", 0.95) < 1:
        raise ConfigError(
            MSG_BAD_DATA_KEY.format(
                source=source, key="confidence", problem="must be between 0 and 1"
            )
        )
    try:
        return DataAuditSpec(**options)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def data_headline(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return a data report's headline for the batch index: its largest label disparity
    (by absolute value, as the page's first screen ranks them) and each sensitive feature's
    strongest proxy (``proxy_auc``, the feature in ``proxy``)."""
    rows = [
        r
        for r in report["data_bias"]
        if r["metric"] in LABEL_DISPARITIES and r["value"] is not None
    ]
    rows.sort(key=lambda r: (-abs(r["value"]), r["feature"], r["metric"]))
    keys = ("feature", "metric", "value", "ci", "group", "reference")
    headline = [{k: rows[0].get(k) for k in keys}] if rows else []
    for analysis in report["proxies"]:
        if analysis["features"]:
            top = analysis["features"][0]
            headline.append(
                {
                    "feature": analysis["sensitive"],
                    "metric": "proxy_auc",
                    "value": top["auc"],
                    "ci": top["auc_folds"],
                    "proxy": top["feature"],
                }
            )
    return headline


def run_data_job(
    spec: DataAuditSpec,
    index: int,
    output_dir: Path,
    key: Any,
    ledger: Path | None,
) -> dict[str, Any]:
    """Run one data audit of a batch and publish its page in ``output_dir``; return the
    outcome's fields (status, verdict, report files, headline, ledger). A ledger that
    cannot be appended to raises ``LedgerError`` after the page is written, as for a
    model audit."""
    from fairaudit.policy import exit_code_for
    from fairaudit.publish import publish_data_report

    report = data_audit(spec, load_data_policy(spec.policy))
    html_path = output_dir / f"data-audit-{index}-{report['audit']['id'][:12]}.html"
    published = publish_data_report(
        report, html_path, sign_key=key, ledger=ledger, use_ledger=ledger is not None
    )
    verdict = (report.get("policy") or {}).get("verdict")
    return {
        "status": "policy_failed" if exit_code_for(verdict, spec.fail_on) else "passed",
        "name": spec.display_name,
        "verdict": verdict,
        "audit_id": _written_id(published.json),
        "report": published.html.name,
        "report_json": published.json.name,
        "headline": data_headline(report),
        "ledger": "appended" if published.ledger is not None else None,
    }


def _written_id(json_path: Path) -> str:
    """Return the audit id of the published JSON (publishing fills ``supersedes``)."""
    import json

    return str(json.loads(json_path.read_text(encoding="utf-8"))["audit"]["id"])
