"""Signed tree heads: the audit log's signed statement "my first N records have this root".

The value published on ``audit.anchors.v1`` (key ``anchor``), appended to the anchor file and
stored in ``audit.tree_heads``. The signature (Ed25519, base64) covers the canonical JSON of
every other field::

    {"format": "lodestone-audit-tree-head/1", "key_id": "ed25519:…",
     "tree_size": N, "root_hash": "<hex>", "last_record_hash": "<hex of record N's hash>",
     "rejected_size": M, "rejected_head_hash": "<hex of rejected record M's hash>",
     "timestamp": "YYYY-MM-DDTHH:MM:SS.ffffffZ", "signature": "<base64>"}

``root_hash`` is the RFC 9162 root over the decision records 1..N (:mod:`services.audit.merkle`);
``rejected_*`` pin the head of the rejected records' own hash chain. Empty: size 0 and 32 zero
bytes (the empty tree's root is SHA-256 of nothing).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson

from services.audit.canonical import canonical_bytes, canonical_timestamp
from services.common.signing import KeyRing, Signer

TREE_HEAD_FORMAT = "lodestone-audit-tree-head/1"
ANCHOR_KEY = b"anchor"


class TreeHeadError(ValueError):
    """A tree head that is not well formed."""


@dataclass(frozen=True, slots=True)
class SignedTreeHead:
    tree_size: int
    root_hash: bytes
    last_record_hash: bytes
    rejected_size: int
    rejected_head_hash: bytes
    timestamp: str
    key_id: str
    signature: bytes

    def body(self) -> dict[str, Any]:
        return {
            "format": TREE_HEAD_FORMAT,
            "key_id": self.key_id,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "last_record_hash": self.last_record_hash.hex(),
            "rejected_size": self.rejected_size,
            "rejected_head_hash": self.rejected_head_hash.hex(),
            "timestamp": self.timestamp,
        }

    def signed_bytes(self) -> bytes:
        return canonical_bytes(self.body())

    def to_json(self) -> dict[str, Any]:
        return {**self.body(), "signature": base64.b64encode(self.signature).decode("ascii")}

    def to_bytes(self) -> bytes:
        return canonical_bytes(self.to_json())

    def problem(self, keys: KeyRing) -> str | None:
        """None when the signature holds under a key of ``keys``, else what is wrong."""
        return keys.verify(self.key_id, self.signed_bytes(), self.signature)

    @classmethod
    def from_json(cls, data: Any) -> SignedTreeHead:
        """Parse a tree head (a dict or JSON bytes/text); raises :class:`TreeHeadError`."""
        try:
            if isinstance(data, (bytes, str)):
                data = orjson.loads(data)
            if not isinstance(data, dict) or data.get("format") != TREE_HEAD_FORMAT:
                raise TreeHeadError(f"not a {TREE_HEAD_FORMAT} object")
            head = cls(
                tree_size=_count(data["tree_size"]),
                root_hash=_hash(data["root_hash"]),
                last_record_hash=_hash(data["last_record_hash"]),
                rejected_size=_count(data["rejected_size"]),
                rejected_head_hash=_hash(data["rejected_head_hash"]),
                timestamp=_text(data["timestamp"]),
                key_id=_text(data["key_id"]),
                signature=base64.b64decode(_text(data["signature"]), validate=True),
            )
        except TreeHeadError:
            raise
        except (KeyError, TypeError, ValueError, binascii.Error, orjson.JSONDecodeError) as exc:
            raise TreeHeadError(f"malformed tree head: {exc!r}") from exc
        if len(head.signature) != 64:
            raise TreeHeadError("malformed tree head: the signature is not 64 bytes")
        return head


def sign_tree_head(
    signer: Signer,
    *,
    tree_size: int,
    root_hash: bytes,
    last_record_hash: bytes,
    rejected_size: int,
    rejected_head_hash: bytes,
    now: datetime | None = None,
) -> SignedTreeHead:
    unsigned = SignedTreeHead(
        tree_size,
        root_hash,
        last_record_hash,
        rejected_size,
        rejected_head_hash,
        canonical_timestamp(now or datetime.now(UTC)),
        signer.key_id,
        b"",
    )
    return replace(unsigned, signature=signer.sign(unsigned.signed_bytes()))


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise TreeHeadError(f"malformed tree head: {value!r} is not a size")
    return value


def _hash(value: Any) -> bytes:
    if type(value) is not str or len(value) != 64:
        raise TreeHeadError(f"malformed tree head: {value!r} is not a hex SHA-256")
    return bytes.fromhex(value)


def _text(value: Any) -> str:
    if type(value) is not str or not value:
        raise TreeHeadError(f"malformed tree head: {value!r} is not a text")
    return value
