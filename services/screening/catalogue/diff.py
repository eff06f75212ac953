"""What changed between two catalogue versions, in words a compliance officer reads."""

from __future__ import annotations

from typing import Any

from services.screening.catalogue.model import Catalogue, Measure

_DATED = ("effective_from", "effective_to")


def _items(measure: Measure) -> dict[str, dict[str, Any]]:
    return {item.id: item.model_dump(mode="json") for item in measure.items}


def _windows(measure: Measure) -> list[str]:
    return [f"{s.start} to {s.end} ({s.basis})" for s in measure.suspensions]


def diff_catalogues(old: Catalogue, new: Catalogue) -> list[str]:
    """One sentence per change: measures added or removed, dates, suspensions, items, thresholds."""
    changes: list[str] = []
    old_measures = {m.id: m for m in old.measures}
    new_measures = {m.id: m for m in new.measures}
    for mid in new_measures.keys() - old_measures.keys():
        m = new_measures[mid]
        changes.append(
            f"+ measure {mid} added: {m.title} ({m.legal_basis.citation}), "
            f"effective {m.effective_from}"
        )
    for mid in old_measures.keys() - new_measures.keys():
        changes.append(f"- measure {mid} removed: {old_measures[mid].title}")
    for mid in sorted(old_measures.keys() & new_measures.keys()):
        changes.extend(_measure_changes(old_measures[mid], new_measures[mid]))
    return sorted(changes, key=lambda c: c[2:])


def _measure_changes(old: Measure, new: Measure) -> list[str]:
    changes: list[str] = []
    for name in _DATED:
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            changes.append(f"~ measure {new.id}: {name} {before} -> {after}")
    if _windows(old) != _windows(new):
        was = "; ".join(_windows(old)) or "none"
        now = "; ".join(_windows(new)) or "none"
        changes.append(f"~ measure {new.id}: suspensions {was} -> {now}")
    for name in ("kind", "ground", "scope", "items_from", "legal_basis", "title", "note"):
        if getattr(old, name) != getattr(new, name):
            changes.append(f"~ measure {new.id}: {name} changed")
    old_items, new_items = _items(old), _items(new)
    for iid in sorted(new_items.keys() - old_items.keys()):
        changes.append(f"+ measure {new.id}: item {iid} added ({new_items[iid]['name']})")
    for iid in sorted(old_items.keys() - new_items.keys()):
        changes.append(f"- measure {new.id}: item {iid} removed ({old_items[iid]['name']})")
    for iid in sorted(old_items.keys() & new_items.keys()):
        before, after = old_items[iid], new_items[iid]
        for field in sorted(before.keys() | after.keys()):
            if before.get(field) != after.get(field):
                old_value, new_value = before.get(field), after.get(field)
                changes.append(f"~ measure {new.id}: item {iid} {field} {old_value} -> {new_value}")
    return changes
