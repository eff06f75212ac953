"""Turn a raw ``shipments.v1`` record into a ShipmentEvent, or say why it must be dead-lettered.

Pure: no I/O. The consumer calls :func:`parse_record` for every record and sends
:class:`Rejected` ones to the dead-letter topic with their original bytes.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from schemas import MAX_EVENT_BYTES, DeadLetter, EventType, ShipmentEvent, SourceCoordinates
from schemas.strict_json import JsonInputError, loads_strict
from schemas.validation import summarise_validation_error
from services.screening.registry.frames import FrameError, Resolved, decode, is_framed

#: error_type values on the dead-letter topic
TOMBSTONE = "tombstone"
OVERSIZED = "oversized_payload"
INVALID_JSON = "invalid_json"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
SCHEMA_VIOLATION = "schema_violation"
PROCESSING_ERROR = "processing_error"

_KNOWN_TYPES = frozenset(t.value for t in EventType)


@dataclass(frozen=True)
class Rejected:
    """A record that cannot be decided, with the reason."""

    error_type: str
    error: str


def parse_record(
    value: bytes | None, schemas: Mapping[int, Resolved] | None = None
) -> ShipmentEvent | Rejected:
    """Validate one record value; never raises, whatever the bytes.

    ``value`` is plain JSON, or framed in the Schema Registry wire format
    (:mod:`services.screening.registry.frames`) when ``schemas`` holds the resolved schema ids
    (``None``: no registry configured, and a framed record is a dead letter saying so).

    The input rules of the contract (exact decimals, no duplicate keys, no control or bidi
    characters, ASCII digits and letters, bounded magnitudes) live in the wire models and in
    :func:`schemas.strict_json.loads_strict`; this function only classifies their verdict. A
    failure nobody foresaw is still a dead letter (``processing_error``), never an exception
    that would stop the consumer on this offset.
    """
    try:
        return _parse(value, schemas)
    except Exception as exc:  # the catch-all that keeps one record from stopping the loop
        return Rejected(PROCESSING_ERROR, f"the record could not be read: {exc!r}"[:1000])


def _parse(value: bytes | None, schemas: Mapping[int, Resolved] | None) -> ShipmentEvent | Rejected:
    if value is None:
        return Rejected(TOMBSTONE, "null value (tombstone) on the shipments topic")
    if len(value) > MAX_EVENT_BYTES:
        return Rejected(OVERSIZED, f"{len(value)} bytes exceed the limit of {MAX_EVENT_BYTES}")
    raw: object
    if is_framed(value):
        payload = decode(value, schemas)
        if isinstance(payload, FrameError):
            return Rejected(payload.error_type, payload.error)
        if isinstance(payload, dict):  # Avro, decoded
            return _validate(payload)
        value = payload  # JSON Schema framing: the payload is JSON text
    try:
        raw = loads_strict(value)
    except JsonInputError as exc:
        return Rejected(INVALID_JSON, str(exc))
    return _validate(raw)


def _validate(raw: object) -> ShipmentEvent | Rejected:
    if not isinstance(raw, dict):
        return Rejected(SCHEMA_VIOLATION, f"expected a JSON object, got {type(raw).__name__}")
    event_type = raw.get("event_type")
    if isinstance(event_type, str) and event_type not in _KNOWN_TYPES:
        return Rejected(UNKNOWN_EVENT_TYPE, f"unknown event_type {event_type[:100]!r}")
    try:
        return ShipmentEvent.model_validate(raw)
    except ValidationError as exc:
        return Rejected(SCHEMA_VIOLATION, summarise_validation_error(exc))


def dead_letter(
    rejected: Rejected,
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    failed_at: datetime,
) -> DeadLetter:
    """The DeadLetter for a rejected record: original bytes, error and source coordinates."""
    key_text: str | None = None
    key_b64 = False
    if key is not None:
        try:
            key_text = key.decode("utf-8")
        except UnicodeDecodeError:
            key_text, key_b64 = base64.b64encode(key).decode("ascii"), True
    return DeadLetter(
        error=rejected.error,
        error_type=rejected.error_type,
        source=SourceCoordinates(
            topic=topic, partition=partition, offset=offset, key=key_text, key_base64=key_b64
        ),
        payload_base64=None if value is None else base64.b64encode(value).decode("ascii"),
        failed_at=failed_at,
    )
