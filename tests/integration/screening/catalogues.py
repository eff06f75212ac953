"""Small control catalogues for the screening integration tests (independent of the bundled one)."""

from __future__ import annotations

import json
from typing import Any

from services.screening.catalogue import Catalogue

SAMARIUM_HS = "2846901940"
COPPER_HS = "7403110000"


def _rare_earth_measure(suspended: bool) -> dict[str, Any]:
    measure: dict[str, Any] = {
        "id": "CN-2025-18",
        "title": "Medium and heavy rare earths",
        "legal_basis": {
            "citation": "MOFCOM/GAC Announcement 2025 No. 18",
            "issuers": ["MOFCOM", "GAC"],
            "issued": "2025-04-04",
        },
        "kind": "licence_required",
        "effective_from": "2025-04-04",
        "items": [
            {
                "id": "samarium-oxide",
                "name": "Samarium oxide",
                "control_code": "1C902.b",
                "hs_codes": [SAMARIUM_HS],
            }
        ],
    }
    if suspended:
        measure["suspensions"] = [
            {"start": "2020-01-01", "end": "2099-12-31", "basis": "Test suspension notice"}
        ]
    return measure


_MILITARY_BAN = {
    "id": "CN-2024-46",
    "title": "No dual-use items for military end use",
    "legal_basis": {
        "citation": "MOFCOM Announcement 2024 No. 46",
        "issuers": ["MOFCOM"],
        "issued": "2024-12-03",
    },
    "kind": "prohibited",
    "ground": "end_use",
    "effective_from": "2024-12-03",
    "scope": {"end_uses": ["military"]},
    "items_from": ["*"],
}


def controls_catalogue(*, suspended: bool = False, label: str = "2026-01-01.1") -> Catalogue:
    """Samarium oxide needs a licence (or, ``suspended``, the measure is suspended)."""
    raw = {
        "label": label,
        "title": "Test controls",
        "measures": [_rare_earth_measure(suspended), _MILITARY_BAN],
    }
    return Catalogue.model_validate_json(json.dumps(raw))
