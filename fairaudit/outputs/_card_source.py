"""What every model card reads: the audit result of a report, and the report file it cites.

Every number of a card comes from the audit result's JSON form; nothing is recomputed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fairaudit.display import favorable_outcome_label, is_regression, regression_headline_texts
from fairaudit.errors import FairauditError
from fairaudit.paths import read_regular_bytes

__all__ = [
    "CARD_METRICS",
    "REGRESSION_CARD_METRICS",
    "MSG_REPORT_UNREADABLE",
    "CardError",
    "ReportReference",
    "dataset_identity",
    "favorable_outcome",
    "headline_entries",
    "default_report_html",
    "load_report",
    "read_card_input",
    "regression_headline_texts",
    "report_reference",
    "card_metrics",
    "is_regression",
    "is_multiclass",
    "headline_slice",
    "metric_cis",
]

#: Per-group metrics the cards tabulate (with their intervals).
CARD_METRICS = ("selection_rate", "true_positive_rate", "false_positive_rate", "accuracy")
#: The same for a regression audit (issue 17): the group's errors.
REGRESSION_CARD_METRICS = ("mean_absolute_error", "root_mean_squared_error", "r2", "mean_error")
#: The same for a multiclass audit (issue 17): the group's accuracy figures (its one-vs-rest
#: rates are per class, in the report).
MULTICLASS_CARD_METRICS = ("accuracy", "balanced_accuracy", "f1_macro")
MSG_REPORT_NOT_FOUND = "report file '{path}' not found"
MSG_REPORT_UNREADABLE = "cannot read '{path}': {detail}"
MSG_NOT_JSON = "'{path}' is not a fairaudit report.json: {detail}"
MSG_NOT_RESULT = "'{path}' is not a fairaudit audit result (no {key!r} section)"


class CardError(FairauditError):
    """A report cannot be read as an audit result, or a card cannot be updated safely."""


@dataclass(frozen=True)
class ReportReference:
    """The report file a card cites: its name, SHA-256 and the key ids that signed it.

    ``key_ids`` is empty for an unsigned file; ``malformed`` is true when the file has a
    signature trailer that cannot be read (``fairaudit verify`` says why).
    """

    file_name: str
    sha256: str
    key_ids: tuple[str, ...] = ()
    malformed: bool = False


def is_multiclass(data: Mapping[str, Any]) -> bool:
    """Return whether ``data`` is a multiclass audit's result (``audit.task``)."""
    return (data.get("audit") or {}).get("task") == "multiclass"


def card_metrics(data: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the per-group metrics a card tabulates for this result's task, those it has."""
    names = (data.get("metrics") or {}).get("names") or []
    wanted: tuple[str, ...] = CARD_METRICS
    if is_regression(data):
        wanted = REGRESSION_CARD_METRICS
    elif is_multiclass(data):
        wanted = MULTICLASS_CARD_METRICS
    return tuple(m for m in wanted if m in names)


def metric_cis(data: Mapping[str, Any], cis: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """Return a group row's (or the overall) intervals by metric: a multiclass row keeps its
    group metrics' under ``metrics`` (and its per-class ones under ``by_class``)."""
    cis = cis or {}
    return (cis.get("metrics") or {}) if is_multiclass(data) else cis


def headline_slice(entry: Mapping[str, Any]) -> str:
    """Return what a headline entry is measured on: its grouping and, for a multiclass
    result's one-vs-rest entries, its class (``sex, class own``)."""
    if entry.get("class") is None:
        return str(entry["feature"])
    return f"{entry['feature']}, class {entry['class']}"


def favorable_outcome(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Return a regression result's derived outcome (``summary.favorable_outcome``, from
    ``--favorable-above``/``--favorable-below``), or None without a threshold."""
    if not is_regression(data) or favorable_outcome_label(data) is None:
        return None
    section: Mapping[str, Any] = data["summary"]["favorable_outcome"]
    return section


def headline_entries(data: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], str]]:
    """Return every headline entry a card lists with the slice it is measured on: the result's
    headline, then a regression result's derived-outcome headline, its slice labelled
    (``sex, derived outcome: prediction > 150``)."""
    entries = [(h, headline_slice(h)) for h in data.get("headline") or []]
    derived = favorable_outcome(data)
    if derived is not None:
        label = favorable_outcome_label(data)
        entries += [(h, f"{headline_slice(h)}, {label}") for h in derived.get("headline") or []]
    return entries


def read_card_input(path: Path) -> bytes:
    """Return the bytes of a report or card file (CardError when it cannot be read)."""
    try:
        return read_regular_bytes(path)
    except FileNotFoundError:
        raise CardError(MSG_REPORT_NOT_FOUND.format(path=path)) from None
    except OSError as exc:
        raise CardError(
            MSG_REPORT_UNREADABLE.format(path=path, detail=exc.strerror or exc)
        ) from None


def report_reference(path: str | Path) -> ReportReference:
    """Return the file name, SHA-256 of every byte, and signer key ids of a report file."""
    from fairaudit.errors import VerificationError
    from fairaudit.provenance import detached_path_for, parse_detached, split_trailer

    report = Path(path)
    content = read_card_input(report)
    digest = hashlib.sha256(content).hexdigest()
    try:
        _, envelopes = split_trailer(content)
        detached = detached_path_for(report)
        if envelopes is None and detached.exists():
            envelopes = parse_detached(read_card_input(detached))
    except VerificationError:
        return ReportReference(report.name, digest, (), malformed=True)
    key_ids = tuple(str(e["signatures"][0]["keyid"]) for e in envelopes or ())
    return ReportReference(report.name, digest, key_ids)


def load_report(path: str | Path) -> dict[str, Any]:
    """Return the audit result of a ``report.json`` (or the JSON embedded in a report.html)."""
    report = Path(path)
    content = read_card_input(report)
    if report.suffix.lower() in (".html", ".htm"):
        from fairaudit.provenance import extract_results, split_trailer

        try:
            data: Any = extract_results(split_trailer(content)[0])
        except (FairauditError, RecursionError) as exc:  # RecursionError: nesting past the stack
            raise CardError(MSG_NOT_JSON.format(path=report, detail=exc)) from None
    else:
        try:
            data = json.loads(content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise CardError(MSG_NOT_JSON.format(path=report, detail=exc)) from None
    if not isinstance(data, dict):
        raise CardError(MSG_NOT_JSON.format(path=report, detail="not a JSON object"))
    for key in ("audit", "lineage", "metrics", "headline"):
        if not isinstance(data.get(key), dict | list):
            raise CardError(MSG_NOT_RESULT.format(path=report, key=key))
    return data


def default_report_html(report_json: Path) -> Path | None:
    """Return the HTML report beside ``report_json`` (same stem), if it exists."""
    if report_json.suffix.lower() in (".html", ".htm"):
        return report_json
    html = report_json.with_suffix(".html")
    return html if html.is_file() else None


def dataset_identity(data: Mapping[str, Any]) -> tuple[str, str]:
    """Return the evaluation data's (name, type) for a card.

    The audit's ``dataset_name`` / ``dataset_type`` (config keys, or ``fairaudit card
    --dataset-name/--dataset-type``) when given, else the data file's name; the type
    defaults to the name, as Hugging Face's model-index does.
    """
    audit = data.get("audit") or {}
    lineage = (data.get("lineage") or {}).get("data") or {}
    name = str(audit.get("dataset_name") or lineage.get("file_name") or "evaluation data")
    return name, str(audit.get("dataset_type") or name)
