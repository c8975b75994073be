"""The time a run records: now, or SOURCE_DATE_EPOCH for reproducible artifacts."""

from __future__ import annotations

import os
from datetime import UTC, datetime

__all__ = ["BadSourceDateEpoch", "reproducible_time"]


class BadSourceDateEpoch(ValueError):
    """SOURCE_DATE_EPOCH is set but is not whole seconds since 1970; ``value`` is its text."""

    def __init__(self, value: str) -> None:
        super().__init__(f"SOURCE_DATE_EPOCH must be whole seconds since 1970, not {value!r}")
        self.value = value


def reproducible_time() -> str:
    """Return the time as UTC ISO-8601 ``...Z`` to the second: SOURCE_DATE_EPOCH if set, else now.

    Raises BadSourceDateEpoch when SOURCE_DATE_EPOCH is set (non-empty) to anything but
    whole seconds; each caller words it as its own error.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            moment = datetime.fromtimestamp(int(epoch), tz=UTC)
        except (ValueError, OverflowError, OSError):
            raise BadSourceDateEpoch(epoch) from None
    else:
        moment = datetime.now(tz=UTC).replace(microsecond=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
