"""``kill -9`` mid-batch, then restart: every event decided, no licence consumed twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import IO

import asyncpg
import pytest

from deploy.local import RuntimeState
from schemas import Decision, Outcome
from tests.integration.screening.catalogues import controls_catalogue
from tests.integration.screening.conftest import Pipeline, event, licence

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow, pytest.mark.timeout(90)]


def _start(
    pipeline: Pipeline, log: int | IO[bytes] = subprocess.DEVNULL
) -> subprocess.Popen[bytes]:
    s, o = pipeline.settings, pipeline.options
    env = os.environ | {
        "LODESTONE_KAFKA_BOOTSTRAP": s.kafka_bootstrap,
        "LODESTONE_SCREENING_DATABASE_URL": s.dsn_for("screening"),
        "LODESTONE_TOPIC_SHIPMENTS": s.topic_shipments,
        "LODESTONE_TOPIC_DECISIONS": s.topic_decisions,
        "LODESTONE_TOPIC_DEAD_LETTERS": s.topic_dead_letters,
        "LODESTONE_TOPIC_LICENSES": s.topic_licenses,
        "LODESTONE_TOPIC_CONTROLS": s.topic_controls,
        "LODESTONE_SCREENING_GROUP_ID": o.group_id,
        "LODESTONE_SCREENING_METRICS_PORT": "0",
        "LODESTONE_SCREENING_BATCH_MAX_RECORDS": "50",
        "LODESTONE_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "lodestone"), "screening", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


async def test_kill_9_mid_batch_then_restart(pipeline: Pipeline, runtime: RuntimeState) -> None:
    await pipeline.publish_catalogue(controls_catalogue())
    exporter = pipeline.exporter()
    capped = licence(exporter, cap="1000")  # room for 100 of the 10 kg shipments
    await pipeline.publish_licences(capped)
    events = [event(exporter, samarium_kg="10", copper_t="1") for _ in range(400)]
    await pipeline.publish_events(events)
    first = _start(pipeline)
    try:
        await pipeline.decisions(until=lambda ds: len(ds) >= 60, wait_s=40)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    second = _start(pipeline)
    try:
        out: list[Decision] = await pipeline.decisions(
            until=lambda ds: {d.event_id for d in ds} >= {e.event_id for e in events}, wait_s=50
        )
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.to_thread(second.wait, 20)
    ids_per_event: dict[str, set[str]] = defaultdict(set)
    for d in out:
        ids_per_event[d.event_id].add(d.decision_id)
    assert set(ids_per_event) == {e.event_id for e in events}, "an event has no decision"
    assert all(len(ids) == 1 for ids in ids_per_event.values()), "an event decided twice"
    approved = {d.shipment_id for d in out if d.outcome is Outcome.APPROVE}
    assert len(approved) == 100
    conn = await asyncpg.connect(runtime.dsn("admin"))
    try:
        rows = await conn.fetch(
            "SELECT shipment_id, amount FROM screening.consumption WHERE license_id = $1",
            capped.license_id,
        )
    finally:
        await conn.close()
    assert sum((r["amount"] for r in rows), Decimal(0)) == Decimal(1000)
    assert {r["shipment_id"] for r in rows} == approved
    assert second.returncode == 0
