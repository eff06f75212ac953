"""Rows as auditors receive them: JSON-ready values (hashes in hex, UTC timestamps)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.audit.canonical import canonical_timestamp, parse_json


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row with bytes as hex, timestamps canonical and the decision parsed."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, bytes | bytearray | memoryview):
            value = bytes(value).hex()
        elif isinstance(value, datetime):
            value = canonical_timestamp(value)
        elif key == "decision" and isinstance(value, str):
            value = parse_json(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


def flat(row: dict[str, Any]) -> dict[str, str]:
    """One CSV/table cell per column: lists joined by ``;``, absent values empty."""
    cells: dict[str, str] = {}
    for key, value in jsonable(row).items():
        if isinstance(value, list):
            cells[key] = ";".join(str(v) for v in value)
        elif value is None:
            cells[key] = ""
        else:
            cells[key] = str(value)
    return cells
