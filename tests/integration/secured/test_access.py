"""Who may connect and write on the secured broker: credentials, certificates and the ACLs.

Each principal tries to write each contract topic, over SCRAM; what the ACL table does not
allow must be refused by the broker, and what it allows must go through (so that a broker that
refuses everything cannot pass).
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)

from deploy.local.acls import PRINCIPALS, grants
from deploy.local.kafka_secured import confluent_admin_options, upsert_scram_users
from services.common.kafka_security import KafkaSecuritySettings, kafka_client_options
from services.common.settings import Settings
from services.screening.config import ScreeningSettings
from tests.integration.secured.conftest import SecuredKafka

pytestmark = pytest.mark.integration

TOPICS = (
    "topic_shipments",
    "topic_decisions",
    "topic_dead_letters",
    "topic_licenses",
    "topic_controls",
    "topic_anchors",
    "topic_parties",
    "topic_reviews",
)


def _writers() -> set[tuple[str, str]]:
    return {(g.principal, g.resource) for g in grants() if g.operation == "WRITE"}


async def _write(bootstrap: str, security: KafkaSecuritySettings, topic: str) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", request_timeout_ms=10000,
        **kafka_client_options(security),
    )  # fmt: skip
    await producer.start()
    try:
        await producer.send_and_wait(topic, b'{"probe": true}', key=b"access-test")
    finally:
        await producer.stop()


@pytest.mark.parametrize("principal", PRINCIPALS)
async def test_each_principal_writes_only_its_own_topics(
    secured_kafka: SecuredKafka, principal: str
) -> None:
    settings, writers = Settings(), _writers()
    security = secured_kafka.security(principal)
    outcomes: dict[str, str] = {}
    for field in TOPICS:
        topic = getattr(settings, field)
        try:
            await _write(secured_kafka.bootstrap, security, topic)
            outcomes[topic] = "written"
        except TopicAuthorizationFailedError:
            outcomes[topic] = "refused"
    expected = {
        getattr(settings, f): "written"
        if (principal, getattr(settings, f)) in writers
        else "refused"
        for f in TOPICS
    }
    assert outcomes == expected


async def test_each_topic_has_exactly_its_one_writer() -> None:
    writers = _writers()
    s = Settings()
    assert {p for p, t in writers if t == s.topic_decisions} == {"screening"}
    assert {p for p, t in writers if t == s.topic_dead_letters} == {"screening"}
    assert {p for p, t in writers if t == ScreeningSettings().shadow_topic} == {"screening"}
    assert {p for p, t in writers if t == s.topic_licenses} == {"licensing"}
    assert {p for p, t in writers if t == s.topic_controls} == {"catalogue"}
    assert {p for p, t in writers if t == s.topic_parties} == {"catalogue"}
    assert {t for p, t in writers if p == "erp"} == {s.topic_shipments}
    assert {p for p, t in writers if t == s.topic_anchors} == {"audit"}
    assert {t for p, t in writers if p == "audit"} == {s.topic_anchors}
    assert not {t for p, t in writers if p == "operator"}
    assert {p for p, t in writers if t == s.topic_reviews} == {"console"}
    assert {t for p, t in writers if p == "console"} == {s.topic_reviews}


@pytest.mark.parametrize("password", ["wrong-password", ""])
async def test_a_wrong_password_is_refused(secured_kafka: SecuredKafka, password: str) -> None:
    from deploy.local import kafka_secured

    security = kafka_secured.client_security(secured_kafka.cfg, "erp", password=password or "x")
    with pytest.raises(KafkaConnectionError):
        await _write(secured_kafka.bootstrap, security, Settings().topic_shipments)


async def test_an_unknown_user_is_refused(secured_kafka: SecuredKafka) -> None:
    security = secured_kafka.security("erp").model_copy(update={"kafka_sasl_username": "mallory"})
    with pytest.raises(KafkaConnectionError):
        await _write(secured_kafka.bootstrap, security, Settings().topic_shipments)


async def test_the_mtls_listener_refuses_a_client_without_a_certificate(
    secured_kafka: SecuredKafka,
) -> None:
    no_cert = secured_kafka.security("erp", mtls=True).model_copy(
        update={"kafka_ssl_certfile": None, "kafka_ssl_keyfile": None}
    )
    with pytest.raises(KafkaConnectionError):
        await _write(secured_kafka.mtls_bootstrap, no_cert, Settings().topic_shipments)


async def test_a_client_certificate_is_its_principal(secured_kafka: SecuredKafka) -> None:
    erp = secured_kafka.security("erp", mtls=True)
    await _write(secured_kafka.mtls_bootstrap, erp, Settings().topic_shipments)
    with pytest.raises(TopicAuthorizationFailedError):
        await _write(secured_kafka.mtls_bootstrap, erp, Settings().topic_decisions)


async def test_the_sasl_listener_refuses_a_client_that_does_not_trust_its_ca(
    secured_kafka: SecuredKafka,
) -> None:
    system_cas = secured_kafka.security("erp").model_copy(update={"kafka_ssl_cafile": None})
    with pytest.raises(KafkaConnectionError):
        await _write(secured_kafka.bootstrap, system_cas, Settings().topic_shipments)


async def test_operators_cannot_read_shipments(secured_kafka: SecuredKafka) -> None:
    consumer = AIOKafkaConsumer(
        Settings().topic_shipments,
        bootstrap_servers=secured_kafka.bootstrap,
        group_id="lodestone-tail-access-test",
        auto_offset_reset="earliest",
        **kafka_client_options(secured_kafka.security("operator")),
    )
    try:
        with pytest.raises((TopicAuthorizationFailedError, GroupAuthorizationFailedError)):
            await consumer.start()
    finally:
        await consumer.stop()


async def test_oauthbearer_tokens_come_from_the_configured_provider(
    secured_kafka: SecuredKafka,
) -> None:
    """Through the hook, for aiokafka and for FastStream: the token's subject is the principal,
    so its writes are bound by the same ACLs."""
    from faststream.kafka import KafkaBroker

    from services.common.kafka_security import kafka_broker_options

    oauth = secured_kafka.security("erp").model_copy(
        update={
            "kafka_sasl_mechanism": "OAUTHBEARER",
            "kafka_sasl_username": None,
            "kafka_sasl_password": None,
            "kafka_oauth_token_provider": "tests.integration.secured.unsigned_jwt:erp",
        }
    )
    s = Settings()
    await _write(secured_kafka.oauth_bootstrap, oauth, s.topic_shipments)
    with pytest.raises(TopicAuthorizationFailedError):
        await _write(secured_kafka.oauth_bootstrap, oauth, s.topic_decisions)

    broker = KafkaBroker(secured_kafka.oauth_bootstrap, **kafka_broker_options(oauth))
    await broker.start()
    try:
        await broker.publish(b'{"probe": true}', topic=s.topic_shipments, key=b"oauth")
        with pytest.raises(TopicAuthorizationFailedError):
            await broker.publish(b'{"probe": true}', topic=s.topic_licenses, key=b"oauth")
    finally:
        await broker.stop()


async def _read_without_a_group(
    bootstrap: str, security: KafkaSecuritySettings, topic: str
) -> None:
    """What the console does: assign every partition, seek to the end, no group."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
        auto_offset_reset="latest", **kafka_client_options(security),
    )  # fmt: skip
    try:
        await consumer.start()
        await consumer.getmany(timeout_ms=500)
    finally:
        await consumer.stop()


async def test_the_console_follows_decisions_and_reviews_and_reads_nothing_else(
    secured_kafka: SecuredKafka,
) -> None:
    s, console = Settings(), secured_kafka.security("console")
    for topic in (s.topic_decisions, s.topic_reviews):
        await _read_without_a_group(secured_kafka.bootstrap, console, topic)
    for topic in (s.topic_shipments, s.topic_licenses, s.topic_anchors):
        with pytest.raises(TopicAuthorizationFailedError):
            await _read_without_a_group(secured_kafka.bootstrap, console, topic)


async def test_a_principal_added_after_the_broker_was_formatted_gets_its_user(
    secured_kafka: SecuredKafka,
) -> None:
    """``up`` creates the SCRAM user of a principal the broker does not know (a working tree
    whose broker predates the principal), and leaves the others' credentials as they are."""
    from confluent_kafka.admin import (  # type: ignore[attr-defined]
        AdminClient,
        ScramMechanism,
        UserScramCredentialDeletion,
    )

    cfg = secured_kafka.cfg
    admin = AdminClient({"bootstrap.servers": cfg.kafka_bootstrap, **confluent_admin_options(cfg)})
    deletion = UserScramCredentialDeletion("console", ScramMechanism.SCRAM_SHA_512)
    for future in admin.alter_user_scram_credentials([deletion]).values():
        future.result(timeout=30)
    s = Settings()
    with pytest.raises(KafkaConnectionError):  # no such user: authentication fails
        await _write(secured_kafka.bootstrap, secured_kafka.security("console"), s.topic_reviews)

    assert await asyncio.to_thread(upsert_scram_users, cfg) == ["console"]
    await _write(secured_kafka.bootstrap, secured_kafka.security("console"), s.topic_reviews)
    await _write(secured_kafka.bootstrap, secured_kafka.security("erp"), s.topic_shipments)
    assert await asyncio.to_thread(upsert_scram_users, cfg) == []
