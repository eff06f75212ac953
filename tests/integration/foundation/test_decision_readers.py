"""Every reader that shows or acts on the decisions topic takes only signed decisions, on the
real broker: ``lodestone tail`` and shadow screening here, the console's live view in
tests/integration/console. Each is handed the genuine decision among forgeries of it: unsigned,
signed by an attacker's key, altered after signing, and a tombstone."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console

from deploy.local import RuntimeState
from services.common.kafka_security import kafka_client_options
from services.common.signing import Signer
from services.screening.tail import tail
from tests.conftest import NewTopicFactory
from tests.unit.audit.factories import DECISION_KEYS, DECISION_SIGNER, make_decision

pytestmark = pytest.mark.integration

Record = tuple[bytes | None, list[tuple[str, bytes]]]


def forgeries_and_the_genuine(n: int) -> tuple[str, list[Record]]:
    """The genuine decision's shipment id, and five records: four forgeries, then the genuine."""
    genuine = make_decision(n).model_dump_json().encode()
    doc = json.loads(genuine)
    doc["outcome"] = "approve" if doc["outcome"] == "hold" else "hold"
    flipped = json.dumps(doc).encode()
    attacker = Signer(Ed25519PrivateKey.generate())
    records: list[Record] = [
        (flipped, []),  # unsigned
        (flipped, attacker.headers(flipped)),  # an attacker's key
        (flipped, DECISION_SIGNER.headers(genuine)),  # a real signature over other bytes
        (None, []),  # a tombstone
        (genuine, DECISION_SIGNER.headers(genuine)),
    ]
    return str(doc["shipment_id"]), records


async def send(bootstrap: str, topic: str, key: bytes, records: Sequence[Record]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **kafka_client_options())
    await producer.start()
    try:
        for value, headers in records:
            await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def _tail_of_forgeries(
    runtime: RuntimeState, topic: str, n: int, exporter: str | None = None
) -> tuple[str, int, str]:
    """The genuine decision among its forgeries on ``topic``, tailed from the beginning:
    (its shipment id, decisions shown, what ``tail`` printed)."""
    shipment_id, records = forgeries_and_the_genuine(n)
    await send(runtime.kafka_bootstrap, topic, shipment_id.encode(), records)
    out = io.StringIO()
    shown = await tail(
        bootstrap=runtime.kafka_bootstrap,
        topic=topic,
        keys=DECISION_KEYS,
        exporter=exporter,
        from_beginning=True,
        seconds=6,
        console=Console(file=out, width=200, color_system=None),
    )
    return shipment_id, shown, out.getvalue()


async def test_tail_shows_the_signed_decision_and_flags_every_forgery(
    runtime: RuntimeState, new_topic: NewTopicFactory
) -> None:
    shipment_id, shown, text = await _tail_of_forgeries(runtime, await new_topic(1), 81_001)
    assert shown == 1
    flagged = [line for line in text.splitlines() if "NOT A SIGNED DECISION" in line]
    assert [line.split("offset ")[1].split(":")[0] for line in flagged] == ["0", "1", "2", "3"]
    assert "not signed" in flagged[0]
    assert "not a trusted key" in flagged[1]
    assert "does not verify" in flagged[2]
    assert "tombstone" in flagged[3]
    assert text.count(shipment_id) == 1  # only the genuine decision names its shipment


async def test_a_filtered_tail_still_flags_forgeries(
    runtime: RuntimeState, new_topic: NewTopicFactory
) -> None:
    """A filter selects decisions; a forgery's claimed exporter is no reason to hide it."""
    topic = await new_topic(1)
    _, shown, text = await _tail_of_forgeries(runtime, topic, 81_002, exporter="CN-EXP-NOBODY")
    assert shown == 0
    assert text.count("NOT A SIGNED DECISION") == 4
