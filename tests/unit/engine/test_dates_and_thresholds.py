"""Effective dates, suspension windows (ends inclusive) and every threshold below, at and above."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.engine.factories import codes, event, line, screen

GA = line("Gallium metal", "8112929010")
HO = line("Holmium oxide", "2846901990")
TECH = line("Rare earth separation technology", "4911990000", quantity="1", unit="pcs")

DATED: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    # measure effective dates
    ("2023-07-31", GA, {}, "NOT_CONTROLLED"),
    ("2023-08-01", GA, {}, "LICENSE_REQUIRED"),
    ("2023-11-30", line("Natural flake graphite", "2504101000"), {}, "NOT_CONTROLLED"),
    ("2023-12-01", line("Natural flake graphite", "2504101000"), {}, "LICENSE_REQUIRED"),
    ("2024-09-14", line("Antimony ingots", "8110101000"), {}, "NOT_CONTROLLED"),
    ("2024-09-15", line("Antimony ingots", "8110101000"), {}, "LICENSE_REQUIRED"),
    ("2025-02-03", line("Ammonium paratungstate", "2841801000"), {}, "NOT_CONTROLLED"),
    ("2025-02-04", line("Ammonium paratungstate", "2841801000"), {}, "LICENSE_REQUIRED"),
    ("2025-04-03", line("Samarium oxide", "2846901940"), {}, "NOT_CONTROLLED"),
    ("2025-04-04", line("Samarium oxide", "2846901940"), {}, "LICENSE_REQUIRED"),
    # 2024 No. 46 Art. 1 (US military) and 2026 No. 1 (Japan military)
    ("2024-12-02", GA, {"destination": "US", "end_use": "military"}, "LICENSE_REQUIRED"),
    ("2024-12-03", GA, {"destination": "US", "end_use": "military"}, "PROHIBITED_END_USE"),
    ("2026-01-05", GA, {"destination": "JP", "end_use": "military"}, "LICENSE_REQUIRED"),
    ("2026-01-06", GA, {"destination": "JP", "end_use": "military"}, "PROHIBITED_END_USE"),
    ("2026-01-06", GA, {"destination": "JP", "end_use": "civil"}, "LICENSE_REQUIRED"),
    # 2024 No. 46 Art. 2 and its suspension 2025-11-09 .. 2026-11-27 (inclusive)
    ("2025-11-08", GA, {"destination": "US"}, "PROHIBITED_DESTINATION"),
    ("2025-11-09", GA, {"destination": "US"}, "LICENSE_REQUIRED"),
    ("2026-11-27", GA, {"destination": "US"}, "LICENSE_REQUIRED"),
    ("2026-11-28", GA, {"destination": "US"}, "PROHIBITED_DESTINATION"),
    # No. 57: never took effect (due 2025-11-08), suspended 2025-11-07 .. 2026-11-10
    ("2025-11-06", HO, {}, "NOT_CONTROLLED"),
    ("2025-11-08", HO, {}, "MEASURE_SUSPENDED"),
    ("2026-11-10", HO, {}, "MEASURE_SUSPENDED"),
    ("2026-11-11", HO, {}, "LICENSE_REQUIRED"),
    # No. 62: in force 2025-10-09, suspended 2025-11-07 .. 2026-11-10
    ("2025-10-08", TECH, {}, "NOT_CONTROLLED"),
    ("2025-10-09", TECH, {}, "LICENSE_REQUIRED"),
    ("2025-11-06", TECH, {}, "LICENSE_REQUIRED"),
    ("2025-11-07", TECH, {}, "MEASURE_SUSPENDED"),
    ("2026-11-11", TECH, {}, "LICENSE_REQUIRED"),
]


@pytest.mark.parametrize(("day", "cargo", "where", "expected"), DATED)
def test_dates(day: str, cargo: dict[str, Any], where: dict[str, Any], expected: str) -> None:
    assert codes(screen(event(cargo, ship_date=day, **where)))[0] == expected


def _props(**values: str) -> dict[str, str]:
    return values


AFTER = "2026-11-29"  # every October 2025 suspension has ended
THRESHOLDS: list[tuple[str, dict[str, Any], str]] = [
    ("sb-oxide below", line("Antimony oxide", "2825800010", purity_pct="99.98"), "BELOW_THRESHOLD"),
    ("sb-oxide at", line("Antimony oxide", "2825800010", purity_pct="99.99"), "LICENSE_REQUIRED"),
    (
        "sb-oxide above",
        line("Antimony oxide", "2825800010", purity_pct="99.991"),
        "LICENSE_REQUIRED",
    ),
    ("sb-hydride at", line("Stibine", "2850009020", purity_pct="99.999"), "BELOW_THRESHOLD"),
    ("sb-hydride above", line("Stibine", "2850009020", purity_pct="99.9991"), "LICENSE_REQUIRED"),
    *[
        (
            f"graphite density {d}",
            line(
                "Isostatic graphite",
                "3801100030",
                purity_pct="99.95",
                properties=_props(flexural_strength_mpa="35", density_g_cm3=d),
            ),
            expected,
        )
        for d, expected in (
            ("1.72", "BELOW_THRESHOLD"),
            ("1.73", "BELOW_THRESHOLD"),
            ("1.74", "LICENSE_REQUIRED"),
        )
    ],
    *[
        (
            f"mpcvd {kw} kW {mhz} MHz",
            line(
                "MPCVD system",
                "8479899957",
                unit="pcs",
                quantity="1",
                properties=_props(microwave_power_kw=kw, frequency_mhz=mhz),
            ),
            expected,
        )
        for kw, mhz, expected in (
            ("9.9", "2450", "BELOW_THRESHOLD"),
            ("10", "2450", "BELOW_THRESHOLD"),
            ("10.1", "915", "LICENSE_REQUIRED"),
            # 915 and 2450 MHz are ISM bands (902-928, 2400-2500 MHz), not exact values
            ("12", "2400", "LICENSE_REQUIRED"),
            ("12", "2455", "LICENSE_REQUIRED"),
            ("12", "2500", "LICENSE_REQUIRED"),
            ("12", "2399", "BELOW_THRESHOLD"),
            ("12", "2501", "BELOW_THRESHOLD"),
            ("12", "902", "LICENSE_REQUIRED"),
            ("12", "901", "BELOW_THRESHOLD"),
        )
    ],
    *[
        (
            f"cubic press bore {bore}",
            line(
                "Cubic press",
                "8479899956",
                unit="pcs",
                quantity="1",
                properties=_props(press_bore_mm=bore, design_pressure_gpa="4"),
            ),
            expected,
        )
        for bore, expected in (
            ("499", "BELOW_THRESHOLD"),
            ("500", "LICENSE_REQUIRED"),
            ("501", "LICENSE_REQUIRED"),
        )
    ],
    *[
        (
            f"insb dislocation {d}",
            line(
                "Indium antimonide wafer",
                "2853909031",
                purity_pct="99.99",
                properties=_props(dislocation_density_per_cm2=d),
            ),
            expected,
        )
        for d, expected in (("49", "LICENSE_REQUIRED"), ("50", "BELOW_THRESHOLD"))
    ],
    *[
        (
            f"mo powder {size} um",
            line(
                "Molybdenum powder",
                "8102100000",
                purity_pct="99.9",
                properties=_props(particle_size_um=size),
            ),
            expected,
        )
        for size, expected in (
            ("49", "LICENSE_REQUIRED"),
            ("50", "LICENSE_REQUIRED"),
            ("51", "BELOW_THRESHOLD"),
        )
    ],
    *[
        (
            f"w heavy alloy density {d}",
            line(
                "Tungsten heavy alloy W-Ni-Fe",
                "8101990000",
                properties=_props(
                    density_g_cm3=d,
                    elastic_limit_mpa="900",
                    tensile_strength_mpa="1300",
                    elongation_pct="10",
                ),
            ),
            expected,
        )
        for d, expected in (("17.5", "BELOW_THRESHOLD"), ("17.6", "LICENSE_REQUIRED"))
    ],
    *[
        (
            f"li-ion {wh} Wh/kg",
            line(
                "Lithium-ion cells",
                "8507600000",
                unit="pcs",
                quantity="100",
                properties=_props(energy_density_wh_kg=wh),
            ),
            expected,
        )
        for wh, expected in (
            ("299", "BELOW_THRESHOLD"),
            ("300", "LICENSE_REQUIRED"),
            ("301", "LICENSE_REQUIRED"),
        )
    ],
    *[
        (
            f"lfp compaction {c}",
            line(
                "LFP cathode material",
                "2842904000",
                properties=_props(compaction_density_g_cm3=c, specific_capacity_mah_g="160"),
            ),
            expected,
        )
        for c, expected in (("2.49", "BELOW_THRESHOLD"), ("2.5", "LICENSE_REQUIRED"))
    ],
    *[
        (
            f"diamond micropowder {size} um",
            line(
                "Synthetic diamond micropowder",
                "7105102000",
                properties=_props(particle_size_um=size),
            ),
            expected,
        )
        # above 50 um the sibling single-crystal item (50 < size <= 500 um) is tested too
        for size, expected in (
            ("50", "LICENSE_REQUIRED"),
            ("50.1", "LICENSE_REQUIRED"),
            ("500", "LICENSE_REQUIRED"),
            ("500.1", "BELOW_THRESHOLD"),
        )
    ],
    ("lfp without facts", line("LFP cathode material", "2842904000"), "INSUFFICIENT_DATA"),
    (
        "tungsten bar 99.95 %",
        line("Tungsten bar", "8101940001", purity_pct="99.95"),
        "INSUFFICIENT_DATA",
    ),
    (
        "tungsten bar 90 % W",
        line(
            "Tungsten bar",
            "8101940001",
            purity_pct="90",
            composition=[{"element": "W", "mass_pct": "90"}],
        ),
        "BELOW_THRESHOLD",
    ),
    (
        "machine in a basket HS line",
        line("Industrial machine", "8479899990", unit="pcs", quantity="1"),
        "INSUFFICIENT_DATA",
    ),
]


@pytest.mark.parametrize(
    ("cargo", "expected"), [pytest.param(c, e, id=n) for n, c, e in THRESHOLDS]
)
def test_thresholds(cargo: dict[str, Any], expected: str) -> None:
    assert codes(screen(event(cargo, ship_date=AFTER)))[0] == expected


MAGNET_CASES = [
    ("no composition", [], "INSUFFICIENT_DATA", ["CN-2025-18/1C904.a", "CN-2025-18/1C905.a"]),
    ("with Dy", [{"element": "Dy", "mass_pct": "4.5"}], "LICENSE_REQUIRED", ["CN-2025-18/1C905.a"]),
    ("with Tb", [{"element": "Tb", "mass_pct": "1"}], "LICENSE_REQUIRED", ["CN-2025-18/1C904.a"]),
    (
        "Nd/Pr only",
        [{"element": "Nd", "mass_pct": "25"}, {"element": "Pr", "mass_pct": "6"}],
        "NOT_CONTROLLED",
        [],
    ),
]


@pytest.mark.parametrize(
    ("composition", "expected", "ids"), [pytest.param(*c[1:], id=c[0]) for c in MAGNET_CASES]
)
def test_ndfeb_magnet_needs_composition(
    composition: list[Any], expected: str, ids: list[str]
) -> None:
    decision = screen(event(line("NdFeB magnet", "8505.11.00.00", composition=composition)))
    assert codes(decision) == [expected]
    assert decision.lines[0].control_ids == ids


def test_foreign_made_item_with_chinese_rare_earth_content() -> None:
    def foreign(**facts: Any) -> list[str]:
        cargo = line(
            "Motor assembly",
            "8501520000",
            origin="DE",
            unit="pcs",
            quantity="10",
            composition=[{"element": "Dy", "mass_pct": "0.5"}],
            **facts,
        )
        return codes(screen(event(cargo, exporter_country="DE", destination="FR", ship_date=AFTER)))

    assert foreign() == ["INSUFFICIENT_DATA"]
    assert foreign(properties={"chinese_re_content_value_pct": "0.09"}) == ["BELOW_THRESHOLD"]
    assert foreign(properties={"chinese_re_content_value_pct": "0.1"}) == ["LICENSE_REQUIRED"]


def test_unknown_end_use_to_the_us_is_held_for_data() -> None:
    decision = screen(event(GA, destination="US", end_use="unknown", ship_date="2026-03-02"))
    assert codes(decision) == ["INSUFFICIENT_DATA"]
    assert decision.reasons[0].control_id == "CN-2024-46/Art.1"


def test_cancelled_shipment_is_held_without_lines() -> None:
    decision = screen(event(event_type="shipment.cancelled"))
    assert decision.outcome == "hold"
    assert decision.lines == []
    assert [r.code for r in decision.reasons] == ["SHIPMENT_CANCELLED"]


def test_specific_phrase_wins_and_shared_hs_lines_do_not_drag_in_other_items() -> None:
    decision = screen(event(line("Samarium oxide", "3824999922")))
    assert decision.lines[0].control_ids == ["CN-2025-18/1C902.b"]
    decision = screen(event(line("Terbium oxide", "2846901993")))
    assert decision.lines[0].control_ids == ["CN-2025-18/1C904.b"]


def test_declared_control_code_recognises_the_item() -> None:
    decision = screen(event(line("Mixed lot", "9999990000", control_code="1C902.b")))
    assert decision.lines[0].control_ids == ["CN-2025-18/1C902.b"]
