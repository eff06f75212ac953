"""Controlled-party screening of one shipment: the engine's only entry into this package.

Rules (docs/parties.md, ADR 0028):

- The **consignee** and the **end user** are both matched (:class:`.index.PartyIndex`), each
  with its own country.
- A listing acts only on the ship date's status (:meth:`ControlledParty.status_on`):
  ``in_force`` and ``in_force_unconfirmed`` (a suspension ended, nothing says it was extended:
  the measures apply again) act; ``suspended`` and ``ceased`` do not (the match is kept in the
  evidence with effect ``none``); ``suspended_unconfirmed`` (no end stated, no later status
  found) goes to a person.
- **PROHIBITED_END_USER** needs an exact match on a listing that prohibits (control list, unreliable
  entity list, countermeasure order) and is not ``weak``. A likely match, a weak listing (one
  unofficial source) and a watch-list listing (licensable after a risk assessment, never by a
  general licence) give **PARTY_REVIEW**: a person decides, never an automatic prohibition.
- **Which lines:** the control list and the watch list govern dual-use items, so they act on the
  lines the catalogue found controlled; the unreliable entity list and the countermeasure
  order ban trade with the entity as such, so they act on every line.
- An affected line is held whatever licence covered it: its approving reasons and its licence
  consumption are dropped (licences do not help against a listed end user).
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas import (
    LineDecision,
    MatchKind,
    Outcome,
    PartyEffect,
    PartyList,
    PartyMatch,
    PartyStatus,
    Reason,
    ReasonCode,
    ShipmentEvent,
)
from services.screening.parties.index import NameMatch, PartyIndex

#: The law each list rests on (the announcement is named with it in every reason).
LEGAL_BASIS = {
    PartyList.CONTROL: "Export Control Law art. 18; Dual-Use Items Export Control Regulation"
    " arts. 28-29",
    PartyList.WATCH: "Dual-Use Items Export Control Regulation art. 26",
    PartyList.UEL: "Provisions on the Unreliable Entity List (MOFCOM Order 2020 No. 4) art. 10",
    PartyList.COUNTERMEASURE: "Anti-Foreign Sanctions Law",
}
LIST_NAMES = {
    PartyList.CONTROL: "export control control list",
    PartyList.WATCH: "watch list",
    PartyList.UEL: "unreliable entity list",
    PartyList.COUNTERMEASURE: "countermeasure order",
}
#: Lists that act on every line, not only on controlled (dual-use) lines.
EVERY_LINE = frozenset({PartyList.UEL, PartyList.COUNTERMEASURE})
_PROHIBITING = frozenset({PartyList.CONTROL, PartyList.UEL, PartyList.COUNTERMEASURE})
_ACTING = frozenset({PartyStatus.IN_FORCE, PartyStatus.IN_FORCE_UNCONFIRMED})
_CODES = {
    PartyEffect.PROHIBITED: ReasonCode.PROHIBITED_END_USER,
    PartyEffect.REVIEW: ReasonCode.PARTY_REVIEW,
}


def effect_of(match: NameMatch, status: PartyStatus | None) -> PartyEffect:
    """What one match does on a ship date on which the listing has ``status``."""
    if status is PartyStatus.SUSPENDED_UNCONFIRMED:
        return PartyEffect.REVIEW
    if status not in _ACTING:
        return PartyEffect.NONE
    party = match.party
    if match.kind is MatchKind.EXACT and not party.weak and party.list_ in _PROHIBITING:
        return PartyEffect.PROHIBITED
    return PartyEffect.REVIEW


def screen_parties(event: ShipmentEvent, index: PartyIndex) -> list[PartyMatch]:
    """The matches of the event's consignee and end user, in a deterministic order."""
    found: list[PartyMatch] = []
    for role, party in (("consignee", event.consignee), ("end_user", event.end_user)):
        for match in index.match(party.name, party.country):
            listed = match.party
            status = listed.status_on(event.ship_date)
            found.append(
                PartyMatch.model_construct(
                    role=role,
                    party_name=party.name,
                    party_country=party.country,
                    entity_id=listed.entity_id,
                    party_list=listed.list_,
                    announcement=listed.announcement,
                    announcement_key=listed.announcement_key,
                    name_matched=match.name_matched,
                    score=match.score,
                    kind=match.kind,
                    status=status,
                    weak=listed.weak,
                    effect=effect_of(match, status),
                )
            )
    return found


def apply_party_matches(
    lines: list[LineDecision], reasons: list[Reason], matches: Sequence[PartyMatch]
) -> bool:
    """Hold the lines the acting matches cover (in place); whether any line was held."""
    acting = [m for m in matches if m.effect is not PartyEffect.NONE]
    held = False
    for position, line in enumerate(lines):
        covering = [m for m in acting if m.party_list in EVERY_LINE or line.controlled]
        if not covering:
            continue
        held = True
        codes = [_CODES[m.effect] for m in covering]
        if line.outcome is Outcome.APPROVE:
            dropped = {line.line_no}
            reasons[:] = [r for r in reasons if r.line_no not in dropped]
            line_codes = list(dict.fromkeys(codes))
            lines[position] = line.model_copy(
                update={
                    "outcome": Outcome.HOLD,
                    "reasons": line_codes,
                    "license_id": None,
                    "consumed": None,
                }
            )
        else:
            line_codes = list(dict.fromkeys([*line.reasons, *codes]))
            lines[position] = line.model_copy(update={"reasons": line_codes})
        reasons.extend(_reason(m, line.line_no) for m in covering)
    return held


def _reason(match: PartyMatch, line_no: int) -> Reason:
    code = _CODES[match.effect]
    role = "consignee" if match.role == "consignee" else "end user"
    listed = f"{LIST_NAMES[match.party_list]}, {match.announcement}"
    how = "matches" if match.kind is MatchKind.EXACT else "may be"
    notes = []
    if match.kind is not MatchKind.EXACT:
        notes.append(f"similarity {match.score}")
    if match.weak:
        notes.append("listing unverified: named by one unofficial source only")
    if match.status is PartyStatus.IN_FORCE_UNCONFIRMED:
        notes.append("a suspension ended and no announcement confirms its extension")
    if match.status is PartyStatus.SUSPENDED_UNCONFIRMED:
        notes.append("suspended without a stated end; current status unconfirmed")
    if match.party_list is PartyList.WATCH:
        notes.append("watch list: no general licence; a single licence after risk assessment")
    suffix = f" ({'; '.join(notes)})" if notes else ""
    message = (
        f"{role} {match.party_name!r} ({match.party_country}) {how} {match.name_matched!r}"
        f" [{match.entity_id}] on the {listed}{suffix}"
    )
    return Reason.model_construct(
        code=code,
        line_no=line_no,
        control_id=None,
        legal_basis=f"{match.announcement}; {LEGAL_BASIS[match.party_list]}",
        message=message,
    )
