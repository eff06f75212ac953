"""Generate ``schemas/asyncapi.yaml``: the AsyncAPI 3 document of every topic in the contract.

The services consume through an explicit aiokafka loop (ADR 0020), which declares nothing to
FastStream, so FastStream's own generator would document no channel. This module declares a
docs-only FastStream broker over the same pydantic models — one subscriber or publisher per topic,
from Lodestone's point of view — and lets FastStream's schema builder write the document. What
FastStream cannot express (message keys, tombstones, headers) is added to the generated document.

Run ``python -m services.asyncapi`` after changing a wire model; a test fails while the committed
file is stale, and CI validates it with the AsyncAPI CLI.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from schemas import (
    ControlledParty,
    DeadLetter,
    Decision,
    License,
    Review,
    ShipmentEvent,
    SignedTreeHead,
)
from schemas.generated_files import write_changed
from services.common.kafka_security import KafkaSecuritySettings, kafka_broker_options
from services.screening.catalogue.model import Catalogue

ASYNCAPI_FILE = Path(__file__).resolve().parents[1] / "schemas" / "asyncapi.yaml"

#: topic -> (direction from Lodestone's side, payload model, record key, description)
TOPICS: dict[str, tuple[str, type[Any], str, str]] = {
    "shipments.v1": (
        "receive",
        ShipmentEvent,
        "exporter id (recommended; correctness does not depend on it)",
        "ERP systems publish shipment events: declared, amended (replacing the whole shipment) or "
        "cancelled. JSON, at most 1 MiB per event; input rules in the README ('Contract'). With a "
        "schema registry configured, also Avro or JSON Schema in Confluent's wire format (magic "
        "byte 0, 4-byte schema id): docs/schema-registry.md, schemas/avro/shipment-event.avsc.",
    ),
    "licenses.v1": (
        "receive",
        License,
        "licence id",
        "Export licences held by exporters. Compacted; a tombstone (null value) withdraws the "
        "licence.",
    ),
    "controls.v1": (
        "receive",
        Catalogue,
        "`catalogue`",
        "Whole control-catalogue versions (latest wins). Compacted. The record's `version` is "
        "`label+sha256:<digest of the content>` and must match the content.",
    ),
    "parties.v1": (
        "receive",
        ControlledParty,
        "entity id",
        "China's controlled-party listings (export-control list, unreliable entity list, …) with "
        "dated status windows. Compacted; a tombstone removes the entity.",
    ),
    "reviews.v1": (
        "receive",
        Review,
        "shipment id",
        "A person's review of a held decision; a release takes effect when a second, different "
        "reviewer sends the same release for the same decision.",
    ),
    "decisions.v1": (
        "send",
        Decision,
        "shipment id",
        "One decision per shipment event (and per re-screen after a licence, catalogue or party "
        "list change): approve or hold, per cargo line, each hold with its reason and legal basis.",
    ),
    "decisions.shadow.v1": (
        "send",
        Decision,
        "shipment id",
        "Decisions under a draft catalogue (shadow screening); no effect on licences, holds or "
        "the audit store.",
    ),
    "shipments.v1.dlq": (
        "send",
        DeadLetter,
        "the original record's key",
        "Records that could not be decided, with their original bytes (base64) and an error naming "
        "the field or rule; nothing is dropped silently.",
    ),
    "audit.anchors.v1": (
        "send",
        SignedTreeHead,
        "`anchor`",
        "The audit log's signed tree heads (RFC 9162 style, Ed25519), for outside verifiers: "
        "a later head must be consistent with every earlier one (docs/audit.md).",
    ),
}

_TRACEPARENT_OUT = {
    "type": "string",
    "description": "W3C trace context of the screening span (when tracing is on): continues the "
    "trace of the shipment record's own traceparent, or starts one",
}

#: Record headers Lodestone reads or writes, by topic (FastStream does not document headers).
HEADERS: dict[str, dict[str, Any]] = {
    "shipments.v1": {
        "type": "object",
        "properties": {
            "traceparent": {
                "type": "string",
                "description": "optional W3C trace context; when tracing is on, the decision "
                "continues this trace",
            },
        },
    },
    "shipments.v1.dlq": {
        "type": "object",
        "properties": {"traceparent": _TRACEPARENT_OUT},
    },
    "decisions.v1": {
        "type": "object",
        "properties": {
            "correlation_id": {"type": "string", "description": "the decision id"},
            "traceparent": _TRACEPARENT_OUT,
            "lodestone-key-id": {
                "type": "string",
                "description": (
                    "id of the Ed25519 key that signed the value: 'ed25519:' and the hex of the"
                    " first 16 bytes of SHA-256 of the raw 32-byte public key"
                ),
            },
            "lodestone-signature": {
                "type": "string",
                "description": (
                    "base64 Ed25519 signature of the record value's bytes, exactly as produced;"
                    " check it before parsing (docs/screening.md)"
                ),
            },
        },
    },
}


def build_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document as plain data."""
    # The contract, not a deployment: the server is documented as plain Kafka whatever this
    # process's security settings (docs/connecting.md covers secured clusters).
    plain = KafkaSecuritySettings(kafka_security_protocol="PLAINTEXT", kafka_sasl_mechanism=None)
    broker = KafkaBroker(
        "localhost:9092", description="Apache Kafka 4.x (KRaft)", **kafka_broker_options(plain)
    )
    for topic, (direction, model, _key, description) in TOPICS.items():
        if direction == "receive":

            async def handler(message: Any) -> None:  # documentation only, never run
                return None

            handler.__annotations__["message"] = model
            broker.subscriber(topic, title=topic, description=description)(handler)
        else:
            broker.publisher(topic, title=topic, description=description, schema=model)
    spec = AsyncAPI(
        broker,
        title="Lodestone",
        version="1",
        description=(
            "Event-driven export-compliance screening for China's critical-mineral export "
            "controls. Topic names are the defaults; each is a setting (LODESTONE_TOPIC_…)."
        ),
        license={"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
        schema_version="3.0.0",
    )
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    _add_keys_and_headers(document)
    return _in_stable_order(document)


def _in_stable_order(document: dict[str, Any]) -> dict[str, Any]:
    """Channels and operations in the order of :data:`TOPICS`, components by name: FastStream's
    own order depends on how the handlers hash, which differs between processes."""
    order = {topic: n for n, topic in enumerate(TOPICS)}

    def by_topic(items: dict[str, Any]) -> dict[str, Any]:
        return dict(sorted(items.items(), key=lambda kv: order[kv[0].split(":", 1)[0]]))

    document["channels"] = by_topic(document["channels"])
    document["operations"] = by_topic(document["operations"])
    components = document["components"]
    components["messages"] = by_topic(components["messages"])
    components["schemas"] = dict(sorted(components["schemas"].items()))
    return document


def _add_keys_and_headers(document: dict[str, Any]) -> None:
    messages = document["components"]["messages"]
    for name, message in messages.items():
        topic = name.split(":", 1)[0]
        _direction, _model, key, _description = TOPICS[topic]
        message["bindings"] = {
            "kafka": {
                "key": {"type": "string", "description": key},
                "bindingVersion": "0.4.0",
            }
        }
        if topic in HEADERS:
            message["headers"] = HEADERS[topic]


def render() -> str:
    """The document as stable YAML text."""
    return yaml.safe_dump(build_document(), sort_keys=False, allow_unicode=True, width=100)


def main() -> int:
    return write_changed([(ASYNCAPI_FILE, render())])


if __name__ == "__main__":
    sys.exit(main())
