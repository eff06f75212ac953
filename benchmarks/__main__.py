"""``python -m benchmarks``: run the end-to-end benchmark against the running local runtime.

Expects the ``LODESTONE_…`` settings in the environment (``make bench`` runs it under
``python -m deploy.local run``, which starts the runtime when needed).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks import report
from benchmarks.run import Bench, BenchConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--events", type=int, default=20_000, help="throughput backlog size")
    parser.add_argument(
        "--warmup", type=int, default=10_000, help="unmeasured events first (0: none)"
    )
    parser.add_argument(
        "--screening-instances",
        type=int,
        default=1,
        help="screening processes in one consumer group (the passthrough stays one process)",
    )
    parser.add_argument(
        "--audit-instances",
        type=int,
        default=1,
        help="audit processes in one consumer group (they share the decisions' partitions)",
    )
    parser.add_argument("--rates", default="200,1000,5000", help="offered rates, events/s")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per rate")
    parser.add_argument(
        "--profile", type=Path, default=None, help="profile screening into this .pyisession"
    )
    parser.add_argument("--out", type=Path, default=Path(".bench/results.json"))
    args = parser.parse_args(argv)
    if "LODESTONE_KAFKA_BOOTSTRAP" not in os.environ:
        print("run under `python -m deploy.local run --` (or `make bench`)", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.ERROR)
    console = Console(stderr=True)
    config = BenchConfig(
        throughput_events=args.events,
        warmup_events=args.warmup,
        screening_instances=args.screening_instances,
        audit_instances=args.audit_instances,
        rates=tuple(int(r) for r in args.rates.split(",") if r),
        duration_s=args.duration,
        profile=args.profile,
    )
    base_env = {k: v for k, v in os.environ.items() if k.startswith("LODESTONE_")}

    async def run() -> dict[str, Any]:
        bench = Bench(base_env, config, lambda m: console.print(f"[dim]bench[/dim] {m}"))
        task = asyncio.current_task()
        assert task is not None
        # SIGTERM (a timeout, Ctrl-C in make) cancels the run, so the services are stopped and
        # the run's topics deleted on the way out.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await bench.run()

    results = report.finish(asyncio.run(run()))
    report.write(results, args.out)
    report.print_table(results, Console(width=120))
    console.print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
