"""A critical task that ends while the service runs takes the process down (crash-only)."""

from __future__ import annotations

import asyncio

from services.common.settings import Settings
from services.screening.app import ScreeningService
from services.screening.config import ScreeningSettings
from services.screening.publish import Publisher


class _NoPublisher:
    """Routing-only stand-in: these tests never publish."""


def _service() -> ScreeningService:
    options = ScreeningSettings(metrics_port=0)
    publisher: Publisher = _NoPublisher()  # type: ignore[assignment]
    return ScreeningService(Settings(), options, publisher)


async def _boom() -> None:
    raise RuntimeError("consume loop defect")


async def test_a_task_that_dies_marks_the_service_failed_and_asks_to_exit() -> None:
    service = _service()
    exits: list[str] = []
    service.on_fatal = lambda: exits.append("exit")
    task = asyncio.create_task(_boom(), name="shipments")
    await asyncio.wait([task])
    service._on_task_done(task)
    assert service.failed
    assert exits == ["exit"]


async def test_tasks_ending_during_shutdown_are_not_failures() -> None:
    service = _service()
    exits: list[str] = []
    service.on_fatal = lambda: exits.append("exit")
    service._stopping = True
    task = asyncio.create_task(_boom(), name="shipments")
    await asyncio.wait([task])
    service._on_task_done(task)
    assert not service.failed
    assert exits == []
