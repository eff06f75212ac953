"""Replay: re-derive recorded decisions from their evidence and the catalogue they name.

A recorded decision names its catalogue version and embeds its evidence (the event, the
exporter's licences considered and their usage by other shipments). Replay decides that evidence
again with the pure engine, under that catalogue version as the audit store keeps it, with the
recorded ``decided_at``, trigger and superseded decision, and compares the result with the
record byte for byte in the canonical JSON form the hash chain covers (docs/audit.md).

What a match proves: the recorded outcome, reasons, licences and warnings follow from the
recorded evidence under the recorded rules. That the evidence itself is what was recorded at the
time is the hash chain's job (``lodestone audit verify``); the two together answer an auditor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from services.audit.canonical import NotCanonicalError, canonical_bytes
from services.screening.catalogue import Catalogue, CatalogueError
from services.screening.engine import decide
from services.screening.evidence import EvidenceError, EvidenceReader


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """One decision replayed: whether it matched, and if not, where or why not."""

    decision_id: str
    matches: bool
    problem: str | None = None
    #: the decision could not be re-derived at all (no evidence, catalogue not stored, …)
    unverifiable: bool = False


@dataclass(slots=True)
class ReplaySummary:
    """A replay's counts and its failures (every mismatch, in record order)."""

    replayed: int = 0
    matched: int = 0
    failures: list[ReplayResult] = field(default_factory=list)

    def add(self, result: ReplayResult) -> None:
        self.replayed += 1
        if result.matches:
            self.matched += 1
        else:
            self.failures.append(result)


def catalogues_by_version(contents: Iterable[bytes]) -> tuple[dict[str, Catalogue], list[str]]:
    """The stored catalogues by the version their content computes to, and the problems of
    the ones that do not load (kept by the store whatever their shape)."""
    found: dict[str, Catalogue] = {}
    problems: list[str] = []
    for content in contents:
        try:
            catalogue = Catalogue.from_wire(content, "audit.catalogues")
        except CatalogueError as exc:
            problems.append(str(exc))
            continue
        found[catalogue.version] = catalogue
    return found, problems


class Replayer:
    """Replays recorded decisions against the catalogues given (by version)."""

    def __init__(self, catalogues: Mapping[str, Catalogue]) -> None:
        self._catalogues = catalogues
        self._reader = EvidenceReader()

    def replay(self, recorded: str | bytes) -> ReplayResult:
        """Replay one recorded decision (its JSON as the store returns it)."""
        try:
            record = orjson.loads(recorded)
        except orjson.JSONDecodeError as exc:
            return ReplayResult("?", False, f"the record is not JSON: {exc}", unverifiable=True)
        if not isinstance(record, dict):
            return ReplayResult("?", False, "the record is not a JSON object", unverifiable=True)
        decision_id = str(record.get("decision_id", "?"))
        version = record.get("catalogue_version")
        catalogue = self._catalogues.get(version) if isinstance(version, str) else None
        if catalogue is None:
            problem = f"catalogue version {version} is not in the audit store"
            return ReplayResult(decision_id, False, problem, unverifiable=True)
        try:
            inputs = self._reader.inputs(record)
        except EvidenceError as exc:
            return ReplayResult(decision_id, False, str(exc), unverifiable=True)
        derived = decide(
            inputs.event,
            catalogue,
            inputs.licences,
            inputs.usage,
            decided_at=inputs.decided_at,
            trigger=inputs.trigger,
            supersedes=inputs.supersedes,
            parties=inputs.parties,
        )
        mine = orjson.loads(derived.model_dump_json())
        try:
            same = canonical_bytes(mine) == canonical_bytes(record)
        except NotCanonicalError as exc:
            return ReplayResult(decision_id, False, f"the record is not canonical: {exc}")
        if same:
            return ReplayResult(decision_id, True)
        where = first_difference(record, mine) or "$"
        return ReplayResult(
            decision_id,
            False,
            f"re-derived decision differs at {where}: {_at(record, where)}"
            f" recorded, {_at(mine, where)} re-derived",
        )


def first_difference(recorded: Any, derived: Any, path: str = "$") -> str | None:
    """The JSON path of the first place where two JSON values differ (``None``: equal)."""
    if type(recorded) is not type(derived):
        return path
    if isinstance(recorded, dict):
        for key in sorted(set(recorded) | set(derived)):
            if key not in recorded or key not in derived:
                return f"{path}.{key}"
            found = first_difference(recorded[key], derived[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(recorded, list):
        for n, (a, b) in enumerate(zip(recorded, derived, strict=False)):
            found = first_difference(a, b, f"{path}[{n}]")
            if found:
                return found
        return (
            None if len(recorded) == len(derived) else f"{path}[{min(len(recorded), len(derived))}]"
        )
    return None if recorded == derived else path


def _at(value: Any, path: str) -> str:
    """The value at a path from :func:`first_difference`, shortened for a message."""
    node = value
    for part in path[1:].replace("[", ".[").split("."):
        if not part:
            continue
        try:
            node = node[int(part[1:-1])] if part.startswith("[") else node[part]
        except (KeyError, IndexError, TypeError):
            return "(absent)"
    text = orjson.dumps(node).decode()
    return text if len(text) <= 120 else text[:117] + "..."
