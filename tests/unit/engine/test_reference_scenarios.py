"""Section 3 of the reference: every example scenario decides as stated."""

from __future__ import annotations

from typing import Any

import pytest

from schemas import Outcome
from tests.unit.engine.factories import codes, event, licence, line, screen

TB_MAGNET = line(
    "Sintered NdFeB magnets",
    "8505111000",
    composition=[{"element": "Nd", "mass_pct": "29"}, {"element": "Tb", "mass_pct": "0.8"}],
)
US_GENERAL = licence("GL-1", control_codes=["1C904"], destinations=["US"], end_users=["US-C-12"])

SCENARIOS: list[tuple[str, Any, list[Any], str, list[str], list[str]]] = [
    (
        "1 Dy oxide to DE, no licence",
        event(line("Dysprosium oxide", "2846901993"), ship_date="2025-05-10"),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2025-18/1C905.b"],
    ),
    (
        "2 Tb NdFeB to named US customer",
        event(TB_MAGNET, destination="US", end_user="US-C-12"),
        [US_GENERAL],
        "approve",
        ["LICENSED"],
        ["CN-2025-18/1C904.a"],
    ),
    (
        "2 Tb NdFeB to a US customer not named",
        event(TB_MAGNET, destination="US", end_user="US-C-99"),
        [US_GENERAL],
        "hold",
        ["LICENSE_SCOPE"],
        ["CN-2025-18/1C904.a"],
    ),
    (
        "3 Ho oxide to KR during the No. 57 suspension",
        event(line("Holmium oxide", "2846901990"), destination="KR", ship_date="2025-12-15"),
        [],
        "approve",
        ["MEASURE_SUSPENDED"],
        ["CN-2025-57/1C909.b"],
    ),
    (
        "3 Ho oxide to KR after the suspension window",
        event(line("Holmium oxide", "2846901990"), destination="KR", ship_date="2026-11-11"),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2025-57/1C909.b"],
    ),
    (
        "4 Ga metal to a US commercial user, 2025-10-01",
        event(line("Gallium metal", "8112929010"), destination="US", ship_date="2025-10-01"),
        [],
        "hold",
        ["PROHIBITED_DESTINATION"],
        ["CN-2023-23/ga-metal", "CN-2024-46/Art.2"],
    ),
    *[
        (
            f"5 GeO2 to a US defence contractor, military use, {day}",
            event(
                line("Germanium dioxide", "3818009009"),
                destination="US",
                end_use="military",
                ship_date=day,
            ),
            [licence(hs_codes=["3818"])],
            "hold",
            ["PROHIBITED_END_USE", *also],
            ["CN-2023-23/ge-dioxide", "CN-2024-46/Art.1", *also_ids],
        )
        for day, also, also_ids in (
            ("2024-12-03", ["PROHIBITED_DESTINATION"], ["CN-2024-46/Art.2"]),
            ("2025-06-01", ["PROHIBITED_DESTINATION"], ["CN-2024-46/Art.2"]),
            ("2026-03-02", [], []),  # Art. 2 suspended; Art. 1 never was
            ("2026-11-29", ["PROHIBITED_DESTINATION"], ["CN-2024-46/Art.2"]),
        )
    ],
    (
        "6 Sb oxide 99.5 %",
        event(line("Antimony trioxide", "2825800010", purity_pct="99.5")),
        [],
        "approve",
        ["BELOW_THRESHOLD"],
        [],
    ),
    (
        "6 Sb oxide 99.995 %, no licence",
        event(line("Antimony trioxide", "2825800010", purity_pct="99.995")),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2024-33/sb-oxide"],
    ),
    (
        "6 Sb oxide, purity not stated",
        event(line("Antimony trioxide", "2825800010")),
        [],
        "hold",
        ["INSUFFICIENT_DATA"],
        ["CN-2024-33/sb-oxide"],
    ),
    (
        "7 artificial graphite block 99.95 %, 35 MPa, 1.80 g/cm3",
        event(
            line(
                "Artificial graphite block",
                "3801100030",
                purity_pct="99.95",
                properties={"flexural_strength_mpa": "35", "density_g_cm3": "1.80"},
            )
        ),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2023-39/graphite-artificial"],
    ),
    (
        "8 MPCVD 12 kW at 2450 MHz",
        event(
            line(
                "MPCVD unit",
                "8479899957",
                quantity="1",
                unit="pcs",
                properties={"microwave_power_kw": "12", "frequency_mhz": "2450"},
            )
        ),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2024-33/mpcvd"],
    ),
    (
        "10 copper cathodes to DE",
        event(line("Copper cathodes", "7403110000")),
        [],
        "approve",
        ["NOT_CONTROLLED"],
        [],
    ),
]


@pytest.mark.parametrize(
    ("shipment", "licences", "outcome", "reasons", "control_ids"),
    [pytest.param(*case[1:], id=case[0]) for case in SCENARIOS],
)
def test_scenario(
    shipment: Any, licences: list[Any], outcome: str, reasons: list[str], control_ids: list[str]
) -> None:
    decision = screen(shipment, licences)
    assert decision.outcome == Outcome(outcome)
    assert codes(decision) == reasons
    assert decision.lines[0].control_ids == control_ids
    if decision.lines[0].controlled:
        assert all(r.legal_basis for r in decision.reasons)


def test_scenario_9_single_licence_covers_one_export_only() -> None:
    from services.screening.running_usage import RunningUsage

    single = licence(
        "SL-1", kind="single", control_codes=["1C902"], cap=("1", "t"), valid_from="2026-01-01"
    )
    ledger = RunningUsage([single])
    sm = line("Samarium oxide", "2846901940", quantity="200")
    first = screen(event(sm, shipment_id="A", declared=["SL-1"]), [single])
    assert (first.outcome, codes(first)) == (Outcome.APPROVE, ["LICENSED"])
    ledger.apply(first)
    second = screen(
        event(sm, shipment_id="B", event_id="E2", declared=["SL-1"]),
        [single],
        ledger.usage_for("B"),
    )
    assert (second.outcome, codes(second)) == (Outcome.HOLD, ["LICENSE_EXHAUSTED"])
    again = screen(event(sm, shipment_id="A", event_id="E3"), [single], ledger.usage_for("A"))
    assert again.outcome is Outcome.APPROVE  # an amendment of the same export may use it
