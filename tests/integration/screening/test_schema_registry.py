"""Avro published through a Schema Registry is decided on the real broker; an unknown schema id
is a dead letter naming it; plain JSON on the same topic is unaffected."""

from __future__ import annotations

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from schemas import DeadLetter
from services.screening.registry.register import ShipmentFormat, register_all
from services.screening.registry.settings import SchemaRegistrySettings
from tests.consume_loop_scenarios import wait_until
from tests.integration.screening.catalogues import controls_catalogue
from tests.integration.screening.conftest import Pipeline, event, running
from tests.registry_stub import registry_stub
from tests.unit.registry.avro_frames import avro_record, avro_serializer, frame, serialize

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

USER_INFO = "lodestone-screening:registry-secret"


async def test_avro_through_the_registry_is_decided(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    await pipeline.publish_catalogue(controls_catalogue())
    exporter = pipeline.exporter()
    avro_event = event(exporter, samarium_kg=None, copper_t="1.000000000000000001")
    json_event = event(exporter, samarium_kg=None, copper_t="2")
    with registry_stub(user_info=USER_INFO) as (url, state):
        config = SchemaRegistrySettings(url=url, basic_auth_user_info=USER_INFO)
        producer_registry = SchemaRegistryClient(config.client_config())
        registered = dict(register_all(producer_registry, pipeline.settings, ShipmentFormat.AVRO))
        framed = serialize(
            # as ERP producers run in production: the schema registered beforehand
            # (``lodestone schemas register``), no auto-registration
            avro_serializer(
                producer_registry,
                conf={"auto.register.schemas": False, "use.latest.version": True},
            ),
            avro_record(avro_event),
            pipeline.settings.topic_shipments,
        )
        assert (
            int.from_bytes(framed[1:5], "big")
            == registered[f"{pipeline.settings.topic_shipments}-value"]
        )
        unknown = frame(4242, framed[5:])
        monkeypatch.setenv("LODESTONE_SCHEMA_REGISTRY_URL", url)
        monkeypatch.setenv("LODESTONE_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", USER_INFO)
        key = exporter.id.encode()
        async with running(pipeline):
            await pipeline.publish_raw(
                [(key, framed), (key, unknown), (key, json_event.model_dump_json().encode())]
            )
            decisions = await pipeline.decisions(until=lambda ds: len(ds) >= 2)
            letters: list[DeadLetter] = await pipeline.read(
                pipeline.settings.topic_dead_letters,
                until=lambda items: len(items) >= 1,
                parse=DeadLetter.model_validate_json,
            )
        lookups = state.requests["GET schemas"]
    assert {d.event_id for d in decisions} == {avro_event.event_id, json_event.event_id}
    assert len(letters) == 1
    assert letters[0].error_type == "unknown_schema_id"
    assert "4242" in letters[0].error
    assert letters[0].original_payload() == unknown
    assert lookups == 2  # the registered id once, the unknown one once


async def test_a_registry_outage_delays_framed_shipments_and_dead_letters_none(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    await pipeline.publish_catalogue(controls_catalogue())
    exporter = pipeline.exporter()
    shipment = event(exporter, samarium_kg=None, copper_t="3")
    with registry_stub() as (url, state):
        client = SchemaRegistryClient(SchemaRegistrySettings(url=url).client_config())
        register_all(client, pipeline.settings, ShipmentFormat.AVRO)
        serializer = avro_serializer(
            client, conf={"auto.register.schemas": False, "use.latest.version": True}
        )
        framed = serialize(serializer, avro_record(shipment), pipeline.settings.topic_shipments)
        monkeypatch.setenv("LODESTONE_SCHEMA_REGISTRY_URL", url)
        monkeypatch.setenv("LODESTONE_SCHEMA_REGISTRY_TIMEOUT_S", "1")
        state.unavailable = True
        async with running(pipeline) as service:
            await pipeline.publish_raw([(exporter.id.encode(), framed)])
            retried = service.metrics.transient_errors.labels("schema_registry")
            await wait_until(lambda: retried._value.get() >= 2, "the registry retried", 30)
            assert await pipeline.decisions(until=lambda ds: False, wait_s=1) == []
            state.unavailable = False  # the registry is back: the same record is decided
            decisions = await pipeline.decisions(until=lambda ds: len(ds) >= 1)
            letters = await pipeline.read(
                pipeline.settings.topic_dead_letters, until=lambda items: False, wait_s=1
            )
    assert [d.event_id for d in decisions] == [shipment.event_id]
    assert letters == []
