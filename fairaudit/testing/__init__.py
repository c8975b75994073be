"""Fairness gates for ML test suites: :func:`assert_fair` inside pytest (or any test)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["assert_fair"]


def assert_fair(
    result_or_kwargs: Any,
    policy: str | os.PathLike[str] | Sequence[str] = "preset:four-fifths",
    *,
    not_evaluable: str | None = None,
) -> Any:
    """Raise ``AssertionError`` listing the failed rules unless ``policy`` passes; return
    the :class:`~fairaudit.api.Result`.

    ``result_or_kwargs`` is a result (``fairaudit.audit(...)``), a report path, or a dict
    of ``fairaudit.audit`` keywords to run the audit with. A warning (a rule that warned,
    or could not be evaluated) does not fail the assertion; ``not_evaluable="fail"`` makes
    an outcome that could not be evaluated fail it.
    """
    from fairaudit.api import Result, audit, check_policy
    from fairaudit.result import AuditResult

    if isinstance(result_or_kwargs, Mapping):
        result: Any = audit(**result_or_kwargs)
    elif isinstance(result_or_kwargs, AuditResult):
        result = Result(result_or_kwargs)
    elif isinstance(result_or_kwargs, str | os.PathLike):
        result = Result.load(result_or_kwargs)
    else:
        result = result_or_kwargs
    checked = check_policy(result.to_dict(), policy, not_evaluable=not_evaluable)
    if not checked.passed:
        raise AssertionError(f"fairness check failed: {checked}")
    return result
