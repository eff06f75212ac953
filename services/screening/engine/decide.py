"""``decide``: the deterministic decision on a shipment event."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from operator import attrgetter

from schemas.decision import (
    Decision,
    DecisionEvidence,
    DecisionWarning,
    LicenseUsage,
    LineDecision,
    Outcome,
    Reason,
    ReasonCode,
    Trigger,
    WarningCode,
)
from schemas.license import License
from schemas.party import PartyMatch
from schemas.quantity import Quantity
from schemas.shipment import CargoLine, EventType, ShipmentEvent
from services.screening.catalogue.model import Catalogue, Measure
from services.screening.engine.classification import Classification, classify
from services.screening.engine.construct import build
from services.screening.engine.index import (
    CatalogueIndex,
    Entry,
    Recognition,
    Situation,
    index_for,
    origin_in_scope,
    parties_in_scope,
)
from services.screening.engine.lines import (
    LicenceState,
    decide_line,
    implausible_date,
    make_reason,
    not_controlled,
)
from services.screening.engine.recognition import recognise
from services.screening.engine.usage import UsageByOthers
from services.screening.parties import PartyIndex, apply_party_matches, screen_parties

#: Namespace of decision ids (uuid5); never change it, ids of past decisions depend on it.
DECISION_NAMESPACE = uuid.UUID("6f1d3c52-7d0e-5b8a-9a43-6c1e0d5f2b11")


def decision_id_for(
    event_id: str, trigger: Trigger, supersedes: str | None, catalogue_version: str
) -> str:
    """A deterministic decision id: the same input decided again gets the same id."""
    key = "\x1f".join((event_id, str(trigger), supersedes or "", catalogue_version))
    # uuid5 computed inline (same value as uuid.uuid5, without building a UUID object)
    digest = bytearray(
        hashlib.sha1(_NAMESPACE_BYTES + key.encode(), usedforsecurity=False).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_NAMESPACE_BYTES = DECISION_NAMESPACE.bytes
_licence_id = attrgetter("license_id")


def decide(
    event: ShipmentEvent,
    catalogue: Catalogue,
    licences: Sequence[License],
    usage: UsageByOthers,
    *,
    decided_at: datetime,
    trigger: Trigger = Trigger.SHIPMENT_EVENT,
    supersedes: str | None = None,
    include_evidence: bool = True,
    parties: PartyIndex | None = None,
) -> Decision:
    """Decide a shipment event against a catalogue, the licences known and their usage.

    ``licences`` may hold other exporters' licences (only the exporter's own are considered);
    ``usage`` is what other shipments have consumed. The result depends on nothing else except
    ``decided_at`` and the controlled-party list ``parties`` (``None``: parties not screened).
    """
    version = catalogue.version
    lines: list[LineDecision] = []
    reasons: list[Reason] = []
    warnings: dict[str, DecisionWarning] = {}
    own: list[License] | None = None
    if event.event_type is _CANCELLED:
        message = f"shipment {event.shipment_id} was cancelled; nothing may ship under it"
        reasons.append(make_reason(ReasonCode.SHIPMENT_CANCELLED, None, None, None, message))
        outcome = _HOLD
    else:
        index = index_for(catalogue)
        # What recognised lines need, computed at the first one (most lines are no item).
        context: tuple[Situation, LicenceState, str | None] | None = None
        outcome = _APPROVE
        for line in event.lines:
            recognised = recognise(index, line)
            if not recognised.entries:
                line_decision, line_reasons = not_controlled(line)
            else:
                if context is None:
                    own = own_licences(licences, event.exporter.id)
                    situation = index.situation(event)
                    state = _licence_state(event, own, usage)
                    context = (situation, state, implausible_ship_date(event))
                situation, state, implausible = context
                in_scope = _in_scope(index, event, line, recognised) if implausible else None
                if in_scope:
                    assert implausible is not None
                    line_decision, line_reasons = implausible_date(line, in_scope, implausible)
                else:
                    found = classify(index, situation, event, line, recognised)
                    line_decision, line_reasons = decide_line(event, line, found, state)
                    if situation.unconfirmed:
                        _warn(index, found, situation.unconfirmed, event.ship_date, warnings)
            lines.append(line_decision)
            reasons.extend(line_reasons)
            if line_decision.outcome is _HOLD:
                outcome = _HOLD
    # Controlled-party screening (services/screening/parties): holds the lines a listing covers.
    matched = screen_parties(event, parties) if parties is not None else []
    if matched and apply_party_matches(lines, reasons, matched):
        outcome = _HOLD
    evidence = None
    if include_evidence:
        if own is None:
            own = own_licences(licences, event.exporter.id)
        evidence = _evidence(event, own, usage, matched, parties)
    return build(
        Decision,
        _DECISION_FIELDS,
        {
            "decision_id": decision_id_for(event.event_id, trigger, supersedes, version),
            "shipment_id": event.shipment_id,
            "event_id": event.event_id,
            "exporter_id": event.exporter.id,
            "outcome": outcome,
            "lines": lines,
            "reasons": reasons,
            "catalogue_version": version,
            "trigger": trigger,
            "supersedes": supersedes,
            "decided_at": decided_at,
            "ship_date": event.ship_date,
            "warnings": list(warnings.values()) if warnings else [],
            "evidence": evidence,
        },
    )


_DECISION_FIELDS = frozenset(Decision.model_fields)
_CANCELLED = EventType.CANCELLED
_APPROVE = Outcome.APPROVE
_HOLD = Outcome.HOLD


#: How far a ship date may lie before / after the event's ``occurred_at`` date (CONTRACT.md v1
#: additions, SHIP_DATE_IMPLAUSIBLE).
SHIP_DATE_DAYS_BEFORE = timedelta(days=30)
SHIP_DATE_DAYS_AFTER = timedelta(days=366)


def implausible_ship_date(event: ShipmentEvent) -> str | None:
    """Why the ship date needs a person's confirmation, or ``None`` when it is plausible.

    The event's date is ``occurred_at`` read in its own offset (the sender's calendar day).
    """
    occurred = event.occurred_at.date()
    ship = event.ship_date
    offset = ship - occurred  # a difference of dates never overflows; a sum may (year 1, 9999)
    if offset < -SHIP_DATE_DAYS_BEFORE:
        return (
            f"ship date {ship} lies more than 30 days before the event's date {occurred};"
            " a person confirms the date"
        )
    if offset > SHIP_DATE_DAYS_AFTER:
        return (
            f"ship date {ship} lies more than 366 days after the event's date {occurred};"
            " a person confirms the date"
        )
    return None


def _in_scope(
    index: CatalogueIndex, event: ShipmentEvent, line: CargoLine, recognised: Recognition
) -> list[Entry]:
    """The recognised entries whose measure's parties and origin limits include the line."""
    found = []
    for position, _ in recognised.entries:
        entry = index.entries[position]
        scope = entry.scope
        if scope is None or (
            parties_in_scope(scope, event) and origin_in_scope(scope, line.origin_country)
        ):
            found.append(entry)
    return found


def _warn(
    index: CatalogueIndex,
    found: Classification,
    unconfirmed: frozenset[str],
    day: date,
    warnings: dict[str, DecisionWarning],
) -> None:
    """MEASURE_STATUS_UNCONFIRMED for each measure whose assumed status the line rests on."""
    for entry in found.controlled:
        if entry.measure.id in unconfirmed and entry.control_id not in warnings:
            warnings[entry.control_id] = _warning(index, entry.measure, entry.control_id, day)
    for entry, _ in found.undecided:
        if entry.measure.id in unconfirmed and entry.control_id not in warnings:
            warnings[entry.control_id] = _warning(index, entry.measure, entry.control_id, day)
    for entry in found.suspended:
        if entry.measure.id in unconfirmed and entry.control_id not in warnings:
            warnings[entry.control_id] = _warning(index, entry.measure, entry.control_id, day)
    if found.prohibited or found.end_use_unknown:
        for rule in (*found.prohibited, *found.end_use_unknown):
            measure = rule.measure
            if measure.id in unconfirmed and measure.id not in warnings:
                warnings[measure.id] = _warning(index, measure, measure.id, day)


def _warning(
    index: CatalogueIndex, measure: Measure, control_id: str, day: date
) -> DecisionWarning:
    """The warning for a measure's assumed status on a day: a frozen model, shared between
    decisions (memoised with the catalogue's index, bounded) like an uncontrolled line's result."""
    cache = index.warning_cache
    key = (control_id, day)
    found = cache.get(key)
    if found is None:
        if len(cache) >= 4096:
            cache.clear()
        found = cache[key] = _new_warning(measure, control_id, day)
    return found


def _new_warning(measure: Measure, control_id: str, day: date) -> DecisionWarning:
    status = measure.status_on(day).value.replace("_", " ")
    message = (
        f"{measure.legal_basis.citation}: its status on {day} ({status}) is assumed from the"
        f" catalogue's dates; announcements confirm it only through"
        f" {measure.status_confirmed_through}"
    )
    return build(
        DecisionWarning,
        _WARNING_FIELDS,
        {
            "code": WarningCode.MEASURE_STATUS_UNCONFIRMED,
            "control_id": control_id,
            "message": message,
        },
    )


_WARNING_FIELDS = frozenset(DecisionWarning.model_fields)


def own_licences(licences: Sequence[License], holder_id: str) -> list[License]:
    """The licences of ``holder_id``, by licence id (the order licences are tried in)."""
    own = [lic for lic in licences if lic.holder_id == holder_id]
    if len(own) > 1:
        own.sort(key=_licence_id)
    return own


def _licence_state(event: ShipmentEvent, own: list[License], usage: UsageByOthers) -> LicenceState:
    return LicenceState(
        licences=own,
        declared=event.declared_licenses,
        consumed=dict(usage.consumed),
        single_used_by=usage.single_used_by,
    )


def _evidence(
    event: ShipmentEvent,
    own: list[License],
    usage: UsageByOthers,
    matched: list[PartyMatch],
    parties: PartyIndex | None,
) -> DecisionEvidence:
    used: list[LicenseUsage] = []
    for licence in own:
        lid = licence.license_id
        amount = usage.consumed.get(lid, Decimal(0))
        user = usage.single_used_by.get(lid)
        if not amount and user is None:
            continue
        cap = licence.max_quantity
        quantity = (
            Quantity.model_construct(amount=amount, unit=cap.unit) if amount and cap else None
        )
        used.append(
            LicenseUsage.model_construct(license_id=lid, used=quantity, used_by_shipment=user)
        )
    return DecisionEvidence.model_construct(
        event=event,
        licenses=own,
        license_usage=used,
        parties=matched,  # controlled-party evidence (services/screening/parties)
        party_list_version=parties.version if parties is not None else None,
    )
