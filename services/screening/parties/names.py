"""Normalised party names: what two spellings of one company have in common.

A name becomes a :class:`NormalName`:

- **Latin script** (and any script ``anyascii`` transliterates: Cyrillic, Greek, accented Latin):
  NFKC, transliterated to ASCII, lower case; dots and apostrophes vanish inside words
  (``S.p.A.`` → ``spa``, ``U.S.`` → ``us``); ``&`` and every other punctuation mark separate
  words; the words ``the`` and ``and`` and legal-form words (:data:`LEGAL_FORMS`: Inc., Ltd.,
  Co., LLC, GmbH, S.A., K.K. …) are dropped wherever they stand. ``tokens`` are the remaining
  words, ``compact`` is them joined without spaces (so ``L3Harris`` = ``L3 Harris`` and
  ``Gibbs&Cox`` = ``Gibbs & Cox``).
- **Han script** (any CJK ideograph in the name): Chinese names match their Chinese forms, not a
  romanisation (a pinyin reading of 洛克希德 is not how anyone writes Lockheed). NFKC, lower
  case, every space and punctuation mark (``·``, ``、``, ``（`` …) removed, trailing legal-form
  suffixes (有限公司, 股份有限公司, 公司, 集团有限公司, 株式会社 …) removed. ``tokens`` are the
  character bigrams (what the index looks up), ``compact`` the whole string.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from anyascii import anyascii

#: Legal-form words, dropped wherever they stand (after dots are removed: "S.A." → "sa").
LEGAL_FORMS = frozenset(
    {
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        "cos",
        "ltd",
        "limited",
        "llc",
        "llp",
        "lp",
        "plc",
        "pllc",
        "gmbh",
        "mbh",
        "ag",
        "kg",
        "kgaa",
        "se",
        "sa",
        "sas",
        "sarl",
        "spa",
        "srl",
        "bv",
        "nv",
        "ab",
        "as",
        "asa",
        "oy",
        "oyj",
        "aps",
        "kk",
        "pte",
        "pty",
        "pvt",
        "sro",
        "uab",
        "kabushiki",
        "kaisha",
    }
)
#: Words that carry no identity.
STOP_WORDS = frozenset({"the", "and"})

#: Han-script legal-form suffixes, longest first (removed repeatedly from the end).
HAN_SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "株式会社",
    "公司",
)
#: Han-script legal-form prefixes (Japanese names often lead with theirs).
HAN_PREFIXES = ("株式会社", "有限会社")

_DROPPED = LEGAL_FORMS | STOP_WORDS | {""}
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]")
#: One pass over an ASCII name: lower case, dots and apostrophes removed inside words, "&" read
#: as "and", every other mark a word separator.
_ASCII_WORDS: dict[int, str | None] = {
    c: (chr(c).lower() if chr(c).isalnum() else " ") for c in range(128)
}
_ASCII_WORDS.update({ord("."): None, ord("'"): None, ord("&"): " and "})
_HAN_NOISE = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class NormalName:
    """A name reduced to what identifies it (see the module docstring)."""

    tokens: tuple[str, ...]
    compact: str
    han: bool

    @property
    def joined(self) -> str:
        """The tokens separated by spaces (what the similarity scorer compares)."""
        return " ".join(self.tokens)


EMPTY = NormalName((), "", False)


def has_han(text: str) -> bool:
    return _HAN.search(text) is not None


def normalise(name: str) -> NormalName:
    """The normal form of ``name``; :data:`EMPTY` when nothing identifying is left."""
    if name.isascii():  # most names: NFKC and transliteration change nothing
        ascii_text = name
    else:
        text = unicodedata.normalize("NFKC", name)
        if has_han(text):
            return _normalise_han(text)
        ascii_text = anyascii(text)
    words = ascii_text.translate(_ASCII_WORDS).split()
    tokens = tuple([w for w in words if w not in _DROPPED])
    if not tokens:
        return EMPTY
    return NormalName(tokens, "".join(tokens), False)


def _normalise_han(text: str) -> NormalName:
    compact = _HAN_NOISE.sub("", text.lower())
    for prefix in HAN_PREFIXES:
        if compact.startswith(prefix) and len(compact) > len(prefix):
            compact = compact[len(prefix) :]
    stripped = True
    while stripped:
        stripped = False
        for suffix in HAN_SUFFIXES:
            if compact.endswith(suffix) and len(compact) > len(suffix):
                compact = compact[: -len(suffix)]
                stripped = True
                break
    if not compact:
        return EMPTY
    return NormalName(han_bigrams(compact), compact, True)


def han_bigrams(compact: str) -> tuple[str, ...]:
    """Overlapping character pairs (a one-character name is its own token)."""
    if len(compact) < 2:
        return (compact,)
    return tuple(compact[i : i + 2] for i in range(len(compact) - 1))
