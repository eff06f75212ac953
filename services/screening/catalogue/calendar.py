"""The coming dated changes of a catalogue, and the shipments each would change.

A catalogue changes a measure's status on dates it already holds: a measure takes effect, a
suspension starts or ends, a measure lapses, and after its ``status_confirmed_through`` date its
status is only assumed. :func:`dated_changes` lists those within a horizon.

How many open shipments a dated change reaches is a what-if: the catalogue as it stands is
compared with the same catalogue without that change (:func:`without`), both over the recorded
shipments that ship on or after the change's day. A shipment decided differently under the two
is one the change acts on. For a ``status_confirmed_through`` date the outcome does not depend on
it; the shipments reached are those whose recorded decision carries MEASURE_STATUS_UNCONFIRMED
for the measure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from services.screening.catalogue.model import Catalogue

#: The last day a date can be; a window ending on it never ends.
FOREVER = date.max


class ChangeKind(StrEnum):
    TAKES_EFFECT = "takes_effect"
    SUSPENSION_STARTS = "suspension_starts"
    SUSPENSION_ENDS = "suspension_ends"
    LAPSES = "lapses"
    STATUS_UNCONFIRMED = "status_unconfirmed"


@dataclass(frozen=True, slots=True)
class DatedChange:
    """A measure's status changes on ``day`` (the first ship date with the new status)."""

    day: date
    kind: ChangeKind
    measure_id: str
    citation: str
    #: the catalogue's own date (a suspension's inclusive end, ``effective_to``, …)
    catalogue_date: date
    #: for suspension changes: the window's position in the measure's ``suspensions``
    window: int | None = None

    def describe(self) -> str:
        what = {
            ChangeKind.TAKES_EFFECT: "takes effect",
            ChangeKind.SUSPENSION_STARTS: "is suspended",
            ChangeKind.SUSPENSION_ENDS: (
                f"applies again (suspension ends {self.catalogue_date}, inclusive)"
            ),
            ChangeKind.LAPSES: f"lapses (effective to {self.catalogue_date})",
            ChangeKind.STATUS_UNCONFIRMED: (
                f"status only assumed (confirmed through {self.catalogue_date})"
            ),
        }[self.kind]
        return f"{self.measure_id} ({self.citation}) {what}"


def dated_changes(catalogue: Catalogue, start: date, days: int) -> list[DatedChange]:
    """The changes whose day lies in ``[start, start + days]``, by day and measure."""
    end = start + timedelta(days=days)
    found: list[DatedChange] = []

    def add(
        day: date | None,
        kind: ChangeKind,
        measure_id: str,
        citation: str,
        own: date,
        window: int | None = None,
    ) -> None:
        if day is None or not start <= day <= end or not _changes_status(kind, measure_id, day):
            return
        found.append(DatedChange(day, kind, measure_id, citation, own, window))

    def _changes_status(kind: ChangeKind, measure_id: str, day: date) -> bool:
        """Whether the status differs from the day before (a suspension that starts before
        the measure takes effect changes nothing on its first day)."""
        if kind is ChangeKind.STATUS_UNCONFIRMED or day == date.min:
            return True
        measure = catalogue.measure(measure_id)
        return measure.status_on(day - timedelta(days=1)) is not measure.status_on(day)

    for m in catalogue.measures:
        cite = m.legal_basis.citation
        add(m.effective_from, ChangeKind.TAKES_EFFECT, m.id, cite, m.effective_from)
        for n, s in enumerate(m.suspensions):
            add(s.start, ChangeKind.SUSPENSION_STARTS, m.id, cite, s.start, n)
            add(_next(s.end), ChangeKind.SUSPENSION_ENDS, m.id, cite, s.end, n)
        if m.effective_to is not None:
            add(_next(m.effective_to), ChangeKind.LAPSES, m.id, cite, m.effective_to)
        through = m.status_confirmed_through
        if through is not None:
            add(_next(through), ChangeKind.STATUS_UNCONFIRMED, m.id, cite, through)
    found.sort(key=lambda c: (c.day, c.measure_id, c.kind.value))
    return found


def without(catalogue: Catalogue, change: DatedChange) -> Catalogue:
    """The catalogue as if ``change`` did not happen (its day and every later day alike)."""
    raw: dict[str, Any] = catalogue.model_dump(mode="json")
    measure = next(m for m in raw["measures"] if m["id"] == change.measure_id)
    kind = change.kind
    if kind is ChangeKind.TAKES_EFFECT:
        # never takes effect
        measure["effective_from"] = str(FOREVER)
        measure["effective_to"] = None
    elif kind is ChangeKind.SUSPENSION_STARTS:
        assert change.window is not None
        del measure["suspensions"][change.window]
    elif kind is ChangeKind.SUSPENSION_ENDS:
        assert change.window is not None
        measure["suspensions"][change.window]["end"] = str(FOREVER)
    elif kind is ChangeKind.LAPSES:
        measure["effective_to"] = None
    else:
        measure["status_confirmed_through"] = None
    return Catalogue.model_validate_json(json.dumps(raw))


def _next(day: date) -> date | None:
    return None if day == FOREVER else day + timedelta(days=1)
