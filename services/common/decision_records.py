"""A record of the decisions topic, read by someone who shows it or acts on it.

The signature is checked on the record's bytes before anything is parsed (see
:func:`services.common.signing.decision_keys` for who does this); only then is the value read as
a :class:`Decision`. What fails either step is not a decision, and callers say so rather than
showing what it claims.
"""

from __future__ import annotations

from pydantic import ValidationError

from schemas import Decision
from schemas.validation import summarise_validation_error
from services.common.signing import Headers, KeyRing


def unsigned_problem(keys: KeyRing, value: bytes | None, headers: Headers | None) -> str | None:
    """Why the record is not signed by a trusted key (a tombstone is not), or None when it is.

    For readers that take the signed bytes on without parsing them as a :class:`Decision`.
    """
    if value is None:
        return "an empty record (a tombstone), not a decision"
    return keys.check_record(value, headers).problem


def signed_decision(keys: KeyRing, value: bytes | None, headers: Headers | None) -> Decision | str:
    """The record's decision when a trusted key signed it; otherwise why it is not one."""
    problem = unsigned_problem(keys, value, headers)
    if problem is not None:
        return problem
    assert value is not None  # a tombstone has a problem
    try:
        return Decision.model_validate_json(value)
    except ValidationError as exc:
        return f"signed, but not a decision: {summarise_validation_error(exc, limit=1)}"
