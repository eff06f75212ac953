"""Classifying raw shipments records: decidable events versus dead letters."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from schemas import MAX_EVENT_BYTES, ShipmentEvent
from services.screening.intake import Rejected, dead_letter, parse_record
from services.screening.sample_stream import generate_events


def _valid() -> bytes:
    return generate_events(1, seed=3)[0].model_dump_json().encode()


def test_a_valid_event_parses() -> None:
    assert isinstance(parse_record(_valid()), ShipmentEvent)


@pytest.mark.parametrize(
    ("value", "error_type"),
    [
        (None, "tombstone"),
        (b"{not json", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b"[1, 2]", "schema_violation"),
        (b'{"event_id": "x"}', "schema_violation"),
        (b"x" * (MAX_EVENT_BYTES + 1), "oversized_payload"),
    ],
)
def test_bad_records_are_rejected_with_their_kind(value: bytes | None, error_type: str) -> None:
    result = parse_record(value)
    assert isinstance(result, Rejected)
    assert result.error_type == error_type
    assert result.error


def test_an_unknown_event_type_is_named_as_such() -> None:
    raw = json.loads(_valid()) | {"event_type": "shipment.lost"}
    result = parse_record(json.dumps(raw).encode())
    assert result == Rejected("unknown_event_type", "unknown event_type 'shipment.lost'")


def test_dead_letter_keeps_original_bytes_and_coordinates() -> None:
    letter = dead_letter(
        Rejected("invalid_json", "bad"),
        topic="shipments.v1",
        partition=2,
        offset=41,
        key=b"\xff\x00",
        value=b"{oops",
        failed_at=datetime.now(UTC),
    )
    assert letter.original_payload() == b"{oops"
    assert letter.source.partition == 2
    assert letter.source.offset == 41
    assert letter.source.key_base64
    assert base64.b64decode(letter.source.key or "") == b"\xff\x00"


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key")
    return dict(pairs)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _reference(value: bytes) -> ShipmentEvent | str:
    """An independent reading of the contract's JSON rules: the standard library's parser set to
    exact decimals, no duplicate keys and no NaN/Infinity, then validation."""
    try:
        raw = json.loads(
            value.removeprefix(b"\xef\xbb\xbf"),
            parse_float=Decimal,
            object_pairs_hook=_no_duplicates,
            parse_constant=_refuse_constant,
        )
        return ShipmentEvent.model_validate(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, ValidationError
        return type(exc).__name__


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"quantity":"1"', '"quantity":1.0'),  # a float keeps its repr: Decimal("1.0")
        ('"quantity":"1"', '"quantity":5E2'),
        ('"quantity":"1"', '"quantity":0.1'),
        ('"quantity":"1"', '"quantity":12345678901234567890123'),  # beyond 64 bits: exact
        ('"quantity":"1"', '"quantity":123456789012345678901234567890'),  # too many digits
        ('"quantity":"1"', '"quantity":NaN'),  # not JSON, but the json module reads it
        ('"quantity":"1"', '"quantity":1e400'),
        ('"description":"', '"description":"\\ud800'),  # a lone surrogate
    ],
)
def test_parsing_matches_the_json_module(old: str, new: str) -> None:
    raw = json.loads(_valid())
    raw["lines"][0]["quantity"] = "1"
    text = json.dumps(raw, separators=(",", ":"))
    assert old in text
    value = text.replace(old, new, 1).encode()
    result, expected = parse_record(value), _reference(value)
    if isinstance(expected, ShipmentEvent):
        assert isinstance(result, ShipmentEvent)
        assert result.model_dump_json() == expected.model_dump_json()
    else:
        assert isinstance(result, Rejected)


def test_a_byte_order_mark_is_read_as_before() -> None:
    value = b"\xef\xbb\xbf" + _valid()
    expected = _reference(value)
    result = parse_record(value)
    assert type(result) is (ShipmentEvent if isinstance(expected, ShipmentEvent) else Rejected)
