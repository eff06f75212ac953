"""Scale-out under a rolling update: two screening and two audit instances, each stopped and
started again in turn while a stream flows, as Kubernetes rolls a Deployment one pod at a time.

Every invariant of the reliability suite must hold afterwards: every event decided once, every
decision audited once, the ledger and the licence caps consistent, the chain verified, nothing
dead-lettered. The stream must still be flowing when the last instance is back, so that every
instance's partitions changed hands under load.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from benchmarks.pipeline import Pipeline
from tests.chaos.conftest import ChaosRuntime, Scale, running_pipeline
from tests.chaos.harness import run_with_fault
from tests.chaos.invariants import all_problems

pytestmark = [
    pytest.mark.integration,
    pytest.mark.chaos,
    pytest.mark.slow,
    pytest.mark.timeout(600),
]

INSTANCES = 2


@pytest.fixture
async def scaled_pipeline(chaos_runtime: ChaosRuntime) -> AsyncIterator[Pipeline]:
    """Fresh topics, reference data published, two instances of each service running."""
    async with running_pipeline(chaos_runtime, INSTANCES) as p:
        yield p


def _rolling_scale(scale: Scale) -> Scale:
    """A stream long enough to outlast the roll of four instances (~90 s at the bounded rate)."""
    rate = scale.rate * 0.6
    return Scale(events=int(rate * 90), rate=rate, fault_at_s=3.0, outage_s=0.0,
                 drain_timeout_s=240.0)  # fmt: skip


async def test_rolling_restart_of_every_instance_loses_nothing(
    scaled_pipeline: Pipeline, scale: Scale
) -> None:
    p = scaled_pipeline
    instances = [*p.screening.instances, *p.audit.instances]
    rolled: list[str] = []
    roll_done_ms = 0

    async def roll() -> None:
        nonlocal roll_done_ms
        for instance in instances:
            # SIGTERM, as a rolling update sends: finish the batch in flight, then exit 0.
            code = await asyncio.to_thread(instance.stop, 30.0)
            assert code == 0, f"{instance.log_path.name} exited {code} on SIGTERM"
            instance.start()
            waited = await instance.wait_ready(120)
            rolled.append(f"{instance.log_path.stem} ready again in {waited:.1f} s")
        roll_done_ms = int(time.time() * 1000)

    outcome = await run_with_fault(p, _rolling_scale(scale), roll)

    assert [i.starts for i in instances] == [2] * len(instances), rolled
    assert max(outcome.published.at_ms.values()) > roll_done_ms, (
        f"the stream ended before the roll did: {rolled}"
    )
    problems = await all_problems(outcome)
    assert not problems, "\n".join([*problems, *rolled])
    assert outcome.collector.decision_ids, "no decision at all"
