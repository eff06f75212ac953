"""An index of the catalogue's items by HS prefix, control code, keyword and element.

Recognising a line costs a handful of dictionary look-ups whatever the catalogue's size: no scan
over all items per line. What depends only on the ship date and the shipment's parties (which
measures are in force, which prohibitions reach the destination) is computed once per such
situation and cached with the index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from schemas.decision import DecisionWarning, ReasonCode
from schemas.shipment import EndUse, ShipmentEvent
from services.screening.catalogue.model import (
    Catalogue,
    ControlKind,
    Item,
    Measure,
    MeasureStatus,
    ProhibitionGround,
    Scope,
)

_TOKEN = re.compile(r"[a-z0-9]+")

#: Most situations (ship date and parties' countries) kept per catalogue index.
_SITUATION_LIMIT = 4096


@lru_cache(maxsize=65_536)
def tokens(text: str) -> tuple[str, ...]:
    """Lower-case word tokens of a description; ``Sm-Co`` gives ``sm``, ``co``."""
    return tuple(_TOKEN.findall(text.lower()))


def _singular(token: str) -> str:
    if len(token) > 3 and token.endswith("es") and token[-3] in "sxz":
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


@lru_cache(maxsize=65_536)
def keyword_tokens(text: str) -> tuple[str, ...]:
    """Tokens with plurals folded, so that ``magnets`` matches the keyword ``magnet``."""
    return tuple(_singular(t) for t in tokens(text))


def legal_basis(measure: Measure) -> str:
    """The legal basis as cited in reasons: the citation and, when given, the article."""
    basis = measure.legal_basis
    return f"{basis.citation} {basis.article}" if basis.article else basis.citation


def _limits(scope: Scope) -> Scope | None:
    """``scope`` when it limits anything, else ``None`` (most measures: nothing to check)."""
    limited = (
        scope.countries
        or scope.end_uses
        or scope.export_countries
        or scope.exporter_countries_not
        or scope.origin_countries
        or scope.origin_countries_not
    )
    return scope if limited else None


def parties_in_scope(scope: Scope, event: ShipmentEvent) -> bool:
    """Whether a measure's destination and export-territory limits include the shipment.

    The export territory is ``export_country``, else the exporter's country (CONTRACT.md).
    """
    if scope.countries and not (
        event.destination_country in scope.countries or event.end_user.country in scope.countries
    ):
        return False
    leaves_from = event.leaves_from
    if scope.export_countries and leaves_from not in scope.export_countries:
        return False
    return not (scope.exporter_countries_not and leaves_from in scope.exporter_countries_not)


def origin_in_scope(scope: Scope, origin: str) -> bool:
    """Whether a measure's origin limits include a line of the given origin."""
    if scope.origin_countries and origin not in scope.origin_countries:
        return False
    return not (scope.origin_countries_not and origin in scope.origin_countries_not)


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of one measure: the unit of recognition, with what its reasons cite."""

    measure: Measure
    item: Item
    control_id: str
    #: The measure's legal basis as cited in reasons.
    basis: str
    #: The measure's scope when it limits anything, else ``None``.
    scope: Scope | None
    #: Whether the scope limits the line's origin (checked per line; the rest per situation).
    by_origin: bool = False

    @classmethod
    def of(cls, measure: Measure, item: Item) -> Entry:
        scope = measure.scope
        return cls(
            measure,
            item,
            measure.control_id(item),
            legal_basis(measure),
            _limits(scope),
            bool(scope.origin_countries or scope.origin_countries_not),
        )


@dataclass(frozen=True, slots=True)
class Derived:
    """A measure whose items are those of other measures: a prohibition or a re-export rule."""

    measure: Measure
    #: Source measure ids, or ``None`` for every licensing measure (``*``).
    sources: frozenset[str] | None
    basis: str
    #: Whether the scope limits the lines' origin (checked per line; the rest per shipment).
    by_origin: bool
    #: For prohibitions: the reason code and the messages of a prohibition that applies, and of
    #: one that would apply if the unknown end use were military.
    code: ReasonCode | None
    prohibited_message: str
    unknown_end_use_message: str

    @classmethod
    def of(cls, measure: Measure) -> Derived:
        scope = measure.scope
        ground = measure.ground
        what = "end use" if ground is ProhibitionGround.END_USE else "destination"
        code = None
        if measure.kind is ControlKind.PROHIBITED:
            code = (
                ReasonCode.PROHIBITED_END_USE
                if ground is ProhibitionGround.END_USE
                else ReasonCode.PROHIBITED_DESTINATION
            )
        return cls(
            measure=measure,
            sources=None if "*" in measure.items_from else frozenset(measure.items_from),
            basis=legal_basis(measure),
            by_origin=bool(scope.origin_countries or scope.origin_countries_not),
            code=code,
            prohibited_message=f"{measure.title}: prohibited {what}",
            unknown_end_use_message=(
                f"end use unknown; {measure.title} prohibits military end use"
            ),
        )

    def takes(self, entry: Entry) -> bool:
        """Whether the items of ``entry`` are among this measure's items."""
        return self.sources is None or entry.measure.id in self.sources

    def prohibits(self, end_use: EndUse) -> bool:
        end_uses = self.measure.scope.end_uses
        return not end_uses or end_use in end_uses

    def prohibits_if_military(self, end_use: EndUse) -> bool:
        return end_use is EndUse.UNKNOWN and EndUse.MILITARY in self.measure.scope.end_uses


@dataclass(frozen=True, slots=True)
class Situation:
    """What the catalogue says for one ship date and one set of parties' countries."""

    #: By entry position: the status of the entry's measure when it is screened directly and
    #: bears on the day (in force or suspended), else ``None``.
    status: tuple[MeasureStatus | None, ...]
    #: Derived measures in force whose destination and exporter limits include the shipment.
    derived: tuple[Derived, ...]
    #: Ids of the measures whose status on the day is assumed, not confirmed by an announcement.
    unconfirmed: frozenset[str]
    #: Ids of the screened measures whose destination and export-territory limits exclude the
    #: shipment (origin limits are checked per line).
    excluded: frozenset[str] = frozenset()
    #: Re-export rules (licensing measures taking other measures' items) whose destination and
    #: export-territory limits include the shipment, with their status on the day (in force or
    #: suspended): items whose own measure does not reach the shipment are screened under them.
    reexport: tuple[tuple[Derived, MeasureStatus], ...] = ()


@dataclass
class CatalogueIndex:
    entries: list[Entry] = field(default_factory=list)
    by_hs_prefix: dict[str, list[int]] = field(default_factory=dict)
    by_exact_code: dict[str, list[int]] = field(default_factory=dict)
    by_code_prefix: dict[str, list[int]] = field(default_factory=dict)
    #: First word -> (phrase words, entry position, whether the phrase is a broad keyword).
    by_first_token: dict[str, list[tuple[tuple[str, ...], int, bool]]] = field(default_factory=dict)
    by_element: dict[str, list[int]] = field(default_factory=dict)
    #: Measures whose items are those of other measures (prohibitions, re-export rules).
    derived: list[Derived] = field(default_factory=list)
    #: Directly screened measures whose scope limits anything.
    scoped: list[Measure] = field(default_factory=list)
    hs_lengths: tuple[int, ...] = ()
    #: Memoised recognition results, keyed by the line facts recognition depends on.
    recognition_cache: dict[tuple[str, str | None, str, tuple[str, ...]], Recognition] = field(
        default_factory=dict
    )
    #: For an item with a threshold: the other items of its measure on a shared HS code whose
    #: criteria can be tested too (the size bands of synthetic diamond, flat/curved windows).
    siblings: dict[int, tuple[int, ...]] = field(default_factory=dict)
    #: Memoised MEASURE_STATUS_UNCONFIRMED warnings, keyed by control id and ship date.
    warning_cache: dict[tuple[str, date], DecisionWarning] = field(default_factory=dict)
    _days: dict[date, _Day] = field(default_factory=dict)
    _situations: dict[tuple[date, str, str, str], Situation] = field(default_factory=dict)

    @classmethod
    def build(cls, catalogue: Catalogue) -> CatalogueIndex:
        index = cls()
        for measure in catalogue.measures:
            if measure.kind is ControlKind.INFORMATIONAL:
                continue
            if measure.items_from:
                index.derived.append(Derived.of(measure))
            if measure.items and _limits(measure.scope) is not None:
                index.scoped.append(measure)
            for item in measure.items:
                index._add(Entry.of(measure, item))
        index.hs_lengths = tuple(sorted({len(p) for p in index.by_hs_prefix}))
        index._link_siblings()
        return index

    def _add(self, entry: Entry) -> None:
        position = len(self.entries)
        self.entries.append(entry)
        item = entry.item
        for prefix in item.hs_codes:
            self.by_hs_prefix.setdefault(prefix, []).append(position)
        if item.control_code:
            self.by_exact_code.setdefault(item.control_code, []).append(position)
            parts = item.control_code.split(".")
            for end in range(1, len(parts) + 1):
                self.by_code_prefix.setdefault(".".join(parts[:end]), []).append(position)
        for keywords, broad in ((item.keywords, False), (item.broad_keywords, True)):
            for keyword in keywords:
                words = keyword_tokens(keyword)
                self.by_first_token.setdefault(words[0], []).append((words, position, broad))
        for element in item.recognise_elements:
            self.by_element.setdefault(element, []).append(position)

    def _link_siblings(self) -> None:
        def shares_hs(a: Item, b: Item) -> bool:
            return any(x.startswith(y) or y.startswith(x) for x in a.hs_codes for y in b.hs_codes)

        for position, entry in enumerate(self.entries):
            if entry.item.threshold is None:
                continue
            found = tuple(
                other
                for other, candidate in enumerate(self.entries)
                if other != position
                and candidate.measure is entry.measure
                and (candidate.item.threshold is not None or candidate.item.unassessed_criterion)
                and shares_hs(entry.item, candidate.item)
            )
            if found:
                self.siblings[position] = found

    def situation(self, event: ShipmentEvent) -> Situation:
        """The measures bearing on a shipment's ship date and parties (cached)."""
        key = (
            event.ship_date,
            event.destination_country,
            event.end_user.country,
            event.export_country or event.exporter.country,  # ShipmentEvent.leaves_from
        )
        found = self._situations.get(key)
        if found is None:
            if len(self._situations) >= _SITUATION_LIMIT:
                self._situations.clear()
            status, in_force, unconfirmed, reexport = self._day(event.ship_date)
            derived = tuple(d for d in in_force if parties_in_scope(d.measure.scope, event))
            reaching = tuple(r for r in reexport if parties_in_scope(r[0].measure.scope, event))
            excluded = frozenset(m.id for m in self.scoped if not parties_in_scope(m.scope, event))
            found = self._situations[key] = Situation(
                status, derived, unconfirmed, excluded, reaching
            )
        return found

    def _day(self, day: date) -> _Day:
        """Entry statuses, derived measures in force and assumed statuses on a day (cached)."""
        found = self._days.get(day)
        if found is None:
            if len(self._days) >= _SITUATION_LIMIT:
                self._days.clear()
            statuses: dict[str, MeasureStatus] = {}
            for entry in self.entries:
                if entry.measure.id not in statuses:
                    statuses[entry.measure.id] = entry.measure.status_on(day)
            status = tuple(
                _bearing(entry.measure, statuses[entry.measure.id]) for entry in self.entries
            )
            in_force = tuple(
                d for d in self.derived if d.measure.status_on(day) is MeasureStatus.IN_FORCE
            )
            measures = [e.measure for e in self.entries] + [d.measure for d in self.derived]
            unconfirmed = frozenset(m.id for m in measures if m.status_unconfirmed_on(day))
            reexport = tuple(
                (d, d.measure.status_on(day))
                for d in self.derived
                if d.measure.kind is ControlKind.LICENCE_REQUIRED
                and d.measure.status_on(day) in (MeasureStatus.IN_FORCE, MeasureStatus.SUSPENDED)
            )
            found = self._days[day] = (status, in_force, unconfirmed, reexport)
        return found


def _bearing(measure: Measure, status: MeasureStatus) -> MeasureStatus | None:
    """The status of a directly screened measure that bears on the day, else ``None``."""
    if measure.kind is not ControlKind.LICENCE_REQUIRED or measure.items_from:
        return None
    if status is MeasureStatus.NOT_YET_EFFECTIVE or status is MeasureStatus.LAPSED:
        return None
    return status


_Day = tuple[
    tuple[MeasureStatus | None, ...],
    tuple[Derived, ...],
    frozenset[str],
    tuple[tuple[Derived, MeasureStatus], ...],
]


@dataclass(frozen=True, slots=True)
class Recognition:
    """What a line may be: entry positions with their evidence flags, in catalogue order.

    ``mismatch`` holds the positions of the items the goods show when the declared control code
    contradicts them (empty otherwise); the declared code then adds no item.
    """

    entries: tuple[tuple[int, int], ...]
    mismatch: tuple[int, ...] = ()


_INDEXES: dict[str, CatalogueIndex] = {}


def index_for(catalogue: Catalogue) -> CatalogueIndex:
    """The (cached) index of a catalogue version."""
    index = _INDEXES.get(catalogue.version)
    if index is None:
        if len(_INDEXES) > 16:
            _INDEXES.clear()
        index = _INDEXES[catalogue.version] = CatalogueIndex.build(catalogue)
    return index
