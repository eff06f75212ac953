"""Properties of the decision function, over generated shipments."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import Outcome, ReasonCode, ShipmentEvent
from services.screening.engine import decision_id_for
from tests.unit.engine.factories import event, licence, line, screen

GOODS = [
    ("Samarium oxide", "2846901940"),
    ("Dysprosium oxide", "2846901993"),
    ("NdFeB magnets", "8505111000"),
    ("Antimony trioxide", "2825800010"),
    ("Gallium metal", "8112929010"),
    ("Holmium oxide", "2846901990"),
    ("Artificial graphite block", "3801100030"),
    ("Copper cathodes", "7403110000"),
    ("Steel bolts", "7318150000"),
    ("Cotton shirts", "6205200000"),
]
UNCONTROLLED = [
    ("Copper cathodes", "7403110000"),
    ("Steel bolts", "7318150000"),
    ("Cotton shirts", "6205200000"),
    ("Wooden furniture", "9403600000"),
]
decimals = st.decimals(min_value=0, max_value=100, places=3, allow_nan=False)


@st.composite
def lines(draw: st.DrawFn, goods: list[tuple[str, str]] = GOODS) -> list[dict[str, Any]]:
    out = []
    for number in range(1, draw(st.integers(1, 4)) + 1):
        description, hs = draw(st.sampled_from(goods))
        facts: dict[str, Any] = {}
        if draw(st.booleans()):
            facts["purity_pct"] = str(draw(decimals))
        if draw(st.booleans()):
            # uncontrolled goods name no element-defined element (a composition naming one is
            # recognised as that element's item)
            pool = ["Dy", "Tb", "Nd", "Ho"] if goods is GOODS else ["Cu", "Fe", "Nd", "C"]
            element = draw(st.sampled_from(pool))
            facts["composition"] = [{"element": element, "mass_pct": str(draw(decimals))}]
        unit = draw(st.sampled_from(["kg", "g", "t", "pcs"]))
        out.append(line(description, hs, line_no=number, unit=unit, **facts))
    return out


@st.composite
def shipments(draw: st.DrawFn, goods: list[tuple[str, str]] = GOODS) -> ShipmentEvent:
    return event(
        *draw(lines(goods)),
        ship_date=draw(st.sampled_from(["2025-05-10", "2025-12-15", "2026-03-02", "2026-11-29"])),
        destination=draw(st.sampled_from(["DE", "US", "JP", "KR"])),
        end_use=draw(st.sampled_from(["civil", "military", "unknown"])),
    )


LICENCES = [
    licence("GL-RE", control_codes=["1C9"], cap=("2", "t")),
    licence("GL-SB", hs_codes=["2825"], destinations=["DE"]),
]


@settings(max_examples=150, deadline=None)
@given(shipments())
def test_same_input_same_decision(shipment: ShipmentEvent) -> None:
    first, second = screen(shipment, LICENCES), screen(shipment, LICENCES)
    assert first.model_dump_json() == second.model_dump_json()
    assert first.decision_id == decision_id_for(
        shipment.event_id, first.trigger, None, first.catalogue_version
    )


@settings(max_examples=150, deadline=None)
@given(shipments())
def test_every_line_has_a_reason_matching_its_outcome(shipment: ShipmentEvent) -> None:
    decision = screen(shipment, LICENCES)
    for line_decision in decision.lines:
        assert line_decision.reasons
        assert {r.outcome for r in line_decision.reasons} == {line_decision.outcome}
        if line_decision.outcome is Outcome.HOLD:
            assert any(r.line_no == line_decision.line_no for r in decision.reasons)
    held = any(ld.outcome is Outcome.HOLD for ld in decision.lines)
    assert (decision.outcome is Outcome.HOLD) == held


@settings(max_examples=150, deadline=None)
@given(shipments(), st.sampled_from(["1C9", "1C904", "28", "85", "81"]))
def test_adding_a_covering_licence_never_turns_approve_into_hold(
    shipment: ShipmentEvent, prefix: str
) -> None:
    before = screen(shipment, LICENCES)
    extra = licence(
        "ZZ-NEW",
        control_codes=[prefix] if prefix.startswith("1") else [],
        hs_codes=[prefix] if not prefix.startswith("1") else [],
    )
    after = screen(shipment, [*LICENCES, extra])
    for old, new in zip(before.lines, after.lines, strict=True):
        if old.outcome is Outcome.APPROVE:
            assert new.outcome is Outcome.APPROVE


@settings(max_examples=100, deadline=None)
@given(shipments(UNCONTROLLED))
def test_a_line_matching_no_item_is_not_controlled(shipment: ShipmentEvent) -> None:
    decision = screen(shipment, LICENCES)
    for line_decision in decision.lines:
        assert line_decision.reasons == [ReasonCode.NOT_CONTROLLED]
        assert not line_decision.controlled


# -- recognition is monotone in evidence ---------------------------------------------------
NO18_ELEMENTS = ["Sm", "Gd", "Tb", "Dy", "Lu", "Sc", "Y"]
NO57_ELEMENTS = ["Ho", "Er", "Tm", "Eu", "Yb"]
MORE_GOODS = [
    *GOODS,
    ("Rare earth metal ingot", "2805301990"),
    ("Rare earth oxide mixture", "2846901993"),
    ("Rare earth fluoride powder", "2846909990"),
    ("Tungsten copper bar", "8101940001"),
    ("Graphite block", "6815190020"),
    ("Synthetic diamond powder", "7105102000"),
    ("Permanent magnets", "8505111000"),
    ("Sm2Co17 magnets", "8505111000"),
    ("Bismuth oxide", "2825909000"),
    ("Aluminium alloy ingot", "7601200000"),
]
shares = st.decimals(min_value="0.001", max_value=40, places=3, allow_nan=False)


@st.composite
def line_and_element(draw: st.DrawFn) -> tuple[ShipmentEvent, ShipmentEvent]:
    """A shipment, and the same shipment with one more controlled element in line 1's
    composition (an element of a measure in force on the ship date)."""
    description, hs = draw(st.sampled_from(MORE_GOODS))
    facts: dict[str, Any] = {}
    base: list[dict[str, str]] = []
    if draw(st.booleans()):
        element = draw(st.sampled_from(["W", "Cu", "Nd", "Fe", "La", "Tb", "Sm"]))
        base = [{"element": element, "mass_pct": str(draw(shares))}]
    if draw(st.booleans()):
        facts["purity_pct"] = str(draw(decimals))
    if draw(st.booleans()):
        facts["properties"] = {"particle_size_um": str(draw(st.integers(1, 800)))}
    ship_date = draw(st.sampled_from(["2025-05-10", "2025-12-15", "2026-11-11", "2026-11-29"]))
    pool = NO18_ELEMENTS + (NO57_ELEMENTS if ship_date > "2026-11-10" else [])
    added = draw(st.sampled_from([e for e in pool if e not in {c["element"] for c in base}]))
    more = [*base, {"element": added, "mass_pct": str(draw(shares))}]
    where: dict[str, Any] = {
        "ship_date": ship_date,
        "destination": draw(st.sampled_from(["DE", "US", "JP"])),
        "end_use": draw(st.sampled_from(["civil", "military", "unknown"])),
    }
    before = event(line(description, hs, composition=base, **facts), **where)
    after = event(line(description, hs, composition=more, **facts), **where)
    return before, after


@settings(max_examples=300, deadline=None)
@given(line_and_element())
def test_naming_a_controlled_element_never_turns_a_hold_into_an_approve(
    pair: tuple[ShipmentEvent, ShipmentEvent],
) -> None:
    """Adding a composition entry for an element whose measure is in force never releases a
    held line, and never leaves a line unrecognised."""
    before, after = screen(pair[0]), screen(pair[1])
    if before.outcome is Outcome.HOLD:
        assert after.outcome is Outcome.HOLD, (before.lines, after.lines)
    assert after.outcome is Outcome.HOLD  # the element alone makes the line controlled
    assert after.lines[0].control_ids


@settings(max_examples=150, deadline=None)
@given(line_and_element())
def test_a_formula_counts_like_a_composition(pair: tuple[ShipmentEvent, ShipmentEvent]) -> None:
    """Naming the element by a formula in the description (instead of in the composition)
    holds the line as well, whatever it was before."""
    shipment = pair[0]
    added = pair[1].lines[0].composition[-1].element
    cargo = shipment.lines[0]
    described = cargo.model_copy(update={"description": f"{cargo.description} {added}2O3"})
    decision = screen(shipment.model_copy(update={"lines": [described]}))
    assert decision.outcome is Outcome.HOLD
    assert decision.lines[0].control_ids
