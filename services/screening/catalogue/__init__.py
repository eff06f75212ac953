"""The control catalogue: model, bundled data, wire format and diff."""

from services.screening.catalogue.loading import (
    from_wire,
    load_bundled_catalogue,
    load_catalogue_file,
    parse_catalogue_yaml,
    to_wire,
)
from services.screening.catalogue.model import (
    Catalogue,
    CatalogueError,
    Condition,
    ControlKind,
    Item,
    LegalBasis,
    Measure,
    MeasureStatus,
    ProhibitionGround,
    Scope,
    Suspension,
    Threshold,
)

__all__ = [
    "Catalogue",
    "CatalogueError",
    "Condition",
    "ControlKind",
    "Item",
    "LegalBasis",
    "Measure",
    "MeasureStatus",
    "ProhibitionGround",
    "Scope",
    "Suspension",
    "Threshold",
    "from_wire",
    "load_bundled_catalogue",
    "load_catalogue_file",
    "parse_catalogue_yaml",
    "to_wire",
]
