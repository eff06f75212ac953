"""The catalogue page: measures on a date, suspension windows on a timeline, coming changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from services.screening.catalogue.model import Catalogue
from services.screening.catalogue.summary import (
    MeasureRow,
    UnconfirmedStatus,
    measure_rows,
    unconfirmed_statuses,
)

#: The timeline shows a year either side of the chosen date.
SPAN_DAYS = 365
WIDTH = 1000


@dataclass(frozen=True)
class Window:
    """A suspension window drawn on the timeline (``x``/``width`` in SVG units)."""

    measure_id: str
    start: date
    end: date
    basis: str
    x: int
    width: int


@dataclass(frozen=True)
class Change:
    on: date
    measure_id: str
    what: str


@dataclass(frozen=True)
class CataloguePage:
    version: str
    title: str
    rows: list[MeasureRow]
    unconfirmed: list[UnconfirmedStatus]
    windows: list[Window]
    timeline_from: date
    timeline_to: date
    marker_x: int
    changes: list[Change]


def _x(day: date, first: date) -> int:
    days = min(max((day - first).days, 0), 2 * SPAN_DAYS)
    return round(days * WIDTH / (2 * SPAN_DAYS))


def catalogue_page(catalogue: Catalogue, on: date) -> CataloguePage:
    first, last = on - timedelta(days=SPAN_DAYS), on + timedelta(days=SPAN_DAYS)
    windows = [
        Window(
            m.id,
            s.start,
            s.end,
            s.basis,
            _x(s.start, first),
            max(_x(s.end, first) - _x(s.start, first), 2),
        )
        for m in catalogue.measures
        for s in m.suspensions
        if s.end >= first and s.start <= last
    ]
    return CataloguePage(
        version=catalogue.version,
        title=catalogue.title,
        rows=measure_rows(catalogue, on),
        unconfirmed=unconfirmed_statuses(catalogue, on),
        windows=windows,
        timeline_from=first,
        timeline_to=last,
        marker_x=_x(on, first),
        changes=coming_changes(catalogue, on, last),
    )


def coming_changes(catalogue: Catalogue, after: date, until: date) -> list[Change]:
    """Dates after ``after`` (up to ``until``) on which a measure's status changes."""
    found: list[Change] = []
    for m in catalogue.measures:
        dates = [(m.effective_from, "takes effect")]
        if m.effective_to is not None:
            dates.append((m.effective_to + timedelta(days=1), "lapses"))
        for s in m.suspensions:
            dates.append((s.start, f"suspended ({s.basis})"))
            dates.append((s.end + timedelta(days=1), "suspension ends"))
        if m.status_confirmed_through is not None:
            dates.append(
                (m.status_confirmed_through + timedelta(days=1), "status no longer confirmed")
            )
        found += [Change(d, m.id, what) for d, what in dates if after < d <= until]
    return sorted(found, key=lambda c: (c.on, c.measure_id))
