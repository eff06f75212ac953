"""What the audit store keeps per decision, and the canonical content the chain hashes.

A record's canonical content is the canonical JSON of every stored column except the chain's own
columns (``seq``, ``prev_hash``, ``record_hash``) - the order of records is already bound by
``prev_hash``. The denormalised columns the queries filter on (outcome, reason codes, …) are part
of the content, so altering any of them breaks the chain just like altering the decision itself.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from schemas import Decision
from services.audit.canonical import (
    NotCanonicalError,
    canonical_bytes,
    canonical_timestamp,
    parse_json,
)
from services.audit.envelope import read_indexed

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
    "signature_key_id",
    "signature",
)
CHAIN_COLUMNS = ("seq", "prev_hash", "record_hash")
SIGNATURE_COLUMNS = ("signature_key_id", "signature")
"""Added by migration 0004: part of the content only when set (older records have neither)."""
CONTENT_COLUMNS = tuple(c for c in RECORD_COLUMNS if c not in CHAIN_COLUMNS)


class SourceCoordinates(NamedTuple):
    """Where a record was read from.

    Named tuples rather than frozen dataclasses, here and for :class:`PendingRecord`: one is
    made per record, and a frozen dataclass sets each field through ``object.__setattr__``
    (~8 µs for a record's sixteen fields on the reference machine, a tuple ~0.5 µs).
    """

    topic: str
    partition: int
    offset: int


class PendingRecord(NamedTuple):
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
    signature_key_id: str | None = None
    signature: bytes | None = None

    def row(self, seq: int, prev_hash: bytes, record_hash: bytes) -> tuple[Any, ...]:
        """The COPY row, in :data:`RECORD_COLUMNS` order."""
        return (
            seq, prev_hash, record_hash, self.decision_id, self.shipment_id, self.event_id,
            self.exporter_id, self.outcome, self.trigger, self.catalogue_version, self.supersedes,
            self.decided_at, self.recorded_at, self.source.topic, self.source.partition,
            self.source.offset, self.reason_codes, self.control_ids, self.license_ids,
            self.decision_json, self.signature_key_id, self.signature,
        )  # fmt: skip


def content_of(fields: dict[str, Any]) -> bytes:
    """Canonical content of a record given its stored columns (chain columns are ignored)."""
    return canonical_bytes(hashed_content(fields))


def hashed_content(fields: dict[str, Any]) -> dict[str, Any]:
    """The part of a record the chain hashes, as JSON values (what an evidence pack shows).

    ``decision`` may be the parsed JSON object or its JSON text (as asyncpg returns jsonb);
    timestamps may be datetimes or their canonical strings. The signature columns are part of
    the content only when set; the signature as base64 text.
    """
    content: dict[str, Any] = {}
    for column in CONTENT_COLUMNS:
        value = fields.get(column) if column in SIGNATURE_COLUMNS else fields[column]
        if column in SIGNATURE_COLUMNS:
            if value is None:
                continue
            if column == "signature" and not isinstance(value, str):
                value = base64.b64encode(bytes(value)).decode("ascii")
        elif isinstance(value, datetime):
            value = canonical_timestamp(value)
        elif column == "decision" and isinstance(value, str):
            value = stored_decision(value)
        elif isinstance(value, tuple):
            value = list(value)
        content[column] = value
    return content


def stored_decision(text: str) -> Any:
    """The decision for the content hash, from the text the store holds.

    Text in canonical form (everything written since migration 0002) enters the hash as the
    stored bytes exactly. Other text (rows written before 0002 hold jsonb's spacing and key
    order) is parsed and re-canonicalised, but only when no object in it repeats a key: a
    repeated key would let the bytes say one thing to a reader and another to the hash.
    Raises :class:`NotCanonicalError` for repeated keys or text that is not JSON.
    """
    raw = text.encode("utf-8")
    try:
        parsed = parse_json(raw)
    except orjson.JSONDecodeError as exc:
        raise NotCanonicalError(f"the stored decision is not JSON: {exc}") from exc
    if canonical_bytes(parsed) == raw:
        return orjson.Fragment(raw)
    json.loads(text, object_pairs_hook=_refuse_repeated_keys)
    return parsed


def _refuse_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        raise NotCanonicalError(f"the stored decision repeats the key(s) {repeated}")
    return dict(pairs)


def pending_record(
    payload: dict[str, Any],
    source: SourceCoordinates,
    recorded_at: datetime,
    signature: tuple[str, bytes] | None = None,
) -> PendingRecord:
    """Turn a published decision (parsed JSON) into the record the store chains and inserts.

    ``signature`` is the verified ``(key id, signature)`` the decision was published with.

    Raises ``pydantic.ValidationError`` when an indexed field is missing or malformed, and
    :class:`NotCanonicalError` when the decision cannot be stored canonically.
    """
    indexed = read_indexed(payload)
    decision_bytes = canonical_bytes(payload)
    if _may_hold_floats(decision_bytes):
        _reject_floats(payload)
    if b"\\u0000" in decision_bytes:
        # PostgreSQL text and jsonb cannot hold NUL; such a record is rejected, not retried.
        raise NotCanonicalError("the decision contains a NUL character")
    decided_at = payload["decided_at"]
    if not (isinstance(decided_at, str) and _CANONICAL_MOMENT.fullmatch(decided_at)):
        decided_at = canonical_timestamp(indexed.decided_at)  # the same instant, canonical
    # The decision goes into the content as the bytes just encoded, not encoded a second time.
    content = canonical_bytes(
        {
            "catalogue_version": indexed.catalogue_version,
            "control_ids": indexed.control_ids,
            "decided_at": decided_at,
            "decision": orjson.Fragment(decision_bytes),
            "decision_id": indexed.decision_id,
            "event_id": indexed.event_id,
            "exporter_id": indexed.exporter_id,
            "license_ids": indexed.license_ids,
            "outcome": indexed.outcome,
            "reason_codes": indexed.reason_codes,
            "recorded_at": _recorded_at(recorded_at),
            "shipment_id": indexed.shipment_id,
            "source_offset": source.offset,
            "source_partition": source.partition,
            "source_topic": source.topic,
            "supersedes": indexed.supersedes,
            "trigger": indexed.trigger,
            **(
                {}
                if signature is None
                else {
                    "signature": base64.b64encode(signature[1]).decode("ascii"),
                    "signature_key_id": signature[0],
                }
            ),
        }
    )
    return PendingRecord(
        indexed.decision_id,
        indexed.shipment_id,
        indexed.event_id,
        indexed.exporter_id,
        indexed.outcome,
        indexed.trigger,
        indexed.catalogue_version,
        indexed.supersedes,
        indexed.decided_at,
        recorded_at,
        source,
        indexed.reason_codes,
        indexed.control_ids,
        indexed.license_ids,
        decision_bytes.decode("utf-8"),
        content,
        None if signature is None else signature[0],
        None if signature is None else signature[1],
    )


def pending_from_decision(
    decision: Decision, source: SourceCoordinates, recorded_at: datetime
) -> PendingRecord:
    """:func:`pending_record` for a model instance (as the screening service would publish it)."""
    return pending_record(parse_json(decision.model_dump_json()), source, recorded_at)


def _reject_floats(value: Any) -> None:
    """Refuse non-integer numbers: the wire writes decimals as strings (canonical rule 3).

    Only called when :func:`_may_hold_floats` says the decision may hold one.
    """
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
#: A cheap, exact test that a decision holds no float, on its canonical JSON. orjson writes a
#: float as ``-?D+(.D+)?(e[+-]D+)?`` with the fraction or the exponent or both, and in canonical
#: JSON a number is always followed by ``,``, ``]`` or ``}``. With the digits deleted, ``]`` and
#: ``}`` read as ``,`` and the signs as ``.``, every float leaves ``.,`` behind; a non-negative
#: integer never does. So bytes without ``.,`` hold no float. Bytes with it may hold one, or a
#: negative integer, or a string such as ``"items 1-3, 5"``: :func:`_reject_floats` then walks
#: the decision to be sure.
_FLOAT_TRACE = bytes.maketrans(b"]}+-", b",,..")
_DIGITS = b"0123456789"


def _may_hold_floats(canonical: bytes) -> bool:
    """False when the canonical JSON ``canonical`` certainly holds no non-integer number."""
    return b".," in canonical.translate(_FLOAT_TRACE, _DIGITS)


#: A timestamp string that is already in canonical form (UTC, microseconds, ``Z``).
_CANONICAL_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


_recorded_at_text: tuple[datetime | None, str] = (None, "")


def _recorded_at(moment: datetime) -> str:
    """``canonical_timestamp`` of the batch's ``recorded_at``, remembered across its records."""
    global _recorded_at_text
    last, text = _recorded_at_text
    if last is not moment:
        text = canonical_timestamp(moment)
        _recorded_at_text = (moment, text)
    return text
