"""Every decision the screening service publishes is signed (contract v1 additions), and the
service never runs with a privileged database role.

First decisions and re-screening decisions alike carry ``lodestone-key-id`` and
``lodestone-signature``, and the signature verifies over the value exactly as published
against the public key the audit service is configured with.
"""

from __future__ import annotations

import time

import pytest
from aiokafka import AIOKafkaConsumer

from deploy.local import RuntimeState
from schemas import Trigger
from services.common.kafka_security import kafka_client_options
from services.common.privileges import ExcessPrivilegeError
from services.common.settings import Settings
from services.common.signing import KEY_ID_HEADER, KeyRing
from services.screening.app import build_app
from tests.integration.screening.catalogues import controls_catalogue
from tests.integration.screening.conftest import Pipeline, event, licence, running

pytestmark = pytest.mark.integration


async def _records(
    bootstrap: str, topic: str, count: int
) -> list[tuple[bytes, list[tuple[str, bytes]]]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        **kafka_client_options(),
    )
    await consumer.start()
    found: list[tuple[bytes, list[tuple[str, bytes]]]] = []
    deadline = time.monotonic() + 30
    try:
        while len(found) < count and time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=200)).values():
                found += [(m.value, list(m.headers)) for m in messages if m.value is not None]
    finally:
        await consumer.stop()
    return found


async def test_first_and_rescreening_decisions_are_signed(pipeline: Pipeline) -> None:
    keys = KeyRing.from_files(Settings().decision_public_keys())
    assert keys.key_ids, "the runtime configures the decision public key"
    await pipeline.publish_catalogue(controls_catalogue())
    exporter = pipeline.exporter()
    async with running(pipeline):
        await pipeline.publish_events([event(exporter, samarium_kg="40")])
        await pipeline.decisions(until=lambda ds: len(ds) >= 1)
        await pipeline.publish_licences(licence(exporter, cap="500"))
        out = await pipeline.decisions(until=lambda ds: len(ds) >= 2)
    assert [d.trigger for d in out] == [Trigger.SHIPMENT_EVENT, Trigger.LICENSE_CHANGE]
    records = await _records(pipeline.bootstrap, pipeline.settings.topic_decisions, 2)
    assert len(records) == 2
    for value, headers in records:
        check = keys.check_record(value, headers)
        assert check.ok, check.problem
        assert dict(headers)[KEY_ID_HEADER].decode() in keys.key_ids
        assert not keys.check_record(value + b" ", headers).ok  # bound to the exact bytes


async def test_the_screening_service_refuses_to_run_as_the_bootstrap_identity(
    pipeline: Pipeline, runtime: RuntimeState
) -> None:
    settings = pipeline.settings.model_copy(update={"screening_database_url": runtime.dsn("admin")})
    app, service = build_app(settings, pipeline.options)
    try:
        with pytest.raises(ExcessPrivilegeError):
            await app.start()
    finally:
        await app.stop()
    assert not service.is_ready()
