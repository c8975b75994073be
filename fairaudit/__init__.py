"""fairaudit: audit machine-learning classifiers for bias before they ship.

In a notebook: ``fairaudit.audit(df, model=estimator, target="y", sensitive=["sex"])``
(or ``fairaudit.audit(y_true=..., y_pred=..., sensitive_features=...)``) returns a result
that displays itself; ``fairaudit.diff(old, new)`` compares two audits. See docs/python.md.

Heavy names (pandas, scikit-learn) load lazily, so that commands such as
``fairaudit verify`` start fast.
"""

from __future__ import annotations

import importlib
import types
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
    "CallableModule",
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

_LAZY = {
    "AuditSpec": "fairaudit.spec",
    "AuditResult": "fairaudit.result",
    "diff": "fairaudit.api",
    "run_audit": "fairaudit.audit",
}


class CallableModule(types.ModuleType):
    """The type of the module ``fairaudit.audit``: calling it calls ``fairaudit.api.audit``.

    ``fairaudit.audit`` names both the pipe's module (``fairaudit.audit.run_audit``) and
    the notebook entry point ``fairaudit.audit(df, model=...)``. Importing a submodule
    makes it the package's attribute, so the module itself answers the call.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return importlib.import_module("fairaudit.api").audit(*args, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "audit":  # the callable module (see CallableModule)
        return importlib.import_module("fairaudit.audit")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fairaudit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
