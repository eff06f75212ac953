"""Canonical content and the hash chain, without a database."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.audit.canonical import NotCanonicalError, canonical_bytes, canonical_timestamp
from services.audit.chain import GENESIS_HASH, ChainHead, Link, check_links, extend, link_hash
from services.audit.records import (
    RECORD_COLUMNS,
    SourceCoordinates,
    content_of,
    pending_from_decision,
    pending_record,
)
from tests.unit.audit.factories import make_decision

SOURCE = SourceCoordinates("decisions.v1", 2, 41)
NOW = datetime(2026, 3, 1, 0, 0, 1, 250, tzinfo=UTC)


def test_canonical_json_sorts_keys_and_drops_whitespace() -> None:
    assert canonical_bytes({"b": [1, "ü"], "a": None}) == '{"a":null,"b":[1,"ü"]}'.encode()


def test_canonical_timestamps_are_utc_with_microseconds() -> None:
    moment = datetime(2026, 3, 1, 8, 15, tzinfo=timezone(timedelta(hours=8)))
    assert canonical_timestamp(moment) == "2026-03-01T00:15:00.000000Z"
    with pytest.raises(NotCanonicalError):
        canonical_timestamp(datetime(2026, 3, 1))


def test_link_hash_is_sha256_of_prev_and_content() -> None:
    assert link_hash(GENESIS_HASH, b"x") == hashlib.sha256(bytes(32) + b"x").digest()


def test_the_stored_row_reproduces_the_hashed_content() -> None:
    record = pending_from_decision(make_decision(5), SOURCE, NOW)
    row = dict(zip(RECORD_COLUMNS, record.row(1, GENESIS_HASH, b"h" * 32), strict=True))
    assert content_of(row) == record.content


def test_denormalised_columns_are_part_of_the_content() -> None:
    record = pending_from_decision(make_decision(6), SOURCE, NOW)
    row = dict(zip(RECORD_COLUMNS, record.row(1, GENESIS_HASH, b"h" * 32), strict=True))
    assert content_of({**row, "outcome": "approve"}) != record.content
    assert content_of({**row, "license_ids": ["X"]}) != record.content


def _links(count: int) -> list[Link]:
    contents = [f"record {n}".encode() for n in range(count)]
    return [
        Link(seq, prev, digest, content, f"d{seq}")
        for content, (seq, prev, digest) in zip(
            contents, extend(ChainHead.genesis(), contents), strict=True
        )
    ]


def test_an_intact_chain_verifies() -> None:
    head, broken = check_links(ChainHead.genesis(), _links(10))
    assert broken is None
    assert head.seq == 10


def test_an_altered_record_is_the_first_break() -> None:
    links = _links(10)
    links[4] = Link(5, links[4].prev_hash, links[4].record_hash, b"forged", "d5")
    _, broken = check_links(ChainHead.genesis(), links)
    assert broken is not None
    assert (broken.seq, broken.decision_id) == (5, "d5")


def test_a_deleted_record_is_reported_by_its_seq() -> None:
    links = _links(10)
    del links[6]
    _, broken = check_links(ChainHead.genesis(), links)
    assert broken is not None
    assert broken.seq == 7
    assert "missing" in broken.problem


def test_floats_and_nul_characters_are_refused() -> None:
    payload = make_decision(7).model_dump(mode="json")
    with pytest.raises(NotCanonicalError):
        pending_record({**payload, "extra": 1.5}, SOURCE, NOW)
    with pytest.raises(NotCanonicalError):
        pending_record({**payload, "shipment_id": "SHP\x00"}, SOURCE, NOW)


@pytest.mark.parametrize(
    "decided_at",
    [
        "2026-03-01T08:15:01.123000Z",  # already canonical: used as published
        "2026-03-01T10:15:01.123+02:00",  # another offset, milliseconds only
        "2026-03-01T08:15:01Z",  # no fraction
    ],
)
def test_the_content_is_the_canonical_json_of_the_stored_fields(decided_at: str) -> None:
    payload = {**make_decision(8).model_dump(mode="json"), "decided_at": decided_at}
    record = pending_record(payload, SOURCE, NOW)
    stored = dict(zip(RECORD_COLUMNS, record.row(1, GENESIS_HASH, GENESIS_HASH), strict=True))
    assert record.content == content_of(stored)
    assert b'"decided_at":"2026-03-01T08:15:01.' in record.content
    assert b'"recorded_at":"2026-03-01T00:00:01.000250Z"' in record.content
