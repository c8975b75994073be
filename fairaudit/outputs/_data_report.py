"""The data audit's document as published: its id, its JSON Schema, its HTML page.

``identified`` gives a ``data_report`` the sections a signature and the ledger read
(``schema_version`` and ``audit``: id, name, supersedes); the id is the SHA-256 of the
canonical JSON of everything but the id, as a model audit's. ``render_data_html`` renders
the page from the JSON form only, which it embeds once.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from fairaudit.outputs._data_report_view import data_report_view
from fairaudit.outputs._report import embedded_json, template_environment

__all__ = [
    "DATA_SCHEMA_VERSION",
    "data_content_id",
    "data_report_paths",
    "data_schema_path",
    "identified",
    "load_data_schema",
    "render_data_html",
]

#: The version of ``fairaudit/schema/data-report.schema.json`` the document follows.
DATA_SCHEMA_VERSION = "1.1.0"


def data_schema_path() -> Path:
    """Return the path of the JSON Schema of the data report."""
    return Path(__file__).resolve().parent.parent / "schema" / "data-report.schema.json"


def load_data_schema() -> dict[str, Any]:
    """Return the JSON Schema of the data report."""
    loaded: dict[str, Any] = json.loads(data_schema_path().read_text(encoding="utf-8"))
    return loaded


def data_content_id(report: dict[str, Any]) -> str:
    """Return the SHA-256 of the canonical JSON of ``report`` without its audit id."""
    import rfc8785

    body = dict(report)
    body["audit"] = {k: v for k, v in report.get("audit", {}).items() if k != "id"}
    return hashlib.sha256(rfc8785.dumps(body)).hexdigest()


def identified(
    report: dict[str, Any], *, name: str | None = None, supersedes: str | None = None
) -> dict[str, Any]:
    """Return ``report`` with ``schema_version`` and ``audit`` (its id covering the rest)."""
    head = {"kind": report["kind"], "schema_version": DATA_SCHEMA_VERSION}
    rest = {k: v for k, v in report.items() if k not in ("kind", "schema_version", "audit")}
    out = {**head, "fairaudit_version": rest.pop("fairaudit_version")}
    out["audit"] = {"id": "", "name": name, "supersedes": supersedes}
    out.update(rest)
    out["audit"]["id"] = data_content_id(out)
    return out


def data_report_paths(output: str | os.PathLike[str]) -> tuple[Path | None, Path]:
    """Return the page's path (None: a .json ``output``, the JSON only) and the JSON's."""
    path = Path(output)
    if path.suffix.lower() == ".json":
        return None, path
    return path, path.with_suffix(".json")


def render_data_html(report: dict[str, Any]) -> str:
    """Return the data report as one self-contained HTML page (its JSON embedded once)."""
    context = data_report_view(report, embedded_json(report))
    return template_environment().get_template("data_report.html").render(report=context)
