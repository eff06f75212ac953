"""License: an export licence as published on ``licenses.v1`` (CONTRACT.md, "License")."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from schemas._common import INPUT_MODEL_CONFIG, CountryCode, HsPrefix, Identifier
from schemas.quantity import Quantity


class LicenseKind(StrEnum):
    GENERAL = "general"
    SINGLE = "single"


class LicenseStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


ControlCodePrefix = Annotated[str, Field(min_length=2, max_length=32, pattern=r"^[0-9A-Za-z.]+$")]


class License(BaseModel):
    """A general or single export licence held by an exporter.

    A line is in the licence's item scope when its control code starts with any listed control
    code, or its HS code starts with any listed HS code. Empty ``destinations`` / ``end_users``
    mean any.
    """

    model_config = INPUT_MODEL_CONFIG

    license_id: Identifier
    kind: LicenseKind
    holder_id: Identifier
    status: LicenseStatus
    valid_from: date
    valid_to: date
    control_codes: Annotated[list[ControlCodePrefix], Field(max_length=256)] = []
    hs_codes: Annotated[list[HsPrefix], Field(max_length=256)] = []
    destinations: Annotated[list[CountryCode], Field(max_length=250)] = []
    end_users: Annotated[list[Identifier], Field(max_length=1024)] = []
    max_quantity: Quantity | None = None

    @model_validator(mode="after")
    def _is_coherent(self) -> License:
        if self.valid_to < self.valid_from:
            raise ValueError("valid_to: must not be before valid_from")
        if not self.control_codes and not self.hs_codes:
            raise ValueError("control_codes/hs_codes: a licence must name at least one item scope")
        if self.kind is LicenseKind.SINGLE and self.max_quantity is None:
            raise ValueError("max_quantity: required for a single licence")
        return self

    def is_valid_on(self, day: date) -> bool:
        """Whether ``day`` lies inside the validity window (both ends inclusive)."""
        return self.valid_from <= day <= self.valid_to
