"""Reading a moment typed on the command line: a date, or a time with or without its offset."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_moment(text: str) -> datetime:
    """A date or an ISO 8601 / RFC 3339 time (``Z`` or an offset); a date or naive time is UTC.

    Raises ``ValueError`` naming what was expected (a command line shows it as a bad option).
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date or time (e.g. 2026-03-01 or 2026-03-01T08:00:00Z)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
