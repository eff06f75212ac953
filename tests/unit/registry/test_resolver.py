"""Schemas fetched over real HTTP from a registry stub, cached by id, bounded in time."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from confluent_kafka.schema_registry import AsyncSchemaRegistryClient, SchemaRegistryClient
from pydantic import SecretStr

from schemas.avro_schema import render
from services.common.settings import Settings
from services.screening.intake import Rejected, parse_record
from services.screening.registry.frames import KnownSchema, MissingSchema
from services.screening.registry.register import ShipmentFormat, register_all
from services.screening.registry.resolver import (
    MAX_NEW_IDS_PER_BATCH,
    MISSING_TTL_S,
    SchemaRegistryUnavailableError,
    SchemaResolver,
    build_resolver,
)
from services.screening.registry.settings import SchemaRegistrySettings
from tests.registry_stub import RegistryState, registry_stub
from tests.unit.registry.avro_frames import frame

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def registry() -> Iterator[tuple[str, RegistryState]]:
    with registry_stub() as running:
        yield running


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def resolver_for(url: str, clock: Clock | None = None, **settings: object) -> SchemaResolver:
    config = SchemaRegistrySettings(url=url, **settings)  # type: ignore[arg-type]
    client = AsyncSchemaRegistryClient(config.client_config())
    return SchemaResolver(client, timeout_s=config.timeout_s, clock=clock or time.monotonic)


async def test_each_id_is_fetched_once(registry: tuple[str, RegistryState]) -> None:
    url, state = registry
    avro_id = state.add("shipments.v1-value", "AVRO", render())
    json_id = state.add("other-value", "JSON", "{}")
    resolver = resolver_for(url)
    batch = [frame(avro_id, b""), frame(json_id, b"{}"), frame(avro_id, b"x"), b"{}", None]
    wanted = resolver.unresolved(batch)
    assert wanted == {avro_id, json_id}
    await resolver.resolve(wanted)
    assert isinstance(resolver.known[avro_id], KnownSchema)
    assert resolver.known[json_id] == KnownSchema(json_id, "JSON")
    assert resolver.unresolved(batch) == set()
    assert state.requests["GET schemas"] == 2


async def test_an_unknown_id_is_missing_and_asked_again_only_after_a_while(
    registry: tuple[str, RegistryState],
) -> None:
    url, state = registry
    clock = Clock()
    resolver = resolver_for(url, clock)
    await resolver.resolve(resolver.unresolved([frame(77, b"")]))
    missing = resolver.known[77]
    assert isinstance(missing, MissingSchema)
    assert "77" in missing.reason
    assert resolver.unresolved([frame(77, b"")] * 50) == set()
    clock.now += MISSING_TTL_S + 1
    assert resolver.unresolved([frame(77, b"")]) == {77}
    assert state.requests["GET schemas"] == 1


async def test_an_unavailable_registry_is_transient_not_a_dead_letter(
    registry: tuple[str, RegistryState],
) -> None:
    url, state = registry
    schema_id = state.add("s-value", "JSON", "{}")
    resolver = resolver_for(url)
    state.unavailable = True
    with pytest.raises(SchemaRegistryUnavailableError):
        await resolver.resolve({schema_id})
    assert schema_id not in resolver.known
    state.unavailable = False
    await resolver.resolve({schema_id})
    assert isinstance(resolver.known[schema_id], KnownSchema)


async def test_a_slow_registry_is_abandoned_within_the_timeout(
    registry: tuple[str, RegistryState],
) -> None:
    url, state = registry
    schema_id = state.add("s-value", "JSON", "{}")
    state.delay_s = 3.0
    resolver = resolver_for(url, timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(SchemaRegistryUnavailableError, match="did not answer"):
        await resolver.resolve({schema_id})
    assert time.monotonic() - started < 2.0


async def test_credentials_are_sent_and_a_refusal_says_so() -> None:
    with registry_stub(user_info="lodestone:s3cret") as (url, state):
        schema_id = state.add("s-value", "JSON", "{}")
        wrong = resolver_for(url, basic_auth_user_info="lodestone:wrong")
        with pytest.raises(SchemaRegistryUnavailableError, match="credentials"):
            await wrong.resolve({schema_id})
        right = resolver_for(url, basic_auth_user_info="lodestone:s3cret")
        await right.resolve({schema_id})
        assert isinstance(right.known[schema_id], KnownSchema)


def test_no_url_no_resolver_and_secrets_stay_out_of_reprs() -> None:
    assert build_resolver(SchemaRegistrySettings(url=None)) is None
    settings = SchemaRegistrySettings(
        url="http://r:8081", basic_auth_user_info=SecretStr("u:topsecret")
    )
    assert "topsecret" not in repr(settings)
    assert settings.client_config()["basic.auth.user.info"] == "u:topsecret"


@pytest.mark.parametrize("shipment_format", list(ShipmentFormat))
def test_register_publishes_every_contract_schema_and_is_repeatable(
    registry: tuple[str, RegistryState], shipment_format: ShipmentFormat
) -> None:
    url, state = registry
    client = SchemaRegistryClient(SchemaRegistrySettings(url=url).client_config())
    settings = Settings()
    first = register_all(client, settings, shipment_format)
    again = register_all(client, settings, shipment_format)
    assert first == again
    subjects = dict(first)
    assert set(subjects) == {
        f"{t}-value"
        for t in (
            settings.topic_shipments,
            settings.topic_decisions,
            settings.topic_dead_letters,
            settings.topic_licenses,
        )
    }
    schema_type, _ = state.schemas[subjects[f"{settings.topic_shipments}-value"]]
    assert schema_type == shipment_format.value.upper()


def test_the_register_command_prints_each_subject_and_its_id(
    registry: tuple[str, RegistryState],
) -> None:
    from typer.testing import CliRunner

    from services.cli import app

    url, state = registry
    result = CliRunner().invoke(
        app, ["schemas", "register", "--format", "json"], env={"LODESTONE_SCHEMA_REGISTRY_URL": url}
    )
    assert result.exit_code == 0, result.output
    assert "shipments.v1-value: schema id" in result.output
    assert state.schemas[state.subjects["shipments.v1-value"][0]][0] == "JSON"
    missing = CliRunner().invoke(
        app, ["schemas", "register"], env={"LODESTONE_SCHEMA_REGISTRY_URL": ""}
    )
    assert missing.exit_code == 2


async def test_a_producer_inventing_ids_cannot_flood_the_registry(
    registry: tuple[str, RegistryState],
) -> None:
    url, state = registry
    real = state.add("shipments.v1-value", "JSON", "{}")
    resolver = resolver_for(url)
    batch = [frame(real, b"{}")] + [frame(1000 + n, b"{}") for n in range(300)]
    wanted = resolver.unresolved(batch)
    assert len(wanted) == MAX_NEW_IDS_PER_BATCH
    assert real in wanted  # lowest ids first: deterministic
    await resolver.resolve(wanted)
    assert state.requests["GET schemas"] == MAX_NEW_IDS_PER_BATCH
    beyond = parse_record(frame(1299, b"{}"), resolver.known)
    assert isinstance(beyond, Rejected)
    assert beyond.error_type == "unknown_schema_id"
    assert "more new schema ids" in beyond.error
    read = parse_record(frame(real, b"{}"), resolver.known)  # resolved: read, then refused
    assert isinstance(read, Rejected)
    assert read.error_type == "schema_violation"
