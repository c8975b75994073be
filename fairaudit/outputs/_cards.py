"""Model-card exports of an audit result: Hugging Face, Google Model Card Toolkit, Markdown.

Every number comes from the audit result's JSON form; nothing is recomputed here.

* ``huggingface``: a fairness section in the card's Markdown between ``BEGIN_MARKER`` and
  ``END_MARKER``, plus one ``model-index`` entry in the YAML front matter
  (``_card_huggingface``);
* ``markdown``: the same section for any other card (``_card_markdown``);
* ``mct``: a JSON document valid against Google Model Card Toolkit's schema v0.0.2
  (``_card_mct``).

What they all read, the report's result and the file it cites, is ``_card_source``. Updating
is idempotent: a second run with the same report rewrites the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fairaudit.display import terminal_json
from fairaudit.outputs._card_huggingface import update_huggingface_card
from fairaudit.outputs._card_markdown import update_markdown_card
from fairaudit.outputs._card_mct import mct_card
from fairaudit.outputs._card_source import (
    MSG_REPORT_UNREADABLE,
    CardError,
    default_report_html,
    load_report,
    read_card_input,
    report_reference,
)
from fairaudit.paths import atomic_write_bytes

__all__ = ["CARD_FORMATS", "CardFormat", "export_card"]

CardFormat = Literal["huggingface", "mct", "markdown"]
CARD_FORMATS: tuple[str, ...] = ("huggingface", "mct", "markdown")


def export_card(
    report: str | Path,
    *,
    format: CardFormat,
    card: str | Path | None = None,
    report_html: str | Path | None = None,
    dataset_name: str | None = None,
    dataset_type: str | None = None,
) -> str:
    """Return the exported card text; with ``card`` (huggingface, markdown) update that file.

    ``report`` is a ``report.json`` (or a report.html with embedded results).
    ``report_html`` names the report file whose SHA-256 the card cites (default: the
    ``.html`` beside the JSON, if present). The ``mct`` format returns JSON text and
    ignores ``card``; the caller writes it where it wants. ``dataset_name`` and
    ``dataset_type`` name the evaluation data in the card instead of the audit's own
    (``dataset_identity``).
    """
    if format not in CARD_FORMATS:
        raise CardError(f"unknown card format {format!r}; choose one of {', '.join(CARD_FORMATS)}")
    data = load_report(report)
    given = {"dataset_name": dataset_name, "dataset_type": dataset_type}
    given = {k: v for k, v in given.items() if v}
    if given:
        data = {**data, "audit": {**data["audit"], **given}}
    if format == "mct":
        # Bidi and C1 controls as JSON escapes: the same data, safe to print.
        return terminal_json(mct_card(data), indent=2, allow_nan=False) + "\n"
    html = Path(report_html) if report_html is not None else default_report_html(Path(report))
    reference = report_reference(html) if html is not None else None
    existing: str | None = None
    if card is not None and Path(card).exists():
        try:
            existing = read_card_input(Path(card)).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CardError(MSG_REPORT_UNREADABLE.format(path=card, detail=exc)) from None
    update = update_huggingface_card if format == "huggingface" else update_markdown_card
    text = update(existing, data, reference, source=str(card or "card"))
    if card is not None and text != existing:
        atomic_write_bytes(Path(card), text.encode("utf-8"))
    return text
