"""Which catalogue items a cargo line may be: HS code, control code, description and composition.

HS codes in the announcements are reference codes. What the goods *are* is strong evidence: a
description keyword, an element named by the composition or by a chemical formula in the
description (``Sm2Co17``), or a declared control code that agrees with them. An HS match alone is
*weak*: when a line has strong evidence for some items, items matched by HS code alone are
dropped (a shared tariff line such as 3824999922 must not drag in another element's item) —
except siblings, items of the same measure on the same HS code whose own criteria (thresholds)
can be tested: every sibling's criteria are tested (``diamond powder`` of 300 µm is the single
crystal item, not a micropowder below its threshold). Among keyword matches the most specific
phrase wins (``terbium oxide`` over ``terbium``).

A declared control code that contradicts what the description and composition show adds no
item: it is reported as a mismatch (DECLARATION_MISMATCH) and never puts the line in a
licence's scope.
"""

from __future__ import annotations

from schemas.shipment import CargoLine
from services.screening.engine.formulas import formulas_in
from services.screening.engine.index import CatalogueIndex, Recognition, keyword_tokens

HS = 1
CODE = 2
KEYWORD = 4
ELEMENT = 8
#: A broad keyword (``bismuth``, ``battery pack``) or a phrase qualified by a preceding element
#: name (``copper indium gallium selenide`` is not gallium selenide): names the family only.
BROAD = 16
#: HS match alone, on a tariff line shared with a sibling whose criteria differ: which item the
#: line is cannot be told from the HS code.
SHARED = 32
#: A sibling of a strongly matched item with a threshold (same measure, a shared HS code in the
#: catalogue): its criteria are tested as well, whatever HS code the line declares.
SIBLING = 64
_STRONG = CODE | KEYWORD | ELEMENT | BROAD
_DESCRIBED = KEYWORD | ELEMENT | BROAD

_CACHE_LIMIT = 100_000
NOTHING_RECOGNISED = Recognition(())

#: Element names that, just before a compound's name, make it another compound (``indium
#: gallium arsenide``, ``copper indium gallium selenide``).
_ELEMENT_NAMES = frozenset(
    {
        "aluminium",
        "aluminum",
        "antimony",
        "arsenic",
        "barium",
        "beryllium",
        "bismuth",
        "boron",
        "cadmium",
        "caesium",
        "calcium",
        "cerium",
        "cesium",
        "chromium",
        "cobalt",
        "copper",
        "dysprosium",
        "erbium",
        "europium",
        "gadolinium",
        "gallium",
        "germanium",
        "gold",
        "hafnium",
        "holmium",
        "indium",
        "iridium",
        "iron",
        "lanthanum",
        "lead",
        "lithium",
        "lutetium",
        "magnesium",
        "manganese",
        "mercury",
        "molybdenum",
        "neodymium",
        "nickel",
        "niobium",
        "osmium",
        "palladium",
        "platinum",
        "potassium",
        "praseodymium",
        "rhenium",
        "rhodium",
        "rubidium",
        "ruthenium",
        "samarium",
        "scandium",
        "selenium",
        "silicon",
        "silver",
        "sodium",
        "strontium",
        "tantalum",
        "tellurium",
        "terbium",
        "thallium",
        "thorium",
        "thulium",
        "tin",
        "titanium",
        "tungsten",
        "uranium",
        "vanadium",
        "ytterbium",
        "yttrium",
        "zinc",
        "zirconium",
    }
)


def recognise(index: CatalogueIndex, line: CargoLine) -> Recognition:
    """The entries of ``index`` the line may be (memoised per catalogue index, bounded).

    Recognition depends only on the HS code, the declared control code, the description and
    the elements the composition names.
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
        found = cache[key] = _recognise(index, *key)
    return found


def _recognise(
    index: CatalogueIndex,
    hs: str,
    declared: str | None,
    description: str,
    composition: tuple[str, ...],
) -> Recognition:
    evidence: dict[int, int] = {}
    for length in index.hs_lengths:
        if length > len(hs):
            break
        for position in index.by_hs_prefix.get(hs[:length], ()):
            evidence[position] = evidence.get(position, 0) | HS
    words = keyword_tokens(description)
    spans = _keyword_matches(index, words, evidence)
    if index.by_element:
        _element_matches(index, words, description, composition, evidence)
    if not evidence and not declared:
        return NOTHING_RECOGNISED
    _drop_weaker(index, evidence, spans)
    mismatch: tuple[int, ...] = ()
    if declared:
        coded = _code_matches(index, declared)
        mismatch = _contradicted(index, declared, coded, evidence)
        if not mismatch and coded:
            for position in coded:
                evidence[position] = evidence.get(position, 0) | CODE
            _drop_weaker(index, evidence, spans)
    if not evidence:
        return NOTHING_RECOGNISED
    if index.siblings:
        _add_siblings(index, evidence)
    _mark_shared(index, evidence)
    return Recognition(tuple(sorted(evidence.items())), mismatch)


def _drop_weaker(
    index: CatalogueIndex, evidence: dict[int, int], spans: dict[int, tuple[int, int]]
) -> None:
    if any(flags & _STRONG for flags in evidence.values()):
        _drop_hs_only(index, evidence)
    if len(spans) > 1:
        _drop_dominated(evidence, spans)


def _code_matches(index: CatalogueIndex, code: str) -> list[int]:
    found = list(index.by_code_prefix.get(code, ()))
    parts = code.split(".")
    for end in range(1, len(parts)):
        found.extend(index.by_exact_code.get(".".join(parts[:end]), ()))
    return found


def codes_agree(item_code: str, declared: str) -> bool:
    """One code is the other or a dot-prefix of it (``1C905`` and ``1C905.b``)."""
    a, b = item_code.split("."), declared.split(".")
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def _contradicted(
    index: CatalogueIndex, declared: str, coded: list[int], evidence: dict[int, int]
) -> tuple[int, ...]:
    """The items the goods show, when the declared code contradicts every one of them.

    What the goods show is what the description and composition say; failing those, a
    non-basket HS code. Items without a control code can only be contradicted by a declared
    code that names other catalogue items.
    """
    shown = [p for p, flags in evidence.items() if flags & _DESCRIBED]
    if not shown:
        shown = [
            p for p, flags in evidence.items() if flags & HS and not index.entries[p].item.hs_basket
        ]
    if not shown:
        return ()
    codes = [index.entries[p].item.control_code for p in shown]
    if any(code and codes_agree(code, declared) for code in codes):
        return ()
    if not any(codes):
        return tuple(sorted(shown)) if coded else ()
    return tuple(sorted(p for p in shown if index.entries[p].item.control_code))


def _keyword_matches(
    index: CatalogueIndex, words: tuple[str, ...], evidence: dict[int, int]
) -> dict[int, tuple[int, int]]:
    spans: dict[int, tuple[int, int]] = {}
    for start, word in enumerate(words):
        for phrase, position, broad in index.by_first_token.get(word, ()):
            end = start + len(phrase)
            if words[start:end] != phrase:
                continue
            qualified = start > 0 and words[start - 1] in _ELEMENT_NAMES
            flag = BROAD if broad or qualified else KEYWORD
            if flag == BROAD and evidence.get(position, 0) & KEYWORD:
                flag = 0  # a specific phrase for the same item already matched
            evidence[position] = evidence.get(position, 0) | flag
            if flag == KEYWORD:
                evidence[position] &= ~BROAD
            best = spans.get(position)
            if best is None or end - start > best[1] - best[0]:
                spans[position] = (start, end)
    return spans


def _element_matches(
    index: CatalogueIndex,
    words: tuple[str, ...],
    description: str,
    composition: tuple[str, ...],
    evidence: dict[int, int],
) -> None:
    """Element-defined items named by the composition or by a formula in the description.

    Among one element's items, form words (``oxide``, ``fluoride``, ``ingot``; or the form a
    formula shows) pick the items; with no form word every item of the element is a candidate.
    """
    named, formula_forms = formulas_in(description)
    elements = set(composition) | named
    if not elements:
        return
    present = set(words) | formula_forms
    entries = index.entries
    for element in sorted(elements):
        candidates = index.by_element.get(element, ())
        with_forms = [p for p in candidates if entries[p].item.forms]
        picked = [p for p in with_forms if present.intersection(entries[p].item.forms)]
        for position in candidates:
            if position in with_forms and picked and position not in picked:
                continue
            evidence[position] = evidence.get(position, 0) | ELEMENT


def _drop_hs_only(index: CatalogueIndex, evidence: dict[int, int]) -> None:
    """Drop HS-only matches, keeping testable siblings of a strongly matched item."""
    entries = index.entries
    anchored = {
        entries[p].measure.id for p, flags in evidence.items() if flags & HS and flags & _STRONG
    }
    for position in [p for p, flags in evidence.items() if flags == HS]:
        entry = entries[position]
        testable = entry.item.threshold is not None or entry.item.unassessed_criterion
        if not (testable and entry.measure.id in anchored):
            del evidence[position]


def _add_siblings(index: CatalogueIndex, evidence: dict[int, int]) -> None:
    """Every sibling's criteria are tested: "diamond powder" of 300 um is the single crystal."""
    for position in [p for p, flags in evidence.items() if flags & _STRONG]:
        for sibling in index.siblings.get(position, ()):
            if sibling not in evidence:
                evidence[sibling] = SIBLING


def _mark_shared(index: CatalogueIndex, evidence: dict[int, int]) -> None:
    """Mark HS-only items with no criteria of their own whose HS code a sibling with criteria
    shares (natural vs artificial graphite on 6815190020): the HS code does not tell which."""
    entries = index.entries
    hs_only = [p for p, flags in evidence.items() if flags == HS]
    if len(hs_only) < 2:
        return
    with_criteria = {
        entries[p].measure.id
        for p in hs_only
        if entries[p].item.threshold is not None or entries[p].item.unassessed_criterion
    }
    for position in hs_only:
        item = entries[position].item
        plain = item.threshold is None and not item.unassessed_criterion and not item.hs_basket
        if plain and entries[position].measure.id in with_criteria:
            evidence[position] |= SHARED


def _drop_dominated(evidence: dict[int, int], spans: dict[int, tuple[int, int]]) -> None:
    """Drop keyword matches whose phrase lies strictly inside another item's phrase.

    A declared control code or a named element keeps an item whatever its phrase.
    """
    for position, (start, end) in spans.items():
        if position not in evidence or evidence[position] & (CODE | ELEMENT):
            continue
        for other, (o_start, o_end) in spans.items():
            inside = o_start <= start and end <= o_end
            if other != position and inside and o_end - o_start > end - start:
                del evidence[position]
                break
