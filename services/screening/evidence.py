"""A recorded decision's inputs, read back from its evidence (``Decision.evidence``).

A decision embeds what it was decided on: the shipment event, the exporter's licences that were
considered and how much of them other shipments had used. What-if (re-deciding recorded
shipments under a draft catalogue) and replay (re-deriving a recorded decision byte for byte)
both start here. The recorded JSON is read with orjson and only the evidence goes through the
wire models, validated by the same strict rules as on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson
from pydantic import TypeAdapter

from schemas import License, LicenseUsage, ShipmentEvent, Trigger
from services.screening.engine import UsageByOthers
from services.screening.parties import PartyIndex, load_bundled_parties

_LICENCES: TypeAdapter[list[License]] = TypeAdapter(list[License])
_USAGE: TypeAdapter[list[LicenseUsage]] = TypeAdapter(list[LicenseUsage])


class EvidenceError(ValueError):
    """A recorded decision lacks evidence, or its evidence does not validate."""


@dataclass(frozen=True, slots=True)
class DecisionInputs:
    """Everything ``decide`` needs besides the catalogue, as the recorded decision states it."""

    event: ShipmentEvent
    licences: list[License]
    usage: UsageByOthers
    decided_at: datetime
    trigger: Trigger
    supersedes: str | None
    parties: PartyIndex | None = None
    """The controlled-party list the decision was taken with (``None``: not screened)."""


@lru_cache(maxsize=1)
def _bundled_parties() -> PartyIndex:
    return PartyIndex(load_bundled_parties())


def party_list_of(version: object) -> PartyIndex | None:
    """The party list named by a decision's ``evidence.party_list_version``.

    Lodestone keeps one list outside the topic: the bundled one. A decision taken with another
    (published) list cannot be re-derived here, and says so rather than being re-decided
    without its party screening, which would report party holds as changes.
    """
    if version is None:
        return None
    bundled = _bundled_parties()
    if version != bundled.version:
        raise EvidenceError(
            f"the decision used controlled-party list {version}; only the bundled list"
            f" ({bundled.version}) is available to decide it again"
        )
    return bundled


class EvidenceReader:
    """Reads decisions' evidence; keeps the licences' parse per distinct licence JSON (an
    exporter's licences recur in every one of its decisions)."""

    def __init__(self, cache_size: int = 4096) -> None:
        self._licences: dict[bytes, list[License]] = {}
        self._cache_size = cache_size

    def inputs(self, recorded: dict[str, Any]) -> DecisionInputs:
        """The inputs of a recorded decision (its JSON, parsed with orjson)."""
        evidence = recorded.get("evidence")
        if not isinstance(evidence, dict):
            raise EvidenceError("the decision carries no evidence")
        try:
            event = ShipmentEvent.model_validate_json(orjson.dumps(evidence.get("event")))
            licences = self._licences_of(evidence.get("licenses", []))
            used = evidence.get("license_usage", [])
            usage = usage_from(_USAGE.validate_json(orjson.dumps(used))) if used else _NO_USAGE
            decided_at = datetime.fromisoformat(recorded["decided_at"])
            trigger = Trigger(recorded["trigger"])
        except (ValueError, KeyError, TypeError, orjson.JSONEncodeError) as exc:
            raise EvidenceError(f"the evidence does not validate: {exc}") from exc
        if decided_at.tzinfo is None:
            raise EvidenceError("decided_at has no time zone")
        supersedes = recorded.get("supersedes")
        if supersedes is not None and not isinstance(supersedes, str):
            raise EvidenceError("supersedes is not a decision id")
        parties = party_list_of(evidence.get("party_list_version"))
        return DecisionInputs(event, licences, usage, decided_at, trigger, supersedes, parties)

    def _licences_of(self, raw: object) -> list[License]:
        key = orjson.dumps(raw)
        found = self._licences.get(key)
        if found is None:
            if len(self._licences) >= self._cache_size:
                self._licences.clear()
            found = self._licences[key] = _LICENCES.validate_json(key)
        return found


def usage_from(used: list[LicenseUsage]) -> UsageByOthers:
    """The usage by other shipments a decision saw, from its ``evidence.license_usage``."""
    consumed: dict[str, Decimal] = {}
    users: dict[str, str] = {}
    for entry in used:
        if entry.used is not None:
            consumed[entry.license_id] = entry.used.amount
        if entry.used_by_shipment is not None:
            users[entry.license_id] = entry.used_by_shipment
    return UsageByOthers(consumed=consumed, single_used_by=users)


_NO_USAGE = UsageByOthers.empty()
