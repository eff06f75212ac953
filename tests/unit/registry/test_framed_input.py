"""Shipments framed in the Schema Registry wire format: read when the schema is known, a dead
letter naming why otherwise; plain JSON unchanged. Frames are made by confluent-kafka's own
serializer over its in-memory ``mock://`` registry, not by Lodestone's code."""

from __future__ import annotations

import io
import json
import struct
from decimal import Decimal

import fastavro
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from hypothesis import given
from hypothesis import strategies as st

from schemas import MAX_EVENT_BYTES, ShipmentEvent
from schemas.avro_schema import SHIPMENT_EVENT_AVSC, render
from services.screening.intake import SCHEMA_VIOLATION, Rejected, parse_record
from services.screening.registry.frames import (
    UNDECODABLE_FRAME,
    UNKNOWN_SCHEMA_ID,
    MissingSchema,
    Resolved,
    parse_schema,
)
from tests.hostile_corpus import HostileCase, corpus
from tests.unit.registry.avro_frames import (
    avro_record,
    avro_serializer,
    example_events,
    frame,
    serialize,
)


@pytest.fixture
def client() -> SchemaRegistryClient:
    return SchemaRegistryClient.new_client({"url": "mock://lodestone-tests"})


def resolved(client: SchemaRegistryClient, *framed: bytes) -> dict[int, Resolved]:
    """What the resolver would hold for the ids of ``framed``, built from the mock registry."""
    out: dict[int, Resolved] = {}
    for value in framed:
        schema_id = struct.unpack(">I", value[1:5])[0]
        schema = client.get_schema(schema_id)
        out[schema_id] = parse_schema(schema_id, schema.schema_type, schema.schema_str)
    return out


def test_the_committed_avro_schema_is_current() -> None:
    assert SHIPMENT_EVENT_AVSC.read_text(encoding="utf-8") == render(), (
        "run: python -m schemas.avro_schema"
    )


@pytest.mark.parametrize("event", example_events(), ids=lambda e: e.event_type.value)
def test_avro_from_the_registry_reads_as_the_same_event(
    client: SchemaRegistryClient, event: ShipmentEvent
) -> None:
    framed = serialize(avro_serializer(client), avro_record(event))
    assert framed[0] == 0
    assert parse_record(framed, resolved(client, framed)) == event


def test_decimals_survive_avro_exactly(client: SchemaRegistryClient) -> None:
    event = example_events()[0]
    record = avro_record(event)
    record["lines"][0]["quantity"] = "1000.0000000000000001"
    framed = serialize(avro_serializer(client), record)
    parsed = parse_record(framed, resolved(client, framed))
    assert isinstance(parsed, ShipmentEvent)
    assert str(parsed.lines[0].quantity) == "1000.0000000000000001"


def _schema_with(change: dict[str, object]) -> str:
    """The generated schema with the CargoLine field ``quantity`` replaced by ``change``."""
    schema = json.loads(render())
    lines = next(f for f in schema["fields"] if f["name"] == "lines")
    fields = lines["type"]["items"]["fields"]
    for position, field in enumerate(fields):
        if field["name"] == "quantity":
            fields[position] = change
    return json.dumps(schema)


def test_a_logical_decimal_in_a_producers_schema_is_read_exactly(
    client: SchemaRegistryClient,
) -> None:
    decimal_type = {"type": "bytes", "logicalType": "decimal", "precision": 20, "scale": 4}
    schema = _schema_with({"name": "quantity", "type": decimal_type})
    event = example_events()[0]
    record = avro_record(event)
    for line, model_line in zip(record["lines"], event.lines, strict=True):
        line["quantity"] = model_line.quantity.quantize(Decimal("0.0001"))
    framed = serialize(avro_serializer(client, schema), record)
    parsed = parse_record(framed, resolved(client, framed))
    assert isinstance(parsed, ShipmentEvent)
    assert [line.quantity for line in parsed.lines] == [line.quantity for line in event.lines]


def test_a_double_quantity_is_refused_as_on_json(client: SchemaRegistryClient) -> None:
    schema = _schema_with({"name": "quantity", "type": "double"})
    record = avro_record(example_events()[0])
    for line in record["lines"]:
        line["quantity"] = 0.1
    framed = serialize(avro_serializer(client, schema), record)
    parsed = parse_record(framed, resolved(client, framed))
    assert isinstance(parsed, Rejected)
    assert parsed.error_type == SCHEMA_VIOLATION
    assert "floating-point" in parsed.error


def test_a_misspelt_field_in_a_producers_schema_is_not_dropped_silently(
    client: SchemaRegistryClient,
) -> None:
    schema = json.loads(render())
    schema["fields"].append({"name": "destination_contry", "type": "string"})
    record = avro_record(example_events()[0]) | {"destination_contry": "KP"}
    framed = serialize(avro_serializer(client, json.dumps(schema)), record)
    parsed = parse_record(framed, resolved(client, framed))
    assert isinstance(parsed, Rejected)
    assert parsed.error_type == SCHEMA_VIOLATION
    assert "destination_contry" in parsed.error


def test_json_schema_frames_are_read_under_the_strict_json_rules() -> None:
    event = example_events()[0]
    schemas: dict[int, Resolved] = {3: parse_schema(3, "JSON", "{}")}
    assert parse_record(frame(3, event.model_dump_json().encode()), schemas) == event
    duplicate = b'{"event_id": "a", "event_id": "b"}'
    parsed = parse_record(frame(3, duplicate), schemas)
    assert isinstance(parsed, Rejected)
    assert parsed.error_type == "invalid_json"


def test_plain_json_still_reads_with_a_registry_configured(client: SchemaRegistryClient) -> None:
    event = example_events()[0]
    assert parse_record(event.model_dump_json().encode(), {}) == event
    assert parse_record(event.model_dump_json().encode(), None) == event


@pytest.mark.parametrize(
    ("value", "schemas", "error_type", "named"),
    [
        (b"\x00", {}, UNDECODABLE_FRAME, "cannot hold a schema id"),
        (b"\x00\x00\x00\x01", {}, UNDECODABLE_FRAME, "cannot hold a schema id"),
        (frame(42, b"{}"), None, UNKNOWN_SCHEMA_ID, "no schema registry is configured"),
        (frame(42, b"{}"), {}, UNKNOWN_SCHEMA_ID, "schema id 42"),
        (
            frame(42, b"{}"),
            {42: MissingSchema(42, "schema id 42 is not in the registry: Schema 42 not found")},
            UNKNOWN_SCHEMA_ID,
            "not in the registry",
        ),
        (
            frame(9, b"\x08\x02"),
            {9: parse_schema(9, "PROTOBUF", "syntax")},
            UNKNOWN_SCHEMA_ID,
            "PROTOBUF",
        ),
        (
            frame(9, b"{}"),
            {9: parse_schema(9, "AVRO", "not json")},
            UNKNOWN_SCHEMA_ID,
            "not a usable Avro",
        ),
    ],
)
def test_frames_that_cannot_be_read_are_dead_letters_naming_why(
    value: bytes, schemas: dict[int, Resolved] | None, error_type: str, named: str
) -> None:
    parsed = parse_record(value, schemas)
    assert isinstance(parsed, Rejected)
    assert parsed.error_type == error_type
    assert named in parsed.error


def test_truncated_and_padded_avro_is_undecodable(client: SchemaRegistryClient) -> None:
    framed = serialize(avro_serializer(client), avro_record(example_events()[0]))
    schemas = resolved(client, framed)
    for broken in (framed[:-3], framed[:6], framed + b"\x00"):
        parsed = parse_record(broken, schemas)
        assert isinstance(parsed, Rejected), broken[-8:]
        assert parsed.error_type in (UNDECODABLE_FRAME, SCHEMA_VIOLATION)
    padded = parse_record(framed + b"\x00", schemas)
    assert isinstance(padded, Rejected)
    assert padded.error_type == UNDECODABLE_FRAME


@given(payload=st.binary(max_size=300))
def test_no_payload_under_a_known_avro_schema_raises(payload: bytes) -> None:
    schema = parse_schema(5, None, render())
    parsed = parse_record(frame(5, payload), {5: schema})
    assert isinstance(parsed, (Rejected, ShipmentEvent))


def test_the_avro_writer_and_fastavro_agree_on_the_generated_schema() -> None:
    """The generated schema is valid Avro that fastavro can write and read back."""
    schema = fastavro.parse_schema(json.loads(render()))
    buffer = io.BytesIO()
    record = avro_record(example_events()[0])
    fastavro.schemaless_writer(buffer, schema, record)
    buffer.seek(0)
    decoded = fastavro.schemaless_reader(buffer, schema, None)
    assert isinstance(decoded, dict)
    assert decoded["event_id"] == record["event_id"]


def _hostile_cases() -> list[HostileCase]:
    return [
        case
        for case in corpus(example_events()[0], tag="framed")
        if case.value is not None and len(case.value) + 5 <= MAX_EVENT_BYTES
    ]


@pytest.mark.parametrize("case", _hostile_cases(), ids=lambda c: c.name)
def test_a_json_schema_frame_is_held_to_every_input_rule(case: HostileCase) -> None:
    """The hostile corpus, framed: the frame changes nothing about what is accepted."""
    assert case.value is not None
    plain = parse_record(case.value, {})
    framed = parse_record(frame(3, case.value), {3: parse_schema(3, "JSON", "{}")})
    if isinstance(plain, Rejected):
        assert isinstance(framed, Rejected)
        assert (framed.error_type, framed.error) == (plain.error_type, plain.error)
    else:
        assert framed == plain


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("exporter", "name"), "Acme\u202eevil", "U+202E"),
        (("destination_country",), "ＫＰ", "country code"),
        (("lines", 0, "hs_code"), "٢٨٤٦٩٠", "HS code"),
        (("lines", 0, "quantity"), "NaN", "decimal"),
        (("lines", 0, "quantity"), "1e400", "lines.0.quantity"),
        (("event_id",), "", "event_id"),
    ],
)
def test_avro_strings_are_held_to_the_same_rules_as_json(
    client: SchemaRegistryClient, path: tuple[str | int, ...], value: str, named: str
) -> None:
    record = avro_record(example_events()[0])
    target = record
    for step in path[:-1]:
        target = target[step]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    framed = serialize(avro_serializer(client), record)
    parsed = parse_record(framed, resolved(client, framed))
    assert isinstance(parsed, Rejected), path
    assert parsed.error_type == SCHEMA_VIOLATION
    assert named in parsed.error, parsed.error
