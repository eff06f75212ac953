"""The measures of a catalogue and their status on a date (``lodestone catalogue show``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.screening.catalogue.model import Catalogue, MeasureStatus


@dataclass(frozen=True)
class MeasureRow:
    measure_id: str
    title: str
    legal_basis: str
    kind: str
    effective_from: date
    status: MeasureStatus
    items: int
    unconfirmed: bool
    #: The last date an announcement confirms the measure's status (``None``: not limited).
    status_confirmed_through: date | None = None
    #: Whether the status on the date shown is assumed from the catalogue's dates.
    status_unconfirmed: bool = False


@dataclass(frozen=True)
class UnconfirmedStatus:
    """A measure whose status on a date follows only from the catalogue's dates."""

    measure_id: str
    status: MeasureStatus
    confirmed_through: date

    def describe(self, on: date) -> str:
        return (
            f"{self.measure_id}: status on {on} ({self.status.value}) assumed from the"
            f" catalogue's dates; confirmed only through {self.confirmed_through}"
        )


def measure_rows(catalogue: Catalogue, on: date) -> list[MeasureRow]:
    return [
        MeasureRow(
            measure_id=m.id,
            title=m.title,
            legal_basis=m.legal_basis.citation
            + (f" {m.legal_basis.article}" if m.legal_basis.article else ""),
            kind=m.kind.value,
            effective_from=m.effective_from,
            status=m.status_on(on),
            items=len(m.items),
            unconfirmed=m.unconfirmed or any(i.unconfirmed for i in m.items),
            status_confirmed_through=m.status_confirmed_through,
            status_unconfirmed=m.status_unconfirmed_on(on),
        )
        for m in catalogue.measures
    ]


def unconfirmed_statuses(catalogue: Catalogue, on: date) -> list[UnconfirmedStatus]:
    """The measures whose status on ``on`` is assumed, not confirmed by an announcement."""
    return [
        UnconfirmedStatus(m.id, m.status_on(on), m.status_confirmed_through)
        for m in catalogue.measures
        if m.status_confirmed_through is not None and m.status_unconfirmed_on(on)
    ]
