"""What the catalogue says about one cargo line on its ship date, before licences are considered."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from schemas.shipment import CargoLine, EndUse, ShipmentEvent
from services.screening.catalogue.model import (
    ControlKind,
    Measure,
    MeasureStatus,
    ProhibitionGround,
    Scope,
)
from services.screening.engine.conditions import composition_has_any, evaluate, missing_facts
from services.screening.engine.index import CatalogueIndex, Entry
from services.screening.engine.recognition import recognise


@dataclass(slots=True)
class Classification:
    """The catalogue's view of a line: controlled, possibly controlled, suspended, below, none."""

    controlled: list[Entry] = field(default_factory=list)
    #: Items the line may be, with the facts it lacks to tell.
    undecided: list[tuple[Entry, str]] = field(default_factory=list)
    suspended: list[Entry] = field(default_factory=list)
    below: list[tuple[Entry, str]] = field(default_factory=list)
    #: (measure, message) of prohibitions that apply.
    prohibited: list[tuple[Measure, str]] = field(default_factory=list)
    #: (measure, message) of prohibitions that apply if the unknown end use is military.
    end_use_unknown: list[tuple[Measure, str]] = field(default_factory=list)


#: The classification of a line that matches no item (shared; never modified).
NOTHING = Classification()


class StatusCache(dict[str, MeasureStatus]):
    """Measure statuses on one ship date, computed once per decision."""

    def __init__(self, day: date) -> None:
        super().__init__()
        self.day = day

    def of(self, measure: Measure) -> MeasureStatus:
        status = self.get(measure.id)
        if status is None:
            status = self[measure.id] = measure.status_on(self.day)
        return status


def scope_applies(scope: Scope, event: ShipmentEvent, line: CargoLine) -> bool:
    """Whether a measure's destination, exporter and origin limits include this line."""
    if scope.countries and not (
        event.destination_country in scope.countries or event.end_user.country in scope.countries
    ):
        return False
    if scope.exporter_countries_not and event.exporter.country in scope.exporter_countries_not:
        return False
    if scope.origin_countries and line.origin_country not in scope.origin_countries:
        return False
    return not (scope.origin_countries_not and line.origin_country in scope.origin_countries_not)


def classify(
    index: CatalogueIndex, event: ShipmentEvent, line: CargoLine, statuses: StatusCache
) -> Classification:
    recognised = recognise(index, line)
    if not recognised:
        return NOTHING
    result = Classification()
    for position, hs_only in recognised:
        entry = index.entries[position]
        measure, item = entry.measure, entry.item
        if measure.kind is not ControlKind.LICENCE_REQUIRED or measure.items_from:
            continue
        status = statuses.of(measure)
        if status is MeasureStatus.NOT_YET_EFFECTIVE or status is MeasureStatus.LAPSED:
            continue
        if not scope_applies(measure.scope, event, line):
            continue
        has_element = composition_has_any(line, item.elements_any) if item.elements_any else True
        if has_element is False:
            continue
        if status is MeasureStatus.SUSPENDED:
            result.suspended.append(entry)
            continue
        if has_element is None:
            wanted = "/".join(item.elements_any)
            result.undecided.append((entry, f"composition not stated; {item.name} needs {wanted}"))
            continue
        if hs_only and item.hs_basket:
            message = f"HS {line.hs_code} alone does not tell whether the line is {item.name}"
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
        if item.unassessed_criterion:
            result.undecided.append((entry, f"{item.unassessed_criterion} cannot be assessed"))
            continue
        result.controlled.append(entry)
    if index.derived and (result.controlled or result.undecided):
        _apply_derived(index, event, line, statuses, result)
    return result


def _sources_match(measure: Measure, entries: list[Entry]) -> list[Entry]:
    if "*" in measure.items_from:
        return entries
    return [e for e in entries if e.measure.id in measure.items_from]


def _apply_derived(
    index: CatalogueIndex,
    event: ShipmentEvent,
    line: CargoLine,
    statuses: StatusCache,
    result: Classification,
) -> None:
    """Prohibitions and re-export rules that apply to the items the line was found to be."""
    for measure in index.derived:
        if statuses.of(measure) is not MeasureStatus.IN_FORCE:
            continue
        if not scope_applies(measure.scope, event, line):
            continue
        sources = _sources_match(measure, result.controlled)
        if measure.kind is ControlKind.LICENCE_REQUIRED:
            result.controlled.extend(
                Entry(measure, e.item, measure.control_id(e.item)) for e in sources
            )
            continue
        if not sources:
            continue
        end_uses = measure.scope.end_uses
        if not end_uses or event.end_use in end_uses:
            what = "end use" if measure.ground is ProhibitionGround.END_USE else "destination"
            result.prohibited.append((measure, f"{measure.title}: prohibited {what}"))
        elif event.end_use is EndUse.UNKNOWN and EndUse.MILITARY in end_uses:
            result.end_use_unknown.append(
                (measure, f"end use unknown; {measure.title} prohibits military end use")
            )
