"""The stored bytes do not depend on how the writer computes them.

Records already in the store were hashed over the canonical content the earlier writer produced
(the indexed fields read by the pydantic envelope, a recursive walk refusing floats, the decision
spliced into the content). That implementation is kept here, verbatim in what it computes, and
the writer's decoding must give the same record - the same content bytes, the same decision
text, the same columns - or the same rejection, for a corpus of realistic decisions and of
unusual or invalid ones.
"""

from __future__ import annotations

import copy
import random
import re
import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from services.audit.canonical import NotCanonicalError, canonical_bytes, canonical_timestamp
from services.audit.decoding import decode_decision
from services.audit.envelope import read_envelope
from services.audit.records import PendingRecord, SourceCoordinates, _may_hold_floats
from services.audit.store import Rejected
from services.screening.catalogue import load_bundled_catalogue
from services.screening.engine import UsageByOthers, decide
from services.screening.sample_stream import generate_events, sample_licences
from tests.unit.audit.factories import make_decision

SOURCE = SourceCoordinates("decisions.v1", 3, 1234)
NOW = datetime(2026, 3, 1, 0, 0, 1, 250, tzinfo=UTC)


# --- the earlier implementation -------------------------------------------------------------

_LEGACY_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_LEGACY_SPLICE = "\x00decision\x00"


def _legacy_floats(value: Any) -> None:
    if type(value) is float:
        raise NotCanonicalError(f"non-integer number {value!r} in a decision")
    if type(value) is dict:
        for item in value.values():
            _legacy_floats(item)
    elif type(value) is list:
        for item in value:
            _legacy_floats(item)


def _legacy_record(payload: dict[str, Any]) -> dict[str, Any]:
    envelope = read_envelope(payload)
    decision_bytes = canonical_bytes(payload)
    _legacy_floats(payload)
    if b"\\u0000" in decision_bytes:
        raise NotCanonicalError("the decision contains a NUL character")
    decided_at = payload.get("decided_at")
    if not (isinstance(decided_at, str) and _LEGACY_MOMENT.fullmatch(decided_at)):
        decided_at = canonical_timestamp(envelope.decided_at)
    fields: dict[str, Any] = {
        "catalogue_version": envelope.catalogue_version,
        "control_ids": envelope.control_ids,
        "decided_at": decided_at,
        "decision": _LEGACY_SPLICE,
        "decision_id": envelope.decision_id,
        "event_id": envelope.event_id,
        "exporter_id": envelope.exporter_id,
        "license_ids": envelope.license_ids,
        "outcome": envelope.outcome.value,
        "reason_codes": envelope.reason_codes,
        "recorded_at": canonical_timestamp(NOW),
        "shipment_id": envelope.shipment_id,
        "source_offset": SOURCE.offset,
        "source_partition": SOURCE.partition,
        "source_topic": SOURCE.topic,
        "supersedes": envelope.supersedes,
        "trigger": envelope.trigger.value,
    }
    content = canonical_bytes(fields).replace(canonical_bytes(_LEGACY_SPLICE), decision_bytes, 1)
    return {
        "decision_id": envelope.decision_id,
        "shipment_id": envelope.shipment_id,
        "event_id": envelope.event_id,
        "exporter_id": envelope.exporter_id,
        "outcome": envelope.outcome.value,
        "trigger": envelope.trigger.value,
        "catalogue_version": envelope.catalogue_version,
        "supersedes": envelope.supersedes,
        "decided_at": envelope.decided_at,
        "recorded_at": NOW,
        "source": SOURCE,
        "reason_codes": envelope.reason_codes,
        "control_ids": envelope.control_ids,
        "license_ids": envelope.license_ids,
        "decision_json": decision_bytes.decode("utf-8"),
        "content": content,
    }


def _legacy_decode(value: bytes) -> dict[str, Any] | tuple[str, str]:
    try:
        payload = orjson.loads(value)
        if not isinstance(payload, dict):
            raise NotCanonicalError("a decision is a JSON object")
        return _legacy_record(payload)
    except (orjson.JSONDecodeError, ValidationError, NotCanonicalError) as exc:
        return type(exc).__name__, str(exc)[:4000]


def _current_decode(value: bytes) -> dict[str, Any] | tuple[str, str]:
    item = decode_decision(value, b"key", SOURCE, NOW)
    if isinstance(item, Rejected):
        assert item.payload == value
        return item.error_type, item.error
    assert isinstance(item, PendingRecord)
    fields = item._asdict()
    # Unsigned here (signatures are checked before decoding): nothing added to the content.
    assert fields.pop("signature") is None
    assert fields.pop("signature_key_id") is None
    return fields


# --- the corpus -----------------------------------------------------------------------------


@cache
def _screened() -> tuple[bytes, ...]:
    """Decisions as the screening service publishes them, with their evidence."""
    catalogue = load_bundled_catalogue()
    licences = sample_licences()
    start = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    out = []
    for n, event in enumerate(generate_events(240, seed=11)):
        # whole seconds (published without a fraction) and microseconds, in turn
        at = start + timedelta(seconds=n, microseconds=0 if n % 4 == 0 else 7919 * n)
        decision = decide(event, catalogue, licences, UsageByOthers.empty(), decided_at=at)
        out.append(decision.model_dump_json().encode())
    return tuple(out)


def _unicode(payload: dict[str, Any]) -> dict[str, Any]:
    p = copy.deepcopy(payload)
    text = 'Zürich – 東京 🚢 "quoted" \\ back\\slash\nline\ttab \u2028 \x01 \x7f é'
    for line in p.get("evidence", {}).get("event", {}).get("lines", []):
        line["description"] = text
    for reason in p.get("reasons", []):
        reason["message"] += " – " + text
    p["ünïcode_field"] = {"ключ": text, "emoji": "🧪" * 20}
    return p


def _nested(payload: dict[str, Any]) -> dict[str, Any]:
    p = copy.deepcopy(payload)
    p["annotations"] = {
        "deep": [[{"a": [1, 2, {"b": {"c": [None, True, False, "1.5", "ratio:1.5,"]}}]}]],
        "counts": {"z": 0, "y": 18446744073709551615, "x": -9223372036854775808},
        "empty": [{}, [], ""],
    }
    return p


def _large(payload: dict[str, Any]) -> dict[str, Any]:
    p = copy.deepcopy(payload)
    lines = p["lines"]
    p["lines"] = [dict(lines[i % len(lines)], line_no=i + 1) for i in range(400)] if lines else []
    p["evidence"]["event"]["lines"] *= 100
    return p


def _variants(base: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Valid but unusual decisions, and invalid ones (each case changes one thing)."""
    yield from (_unicode(base), _nested(base), _large(base))
    for decided_at in (
        "2026-03-01T10:15:01.123+02:00",
        "2026-03-01T08:15:01Z",
        "2026-03-01T08:15:01.123Z",
        "2026-03-01T08:15:01.123456Z",
        "2026-03-01T08:15:01.1234567Z",
        "2026-03-01T08:15:01.1Z",
        "2026-03-01 08:15:01.123456Z",
        "2026-03-01T08:15:01.123456+00:00",
        "2026-03-01T08:15:01.123456",  # naive: refused
        "2026-02-30T08:15:01.123456Z",  # no such day: refused
        "2026-03-01T24:00:00.000000Z",
        "0000-03-01T08:15:01.123456Z",
        "garbage",
        1772352901,
        None,
    ):
        yield {**base, "decided_at": decided_at}
    for key in ("decision_id", "shipment_id", "event_id", "exporter_id", "catalogue_version"):
        for value in (None, "", "x" * 512, "x" * 513, 7, ["a"], " padded "):
            yield {**base, key: value}
        yield {k: v for k, v in base.items() if k != key}
    invalid_values: dict[str, tuple[object, ...]] = {
        "outcome": ("approve", "hold", "APPROVE", "", None, 1),
        "trigger": ("license_change", "catalogue_change", "other", None),
        "supersedes": (None, "", "d-1", 5, "y" * 513),
        "lines": (None, [], {}, [None], "lines"),
        "reasons": (None, [], [{"code": ""}], [{"code": 3}], [{}], [{"code": "X", "n": 1.5}]),
        "evidence": (
            None,
            {},
            {"licenses": None},
            {"licenses": [{}]},
            [],
            {"licenses": [{"license_id": "L"}]},
        ),
    }
    for key, values in invalid_values.items():
        for bad in values:
            yield {**base, key: bad}
    if base.get("lines"):
        invalid_line_values: dict[str, tuple[object, ...]] = {
            "line_no": ("1", True, 1.0, None, 2**63, -(2**63), 18446744073709551615),
            "control_ids": (None, [""], ["a", "a", "b"], "a"),
            "license_id": ("", None, 3, "L-9"),
            "reasons": (None, [None], ["Z", "A"]),
        }
        for field, line_values in invalid_line_values.items():
            for bad_line_value in line_values:
                lines = copy.deepcopy(base["lines"])
                lines[-1][field] = bad_line_value
                yield {**base, "lines": lines}
    for number in (1.5, -0.0, 1e16, 5e-324, 1.7976931348623157e308, -3, 10**19):
        yield {**base, "extra": number}
        yield {**base, "evidence": {**(base.get("evidence") or {}), "n": [[{"v": number}]]}}
    yield {**base, "shipment_id": "SHP\x00"}
    yield {**base, "note": "a \\u0000 that is text"}
    yield {**base, "note": "items 1-3, 5; 1.5, 2.5]"}


def _corpus() -> Iterator[bytes]:
    screened = _screened()
    yield from screened
    for n in range(12):
        yield make_decision(n, supersedes="d-0" if n % 5 == 0 else None).model_dump_json().encode()
    for value in screened[:12]:
        for variant in _variants(orjson.loads(value)):
            yield orjson.dumps(variant)
    yield from (b"\xff\xfe", b"{not json", b"[1, 2]", b"{}", b'{"decided_at": 1.5}', b"null")
    yield b'{"decision_id": "x", "n": 1e400}'
    yield screened[1].replace(b'"lines":', b'"x": 1.0, "lines":')
    yield screened[2].replace(b',"', b', "')  # whitespace: decoded the same


def test_the_writer_stores_what_the_earlier_writer_stored() -> None:
    corpus = list(_corpus())
    assert len(corpus) > 1000
    outcomes = {"stored": 0, "rejected": 0}
    for value in corpus:
        expected, got = _legacy_decode(value), _current_decode(value)
        assert got == expected, value[:300]
        outcomes["stored" if isinstance(expected, dict) else "rejected"] += 1
    assert outcomes["stored"] > 600
    assert outcomes["rejected"] > 150


def test_a_large_decision_with_unicode_keeps_its_bytes() -> None:
    payload = _large(_unicode(orjson.loads(_screened()[5])))
    value = orjson.dumps(payload)
    assert len(value) > 100_000
    got = _current_decode(value)
    assert isinstance(got, dict)
    assert got["decision_json"].encode() == orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    assert got == _legacy_decode(value)


def test_every_float_leaves_a_trace_in_canonical_json() -> None:
    rng = random.Random(20260301)
    for _ in range(50_000):
        number = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if number != number or abs(number) == float("inf"):
            continue
        for value in (
            number,
            round(rng.uniform(-1e6, 1e6), rng.randint(0, 9)),
            float(rng.randint(-(10**18), 10**18)),
        ):
            for container in ({"k": value}, [value], {"k": [1, {"m": value}]}, [value, 2]):
                assert _may_hold_floats(canonical_bytes(container)), value


@pytest.mark.parametrize("value", [0, 7, 18446744073709551615, True, None, "1.5", "x.,"])
def test_integers_and_strings_that_look_like_floats(value: object) -> None:
    trace = _may_hold_floats(canonical_bytes({"k": value, "l": [value]}))
    assert trace is (value == "x.,")
