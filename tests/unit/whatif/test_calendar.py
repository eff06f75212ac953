"""The catalogue calendar: coming dated changes, and the open shipments each acts on."""

from __future__ import annotations

from datetime import date

import pytest

from services.screening.catalogue import Catalogue, MeasureStatus, load_bundled_catalogue
from services.screening.catalogue.calendar import ChangeKind, dated_changes, without
from services.screening.whatif import calendar_reach
from tests.unit.whatif.test_whatif import TODAY, ledger


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_bundled_catalogue()


def test_the_october_package_and_art2_changes_are_listed_on_the_day_after_their_end(
    catalogue: Catalogue,
) -> None:
    changes = dated_changes(catalogue, date(2026, 11, 1), 30)
    found = {(c.day, c.kind, c.measure_id) for c in changes}
    assert (date(2026, 11, 11), ChangeKind.SUSPENSION_ENDS, "CN-2025-55") in found
    assert (date(2026, 11, 11), ChangeKind.STATUS_UNCONFIRMED, "CN-2025-55") in found
    assert (date(2026, 11, 28), ChangeKind.SUSPENSION_ENDS, "CN-2024-46/Art.2") in found
    assert all(date(2026, 11, 1) <= c.day <= date(2026, 12, 1) for c in changes)
    assert [c.day for c in changes] == sorted(c.day for c in changes)
    # a horizon that ends the day before lists nothing of that day
    assert not [c for c in dated_changes(catalogue, date(2026, 11, 1), 9) if c.day.day == 11]


def test_each_change_is_undone_in_its_counterfactual(catalogue: Catalogue) -> None:
    for change in dated_changes(catalogue, date(2024, 1, 1), 3 * 366):
        measure = without(catalogue, change).measure(change.measure_id)
        day = change.day
        if change.kind is ChangeKind.STATUS_UNCONFIRMED:
            assert not measure.status_unconfirmed_on(day)
            continue
        before = catalogue.measure(change.measure_id).status_on(day)
        after = measure.status_on(day)
        assert before != after, change
        if change.kind is ChangeKind.SUSPENSION_ENDS:
            assert after is MeasureStatus.SUSPENDED


def test_calendar_reach_counts_the_open_shipments_a_change_acts_on(catalogue: Catalogue) -> None:
    changes = dated_changes(catalogue, TODAY, 200)
    reach = calendar_reach(changes, catalogue, ledger(), today=TODAY)

    by_key = {(c.kind, c.measure_id): n for c, n in reach.items()}
    # shipment C (2026-11-20, CN-2025-55) is the only open one after the suspension ends
    assert by_key[ChangeKind.SUSPENSION_ENDS, "CN-2025-55"] == 1
    assert by_key[ChangeKind.STATUS_UNCONFIRMED, "CN-2025-55"] == 1
    assert by_key[ChangeKind.SUSPENSION_ENDS, "CN-2025-56"] == 0
    assert by_key[ChangeKind.SUSPENSION_ENDS, "CN-2024-46/Art.2"] == 0
    # nothing ships on or after a day beyond the ledger's last ship date
    assert all(n == 0 for c, n in reach.items() if c.day > date(2026, 11, 20))
