"""One monitor run: verify the baseline, count the new window, store it, judge, publish.

The order keeps the state honest: the window's file is hashed first, and a file already
counted is not audited again; the new window is inserted in one transaction on the state
file that commits only after the report (and ledger entry) are written, so a failed or
killed run leaves the state as it was. A run over a file already counted writes nothing
(no page, no ledger entry): it reports the stored windows' alarms and exits as the run
that counted it did.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MonitorRun", "run_monitor"]


@dataclass(frozen=True)
class MonitorRun:
    """What a run did: the published document, and whether its window was new."""

    document: dict[str, Any]
    added: bool
    label: str


def run_monitor(
    data: Path,
    *,
    baseline: Path,
    trusted_keys: Any,
    state: Path,
    output: Path,
    settings: Any,
    label: str | None = None,
    name: str | None = None,
    engine: str = "auto",
    sign_key: Any = None,
    ledger: Path | None = None,
    junit: Path | None = None,
) -> MonitorRun:
    """Add ``data`` (one window's file) to the monitor ``state`` and publish the report."""
    from fairaudit.monitor._analysis import analyse
    from fairaudit.monitor._baseline import baseline_counts, load_baseline, window_spec
    from fairaudit.monitor._report import monitor_document, publish_monitor, write_monitor_junit
    from fairaudit.monitor._state import append_window, read_windows
    from fairaudit.monitor._window import audit_window
    from fairaudit.provenance import file_sha256

    verified = load_baseline(baseline, trusted_keys)
    spec = window_spec(verified, data, engine)
    binding = {
        "baseline_audit_id": verified.audit_id,
        "baseline_page_sha256": verified.page_sha256,
        "settings": settings.to_json(),
    }
    digest = file_sha256(data)
    known = read_windows(state, binding) if state.is_file() and state.stat().st_size else []
    counted = next((w for w in known if w.file_sha256 == digest), None)
    record = None
    if counted is None:
        record = {**audit_window(spec), "label": label or data.stem}
    groupings = list(verified.results.get("audit", {}).get("groupings") or [])
    base = baseline_counts(verified)
    run_name = name or verified.results.get("audit", {}).get("name") or data.stem

    def then(windows: list[Any], added: bool) -> MonitorRun:
        analysis = analyse(windows, base, verified.references(), groupings, settings)
        document = monitor_document(run_name, verified, settings, windows, analysis)
        if not added:  # nothing new: the page, JSON and ledger stay as the first run left them
            return MonitorRun(
                document, False, next(w.label for w in windows if w.file_sha256 == digest)
            )
        final = publish_monitor(document, output, sign_key=sign_key, ledger=ledger)
        if junit is not None:
            write_monitor_junit(final, junit)
        return MonitorRun(final, added, next(w.label for w in windows if w.file_sha256 == digest))

    if record is None:
        return then(known, False)
    return append_window(state, binding, record, then)
