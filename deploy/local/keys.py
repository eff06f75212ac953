"""Signing keys and the anchor file of the local runtime: made once, never in the repository.

* ``decision-signing`` - the screening service signs each decision with it;
* ``audit-log`` - the audit service signs each tree head with it.

Private keys are PEM files of mode 0600 in ``.local/keys/`` (ignored by git). The anchor file,
where the audit service appends every signed tree head, lives outside the checkout, next to the
cluster's fallback data (``/var/tmp/lodestone/<hash>/``), and goes with ``reset`` as the
database does (a new, empty store must not be held to the old store's heads). A checkout cloned
again at the same path does not inherit it either (``outside.claim``).
"""

from __future__ import annotations

from pathlib import Path

from deploy.local import outside
from deploy.local.config import RuntimeConfig
from services.common.signing import write_key_pair

KEY_NAMES = ("decision-signing", "audit-log")


def key_dir(cfg: RuntimeConfig) -> Path:
    return cfg.local_dir / "keys"


def anchor_file(cfg: RuntimeConfig) -> Path:
    return outside.outside_dir(cfg) / "audit-anchors.jsonl"


def ensure_keys(cfg: RuntimeConfig) -> dict[str, Path]:
    """``name`` and ``name.pub`` -> PEM file, generating the pairs that are missing."""
    folder = key_dir(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    paths: dict[str, Path] = {}
    for name in KEY_NAMES:
        private, public = folder / f"{name}.pem", folder / f"{name}.pub.pem"
        if not (private.exists() and public.exists()):
            write_key_pair(private, public)
        paths[name], paths[f"{name}.pub"] = private, public
    return paths


def settings_environment(cfg: RuntimeConfig) -> dict[str, str]:
    """The ``LODESTONE_…`` settings that point the services at the keys and the anchor file."""
    keys = ensure_keys(cfg)
    return {
        "LODESTONE_DECISION_SIGNING_KEY_FILE": str(keys["decision-signing"]),
        "LODESTONE_DECISION_PUBLIC_KEY_FILES": str(keys["decision-signing.pub"]),
        "LODESTONE_AUDIT_LOG_SIGNING_KEY_FILE": str(keys["audit-log"]),
        "LODESTONE_AUDIT_LOG_PUBLIC_KEY_FILE": str(keys["audit-log.pub"]),
        "LODESTONE_AUDIT_ANCHOR_FILE": str(anchor_file(cfg)),
    }
