"""Who may do what in the console: users with hashed secrets, roles, sessions and CSRF tokens.

Secrets are never stored: a user entry holds an scrypt hash (``scrypt$n$r$p$salt$hash``) made by
``lodestone console hash-secret``. A person signs in once (a session cookie, ``HttpOnly``,
``SameSite=Strict``) or a program sends ``Authorization: Bearer <user id>:<secret>``. Every form
that changes something carries the session's CSRF token, compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class Role(StrEnum):
    VIEWER = "viewer"
    REVIEWER = "reviewer"
    AUDITOR = "auditor"


#: What each role may do beyond looking at holds, decisions, licences, catalogue and live view.
CAN_REVIEW = frozenset({Role.REVIEWER})
CAN_AUDIT = frozenset({Role.AUDITOR})


class UserEntry(BaseModel):
    """One user as configured (``LODESTONE_CONSOLE_USERS``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    name: str = Field(min_length=1, max_length=200)
    role: Role
    secret_hash: str = Field(pattern=r"^scrypt\$")


def hash_secret(secret: str, *, salt: bytes | None = None) -> str:
    """The scrypt hash of ``secret`` to put in a user entry."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, dklen=32, **_SCRYPT)
    parts = [str(_SCRYPT["n"]), str(_SCRYPT["r"]), str(_SCRYPT["p"])]
    encoded = [base64.b64encode(v).decode("ascii") for v in (salt, digest)]
    return "$".join(["scrypt", *parts, *encoded])


def secret_matches(secret: str, stored: str) -> bool:
    """Whether ``secret`` hashes to ``stored`` (constant-time comparison; False if malformed)."""
    try:
        kind, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if kind != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        got = hashlib.scrypt(
            secret.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(got, expected)


@dataclass(frozen=True)
class User:
    id: str
    name: str
    role: Role

    @property
    def may_review(self) -> bool:
        return self.role in CAN_REVIEW

    @property
    def may_audit(self) -> bool:
        return self.role in CAN_AUDIT


_DUMMY_HASH = hash_secret("no such user", salt=b"\0" * 16)


class Directory:
    """The configured users; checks a presented id and secret."""

    def __init__(self, entries: list[UserEntry]) -> None:
        self._entries = {e.id: e for e in entries}

    def authenticate(self, user_id: str, secret: str) -> User | None:
        entry = self._entries.get(user_id)
        # an unknown id costs as much as a wrong secret: no user enumeration by timing
        ok = secret_matches(secret, entry.secret_hash if entry else _DUMMY_HASH)
        if entry is None or not ok:
            return None
        return User(entry.id, entry.name, entry.role)

    def from_bearer(self, header: str | None) -> User | None:
        """``Bearer <user id>:<secret>`` -> the user, or None."""
        if not header or not header.startswith("Bearer "):
            return None
        user_id, sep, secret = header.removeprefix("Bearer ").partition(":")
        return self.authenticate(user_id, secret) if sep else None


@dataclass
class Session:
    user: User
    csrf_token: str
    expires: float


@dataclass
class Sessions:
    """Server-side sessions: the cookie holds only a random id (nothing to forge or decode)."""

    lifetime_seconds: float
    _by_id: dict[str, Session] = field(default_factory=dict)

    def open(self, user: User) -> tuple[str, Session]:
        self._drop_expired()
        session_id = secrets.token_urlsafe(32)
        session = Session(user, secrets.token_urlsafe(32), time.monotonic() + self.lifetime_seconds)
        self._by_id[session_id] = session
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self._by_id.get(session_id)
        if session is None or session.expires < time.monotonic():
            self._by_id.pop(session_id, None)
            return None
        return session

    def close(self, session_id: str | None) -> None:
        if session_id:
            self._by_id.pop(session_id, None)

    def _drop_expired(self) -> None:
        now = time.monotonic()
        for key in [k for k, s in self._by_id.items() if s.expires < now]:
            del self._by_id[key]


def csrf_ok(session: Session | None, presented: str | None) -> bool:
    if session is None or not presented:
        return False
    return hmac.compare_digest(session.csrf_token.encode(), presented.encode())
