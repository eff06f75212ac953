"""Screening of consignees and end users against China's controlled-party lists.

``names`` normalises, ``listing`` reads the list (bundled or from ``parties.v1``), ``index``
matches a name without scanning the list, ``screening`` turns matches into held lines, reasons
and evidence (the engine's one call), ``follower`` keeps the list of a running service,
``rescreen`` picks the shipments a list change affects, ``cli`` is ``lodestone parties``.
"""

from services.screening.parties.index import NameMatch, PartyIndex
from services.screening.parties.listing import (
    PartyListError,
    listing_key,
    load_bundled_parties,
    parse_party_list,
)
from services.screening.parties.screening import apply_party_matches, screen_parties

__all__ = [
    "NameMatch",
    "PartyIndex",
    "PartyListError",
    "apply_party_matches",
    "listing_key",
    "load_bundled_parties",
    "parse_party_list",
    "screen_parties",
]
