"""Licence usage for a whole batch, in memory: read once, updated as the batch is decided.

Built from consumption rows grouped per (licence, unit, shipment) — shipment ``None`` for the
rows of shipments outside the batch, aggregated — so that the usage any one shipment must consult
(its own consumption excluded, as the engine requires) is computed without another query, and a
decision taken earlier in the batch is seen by the later ones. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from schemas import Decision, IncompatibleUnitsError, License, LicenseKind, Outcome, Unit, convert
from schemas.quantity import QUANTITY_CONTEXT
from services.screening.engine.usage import UsageByOthers

_ZERO = Decimal(0)


def stored_amount(amount: Decimal) -> Decimal:
    """``amount`` as PostgreSQL's ``numeric`` gives it back (no positive exponent: 1E+3 → 1000)."""
    if int(amount.as_tuple().exponent) > 0:
        return amount.quantize(Decimal(1), context=QUANTITY_CONTEXT)
    return amount


def tracked(licence: License) -> bool:
    """Whether usage of ``licence`` matters to a decision (it has a cap or is single-use)."""
    return licence.max_quantity is not None or licence.kind is LicenseKind.SINGLE


@dataclass
class _Licence:
    licence: License
    others: Decimal | None = None
    """Consumption of the shipments not tracked one by one, in the cap unit (None: no rows)."""
    by_shipment: dict[str, Decimal | None] = field(default_factory=dict)
    """Tracked shipments: amount in the cap unit (None: rows, but nothing countable)."""
    _sum: tuple[Decimal, int] | None = None
    """Cache: (``_ZERO`` + the amounts of ``by_shipment`` that are not None, how many); None
    when stale. Added to as rows come; recomputed after a shipment is removed (a subtraction
    could change the exponent of the Decimal, and so the JSON of the evidence)."""

    def add(self, shipment: str, value: Decimal | None) -> None:
        before = self.by_shipment.get(shipment)
        if value is None:
            self.by_shipment.setdefault(shipment, None)
            return
        self.by_shipment[shipment] = value if before is None else before + value
        if self._sum is not None:
            total, count = self._sum
            self._sum = (total + value, count + (before is None))

    def remove(self, shipment: str) -> None:
        if shipment in self.by_shipment:
            del self.by_shipment[shipment]
            self._sum = None

    def sums(self) -> tuple[Decimal, int]:
        if self._sum is None:
            total, count = _ZERO, 0
            for amount in self.by_shipment.values():
                if amount is not None:
                    total, count = total + amount, count + 1
            self._sum = (total, count)
        return self._sum


class RunningUsage:
    """Usage of the tracked licences, per shipment, as the batch goes."""

    def __init__(
        self,
        licences: Iterable[License],
        rows: Iterable[tuple[str, str | None, Decimal, Unit]] = (),
    ) -> None:
        """``rows``: (licence, shipment or ``None``, amount, unit), see :meth:`add_row`."""
        self._licences = {lic.license_id: _Licence(lic) for lic in licences if tracked(lic)}
        for row in rows:
            self.add_row(*row)

    @property
    def licence_ids(self) -> list[str]:
        return sorted(self._licences)

    def single_ids(self) -> list[str]:
        return sorted(i for i, e in self._licences.items() if e.licence.kind is LicenseKind.SINGLE)

    def add_row(self, licence_id: str, shipment: str | None, amount: Decimal, unit: Unit) -> None:
        """One row of the grouped consumption query."""
        entry = self._licences.get(licence_id)
        if entry is None:
            return
        cap = entry.licence.max_quantity
        value: Decimal | None = None
        if cap is not None:
            try:
                value = convert(amount, unit, cap.unit)
            except IncompatibleUnitsError:
                value = None
        if shipment is None:
            if value is not None:
                entry.others = value if entry.others is None else entry.others + value
            return
        entry.add(shipment, value)

    def replace(self, other: RunningUsage, licence_ids: Iterable[str]) -> RunningUsage:
        """A copy of this usage where ``licence_ids`` are taken from ``other`` (fresher)."""
        copy = RunningUsage([])
        copy._licences = {
            i: _Licence(e.licence, e.others, dict(e.by_shipment)) for i, e in self._licences.items()
        }
        for licence_id in licence_ids:
            fresh = other._licences.get(licence_id)
            if fresh is not None:
                copy._licences[licence_id] = _Licence(
                    fresh.licence, fresh.others, dict(fresh.by_shipment)
                )
        return copy

    def usage_for(
        self, shipment_id: str, licence_ids: Iterable[str] | None = None
    ) -> UsageByOthers:
        """What shipments other than ``shipment_id`` consumed of ``licence_ids`` (default: of
        every licence this usage tracks)."""
        consumed: dict[str, Decimal] = {}
        single_used_by: dict[str, str] = {}
        for licence_id in self._licences if licence_ids is None else licence_ids:
            entry = self._licences.get(licence_id)
            if entry is None:
                continue
            total, users = self._others(entry, shipment_id)
            if total is not None:
                consumed[licence_id] = total
            if entry.licence.kind is LicenseKind.SINGLE and users:
                single_used_by[licence_id] = min(users)
        return UsageByOthers(consumed=consumed, single_used_by=single_used_by)

    @staticmethod
    def _others(entry: _Licence, shipment_id: str) -> tuple[Decimal | None, list[str]]:
        """Consumption by the shipments other than ``shipment_id``; for single-use licences
        also who they are (for other licences: an empty list)."""
        total = None if entry.others is None else _ZERO + entry.others
        single = entry.licence.kind is LicenseKind.SINGLE
        if shipment_id not in entry.by_shipment:  # the common case: the cached sum, O(1)
            amounts, count = entry.sums()
            if count:
                total = (_ZERO if total is None else total) + amounts
            return total, list(entry.by_shipment) if single else []
        users: list[str] = []
        for shipment, amount in entry.by_shipment.items():
            if shipment == shipment_id:
                continue
            users.append(shipment)
            if amount is not None:
                total = (_ZERO if total is None else total) + amount
        return total, users if single else []

    def fits(self, decision: Decision) -> bool:
        """The ledger's check: every licence ``decision`` consumes still has room for it."""
        for licence_id, lines in consumption_of(decision).items():
            entry = self._licences.get(licence_id)
            if entry is None:
                continue  # neither capped nor single-use: nothing to check
            total, users = self._others(entry, decision.shipment_id)
            if entry.licence.kind is LicenseKind.SINGLE and users:
                return False
            cap = entry.licence.max_quantity
            if cap is None:
                continue
            wanted = _ZERO
            try:
                for _, amount, unit in lines:
                    wanted += convert(amount, unit, cap.unit)
            except IncompatibleUnitsError:
                return False
            if (total or _ZERO) + wanted > cap.amount:
                return False
        return True

    def apply(self, decision: Decision) -> None:
        """The decision's shipment now consumes what ``decision`` consumes (and nothing else)."""
        shipment = decision.shipment_id
        for entry in self._licences.values():
            entry.remove(shipment)
        for licence_id, lines in consumption_of(decision).items():
            for _, amount, unit in lines:
                self.add_row(licence_id, shipment, stored_amount(amount), unit)


def consumed_rows(decision: Decision) -> list[tuple[str, int, Decimal, Unit]]:
    """What ``decision`` consumes as the ledger stores it: (licence, line, amount, unit)."""
    return [
        (licence_id, line_no, stored_amount(amount), unit)
        for licence_id, lines in consumption_of(decision).items()
        for line_no, amount, unit in lines
    ]


def consumption_of(decision: Decision) -> Mapping[str, list[tuple[int, Decimal, Unit]]]:
    """What an approved decision consumes, per licence: (line, amount, unit); holds nothing."""
    found: dict[str, list[tuple[int, Decimal, Unit]]] = {}
    if decision.outcome is not Outcome.APPROVE:
        return found
    for line in decision.lines:
        if line.license_id is not None and line.consumed is not None:
            found.setdefault(line.license_id, []).append(
                (line.line_no, line.consumed.amount, line.consumed.unit)
            )
    return found
