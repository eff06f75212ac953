"""What the local runtime keeps outside the checkout, and which checkout it belongs to.

Two things live under ``/var/tmp/lodestone/<hash of .local's path>/``: the audit service's anchor
file (kept apart from the checkout, see docs/audit.md) and, when the PostgreSQL OS user cannot
reach the checkout, the cluster's data. Both belong to *one* checkout: its keys (``.local/keys``)
signed the heads in the anchor file, its role passwords open the cluster.

A checkout deleted and cloned again at the same path gets the same hash but new keys and an empty
store, while the old folder is still there. Held to an anchor file signed by keys that no longer
exist, ``audit verify`` rightly reports the store as broken. So the folder carries the identity of
the checkout that made it (a random token also kept in ``.local/``), and :func:`claim` deletes a
folder left by any other checkout before the runtime uses it.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
from pathlib import Path

from deploy.local._util import say
from deploy.local.config import RuntimeConfig

ROOT = Path("/var/tmp/lodestone")  # noqa: S108 - owned by root, not a shared temp file
TOKEN_NAME = "checkout-id"  # noqa: S105 - a file name, not a secret


class StaleFolderInUseError(RuntimeError):
    """An earlier checkout's folder still has a server running from it."""


def outside_dir(cfg: RuntimeConfig, root: Path = ROOT) -> Path:
    """``root/<hash>``: the same folder for the same ``.local`` path, across clones."""
    digest = hashlib.sha256(str(cfg.local_dir).encode()).hexdigest()[:12]
    return root / digest


def _read_token(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def _write_token(path: Path, token: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(token + "\n", encoding="utf-8")


def claim(cfg: RuntimeConfig, root: Path = ROOT) -> Path:
    """Make the outside folder this checkout's, deleting one an earlier checkout left behind.

    A checkout without a token that already has keys ran before tokens existed: its folder is
    adopted, not deleted. Returns the folder (created).
    """
    folder = outside_dir(cfg, root)
    own_token_file = cfg.local_dir / TOKEN_NAME
    token = _read_token(own_token_file)
    if token is None:
        token = secrets.token_hex(16)
        upgraded = (cfg.local_dir / "keys").is_dir() and not (folder / TOKEN_NAME).exists()
        if upgraded and folder.exists():
            _write_token(folder / TOKEN_NAME, token)
        _write_token(own_token_file, token)
    if folder.exists() and _read_token(folder / TOKEN_NAME) != token:
        if (folder / "postgres" / "data" / "postmaster.pid").exists():
            raise StaleFolderInUseError(
                f"{folder} was left by an earlier checkout at this path and its PostgreSQL may "
                f"still be running; stop it (pg_ctl stop -D {folder / 'postgres' / 'data'}) "
                "and run again"
            )
        say(f"deleting {folder}: left by an earlier checkout at this path")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _write_token(folder / TOKEN_NAME, token)
    return folder
