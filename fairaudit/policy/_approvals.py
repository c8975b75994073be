"""Reviews and approvals: the decision a reviewer signs, and whether a policy's are met."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fairaudit.errors import SigningError
from fairaudit.policy._model import (
    DECISIONS,
    PRESET_PREFIX,
    REVIEWER_ROLE,
    Approvals,
    Policy,
    PolicyError,
)

if TYPE_CHECKING:
    from fairaudit.provenance import VerificationSummary

__all__ = [
    "MSG_APPROVALS_LOOSENED",
    "MSG_BAD_DECISION",
    "MSG_BAD_REVIEWER",
    "MSG_BAD_SETTING",
    "MSG_UNKNOWN_TOP_KEY",
    "ApprovalStatus",
    "check_approvals",
    "merge_approvals",
    "review_extra",
]

MSG_BAD_DECISION = "review decision must be 'approve' or 'reject', not {value!r}"
# A policy file's settings (its top-level keys and [approvals]); _load reads them too.
MSG_UNKNOWN_TOP_KEY = "{source}: unknown key {key!r}; allowed keys: {allowed}"
MSG_BAD_SETTING = "{source}: key {key!r} must be {expected}, not {value!r}"
MSG_APPROVALS_LOOSENED = (
    "{source}: [approvals] key {key!r} loosens what {earlier} requires ({detail})"
)
MSG_BAD_REVIEWER = (
    "{source}: [approvals] key 'reviewers': {value!r} is neither a 64-digit hex key id nor "
    "a readable public key file ({detail})"
)
_APPROVAL_KEYS = ("required", "reviewers")
_KEY_ID_PATTERN = re.compile(r"[0-9a-f]{64}")


# --------------------------------------------------------------------------- reviews


def review_extra(decision: str, comment: str = "") -> dict[str, Any]:
    """Return the ``extra`` predicate fields of a review signature (role ``reviewer``)."""
    if decision not in DECISIONS:
        raise PolicyError(MSG_BAD_DECISION.format(value=decision))
    return {"review": {"decision": decision, "comment": comment}}


@dataclass(frozen=True)
class ApprovalStatus:
    """Whether a verified report carries the approvals a policy requires."""

    required: int
    approved_by: tuple[str, ...]
    rejected_by: tuple[str, ...]
    reviewers: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Return True if enough listed reviewers approved and none rejected."""
        return len(self.approved_by) >= self.required and not self.rejected_by

    def describe(self) -> str:
        """Return a one-line summary for ``fairaudit verify --policy``."""
        approved = ", ".join(k[:16] for k in self.approved_by) or "none"
        if self.required:
            line = f"{len(self.approved_by)} of {self.required} required approval(s) ({approved})"
        else:
            line = f"the policy requires none; approved by: {approved}"
        if self.rejected_by:
            line += "; rejected by " + ", ".join(k[:16] for k in self.rejected_by)
        return f"Approvals {'met' if self.ok else 'NOT met'}: {line}."

    def to_dict(self) -> dict[str, Any]:
        """Return ``{required, approved_by, rejected_by, reviewers, ok}``."""
        return {
            "required": self.required,
            "approved_by": list(self.approved_by),
            "rejected_by": list(self.rejected_by),
            "reviewers": list(self.reviewers),
            "ok": self.ok,
        }


def check_approvals(summary: VerificationSummary, policy: Policy) -> ApprovalStatus:
    """Return which required approvals a verified report has.

    A review counts if its signer's role is ``reviewer``, its ``review.decision`` is
    ``approve`` and, when the policy lists reviewers, its key is listed; a rejection by a
    counted reviewer means the report is not approved. Distinct keys count once.
    """
    approvals = policy.approvals
    required = approvals.required if approvals is not None else 0
    listed = approvals.reviewers if approvals is not None else ()
    approved: dict[str, None] = {}
    rejected: dict[str, None] = {}
    for signer in summary.signers:
        review = signer.extra.get("review")
        if signer.role != REVIEWER_ROLE or not isinstance(review, Mapping):
            continue
        if listed and signer.key_id not in listed:
            continue
        decision = review.get("decision")
        if decision == "approve":
            approved[signer.key_id] = None
        elif decision == "reject":
            rejected[signer.key_id] = None
    return ApprovalStatus(required, tuple(approved), tuple(rejected), listed)


# --------------------------------------------------------------------------- [approvals]


def _reviewer_key_id(value: Any, *, source: str, base: Path) -> str:
    if isinstance(value, str) and _KEY_ID_PATTERN.fullmatch(value.lower()):
        return value.lower()
    if not isinstance(value, str) or not value:
        raise PolicyError(MSG_BAD_REVIEWER.format(source=source, value=value, detail="not text"))
    from fairaudit.provenance import key_id, load_public_key

    path = Path(value) if Path(value).is_absolute() else base / value
    try:
        return key_id(load_public_key(path))
    except SigningError as e:
        raise PolicyError(MSG_BAD_REVIEWER.format(source=source, value=value, detail=e)) from None


def merge_approvals(earlier: Approvals | None, table: Any, source: str, path: Path) -> Approvals:
    """Return the approvals after one layer's ``[approvals]`` (``source``, read from
    ``path``); later layers may only tighten."""
    if not isinstance(table, dict):
        raise PolicyError(
            MSG_BAD_SETTING.format(source=source, key="approvals", expected="a table", value=table)
        )
    for key in table:
        if key not in _APPROVAL_KEYS:
            raise PolicyError(
                MSG_UNKNOWN_TOP_KEY.format(
                    source=source, key=f"approvals.{key}", allowed=", ".join(_APPROVAL_KEYS)
                )
            )
    required = table.get("required", earlier.required if earlier else 1)
    if isinstance(required, bool) or not isinstance(required, int) or required < 0:
        raise PolicyError(
            MSG_BAD_SETTING.format(
                source=source,
                key="approvals.required",
                expected="a whole number >= 0",
                value=required,
            )
        )
    listed = table.get("reviewers")
    if listed is None:
        reviewers = earlier.reviewers if earlier else ()
    elif not isinstance(listed, list):
        raise PolicyError(
            MSG_BAD_SETTING.format(
                source=source, key="approvals.reviewers", expected="a list", value=listed
            )
        )
    else:
        base = path.parent if not source.startswith(PRESET_PREFIX) else Path(".")
        reviewers = tuple(
            dict.fromkeys(_reviewer_key_id(v, source=source, base=base) for v in listed)
        )
    if earlier is not None:
        if required < earlier.required:
            raise PolicyError(
                MSG_APPROVALS_LOOSENED.format(
                    source=source,
                    key="required",
                    earlier=earlier.source,
                    detail=f"{required} < {earlier.required}",
                )
            )
        added = [r for r in reviewers if earlier.reviewers and r not in earlier.reviewers]
        if added:
            raise PolicyError(
                MSG_APPROVALS_LOOSENED.format(
                    source=source,
                    key="reviewers",
                    earlier=earlier.source,
                    detail=f"adds key {added[0][:16]}",
                )
            )
    return Approvals(required, reviewers, source)
