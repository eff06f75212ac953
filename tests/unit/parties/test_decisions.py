"""What a party match does to a decision: lines held, licences ignored, reasons and evidence."""

from __future__ import annotations

from schemas import Decision, MatchKind, PartyEffect
from services.screening.decision_json import DecisionEncoder
from services.screening.parties import PartyIndex
from tests.unit.parties.helpers import COPPER, GRAPHITE, line_codes, screened, shipment

MP = "MP Materials Corp."


def test_listed_end_user_is_held_from_the_listing_day_whatever_licence_covers_it() -> None:
    before = screened(shipment(MP, ship_date="2026-06-21", consignee_country="DE"))
    assert line_codes(before) == ["LICENSED"]  # licensed to Germany the day before
    held = screened(shipment(MP, ship_date="2026-06-22"))
    assert held.outcome.value == "hold"
    assert line_codes(held) == ["PROHIBITED_END_USER"]
    assert held.lines[0].license_id is None
    assert held.lines[0].consumed is None
    assert [str(r.code) for r in held.reasons] == ["PROHIBITED_END_USER"]
    reason = held.reasons[0]
    assert reason.legal_basis is not None
    assert "2026 No. 23" in reason.legal_basis
    assert "Export Control Law art. 18" in reason.legal_basis
    assert "cnp-138" in reason.message
    assert "end user" in reason.message


def test_the_consignee_is_screened_too() -> None:
    decision = screened(
        shipment("Hamburg Trading GmbH", "DE", consignee="MP Materials", consignee_country="US")
    )
    assert line_codes(decision) == ["PROHIBITED_END_USER"]
    assert "consignee" in decision.reasons[0].message


def test_evidence_names_list_announcement_name_matched_and_score() -> None:
    decision = screened(shipment("L3 Harris Technologies Inc."))
    assert decision.evidence is not None
    matches = decision.evidence.parties
    assert [(m.entity_id, m.party_list.value, m.kind, m.score) for m in matches] == [
        ("cnp-002", "control", MatchKind.EXACT, 100)
    ]
    assert matches[0].announcement == "MOFCOM Announcement 2025 No. 1"
    assert matches[0].name_matched in ("L3 Harris Technologies", "L3Harris Technologies, Inc.")
    assert decision.evidence.party_list_version is not None
    assert decision.evidence.party_list_version.startswith("parties-")


def test_control_list_leaves_goods_that_are_not_dual_use_alone() -> None:
    decision = screened(shipment(MP, lines=(GRAPHITE, COPPER)))
    assert line_codes(decision, 1) == ["PROHIBITED_END_USER"]
    assert line_codes(decision, 2) == ["NOT_CONTROLLED"]


def test_unreliable_entity_list_holds_every_line() -> None:
    # PVH Corp.: UEL 2025 No. 4 only, in force
    decision = screened(shipment("PVH Corp.", lines=(GRAPHITE, COPPER)))
    assert line_codes(decision, 2) == ["PROHIBITED_END_USER"]
    assert decision.outcome.value == "hold"


def test_a_near_miss_goes_to_a_person_never_to_a_prohibition() -> None:
    decision = screened(shipment("General Dynamic"))
    assert line_codes(decision) == ["PARTY_REVIEW"]
    assert "similarity" in decision.reasons[0].message


def test_a_listed_name_in_another_country_goes_to_a_person() -> None:
    decision = screened(shipment("MP Materials", "DE"))
    assert line_codes(decision) == ["PARTY_REVIEW"]


def test_a_weak_listing_goes_to_a_person_and_says_so() -> None:
    decision = screened(shipment("Clear Align LLC"))  # [?] control list, P1 only
    assert line_codes(decision) == ["PARTY_REVIEW"]
    assert "unverified" in decision.reasons[0].message


def test_a_suspended_listing_does_not_act_but_is_kept_as_evidence() -> None:
    # Skydio: UEL 2025 No. 7, suspended 2025-05-14 to 2026-11-09; control list No. 13 ceased
    decision = screened(shipment("Skydio, Inc.", ship_date="2026-01-15"))
    assert "PROHIBITED_END_USER" not in line_codes(decision)
    assert decision.evidence is not None
    assert {m.effect for m in decision.evidence.parties} == {PartyEffect.NONE}


def test_a_held_line_keeps_its_own_reasons_and_adds_the_listing() -> None:
    decision = screened(shipment(MP), licences=[])
    assert line_codes(decision) == ["LICENSE_REQUIRED", "PROHIBITED_END_USER"]


def test_no_party_list_no_party_screening() -> None:
    decision = screened(shipment(MP), parties=PartyIndex([]))
    assert line_codes(decision) == ["LICENSED"]


def test_a_cancelled_shipment_stays_cancelled() -> None:
    decision = screened(shipment(MP, event_type="shipment.cancelled", lines=()))
    assert [str(r.code) for r in decision.reasons] == ["SHIPMENT_CANCELLED"]


def test_the_batch_encoder_writes_the_party_evidence_byte_for_byte() -> None:
    shipped = shipment(MP, consignee="General Dynamic", consignee_country="US")
    decision = screened(shipped)
    assert decision.evidence is not None
    assert len(decision.evidence.parties) == 2
    encoded = DecisionEncoder().encode(decision, shipped, shipped.model_dump_json())
    assert encoded == decision.model_dump_json()
    assert Decision.model_validate_json(encoded) == decision


def test_metrics_count_matches_by_list_kind_and_effect() -> None:
    from services.screening.metrics import ScreeningMetrics

    metrics = ScreeningMetrics()
    metrics.observe_decision(
        screened(shipment(MP, consignee="General Dynamic", consignee_country="US"))
    )
    registry = metrics.registry

    def count(kind: str, effect: str) -> float | None:
        labels = {"list": "control", "kind": kind, "effect": effect}
        return registry.get_sample_value("lodestone_screening_party_matches_total", labels)

    assert count("exact", "prohibited") == 1
    assert count("likely", "review") == 1
