"""What every task's measurement says of its groupings, read from its ``tables``."""

from __future__ import annotations

from typing import Any

__all__ = ["GroupingNames"]


class GroupingNames:
    """Mixin of a measurement with ``tables`` (one per grouping, each with ``name``,
    ``groups`` and the ``reference`` group's index): binary, regression and multiclass."""

    tables: Any

    @property
    def groupings(self) -> list[str]:
        """Return the groupings' names: each feature, then the intersection (if any)."""
        return [t.name for t in self.tables]

    def reference_groups(self) -> dict[str, dict[str, str]]:
        """Return ``{grouping: reference group}``."""
        return {t.name: t.groups[t.reference] for t in self.tables}
