"""fairaudit: audit machine-learning classifiers for bias before they ship.

In a notebook: ``fairaudit.audit(df, model=estimator, target="y", sensitive=["sex"])``
(or ``fairaudit.audit(y_true=..., y_pred=..., sensitive_features=...)``) returns a result
that displays itself; ``fairaudit.diff(old, new)`` compares two audits. See docs/python.md.

Heavy names (pandas, scikit-learn) load lazily, so that commands such as
``fairaudit verify`` start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fairaudit._version import __version__
from fairaudit.errors import (
    ConfigError,
    DataError,
    FairauditError,
    ModelError,
    OutputError,
    PolicyFailed,
    SigningError,
    UnsafeModelError,
    VerificationError,
)

__all__ = [
    "__version__",
    "AuditResult",
    "AuditSpec",
    "ConfigError",
    "DataError",
    "FairauditError",
    "ModelError",
    "OutputError",
    "PolicyFailed",
    "SigningError",
    "UnsafeModelError",
    "VerificationError",
    "audit",
    "diff",
    "run_audit",
]

if TYPE_CHECKING:
    from fairaudit.api import audit as audit
    from fairaudit.api import diff as diff

_LAZY = {
    "AuditSpec": "fairaudit.spec",
    "AuditResult": "fairaudit.result",
    "audit": "fairaudit.api",
    "diff": "fairaudit.api",
    "run_audit": "fairaudit.pipe",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fairaudit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
