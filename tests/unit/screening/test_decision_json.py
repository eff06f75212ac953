"""The spliced decision JSON is byte for byte what ``Decision.model_dump_json()`` gives."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from schemas import Trigger
from services.screening.catalogue import load_bundled_catalogue
from services.screening.decision_json import SPLICEABLE, DecisionEncoder
from services.screening.engine import UsageByOthers, decide
from services.screening.sample_stream import generate_events, sample_licences


def test_the_decision_fields_allow_the_splice() -> None:
    assert SPLICEABLE


def test_spliced_json_equals_model_dump_json() -> None:
    catalogue = load_bundled_catalogue()
    licences = sample_licences()
    encoder = DecisionEncoder()
    kinds = set()
    for n, event in enumerate(generate_events(400, seed=5)):
        own = [lic for lic in licences if lic.holder_id == event.exporter.id]
        usage = UsageByOthers(consumed={}, single_used_by={})
        if n % 3 == 0 and own:  # some usage by other shipments, so the evidence lists it
            usage = UsageByOthers(
                consumed={lic.license_id: Decimal("1.5") for lic in own},
                single_used_by={own[0].license_id: "SHP-OTHER"},
            )
        decision = decide(
            event,
            catalogue,
            own,
            usage,
            decided_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            trigger=Trigger.SHIPMENT_EVENT,
            supersedes="D-previous" if n % 2 else None,
        )
        assert encoder.encode(decision, event, event.model_dump_json()) == (
            decision.model_dump_json()
        )
        evidence = decision.evidence
        assert evidence is not None
        kinds.add((bool(evidence.licenses), bool(evidence.license_usage)))
    assert kinds == {(True, True), (True, False), (False, False)}


def test_a_decision_without_its_event_as_evidence_is_serialised_whole() -> None:
    event, other = generate_events(2, seed=9)
    decision = decide(
        event,
        load_bundled_catalogue(),
        [],
        UsageByOthers(consumed={}, single_used_by={}),
        decided_at=datetime(2026, 1, 2, tzinfo=UTC),
        trigger=Trigger.SHIPMENT_EVENT,
        supersedes=None,
    )
    encoder = DecisionEncoder()
    assert encoder.encode(decision, other, other.model_dump_json()) == decision.model_dump_json()
    bare = decision.model_copy(update={"evidence": None})
    assert encoder.encode(bare, event, event.model_dump_json()) == bare.model_dump_json()
