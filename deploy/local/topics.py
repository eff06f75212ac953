"""The contract's topics, created explicitly (the broker never auto-creates topics).

Partition counts: ``shipments.v1`` and ``decisions.v1`` have 6 partitions, enough for six
consumers of a group to share the load on one machine while keeping per-key order; the
dead-letter topic has 1; the compacted reference-data topics ``licenses.v1`` and ``controls.v1``
have 1 so that every consumer reads one totally ordered history of them.

Record size limits: ``shipments.v1`` accepts records up to 2 MiB so that an oversized event
(over the 1 MiB the screening service accepts) reaches the service and is dead-lettered with a
clear error instead of being refused at the producer; ``decisions.v1`` (decisions carry their
evidence, the event included) and ``shipments.v1.dlq`` (the original bytes, base64) take 4 MiB.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.common.kafka_security import KafkaSecuritySettings, kafka_client_options
from services.common.settings import Settings
from services.screening.config import ScreeningSettings

MIB = 1024 * 1024


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)


def contract_topics(settings: Settings | None = None) -> list[TopicSpec]:
    """The topics of the public contract, with names taken from the settings."""
    s = settings or Settings()
    compact = {"cleanup.policy": "compact"}
    return [
        TopicSpec(s.topic_shipments, 6, {"max.message.bytes": str(2 * MIB)}),
        TopicSpec(s.topic_decisions, 6, {"max.message.bytes": str(4 * MIB)}),
        TopicSpec(s.topic_dead_letters, 1, {"max.message.bytes": str(4 * MIB)}),
        TopicSpec(s.topic_licenses, 1, compact),
        TopicSpec(s.topic_controls, 1, {**compact, "max.message.bytes": str(8 * MIB)}),
        # Every signed tree head, kept for good: outside verifiers compare the store with them.
        TopicSpec(s.topic_anchors, 1, {"retention.ms": "-1"}),
        TopicSpec(ScreeningSettings().shadow_topic, 6, {"max.message.bytes": str(4 * MIB)}),
        TopicSpec(s.topic_parties, 1, compact),
        # People's reviews: few, kept for good (every release is evidence), keyed by shipment.
        TopicSpec(s.topic_reviews, 6, {"retention.ms": "-1"}),
    ]


async def ensure_topics(
    bootstrap: str, specs: list[TopicSpec], security: KafkaSecuritySettings | None = None
) -> list[str]:
    """Create the topics that do not exist yet and bring existing ones to the specified configs.

    Returns the names created.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=10000, **kafka_client_options(security)
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        present = [spec for spec in specs if spec.name in existing and spec.configs]
        if present:
            await admin.alter_configs(
                [
                    ConfigResource(ConfigResourceType.TOPIC, spec.name, configs=dict(spec.configs))
                    for spec in present
                ]
            )
        missing = [spec for spec in specs if spec.name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [
                NewTopic(spec.name, spec.partitions, 1, topic_configs=dict(spec.configs))
                for spec in missing
            ],
            timeout_ms=10000,
        )
        for error in response.topic_errors:
            name, code = error[0], error[1]
            if code not in (0, 36):  # 36 = TOPIC_ALREADY_EXISTS (a concurrent creator won)
                raise RuntimeError(f"creating topic {name} failed with error code {code}: {error}")
        return [spec.name for spec in missing]
    finally:
        await admin.close()
