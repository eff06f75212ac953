"""Every listed entity of the bundled list, under every recorded name and a few spellings.

For each listing: the canonical name, each alias and the Chinese name match exactly; suffix,
case and punctuation variants match exactly; the same name in another country is only a near
miss; a company with a similar but different name matches nothing; and on every day of every
status window the decision says what that status implies.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas import ControlledParty, MatchKind, PartyList, PartyStatus
from services.screening.parties import listing_key, load_bundled_parties
from services.screening.parties.names import normalise
from tests.unit.parties.helpers import (
    COPPER,
    GRAPHITE,
    bundled_index,
    country_of,
    line_codes,
    screened,
    shipment,
)

LISTINGS = load_bundled_parties()
IDS = [listing_key(p) for p in LISTINGS]
ALL_RECORDED = {
    normalise(n).compact for p in LISTINGS for n in (p.name, *p.aliases, p.name_zh or "")
}


def _names(listed: ControlledParty) -> list[tuple[str, str]]:
    names = [("canonical", listed.name)]
    names += [(f"alias {n}", alias) for n, alias in enumerate(listed.aliases)]
    if listed.name_zh:
        names.append(("chinese", listed.name_zh))
    return names


def _variants(name: str) -> list[str]:
    """Spellings a person or an ERP system produces for the same company."""
    if normalise(name).han:
        return [name.replace("·", ""), f"{name}有限公司", f" {name}（有限公司） "]
    return [
        f"{name}, Ltd.",
        f"{name} Co., Ltd",
        name.upper(),
        name.lower().replace(" ", "-"),
        f"The {name} Inc",
        f"  {name}.  ",
    ]


def _matches(name: str, country: str) -> dict[str, MatchKind]:
    return {listing_key(m.party): m.kind for m in bundled_index().match(name, country)}


@pytest.mark.parametrize("listed", LISTINGS, ids=IDS)
def test_every_recorded_name_matches_exactly(listed: ControlledParty) -> None:
    for label, name in _names(listed):
        found = _matches(name, country_of(listed))
        assert found.get(listing_key(listed)) is MatchKind.EXACT, (label, name, found)


@pytest.mark.parametrize("listed", LISTINGS, ids=IDS)
def test_suffix_case_and_punctuation_variants_match_exactly(listed: ControlledParty) -> None:
    for _, name in _names(listed):
        for variant in _variants(name):
            found = _matches(variant, country_of(listed))
            assert found.get(listing_key(listed)) is MatchKind.EXACT, (variant, found)


@pytest.mark.parametrize("listed", [p for p in LISTINGS if p.country], ids=listing_key)
def test_the_same_name_in_another_country_is_only_a_near_miss(listed: ControlledParty) -> None:
    elsewhere = "BR" if listed.country != "BR" else "AR"
    assert _matches(listed.name, elsewhere).get(listing_key(listed)) is MatchKind.LIKELY


def similar_but_unrelated(listed: ControlledParty) -> str:
    """A different company whose name shares the listed name's look but not its identity:
    its first word kept, the distinctive rest replaced, and the first word's ending changed
    when that word alone is a recorded name (of any listed entity: "Cubic Bakery" is a near miss
    of "Cubic Corporation", which a person should look at)."""
    words = listed.name.replace(",", " ").split()
    first = words[0]
    if normalise(first).compact in ALL_RECORDED or len(words) == 1:
        first = first[:-2] + ("ox" if not first.endswith("ox") else "ix")
    return f"{first} Bakery & Catering Ltd."


@pytest.mark.parametrize("listed", LISTINGS, ids=IDS)
def test_a_similarly_named_unrelated_company_matches_nothing(listed: ControlledParty) -> None:
    other = similar_but_unrelated(listed)
    assert _matches(other, country_of(listed)) == {}, other
    decision = screened(shipment(other, "DE", ship_date="2026-11-30"))
    assert decision.outcome.value == "approve", other  # licensed graphite
    assert decision.evidence is not None
    assert decision.evidence.parties == []


@pytest.mark.parametrize(
    ("listed_name", "other", "country"),
    [
        ("General Dynamics", "General Motors", "US"),
        ("Lockheed Martin Corporation", "Martin Marietta Materials", "US"),
        ("MP Materials Corp.", "MP Biomedicals", "US"),
        ("USA Rare Earth, LLC", "American Rare Earths", "US"),
        ("Skydio, Inc.", "Sky Studio Inc.", "US"),
        ("Leidos", "Lidl Stiftung & Co. KG", "DE"),
        ("Boeing Defense, Space & Security", "Boeing Employees Credit Union", "US"),
        ("Rheinmetall AG", "Rhein Metall Recycling GmbH", "DE"),
        ("洛克希德·马丁公司", "洛阳马丁机械有限公司", "CN"),
    ],
)
def test_known_lookalikes_are_approved(listed_name: str, other: str, country: str) -> None:
    assert _matches(other, country) == {}
    assert screened(shipment(other, "DE")).outcome.value == "approve"


def _days(listed: ControlledParty) -> list[tuple[str, PartyStatus | None]]:
    days: list[tuple[str, PartyStatus | None]] = []
    first = listed.status_windows[0].from_
    days.append(((first - timedelta(days=1)).isoformat(), None))
    for window in listed.status_windows:
        days.append((window.from_.isoformat(), window.status))
        if window.to is not None:
            days.append((window.to.isoformat(), window.status))
    return days


def _expected(listed: ControlledParty, status: PartyStatus | None) -> str | None:
    if status in (PartyStatus.IN_FORCE, PartyStatus.IN_FORCE_UNCONFIRMED):
        if listed.weak or listed.list_ is PartyList.WATCH:
            return "PARTY_REVIEW"
        return "PROHIBITED_END_USER"
    if status is PartyStatus.SUSPENDED_UNCONFIRMED:
        return "PARTY_REVIEW"
    return None  # suspended, ceased, not yet listed: the listing does not act


def _only(listed: ControlledParty) -> bool:
    """Whether no other listing of the same names could act on the same day (so the decision
    shows this listing's effect alone)."""
    others = [p for p in LISTINGS if p.entity_id == listed.entity_id and p is not listed]
    return not others


@pytest.mark.parametrize("listed", [p for p in LISTINGS if _only(p)], ids=listing_key)
def test_each_status_window_acts_on_its_dates(listed: ControlledParty) -> None:
    for day, status in _days(listed):
        decision = screened(shipment(listed.name, country_of(listed), ship_date=day))
        expected = _expected(listed, status)
        codes = line_codes(decision)
        if expected is None:
            assert "PROHIBITED_END_USER" not in codes, day
            assert "PARTY_REVIEW" not in codes, day
        else:
            assert expected in codes, (day, status, codes)
            assert decision.outcome.value == "hold"
            basis = [r.legal_basis for r in decision.reasons if str(r.code) == expected]
            assert basis
            assert all(listed.announcement in (b or "") for b in basis), basis


@pytest.mark.parametrize("listed", LISTINGS, ids=IDS)
def test_the_list_decides_which_lines_are_held(listed: ControlledParty) -> None:
    """Control and watch lists act on dual-use (controlled) lines; the UEL and the
    countermeasure order on every line, copper cathodes included."""
    day = next((w.from_ for w in listed.status_windows if w.status is PartyStatus.IN_FORCE), None)
    if day is None:
        pytest.skip("never in force")
    decision = screened(
        shipment(
            listed.name, country_of(listed), ship_date=day.isoformat(), lines=(GRAPHITE, COPPER)
        )
    )
    mine = [m for m in decision.evidence.parties if m.entity_id == listed.entity_id]  # type: ignore[union-attr]
    assert any(m.announcement == listed.announcement for m in mine)
    copper_held = any(
        str(c) in ("PROHIBITED_END_USER", "PARTY_REVIEW") for c in decision.lines[1].reasons
    )
    every_line = {m.party_list for m in mine if m.effect.value != "none"} & {
        PartyList.UEL,
        PartyList.COUNTERMEASURE,
    }
    assert copper_held is bool(every_line)
