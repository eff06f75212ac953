"""Releases by review (contract v1 additions, ``reviews.v1``): pairing reviews, applying them.

A release takes effect when a second, different reviewer sends the same release (same decision,
same lines). The shipment is then decided again on its event through the one settle path (a
re-screen with trigger ``review``, ADR 0027) and the released lines become RELEASED_BY_REVIEW,
naming both reviewers and their justifications. A PROHIBITED_* or SHIPMENT_CANCELLED hold is
never released. A release stays with the shipment through later re-screens of the same event
(a licence or catalogue change) as long as the line is still held for a releasable reason; an
amendment is a new event and needs a new review.

Pure code: no I/O (the follower in :mod:`services.screening.review_follower` feeds it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas import Decision, Outcome
from schemas.decision import LineDecision, Reason, ReasonCode
from schemas.review import Review, ReviewAction

#: Hold reasons no review may release.
NEVER_RELEASED = frozenset(
    {
        ReasonCode.PROHIBITED_END_USE,
        ReasonCode.PROHIBITED_DESTINATION,
        ReasonCode.SHIPMENT_CANCELLED,
    }
)


def releasable(line: LineDecision) -> bool:
    """A held line none of whose reasons is a prohibition (or a cancellation)."""
    return (
        line.outcome is Outcome.HOLD
        and not any(code.value.startswith("PROHIBITED_") for code in line.reasons)
        and not (set(line.reasons) & NEVER_RELEASED)
    )


@dataclass(frozen=True)
class Release:
    """Two different reviewers' release of the same lines of the same decision."""

    shipment_id: str
    decision_id: str
    line_nos: tuple[int, ...]
    reviews: tuple[Review, Review]

    def message(self) -> str:
        first, second = self.reviews
        return (
            f"released by review: {first.reviewer.name} ({first.reviewer.id}),"
            f" confirmed by {second.reviewer.name} ({second.reviewer.id});"
            f" justification: {first.justification}"
            + (f" / {second.justification}" if second.justification != first.justification else "")
        )


@dataclass
class ReleaseBook:
    """Releases seen so far, waiting for a second, different reviewer."""

    _waiting: dict[tuple[str, tuple[int, ...]], list[Review]] = field(default_factory=dict)

    def add(self, review: Review) -> Release | None:
        """The release this review completes, or None (first review, same reviewer, no lines)."""
        if review.action is not ReviewAction.RELEASE or not review.line_nos:
            return None
        key = (review.decision_id, tuple(sorted(set(review.line_nos))))
        waiting = self._waiting.setdefault(key, [])
        for earlier in waiting:
            if earlier.reviewer.id != review.reviewer.id:
                return Release(review.shipment_id, review.decision_id, key[1], (earlier, review))
        if all(r.review_id != review.review_id for r in waiting):
            waiting.append(review)
        return None


def with_release(decision: Decision, release: Release) -> Decision:
    """``decision`` with the released lines approved as RELEASED_BY_REVIEW (those still
    releasable: a line that is now approved, or prohibited, is left as it is)."""
    return _released(decision, {n: release.message() for n in release.line_nos})


def carry_releases(previous: Decision, decision: Decision) -> Decision:
    """``decision`` (a re-screen of the same event) keeping the releases of ``previous``."""
    messages = {
        r.line_no: r.message
        for r in previous.reasons
        if r.code is ReasonCode.RELEASED_BY_REVIEW and r.line_no is not None
    }
    return _released(decision, messages) if messages else decision


def _released(decision: Decision, messages: dict[int, str]) -> Decision:
    freed = {
        line.line_no for line in decision.lines if line.line_no in messages and releasable(line)
    }
    if not freed:
        return decision
    lines = [
        line.model_copy(
            update={
                "outcome": Outcome.APPROVE,
                "reasons": [ReasonCode.RELEASED_BY_REVIEW],
                "license_id": None,
                "consumed": None,
            }
        )
        if line.line_no in freed
        else line
        for line in decision.lines
    ]
    kept = [r for r in decision.reasons if r.line_no not in freed]
    added = [
        Reason(code=ReasonCode.RELEASED_BY_REVIEW, line_no=n, message=messages[n])
        for n in sorted(freed)
    ]
    outcome = (
        Outcome.APPROVE if all(line.outcome is Outcome.APPROVE for line in lines) else Outcome.HOLD
    )
    return decision.model_copy(
        update={
            "lines": lines,
            "reasons": sorted([*kept, *added], key=_by_line),
            "outcome": outcome,
        }
    )


def _by_line(reason: Reason) -> int:
    return reason.line_no if reason.line_no is not None else 0
