"""ControlledParty: an entity on one of China's controlled-party lists, on ``parties.v1``
(CONTRACT.md, "v1 additions"; facts in reference/cn-controlled-parties.json)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from schemas._common import (
    INPUT_MODEL_CONFIG,
    OUTPUT_MODEL_CONFIG,
    CountryCode,
    Description,
    Identifier,
    Name,
)


class PartyList(StrEnum):
    """Which list names the entity (what each implies: reference/cn-controlled-parties.md)."""

    CONTROL = "control"
    """MOFCOM's export-control list (Export Control Law art. 18)."""
    WATCH = "watch"
    UEL = "UEL"
    """The unreliable entity list."""
    COUNTERMEASURE = "countermeasure"


class PartyStatus(StrEnum):
    IN_FORCE = "in_force"
    SUSPENDED = "suspended"
    CEASED = "ceased"
    IN_FORCE_UNCONFIRMED = "in_force_unconfirmed"
    """A suspension window ended and no source says whether it was extended: the measures apply
    again by default."""
    SUSPENDED_UNCONFIRMED = "suspended_unconfirmed"


class StatusWindow(BaseModel):
    """The listing's status from ``from`` to ``to`` (both inclusive; ``to`` null = open-ended)."""

    model_config = INPUT_MODEL_CONFIG

    status: PartyStatus
    from_: date = Field(alias="from")
    to: date | None = None

    @model_validator(mode="after")
    def _is_ordered(self) -> StatusWindow:
        if self.to is not None and self.to < self.from_:
            raise ValueError("to: must not be before from")
        return self


class ControlledParty(BaseModel):
    """One listed entity; ``weak`` = named only by one unofficial source ([?] in the reference)."""

    model_config = INPUT_MODEL_CONFIG | {"populate_by_name": True}

    entity_id: Identifier
    name: Name
    name_zh: Name | None = None
    aliases: Annotated[list[Name], Field(max_length=64)] = []
    country: CountryCode | None = None
    """ISO 3166-1 alpha-2 where the sources state one country; otherwise null and ``note`` says
    what they state."""
    list_: PartyList = Field(alias="list")
    """The list (``list`` on the wire)."""
    announcement: Name
    announcement_key: Identifier | None = None
    listed_on: date
    effective_on: date
    status_windows: Annotated[list[StatusWindow], Field(min_length=1, max_length=64)]
    weak: bool = False
    note: Description | None = None
    sources: Annotated[list[Identifier], Field(max_length=64)] = []

    def status_on(self, day: date) -> PartyStatus | None:
        """The listing's status on ``day``, or ``None`` before its first window."""
        for window in self.status_windows:
            if window.from_ <= day and (window.to is None or day <= window.to):
                return window.status
        return None


class MatchKind(StrEnum):
    """How a shipment's party matched a listed entity (services/screening/parties)."""

    EXACT = "exact"
    """The normalised name equals a recorded name of the entity, and the country agrees."""
    LIKELY = "likely"
    """A near miss: similar, containing a recorded name, or the same name in another country."""


class PartyEffect(StrEnum):
    """What a match did to the decision."""

    PROHIBITED = "prohibited"
    """PROHIBITED_END_USER on the lines the list covers."""
    REVIEW = "review"
    """PARTY_REVIEW on the lines the list covers: a person decides."""
    NONE = "none"
    """Recorded for the auditor only: the listing is not in force on the ship date."""


class PartyMatch(BaseModel):
    """Evidence: one shipment party matched against one listing of a controlled party."""

    model_config = OUTPUT_MODEL_CONFIG

    role: str
    """``consignee`` or ``end_user``."""
    party_name: str
    party_country: str
    entity_id: str
    party_list: PartyList
    announcement: str
    announcement_key: str | None = None
    name_matched: str
    """The recorded name (canonical, alias or Chinese) that matched."""
    score: int
    """Similarity 0-100 (rapidfuzz); 100 for an exact match."""
    kind: MatchKind
    status: PartyStatus | None
    """The listing's status on the ship date (``None``: not yet listed)."""
    weak: bool
    effect: PartyEffect
