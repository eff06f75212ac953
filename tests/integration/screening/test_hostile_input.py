"""The hostile corpus through the running service on the real broker: every undecidable record
on the dead-letter topic with its exact bytes, every decidable one decided, the valid event after
them decided within seconds, and the service never failing; hostile licence records are skipped
without stopping licence updates."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from schemas import DeadLetter, Decision, Outcome
from services.screening.publish import publish_records
from tests.hostile_corpus import corpus
from tests.integration.screening.catalogues import controls_catalogue
from tests.integration.screening.conftest import Pipeline, event, licence, running

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


async def test_hostile_records_are_dead_lettered_byte_for_byte_and_deciding_goes_on(
    pipeline: Pipeline,
) -> None:
    await pipeline.publish_catalogue(controls_catalogue())
    exporter = pipeline.exporter()
    base = event(exporter, samarium_kg=None, copper_t="1")
    cases = corpus(base, tag=pipeline.tag)
    undecidable = [c for c in cases if not c.is_decidable]
    decidable = [c for c in cases if c.is_decidable]
    key = exporter.id.encode()
    last = event(exporter, samarium_kg=None, copper_t="2")
    async with running(pipeline) as service:
        await pipeline.publish_raw([(key, c.value) for c in cases], compression="gzip")
        published_last = time.monotonic()
        await pipeline.publish_events([last])
        decisions = await pipeline.decisions(
            until=lambda ds: any(d.event_id == last.event_id for d in ds)
        )
        decided_within_s = time.monotonic() - published_last
        letters: list[DeadLetter] = await pipeline.read(
            pipeline.settings.topic_dead_letters,
            until=lambda items: len(items) >= len(undecidable),
            parse=DeadLetter.model_validate_json,
        )
        assert not service.failed, "a critical task of the service ended"
        assert service.is_ready()
    assert decided_within_s < 10
    by_payload = {letter.original_payload(): letter for letter in letters}
    assert len(letters) == len(undecidable), "a record was dead-lettered twice or not at all"
    for case in undecidable:
        letter = by_payload.get(case.value)
        assert letter is not None, f"{case.name}: not on the dead-letter topic byte for byte"
        assert letter.error_type == case.error_type, (case.name, letter.error)
        assert case.field in letter.error, (case.name, letter.error)
    assert decidable  # the careless-but-valid cases share the base event's id: one decision
    assert {d.event_id for d in decisions} == {f"{pipeline.tag}-{base.event_id}", last.event_id}
    assert {d.shipment_id for d in decisions if d.event_id != last.event_id} == {base.shipment_id}
    assert all(d.outcome is Outcome.APPROVE for d in decisions)


async def test_hostile_licence_records_are_skipped_and_the_next_licence_applies(
    pipeline: Pipeline,
) -> None:
    await pipeline.publish_catalogue(controls_catalogue())
    exporter = pipeline.exporter()
    good = licence(exporter, cap="1000")
    raw = json.loads(good.model_dump_json())
    hostile: list[bytes] = [
        json.dumps(raw | {"license_id": "L\u0000"}).encode(),
        json.dumps(raw | {"holder_id": exporter.id + "\u202e"}).encode(),
        json.dumps(raw).replace('"amount":"1000"', '"amount":1e27').encode(),
        json.dumps(raw).replace('"amount":"1000"', '"amount":1000,"amount":1').encode(),
        json.dumps(raw).replace('"kind":"general"', '"kind":' + "[" * 5000 + "]" * 5000).encode(),
        b"\xef\xbb\xbf\xef\xbb\xbf{}",
    ]
    async with running(pipeline) as service:
        await publish_records(
            pipeline.bootstrap,
            pipeline.settings.topic_licenses,
            [(b"hostile", value) for value in hostile]
            + [(good.license_id.encode(), good.model_dump_json().encode())],
        )
        held = event(exporter, samarium_kg="100")
        deadline = time.monotonic() + 20
        while good.license_id not in service.reference.licences:
            assert time.monotonic() < deadline, (
                "the valid licence after the hostile ones was not applied"
            )
            await asyncio.sleep(0.1)
        await pipeline.publish_events([held])
        decisions: list[Decision] = await pipeline.decisions(until=lambda ds: len(ds) >= 1)
        assert not service.failed
        assert set(service.reference.licences) == {good.license_id}
    assert decisions[0].outcome is Outcome.APPROVE  # licensed under the valid licence
