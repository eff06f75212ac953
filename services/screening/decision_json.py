"""A decision's JSON, byte for byte ``Decision.model_dump_json()``, for less CPU per batch.

The evidence a decision embeds (the event, the exporter's licences and their usage) is
most of its JSON. ``model_dump_json()`` serialises the whole event again inside every decision,
and the same licences again for every decision of an exporter. :class:`DecisionEncoder`
serialises the decision without its evidence, then splices in the event's JSON (serialised once
per event, and also stored in ``screening.shipments.event``) and the licences' JSON (once per
exporter per batch). Whatever it cannot splice safely it serialises whole.
"""

from __future__ import annotations

from pydantic import TypeAdapter

from schemas import Decision, DecisionEvidence, License, LicenseUsage, PartyMatch, ShipmentEvent

_LICENCES: TypeAdapter[list[License]] = TypeAdapter(list[License])
_USAGE: TypeAdapter[list[LicenseUsage]] = TypeAdapter(list[LicenseUsage])
_PARTIES: TypeAdapter[list[PartyMatch]] = TypeAdapter(list[PartyMatch])
_OPTIONAL_TEXT: TypeAdapter[str | None] = TypeAdapter(str | None)
_WITHOUT_EVIDENCE = {"evidence"}

#: the splice relies on ``evidence`` being the last field and on the order of its own fields
SPLICEABLE = list(Decision.model_fields)[-1] == "evidence" and list(
    DecisionEvidence.model_fields
) == ["event", "licenses", "license_usage", "parties", "party_list_version"]


class DecisionEncoder:
    """Encodes the decisions of one batch; keeps the licences' JSON for the batch's length."""

    def __init__(self) -> None:
        self._licences: dict[tuple[int, ...], tuple[list[License], str]] = {}

    def encode(self, decision: Decision, event: ShipmentEvent, event_json: str) -> str:
        """``decision.model_dump_json()``, given ``event_json = event.model_dump_json()``."""
        evidence = decision.evidence
        if (
            not SPLICEABLE
            or type(decision) is not Decision
            or type(evidence) is not DecisionEvidence
            or evidence.event is not event
        ):
            return decision.model_dump_json()
        head = decision.model_dump_json(exclude=_WITHOUT_EVIDENCE)
        used = evidence.license_usage
        usage = _USAGE.dump_json(used).decode() if used else "[]"
        matched = evidence.parties
        parties = _PARTIES.dump_json(matched).decode() if matched else "[]"
        version = _OPTIONAL_TEXT.dump_json(evidence.party_list_version).decode()
        return (
            f'{head[:-1]},"evidence":{{"event":{event_json},'
            f'"licenses":{self._licences_json(evidence.licenses)},"license_usage":{usage},'
            f'"parties":{parties},"party_list_version":{version}}}}}'
        )

    def _licences_json(self, licences: list[License]) -> str:
        if not licences:
            return "[]"
        key = tuple(map(id, licences))  # the objects stay alive: the cache holds the list
        cached = self._licences.get(key)
        if cached is None:
            cached = (list(licences), _LICENCES.dump_json(licences).decode())
            self._licences[key] = cached
        return cached[1]
