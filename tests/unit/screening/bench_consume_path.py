"""Micro-benchmark of the consume path's own work, with tracing off and on.

``python -m tests.unit.screening.bench_consume_path [RECORDS] [--tracing]``: the real
:class:`ShipmentConsumer` over in-memory topics and a screener that decides at once (the
scenario suite's fakes), so that what is timed is the loop itself — parsing, outputs,
hand-over, commit — where the tracing hooks sit: the worst case for their relative cost.
Prints records per CPU-second of this process (other load on the machine does not count),
the median of seven runs.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from services.common.logging import configure_logging
from services.common.tracing import configure_tracing, shutdown_tracing
from tests.consume_loop_scenarios import MemoryHarness, event_bytes, make_loop, wait_until

BATCH = 500
RUNS = 7


async def _one_run(records: list[bytes]) -> float:
    harness = MemoryHarness()
    loop = make_loop(harness, max_records=BATCH)
    await harness.put(records)
    started = time.process_time()  # CPU time: the machine's other load does not count
    loop.start()
    await wait_until(lambda: harness.commit == len(records), "every batch committed", 600)
    elapsed = time.process_time() - started
    await loop.stop()
    return len(records) / elapsed


def main() -> None:
    count = int(next((a for a in sys.argv[1:] if a.isdigit()), "20000"))
    tracing = "--tracing" in sys.argv
    configure_logging("WARNING", "json")  # the per-batch INFO line is not what is measured
    if tracing:
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        # as in production: spans go through the batch processor (here into memory)
        configure_tracing("bench", environ={}, exporter=InMemorySpanExporter(), batch=True)
    records = [event_bytes(n) for n in range(count)]
    rates = [asyncio.run(_one_run(records)) for _ in range(RUNS)]
    shutdown_tracing()
    print(
        f"tracing {'on' if tracing else 'off'}: {statistics.median(rates):,.0f} records/s"
        f" (runs: {', '.join(f'{r:,.0f}' for r in rates)})"
    )


if __name__ == "__main__":
    main()
