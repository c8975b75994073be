"""The batch's index: one self-contained page and its JSON, listing every audit's outcome."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fairaudit.batch._data import DATA_KIND
from fairaudit.batch._manifest import INDEX_FILES
from fairaudit.batch._run import BatchResult, OutcomeStatus, SignatureStatus
from fairaudit.paths import atomic_write_many

__all__ = [
    "INDEX_HEADLINE",
    "IndexContext",
    "IndexRow",
    "build_index_context",
    "headline_texts",
    "render_index",
    "write_index",
]


@dataclass
class IndexRow:
    """One audit as the index page shows it; every string is escaped by Jinja2."""

    index: int
    name: str
    kind: str
    task: str | None
    model_version: str | None
    status: OutcomeStatus
    verdict: str | None
    href: str | None
    report: str | None
    headline: list[dict[str, Any]]
    headline_texts: list[str]
    signature: SignatureStatus
    signature_detail: str | None
    error: str | None
    audit_id: str | None


@dataclass
class IndexContext:
    """Everything ``templates/index.html`` reads.

    ``href`` values are relative, percent-encoded file names of reports beside the index:
    the index's only links.
    """

    title: str
    tool_version: str
    created_at: str
    manifest_name: str
    manifest_sha256: str
    status: OutcomeStatus
    exit_code: int
    counts: dict[str, int]
    rows: list[IndexRow]
    signed: bool
    headline_metrics: tuple[str, ...]
    data_json: Any


#: Headline metrics the index shows per grouping of a model audit (the same pair ``fairaudit
#: run`` prints); a data audit shows its whole headline (``batch._data.data_headline``).
INDEX_HEADLINE = ("demographic_parity_ratio", "equalized_odds_difference")
#: A regression audit's headline on the index (issue 17), per grouping, as it reads there.
INDEX_REGRESSION_HEADLINE = {
    "ks_statistic": "largest KS distance",
    "max_group_mae_ratio": "worst group's MAE over the overall",
}


def _number(value: Any) -> str:
    """Return a headline value as the page's ``num(3)`` filter writes it."""
    return "undefined" if value is None else f"{float(value):.3f}"


def _regression_texts(headline: list[dict[str, Any]]) -> list[str]:
    """Return each grouping's KS distance and worst MAE ratio (the worst group named)."""
    from fairaudit.display import group_text

    texts = []
    for h in headline:
        phrase = INDEX_REGRESSION_HEADLINE.get(h["metric"])
        if phrase is not None:
            text = f"{h['feature']}: {phrase} {_number(h.get('value'))}"
            texts.append(text + (f" ({group_text(h['group'])})" if h.get("group") else ""))
    return texts


def _multiclass_texts(worst_classes: list[dict[str, Any]]) -> list[str]:
    """Return each grouping's headline pair at its worst class (``summary.worst_classes``)."""
    return [
        f"{w['feature']}: {w['metric'].replace('_', ' ')} {_number(w.get('value'))} "
        f"(worst class {w['class']})"
        for w in worst_classes
        if w["metric"] in INDEX_HEADLINE
    ]


def _favorable_texts(derived: dict[str, Any] | None) -> list[str]:
    """Return each grouping's favourable-rate ratio of a regression audit's derived outcome
    (``--favorable-above``/``--favorable-below``): what the four-fifths preset judges."""
    if not derived:
        return []
    return [
        f"{h['feature']}: favourable-rate ratio {_number(h.get('value'))} ({derived['outcome']})"
        for h in derived["headline"]
        if h["metric"] == "demographic_parity_ratio"
    ]


def headline_texts(outcome: Any) -> list[str]:
    """Return the index page's headline lines of a regression or multiclass audit (issue 17);
    empty for the others, whose headline the page writes from ``IndexRow.headline``."""
    if outcome.task == "regression":
        return _regression_texts(outcome.headline) + _favorable_texts(outcome.favorable_outcome)
    if outcome.task == "multiclass":
        return _multiclass_texts(outcome.worst_classes)
    return []


def _relative_href(name: str) -> str:
    """Return a relative URL for a report file name beside the index (never a scheme)."""
    href = quote(name, safe="")
    return "./" + href


def build_index_context(batch: BatchResult) -> IndexContext:
    """Return the template context of the batch's index page."""
    from fairaudit.outputs import embedded_json

    index = batch.to_index_dict()
    rows = [
        IndexRow(
            index=o.index,
            name=o.name,
            kind=o.kind,
            task=o.task,
            model_version=o.model_version,
            status=o.status,
            verdict=o.verdict,
            href=_relative_href(o.report) if o.report else None,
            report=o.report,
            headline=o.headline
            if o.kind == DATA_KIND
            else [h for h in o.headline if h["metric"] in INDEX_HEADLINE],
            headline_texts=headline_texts(o),
            signature=o.signature,
            signature_detail=o.signature_detail,
            error=o.error,
            audit_id=o.audit_id,
        )
        for o in batch.outcomes
    ]
    return IndexContext(
        title=f"Fairness audits: {batch.manifest.path.name}",
        tool_version=index["tool"]["version"],
        created_at=batch.created_at,
        manifest_name=batch.manifest.path.name,
        manifest_sha256=batch.manifest.sha256,
        status=batch.status,
        exit_code=batch.exit_code,
        counts=batch.counts(),
        rows=rows,
        signed=any(o.signature != "unsigned" for o in batch.outcomes),
        headline_metrics=INDEX_HEADLINE,
        data_json=embedded_json(index),
    )


@cache
def _index_template() -> Any:
    from fairaudit.outputs import template_environment

    return template_environment().get_template("index.html")


def render_index(batch: BatchResult) -> str:
    """Return the batch's self-contained index page."""
    return str(_index_template().render(index=build_index_context(batch)))


def write_index(batch: BatchResult) -> tuple[Path, Path]:
    """Write ``index.html`` and ``index.json`` in the output folder atomically; return them."""
    folder = batch.manifest.output_dir
    html_path, json_path = (folder / name for name in INDEX_FILES)
    text = json.dumps(batch.to_index_dict(), indent=2, ensure_ascii=False, allow_nan=False)
    atomic_write_many(
        {
            json_path: (text + "\n").encode("utf-8"),
            html_path: render_index(batch).encode("utf-8"),
        }
    )
    return html_path, json_path
