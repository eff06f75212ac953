"""What the audit store keeps per decision, and the canonical content the chain hashes.

A record's canonical content is the canonical JSON of every stored column except the chain's own
columns (``seq``, ``prev_hash``, ``record_hash``) - the order of records is already bound by
``prev_hash``. The denormalised columns the queries filter on (outcome, reason codes, …) are part
of the content, so altering any of them breaks the chain just like altering the decision itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas import Decision
from services.audit.canonical import (
    NotCanonicalError,
    canonical_bytes,
    canonical_text,
    canonical_timestamp,
    parse_json,
)
from services.audit.envelope import read_envelope

#: Stored columns of ``audit.decision_records`` in COPY order (the chain columns come first).
RECORD_COLUMNS: tuple[str, ...] = (
    "seq",
    "prev_hash",
    "record_hash",
    "decision_id",
    "shipment_id",
    "event_id",
    "exporter_id",
    "outcome",
    "trigger",
    "catalogue_version",
    "supersedes",
    "decided_at",
    "recorded_at",
    "source_topic",
    "source_partition",
    "source_offset",
    "reason_codes",
    "control_ids",
    "license_ids",
    "decision",
)
CHAIN_COLUMNS = ("seq", "prev_hash", "record_hash")
CONTENT_COLUMNS = tuple(c for c in RECORD_COLUMNS if c not in CHAIN_COLUMNS)


@dataclass(frozen=True, slots=True)
class SourceCoordinates:
    """Where a record was read from."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class PendingRecord:
    """A decision ready to be chained: its stored fields and their canonical content."""

    decision_id: str
    shipment_id: str
    event_id: str
    exporter_id: str
    outcome: str
    trigger: str
    catalogue_version: str
    supersedes: str | None
    decided_at: datetime
    recorded_at: datetime
    source: SourceCoordinates
    reason_codes: list[str]
    control_ids: list[str]
    license_ids: list[str]
    decision_json: str
    content: bytes

    def row(self, seq: int, prev_hash: bytes, record_hash: bytes) -> tuple[Any, ...]:
        """The COPY row, in :data:`RECORD_COLUMNS` order."""
        return (
            seq, prev_hash, record_hash, self.decision_id, self.shipment_id, self.event_id,
            self.exporter_id, self.outcome, self.trigger, self.catalogue_version, self.supersedes,
            self.decided_at, self.recorded_at, self.source.topic, self.source.partition,
            self.source.offset, self.reason_codes, self.control_ids, self.license_ids,
            self.decision_json,
        )  # fmt: skip


def content_of(fields: dict[str, Any]) -> bytes:
    """Canonical content of a record given its stored columns (chain columns are ignored).

    ``decision`` may be the parsed JSON object or its JSON text (as asyncpg returns jsonb);
    timestamps may be datetimes or their canonical strings.
    """
    content: dict[str, Any] = {}
    for column in CONTENT_COLUMNS:
        value = fields[column]
        if isinstance(value, datetime):
            value = canonical_timestamp(value)
        elif column == "decision" and isinstance(value, str):
            value = parse_json(value)
        elif isinstance(value, tuple):
            value = list(value)
        content[column] = value
    return canonical_bytes(content)


def pending_record(
    payload: dict[str, Any], source: SourceCoordinates, recorded_at: datetime
) -> PendingRecord:
    """Turn a published decision (parsed JSON) into the record the store chains and inserts.

    Raises ``pydantic.ValidationError`` when an indexed field is missing or malformed, and
    :class:`NotCanonicalError` when the decision cannot be stored canonically.
    """
    envelope = read_envelope(payload)
    _reject_floats(payload)
    decision_json = canonical_text(payload)
    if "\\u0000" in decision_json:
        # PostgreSQL text and jsonb cannot hold NUL; such a record is rejected, not retried.
        raise NotCanonicalError("the decision contains a NUL character")
    fields: dict[str, Any] = {
        "decision_id": envelope.decision_id,
        "shipment_id": envelope.shipment_id,
        "event_id": envelope.event_id,
        "exporter_id": envelope.exporter_id,
        "outcome": envelope.outcome.value,
        "trigger": envelope.trigger.value,
        "catalogue_version": envelope.catalogue_version,
        "supersedes": envelope.supersedes,
        "decided_at": envelope.decided_at,
        "recorded_at": recorded_at,
        "source_topic": source.topic,
        "source_partition": source.partition,
        "source_offset": source.offset,
        "reason_codes": envelope.reason_codes,
        "control_ids": envelope.control_ids,
        "license_ids": envelope.license_ids,
    }
    return PendingRecord(
        **{k: v for k, v in fields.items() if not k.startswith("source_")},
        source=source,
        decision_json=decision_json,
        content=_content_with_decision_text(fields, decision_json),
    )


def pending_from_decision(
    decision: Decision, source: SourceCoordinates, recorded_at: datetime
) -> PendingRecord:
    """:func:`pending_record` for a model instance (as the screening service would publish it)."""
    return pending_record(parse_json(decision.model_dump_json()), source, recorded_at)


def _reject_floats(value: Any) -> None:
    """Refuse non-integer numbers: the wire writes decimals as strings (canonical rule 3)."""
    kind = type(value)
    if kind is float:
        raise NotCanonicalError(f"non-integer number {value!r} in a decision")
    if kind is dict:
        for item in value.values():
            if type(item) in _CONTAINERS:
                _reject_floats(item)
    elif kind is list:
        for item in value:
            if type(item) in _CONTAINERS:
                _reject_floats(item)


_CONTAINERS = (dict, list, float)
_SPLICE = "\x00decision\x00"
_QUOTED_SPLICE = canonical_text(_SPLICE)


def _content_with_decision_text(fields: dict[str, Any], decision_json: str) -> bytes:
    """Same bytes as :func:`content_of`, without encoding the (large) decision a second time.

    The decision is known to hold no NUL, so the quoted placeholder occurs exactly once.
    """
    fields = {**fields, "decision": _SPLICE}
    for key in ("decided_at", "recorded_at"):
        fields[key] = canonical_timestamp(fields[key])
    text = canonical_text(fields)
    return text.replace(_QUOTED_SPLICE, decision_json, 1).encode("utf-8")
