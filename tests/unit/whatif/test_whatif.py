"""What-if: a draft catalogue changes exactly the decisions its changed dates reach."""

from __future__ import annotations

from datetime import date

import orjson
import pytest

from schemas import Decision, License, ShipmentEvent
from services.screening.catalogue import load_bundled_catalogue
from services.screening.engine import UsageByOthers, decide
from services.screening.whatif import MeasureNames, RecordedShipment, what_if
from tests.unit.engine.factories import DECIDED_AT, event, licence, line
from tests.unit.whatif.drafts import draft

TODAY = date(2026, 8, 1)


def diamond(line_no: int = 1) -> dict[str, object]:
    """A line controlled by CN-2025-55 (suspended with the October 2025 package)."""
    return line(
        "Synthetic diamond micropowder",
        "71051020",
        line_no=line_no,
        properties={"particle_size_um": "20"},
    )


def copper(line_no: int = 1) -> dict[str, object]:
    return line("Copper cathodes", "7403110000", line_no=line_no)


def recorded(e: ShipmentEvent, held: list[License] | None = None) -> RecordedShipment:
    decision = decide(
        e, load_bundled_catalogue(), held or [], UsageByOthers.empty(), decided_at=DECIDED_AT
    )
    return RecordedShipment(
        e.shipment_id,
        e.exporter.id,
        e.ship_date,
        e.event_type.value == "shipment.cancelled",
        decision.model_dump_json(),
    )


def ledger() -> list[RecordedShipment]:
    """Shipments on both sides of the draft's new suspension end (2026-06-30) and the old one."""
    held = [licence("LIC-2C902", control_codes=["2C902"])]
    return [
        # inside the old window, after the draft's end: approve -> hold
        recorded(event(diamond(), ship_date="2026-09-01", shipment_id="A", event_id="EA")),
        # inside both windows: unchanged
        recorded(event(diamond(), ship_date="2026-05-01", shipment_id="B", event_id="EB")),
        # after the old window: in force either way, unchanged
        recorded(event(diamond(), ship_date="2026-11-20", shipment_id="C", event_id="EC")),
        # not controlled: unchanged
        recorded(event(copper(), ship_date="2026-09-01", shipment_id="D", event_id="ED")),
        # licensed: still approved, but now because of the licence
        recorded(event(diamond(), ship_date="2026-09-01", shipment_id="E", event_id="EE"), held),
        # cancelled: not re-decided
        recorded(
            event(
                diamond(),
                ship_date="2026-09-01",
                shipment_id="F",
                event_id="EF",
                event_type="shipment.cancelled",
            )
        ),
        # two lines: only the controlled one changes
        recorded(
            event(copper(1), diamond(2), ship_date="2026-07-15", shipment_id="G", event_id="EG")
        ),
        # shipped already (before today), also changes, but is not ahead
        recorded(event(diamond(), ship_date="2026-07-02", shipment_id="H", event_id="EH")),
    ]


def test_a_draft_ending_the_suspension_early_changes_exactly_the_expected_lines() -> None:
    report = what_if(ledger(), draft("2026-06-30"), today=TODAY)

    changed = {(c.shipment_id, c.line_no): c for c in report.changes}
    assert set(changed) == {("A", 1), ("E", 1), ("G", 2), ("H", 1)}
    a = changed["A", 1]
    assert (a.old_outcome, a.new_outcome) == ("approve", "hold")
    assert {code for code, _ in a.old_reasons} == {"MEASURE_SUSPENDED"}
    assert {code for code, _ in a.new_reasons} == {"LICENSE_REQUIRED"}
    assert a.new_legal_bases
    assert all("2025 No. 55" in b for b in a.new_legal_bases)
    assert a.ahead
    assert not changed["H", 1].ahead
    e = changed["E", 1]
    assert (e.old_outcome, e.new_outcome) == ("approve", "approve")
    assert (e.old_license, e.new_license) == (None, "LIC-2C902")
    assert report.considered == 7
    assert report.cancelled == 1
    assert not report.unreadable
    assert report.shipments_changed == 4
    assert report.by_measure["CN-2025-55"].as_json() == {
        "shipments": 4,
        "lines": 4,
        "approve_to_hold": 3,
        "hold_to_approve": 0,
        "lines_ahead": 2,
    }
    assert report.by_exporter["CN-EXP-0001"].shipments == 4


def test_extending_the_suspension_releases_holds_after_the_old_end() -> None:
    report = what_if(ledger(), draft("2027-11-10"), today=TODAY)

    changed = {(c.shipment_id, c.line_no): c for c in report.changes}
    assert set(changed) == {("C", 1)}
    assert (changed["C", 1].old_outcome, changed["C", 1].new_outcome) == ("hold", "approve")
    assert report.by_measure["CN-2025-55"].to_approve == 1


def test_the_catalogue_the_decisions_were_taken_under_changes_nothing() -> None:
    report = what_if(ledger(), load_bundled_catalogue(), today=TODAY)

    assert report.changes == []
    assert report.considered == 7


def test_the_licence_state_is_the_one_the_decision_had() -> None:
    """A capped licence the decision saw as nearly used up stays nearly used up in the what-if."""
    held = [licence("LIC-CAP", control_codes=["2C902"], cap=("150", "kg"))]
    e = event(diamond(), ship_date="2026-09-01", shipment_id="U", event_id="EU")
    used = UsageByOthers(consumed={"LIC-CAP": __import__("decimal").Decimal("100")})
    decision = decide(e, load_bundled_catalogue(), held, used, decided_at=DECIDED_AT)
    shipment = RecordedShipment("U", e.exporter.id, e.ship_date, False, decision.model_dump_json())

    report = what_if([shipment], draft("2026-06-30"), today=TODAY)

    (change,) = report.changes
    assert change.new_outcome == "hold"
    assert [code for code, _ in change.new_reasons] == ["LICENSE_EXHAUSTED"]


@pytest.mark.parametrize(
    "spoil",
    [
        lambda d: d.pop("evidence"),
        lambda d: d["evidence"]["event"].pop("lines"),
        lambda d: d["evidence"].update(licenses=[{"license_id": "X"}]),
        lambda d: d.update(decided_at="yesterday"),
    ],
)
def test_a_decision_that_cannot_be_read_back_is_listed_not_dropped(spoil: object) -> None:
    good = ledger()[0]
    raw = orjson.loads(good.decision)
    spoil(raw)  # type: ignore[operator]
    bad = RecordedShipment("A", good.exporter_id, good.ship_date, False, orjson.dumps(raw))

    report = what_if([bad, *ledger()[1:]], draft("2026-06-30"), today=TODAY)

    assert [s for s, _ in report.unreadable] == ["A"]
    assert {c.shipment_id for c in report.changes} == {"E", "G", "H"}


def test_measure_names_take_the_longest_measure_id() -> None:
    names = MeasureNames(load_bundled_catalogue())
    assert names.of("CN-2024-46/Art.2") == "CN-2024-46/Art.2"
    assert names.of("CN-2025-18/1C902.b") == "CN-2025-18"
    assert names.of("CN-2024-46/Art.2.graphite") == "CN-2024-46/Art.2.graphite"
    assert names.of("XX-GONE/1") == "XX-GONE/1"


def test_the_recorded_decision_is_what_the_service_emits() -> None:
    """The ledger stores ``Decision.model_dump_json()``: the fixture must be that too."""
    first = ledger()[0]
    Decision.model_validate_json(first.decision)
