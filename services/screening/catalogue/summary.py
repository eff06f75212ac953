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
        )
        for m in catalogue.measures
    ]
