"""Tampering as the database owner would, against ``lodestone audit verify`` and evidence packs.

Each test writes a store the way the service does (signed tree heads appended to an anchor file
outside the database), then the owner (the bootstrap identity after ``SET ROLE``, triggers
disabled) deletes, rewrites and re-hashes, and covers its tracks in the store as well as it can.
Verification must fail, with ``--full`` and without, and must never lower what it saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from deploy.local import RuntimeState
from services.audit.anchors import AnchorPublisher
from services.audit.canonical import canonical_bytes
from services.audit.chain import ChainHead, extend, link_hash
from services.audit.decoding import decode_decision
from services.audit.evidence_pack import build_pack, verify_pack
from services.audit.records import PendingRecord, SourceCoordinates, content_of
from services.audit.store import Rejected, write_batch
from services.audit.tree_head import sign_tree_head
from services.audit.tree_log import TreeLog
from services.audit.verify import last_checkpoint
from services.audit.verify_command import verify_store
from services.common.migrations import SERVICES_DIR, apply_migrations
from services.common.signing import Signer
from tests.integration.audit.conftest import AuditDatabase, fresh_database
from tests.unit.audit.factories import (
    DECISION_KEYS,
    DECISION_SIGNER,
    LOG_KEYS,
    LOG_SIGNER,
    make_decision,
)

pytestmark = pytest.mark.integration

BATCHES, PER_BATCH = 3, 10


@pytest.fixture
async def store(runtime: RuntimeState, tmp_path: Path) -> AsyncIterator[AuditDatabase]:
    """A store of 30 signed decisions in 3 batches, every head in ``tmp_path/anchors.jsonl``."""
    async with fresh_database(runtime) as db:
        await apply_migrations(db.dsn("admin"), "audit", SERVICES_DIR / "audit" / "migrations")
        await _write(db, tmp_path, first=1)
        yield db


async def _write(
    db: AuditDatabase, tmp_path: Path, first: int, rejected: list[Rejected] | None = None
) -> None:
    tree, anchors = TreeLog(LOG_SIGNER), AnchorPublisher(file=tmp_path / "anchors.jsonl")
    writer = await db.connect("audit")
    try:
        for b in range(BATCHES):
            start = first + b * PER_BATCH
            records = [_signed(make_decision(n), n) for n in range(start, start + PER_BATCH)]
            result = await write_batch(writer, records, rejected if b == 0 else None, tree=tree)
            assert result.tree_head is not None
            await anchors.publish(result.tree_head)
    finally:
        await writer.close()


def _signed(decision: Any, offset: int) -> PendingRecord:
    value = decision.model_dump_json().encode()
    check = DECISION_KEYS.check_record(value, DECISION_SIGNER.headers(value))
    item = decode_decision(value, None, SourceCoordinates("decisions.v1", 0, offset), _NOW, check)
    assert isinstance(item, PendingRecord)
    return item


_NOW = datetime.now(UTC)


async def _verify(
    db: AuditDatabase, tmp_path: Path, *, full: bool, anchors: bool = True, checkpoints: str = "cp"
) -> tuple[int, str]:
    lines: list[str] = []
    key = tmp_path / "log.pub.pem"
    key.write_bytes(
        LOG_SIGNER.public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    code = await verify_store(
        full=full,
        checkpoint_file=tmp_path / f"{checkpoints}.jsonl",
        anchor_file=tmp_path / "anchors.jsonl" if anchors else None,
        log_public_key=key,
        connect=lambda: db.connect("auditor"),
        echo=lines.append,
        progress=lambda _: None,
    )
    return code, "\n".join(lines)


@contextlib.asynccontextmanager
async def as_owner(db: AuditDatabase) -> AsyncIterator[asyncpg.Connection[Any]]:
    """The owner with the append-only triggers off: what the bootstrap identity can do."""
    conn = await db.connect("admin")
    try:
        await conn.execute("SET ROLE lodestone_owner")
        for table in ("decision_records", "rejected_records", "tree_heads"):
            await conn.execute(f"ALTER TABLE audit.{table} DISABLE TRIGGER USER")
        yield conn
        for table in ("decision_records", "rejected_records", "tree_heads"):
            await conn.execute(f"ALTER TABLE audit.{table} ENABLE TRIGGER USER")
    finally:
        await conn.close()


async def _rehash_from(owner: asyncpg.Connection[Any], seq: int) -> None:
    """Recompute prev_hash/record_hash of every record from ``seq`` on, as a careful forger."""
    rows = await owner.fetch(
        "SELECT * FROM audit.decision_records WHERE seq >= $1 ORDER BY seq", seq
    )
    prev = await owner.fetchrow(
        "SELECT seq, record_hash FROM audit.decision_records WHERE seq = $1", seq - 1
    )
    head = ChainHead(prev["seq"], bytes(prev["record_hash"])) if prev else ChainHead.genesis()
    # The stored text enters the hash byte for byte, as the writer hashes it.
    contents = [
        content_of({**r, "decision": orjson.Fragment(r["decision"].encode())}) for r in rows
    ]
    for row, (s, p, d) in zip(rows, extend(head, contents), strict=True):
        await owner.execute(
            "UPDATE audit.decision_records SET prev_hash = $2, record_hash = $3 WHERE seq = $1",
            s, p, d,
        )  # fmt: skip
        assert row["seq"] == s


async def test_an_untouched_store_verifies_against_every_head(
    store: AuditDatabase, tmp_path: Path
) -> None:
    code, out = await _verify(store, tmp_path, full=True)
    assert code == 0, out
    assert "6 signed head(s) and checkpoint(s) hold" in out  # 3 in the store, 3 in the file
    code, out = await _verify(store, tmp_path, full=False)
    assert code == 0, out


@pytest.mark.parametrize("full", [True, False])
async def test_a_deleted_tail_is_caught_with_and_without_full(
    store: AuditDatabase, tmp_path: Path, full: bool
) -> None:
    assert (await _verify(store, tmp_path, full=False))[0] == 0  # a checkpoint at 30
    async with as_owner(store) as owner:
        await owner.execute("DELETE FROM audit.decision_records WHERE seq > 25")
        await owner.execute("DELETE FROM audit.tree_heads WHERE tree_size > 25")
    code, out = await _verify(store, tmp_path, full=full)
    assert (code, "records were removed" in out) == (1, True), out
    # The next default run fails too: nothing was lowered or replaced.
    assert last_checkpoint(tmp_path / "cp.jsonl").seq == 30  # type: ignore[union-attr]
    assert (await _verify(store, tmp_path, full=False))[0] == 1
    # A verifier with no checkpoint of its own is held to the anchor file.
    code, out = await _verify(store, tmp_path, full=True, checkpoints="fresh")
    assert (code, "anchor file" in out) == (1, True), out


@pytest.mark.parametrize("full", [True, False])
async def test_a_rewritten_and_rehashed_chain_is_caught(
    store: AuditDatabase, tmp_path: Path, full: bool
) -> None:
    assert (await _verify(store, tmp_path, full=False))[0] == 0
    async with as_owner(store) as owner:
        row = await owner.fetchrow(
            "SELECT outcome, decision FROM audit.decision_records WHERE seq = 5"
        )
        assert row is not None
        flipped = "approve" if row["outcome"] == "hold" else "hold"
        text = row["decision"].replace(f'"outcome":"{row["outcome"]}"', f'"outcome":"{flipped}"')
        await owner.execute(
            "UPDATE audit.decision_records SET outcome = $1, decision = $2 WHERE seq = 5",
            flipped, text,
        )  # fmt: skip
        await _rehash_from(owner, 5)
        await owner.execute("DELETE FROM audit.tree_heads")  # the store's own heads, gone
    code, out = await _verify(store, tmp_path, full=full)
    assert (code, "rewritten" in out) == (1, True), out
    code, out = await _verify(store, tmp_path, full=full, anchors=False)  # checkpoints alone
    assert (code, "rewritten" in out) == (1, True), out
    code, out = await _verify(store, tmp_path, full=True, checkpoints="fresh")  # anchors alone
    assert (code, "signed tree head in anchor file" in out) == (1, True), out


async def test_a_forged_tree_head_in_the_store_is_refused(
    store: AuditDatabase, tmp_path: Path
) -> None:
    forger = Signer(Ed25519PrivateKey.generate())
    head = sign_tree_head(
        forger, tree_size=5, root_hash=bytes(32), last_record_hash=bytes(32),
        rejected_size=0, rejected_head_hash=bytes(32),
    )  # fmt: skip
    async with as_owner(store) as owner:
        await owner.execute(
            "INSERT INTO audit.tree_heads (tree_size, head, key_id, signature)"
            " VALUES ($1, $2, $3, $4)",
            5, head.signed_bytes().decode(), head.key_id, head.signature,
        )  # fmt: skip
    code, out = await _verify(store, tmp_path, full=True)
    assert (code, "not a trusted key" in out) == (1, True), out


async def test_an_edited_anchor_file_is_refused(store: AuditDatabase, tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    lines = path.read_text().splitlines()
    head = json.loads(lines[0])
    head["tree_size"] = 1
    path.write_text("\n".join([json.dumps(head), *lines[1:]]) + "\n")
    code, out = await _verify(store, tmp_path, full=True)
    assert (code, "does not verify" in out) == (1, True), out
    path.write_text("not json\n")
    code, out = await _verify(store, tmp_path, full=True)
    assert (code, "anchors.jsonl:1" in out) == (1, True), out


async def test_a_repeated_key_in_the_stored_text_is_caught(
    store: AuditDatabase, tmp_path: Path
) -> None:
    """jsonb would keep the last key: a reader sees approve while the bytes once said hold."""
    async with as_owner(store) as owner:
        text = await owner.fetchval("SELECT decision FROM audit.decision_records WHERE seq = 7")
        await owner.execute(
            "UPDATE audit.decision_records SET decision = $1 WHERE seq = 7",
            text[:-1] + ',"outcome":"approve"}',
        )
        await _rehash_from(owner, 7)
    code, out = await _verify(store, tmp_path, full=True, anchors=False, checkpoints="fresh")
    assert (code, "repeats the key" in out) == (1, True), out


async def test_rejected_records_are_chained_and_their_tampering_caught(
    runtime: RuntimeState, tmp_path: Path
) -> None:
    nul = make_decision(1).model_dump_json().replace("Samarium", "Sama\\u0000rium").encode()
    check = DECISION_KEYS.check_record(nul, DECISION_SIGNER.headers(nul))
    source = SourceCoordinates("decisions.v1", 1, 99)
    rejected = decode_decision(nul, b"k", source, _NOW, check)
    assert isinstance(rejected, Rejected), "a NUL cannot be stored: rejected, and chained"
    forged = decode_decision(b"{}", b"k", SourceCoordinates("decisions.v1", 1, 100), _NOW,
                             DECISION_KEYS.check_record(b"{}", None))  # fmt: skip
    assert isinstance(forged, Rejected)
    assert forged.error_type == "SignatureRejected"
    async with fresh_database(runtime) as db:
        await apply_migrations(db.dsn("admin"), "audit", SERVICES_DIR / "audit" / "migrations")
        await _write(db, tmp_path, first=1, rejected=[rejected, forged])
        code, out = await _verify(db, tmp_path, full=True)
        assert (
            code,
            "rejected records: 2 chained (NotCanonicalError 1, SignatureRejected 1)" in out,
        ) == (0, True), out
        async with as_owner(db) as owner:
            await owner.execute("UPDATE audit.rejected_records SET error = 'fine' WHERE seq = 1")
        code, out = await _verify(db, tmp_path, full=True)
        assert (code, "rejected record" in out) == (1, True), out
        async with as_owner(db) as owner:
            await owner.execute("DELETE FROM audit.rejected_records")
        code, out = await _verify(db, tmp_path, full=True)
        assert (code, "rejected records were removed" in out) == (1, True), out


async def test_an_exported_pack_verifies_and_a_fabricated_one_does_not(
    store: AuditDatabase,
) -> None:
    conn = await store.connect("auditor")
    try:
        shipment = await conn.fetchval("SELECT shipment_id FROM audit.decisions_v WHERE seq = 12")
        pack = await build_pack(conn, shipment)
    finally:
        await conn.close()
    assert verify_pack(pack, LOG_KEYS) == []
    # A pack for a shipment never decided: the record re-labelled and re-hashed.
    fabricated = json.loads(json.dumps(pack))
    fabricated["shipment_id"] = "SHP-NEVER-DECIDED"
    record = fabricated["records"][0]
    record["content"]["shipment_id"] = "SHP-NEVER-DECIDED"
    record["record_hash"] = link_hash(
        bytes.fromhex(record["prev_hash"]), canonical_bytes(record["content"])
    ).hex()
    problems = verify_pack(fabricated, LOG_KEYS)
    assert any("not in the signed tree" in p for p in problems), problems


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "lodestone"), "audit", *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def test_the_command_line_exports_and_checks_a_pack(
    store: AuditDatabase, tmp_path: Path
) -> None:
    key = tmp_path / "log.pub.pem"
    key.write_bytes(
        LOG_SIGNER.public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    env = {**os.environ, "LODESTONE_AUDITOR_DATABASE_URL": store.dsn("auditor")}
    conn = await store.connect("auditor")
    try:
        shipment = await conn.fetchval("SELECT shipment_id FROM audit.decisions_v WHERE seq = 3")
    finally:
        await conn.close()
    pack = tmp_path / "pack.json"
    code, out = await _cli(env, "export", shipment, str(pack))
    assert (code, "signed tree head 30" in out) == (0, True), out
    code, out = await _cli(env, "verify-pack", str(pack), "--log-public-key", str(key))
    assert (code, out.startswith("OK")) == (0, True), out
    data = json.loads(pack.read_text())
    content = data["records"][0]["content"]
    content["outcome"] = content["decision"]["outcome"] = "approve"
    content["reason_codes"] = []
    pack.write_text(json.dumps(data))
    code, out = await _cli(env, "verify-pack", str(pack), "--log-public-key", str(key))
    assert (code, "FAIL record" in out) == (1, True), out
    pack.write_text("{")
    code, out = await _cli(env, "verify-pack", str(pack), "--log-public-key", str(key))
    assert (code, "Traceback" in out) == (1, False), out
