"""Freshness gauges: the catalogue's age and each measure's days since confirmation."""

from __future__ import annotations

from datetime import date

from prometheus_client import CollectorRegistry

from schemas import ControlledParty
from services.screening.catalogue import Catalogue, load_bundled_catalogue
from services.screening.freshness import CATALOGUE_AGE, MEASURE_CONFIRMED_AGE, edition_date
from services.screening.metrics import ScreeningMetrics


def _scrape(
    registry: CollectorRegistry, name: str, labels: dict[str, str] | None = None
) -> float | None:
    return registry.get_sample_value(name, labels or {})


def test_ages_follow_the_day_and_the_catalogue() -> None:
    catalogue = load_bundled_catalogue()
    today = [date(2026, 11, 30)]
    current: list[Catalogue | None] = [catalogue]
    metrics = ScreeningMetrics(CollectorRegistry())
    metrics.watch_catalogue(lambda: current[-1], today=lambda: today[-1])
    edition = edition_date(catalogue)
    assert _scrape(metrics.registry, CATALOGUE_AGE) == (today[-1] - edition).days
    confirmed = {
        m.id: m.status_confirmed_through
        for m in catalogue.measures
        if m.status_confirmed_through is not None
    }
    assert confirmed, "the bundled catalogue states confirmation dates"
    for measure_id, through in confirmed.items():
        value = _scrape(metrics.registry, MEASURE_CONFIRMED_AGE, {"measure": measure_id})
        assert value == (today[-1] - through).days
    assert _scrape(metrics.registry, MEASURE_CONFIRMED_AGE, {"measure": "CN-2025-57"}) == 20
    today.append(date(2026, 12, 10))  # a later scrape, the same catalogue: older by 10 days
    assert _scrape(metrics.registry, CATALOGUE_AGE) == (date(2026, 12, 10) - edition).days
    unstated = [m.id for m in catalogue.measures if m.status_confirmed_through is None]
    for measure_id in unstated:
        assert _scrape(metrics.registry, MEASURE_CONFIRMED_AGE, {"measure": measure_id}) is None
    current.append(None)
    assert _scrape(metrics.registry, CATALOGUE_AGE) is None


def test_the_party_list_age_counts_from_its_newest_recorded_date() -> None:
    from services.screening.freshness import PARTY_LIST_AGE, newest_party_date
    from services.screening.parties import load_bundled_parties

    parties = load_bundled_parties()
    today = [date(2026, 11, 30)]
    listed: list[list[ControlledParty] | None] = [None]
    metrics = ScreeningMetrics(CollectorRegistry())
    metrics.watch_catalogue(
        lambda: load_bundled_catalogue(), today=lambda: today[-1], parties=lambda: listed[-1]
    )
    assert _scrape(metrics.registry, PARTY_LIST_AGE) is None  # no list loaded: no sample
    listed.append(parties)
    newest = newest_party_date(parties, today[-1])
    assert newest is not None
    assert newest <= today[-1]
    assert _scrape(metrics.registry, PARTY_LIST_AGE) == (today[-1] - newest).days
    # a date recorded after today (a window that starts later) does not make the list younger
    earlier = newest_party_date(parties, date(2025, 6, 1))
    assert earlier is not None
    assert earlier < newest
    today.append(date(2027, 1, 1))
    assert _scrape(metrics.registry, PARTY_LIST_AGE) == (date(2027, 1, 1) - newest).days
