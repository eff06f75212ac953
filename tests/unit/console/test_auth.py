"""Users, secrets, sessions and CSRF tokens of the console (pure code)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.console.auth import (
    Directory,
    Role,
    Sessions,
    UserEntry,
    csrf_ok,
    hash_secret,
    secret_matches,
)

ENTRY = UserEntry(id="rita", name="Rita R", role=Role.REVIEWER, secret_hash=hash_secret("s3cret-x"))


def test_a_secret_is_stored_only_as_a_salted_hash() -> None:
    first, second = hash_secret("same-secret"), hash_secret("same-secret")
    assert first != second  # salted
    assert "same-secret" not in first
    assert secret_matches("same-secret", first)
    assert secret_matches("same-secret", second)
    assert not secret_matches("other-secret", first)


@pytest.mark.parametrize(
    "stored", ["", "scrypt$", "plain$x", "scrypt$16384$8$1$!!$!!", "scrypt$0$8$1$AAAA$AAAA"]
)
def test_a_malformed_hash_never_matches_nor_raises(stored: str) -> None:
    assert not secret_matches("anything", stored)


def test_a_user_entry_must_hold_a_hash_not_a_secret() -> None:
    with pytest.raises(ValidationError):
        UserEntry(id="x", name="X", role=Role.VIEWER, secret_hash="my-plain-secret")
    with pytest.raises(ValidationError):
        UserEntry.model_validate(
            {"id": "x", "name": "X", "role": "admin", "secret_hash": "scrypt$"}
        )


def test_the_directory_checks_id_and_secret_and_bearer_form() -> None:
    directory = Directory([ENTRY])
    user = directory.authenticate("rita", "s3cret-x")
    assert user is not None
    assert user.may_review
    assert not user.may_audit
    assert directory.authenticate("rita", "wrong") is None
    assert directory.authenticate("nobody", "s3cret-x") is None
    assert directory.from_bearer("Bearer rita:s3cret-x") == user
    for header in (None, "", "Bearer rita", "Basic rita:s3cret-x", "Bearer :s3cret-x"):
        assert directory.from_bearer(header) is None


def test_sessions_expire_close_and_never_share_a_csrf_token() -> None:
    user = Directory([ENTRY]).authenticate("rita", "s3cret-x")
    assert user is not None
    sessions = Sessions(lifetime_seconds=60)
    sid_a, a = sessions.open(user)
    sid_b, b = sessions.open(user)
    assert sid_a != sid_b
    assert a.csrf_token != b.csrf_token
    assert sessions.get(sid_a) is a
    assert csrf_ok(a, a.csrf_token)
    assert not csrf_ok(a, b.csrf_token)
    assert not csrf_ok(a, "")
    assert not csrf_ok(None, a.csrf_token)
    sessions.close(sid_a)
    assert sessions.get(sid_a) is None
    expired = Sessions(lifetime_seconds=-1)
    sid, _ = expired.open(user)
    assert expired.get(sid) is None
    assert sessions.get(None) is None
    assert sessions.get("made-up") is None
