"""Windows of a monitor: files (or a log's time windows) audited with the baseline's options.

A window's rows go through the same audit as ``fairaudit run`` (the numpy or DuckDB
engine, the same checks, the same measurement), without intervals or mitigation; what the
monitor keeps of the result is each group's confusion counts, which are additive, so the
report can be rebuilt from the stored counts and a window may be fed by several files.

A file is one window (labelled by ``--window-label`` or its name), or, with ``--time-col``
and ``--window``, a log cut into calendar windows (``day``: ``2026-01-05``, ``week``: the
ISO week ``2026-W02``, ``month``: ``2026-01``) or into windows of N rows in file order
(``N-rows``: ``<file>#1``, ``<file>#2``, ...): ``_log`` cuts it, in memory, or with the
DuckDB engine and calendar windows out of core into one CSV file per window.

Late labels: a window whose label column is missing or empty (all null) is counted on its
predictions alone (the target filled with one label; the counts kept are ``fp`` for the
selected rows and ``tn`` for the rest, ``tp`` and ``fn`` 0); its count rows carry
``pending: true`` and only the selection rate is judged. A later file with the labels of
that window's rows *replaces* its counts (its count rows carry ``fill: true``); the
monitor run checks that it brings the same rows (``_run``).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fairaudit.errors import ConfigError

__all__ = [
    "COUNT_KEYS",
    "Window",
    "audit_file",
    "group_counts",
    "group_key",
    "group_label",
    "merge_chunks",
    "parse_window",
]

#: The confusion counts kept per group and window.
COUNT_KEYS = ("tp", "fp", "fn", "tn")
CALENDAR = ("day", "week", "month")
MSG_BAD_WINDOW = "--window takes day, week, month or N-rows (e.g. 5000-rows), not {value!r}"


@dataclass(frozen=True)
class Window:
    """A window as the monitor judges it: the sum of its chunks' counts."""

    seq: int
    label: str
    rows: int
    files: tuple[str, ...]
    counts: list[dict[str, Any]]
    recorded_at: str

    @property
    def pending(self) -> bool:
        """True while the window's labels have not arrived (label metrics are pending)."""
        return any(row.get("pending") for row in self.counts)


def parse_window(value: str) -> str | int:
    """Return ``day``/``week``/``month`` or the N of ``N-rows``; ConfigError if neither."""
    if value in CALENDAR:
        return value
    number = value[: -len("-rows")] if value.endswith("-rows") else ""
    if number.isdigit() and int(number) > 0:
        return int(number)
    raise ConfigError(MSG_BAD_WINDOW.format(value=value))


def group_key(grouping: str, group: Mapping[str, Any]) -> str:
    """Return the text that identifies a group of a grouping (its values, in feature order)."""
    return json.dumps([grouping, sorted((str(k), str(v)) for k, v in group.items())])


def group_label(group: Mapping[str, Any]) -> str:
    """Return a group's label for pages and the console: ``sex=f`` or ``sex=f, age=young``."""
    return ", ".join(f"{k}={v}" for k, v in group.items())


def group_counts(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return each group's counts of an audit result: grouping, group and ``COUNT_KEYS``."""
    out = []
    for row in results.get("metrics", {}).get("by_group", []):
        confusion = row.get("confusion") or {}
        counts = {k: int(confusion.get(k, 0) or 0) for k in COUNT_KEYS}
        group = {str(k): str(v) for k, v in (row.get("group") or {}).items()}
        out.append({"grouping": str(row.get("feature")), "group": group, **counts})
    return out


def _unlabelled(spec: Any) -> Any:
    """Return the window's rows with the target filled when its labels are missing or all
    null (a pandas DataFrame), or None when the window has labels."""
    import pandas as pd

    data, target = spec.data, spec.target
    if isinstance(data, pd.DataFrame):
        frame = data
        if target in frame.columns and frame[target].notna().any():
            return None
    elif Path(data).suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        if target in pq.read_schema(data).names:
            column = pq.read_table(data, columns=[target]).column(0)
            if column.null_count < len(column):
                return None
        frame = pd.read_parquet(data)
    else:
        header = pd.read_csv(data, nrows=0).columns
        if target in header and pd.read_csv(data, usecols=[target])[target].notna().any():
            return None
        frame = pd.read_csv(data)
    if frame.empty:  # name the file, not the DataFrame it was read into
        from fairaudit.data import MSG_NO_ROWS

        raise ConfigError(MSG_NO_ROWS.format(path=data))
    # Any one label will do (the counts keep only selected / not selected): the positive
    # label when one is named (the audit checks that it occurs), else 0.
    fill: Any = 0 if spec.positive_label is None else spec.positive_label
    return frame.assign(**{target: fill})


def _counted(spec: Any) -> tuple[int, list[dict[str, Any]]]:
    """Return the rows and per-group counts of one window's rows (``pending`` without labels)."""
    from fairaudit.pipe import run_audit

    unlabelled = None if spec.target is None else _unlabelled(spec)
    if unlabelled is not None:
        spec = replace(spec, data=unlabelled, engine="numpy")
    result = run_audit(spec).to_dict()
    counts = group_counts(result)
    if unlabelled is not None:
        counts = [
            {**row, "tp": 0, "fp": row["tp"] + row["fp"], "fn": 0, "tn": row["fn"] + row["tn"]}
            for row in counts
        ]
        counts = [{**row, "pending": True} for row in counts]
    return int(result["lineage"]["data"].get("rows") or 0), counts


def audit_file(
    spec: Any, digest: str, label: str, time_col: str | None = None, window: str | int | None = None
) -> list[dict[str, Any]]:
    """Return the chunks of one file: ``label`` for the whole file, or its log windows.

    ``spec`` is ``_baseline.window_spec``'s AuditSpec for the file.
    """
    if time_col is None or window is None:
        rows, counts = _counted(spec)
        return [{"label": label, "file_sha256": digest, "rows": rows, "counts": counts}]
    from fairaudit.monitor._log import cut_files, cut_frames

    chunks = []
    if spec.engine == "duckdb" and isinstance(window, str):
        with tempfile.TemporaryDirectory(prefix="fairaudit-monitor-") as folder:
            for name, part in cut_files(spec.data, time_col, window, Path(folder)):
                rows, counts = _counted(replace(spec, data=part))
                chunks.append(
                    {"label": name, "file_sha256": digest, "rows": rows, "counts": counts}
                )
        return chunks
    for name, frame in cut_frames(spec.data, time_col, window, label):
        rows, counts = _counted(replace(spec, data=frame, engine="numpy"))
        chunks.append({"label": name, "file_sha256": digest, "rows": rows, "counts": counts})
    return chunks


def merge_chunks(chunks: Sequence[Any]) -> list[Window]:
    """Return the windows (labels in order of first appearance) with their chunks summed; a
    chunk that brings a pending window's labels (``fill``) replaces the counts before it."""
    merged: dict[str, dict[str, Any]] = {}
    for chunk in chunks:
        window = merged.setdefault(
            chunk.label, {"rows": 0, "files": [], "counts": {}, "recorded_at": chunk.recorded_at}
        )
        if any(row.get("fill") for row in chunk.counts):
            window["rows"], window["counts"] = 0, {}
        window["rows"] += chunk.rows
        window["files"].append(chunk.file_sha256)
        window["recorded_at"] = chunk.recorded_at
        for row in chunk.counts:
            key = group_key(row["grouping"], row["group"])
            total = window["counts"].setdefault(
                key,
                {
                    "grouping": row["grouping"],
                    "group": row["group"],
                    **dict.fromkeys(COUNT_KEYS, 0),
                },
            )
            for name in COUNT_KEYS:
                total[name] += row[name]
            if row.get("pending"):
                total["pending"] = True
    return [
        Window(
            i + 1, label, w["rows"], tuple(w["files"]), list(w["counts"].values()), w["recorded_at"]
        )
        for i, (label, w) in enumerate(merged.items())
    ]
