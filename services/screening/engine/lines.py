"""The decision on one cargo line: classification, prohibitions, then licences."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from schemas.decision import LineDecision, Outcome, Reason, ReasonCode
from schemas.license import License
from schemas.quantity import Quantity
from schemas.shipment import CargoLine, ShipmentEvent
from services.screening.engine.classification import NOTHING, Classification
from services.screening.engine.construct import build
from services.screening.engine.index import Entry
from services.screening.licenses.matching import Verdict, check, in_item_scope, preference

_APPROVE = Outcome.APPROVE
_HOLD = Outcome.HOLD

#: Most line numbers whose uncontrolled-line results are kept.
_UNCONTROLLED_LIMIT = 4096


@dataclass(slots=True)
class LicenceState:
    """The exporter's licences and the quantities used so far, including this shipment's lines."""

    licences: Sequence[License]
    declared: Sequence[str]
    consumed: dict[str, Decimal]
    single_used_by: Mapping[str, str]


def _line(
    line: CargoLine,
    outcome: Outcome,
    controlled: bool,
    control_ids: list[str],
    codes: list[ReasonCode],
    license_id: str | None = None,
    consumed: Quantity | None = None,
) -> LineDecision:
    return build(
        LineDecision,
        _LINE_FIELDS,
        {
            "line_no": line.line_no,
            "outcome": outcome,
            "controlled": controlled,
            "control_ids": control_ids,
            "license_id": license_id,
            "reasons": codes,
            "consumed": consumed,
        },
    )


_LINE_FIELDS = frozenset(LineDecision.model_fields)
_QUANTITY_FIELDS = frozenset(Quantity.model_fields)
_REASON_FIELDS = frozenset(Reason.model_fields)


def make_reason(
    code: ReasonCode,
    line_no: int | None,
    control_id: str | None,
    basis: str | None,
    message: str,
) -> Reason:
    return build(
        Reason,
        _REASON_FIELDS,
        {
            "code": code,
            "line_no": line_no,
            "control_id": control_id,
            "legal_basis": basis,
            "message": message,
        },
    )


def _reason(code: ReasonCode, line: CargoLine, entry: Entry | None, message: str) -> Reason:
    if entry is None:
        return make_reason(code, line.line_no, None, None, message)
    return make_reason(code, line.line_no, entry.control_id, entry.basis, message)


_uncontrolled: dict[int, tuple[LineDecision, list[Reason]]] = {}


def not_controlled(line: CargoLine) -> tuple[LineDecision, list[Reason]]:
    """The result for a line no measure bears on, which depends on nothing but its number.

    Most lines are such lines; their outputs are frozen models, so one instance per line number
    is shared by every decision (memoised, bounded), and so is the list of its reasons.
    """
    found = _uncontrolled.get(line.line_no)
    if found is None:
        if len(_uncontrolled) >= _UNCONTROLLED_LIMIT:
            _uncontrolled.clear()
        reason = _reason(
            ReasonCode.NOT_CONTROLLED, line, None, "no measure in force covers the line"
        )
        decision = _line(line, _APPROVE, False, [], [ReasonCode.NOT_CONTROLLED])
        found = _uncontrolled[line.line_no] = (decision, [reason])
    return found


def _unique_ids(entries: Sequence[Entry]) -> list[str]:
    return list(dict.fromkeys([e.control_id for e in entries]))


def decide_line(
    event: ShipmentEvent, line: CargoLine, found: Classification, state: LicenceState
) -> tuple[LineDecision, list[Reason]]:
    """Decide one line from its classification; records licence consumption in ``state``.

    The returned reasons list may be shared between calls: read it, do not modify it.
    """
    if found is NOTHING:
        return not_controlled(line)
    if found.prohibited:
        return _prohibited(line, found)
    if found.mismatch:
        return _mismatch(line, found)
    entries = found.controlled + [entry for entry, _ in found.undecided]
    if entries:
        return _licensing(event, line, found, entries, state)
    if found.suspended:
        msg = "covering measure suspended on the ship date"
        reasons = [_reason(ReasonCode.MEASURE_SUSPENDED, line, e, msg) for e in found.suspended]
        codes = [ReasonCode.MEASURE_SUSPENDED]
        return _line(line, _APPROVE, False, _unique_ids(found.suspended), codes), reasons
    if found.below:
        reasons = [_reason(ReasonCode.BELOW_THRESHOLD, line, e, m) for e, m in found.below]
        return _line(line, _APPROVE, False, [], [ReasonCode.BELOW_THRESHOLD]), reasons
    return not_controlled(line)


def _prohibited(line: CargoLine, found: Classification) -> tuple[LineDecision, list[Reason]]:
    codes: list[ReasonCode] = []
    reasons: list[Reason] = []
    for rule in found.prohibited:
        code = rule.code
        assert code is not None  # only prohibitions are listed
        if code not in codes:
            codes.append(code)
        reasons.append(
            make_reason(code, line.line_no, rule.measure.id, rule.basis, rule.prohibited_message)
        )
    ids = _unique_ids(found.controlled) + [rule.measure.id for rule in found.prohibited]
    return _line(line, _HOLD, True, list(dict.fromkeys(ids)), codes), reasons


def _mismatch(line: CargoLine, found: Classification) -> tuple[LineDecision, list[Reason]]:
    """The declared control code contradicts the goods: a person checks the declaration."""
    shown = _distinct(found.mismatch)
    reasons = [
        _reason(
            ReasonCode.DECLARATION_MISMATCH,
            line,
            entry,
            f"declared control code {line.control_code} contradicts the goods, which the"
            f" description, composition or HS code show as {entry.item.name}",
        )
        for entry in shown
    ]
    ids = [e.control_id for e in shown]
    codes = [ReasonCode.DECLARATION_MISMATCH]
    return _line(line, _HOLD, bool(found.controlled), ids, codes), reasons


def implausible_date(
    line: CargoLine, entries: Sequence[Entry], message: str
) -> tuple[LineDecision, list[Reason]]:
    """A recognised line whose ship date a person must confirm (SHIP_DATE_IMPLAUSIBLE)."""
    distinct = _distinct(list(entries))
    reasons = [_reason(ReasonCode.SHIP_DATE_IMPLAUSIBLE, line, e, message) for e in distinct]
    ids = [e.control_id for e in distinct]
    return _line(line, _HOLD, False, ids, [ReasonCode.SHIP_DATE_IMPLAUSIBLE]), reasons


def _licensing(
    event: ShipmentEvent,
    line: CargoLine,
    found: Classification,
    entries: list[Entry],
    state: LicenceState,
) -> tuple[LineDecision, list[Reason]]:
    distinct = _distinct(entries)
    ids = [e.control_id for e in distinct]
    controlled = bool(found.controlled)
    first = entries[0]
    if found.end_use_unknown:
        reasons = [
            make_reason(
                ReasonCode.INSUFFICIENT_DATA,
                line.line_no,
                rule.measure.id,
                rule.basis,
                rule.unknown_end_use_message,
            )
            for rule in found.end_use_unknown
        ]
        return _line(line, _HOLD, controlled, ids, [ReasonCode.INSUFFICIENT_DATA]), reasons
    chosen, failures = _choose_licence(event, line, _item_codes(entries, line), state)
    if chosen is not None:
        lid = chosen.licence.license_id
        consumed = None
        cap = chosen.licence.max_quantity
        if chosen.consumed is not None and cap is not None:
            state.consumed[lid] = state.consumed.get(lid, Decimal(0)) + chosen.consumed
            consumed = build(
                Quantity, _QUANTITY_FIELDS, {"amount": chosen.consumed, "unit": cap.unit}
            )
        msg = f"licensed under {lid}"
        reasons = [_reason(ReasonCode.LICENSED, line, e, msg) for e in distinct]
        return (
            _line(line, _APPROVE, controlled, ids, [ReasonCode.LICENSED], lid, consumed),
            reasons,
        )
    if not controlled:
        reasons = [_reason(ReasonCode.INSUFFICIENT_DATA, line, e, m) for e, m in found.undecided]
        return _line(line, _HOLD, False, ids, [ReasonCode.INSUFFICIENT_DATA]), reasons
    if not failures:
        msg = "controlled; the exporter holds no licence for this item"
        reasons = [_reason(ReasonCode.LICENSE_REQUIRED, line, e, msg) for e in distinct]
        return _line(line, _HOLD, True, ids, [ReasonCode.LICENSE_REQUIRED]), reasons
    codes_out: list[ReasonCode] = []
    reasons = []
    for code, message in failures:
        if code not in codes_out:
            codes_out.append(code)
        reasons.append(_reason(code, line, first, message))
    return _line(line, _HOLD, True, ids, codes_out), reasons


def _item_codes(entries: list[Entry], line: CargoLine) -> list[str]:
    """The recognised items' control codes.

    When an item has no control code, the line's declared code stands for the items (it agrees
    with them: a contradicting declaration never reaches licensing), else there are none.
    """
    codes: list[str] = []
    for entry in entries:
        code = entry.item.control_code
        if not code:
            return [line.control_code] if line.control_code else []
        codes.append(code)
    return codes


def _distinct(entries: list[Entry]) -> list[Entry]:
    seen: dict[str, Entry] = {}
    for entry in entries:
        seen.setdefault(entry.control_id, entry)
    return list(seen.values())


def _choose_licence(
    event: ShipmentEvent, line: CargoLine, item_codes: list[str], state: LicenceState
) -> tuple[Verdict | None, list[tuple[ReasonCode, str]]]:
    """The preferred covering licence, or the failures of every candidate licence.

    Candidates are the licences the shipment declares and those whose item scope names the line.
    """
    covering: list[Verdict] = []
    failures: list[tuple[ReasonCode, str]] = []
    declared = state.declared
    for licence in state.licences:
        in_scope = in_item_scope(licence, line, item_codes)
        if not in_scope and licence.license_id not in declared:
            continue
        verdict = check(
            licence,
            line,
            event,
            item_codes,
            state.consumed,
            state.single_used_by,
            in_scope=in_scope,
        )
        if verdict.failure is None:
            covering.append(verdict)
        else:
            failures.append((verdict.failure, verdict.message))
    if covering:
        if len(covering) > 1:
            covering.sort(key=lambda v: preference(v.licence, declared))
        return covering[0], []
    if declared:
        known = {lic.license_id for lic in state.licences}
        for unknown in (d for d in declared if d not in known):
            message = f"declared licence {unknown} is not held by exporter {event.exporter.id}"
            failures.append((ReasonCode.LICENSE_REQUIRED, message))
    return None, failures
