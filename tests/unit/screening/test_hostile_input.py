"""Hostile and careless records through intake: a dead letter naming the rule, or a decision —
never an exception, and never a different reading of the same facts."""

from __future__ import annotations

import json
import unicodedata
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import ShipmentEvent
from schemas.strict_json import JsonInputError, loads_strict
from services.screening.intake import Rejected, parse_record
from services.screening.sample_stream import generate_events
from tests.hostile_corpus import HostileCase, corpus

BASE = generate_events(1, seed=11)[0]
CASES = corpus(BASE)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_hostile_record_is_rejected_naming_the_rule_or_decided(case: HostileCase) -> None:
    result = parse_record(case.value)
    if case.is_decidable:
        assert isinstance(result, ShipmentEvent), result
        assert result.lines == BASE.lines
        return
    assert isinstance(result, Rejected), f"{case.name} was accepted"
    assert result.error_type == case.error_type, result
    assert case.field in result.error, result.error


def test_the_corpus_covers_every_kind_of_rejection() -> None:
    kinds = {c.error_type for c in CASES}
    assert kinds >= {
        "tombstone",
        "oversized_payload",
        "invalid_json",
        "schema_violation",
        "unknown_event_type",
        None,
    }


def test_a_json_number_is_read_exactly_as_written() -> None:
    text = BASE.model_dump_json().replace(
        f'"quantity":"{BASE.lines[0].quantity}"', '"quantity":1000.0000000000000001', 1
    )
    parsed = parse_record(text.encode())
    assert isinstance(parsed, ShipmentEvent)
    assert parsed.lines[0].quantity == Decimal("1000.0000000000000001")
    assert parsed.lines[0].quantity > 1000


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "a": 2}',
        '{"a": {"b": 1, "b": 1}}',
        '[{"k": 1, "k": 1}]',
    ],
)
def test_duplicate_keys_are_refused_at_any_depth(text: str) -> None:
    with pytest.raises(JsonInputError, match="duplicate key"):
        loads_strict(text)


def test_one_bom_policy_a_leading_bom_is_ignored_elsewhere_it_is_an_error() -> None:
    assert loads_strict(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}
    assert loads_strict('\ufeff{"a": 1}') == {"a": 1}
    with pytest.raises(JsonInputError):
        loads_strict(b'\xef\xbb\xbf\xef\xbb\xbf{"a": 1}')
    with pytest.raises(JsonInputError):
        loads_strict(b'{"a": 1}\xef\xbb\xbf')


def test_the_strict_reader_raises_nothing_but_its_own_error() -> None:
    for value in (b"\x00", "\ud800", b"[" * 10**6, b'{"a":' + b"1" * 100_000 + b"}", b"\xc3"):
        with pytest.raises(JsonInputError):
            loads_strict(value)


_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def _is_clean(text: str) -> bool:
    """The contract's text rule, restated with :mod:`unicodedata`: no control (Cc), surrogate
    (Cs) or line/paragraph separator (Zl, Zp) characters and no bidi controls."""
    return not any(
        unicodedata.category(c) in {"Cc", "Cs", "Zl", "Zp"} or c in _BIDI_CONTROLS for c in text
    )


_JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.text(max_size=12),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
)
_JSON = st.recursive(
    _JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_FIELDS = sorted(json.loads(BASE.model_dump_json()))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(_FIELDS), replacement=_JSON)
def test_any_value_in_any_field_is_decided_or_dead_lettered(
    field: str, replacement: object
) -> None:
    raw = json.loads(BASE.model_dump_json())
    raw[field] = replacement
    result = parse_record(json.dumps(raw).encode())
    assert isinstance(result, ShipmentEvent | Rejected)


@settings(max_examples=300, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=2_000),
    inserted=st.binary(min_size=1, max_size=8)
    | st.text(min_size=1, max_size=4).map(lambda t: t.encode("utf-8", "surrogatepass")),
)
def test_any_bytes_spliced_into_an_event_never_raise(position: int, inserted: bytes) -> None:
    value = BASE.model_dump_json().encode()
    value = value[:position] + inserted + value[position:]
    result = parse_record(value)
    assert isinstance(result, ShipmentEvent | Rejected)
    if isinstance(result, ShipmentEvent):  # whatever got through obeys the text rules
        for text in (result.shipment_id, result.event_id, result.exporter.id, result.exporter.name):
            assert _is_clean(text), ascii(text)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=24))
def test_an_identifier_with_any_text_is_refused_or_clean(text: str) -> None:
    raw = json.loads(BASE.model_dump_json())
    raw["shipment_id"] = text
    result = parse_record(json.dumps(raw).encode())
    if isinstance(result, ShipmentEvent):
        assert _is_clean(result.shipment_id), ascii(text)
