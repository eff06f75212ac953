"""Licence usage consulted by a decision (the screening service keeps it: ``RunningUsage``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

_EMPTY: Mapping[str, Decimal] = MappingProxyType({})
_EMPTY_USERS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class UsageByOthers:
    """What OTHER shipments have consumed (the decided shipment's own earlier use excluded).

    ``consumed`` maps a licence id to the amount used so far in the licence cap's unit;
    ``single_used_by`` maps a single licence's id to the shipment that used it.
    """

    consumed: Mapping[str, Decimal] = field(default_factory=lambda: _EMPTY)
    single_used_by: Mapping[str, str] = field(default_factory=lambda: _EMPTY_USERS)

    @staticmethod
    def empty() -> UsageByOthers:
        return _EMPTY_USAGE


_EMPTY_USAGE = UsageByOthers()
