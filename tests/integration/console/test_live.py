"""The live view shows only decisions the screening service signed, on the real stack.

Forgeries of a decision (unsigned, signed by an attacker's key, altered after signing, a
tombstone) are written to the stack's decisions topic beside a genuine decision; the event
stream must carry the genuine one as a decision and each forgery as ``unverified`` with its
position and problem, never what it claims.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.signing import Signer
from services.screening.publish import publish_records
from tests.integration.console.stack import Stack
from tests.integration.console.test_pages import signed_in
from tests.integration.foundation.test_decision_readers import send
from tests.unit.audit.factories import DECISION_SIGNER, make_decision

pytestmark = pytest.mark.integration


async def _events(
    client: httpx.AsyncClient, into: list[tuple[str, Any]], ready: asyncio.Event
) -> None:
    async with client.stream(
        "GET", "/console/live/stream", headers={"Accept": "text/event-stream"}
    ) as response:
        assert response.status_code == 200
        kind = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                kind = line.partition(":")[2].strip()
            elif line.startswith("data:"):
                if kind == "ready":
                    ready.set()
                else:
                    into.append((kind, json.loads(line.partition(":")[2])))


async def _unverified_count(client: httpx.AsyncClient) -> float:
    text = (await client.get("/metrics")).text
    found = re.search(r"^lodestone_console_live_unverified_total (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_forged_decisions_are_flagged_never_shown_as_decisions(stack: Stack) -> None:
    client = await signed_in(stack, "vera")
    flagged_before = await _unverified_count(client)
    received: list[tuple[str, Any]] = []
    ready = asyncio.Event()
    reader = asyncio.create_task(_events(client, received, ready))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        forged_shipment = f"SHP-FORGED-{uuid.uuid4().hex[:8]}"
        doc = json.loads(make_decision(91_001, shipment_id=forged_shipment).model_dump_json())
        doc["outcome"] = "approve"
        forged = json.dumps(doc).encode()
        key_file = stack.settings.decision_signing_key_file
        assert key_file is not None
        trusted = Signer.from_file(key_file)  # the screening service's own key
        await send(
            stack.settings.kafka_bootstrap,
            stack.settings.topic_decisions,
            forged_shipment.encode(),
            [
                (forged, []),
                (forged, Signer(Ed25519PrivateKey.generate()).headers(forged)),
                (forged, DECISION_SIGNER.headers(forged)),  # a key the stack does not trust
                (forged, trusted.headers(b"the bytes it signed")),  # altered after signing
                (None, []),
            ],
        )
        event = stack.events[0].model_copy(
            update={
                "event_id": str(uuid.uuid4()),
                "shipment_id": f"SHP-LIVE-{uuid.uuid4().hex[:6]}",
            }
        )
        await publish_records(
            stack.settings.kafka_bootstrap,
            stack.settings.topic_shipments,
            [(event.exporter.id.encode(), event.model_dump_json().encode())],
        )
        for _ in range(300):
            unverified = [data for kind, data in received if kind == "unverified"]
            genuine = [
                d
                for kind, d in received
                if kind == "decision" and d["shipment_id"] == event.shipment_id
            ]
            if len(unverified) >= 5 and genuine:
                break
            await asyncio.sleep(0.1)
        flagged_after = await _unverified_count(client)
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await client.aclose()
    assert flagged_after == flagged_before + 5  # lodestone_console_live_unverified_total
    assert len(genuine) == 1
    assert len(unverified) == 5
    problems = [u["problem"] for u in unverified]
    assert sum("not signed" in p for p in problems) == 1
    assert sum("not a trusted key" in p for p in problems) == 2  # an attacker's, the tests'
    assert sum("does not verify" in p for p in problems) == 1
    assert sum("tombstone" in p for p in problems) == 1
    assert all({"partition", "offset", "problem"} == set(u) for u in unverified)
    assert forged_shipment not in json.dumps(received)  # never what a forgery claims
