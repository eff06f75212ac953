"""Decisions that rest on a measure's assumed status say so (MEASURE_STATUS_UNCONFIRMED), and an
extension announced by the authority is a one-line catalogue change."""

from __future__ import annotations

from functools import cache
from importlib import resources

import pytest

from schemas import ShipmentEvent
from services.screening.catalogue import Catalogue, parse_catalogue_yaml
from services.screening.catalogue.diff import diff_catalogues
from services.screening.catalogue.loading import BUNDLED_CATALOGUE, load_bundled_catalogue
from tests.unit.engine.factories import codes, event, licence, line, screen

HO_OXIDE = line("Holmium oxide", "2846901990")
GA_METAL = line("Gallium metal", "8112929010")
DY_OXIDE = line("Dysprosium oxide", "2846901993")

#: (case, shipment, outcome, reasons, warned control ids)
CASES: list[tuple[str, ShipmentEvent, str, list[str], list[str]]] = [
    (
        "Ho oxide on the window's last day: suspension confirmed",
        event(HO_OXIDE, destination="KR", ship_date="2026-11-10"),
        "approve",
        ["MEASURE_SUSPENDED"],
        [],
    ),
    (
        "Ho oxide the day after: back in force by the calendar only",
        event(HO_OXIDE, destination="KR", ship_date="2026-11-11"),
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2025-57/1C909.b"],
    ),
    (
        "Ho oxide under a licence after the window: approved, still warned",
        event(HO_OXIDE, destination="KR", ship_date="2026-11-11"),
        "approve",
        ["LICENSED"],
        ["CN-2025-57/1C909.b"],
    ),
    (
        "NdFeB magnet without composition after the window (held for data)",
        event(line("NdFeB magnets", "8505111000"), ship_date="2026-11-20"),
        "hold",
        ["INSUFFICIENT_DATA"],
        ["CN-2025-57/1C909.a"],
    ),
    (
        "Ga metal to the US on Art. 2's last suspended day",
        event(GA_METAL, destination="US", ship_date="2026-11-27"),
        "hold",
        ["LICENSE_REQUIRED"],
        [],
    ),
    (
        "Ga metal to the US after Art. 2's window: refused, by the calendar only",
        event(GA_METAL, destination="US", ship_date="2026-11-28"),
        "hold",
        ["PROHIBITED_DESTINATION"],
        ["CN-2024-46/Art.2"],
    ),
    (
        "Dy oxide (No. 18, never suspended): no warning",
        event(DY_OXIDE, ship_date="2026-11-28"),
        "hold",
        ["LICENSE_REQUIRED"],
        [],
    ),
    (
        "copper after the windows: no warning",
        event(line("Copper cathodes", "7403110000"), ship_date="2026-11-28"),
        "approve",
        ["NOT_CONTROLLED"],
        [],
    ),
]
HO_LICENCE = licence("GL-HO", control_codes=["1C909"])


@pytest.mark.parametrize(
    ("shipment", "outcome", "reasons", "warned"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_assumed_status_is_warned(
    shipment: ShipmentEvent, outcome: str, reasons: list[str], warned: list[str]
) -> None:
    licences = [HO_LICENCE] if "LICENSED" in reasons else []
    decision = screen(shipment, licences)
    assert decision.outcome.value == outcome
    assert codes(decision) == reasons
    assert [w.control_id for w in decision.warnings] == warned
    for warning in decision.warnings:
        assert warning.code.value == "MEASURE_STATUS_UNCONFIRMED"
        assert "confirm" in warning.message


def test_one_warning_per_measure_item_however_many_lines() -> None:
    shipment = event(
        line("Holmium oxide", "2846901990", line_no=1),
        line("Holmium oxide", "2846901990", line_no=2),
        ship_date="2026-11-20",
    )
    assert [w.control_id for w in screen(shipment).warnings] == ["CN-2025-57/1C909.b"]


def _extended(to: str) -> str:
    """The bundled catalogue text with the October 2025 suspension extended to ``to``."""
    data = resources.files("services.screening.catalogue.data")
    text = data.joinpath(BUNDLED_CATALOGUE).read_text(encoding="utf-8")
    old = 'oct2025_suspension_end: &oct2025_end "2026-11-10"'
    assert text.count(old) == 1
    return text.replace(old, f'oct2025_suspension_end: &oct2025_end "{to}"')


@cache
def extended_catalogue() -> Catalogue:
    return parse_catalogue_yaml(_extended("2027-11-10"), "extended")


def test_an_extension_is_one_line() -> None:
    old, new = load_bundled_catalogue(), extended_catalogue()
    changed_lines = [
        (a, b)
        for a, b in zip(
            _extended("2026-11-10").splitlines(), _extended("2027-11-10").splitlines(), strict=True
        )
        if a != b
    ]
    assert len(changed_lines) == 1
    changes = diff_catalogues(old, new)
    assert changes, "the diff must show the extension"
    for change in changes:
        assert "suspensions" in change or "status_confirmed_through" in change, change
    for measure in new.measures:
        if measure.status_confirmed_through is not None and measure.id.startswith("CN-2025-"):
            assert str(measure.status_confirmed_through) == "2027-11-10"
            assert str(measure.suspensions[0].end) == "2027-11-10"


@pytest.mark.parametrize(
    ("shipment", "before", "after"),
    [
        pytest.param(
            event(HO_OXIDE, destination="KR", ship_date="2026-11-20"),
            (["LICENSE_REQUIRED"], ["CN-2025-57/1C909.b"]),
            (["MEASURE_SUSPENDED"], []),
            id="Ho oxide: held on an assumption, suspended by the announcement",
        ),
        pytest.param(
            event(DY_OXIDE, ship_date="2026-11-20"),
            (["LICENSE_REQUIRED"], []),
            (["LICENSE_REQUIRED"], []),
            id="Dy oxide: unaffected",
        ),
        pytest.param(
            event(GA_METAL, destination="US", ship_date="2026-11-28"),
            (["PROHIBITED_DESTINATION"], ["CN-2024-46/Art.2"]),
            (["PROHIBITED_DESTINATION"], ["CN-2024-46/Art.2"]),
            id="Art. 2 has its own date: unaffected by the October extension",
        ),
        pytest.param(
            event(HO_OXIDE, destination="KR", ship_date="2027-11-11"),
            (["LICENSE_REQUIRED"], ["CN-2025-57/1C909.b"]),
            (["LICENSE_REQUIRED"], ["CN-2025-57/1C909.b"]),
            id="Ho oxide after the new window: assumed again",
        ),
    ],
)
def test_an_extension_changes_exactly_the_decisions_resting_on_it(
    shipment: ShipmentEvent,
    before: tuple[list[str], list[str]],
    after: tuple[list[str], list[str]],
) -> None:
    old = screen(shipment)
    new = screen(shipment, catalogue=extended_catalogue())
    assert (codes(old), [w.control_id for w in old.warnings]) == before
    assert (codes(new), [w.control_id for w in new.warnings]) == after
