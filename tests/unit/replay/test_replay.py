"""Replay: every decision re-derives byte for byte from its evidence; tampering is reported."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from schemas import Decision, License, Trigger
from services.audit.canonical import canonical_text
from services.audit.replay import Replayer, ReplaySummary, catalogues_by_version, first_difference
from services.screening.catalogue import Catalogue, load_bundled_catalogue
from services.screening.engine import decide
from services.screening.running_usage import RunningUsage
from tests.unit.engine.factories import event, licence, line
from tests.unit.whatif.drafts import draft

NOW = datetime(2026, 11, 30, 9, 30, 12, 345678, tzinfo=UTC)


def stored(decision: Decision) -> str:
    """What the audit store keeps: the published JSON in canonical form."""
    return canonical_text(orjson.loads(decision.model_dump_json()))


def run(catalogue: Catalogue) -> list[Decision]:
    """A small stream decided the way the service decides it (running licence usage)."""
    held: list[License] = [
        licence("LIC-CAP", control_codes=["2C902"], cap=("250", "kg")),
        licence("LIC-ONE", kind="single", control_codes=["1C905"], cap=("500", "kg")),
    ]
    usage = RunningUsage(held)
    decisions = []
    specs = [
        (line("Synthetic diamond micropowder", "71051020", properties={"particle_size_um": "9"}),),
        (line("Copper cathodes", "7403110000"), line("Gallium metal", "8112929010", line_no=2)),
        (line("Synthetic diamond micropowder", "71051020", properties={"particle_size_um": "9"}),),
        (line("Synthetic diamond micropowder", "71051020", properties={"particle_size_um": "9"}),),
        (line("Dysprosium oxide", "2846901993"),),
        (line("Dysprosium oxide", "2846901993"),),
    ]
    for n, lines in enumerate(specs):
        e = event(*lines, ship_date="2026-11-20", shipment_id=f"S{n}", event_id=f"E{n}")
        d = decide(e, catalogue, held, usage.usage_for(e.shipment_id), decided_at=NOW)
        usage.apply(d)
        decisions.append(d)
    # a re-screen superseding the first decision
    first = decisions[0]
    assert first.evidence is not None
    again = decide(
        first.evidence.event,
        catalogue,
        held,
        usage.usage_for(first.shipment_id),
        decided_at=NOW,
        trigger=Trigger.LICENSE_CHANGE,
        supersedes=first.decision_id,
    )
    return [*decisions, again]


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_bundled_catalogue()


@pytest.fixture(scope="module")
def records(catalogue: Catalogue) -> list[str]:
    return [stored(d) for d in run(catalogue)]


def replayer(*catalogues: Catalogue) -> Replayer:
    found, problems = catalogues_by_version(c.to_wire() for c in catalogues)
    assert not problems
    return Replayer(found)


def test_the_run_exercises_capped_single_and_superseding_decisions(records: list[str]) -> None:
    parsed = [orjson.loads(r) for r in records]
    assert any(p["evidence"]["license_usage"] for p in parsed)
    assert {p["outcome"] for p in parsed} == {"approve", "hold"}
    assert parsed[-1]["supersedes"] == parsed[0]["decision_id"]


def test_every_recorded_decision_replays_byte_for_byte(
    catalogue: Catalogue, records: list[str]
) -> None:
    summary = ReplaySummary()
    replay = replayer(catalogue, draft("2026-06-30"))
    for record in records:
        summary.add(replay.replay(record))
    assert summary.failures == []
    assert summary.matched == len(records)


def _tamper(record: str, change: Callable[[dict[str, Any]], None]) -> str:
    raw = orjson.loads(record)
    change(raw)
    return canonical_text(raw)


def _usage_halved(d: dict[str, Any]) -> None:
    d["evidence"]["license_usage"] = []


TAMPERINGS: dict[str, tuple[int, Callable[[dict[str, Any]], None], str]] = {
    # the hold on record 3 (cap used up) no longer follows when the usage is removed
    "usage removed": (3, _usage_halved, "$.lines[0]"),
    "outcome flipped": (5, lambda d: d.update(outcome="approve"), "$.outcome"),
    "quantity changed": (
        0,
        lambda d: d["evidence"]["event"]["lines"][0].update(quantity="999"),
        "$.lines[0]",
    ),
    # a licence for the held gallium line, listed in id order as the engine lists them
    "licence added": (
        1,
        lambda d: d["evidence"]["licenses"].insert(
            0, orjson.loads(licence("LIC-0", hs_codes=["8112929010"]).model_dump_json())
        ),
        "$.lines[1]",
    ),
    "used by another shipment erased": (
        5,
        lambda d: d["evidence"]["license_usage"].clear(),
        "$.lines[0]",
    ),
    "reason dropped": (5, lambda d: d["reasons"].pop(), "$.reasons"),
    "superseded id changed": (6, lambda d: d.update(supersedes="other"), "$.decision_id"),
    "unknown licence usage injected": (
        1,
        lambda d: d["evidence"]["license_usage"].append({"license_id": "ELSEWHERE"}),
        "$.evidence.license_usage",
    ),
}


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_a_tampered_record_is_reported_with_where_it_differs(
    name: str, catalogue: Catalogue, records: list[str]
) -> None:
    index, change, where = TAMPERINGS[name]
    tampered = _tamper(records[index], change)
    assert tampered != records[index]

    result = replayer(catalogue).replay(tampered)

    assert not result.matches
    assert result.problem is not None
    assert where in result.problem


def test_a_catalogue_the_store_lacks_makes_the_decision_unverifiable(records: list[str]) -> None:
    result = replayer(draft("2026-06-30")).replay(records[0])
    assert not result.matches
    assert result.unverifiable
    assert "not in the audit store" in (result.problem or "")


def test_a_record_without_evidence_is_unverifiable(
    catalogue: Catalogue, records: list[str]
) -> None:
    result = replayer(catalogue).replay(_tamper(records[0], lambda d: d.pop("evidence")))
    assert result.unverifiable


def test_a_catalogue_whose_content_does_not_match_its_version_is_not_used(
    catalogue: Catalogue,
) -> None:
    wire = orjson.loads(catalogue.to_wire())
    wire["measures"] = wire["measures"][:-1]  # content changed, version kept
    found, problems = catalogues_by_version([orjson.dumps(wire)])
    assert found == {}
    assert problems


def test_first_difference_names_the_path() -> None:
    assert first_difference({"a": [1, {"b": 2}]}, {"a": [1, {"b": 3}]}) == "$.a[1].b"
    assert first_difference({"a": [1]}, {"a": [1, 2]}) == "$.a[1]"
    assert first_difference({"a": 1}, {"a": 1}) is None


def test_a_run_of_the_benchmark_mix_replays_without_a_mismatch(catalogue: Catalogue) -> None:
    """1,500 shipments of the engine benchmark's mix (50 exporters, capped licences used up
    along the way), decided as the service decides them; and the same catalogue in a what-if
    changes none of them."""
    from datetime import date

    from benchmarks.engine.bench_engine import licences, make_events
    from services.screening.whatif import RecordedShipment, what_if

    held = licences()
    usage = RunningUsage(held)
    decisions = []
    for e in make_events(1500, seed=11):
        d = decide(e, catalogue, held, usage.usage_for(e.shipment_id), decided_at=NOW)
        usage.apply(d)
        decisions.append(d)
    assert any(d.evidence and d.evidence.license_usage for d in decisions)

    summary = ReplaySummary()
    replay = replayer(catalogue)
    for d in decisions:
        summary.add(replay.replay(stored(d)))
    assert summary.failures == []
    assert summary.matched == 1500

    ledger = [
        RecordedShipment(d.shipment_id, d.exporter_id, d.ship_date or date.min, False,
                         d.model_dump_json())
        for d in decisions
    ]  # fmt: skip
    assert what_if(ledger, catalogue, today=date(2026, 1, 1)).changes == []
