"""Reading catalogues: YAML files, the bundled catalogue, and the ``controls.v1`` wire form."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from services.screening.catalogue.model import Catalogue, CatalogueError

BUNDLED_CATALOGUE = "cn-mineral-controls.yaml"


def _json_default(value: object) -> str:
    if isinstance(value, date | Decimal):
        return str(value)
    raise TypeError(f"unsupported value {value!r} in catalogue")


def parse_catalogue_yaml(text: str, source: str = "<catalogue>") -> Catalogue:
    """Validate YAML text as a catalogue (through JSON, so that dates and decimals stay exact)."""
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise CatalogueError(f"{source}: a catalogue is a mapping with label, title and measures")
    for key in [k for k in raw if isinstance(k, str) and k.startswith("x-")]:
        del raw[key]  # YAML anchors and other extension keys are not content
    for measure in raw.get("measures") or []:
        if isinstance(measure, dict):
            _reject_floats(measure, f"{source}: measure {measure.get('id')}")
    try:
        return Catalogue.model_validate_json(json.dumps(raw, default=_json_default))
    except ValueError as exc:
        raise CatalogueError(f"{source}: {exc}") from exc


def _reject_floats(node: object, where: str) -> None:
    """Threshold values must be quoted decimals: a YAML float may already have been rounded."""
    if isinstance(node, float):
        raise CatalogueError(f"{where}: write numbers as quoted decimals, not {node!r}")
    if isinstance(node, dict):
        for value in node.values():
            _reject_floats(value, where)
    elif isinstance(node, list):
        for value in node:
            _reject_floats(value, where)


def load_catalogue_file(path: str | Path) -> Catalogue:
    """Load a catalogue from a YAML file (JSON is YAML too, so wire files load as well)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"{path}: {exc.strerror or exc}") from exc
    if path.suffix == ".json":
        return from_wire(text.encode(), source=str(path))
    return parse_catalogue_yaml(text, str(path))


@cache
def load_bundled_catalogue() -> Catalogue:
    """The catalogue shipped with the package (``catalogue/data/cn-mineral-controls.yaml``)."""
    text = resources.files("services.screening.catalogue.data").joinpath(BUNDLED_CATALOGUE)
    return parse_catalogue_yaml(text.read_text(encoding="utf-8"), BUNDLED_CATALOGUE)


def to_wire(catalogue: Catalogue) -> bytes:
    """Canonical JSON for ``controls.v1`` (same as :meth:`Catalogue.to_wire`)."""
    return catalogue.to_wire()


def from_wire(payload: bytes, source: str = "controls.v1") -> Catalogue:
    """Load a catalogue from its wire form (same as :meth:`Catalogue.from_wire`)."""
    return Catalogue.from_wire(payload, source)
