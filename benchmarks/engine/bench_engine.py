"""Throughput of the pure screening engine: ``make bench-engine``.

A realistic mix (about 70 % uncontrolled lines, 1 to 5 lines per shipment), decided with the
bundled catalogue and with a catalogue ten times its size (synthetic extra measures).

Each repetition times, slice by slice and back to back, a JSON parse of the same events (the
baseline), the engine on the bundled catalogue and on the 10x one; the report gives medians over
the repetitions and the ratios per repetition, so that a noisy shared machine moves the figures
together.
Usage: ``python -m benchmarks.engine.bench_engine [shipments] [repetitions]``.
"""

from __future__ import annotations

import gc
import json
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from statistics import median
from typing import Any

from schemas import License, ReasonCode, ShipmentEvent
from services.screening.catalogue import Catalogue, load_bundled_catalogue
from services.screening.engine import UsageByOthers, decide

UNCONTROLLED = [
    ("Copper cathodes", "7403110000"),
    ("Steel bolts M12", "7318150000"),
    ("Cotton shirts", "6205200000"),
    ("Aluminium profiles", "7604291000"),
    ("Ceramic tiles", "6907210000"),
    ("Electric motors 5 kW", "8501520000"),
    ("Plastic housings", "3926909090"),
]
CONTROLLED: list[tuple[str, str, dict[str, Any]]] = [
    ("Samarium oxide 99.9%", "2846901940", {}),
    ("Dysprosium oxide", "2846901993", {}),
    ("Sintered NdFeB magnets", "8505111000", {"composition": [{"element": "Dy", "mass_pct": "4"}]}),
    ("NdFeB magnets", "8505111000", {}),
    ("Antimony trioxide", "2825800010", {"purity_pct": "99.995"}),
    ("Gallium metal", "8112929010", {}),
    ("Holmium oxide", "2846901990", {}),
    ("Artificial graphite block", "3801100030", {"purity_pct": "99.95"}),
]


def make_events(count: int, seed: int = 7) -> list[ShipmentEvent]:
    rng = random.Random(seed)
    events = []
    for n in range(count):
        lines = []
        for number in range(1, rng.randint(1, 5) + 1):
            if rng.random() < 0.7:
                description, hs = rng.choice(UNCONTROLLED)
                facts: dict[str, Any] = {}
            else:
                description, hs, facts = rng.choice(CONTROLLED)
            lines.append(
                {
                    "line_no": number,
                    "hs_code": hs,
                    "description": description,
                    "quantity": str(rng.randint(1, 900)),
                    "unit": "kg",
                    "value": "1000",
                    "currency": "USD",
                    "origin_country": "CN",
                    **facts,
                }
            )
        dest = rng.choice(["DE", "US", "JP", "KR", "FR"])
        ship = date.fromisoformat(rng.choice(["2025-06-01", "2026-03-02", "2026-11-29"]))
        # declared the day before it ships (a plausible ship date: no SHIP_DATE_IMPLAUSIBLE)
        occurred = ship - timedelta(days=1)
        events.append(
            ShipmentEvent.model_validate(
                {
                    "event_id": f"E{n}",
                    "event_type": "shipment.declared",
                    "occurred_at": f"{occurred}T08:15:00+08:00",
                    "shipment_id": f"S{n}",
                    "ship_date": str(ship),
                    "exporter": {"id": f"X{n % 50}", "name": "x", "country": "CN"},
                    "consignee": {"id": "C1", "name": "c", "country": dest},
                    "end_user": {"id": "C1", "name": "c", "country": dest},
                    "end_use": rng.choice(["civil"] * 8 + ["military", "unknown"]),
                    "destination_country": dest,
                    "lines": lines,
                }
            )
        )
    return events


def licences() -> list[License]:
    return [
        License.model_validate(
            {
                "license_id": f"GL-{n}",
                "kind": "general",
                "holder_id": f"X{n}",
                "status": "active",
                "valid_from": "2025-01-01",
                "valid_to": "2027-12-31",
                "control_codes": ["1C9"],
                "max_quantity": {"amount": "1000", "unit": "t"},
            }
        )
        for n in range(0, 50, 2)
    ]


def scaled(catalogue: Catalogue, factor: int) -> Catalogue:
    """The catalogue plus ``factor - 1`` synthetic copies of every measure (new ids, codes,
    HS prefixes and keywords, so that the index grows as a real catalogue would)."""
    raw = catalogue.model_dump(mode="json")
    extra: list[dict[str, Any]] = []
    for copy in range(1, factor):
        for measure in raw["measures"]:
            if measure["items_from"]:
                continue
            clone = dict(measure, id=f"XX-{9000 + copy}-{len(extra)}")
            clone["items"] = [
                dict(
                    item,
                    control_code=None,
                    hs_codes=[f"9{copy}{h[2:]}"[: len(h)] for h in item["hs_codes"]],
                    keywords=[f"synthetic{copy} {k}" for k in item["keywords"]],
                )
                for item in measure["items"]
            ]
            extra.append(clone)
    raw["measures"] = raw["measures"] + extra
    return Catalogue.model_validate_json(json.dumps(raw))


@dataclass(frozen=True)
class Workload:
    """What one repetition times: the engine on both catalogues, and the JSON-parse baseline."""

    events: list[ShipmentEvent]
    payloads: list[bytes]
    held: list[License]
    base: Catalogue
    big: Catalogue


#: Events per slice: each slice is timed for all three measurements back to back.
SLICE = 500


def _engine_seconds(
    catalogue: Catalogue, events: list[ShipmentEvent], held: list[License]
) -> float:
    usage = UsageByOthers.empty()
    now = datetime.now(UTC)
    start = time.perf_counter()
    for shipment in events:
        decide(shipment, catalogue, held, usage, decided_at=now, include_evidence=False)
    return time.perf_counter() - start


def _parse_seconds(payloads: list[bytes]) -> float:
    parse = ShipmentEvent.model_validate_json
    start = time.perf_counter()
    for payload in payloads:
        parse(payload)
    return time.perf_counter() - start


def measure(work: Workload, repetitions: int) -> dict[str, list[float]]:
    """Seconds per shipment of every repetition, for the baseline and both catalogues.

    A repetition walks the events in slices of :data:`SLICE`; each slice is parsed from JSON
    (the baseline), then decided on the 1x and on the 10x catalogue, back to back. A noisy
    neighbour on a shared machine thus slows the three alike, which keeps the ratios stable.
    """
    times: dict[str, list[float]] = {"1x": [], "10x": [], "parse": []}
    count = len(work.events)
    for _ in range(repetitions):
        total = {"1x": 0.0, "10x": 0.0, "parse": 0.0}
        gc.collect()
        for start in range(0, count, SLICE):
            events = work.events[start : start + SLICE]
            total["parse"] += _parse_seconds(work.payloads[start : start + SLICE])
            total["1x"] += _engine_seconds(work.base, events, work.held)
            total["10x"] += _engine_seconds(work.big, events, work.held)
        for key, seconds in total.items():
            times[key].append(seconds / count)
    return times


def uncontrolled_share(
    events: list[ShipmentEvent], catalogue: Catalogue, held: list[License]
) -> float:
    """The share of lines decided NOT_CONTROLLED: checks that the mix is what it claims."""
    now = datetime.now(UTC)
    plain = total = 0
    for shipment in events:
        decision = decide(shipment, catalogue, held, UsageByOthers.empty(), decided_at=now)
        total += len(decision.lines)
        plain += sum(line.reasons == [ReasonCode.NOT_CONTROLLED] for line in decision.lines)
    return plain / total


def _spread(values: list[float]) -> str:
    return f"{min(values) * 1e6:.1f}-{max(values) * 1e6:.1f}"


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    repetitions = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    events, held = make_events(count), licences()
    base = load_bundled_catalogue()
    work = Workload(
        events=events,
        payloads=[e.model_dump_json().encode() for e in events],
        held=held,
        base=base,
        big=scaled(base, 10),
    )
    for catalogue in (work.base, work.big):  # build indexes and memos outside the timed passes
        _engine_seconds(catalogue, events[:1000], held)
    times = measure(work, repetitions)
    t_base, t_parse = median(times["1x"]), median(times["parse"])
    ratio_big = median([b / a for a, b in zip(times["1x"], times["10x"], strict=True)])
    ratio_parse = median([a / p for a, p in zip(times["1x"], times["parse"], strict=True)])
    items = [sum(len(m.items) for m in c.measures) for c in (work.base, work.big)]
    lines = sum(len(e.lines) for e in events) / len(events)
    share = uncontrolled_share(events, base, held)
    print(
        f"shipments: {count}, mean lines/shipment: {lines:.2f}, uncontrolled lines: {share:.0%};"
        f" median of {repetitions} repetitions (range in brackets)"
    )
    for label, n_items, key in (("1x", items[0], "1x"), ("10x", items[1], "10x")):
        t = median(times[key])
        print(
            f"catalogue {label:>3} ({n_items:>4} items): {1 / t:>9,.0f} shipments/s"
            f"  {t * 1e6:6.1f} us/shipment  [{_spread(times[key])}]"
        )
    print(
        f"baseline: parsing the same events from JSON {t_parse * 1e6:.1f} us/event"
        f"  [{_spread(times['parse'])}]"
    )
    print(f"ratio 10x/1x time per shipment: {ratio_big:.2f} (target <= 1.5)")
    print(f"ratio engine 1x / JSON parse, per shipment: {ratio_parse:.2f}")
    print(f"ratio 1x throughput / 20,000 target: {1 / t_base / 20_000:.2f}")


if __name__ == "__main__":
    main()
