"""Constrained scalar types shared by the wire models: ISO codes, HS codes, decimals, symbols."""

from __future__ import annotations

import re
from collections.abc import Callable
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

#: Only ASCII dots and spaces separate HS digit groups; ``\s`` or ``\d`` would let a fullwidth
#: space or digit (which a Chinese input method produces) through, unrecognisable downstream.
_HS_SEPARATORS = re.compile(r"[. ]")
_HS_DIGITS = re.compile(r"[0-9]{6,10}", re.ASCII)
_HS_PREFIX_DIGITS = re.compile(r"[0-9]{2,10}", re.ASCII)
_ASCII_LETTERS = {2: re.compile(r"[A-Za-z]{2}"), 3: re.compile(r"[A-Za-z]{3}")}
#: A decimal written as text: ASCII digits, an optional sign, point and exponent. ``Decimal()``
#: alone would also take Arabic-Indic or fullwidth digits, underscores and ``NaN``.
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
#: Characters no identifier, name or description may hold: C0 and C1 controls (NUL, CR, LF, TAB,
#: ESC …), DEL, the Unicode bidi controls (U+061C, U+200E/F, U+202A–E, U+2066–9: they make text
#: display in another order than it is stored), line/paragraph separators, lone surrogates.
_FORBIDDEN_IN_TEXT = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
#: Largest quantity in its unit and largest value (CONTRACT.md, "v1 additions").
MAX_QUANTITY = Decimal(10) ** 12
MAX_VALUE = Decimal(10) ** 15


def _ascii_letters(count: int, what: str) -> Callable[[object], object]:
    pattern = _ASCII_LETTERS[count]

    def check(value: object) -> object:
        if isinstance(value, str) and not pattern.fullmatch(value):
            raise ValueError(f"{value[:20]!r} is not {what} of {count} ASCII letters")
        return value

    return check


def _plain_text(value: object) -> object:
    """Refuse control and bidi characters, before any whitespace stripping could hide them."""
    if isinstance(value, str):
        found = _FORBIDDEN_IN_TEXT.search(value)
        if found is not None:
            raise ValueError(
                f"contains the control character U+{ord(found.group()):04X} at position "
                f"{found.start()} (control, bidi and separator characters are not allowed)"
            )
    return value


def _decimal_input(value: object) -> object:
    """Accept a decimal as a JSON number (read exactly) or as ASCII text; never a binary float."""
    if isinstance(value, float):
        raise ValueError("a binary floating-point number is not an exact decimal; send a string")
    if isinstance(value, bool):
        raise ValueError("a boolean is not a decimal")
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value.strip(" ")):
        raise ValueError(f"{value[:40]!r} is not a decimal written in ASCII digits")
    return value


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


CountryCode = Annotated[
    str,
    BeforeValidator(_ascii_letters(2, "a country code")),
    StringConstraints(to_upper=True),
    AfterValidator(_country),
]
CurrencyCode = Annotated[
    str,
    BeforeValidator(_ascii_letters(3, "a currency code")),
    StringConstraints(to_upper=True),
    AfterValidator(_currency),
]
ElementSymbol = Annotated[str, AfterValidator(_element)]
HsCode = Annotated[str, BeforeValidator(normalise_hs_code), AfterValidator(_hs_code)]
HsPrefix = Annotated[str, BeforeValidator(normalise_hs_code), AfterValidator(_hs_prefix)]

Identifier = Annotated[
    str,
    BeforeValidator(_plain_text),
    StringConstraints(min_length=1, max_length=128, strip_whitespace=True),
]
Name = Annotated[
    str,
    BeforeValidator(_plain_text),
    StringConstraints(min_length=1, max_length=256, strip_whitespace=True),
]
Description = Annotated[str, BeforeValidator(_plain_text), Field(min_length=1, max_length=1024)]
ControlCode = Annotated[
    str,
    StringConstraints(
        min_length=2, max_length=32, pattern=r"^[0-9][A-E][0-9]{3}(\.[0-9A-Za-z]+)*$"
    ),
]

_DECIMAL = BeforeValidator(_decimal_input)
# The before-validator comes last in each ``Annotated`` so that it wraps the constrained decimal:
# placed first, pydantic applies the bounds as an opaque step and the JSON Schema loses them.
PositiveDecimal = Annotated[Decimal, Field(gt=0, allow_inf_nan=False, max_digits=28), _DECIMAL]
NonNegativeDecimal = Annotated[Decimal, Field(ge=0, allow_inf_nan=False, max_digits=28), _DECIMAL]
Percentage = Annotated[Decimal, Field(ge=0, le=100, allow_inf_nan=False, max_digits=28), _DECIMAL]
QuantityAmount = Annotated[
    Decimal, Field(gt=0, le=MAX_QUANTITY, allow_inf_nan=False, max_digits=28), _DECIMAL
]
"""An amount of goods in its unit: at most 10^12 (a trillion kg is a thousand times the world's
annual output of any controlled mineral)."""
MonetaryValue = Annotated[
    Decimal, Field(ge=0, le=MAX_VALUE, allow_inf_nan=False, max_digits=28), _DECIMAL
]
Measurement = Annotated[
    Decimal, Field(ge=0, le=MAX_VALUE, allow_inf_nan=False, max_digits=28), _DECIMAL
]
"""A stated technical fact (particle size, frequency …): bounded like values."""
