"""``fairaudit.diff``: what changed between two audits, given as results or report files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fairaudit.api._result import Result
from fairaudit.outputs import AuditDiff, diff_results, format_text, load_results, write_diff_html
from fairaudit.result import AuditResult

__all__ = ["Diff", "diff"]


def _as_data(value: Any) -> dict[str, Any]:
    """Return an audit's JSON dict from a Result, an AuditResult, a dict or a report path."""
    if isinstance(value, Result | AuditResult):
        return value.to_dict()
    if isinstance(value, dict):
        return value
    return load_results(value)  # a report.json or report.html; DiffError if it is not one


class Diff:
    """The changes between two audits (:class:`~fairaudit.outputs.AuditDiff`, whose
    attributes it shows), as ``fairaudit diff`` prints and writes them."""

    def __init__(self, changes: AuditDiff, sources: tuple[Path, ...] = ()) -> None:
        self.changes = changes
        self._sources = sources  # the compared report files, which save() never overwrites

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "changes":
            raise AttributeError(name)
        return getattr(self.changes, name)

    def text(self, *, show_all: bool = False) -> str:
        """Return the diff as ``fairaudit diff`` prints it."""
        return format_text(self.changes, show_all=show_all)

    def __repr__(self) -> str:
        return self.text()

    def _repr_markdown_(self) -> str:
        return "```text\n" + self.text().replace("```", "` ` `") + "\n```\n"

    def save(self, path: str | os.PathLike[str]) -> os.PathLike[str]:
        """Write the diff page (HTML, as ``fairaudit diff --html``); return its path.

        As that command, refuses (``OutputError``) a path that is one of the compared reports.
        """
        from fairaudit.paths import FileRole, check_file_roles

        check_file_roles(
            [FileRole("diff page", Path(path), "diff page")],
            [FileRole("compared report", source) for source in self._sources],
        )
        return write_diff_html(self.changes, path)


def diff(old: Any, new: Any, *, threshold: float = 0.0) -> Diff:
    """Return what changed from the ``old`` audit to the ``new`` one.

    Each may be a :class:`Result`, an ``AuditResult``, its JSON dict, or the path of a
    ``report.json`` or report HTML. A number is listed when it moved by more than
    ``threshold``; each change says whether it is beyond the two intervals.
    """
    sources = tuple(Path(v) for v in (old, new) if isinstance(v, str | os.PathLike))
    return Diff(diff_results(_as_data(old), _as_data(new), threshold=threshold), sources)
