"""Pure licence matching: does a licence cover a cargo line, and if not, why not.

A line is in a licence's item scope when its HS code starts with one of the licence's HS
prefixes, or when every catalogue item the line was recognised as has a control code under one of
the licence's control-code prefixes. The line's declared control code counts only through the
items: a declaration never widens a licence (a Dy oxide declared ``1C902.b`` is not in a
samarium licence's scope; the engine holds it with DECLARATION_MISMATCH).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from schemas.decision import ReasonCode
from schemas.license import License, LicenseKind, LicenseStatus
from schemas.quantity import QUANTITY_CONTEXT, convert
from schemas.shipment import CargoLine, ShipmentEvent

_ANY = 1_000_000
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The result of checking one licence against one line."""

    licence: License
    failure: ReasonCode | None  # None = the licence covers the line
    message: str
    consumed: Decimal | None = None  # in the cap's unit, when the licence has a cap

    @property
    def covers(self) -> bool:
        return self.failure is None


def plain(amount: Decimal) -> Decimal:
    """``5E+5`` as ``500000``: exact, without an exponent in the JSON output."""
    normal = amount.normalize(QUANTITY_CONTEXT)  # never rounded: exact or an error
    if normal.as_tuple().exponent > 0:  # type: ignore[operator]
        return normal.quantize(Decimal(1), context=QUANTITY_CONTEXT)
    return normal


def _code_matches(prefixes: Sequence[str], code: str) -> bool:
    return code.startswith(tuple(prefixes))


def in_item_scope(licence: License, line: CargoLine, item_codes: Sequence[str]) -> bool:
    """Whether the licence names the line's item (HS prefix, declared or recognised codes)."""
    if licence.hs_codes and _code_matches(licence.hs_codes, line.hs_code):
        return True
    if not licence.control_codes or not item_codes:
        return False
    prefixes = tuple(licence.control_codes)
    return all(code.startswith(prefixes) for code in item_codes)


def check(
    licence: License,
    line: CargoLine,
    event: ShipmentEvent,
    item_codes: Sequence[str],
    consumed_before: Mapping[str, Decimal],
    single_used_by: Mapping[str, str],
    *,
    in_scope: bool | None = None,
) -> Verdict:
    """Check a licence against a line (``consumed_before`` includes this shipment's lines).

    ``in_scope`` is :func:`in_item_scope` of the same arguments when the caller already knows it.
    """
    lid = licence.license_id
    if licence.status is not LicenseStatus.ACTIVE:
        return Verdict(licence, ReasonCode.LICENSE_INACTIVE, f"licence {lid} is {licence.status}")
    day = event.ship_date
    if not licence.is_valid_on(day):
        return Verdict(
            licence,
            ReasonCode.LICENSE_EXPIRED,
            f"licence {lid} is valid {licence.valid_from} to {licence.valid_to}, not on {day}",
        )
    if in_scope is None:
        in_scope = in_item_scope(licence, line, item_codes)
    if not in_scope:
        return Verdict(licence, ReasonCode.LICENSE_SCOPE, f"licence {lid} does not name this item")
    dest = event.destination_country
    if licence.destinations and dest not in licence.destinations:
        return Verdict(licence, ReasonCode.LICENSE_SCOPE, f"licence {lid} does not cover {dest}")
    if licence.end_users and event.end_user.id not in licence.end_users:
        return Verdict(
            licence,
            ReasonCode.LICENSE_SCOPE,
            f"licence {lid} does not name end user {event.end_user.id}",
        )
    used_by = single_used_by.get(lid)
    if licence.kind is LicenseKind.SINGLE and used_by not in (None, event.shipment_id):
        return Verdict(
            licence,
            ReasonCode.LICENSE_EXHAUSTED,
            f"single licence {lid} was already used by shipment {used_by}",
        )
    cap = licence.max_quantity
    if cap is None:
        return Verdict(licence, None, f"licence {lid} covers the line")
    if line.unit.is_mass != cap.unit.is_mass:
        return Verdict(
            licence,
            ReasonCode.LICENSE_SCOPE,
            f"licence {lid} caps {cap.unit.value}; a line in {line.unit.value} cannot count"
            " against it",
        )
    needed = plain(convert(line.quantity, line.unit, cap.unit))
    left = cap.amount - consumed_before.get(lid, _ZERO)
    if needed > left:
        remaining = plain(left)  # only the message shows it
        return Verdict(
            licence,
            ReasonCode.LICENSE_EXHAUSTED,
            f"licence {lid} has {remaining} {cap.unit.value} left, the line needs {needed}",
        )
    return Verdict(licence, None, f"licence {lid} covers the line", consumed=needed)


def preference(licence: License, declared: Sequence[str]) -> tuple[int, int, int, int, date, str]:
    """Sort key among covering licences: declared first (in declared order), then the narrowest
    scope (fewest end users, then destinations, then item prefixes; empty = any), then the
    earliest expiry, then the licence id."""
    rank = declared.index(licence.license_id) if licence.license_id in declared else len(declared)
    return (
        rank,
        len(licence.end_users) or _ANY,
        len(licence.destinations) or _ANY,
        len(licence.control_codes) + len(licence.hs_codes),
        licence.valid_to,
        licence.license_id,
    )
