"""How the outputs write a group and a rule's bound in words: one rule for the model cards,
the JUnit XML and the diff (the HTML report has its own display label, ``group_label``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["bound_text", "group_text"]


def group_text(group: Mapping[str, Any]) -> str:
    """Return a group as ``feature=value`` pairs, e.g. ``sex=female, age=30-40``."""
    return ", ".join(f"{k}={v}" for k, v in group.items())


def bound_text(bound: Mapping[str, Any]) -> str:
    """Return a policy rule's bound from the result JSON, e.g. ``>= 0.8 and <= 1.25``."""
    parts = []
    if bound.get("min") is not None:
        parts.append(f">= {bound['min']}")
    if bound.get("max") is not None:
        parts.append(f"<= {bound['max']}")
    return " and ".join(parts)
