"""What the catalogue says about one cargo line on its ship date, before licences are considered."""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.shipment import CargoLine, ShipmentEvent
from services.screening.catalogue.model import ControlKind, Item, MeasureStatus
from services.screening.engine.conditions import composition_has_any, evaluate, missing_facts
from services.screening.engine.index import (
    CatalogueIndex,
    Derived,
    Entry,
    Recognition,
    Situation,
    keyword_tokens,
    origin_in_scope,
)
from services.screening.engine.recognition import BROAD, HS, SHARED, recognise


@dataclass(slots=True)
class Classification:
    """The catalogue's view of a line: controlled, possibly controlled, suspended, below, none."""

    controlled: list[Entry] = field(default_factory=list)
    #: Items the line may be, with the facts it lacks to tell.
    undecided: list[tuple[Entry, str]] = field(default_factory=list)
    suspended: list[Entry] = field(default_factory=list)
    below: list[tuple[Entry, str]] = field(default_factory=list)
    #: Prohibitions that apply.
    prohibited: list[Derived] = field(default_factory=list)
    #: Prohibitions that apply if the unknown end use is military.
    end_use_unknown: list[Derived] = field(default_factory=list)
    #: The items the goods show, when the declared control code contradicts them.
    mismatch: list[Entry] = field(default_factory=list)


#: The classification of a line that matches no item (shared; never modified).
NOTHING = Classification()


def classify(
    index: CatalogueIndex,
    situation: Situation,
    event: ShipmentEvent,
    line: CargoLine,
    recognised: Recognition | None = None,
) -> Classification:
    """Classify a line; ``recognised`` is :func:`recognise` of it when the caller has it."""
    if recognised is None:
        recognised = recognise(index, line)
    if not recognised.entries:
        return NOTHING
    result = Classification()
    if recognised.mismatch:
        result.mismatch = [index.entries[p] for p in recognised.mismatch]
    status_of = situation.status
    for position, flags in recognised.entries:
        status = status_of[position]
        if status is None:  # not screened directly, not yet effective or lapsed
            continue
        entry = index.entries[position]
        scope = entry.scope
        if scope is not None and (
            entry.measure.id in situation.excluded
            or (entry.by_origin and not origin_in_scope(scope, line.origin_country))
        ):
            if not situation.reexport:
                continue
            found_rule = _reexported(situation, entry, line)
            if found_rule is None:
                continue
            entry, status = found_rule
        item = entry.item
        has_element = composition_has_any(line, item.elements_any) if item.elements_any else True
        if has_element is False:
            continue
        criterion = _criterion_stated(item, line) if item.unassessed_criterion else True
        if criterion is False:
            continue
        if status is MeasureStatus.SUSPENDED:
            result.suspended.append(entry)
            continue
        if has_element is None:
            wanted = "/".join(item.elements_any)
            result.undecided.append((entry, f"composition not stated; {item.name} needs {wanted}"))
            continue
        if flags == HS and item.hs_basket:
            message = f"HS {line.hs_code} alone does not tell whether the line is {item.name}"
            result.undecided.append((entry, message))
            continue
        if flags & SHARED:
            message = (
                f"HS {line.hs_code} is shared by items of {entry.measure.id} with different"
                f" criteria; the description must say whether the line is {item.name}"
            )
            result.undecided.append((entry, message))
            continue
        if item.threshold is not None:
            met = evaluate(line, item.threshold)
            if met is False:
                result.below.append((entry, f"below the threshold of {entry.control_id}"))
                continue
            if met is None:
                lacking = ", ".join(missing_facts(line, item.threshold))
                result.undecided.append((entry, f"{lacking} needed to test {entry.control_id}"))
                continue
        if criterion is None:
            result.undecided.append((entry, f"{item.unassessed_criterion} cannot be assessed"))
            continue
        if flags == BROAD:
            message = (
                f"the description names only the family of {item.name}, not a listed form;"
                " state what the goods are"
            )
            result.undecided.append((entry, message))
            continue
        result.controlled.append(entry)
    if situation.derived and (result.controlled or result.undecided):
        _apply_derived(situation.derived, event, line, result)
    return result


def _reexported(
    situation: Situation, entry: Entry, line: CargoLine
) -> tuple[Entry, MeasureStatus] | None:
    """The item under a re-export rule that takes it, when its own measure does not reach the
    shipment (No. 18's items re-exported from outside China fall under No. 61 Art. 1(3))."""
    for rule, status in situation.reexport:
        if rule.takes(entry) and (
            not rule.by_origin or origin_in_scope(rule.measure.scope, line.origin_country)
        ):
            return Entry.of(rule.measure, entry.item), status
    return None


def _criterion_stated(item: Item, line: CargoLine) -> bool | None:
    """Whether the description states that the item's unassessed criterion is met (``curved``)
    or not (``flat``); ``None`` when it says neither."""
    words = keyword_tokens(line.description)
    if item.criterion_failed_by and any(w in item.criterion_failed_by for w in words):
        return False
    if item.criterion_met_by and any(w in item.criterion_met_by for w in words):
        return True
    return None


def _apply_derived(
    derived: tuple[Derived, ...], event: ShipmentEvent, line: CargoLine, result: Classification
) -> None:
    """Prohibitions and re-export rules that apply to the items the line was found to be.

    ``derived`` holds the measures in force whose destination and exporter limits include the
    shipment; the line's origin is checked here.
    """
    for rule in derived:
        measure = rule.measure
        if rule.by_origin and not origin_in_scope(measure.scope, line.origin_country):
            continue
        sources = [e for e in result.controlled if rule.takes(e)]
        if measure.kind is ControlKind.LICENCE_REQUIRED:
            result.controlled.extend(Entry.of(measure, e.item) for e in sources)
            continue
        if not sources:
            continue
        if rule.prohibits(event.end_use):
            result.prohibited.append(rule)
        elif rule.prohibits_if_military(event.end_use):
            result.end_use_unknown.append(rule)
