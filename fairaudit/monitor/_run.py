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

__all__ = ["MSG_FILL", "MSG_LATE", "MonitorRun", "WindowSource", "run_monitor"]

MSG_LATE = (
    "{file} has rows for window '{label}', but '{latest}' is already counted after it in "
    "{state}; rows added to an older window would be judged outside the monitor's "
    "guarantee: monitor them in a new period (another --state), or drop those rows"
)
MSG_FILL = (
    "{file} brings labels for window '{label}', whose labels are pending in {state}, but "
    "{detail}; labels replace a pending window's counts only as one file of that window's "
    "rows (the same rows and predictions), in window order"
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
    baseline: Any,
    trusted_keys: Any,
    state: Path,
    output: Path,
    settings: Any,
    name: str | None = None,
    sign_key: Any = None,
    ledger: Path | None = None,
    junit: Path | None = None,
) -> MonitorRun:
    """Add ``source``'s rows to the monitor ``state`` and publish the report.

    ``baseline`` is the signed audit's path (verified against ``trusted_keys``) or an
    unsigned ``Baseline`` from ``data_baseline``."""
    from fairaudit.monitor._analysis import analyse, family_keys
    from fairaudit.monitor._baseline import (
        Baseline,
        baseline_counts,
        data_references,
        load_baseline,
        window_spec,
    )
    from fairaudit.monitor._report import monitor_document, publish_monitor, write_monitor_junit
    from fairaudit.monitor._state import StateView, append_chunks, check_head, read_state
    from fairaudit.monitor._window import audit_file, merge_chunks
    from fairaudit.provenance import file_sha256

    verified = baseline if isinstance(baseline, Baseline) else load_baseline(baseline, trusted_keys)
    spec = window_spec(verified, source.path, source.engine)
    binding = {
        "baseline_audit_id": verified.audit_id,
        "baseline_page_sha256": verified.page_sha256,
        "settings": settings.to_json(),
    }
    groupings = list(verified.results.get("audit", {}).get("groupings") or [])
    base = baseline_counts(verified)
    if verified.signed:  # the family of tests (and alpha per test): the baseline's groups
        binding["family"] = family_keys(base, groupings)
    else:  # a baseline from the data: its columns; its family is the first (chained) window's
        binding["columns"] = verified.results["lineage"]["config"]
    digest = file_sha256(source.path)
    view = StateView([], [], None)
    if state.is_file() and state.stat().st_size:
        view = read_state(state, binding)
    # an unsigned baseline has no name: the state file's, so that every run shares one
    fallback = source.path.stem if verified.signed else state.stem
    run_name = name or verified.results.get("audit", {}).get("name") or fallback
    if ledger is not None:
        check_head(view, ledger, output.with_suffix(".json"), run_name, state)
    known = view.windows
    chunks: list[dict[str, Any]] = []
    if not any(chunk.file_sha256 == digest for chunk in known):
        label = source.label or source.path.stem
        chunks = audit_file(spec, digest, label, source.time_col, source.window)
    chunks = _place(chunks, known, state, source.path.name)

    def then(now: Any, added: bool) -> tuple[MonitorRun, list[Any]]:
        stored, kept = now.windows, now.alarms
        labels = tuple(dict.fromkeys(c.label for c in stored if c.file_sha256 == digest))
        windows = merge_chunks(stored)
        references = verified.references() if verified.signed else data_references(windows)
        analysis = analyse(windows, base, references, groupings, settings, kept)
        rows = sum(c.rows for c in stored if c.file_sha256 == digest)
        read = {"sha256": digest, "rows": rows, "file_name": source.path.name}
        document = monitor_document(run_name, verified, settings, windows, analysis, read)
        document["state"] = now.head()
        if not added:  # nothing new: the page, JSON and ledger stay as the first run left them
            return MonitorRun(document, False, labels), kept
        final = publish_monitor(document, output, sign_key=sign_key, ledger=ledger)
        if junit is not None:
            write_monitor_junit(final, junit)
        return MonitorRun(final, True, labels), analysis["alarms"]

    if not chunks:
        return then(view, False)[0]
    return append_chunks(state, binding, chunks, then)


def _selected(counts: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Return each group's (selected, not selected) rows."""
    from fairaudit.monitor._window import group_key

    return {
        group_key(r["grouping"], r["group"]): (r["tp"] + r["fp"], r["fn"] + r["tn"]) for r in counts
    }


def _place(
    chunks: list[dict[str, Any]], known: list[Any], state: Path, name: str
) -> list[dict[str, Any]]:
    """Return the chunks to store: a labelled chunk of a window whose labels are pending is
    marked ``fill`` (it replaces the window's counts) once it is shown to hold the same rows
    (equal selected and not-selected counts per group) and no later window has labels;
    rows for a window older than the latest one are refused (ConfigError)."""
    from fairaudit.errors import ConfigError
    from fairaudit.monitor._window import merge_chunks

    if not known:
        return chunks
    windows = merge_chunks(known)
    by_label = {w.label: w for w in windows}
    latest = windows[-1].label
    out = []
    for chunk in chunks:
        window = by_label.get(chunk["label"])
        labelled = not any(row.get("pending") for row in chunk["counts"])
        if window is not None and window.pending and labelled:
            detail = None
            if _selected(chunk["counts"]) != _selected(window.counts):
                detail = "its selected and not-selected rows per group differ from the counted ones"
            elif any(not w.pending for w in windows[window.seq :]):
                detail = "a later window already has its labels"
            if detail is not None:
                raise ConfigError(
                    MSG_FILL.format(file=name, label=window.label, state=state, detail=detail)
                )
            chunk = {**chunk, "counts": [{**row, "fill": True} for row in chunk["counts"]]}
        elif window is not None and window.label != latest:
            raise ConfigError(
                MSG_LATE.format(file=name, label=window.label, latest=latest, state=state)
            )
        out.append(chunk)
    return out
