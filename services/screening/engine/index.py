"""An index of the catalogue's items by HS prefix, control code, keyword and element.

Recognising a line costs a handful of dictionary look-ups whatever the catalogue's size: no scan
over all items per line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from services.screening.catalogue.model import Catalogue, ControlKind, Item, Measure

_TOKEN = re.compile(r"[a-z0-9]+")


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


@dataclass(frozen=True)
class Entry:
    """One item of one measure: the unit of recognition."""

    measure: Measure
    item: Item
    control_id: str


@dataclass
class CatalogueIndex:
    entries: list[Entry] = field(default_factory=list)
    by_hs_prefix: dict[str, list[int]] = field(default_factory=dict)
    by_exact_code: dict[str, list[int]] = field(default_factory=dict)
    by_code_prefix: dict[str, list[int]] = field(default_factory=dict)
    by_first_token: dict[str, list[tuple[tuple[str, ...], int]]] = field(default_factory=dict)
    by_element: dict[str, list[int]] = field(default_factory=dict)
    #: Measures whose items are those of other measures (prohibitions, re-export rules).
    derived: list[Measure] = field(default_factory=list)
    hs_lengths: tuple[int, ...] = ()
    #: Memoised recognition results, keyed by the line facts recognition depends on.
    recognition_cache: dict[
        tuple[str, str | None, str, tuple[str, ...]], list[tuple[int, bool]]
    ] = field(default_factory=dict)

    @classmethod
    def build(cls, catalogue: Catalogue) -> CatalogueIndex:
        index = cls()
        for measure in catalogue.measures:
            if measure.kind is ControlKind.INFORMATIONAL:
                continue
            if measure.items_from:
                index.derived.append(measure)
            for item in measure.items:
                index._add(Entry(measure, item, measure.control_id(item)))
        index.hs_lengths = tuple(sorted({len(p) for p in index.by_hs_prefix}))
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
        for keyword in item.keywords:
            words = keyword_tokens(keyword)
            self.by_first_token.setdefault(words[0], []).append((words, position))
        for element in item.recognise_elements:
            self.by_element.setdefault(element, []).append(position)


_INDEXES: dict[str, CatalogueIndex] = {}


def index_for(catalogue: Catalogue) -> CatalogueIndex:
    """The (cached) index of a catalogue version."""
    index = _INDEXES.get(catalogue.version)
    if index is None:
        if len(_INDEXES) > 16:
            _INDEXES.clear()
        index = _INDEXES[catalogue.version] = CatalogueIndex.build(catalogue)
    return index
