"""The control catalogue: measures, their legal basis, dated windows, scope and controlled items.

Every model is strict and forbids unknown fields: a misspelt threshold in the catalogue must be an
error, never a control that silently stops applying.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas._common import ControlCode, CountryCode, ElementSymbol, HsPrefix
from schemas.shipment import STANDARD_PROPERTIES, EndUse

CATALOGUE_CONFIG = ConfigDict(strict=True, extra="forbid", frozen=True)

Text = Annotated[str, Field(min_length=1, max_length=2000)]
MeasureId = Annotated[str, Field(pattern=r"^[A-Z]{2}-\d{4}-\d+(/[A-Za-z0-9.()]+)?$")]
ItemId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.()_-]{0,63}$")]
Keyword = Annotated[str, Field(min_length=2, max_length=80, pattern=r"^[a-z0-9][a-z0-9 -]*$")]
#: One lower-case word (a form such as ``oxide``, or a word stating a criterion such as ``curved``).
Word = Annotated[str, Field(min_length=2, max_length=40, pattern=r"^[a-z0-9]+$")]

#: Fields added after catalogues were first published: left out of the canonical content while
#: they hold their default, so that the version (hash) of an older catalogue does not change.
_LATER_FIELDS: dict[str, object] = {
    "status_confirmed_through": None,
    "export_countries": [],
    "broad_keywords": [],
    "forms": [],
    "criterion_met_by": [],
    "criterion_failed_by": [],
}


class CatalogueError(ValueError):
    """The catalogue cannot be read, does not validate, or its version does not match."""


class ControlKind(StrEnum):
    """What a measure does to the items in its scope."""

    LICENCE_REQUIRED = "licence_required"
    PROHIBITED = "prohibited"
    #: Recorded for completeness, not screened (e.g. a trading-rights layer, technology transfer).
    INFORMATIONAL = "informational"


class ProhibitionGround(StrEnum):
    END_USE = "end_use"
    DESTINATION = "destination"


class MeasureStatus(StrEnum):
    NOT_YET_EFFECTIVE = "not_yet_effective"
    IN_FORCE = "in_force"
    SUSPENDED = "suspended"
    LAPSED = "lapsed"


def fact_name_is_known(fact: str) -> bool:
    """``purity_pct``, a standard property (CONTRACT.md) or ``element:<symbol>``."""
    if fact == "purity_pct" or fact in STANDARD_PROPERTIES:
        return True
    if fact.startswith("element:"):
        from schemas.shipment import ElementContent

        try:
            ElementContent(element=fact.removeprefix("element:"), mass_pct=Decimal(0))
        except ValueError:
            return False
        return True
    return False


class Threshold(BaseModel):
    """One comparison of a line's fact with a value, e.g. ``purity_pct >= 99.99``."""

    model_config = CATALOGUE_CONFIG

    fact: str
    op: Literal[">", ">=", "<", "<=", "=="]
    value: Decimal

    @field_validator("fact")
    @classmethod
    def _known_fact(cls, fact: str) -> str:
        if not fact_name_is_known(fact):
            raise ValueError(
                f"{fact!r}: use purity_pct, a standard property name or element:<symbol>"
            )
        return fact


class Condition(BaseModel):
    """All of ``all_of`` and, when given, at least one of ``any_of`` must hold."""

    model_config = CATALOGUE_CONFIG

    all_of: list[Threshold | Condition] = []
    any_of: list[Threshold | Condition] = []

    @model_validator(mode="after")
    def _not_empty(self) -> Condition:
        if not self.all_of and not self.any_of:
            raise ValueError("a condition needs all_of or any_of")
        return self


class Item(BaseModel):
    """A controlled item: how to recognise it on a cargo line, and when it is controlled."""

    model_config = CATALOGUE_CONFIG

    id: ItemId
    name: Text
    control_code: ControlCode | None = None
    hs_codes: list[HsPrefix] = []
    keywords: list[Keyword] = []
    #: Words that name the element or family but none of the item's listed forms (``bismuth``,
    #: ``battery pack``): a line recognised by nothing else is held for data, not controlled.
    broad_keywords: list[Keyword] = []
    #: The HS codes are basket lines ("other machines"): an HS match alone does not identify
    #: the item, so such a line is held for data unless a keyword or control code settles it.
    hs_basket: bool = False
    #: Element-defined items: recognised when the composition or a chemical formula in the
    #: description (``Sm2Co17``, ``DyF3``) names one of these elements.
    recognise_elements: list[ElementSymbol] = []
    #: Form words (``oxide``, ``fluoride``, ``ingot``) that pick this item among the items of the
    #: same element when the line was recognised by its elements only; no form word on the line
    #: = every such item is a candidate.
    forms: list[Word] = []
    #: The item is only this item when its composition holds one of these elements (e.g. Dy/Tb).
    elements_any: list[ElementSymbol] = []
    #: Thresholds that decide control; absent = every form of the item is controlled.
    threshold: Condition | None = None
    #: A criterion of the measure that no standard fact expresses: a line meeting the thresholds
    #: is held for data unless a licence covers it.
    unassessed_criterion: Text | None = None
    #: Words in the description stating that the unassessed criterion is met (``curved``) …
    criterion_met_by: list[Word] = []
    #: … or that it is not (``flat``): then the line is not this item.
    criterion_failed_by: list[Word] = []
    unconfirmed: bool = False
    note: Text | None = None

    @model_validator(mode="after")
    def _recognisable(self) -> Item:
        if not (
            self.control_code
            or self.hs_codes
            or self.keywords
            or self.broad_keywords
            or self.recognise_elements
        ):
            raise ValueError(f"item {self.id}: give a control code, HS codes or keywords")
        if (self.criterion_met_by or self.criterion_failed_by) and not self.unassessed_criterion:
            raise ValueError(f"item {self.id}: criterion words need an unassessed_criterion")
        if self.forms and not self.recognise_elements:
            raise ValueError(f"item {self.id}: forms choose among element-defined items only")
        return self


class LegalBasis(BaseModel):
    model_config = CATALOGUE_CONFIG

    citation: Text  # e.g. "MOFCOM/GAC Announcement 2025 No. 18"
    issuers: Annotated[list[str], Field(min_length=1)]
    issued: date | None = None
    article: str | None = None


class Suspension(BaseModel):
    """A window during which a measure does not apply; both ``start`` and ``end`` are inclusive."""

    model_config = CATALOGUE_CONFIG

    start: date
    end: date
    basis: Text
    note: Text | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Suspension:
        if self.end < self.start:
            raise ValueError("suspension end is before its start")
        return self


class Scope(BaseModel):
    """Where a measure is limited to some destinations, end uses, exporters or origins."""

    model_config = CATALOGUE_CONFIG

    #: Matches the destination country or the end user's country; empty = any.
    countries: list[CountryCode] = []
    end_uses: list[EndUse] = []
    #: The customs territories the goods leave (``ShipmentEvent.export_country``, absent = the
    #: exporter's country) that the measure reaches; empty = any.
    export_countries: list[CountryCode] = []
    #: Export territories the measure does not reach (read like ``export_countries``; the name
    #: predates ``export_country``).
    exporter_countries_not: list[CountryCode] = []
    origin_countries: list[CountryCode] = []
    origin_countries_not: list[CountryCode] = []


class Measure(BaseModel):
    model_config = CATALOGUE_CONFIG

    id: MeasureId
    title: Text
    legal_basis: LegalBasis
    kind: ControlKind
    ground: ProhibitionGround | None = None
    effective_from: date
    effective_to: date | None = None
    suspensions: list[Suspension] = []
    scope: Scope = Scope()
    items: list[Item] = []
    #: Prohibitions and re-export rules: apply to the lines controlled by these measures
    #: (``*`` = every licensing measure in force).
    items_from: list[str] = []
    unconfirmed: bool = False
    #: The last ship date whose status an announcement confirms; on later dates the status is
    #: assumed from the catalogue's dates (decisions then carry MEASURE_STATUS_UNCONFIRMED).
    status_confirmed_through: date | None = None
    note: Text | None = None
    sources: list[str] = []

    @model_validator(mode="after")
    def _coherent(self) -> Measure:
        if (self.kind is ControlKind.PROHIBITED) != (self.ground is not None):
            raise ValueError(f"{self.id}: a prohibition needs a ground, nothing else has one")
        if self.kind is not ControlKind.INFORMATIONAL and not (self.items or self.items_from):
            raise ValueError(f"{self.id}: a screened measure needs items or items_from")
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError(f"{self.id}: effective_to is before effective_from")
        ids = [item.id for item in self.items]
        if len(ids) != len(set(ids)):
            raise ValueError(f"{self.id}: item ids must be unique")
        return self

    def status_on(self, day: date) -> MeasureStatus:
        """The measure's status on a ship date (suspension ends are inclusive; ADR 0002)."""
        if day < self.effective_from:
            return MeasureStatus.NOT_YET_EFFECTIVE
        if self.effective_to is not None and day > self.effective_to:
            return MeasureStatus.LAPSED
        if any(s.start <= day <= s.end for s in self.suspensions):
            return MeasureStatus.SUSPENDED
        return MeasureStatus.IN_FORCE

    def status_unconfirmed_on(self, day: date) -> bool:
        """Whether the status on ``day`` is assumed (after ``status_confirmed_through``)."""
        through = self.status_confirmed_through
        return through is not None and day > through

    def control_id(self, item: Item | None = None) -> str:
        """``CN-2025-18/1C902.b``: the measure id and the item's control code (or item id)."""
        if item is None:
            return self.id
        return f"{self.id}/{item.control_code or item.id}"


class Catalogue(BaseModel):
    """A versioned catalogue; ``version`` is the label plus a hash of the canonical content."""

    model_config = CATALOGUE_CONFIG

    label: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}\.\d+$")]
    title: Text
    timezone: Literal["Asia/Shanghai"] = "Asia/Shanghai"
    measures: list[Measure]

    @model_validator(mode="after")
    def _references_resolve(self) -> Catalogue:
        ids = [m.id for m in self.measures]
        if len(ids) != len(set(ids)):
            raise ValueError("measure ids must be unique")
        known = set(ids) | {"*"}
        for measure in self.measures:
            unknown = set(measure.items_from) - known
            if unknown:
                raise ValueError(f"{measure.id}: items_from names unknown {sorted(unknown)}")
        return self

    def canonical_content(self) -> bytes:
        """Canonical JSON of the content (sorted keys, no spaces, UTF-8): what the hash covers."""
        content = self.model_dump(mode="json")
        _drop_later_defaults(content)
        return json.dumps(
            content, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()

    @cached_property
    def version(self) -> str:
        digest = hashlib.sha256(self.canonical_content()).hexdigest()
        return f"{self.label}+sha256:{digest}"

    def to_wire(self) -> bytes:
        """Canonical JSON for ``controls.v1``: the content plus its ``version``."""
        content = json.loads(self.canonical_content())
        content["version"] = self.version
        return json.dumps(
            content, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()

    @classmethod
    def from_wire(cls, payload: bytes, source: str = "controls.v1") -> Catalogue:
        """Load a catalogue from its wire form; its stated ``version`` must match its content."""
        try:
            raw = json.loads(payload)
        except ValueError as exc:
            raise CatalogueError(f"{source}: not JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise CatalogueError(f"{source}: a catalogue is a JSON object")
        stated = raw.pop("version", None)
        try:
            catalogue = cls.model_validate_json(json.dumps(raw))
        except ValueError as exc:
            raise CatalogueError(f"{source}: {exc}") from exc
        if stated is not None and stated != catalogue.version:
            raise CatalogueError(
                f"{source}: version {stated} does not match the content ({catalogue.version})"
            )
        return catalogue

    def measure(self, measure_id: str) -> Measure:
        for measure in self.measures:
            if measure.id == measure_id:
                return measure
        raise KeyError(measure_id)


def _drop_later_defaults(node: object) -> None:
    """Remove fields added after v1 while they hold their default (see ``_LATER_FIELDS``)."""
    if isinstance(node, dict):
        for key, default in _LATER_FIELDS.items():
            if key in node and node[key] == default:
                del node[key]
        for value in node.values():
            _drop_later_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _drop_later_defaults(value)
