"""CPU time per part of the pipeline, read from ``/proc``: where the machine's cores go.

Every process on the machine is put in one group: ``screening`` and ``audit`` (the service
subprocesses, by pid), ``kafka`` (the broker's JVM), ``postgresql`` (the server and its
backends), ``bench`` (this process: load generator and observers) or ``other``. A phase's CPU
per event is the growth of each group's user + system time over the phase divided by the
events it handled; ``cores`` is the same growth over the phase's wall time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
GROUPS = ("screening", "audit", "kafka", "postgresql", "bench", "other")


@dataclass(frozen=True)
class CpuSample:
    at: float
    """``time.monotonic()`` of the sample."""
    seconds: Mapping[int, tuple[str, float]]
    """pid -> (group, CPU seconds so far)."""


def _read(pid: str) -> tuple[str, float] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime
    if b"kafka.Kafka" in cmdline:
        return "kafka", cpu
    if name == "postgres" or cmdline.startswith(b"postgres"):
        return "postgresql", cpu
    return name, cpu


class CpuMeter:
    """Samples the CPU time of every process; ``services`` maps a group to its pids' getter."""

    def __init__(self, services: Mapping[str, Callable[[], Sequence[int]]]) -> None:
        self._services = services
        self.names: dict[int, str] = {}
        """pid -> process name, for the ``other`` group."""

    def busiest_others(self, before: CpuSample, after: CpuSample, n: int = 3) -> list[str]:
        """The ``other`` processes that used the most CPU between two samples."""
        spent: dict[str, float] = {}
        for pid, (group, cpu) in after.seconds.items():
            if group == "other":
                start = before.seconds.get(pid, (group, 0.0))[1]
                name = self.names.get(pid, str(pid))
                spent[name] = spent.get(name, 0.0) + cpu - start
        ranked = sorted(spent.items(), key=lambda kv: -kv[1])[:n]
        return [f"{name} {seconds:.1f} s" for name, seconds in ranked if seconds > 0]

    def sample(self) -> CpuSample:
        service_pids = {pid: group for group, get in self._services.items() for pid in get()}
        own = os.getpid()
        seconds: dict[int, tuple[str, float]] = {}
        for path in Path("/proc").iterdir():
            entry = path.name
            if not entry.isdigit():
                continue
            read = _read(entry)
            if read is None:
                continue
            pid = int(entry)
            name, cpu = read
            if pid in service_pids:
                group = service_pids[pid]
            elif pid == own:
                group = "bench"
            elif name in ("kafka", "postgresql"):
                group = name
            else:
                group = "other"
                self.names[pid] = name
            seconds[pid] = (group, cpu)
        return CpuSample(time.monotonic(), seconds)


def usage(before: CpuSample, after: CpuSample, events: int) -> dict[str, dict[str, float]]:
    """Per group: CPU ms per event and cores used between two samples (and the total)."""
    spent = dict.fromkeys(GROUPS, 0.0)
    for pid, (group, cpu) in after.seconds.items():
        start = before.seconds.get(pid)
        spent[group] += cpu - (start[1] if start is not None and start[0] == group else 0.0)
    wall = max(after.at - before.at, 1e-9)
    spent["total"] = sum(spent.values())
    return {
        group: {
            "ms_per_event": round(seconds * 1000 / events, 3) if events else 0.0,
            "cores": round(seconds / wall, 2),
        }
        for group, seconds in spent.items()
    }
