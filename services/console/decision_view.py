"""The decision page's content: lines with their goods, reasons and law, licences, history, proof.

Built from the audit record as published (a plain dict, so a decision with fields this version
does not know still shows), its shipment's history and an evidence pack checked on the spot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from services.audit.evidence_pack import build_pack, verify_pack
from services.audit.presentation import jsonable
from services.audit.queries import decision_by_id, shipment_history
from services.common.db import Conn
from services.common.signing import KeyRing

#: Holds that no review may release (CONTRACT.md, v1 additions: RELEASED_BY_REVIEW).
UNRELEASABLE_PREFIX = "PROHIBITED_"


@dataclass(frozen=True)
class LineView:
    line_no: int
    outcome: str
    reasons: list[str]
    control_ids: list[str]
    license_id: str | None
    consumed: str | None
    goods: dict[str, Any]

    @property
    def prohibited(self) -> bool:
        return any(code.startswith(UNRELEASABLE_PREFIX) for code in self.reasons)

    @property
    def releasable(self) -> bool:
        return (
            self.outcome == "hold"
            and not self.prohibited
            and "SHIPMENT_CANCELLED" not in (self.reasons)
        )


@dataclass(frozen=True)
class LicenceUse:
    license_id: str
    status: str
    valid: str
    cap: str | None
    used_before: Decimal | None
    used_here: Decimal
    remaining: Decimal | None


@dataclass(frozen=True)
class ProofStatus:
    ok: bool
    tree_size: int | None
    problems: list[str]
    checked_signature: bool


@dataclass
class DecisionPage:
    decision_id: str
    shipment_id: str
    record: dict[str, Any]
    decision: dict[str, Any]
    lines: list[LineView]
    licences: list[LicenceUse]
    history: list[dict[str, Any]]
    superseded_by: str | None
    proof: ProofStatus | None
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> bool:
        return self.superseded_by is None

    @property
    def releasable_lines(self) -> list[LineView]:
        return [line for line in self.lines if line.releasable]


async def decision_page(conn: Conn, decision_id: str, keys: KeyRing | None) -> DecisionPage | None:
    """The page of ``decision_id``; with ``keys`` the proof is checked against the signed head."""
    row = await decision_by_id(conn, decision_id)
    if row is None:
        return None
    record = jsonable(row)
    decision: dict[str, Any] = record["decision"]
    history = [jsonable(r) for r in await shipment_history(conn, record["shipment_id"])]
    superseded_by = next(
        (h["decision_id"] for h in history if h["supersedes"] == decision_id), None
    )
    return DecisionPage(
        decision_id=decision_id,
        shipment_id=record["shipment_id"],
        record=record,
        decision=decision,
        lines=_lines(decision),
        licences=_licences(decision),
        history=history,
        superseded_by=superseded_by,
        proof=await _proof(conn, record["shipment_id"], keys) if keys is not None else None,
        warnings=list(decision.get("warnings") or []),
    )


def _lines(decision: dict[str, Any]) -> list[LineView]:
    evidence = decision.get("evidence") or {}
    goods = {g["line_no"]: g for g in (evidence.get("event") or {}).get("lines", [])}
    views = []
    for line in decision.get("lines", []):
        consumed = line.get("consumed")
        views.append(
            LineView(
                line_no=line["line_no"],
                outcome=line["outcome"],
                reasons=list(line.get("reasons", [])),
                control_ids=list(line.get("control_ids", [])),
                license_id=line.get("license_id"),
                consumed=f"{consumed['amount']} {consumed['unit']}" if consumed else None,
                goods=goods.get(line["line_no"], {}),
            )
        )
    return views


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value["amount"])) if value else None
    except (InvalidOperation, KeyError, TypeError):
        return None


def _licences(decision: dict[str, Any]) -> list[LicenceUse]:
    """Each licence a line used: its cap, what others had used, this decision, what is left."""
    evidence = decision.get("evidence") or {}
    by_id = {lic["license_id"]: lic for lic in evidence.get("licenses", [])}
    before: dict[str, Decimal] = {}
    for usage in evidence.get("license_usage", []):
        used = _amount(usage.get("used"))
        if used is not None:
            before[usage["license_id"]] = before.get(usage["license_id"], Decimal(0)) + used
    here: dict[str, Decimal] = {}
    for line in decision.get("lines", []):
        if line.get("license_id"):
            here[line["license_id"]] = here.get(line["license_id"], Decimal(0)) + (
                _amount(line.get("consumed")) or Decimal(0)
            )
    uses = []
    for licence_id in sorted(here):
        lic = by_id.get(licence_id, {})
        cap = lic.get("max_quantity")
        cap_amount = _amount(cap)
        used_before = before.get(licence_id, Decimal(0)) if cap_amount is not None else None
        remaining = (
            cap_amount - (used_before or Decimal(0)) - here[licence_id]
            if cap_amount is not None
            else None
        )
        uses.append(
            LicenceUse(
                license_id=licence_id,
                status=lic.get("status", "?"),
                valid=f"{lic.get('valid_from', '?')} – {lic.get('valid_to', '?')}",
                cap=f"{cap['amount']} {cap['unit']}" if cap else None,
                used_before=used_before,
                used_here=here[licence_id],
                remaining=remaining,
            )
        )
    return uses


async def _proof(conn: Conn, shipment_id: str, keys: KeyRing) -> ProofStatus:
    """The shipment's evidence pack, built and checked as a third party would check it."""
    try:
        pack = await build_pack(conn, shipment_id)
    except LookupError as exc:
        return ProofStatus(False, None, [str(exc)], checked_signature=False)
    problems = verify_pack(pack, keys)
    return ProofStatus(not problems, pack["tree_head"]["tree_size"], problems, True)
