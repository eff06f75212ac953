"""Freshness gauges of the reference data, computed at each scrape from the catalogue in use.

- ``lodestone_screening_catalogue_age_days``: days since the catalogue's edition date (the date
  in its label, ``2025-11-09.1``): an operator alerts when no newer edition has been published
  for longer than the announcements usually take;
- ``lodestone_screening_measure_confirmed_age_days{measure}``: days since each measure's
  ``status_confirmed_through`` (negative while the confirmation still covers days ahead); past
  zero, decisions on that measure carry MEASURE_STATUS_UNCONFIRMED.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:  # only read here, so this module stays a leaf of the import graph
    from services.screening.catalogue import Catalogue

CATALOGUE_AGE = "lodestone_screening_catalogue_age_days"
MEASURE_CONFIRMED_AGE = "lodestone_screening_measure_confirmed_age_days"


def edition_date(catalogue: Catalogue) -> date:
    """The date of the catalogue's edition, from its label (``YYYY-MM-DD.N``)."""
    return date.fromisoformat(catalogue.label.split(".", 1)[0])


class Freshness(Collector):
    """The two families above; empty while no catalogue is loaded."""

    def __init__(
        self, catalogue: Callable[[], Catalogue | None], today: Callable[[], date]
    ) -> None:
        self._catalogue = catalogue
        self._today = today

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
