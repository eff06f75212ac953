"""Both services and the command line on the secured broker, each as its own principal.

The happy path runs over SCRAM (SASL_SSL) and over client certificates (mTLS): the catalogue
publisher publishes the catalogue, the licensing office a licence, an ERP system shipments and
a poison record; screening decides and dead-letters, audit records, an operator tails.
Then the failures: a wrong password ends a service with a clear error, and a write the ACLs
forbid is logged with the topic's name and retried, never skipped and never committed.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from deploy.local import RuntimeState
from schemas import DeadLetter, Decision, Party, Review
from services.common.kafka_security import KafkaSecuritySettings, kafka_client_options
from services.common.settings import Settings
from services.console.auth import Role, UserEntry, hash_secret
from tests.integration.screening.conftest import event, licence
from tests.integration.secured.conftest import SecuredKafka, ServiceFactory

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUICK = {"LODESTONE_SCREENING_METRICS_PORT": "0", "LODESTONE_SCREENING_RETRY_MAX_DELAY_S": "0.5"}
AUDIT = {"LODESTONE_AUDIT_METRICS_PORT": "0"}
CONSOLE_SECRET = "correct horse battery staple"
RITA = UserEntry(
    id="rita", name="Rita Chen", role=Role.REVIEWER, secret_hash=hash_secret(CONSOLE_SECRET)
)
CONSOLE_USERS = json.dumps([RITA.model_dump(mode="json")])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _decision_id(dsn: str, shipment_id: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        found = await conn.fetchval(
            "SELECT decision_id FROM audit.decisions_v WHERE shipment_id = $1"
            " ORDER BY seq DESC LIMIT 1",
            shipment_id,
        )
    finally:
        await conn.close()
    assert found is not None, shipment_id
    return str(found)


async def _produce(
    bootstrap: str, security: KafkaSecuritySettings, topic: str, records: list[tuple[bytes, bytes]]
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", **kafka_client_options(security)
    )
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(topic, v, key=k) for k, v in records])
    finally:
        await producer.stop()


async def _read(
    bootstrap: str, security: KafkaSecuritySettings, topic: str, keys: set[bytes], wait_s: float
) -> dict[bytes, bytes]:
    """Values of the records keyed ``keys`` (last one wins), reading ``topic`` from the start."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **kafka_client_options(security)
    )
    await consumer.start()
    found: dict[bytes, bytes] = {}
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            partitions = [
                TopicPartition(topic, p)
                for p in (await consumer._client.fetch_all_metadata()).partitions_for_topic(topic)
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + wait_s
        while not keys <= found.keys() and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                found.update({r.key: r.value for r in records if r.key in keys and r.value})
    finally:
        await consumer.stop()
    return found


async def _audited(dsn: str, shipment_ids: set[str], wait_s: float = 60) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            rows = await conn.fetch(
                "SELECT shipment_id FROM audit.decisions_v WHERE shipment_id = ANY($1)",
                list(shipment_ids),
            )
            seen = {r["shipment_id"] for r in rows}
            if seen >= shipment_ids or time.monotonic() > deadline:
                return seen
            await asyncio.sleep(0.3)
    finally:
        await conn.close()


@pytest.mark.parametrize("mtls", [False, True], ids=["scram", "mtls"])
async def test_the_pipeline_runs_with_each_service_as_its_own_principal(
    secured_kafka: SecuredKafka,
    migrated: RuntimeState,
    service: ServiceFactory,
    tmp_path: Path,
    mtls: bool,
) -> None:
    k, s = secured_kafka, Settings()
    bootstrap = k.mtls_bootstrap if mtls else k.bootstrap
    tag = f"{'M' if mtls else 'S'}{time.monotonic_ns() % 10**9}"
    licensed = Party(id=f"CN-SEC-{tag}-L", name="Licensed Exporter", country="CN")
    unlicensed = Party(id=f"CN-SEC-{tag}-U", name="Unlicensed Exporter", country="CN")

    published = k.cli("catalogue", "catalogue", "publish", mtls=mtls)
    assert published.returncode == 0, published.stderr
    licences = tmp_path / "licences.json"
    licences.write_text(json.dumps([licence(licensed).model_dump(mode="json")]))
    published = k.cli("licensing", "licenses", "publish", str(licences), mtls=mtls)
    assert published.returncode == 0, published.stderr

    screening = service(["screening", "run"], k.environment("screening", mtls=mtls, extra=QUICK))
    audit = service(["audit", "run"], k.environment("audit", mtls=mtls, extra=AUDIT))
    screening.wait_for_log("consuming shipments")
    audit.wait_for_log("audit service started")

    events = [event(licensed), event(unlicensed)]
    poison_key = f"poison-{tag}".encode()
    await _produce(
        bootstrap,
        k.security("erp", mtls=mtls),
        s.topic_shipments,
        [(e.shipment_id.encode(), e.model_dump_json().encode()) for e in events]
        + [(poison_key, b"{not json")],
    )

    ids = {e.shipment_id for e in events}
    decided = await _read(
        bootstrap,
        k.security("operator", mtls=mtls),
        s.topic_decisions,
        {i.encode() for i in ids},
        60,
    )
    outcomes = {
        d.shipment_id: d.outcome.value
        for d in (Decision.model_validate_json(v) for v in decided.values())
    }
    assert outcomes == {events[0].shipment_id: "approve", events[1].shipment_id: "hold"}

    letters = await _read(k.bootstrap, k.security("admin"), s.topic_dead_letters, {poison_key}, 30)
    letter = DeadLetter.model_validate_json(letters[poison_key])
    assert letter.source.topic == s.topic_shipments

    assert await _audited(migrated.dsn("auditor"), ids) == ids

    tailed = k.cli(
        "operator", "tail", "--from-beginning", "--seconds", "4", "--exporter", unlicensed.id,
        mtls=mtls,
    )  # fmt: skip
    assert tailed.returncode == 0, tailed.stderr
    assert events[1].shipment_id in tailed.stdout

    # the console as its own principal: follows decisions and reviews, publishes a release
    port = free_port()
    console = service(
        ["console", "run", "--port", str(port)],
        k.environment("console", mtls=mtls, extra={"LODESTONE_CONSOLE_USERS": CONSOLE_USERS}),
    )
    console.wait_for_log("console.live.following")
    console.wait_for_log("console.reviews.following")
    held = await _decision_id(migrated.dsn("auditor"), events[1].shipment_id)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        signed_in = await client.post(
            "/console/login", data={"user_id": "rita", "secret": CONSOLE_SECRET}
        )
        assert signed_in.status_code == 303, signed_in.text
        page = await client.get(f"/console/decisions/{held}")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        line = re.search(r'name="line_nos" value="(\d+)" >', page.text)
        assert token is not None, page.text[:2000]
        assert line is not None, page.text[:2000]
        sent = await client.post(
            f"/console/decisions/{held}/review",
            data={
                "csrf_token": token.group(1),
                "line_nos": line.group(1),
                "justification": "licence application on file, see the scan",
            },
        )
        assert sent.status_code == 303, sent.text
    reviews = await _read(
        k.bootstrap, k.security("admin"), s.topic_reviews, {events[1].shipment_id.encode()}, 30
    )
    review = Review.model_validate_json(reviews[events[1].shipment_id.encode()])
    assert (review.decision_id, review.reviewer.id) == (held, "rita")
    assert "console.live.retry" not in console.log()
    assert "console.reviews.retry" not in console.log()
    assert screening.proc.poll() is None
    assert audit.proc.poll() is None
    assert console.proc.poll() is None


@pytest.mark.parametrize("command", [["screening", "run"], ["audit", "run"]])
async def test_a_service_with_a_wrong_password_exits_with_the_reason(
    secured_kafka: SecuredKafka,
    migrated: RuntimeState,
    service: ServiceFactory,
    command: list[str],
) -> None:
    principal = command[0]
    env = secured_kafka.environment(principal, extra={**QUICK, **AUDIT})
    env["LODESTONE_KAFKA_SASL_PASSWORD"] = "not-the-password"
    process = service(command, env)
    code = process.wait_exit(timeout=60)
    assert code not in (None, 0), f"still running or exit 0:\n{process.log()[-2000:]}"
    assert "Authentication failed" in process.log()
    assert "not-the-password" not in process.log()


@pytest.mark.parametrize("principal", ["licensing", "operator", "erp"])
def test_a_command_without_the_right_acl_fails_with_the_reason(
    secured_kafka: SecuredKafka, principal: str
) -> None:
    published = secured_kafka.cli(principal, "catalogue", "publish")
    assert published.returncode == 1
    reasons = [line for line in published.stderr.splitlines() if line.startswith("error: ")]
    assert len(reasons) == 1, published.stderr
    assert reasons[0].startswith(f"error: Kafka refused {principal} (SASL_SSL)")
    assert "AuthorizationFailed" in reasons[0]


async def test_a_forbidden_write_by_the_service_is_logged_and_never_skipped(
    secured_kafka: SecuredKafka, migrated: RuntimeState, service: ServiceFactory
) -> None:
    """Screening misconfigured to publish its decisions to ``licenses.v1`` (which only the
    licensing office may write): each attempt logs the refusal with the topic's name, the
    service keeps retrying (it neither hangs silently nor skips), stops cleanly on SIGTERM
    without committing past the shipment, and the shipment is decided once the problem is
    fixed."""
    k, s = secured_kafka, Settings()
    group = f"lodestone-screening-forbidden-{time.monotonic_ns()}"
    wrong = {**QUICK, "LODESTONE_TOPIC_DECISIONS": s.topic_licenses}
    wrong["LODESTONE_SCREENING_GROUP_ID"] = group
    screening = service(["screening", "run"], k.environment("screening", extra=wrong))
    screening.wait_for_log("consuming shipments")
    shipment = event(Party(id="CN-SEC-FORBIDDEN", name="Exporter", country="CN"))
    key = shipment.shipment_id.encode()
    await _produce(
        k.bootstrap,
        k.security("erp"),
        s.topic_shipments,
        [(key, shipment.model_dump_json().encode())],
    )
    screening.wait_for_log("TopicAuthorizationFailedError", timeout=60)
    assert s.topic_licenses in screening.log()
    assert "not authorised by the cluster's ACLs" in screening.log()
    await asyncio.sleep(2)
    assert screening.proc.poll() is None, screening.log()[-3000:]
    assert screening.log().count("TopicAuthorizationFailedError('licenses.v1')") >= 3
    operator = k.security("operator")

    screening.stop()
    assert screening.proc.returncode is not None
    fixed = {**QUICK, "LODESTONE_SCREENING_GROUP_ID": group}
    screening = service(["screening", "run"], k.environment("screening", extra=fixed))
    decided = await _read(k.bootstrap, operator, s.topic_decisions, {key}, 60)
    assert Decision.model_validate_json(decided[key]).shipment_id == shipment.shipment_id


@pytest.mark.parametrize(
    ("command", "principal"), [(["screening", "run"], "operator"), (["audit", "run"], "erp")]
)
async def test_a_service_run_as_a_principal_without_its_acls_does_not_hang(
    secured_kafka: SecuredKafka,
    migrated: RuntimeState,
    service: ServiceFactory,
    command: list[str],
    principal: str,
) -> None:
    env = secured_kafka.environment(principal, extra={**QUICK, **AUDIT})
    process = service(command, env)
    code = process.wait_exit(timeout=60)
    assert code == 1, f"still running or not exit 1:\n{process.log()[-2000:]}"
    assert f"error: Kafka refused {principal} (SASL_SSL)" in process.log()
