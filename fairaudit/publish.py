"""Publishing an audit: supersedes from the ledger, the signed report files, the ledger entry.

The one place that orders these steps, for ``fairaudit run``, ``fairaudit batch`` and Python
callers. With a ledger they all happen in one write transaction on it: the ledger names the
audit this one supersedes (which changes the audit id), the report is rendered, signed and
written atomically, and the run is appended. Concurrent publishers of one model are thereby
serialised, so each report supersedes the entry just before its own; if writing the report
fails, nothing is appended.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fairaudit.errors import OutputError
from fairaudit.outputs import render_html, report_paths
from fairaudit.paths import atomic_write_many
from fairaudit.provenance import (
    append_rendered,
    check_ledger_appendable,
    detached_path_for,
    file_sha256,
    ledger_path_for,
    render_detached,
    results_verdict,
    sign_report_bytes,
    split_trailer,
)
from fairaudit.result import AuditResult, json_text

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "Published",
    "check_ledger_appendable",
    "ledger_path_for",
    "publish_data_report",
    "publish_report",
    "write_report",
    "write_signed",
]


@dataclass(frozen=True)
class Published:
    """Where the report went and which ledger recorded it (None: no ledger)."""

    html: Path
    json: Path
    ledger: Path | None


def publish_report(
    result: AuditResult,
    output: str | os.PathLike[str],
    *,
    sign_key: Ed25519PrivateKey | None = None,
    ledger: str | os.PathLike[str] | None = None,
    use_ledger: bool = True,
) -> Published:
    """Write the report (HTML, JSON, signature) and record it in the ledger; return paths.

    With ``use_ledger`` (the default) the result's ``audit.supersedes`` is filled from the
    ledger, and the audit id recomputed to cover it, while the ledger is locked for the
    append (see ``ledger.append_rendered``).
    """
    if not use_ledger:
        html_path, json_path = write_report(result, output, sign_key=sign_key)
        return Published(html_path, json_path, None)
    ledger_path = ledger_path_for(output, ledger)
    written: list[Path] = []

    def render(supersedes: str | None) -> tuple[dict[str, Any], str]:
        result.audit["supersedes"] = supersedes
        result.audit["id"] = result.content_id()
        written[:] = write_report(result, output, sign_key=sign_key)
        return result.to_dict(), file_sha256(written[0])

    append_rendered(ledger_path, result.audit.get("name"), render, signing_key=sign_key)
    return Published(written[0], written[1], ledger_path)


def write_report(
    result: AuditResult,
    output: str | os.PathLike[str],
    *,
    sign_key: Ed25519PrivateKey | None = None,
) -> tuple[Path, Path]:
    """Render and write the HTML report and its JSON twin atomically; return their paths.

    With ``sign_key`` the HTML carries an embedded signature (role ``auditor``) and the
    same envelope is written beside it as ``<report>.intoto.jsonl``. Without it, a stale
    ``.intoto.jsonl`` left by an earlier run at the same path is removed, since it signs
    a different report.
    """
    html_path, json_path = report_paths(result, output)
    write_signed(
        html_path, render_html(result), json_path, result.to_json().encode("utf-8"), sign_key
    )
    return html_path, json_path


def write_signed(
    html_path: Path,
    html_text: str,
    json_path: Path,
    json_bytes: bytes,
    sign_key: Ed25519PrivateKey | None,
) -> None:
    """Write a page and its JSON twin atomically, the page signed with ``sign_key`` if given.

    Signed: the HTML carries the envelope in its trailer and ``<page>.intoto.jsonl`` holds
    the same; unsigned: a stale ``.intoto.jsonl`` at that path is removed.
    """
    html = html_text.encode("utf-8")
    files = {json_path: json_bytes}
    detached = detached_path_for(html_path)
    if sign_key is not None:
        html = sign_report_bytes(html, key=sign_key, report_name=html_path.name)
        _, envelopes = split_trailer(html)
        files[detached] = render_detached(envelopes or [])
    files[html_path] = html
    atomic_write_many(files)
    if sign_key is None and detached.exists():
        try:
            detached.unlink()
        except OSError as exc:
            raise OutputError(
                f"cannot remove the stale signature file '{detached}': {exc}"
            ) from None


def publish_data_report(
    report: dict[str, Any],
    output: str | os.PathLike[str],
    *,
    sign_key: Ed25519PrivateKey | None = None,
    ledger: str | os.PathLike[str] | None = None,
    use_ledger: bool = True,
) -> Published:
    """Write a data audit's page and JSON (signed with ``sign_key``) and record it in the ledger.

    ``report`` is ``fairaudit.databias.data_report``'s document; its ``audit`` section (id,
    name, supersedes) is filled here, the supersedes from the ledger's latest data audit of
    the same name (never a model audit's). The ledger entry's kind is ``"data"``, its data
    SHA-256 that of the audited file, its verdict the data policy's (``policy.verdict``, None
    without a policy), its model empty.
    """
    from fairaudit.outputs import data_report_paths, identified, render_data_html

    html_path, json_path = data_report_paths(output)
    if html_path is None:
        raise OutputError(f"a data audit's page is HTML: -o takes .html, not '{output}'")
    name = report.get("audit", {}).get("name")

    def write(supersedes: str | None) -> dict[str, Any]:
        final = identified(report, name=name, supersedes=supersedes)
        text = json_text(final) + "\n"
        write_signed(html_path, render_data_html(final), json_path, text.encode(), sign_key)
        return final

    if not use_ledger:
        write(None)
        return Published(html_path, json_path, None)
    ledger_path = ledger_path_for(output, ledger)

    def render(supersedes: str | None) -> tuple[dict[str, Any], str]:
        final = write(supersedes)
        entry = {
            "kind": final["kind"],
            "audit": final["audit"],
            "lineage": {"data": final["data"]},
            "verdict": results_verdict(final),
        }
        return entry, file_sha256(html_path)

    append_rendered(ledger_path, name, render, kind="data", signing_key=sign_key)
    return Published(html_path, json_path, ledger_path)
