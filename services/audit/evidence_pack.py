"""Evidence packs: one shipment's decisions with their inputs and the proof that the log holds them.

A pack is a JSON document (format ``lodestone-audit-evidence-pack/2``). Each record carries its
stored fields (``content``), ``prev_hash``/``record_hash`` and an RFC 9162 inclusion proof of
its record hash in the tree of the pack's signed ``tree_head``. With the pack and the audit
log's public key alone, a third party checks that each record hashes to its ``record_hash``,
that the record is leaf ``seq - 1`` of the signed tree, and that the head's signature holds
(docs/audit.md, "Verifying an evidence pack"). Without a valid proof a record cannot be
altered, and a record that was never logged cannot be invented, by anybody without the log's
private key.

:func:`verify_pack` checks the pack's shape first and reports problems; it never raises.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from services.audit.canonical import NotCanonicalError, canonical_bytes, canonical_timestamp
from services.audit.catalogue_keys import catalogue_key
from services.audit.chain import link_hash
from services.audit.merkle import inclusion_proof, leaf_hash, verify_inclusion
from services.audit.queries import catalogue, latest_tree_head, leaf_hashes, shipment_history
from services.audit.records import content_of
from services.audit.tree_head import SignedTreeHead, TreeHeadError
from services.common.db import Conn
from services.common.signing import KeyRing

PACK_FORMAT = "lodestone-audit-evidence-pack/2"


async def build_pack(conn: Conn, shipment_id: str) -> dict[str, Any]:
    """The evidence pack of ``shipment_id`` (raises LookupError when nothing is recorded)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await shipment_history(conn, shipment_id)
        if not rows:
            raise LookupError(f"no decision recorded for shipment {shipment_id!r}")
        newest = max(row["seq"] for row in rows)
        head = await latest_tree_head(conn, newest)
        if head is None:
            raise LookupError(f"no signed tree head covers record {newest} yet; retry shortly")
        leaves = await leaf_hashes(conn, head.tree_size)
        catalogues: dict[str, Any] = {}
        for version in sorted({row["catalogue_version"] for row in rows}):
            found = await catalogue(conn, version)
            catalogues[version] = None if found is None else _catalogue_entry(found)
    records = [
        {
            "seq": row["seq"],
            "prev_hash": bytes(row["prev_hash"]).hex(),
            "record_hash": bytes(row["record_hash"]).hex(),
            "content": _parse(content_of(row)),
            "inclusion_proof": [h.hex() for h in inclusion_proof(leaves, row["seq"] - 1)],
        }
        for row in rows
    ]
    return {
        "format": PACK_FORMAT,
        "shipment_id": shipment_id,
        "exported_at": canonical_timestamp(datetime.now(UTC)),
        "records": records,
        "catalogues": catalogues,
        "tree_head": head.to_json(),
    }


def _parse(content: bytes) -> Any:
    return orjson.loads(content)


def _catalogue_entry(found: dict[str, Any]) -> dict[str, Any]:
    content = bytes(found["content"])
    return {
        "content_sha256": bytes(found["content_sha256"]).hex(),
        "content_base64": base64.b64encode(content).decode("ascii"),
    }


Hex32 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
_STRICT = ConfigDict(extra="forbid", strict=True)


class _PackRecord(BaseModel):
    model_config = _STRICT

    seq: int
    prev_hash: Hex32
    record_hash: Hex32
    content: dict[str, Any]
    inclusion_proof: list[Hex32]


class _PackCatalogue(BaseModel):
    model_config = _STRICT

    content_sha256: Hex32
    content_base64: str


class _Pack(BaseModel):
    """The shape of a pack; anything else (extra fields too) is refused."""

    model_config = _STRICT

    format: str
    shipment_id: str
    exported_at: str
    records: list[_PackRecord]
    catalogues: dict[str, _PackCatalogue | None]
    tree_head: dict[str, Any]


def verify_pack(pack: Any, keys: KeyRing | None) -> list[str]:
    """Problems found in ``pack``; an empty list means it verifies. Never raises.

    ``keys``: the audit log's public key(s); without them the tree head cannot be trusted, and
    that is reported as a problem.
    """
    if not isinstance(pack, dict) or pack.get("format") != PACK_FORMAT:
        found = pack.get("format") if isinstance(pack, dict) else type(pack).__name__
        return [f"not a {PACK_FORMAT} document (format {found!r})"]
    try:
        shape = _Pack.model_validate(pack)
    except ValidationError as exc:
        return [f"malformed pack: {error['loc']}: {error['msg']}" for error in exc.errors()]
    try:
        return _problems(shape, keys)
    except Exception as exc:  # a last guard: report, never crash the caller
        return [f"malformed pack: {type(exc).__name__}: {exc}"]


def _problems(pack: _Pack, keys: KeyRing | None) -> list[str]:
    problems: list[str] = []
    try:
        head = SignedTreeHead.from_json(pack.tree_head)
    except TreeHeadError as exc:
        return [f"tree_head: {exc}"]
    if keys is None:
        problems.append("no log public key given: the tree head's signature is not checked")
    else:
        signature_problem = head.problem(keys)
        if signature_problem is not None:
            problems.append(f"tree_head: {signature_problem}")
    if not pack.records:
        problems.append("the pack holds no record")
    previous: _PackRecord | None = None
    for record in pack.records:
        problems += _record_problems(pack, head, record, previous)
        previous = record
    for version, entry in pack.catalogues.items():
        if entry is None:
            continue
        try:
            content = base64.b64decode(entry.content_base64, validate=True)
        except (binascii.Error, ValueError):
            problems.append(f"catalogue {version}: content_base64 is not base64")
            continue
        if hashlib.sha256(content).hexdigest() != entry.content_sha256:
            problems.append(f"catalogue {version}: content does not match its sha256")
        if catalogue_key(content) != version:
            problems.append(f"catalogue {version}: its content's digest names another version")
    return problems


def _record_problems(
    pack: _Pack, head: SignedTreeHead, record: _PackRecord, previous: _PackRecord | None
) -> list[str]:
    seq, content = record.seq, record.content
    try:
        digest = link_hash(bytes.fromhex(record.prev_hash), canonical_bytes(content))
    except NotCanonicalError as exc:
        return [f"record {seq}: content has no canonical form ({exc})"]
    problems: list[str] = []
    record_hash = bytes.fromhex(record.record_hash)
    if digest != record_hash:
        problems.append(f"record {seq}: record_hash does not match its content")
    proof = [bytes.fromhex(h) for h in record.inclusion_proof]
    if not verify_inclusion(leaf_hash(record_hash), seq - 1, head.tree_size, proof, head.root_hash):
        problems.append(
            f"record {seq}: not in the signed tree of {head.tree_size} records "
            "(its inclusion proof fails)"
        )
    if seq == head.tree_size and record_hash != head.last_record_hash:
        problems.append(f"record {seq}: differs from the tree head's last record")
    if content.get("shipment_id") != pack.shipment_id:
        problems.append(f"record {seq}: belongs to another shipment")
    decision = content.get("decision")
    if not isinstance(decision, dict) or decision.get("decision_id") != content.get("decision_id"):
        problems.append(f"record {seq}: decision_id differs from the decision's")
    if (
        previous is not None
        and seq == previous.seq + 1
        and record.prev_hash != previous.record_hash
    ):
        problems.append(f"record {seq}: does not link to record {previous.seq}")
    return problems
