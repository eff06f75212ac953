"""One way to say what a validation error is about: the field path and the rule, never the
input itself (which may be huge, binary or hostile)."""

from __future__ import annotations

from pydantic import ValidationError


def summarise_validation_error(exc: ValidationError, limit: int = 10) -> str:
    """``field.path: message; …`` for the first ``limit`` errors (inputs are not echoed)."""
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg'][:200]}"
        for err in exc.errors()[:limit]
    ]
    more = exc.error_count() - limit
    return "; ".join(parts) + (f"; … and {more} more" if more > 0 else "")
