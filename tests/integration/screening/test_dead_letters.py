"""Bad input lands on the dead-letter topic with its original bytes; deciding goes on."""

from __future__ import annotations

import json

import pytest

from schemas import MAX_EVENT_BYTES, DeadLetter
from tests.integration.screening.catalogues import controls_catalogue
from tests.integration.screening.conftest import Pipeline, event, running

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def test_each_kind_of_bad_input_is_dead_lettered(pipeline: Pipeline) -> None:
    await pipeline.publish_catalogue(controls_catalogue())
    exporter = pipeline.exporter()
    good_before, good_after = (
        event(exporter, samarium_kg=None, copper_t="1"),
        event(exporter, samarium_kg=None, copper_t="2"),
    )
    unknown = json.loads(good_before.model_dump_json()) | {"event_type": "shipment.teleported"}
    violating = json.loads(good_before.model_dump_json()) | {"destination_country": "XX"}
    oversized = b'{"event_id": "' + b"x" * MAX_EVENT_BYTES + b'"}'
    bad: dict[str, bytes | None] = {
        "invalid_json": b'{"event_id": "abc", ',
        "schema_violation": json.dumps(violating).encode(),
        "tombstone": None,
        "unknown_event_type": json.dumps(unknown).encode(),
        "oversized_payload": oversized,
    }
    key = exporter.id.encode()
    records: list[tuple[bytes | None, bytes | None]] = [
        (key, good_before.model_dump_json().encode())
    ]
    records += [(key, value) for value in bad.values()]
    records += [(key, good_after.model_dump_json().encode())]
    async with running(pipeline) as service:
        await pipeline.publish_raw(records, compression="gzip")  # gzip: the broker takes >1 MiB
        letters: list[DeadLetter] = await pipeline.read(
            pipeline.settings.topic_dead_letters,
            until=lambda items: len(items) >= len(bad),
            parse=DeadLetter.model_validate_json,
        )
        decisions = await pipeline.decisions(until=lambda ds: len(ds) >= 2)
        assert service.metrics.dead_letters.labels("tombstone")._value.get() == 1
    assert {d.event_id for d in decisions} == {good_before.event_id, good_after.event_id}
    by_type = {letter.error_type: letter for letter in letters}
    assert set(by_type) == set(bad)
    for error_type, original in bad.items():
        letter = by_type[error_type]
        assert letter.original_payload() == original
        assert letter.source.topic == pipeline.settings.topic_shipments
        assert letter.source.key == exporter.id
        assert letter.error
