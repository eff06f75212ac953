"""Generate ``schemas/examples/``: one realistic record per wire format, made by the real code.

Integrators copy these; CI validates every one against ``schemas/json/`` with an independent
JSON Schema validator (ajv), so the published schemas and what Lodestone really reads and writes
cannot drift apart. Run ``python -m services.contract_examples`` after changing a model; a test
fails while the committed files are stale.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas import EventType, Review
from schemas.generated_files import write_changed
from services.screening.catalogue import load_bundled_catalogue
from services.screening.engine import decide
from services.screening.intake import SCHEMA_VIOLATION, Rejected, dead_letter
from services.screening.running_usage import RunningUsage
from services.screening.sample_stream import generate_events, sample_licences

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "schemas" / "examples"
#: Fixed so that the files are reproducible.
TODAY = date(2026, 11, 30)
DECIDED_AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def build_examples() -> dict[str, Any]:
    """File name -> JSON-able example."""
    events = generate_events(200, seed=2026, today=TODAY)
    by_type = {event.event_type: event for event in events}
    declared = next(e for e in events if e.event_type is EventType.DECLARED and len(e.lines) > 1)
    licences = sample_licences(TODAY)
    held = [lic for lic in licences if lic.holder_id == declared.exporter.id]
    usage = RunningUsage(held).usage_for(declared.shipment_id)
    decision = decide(declared, load_bundled_catalogue(), held, usage, decided_at=DECIDED_AT)
    letter = dead_letter(
        Rejected(SCHEMA_VIOLATION, "lines.0.hs_code: Value error, '28O5' is not an HS code"),
        topic="shipments.v1",
        partition=3,
        offset=1042,
        key=declared.exporter.id.encode(),
        value=b'{"event_id": "...", "lines": [{"hs_code": "28O5"}]}',
        failed_at=DECIDED_AT,
    )
    review = Review.model_validate(
        {
            "review_id": "rev-0001",
            "shipment_id": declared.shipment_id,
            "decision_id": decision.decision_id,
            "line_nos": [1],
            "action": "confirm_hold",
            "justification": "End user confirmed as listed; hold stands.",
            "reviewer": {"id": "u-417", "name": "A. Reviewer"},
            "reviewed_at": DECIDED_AT.isoformat(),
        }
    )
    party = {
        "entity_id": "cnp-001",
        "name": "General Dynamics",
        "name_zh": "通用动力公司",
        "aliases": [],
        "country": "US",
        "list": "control",
        "announcement": "MOFCOM Announcement 2025 No. 1",
        "announcement_key": "CL-2025-01",
        "listed_on": "2025-01-02",
        "effective_on": "2025-01-02",
        "status_windows": [{"status": "in_force", "from": "2025-01-02", "to": None}],
        "weak": False,
        "note": None,
        "sources": ["P1", "P3"],
    }
    examples: dict[str, Any] = {
        "shipment-event.declared.json": _json(declared),
        "license.json": _json(held[0] if held else licences[0]),
        "decision.json": _json(decision),
        "dead-letter.json": _json(letter),
        "controlled-party.json": party,
        "review.json": _json(review),
    }
    for event_type in (EventType.AMENDED, EventType.CANCELLED):
        if event_type in by_type:
            examples[f"shipment-event.{event_type.value.split('.')[1]}.json"] = _json(
                by_type[event_type]
            )
    return examples


def _json(model: BaseModel) -> Any:
    return json.loads(model.model_dump_json())


def render(example: Any) -> str:
    return json.dumps(example, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    return write_changed((EXAMPLES_DIR / n, render(e)) for n, e in build_examples().items())


if __name__ == "__main__":
    sys.exit(main())
