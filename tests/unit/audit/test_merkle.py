"""The Merkle tree against RFC 9162: roots, audit paths and consistency proofs, and forgeries."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import SignedTreeHead as WireHead
from services.audit.merkle import (
    EMPTY_ROOT,
    ArchivedLeafError,
    Frontier,
    SeamedLeaves,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from services.audit.tree_head import SignedTreeHead, sign_tree_head
from tests.unit.audit.factories import LOG_SIGNER


def _records(n: int) -> list[bytes]:
    return [hashlib.sha256(str(i).encode()).digest() for i in range(n)]


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(r) for r in _records(n)]


def test_shapes_follow_rfc_9162() -> None:
    a, b, c = _leaves(3)
    assert root_of([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert root_of([a]) == a
    assert root_of([a, b, c]) == node_hash(node_hash(a, b), c)
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 64, 100])
def test_frontier_root_equals_the_recursive_root(n: int) -> None:
    frontier = Frontier()
    for i, record in enumerate(_records(n)):
        frontier.append(record)
        assert frontier.root() == root_of(_leaves(i + 1))
    assert frontier.size == n
    assert frontier.root() == root_of(_leaves(n))


@settings(deadline=None)  # pure hashing; a loaded shared machine stretches single examples
@given(st.integers(min_value=1, max_value=70), st.data())
def test_every_inclusion_proof_verifies_and_no_other_leaf_does(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    root = root_of(leaves)
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = inclusion_proof(leaves, i)
    assert verify_inclusion(leaves[i], i, n, proof, root)
    assert not verify_inclusion(leaf_hash(b"forged"), i, n, proof, root)
    if n > 1:
        other = (i + 1) % n
        assert not verify_inclusion(leaves[i], other, n, proof, root)
    assert not verify_inclusion(leaves[i], n, n, proof, root)  # an index past the tree
    assert not verify_inclusion(leaves[i], i, n, proof, node_hash(root, root))


@settings(deadline=None)  # pure hashing; a loaded shared machine stretches single examples
@given(st.integers(min_value=1, max_value=70), st.data())
def test_every_consistency_proof_verifies_and_a_rewrite_does_not(
    n: int, data: st.DataObject
) -> None:
    leaves = _leaves(n)
    m = data.draw(st.integers(min_value=1, max_value=n))
    proof = consistency_proof(leaves, m)
    old, new = root_of(leaves[:m]), root_of(leaves)
    assert verify_consistency(m, n, old, new, proof)
    rewritten = list(leaves)
    j = data.draw(st.integers(min_value=0, max_value=m - 1))
    rewritten[j] = leaf_hash(b"rewritten")
    assert not verify_consistency(m, n, old, root_of(rewritten), consistency_proof(rewritten, m))
    assert not verify_consistency(m, n, root_of(rewritten[:m]), new, proof)


def test_a_shortened_log_has_no_consistency_with_a_longer_head() -> None:
    leaves = _leaves(10)
    assert not verify_consistency(10, 8, root_of(leaves), root_of(leaves[:8]), [])
    assert not verify_consistency(0, 8, EMPTY_ROOT, root_of(leaves[:8]), [])


def test_a_signed_tree_head_matches_its_wire_model() -> None:
    leaves = _leaves(3)
    head = sign_tree_head(
        LOG_SIGNER,
        tree_size=3,
        root_hash=root_of(leaves),
        last_record_hash=_records(3)[-1],
        rejected_size=0,
        rejected_head_hash=bytes(32),
    )
    wire = WireHead.model_validate(head.to_json())
    assert SignedTreeHead.from_json(wire.model_dump()) == head


@given(st.integers(min_value=0, max_value=300), st.integers(min_value=0, max_value=40))
@settings(max_examples=60, deadline=None)
def test_a_frontier_kept_at_a_seam_extends_like_the_original(size: int, more: int) -> None:
    """An archive's seam keeps the tree's edge; the writer and verify go on from it."""
    hashes = [hashlib.sha256(n.to_bytes(4, "big")).digest() for n in range(size + more)]
    whole = Frontier()
    whole.extend(hashes[:size])
    resumed = Frontier.at(size, whole.subtrees())
    assert (resumed.size, resumed.root()) == (size, whole.root())
    whole.extend(hashes[size:])
    resumed.extend(hashes[size:])
    assert resumed.root() == whole.root() == root_of([leaf_hash(h) for h in hashes])


def test_a_frontier_with_the_wrong_number_of_subtrees_is_refused() -> None:
    with pytest.raises(ValueError, match="subtrees"):
        Frontier.at(6, [b"\x00" * 32])  # 6 = 4 + 2: two subtrees on the edge


@given(st.data())
@settings(max_examples=200, deadline=None)
def test_proofs_over_an_archived_prefix_equal_those_over_every_leaf(data: st.DataObject) -> None:
    """Known by its seam's frontier only, the prefix still gives every live leaf's proof."""
    size = data.draw(st.integers(min_value=1, max_value=200))
    archived = data.draw(st.integers(min_value=0, max_value=size - 1))
    leaves = _leaves(size)
    seam = Frontier()
    seam.extend(_records(archived))
    seamed = SeamedLeaves(seam, leaves[archived:])
    assert len(seamed) == size
    assert root_of(seamed) == root_of(leaves)
    index = data.draw(st.integers(min_value=archived, max_value=size - 1))
    assert inclusion_proof(seamed, index) == inclusion_proof(leaves, index)
    first = data.draw(st.integers(min_value=max(1, archived), max_value=size))
    assert consistency_proof(seamed, first) == consistency_proof(leaves, first)


def test_no_proof_for_an_archived_leaf() -> None:
    seam = Frontier()
    seam.extend(_records(100))
    seamed = SeamedLeaves(seam, _leaves(120)[100:])
    with pytest.raises(ArchivedLeafError):
        inclusion_proof(seamed, 5)
    with pytest.raises(ArchivedLeafError):
        consistency_proof(seamed, 10)
