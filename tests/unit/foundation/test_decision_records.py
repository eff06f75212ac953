"""Whoever shows or acts on a record of the decisions topic reads it through ``signed_decision``:
only a decision signed by a trusted key is one; every forgery is named for what it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas import Decision
from services.common.decision_records import signed_decision
from services.common.settings import Settings
from services.common.signing import (
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    KeyFileError,
    Signer,
    decision_keys,
    write_key_pair,
)
from tests.unit.audit.factories import DECISION_KEYS, DECISION_SIGNER, make_decision

GENUINE = make_decision(1)
VALUE = GENUINE.model_dump_json().encode()


def _flipped(value: bytes) -> bytes:
    doc = json.loads(value)
    doc["outcome"] = "approve" if doc["outcome"] == "hold" else "hold"
    return json.dumps(doc).encode()


def test_a_decision_signed_by_a_trusted_key_is_read() -> None:
    decision = signed_decision(DECISION_KEYS, VALUE, DECISION_SIGNER.headers(VALUE))
    assert isinstance(decision, Decision)
    assert decision == GENUINE


@pytest.mark.parametrize(
    ("value", "headers", "problem"),
    [
        (VALUE, [], "not signed"),
        (VALUE, [(KEY_ID_HEADER, DECISION_SIGNER.key_id.encode())], "not signed"),
        (_flipped(VALUE), DECISION_SIGNER.headers(VALUE), "does not verify"),
        (VALUE, Signer(Ed25519PrivateKey.generate()).headers(VALUE), "not a trusted key"),
        (
            VALUE,
            [(KEY_ID_HEADER, DECISION_SIGNER.key_id.encode()), (SIGNATURE_HEADER, b"%%%")],
            "malformed",
        ),
        (None, [], "tombstone"),
        (b'{"probe": true}', DECISION_SIGNER.headers(b'{"probe": true}'), "not a decision"),
        (b"\xff\xfe", DECISION_SIGNER.headers(b"\xff\xfe"), "not a decision"),
    ],
    ids=[
        "unsigned",
        "key id without signature",
        "altered after signing",
        "unknown key",
        "malformed signature",
        "tombstone",
        "signed, not a decision",
        "signed, not text",
    ],
)
def test_anything_else_is_named_for_what_it_is(
    value: bytes | None, headers: list[tuple[str, bytes]], problem: str
) -> None:
    outcome = signed_decision(DECISION_KEYS, value, headers)
    assert isinstance(outcome, str)
    assert problem in outcome


def test_readers_refuse_to_start_without_a_trusted_key(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="lodestone tail shows only decisions signed"):
        decision_keys(Settings(decision_public_key_files=""), "lodestone tail")
    public = tmp_path / "k.pub.pem"
    key_id = write_key_pair(tmp_path / "k.pem", public)
    keys = decision_keys(Settings(decision_public_key_files=f" {public} ,"), "lodestone tail")
    assert keys.key_ids == [key_id]
