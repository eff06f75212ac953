"""Licence usage consulted by a decision, and an in-memory ledger that accumulates it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from schemas.decision import Decision, Outcome
from schemas.license import License, LicenseKind

_EMPTY: Mapping[str, Decimal] = MappingProxyType({})
_EMPTY_USERS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class LicenceUsage:
    """What OTHER shipments have consumed (the decided shipment's own earlier use excluded).

    ``consumed`` maps a licence id to the amount used so far in the licence cap's unit;
    ``single_used_by`` maps a single licence's id to the shipment that used it.
    """

    consumed: Mapping[str, Decimal] = field(default_factory=lambda: _EMPTY)
    single_used_by: Mapping[str, str] = field(default_factory=lambda: _EMPTY_USERS)

    @staticmethod
    def empty() -> LicenceUsage:
        return _EMPTY_USAGE


_EMPTY_USAGE = LicenceUsage()


@dataclass
class LedgerMemory:
    """Licence consumption per shipment, in memory: what ``lodestone screen`` uses across a run.

    A shipment's latest decision replaces its earlier consumption (an amendment re-decides the
    whole shipment); a held or cancelled shipment consumes nothing.
    """

    licence_kinds: dict[str, LicenseKind] = field(default_factory=dict)
    _by_shipment: dict[str, dict[str, Decimal]] = field(default_factory=dict)

    @classmethod
    def for_licences(cls, licences: list[License]) -> LedgerMemory:
        return cls(licence_kinds={lic.license_id: lic.kind for lic in licences})

    def apply(self, decision: Decision) -> None:
        """Record what ``decision`` consumes, replacing the shipment's earlier consumption."""
        used: dict[str, Decimal] = {}
        if decision.outcome is Outcome.APPROVE:
            for line in decision.lines:
                if line.license_id is None:
                    continue
                amount = line.consumed.amount if line.consumed is not None else Decimal(0)
                used[line.license_id] = used.get(line.license_id, Decimal(0)) + amount
        if used:
            self._by_shipment[decision.shipment_id] = used
        else:
            self._by_shipment.pop(decision.shipment_id, None)

    def usage_for(self, shipment_id: str) -> LicenceUsage:
        """The usage a decision on ``shipment_id`` must consult (its own consumption excluded)."""
        consumed: dict[str, Decimal] = {}
        single_used_by: dict[str, str] = {}
        for shipment, used in self._by_shipment.items():
            if shipment == shipment_id:
                continue
            for licence_id, amount in used.items():
                consumed[licence_id] = consumed.get(licence_id, Decimal(0)) + amount
                if self.licence_kinds.get(licence_id) is LicenseKind.SINGLE:
                    single_used_by.setdefault(licence_id, shipment)
        return LicenceUsage(consumed=consumed, single_used_by=single_used_by)
