"""A secured broker (SASL_SSL + SCRAM, mTLS, ACLs) for the tests that need one.

Started once per test session, and only when such a test runs, on ports of its own
(``LODESTONE_SECURED_KAFKA_PORT`` / ``_MTLS_PORT`` / ``_CONTROLLER_PORT`` / ``_OAUTH_PORT``,
default the Kafka port + 8, + 9, + 10, + 11; the last is a test-only OAUTHBEARER listener) and
with data of its own (``.local/secured-test/``), beside the runtime whose PostgreSQL it shares;
stopped at the end of the session when the session started it.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.local import Runtime, RuntimeState
from deploy.local import kafka_secured as secured
from deploy.local.config import RuntimeConfig
from services.common.kafka_security import KafkaSecuritySettings

pytestmark = pytest.mark.integration

LODESTONE = str(Path(sys.executable).with_name("lodestone"))


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def secured_config() -> RuntimeConfig:
    base = RuntimeConfig.from_env()
    return dataclasses.replace(
        base,
        local_dir=base.local_dir / "secured-test",
        kafka_security="sasl_ssl",
        kafka_port=_port("LODESTONE_SECURED_KAFKA_PORT", base.kafka_port + 8),
        kafka_mtls_port=_port("LODESTONE_SECURED_KAFKA_MTLS_PORT", base.kafka_port + 9),
        kafka_controller_port=_port(
            "LODESTONE_SECURED_KAFKA_CONTROLLER_PORT", base.kafka_port + 10
        ),
        kafka_unsecured_oauth_port=_port(
            "LODESTONE_SECURED_KAFKA_OAUTH_PORT", base.kafka_port + 11
        ),
    )


@dataclass
class SecuredKafka:
    """The secured broker and how each principal reaches it."""

    cfg: RuntimeConfig
    state: RuntimeState
    """The runtime whose database the services use."""

    @property
    def bootstrap(self) -> str:
        return self.cfg.kafka_bootstrap

    @property
    def mtls_bootstrap(self) -> str:
        return f"127.0.0.1:{self.cfg.kafka_mtls_port}"

    @property
    def oauth_bootstrap(self) -> str:
        return f"127.0.0.1:{self.cfg.kafka_unsecured_oauth_port}"

    def security(self, principal: str, *, mtls: bool = False) -> KafkaSecuritySettings:
        return secured.client_security(self.cfg, principal, mtls=mtls)

    def environment(
        self, principal: str, *, mtls: bool = False, extra: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """A process environment acting as ``principal`` on this broker (database URLs too)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LODESTONE_KAFKA_")}
        env.update(self.state.environment())
        env = {k: v for k, v in env.items() if not k.startswith("LODESTONE_KAFKA_")}
        env.update(secured.environment(self.cfg, principal, mtls=mtls))
        env.update({"LODESTONE_LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1", **(extra or {})})
        return env

    def cli(
        self, principal: str, *args: str, mtls: bool = False, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run ``lodestone ARGS`` as ``principal``."""
        return subprocess.run(
            [LODESTONE, *args],
            env=self.environment(principal, mtls=mtls),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture(scope="session")
def secured_kafka(runtime: RuntimeState) -> Iterator[SecuredKafka]:
    cfg = secured_config()
    local = Runtime(cfg)
    started = local.up_kafka()
    try:
        yield SecuredKafka(cfg, runtime)
    finally:
        if started:
            local.stop({"kafka"})


class ServiceProcess:
    """``lodestone <service> run`` as a child process, its log in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log_path = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [LODESTONE, *args], env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            assert self.proc.poll() is None, f"exited {self.proc.returncode}:\n{self.log()[-3000:]}"
            assert time.monotonic() < deadline, f"no {text!r} in the log:\n{self.log()[-3000:]}"
            time.sleep(0.2)

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait_exit(30) is None:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


ServiceFactory = Callable[[list[str], dict[str, str]], ServiceProcess]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceFactory]:
    """Factory of service processes, each stopped when the test ends."""
    started: list[ServiceProcess] = []

    def start(args: list[str], env: dict[str, str]) -> ServiceProcess:
        process = ServiceProcess(args, env, tmp_path / f"{args[0]}-{len(started)}.log")
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
