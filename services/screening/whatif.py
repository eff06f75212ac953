"""What if the rules change: re-decide recorded shipments under a draft catalogue.

Pure: given each shipment's latest recorded decision (with its evidence: the event, the licences
considered and their usage by other shipments) and a draft catalogue, every shipment is decided
again by the engine with the licence state its decision had, and each line whose outcome, reasons
or licence would differ is reported. Nothing is written anywhere; the caller reads the ledger.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson

from schemas import Decision
from services.screening.catalogue import Catalogue
from services.screening.catalogue.calendar import ChangeKind, DatedChange, without
from services.screening.engine import decide
from services.screening.evidence import DecisionInputs, EvidenceError, EvidenceReader

#: A line's reasons as a report shows them: ``(code, control id or None)``, in decision order.
ReasonKey = tuple[str, str | None]


@dataclass(frozen=True, slots=True)
class RecordedShipment:
    """A shipment as the ledger holds it: its latest decision, exactly as stored."""

    shipment_id: str
    exporter_id: str
    ship_date: date
    cancelled: bool
    decision: str | bytes


@dataclass(frozen=True, slots=True)
class LineChange:
    """One cargo line whose decision the draft would change."""

    shipment_id: str
    exporter_id: str
    ship_date: date
    line_no: int
    decision_id: str
    old_outcome: str
    new_outcome: str
    old_reasons: tuple[ReasonKey, ...]
    new_reasons: tuple[ReasonKey, ...]
    old_license: str | None
    new_license: str | None
    #: the measures the line's old or new reasons name (``-`` when none does)
    measures: tuple[str, ...]
    #: not cancelled and ships today or later: the change can still act
    ahead: bool
    new_legal_bases: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "shipment_id": self.shipment_id,
            "exporter_id": self.exporter_id,
            "ship_date": str(self.ship_date),
            "line_no": self.line_no,
            "decision_id": self.decision_id,
            "old_outcome": self.old_outcome,
            "new_outcome": self.new_outcome,
            "old_reasons": [_reason_text(r) for r in self.old_reasons],
            "new_reasons": [_reason_text(r) for r in self.new_reasons],
            "new_legal_bases": list(self.new_legal_bases),
            "old_license": self.old_license,
            "new_license": self.new_license,
            "measures": list(self.measures),
            "ahead": self.ahead,
        }


@dataclass(slots=True)
class Counts:
    """How many shipments and lines a measure or an exporter would see change."""

    shipments: int = 0
    lines: int = 0
    to_hold: int = 0
    to_approve: int = 0
    ahead: int = 0

    def as_json(self) -> dict[str, int]:
        return {
            "shipments": self.shipments,
            "lines": self.lines,
            "approve_to_hold": self.to_hold,
            "hold_to_approve": self.to_approve,
            "lines_ahead": self.ahead,
        }


@dataclass(slots=True)
class WhatIfReport:
    """Every line the draft would change, and the summaries per measure and exporter."""

    draft_version: str
    today: date
    considered: int = 0
    cancelled: int = 0
    changes: list[LineChange] = field(default_factory=list)
    by_measure: dict[str, Counts] = field(default_factory=dict)
    by_exporter: dict[str, Counts] = field(default_factory=dict)
    #: shipments whose recorded decision could not be read back: (shipment id, why)
    unreadable: list[tuple[str, str]] = field(default_factory=list)

    @property
    def shipments_changed(self) -> int:
        return len({c.shipment_id for c in self.changes})

    def as_json(self) -> dict[str, Any]:
        return {
            "draft_version": self.draft_version,
            "today": str(self.today),
            "considered": self.considered,
            "cancelled_skipped": self.cancelled,
            "shipments_changed": self.shipments_changed,
            "lines_changed": len(self.changes),
            "by_measure": {k: v.as_json() for k, v in sorted(self.by_measure.items())},
            "by_exporter": {k: v.as_json() for k, v in sorted(self.by_exporter.items())},
            "unreadable": [{"shipment_id": s, "error": e} for s, e in self.unreadable],
            "changes": [c.as_json() for c in self.changes],
        }


def what_if(recorded: Iterable[RecordedShipment], draft: Catalogue, *, today: date) -> WhatIfReport:
    """Re-decide every recorded, not cancelled shipment under ``draft`` (see :class:`WhatIf`)."""
    run = WhatIf(draft, today=today)
    for shipment in recorded:
        run.add(shipment)
    return run.report


class WhatIf:
    """A what-if in progress: shipments are added one at a time (the ledger is read in pages).

    A shipment whose decision cannot be read back (no evidence, or evidence that no longer
    validates) is listed in ``report.unreadable``, never silently dropped.
    """

    def __init__(self, draft: Catalogue, *, today: date) -> None:
        self._draft = draft
        self._today = today
        self._reader = EvidenceReader()
        self._measures = MeasureNames(draft)
        self.report = WhatIfReport(draft.version, today)

    def add(self, shipment: RecordedShipment) -> list[LineChange]:
        """Re-decide one shipment; the lines that would change (also added to the report)."""
        report = self.report
        if shipment.cancelled:
            report.cancelled += 1
            return []
        report.considered += 1
        try:
            old = orjson.loads(shipment.decision)
            inputs = self._reader.inputs(old)
        except (orjson.JSONDecodeError, EvidenceError) as exc:
            report.unreadable.append((shipment.shipment_id, str(exc)))
            return []
        new = decide_inputs(inputs, self._draft)
        changes = line_changes(shipment, old, new, self._measures, self._today)
        if changes:
            _count(report, changes)
            report.changes.extend(changes)
        return changes


def line_changes(
    shipment: RecordedShipment,
    old: dict[str, Any],
    new: Decision,
    measures: MeasureNames,
    today: date,
) -> list[LineChange]:
    """The lines of ``new`` whose outcome, reasons or licence differ from the recorded ``old``."""
    old_lines = {line["line_no"]: line for line in old.get("lines", [])}
    old_reasons = _reasons_by_line(
        (r.get("line_no"), r["code"], r.get("control_id")) for r in old.get("reasons", [])
    )
    new_reasons = _reasons_by_line((r.line_no, r.code.value, r.control_id) for r in new.reasons)
    bases: dict[int | None, list[str]] = defaultdict(list)
    for r in new.reasons:
        if r.legal_basis and r.legal_basis not in bases[r.line_no]:
            bases[r.line_no].append(r.legal_basis)
    ahead = not shipment.cancelled and shipment.ship_date >= today
    changes: list[LineChange] = []
    # a whole-shipment reason (line_no None, e.g. SHIPMENT_CANCELLED) is reported as line 0
    numbers = [line.line_no for line in new.lines] or [0]
    for number in numbers:
        key = number if new.lines else None
        was = old_lines.get(number, {})
        now = next((line for line in new.lines if line.line_no == number), None)
        old_outcome = was.get("outcome", old.get("outcome", ""))
        new_outcome = now.outcome.value if now is not None else new.outcome.value
        before = tuple(old_reasons.get(key, ()))
        after = tuple(new_reasons.get(key, ()))
        old_licence = was.get("license_id")
        new_licence = now.license_id if now is not None else None
        if (old_outcome, set(before), old_licence) == (new_outcome, set(after), new_licence):
            continue
        named = {c for _, c in (*before, *after) if c is not None}
        changes.append(
            LineChange(
                shipment_id=shipment.shipment_id,
                exporter_id=shipment.exporter_id,
                ship_date=shipment.ship_date,
                line_no=number,
                decision_id=str(old.get("decision_id", "")),
                old_outcome=old_outcome,
                new_outcome=new_outcome,
                old_reasons=before,
                new_reasons=after,
                old_license=old_licence,
                new_license=new_licence,
                measures=tuple(sorted({measures.of(c) for c in named})) or ("-",),
                ahead=ahead,
                new_legal_bases=tuple(bases.get(key, ())),
            )
        )
    return changes


def _reasons_by_line(
    reasons: Iterable[tuple[int | None, str, str | None]],
) -> dict[int | None, list[ReasonKey]]:
    found: dict[int | None, list[ReasonKey]] = defaultdict(list)
    for line_no, code, control_id in reasons:
        found[line_no].append((code, control_id))
    return found


def _count(report: WhatIfReport, changes: list[LineChange]) -> None:
    shipment_measures: set[str] = set()
    exporter = report.by_exporter.setdefault(changes[0].exporter_id, Counts())
    exporter.shipments += 1
    for change in changes:
        for counts in (exporter, *(_measure(report, m) for m in change.measures)):
            counts.lines += 1
            counts.to_hold += change.old_outcome == "approve" and change.new_outcome == "hold"
            counts.to_approve += change.old_outcome == "hold" and change.new_outcome == "approve"
            counts.ahead += change.ahead
        shipment_measures.update(change.measures)
    for measure in shipment_measures:
        _measure(report, measure).shipments += 1


def _measure(report: WhatIfReport, measure: str) -> Counts:
    return report.by_measure.setdefault(measure, Counts())


def _reason_text(reason: ReasonKey) -> str:
    code, control_id = reason
    return f"{code} {control_id}" if control_id else code


class MeasureNames:
    """The measure a control id belongs to (``CN-2025-18/1C902.b`` → ``CN-2025-18``).

    Measure ids may themselves hold a ``/`` (``CN-2024-46/Art.2``), so the longest measure id
    that the control id equals or starts with (followed by ``/``) wins; a control id no measure
    of the catalogue claims (a measure the draft removed) stays as it is.
    """

    def __init__(self, catalogue: Catalogue) -> None:
        self._ids = sorted((m.id for m in catalogue.measures), key=len, reverse=True)
        self._found: dict[str, str] = {}

    def of(self, control_id: str) -> str:
        found = self._found.get(control_id)
        if found is None:
            found = next(
                (m for m in self._ids if control_id == m or control_id.startswith(m + "/")),
                control_id,
            )
            self._found[control_id] = found
        return found


def calendar_reach(
    changes: Sequence[DatedChange],
    catalogue: Catalogue,
    recorded: Iterable[RecordedShipment],
    *,
    today: date,
) -> dict[DatedChange, int]:
    """How many open shipments each dated change acts on (see services.screening.catalogue.
    calendar): open = not cancelled and shipping today or later, and on or after the change's
    day; acted on = decided differently under ``catalogue`` and under the same catalogue without
    the change (for a ``status_confirmed_through`` date: the recorded decision carries
    MEASURE_STATUS_UNCONFIRMED for the measure)."""
    reach = dict.fromkeys(changes, 0)
    counterfactual = {c: without(catalogue, c) for c in changes if c.kind in _DECIDING}
    names = MeasureNames(catalogue)
    reader = EvidenceReader()
    for shipment in recorded:
        if shipment.cancelled or shipment.ship_date < today:
            continue
        relevant = [c for c in changes if c.day <= shipment.ship_date]
        if not relevant:
            continue
        try:
            old = orjson.loads(shipment.decision)
            inputs = reader.inputs(old)
        except (orjson.JSONDecodeError, EvidenceError):
            continue  # ``lodestone whatif`` lists these; the calendar only counts
        warned = {
            names.of(w["control_id"])
            for w in old.get("warnings", [])
            if isinstance(w, dict) and isinstance(w.get("control_id"), str)
        }
        current = _substance(decide_inputs(inputs, catalogue))
        for change in relevant:
            if change.kind is ChangeKind.STATUS_UNCONFIRMED:
                reach[change] += change.measure_id in warned
            elif _substance(decide_inputs(inputs, counterfactual[change])) != current:
                reach[change] += 1
    return reach


_DECIDING = frozenset(set(ChangeKind) - {ChangeKind.STATUS_UNCONFIRMED})


def decide_inputs(
    inputs: DecisionInputs, catalogue: Catalogue, *, include_evidence: bool = False
) -> Decision:
    """The engine's decision on recorded inputs under ``catalogue``."""
    return decide(
        inputs.event,
        catalogue,
        inputs.licences,
        inputs.usage,
        decided_at=inputs.decided_at,
        trigger=inputs.trigger,
        supersedes=inputs.supersedes,
        include_evidence=include_evidence,
        parties=inputs.parties,
    )


def _substance(decision: Decision) -> frozenset[tuple[object, ...]]:
    """What an operator acts on, per line: outcome, reasons and licence."""
    reasons = frozenset((r.line_no, r.code.value, r.control_id) for r in decision.reasons)
    lines = frozenset(
        (line.line_no, line.outcome.value, line.license_id) for line in decision.lines
    )
    return reasons | lines
