"""The benchmark's CPU accounting: per-group growth between two samples of /proc."""

from __future__ import annotations

import os
import time

from benchmarks.cpu import CpuMeter, CpuSample, usage


def test_usage_is_the_growth_per_group_per_event_and_per_second() -> None:
    before = CpuSample(10.0, {1: ("screening", 5.0), 2: ("kafka", 1.0), 3: ("other", 0.5)})
    after = CpuSample(
        12.0,
        {1: ("screening", 6.0), 2: ("kafka", 1.5), 4: ("postgresql", 0.25)},  # 3 gone, 4 new
    )
    got = usage(before, after, events=1000)
    assert got["screening"] == {"ms_per_event": 1.0, "cores": 0.5}
    assert got["kafka"] == {"ms_per_event": 0.5, "cores": 0.25}
    assert got["postgresql"] == {"ms_per_event": 0.25, "cores": 0.12}
    assert got["other"] == {"ms_per_event": 0.0, "cores": 0.0}
    assert got["total"] == {"ms_per_event": 1.75, "cores": 0.88}


def test_a_pid_that_changed_group_counts_from_zero_in_its_new_group() -> None:
    before = CpuSample(0.0, {7: ("other", 3.0)})
    after = CpuSample(1.0, {7: ("screening", 3.5)})
    assert usage(before, after, events=1)["screening"]["ms_per_event"] == 3500.0


def test_the_meter_finds_this_process_and_named_services() -> None:
    meter = CpuMeter({"screening": lambda: [os.getppid()]})
    first = meter.sample()
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:  # burn a little CPU in this process
        pass
    second = meter.sample()
    assert first.seconds[os.getpid()][0] == "bench"
    assert second.seconds[os.getppid()][0] == "screening"
    assert usage(first, second, events=1)["bench"]["ms_per_event"] >= 40.0
