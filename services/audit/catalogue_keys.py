"""The key a control catalogue is stored under: computed from its bytes, never just declared.

A catalogue on ``controls.v1`` states its ``version`` as ``<label>+sha256:<digest>``, where the
digest is SHA-256 of the catalogue's canonical content (its JSON without ``version``, keys
sorted, no spaces, UTF-8; the rule of ``services/screening/catalogue``). The audit store keys it
by ``<label>+sha256:<digest it computes>``: a publication whose declared digest is wrong cannot
take the place of the catalogue a decision was really taken under, and a decision's
``catalogue_version`` finds only content with that digest. A value that is not such a JSON
object is keyed by ``sha256:<hex of its bytes>``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

DIGEST_MARK = "+sha256:"


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("a catalogue repeats a key")
    return dict(pairs)


def content_digest(value: bytes) -> tuple[str, str] | None:
    """``(declared label, computed content digest)``, or None when ``value`` has no version."""
    try:
        parsed = json.loads(value, object_pairs_hook=_no_repeated_keys)
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    declared = parsed.pop("version", None)
    if not isinstance(declared, str) or not declared:
        return None
    label = declared.split(DIGEST_MARK, 1)[0]
    canonical = json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return label, hashlib.sha256(canonical.encode()).hexdigest()


def catalogue_key(value: bytes) -> str:
    """The key ``value`` is stored (and looked up) under."""
    found = content_digest(value)
    if found is None:
        return f"sha256:{hashlib.sha256(value).hexdigest()}"
    label, digest = found
    return f"{label}{DIGEST_MARK}{digest}"
