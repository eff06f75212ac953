"""The audit rows of values on reviews.v1: a review's fields, or the error with the bytes."""

from __future__ import annotations

import json

from services.audit.reviews_ingest import review_row

REVIEW = {
    "review_id": "r-1",
    "shipment_id": "SHP-1",
    "decision_id": "d-1",
    "line_nos": [2, 3],
    "action": "release",
    "justification": "licence on file",
    "reviewer": {"id": "rita", "name": "Rita Reviewer"},
    "reviewed_at": "2026-11-30T09:00:00Z",
}


def test_a_review_is_kept_with_its_fields_and_its_bytes() -> None:
    value = json.dumps(REVIEW).encode()
    row = review_row(value, "reviews.v1", 0, 7)
    assert row[:8] == (
        "r-1", "SHP-1", "d-1", "release", [2, 3], "rita", "Rita Reviewer", "licence on file"
    )  # fmt: skip
    assert row[9:] == (value, None, "reviews.v1", 0, 7)


def test_what_is_not_a_review_is_kept_with_the_error() -> None:
    for value in (
        b"not json",
        b'{"a": 1, "a": 2}',
        json.dumps(REVIEW | {"action": "approve_everything"}).encode(),
        json.dumps(REVIEW | {"justification": "nul \u0000 inside"}).encode(),
    ):
        row = review_row(value, "reviews.v1", 0, 1)
        assert row[:9] == (None,) * 9
        assert row[9] == value
        assert row[10]
        assert "\x00" not in row[10]
