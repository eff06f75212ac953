"""The catalogue model, the bundled data, the wire form and the diff."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.shipment import STANDARD_PROPERTIES
from services.screening.catalogue import (
    Catalogue,
    CatalogueError,
    ControlKind,
    MeasureStatus,
    load_bundled_catalogue,
    load_catalogue_file,
    parse_catalogue_yaml,
)
from services.screening.catalogue.diff import diff_catalogues
from services.screening.catalogue.model import Condition, Threshold

BUNDLED = Path("services/screening/catalogue/data/cn-mineral-controls.yaml")


def test_bundled_catalogue_lists_every_measure_of_the_reference() -> None:
    ids = {m.id for m in load_bundled_catalogue().measures}
    for number in (
        "2023-23",
        "2023-39",
        "2024-33",
        "2025-10",
        "2025-18",
        "2025-55",
        "2025-56",
        "2025-57",
        "2025-58",
        "2025-62",
        "2025-68",
        "2026-1",
        "2024-51",
    ):
        assert f"CN-{number}" in ids
    for part in (
        "CN-2024-46/Art.1",
        "CN-2024-46/Art.2",
        "CN-2025-61/1(1)",
        "CN-2025-61/1(2)",
        "CN-2025-61/1(3)",
    ):
        assert part in ids


def test_state_trading_layer_is_informational() -> None:
    measure = load_bundled_catalogue().measure("CN-2025-68")
    assert measure.kind is ControlKind.INFORMATIONAL
    assert measure.note
    assert "not screened" in measure.note


@pytest.mark.parametrize(
    ("measure_id", "day", "status"),
    [
        ("CN-2025-57", "2025-11-07", MeasureStatus.NOT_YET_EFFECTIVE),
        ("CN-2025-57", "2026-11-10", MeasureStatus.SUSPENDED),
        ("CN-2025-57", "2026-11-11", MeasureStatus.IN_FORCE),
        ("CN-2024-46/Art.2", "2026-11-27", MeasureStatus.SUSPENDED),
        ("CN-2024-46/Art.2", "2026-11-28", MeasureStatus.IN_FORCE),
        ("CN-2025-68", "2028-01-01", MeasureStatus.LAPSED),
    ],
)
def test_status_on_a_date(measure_id: str, day: str, status: MeasureStatus) -> None:
    from datetime import date

    assert load_bundled_catalogue().measure(measure_id).status_on(date.fromisoformat(day)) == status


def test_placeholders_are_flagged() -> None:
    catalogue = load_bundled_catalogue()
    dy = next(i for i in catalogue.measure("CN-2025-18").items if i.id == "dy-oxide")
    assert dy.unconfirmed
    assert dy.note
    assert "[?]" in dy.note


def test_thresholds_use_standard_facts_only() -> None:
    def facts(node: Condition | Threshold) -> set[str]:
        if isinstance(node, Threshold):
            return {node.fact}
        return set().union(*(facts(p) for p in (*node.all_of, *node.any_of)))

    for measure in load_bundled_catalogue().measures:
        for item in measure.items:
            if item.threshold:
                for fact in facts(item.threshold):
                    assert (
                        fact == "purity_pct"
                        or fact in STANDARD_PROPERTIES
                        or fact.startswith("element:")
                    )


def test_wire_round_trip_keeps_the_version() -> None:
    catalogue = load_bundled_catalogue()
    assert catalogue.version.startswith("2026-11-30.1+sha256:")
    wire = catalogue.to_wire()
    again = Catalogue.from_wire(wire)
    assert again.version == catalogue.version
    assert again.to_wire() == wire


def test_wire_with_a_wrong_version_is_rejected() -> None:
    wire = load_bundled_catalogue().to_wire().replace(b"sha256:", b"sha256:00", 1)
    with pytest.raises(CatalogueError, match="does not match"):
        Catalogue.from_wire(wire)


def test_unknown_fields_and_floats_are_errors() -> None:
    text = BUNDLED.read_text().replace('effective_from: "2023-08-01"', "effective_form: x", 1)
    with pytest.raises(CatalogueError, match="effective_form"):
        parse_catalogue_yaml(text)
    text = BUNDLED.read_text().replace('value: "99.99"}', "value: 99.99}", 1)
    with pytest.raises(CatalogueError, match="quoted decimals"):
        parse_catalogue_yaml(text)


def test_diff_names_changed_dates_and_items(tmp_path: Path) -> None:
    text = BUNDLED.read_text()
    changed = (
        text.replace('label: "2026-11-30.1"', 'label: "2026-11-30.2"')
        .replace('&oct2025_end "2026-11-10"', '&oct2025_end "2027-11-10"', 1)
        .replace("keywords: [gallium nitride, gan]", "keywords: [gallium nitride]")
    )
    new = tmp_path / "new.yaml"
    new.write_text(changed)
    changes = diff_catalogues(load_catalogue_file(BUNDLED), load_catalogue_file(new))
    assert any("CN-2025-55: suspensions" in c and "2027-11-10" in c for c in changes)
    assert any("item ga-nitride keywords" in c for c in changes)


MINIMAL_V1 = """
label: "2026-01-01.1"
title: "Minimal"
measures:
  - id: CN-2025-18
    title: "Seven rare earths"
    legal_basis: {citation: "MOFCOM/GAC Announcement 2025 No. 18", issuers: [MOFCOM, GAC]}
    kind: licence_required
    effective_from: "2025-04-04"
    suspensions: [{start: "2025-11-07", end: "2026-11-10", basis: "X"}]
    scope: {exporter_countries_not: [US]}
    items:
      - id: dy-oxide
        name: "Dysprosium oxide"
        control_code: "1C905.b"
        keywords: [dysprosium oxide]
        recognise_elements: [Dy]
"""
#: The version the catalogue model gave this content before status_confirmed_through,
#: export_countries, broad_keywords, forms and criterion words existed (commit f861c6a).
MINIMAL_V1_VERSION = (
    "2026-01-01.1+sha256:67c68e8a7c0f53eaf9b8629a2d0d836f45bc5ef3583741fcb1110b035d68a721"
)


def test_fields_added_later_do_not_change_an_older_catalogues_version() -> None:
    """A catalogue published before the new fields keeps its version, so ``from_wire`` still
    accepts what ``controls.v1`` holds; setting a new field changes the version."""
    catalogue = parse_catalogue_yaml(MINIMAL_V1)
    assert catalogue.version == MINIMAL_V1_VERSION
    assert Catalogue.from_wire(catalogue.to_wire()).version == MINIMAL_V1_VERSION
    confirmed = parse_catalogue_yaml(
        MINIMAL_V1.replace(
            '    effective_from: "2025-04-04"\n',
            '    effective_from: "2025-04-04"\n    status_confirmed_through: "2026-11-10"\n',
        )
    )
    assert confirmed.version != MINIMAL_V1_VERSION
    assert b"status_confirmed_through" in confirmed.to_wire()


@pytest.mark.parametrize(
    ("item", "error"),
    [
        (
            {"id": "x", "name": "X", "keywords": ["x item"], "criterion_met_by": ["curved"]},
            "criterion words need an unassessed_criterion",
        ),
        (
            {"id": "x", "name": "X", "keywords": ["x item"], "forms": ["oxide"]},
            "forms choose among element-defined items only",
        ),
        (
            {"id": "x", "name": "X", "recognise_elements": ["Dy"], "forms": ["two words"]},
            "forms",
        ),
    ],
)
def test_new_item_fields_are_checked(item: dict[str, object], error: str) -> None:
    text = MINIMAL_V1.split("    items:")[0] + "    items:\n      - " + json.dumps(item) + "\n"
    with pytest.raises(CatalogueError, match=error):
        parse_catalogue_yaml(text)
