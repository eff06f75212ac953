"""Which catalogue items a cargo line may be: HS code, control code, keywords and composition.

HS codes in the announcements are reference codes. A declared control code or a description
keyword is *strong* evidence; an HS match alone is *weak*: when a line has strong evidence for some
items, items matched by HS code alone are dropped (a shared tariff line such as 3824999922 must
not drag in another element's item). Among keyword matches the most specific phrase wins
(``terbium oxide`` over ``terbium``).
"""

from __future__ import annotations

from schemas.shipment import CargoLine
from services.screening.engine.index import CatalogueIndex, keyword_tokens

_HS = 1
_CODE = 2
_KEYWORD = 4
_ELEMENT = 8
_STRONG = _CODE | _KEYWORD


_CACHE_LIMIT = 100_000


def recognise(index: CatalogueIndex, line: CargoLine) -> tuple[tuple[int, bool], ...]:
    """Entry positions in ``index`` that the line may be, in catalogue order, each with whether
    the only evidence is its HS code.

    Recognition depends only on the HS code, control code, description and the elements present,
    so results are memoised per catalogue index (bounded).
    """
    elements = (
        tuple(sorted(c.element for c in line.composition if c.mass_pct > 0))
        if line.composition and index.by_element
        else ()
    )
    key = (line.hs_code, line.control_code, line.description, elements)
    cache = index.recognition_cache
    found = cache.get(key)
    if found is None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        found = cache[key] = _recognise(index, line, elements)
    return found


def _recognise(
    index: CatalogueIndex, line: CargoLine, elements: tuple[str, ...]
) -> tuple[tuple[int, bool], ...]:
    evidence: dict[int, int] = {}
    hs = line.hs_code
    for length in index.hs_lengths:
        if length > len(hs):
            break
        for position in index.by_hs_prefix.get(hs[:length], ()):
            evidence[position] = evidence.get(position, 0) | _HS
    if line.control_code:
        _add_code_matches(index, line.control_code, evidence)
    spans = _keyword_matches(index, line.description, evidence)
    for element in elements:
        for position in index.by_element.get(element, ()):
            evidence[position] = evidence.get(position, 0) | _ELEMENT
    if not evidence:
        return ()
    if any(flags & _STRONG for flags in evidence.values()):
        evidence = {p: f for p, f in evidence.items() if f != _HS}
    if len(spans) > 1:
        _drop_dominated(evidence, spans)
    return tuple(sorted((position, flags == _HS) for position, flags in evidence.items()))


def _add_code_matches(index: CatalogueIndex, code: str, evidence: dict[int, int]) -> None:
    for position in index.by_code_prefix.get(code, ()):
        evidence[position] = evidence.get(position, 0) | _CODE
    parts = code.split(".")
    for end in range(1, len(parts)):
        for position in index.by_exact_code.get(".".join(parts[:end]), ()):
            evidence[position] = evidence.get(position, 0) | _CODE


def _keyword_matches(
    index: CatalogueIndex, description: str, evidence: dict[int, int]
) -> dict[int, tuple[int, int]]:
    words = keyword_tokens(description)
    spans: dict[int, tuple[int, int]] = {}
    for start, word in enumerate(words):
        for phrase, position in index.by_first_token.get(word, ()):
            end = start + len(phrase)
            if words[start:end] == phrase:
                evidence[position] = evidence.get(position, 0) | _KEYWORD
                best = spans.get(position)
                if best is None or end - start > best[1] - best[0]:
                    spans[position] = (start, end)
    return spans


def _drop_dominated(evidence: dict[int, int], spans: dict[int, tuple[int, int]]) -> None:
    """Drop keyword matches whose phrase lies strictly inside another item's phrase.

    A declared control code keeps an item whatever its phrase.
    """
    for position, (start, end) in spans.items():
        if position not in evidence or evidence[position] & _CODE:
            continue
        for other, (o_start, o_end) in spans.items():
            inside = o_start <= start and end <= o_end
            if other != position and inside and o_end - o_start > end - start:
                del evidence[position]
                break
