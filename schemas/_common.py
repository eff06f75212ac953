"""Constrained scalar types shared by the wire models: ISO codes, HS codes, decimals, symbols."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

import pycountry
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, StringConstraints

#: Strict model config for everything that arrives from outside: unknown fields are errors,
#: because a misspelt optional fact (``purity`` for ``purity_pct``) must not vanish silently.
INPUT_MODEL_CONFIG = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
#: Config for what Lodestone itself emits.
OUTPUT_MODEL_CONFIG = ConfigDict(extra="forbid", frozen=True)

_COUNTRIES = frozenset(c.alpha_2 for c in pycountry.countries)
_CURRENCIES = frozenset(c.alpha_3 for c in pycountry.currencies)

_ELEMENT_SYMBOLS = """
H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr
Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm
Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No
Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og
"""
_ELEMENTS = frozenset(_ELEMENT_SYMBOLS.split())

_HS_SEPARATORS = re.compile(r"[.\s]")
_HS_DIGITS = re.compile(r"\d{6,10}")
_HS_PREFIX_DIGITS = re.compile(r"\d{2,10}")


def _country(value: str) -> str:
    if value not in _COUNTRIES:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return value


def _currency(value: str) -> str:
    if value not in _CURRENCIES:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return value


def _element(value: str) -> str:
    if value not in _ELEMENTS:
        raise ValueError(f"{value!r} is not a chemical element symbol (e.g. 'Dy', 'Ga')")
    return value


def normalise_hs_code(value: object) -> object:
    """Drop the dots and spaces ERP systems put into HS codes (``2846.90.19.40``)."""
    if isinstance(value, str):
        return _HS_SEPARATORS.sub("", value)
    return value


def _hs_code(value: str) -> str:
    if not _HS_DIGITS.fullmatch(value):
        raise ValueError(f"{value!r} is not an HS code of 6 to 10 digits")
    return value


def _hs_prefix(value: str) -> str:
    if not _HS_PREFIX_DIGITS.fullmatch(value):
        raise ValueError(f"{value!r} is not an HS code prefix of 2 to 10 digits")
    return value


CountryCode = Annotated[str, StringConstraints(to_upper=True), AfterValidator(_country)]
CurrencyCode = Annotated[str, StringConstraints(to_upper=True), AfterValidator(_currency)]
ElementSymbol = Annotated[str, AfterValidator(_element)]
HsCode = Annotated[str, BeforeValidator(normalise_hs_code), AfterValidator(_hs_code)]
HsPrefix = Annotated[str, BeforeValidator(normalise_hs_code), AfterValidator(_hs_prefix)]

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=True)]
ControlCode = Annotated[
    str,
    StringConstraints(
        min_length=2, max_length=32, pattern=r"^[0-9][A-E][0-9]{3}(\.[0-9A-Za-z]+)*$"
    ),
]

PositiveDecimal = Annotated[Decimal, Field(gt=0, allow_inf_nan=False, max_digits=28)]
NonNegativeDecimal = Annotated[Decimal, Field(ge=0, allow_inf_nan=False, max_digits=28)]
Percentage = Annotated[Decimal, Field(ge=0, le=100, allow_inf_nan=False)]
