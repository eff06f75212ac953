"""Shipments to named parties, screened with the bundled party list."""

from __future__ import annotations

from functools import cache

from schemas import ControlledParty, Decision, License, Party, ShipmentEvent
from services.screening.catalogue import load_bundled_catalogue
from services.screening.engine import UsageByOthers, decide
from services.screening.parties import PartyIndex, load_bundled_parties
from tests.unit.engine.factories import DECIDED_AT, event, licence, line

GRAPHITE = line("Natural flake graphite", "2504101000")
COPPER = line("Copper cathodes", "7403110000", line_no=2)
GRAPHITE_LICENCE = licence(hs_codes=["250410"], valid_from="2023-12-01", valid_to="2027-12-31")


@cache
def bundled_index() -> PartyIndex:
    return PartyIndex(load_bundled_parties())


def country_of(listed: ControlledParty) -> str:
    """The listing's country, or a plausible one where the sources state none."""
    return listed.country or "DE"


def shipment(
    end_user: str,
    country: str = "US",
    *,
    ship_date: str = "2026-11-30",
    consignee: str = "Harbour Logistics GmbH",
    consignee_country: str = "DE",
    lines: tuple[dict[str, object], ...] = (GRAPHITE,),
    event_type: str = "shipment.declared",
) -> ShipmentEvent:
    base = event(*lines, ship_date=ship_date, destination="DE", event_type=event_type)
    return base.model_copy(
        update={
            "consignee": Party(id="C-1", name=consignee, country=consignee_country),
            "end_user": Party(id="E-1", name=end_user, country=country),
        }
    )


def screened(
    shipment: ShipmentEvent,
    parties: PartyIndex | None = None,
    licences: list[License] | None = None,
) -> Decision:
    return decide(
        shipment,
        load_bundled_catalogue(),
        [GRAPHITE_LICENCE] if licences is None else licences,
        UsageByOthers.empty(),
        decided_at=DECIDED_AT,
        parties=parties if parties is not None else bundled_index(),
    )


def line_codes(decision: Decision, line_no: int = 1) -> list[str]:
    for line_decision in decision.lines:
        if line_decision.line_no == line_no:
            return [str(c) for c in line_decision.reasons]
    raise AssertionError(f"no line {line_no}")


__all__ = ["COPPER", "GRAPHITE", "country_of", "line_codes", "screened", "shipment"]
