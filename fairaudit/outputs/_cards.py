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
from typing import Any, Literal

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

#: What reading a field of the wrong type or form raises while a card is built (an int past
#: float's range: OverflowError; nesting deeper than the stack: RecursionError).
_MALFORMED = (
    TypeError,
    ValueError,
    KeyError,
    AttributeError,
    IndexError,
    OverflowError,
    RecursionError,
)
MSG_MALFORMED = (
    "'{path}' is not a fairaudit report JSON of a known version: a field has a value of the "
    "wrong type or form ({kind})"
)

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
    existing = _existing(card) if format != "mct" else None
    given = {"dataset_name": dataset_name, "dataset_type": dataset_type}
    try:
        text = _card_text(report, data, format, existing, card, report_html, given)
    except _MALFORMED as exc:
        # A field of the wrong type or form (a report edited by hand, or of another
        # version): one line naming the file, never a traceback. Nothing is written yet.
        raise CardError(MSG_MALFORMED.format(path=report, kind=type(exc).__name__)) from None
    if card is not None and format != "mct" and text != existing:
        atomic_write_bytes(Path(card), text.encode("utf-8"))
    return text


def _existing(card: str | Path | None) -> str | None:
    """Return the text of the card to update, or None when there is none yet."""
    if card is None or not Path(card).exists():
        return None
    try:
        return read_card_input(Path(card)).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CardError(MSG_REPORT_UNREADABLE.format(path=card, detail=exc)) from None


def _card_text(
    report: str | Path,
    data: dict[str, Any],
    format: CardFormat,
    existing: str | None,
    card: str | Path | None,
    report_html: str | Path | None,
    given: dict[str, str | None],
) -> str:
    """Return the card text of ``data`` in ``format`` (``export_card`` writes it): ``existing``
    is the card's text to update, ``given`` the dataset name and type from the options."""
    given = {k: v for k, v in given.items() if v}
    if given:
        data = {**data, "audit": {**data["audit"], **given}}
    if format == "mct":
        # Bidi and C1 controls as JSON escapes: the same data, safe to print.
        return terminal_json(mct_card(data), indent=2, allow_nan=False) + "\n"
    html = Path(report_html) if report_html is not None else default_report_html(Path(report))
    reference = report_reference(html) if html is not None else None
    update = update_huggingface_card if format == "huggingface" else update_markdown_card
    return update(existing, data, reference, source=str(card or "card"))
