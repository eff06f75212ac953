"""The benchmark run: throughput, audit persistence, latency at fixed rates, then baselines."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from benchmarks.baselines import passthrough, raw_copy
from benchmarks.cpu import CpuMeter, usage
from benchmarks.observe import AuditPoller, DecisionCollector
from benchmarks.pipeline import Pipeline
from benchmarks.stats import rate_per_s, summary
from benchmarks.stream import Prepared, Published, new_producer, prepare_events, prepare_licences
from benchmarks.stream import publish as publish_items
from services.common.gc_tuning import freeze_startup_objects

Say = Callable[[str], None]


@dataclass(frozen=True)
class BenchConfig:
    throughput_events: int = 20_000
    warmup_events: int = 10_000
    """Sent through the whole pipeline at ``warmup_rate`` first and not measured: a broker
    started just before spends tens of seconds of CPU compiling its hot paths (JIT)."""
    warmup_rate: int = 1_000
    rates: tuple[int, ...] = (200, 1_000, 5_000)
    duration_s: float = 10.0
    drain_timeout_s: float = 240.0
    partitions: int = 6
    seed: int = 7
    workdir: Path = Path(".bench/runs")
    profile: Path | None = None
    """Run screening under pyinstrument and write its session here (``.pyisession``)."""
    screening_instances: int = 1
    audit_instances: int = 1


@dataclass
class BenchState:
    """Everything measured, kept per event id so that totals are exact."""

    published: Published = field(default_factory=lambda: Published({}))
    results: dict[str, Any] = field(default_factory=dict)
    latency: dict[str, Any] = field(default_factory=dict)


class Bench:
    producer: AIOKafkaProducer

    def __init__(self, base_env: dict[str, str], config: BenchConfig, say: Say) -> None:
        self.config = config
        self.say = say
        wrapper = None
        if config.profile is not None:
            pyinstrument = str(Path(sys.executable).with_name("pyinstrument"))
            wrapper = [pyinstrument, "-r", "pyisession", "-o", str(config.profile.resolve())]
        self.pipeline = Pipeline(
            base_env,
            config.workdir,
            screening_wrapper=wrapper,
            screening_instances=config.screening_instances,
            audit_instances=config.audit_instances,
        )
        self.collector = DecisionCollector(
            self.pipeline.bootstrap, self.pipeline.topics.decisions, config.partitions
        )
        self.poller = AuditPoller(self.pipeline.dsn("auditor"), self.pipeline.topics.decisions)
        self.cpu = CpuMeter(
            {
                "screening": lambda: self.pipeline.screening.pids,
                "audit": lambda: self.pipeline.audit.pids,
            }
        )
        self.state = BenchState()

    def _events(self, n: int, phase: str) -> list[Prepared]:
        started = time.perf_counter()
        items = prepare_events(n, f"{self.pipeline.tag}-{phase}", seed=self.config.seed)
        self.say(f"prepared {n} events for {phase} in {time.perf_counter() - started:.1f} s")
        return items

    async def run(self) -> dict[str, Any]:
        p = self.pipeline
        await p.create(self.config.partitions)
        await p.publish_reference(prepare_licences(p.tag))
        self.producer = new_producer(p.bootstrap)
        await self.producer.start()
        await self.collector.start()
        await self.poller.start()
        try:
            await self._warm_up()
            bulk = self._events(self.config.throughput_events, "throughput")
            await self._audit_rate(await self._throughput(bulk))
            for rate in self.config.rates:
                await self._latency(rate)
            await self._settle_counts()
            await self._shutdown_services()
            await self._baselines(bulk)
            await self._verify()
        finally:
            await self.producer.stop()
            await self.collector.stop()
            await self.poller.stop()
            await p.close(delete=True)
        self.state.results["latency"] = self.state.latency
        self.state.results["run_tag"] = p.tag
        self.state.results["screening_instances"] = self.config.screening_instances
        self.state.results["audit_instances"] = self.config.audit_instances
        return self.state.results

    async def _warm_up(self) -> None:
        """Both services through a stream at a fixed rate, then stopped; nothing is measured.

        Its events count in the totals (every one must be decided and audited like any other).
        """
        n = self.config.warmup_events
        if n <= 0:
            return
        p = self.pipeline
        items = self._events(n, "warmup")
        p.screening.start()
        p.audit.start()
        await p.screening.wait_ready(120)
        await p.audit.wait_ready(120)
        self.say(f"warming up: {n} events at {self.config.warmup_rate}/s")
        await publish_items(
            self.producer, p.topics.shipments, items, self.config.warmup_rate, self.state.published
        )
        ids = {i.event_id for i in items if i.event_id}
        await self.collector.wait_for(ids, self.config.drain_timeout_s)
        decisions = self.collector.decisions_of(ids)
        await self.poller.wait_for(decisions, self.config.drain_timeout_s)
        await self._shutdown_services()

    async def _throughput(self, items: list[Prepared]) -> set[str]:
        """Screening on a backlog of ``items``; returns their event ids."""
        p, r = self.pipeline, self.state.results
        await publish_items(self.producer, p.topics.shipments, items, None, self.state.published)
        self.say(f"published {len(items)} events; starting screening on the backlog")
        p.screening.start()
        ready = await p.screening.wait_ready(120)
        self.say(f"screening ready after {ready:.1f} s")
        ids = {i.event_id for i in items if i.event_id}
        before = self.cpu.sample()
        left = await self.collector.wait_for(ids, self.config.drain_timeout_s)
        after = self.cpu.sample()
        r["throughput_cpu"] = usage(before, after, len(ids))
        r["throughput_cpu_other"] = self.cpu.busiest_others(before, after)
        times = [self.collector.first_at_ms[e] for e in ids if e in self.collector.first_at_ms]
        r["screening_events_per_s"] = round(rate_per_s(times), 1)
        r["throughput_events"] = len(ids)
        r["throughput_undecided"] = left
        self.say(f"screening: {r['screening_events_per_s']} events/s ({left} undecided)")
        return ids

    async def _audit_rate(self, event_ids: set[str]) -> None:
        """The audit service on the backlog of the decisions of ``event_ids``."""
        p, r = self.pipeline, self.state.results
        decisions = self.collector.decisions_of(event_ids)
        p.audit.start()
        await p.audit.wait_ready(120)
        left = await self.poller.wait_for(decisions, self.config.drain_timeout_s)
        times = [self.poller.seen_at_ms[d] for d in decisions if d in self.poller.seen_at_ms]
        r["audit_records_per_s"] = round(rate_per_s(times), 1)
        r["audit_backlog_records"] = len(decisions)
        self.say(f"audit: {r['audit_records_per_s']} records/s ({left} not audited)")

    async def _latency(self, rate: int) -> None:
        p = self.pipeline
        n = int(rate * self.config.duration_s)
        items = self._events(n, f"r{rate}")
        # Everything kept so far (ids seen, prepared events) out of the collector's full passes:
        # a pause between stamping a record's CreateTime and sending it would count as latency.
        freeze_startup_objects()
        self.say(f"offering {rate} events/s for {self.config.duration_s:.0f} s")
        started = time.monotonic()
        cpu_before = self.cpu.sample()
        before = dict(self.state.published.at_ms)
        await publish_items(self.producer, p.topics.shipments, items, rate, self.state.published)
        offered = n / max(time.monotonic() - started, 1e-9)
        at = {e: t for e, t in self.state.published.at_ms.items() if e not in before}
        left = await self.collector.wait_for(at, self.config.drain_timeout_s)
        decision_ms = [self.collector.first_at_ms[e] - t for e, t in at.items()
                       if e in self.collector.first_at_ms]  # fmt: skip
        first_decision = {
            e: min(self.collector.decision_of[e]) for e in at if e in self.collector.decision_of
        }
        audit_left = await self.poller.wait_for(set(first_decision.values()), 60)
        cpu_after = self.cpu.sample()
        cpu = usage(cpu_before, cpu_after, len(at))
        audit_ms = [self.poller.seen_at_ms[d] - at[e] for e, d in first_decision.items()
                    if d in self.poller.seen_at_ms]  # fmt: skip
        self.state.latency[str(rate)] = {
            "offered_per_s": round(offered, 1),
            "events": len(at),
            "undecided": left,
            "not_audited": audit_left,
            "decision_ms": summary(decision_ms),
            "audit_ms": summary(audit_ms),
            "cpu": cpu,
            "cpu_other_busiest": self.cpu.busiest_others(cpu_before, cpu_after),
        }
        d = self.state.latency[str(rate)]["decision_ms"]
        self.say(f"  at {rate}/s: decision p50 {d['p50']} p99 {d['p99']} ms")
        if rate == 1_000:
            self.state.results["e2e_decision_p99_ms_at_1000"] = d["p99"]

    async def _settle_counts(self) -> None:
        """Exact totals: every published event decided, every decision audited (or not)."""
        r, c = self.state.results, self.collector
        events = set(self.state.published.at_ms)
        await c.wait_for(events, 30)
        decisions = c.decisions_of(events)
        await self.poller.wait_for(decisions, 60)
        r["records_published"] = self.state.published.records
        r["events_published"] = len(events)
        r["events_decided"] = sum(1 for e in events if e in c.first_at_ms)
        r["events_with_one_decision"] = sum(1 for e in events if len(c.decision_of.get(e, ())) == 1)
        r["decision_records"] = c.records
        r["decisions"] = len(decisions)
        r["events_audited"] = sum(1 for d in decisions if d in self.poller.seen_at_ms)
        r["audit_duplicates"] = sum(1 for n in self.poller.copies.values() if n > 1)

    async def _shutdown_services(self) -> None:
        for service in (self.pipeline.screening, self.pipeline.audit):
            code = await asyncio.to_thread(service.stop, 30.0)
            self.state.results[f"{service.name}_exit_code"] = code

    async def _baselines(self, bulk: list[Prepared]) -> None:
        r, p = self.state.results, self.pipeline
        self.say("baseline: raw aiokafka consume→produce passthrough of the same bytes")
        r["passthrough_events_per_s"] = round(await passthrough(p.bootstrap, bulk), 1)
        self.say("baseline: raw COPY of the same audit rows")
        rows, per_s = await raw_copy(p.dsn("admin"), p.topics.decisions)
        r["raw_copy_rows"] = rows
        r["raw_copy_records_per_s"] = round(per_s, 1)

    async def _verify(self) -> None:
        done = await self.pipeline.verify_audit()
        self.state.results["audit_verify_ok"] = done.returncode == 0
        self.state.results["audit_verify"] = (done.stdout.strip() or done.stderr.strip())[-300:]
