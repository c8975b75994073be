"""One monitor run: verify the baseline, count the new file, store it, judge, publish.

The order keeps the state honest: the file is hashed first, and a file already counted is
not audited again; its windows' counts are inserted in one transaction on the state file
that commits only after the report (and ledger entry) are written, so a failed or killed
run leaves the state as it was. A run over a file already counted writes nothing (no
page, no ledger entry): it reports the stored windows' alarms and exits as the run that
counted it did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["MSG_LATE", "MonitorRun", "WindowSource", "run_monitor"]

MSG_LATE = (
    "{file} has rows for window '{label}', but '{latest}' is already counted after it in "
    "{state}; rows added to an older window would be judged outside the monitor's "
    "guarantee: monitor them in a new period (another --state), or drop those rows"
)


@dataclass(frozen=True)
class WindowSource:
    """Where this run's rows come from and how they are cut into windows."""

    path: Path
    label: str | None = None
    time_col: str | None = None
    window: str | int | None = None
    engine: str = "auto"


@dataclass(frozen=True)
class MonitorRun:
    """What a run did: the document, whether the file was new, and its windows' labels."""

    document: dict[str, Any]
    added: bool
    labels: tuple[str, ...] = field(default=())


def run_monitor(
    source: WindowSource,
    *,
    baseline: Path,
    trusted_keys: Any,
    state: Path,
    output: Path,
    settings: Any,
    name: str | None = None,
    sign_key: Any = None,
    ledger: Path | None = None,
    junit: Path | None = None,
) -> MonitorRun:
    """Add ``source``'s rows to the monitor ``state`` and publish the report."""
    from fairaudit.monitor._analysis import analyse
    from fairaudit.monitor._baseline import baseline_counts, load_baseline, window_spec
    from fairaudit.monitor._report import monitor_document, publish_monitor, write_monitor_junit
    from fairaudit.monitor._state import append_chunks, read_windows
    from fairaudit.monitor._window import audit_file, merge_chunks
    from fairaudit.provenance import file_sha256

    verified = load_baseline(baseline, trusted_keys)
    spec = window_spec(verified, source.path, source.engine)
    binding = {
        "baseline_audit_id": verified.audit_id,
        "baseline_page_sha256": verified.page_sha256,
        "settings": settings.to_json(),
    }
    digest = file_sha256(source.path)
    known = read_windows(state, binding) if state.is_file() and state.stat().st_size else []
    chunks: list[dict[str, Any]] = []
    if not any(chunk.file_sha256 == digest for chunk in known):
        label = source.label or source.path.stem
        chunks = audit_file(spec, digest, label, source.time_col, source.window)
    _refuse_late(chunks, known, state, source.path.name)
    groupings = list(verified.results.get("audit", {}).get("groupings") or [])
    base = baseline_counts(verified)
    run_name = name or verified.results.get("audit", {}).get("name") or source.path.stem

    def then(stored: list[Any], added: bool) -> MonitorRun:
        labels = tuple(dict.fromkeys(c.label for c in stored if c.file_sha256 == digest))
        windows = merge_chunks(stored)
        analysis = analyse(windows, base, verified.references(), groupings, settings)
        rows = sum(c.rows for c in stored if c.file_sha256 == digest)
        read = {"sha256": digest, "rows": rows, "file_name": source.path.name}
        document = monitor_document(run_name, verified, settings, windows, analysis, read)
        if not added:  # nothing new: the page, JSON and ledger stay as the first run left them
            return MonitorRun(document, False, labels)
        final = publish_monitor(document, output, sign_key=sign_key, ledger=ledger)
        if junit is not None:
            write_monitor_junit(final, junit)
        return MonitorRun(final, True, labels)

    if not chunks:
        return then(known, False)
    return append_chunks(state, binding, chunks, then)


def _refuse_late(chunks: list[dict[str, Any]], known: list[Any], state: Path, name: str) -> None:
    """Raise ConfigError when the file adds rows to a window older than the latest one."""
    from fairaudit.errors import ConfigError

    if not known:
        return
    latest = known[-1].label
    older = {c.label for c in known} - {latest}
    for chunk in chunks:
        if chunk["label"] in older:
            raise ConfigError(
                MSG_LATE.format(
                    file=name,
                    label=chunk["label"],
                    latest=latest,
                    state=state,
                )
            )
