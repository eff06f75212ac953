"""Licence scope, validity, status, exhaustion (mixed units) and the choice among licences."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from schemas import Outcome, Quantity
from services.screening.engine import UsageByOthers
from services.screening.running_usage import RunningUsage
from tests.unit.engine.factories import codes, event, licence, line, screen

SM = line("Samarium oxide", "2846901940", quantity="500", unit="kg")


def _one(lic: Any, cargo: dict[str, Any] = SM, **where: Any) -> list[str]:
    return codes(screen(event(cargo, **where), [lic]))


@pytest.mark.parametrize(
    ("lic", "where", "expected"),
    [
        (licence(control_codes=["1C902"]), {}, "LICENSED"),
        (licence(control_codes=["1C902.b"]), {}, "LICENSED"),
        (licence(hs_codes=["284690"]), {}, "LICENSED"),
        (licence(control_codes=["1C903"]), {}, "LICENSE_REQUIRED"),
        (licence(control_codes=["1C903"]), {"declared": ["LIC-1"]}, "LICENSE_SCOPE"),
        (licence(control_codes=["1C902"], destinations=["FR"]), {}, "LICENSE_SCOPE"),
        (licence(control_codes=["1C902"], end_users=["DE-X"]), {}, "LICENSE_SCOPE"),
        (licence(control_codes=["1C902"], valid_to="2026-03-01"), {}, "LICENSE_EXPIRED"),
        (licence(control_codes=["1C902"], valid_to="2026-03-02"), {}, "LICENSED"),
        (licence(control_codes=["1C902"], valid_from="2026-03-03"), {}, "LICENSE_EXPIRED"),
        (licence(control_codes=["1C902"], status="revoked"), {}, "LICENSE_INACTIVE"),
        (licence(control_codes=["1C902"], status="suspended"), {}, "LICENSE_INACTIVE"),
        (licence(control_codes=["1C902"], holder="CN-EXP-OTHER"), {}, "LICENSE_REQUIRED"),
        (licence(control_codes=["1C902"], cap=("0.5", "t")), {}, "LICENSED"),
        (licence(control_codes=["1C902"], cap=("499999", "g")), {}, "LICENSE_EXHAUSTED"),
        (licence(control_codes=["1C902"], cap=("500000", "g")), {}, "LICENSED"),
        (licence(control_codes=["1C902"], cap=("10", "pcs")), {}, "LICENSE_SCOPE"),
    ],
)
def test_single_candidate(lic: Any, where: dict[str, Any], expected: str) -> None:
    assert _one(lic, **where) == [expected]


def test_declared_licence_unknown_to_the_exporter() -> None:
    decision = screen(event(SM, declared=["NOPE"]), [])
    assert codes(decision) == ["LICENSE_REQUIRED"]
    assert "NOPE" in decision.reasons[0].message


def test_pcs_line_against_a_mass_cap_says_why() -> None:
    cargo = line("Samarium target", "8486909110", quantity="3", unit="pcs")
    decision = screen(event(cargo), [licence(control_codes=["1C902"], cap=("1", "kg"))])
    assert codes(decision) == ["LICENSE_SCOPE"]
    assert "pcs" in decision.reasons[0].message


def test_lines_of_one_shipment_accumulate_on_a_capped_licence() -> None:
    lines = [
        line("Samarium oxide", "2846901940", line_no=1, quantity="0.6", unit="t"),
        line("Samarium oxide", "2846901940", line_no=2, quantity="400000", unit="g"),
        line("Samarium oxide", "2846901940", line_no=3, quantity="1", unit="g"),
    ]
    lic = licence(control_codes=["1C902"], cap=("1000", "kg"))
    decision = screen(event(*lines), [lic])
    assert [codes(decision, n) for n in (1, 2, 3)] == [
        ["LICENSED"],
        ["LICENSED"],
        ["LICENSE_EXHAUSTED"],
    ]
    assert decision.lines[0].consumed == Quantity(amount=Decimal(600), unit="kg")
    assert decision.lines[1].consumed == Quantity(amount=Decimal(400), unit="kg")
    assert decision.outcome is Outcome.HOLD


def test_usage_of_other_shipments_counts() -> None:
    lic = licence(control_codes=["1C902"], cap=("1", "t"))
    usage = UsageByOthers(consumed={"LIC-1": Decimal("0.5")}, single_used_by={})
    assert codes(screen(event(SM), [lic], usage)) == ["LICENSED"]
    usage = UsageByOthers(consumed={"LIC-1": Decimal("0.51")}, single_used_by={})
    assert codes(screen(event(SM), [lic], usage)) == ["LICENSE_EXHAUSTED"]


def test_single_licence_used_by_another_shipment() -> None:
    lic = licence(kind="single", control_codes=["1C902"], cap=("1", "t"))
    usage = UsageByOthers(consumed={"LIC-1": Decimal("0.1")}, single_used_by={"LIC-1": "OTHER"})
    decision = screen(event(SM), [lic], usage)
    assert codes(decision) == ["LICENSE_EXHAUSTED"]
    assert "OTHER" in decision.reasons[0].message


def test_choice_declared_then_narrowest_then_earliest_expiry_then_id() -> None:
    broad = licence("A-BROAD", control_codes=["1C9"])
    narrow = licence("B-NARROW", control_codes=["1C902"], end_users=["DE-C-77"])
    narrow_early = licence(
        "C-NARROW", control_codes=["1C902"], end_users=["DE-C-77"], valid_to="2026-12-31"
    )
    narrow_twin = licence(
        "D-NARROW", control_codes=["1C902"], end_users=["DE-C-77"], valid_to="2026-12-31"
    )
    all_four = [broad, narrow, narrow_early, narrow_twin]
    assert screen(event(SM), all_four).lines[0].license_id == "C-NARROW"
    assert screen(event(SM, declared=["A-BROAD"]), all_four).lines[0].license_id == "A-BROAD"
    assert screen(event(SM), [broad, narrow]).lines[0].license_id == "B-NARROW"


def test_ledger_releases_consumption_when_a_shipment_is_cancelled() -> None:
    lic = licence(kind="single", control_codes=["1C902"], cap=("1", "t"))
    ledger = RunningUsage([lic])
    ledger.apply(screen(event(SM, shipment_id="A"), [lic]))
    assert ledger.usage_for("B").single_used_by == {"LIC-1": "A"}
    ledger.apply(screen(event(shipment_id="A", event_type="shipment.cancelled"), [lic]))
    assert ledger.usage_for("B") == UsageByOthers(consumed={}, single_used_by={})


def test_prohibition_holds_whatever_licence() -> None:
    lic = licence(control_codes=["1C902"], hs_codes=["28"])
    decision = screen(event(SM, destination="US", end_use="military"), [lic])
    assert codes(decision) == ["PROHIBITED_END_USE"]
