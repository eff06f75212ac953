"""Which shipments a party-list change affects: those whose consignee or end user matches a
changed listing before or after the change (added, suspended, ceased, renamed or removed); and,
at start-up, those decided on another list than the one now in force (changes made while no
instance ran)."""

from __future__ import annotations

from collections.abc import Sequence

from schemas import ControlledParty, ShipmentEvent
from services.screening.ledger import ShipmentState
from services.screening.parties.follower import PartyListChange
from services.screening.parties.index import PartyIndex


def decided_on_another_list(
    states: Sequence[ShipmentState], index: PartyIndex | None
) -> list[ShipmentState]:
    """The states whose latest decision names another party-list version than ``index``'s."""
    if index is None:
        return []
    return [
        s
        for s in states
        if s.latest_decision.evidence is not None
        and s.latest_decision.evidence.party_list_version != index.version
    ]


def affected(states: Sequence[ShipmentState], change: PartyListChange) -> list[ShipmentState]:
    """The states whose parties match any listing in ``change`` (either version)."""
    indexes = [_index(change.before), _index(change.after)]
    return [s for s in states if any(_touches(s.event, index) for index in indexes)]


def _index(parties: Sequence[ControlledParty]) -> PartyIndex:
    return PartyIndex(list(parties))


def _touches(event: ShipmentEvent, index: PartyIndex) -> bool:
    if not len(index):
        return False
    return any(index.match(p.name, p.country) for p in (event.consignee, event.end_user))
