"""Benchmark: screening throughput and latency next to a raw aiokafka passthrough of the same bytes.

``python -m tests.integration.screening.bench_screening [N] [--code-root DIR]`` on the local
runtime (``eval "$(python -m deploy.local up)"`` first). In one run, on fresh topics with 6
partitions:

1. passthrough: a raw aiokafka consume→produce relay of the N event records (getmany 500, send
   without awaiting, await the acks, commit; ``benchmarks.baselines.relay``, the one `make bench`
   uses) — what the machine does with no Lodestone code;
2. throughput: ``lodestone screening run`` (a subprocess, code from ``--code-root``: compare two
   checkouts back to back) drains a backlog of the same N events;
3. latency: events offered at ``--rate`` per second for ``--seconds``; publish → decision
   appended (the decisions topic uses ``LogAppendTime``), p50/p99.

Rates are taken from broker timestamps (first to last record appended), so start-up is excluded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from benchmarks.baselines import relay
from schemas import ShipmentEvent
from services.common.kafka_security import kafka_client_options
from services.common.settings import Settings
from services.screening.catalogue import load_bundled_catalogue
from services.screening.publish import publish_catalogue, publish_licences
from services.screening.sample_stream import generate_events, sample_licences

PARTITIONS = 6
_NS = uuid.UUID("0c5d7e2a-4b1f-4e8a-9f31-2d6b8c0a7e55")
Record = tuple[bytes, bytes, str]


def _events(n: int, tag: str, seed: int) -> list[Record]:
    """The sample mix with run-unique ids (repeats in the stream stay repeats)."""
    out: list[Record] = []
    for e in generate_events(n, seed=seed):
        t: ShipmentEvent = e.model_copy(
            update={
                "event_id": str(uuid.uuid5(_NS, f"{tag}:{e.event_id}")),
                "shipment_id": f"{e.shipment_id}-{tag}",
            }
        )
        out.append((t.exporter.id.encode(), t.model_dump_json().encode(), t.event_id))
    return out


async def _topics(bootstrap: str, names: dict[str, int], append_time: set[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_client_options())
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(
                    name,
                    parts,
                    1,
                    topic_configs={"message.timestamp.type": "LogAppendTime"}
                    if name in append_time
                    else {},
                )
                for name, parts in names.items()
            ]
        )
    finally:
        await admin.close()


async def _publish(
    bootstrap: str, topic: str, records: list[Record], rate: float | None = None
) -> dict[str, float]:
    """Publish; returns event id → publish time (ms). Paced at ``rate`` per second if given."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, acks="all", **kafka_client_options()
    )
    await producer.start()
    sent_at: dict[str, float] = {}
    try:
        started, futures = time.monotonic(), []
        for i, (key, value, event_id) in enumerate(records):
            if rate is not None:
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            sent_at.setdefault(event_id, time.time() * 1000)
            futures.append(await producer.send(topic, value, key=key))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent_at


async def _read_all(
    bootstrap: str, topic: str, expected: int, timeout_s: float
) -> list[tuple[int, bytes]]:
    """(timestamp ms, value) of every record on ``topic`` once ``expected`` are there."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", **kafka_client_options()
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(parts)
        out: list[tuple[int, bytes]] = []
        deadline = time.monotonic() + timeout_s
        while len(out) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            out += [(r.timestamp, r.value) for rs in batch.values() for r in rs]
        return out
    finally:
        await consumer.stop()


def _rate(times: list[int]) -> float:
    span = (max(times) - min(times)) / 1000 if len(times) > 1 else 0
    return (len(times) - 1) / span if span > 0 else 0.0


async def passthrough(bootstrap: str, tag: str, records: list[Record]) -> float:
    source, sink = f"bench.{tag}.raw-in", f"bench.{tag}.raw-out"
    await _topics(bootstrap, {source: PARTITIONS, sink: PARTITIONS}, {sink})
    await _publish(bootstrap, source, records)
    relayed = await relay(bootstrap, source, sink, len(records), timeout_s=600.0)
    return _rate([t for t, _ in await _read_all(bootstrap, sink, relayed, 60)])


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1) if ordered else -1


async def main(n: int, rate: int, seconds: float, code_root: Path | None) -> dict[str, object]:
    s = Settings()
    tag = uuid.uuid4().hex[:8]
    records = _events(n, f"{tag}-t", seed=7)
    result: dict[str, object] = {"events": n, "code_root": str(code_root or "")}
    relay = round(await passthrough(s.kafka_bootstrap, tag, records), 1)
    result["passthrough_per_s"] = relay
    topics = {k: f"bench.{tag}.{k}" for k in ("shipments", "decisions", "dlq", "lic", "ctl")}
    await _topics(
        s.kafka_bootstrap,
        {topics["shipments"]: PARTITIONS, topics["decisions"]: PARTITIONS}
        | {topics[k]: 1 for k in ("dlq", "lic", "ctl")},
        {topics["decisions"]},
    )
    await publish_catalogue(s.kafka_bootstrap, topics["ctl"], load_bundled_catalogue())
    licences = [  # fresh ids: the ledger is shared with earlier runs
        lic.model_copy(update={"license_id": f"{lic.license_id}-{tag}"})
        for lic in sample_licences()
    ]
    await publish_licences(s.kafka_bootstrap, topics["lic"], licences)
    await _publish(s.kafka_bootstrap, topics["shipments"], records)
    env = os.environ | {
        "LODESTONE_TOPIC_SHIPMENTS": topics["shipments"],
        "LODESTONE_TOPIC_DECISIONS": topics["decisions"],
        "LODESTONE_TOPIC_DEAD_LETTERS": topics["dlq"],
        "LODESTONE_TOPIC_LICENSES": topics["lic"],
        "LODESTONE_TOPIC_CONTROLS": topics["ctl"],
        "LODESTONE_SCREENING_GROUP_ID": f"bench-screening-{tag}",
        "LODESTONE_SCREENING_METRICS_PORT": "0",
        "LODESTONE_LOG_LEVEL": "WARNING",
    }
    if code_root is not None:
        env["PYTHONPATH"] = str(code_root)
    service = subprocess.Popen(  # noqa: ASYNC220
        [str(Path(sys.executable).parent / "lodestone"), "screening", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        cwd=code_root,
    )
    try:
        unique = len({e for _, _, e in records})
        out = await _read_all(s.kafka_bootstrap, topics["decisions"], unique, 600)
        screening = round(_rate([t for t, _ in out]), 1)
        result["screening_per_s"] = screening
        result["decided"] = len({json.loads(v)["event_id"] for _, v in out})
        result["ratio_to_passthrough"] = round(screening / relay, 3) if relay else None
        offered = _events(int(rate * seconds), f"{tag}-r", seed=11)
        sent = await _publish(s.kafka_bootstrap, topics["shipments"], offered, rate)
        want = len(out) + len(offered)
        later = await _read_all(s.kafka_bootstrap, topics["decisions"], want, 120)
        first: dict[str, int] = {}
        for ts, value in later:
            first.setdefault(json.loads(value)["event_id"], ts)
        lat = [first[e] - at for e, at in sent.items() if e in first]
        result[f"latency_ms_at_{rate}"] = {"p50": _p(lat, 0.5), "p99": _p(lat, 0.99), "n": len(lat)}
    finally:
        service.terminate()
        await asyncio.to_thread(service.wait, 30)
        admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap, **kafka_client_options())
        await admin.start()
        try:
            await admin.delete_topics(
                [*topics.values(), f"bench.{tag}.raw-in", f"bench.{tag}.raw-out"]
            )
        finally:
            await admin.close()
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("events", type=int, nargs="?", default=5000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--code-root", type=Path, default=None)
    a = parser.parse_args()
    print(json.dumps(asyncio.run(main(a.events, a.rate, a.seconds, a.code_root)), indent=2))
