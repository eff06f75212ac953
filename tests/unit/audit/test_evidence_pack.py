"""Evidence packs verify on their own, and tell what was edited."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

from services.audit.canonical import canonical_timestamp, parse_json
from services.audit.chain import ChainHead, extend
from services.audit.evidence_pack import PACK_FORMAT, verify_pack
from services.audit.records import CONTENT_COLUMNS, SourceCoordinates, pending_from_decision
from tests.unit.audit.factories import make_decision


def _pack() -> dict[str, Any]:
    now = datetime.now(UTC)
    first = make_decision(1, shipment_id="SHP-P")
    second = make_decision(2, shipment_id="SHP-P", supersedes=first.decision_id)
    pending = [pending_from_decision(d, SourceCoordinates("t", 0, 0), now) for d in (first, second)]
    records = []
    for p, (seq, prev, digest) in zip(
        pending, extend(ChainHead.genesis(), [p.content for p in pending]), strict=True
    ):
        content = parse_json(p.content)
        assert list(content) == sorted(CONTENT_COLUMNS)
        records.append(
            {"seq": seq, "prev_hash": prev.hex(), "record_hash": digest.hex(), "content": content}
        )
    catalogue = b'{"version": "v1"}'
    return {
        "format": PACK_FORMAT,
        "shipment_id": "SHP-P",
        "exported_at": canonical_timestamp(now),
        "records": records,
        "catalogues": {
            "v1": {
                "content_sha256": hashlib.sha256(catalogue).hexdigest(),
                "content_base64": base64.b64encode(catalogue).decode(),
            }
        },
        "chain_head": {"seq": 2, "record_hash": records[-1]["record_hash"]},
    }


def test_an_untouched_pack_verifies() -> None:
    assert verify_pack(_pack()) == []


def test_edits_are_reported() -> None:
    pack = _pack()
    pack["records"][1]["content"]["decision"]["reasons"] = []
    pack["records"][1]["prev_hash"] = "00" * 32
    pack["catalogues"]["v1"]["content_base64"] = base64.b64encode(b"{}").decode()
    problems = verify_pack(pack)
    assert any("record 2: record_hash" in p for p in problems)
    assert any("does not link" in p for p in problems)
    assert any("catalogue v1" in p for p in problems)
