"""Cases an examiner tries: what the goods are (composition, formula, siblings on one HS code,
bands), what is declared, where the goods leave from, and honest holds for data.

Each case names the outcome, the line's reason codes, its control ids and the legal basis its
reasons cite.
"""

from __future__ import annotations

from typing import Any

import pytest

from schemas import License, ShipmentEvent
from tests.unit.engine.factories import codes, event, licence, line, screen

NO18 = "MOFCOM/GAC Announcement 2025 No. 18"
NO23 = "MOFCOM/GAC Announcement 2023 No. 23"
NO33 = "MOFCOM/GAC Announcement 2024 No. 33"
NO39 = "MOFCOM/GAC Announcement 2023 No. 39"
NO10 = "MOFCOM/GAC Announcement 2025 No. 10"
NO55 = "MOFCOM/GAC Announcement 2025 No. 55"
NO58 = "MOFCOM/GAC Announcement 2025 No. 58"
NO61 = "MOFCOM Announcement 2025 No. 61 Art. 1(1)"
AFTER = "2026-11-20"  # after the October 2025 package's suspension window


def comp(**shares: str) -> list[dict[str, str]]:
    return [{"element": element, "mass_pct": pct} for element, pct in shares.items()]


SM_LICENCE = licence("GL-SM", control_codes=["1C902"])
TB_LICENCE = licence("GL-TB", control_codes=["1C904"])

Case = tuple[str, ShipmentEvent, list[License], str, list[str], list[str], set[str]]

CASES: list[Case] = [
    # -- composition recognises element-defined items (not the HS code alone) -------------
    (
        "RE metal ingot 3N, Dy 99.9 % on the No. 57 basket line",
        event(line("Rare earth metal ingot 3N", "2805301990", composition=comp(Dy="99.9"))),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2025-18/1C905.a"],
        {NO18},
    ),
    (
        "RE fluoride powder, Dy 50 %",
        event(line("Rare earth fluoride powder", "2846909990", composition=comp(Dy="50"))),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2025-18/1C905.c"],
        {NO18},
    ),
    (
        "RE oxide, Gd 99.99 %, no form word but oxide",
        event(line("Rare earth oxide 4N", "2846909990", composition=comp(Gd="99.99"))),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2025-18/1C903.b"],
        {NO18},
    ),
    (
        "RE powder, Lu 99 %, form not stated: every Lu item",
        event(line("Rare earth powder", "2846909990", composition=comp(Lu="99"))),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2025-18/1C906.a", "CN-2025-18/1C906.b", "CN-2025-18/1C906.c"],
        {NO18},
    ),
    (
        "Ho ingot during the No. 57 suspension",
        event(line("Rare earth metal ingot", "2805301990", composition=comp(Ho="99.9"))),
        [],
        "approve",
        ["MEASURE_SUSPENDED"],
        ["CN-2025-57/1C909.a"],
        {"MOFCOM/GAC Announcement 2025 No. 57"},
    ),
    # -- chemical formulas -------------------------------------------------------------------
    (
        "Sm2Co17 sintered permanent magnets",
        event(line("Sm2Co17 sintered permanent magnets", "8505111000")),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2025-18/1C902.a"],
        {NO18},
    ),
    (
        "SmCo5 ring magnets, Sm 33 %",
        event(line("SmCo5 ring magnets", "8505111000", composition=comp(Sm="33", Co="67"))),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2025-18/1C902.a"],
        {NO18},
    ),
    (
        "SmCo5 ring magnets under a samarium licence",
        event(line("SmCo5 ring magnets", "8505111000")),
        [SM_LICENCE],
        "approve",
        ["LICENSED"],
        ["CN-2025-18/1C902.a"],
        {NO18},
    ),
    (
        "Dy2O3 powder",
        event(line("Dy2O3 powder 99.5%", "2846909990")),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2025-18/1C905.b"],
        {NO18},
    ),
    (
        "DyF3",
        event(line("DyF3 for grain boundary diffusion", "2846909990")),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2025-18/1C905.c"],
        {NO18},
    ),
    (
        "Tb4O7",
        event(line("Tb4O7 5N", "2846909990")),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2025-18/1C904.b"],
        {NO18},
    ),
    (
        "NdFeB formula names no controlled element",
        event(line("NdFeB blocks", "7326909000", composition=comp(Nd="30", Fe="69", B="1"))),
        [],
        "approve",
        ["NOT_CONTROLLED"],
        [],
        set(),
    ),
    # -- a declared control code never widens a licence ----------------------------------
    (
        "Dy oxide declared 1C902.b under a samarium licence",
        event(line("Dysprosium oxide", "2846901993", control_code="1C902.b")),
        [SM_LICENCE],
        "hold",
        ["DECLARATION_MISMATCH"],
        ["CN-2025-18/1C905.b"],
        {NO18},
    ),
    (
        "RE oxide with Dy declared 1C902.b under a samarium licence",
        event(
            line(
                "Rare earth oxide", "2846909990", control_code="1C902.b", composition=comp(Dy="99")
            )
        ),
        [SM_LICENCE],
        "hold",
        ["DECLARATION_MISMATCH"],
        ["CN-2025-18/1C905.b"],
        {NO18},
    ),
    (
        "gallium metal declared as a samarium item",
        event(line("Gallium metal", "8112929010", control_code="1C902.a")),
        [SM_LICENCE],
        "hold",
        ["DECLARATION_MISMATCH"],
        ["CN-2023-23/ga-metal"],
        {NO23},
    ),
    (
        "Sm oxide declared 1C902.b under a samarium licence",
        event(line("Samarium oxide", "2846901940", control_code="1C902.b")),
        [SM_LICENCE],
        "approve",
        ["LICENSED"],
        ["CN-2025-18/1C902.b"],
        {NO18},
    ),
    (
        "Sm-Co magnet with Dy declared 1C902.a: a samarium licence does not cover the Dy",
        event(
            line(
                "SmCo magnets",
                "8505111000",
                control_code="1C902.a",
                composition=comp(Sm="30", Dy="3"),
            )
        ),
        [SM_LICENCE],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2025-18/1C902.a", "CN-2025-18/1C905.a"],
        {NO18},
    ),
    # -- siblings on one HS code: every sibling's criteria are tested ---------------------
    (
        "synthetic diamond powder 300 um after the window",
        event(
            line("Synthetic diamond powder", "7105102000", properties={"particle_size_um": "300"}),
            ship_date=AFTER,
        ),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2025-55/2C902.b"],
        {NO55},
    ),
    (
        "synthetic diamond grit 300 um after the window",
        event(
            line("Synthetic diamond grit", "7105102000", properties={"particle_size_um": "300"}),
            ship_date=AFTER,
        ),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2025-55/2C902.b"],
        {NO55},
    ),
    (
        "synthetic diamond powder 300 um under another HS code: siblings are still tested",
        event(
            line("Synthetic diamond powder", "7105900000", properties={"particle_size_um": "300"}),
            ship_date=AFTER,
        ),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2025-55/2C902.b"],
        {NO55},
    ),
    (
        "diamond window 2 inch under another HS code, shape not stated",
        event(
            line(
                "Diamond window",
                "9001909000",
                properties={"window_diameter_in": "2", "visible_transmittance_pct": "70"},
            )
        ),
        [],
        "hold",
        ["INSUFFICIENT_DATA"],
        ["CN-2024-33/diamond-window-curved"],
        {NO33},
    ),
    (
        "synthetic diamond powder 30 um after the window",
        event(
            line("Synthetic diamond powder", "7105102000", properties={"particle_size_um": "30"}),
            ship_date=AFTER,
        ),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2025-55/2C902.a"],
        {NO55},
    ),
    (
        "synthetic diamond powder 600 um after the window",
        event(
            line("Synthetic diamond powder", "7105102000", properties={"particle_size_um": "600"}),
            ship_date=AFTER,
        ),
        [],
        "approve",
        ["BELOW_THRESHOLD"],
        [],
        {NO55},
    ),
    # -- nominal values are bands -----------------------------------------------------------
    *[
        (
            f"MPCVD 12 kW at {mhz} MHz",
            event(
                line(
                    "MPCVD diamond growth system",
                    "8479899957",
                    unit="pcs",
                    quantity="1",
                    properties={"microwave_power_kw": "12", "frequency_mhz": mhz},
                )
            ),
            [],
            outcome,
            [reason],
            ids,
            {NO33},
        )
        for mhz, outcome, reason, ids in (
            ("2455", "hold", "LICENSE_REQUIRED", ["CN-2024-33/mpcvd"]),
            ("2450", "hold", "LICENSE_REQUIRED", ["CN-2024-33/mpcvd"]),
            ("915", "hold", "LICENSE_REQUIRED", ["CN-2024-33/mpcvd"]),
            ("922", "hold", "LICENSE_REQUIRED", ["CN-2024-33/mpcvd"]),
            ("5800", "approve", "BELOW_THRESHOLD", []),
        )
    ],
    # -- oxide mixtures (HS 2846901993) follow their composition ------------------------------
    (
        "Tb-bearing oxide mixture under a terbium licence",
        event(line("Rare earth oxide mixture", "2846901993", composition=comp(Tb="30", La="70"))),
        [TB_LICENCE],
        "approve",
        ["LICENSED"],
        ["CN-2025-18/1C904.b"],
        {NO18},
    ),
    (
        "La/Ce-only oxide mixture",
        event(line("Rare earth oxide mixture", "2846901993", composition=comp(La="60", Ce="40"))),
        [],
        "approve",
        ["NOT_CONTROLLED"],
        [],
        set(),
    ),
    (
        "oxide mixture without composition",
        event(line("Rare earth oxide mixture", "2846901993")),
        [],
        "hold",
        ["INSUFFICIENT_DATA"],
        ["CN-2025-18/re-oxide-mixture"],
        {NO18},
    ),
    # -- where the goods leave from -----------------------------------------------------------
    (
        "German exporter, German-made Dy magnet, from Germany (No. 61 suspended)",
        event(
            line("Sintered NdFeB magnets", "8505111000", origin="DE", composition=comp(Dy="4")),
            exporter_country="DE",
            destination="FR",
        ),
        [],
        "approve",
        ["MEASURE_SUSPENDED"],
        ["CN-2025-61/1(1)/foreign-item-cn-re-content"],
        {NO61},
    ),
    (
        "German-made Dy magnet from Germany after the window, Chinese content unknown",
        event(
            line("Sintered NdFeB magnets", "8505111000", origin="DE", composition=comp(Dy="4")),
            exporter_country="DE",
            destination="FR",
            ship_date=AFTER,
        ),
        [],
        "hold",
        ["INSUFFICIENT_DATA"],
        ["CN-2025-61/1(1)/foreign-item-cn-re-content"],
        {NO61},
    ),
    (
        "a Chinese Dy magnet leaving a German warehouse: a re-export (1(3), suspended)",
        event(
            line("Sintered NdFeB magnets", "8505111000", composition=comp(Dy="4")),
            export_country="DE",
            destination="FR",
        ),
        [],
        "approve",
        ["MEASURE_SUSPENDED"],
        ["CN-2025-61/1(3)/1C905.a"],
        {"MOFCOM Announcement 2025 No. 61 Art. 1(3)"},
    ),
    (
        "Chinese Dy magnet leaving China",
        event(
            line("Sintered NdFeB magnets", "8505111000", composition=comp(Dy="4")),
            export_country="CN",
            destination="FR",
        ),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2025-18/1C905.a"],
        {NO18},
    ),
    (
        "gallium metal leaving a German warehouse for US military use: No. 46 does not reach it",
        event(
            line("Gallium metal", "8112929010"),
            export_country="DE",
            destination="US",
            end_use="military",
        ),
        [],
        "approve",
        ["NOT_CONTROLLED"],
        [],
        set(),
    ),
    (
        "gallium metal leaving China for US military use",
        event(line("Gallium metal", "8112929010"), destination="US", end_use="military"),
        [],
        "hold",
        ["PROHIBITED_END_USE"],
        ["CN-2023-23/ga-metal", "CN-2024-46/Art.1"],
        {"MOFCOM Announcement 2024 No. 46 Art. 1"},
    ),
    (
        "German exporter re-exporting Chinese Dy oxide from Germany after the window",
        event(
            line("Dysprosium oxide", "2846901993"),
            exporter_country="DE",
            destination="FR",
            ship_date=AFTER,
        ),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2025-61/1(3)/1C905.b"],
        {"MOFCOM Announcement 2025 No. 61 Art. 1(3)"},
    ),
    (
        "German exporter re-exporting Chinese Dy oxide during the No. 61 suspension",
        event(line("Dysprosium oxide", "2846901993"), exporter_country="DE", destination="FR"),
        [],
        "approve",
        ["MEASURE_SUSPENDED"],
        ["CN-2025-61/1(3)/1C905.b"],
        {"MOFCOM Announcement 2025 No. 61 Art. 1(3)"},
    ),
    (
        "re-exported Chinese Dy oxide for military use after the window",
        event(
            line("Dysprosium oxide", "2846901993"),
            exporter_country="DE",
            destination="FR",
            end_use="military",
            ship_date=AFTER,
        ),
        [],
        "hold",
        ["PROHIBITED_END_USE"],
        ["CN-2025-61/1(3)/1C905.b", "CN-2025-61/military"],
        {"MOFCOM Announcement 2025 No. 61"},
    ),
    # -- criteria the reference lists, and only those ------------------------------------
    (
        "W-Cu at 79 % W",
        event(
            line("Tungsten copper bar", "8101940001", composition=comp(W="79", Cu="21")),
        ),
        [],
        "approve",
        ["BELOW_THRESHOLD"],
        [],
        {NO10},
    ),
    (
        "W-Cu at 80 % W: machinability cannot be assessed",
        event(
            line("Tungsten copper bar", "8101940001", composition=comp(W="80", Cu="20")),
        ),
        [],
        "hold",
        ["INSUFFICIENT_DATA"],
        ["CN-2025-10/1C117.c"],
        {NO10},
    ),
    # -- honest holds for data, not definitive licence requirements -------------------------
    (
        "graphite block on a shared HS line, below the artificial thresholds",
        event(line("Graphite block", "6815190020", purity_pct="99.5")),
        [],
        "hold",
        ["INSUFFICIENT_DATA"],
        ["CN-2023-39/graphite-natural"],
        {NO39},
    ),
    (
        "graphite electrode paste on a shared HS line, no facts",
        event(line("Graphite electrode paste", "3801909010")),
        [],
        "hold",
        ["INSUFFICIENT_DATA"],
        ["CN-2023-39/graphite-artificial", "CN-2023-39/graphite-natural"],
        {NO39},
    ),
    (
        "graphite block meeting the artificial thresholds: controlled either way",
        event(
            line(
                "Graphite block",
                "6815190020",
                purity_pct="99.95",
                properties={"flexural_strength_mpa": "35", "density_g_cm3": "1.80"},
            )
        ),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2023-39/graphite-artificial", "CN-2023-39/graphite-natural"],
        {NO39},
    ),
    (
        "artificial graphite block below its thresholds",
        event(line("Artificial graphite block", "6815190020", purity_pct="99.5")),
        [],
        "approve",
        ["BELOW_THRESHOLD"],
        [],
        {NO39},
    ),
    (
        "natural flake graphite on its own HS line",
        event(line("Natural flake graphite", "2504101000")),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2023-39/graphite-natural"],
        {NO39},
    ),
    (
        "CVD diamond plates (flat or curved unknown)",
        event(line("CVD diamond plates", "7104911010")),
        [],
        "hold",
        ["INSUFFICIENT_DATA"],
        ["CN-2024-33/diamond-window-flat", "CN-2024-33/diamond-window-curved"],
        {NO33},
    ),
    (
        "diamond window 2 inch, shape not stated",
        event(
            line(
                "Diamond window",
                "7104911010",
                properties={"window_diameter_in": "2", "visible_transmittance_pct": "70"},
            )
        ),
        [],
        "hold",
        ["INSUFFICIENT_DATA"],
        ["CN-2024-33/diamond-window-curved"],
        {NO33},
    ),
    (
        "flat diamond window 2 inch",
        event(
            line(
                "Flat diamond window",
                "7104911010",
                properties={"window_diameter_in": "2", "visible_transmittance_pct": "70"},
            )
        ),
        [],
        "approve",
        ["BELOW_THRESHOLD"],
        [],
        {NO33},
    ),
    (
        "curved diamond window",
        event(line("Curved diamond window", "7104911010")),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2024-33/diamond-window-curved"],
        {NO33},
    ),
    (
        "bismuth oxide",
        event(line("Bismuth oxide", "2825909000")),
        [],
        "hold",
        ["INSUFFICIENT_DATA"],
        ["CN-2025-10/bi-items"],
        {NO10},
    ),
    (
        "bismuth ingot",
        event(line("Bismuth ingot 99.99%", "8106101000")),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2025-10/bi-items"],
        {NO10},
    ),
    (
        "antimony chloride",
        event(line("Antimony chloride", "2827399000")),
        [],
        "hold",
        ["INSUFFICIENT_DATA"],
        ["CN-2024-33/sb-metal"],
        {NO33},
    ),
    (
        "lead-acid battery pack after the window",
        event(line("Lead-acid battery pack", "8507200000"), ship_date=AFTER),
        [],
        "hold",
        ["INSUFFICIENT_DATA"],
        ["CN-2025-58/3A001"],
        {NO58},
    ),
    (
        "lead-acid battery pack at 40 Wh/kg after the window",
        event(
            line(
                "Lead-acid battery pack",
                "8507200000",
                properties={"energy_density_wh_kg": "40"},
            ),
            ship_date=AFTER,
        ),
        [],
        "approve",
        ["BELOW_THRESHOLD"],
        [],
        {NO58},
    ),
    (
        "CIGS solar modules (copper indium gallium selenide)",
        event(line("CIGS solar modules (copper indium gallium selenide)", "8541430000")),
        [],
        "hold",
        ["INSUFFICIENT_DATA"],
        ["CN-2023-23/ga-selenide"],
        {NO23},
    ),
    (
        "gallium selenide crystals",
        event(line("Gallium selenide crystals", "3818009006")),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2023-23/ga-selenide"],
        {NO23},
    ),
    (
        "gallium 7N on the gallium metal HS line",
        event(line("Gallium 7N", "8112929010")),
        [],
        "hold",
        ["LICENSE_REQUIRED"],
        ["CN-2023-23/ga-metal"],
        {NO23},
    ),
]


@pytest.mark.parametrize(
    ("shipment", "licences", "outcome", "reasons", "control_ids", "bases"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_examiner_case(
    shipment: ShipmentEvent,
    licences: list[License],
    outcome: str,
    reasons: list[str],
    control_ids: list[str],
    bases: set[str],
) -> None:
    decision = screen(shipment, licences)
    assert decision.outcome.value == outcome
    assert codes(decision) == reasons
    assert decision.lines[0].control_ids == control_ids
    line_reasons = [r for r in decision.reasons if r.line_no == 1]
    assert {r.legal_basis for r in line_reasons if r.legal_basis} == bases
    for reason in line_reasons:
        assert reason.code.value in reasons
        if reason.code.value != "NOT_CONTROLLED":
            assert reason.legal_basis, reason


def test_a_mismatch_message_names_the_declared_code_and_the_goods() -> None:
    decision = screen(
        event(line("Dysprosium oxide", "2846901993", control_code="1C902.b")), [SM_LICENCE]
    )
    (reason,) = decision.reasons
    assert "1C902.b" in reason.message
    assert "Dysprosium oxide" in reason.message
    assert decision.lines[0].license_id is None


def _case_ids() -> list[Any]:
    return [case[0] for case in CASES]


def test_case_names_are_unique() -> None:
    assert len(set(_case_ids())) == len(CASES)
