"""Generate the JSON Schema files in ``schemas/json/`` for ERP integrators.

Run ``python -m schemas.json_schema`` after changing a model; a test fails while the committed
files are stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from schemas import (
    ControlledParty,
    DeadLetter,
    Decision,
    License,
    Review,
    ShipmentEvent,
    SignedTreeHead,
)
from schemas.generated_files import write_changed

JSON_DIR = Path(__file__).parent / "json"

#: File name -> model, for every wire format in the contract.
WIRE_MODELS: dict[str, type[BaseModel]] = {
    "shipment-event.schema.json": ShipmentEvent,
    "license.schema.json": License,
    "decision.schema.json": Decision,
    "dead-letter.schema.json": DeadLetter,
    "controlled-party.schema.json": ControlledParty,
    "review.schema.json": Review,
    "signed-tree-head.schema.json": SignedTreeHead,
}


def render(model: type[BaseModel]) -> str:
    """The JSON Schema of ``model`` as stable, pretty-printed text."""
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    """Write every schema file; print what changed."""
    return write_changed((JSON_DIR / name, render(model)) for name, model in WIRE_MODELS.items())


if __name__ == "__main__":
    sys.exit(main())
