"""A policy rule's bound in words, as the model cards and the JUnit XML write it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["bound_text"]


def bound_text(bound: Mapping[str, Any]) -> str:
    """Return a policy rule's bound from the result JSON, e.g. ``>= 0.8 and <= 1.25``."""
    parts = []
    if bound.get("min") is not None:
        parts.append(f">= {bound['min']}")
    if bound.get("max") is not None:
        parts.append(f"<= {bound['max']}")
    return " and ".join(parts)
