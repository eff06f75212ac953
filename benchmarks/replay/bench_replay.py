"""Replay and what-if throughput on one core: ``make bench-replay``.

The engine benchmark's mix of shipments (about 70 % uncontrolled lines, 1 to 5 lines each, 50
exporters, capped licences) is decided the way the service decides it (a running licence usage),
each decision kept as the audit store keeps it (canonical JSON) and as the ledger keeps it (the
published JSON). Then, timed: ``lodestone audit replay``'s work on every decision, and
``lodestone whatif``'s work on every shipment under a draft that ends the October 2025 package's
suspension on 2026-01-31 (the shipments of 2026-03-02 with its items change). The database read
is not included (a cursor over the ledger or the store; see docs/whatif.md).

Usage: ``python -m benchmarks.replay.bench_replay [shipments]`` (default 100,000).
"""

from __future__ import annotations

import gc
import sys
import time
from datetime import UTC, date, datetime

import orjson

from benchmarks.engine.bench_engine import licences, make_events
from schemas import ShipmentEvent
from services.audit.canonical import canonical_text
from services.audit.replay import Replayer, ReplaySummary, catalogues_by_version
from services.screening.catalogue import load_bundled_catalogue, parse_catalogue_yaml
from services.screening.engine import decide
from services.screening.running_usage import RunningUsage
from services.screening.whatif import RecordedShipment, WhatIf

DRAFT_END = "2026-01-31"
#: Events per timed slice.
SLICE = 500
#: The event JSON parse on the reference machine when quiet (docs/engine.md).
QUIET_PARSE_US = 48.7


def draft_yaml() -> str:
    from importlib import resources

    text = (
        resources.files("services.screening.catalogue.data")
        .joinpath("cn-mineral-controls.yaml")
        .read_text(encoding="utf-8")
    )
    old = 'oct2025_suspension_end: &oct2025_end "2026-11-10"'
    if old not in text:
        raise SystemExit("the bundled catalogue no longer names the October 2025 suspension end")
    return text.replace(old, f'oct2025_suspension_end: &oct2025_end "{DRAFT_END}"')


def main(count: int) -> None:
    catalogue = load_bundled_catalogue()
    held = licences()
    usage = RunningUsage(held)
    now = datetime.now(UTC)
    stored: list[str] = []
    ledger: list[RecordedShipment] = []
    started = time.perf_counter()
    for event in make_events(count):
        decision = decide(
            event, catalogue, held, usage.usage_for(event.shipment_id), decided_at=now
        )
        usage.apply(decision)
        published = decision.model_dump_json()
        stored.append(canonical_text(orjson.loads(published)))
        ledger.append(
            RecordedShipment(
                event.shipment_id, event.exporter.id, event.ship_date, False, published
            )
        )
    print(f"prepared {count:,} decisions in {time.perf_counter() - started:.1f} s", flush=True)

    found, _ = catalogues_by_version([catalogue.to_wire()])
    replayer = Replayer(found)
    summary = ReplaySummary()
    run = WhatIf(parse_catalogue_yaml(draft_yaml(), "draft"), today=date(2026, 1, 1))
    events = [orjson.dumps(orjson.loads(r)["evidence"]["event"]) for r in stored]
    cpu = {"parse": 0.0, "replay": 0.0, "whatif": 0.0}
    wall = {"replay": 0.0, "whatif": 0.0}
    gc.collect()
    # slices timed back to back: a noisy neighbour slows the three alike (see bench_engine)
    for first in range(0, count, SLICE):
        last = first + SLICE
        started = time.process_time()
        for payload in events[first:last]:
            ShipmentEvent.model_validate_json(payload)
        cpu["parse"] += time.process_time() - started
        started, clock = time.process_time(), time.perf_counter()
        for record in stored[first:last]:
            summary.add(replayer.replay(record))
        cpu["replay"] += time.process_time() - started
        wall["replay"] += time.perf_counter() - clock
        started, clock = time.process_time(), time.perf_counter()
        for shipment in ledger[first:last]:
            run.add(shipment)
        cpu["whatif"] += time.process_time() - started
        wall["whatif"] += time.perf_counter() - clock
    report = run.report
    per = {k: 1e6 * v / count for k, v in cpu.items()}
    print(f"event JSON parse (baseline): {per['parse']:.1f} µs CPU per event", flush=True)
    for name, done in (("replay", summary.replayed), ("whatif", report.considered)):
        print(
            f"{name}: {done:,} in {wall[name]:.2f} s wall, {cpu[name]:.2f} s CPU ="
            f" {done / cpu[name]:,.0f}/s of one core ({per[name]:.1f} µs,"
            f" {per[name] / per['parse']:.2f}x the parse; at the quiet machine's parse of"
            f" {QUIET_PARSE_US} µs: {1e6 / (QUIET_PARSE_US * per[name] / per['parse']):,.0f}/s)",
            flush=True,
        )
    print(
        f"replay mismatches: {len(summary.failures)}; whatif: {report.shipments_changed:,}"
        f" shipments and {len(report.changes):,} lines change; lines by measure:"
        f" { {m: c.lines for m, c in sorted(report.by_measure.items())} }",
        flush=True,
    )
    if summary.failures or report.unreadable:
        raise SystemExit(1)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
