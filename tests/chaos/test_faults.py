"""The reliability suite: a stream flows while one fault strikes, then every invariant holds.

Runs on its own runtime (tests/chaos/conftest.py), so stopping the broker or the database here
never touches the runtime the other tests use. Bounded in ``make test``; ``make chaos`` runs it
with longer streams (``LODESTONE_CHAOS_SCALE=full``).
"""

from __future__ import annotations

import asyncio

import pytest

from benchmarks.pipeline import Pipeline
from deploy.local import kafka, postgres
from tests.chaos.conftest import ChaosRuntime, Scale
from tests.chaos.harness import Outcome, poison_values, run_with_fault
from tests.chaos.invariants import all_problems

pytestmark = [
    pytest.mark.integration,
    pytest.mark.chaos,
    pytest.mark.slow,
    pytest.mark.timeout(420),
]


async def _assert_sound(outcome: Outcome) -> None:
    problems = await all_problems(outcome)
    assert not problems, "\n".join(problems)
    assert outcome.collector.decision_ids, "no decision at all"


async def test_screening_killed_and_restarted(pipeline: Pipeline, scale: Scale) -> None:
    async def crash() -> None:
        pipeline.screening.kill()
        await asyncio.sleep(1.0)
        pipeline.screening.start()
        await pipeline.screening.wait_ready(120)

    outcome = await run_with_fault(pipeline, scale, crash)
    assert pipeline.screening.starts == 2
    await _assert_sound(outcome)


async def test_audit_killed_and_restarted(pipeline: Pipeline, scale: Scale) -> None:
    async def crash() -> None:
        pipeline.audit.kill()
        await asyncio.sleep(1.0)
        pipeline.audit.start()
        await pipeline.audit.wait_ready(120)

    outcome = await run_with_fault(pipeline, scale, crash)
    assert pipeline.audit.starts == 2
    await _assert_sound(outcome)


async def test_broker_restarted(
    pipeline: Pipeline, scale: Scale, chaos_runtime: ChaosRuntime
) -> None:
    async def restart() -> None:
        assert await asyncio.to_thread(kafka.stop, chaos_runtime.cfg)
        await chaos_runtime.up()

    outcome = await run_with_fault(pipeline, scale, restart)
    await _assert_sound(outcome)


async def test_postgres_stopped_for_a_while(
    pipeline: Pipeline, scale: Scale, chaos_runtime: ChaosRuntime
) -> None:
    async def outage() -> None:
        cluster = postgres.cluster(chaos_runtime.cfg)
        assert await asyncio.to_thread(postgres.stop, cluster)
        await asyncio.sleep(scale.outage_s)
        await chaos_runtime.up()

    outcome = await run_with_fault(pipeline, scale, outage)
    assert pipeline.screening.alive(), "screening gave up during the outage"
    assert pipeline.audit.alive(), "audit gave up during the outage"
    await _assert_sound(outcome)


async def test_duplicates_and_poison(pipeline: Pipeline, scale: Scale) -> None:
    outcome = await run_with_fault(pipeline, scale, None, poison=True, duplicates=True)
    assert len(outcome.poison) == len(poison_values(pipeline.tag))
    await _assert_sound(outcome)
