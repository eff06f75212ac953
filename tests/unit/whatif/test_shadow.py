"""Shadow screening, pure part: a live decision decided again under the draft."""

from __future__ import annotations

import orjson
import pytest

from services.screening.evidence import EvidenceError
from services.screening.shadow import Shadowed, ShadowMetrics, ShadowScreener
from tests.unit.whatif.drafts import draft
from tests.unit.whatif.test_whatif import ledger


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


@pytest.fixture(scope="module")
def shadows() -> dict[str, Shadowed]:
    screener = ShadowScreener(draft("2026-06-30"))
    return {s.shipment_id: screener.shadow(_bytes(s.decision)) for s in ledger()}


def test_the_draft_disagrees_exactly_where_the_what_if_changes(
    shadows: dict[str, Shadowed],
) -> None:
    disagreeing = {k for k, v in shadows.items() if v.disagree}
    assert disagreeing == {"A", "E", "G", "H"}
    assert shadows["A"].disagree == {"CN-2025-55"}
    assert shadows["A"].decision.outcome.value == "hold"
    assert shadows["B"].agree == {"CN-2025-55"}
    assert shadows["D"].agree == {"-"}


def test_a_shadow_decision_has_its_own_stable_id_and_the_live_evidence() -> None:
    live = ledger()[0]
    first = ShadowScreener(draft("2026-06-30")).shadow(_bytes(live.decision))
    again = ShadowScreener(draft("2026-06-30")).shadow(_bytes(live.decision))
    recorded = orjson.loads(live.decision)
    assert first.payload == again.payload
    assert first.decision.decision_id != recorded["decision_id"]
    assert first.decision.catalogue_version == draft("2026-06-30").version
    assert orjson.loads(first.payload)["evidence"] == recorded["evidence"]


@pytest.mark.parametrize("value", [b"{not json", b"[]", b'{"decision_id": "x"}'])
def test_a_live_decision_without_evidence_is_refused(value: bytes) -> None:
    with pytest.raises(EvidenceError):
        ShadowScreener(draft("2026-06-30")).shadow(value)


def test_metrics_are_labelled_by_measure_and_agreement() -> None:
    metrics = ShadowMetrics()
    metrics.compared.labels("CN-2025-55", "disagree").inc()
    text = metrics.registry.get_sample_value(
        "lodestone_shadow_decisions_total", {"measure": "CN-2025-55", "agreement": "disagree"}
    )
    assert text == 1
