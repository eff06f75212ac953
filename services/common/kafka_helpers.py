"""What both services' consume loops do with a consumer besides reading: commit and watch lag.

Used with an ``AIOKafkaConsumer`` (or anything with the same ``commit``, ``assignment``,
``highwater`` and ``position``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from services.common.logging import get_logger

log = get_logger(__name__)


class LagGauge(Protocol):
    """A Prometheus gauge labelled by partition."""

    def labels(self, partition: str) -> Any: ...


def next_offsets(
    batch: Mapping[TopicPartition, Sequence[ConsumerRecord]],
) -> dict[TopicPartition, int]:
    """The offsets to commit once ``batch`` is done: one past its last record, per partition."""
    return {tp: records[-1].offset + 1 for tp, records in batch.items() if records}


async def commit_offsets(consumer: Any, offsets: dict[TopicPartition, int]) -> bool:
    """Commit ``offsets``; False, logged, if the broker refused or failed it.

    Never raises a broker error: an uncommitted batch is delivered again (to this consumer or, after
    a rebalance, to the partition's new owner), and both services' effects are idempotent
    (decisions stored by event id, audit records unique by decision id).
    """
    try:
        await consumer.commit(offsets)
    except (CommitFailedError, IllegalStateError) as exc:
        log.warning(
            "commit refused after a rebalance; the batch will be redelivered", error=str(exc)
        )
        return False
    except KafkaError as exc:
        log.warning("commit failed; the batch will be redelivered", error=repr(exc))
        return False
    return True


async def observe_lag(consumer: Any, gauge: LagGauge) -> None:
    """Set ``gauge`` to each assigned partition's lag (high watermark − position)."""
    for tp in consumer.assignment():
        highwater = consumer.highwater(tp)
        if highwater is None:
            continue
        try:
            position: int = await consumer.position(tp)
        except KafkaError:  # the partition was revoked meanwhile
            continue
        gauge.labels(str(tp.partition)).set(max(0, highwater - position))
