"""What-if over the real ledger and replay over the real audit store, after a real run.

The screening and audit services run on the session's Kafka and PostgreSQL; a stream with
capped licences, a licence granted mid-stream (re-screens that supersede holds), cancelled and
uncontrolled shipments is decided and recorded. Then:

* ``lodestone whatif`` with a draft that extends the October 2025 package's suspension by a
  year releases exactly the held superhard-material lines, and leaves the ledger as it was;
* ``lodestone audit replay`` re-derives every recorded decision with zero mismatches, and
  reports exactly the record whose evidence was then altered in the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from typer.testing import CliRunner

from deploy.local import RuntimeState
from schemas import CargoLine, Decision, EventType, Party, ShipmentEvent, Trigger
from services.audit.replay_cli import replay_store
from services.audit.retry import Backoff
from services.audit.service import AuditService, ServiceOptions
from services.audit.verify import verify_chain
from services.common.migrations import SERVICES_DIR, apply_migrations
from services.common.settings import Settings
from services.common.signing import KeyRing
from services.screening.catalogue import load_bundled_catalogue, parse_catalogue_yaml
from services.screening.whatif_cli import run_whatif
from tests.conftest import NewTopicFactory
from tests.integration.audit.conftest import AuditDatabase, fresh_database, superuser_connect
from tests.integration.screening.conftest import Pipeline, event, licence, running
from tests.unit.audit.factories import LOG_SIGNER
from tests.unit.whatif.drafts import with_oct2025_suspension_ending

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def diamond_event(exporter: Party, shipment_id: str) -> ShipmentEvent:
    """Synthetic diamond micropowder (CN-2025-55, the October 2025 package), shipping soon."""
    base = event(exporter, shipment_id=shipment_id, samarium_kg=None, copper_t="2")
    line = CargoLine(
        line_no=1,
        hs_code="71051020",
        description="Synthetic diamond micropowder",
        quantity=Decimal("40"),
        unit="kg",
        value=Decimal("5000"),
        currency="USD",
        origin_country="CN",
        properties={"particle_size_um": Decimal("20")},
    )
    return base.model_copy(update={"lines": [line, *base.lines]})


@contextlib.asynccontextmanager
async def audit_running(pipeline: Pipeline, db: AuditDatabase) -> AsyncIterator[AuditService]:
    # the runtime's keys: the screening service signs with the key whose public half this trusts
    settings = Settings()
    options = ServiceOptions(
        bootstrap=pipeline.bootstrap,
        dsn=db.dsn("audit"),
        decisions_topic=pipeline.settings.topic_decisions,
        controls_topic=pipeline.settings.topic_controls,
        decision_keys=KeyRing.from_files(settings.decision_public_keys()),
        log_signer=LOG_SIGNER,
        group_id=f"audit-test-{uuid.uuid4().hex[:8]}",
        batch_max_records=200,
        metrics_port=0,
        backoff=Backoff(initial=0.1, maximum=1.0),
    )
    service = AuditService(options)
    task = asyncio.create_task(service.run())
    try:
        yield service
    finally:
        service.stop()
        await asyncio.wait_for(task, timeout=30)


async def _recorded(db: AuditDatabase) -> list[dict[str, Any]]:
    conn = await db.connect("auditor")
    try:
        rows = await conn.fetch("SELECT decision::text FROM audit.decisions_v ORDER BY seq")
        return [orjson.loads(r[0]) for r in rows]
    finally:
        await conn.close()


async def _ledger_digest(runtime: RuntimeState, topic: str) -> tuple[str, ...]:
    """Every ledger row of the pipeline's shipments, as text: unchanged means untouched."""
    conn = await asyncpg.connect(runtime.dsn("admin"))
    try:
        queries = (
            "SELECT string_agg(s::text, '|' ORDER BY s.shipment_id) FROM screening.shipments s"
            " WHERE s.source_topic = $1",
            "SELECT string_agg(d::text, '|' ORDER BY d.decision_id) FROM screening.decisions d"
            " JOIN screening.shipments s USING (shipment_id) WHERE s.source_topic = $1",
            "SELECT string_agg(c::text, '|' ORDER BY c.license_id, c.shipment_id, c.line_no)"
            " FROM screening.consumption c JOIN screening.shipments s USING (shipment_id)"
            " WHERE s.source_topic = $1",
        )
        return tuple([str(await conn.fetchval(q, topic)) for q in queries])
    finally:
        await conn.close()


async def test_whatif_and_replay_on_a_real_run(
    pipeline: Pipeline, runtime: RuntimeState, tmp_path: Path
) -> None:
    exporter, other = pipeline.exporter(1), pipeline.exporter(2)
    capped = licence(exporter, license_id=f"LIC-CAP-{pipeline.tag}", cap="250")
    first = [event(exporter, samarium_kg="100") for _ in range(4)]  # the third exhausts the cap
    diamonds = [diamond_event(other, f"SHP-D-{pipeline.tag}-{n}") for n in range(3)]
    plain = [event(other, samarium_kg=None, copper_t="5") for _ in range(3)]
    cancelled = event(exporter, shipment_id=first[0].shipment_id, event_type=EventType.CANCELLED)
    later = [event(other, samarium_kg="10") for _ in range(2)]  # held until the grant below
    catalogue = load_bundled_catalogue()

    async with fresh_database(runtime) as db:
        await apply_migrations(db.dsn("admin"), "audit", SERVICES_DIR / "audit" / "migrations")
        await pipeline.publish_catalogue(catalogue)
        await pipeline.publish_licences(capped)
        async with running(pipeline), audit_running(pipeline, db):
            await pipeline.publish_events([*first, *diamonds, *plain, cancelled, *later])
            await pipeline.decisions(lambda ds: len(ds) >= 13, wait_s=90)
            # a licence for the other exporter: its held samarium shipments are re-screened
            await pipeline.publish_licences(licence(other, license_id=f"LIC-OTHER-{pipeline.tag}"))
            decisions = await pipeline.decisions(
                lambda ds: (
                    {d.shipment_id for d in ds if d.trigger is Trigger.LICENSE_CHANGE}
                    >= {e.shipment_id for e in later}
                ),
                wait_s=90,
            )
            deadline = time.monotonic() + 90
            while len(await _recorded(db)) < len({d.decision_id for d in decisions}):
                assert time.monotonic() < deadline, "the audit store did not catch up"
                await asyncio.sleep(0.5)

        recorded = await _recorded(db)
        assert len(recorded) == len({d.decision_id for d in decisions}) >= 15
        assert any(r["supersedes"] for r in recorded)
        assert any(r["evidence"]["license_usage"] for r in recorded)

        # ---- what-if: "what changes if MOFCOM extends the suspension to next year?"
        draft = parse_catalogue_yaml(with_oct2025_suspension_ending("2027-11-10"), "draft")
        before = await _ledger_digest(runtime, pipeline.settings.topic_shipments)
        report = await run_whatif(
            draft,
            datetime.now(UTC).date(),
            dsn=runtime.dsn("screening"),
            source_topic=pipeline.settings.topic_shipments,
        )
        assert await _ledger_digest(runtime, pipeline.settings.topic_shipments) == before
        assert report.unreadable == []
        # every shipment once, the cancelled one skipped
        assert report.considered == 11
        assert report.cancelled == 1
        assert {(c.shipment_id, c.line_no) for c in report.changes} == {
            (d.shipment_id, 1) for d in diamonds
        }
        assert all(
            (c.old_outcome, c.new_outcome, c.ahead) == ("hold", "approve", True)
            for c in report.changes
        )
        assert set(report.by_measure) == {"CN-2025-55"}
        assert report.by_exporter[other.id].to_approve == 3
        # the command gives the same report
        draft_file = tmp_path / "draft.yaml"
        draft_file.write_text(with_oct2025_suspension_ending("2027-11-10"), encoding="utf-8")
        env = {
            "LODESTONE_SCREENING_DATABASE_URL": runtime.dsn("screening"),
            "LODESTONE_TOPIC_SHIPMENTS": pipeline.settings.topic_shipments,
        }
        result = await asyncio.to_thread(
            _invoke,
            [
                "whatif",
                "--catalogue",
                str(draft_file),
                "--format",
                "json",
                "--today",
                str(report.today),
            ],
            env,
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["changes"] == report.as_json()["changes"]

        # ---- replay: every recorded decision re-derives byte for byte
        summary, problems = await replay_store(
            db.dsn("auditor"), since=datetime.now(UTC) - timedelta(days=1)
        )
        assert problems == []
        assert summary.failures == []
        assert summary.replayed == summary.matched == len(recorded)

        # ---- an altered evidence record is reported, and only that one
        # the hold that the cap's usage explains: without that usage it would not follow
        victim = next(
            r for r in recorded if any("LICENSE_EXHAUSTED" in x["reasons"] for x in r["lines"])
        )
        await _alter_usage(db, victim["decision_id"])
        summary, _ = await replay_store(
            db.dsn("auditor"), since=datetime.now(UTC) - timedelta(days=1)
        )
        assert [f.decision_id for f in summary.failures] == [victim["decision_id"]]
        assert summary.matched == len(recorded) - 1
        # (and the chain, which covers every byte, finds the same record)
        conn = await db.connect("auditor")
        try:
            broken = (await verify_chain(conn)).broken
        finally:
            await conn.close()
        assert broken is not None
        assert broken.decision_id == victim["decision_id"]

        # ---- the command: exit 1 naming the decision; 0 for an intact one
        intact = next(r for r in recorded if r["decision_id"] != victim["decision_id"])
        cli = _cli(db)
        result = await asyncio.to_thread(cli, ["audit", "replay", victim["decision_id"]])
        assert result.exit_code == 1, result.output
        assert f"MISMATCH {victim['decision_id']}" in result.output
        result = await asyncio.to_thread(cli, ["audit", "replay", intact["decision_id"]])
        assert result.exit_code == 0, result.output
        assert "OK: 1 decision(s) replayed, 1 identical" in result.output
        missing = await asyncio.to_thread(cli, ["audit", "replay", "no-such-decision"])
        assert missing.exit_code == 1
        assert "no decision no-such-decision" in missing.output

        # a decision's own model agrees with what was replayed
        Decision.model_validate(intact)


async def _alter_usage(db: AuditDatabase, decision_id: str) -> None:
    """As the superuser (past the append-only triggers): the licence looks less used."""
    su = await superuser_connect(db.name)
    try:
        async with su.transaction():
            await su.execute("ALTER TABLE audit.decision_records DISABLE TRIGGER USER")
            await su.execute(
                "UPDATE audit.decision_records SET decision ="
                " jsonb_set(decision::jsonb, '{evidence,license_usage}', '[]')::text"
                " WHERE decision_id = $1",
                decision_id,
            )
            await su.execute("ALTER TABLE audit.decision_records ENABLE TRIGGER USER")
    finally:
        await su.close()


def _invoke(args: list[str], env: dict[str, str]) -> Any:
    """``lodestone ARGS`` with ``env`` (settings read afresh)."""
    from services.cli import app
    from services.common.settings import get_settings

    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, args, env=env)
    finally:
        get_settings.cache_clear()


def _cli(db: AuditDatabase) -> Any:
    def invoke(args: list[str]) -> Any:
        return _invoke(args, {"LODESTONE_AUDITOR_DATABASE_URL": db.dsn("auditor")})

    return invoke


async def _audit_digest(db: AuditDatabase) -> tuple[str, ...]:
    conn = await db.connect("auditor")
    try:
        return (
            str(
                await conn.fetchval(
                    "SELECT string_agg(d::text, '|' ORDER BY seq) FROM audit.decisions_v d"
                )
            ),
            str(
                await conn.fetchval(
                    "SELECT string_agg(c::text, '|' ORDER BY version) FROM audit.catalogues_v c"
                )
            ),
            str(await conn.fetchval("SELECT count(*) FROM audit.rejected_records_v")),
        )
    finally:
        await conn.close()


async def test_shadow_screening_leaves_ledger_usage_and_audit_bit_identical(
    pipeline: Pipeline, runtime: RuntimeState, new_topic: NewTopicFactory
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from services.common.signing import Signer, decision_keys
    from services.screening.shadow import ShadowService
    from tests.integration.foundation.test_decision_readers import send

    exporter = pipeline.exporter(1)
    capped = licence(exporter, license_id=f"LIC-CAP-{pipeline.tag}", cap="150")
    samarium = [event(exporter, samarium_kg="100") for _ in range(2)]  # the second is held
    diamonds = [diamond_event(exporter, f"SHP-D-{pipeline.tag}-{n}") for n in range(2)]
    plain = [event(exporter, samarium_kg=None, copper_t="5")]
    live_events = [*samarium, *diamonds, *plain]
    shadow_topic = await new_topic(partitions=3, prefix="shadow")
    draft = parse_catalogue_yaml(with_oct2025_suspension_ending("2027-11-10"), "draft")

    async with fresh_database(runtime) as db:
        await apply_migrations(db.dsn("admin"), "audit", SERVICES_DIR / "audit" / "migrations")
        await pipeline.publish_catalogue(load_bundled_catalogue())
        await pipeline.publish_licences(capped)
        async with running(pipeline), audit_running(pipeline, db):
            await pipeline.publish_events(live_events)
            live = await pipeline.decisions(lambda ds: len(ds) >= len(live_events), wait_s=90)
            # forgeries on the live topic: not the screening service's, so never shadowed (the audit
            # service chains them as rejected records before the digests are taken)
            forged = json.loads(live[0].model_dump_json())
            forged["outcome"] = "approve" if forged["outcome"] == "hold" else "hold"
            forged_value = json.dumps(forged).encode()
            attacker = Signer(Ed25519PrivateKey.generate())
            await send(
                pipeline.bootstrap,
                pipeline.settings.topic_decisions,
                live[0].shipment_id.encode(),
                [(forged_value, []), (forged_value, attacker.headers(forged_value)), (None, [])],
            )
            deadline = time.monotonic() + 90
            while len(await _recorded(db)) < len(live) or (await _audit_digest(db))[-1] != "3":
                assert time.monotonic() < deadline, "the audit store did not catch up"
                await asyncio.sleep(0.5)
            ledger_before = await _ledger_digest(runtime, pipeline.settings.topic_shipments)
            audit_before = await _audit_digest(db)

            options = pipeline.options.model_copy(update={"shadow_topic": shadow_topic})
            keys = decision_keys(pipeline.settings, "shadow screening")
            shadow = ShadowService(pipeline.settings, options, draft, keys)
            task = asyncio.create_task(shadow.run())
            try:
                shadows = await pipeline.read(
                    shadow_topic, lambda items: len(items) >= len(live), wait_s=90
                )
            finally:
                shadow.stop()
                await asyncio.wait_for(task, timeout=30)
            await asyncio.sleep(1)  # anything the shadow caused would have reached the stores
            extra = await pipeline.read(shadow_topic, lambda items: False, wait_s=2)
            assert await _ledger_digest(runtime, pipeline.settings.topic_shipments) == ledger_before
            assert await _audit_digest(db) == audit_before

    assert len(shadows) == len(extra) == len(live)
    assert shadow.metrics.registry.get_sample_value("lodestone_shadow_unverified_total") == 3
    by_shipment = {d.shipment_id: d for d in shadows}
    assert all(d.catalogue_version == draft.version for d in shadows)
    # the extended suspension releases the diamond lines; the rest agrees with the live run
    for d in diamonds:
        assert by_shipment[d.shipment_id].outcome.value == "approve"
    live_by_shipment = {d.shipment_id: d for d in live}
    for e in (*samarium, *plain):
        assert by_shipment[e.shipment_id].outcome is live_by_shipment[e.shipment_id].outcome
    # the held samarium stays held: the shadow saw the cap's usage the live decision saw
    assert [by_shipment[e.shipment_id].outcome.value for e in samarium] == ["approve", "hold"]
    compared = shadow.metrics.registry.get_sample_value
    assert compared(
        "lodestone_shadow_decisions_total", {"measure": "CN-2025-55", "agreement": "disagree"}
    ) == len(diamonds)
    assert compared(
        "lodestone_shadow_decisions_total", {"measure": "CN-2025-18", "agreement": "agree"}
    ) == len(samarium)


async def test_replay_of_a_sample_stream_run_reports_no_mismatch(
    pipeline: Pipeline, runtime: RuntimeState
) -> None:
    """The demo's and load benchmark's stream (amendments, cancellations, ERP retries, capped and
    single licences, a licence granted mid-stream) through the real services: every recorded
    decision re-derives byte for byte."""
    from services.screening.sample_stream import generate_events, late_licence, sample_licences

    events = [  # event ids of this run only (the generator's are the same for every run)
        e.model_copy(update={"event_id": f"{pipeline.tag}-{e.event_id}"})
        for e in generate_events(240, seed=5, shipment_prefix=f"SHP-{pipeline.tag}")
    ]
    expected = {e.event_id for e in events}
    async with fresh_database(runtime) as db:
        await apply_migrations(db.dsn("admin"), "audit", SERVICES_DIR / "audit" / "migrations")
        await pipeline.publish_catalogue(load_bundled_catalogue())
        await pipeline.publish_licences(*sample_licences())
        async with running(pipeline), audit_running(pipeline, db):

            def decided(wanted: set[str]) -> Callable[[list[Decision]], bool]:
                def check(ds: list[Decision]) -> bool:
                    return {d.event_id for d in ds if d.trigger is Trigger.SHIPMENT_EVENT} >= wanted

                return check

            all_decided = decided(expected)
            await pipeline.publish_events(events[:120])
            # the late licence after the first half is decided: its holds are re-screened
            await pipeline.decisions(decided({e.event_id for e in events[:120]}), wait_s=120)
            await pipeline.publish_licences(late_licence())
            await pipeline.publish_events(events[120:])

            await pipeline.decisions(all_decided, wait_s=120)
            await asyncio.sleep(2)  # re-screens after the late licence
            decisions = await pipeline.decisions(all_decided, wait_s=30)
            ids = {d.decision_id for d in decisions}
            deadline = time.monotonic() + 120
            while len(await _recorded(db)) < len(ids):
                assert time.monotonic() < deadline, "the audit store did not catch up"
                await asyncio.sleep(0.5)
        recorded = await _recorded(db)
        assert any(r["trigger"] == "license_change" for r in recorded)
        assert any(r["evidence"]["license_usage"] for r in recorded)
        summary, problems = await replay_store(
            db.dsn("auditor"), since=datetime.now(UTC) - timedelta(days=1)
        )
    assert problems == []
    assert summary.failures == []
    assert summary.replayed == summary.matched == len(recorded) >= len(expected)
