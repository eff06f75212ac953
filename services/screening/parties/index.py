"""The party index: names of the listed entities looked up by normalised tokens, never scanned.

:meth:`PartyIndex.match` finds, for one shipment party, every listing it may be:

- **exact**: the party's normalised name (:mod:`.names`) equals a recorded name of the entity
  (canonical, alias or Chinese) and the countries agree (or the listing states no country);
- **likely** (a near miss, for a person): the same name in another country; or a similarity of
  at least :data:`REVIEW_THRESHOLD` (rapidfuzz ``token_sort_ratio`` for Latin script, ``ratio``
  for Chinese); or every word of a recorded name appears in the party's name ("Lockheed
  Martin Corp Supply Depot") — unless that recorded name is only part of a longer name the
  party matched exactly (Lockheed Martin Aeronautics is not a near miss of Lockheed Martin).

Candidates come from an inverted index keyed by the first :data:`KEY_LENGTH` characters of each
word (Chinese: character pairs); a key shared by more than :data:`MAX_POSTINGS` recorded names
is skipped when the name has another key. The cost per name is therefore bounded by the
postings of its words, not by the size of the list.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from schemas import ControlledParty, MatchKind
from services.screening.parties.listing import check_unique, listing_key, party_list_version
from services.screening.parties.names import NormalName, normalise

#: Similarity (0-100) from which a name that is not an exact match goes to a person.
REVIEW_THRESHOLD = 88
#: Characters of a word used as its index key (catches "Dynamic" for "Dynamics").
KEY_LENGTH = 4
#: A key shared by more names than this is too common to select candidates by.
MAX_POSTINGS = 256
#: A recorded name shorter than this (compact) is never matched by containment alone. Latin
#: containment compares whole words ("BDS" is found in "BDS Logistics", never in "EBDS"); a
#: two-character Chinese name (立方) is found inside a longer one.
MIN_CONTAINED = 2
#: Party names remembered with their matches (ERP traffic repeats its parties).
CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class _Recorded:
    listing: int
    text: str
    normal: NormalName
    words: frozenset[str]


@dataclass(frozen=True, slots=True)
class NameMatch:
    """One listing a name may be."""

    party: ControlledParty
    name_matched: str
    score: int
    kind: MatchKind
    country_differs: bool = False


class PartyIndex:
    """An immutable index of a party list (rebuild it when the list changes)."""

    def __init__(self, parties: Sequence[ControlledParty]) -> None:
        check_unique(parties)
        self.parties: tuple[ControlledParty, ...] = tuple(sorted(parties, key=listing_key))
        self.version = party_list_version(self.parties)
        self._names: list[_Recorded] = []
        self._exact: dict[str, list[int]] = defaultdict(list)
        postings: dict[str, set[int]] = defaultdict(set)
        for listing, party in enumerate(self.parties):
            texts = [party.name, *party.aliases]
            if party.name_zh:
                texts.append(party.name_zh)
            seen: set[tuple[str, ...]] = set()
            for text in texts:
                normal = normalise(text)
                if not normal.compact or normal.tokens in seen:
                    continue
                seen.add(normal.tokens)
                number = len(self._names)
                self._names.append(_Recorded(listing, text, normal, frozenset(normal.tokens)))
                self._exact[normal.compact].append(number)
                for key in _keys(normal):
                    postings[key].add(number)
        self._postings: dict[str, tuple[int, ...]] = {
            key: tuple(sorted(numbers)) for key, numbers in postings.items()
        }
        self._cache: dict[tuple[str, str | None], tuple[NameMatch, ...]] = {}

    def __len__(self) -> int:
        return len(self.parties)

    @property
    def name_count(self) -> int:
        return len(self._names)

    def match(self, name: str, country: str | None = None) -> tuple[NameMatch, ...]:
        """Every listing ``name`` (in ``country``) may be, best match per listing, in list order."""
        key = (name, country)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._match(normalise(name), country)
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = cached
        return cached

    def _match(self, query: NormalName, country: str | None) -> tuple[NameMatch, ...]:
        if not query.compact:
            return ()
        best: dict[int, NameMatch] = {}
        exact = self._exact.get(query.compact, ())
        for number in exact:
            recorded = self._names[number]
            party = self.parties[recorded.listing]
            differs = bool(country and party.country and party.country != country)
            kind = MatchKind.LIKELY if differs else MatchKind.EXACT
            _keep(best, recorded.listing, NameMatch(party, recorded.text, 100, kind, differs))
        explained = [self._names[n] for n in exact]
        words = frozenset(query.tokens)
        for number in self._candidates(query):
            recorded = self._names[number]
            if recorded.listing in best and best[recorded.listing].score == 100:
                continue
            score = _similarity(query, recorded.normal)
            if score < REVIEW_THRESHOLD and _contains(query, words, recorded):
                if any(_part_of(recorded, longer) for longer in explained):
                    continue
                score = 100
            if score >= REVIEW_THRESHOLD:
                party = self.parties[recorded.listing]
                match = NameMatch(party, recorded.text, score, MatchKind.LIKELY)
                _keep(best, recorded.listing, match)
        return tuple(best[listing] for listing in sorted(best))

    def _candidates(self, query: NormalName) -> set[int]:
        lists = sorted(
            (self._postings[key] for key in set(_keys(query)) if key in self._postings), key=len
        )
        selective = [p for p in lists if len(p) <= MAX_POSTINGS] or lists[:1]
        found: set[int] = set()
        for numbers in selective:
            found.update(numbers)
        return found


def _keys(normal: NormalName) -> list[str]:
    if normal.han:
        return list(normal.tokens)
    return [token[:KEY_LENGTH] for token in normal.tokens]


def _similarity(query: NormalName, recorded: NormalName) -> int:
    if query.han != recorded.han:
        return 0
    if query.han:
        return round(fuzz.ratio(query.compact, recorded.compact, score_cutoff=REVIEW_THRESHOLD))
    return round(
        fuzz.token_sort_ratio(query.joined, recorded.joined, score_cutoff=REVIEW_THRESHOLD)
    )


def _contains(query: NormalName, words: frozenset[str], recorded: _Recorded) -> bool:
    if len(recorded.normal.compact) < MIN_CONTAINED or query.han != recorded.normal.han:
        return False
    if query.han:
        return recorded.normal.compact in query.compact
    return recorded.words <= words


def _part_of(shorter: _Recorded, longer: _Recorded) -> bool:
    """Whether ``shorter`` is contained in a longer recorded name the party matched exactly."""
    if shorter.normal.han:
        return shorter.normal.compact in longer.normal.compact
    return shorter.words <= longer.words


def _keep(best: dict[int, NameMatch], listing: int, match: NameMatch) -> None:
    current = best.get(listing)
    if current is None or _rank(match) > _rank(current):
        best[listing] = match


def _rank(match: NameMatch) -> tuple[bool, int]:
    return (match.kind is MatchKind.EXACT, match.score)
