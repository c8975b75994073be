"""fairaudit: audit machine-learning classifiers for bias before they ship.

Heavy names (pandas, scikit-learn) load lazily, so that commands such as
``fairaudit verify`` start fast.
"""

from __future__ import annotations

from typing import Any

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
    "run_audit",
]

_LAZY = {
    "AuditSpec": "fairaudit.spec",
    "AuditResult": "fairaudit.result",
    "run_audit": "fairaudit.audit",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fairaudit' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
