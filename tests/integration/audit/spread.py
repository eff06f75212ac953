"""Decisions with a realistic spread, for the query-plan tests and ``make bench-audit-scale``.

Many exporters (a few large, a long tail: weight 1/rank) with two licences each, months of
``decided_at`` in recording order with minutes of jitter (one in a thousand recorded up to two
days late), every reason code (holds mostly for a missing licence, a few for
prohibited end uses or destinations), a score of control ids and hundreds of licences. Values
are produced from two templates by string formatting (~2 kB each, the size of a real decision),
so that a million of them cost seconds, not the minutes the wire models would take.
"""

from __future__ import annotations

import bisect
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate

from services.audit.queries import DecisionFilter
from tests.unit.audit.factories import make_decision

EXPORTERS = 400
CONTROLS = tuple(
    f"CN-2025-{notice}/{code}"
    for notice in (18, 46, 57, 61, 62)
    for code in ("1C902.a", "1C902.b", "1C903", "1C904", "1C905")
)
LICENCES = 800
#: (code, weight) of a held decision's reason
HOLD_REASONS = (
    ("LICENSE_REQUIRED", 50),
    ("LICENSE_EXPIRED", 8),
    ("LICENSE_EXHAUSTED", 8),
    ("LICENSE_SCOPE", 6),
    ("LICENSE_INACTIVE", 4),
    ("INSUFFICIENT_DATA", 8),
    ("PROHIBITED_END_USE", 2),
    ("PROHIBITED_DESTINATION", 2),
    ("SHIPMENT_CANCELLED", 3),
    ("SHIP_DATE_IMPLAUSIBLE", 3),
    ("DECLARATION_MISMATCH", 3),
    ("MEASURE_SUSPENDED", 3),
)
#: (code, weight) of an approved decision's reason
APPROVE_REASONS = (("LICENSED", 70), ("NOT_CONTROLLED", 20), ("BELOW_THRESHOLD", 10))
HOLD_SHARE = 0.3
LATE_SHARE = 0.001
START = datetime(2026, 1, 1, tzinfo=UTC)


def exporter_id(rank: int) -> str:
    return f"CN-EXP-{rank:04d}"


def licence_id(n: int) -> str:
    return f"MOFCOM-GL-2026-{n:04d}"


def _template(held: bool) -> str:
    """The decision's JSON with ``{name}`` where a spread value goes (braces escaped)."""
    text = make_decision(3 if held else 1, held=held).model_dump_json()
    decision = make_decision(3 if held else 1, held=held)
    text = text.replace("{", "{{").replace("}", "}}")
    moment = decision.decided_at.strftime("%Y-%m-%dT%H:%M:%S")
    for old, new in (
        (decision.decision_id, "{decision_id}"),
        (decision.shipment_id, "{shipment_id}"),
        (decision.event_id, "{event_id}"),
        ("CN-EXP-0001", "{exporter_id}"),
        ("CN-2025-18/1C902.b", "{control_id}"),
        ("MOFCOM-GL-2025-0042", "{license_id}"),
        (f'"{"LICENSE_REQUIRED" if held else "LICENSED"}"', '"{reason}"'),
        (f"{moment}.123000Z", "{decided_at}.{millis:03d}000Z"),
        (f"{moment}Z", "{decided_at}Z"),
    ):
        if old not in text and not (held and "{license_id}" in new):  # a hold has no licence
            raise AssertionError(f"template lost {old!r}")
        text = text.replace(old, new)
    return text


@dataclass(frozen=True)
class Spread:
    """``count`` decisions decided evenly over ``months`` months from ``start``, seeded."""

    count: int
    months: int = 12
    start: datetime = START
    seed: int = 20

    def moment(self, n: int) -> datetime:
        """When the ``n``-th decision (0-based) was decided, before jitter."""
        span = timedelta(days=30.5 * self.months)
        return self.start + span * (n / max(self.count, 1))

    def values(self, first: int = 0, count: int | None = None) -> Iterator[bytes]:
        """Decisions ``first`` … ``first + count - 1`` of the spread, as published."""
        rng = random.Random(f"{self.seed}/{first}")
        held_t, approved_t = _template(True), _template(False)
        exporters = list(accumulate(1 / rank for rank in range(1, EXPORTERS + 1)))
        hold_codes, hold_w = zip(*HOLD_REASONS, strict=True)
        approve_codes, approve_w = zip(*APPROVE_REASONS, strict=True)
        for n in range(first, first + (self.count - first if count is None else count)):
            held = rng.random() < HOLD_SHARE
            rank = 1 + bisect.bisect_left(exporters, rng.random() * exporters[-1])
            moment = self.moment(n) + timedelta(seconds=rng.uniform(-120, 120))
            if rng.random() < LATE_SHARE:  # e.g. held back by an outage, recorded days later
                moment -= timedelta(hours=rng.uniform(1, 48))
            reason = rng.choices(
                hold_codes if held else approve_codes, hold_w if held else approve_w
            )
            yield (
                (held_t if held else approved_t)
                .format(
                    decision_id=uuid.UUID(int=rng.getrandbits(128)).hex,
                    shipment_id=f"SHP-{n:09d}",
                    event_id=f"evt-{n:09d}",
                    exporter_id=exporter_id(rank),
                    control_id=rng.choice(CONTROLS),
                    license_id=licence_id((2 * rank + rng.randrange(2)) % LICENCES),
                    reason=reason[0],
                    decided_at=moment.strftime("%Y-%m-%dT%H:%M:%S"),
                    millis=moment.microsecond // 1000,
                )
                .encode()
            )


def month(spread: Spread, index: int) -> tuple[datetime, datetime]:
    """The ``index``-th month of the spread (negative from the end), as a half-open window."""
    index = index % spread.months
    since = spread.start + timedelta(days=30.5 * index)
    return since, since + timedelta(days=30.5)


def documented_queries(spread: Spread) -> dict[str, DecisionFilter]:
    """The auditors' questions of docs/audit.md ("Queries at scale"), on ``spread``'s data."""
    oldest, newest = month(spread, 0), month(spread, -1)
    return {
        "unfiltered": DecisionFilter(),
        "exporter": DecisionFilter(exporter_id=exporter_id(1)),
        "exporter, oldest month": DecisionFilter(
            exporter_id=exporter_id(1), since=oldest[0], until=oldest[1]
        ),
        "exporter, newest month": DecisionFilter(
            exporter_id=exporter_id(1), since=newest[0], until=newest[1]
        ),
        "small exporter, oldest month": DecisionFilter(
            exporter_id=exporter_id(30), since=oldest[0], until=oldest[1]
        ),
        "oldest month": DecisionFilter(since=oldest[0], until=oldest[1]),
        "since the oldest month": DecisionFilter(since=oldest[0]),
        "holds": DecisionFilter(outcome="hold"),
        "reason, common": DecisionFilter(reason="LICENSE_REQUIRED"),
        "reason, rare": DecisionFilter(reason="PROHIBITED_END_USE"),
        "holds citing a control": DecisionFilter(outcome="hold", control_id=CONTROLS[0]),
        "licence": DecisionFilter(license_id=licence_id(5)),
        "licence, oldest month": DecisionFilter(
            license_id=licence_id(2), since=oldest[0], until=oldest[1]
        ),
        "shipment": DecisionFilter(shipment_id="SHP-000000100"),
    }
