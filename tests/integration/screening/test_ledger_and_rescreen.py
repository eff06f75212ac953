"""Licence caps across instances, and re-screening of holds on licence and catalogue changes."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from schemas import Decision, Outcome, ReasonCode, Trigger
from services.screening.publish import withdraw_licences
from tests.integration.screening.catalogues import controls_catalogue
from tests.integration.screening.conftest import Pipeline, event, licence, running

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def test_two_instances_race_for_the_last_unit(pipeline: Pipeline) -> None:
    await pipeline.publish_catalogue(controls_catalogue())
    exporters = [pipeline.exporter(n) for n in range(1)]
    capped = licence(exporters[0], cap="100")
    await pipeline.publish_licences(capped)
    # Ten shipments of 100 kg each against a 100 kg cap, spread over the partitions.
    events = [event(exporters[0], samarium_kg="100") for _ in range(10)]
    async with running(pipeline), running(pipeline, batch_max_records=8):
        await asyncio.sleep(1.0)  # both members of the group hold partitions
        await pipeline.publish_raw(
            [(e.shipment_id.encode(), e.model_dump_json().encode()) for e in events]
        )
        out = await pipeline.decisions(until=lambda ds: len(ds) >= len(events))
    assert {d.event_id for d in out} == {e.event_id for e in events}
    approved = [d for d in out if d.outcome is Outcome.APPROVE]
    assert len(approved) == 1
    held = [d for d in out if d.outcome is Outcome.HOLD]
    assert all(ReasonCode.LICENSE_EXHAUSTED in {r.code for r in d.reasons} for d in held)


async def test_granting_a_licence_releases_the_hold(pipeline: Pipeline) -> None:
    await pipeline.publish_catalogue(controls_catalogue())
    exporter = pipeline.exporter()
    shipment = event(exporter, samarium_kg="40")
    async with running(pipeline):
        await pipeline.publish_events([shipment])
        first = await pipeline.decisions(until=lambda ds: len(ds) >= 1)
        assert first[0].outcome is Outcome.HOLD
        granted = licence(exporter, cap="500")
        await pipeline.publish_licences(granted)
        out = await pipeline.decisions(until=lambda ds: len(ds) >= 2)
        release = out[-1]
        assert release.outcome is Outcome.APPROVE
        assert release.trigger is Trigger.LICENSE_CHANGE
        assert release.supersedes == first[0].decision_id
        assert release.lines[0].license_id == granted.license_id
        # Withdrawing it (tombstone) puts the shipment on hold again? No: only holds are
        # re-screened on licence changes; the approval stands (documented).
        await withdraw_licences(
            pipeline.bootstrap, pipeline.settings.topic_licenses, [granted.license_id]
        )
        await asyncio.sleep(1.0)
    final = await pipeline.decisions(until=lambda ds: False, wait_s=1.0)
    assert len(final) == 2


async def test_catalogue_suspending_a_measure_releases_its_holds(pipeline: Pipeline) -> None:
    await pipeline.publish_catalogue(controls_catalogue())
    exporter = pipeline.exporter()
    shipments = [event(exporter, samarium_kg="10") for _ in range(3)]
    async with running(pipeline):
        await pipeline.publish_events(shipments)
        held = await pipeline.decisions(until=lambda ds: len(ds) >= 3)
        assert all(d.outcome is Outcome.HOLD for d in held)
        suspended = controls_catalogue(suspended=True, label="2026-01-02.1")
        await pipeline.publish_catalogue(suspended)
        out: list[Decision] = await pipeline.decisions(until=lambda ds: len(ds) >= 6)
    releases = out[3:]
    assert {d.shipment_id for d in releases} == {s.shipment_id for s in shipments}
    for d in releases:
        assert d.outcome is Outcome.APPROVE
        assert d.trigger is Trigger.CATALOGUE_CHANGE
        assert d.catalogue_version == suspended.version
        assert {r.code for r in d.reasons} == {ReasonCode.MEASURE_SUSPENDED}
    assert {d.supersedes for d in releases} == {d.decision_id for d in held}


async def test_a_restart_re_emits_unmarked_rescreens_only(pipeline: Pipeline) -> None:
    """A re-screening decision whose "published" mark was lost is sent again at start; a
    shipment event's decision, covered by its committed offset, is not (ADR 0025)."""
    await pipeline.publish_catalogue(controls_catalogue())
    exporter = pipeline.exporter()
    shipment = event(exporter, samarium_kg="40")
    async with running(pipeline):
        await pipeline.publish_events([shipment])
        await pipeline.decisions(until=lambda ds: len(ds) >= 1)
        await pipeline.publish_licences(licence(exporter, cap="500"))
        before = await pipeline.decisions(until=lambda ds: len(ds) >= 2)
    held, release = before
    assert release.trigger is Trigger.LICENSE_CHANGE
    conn = await asyncpg.connect(pipeline.settings.database_url)
    try:
        rows = await conn.fetch(
            "SELECT decision_id, published FROM screening.decisions WHERE shipment_id = $1",
            shipment.shipment_id,
        )
        marks = {r["decision_id"]: r["published"] for r in rows}
        assert marks == {held.decision_id: False, release.decision_id: True}
        # as if the service had stopped between the acknowledgement and the mark
        await conn.execute(
            "UPDATE screening.decisions SET published = false WHERE decision_id = $1",
            release.decision_id,
        )
    finally:
        await conn.close()
    async with running(pipeline):
        after = await pipeline.decisions(until=lambda ds: len(ds) >= 3)
        await asyncio.sleep(1.0)
    final = await pipeline.decisions(until=lambda ds: False, wait_s=1.0)
    assert len(final) == 3
    assert [d.decision_id for d in after] == [
        held.decision_id,
        release.decision_id,
        release.decision_id,
    ]
    assert final[2].model_dump_json() == release.model_dump_json()
