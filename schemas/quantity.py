"""Quantities with units and their exact conversion.

kg, g and t convert into each other; ``pcs`` never mixes with mass.
"""

from __future__ import annotations

from decimal import Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow
from enum import StrEnum

from pydantic import BaseModel

from schemas._common import OUTPUT_MODEL_CONFIG, QuantityAmount


class Unit(StrEnum):
    """Units a cargo line or a licence cap may use."""

    KG = "kg"
    G = "g"
    T = "t"
    PCS = "pcs"

    @property
    def is_mass(self) -> bool:
        return self is not Unit.PCS


#: Powers of ten from grams: conversion only moves the exponent, so it never rounds.
_GRAM_EXPONENT = {Unit.G: 0, Unit.KG: 3, Unit.T: 6}


#: The decimal context of quantity arithmetic, independent of the thread's default: wide enough
#: that no amount the input rules allow (at most 10^12 in its unit, 28 significant digits)
#: is ever rounded or out of range in any unit, and trapping (raising) instead of rounding
#: silently should that ever fail.
QUANTITY_CONTEXT = Context(
    prec=64,
    Emax=999_999,
    Emin=-999_999,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)


class IncompatibleUnitsError(ValueError):
    """Raised when a piece count is compared with a mass."""


def convert(amount: Decimal, unit: Unit, to: Unit) -> Decimal:
    """Convert ``amount`` from ``unit`` to ``to`` exactly (integer powers of ten, no rounding)."""
    if unit is to:
        return amount
    if not (unit.is_mass and to.is_mass):
        raise IncompatibleUnitsError(f"cannot convert {unit.value} to {to.value}")
    return amount.scaleb(_GRAM_EXPONENT[unit] - _GRAM_EXPONENT[to], context=QUANTITY_CONTEXT)


class Quantity(BaseModel):
    """An amount with its unit, e.g. a licence's quantity cap."""

    model_config = OUTPUT_MODEL_CONFIG

    amount: QuantityAmount
    unit: Unit

    def to(self, unit: Unit) -> Decimal:
        """This quantity's amount expressed in ``unit`` (raises :class:`IncompatibleUnitsError`)."""
        return convert(self.amount, self.unit, unit)
