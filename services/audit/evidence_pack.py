"""Evidence packs: one shipment's decisions with their inputs and the proof of their integrity.

A pack is a JSON document. Each record carries its stored fields (``content``) and its
``prev_hash``/``record_hash``; a third party recomputes ``sha256(prev_hash || canonical(content))``
per record (docs/audit.md, "Verifying an evidence pack"), checks that consecutive records link,
that the catalogue contents hash to the stored digests, and compares ``chain_head`` with the head
the operator publishes or a verifier's checkpoint.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

from services.audit.canonical import canonical_bytes, canonical_timestamp
from services.audit.chain import link_hash
from services.audit.queries import catalogue, shipment_history
from services.audit.records import CHAIN_COLUMNS, hashed_content
from services.audit.verify import stored_head
from services.common.db import Conn

PACK_FORMAT = "lodestone-audit-evidence-pack/1"


async def build_pack(conn: Conn, shipment_id: str) -> dict[str, Any]:
    """The evidence pack of ``shipment_id`` (raises LookupError when nothing is recorded)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await shipment_history(conn, shipment_id)
        if not rows:
            raise LookupError(f"no decision recorded for shipment {shipment_id!r}")
        head = await stored_head(conn)
        catalogues: dict[str, Any] = {}
        for version in sorted({row["catalogue_version"] for row in rows}):
            found = await catalogue(conn, version)
            catalogues[version] = None if found is None else _catalogue_entry(found)
    records = [
        {
            **{c: (bytes(row[c]).hex() if c != "seq" else row[c]) for c in CHAIN_COLUMNS},
            "content": hashed_content(row),
        }
        for row in rows
    ]
    return {
        "format": PACK_FORMAT,
        "shipment_id": shipment_id,
        "exported_at": canonical_timestamp(datetime.now(UTC)),
        "records": records,
        "catalogues": catalogues,
        "chain_head": {"seq": head.seq, "record_hash": head.record_hash.hex()},
    }


def _catalogue_entry(found: dict[str, Any]) -> dict[str, Any]:
    content = bytes(found["content"])
    return {
        "content_sha256": bytes(found["content_sha256"]).hex(),
        "content_base64": base64.b64encode(content).decode("ascii"),
    }


def verify_pack(pack: dict[str, Any]) -> list[str]:
    """Problems found in ``pack``; an empty list means it verifies."""
    problems: list[str] = []
    if pack.get("format") != PACK_FORMAT:
        return [f"unknown format {pack.get('format')!r}"]
    records = pack.get("records") or []
    if not records:
        problems.append("the pack holds no record")
    head_seq = int(pack.get("chain_head", {}).get("seq", 0))
    previous: dict[str, Any] | None = None
    for record in records:
        seq = record["seq"]
        content = record["content"]
        digest = link_hash(bytes.fromhex(record["prev_hash"]), canonical_bytes(content))
        if digest.hex() != record["record_hash"]:
            problems.append(f"record {seq}: record_hash does not match its content")
        if content.get("shipment_id") != pack.get("shipment_id"):
            problems.append(f"record {seq}: belongs to another shipment")
        if content.get("decision", {}).get("decision_id") != content.get("decision_id"):
            problems.append(f"record {seq}: decision_id differs from the decision's")
        if seq > head_seq:
            problems.append(f"record {seq}: after the chain head {head_seq}")
        adjacent = previous is not None and seq == previous["seq"] + 1
        if adjacent and previous is not None and record["prev_hash"] != previous["record_hash"]:
            problems.append(f"record {seq}: does not link to record {previous['seq']}")
        previous = record
    for version, entry in (pack.get("catalogues") or {}).items():
        if entry is None:
            continue
        content = base64.b64decode(entry["content_base64"])
        if hashlib.sha256(content).hexdigest() != entry["content_sha256"]:
            problems.append(f"catalogue {version}: content does not match its sha256")
    return problems
