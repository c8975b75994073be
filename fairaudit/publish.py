"""Publishing an audit: supersedes from the ledger, the signed report files, the ledger entry.

The one place that orders these steps, for ``fairaudit run``, batches and Python callers:
the ledger names the audit this one supersedes (which changes the audit id), then the
report is rendered, signed and written atomically, then the run is appended to the ledger.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fairaudit.ledger import append_entry, default_ledger_path, file_sha256, previous_audit
from fairaudit.report import write_report
from fairaudit.result import AuditResult

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["Published", "ledger_path_for", "publish_report"]


@dataclass(frozen=True)
class Published:
    """Where the report went and which ledger recorded it (None: no ledger)."""

    html: Path
    json: Path
    ledger: Path | None


def ledger_path_for(output: str | os.PathLike[str], ledger: str | os.PathLike[str] | None) -> Path:
    """Return the ledger to use: ``ledger`` if given, else one in the output folder."""
    if ledger is not None:
        return Path(ledger)
    raw = os.fspath(output)
    folder = Path(raw) if raw.endswith(("/", os.sep)) or Path(raw).is_dir() else Path(raw).parent
    return default_ledger_path(folder / "report.html")


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
    ledger first, so the audit id covers it.
    """
    ledger_path = ledger_path_for(output, ledger) if use_ledger else None
    if ledger_path is not None:
        result.audit["supersedes"] = previous_audit(ledger_path, result.audit["name"])
        result.audit["id"] = result.content_id()
    html_path, json_path = write_report(result, output, sign_key=sign_key)
    if ledger_path is not None:
        append_entry(
            ledger_path,
            result.to_dict(),
            report_sha256=file_sha256(html_path),
            signing_key=sign_key,
        )
    return Published(html_path, json_path, ledger_path)
