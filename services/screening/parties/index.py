"""The party index: names of the listed entities looked up by normalised tokens, never scanned.

:meth:`PartyIndex.match` finds, for one shipment party, every listing it may be:

- **exact**: the party's normalised name (:mod:`.names`) equals a recorded name of the entity
  (canonical, alias or Chinese) and the countries agree (or the listing states no country);
- **likely** (a near miss, for a person): the same name in another country; or a similarity of
  at least :data:`REVIEW_THRESHOLD` (rapidfuzz ``token_sort_ratio`` for Latin script, ``ratio``
  for Chinese); or every word of a recorded name appears in the party's name ("Lockheed
  Martin Corp Supply Depot") — unless that recorded name is only part of a longer name the
  party matched exactly (Lockheed Martin Aeronautics is not a near miss of Lockheed Martin).

Candidates come from an inverted index keyed by each word (a plural's final "s" dropped;
Chinese: character pairs); a key shared by more than :data:`MAX_POSTINGS` recorded names is not
used to find candidates (a name made only of such words is matched exactly or not at all), and a
candidate is compared only if it shares at least half of its keys with the name. The cost per
name is therefore bounded by the postings of its rarer words, not by the size of the list. A near
miss is found when it shares at least one whole, not too common word with the recorded name (a
misspelling in every distinctive word is not found).
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
#: A key shared by more names than this is too common to select candidates by.
MAX_POSTINGS = 256
#: A recorded name shorter than this (compact) is never matched by containment alone. Latin
#: containment compares whole words ("BDS" is found in "BDS Logistics", never in "EBDS"); a
#: two-character Chinese name (立方) is found inside a longer one.
MIN_CONTAINED = 2
#: ``fuzz.ratio`` >= 88 needs the shorter string to be at least this share of the longer one.
_LENGTH_RATIO = 0.78
#: Party names remembered with their matches (ERP traffic repeats its parties).
CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class _Recorded:
    listing: int
    text: str
    normal: NormalName
    words: frozenset[str]
    keys: frozenset[str]
    need: int
    """Keys a name must share with this one to be compared at all."""
    compared: str
    """What the similarity scorer compares: sorted words (Latin) or the whole string (Han)."""
    containable: bool

    def contained_by(self, words: frozenset[str]) -> bool:
        """Whether every word of this (Latin) name is among ``words``."""
        return self.containable and self.words <= words

    @classmethod
    def of(cls, listing: int, text: str, normal: NormalName) -> _Recorded:
        keys = frozenset(_keys(normal))
        return cls(
            listing,
            text,
            normal,
            frozenset(normal.tokens),
            keys,
            max(1, (len(keys) + 1) // 2),
            _compared(normal),
            len(normal.compact) >= MIN_CONTAINED,
        )


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
                recorded = _Recorded.of(listing, text, normal)
                self._names.append(recorded)
                self._exact[normal.compact].append(number)
                for key in recorded.keys:
                    postings[key].add(number)
        self._need = [recorded.need for recorded in self._names]
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
        candidates = self._candidates(frozenset(_keys(query)))
        if not candidates:
            return tuple(best[listing] for listing in sorted(best))
        explained = [self._names[n] for n in exact]
        words = frozenset(query.tokens)
        compared = _compared(query)
        shortest, longest = len(compared) * _LENGTH_RATIO, len(compared) / _LENGTH_RATIO
        names = self._names
        han = query.han
        for number in candidates:
            recorded = names[number]
            if recorded.normal.han is not han:
                continue
            current = best.get(recorded.listing)
            if current is not None and current.score == 100:
                continue
            if _contains(query, words, recorded) if han else recorded.contained_by(words):
                if any(_part_of(recorded, longer) for longer in explained):
                    continue
                score = 100
            elif shortest <= len(recorded.compared) <= longest:
                score = round(
                    fuzz.ratio(compared, recorded.compared, score_cutoff=REVIEW_THRESHOLD)
                )
            else:
                continue
            if score >= REVIEW_THRESHOLD:
                party = self.parties[recorded.listing]
                match = NameMatch(party, recorded.text, score, MatchKind.LIKELY)
                _keep(best, recorded.listing, match)
        return tuple(best[listing] for listing in sorted(best))

    def candidate_count(self, name: str) -> int:
        """How many recorded names ``name`` would be compared with (the work per name)."""
        return len(self._candidates(frozenset(_keys(normalise(name)))))

    def _candidates(self, keys: frozenset[str]) -> list[int]:
        """The recorded names sharing at least half of their keys with ``keys``.

        A key skipped as too common is counted as shared by every candidate, so that skipping
        never loses one. (A plain dict counts faster than ``Counter`` at these sizes.)
        """
        postings = self._postings
        lists = [numbers for key in keys if (numbers := postings.get(key)) is not None]
        selective = [numbers for numbers in lists if len(numbers) <= MAX_POSTINGS]
        if not selective:  # no word, or only words shared by hundreds of names: exact only
            return []
        skipped = len(lists) - len(selective)
        need = self._need
        if len(selective) == 1:
            return [n for n in selective[0] if 1 + skipped >= need[n]]
        counts: dict[int, int] = {}
        get = counts.get
        for numbers in selective:
            for n in numbers:
                counts[n] = get(n, 0) + 1
        return [n for n, shared in counts.items() if shared + skipped >= need[n]]


def _keys(normal: NormalName) -> list[str]:
    """Index keys: Han character pairs; Latin words, a plural's final "s" dropped."""
    if normal.han:
        return list(normal.tokens)
    return [t[:-1] if len(t) > 3 and t.endswith("s") else t for t in normal.tokens]


def _compared(normal: NormalName) -> str:
    return normal.compact if normal.han else " ".join(sorted(normal.tokens))


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
