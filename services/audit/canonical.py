"""Canonical JSON: the one byte form of a record that the hash chain is computed over.

Rules (also in docs/audit.md, so that a third party can re-implement them; they coincide with
RFC 8785 for the values a record holds):

* UTF-8, no insignificant whitespace, object keys sorted by code point (all keys are ASCII);
* strings as-is, escaping only ``"``, ``\\`` and control characters (``\\n`` style where JSON has
  a short form, else ``\\u00xx``);
* numbers are integers only: every decimal quantity travels as a string on the wire, so a
  non-integer number in a record is refused rather than rounded;
* timestamps are UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (microseconds, as PostgreSQL stores them).

orjson does the encoding: the chain hashes every record, and the standard library's encoder costs
several times more per record than the rest of the write path together.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson


class NotCanonicalError(ValueError):
    """The value cannot be written canonically (a float, NaN, or an unsupported type)."""


def _refuse(value: object) -> Any:
    raise NotCanonicalError(f"{type(value).__name__} has no canonical JSON form: {value!r}")


_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def canonical_bytes(value: Any) -> bytes:
    """The canonical JSON of ``value`` (dicts, lists, str, int, bool, None) as UTF-8 bytes."""
    try:
        return orjson.dumps(value, default=_refuse, option=_OPTIONS)
    except orjson.JSONEncodeError as exc:
        raise NotCanonicalError(str(exc)) from exc


def canonical_text(value: Any) -> str:
    """The canonical JSON text of ``value``."""
    return canonical_bytes(value).decode("utf-8")


def parse_json(data: str | bytes) -> Any:
    """Parse JSON for re-canonicalisation.

    The writer never stores a non-integer number (pydantic writes decimals as strings), so one
    can only appear through tampering - and then the recomputed hash differs anyway.
    """
    return orjson.loads(data)


def canonical_timestamp(moment: datetime) -> str:
    """``moment`` in UTC with microseconds and a ``Z`` suffix; naive datetimes are refused."""
    if moment.tzinfo is None:
        raise NotCanonicalError(f"naive datetime has no canonical form: {moment!r}")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
