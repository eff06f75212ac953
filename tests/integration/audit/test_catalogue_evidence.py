"""Verify holds the control catalogues to the digests the decisions name.

Catalogues are evidence, not leaves of the tree: a decision's signed ``catalogue_version`` names
the digest of the catalogue's content, and the store keeps each catalogue under the key it
computes from that content. The owner (the append-only triggers off) alters a catalogue, keeps
its digest column consistent, or deletes it; verify must say so.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from deploy.local import RuntimeState
from services.audit.decoding import decode_catalogue
from services.audit.records import SourceCoordinates
from services.audit.store import write_batch, write_catalogues
from services.audit.tree_log import TreeLog
from services.common.migrations import SERVICES_DIR, apply_migrations
from tests.integration.audit.conftest import AuditDatabase, fresh_database
from tests.integration.audit.test_tamper_evidence import _signed, _verify, as_owner
from tests.unit.audit.factories import LOG_SIGNER, make_decision

pytestmark = pytest.mark.integration

CATALOGUE = json.dumps({"version": "2026-11-30.1", "measures": [{"id": "CN-2023-46"}]}).encode()


@pytest.fixture
async def store(runtime: RuntimeState, tmp_path: Path) -> AsyncIterator[tuple[AuditDatabase, str]]:
    """Ten signed decisions taken under one stored catalogue; its key."""
    catalogue = decode_catalogue(CATALOGUE, SourceCoordinates("controls.v1", 0, 0))
    assert catalogue is not None
    async with fresh_database(runtime) as db:
        await apply_migrations(db.dsn("admin"), "audit", SERVICES_DIR / "audit" / "migrations")
        writer = await db.connect("audit")
        try:
            await write_catalogues(writer, [catalogue])
            records = [
                _signed(
                    make_decision(n).model_copy(update={"catalogue_version": catalogue.version}), n
                )
                for n in range(1, 11)
            ]
            result = await write_batch(writer, records, None, tree=TreeLog(LOG_SIGNER))
            assert result.tree_head is not None
        finally:
            await writer.close()
        (tmp_path / "anchors.jsonl").write_text("")
        yield db, catalogue.version


async def test_a_store_whose_catalogues_hold_verifies_without_a_note(
    store: tuple[AuditDatabase, str], tmp_path: Path
) -> None:
    db, _ = store
    code, out = await _verify(db, tmp_path, full=True)
    assert code == 0, out
    assert "1 catalogue(s) match their digests" in out
    assert "catalogue version(s) cited" not in out


@pytest.mark.parametrize("keep_the_digest_column", [True, False])
async def test_an_altered_catalogue_breaks_the_store(
    store: tuple[AuditDatabase, str], tmp_path: Path, keep_the_digest_column: bool
) -> None:
    """A relaxed catalogue put in place of the one the decisions were taken under."""
    db, version = store
    relaxed = CATALOGUE.replace(b"CN-2023-46", b"CN-NONE")
    async with as_owner(db) as owner:
        await owner.execute("ALTER TABLE audit.catalogues DISABLE TRIGGER USER")
        digest = hashlib.sha256(relaxed).digest() if keep_the_digest_column else None
        await owner.execute(
            "UPDATE audit.catalogues SET content = $2,"
            " content_sha256 = coalesce($3, content_sha256) WHERE version = $1",
            version, relaxed, digest,
        )  # fmt: skip
        await owner.execute("ALTER TABLE audit.catalogues ENABLE TRIGGER USER")
    for full in (True, False):
        code, out = await _verify(db, tmp_path, full=full)
        assert code == 1, out
        expected = "its content is that of" if keep_the_digest_column else "its content does not"
        assert f"BROKEN: catalogue {version}: {expected}" in out


async def test_a_removed_catalogue_is_named(
    store: tuple[AuditDatabase, str], tmp_path: Path
) -> None:
    db, version = store
    async with as_owner(db) as owner:
        await owner.execute("ALTER TABLE audit.catalogues DISABLE TRIGGER USER")
        await owner.execute("DELETE FROM audit.catalogues WHERE version = $1", version)
        await owner.execute("ALTER TABLE audit.catalogues ENABLE TRIGGER USER")
    code, out = await _verify(db, tmp_path, full=True)
    assert code == 0, out
    note = "NOTE: 1 catalogue version(s) cited by records after record 0 are not in the store"
    assert f"{note} ({version})" in out
