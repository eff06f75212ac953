"""Freshness gauges of the reference data, computed at each scrape from the catalogue in use.

- ``lodestone_screening_catalogue_age_days``: days since the catalogue's edition date (the date
  in its label, ``2025-11-09.1``): an operator alerts when no newer edition has been published
  for longer than the announcements usually take;
- ``lodestone_screening_measure_confirmed_age_days{measure}``: days since each measure's
  ``status_confirmed_through`` (negative while the confirmation still covers days ahead); past
  zero, decisions on that measure carry MEASURE_STATUS_UNCONFIRMED;
- ``lodestone_screening_party_list_age_days``: days since the newest date the controlled-party
  list in use records (a listing, or the start of a status window, up to today): a list that
  stops moving while announcements continue is stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:  # only read here, so this module stays a leaf of the import graph
    from schemas import ControlledParty
    from services.screening.catalogue import Catalogue

CATALOGUE_AGE = "lodestone_screening_catalogue_age_days"
MEASURE_CONFIRMED_AGE = "lodestone_screening_measure_confirmed_age_days"
PARTY_LIST_AGE = "lodestone_screening_party_list_age_days"


def newest_party_date(parties: Sequence[ControlledParty], today: date) -> date | None:
    """The newest listing or status-window date the list records, up to ``today``."""
    dates = [
        day
        for party in parties
        for day in (party.listed_on, *(w.from_ for w in party.status_windows))
        if day <= today
    ]
    return max(dates, default=None)


def edition_date(catalogue: Catalogue) -> date:
    """The date of the catalogue's edition, from its label (``YYYY-MM-DD.N``)."""
    return date.fromisoformat(catalogue.label.split(".", 1)[0])


class Freshness(Collector):
    """The families above; empty while no catalogue (or party list) is loaded."""

    def __init__(
        self,
        catalogue: Callable[[], Catalogue | None],
        today: Callable[[], date],
        parties: Callable[[], Sequence[ControlledParty] | None] | None = None,
    ) -> None:
        self._catalogue = catalogue
        self._today = today
        self._parties = parties

    def collect(self) -> Iterator[Metric]:
        age = GaugeMetricFamily(
            CATALOGUE_AGE, "Days since the edition date of the control catalogue in use."
        )
        confirmed = GaugeMetricFamily(
            MEASURE_CONFIRMED_AGE,
            "Days since each measure's status_confirmed_through (negative: confirmed ahead).",
            labels=["measure"],
        )
        catalogue = self._catalogue()
        if catalogue is not None:
            today = self._today()
            age.add_metric([], (today - edition_date(catalogue)).days)
            for measure in catalogue.measures:
                through = measure.status_confirmed_through
                if through is not None:
                    confirmed.add_metric([measure.id], (today - through).days)
        yield age
        yield confirmed
        party_age = GaugeMetricFamily(
            PARTY_LIST_AGE,
            "Days since the newest listing or status date of the controlled-party list in use.",
        )
        listed = self._parties() if self._parties is not None else None
        newest = newest_party_date(listed, self._today()) if listed else None
        if newest is not None:
            party_age.add_metric([], (self._today() - newest).days)
        yield party_age
