"""Reviews and approvals: the decision a reviewer signs, and whether a policy's are met."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fairaudit.policy._model import DECISIONS, REVIEWER_ROLE, Policy, PolicyError

if TYPE_CHECKING:
    from fairaudit.provenance import VerificationSummary

__all__ = ["MSG_BAD_DECISION", "ApprovalStatus", "check_approvals", "review_extra"]

MSG_BAD_DECISION = "review decision must be 'approve' or 'reject', not {value!r}"


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
