"""Draft catalogues for what-if tests: the bundled catalogue with one date changed."""

from __future__ import annotations

from importlib import resources

from services.screening.catalogue import Catalogue, parse_catalogue_yaml
from services.screening.catalogue.loading import BUNDLED_CATALOGUE

OCT2025_END = 'oct2025_suspension_end: &oct2025_end "2026-11-10"'


def bundled_text() -> str:
    files = resources.files("services.screening.catalogue.data")
    return files.joinpath(BUNDLED_CATALOGUE).read_text(encoding="utf-8")


def with_oct2025_suspension_ending(day: str, label: str = "2026-12-01.1") -> str:
    """The bundled catalogue's YAML, the October 2025 package's suspension ending on ``day``."""
    text = bundled_text()
    assert OCT2025_END in text, "the bundled catalogue no longer names the suspension's end"
    text = text.replace(OCT2025_END, f'oct2025_suspension_end: &oct2025_end "{day}"')
    return text.replace('label: "2026-11-30.1"', f'label: "{label}"')


def draft(day: str) -> Catalogue:
    return parse_catalogue_yaml(with_oct2025_suspension_ending(day), "draft")
