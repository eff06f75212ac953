"""Evidence packs verify on their own with the log's public key, and refuse what was forged."""

from __future__ import annotations

import base64
import copy
import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.audit.canonical import canonical_bytes, canonical_timestamp, parse_json
from services.audit.catalogue_keys import catalogue_key
from services.audit.chain import ChainHead, extend
from services.audit.evidence_pack import PACK_FORMAT, verify_pack
from services.audit.merkle import inclusion_proof, leaf_hash, root_of
from services.audit.records import SourceCoordinates, pending_from_decision
from services.audit.tree_head import sign_tree_head
from services.common.signing import KeyRing, Signer
from tests.unit.audit.factories import LOG_KEYS, LOG_SIGNER, make_decision

V1 = catalogue_key(b'{"version": "v1", "measures": []}')


def _pack(signer: Signer = LOG_SIGNER, others: int = 3) -> dict[str, Any]:
    """A pack of one shipment's two records, in a log of ``2 + others`` records."""
    now = datetime.now(UTC)
    first = make_decision(1, shipment_id="SHP-P")
    second = make_decision(2, shipment_id="SHP-P", supersedes=first.decision_id)
    rest = [make_decision(10 + n) for n in range(others)]
    pending = [
        pending_from_decision(d, SourceCoordinates("t", 0, i), now)
        for i, d in enumerate([first, second, *rest])
    ]
    chained = list(extend(ChainHead.genesis(), [p.content for p in pending]))
    leaves = [leaf_hash(digest) for _, _, digest in chained]
    head = sign_tree_head(
        signer,
        tree_size=len(leaves),
        root_hash=root_of(leaves),
        last_record_hash=chained[-1][2],
        rejected_size=0,
        rejected_head_hash=bytes(32),
    )
    records = [
        {
            "seq": seq,
            "prev_hash": prev.hex(),
            "record_hash": digest.hex(),
            "content": parse_json(p.content),
            "inclusion_proof": [h.hex() for h in inclusion_proof(leaves, seq - 1)],
        }
        for p, (seq, prev, digest) in list(zip(pending, chained, strict=True))[:2]
    ]
    catalogue = b'{"version": "v1", "measures": []}'
    return {
        "format": PACK_FORMAT,
        "shipment_id": "SHP-P",
        "exported_at": canonical_timestamp(now),
        "records": records,
        "catalogues": {
            catalogue_key(catalogue): {
                "content_sha256": hashlib.sha256(catalogue).hexdigest(),
                "content_base64": base64.b64encode(catalogue).decode(),
            }
        },
        "tree_head": head.to_json(),
    }


def test_an_untouched_pack_verifies() -> None:
    assert verify_pack(_pack(), LOG_KEYS) == []


def test_without_the_public_key_a_pack_does_not_pass() -> None:
    assert any("no log public key" in p for p in verify_pack(_pack(), None))


def test_edits_are_reported() -> None:
    pack = _pack()
    pack["records"][1]["content"]["decision"]["reasons"] = []
    pack["records"][1]["prev_hash"] = "00" * 32
    pack["catalogues"][V1]["content_base64"] = base64.b64encode(b"{}").decode()
    problems = verify_pack(pack, LOG_KEYS)
    assert any("record 2: record_hash" in p for p in problems)
    assert any("does not link" in p for p in problems)
    assert any(f"catalogue {V1}: content does not match" in p for p in problems)


def test_a_catalogue_under_a_version_its_content_does_not_have_is_refused() -> None:
    pack = _pack()
    entry = pack["catalogues"].pop(V1)
    pack["catalogues"]["v1+sha256:" + "ab" * 32] = entry
    assert any("digest names another version" in p for p in verify_pack(pack, LOG_KEYS))


def test_a_flipped_record_with_its_hash_recomputed_is_refused() -> None:
    """The attack that used to pass: change the outcome, recompute record_hash."""
    pack = _pack()
    record = pack["records"][0]
    content = record["content"]
    content["outcome"] = content["decision"]["outcome"] = "approve"
    content["reason_codes"] = []
    digest = hashlib.sha256(bytes.fromhex(record["prev_hash"]) + canonical_bytes(content))
    record["record_hash"] = digest.hexdigest()
    problems = verify_pack(pack, LOG_KEYS)
    assert any("record 1: not in the signed tree" in p for p in problems), problems


def test_a_fabricated_pack_signed_by_another_key_is_refused() -> None:
    forged = _pack(signer=Signer(Ed25519PrivateKey.generate()))
    assert any("not a trusted key" in p for p in verify_pack(forged, LOG_KEYS))


def test_a_tree_head_edited_to_fit_is_refused() -> None:
    pack = _pack()
    pack["tree_head"]["root_hash"] = "11" * 32
    assert any("does not verify" in p for p in verify_pack(pack, LOG_KEYS))


def test_a_record_moved_to_another_position_is_refused() -> None:
    pack = _pack()
    pack["records"][0]["seq"] = 3
    assert any("record 3: not in the signed tree" in p for p in verify_pack(pack, LOG_KEYS))


MALFORMED: list[Any] = [
    None,
    [],
    "pack",
    {"format": PACK_FORMAT},
    {"format": "something else"},
]


@pytest.mark.parametrize("pack", MALFORMED)
def test_malformed_packs_are_reported_never_raised(pack: Any) -> None:
    assert verify_pack(pack, LOG_KEYS)


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p["records"].append("x"),
        lambda p: p["records"][0].update(seq="1"),
        lambda p: p["records"][0].update(record_hash="zz"),
        lambda p: p["records"][0].update(inclusion_proof=[1]),
        lambda p: p["records"][0].pop("content"),
        lambda p: p["records"][0]["content"].update(decision=1.5),
        lambda p: p.update(tree_head={"format": "lodestone-audit-tree-head/1"}),
        lambda p: p["tree_head"].update(signature="!!"),
        lambda p: p["tree_head"].update(tree_size=-1),
        lambda p: p["catalogues"][V1].update(content_base64="%%%"),
        lambda p: p.update(extra=True),
    ],
)
def test_damaged_packs_are_reported_never_raised(damage: Any) -> None:
    pack = copy.deepcopy(_pack())
    damage(pack)
    assert verify_pack(pack, LOG_KEYS)


def test_rotated_log_keys_both_verify() -> None:
    new = Signer(Ed25519PrivateKey.generate())
    both = KeyRing([LOG_SIGNER.public_key, new.public_key])
    assert verify_pack(_pack(), both) == []
    assert verify_pack(_pack(signer=new), both) == []
