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
