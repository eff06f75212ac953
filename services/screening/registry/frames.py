"""Confluent's Schema Registry wire format on input: recognise a frame, decode its payload.

Pure: no I/O. A framed record is the magic byte ``0``, the schema id as a 4-byte big-endian
integer, then the payload: Avro binary or JSON text, per the schema the id names in the
registry. Plain JSON can never start with a NUL byte, so a record is framed exactly when its
first byte is ``0``; everything else is read as plain JSON, as before.

The schemas themselves are fetched by :mod:`services.screening.registry.resolver` (asynchronous,
before a batch is parsed); here they are only looked up in the mapping it fills.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import fastavro
from fastavro.types import Schema as ParsedAvro

MAGIC_BYTE = 0
HEADER_BYTES = 5
_ID = struct.Struct(">I")

#: error_type values on the dead-letter topic (with those of :mod:`services.screening.intake`)
UNKNOWN_SCHEMA_ID = "unknown_schema_id"
UNDECODABLE_FRAME = "undecodable_frame"


@dataclass(frozen=True)
class KnownSchema:
    """A schema the registry returned for an id, ready to decode with."""

    schema_id: int
    schema_type: str
    """``AVRO`` or ``JSON`` (``PROTOBUF`` and others are refused when decoding)."""
    avro: ParsedAvro | None = None


@dataclass(frozen=True)
class MissingSchema:
    """The registry answered that no schema has this id (or returned one Lodestone cannot use)."""

    schema_id: int
    reason: str


Resolved = KnownSchema | MissingSchema


@dataclass(frozen=True)
class FrameError:
    """Why a framed record cannot be read: its dead-letter error type and message."""

    error_type: str
    error: str


def is_framed(value: bytes | None) -> bool:
    """Whether ``value`` uses the registry wire format (its first byte is the magic byte)."""
    return bool(value) and value[0] == MAGIC_BYTE  # type: ignore[index]


def schema_id_of(value: bytes) -> int | None:
    """The schema id of a framed record, or ``None`` when the frame is too short to hold one."""
    if len(value) < HEADER_BYTES:
        return None
    schema_id: int = _ID.unpack_from(value, 1)[0]
    return schema_id


def parse_schema(schema_id: int, schema_type: str | None, schema_str: str | None) -> Resolved:
    """What the registry returned for ``schema_id``, parsed once for every record that names it."""
    kind = (schema_type or "AVRO").upper()  # the registry omits the type for Avro
    if kind == "JSON":
        return KnownSchema(schema_id, kind)
    if kind != "AVRO":
        return MissingSchema(
            schema_id,
            f"schema id {schema_id} is a {kind} schema; Lodestone"
            " reads Avro and JSON Schema frames only",
        )
    try:
        parsed = fastavro.parse_schema(json.loads(schema_str or ""))
    except Exception as exc:  # the registry's text is input too
        return MissingSchema(schema_id, f"schema id {schema_id} is not a usable Avro schema: {exc}")
    return KnownSchema(schema_id, kind, parsed)


def decode(
    value: bytes, schemas: Mapping[int, Resolved] | None
) -> bytes | dict[str, Any] | FrameError:
    """The payload of a framed record: JSON text (``bytes``, still to be parsed strictly) for a
    JSON Schema frame, the decoded record (a ``dict``) for Avro, or why it cannot be read."""
    schema_id = schema_id_of(value)
    if schema_id is None:
        return FrameError(
            UNDECODABLE_FRAME,
            f"{len(value)} bytes start with the registry magic byte 0 but cannot hold a schema id",
        )
    if schemas is None:
        return FrameError(
            UNKNOWN_SCHEMA_ID,
            f"framed with schema id {schema_id}, but no schema registry is configured"
            " (LODESTONE_SCHEMA_REGISTRY_URL)",
        )
    known = schemas.get(schema_id)
    if known is None:
        return FrameError(
            UNKNOWN_SCHEMA_ID,
            f"schema id {schema_id} was not resolved: its batch named more new schema ids"
            " than are fetched for one batch",
        )
    if isinstance(known, MissingSchema):
        return FrameError(UNKNOWN_SCHEMA_ID, known.reason)
    payload = value[HEADER_BYTES:]
    if known.avro is None:
        return payload
    return _read_avro(payload, known)


def _read_avro(payload: bytes, known: KnownSchema) -> dict[str, Any] | FrameError:
    """Decode with the writer's schema only: no resolution against a reader schema, which would
    silently drop a field the producer misspelt. The pydantic model refuses unknown fields."""
    buffer = io.BytesIO(payload)
    assert known.avro is not None
    try:
        record = fastavro.schemaless_reader(buffer, known.avro, None)
    except Exception as exc:  # truncated, corrupt or hostile bytes: fastavro raises many kinds
        return FrameError(
            UNDECODABLE_FRAME,
            f"not Avro of schema id {known.schema_id}: {type(exc).__name__}: {exc}"[:500],
        )
    trailing = len(payload) - buffer.tell()
    if trailing:
        return FrameError(
            UNDECODABLE_FRAME,
            f"{trailing} bytes left after the Avro record of schema id {known.schema_id}",
        )
    if not isinstance(record, dict):
        return FrameError(
            UNDECODABLE_FRAME, f"schema id {known.schema_id} does not describe a record"
        )
    return record
