"""Chemical formulas in descriptions: which tokens count, and the form they show."""

from __future__ import annotations

import pytest

from services.screening.engine.formulas import formulas_in


@pytest.mark.parametrize(
    ("description", "elements", "forms"),
    [
        ("Sm2Co17 sintered magnets", {"Sm", "Co"}, {"alloy"}),
        ("SmCo5 ring magnets", {"Sm", "Co"}, {"alloy"}),
        ("Dy2O3 99.9%", {"Dy", "O"}, {"oxide"}),
        ("DyF3 powder", {"Dy", "F"}, {"compound"}),
        ("Tb4O7", {"Tb", "O"}, {"oxide"}),
        ("GdCl3 hydrate", {"Gd", "Cl"}, {"compound"}),
        ("NdFeB blocks", {"Nd", "Fe", "B"}, {"alloy"}),
        ("Y2O3 and Sc2O3 blend", {"Y", "Sc", "O"}, {"oxide"}),
        # abbreviations in capitals, words and single symbols are not formulas
        ("CN origin, US buyer, HO office", set(), set()),
        ("CIGS solar modules", set(), set()),
        ("Dysprosium ingot", set(), set()),
        ("Co-Cr alloy", set(), set()),
        ("Model X12 pump", set(), set()),
    ],
)
def test_formulas(description: str, elements: set[str], forms: set[str]) -> None:
    found, shown = formulas_in(description)
    assert found == elements
    assert shown == forms
