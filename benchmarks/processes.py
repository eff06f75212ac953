"""Service processes (``lodestone screening run``, ``lodestone audit run``) under test control.

Each process runs in a session of its own with its output in a log file, so it can be killed
with SIGKILL (a crash) or stopped with SIGTERM (a graceful stop) and started again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServiceProcess:
    """One service process; ``start()`` again after ``kill()`` or ``stop()`` restarts it."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], log_path: Path, probe_port: int
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.probe_port = probe_port
        self.starts = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.alive():
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL: no cleanup, no commit, exactly like a crash."""
        if self._proc is not None and self._proc.poll() is None:
            os.kill(self._proc.pid, signal.SIGKILL)
            self._proc.wait()

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM (finish the batch in flight), then SIGKILL after ``timeout_s``."""
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        return self._proc.returncode

    def probe(self, path: str) -> int | None:
        """The HTTP status of ``/healthz`` or ``/readyz``; None when nothing answers."""
        url = f"http://127.0.0.1:{self.probe_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except (urllib.error.URLError, OSError):
            return None

    def _ready(self) -> bool:
        return self.probe("/readyz") == 200

    async def wait_ready(self, timeout_s: float = 60.0) -> float:
        """Seconds until ``/readyz`` answered 200; raises when the process died or timed out."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited; log: {self.log_path}\n{self.log_tail()}")
            if await asyncio.to_thread(self._ready):
                return time.monotonic() - started
            await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {timeout_s:.0f} s; log: {self.log_path}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class ServiceGroup:
    """Several instances of one service in the same consumer group, driven as one.

    Same interface as :class:`ServiceProcess`; with one instance it behaves exactly like it.
    """

    def __init__(self, instances: list[ServiceProcess]) -> None:
        if not instances:
            raise ValueError("a service group needs at least one instance")
        self.instances = instances
        self.name = instances[0].name

    @property
    def pids(self) -> list[int]:
        return [pid for i in self.instances if (pid := i.pid) is not None]

    @property
    def starts(self) -> int:
        return min(i.starts for i in self.instances)

    @property
    def log_path(self) -> Path:
        return self.instances[0].log_path

    def alive(self) -> bool:
        return all(i.alive() for i in self.instances)

    def start(self) -> None:
        for instance in self.instances:
            instance.start()

    def kill(self) -> None:
        for instance in self.instances:
            instance.kill()

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """Stop every instance; the first non-zero exit code, else the last one."""
        codes = [i.stop(timeout_s) for i in self.instances]
        return next((c for c in codes if c), codes[-1])

    def probe(self, path: str) -> int | None:
        """The worst answer of the instances (None if one does not answer)."""
        answers = [i.probe(path) for i in self.instances]
        return None if None in answers else max(a for a in answers if a is not None)

    async def wait_ready(self, timeout_s: float = 60.0) -> float:
        waits = await asyncio.gather(*(i.wait_ready(timeout_s) for i in self.instances))
        return max(waits)

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(f"[{i.log_path.name}]\n{i.log_tail(lines)}" for i in self.instances)
