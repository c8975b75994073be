"""Typed exceptions raised by every stage, each carrying the exit code the CLI returns.

Every message is one line for the user: what is wrong and what to do. As with click's
exceptions, the exit status is an attribute of the class (1 unless it says otherwise); the
command line's one error handler prints ``Error: <message>`` and exits with it.
"""

from __future__ import annotations

__all__ = [
    "FairauditError",
    "ConfigError",
    "DataError",
    "ModelError",
    "UnsafeModelError",
    "OutputError",
    "SigningError",
    "VerificationError",
    "PolicyFailed",
]


class FairauditError(Exception):
    """Base class for every user-facing failure. ``exit_code`` is what the CLI returns."""

    exit_code = 1


class ConfigError(FairauditError):
    """An option, a config file or a flag combination is wrong."""


class DataError(FairauditError):
    """The evaluation data cannot be audited as given (missing column, bad labels, ...)."""


class ModelError(FairauditError):
    """The model file cannot be loaded or cannot score the data."""


class UnsafeModelError(ModelError):
    """The model file would run untrusted code if loaded; loading was refused."""


class OutputError(FairauditError):
    """An output file cannot be written."""


class SigningError(FairauditError):
    """A key cannot be read or a report cannot be signed."""


class VerificationError(FairauditError):
    """A signed artifact failed verification; ``reason`` is a stable machine-readable code."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class PolicyFailed(FairauditError):
    """The artifact does not meet the policy: exit status 3, as a failed policy in ``run``."""

    exit_code = 3
