"""``lodestone schemas register``: publish Lodestone's schemas to a Schema Registry.

Subjects follow the registry's default TopicNameStrategy (``<topic>-value``): the shipments
topic gets the ShipmentEvent schema in the format its producers will use (Avro, generated from
the model, or JSON Schema); the topics Lodestone writes (and the licences topic) get their JSON
Schemas, so that tooling reading them through the registry finds the contract there too.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import BaseModel

from schemas import DeadLetter, Decision, License, ShipmentEvent
from schemas.avro_schema import render as render_avro
from schemas.json_schema import render as render_json
from services.common.settings import Settings

if TYPE_CHECKING:  # imported when used: every ``lodestone`` command loads this module
    from confluent_kafka.schema_registry import SchemaRegistryClient


class ShipmentFormat(StrEnum):
    AVRO = "avro"
    JSON = "json"


def schemas_to_register(
    settings: Settings, shipment_format: ShipmentFormat
) -> list[tuple[str, str, str]]:
    """(subject, schema type, schema text) for every topic of the contract with a wire model."""
    shipments = (
        ("AVRO", render_avro(ShipmentEvent))
        if shipment_format is ShipmentFormat.AVRO
        else ("JSON", render_json(ShipmentEvent))
    )
    outputs: list[tuple[str, type[BaseModel]]] = [
        (settings.topic_decisions, Decision),
        (settings.topic_dead_letters, DeadLetter),
        (settings.topic_licenses, License),
    ]
    return [
        (f"{settings.topic_shipments}-value", *shipments),
        *((f"{topic}-value", "JSON", render_json(model)) for topic, model in outputs),
    ]


def register_all(
    registry: SchemaRegistryClient, settings: Settings, shipment_format: ShipmentFormat
) -> list[tuple[str, int]]:
    """Register every schema; (subject, schema id). Registering an unchanged schema again
    returns its existing id (the registry deduplicates), so this is safe to repeat."""
    from confluent_kafka.schema_registry import Schema

    return [
        (subject, registry.register_schema(subject, Schema(text, schema_type)))
        for subject, schema_type, text in schemas_to_register(settings, shipment_format)
    ]


schemas_app = typer.Typer(help="Lodestone's schemas in a Schema Registry.", no_args_is_help=True)


@schemas_app.command("register")
def register(
    shipment_format: Annotated[
        ShipmentFormat,
        typer.Option("--format", help="The format ERP producers publish shipments in."),
    ] = ShipmentFormat.AVRO,
) -> None:
    """Register the contract's schemas under ``<topic>-value`` (LODESTONE_SCHEMA_REGISTRY_URL)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    from services.common.settings import get_settings
    from services.screening.registry.settings import SchemaRegistrySettings

    registry_settings = SchemaRegistrySettings()
    if not registry_settings.url:
        typer.echo("error: LODESTONE_SCHEMA_REGISTRY_URL is not set", err=True)
        raise typer.Exit(code=2)
    client = SchemaRegistryClient(registry_settings.client_config())
    for subject, schema_id in register_all(client, get_settings(), shipment_format):
        typer.echo(f"{subject}: schema id {schema_id}")
