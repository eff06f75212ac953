"""Property: adding noise words to a name that matches a listing for certain never makes the
listing disappear from the matches (it may become a near miss, never no match)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import MatchKind
from services.screening.parties import listing_key, load_bundled_parties
from services.screening.parties.names import has_han
from tests.unit.parties.helpers import bundled_index, country_of

LISTINGS = load_bundled_parties()
NAMED = [(p, n) for p in LISTINGS for n in (p.name, *p.aliases, p.name_zh) if n]

latin_words = st.text(
    alphabet=st.characters(min_codepoint=ord("a"), max_codepoint=ord("z")), min_size=1, max_size=12
)
noise_words = st.one_of(
    latin_words,
    st.sampled_from(["Ltd.", "(Holdings)", "GmbH", "Group", "International", "USA", "Branch"]),
)
han_words = st.text(
    alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=4
)


@settings(max_examples=400, deadline=None)
@given(
    pick=st.integers(min_value=0, max_value=len(NAMED) - 1),
    noise=st.lists(noise_words, min_size=1, max_size=4),
    positions=st.lists(st.integers(min_value=0, max_value=20), min_size=4, max_size=4),
)
def test_noise_words_never_turn_a_certain_match_into_no_match(
    pick: int, noise: list[str], positions: list[int]
) -> None:
    listed, name = NAMED[pick]
    country = country_of(listed)
    key = listing_key(listed)
    assert any(
        listing_key(m.party) == key and m.kind is MatchKind.EXACT
        for m in bundled_index().match(name, country)
    )
    if has_han(name):
        noisy = f"{''.join(noise[:1])} {name} {''.join(noise[1:])}"
    else:
        words = name.split()
        for word, position in zip(noise, positions, strict=False):
            words.insert(position % (len(words) + 1), word)
        noisy = " ".join(words)
    found = {listing_key(m.party) for m in bundled_index().match(noisy, country)}
    assert key in found, noisy


@settings(max_examples=200, deadline=None)
@given(
    pick=st.integers(min_value=0, max_value=len(NAMED) - 1),
    before=han_words,
    after=han_words,
)
def test_han_noise_around_a_chinese_name_keeps_the_match(
    pick: int, before: str, after: str
) -> None:
    listed, name = NAMED[pick]
    if not has_han(name):
        return
    found = {listing_key(m.party) for m in bundled_index().match(before + name + after, None)}
    assert listing_key(listed) in found
