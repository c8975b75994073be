"""The Python API for notebooks and test suites: :func:`audit` on a DataFrame and a fitted
estimator (or on arrays, as fairlearn takes them), a :class:`Result` that displays itself
and gives tidy DataFrames, and :func:`diff`.

It sits at the top of the layers, beside ``cli/``: it builds an ``AuditSpec`` and runs the
one pipe (``audit.run_audit``), then publishes, exports and compares through ``publish``
and ``outputs``. It never prints; problems raise ``FairauditError`` subclasses.
"""

from __future__ import annotations

from fairaudit.api._diff import Diff, diff
from fairaudit.api._entry import ARRAY_COLUMNS, arrays_frame, audit
from fairaudit.api._result import PolicyCheck, Result, check_policy

__all__ = [
    "ARRAY_COLUMNS",
    "Diff",
    "PolicyCheck",
    "Result",
    "arrays_frame",
    "audit",
    "check_policy",
    "diff",
]
