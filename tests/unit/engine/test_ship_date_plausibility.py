"""SHIP_DATE_IMPLAUSIBLE: a recognised line whose ship date lies more than 30 days before the
event's ``occurred_at`` date, or more than 366 days after it, is held for a person to confirm."""

from __future__ import annotations

from typing import Any

import pytest

from schemas import ShipmentEvent
from tests.unit.engine.factories import codes, event, licence, line, screen

GALLIUM = line("Gallium metal", "8112929010")
NO23 = "MOFCOM/GAC Announcement 2023 No. 23"

#: (case, line, ship date, occurred_at, reason codes, control ids, legal basis)
CASES: list[tuple[str, dict[str, Any], str, str, list[str], list[str], str | None]] = [
    (
        "1900-01-01 on controlled gallium",
        GALLIUM,
        "1900-01-01",
        "2026-03-01T08:15:00+08:00",
        ["SHIP_DATE_IMPLAUSIBLE"],
        ["CN-2023-23/ga-metal"],
        NO23,
    ),
    (
        "exactly 30 days before",
        GALLIUM,
        "2026-01-30",
        "2026-03-01T08:15:00+08:00",
        ["LICENSE_REQUIRED"],
        ["CN-2023-23/ga-metal"],
        NO23,
    ),
    (
        "31 days before",
        GALLIUM,
        "2026-01-29",
        "2026-03-01T08:15:00+08:00",
        ["SHIP_DATE_IMPLAUSIBLE"],
        ["CN-2023-23/ga-metal"],
        NO23,
    ),
    (
        "exactly 366 days after",
        GALLIUM,
        "2027-03-02",
        "2026-03-01T08:15:00+08:00",
        ["LICENSE_REQUIRED"],
        ["CN-2023-23/ga-metal"],
        NO23,
    ),
    (
        "367 days after",
        GALLIUM,
        "2027-03-03",
        "2026-03-01T08:15:00+08:00",
        ["SHIP_DATE_IMPLAUSIBLE"],
        ["CN-2023-23/ga-metal"],
        NO23,
    ),
    (
        "the event's date is read in its own offset (2026-03-01 in New York, 03-02 in UTC)",
        GALLIUM,
        "2027-03-03",
        "2026-03-01T23:30:00-05:00",
        ["SHIP_DATE_IMPLAUSIBLE"],
        ["CN-2023-23/ga-metal"],
        NO23,
    ),
    (
        "year 9999 on a possibly controlled line (data needed)",
        line("NdFeB magnets", "8505111000"),
        "9999-12-31",
        "2026-03-01T08:15:00+08:00",
        ["SHIP_DATE_IMPLAUSIBLE"],
        ["CN-2025-18/1C904.a", "CN-2025-18/1C905.a", "CN-2025-57/1C909.a"],
        "MOFCOM/GAC Announcement 2025 No. 18",
    ),
    (
        "an old date on a measure not yet in force then is still a date to confirm",
        line("Holmium oxide", "2846901990"),
        "2020-01-01",
        "2026-03-01T08:15:00+08:00",
        ["SHIP_DATE_IMPLAUSIBLE"],
        ["CN-2025-57/1C909.b"],
        "MOFCOM/GAC Announcement 2025 No. 57",
    ),
    (
        "unrecognised goods are not held for their date",
        line("Copper cathodes", "7403110000"),
        "1900-01-01",
        "2026-03-01T08:15:00+08:00",
        ["NOT_CONTROLLED"],
        [],
        None,
    ),
]


def _event(cargo: dict[str, Any], ship_date: str, occurred_at: str) -> ShipmentEvent:
    return event(cargo, ship_date=ship_date, occurred_at=occurred_at)


@pytest.mark.parametrize(
    ("cargo", "ship_date", "occurred_at", "reasons", "control_ids", "basis"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_ship_date_plausibility(
    cargo: dict[str, Any],
    ship_date: str,
    occurred_at: str,
    reasons: list[str],
    control_ids: list[str],
    basis: str | None,
) -> None:
    decision = screen(_event(cargo, ship_date, occurred_at))
    assert codes(decision) == reasons
    assert decision.lines[0].control_ids == control_ids
    held = reasons != ["NOT_CONTROLLED"]
    assert decision.outcome.value == ("hold" if held else "approve")
    if basis is not None:
        assert basis in {r.legal_basis for r in decision.reasons}


def test_a_licence_does_not_release_an_implausible_date() -> None:
    shipment = _event(GALLIUM, "1900-01-01", "2026-03-01T08:15:00+08:00")
    decision = screen(shipment, [licence(hs_codes=["8112"], valid_from="1900-01-01")])
    assert codes(decision) == ["SHIP_DATE_IMPLAUSIBLE"]
    assert decision.lines[0].license_id is None
    assert "1900-01-01" in decision.reasons[0].message


def test_only_the_recognised_line_is_held() -> None:
    two = event(
        line("Copper cathodes", "7403110000", line_no=1),
        line("Gallium metal", "8112929010", line_no=2),
        ship_date="1900-01-01",
        occurred_on="2026-03-01",
    )
    decision = screen(two)
    assert codes(decision, 1) == ["NOT_CONTROLLED"]
    assert codes(decision, 2) == ["SHIP_DATE_IMPLAUSIBLE"]
    assert decision.outcome.value == "hold"


@pytest.mark.parametrize(
    ("ship_date", "occurred_at"),
    [
        ("0001-01-01", "9999-12-31T23:59:59-14:00"),
        ("9999-12-31", "0001-01-01T00:00:00+14:00"),
        ("0001-01-01", "0001-01-01T00:00:00+14:00"),
        ("9999-12-31", "9999-12-31T23:59:59-14:00"),
    ],
)
def test_the_edges_of_the_calendar_are_decided_never_an_error(
    ship_date: str, occurred_at: str
) -> None:
    """Date arithmetic at year 1 and 9999 overflows if written as a sum; the rule subtracts.
    Far apart, the dates are held for a person; both in year 1, no measure was in force."""
    raw = event(GALLIUM).model_dump(mode="json") | {
        "ship_date": ship_date,
        "occurred_at": occurred_at,
    }
    decision = screen(ShipmentEvent.model_validate(raw))
    if ship_date[:4] != occurred_at[:4]:
        assert decision.outcome.value == "hold"
        assert "SHIP_DATE_IMPLAUSIBLE" in codes(decision)
    else:
        assert "SHIP_DATE_IMPLAUSIBLE" not in codes(decision)
