"""The consume loop's behaviours (ADR 0025), written once and run twice.

:class:`ConsumeLoopScenarios` holds the scenarios; a test module subclasses it and provides a
``loop_harness`` fixture: :class:`MemoryHarness` (a fake consumer and topics, for the unit tests)
or the broker harness of ``tests/integration/screening/test_consume_loop.py`` (the real broker).
Either way the loop under test is the real :class:`ShipmentConsumer`; what varies is where the
records come from and go to. The screener's batch path is a fake in both (these scenarios are
about delivery, acknowledgements and offsets, not about decisions); its fallback, the same path
one event at a time, is the real one.

The failures are scripted at the publisher (:class:`ScriptedPublisher`, around either harness's
publisher): an acknowledgement that fails after the record was written, as when the broker wrote
it but the answer was lost, or one held back until the scenario lets it go.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

from schemas import DeadLetter, EndUse, EventType, Party, ShipmentEvent
from services.screening.config import Topics
from services.screening.consumer import ShipmentConsumer
from services.screening.metrics import ScreeningMetrics
from services.screening.publish import Publisher
from services.screening.screener import Item, Result, Screened, Screener

PARTITION = 0


# --- what a harness provides ----------------------------------------------------------------


class LoopHarness(Protocol):
    """Where the loop reads from and writes to: one shipments partition, two output topics."""

    topics: Topics

    async def put(self, values: Sequence[bytes]) -> None:
        """Append records to the shipments topic (partition 0), in order."""

    def consumer(self) -> Any:
        """The consumer the loop reads with (assigned to partition 0, nothing committed yet)."""

    def publisher(self) -> Publisher:
        """The publisher the loop's records go through (to the output topics)."""

    async def committed(self) -> int | None:
        """The offset committed for partition 0 (``None``: nothing committed)."""

    async def read(self, topic: str, count: int) -> list[tuple[bytes | None, bytes]]:
        """The records of ``topic``, once ``count`` are there (or time ran out waiting)."""


# --- the scripted parts, shared by both harnesses ---------------------------------------------


class RecordingConsumer:
    """Delegates to a consumer and records every commit, in order."""

    def __init__(self, inner: Any, timeline: list[tuple[str, str]]) -> None:
        self._inner = inner
        self._timeline = timeline
        self.commits: list[int] = []

    async def getmany(self, *, timeout_ms: int, max_records: int) -> Any:
        return await self._inner.getmany(timeout_ms=timeout_ms, max_records=max_records)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        await self._inner.commit(offsets)
        offset = offsets[TopicPartition(_topic_of(offsets), PARTITION)]
        self.commits.append(offset)
        self._timeline.append(("commit", str(offset)))

    def assignment(self) -> Any:
        return self._inner.assignment()

    def highwater(self, tp: TopicPartition) -> int | None:
        value: int | None = self._inner.highwater(tp)
        return value

    async def position(self, tp: TopicPartition) -> int:
        value: int = await self._inner.position(tp)
        return value


def _topic_of(offsets: dict[TopicPartition, int]) -> str:
    (tp,) = offsets
    topic: str = tp.topic
    return topic


@dataclass
class _Rule:
    matches: Callable[[bytes], bool]
    gate: asyncio.Event | None
    fail: bool
    times: int


class ScriptedPublisher:
    """Delegates each send (the record is written), then scripts what its acknowledgement says.

    ``hold(match, gate)``: the acknowledgement of matching records waits for ``gate``;
    ``fail_ack(match, after)``: the next matching record's acknowledgement fails (a transient
    error) once ``after`` is set; ``fail_sends()``: every send raises a transient error.
    ``sent`` lists every hand-over in order; ``on_sent(match)`` is set when one matches.
    """

    def __init__(self, inner: Publisher, timeline: list[tuple[str, str]]) -> None:
        self._inner = inner
        self._timeline = timeline
        self._rules: list[_Rule] = []
        self._watch: list[tuple[Callable[[bytes], bool], asyncio.Event]] = []
        self.sent: list[tuple[str, bytes]] = []
        self.refuse_sends = False

    def hold(self, match: Callable[[bytes], bool], gate: asyncio.Event) -> None:
        self._rules.append(_Rule(match, gate, fail=False, times=-1))

    def fail_ack(self, match: Callable[[bytes], bool], after: asyncio.Event | None) -> None:
        self._rules.append(_Rule(match, after, fail=True, times=1))

    def on_sent(self, match: Callable[[bytes], bool]) -> asyncio.Event:
        event = asyncio.Event()
        self._watch.append((match, event))
        return event

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        correlation_id: str | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> asyncio.Future[Any]:
        if self.refuse_sends:
            raise KafkaConnectionError("scripted: the broker is unreachable")
        ack = await self._inner.send(topic, key, value, correlation_id)
        self.sent.append((topic, value))
        for match, event in self._watch:
            if match(value):
                event.set()
        rule = next((r for r in self._rules if r.times != 0 and r.matches(value)), None)
        if rule is None:
            return self._noted(ack, value)
        if rule.times > 0:
            rule.times -= 1
        return self._noted(asyncio.ensure_future(self._scripted(ack, rule)), value)

    @staticmethod
    async def _scripted(ack: asyncio.Future[Any], rule: _Rule) -> Any:
        result = await ack
        if rule.gate is not None:
            await rule.gate.wait()
        if rule.fail:
            raise KafkaTimeoutError("scripted: the acknowledgement was lost")
        return result

    def _noted(self, ack: asyncio.Future[Any], value: bytes) -> asyncio.Future[Any]:
        def note(done: asyncio.Future[Any]) -> None:
            if not done.cancelled() and done.exception() is None:
                self._timeline.append(("ack", value.decode()))

        ack.add_done_callback(note)
        return ack


class FakeScreener(Screener):
    """The batch path decides every event as ``decision:<event id>``; scriptable failures and
    pauses. The fallback around it (:meth:`Screener.screen_all`) is the real one."""

    def __init__(self) -> None:  # no ledger, no reference data: ``screen`` is replaced
        self.poison: set[str] = set()
        """Event ids that make any batch with them fail as a whole (a defect of the path)."""
        self.transient = False
        """Every batch fails with a transient error (retried by the loop)."""
        self.refuse: set[str] = set()
        """Event ids whose decision fails with a defect (dead-lettered)."""
        self.pause: dict[str, asyncio.Event] = {}
        """Event id → gate: deciding a batch with the event waits for the gate."""
        self.entered: dict[str, asyncio.Event] = {}
        self.attempts = 0

    async def screen(
        self, items: Sequence[Item], timings: dict[str, float] | None = None
    ) -> list[Result]:
        self.attempts += 1
        if self.transient:
            raise KafkaConnectionError("scripted: the database is unreachable")
        events = [item for item in items if isinstance(item, ShipmentEvent)]
        assert len(events) == len(items), "the consume loop hands over shipment events only"
        if any(e.event_id in self.poison for e in events):
            raise ArithmeticError("scripted: the batch as a whole fails")
        for e in events:
            self.entered.setdefault(e.event_id, asyncio.Event()).set()
            if e.event_id in self.pause:
                await self.pause[e.event_id].wait()
        return [
            RuntimeError(f"scripted defect on {e.event_id}")
            if e.event_id in self.refuse
            else Screened(decision_of(e.event_id), e.shipment_id, decision_of(e.event_id), None)
            for e in events
        ]

    def reached(self, event_id: str) -> asyncio.Event:
        return self.entered.setdefault(event_id, asyncio.Event())


def decision_of(event_id: str) -> str:
    return f"decision:{event_id}"


def is_decision_of(event_id: str) -> Callable[[bytes], bool]:
    wanted = decision_of(event_id).encode()
    return lambda value: value == wanted


def shipment_event(n: int) -> ShipmentEvent:
    party = Party(id="CN-LOOP-1", name="Loop Exporter", country="CN")
    return ShipmentEvent(
        event_id=f"loop-event-{n}",
        event_type=EventType.CANCELLED,
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        shipment_id=f"LOOP-{n}",
        ship_date=date(2026, 2, 1),
        exporter=party,
        consignee=party,
        end_user=party,
        end_use=EndUse.CIVIL,
        destination_country="DE",
        lines=[],
    )


def event_bytes(n: int) -> bytes:
    return shipment_event(n).model_dump_json().encode()


async def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.005)


@dataclass
class Loop:
    """A running :class:`ShipmentConsumer` and the scripted parts around it."""

    consumer: ShipmentConsumer
    reader: RecordingConsumer
    publisher: ScriptedPublisher
    screener: FakeScreener
    timeline: list[tuple[str, str]]
    task: asyncio.Task[None] | None = None
    metrics: ScreeningMetrics = field(default_factory=ScreeningMetrics)

    def start(self) -> None:
        self.task = asyncio.create_task(self.consumer.run())

    async def stop(self) -> None:
        self.consumer.request_stop()
        assert self.task is not None
        await asyncio.wait_for(self.task, timeout=30)


def make_loop(harness: LoopHarness, *, max_records: int = 1) -> Loop:
    timeline: list[tuple[str, str]] = []
    reader = RecordingConsumer(harness.consumer(), timeline)
    publisher = ScriptedPublisher(harness.publisher(), timeline)
    screener = FakeScreener()
    metrics = ScreeningMetrics()
    consumer = ShipmentConsumer(
        reader,
        topics=harness.topics,
        screener=screener,
        publisher=publisher,
        metrics=metrics,
        batch_max_records=max_records,
        batch_timeout_ms=20,
        max_delay=0.05,
    )
    return Loop(consumer, reader, publisher, screener, timeline, metrics=metrics)


# --- the scenarios ----------------------------------------------------------------------------


class ConsumeLoopScenarios:
    """Subclass with a ``loop_harness`` fixture (see the module docstring)."""

    async def test_a_failed_ack_resends_its_batch_and_every_later_batch_handed_over(
        self, loop_harness: LoopHarness
    ) -> None:
        await loop_harness.put([event_bytes(1), event_bytes(2)])
        loop = make_loop(loop_harness)
        second_sent = loop.publisher.on_sent(is_decision_of("loop-event-2"))
        # batch 1's ack fails only once batch 2 is in the producer too: both must go again
        loop.publisher.fail_ack(is_decision_of("loop-event-1"), after=second_sent)
        loop.start()
        await wait_until(lambda: loop.reader.commits[-1:] == [2], "both batches are committed")
        await loop.stop()

        decisions = [
            v.decode() for t, v in loop.publisher.sent if t == loop_harness.topics.decisions
        ]
        d1, d2 = decision_of("loop-event-1"), decision_of("loop-event-2")
        assert decisions == [d1, d2, d1, d2]
        assert loop.reader.commits == [1, 2]
        on_topic = [
            v.decode() for _, v in await loop_harness.read(loop_harness.topics.decisions, 4)
        ]
        assert on_topic == [d1, d2, d1, d2]  # the last copy of each decision is in batch order
        assert await loop_harness.committed() == 2

    async def test_offsets_are_committed_in_batch_order(self, loop_harness: LoopHarness) -> None:
        await loop_harness.put([event_bytes(1), event_bytes(2)])
        loop = make_loop(loop_harness)
        second_acked = asyncio.Event()
        loop.publisher.hold(is_decision_of("loop-event-1"), second_acked)
        loop.start()
        d2 = decision_of("loop-event-2")
        await wait_until(lambda: ("ack", d2) in loop.timeline, "batch 2 is acknowledged")
        await asyncio.sleep(0.2)  # time enough for batch 2 to commit, were it allowed to
        assert loop.reader.commits == [], "batch 2 committed before batch 1"
        second_acked.set()
        await wait_until(lambda: len(loop.reader.commits) == 2, "both batches are committed")
        await loop.stop()

        assert loop.reader.commits == [1, 2]
        ack2 = loop.timeline.index(("ack", d2))
        ack1 = loop.timeline.index(("ack", decision_of("loop-event-1")))
        assert ack2 < ack1 < loop.timeline.index(("commit", "1"))
        assert loop.timeline.index(("commit", "1")) < loop.timeline.index(("commit", "2"))
        assert len(loop.publisher.sent) == 2  # an in-order ack needs no resend
        assert await loop_harness.committed() == 2

    async def test_a_revoke_waits_for_the_batch_being_decided_and_those_being_delivered(
        self, loop_harness: LoopHarness
    ) -> None:
        await loop_harness.put([event_bytes(1), event_bytes(2), event_bytes(3)])
        loop = make_loop(loop_harness)
        first_acks, third_ack, decide_third = asyncio.Event(), asyncio.Event(), asyncio.Event()
        for n in (1, 2):
            loop.publisher.hold(is_decision_of(f"loop-event-{n}"), first_acks)
        loop.publisher.hold(is_decision_of("loop-event-3"), third_ack)
        third_sent = loop.publisher.on_sent(is_decision_of("loop-event-3"))
        loop.screener.pause["loop-event-3"] = decide_third
        loop.start()
        await loop.screener.reached("loop-event-3").wait()  # batches 1, 2 delivering; 3 deciding
        assert loop.reader.commits == []

        listener = loop.consumer.listener()
        revoke = asyncio.create_task(listener.on_partitions_revoked(set()))
        await asyncio.sleep(0.2)
        assert not revoke.done(), "the revoke returned with two batches unacknowledged"
        first_acks.set()
        await wait_until(lambda: loop.reader.commits == [1, 2], "batches 1 and 2 are committed")
        await asyncio.sleep(0.2)
        assert not revoke.done(), "the revoke returned while batch 3 was being decided"
        decide_third.set()
        await third_sent.wait()
        await asyncio.sleep(0.2)
        assert not revoke.done(), "the revoke returned while batch 3 was unacknowledged"
        third_ack.set()
        await asyncio.wait_for(revoke, timeout=20)
        assert loop.reader.commits == [1, 2, 3], "the revoke returned before the last commit"
        await loop.stop()
        assert await loop_harness.committed() == 3

    @pytest.mark.parametrize("stage", ["decide", "produce"])
    async def test_a_stop_during_a_retry_leaves_the_batch_uncommitted(
        self, loop_harness: LoopHarness, stage: str
    ) -> None:
        await loop_harness.put([event_bytes(1)])
        loop = make_loop(loop_harness)
        if stage == "decide":
            loop.screener.transient = True
        else:
            loop.publisher.refuse_sends = True
        loop.start()
        await wait_until(
            lambda: loop.metrics.transient_errors.labels(stage)._value.get() >= 2,
            f"the {stage} step has been retried",
        )
        await loop.stop()  # returns: the stop ends the retrying, the batch is left as it is

        assert loop.reader.commits == []
        assert loop.publisher.sent == []
        assert await loop_harness.committed() is None

    async def test_a_refused_event_is_dead_lettered_and_the_loop_goes_on(
        self, loop_harness: LoopHarness
    ) -> None:
        not_json = b"{not json"
        await loop_harness.put([not_json, event_bytes(1), event_bytes(2)])
        loop = make_loop(loop_harness, max_records=10)
        loop.screener.refuse.add("loop-event-1")
        loop.start()
        await wait_until(lambda: loop.reader.commits[-1:] == [3], "every record is committed")
        await loop.stop()

        letters = [
            DeadLetter.model_validate_json(v)
            for _, v in await loop_harness.read(loop_harness.topics.dead_letters, 2)
        ]
        assert [(d.error_type, d.source.offset) for d in letters] == [
            ("invalid_json", 0),
            ("processing_error", 1),
        ]
        assert letters[0].original_payload() == not_json
        assert letters[1].original_payload() == event_bytes(1)
        assert "scripted defect" in letters[1].error
        decisions = await loop_harness.read(loop_harness.topics.decisions, 1)
        assert [v.decode() for _, v in decisions] == [decision_of("loop-event-2")]
        assert await loop_harness.committed() == 3

    async def test_a_batch_failing_as_a_whole_is_settled_one_event_at_a_time(
        self, loop_harness: LoopHarness
    ) -> None:
        await loop_harness.put([event_bytes(1), event_bytes(2), event_bytes(3)])
        loop = make_loop(loop_harness, max_records=10)
        loop.screener.poison.add("loop-event-2")
        loop.start()
        await wait_until(lambda: loop.reader.commits[-1:] == [3], "every record is committed")
        await loop.stop()

        decisions = await loop_harness.read(loop_harness.topics.decisions, 2)
        assert [v.decode() for _, v in decisions] == [
            decision_of("loop-event-1"),
            decision_of("loop-event-3"),
        ]
        letters = await loop_harness.read(loop_harness.topics.dead_letters, 1)
        (letter,) = [DeadLetter.model_validate_json(v) for _, v in letters]
        assert (letter.error_type, letter.source.offset) == ("processing_error", 1)


# --- the in-memory harness --------------------------------------------------------------------


class _Acked:
    """Publisher of :class:`MemoryHarness`: writes at once, acknowledges at once."""

    def __init__(self, topics: dict[str, list[tuple[bytes | None, bytes]]]) -> None:
        self._topics = topics

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        correlation_id: str | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> asyncio.Future[Any]:
        self._topics.setdefault(topic, []).append((key, value))
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        ack.set_result(None)
        return ack


class _MemoryConsumer:
    """The part of ``AIOKafkaConsumer`` the loop uses, over an in-memory partition."""

    def __init__(self, harness: MemoryHarness) -> None:
        self._harness = harness
        self._tp = TopicPartition(harness.topics.shipments, PARTITION)
        self._position = 0

    async def getmany(
        self, *, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[ConsumerRecord]]:
        log = self._harness.records(self._harness.topics.shipments)
        if self._position >= len(log):
            await asyncio.sleep(min(timeout_ms, 10) / 1000)
            return {}
        chunk = log[self._position : self._position + max_records]
        first = self._position
        self._position += len(chunk)
        return {
            self._tp: [
                ConsumerRecord(
                    self._tp.topic, PARTITION, first + n, 0, 0, key, value, None, 0, 0, ()
                )
                for n, (key, value) in enumerate(chunk)
            ]
        }

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self._harness.commit = offsets[self._tp]

    def assignment(self) -> set[TopicPartition]:
        return {self._tp}

    def highwater(self, tp: TopicPartition) -> int:
        return len(self._harness.records(tp.topic))

    async def position(self, tp: TopicPartition) -> int:
        return self._position


class MemoryHarness:
    """Topics as lists, a consumer reading partition 0 of the shipments list."""

    def __init__(self) -> None:
        self.topics = Topics(shipments="shipments", decisions="decisions", dead_letters="dlq")
        self._logs: dict[str, list[tuple[bytes | None, bytes]]] = {}
        self.commit: int | None = None

    def records(self, topic: str) -> list[tuple[bytes | None, bytes]]:
        return self._logs.setdefault(topic, [])

    async def put(self, values: Sequence[bytes]) -> None:
        self.records(self.topics.shipments).extend((b"CN-LOOP-1", v) for v in values)

    def consumer(self) -> Any:
        return _MemoryConsumer(self)

    def publisher(self) -> Publisher:
        return _Acked(self._logs)

    async def committed(self) -> int | None:
        return self.commit

    async def read(self, topic: str, count: int) -> list[tuple[bytes | None, bytes]]:
        return list(self.records(topic))


HarnessFactory = Callable[[], Awaitable[LoopHarness]]
