"""The real stack the console tests run against: screening, audit and the console, in-process.

A fresh audit database, topics of its own, the bundled catalogue, the sample licences and a
generated stream of shipments screened by the real screening service, recorded by the real
audit service; then the console served by uvicorn on an ephemeral port.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from cryptography.hazmat.primitives import serialization

from deploy.local import RuntimeState
from schemas import ShipmentEvent
from services.audit.service import AuditService, ServiceOptions
from services.common.kafka_security import kafka_client_options
from services.common.migrations import SERVICES_DIR, apply_migrations
from services.common.settings import Settings
from services.common.signing import KeyRing
from services.console.app import ConsoleOptions, create_console
from services.console.auth import Role, UserEntry, hash_secret
from services.screening.app import build_app
from services.screening.catalogue import load_bundled_catalogue
from services.screening.config import ScreeningSettings
from services.screening.publish import publish_catalogue, publish_licences, publish_records
from services.screening.sample_stream import generate_events, sample_licences
from tests.integration.audit.conftest import AuditDatabase, fresh_database
from tests.unit.audit.factories import LOG_SIGNER

#: user id -> (name, role, secret); the console holds only the hashes
USERS: dict[str, tuple[str, Role, str]] = {
    "vera": ("Vera Viewer", Role.VIEWER, "vera-secret-0001"),
    "rita": ("Rita Reviewer", Role.REVIEWER, "rita-secret-0002"),
    "rolf": ("Rolf Reviewer", Role.REVIEWER, "rolf-secret-0003"),
    "aldo": ("Aldo Auditor", Role.AUDITOR, "aldo-secret-0004"),
}


@dataclass
class Stack:
    base_url: str
    db: AuditDatabase
    settings: Settings
    events: list[ShipmentEvent]
    log_public_key_file: Path
    extras: dict[str, Any] = field(default_factory=dict)

    def secret(self, user_id: str) -> str:
        return USERS[user_id][2]


async def _topics(bootstrap: str, tag: str) -> dict[str, str]:
    compact = {"cleanup.policy": "compact"}
    specs = {
        "shipments": (3, {}),
        "decisions": (3, {}),
        "dlq": (1, {}),
        "licenses": (1, compact),
        "controls": (1, compact),
        "anchors": (1, {}),
        "reviews": (1, {}),
    }
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_client_options())
    await admin.start()
    try:
        names = {k: f"console-{k}.{tag}" for k in specs}
        await admin.create_topics(
            [NewTopic(names[k], p, 1, topic_configs=c) for k, (p, c) in specs.items()],
            timeout_ms=10000,
        )
    finally:
        await admin.close()
    return names


async def _recorded(db: AuditDatabase) -> tuple[int, int]:
    conn = await db.connect("auditor")
    try:
        count = await conn.fetchval("SELECT count(*) FROM audit.decisions_v")
        covered = await conn.fetchval("SELECT coalesce(max(tree_size), 0) FROM audit.tree_heads_v")
    finally:
        await conn.close()
    return int(count), int(covered)


async def _settle(db: AuditDatabase, quiet_s: float = 3.0, within_s: float = 90.0) -> int:
    """Wait until the store stops growing and a signed head covers every record."""
    deadline = time.monotonic() + within_s
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count, covered = await _recorded(db)
        if count != last:
            last, since = count, time.monotonic()
        elif count > 0 and covered >= count and time.monotonic() - since >= quiet_s:
            return count
        await asyncio.sleep(0.3)
    raise AssertionError(f"the audit store did not settle ({last} records)")


@contextlib.asynccontextmanager
async def console_stack(
    runtime: RuntimeState, tmp: Path, events: int = 40, seed: int = 2026
) -> AsyncIterator[Stack]:
    tag = uuid.uuid4().hex[:8]
    topics = await _topics(runtime.kafka_bootstrap, tag)
    base = Settings()
    settings = base.model_copy(
        update={
            "topic_shipments": topics["shipments"],
            "topic_decisions": topics["decisions"],
            "topic_dead_letters": topics["dlq"],
            "topic_licenses": topics["licenses"],
            "topic_controls": topics["controls"],
            "topic_anchors": topics["anchors"],
            "topic_reviews": topics["reviews"],
        }
    )
    log_public = tmp / "log-public.pem"
    log_public.write_bytes(
        LOG_SIGNER.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    # event ids are the seed's: made unique per run (the screening ledger is shared)
    stream = [
        e.model_copy(update={"event_id": str(uuid.uuid5(uuid.UUID(int=int(tag, 16)), e.event_id))})
        for e in generate_events(events, seed=seed, shipment_prefix=f"SHP-{tag.upper()}")
    ]
    async with fresh_database(runtime) as db:
        await apply_migrations(db.dsn("admin"), "audit", SERVICES_DIR / "audit" / "migrations")
        await publish_catalogue(
            settings.kafka_bootstrap, settings.topic_controls, load_bundled_catalogue()
        )
        await publish_licences(settings.kafka_bootstrap, settings.topic_licenses, sample_licences())
        screening_app, screening = build_app(
            settings,
            ScreeningSettings(
                group_id=f"screening-{tag}", metrics_port=0, batch_timeout_ms=50,
                retry_max_delay_s=0.5,
            ),
        )  # fmt: skip
        audit = AuditService(
            ServiceOptions(
                bootstrap=settings.kafka_bootstrap,
                dsn=db.dsn("audit"),
                decisions_topic=settings.topic_decisions,
                controls_topic=settings.topic_controls,
                decision_keys=KeyRing.from_files(settings.decision_public_keys()),
                log_signer=LOG_SIGNER,
                anchors_topic=settings.topic_anchors,
                reviews_topic=settings.topic_reviews,
                group_id=f"audit-{tag}",
                batch_max_records=200,
                metrics_port=0,
            )
        )
        await screening_app.start()
        audit_task = asyncio.create_task(audit.run())
        server: uvicorn.Server | None = None
        serving: asyncio.Task[None] | None = None
        try:
            deadline = time.monotonic() + 30
            while not screening.is_ready():
                assert time.monotonic() < deadline, "screening did not become ready"
                await asyncio.sleep(0.05)
            await publish_records(
                settings.kafka_bootstrap,
                settings.topic_shipments,
                [(e.exporter.id.encode(), e.model_dump_json().encode()) for e in stream],
            )
            await _settle(db)
            app = create_console(
                ConsoleOptions(
                    auditor_dsn=db.dsn("auditor"),
                    users=[
                        UserEntry(id=uid, name=name, role=role, secret_hash=hash_secret(secret))
                        for uid, (name, role, secret) in USERS.items()
                    ],
                    kafka_bootstrap=settings.kafka_bootstrap,
                    topic_decisions=settings.topic_decisions,
                    topic_reviews=settings.topic_reviews,
                    checkpoint_file=tmp / "checkpoints.jsonl",
                    decision_keys=KeyRing.from_files(settings.decision_public_keys()),
                    log_public_key_file=log_public,
                )
            )
            server = uvicorn.Server(
                uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
            )
            serving = asyncio.create_task(server.serve())
            while not server.started:
                assert not serving.done(), "the console did not start"
                await asyncio.sleep(0.05)
            port = server.servers[0].sockets[0].getsockname()[1]
            await asyncio.wait_for(app.state.feed.ready.wait(), 30)
            yield Stack(f"http://127.0.0.1:{port}", db, settings, stream, log_public,
                        {"screening": screening, "audit": audit})  # fmt: skip
        finally:
            if server is not None and serving is not None:
                server.should_exit = True
                await asyncio.wait_for(serving, 30)
            audit.stop()
            await asyncio.wait_for(audit_task, 30)
            await screening_app.stop()
