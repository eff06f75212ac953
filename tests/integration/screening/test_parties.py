"""Controlled-party screening on the real broker and database: a listed end user is held with
the listing as legal basis, and a party-list change re-screens the shipments it touches."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from schemas import ControlledParty, Outcome, Party, ReasonCode, Trigger
from services.screening.parties import listing_key
from services.screening.publish import publish_records
from tests.integration.screening.catalogues import controls_catalogue
from tests.integration.screening.conftest import Pipeline, event, licence, running

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def listing(name: str, *windows: dict[str, Any], entity_id: str = "t-001") -> ControlledParty:
    return ControlledParty.model_validate(
        {
            "entity_id": entity_id,
            "name": name,
            "name_zh": None,
            "aliases": [],
            "country": "US",
            "list": "control",
            "announcement": "MOFCOM Announcement 2026 No. 99",
            "announcement_key": "CL-2026-99",
            "listed_on": "2026-01-05",
            "effective_on": "2026-01-05",
            "status_windows": list(windows) or [{"status": "in_force", "from": "2026-01-05"}],
        }
    )


async def publish_parties(pipeline: Pipeline, *parties: ControlledParty) -> None:
    records = [
        (listing_key(p).encode(), p.model_dump_json(by_alias=True).encode()) for p in parties
    ]
    await publish_records(pipeline.bootstrap, pipeline.settings.topic_parties, records)


def to(shipment_event: Any, name: str) -> Any:
    party = Party(id="US-E-1", name=name, country="US")
    return shipment_event.model_copy(
        update={"consignee": party, "end_user": party, "destination_country": "US"}
    )


async def test_a_shipment_to_a_listed_party_is_held_with_the_listing_as_legal_basis(
    pipeline: Pipeline,
) -> None:
    await pipeline.publish_catalogue(controls_catalogue())
    exporter = pipeline.exporter()
    await pipeline.publish_licences(licence(exporter, cap="1000"))
    await publish_parties(pipeline, listing("Vector Magnetics, Inc."))
    listed = to(event(exporter, samarium_kg="10"), "VECTOR MAGNETICS INC")
    unrelated = to(event(exporter, samarium_kg="10"), "Vector Marine Supplies LLC")
    async with running(pipeline):
        await pipeline.publish_events([listed, unrelated])
        out = await pipeline.decisions(until=lambda ds: len(ds) >= 2)
    by_shipment = {d.shipment_id: d for d in out}
    held = by_shipment[listed.shipment_id]
    assert held.outcome is Outcome.HOLD
    assert [r.code for r in held.reasons] == [ReasonCode.PROHIBITED_END_USER] * 2  # both roles
    assert all("MOFCOM Announcement 2026 No. 99" in (r.legal_basis or "") for r in held.reasons)
    assert held.lines[0].license_id is None
    assert held.evidence is not None
    assert {m.name_matched for m in held.evidence.parties} == {"Vector Magnetics, Inc."}
    approved = by_shipment[unrelated.shipment_id]
    assert approved.outcome is Outcome.APPROVE
    assert approved.evidence is not None
    assert approved.evidence.parties == []


async def test_a_party_list_change_rescreens_the_shipments_it_touches(pipeline: Pipeline) -> None:
    await pipeline.publish_catalogue(controls_catalogue())
    exporter = pipeline.exporter()
    await pipeline.publish_licences(licence(exporter, cap="1000"))
    await publish_parties(pipeline, listing("Somebody Else Corp.", entity_id="t-000"))
    touched = to(event(exporter, samarium_kg="10"), "Nordic Magnet Works Inc.")
    untouched = to(event(exporter, samarium_kg="10"), "Harbour Logistics Inc.")
    async with running(pipeline):
        await pipeline.publish_events([touched, untouched])
        first = await pipeline.decisions(until=lambda ds: len(ds) >= 2)
        assert {d.outcome for d in first} == {Outcome.APPROVE}
        # Unreadable records on the parties topic are skipped; the listing after them counts.
        garbage = [
            (b"t-bad/CL-1", b'{"entity_id": "a", "entity_id": "b"}'),
            (b"t-bad/CL-2", b"\xff\xfe not json"),
            (b"t-bad/CL-3", b'{"entity_id": "t-bad", "name": "Nordic\\u202e Magnet"}'),
        ]
        await publish_records(pipeline.bootstrap, pipeline.settings.topic_parties, garbage)
        # Added: the approved, not yet shipped shipment is held.
        await publish_parties(pipeline, listing("Nordic Magnet Works"))
        added = await pipeline.decisions(until=lambda ds: len(ds) >= 3)
        hold = added[-1]
        assert hold.shipment_id == touched.shipment_id
        assert hold.trigger is Trigger.PARTY_LIST_CHANGE
        assert hold.outcome is Outcome.HOLD
        assert {r.code for r in hold.reasons} == {ReasonCode.PROHIBITED_END_USER}
        assert hold.supersedes in {d.decision_id for d in first}
        # Suspended from before the ship date: the hold is released again.
        suspended = listing(
            "Nordic Magnet Works",
            {"status": "in_force", "from": "2026-01-05", "to": "2026-01-31"},
            {"status": "suspended", "from": "2026-02-01"},
        )
        await publish_parties(pipeline, suspended)
        out = await pipeline.decisions(until=lambda ds: len(ds) >= 4)
    release = out[-1]
    assert release.shipment_id == touched.shipment_id
    assert release.trigger is Trigger.PARTY_LIST_CHANGE
    assert release.outcome is Outcome.APPROVE
    assert release.supersedes == hold.decision_id
    assert release.evidence is not None
    assert [m.effect.value for m in release.evidence.parties] == ["none", "none"]
    assert sum(d.shipment_id == untouched.shipment_id for d in out) == 1


async def test_parties_publish_puts_every_bundled_listing_on_the_topic_by_listing_key(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from services.cli import app
    from services.screening.parties import load_bundled_parties

    monkeypatch.setattr("services.common.settings.get_settings", lambda: pipeline.settings)
    result = await asyncio.to_thread(CliRunner().invoke, app, ["parties", "publish"])
    assert result.exit_code == 0, result.output
    bundled = load_bundled_parties()
    records = await pipeline.read(
        pipeline.settings.topic_parties,
        until=lambda rs: len(rs) >= len(bundled),
        parse=lambda value: ControlledParty.model_validate_json(value),
    )
    assert len(records) == len(bundled)
    assert {listing_key(p) for p in records} == {listing_key(p) for p in bundled}
    assert records == bundled  # in order, every field as built from the reference


async def test_a_listing_published_while_no_instance_runs_is_caught_up_at_start(
    pipeline: Pipeline,
) -> None:
    await pipeline.publish_catalogue(controls_catalogue())
    exporter = pipeline.exporter()
    await pipeline.publish_licences(licence(exporter, cap="1000"))
    await publish_parties(pipeline, listing("Somebody Else Corp.", entity_id="t-000"))
    shipment = to(event(exporter, samarium_kg="10"), "Quiet Harbour Magnets Inc.")
    async with running(pipeline):
        await pipeline.publish_events([shipment])
        first = await pipeline.decisions(until=lambda ds: len(ds) >= 1)
    assert first[0].outcome is Outcome.APPROVE
    await publish_parties(pipeline, listing("Quiet Harbour Magnets"))  # nobody is running
    async with running(pipeline):
        out = await pipeline.decisions(until=lambda ds: len(ds) >= 2)
    caught_up = out[-1]
    assert caught_up.trigger is Trigger.PARTY_LIST_CHANGE
    assert caught_up.outcome is Outcome.HOLD
    assert caught_up.supersedes == first[0].decision_id
    assert {r.code for r in caught_up.reasons} == {ReasonCode.PROHIBITED_END_USER}
