"""One isolated pipeline on a running runtime: fresh topics, its own consumer groups, services.

Topics are named ``<prefix>.<tag>.<role>`` so runs never see each other's records; the decisions
topic uses ``LogAppendTime`` so a decision's timestamp is when the broker appended it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from benchmarks.processes import ServiceGroup, ServiceProcess, free_port
from deploy.local.roles import local_dsn
from schemas import License
from services.common.kafka_security import kafka_client_options

LODESTONE = str(Path(sys.executable).with_name("lodestone"))


@dataclass(frozen=True)
class PipelineTopics:
    shipments: str
    decisions: str
    dead_letters: str
    licenses: str
    controls: str

    @classmethod
    def named(cls, prefix: str) -> PipelineTopics:
        return cls(
            shipments=f"{prefix}.shipments",
            decisions=f"{prefix}.decisions",
            dead_letters=f"{prefix}.shipments.dlq",
            licenses=f"{prefix}.licenses",
            controls=f"{prefix}.controls",
        )

    def specs(self, partitions: int) -> list[NewTopic]:
        compact = {"cleanup.policy": "compact"}
        return [
            NewTopic(self.shipments, partitions, 1),
            NewTopic(
                self.decisions,
                partitions,
                1,
                topic_configs={"message.timestamp.type": "LogAppendTime"},
            ),
            NewTopic(self.dead_letters, 1, 1),
            NewTopic(self.licenses, 1, 1, topic_configs=compact),
            NewTopic(
                self.controls, 1, 1, topic_configs={**compact, "max.message.bytes": str(8 << 20)}
            ),
        ]

    def all(self) -> list[str]:
        return [self.shipments, self.decisions, self.dead_letters, self.licenses, self.controls]


async def create_topics(bootstrap: str, topics: Sequence[NewTopic]) -> None:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=15000, **kafka_client_options()
    )
    await admin.start()
    try:
        response = await admin.create_topics(list(topics), timeout_ms=15000)
        errors = [e for e in response.topic_errors if e[1] != 0]
        if errors:
            raise RuntimeError(f"creating topics failed: {errors}")
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, names: Sequence[str]) -> None:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=15000, **kafka_client_options()
    )
    await admin.start()
    try:
        await admin.delete_topics(list(names), timeout_ms=15000)
    finally:
        await admin.close()


class Pipeline:
    """Topics, settings and the two service processes of one isolated run."""

    def __init__(
        self,
        base_env: dict[str, str],
        workdir: Path,
        *,
        prefix: str = "bench",
        tag: str | None = None,
        extra_env: dict[str, str] | None = None,
        screening_wrapper: list[str] | None = None,
        screening_instances: int = 1,
        admin_dsn: str | None = None,
        audit_instances: int = 1,
    ) -> None:
        self.tag = tag or uuid.uuid4().hex[:10]
        self._admin_dsn = admin_dsn
        """The bootstrap identity (not in ``base_env``: services never get it)."""
        self.workdir = workdir / self.tag
        self.topics = PipelineTopics.named(f"{prefix}.{self.tag}")
        self.bootstrap = base_env["LODESTONE_KAFKA_BOOTSTRAP"]
        self.base_env = base_env
        self.env = self._environment(extra_env or {})
        # Instances share the consumer group: the shipments' partitions are divided among them.
        # Only the first runs under the profiler (it writes one file).
        self.screening = ServiceGroup(
            [
                ServiceProcess(
                    "screening",
                    [*(screening_wrapper if n == 0 and screening_wrapper else []),
                     LODESTONE, "screening", "run"],
                    {**self.env, "LODESTONE_SCREENING_METRICS_PORT": str(port := free_port())},
                    self.workdir / ("screening.log" if n == 0 else f"screening-{n + 1}.log"),
                    port,
                )
                for n in range(screening_instances)
            ]
        )  # fmt: skip
        # Audit instances share their consumer group too; the hash chain is appended under an
        # advisory lock (ADR 0011), so they can share the decisions' partitions.
        self.audit = ServiceGroup(
            [
                ServiceProcess(
                    "audit",
                    [LODESTONE, "audit", "run"],
                    {**self.env, "LODESTONE_AUDIT_METRICS_PORT": str(port := free_port())},
                    self.workdir / ("audit.log" if n == 0 else f"audit-{n + 1}.log"),
                    port,
                )
                for n in range(audit_instances)
            ]
        )

    def _environment(self, extra: dict[str, str]) -> dict[str, str]:
        t = self.topics
        env = {k: v for k, v in os.environ.items() if not k.startswith("LODESTONE_")}
        env.update(self.base_env)
        env.update(
            {
                "LODESTONE_TOPIC_SHIPMENTS": t.shipments,
                "LODESTONE_TOPIC_DECISIONS": t.decisions,
                "LODESTONE_TOPIC_DEAD_LETTERS": t.dead_letters,
                "LODESTONE_TOPIC_LICENSES": t.licenses,
                "LODESTONE_TOPIC_CONTROLS": t.controls,
                "LODESTONE_SCREENING_GROUP_ID": f"screening.{self.tag}",
                "LODESTONE_AUDIT_GROUP_ID": f"audit.{self.tag}",
                "LODESTONE_AUDIT_API_PORT": "0",
                "LODESTONE_AUDIT_CHECKPOINT_FILE": str(self.workdir / "audit-checkpoints.jsonl"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra)
        return env

    def dsn(self, role: str) -> str:
        if role == "admin":  # not exported by `make up`: given, or the local runtime's secrets
            return self._admin_dsn or local_dsn("admin")
        return self.base_env[f"LODESTONE_{role.upper()}_DATABASE_URL"]

    async def create(self, partitions: int = 6) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        await create_topics(self.bootstrap, self.topics.specs(partitions))

    async def cli(self, *args: str, timeout_s: float = 300.0) -> subprocess.CompletedProcess[str]:
        """Run ``lodestone ARGS…`` against this pipeline's topics and database."""
        return await asyncio.to_thread(
            subprocess.run,
            [LODESTONE, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    async def publish_reference(self, licences: Sequence[License]) -> None:
        """``lodestone catalogue publish`` (bundled) and ``lodestone licenses publish FILE``."""
        path = self.workdir / "licences.json"
        path.write_text(json.dumps([lic.model_dump(mode="json") for lic in licences]))
        for args in (("catalogue", "publish"), ("licenses", "publish", str(path))):
            done = await self.cli(*args)
            if done.returncode != 0:
                raise RuntimeError(f"lodestone {' '.join(args)} failed:\n{done.stderr[-2000:]}")

    async def verify_audit(self) -> subprocess.CompletedProcess[str]:
        """``lodestone audit verify --full``: the whole chain, from the first record."""
        return await self.cli("audit", "verify", "--full")

    async def close(self, delete: bool = True) -> None:
        for service in (self.screening, self.audit):
            await asyncio.to_thread(service.stop, 20.0)
        if delete:
            await delete_topics(self.bootstrap, self.topics.all())
