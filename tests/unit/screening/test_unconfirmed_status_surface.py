"""Measures whose status is assumed show in the readiness detail and as a metric, never failing
readiness; ``catalogue show`` marks them."""

from __future__ import annotations

from datetime import date

from prometheus_client import CollectorRegistry, generate_latest
from typer.testing import CliRunner

from services.cli import app as cli_app
from services.common.health import HealthServer
from services.screening.catalogue import load_bundled_catalogue
from services.screening.catalogue.summary import unconfirmed_statuses
from services.screening.metrics import ScreeningMetrics
from tests.unit.screening.test_health_server import _get

OCTOBER_PACKAGE = {
    "CN-2025-55",
    "CN-2025-56",
    "CN-2025-57",
    "CN-2025-58",
    "CN-2025-61/1(1)",
    "CN-2025-61/1(2)",
    "CN-2025-61/1(3)",
    "CN-2025-61/military",
    "CN-2025-62",
}
ART_2 = {"CN-2024-46/Art.2", "CN-2024-46/Art.2.graphite"}


def _ids(day: str) -> set[str]:
    return {
        s.measure_id
        for s in unconfirmed_statuses(load_bundled_catalogue(), date.fromisoformat(day))
    }


def test_statuses_are_unconfirmed_exactly_after_their_confirmed_dates() -> None:
    assert _ids("2026-11-10") == set()
    assert _ids("2026-11-11") == OCTOBER_PACKAGE
    assert _ids("2026-11-27") == OCTOBER_PACKAGE
    assert _ids("2026-11-28") == OCTOBER_PACKAGE | ART_2


def test_metric_lists_each_unconfirmed_measure() -> None:
    metrics = ScreeningMetrics(CollectorRegistry())
    catalogue = load_bundled_catalogue()
    current = [None, catalogue]
    metrics.watch_catalogue(lambda: current[-1], today=lambda: date(2026, 11, 30))
    text = generate_latest(metrics.registry).decode()
    assert (
        'lodestone_screening_unconfirmed_measures{confirmed_through="2026-11-10",'
        'measure="CN-2025-57"} 1.0' in text
    )
    assert text.count("lodestone_screening_unconfirmed_measures{") == 11
    current.append(None)  # no catalogue yet: no series, no error
    assert (
        "lodestone_screening_unconfirmed_measures{"
        not in generate_latest(metrics.registry).decode()
    )


async def test_readiness_detail_warns_without_failing() -> None:
    detail = ["warning: CN-2025-57: status on 2026-11-30 assumed"]
    server = HealthServer(
        registry=CollectorRegistry(), ready=lambda: True, port=0, ready_detail=lambda: detail
    )
    await server.start()
    try:
        status, body = await _get(server.port, "/readyz")
    finally:
        await server.stop()
    assert status == 200
    assert body == "ready\nwarning: CN-2025-57: status on 2026-11-30 assumed\n"


def test_catalogue_show_marks_assumed_statuses() -> None:
    result = CliRunner().invoke(
        cli_app, ["catalogue", "show", "--on", "2026-11-28"], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    assert "UNCONFIRMED CN-2025-57: status on 2026-11-28 (in_force)" in result.output
    assert "UNCONFIRMED CN-2024-46/Art.2:" in result.output
    assert "UNCONFIRMED CN-2025-18" not in result.output
    earlier = CliRunner().invoke(cli_app, ["catalogue", "show", "--on", "2026-11-10"])
    assert "UNCONFIRMED" not in earlier.output
