"""SignedTreeHead: the audit log's signed statement of its size and Merkle root, on
``audit.anchors.v1`` (key ``anchor``).

The signature (Ed25519, base64) covers the canonical JSON (keys sorted, no spaces, UTF-8) of
every other field; docs/audit.md explains the tree and how to check a head.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class SignedTreeHead(BaseModel):
    """The first ``tree_size`` records of the audit log have the Merkle root ``root_hash``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["lodestone-audit-tree-head/1"]
    key_id: Annotated[str, StringConstraints(pattern=r"^ed25519:[0-9a-f]{32}$")]
    """``ed25519:`` + the first 16 bytes of SHA-256 of the raw public key, hex."""
    tree_size: Annotated[int, Field(ge=0)]
    root_hash: Sha256Hex
    """RFC 9162 root over the records' hashes (SHA-256 of nothing for an empty log)."""
    last_record_hash: Sha256Hex
    """``record_hash`` of record ``tree_size`` (32 zero bytes for an empty log)."""
    rejected_size: Annotated[int, Field(ge=0)]
    rejected_head_hash: Sha256Hex
    """``record_hash`` of the last chained rejected record (32 zero bytes when none)."""
    timestamp: Annotated[
        str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
    ]
    signature: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{86}==$")]
    """Base64 of the 64-byte Ed25519 signature."""
