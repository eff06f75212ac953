"""Throughput of the pure screening engine: ``make bench-engine``.

A realistic mix (about 70 % uncontrolled lines, 1 to 5 lines per shipment), decided with the
bundled catalogue and with a catalogue ten times its size (synthetic extra measures). Reports
shipments/s and the ratio of time per shipment between the two catalogues.
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import UTC, datetime
from typing import Any

from schemas import License, ShipmentEvent
from services.screening.catalogue import Catalogue, load_bundled_catalogue
from services.screening.engine import LicenceUsage, decide

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
        events.append(
            ShipmentEvent.model_validate(
                {
                    "event_id": f"E{n}",
                    "event_type": "shipment.declared",
                    "occurred_at": "2026-03-01T08:15:00+08:00",
                    "shipment_id": f"S{n}",
                    "ship_date": rng.choice(["2025-06-01", "2026-03-02", "2026-11-29"]),
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


def run(catalogue: Catalogue, events: list[ShipmentEvent], held: list[License]) -> float:
    """Seconds per shipment (best of three passes)."""
    usage = LicenceUsage.empty()
    now = datetime.now(UTC)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for shipment in events:
            decide(shipment, catalogue, held, usage, decided_at=now, include_evidence=False)
        best = min(best, (time.perf_counter() - start) / len(events))
    return best


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    events, held = make_events(count), licences()
    base = load_bundled_catalogue()
    big = scaled(base, 10)
    for cat in (base, big):  # build the indexes outside the timed passes
        run(cat, events[:100], held)
    lines = sum(len(e.lines) for e in events) / len(events)
    t_base, t_big = run(base, events, held), run(big, events, held)
    items = sum(len(m.items) for m in base.measures), sum(len(m.items) for m in big.measures)
    print(f"shipments: {count}, mean lines/shipment: {lines:.2f}")
    print(
        f"catalogue  1x ({items[0]:>4} items): {1 / t_base:>9,.0f} shipments/s"
        f"  {t_base * 1e6:6.1f} us/shipment"
    )
    print(
        f"catalogue 10x ({items[1]:>4} items): {1 / t_big:>9,.0f} shipments/s"
        f"  {t_big * 1e6:6.1f} us/shipment"
    )
    print(f"ratio 10x/1x time per shipment: {t_big / t_base:.2f} (target <= 1.5)")
    print(f"ratio 1x throughput / 20,000 target: {1 / t_base / 20_000:.2f}")
    payloads = [e.model_dump_json().encode() for e in events]
    start = time.perf_counter()
    for payload in payloads:
        ShipmentEvent.model_validate_json(payload)
    t_parse = (time.perf_counter() - start) / len(payloads)
    start = time.perf_counter()
    for _ in range(2000):
        sum(range(1000))
    t_cpu = (time.perf_counter() - start) / 2000
    print(
        f"baseline: parsing the same events from JSON {t_parse * 1e6:.1f} us/event;"
        f" engine/parse ratio {t_base / t_parse:.2f}"
    )
    print(
        f"calibration: sum(range(1000)) {t_cpu * 1e6:.1f} us (about 9 us on a current desktop"
        f" core); engine time in those units {t_base / t_cpu:.1f}"
    )


if __name__ == "__main__":
    main()
