"""A Merkle tree over the audit records, as RFC 9162 (Certificate Transparency 2.0) defines it.

Pure functions, no I/O. The leaves are the records in ``seq`` order; leaf ``i`` (0-based) holds
the ``record_hash`` of record ``i + 1``, which already binds the record's content and its place
in the hash chain. Hashes (RFC 9162 section 2.1.1):

* leaf: ``SHA-256(0x00 || record_hash)``;
* interior node: ``SHA-256(0x01 || left || right)``, where the left subtree holds the largest
  power of two of leaves smaller than the tree's size;
* empty tree: ``SHA-256("")``.

A signed tree head states a tree's size and root. An *inclusion proof* shows that a record is
leaf ``i`` of a tree with a given root; a *consistency proof* shows that the tree of size ``m``
is a prefix of the tree of size ``n`` (nothing before ``m`` was changed or removed). The
verification functions follow RFC 9162 sections 2.1.3.2 and 2.1.4.2 step by step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import overload

EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha256 = hashlib.sha256


def leaf_hash(record_hash: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + record_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaves: Sequence[bytes]) -> bytes:
    """The root of the tree whose leaf hashes are ``leaves`` (already leaf-hashed)."""
    if isinstance(leaves, SeamedLeaves):
        return leaves.root()
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


class Frontier:
    """The tree's right edge (one perfect subtree per set bit of its size): O(log n) state.

    Appending a leaf costs one leaf hash and, amortised, one node hash; the root of the tree so
    far is available at any time. This is what the writer keeps between batches, and what
    ``verify`` extends once per record: the subtrees' sizes are the set bits of ``size``
    (largest first), so the stack holds only their hashes, and appending merges as many of them
    as ``size`` has trailing one bits.
    """

    __slots__ = ("_stack", "size")

    def __init__(self) -> None:
        self._stack: list[bytes] = []
        self.size = 0

    def append(self, record_hash: bytes) -> None:
        stack = self._stack
        node = _sha256(b"\x00" + record_hash).digest()
        merges = self.size
        while merges & 1:
            node = _sha256(b"\x01" + stack.pop() + node).digest()
            merges >>= 1
        stack.append(node)
        self.size += 1

    @classmethod
    def at(cls, size: int, subtrees: Sequence[bytes]) -> Frontier:
        """The frontier of a tree of ``size`` leaves from its :meth:`subtrees` (an archive's seam).

        The subtrees' sizes are the set bits of ``size``, largest first.
        """
        counts = [1 << bit for bit in reversed(range(size.bit_length())) if size >> bit & 1]
        if len(counts) != len(subtrees):
            raise ValueError(f"a tree of {size} leaves has {len(counts)} subtrees on its edge")
        frontier = cls()
        frontier._stack = list(subtrees)
        frontier.size = size
        return frontier

    def counts(self) -> list[int]:
        """The sizes of the perfect subtrees on the right edge, largest first."""
        size = self.size
        return [1 << bit for bit in reversed(range(size.bit_length())) if size >> bit & 1]

    def subtrees(self) -> list[bytes]:
        """The roots of the perfect subtrees on the right edge, largest first."""
        return list(self._stack)

    def extend(self, record_hashes: Iterable[bytes]) -> None:
        for record_hash in record_hashes:
            self.append(record_hash)

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        root = self._stack[-1]
        for subtree in reversed(self._stack[:-1]):
            root = node_hash(subtree, root)
        return root


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 9162 ``PATH(index, leaves)``: the audit path of leaf ``index``."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is not in a tree of {len(leaves)}")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_proof(leaves[:k], index), root_of(leaves[k:])]
    return [*inclusion_proof(leaves[k:], index - k), root_of(leaves[:k])]


def consistency_proof(leaves: Sequence[bytes], first: int) -> list[bytes]:
    """RFC 9162 ``PROOF(first, leaves)``: tree ``first`` is a prefix of tree ``len(leaves)``."""
    if not 0 < first <= len(leaves):
        raise ValueError(f"no consistency proof from {first} to {len(leaves)}")
    return _subproof(first, leaves, complete=True)


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root_of(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), root_of(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), root_of(leaves[:k])]


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: is ``leaf`` (a leaf hash) leaf ``index`` of the tree ``(size, root)``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: is the tree ``(first, first_root)`` a prefix of ``(second, ...)``?"""
    if first == second:
        return not proof and first_root == second_root
    if not 0 < first < second or not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the old root is a node of the path
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


class ArchivedLeafError(LookupError):
    """A node of the tree lies inside an archived range, of which only the seam's edge is known."""


class SeamedLeaves(Sequence[bytes]):
    """The leaves of a tree whose first leaves are archived, known by the seam's frontier only.

    The archived prefix of ``seam.size`` leaves is known as the roots of its perfect subtrees (the
    frontier an archive's seam keeps); the live leaves follow. Slices are views, and
    :func:`root_of` takes a view's root from those subtrees where it covers them, so
    :func:`inclusion_proof` and :func:`consistency_proof` work unchanged on it. A live leaf's
    inclusion proof never needs more: a sibling on its path inside one of the prefix's subtrees
    would put the leaf in that subtree too. A node that does need an archived leaf raises
    :class:`ArchivedLeafError` (a proof for an archived record, or from a tree inside the prefix).
    """

    __slots__ = ("_hi", "_known", "_live", "_lo", "_offset")

    def __init__(self, seam: Frontier, live: Sequence[bytes]) -> None:
        self._known: dict[tuple[int, int], bytes] = {}
        start = 0
        for subtree, count in zip(seam.subtrees(), seam.counts(), strict=True):
            self._known[(start, start + count)] = subtree
            start += count
        self._offset = seam.size
        self._live = live
        self._lo, self._hi = 0, seam.size + len(live)

    def _view(self, lo: int, hi: int) -> SeamedLeaves:
        view = object.__new__(SeamedLeaves)
        view._known, view._offset, view._live = self._known, self._offset, self._live
        view._lo, view._hi = lo, hi
        return view

    def __len__(self) -> int:
        return self._hi - self._lo

    @overload
    def __getitem__(self, index: int) -> bytes: ...

    @overload
    def __getitem__(self, index: slice) -> SeamedLeaves: ...

    def __getitem__(self, index: int | slice) -> bytes | SeamedLeaves:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                raise ValueError("only contiguous slices of the leaves")
            return self._view(self._lo + start, self._lo + max(start, stop))
        position = range(self._lo, self._hi)[index]
        return self._node(position, position + 1)

    def root(self) -> bytes:
        return EMPTY_ROOT if self._lo == self._hi else self._node(self._lo, self._hi)

    def _node(self, lo: int, hi: int) -> bytes:
        known = self._known.get((lo, hi))
        if known is not None:
            return known
        if lo >= self._offset:
            live = self._live[lo - self._offset : hi - self._offset]
            return live[0] if hi - lo == 1 else root_of(live)
        if hi - lo == 1 or (hi <= self._offset and not self._spans_known(lo, hi)):
            raise ArchivedLeafError(
                f"leaves {lo}..{hi - 1} lie inside the {self._offset} archived records"
            )
        k = _split(hi - lo)
        return node_hash(self._node(lo, lo + k), self._node(lo + k, hi))

    def _spans_known(self, lo: int, hi: int) -> bool:
        """Whether [lo, hi) is a run of whole known subtrees."""
        at = lo
        for start, end in sorted(self._known):
            if start == at and end <= hi:
                at = end
        return at == hi
