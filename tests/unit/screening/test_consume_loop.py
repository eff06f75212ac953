"""The consume loop's scenarios in memory: a fake consumer and topics (see the scenarios module)."""

from __future__ import annotations

import pytest

from tests.consume_loop_scenarios import ConsumeLoopScenarios, MemoryHarness


class TestConsumeLoopInMemory(ConsumeLoopScenarios):
    @pytest.fixture
    def loop_harness(self) -> MemoryHarness:
        return MemoryHarness()
