"""What must hold after any fault: the checks behind every reliability test.

* every event decided, with exactly one effective decision (a redelivered event re-emits the
  stored decision, never a second one);
* exactly one audit record per decision, and nothing audited that was not decided;
* the licence ledger agrees with the decisions: the latest decision of each shipment is the head
  of its ``supersedes`` chain, consumption is exactly what those decisions consume, caps hold;
* ``lodestone audit verify --full`` passes;
* the dead-letter topic holds exactly the poison records, byte for byte.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from decimal import Decimal

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from benchmarks.stream import prepare_licences
from schemas import DeadLetter, Decision, LicenseKind, Unit, convert
from services.common.kafka_security import kafka_client_options
from services.screening.running_usage import consumption_of
from tests.chaos.harness import Outcome


def check_decisions(o: Outcome) -> list[str]:
    problems = []
    if o.undecided:
        screening = o.pipeline.screening
        problems.append(
            f"{o.undecided} of {len(o.event_ids)} events never decided; screening alive"
            f" {screening.alive()}, /healthz {screening.probe('/healthz')},"
            f" /readyz {screening.probe('/readyz')}, log {screening.log_path}"
        )
    several = {e: ids for e in o.event_ids if len(ids := o.collector.decision_of.get(e, set())) > 1}
    if several:
        problems.append(
            f"{len(several)} events with several decisions, e.g. {next(iter(several.items()))}"
        )
    return problems


async def check_audit(o: Outcome) -> list[str]:
    conn = await asyncpg.connect(o.pipeline.dsn("auditor"))
    try:
        rows = await conn.fetch(
            "SELECT decision_id, count(*) AS n FROM audit.decisions_v WHERE source_topic = $1"
            " GROUP BY decision_id",
            o.pipeline.topics.decisions,
        )
    finally:
        await conn.close()
    audited = {r["decision_id"]: r["n"] for r in rows}
    problems = []
    decided = o.collector.decision_ids
    if missing := decided - audited.keys():
        problems.append(f"{len(missing)} decisions not audited, e.g. {sorted(missing)[:3]}")
    if extra := audited.keys() - decided:
        problems.append(f"{len(extra)} audit records of no decision, e.g. {sorted(extra)[:3]}")
    if twice := [d for d, n in audited.items() if n != 1]:
        problems.append(f"{len(twice)} decisions audited more than once")
    return problems


def _heads(decisions: list[Decision]) -> set[str]:
    superseded = {d.supersedes for d in decisions if d.supersedes}
    return {d.decision_id for d in decisions} - superseded


async def check_ledger(o: Outcome) -> list[str]:
    by_shipment: dict[str, list[Decision]] = defaultdict(list)
    for payload in o.collector.payloads.values():
        decision = Decision.model_validate_json(payload)
        by_shipment[decision.shipment_id].append(decision)
    conn = await asyncpg.connect(o.pipeline.dsn("admin"))
    try:
        shipments = await conn.fetch(
            "SELECT shipment_id, latest_decision_id FROM screening.shipments"
            " WHERE source_topic = $1",
            o.pipeline.topics.shipments,
        )
        ids = [r["shipment_id"] for r in shipments]
        stored = await conn.fetch(
            "SELECT decision_id, published, trigger FROM screening.decisions"
            " WHERE shipment_id = ANY($1::text[])",
            ids,
        )
        consumption = await conn.fetch(
            "SELECT license_id, shipment_id, line_no, amount, unit, single_use"
            " FROM screening.consumption WHERE shipment_id = ANY($1::text[])",
            ids,
        )
    finally:
        await conn.close()
    problems = []
    latest = {r["shipment_id"]: r["latest_decision_id"] for r in shipments}
    if latest.keys() != by_shipment.keys():
        problems.append(f"ledger has {len(latest)} shipments, decisions name {len(by_shipment)}")
    expected: set[tuple[str, str, int, Decimal, str]] = set()
    for shipment_id, decisions in by_shipment.items():
        heads = _heads(decisions)
        if heads != {latest.get(shipment_id)}:
            problems.append(
                f"{shipment_id}: ledger latest {latest.get(shipment_id)}, heads {heads}"
            )
            continue
        head = next(d for d in decisions if d.decision_id in heads)
        for licence_id, lines in consumption_of(head).items():
            expected |= {(licence_id, shipment_id, n, a, u.value) for n, a, u in lines}
    found = {
        (r["license_id"], r["shipment_id"], r["line_no"], r["amount"], r["unit"])
        for r in consumption
    }
    if found != expected:
        problems.append(
            f"consumption differs: {len(found - expected)} extra, {len(expected - found)} missing"
        )
    # A shipment event's decision is covered by its offset (ADR 0025); every one of them must be
    # on the topic, which the next check asks. Re-screening decisions carry a mark of their own.
    rescreens = [r for r in stored if r["trigger"] != "shipment_event"]
    if unpublished := [r["decision_id"] for r in rescreens if not r["published"]]:
        problems.append(f"{len(unpublished)} re-screening decisions never marked published")
    if {r["decision_id"] for r in stored} != o.collector.decision_ids:
        problems.append("stored decisions differ from the decisions on the topic")
    problems += _caps(o, consumption)
    return problems


def _caps(o: Outcome, consumption: list[asyncpg.Record]) -> list[str]:
    licences = {lic.license_id: lic for lic in prepare_licences(o.pipeline.tag)}
    used: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for row in consumption:
        used[row["license_id"]].append(row)
    problems = []
    for licence_id, rows in used.items():
        licence = licences[licence_id]
        if licence.kind is LicenseKind.SINGLE and len({r["shipment_id"] for r in rows}) > 1:
            problems.append(f"single licence {licence_id} used by several shipments")
        cap = licence.max_quantity
        if cap is not None:
            total = sum((convert(r["amount"], Unit(r["unit"]), cap.unit) for r in rows), Decimal(0))
            if total > cap.amount:
                problems.append(
                    f"licence {licence_id}: {total} consumed over a cap of {cap.amount}"
                )
    return problems


async def check_chain(o: Outcome) -> list[str]:
    done = await o.pipeline.verify_audit()
    if done.returncode != 0:
        return [f"audit verify failed: {done.stdout[-500:]}{done.stderr[-500:]}"]
    return []


async def dead_letters(o: Outcome) -> list[DeadLetter]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=o.pipeline.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **kafka_client_options(),
    )
    await consumer.start()
    try:
        tp = TopicPartition(o.pipeline.topics.dead_letters, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        letters: list[DeadLetter] = []
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=1000)
            letters += [DeadLetter.model_validate_json(r.value) for r in batch.get(tp, [])]
        return letters
    finally:
        await consumer.stop()


async def check_dead_letters(o: Outcome) -> list[str]:
    letters = await dead_letters(o)
    seen: dict[tuple[int, int], bytes | None] = {}
    for letter in letters:
        payload = None if letter.payload_base64 is None else base64.b64decode(letter.payload_base64)
        seen[(letter.source.partition, letter.source.offset)] = payload
    problems = []
    if seen != o.poison:
        problems.append(
            f"dead letters {sorted(seen)} differ from the poison records {sorted(o.poison)}"
        )
    if len(letters) != len(seen):
        problems.append(f"{len(letters) - len(seen)} poison records dead-lettered twice")
    return problems


async def all_problems(o: Outcome) -> list[str]:
    return [
        *check_decisions(o),
        *await check_audit(o),
        *await check_ledger(o),
        *await check_chain(o),
        *await check_dead_letters(o),
    ]
