"""Decision signatures through the broker: forgeries are chained as rejected, rotation works,
and every batch's signed tree head reaches ``audit.anchors.v1`` and the anchor file."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deploy.local import RuntimeState
from services.audit.anchors import read_anchor_file
from services.audit.service import AuditService
from services.audit.tree_head import SignedTreeHead
from services.audit.verify import verify_chain
from services.common.kafka_security import kafka_client_options
from services.common.signing import KEY_ID_HEADER, SIGNATURE_HEADER, KeyRing, Signer
from tests.conftest import NewTopicFactory
from tests.integration.audit.conftest import AuditDatabase
from tests.integration.audit.test_service import _options, _wait_for, running
from tests.unit.audit.factories import DECISION_SIGNER, LOG_KEYS, make_decision

pytestmark = pytest.mark.integration

Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


async def _send(bootstrap: str, topic: str, records: list[Record]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **kafka_client_options())
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def test_forged_decisions_are_rejected_and_the_genuine_one_recorded(
    runtime: RuntimeState, audit_db: AuditDatabase, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    decisions, controls, anchors = await new_topic(3), await new_topic(1), await new_topic(1)
    genuine = make_decision(70_001)  # the real decision for the shipment
    genuine_value = genuine.model_dump_json().encode()
    forged_doc = json.loads(genuine_value)
    forged_doc["outcome"] = "approve" if forged_doc["outcome"] == "hold" else "hold"
    forged_value = json.dumps(forged_doc).encode()
    attacker = Signer(Ed25519PrivateKey.generate())
    tampered_signature = DECISION_SIGNER.headers(genuine_value)  # a real signature, other bytes
    key = genuine.shipment_id.encode()
    # The forgeries come first: the store used to keep the first record per decision id.
    await _send(
        runtime.kafka_bootstrap,
        decisions,
        [
            (key, forged_value, []),  # unsigned
            (key, forged_value, attacker.headers(forged_value)),  # signed by an unknown key
            (key, forged_value, tampered_signature),  # a genuine signature over other bytes
            (key, forged_value, [(KEY_ID_HEADER, b"x"), (SIGNATURE_HEADER, b"%%")]),
            (key, genuine_value, DECISION_SIGNER.headers(genuine_value)),
        ],
    )
    anchor_file = tmp_path / "anchors.jsonl"
    options = dataclasses.replace(
        _options(runtime, audit_db, decisions, controls),
        anchors_topic=anchors,
        anchor_file=anchor_file,
    )
    async with running(AuditService(options)):
        assert await _wait_for(audit_db, decisions, 1, within_s=60) == 1
        for _ in range(100):
            conn = await audit_db.connect("auditor")
            try:
                rejected = await conn.fetch(
                    "SELECT error_type, error, seq FROM audit.rejected_records_v"
                    " WHERE source_topic = $1 ORDER BY source_offset",
                    decisions,
                )
            finally:
                await conn.close()
            if len(rejected) == 4:
                break
            await asyncio.sleep(0.1)
    conn = await audit_db.connect("auditor")
    try:
        stored = await conn.fetchrow(
            "SELECT outcome, signature_key_id FROM audit.decisions_v WHERE decision_id = $1",
            genuine.decision_id,
        )
        report = await verify_chain(conn, keys=LOG_KEYS)
    finally:
        await conn.close()
    assert stored is not None
    assert (stored["outcome"], stored["signature_key_id"]) == (
        genuine.outcome,
        DECISION_SIGNER.key_id,
    )
    assert [r["error_type"] for r in rejected] == ["SignatureRejected"] * 4
    assert all(r["seq"] is not None for r in rejected), "rejected records are chained"
    errors = " | ".join(r["error"] for r in rejected)
    assert "not signed" in errors
    assert "not a trusted key" in errors
    assert "does not verify" in errors
    assert "malformed" in errors
    assert report.ok, report.broken
    # Every head the service signed went outside the database: the file and the topic.
    in_file = read_anchor_file(anchor_file)
    assert not in_file.problems
    assert in_file.heads, "no tree head appended"
    assert all(h.problem(LOG_KEYS) is None for h in in_file.heads)
    published = await _read_all(runtime.kafka_bootstrap, anchors, len(in_file.heads))
    assert [h.to_json() for h in published] == [h.to_json() for h in in_file.heads]


async def _read_all(bootstrap: str, topic: str, expected: int) -> list[SignedTreeHead]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        **kafka_client_options(),
    )
    await consumer.start()
    heads: list[SignedTreeHead] = []
    try:
        for _ in range(50):
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                for message in messages:
                    assert message.key == b"anchor"
                    heads.append(SignedTreeHead.from_json(message.value))
            if len(heads) >= expected:
                break
    finally:
        await consumer.stop()
    return heads


async def test_a_rotated_key_is_accepted_while_both_are_trusted(
    runtime: RuntimeState, audit_db: AuditDatabase, new_topic: NewTopicFactory
) -> None:
    decisions, controls = await new_topic(1), await new_topic(1)
    new_key = Signer(Ed25519PrivateKey.generate())
    old, new = make_decision(71_001), make_decision(71_002)
    records: list[Record] = []
    for decision, signer in ((old, DECISION_SIGNER), (new, new_key)):
        value = decision.model_dump_json().encode()
        records.append((decision.shipment_id.encode(), value, signer.headers(value)))
    await _send(runtime.kafka_bootstrap, decisions, records)
    options = dataclasses.replace(
        _options(runtime, audit_db, decisions, controls),
        decision_keys=KeyRing([DECISION_SIGNER.public_key, new_key.public_key]),
        group_id=f"rotation-{uuid.uuid4().hex[:6]}",
    )
    async with running(AuditService(options)):
        assert await _wait_for(audit_db, decisions, 2, within_s=60) == 2
    conn = await audit_db.connect("auditor")
    try:
        keys = await conn.fetch(
            "SELECT signature_key_id FROM audit.decisions_v WHERE source_topic = $1 ORDER BY seq",
            decisions,
        )
    finally:
        await conn.close()
    assert [r["signature_key_id"] for r in keys] == [DECISION_SIGNER.key_id, new_key.key_id]
