"""Hostile and careless shipment records: what an attacker or a mis-set ERP would publish.

One corpus, used by the intake unit tests, the offline CLI tests, the running service on the
real broker and the chaos suite's poison set. Every record is built as *bytes* from a valid
event's JSON text by a textual edit, so each case is exactly the bytes a producer would send.

Each case says what must happen to it: a dead letter of a given ``error_type`` whose error names
``field``, or (``error_type=None``) a decision like the plain-ASCII event's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from schemas import MAX_EVENT_BYTES, ShipmentEvent

INVALID_JSON = "invalid_json"
SCHEMA = "schema_violation"


@dataclass(frozen=True)
class HostileCase:
    name: str
    value: bytes | None
    error_type: str | None
    """The dead letter's ``error_type``; ``None``: the record must be decided."""
    field: str = ""
    """Text the dead letter's error must contain (a field path or the rule broken)."""

    @property
    def is_decidable(self) -> bool:
        return self.error_type is None


def _set(text: str, path: str, raw_json: str) -> str:
    """Replace the JSON value of the first ``"key":value`` (string or number) for ``path``'s last
    key with ``raw_json``, written exactly as given."""
    key = path.rsplit(".", 1)[-1]
    pattern = re.compile(rf'"{re.escape(key)}":("(?:[^"\\]|\\.)*"|[-0-9.eE+]+|null)')
    edited, count = pattern.subn(lambda _: f'"{key}":{raw_json}', text, count=1)
    assert count == 1, f"no {key!r} in the base event"
    return edited


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def corpus(base: ShipmentEvent, tag: str = "h") -> list[HostileCase]:
    """Every hostile case, derived from ``base`` (a valid declared event with one line or more).

    ``tag`` makes the cases' ids unique per run (the chaos suite checks them byte for byte).
    """
    text = base.model_copy(update={"event_id": f"{tag}-{base.event_id}"}).model_dump_json()

    def edit(path: str, raw_json: str) -> bytes:
        return _set(text, path, raw_json).encode()

    def case(
        name: str, path: str, raw: str, error_type: str | None, field: str = ""
    ) -> HostileCase:
        return HostileCase(
            name, edit(path, raw), error_type, field or (path if error_type == SCHEMA else "")
        )

    quantity_field = "lines.0.quantity"
    return [
        # --- what cannot be read as JSON at all
        HostileCase("tombstone", None, "tombstone", "tombstone"),
        HostileCase(
            "oversized", b'{"event_id":"' + b"x" * MAX_EVENT_BYTES + b'"}', "oversized_payload"
        ),
        HostileCase("empty record", b"", INVALID_JSON),
        HostileCase("whitespace only", b" \n\t ", INVALID_JSON),
        HostileCase(
            "invalid UTF-8", text.encode()[:40] + b"\xff\xfe" + text.encode()[40:], INVALID_JSON
        ),
        HostileCase("nesting 100,000 deep", _nested(100_000).encode(), INVALID_JSON, "recursion"),
        case(
            "nesting 5,000 deep in a property",
            "event_id",
            _nested(5_000),
            INVALID_JSON,
            "recursion",
        ),
        case("5,000-digit integer", quantity_field, "9" * 5_000, INVALID_JSON, "number"),
        case("NaN", quantity_field, "NaN", INVALID_JSON, "expected value"),
        case("Infinity", quantity_field, "Infinity", INVALID_JSON, "expected value"),
        case("lone surrogate escape", "lines.0.description", '"Ga \\ud800"', INVALID_JSON),
        HostileCase(
            "duplicate key (US then KP)",
            text.replace(
                '"destination_country":', '"destination_country":"US","destination_country":', 1
            ).encode(),
            INVALID_JSON,
            "duplicate key",
        ),
        HostileCase(
            "duplicate key in a party",
            text.replace('"country":', '"country":"KP","country":', 1).encode(),
            INVALID_JSON,
            "duplicate key",
        ),
        HostileCase("raw control byte in a string", edit("shipment_id", '"S\x01"'), INVALID_JSON),
        # --- JSON, but not a shipment event
        HostileCase("a JSON array", b'["not", "an object"]', SCHEMA, "expected a JSON object"),
        HostileCase("a JSON number", b"1e999999", SCHEMA, "expected a JSON object"),
        case(
            "event type with a NUL",
            "event_type",
            '"shipment.declared\\u0000"',
            "unknown_event_type",
            "event_type",
        ),
        case("nesting 150 deep in a field", "event_id", _nested(150), SCHEMA),
        # --- control and bidi characters in identifiers, names and descriptions
        case("NUL in the shipment id", "shipment_id", '"SHP-1\\u0000"', SCHEMA),
        case("NUL in the event id", "event_id", f'"{tag}-\\u0000-1"', SCHEMA),
        case("NUL in a description", "lines.0.description", '"Gallium\\u0000 metal"', SCHEMA),
        case("newline in the exporter id", "exporter.id", '"CN-EXP\\n-1"', SCHEMA, "exporter.id"),
        case("trailing tab in an id", "exporter.id", '"CN-EXP-1\\t"', SCHEMA, "exporter.id"),
        case(
            "C1 control (NEL) in a name",
            "exporter.name",
            '"Baotou\\u0085Trading"',
            SCHEMA,
            "exporter.name",
        ),
        case("DEL in a name", "exporter.name", '"Baotou\\u007fTrading"', SCHEMA, "exporter.name"),
        case("ESC sequence in a description", "lines.0.description", '"\\u001b[2Jgallium"', SCHEMA),
        case(
            "bidi override (RLO) in a description",
            "lines.0.description",
            '"copper \\u202emuilag"',
            SCHEMA,
        ),
        case(
            "bidi isolate in a name",
            "exporter.name",
            '"Baotou \\u2066Trading"',
            SCHEMA,
            "exporter.name",
        ),
        case("right-to-left mark in an id", "shipment_id", '"SHP\\u200f-1"', SCHEMA),
        case(
            "line separator in a description",
            "lines.0.description",
            '"gallium\\u2028metal"',
            SCHEMA,
        ),
        # --- digits and letters that only look like ASCII
        case("fullwidth HS code", "lines.0.hs_code", '"２８０５３０１０００"', SCHEMA, "hs_code"),
        case("Arabic-Indic HS code", "lines.0.hs_code", '"٢٨٠٥٣٠١٠٠٠"', SCHEMA, "hs_code"),
        case(
            "ideographic space in an HS code",
            "lines.0.hs_code",
            '"2805\\u300030\\u30001000"',
            SCHEMA,
            "hs_code",
        ),
        case("fullwidth digits in a quantity", quantity_field, '"１０００"', SCHEMA),
        case("Arabic-Indic digits in a value", "lines.0.value", '"١٠٠"', SCHEMA, "lines.0.value"),
        case("underscores in a quantity", quantity_field, '"1_000"', SCHEMA),
        case("NaN as text", quantity_field, '"NaN"', SCHEMA),
        case("Infinity as text", "lines.0.value", '"Infinity"', SCHEMA, "lines.0.value"),
        case("dotless i in a country (ıN → IN)", "destination_country", '"ıN"', SCHEMA),
        case("fullwidth country letters", "destination_country", '"ＤＥ"', SCHEMA),
        case("NUL after a country code", "destination_country", '"KP\\u0000"', SCHEMA),
        case("dotless i in a currency", "lines.0.currency", '"USD\\u0131"', SCHEMA, "currency"),
        # --- magnitudes
        case("1e27 as a quantity", quantity_field, "1e27", SCHEMA),
        case("1e27 t as text", quantity_field, '"1e27"', SCHEMA),
        case("a 4,000-digit integer quantity", quantity_field, "9" * 4_000, SCHEMA),
        case("quantity with a huge exponent", quantity_field, "1E+999999", SCHEMA),
        case("quantity with a tiny exponent", quantity_field, "1e-999999", SCHEMA),
        case("value above 10^15", "lines.0.value", "1e16", SCHEMA, "lines.0.value"),
        case("line number 10^30", "line_no", "1" + "0" * 30, SCHEMA, "line_no"),
        case("year 10000", "ship_date", '"+10000-01-01"', SCHEMA),
        case("year 0", "ship_date", '"0000-12-31"', SCHEMA),
        # --- careless but acceptable: decided like the plain event
        HostileCase("a UTF-8 byte order mark", b"\xef\xbb\xbf" + text.encode(), None),
        case(
            "lower-case ASCII country",
            "destination_country",
            f'"{base.destination_country.lower()}"',
            None,
        ),
    ]


def poison(base: ShipmentEvent, tag: str) -> list[bytes | None]:
    """The corpus's undecidable records (the chaos suite's poison set)."""
    return [c.value for c in corpus(base, tag) if not c.is_decidable]
