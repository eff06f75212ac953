"""parties.v1 records into a party list, and the shipments a change touches."""

from __future__ import annotations

from datetime import date

import pytest

from schemas import ControlledParty
from services.screening.ledger import ShipmentState
from services.screening.parties import PartyListError, listing_key, load_bundled_parties
from services.screening.parties.follower import PartyListState
from services.screening.parties.rescreen import affected
from tests.unit.parties.helpers import screened, shipment

MP = next(p for p in load_bundled_parties() if p.entity_id == "cnp-138")


def _record(party: ControlledParty) -> tuple[bytes, bytes]:
    return listing_key(party).encode(), party.model_dump_json(by_alias=True).encode()


def test_nothing_published_means_the_bundled_list() -> None:
    index, source = PartyListState().initial_index()
    assert source == "bundled"
    assert len(index) == len(load_bundled_parties())


def test_published_listings_replace_the_bundled_list_and_changes_come_per_batch() -> None:
    state = PartyListState()
    state.apply(*_record(MP))
    index, source = state.initial_index()
    assert (source, len(index)) == ("published", 1)
    assert state.flush() is None
    suspended = ControlledParty.model_validate(
        {
            **MP.model_dump(by_alias=True),
            "status_windows": [{"status": "suspended", "from": "2026-06-22"}],
        }
    )
    state.apply(*_record(suspended))
    state.apply(*_record(suspended))  # a duplicate delivery changes nothing more
    change = state.flush()
    assert change is not None
    assert change.before == (MP,)
    assert change.after == (suspended,)
    state.apply(listing_key(MP).encode(), None)
    removed = state.flush()
    assert removed is not None
    assert removed.after == ()
    assert len(removed.index) == 0


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        (b"cnp-138/CL-2026-23", b'{"entity_id": "x", "entity_id": "y"}', "JSON"),
        (b"cnp-138/CL-2026-23", b'{"entity_id": "cnp-138"}', "name"),
        (b"someone-else/CL-1", _record(MP)[1], "listing key"),
        (None, None, "tombstone"),
    ],
)
def test_unreadable_records_are_refused_with_a_reason(
    key: bytes | None, value: bytes | None, error: str
) -> None:
    state = PartyListState()
    with pytest.raises(PartyListError, match=error):
        state.apply(key, value)
    assert state.flush() is None


def _state(end_user: str, consignee: str = "Harbour Logistics GmbH") -> ShipmentState:
    shipped = shipment(end_user, consignee=consignee)
    decision = screened(shipped)
    return ShipmentState(
        shipment_id=shipped.shipment_id,
        exporter_id=shipped.exporter.id,
        latest_decision_id=decision.decision_id,
        latest_decision=decision,
        outcome=decision.outcome,
        cancelled=False,
        ship_date=date(2026, 11, 30),
        event=shipped,
    )


def test_a_change_touches_the_shipments_whose_parties_match_either_version() -> None:
    state = PartyListState()
    state.apply(*_record(MP))
    state.initial_index()
    renamed = ControlledParty.model_validate(
        {**MP.model_dump(by_alias=True), "name": "MPM Holdings", "aliases": []}
    )
    state.apply(*_record(renamed))
    change = state.flush()
    assert change is not None
    states = [
        _state("MP Materials Corp."),  # matched the old version
        _state("Acme GmbH", consignee="MPM Holdings Inc."),  # matches the new one
        _state("Acme GmbH"),
    ]
    assert [s.event.end_user.name for s in affected(states, change)] == [
        "MP Materials Corp.",
        "Acme GmbH",
    ]
    assert affected(states, change)[1].event.consignee.name == "MPM Holdings Inc."
