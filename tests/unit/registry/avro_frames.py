"""Helpers: ShipmentEvents framed as a Schema Registry producer frames them."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from schemas import ShipmentEvent
from schemas.avro_schema import SHIPMENT_EVENT_AVSC
from schemas.strict_json import loads_strict

EXAMPLES = Path(__file__).parents[3] / "schemas" / "examples"


def example_events() -> list[ShipmentEvent]:
    return [
        ShipmentEvent.model_validate(loads_strict(path.read_bytes()))
        for path in sorted(EXAMPLES.glob("shipment-event.*.json"))
    ]


def avro_record(event: ShipmentEvent) -> dict[str, Any]:
    """The event as the generated Avro schema wants it (decimals as text, typed dates)."""
    record: dict[str, Any] = event.model_dump(mode="json")
    record["occurred_at"] = event.occurred_at
    record["ship_date"] = event.ship_date
    return record


def avro_serializer(
    client: SchemaRegistryClient,
    schema_text: str | None = None,
    conf: dict[str, Any] | None = None,
) -> AvroSerializer:
    serializer: AvroSerializer = AvroSerializer(
        client, schema_text or SHIPMENT_EVENT_AVSC.read_text(encoding="utf-8"), conf=conf
    )
    return serializer


def serialize(
    serializer: AvroSerializer, record: dict[str, Any], topic: str = "shipments.v1"
) -> bytes:
    framed = serializer(record, SerializationContext(topic, MessageField.VALUE))
    assert framed is not None
    return framed


def frame(schema_id: int, payload: bytes) -> bytes:
    """Magic byte 0, the schema id (4 bytes, big-endian), the payload."""
    return b"\x00" + struct.pack(">I", schema_id) + payload
