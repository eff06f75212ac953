"""One settle path (ADR 0027): shipment events, re-screens and the offline command decide alike.

On the real broker and database: a licence whose cap changes from kilograms to pieces is decided
once, by one rule, in the consume loop, in re-screening and by ``lodestone screen``; and a
shipment that cannot be re-screened costs only itself.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from typer.testing import CliRunner

from schemas import Decision, Outcome, Quantity, ReasonCode, ShipmentEvent, Trigger, Unit
from services.cli import app as cli
from services.screening import screener as screener_module
from services.screening.engine import decide
from services.screening.running_usage import RunningUsage
from tests.integration.screening.catalogues import controls_catalogue
from tests.integration.screening.conftest import Pipeline, event, licence, running

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def _codes(decision: Decision) -> set[ReasonCode]:
    return {r.code for r in decision.reasons}


def _in(unit: Unit, amount: str, shipment: ShipmentEvent) -> ShipmentEvent:
    """``shipment`` with its one samarium line counted in ``unit``."""
    raw = json.loads(shipment.model_dump_json())
    raw["lines"][0] |= {"quantity": amount, "unit": unit.value}
    return ShipmentEvent.model_validate(raw)


async def test_a_cap_changed_from_kg_to_pieces_is_decided_once_and_the_same_way_everywhere(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    await pipeline.publish_catalogue(controls_catalogue())
    exporter = pipeline.exporter()
    by_mass = licence(exporter, cap="150")
    shipped = event(exporter, samarium_kg="100")
    waiting = _in(Unit.PCS, "4", event(exporter))  # a kg cap cannot count pieces: held
    one, two = (_in(Unit.PCS, "1", event(exporter)) for _ in range(2))
    await pipeline.publish_licences(by_mass)
    async with running(pipeline) as service:
        await pipeline.publish_events([shipped, waiting])
        before = await pipeline.decisions(until=lambda ds: len(ds) >= 2)
        by_pieces = by_mass.model_copy(update={"max_quantity": Quantity(amount=5, unit=Unit.PCS)})
        await pipeline.publish_licences(by_pieces)
        released = await pipeline.decisions(until=lambda ds: len(ds) >= 3)
        await pipeline.publish_events([one])
        await pipeline.decisions(until=lambda ds: len(ds) >= 4)
        await pipeline.publish_events([two])
        out = await pipeline.decisions(until=lambda ds: len(ds) >= 5)
        conflicts = service.metrics.ledger_conflicts._value.get()

    first = {d.shipment_id: d for d in before}
    assert first[shipped.shipment_id].outcome is Outcome.APPROVE  # consumes 100 kg
    assert _codes(first[waiting.shipment_id]) == {ReasonCode.LICENSE_SCOPE}
    (release,) = [d for d in released if d.trigger is Trigger.LICENSE_CHANGE]
    assert release.shipment_id == waiting.shipment_id
    assert release.outcome is Outcome.APPROVE  # the 100 kg cannot count against a pieces cap
    assert release.lines[0].consumed == Quantity(amount=Decimal(4), unit=Unit.PCS)
    latest = {d.shipment_id: d for d in out}
    assert latest[one.shipment_id].outcome is Outcome.APPROVE  # 4 + 1 of 5 pieces
    assert latest[two.shipment_id].outcome is Outcome.HOLD  # the pieces do count
    assert _codes(latest[two.shipment_id]) == {ReasonCode.LICENSE_EXHAUSTED}
    assert len(out) == 5
    assert conflicts == 0, "a decision was taken again: two rules disagreed"

    # the ledger's rows, read into the in-memory usage, say the same: 5 pieces used, kg ignored
    conn = await asyncpg.connect(pipeline.settings.database_url)
    try:
        rows = await conn.fetch(
            "SELECT shipment_id, amount, unit FROM screening.consumption WHERE license_id = $1",
            by_pieces.license_id,
        )
    finally:
        await conn.close()
    assert {r["unit"] for r in rows} == {"kg", "pcs"}
    usage = RunningUsage([by_pieces])
    for row in rows:
        usage.add_row(by_pieces.license_id, row["shipment_id"], row["amount"], Unit(row["unit"]))
    assert usage.usage_for("another shipment").consumed == {by_pieces.license_id: Decimal(5)}
    assert usage.fits(latest[one.shipment_id])  # its own piece is not counted twice
    assert not usage.fits(
        latest[one.shipment_id].model_copy(update={"shipment_id": "another shipment"})
    )

    # and the offline command, on the same licence and events, decides the same
    files = {
        "catalogue.json": controls_catalogue().to_wire().decode(),
        "licences.json": f"[{by_pieces.model_dump_json()}]",
        "events.json": f"[{','.join(e.model_dump_json() for e in (waiting, one, two))}]",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        [
            "screen",
            "--catalogue",
            str(tmp_path / "catalogue.json"),
            "--licenses",
            str(tmp_path / "licences.json"),
            str(tmp_path / "events.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    offline = [Decision.model_validate_json(line) for line in result.output.splitlines()]
    assert [d.outcome for d in offline] == [
        release.outcome,
        latest[one.shipment_id].outcome,
        latest[two.shipment_id].outcome,
    ]
    assert [_codes(d) for d in offline] == [
        _codes(release),
        _codes(latest[one.shipment_id]),
        _codes(latest[two.shipment_id]),
    ]


async def test_a_shipment_that_cannot_be_rescreened_is_counted_and_the_others_go_on(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine fails on one held shipment's re-screen (injected: a defect such as the
    ``decimal.InvalidOperation`` a 1e27 t line raised before quantities were bounded): its
    re-screen is counted as failed, the exporter's other hold is released all the same, and a
    restart's catch-up re-screen does not fail the service either."""
    await pipeline.publish_catalogue(controls_catalogue())
    exporter = pipeline.exporter()
    broken = event(exporter, samarium_kg="40")
    ordinary = event(exporter, samarium_kg="40")

    def decide_or_fail(shipment: ShipmentEvent, *args: Any, **kwargs: Any) -> Decision:
        if shipment.shipment_id == broken.shipment_id and kwargs.get("trigger") not in (
            None,
            Trigger.SHIPMENT_EVENT,
        ):
            raise InvalidOperation("injected: the engine cannot decide this shipment")
        return decide(shipment, *args, **kwargs)

    monkeypatch.setattr(screener_module, "decide", decide_or_fail)
    async with running(pipeline) as service:
        await pipeline.publish_events([broken, ordinary])
        held = await pipeline.decisions(until=lambda ds: len(ds) >= 2)
        assert {d.outcome for d in held} == {Outcome.HOLD}
        await pipeline.publish_licences(licence(exporter, cap="500"))
        out = await pipeline.decisions(until=lambda ds: len(ds) >= 3)
        failures = service.metrics.rescreen_failures.labels("license_change")
        assert failures._value.get() == 1
        assert not service.failed
        await pipeline.publish_events([event(exporter, samarium_kg="10")])
        after = await pipeline.decisions(until=lambda ds: len(ds) >= 4)
    (release,) = [d for d in out if d.trigger is Trigger.LICENSE_CHANGE]
    assert (release.shipment_id, release.outcome) == (ordinary.shipment_id, Outcome.APPROVE)
    assert sum(d.outcome is Outcome.APPROVE for d in after) == 2  # the consume loop went on too
    async with running(pipeline) as restarted:  # catch_up re-screens the open hold again
        assert restarted.is_ready()
        assert not restarted.failed
        assert restarted.metrics.rescreen_failures.labels("license_change")._value.get() == 1


async def test_a_stored_shipment_that_no_longer_parses_is_counted_and_the_others_go_on(
    pipeline: Pipeline,
) -> None:
    """A shipment stored under looser validation rules than today's cannot be read back for a
    re-screen: it is skipped and counted, the exporter's other hold is released."""
    await pipeline.publish_catalogue(controls_catalogue())
    exporter = pipeline.exporter()
    old, ordinary = event(exporter, samarium_kg="40"), event(exporter, samarium_kg="40")
    async with running(pipeline) as service:
        await pipeline.publish_events([old, ordinary])
        await pipeline.decisions(until=lambda ds: len(ds) >= 2)
        conn = await asyncpg.connect(pipeline.settings.database_url)
        try:  # as stored by an earlier version that accepted it
            await conn.execute(
                "UPDATE screening.shipments SET event = $2 WHERE shipment_id = $1",
                old.shipment_id,
                old.model_dump_json().replace(
                    '"destination_country":"DE"', '"destination_country":"XX"'
                ),
            )
        finally:
            await conn.close()
        await pipeline.publish_licences(licence(exporter, cap="500"))
        out = await pipeline.decisions(until=lambda ds: len(ds) >= 3)
        failures = service.metrics.rescreen_failures.labels("license_change")._value.get()
        assert not service.failed
    (release,) = [d for d in out if d.trigger is Trigger.LICENSE_CHANGE]
    assert (release.shipment_id, release.outcome) == (ordinary.shipment_id, Outcome.APPROVE)
    assert failures == 1
