"""What the console reads from the audit store: open holds, licences, the newest catalogue.

Read-only, over the auditor role's views only; every value a person types travels as a
parameter. "Open" means the newest recorded decision of a shipment is a hold (a superseded
hold is closed by what superseded it; a cancelled shipment is not waiting for anybody).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from schemas.license import License
from schemas.quantity import IncompatibleUnitsError, Quantity
from services.common.db import Conn
from services.screening.catalogue.model import Catalogue, CatalogueError


@dataclass(frozen=True)
class HoldFilter:
    reason: str | None = None
    control_id: str | None = None
    exporter_id: str | None = None
    older_than_hours: int | None = None


_LATEST = (
    "SELECT DISTINCT ON (shipment_id) seq, decision_id, shipment_id, exporter_id, outcome,"
    " trigger, reason_codes, control_ids, decided_at FROM audit.decisions_v"
    " ORDER BY shipment_id, seq DESC"
)

#: filter field -> SQL condition on its parameter ``$n`` (constant text only)
_HOLD_CONDITIONS: dict[str, str] = {
    "reason": "reason_codes @> ARRAY[${n}::text]",
    # a measure id: its own control id, or one of its items' (``CN-2025-18/1C902.b``; measure
    # ids may hold a ``/`` themselves, e.g. ``CN-2024-46/Art.2``)
    "control_id": "EXISTS (SELECT 1 FROM unnest(control_ids) c"
    " WHERE c = ${n} OR starts_with(c, ${n} || '/'))",
    "exporter_id": "exporter_id = ${n}",
}


#: When the shipment's current run of holds began: its first record after its last approval
#: (a hold re-screened by a licence change has waited since the first hold, not since then).
_HELD_SINCE = (
    "(SELECT min(h.decided_at) FROM audit.decisions_v h WHERE h.shipment_id = latest.shipment_id"
    " AND h.seq > coalesce((SELECT max(a.seq) FROM audit.decisions_v a"
    " WHERE a.shipment_id = latest.shipment_id AND a.outcome = 'approve'), 0))"
)


async def open_holds(conn: Conn, f: HoldFilter, now: datetime, limit: int = 500) -> list[Any]:
    """Open holds matching ``f`` (with ``held_since``), the longest waiting first."""
    params: list[Any] = []
    where = ["outcome = 'hold'", "NOT reason_codes @> ARRAY['SHIPMENT_CANCELLED']"]
    for name, condition in _HOLD_CONDITIONS.items():
        value = getattr(f, name)
        if value:
            params.append(value)
            where.append(condition.format(n=len(params)))
    waited = ""
    if f.older_than_hours is not None:
        params.append(now - timedelta(hours=f.older_than_hours))
        waited = f" WHERE held_since <= ${len(params)}"
    params.append(limit)
    sql = (
        f"SELECT * FROM (SELECT latest.*, {_HELD_SINCE} AS held_since"  # noqa: S608 (constants)
        f" FROM ({_LATEST}) latest WHERE {' AND '.join(where)}) holds{waited}"
        f" ORDER BY held_since, shipment_id LIMIT ${len(params)}"
    )
    return list(await conn.fetch(sql, *params))


async def hold_facets(conn: Conn) -> dict[str, list[str]]:
    """The reasons, measures and exporters among open holds (the filters' choices)."""
    rows = await open_holds(conn, HoldFilter(), datetime.now(UTC), limit=100_000)
    reasons = sorted({r for row in rows for r in row["reason_codes"] if r})
    catalogue, _ = await newest_catalogue(conn)
    known = [m.id for m in catalogue.measures] if catalogue is not None else []
    controls = {c for row in rows for c in row["control_ids"]}
    measures = sorted(
        {m for m in known for c in controls if c == m or c.startswith(m + "/")}
        or {c.split("/")[0] for c in controls}
    )
    exporters = sorted({row["exporter_id"] for row in rows})
    return {"reasons": reasons, "measures": measures, "exporters": exporters}


@dataclass
class LicenceView:
    licence: License
    consumed: Decimal | None = None
    #: (shipment id, decision id) of the current decisions that use the licence
    shipments: list[tuple[str, str]] = field(default_factory=list)
    unreadable: int = 0

    @property
    def remaining(self) -> Decimal | None:
        cap = self.licence.max_quantity
        if cap is None or self.consumed is None:
            return None
        return cap.amount - self.consumed

    @property
    def used_pct(self) -> int | None:
        cap = self.licence.max_quantity
        if cap is None or self.consumed is None or cap.amount == 0:
            return None
        return int(min(Decimal(100), self.consumed * 100 / cap.amount))

    def expires_within(self, today: date, days: int) -> bool:
        return today <= self.licence.valid_to <= today + timedelta(days=days)


_LICENCES = (
    "SELECT DISTINCT ON (lic->>'license_id') lic::text AS licence"
    " FROM audit.decisions_v, jsonb_array_elements(decision->'evidence'->'licenses') lic"
    " ORDER BY lic->>'license_id', seq DESC"
)
_USAGE = (
    "WITH latest AS (SELECT DISTINCT ON (shipment_id) shipment_id, decision_id, decision"
    " FROM audit.decisions_v ORDER BY shipment_id, seq DESC)"
    " SELECT shipment_id, decision_id, line->>'license_id' AS license_id,"
    " (line->'consumed')::text AS consumed"
    " FROM latest, jsonb_array_elements(decision->'lines') line"
    " WHERE line->>'license_id' IS NOT NULL AND line->>'outcome' = 'approve'"
)


async def licences(conn: Conn) -> list[LicenceView]:
    """Each licence as last seen in a decision's evidence, with what current decisions use.

    Consumption is the sum of ``consumed`` over the approved lines of every shipment's newest
    decision, in the licence cap's unit: what the recorded decisions say, not the screening
    ledger itself (which the auditor role cannot read).
    """
    views: dict[str, LicenceView] = {}
    for row in await conn.fetch(_LICENCES):
        licence = License.model_validate_json(row["licence"])
        views[licence.license_id] = LicenceView(licence)
    used: dict[str, Decimal] = defaultdict(Decimal)
    for row in await conn.fetch(_USAGE):
        view = views.get(row["license_id"])
        if view is None:
            continue
        used_by = (row["shipment_id"], row["decision_id"])
        if used_by not in view.shipments:
            view.shipments.append(used_by)
        cap = view.licence.max_quantity
        if cap is None or row["consumed"] is None:
            continue
        try:
            used[view.licence.license_id] += Quantity.model_validate(
                orjson.loads(row["consumed"])
            ).to(cap.unit)
        except (ValueError, IncompatibleUnitsError):
            view.unreadable += 1
    for licence_id, view in views.items():
        if view.licence.max_quantity is not None:
            view.consumed = used.get(licence_id, Decimal(0))
        view.shipments.sort()
    return sorted(views.values(), key=lambda v: (v.licence.holder_id, v.licence.license_id))


async def newest_catalogue(conn: Conn) -> tuple[Catalogue | None, str | None]:
    """The catalogue recorded last, or the reason none can be shown."""
    row = await conn.fetchrow(
        "SELECT version, content FROM audit.catalogues_v ORDER BY recorded_at DESC LIMIT 1"
    )
    if row is None:
        return None, "no catalogue has been recorded yet"
    try:
        return Catalogue.from_wire(bytes(row["content"])), None
    except CatalogueError as exc:
        return None, f"catalogue {row['version']} cannot be read: {exc}"


async def recent_decisions(conn: Conn, limit: int = 30) -> list[Any]:
    return list(
        await conn.fetch(
            "SELECT decision_id, shipment_id, exporter_id, outcome, trigger, reason_codes,"
            " decided_at FROM audit.decisions_v ORDER BY seq DESC LIMIT $1",
            limit,
        )
    )
