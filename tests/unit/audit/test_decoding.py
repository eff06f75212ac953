"""Decoding Kafka values: decisions as published, rejections that keep the bytes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.audit.decoding import decode_catalogue, decode_decision
from services.audit.records import PendingRecord, SourceCoordinates
from services.audit.store import Rejected
from tests.integration.screening.catalogues import controls_catalogue
from tests.unit.audit.factories import make_decision

SOURCE = SourceCoordinates("decisions.v1", 0, 9)
NOW = datetime.now(UTC)


def test_a_decision_is_indexed_by_its_reasons_controls_and_licences() -> None:
    decision = make_decision(1)
    record = decode_decision(decision.model_dump_json().encode(), b"k", SOURCE, NOW)
    assert isinstance(record, PendingRecord)
    assert record.reason_codes == ["LICENSED"]
    assert record.control_ids == ["CN-2025-18/1C902.b"]
    assert record.license_ids == ["MOFCOM-GL-2025-0042"]
    assert json.loads(record.decision_json)["evidence"]["event"]["event_id"] == "evt-00000001"


@pytest.mark.parametrize(
    "value",
    [b"\xff\xfe", b"{not json", b"[1, 2]", b'{"decision_id": "x"}', None],
)
def test_undecodable_values_are_rejected_with_their_bytes(value: bytes | None) -> None:
    result = decode_decision(value, b"key", SOURCE, NOW)
    assert isinstance(result, Rejected)
    assert result.payload == value
    assert result.source == SOURCE
    assert result.error


def test_a_catalogue_is_keyed_by_its_label_and_its_computed_digest() -> None:
    source = SourceCoordinates("controls.v1", 0, 1)
    real = controls_catalogue()
    published = decode_catalogue(real.to_wire(), source)
    assert published is not None
    assert published.version == real.version  # the digest the publisher states, recomputed
    lying = decode_catalogue(b'{"version": "2026-11-29.1+sha256:ab", "measures": []}', source)
    assert lying is not None
    digest = hashlib.sha256(b'{"measures":[]}').hexdigest()
    assert lying.version == f"2026-11-29.1+sha256:{digest}"  # not the declared "ab"
    repeated = decode_catalogue(b'{"version": "v", "version": "w"}', source)
    assert repeated is not None
    assert repeated.version.startswith("sha256:")
    anonymous = decode_catalogue(b'{"measures": []}', source)
    assert anonymous is not None
    assert anonymous.version == "sha256:" + hashlib.sha256(b'{"measures": []}').hexdigest()
    assert decode_catalogue(None, source) is None


@settings(max_examples=300, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=3_000),
    inserted=st.binary(min_size=1, max_size=8)
    | st.sampled_from([b"\\u0000", b"\\ud800", b"[" * 2000, b"9" * 5000, b"NaN", b'"a":1,']),
)
def test_any_bytes_spliced_into_a_decision_are_recorded_or_rejected_never_raised(
    position: int, inserted: bytes
) -> None:
    value = make_decision(1).model_dump_json().encode()
    result = decode_decision(value[:position] + inserted + value[position:], b"k", SOURCE, NOW)
    assert isinstance(result, PendingRecord | Rejected)
