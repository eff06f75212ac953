"""Review releases: two different reviewers, held lines only, never a prohibition (pure code)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas import Decision, Outcome
from schemas.decision import ReasonCode
from schemas.review import Review
from services.screening.review_release import (
    Release,
    ReleaseBook,
    carry_releases,
    with_release,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "schemas" / "examples" / "decision.json"


def held() -> Decision:
    """Three held lines: 1 DECLARATION_MISMATCH, 2 LICENSE_REQUIRED, 3 LICENSE_REQUIRED."""
    return Decision.model_validate_json(EXAMPLE.read_text())


def prohibited() -> Decision:
    d = json.loads(EXAMPLE.read_text())
    d["lines"][1]["reasons"] = ["PROHIBITED_END_USE"]
    d["reasons"][1]["code"] = "PROHIBITED_END_USE"
    return Decision.model_validate(d)


def review(reviewer: str, lines: list[int], *, decision_id: str | None = None, **kw: Any) -> Review:
    data: dict[str, Any] = {
        "review_id": f"r-{reviewer}-{'-'.join(map(str, lines))}-{kw.get('n', 0)}",
        "shipment_id": "SHP-2026-000001",
        "decision_id": decision_id or held().decision_id,
        "line_nos": lines,
        "action": kw.get("action", "release"),
        "justification": f"{reviewer} checked the licence file",
        "reviewer": {"id": reviewer, "name": reviewer.title()},
        "reviewed_at": datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
    }
    return Review.model_validate(data)


def test_a_release_needs_a_second_different_reviewer_of_the_same_lines() -> None:
    book = ReleaseBook()
    assert book.add(review("rita", [2, 3])) is None
    assert book.add(review("rita", [3, 2], n=1)) is None  # the same reviewer again
    assert book.add(review("rolf", [2])) is None  # other lines
    assert book.add(review("rolf", [2, 3], decision_id="other")) is None  # other decision
    assert book.add(review("ruth", [1], action="confirm_hold")) is None
    release = book.add(review("rolf", [3, 2]))
    assert release is not None
    assert release.line_nos == (2, 3)
    assert [r.reviewer.id for r in release.reviews] == ["rita", "rolf"]


def _release(lines: tuple[int, ...], decision: Decision | None = None) -> Release:
    decision_id = (decision or held()).decision_id
    first, second = review("rita", list(lines)), review("rolf", list(lines))
    return Release("SHP-2026-000001", decision_id, lines, (first, second))


def test_released_lines_are_approved_naming_both_reviewers() -> None:
    released = with_release(held(), _release((2, 3)))
    by_line = {line.line_no: line for line in released.lines}
    assert by_line[2].reasons == [ReasonCode.RELEASED_BY_REVIEW]
    assert by_line[2].outcome is Outcome.APPROVE
    assert by_line[1].outcome is Outcome.HOLD  # not released
    assert released.outcome is Outcome.HOLD
    messages = [r.message for r in released.reasons if r.code is ReasonCode.RELEASED_BY_REVIEW]
    assert len(messages) == 2
    assert all("Rita (rita)" in m and "Rolf (rolf)" in m for m in messages)
    assert {r.line_no for r in released.reasons if r.code is ReasonCode.LICENSE_REQUIRED} == set()
    everything = with_release(held(), _release((1, 2, 3)))
    assert everything.outcome is Outcome.APPROVE


def test_a_prohibition_is_never_released() -> None:
    decision = prohibited()
    released = with_release(decision, _release((1, 2, 3), decision))
    line_2 = next(line for line in released.lines if line.line_no == 2)
    assert line_2.reasons == [ReasonCode.PROHIBITED_END_USE]
    assert line_2.outcome is Outcome.HOLD
    assert released.outcome is Outcome.HOLD
    only_prohibited = with_release(decision, _release((2,), decision))
    assert only_prohibited == decision  # nothing to release: the same decision


def test_a_release_stays_through_a_re_screen_but_not_onto_a_prohibition() -> None:
    released = with_release(held(), _release((2,)))
    rescreened = carry_releases(released, held())
    assert rescreened.lines == released.lines
    now_prohibited = carry_releases(released, prohibited())
    line_2 = next(line for line in now_prohibited.lines if line.line_no == 2)
    assert line_2.reasons == [ReasonCode.PROHIBITED_END_USE]
    assert carry_releases(held(), held()) == held()


def test_the_follower_skips_what_is_not_a_review_and_pairs_the_rest() -> None:
    from services.screening.review_follower import ReviewFollower

    async def never(_: Release) -> None:
        raise AssertionError("not called by _read")

    follower = ReviewFollower(bootstrap="unused:9092", topic="reviews", on_release=never)
    for garbage in (b"", b"not json", b'{"review_id": 1}', b'{"a": 1, "a": 2}', b"\xff\xfe"):
        assert follower._read(garbage, 0) is None
    assert follower.invalid_records == 5
    assert follower._read(None, 0) is None  # a tombstone is not an error
    assert follower._read(review("rita", [2]).model_dump_json().encode(), 1) is None
    release = follower._read(review("rolf", [2]).model_dump_json().encode(), 2)
    assert release is not None
    assert release.line_nos == (2,)
