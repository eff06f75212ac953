"""Every reader of ``reviews.v1`` (screening, audit, the console) reads a review the same way."""

from __future__ import annotations

import json

import pytest

from schemas.review import ReviewAction, review_from_wire

REVIEW = {
    "review_id": "rev-1",
    "shipment_id": "SHP-1",
    "decision_id": "dec-1",
    "line_nos": [1],
    "action": "release",
    "justification": "licence shown to the reviewer",
    "reviewer": {"id": "u-1", "name": "A. Reviewer"},
    "reviewed_at": "2026-11-30T09:00:00Z",
}


def test_a_well_formed_review_is_read() -> None:
    assert review_from_wire(json.dumps(REVIEW).encode()).action is ReviewAction.RELEASE


@pytest.mark.parametrize(
    "value",
    [
        # a repeated key: a lax reader would keep the last reviewer, a strict one refuses
        json.dumps(REVIEW)
        .replace('"reviewer":', '"reviewer": {"id": "u-2", "name": "B"}, "reviewer":', 1)
        .encode(),
        json.dumps(REVIEW | {"justification": "ok\u202e"}).encode(),
        b'{"review_id": ' + b"[" * 5000,
        b"\xff",
    ],
    ids=["repeated key", "bidi override", "deep nesting", "not UTF-8"],
)
def test_a_review_breaking_the_input_rules_is_refused(value: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (JsonInputError or ValidationError, both ValueErrors)
        review_from_wire(value)
