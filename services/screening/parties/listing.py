"""The party list: building it from the reference or from ``parties.v1`` records.

A *listing* is one entity on one list by one announcement (an entity listed on the control list
and the unreliable entity list has two). ``parties.v1`` is keyed by :func:`listing_key`
(``entity_id/announcement_key``): keyed by the entity id alone, compaction would keep only one
of an entity's listings (ADR 0028).

Two input shapes are accepted, both read with :func:`schemas.strict_json.loads_strict`:

- the reference compilation (``{"entities": [...], ...}``, as
  ``data/cn-controlled-parties.json``): its ``country`` is free text where the sources state no
  single ISO country (``"EU (member state not stated in P1)"``, a conflict between sources); such
  an entry gets ``country`` null and the text in ``note``; a name's trailing remark about its
  source (``"Nile Technology Corporation (MT garble, P9)"``, ``"(P45 spelling)"``) is removed,
  since no shipment will carry it;
- a JSON array of ControlledParty objects (the wire shape).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any

from pydantic import ValidationError

from schemas import ControlledParty
from schemas.strict_json import JsonInputError, loads_strict
from schemas.validation import summarise_validation_error

BUNDLED_PARTIES = "cn-controlled-parties.json"
#: A trailing remark citing a source key (P9, P78 ...) or a spelling note.
_SOURCE_REMARK = re.compile(r"\s*\((?:[^()]*\bP\d+\b[^()]*|[^()]*\bspelling\b[^()]*)\)\s*$")


class PartyListError(ValueError):
    """The party list cannot be read; the message names the entry and the field."""


def listing_key(party: ControlledParty) -> str:
    """The ``parties.v1`` key of one listing: entity id and announcement."""
    return f"{party.entity_id}/{party.announcement_key or party.announcement}"


def parse_party_list(data: bytes | str, source: str = "party list") -> list[ControlledParty]:
    """Read either input shape (module docstring); raises :class:`PartyListError` only."""
    try:
        raw = loads_strict(data)
    except JsonInputError as exc:
        raise PartyListError(f"{source}: not acceptable JSON: {exc}") from exc
    if isinstance(raw, dict) and isinstance(raw.get("entities"), list):
        entries: list[Any] = [_from_reference(e) for e in raw["entities"]]
    elif isinstance(raw, list):
        entries = raw
    else:
        raise PartyListError(
            f"{source}: expected a JSON array of ControlledParty objects"
            " or a reference compilation with an 'entities' array"
        )
    parties = [_validate(source, position, entry) for position, entry in enumerate(entries)]
    check_unique(parties, source)
    return parties


def _from_reference(entry: object) -> object:
    """A reference entity row as a ControlledParty: non-ISO country text moves to ``note``."""
    if not isinstance(entry, dict):
        return entry
    names = [_without_remark(a) for a in entry.get("aliases") or [] if isinstance(a, str)]
    if isinstance(entry.get("name"), str):
        entry = {**entry, "name": _without_remark(entry["name"])}
    entry = {**entry, "aliases": [a for a in dict.fromkeys(names) if a and a != entry.get("name")]}
    country = entry.get("country")
    if isinstance(country, str) and not (len(country) == 2 and country.isascii()):
        note = entry.get("note")
        stated = f"country per the sources: {country}"
        entry = {**entry, "country": None, "note": f"{stated}; {note}" if note else stated}
    return entry


def _without_remark(name: str) -> str:
    return _SOURCE_REMARK.sub("", name)


def _validate(source: str, position: int, entry: object) -> ControlledParty:
    if not isinstance(entry, dict):
        raise PartyListError(f"{source} [{position}]: expected a JSON object")
    try:
        return ControlledParty.model_validate(entry)
    except ValidationError as exc:
        ident = str(entry.get("entity_id", ""))[:64]
        label = f"[{position}]" + (f" entity_id={ident!r}" if ident else "")
        raise PartyListError(f"{source} {label}: {summarise_validation_error(exc)}") from exc


def check_unique(parties: Iterable[ControlledParty], source: str = "party list") -> None:
    seen: set[str] = set()
    for party in parties:
        key = listing_key(party)
        if key in seen:
            raise PartyListError(f"{source}: listing {key!r} appears twice")
        seen.add(key)


def load_bundled_parties() -> list[ControlledParty]:
    """The list shipped with the package, built from the reference compilation."""
    text = resources.files("services.screening.parties.data").joinpath(BUNDLED_PARTIES)
    return parse_party_list(text.read_bytes(), BUNDLED_PARTIES)


def party_list_version(parties: Sequence[ControlledParty]) -> str:
    """A content hash of the listings (order-independent): names the list a decision used."""
    digest = hashlib.sha256()
    for party in sorted(parties, key=listing_key):
        digest.update(party.model_dump_json(by_alias=True).encode())
        digest.update(b"\n")
    return f"parties-{digest.hexdigest()[:16]}"
