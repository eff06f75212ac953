"""ShipmentEvent: what ERP systems publish on ``shipments.v1`` (CONTRACT.md, "ShipmentEvent")."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from schemas._common import (
    INPUT_MODEL_CONFIG,
    ControlCode,
    CountryCode,
    CurrencyCode,
    Description,
    ElementSymbol,
    HsCode,
    Identifier,
    Measurement,
    MonetaryValue,
    Name,
    Percentage,
    QuantityAmount,
)
from schemas.quantity import Unit

#: Most lines one shipment event may carry; larger shipments are split by the ERP.
MAX_LINES_PER_SHIPMENT = 500
#: Most bytes of one serialized event the screening service accepts.
MAX_EVENT_BYTES = 1_048_576

#: Standard names in ``CargoLine.properties`` (numbers as decimals); catalogue thresholds use these.
STANDARD_PROPERTIES = frozenset(
    {
        "density_g_cm3",
        "flexural_strength_mpa",
        "particle_size_um",
        "microwave_power_kw",
        "frequency_mhz",
        "energy_density_wh_kg",
        "compaction_density_g_cm3",
        "specific_capacity_mah_g",
        "press_bore_mm",
        "design_pressure_gpa",
        "dislocation_density_per_cm2",
        "elastic_limit_mpa",
        "tensile_strength_mpa",
        "elongation_pct",
        "visible_transmittance_pct",
        "window_diameter_in",
        "chinese_re_content_value_pct",
    }
)


class EventType(StrEnum):
    DECLARED = "shipment.declared"
    AMENDED = "shipment.amended"
    CANCELLED = "shipment.cancelled"


class EndUse(StrEnum):
    CIVIL = "civil"
    MILITARY = "military"
    UNKNOWN = "unknown"


class Party(BaseModel):
    """An exporter, consignee or end user."""

    model_config = INPUT_MODEL_CONFIG

    id: Identifier
    name: Name
    country: CountryCode


class ElementContent(BaseModel):
    """The mass share of one chemical element in a line's goods."""

    model_config = INPUT_MODEL_CONFIG

    element: ElementSymbol
    mass_pct: Percentage


PropertyName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class CargoLine(BaseModel):
    """One cargo line of a shipment."""

    model_config = INPUT_MODEL_CONFIG

    line_no: Annotated[int, Field(ge=1, le=100_000)]
    hs_code: HsCode
    description: Description
    control_code: ControlCode | None = None
    quantity: QuantityAmount
    unit: Unit
    value: MonetaryValue
    currency: CurrencyCode
    origin_country: CountryCode
    purity_pct: Percentage | None = None
    composition: Annotated[list[ElementContent], Field(max_length=118)] = []
    properties: Annotated[dict[PropertyName, Measurement], Field(max_length=64)] = {}

    @model_validator(mode="after")
    def _composition_is_consistent(self) -> CargoLine:
        if not self.composition:  # most lines state none
            return self
        elements = [c.element for c in self.composition]
        if len(elements) != len(set(elements)):
            raise ValueError("composition lists an element more than once")
        if sum(c.mass_pct for c in self.composition) > 100:
            raise ValueError("composition mass_pct values add up to more than 100")
        return self

    def property_value(self, name: str) -> Decimal | None:
        """A standard numeric fact of the line, or ``None`` when the ERP did not state it."""
        return self.properties.get(name)

    def element_pct(self, element: str) -> Percentage | None:
        """The line's mass share of ``element``, or ``None`` when its composition is unstated."""
        for content in self.composition:
            if content.element == element:
                return content.mass_pct
        return None


class ShipmentEvent(BaseModel):
    """A shipment declared, amended (replacing the whole shipment) or cancelled by an ERP system."""

    model_config = INPUT_MODEL_CONFIG

    event_id: Identifier
    event_type: EventType
    occurred_at: AwareDatetime
    shipment_id: Identifier
    ship_date: date
    exporter: Party
    consignee: Party
    end_user: Party
    end_use: EndUse
    destination_country: CountryCode
    #: v1 additions: the customs territory the goods leave; absent = ``exporter.country``.
    export_country: CountryCode | None = None
    lines: Annotated[list[CargoLine], Field(max_length=MAX_LINES_PER_SHIPMENT)] = []
    declared_licenses: Annotated[list[Identifier], Field(max_length=64)] = []

    @property
    def leaves_from(self) -> str:
        """The customs territory the goods leave (``export_country``, else the exporter's)."""
        return self.export_country or self.exporter.country

    @model_validator(mode="after")
    def _lines_are_well_formed(self) -> ShipmentEvent:
        if self.event_type is not EventType.CANCELLED and not self.lines:
            raise ValueError(f"lines: a {self.event_type.value} event needs at least one line")
        numbers = [line.line_no for line in self.lines]
        if len(numbers) != len(set(numbers)):
            duplicated = sorted({n for n in numbers if numbers.count(n) > 1})
            raise ValueError(f"lines: line_no must be unique, repeated: {duplicated}")
        return self
