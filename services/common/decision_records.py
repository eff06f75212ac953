"""A record of the decisions topic, read by someone who shows it or acts on it.

The signature is checked on the record's bytes before anything is parsed (see
:func:`services.common.signing.decision_keys` for who does this); only then is the value read as
a :class:`Decision`. What fails either step is not a decision, and callers say so rather than
showing what it claims.
"""

from __future__ import annotations

from pydantic import ValidationError

from schemas import Decision
from services.common.signing import Headers, KeyRing


def signed_decision(keys: KeyRing, value: bytes | None, headers: Headers | None) -> Decision | str:
    """The record's decision when a trusted key signed it; otherwise why it is not one."""
    if value is None:
        return "an empty record (a tombstone), not a decision"
    check = keys.check_record(value, headers)
    if check.problem is not None:
        return check.problem
    try:
        return Decision.model_validate_json(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the value"
        return f"signed, but not a decision: {where}: {first['msg']}"
