"""Three-valued evaluation of catalogue thresholds against a cargo line's stated facts.

``True`` = met, ``False`` = not met, ``None`` = the line lacks a fact needed to tell.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from decimal import Decimal

from schemas.shipment import CargoLine
from services.screening.catalogue.model import Condition, Threshold

_OPS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
}


def fact_value(line: CargoLine, fact: str) -> Decimal | None:
    """A line's value for a catalogue fact name, or ``None`` when the line does not state it.

    An element absent from a stated composition counts as 0 %; an empty composition is unknown.
    """
    if fact == "purity_pct":
        return line.purity_pct
    if fact.startswith("element:"):
        if not line.composition:
            return None
        share = line.element_pct(fact[8:])
        return Decimal(0) if share is None else share
    return line.properties.get(fact)


def evaluate_threshold(line: CargoLine, threshold: Threshold) -> bool | None:
    value = fact_value(line, threshold.fact)
    if value is None:
        return None
    return _OPS[threshold.op](value, threshold.value)


def evaluate(line: CargoLine, condition: Condition | Threshold) -> bool | None:
    """Kleene logic: a definite ``False`` in ``all_of`` wins over unknown facts, and so on."""
    if isinstance(condition, Threshold):
        return evaluate_threshold(line, condition)
    result: bool | None = True
    for part in condition.all_of:
        value = evaluate(line, part)
        if value is False:
            return False
        if value is None:
            result = None
    if condition.any_of:
        found: bool | None = False
        for part in condition.any_of:
            value = evaluate(line, part)
            if value is True:
                found = True
                break
            if value is None:
                found = None
        if found is False:
            return False
        if found is None:
            result = None
    return result


def missing_facts(line: CargoLine, condition: Condition | Threshold) -> list[str]:
    """The fact names the condition needs and the line does not state (for messages)."""
    if isinstance(condition, Threshold):
        return [] if fact_value(line, condition.fact) is not None else [condition.fact]
    names: list[str] = []
    for part in (*condition.all_of, *condition.any_of):
        for name in missing_facts(line, part):
            if name not in names:
                names.append(name)
    return names


def composition_has_any(line: CargoLine, elements: list[str]) -> bool | None:
    """Whether the stated composition holds any of ``elements`` (``None``: composition unstated)."""
    if not line.composition:
        return None
    return any(c.element in elements and c.mass_pct > 0 for c in line.composition)
