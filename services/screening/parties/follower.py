"""The party list of a running service, as ``parties.v1`` (compacted) tells it.

Each record is one listing keyed by :func:`.listing.listing_key`; a tombstone (null value)
removes the listing. The index is rebuilt once per fetched batch (:meth:`PartyListState.flush`),
not once per record: publishing a whole list is one change, one re-screen.

Until anything has been published, the bundled list is used (and said so loudly): a service
must not screen against no list at all because an operator has not run
``lodestone parties publish`` yet. Once the topic holds a listing, the topic alone is the list.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from schemas import ControlledParty
from schemas.strict_json import JsonInputError, loads_strict
from schemas.validation import summarise_validation_error
from services.common.logging import get_logger
from services.screening.parties.index import PartyIndex
from services.screening.parties.listing import PartyListError, listing_key, load_bundled_parties

log = get_logger(__name__)


@dataclass(frozen=True)
class PartyListChange:
    """Listings added, changed or removed by one batch of ``parties.v1`` records."""

    before: tuple[ControlledParty, ...]
    """The earlier versions of the changed or removed listings."""
    after: tuple[ControlledParty, ...]
    """The new versions of the added or changed listings."""
    index: PartyIndex
    """The whole list after the change."""


class PartyListState:
    """The listings read so far, and the changes not yet turned into an index."""

    def __init__(self) -> None:
        self._listings: dict[str, ControlledParty] = {}
        self._before: dict[str, ControlledParty | None] = {}
        self.published = False

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """Apply one record; raises :class:`PartyListError` for a record that cannot be read."""
        if value is None:
            if key is None:
                raise PartyListError("a tombstone without a key")
            self._set(key.decode("utf-8", "replace"), None)
            return
        try:
            party = ControlledParty.model_validate(loads_strict(value))
        except JsonInputError as exc:
            raise PartyListError(f"not acceptable JSON: {exc}") from exc
        except ValidationError as exc:
            raise PartyListError(summarise_validation_error(exc)) from exc
        expected = listing_key(party)
        if key is not None and key.decode("utf-8", "replace") != expected:
            raise PartyListError(f"record key is not the listing key {expected!r}")
        self._set(expected, party)

    def _set(self, key: str, party: ControlledParty | None) -> None:
        self.published = True
        current = self._listings.get(key)
        if current == party:
            return
        self._before.setdefault(key, current)
        if party is None:
            self._listings.pop(key, None)
        else:
            self._listings[key] = party

    def initial_index(self) -> tuple[PartyIndex, str]:
        """The index after the initial load, and where its list came from."""
        self._before.clear()
        if not self.published:
            index = PartyIndex(load_bundled_parties())
            log.warning(
                "NO PARTY LIST PUBLISHED: screening against the bundled list",
                party_list_version=index.version,
                hint="run `lodestone parties publish`",
            )
            return index, "bundled"
        return PartyIndex(list(self._listings.values())), "published"

    def flush(self) -> PartyListChange | None:
        """The change since the last flush (``None``: nothing changed)."""
        if not self._before:
            return None
        before = tuple(p for p in self._before.values() if p is not None)
        after = tuple(self._listings[k] for k in self._before if k in self._listings)
        self._before.clear()
        return PartyListChange(before, after, PartyIndex(list(self._listings.values())))
