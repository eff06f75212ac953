"""Chemical formulas in descriptions: ``Sm2Co17``, ``SmCo5``, ``Dy2O3``, ``DyF3``, ``Tb4O7``.

Element-defined items (a rare earth and its alloys, oxides and compounds) are recognised by what
the goods are, and a formula says it as plainly as a composition does. A token counts as a
formula when it is made only of element symbols (with optional counts), has at least two symbols
or a count, and is not written in capitals only (``CN``, ``US``, ``HO`` are abbreviations far more
often than formulas). The formula also tells the form: only oxygen besides metals → ``oxide``;
a non-metal that forms salts (F, Cl, N, S, C, …) → ``compound``; metals only → ``alloy``; a
single element → ``metal``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import TypeAdapter, ValidationError

from schemas._common import ElementSymbol

_TOKEN = re.compile(r"(?<![A-Za-z0-9])(?:[A-Z][a-z]?(?:\d+(?:\.\d+)?)?)+(?![A-Za-z0-9])")
_PART = re.compile(r"([A-Z][a-z]?)(\d+(?:\.\d+)?)?")
_SYMBOL: TypeAdapter[str] = TypeAdapter(ElementSymbol)

#: Elements that with a metal make a salt-like compound rather than an alloy.
_COMPOUND_FORMERS = frozenset({"H", "C", "N", "F", "P", "S", "Cl", "Se", "Br", "I", "Te", "As"})


@lru_cache(maxsize=512)
def _is_element(symbol: str) -> bool:
    try:
        _SYMBOL.validate_python(symbol)
    except ValidationError:
        return False
    return True


def _form(symbols: set[str]) -> str:
    if len(symbols) == 1:
        return "metal"
    if symbols & _COMPOUND_FORMERS:
        return "compound"
    if "O" in symbols:
        return "oxide"
    return "alloy"


def formulas_in(description: str) -> tuple[frozenset[str], frozenset[str]]:
    """The elements named by chemical formulas in ``description``, and the forms they show."""
    elements: set[str] = set()
    forms: set[str] = set()
    for match in _TOKEN.finditer(description):
        token = match.group()
        if token.isupper() and not any(ch.isdigit() for ch in token):
            continue
        parts = _PART.findall(token)
        if len(parts) < 2 and not parts[0][1]:
            continue
        symbols = {symbol for symbol, _ in parts}
        if not all(_is_element(symbol) for symbol in symbols):
            continue
        elements |= symbols
        forms.add(_form(symbols))
    return frozenset(elements), frozenset(forms)
