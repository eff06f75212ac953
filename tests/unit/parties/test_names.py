"""Normalisation: case, punctuation, legal forms, transliteration, Chinese forms."""

from __future__ import annotations

import pytest

from services.screening.parties.names import normalise


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Lockheed Martin Corporation", "LOCKHEED MARTIN CORP."),
        ("Lockheed Martin Corporation", "lockheed-martin, inc"),
        ("L3Harris Technologies, Inc.", "L3 Harris Technologies"),
        ("Gibbs&Cox, Inc.", "Gibbs and Cox"),
        ("Gibbs&Cox, Inc.", "The Gibbs & Cox Company"),
        ("Lafert S.p.A.", "LAFERT SPA"),
        ("TATRA TRUCKS a.s.", "Tatra Trucks"),
        ("Politechnika Wrocławska", "Politechnika Wroclawska"),
        ("Société Générale d'Optique", "SOCIETE GENERALE DOPTIQUE"),
        ("Ｍｉｔｓｕｂｉｓｈｉ Ｅｌｅｃｔｒｉｃ", "Mitsubishi Electric"),  # full-width letters
        ("Антрацит ООО", "Antratsit OOO"),  # Cyrillic transliterated
        ("洛克希德·马丁公司", "洛克希德马丁有限公司"),
        ("株式会社ＳＵＢＡＲＵ", "SUBARU株式会社"),
    ],
)
def test_spellings_of_one_name_normalise_alike(a: str, b: str) -> None:
    assert normalise(a).compact == normalise(b).compact


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("General Dynamics", "General Motors"),
        ("Raytheon Missile Systems", "Raytheon Missiles & Defense"),
        ("洛克希德·马丁公司", "洛克希德·马丁航空公司"),
    ],
)
def test_different_names_stay_different(a: str, b: str) -> None:
    assert normalise(a).compact != normalise(b).compact


@pytest.mark.parametrize("name", ["Inc.", "Co., Ltd.", "The", "...", "有限公司"])
def test_a_name_of_only_legal_forms_is_empty_and_matches_nothing(name: str) -> None:
    from tests.unit.parties.helpers import bundled_index

    assert bundled_index().match(name, "US") == ()


@pytest.mark.parametrize(
    ("disguised", "kind"),
    [
        ("Lock\u200bheed Martin Corp", "exact"),  # zero-width space inside a word
        ("Lockheed Martin Corp\u00ad", "exact"),  # soft hyphen
        ("LOCKHEED\u00a0MARTIN", "exact"),  # no-break space
        ("L\u00f3ckh\u00e9ed M\u00e1rtin", "exact"),  # diacritics
        ("\uff2c\uff4f\uff43\uff4b\uff48\uff45\uff45\uff44 Martin", "exact"),  # full-width
        ("Lockheed  Martin,,, Corp...", "exact"),
        ("\u6d1b\u514b\u5e0c\u5fb7\u2027\u9a6c\u4e01\u516c\u53f8", "exact"),  # another middle dot
        ("L\u043e\u0441kheed Martin Corporation", "likely"),  # Cyrillic o and s: a person looks
    ],
)
def test_disguised_spellings_of_a_listed_name_are_still_caught(disguised: str, kind: str) -> None:
    from tests.unit.parties.helpers import bundled_index

    found = {m.party.entity_id: m.kind.value for m in bundled_index().match(disguised, "US")}
    assert found.get("cnp-006") == kind
