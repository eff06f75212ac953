"""Generate the Avro schema of ShipmentEvent (``schemas/avro/shipment-event.avsc``) from the model.

For producers that publish through a Schema Registry in Avro. Run ``python -m schemas.avro_schema``
after changing the model; a test fails while the committed file is stale.

How the model's types map to Avro:

- **decimals** (quantities, values, percentages, measurements) are Avro ``string`` holding the
  exact decimal text (``"12.5"``). An Avro logical ``decimal`` needs one fixed scale per field,
  and the contract allows any scale up to 28 significant digits, so text is the only lossless
  choice. Lodestone also *reads* logical decimals (``bytes`` with ``logicalType: decimal``) when
  a producer's own schema uses them; a ``float`` or ``double`` is refused as on JSON (never exact);
- ``occurred_at`` is ``long`` with ``logicalType: timestamp-micros`` (UTC), ``ship_date`` is
  ``int`` with ``logicalType: date``;
- enumerations are ``string`` (Avro enum symbols cannot hold ``shipment.declared``, and a new
  value must not break old readers); the model still refuses an unknown value;
- optional fields are unions with ``null`` first and default ``null``; lists and maps default
  to empty.

The decoded record is validated by the same pydantic model as JSON input, so every input rule
(unknown fields refused, no control characters, bounded magnitudes …) holds for Avro too.
"""

from __future__ import annotations

import json
import sys
import types
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel

from schemas.shipment import ShipmentEvent

AVRO_DIR = Path(__file__).parent / "avro"
SHIPMENT_EVENT_AVSC = AVRO_DIR / "shipment-event.avsc"
NAMESPACE = "io.lodestone.v1"

_DECIMAL_DOC = 'exact decimal written as text, e.g. "12.5" (never a binary float)'


def avro_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The Avro record schema of ``model`` (nested models become named records, defined once)."""
    schema: dict[str, Any] = _record_schema(model, set())
    return schema


def _record_schema(model: type[BaseModel], defined: set[str]) -> Any:
    name = model.__name__
    if name in defined:
        return f"{NAMESPACE}.{name}"
    defined.add(name)
    fields = []
    for field_name, info in model.model_fields.items():
        avro_type = _type(info.annotation, defined)
        field: dict[str, Any] = {"name": field_name, "type": avro_type}
        doc = info.description or (_DECIMAL_DOC if _is_decimal(info.annotation) else None)
        if doc:
            field["doc"] = doc
        if not info.is_required():
            field["default"] = _default(info.get_default(call_default_factory=True))
        fields.append(field)
    record: dict[str, Any] = {"type": "record", "name": name, "namespace": NAMESPACE}
    doc = (model.__doc__ or "").strip().split("\n")[0]
    if doc:
        record["doc"] = doc
    record["fields"] = fields
    return record


def _is_decimal(annotation: Any) -> bool:
    annotation = _strip_annotated(annotation)
    return annotation is Decimal or (
        _is_optional(annotation) and _without_none(annotation) is Decimal
    )


def _is_optional(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


def _without_none(annotation: Any) -> Any:
    rest = [_strip_annotated(a) for a in get_args(annotation) if a is not type(None)]
    if len(rest) != 1:
        raise TypeError(f"unions other than X | None have no Avro mapping here: {annotation}")
    return rest[0]


def _default(value: Any) -> Any:
    if value is None or (isinstance(value, (list, dict)) and not value):
        return value
    raise TypeError(f"no Avro default for {value!r}")


def _strip_annotated(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated and annotation is not AwareDatetime:
        annotation = get_args(annotation)[0]
    return annotation


def _type(annotation: Any, defined: set[str]) -> Any:
    annotation = _strip_annotated(annotation)
    if _is_optional(annotation):
        return ["null", _type(_without_none(annotation), defined)]
    origin = get_origin(annotation)
    if origin is list:
        (item,) = get_args(annotation)
        return {"type": "array", "items": _type(item, defined)}
    if origin is dict:
        key, value = get_args(annotation)
        if _strip_annotated(key) is not str:
            raise TypeError(f"Avro maps have string keys, not {key}")
        return {"type": "map", "values": _type(value, defined)}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _record_schema(annotation, defined)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "string"
    if annotation is AwareDatetime or annotation is datetime:
        return {"type": "long", "logicalType": "timestamp-micros"}
    if annotation is date:
        return {"type": "int", "logicalType": "date"}
    simple = {str: "string", int: "long", bool: "boolean", Decimal: "string"}
    if annotation in simple:
        return simple[annotation]
    raise TypeError(f"no Avro mapping for {annotation!r}")


def render(model: type[BaseModel] = ShipmentEvent) -> str:
    """The schema as stable, pretty-printed JSON text."""
    return json.dumps(avro_schema(model), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    AVRO_DIR.mkdir(exist_ok=True)
    text = render()
    if not SHIPMENT_EVENT_AVSC.exists() or SHIPMENT_EVENT_AVSC.read_text(encoding="utf-8") != text:
        SHIPMENT_EVENT_AVSC.write_text(text, encoding="utf-8")
        print(f"wrote {SHIPMENT_EVENT_AVSC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
