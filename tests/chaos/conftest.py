"""A runtime of its own for the reliability suite, so that stopping its broker or database
never disturbs other tests: Kafka on 29092/29093 and PostgreSQL on 25432, data in
``.local/chaos/``. Started once per session (if not running) and stopped at the end if started.
The ports lie below Linux's ephemeral range (32768-60999): a restarted broker must be able to
bind its port again while clients reconnect from ephemeral ports.

``LODESTONE_CHAOS_SCALE=full`` (``make chaos``) runs longer streams and a longer outage than
the bounded form that ``make test`` runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.pipeline import Pipeline
from benchmarks.stream import prepare_licences
from deploy.local import Runtime, RuntimeConfig, RuntimeState
from deploy.local.config import REPO_ROOT


@dataclass(frozen=True)
class Scale:
    events: int
    rate: float
    fault_at_s: float
    outage_s: float
    drain_timeout_s: float = 150.0


BOUNDED = Scale(events=600, rate=150.0, fault_at_s=1.5, outage_s=10.0)
FULL = Scale(events=3000, rate=300.0, fault_at_s=3.0, outage_s=15.0)


@dataclass
class ChaosRuntime:
    runtime: Runtime
    state: RuntimeState

    @property
    def cfg(self) -> RuntimeConfig:
        return self.runtime.cfg

    def environment(self) -> dict[str, str]:
        return self.state.environment()

    async def up(self) -> None:
        """Start whatever is stopped and wait until the broker answers."""
        await asyncio.to_thread(self.runtime.up)


def chaos_config() -> RuntimeConfig:
    return dataclasses.replace(
        RuntimeConfig.from_env(),
        local_dir=Path(os.environ.get("LODESTONE_CHAOS_LOCAL_DIR", REPO_ROOT / ".local" / "chaos")),
        kafka_port=int(os.environ.get("LODESTONE_CHAOS_KAFKA_PORT", "29092")),
        kafka_controller_port=int(os.environ.get("LODESTONE_CHAOS_KAFKA_CONTROLLER_PORT", "29093")),
        pg_port=int(os.environ.get("LODESTONE_CHAOS_PG_PORT", "25432")),
    )


@pytest.fixture(scope="session")
def scale() -> Scale:
    return FULL if os.environ.get("LODESTONE_CHAOS_SCALE") == "full" else BOUNDED


@pytest.fixture(scope="session")
def chaos_runtime() -> Iterator[ChaosRuntime]:
    runtime = Runtime(chaos_config())
    state = runtime.up()
    try:
        yield ChaosRuntime(runtime, state)
    finally:
        runtime.stop(state.started)


@contextlib.asynccontextmanager
async def running_pipeline(
    chaos_runtime: ChaosRuntime, instances: int = 1
) -> AsyncIterator[Pipeline]:
    """Fresh topics with the catalogue and the sample licences published; ``instances`` of each
    service running and ready."""
    p = Pipeline(
        chaos_runtime.environment(),
        REPO_ROOT / ".local" / "chaos" / "runs",
        prefix="chaos",
        extra_env={"LODESTONE_SCREENING_RETRY_MAX_DELAY_S": "2"},
        screening_instances=instances,
        audit_instances=instances,
        # The chaos runtime's bootstrap identity, for the ledger check: never in the services'
        # environment, and without it the pipeline would reach the developer runtime's database.
        admin_dsn=chaos_runtime.state.dsn("admin"),
    )
    await p.create(partitions=3)
    try:
        await p.publish_reference(prepare_licences(p.tag))
        for service in (p.screening, p.audit):
            service.start()
        for service in (p.screening, p.audit):
            await service.wait_ready(120)
        yield p
    finally:
        await chaos_runtime.up()  # a failed test may have left the broker or database down
        await p.close(delete=True)


@pytest.fixture
async def pipeline(chaos_runtime: ChaosRuntime) -> AsyncIterator[Pipeline]:
    """Fresh topics with the catalogue and the sample licences published; services running."""
    async with running_pipeline(chaos_runtime) as p:
        yield p
