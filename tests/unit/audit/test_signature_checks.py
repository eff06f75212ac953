"""Signature checks of a batch, inline and in a worker process: the same verdicts."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.audit.signature_checks import SignatureChecker
from services.common.signing import KEY_ID_HEADER, SIGNATURE_HEADER, Signer
from tests.unit.audit.factories import DECISION_KEYS, DECISION_SIGNER


def _batch() -> list[tuple[bytes, list[tuple[str, bytes]]]]:
    good = [
        (f"decision {n}".encode(), DECISION_SIGNER.headers(f"decision {n}".encode()))
        for n in range(5)
    ]
    other = Signer(Ed25519PrivateKey.generate())
    return [
        *good,
        (b"forged", DECISION_SIGNER.headers(b"genuine")),  # a real signature over other bytes
        (b"unknown", other.headers(b"unknown")),
        (b"unsigned", []),
        (b"garbled", [(KEY_ID_HEADER, DECISION_SIGNER.key_id.encode()), (SIGNATURE_HEADER, b"@@")]),
    ]


@pytest.mark.parametrize("workers", [0, 1])
async def test_verdicts_inline_and_in_a_worker(workers: int) -> None:
    checker = SignatureChecker(DECISION_KEYS, workers)
    try:
        batch = _batch()
        read = checker.read(batch)
        checks = await checker.verify(batch, read)
    finally:
        checker.close()
    verdicts = [c.problem for c in checks]
    assert verdicts[:5] == [None] * 5
    assert "does not verify" in (verdicts[5] or "")
    assert "not a trusted key" in (verdicts[6] or "")
    assert "not signed" in (verdicts[7] or "")
    assert "malformed" in (verdicts[8] or "")
    assert all(c.key_id == DECISION_SIGNER.key_id for c in checks[:5])
