"""``lodestone audit query``: what each option is read as, before anything connects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

import services.audit.cli as audit_cli
from services.audit.queries import DecisionFilter
from services.cli import app
from services.common.moments import utc_moment

runner = CliRunner()


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[DecisionFilter]:
    """The filters the command would list, instead of listing them."""
    seen: list[DecisionFilter] = []

    async def listed(f: DecisionFilter, limit: int) -> list[dict[str, Any]]:
        seen.append(f)
        return []

    monkeypatch.setattr(audit_cli, "_list_paged", listed)
    return seen


@pytest.mark.parametrize(
    ("typed", "moment"),
    [
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01T08:00:00", datetime(2026, 3, 1, 8, tzinfo=UTC)),
        ("2026-03-01T08:00:00Z", datetime(2026, 3, 1, 8, tzinfo=UTC)),
        ("2026-03-01T08:00:00+00:00", datetime(2026, 3, 1, 8, tzinfo=UTC)),
        ("2026-03-01T16:00:00+08:00", datetime(2026, 3, 1, 8, tzinfo=UTC)),
        ("2026-03-01 08:00:00.250000", datetime(2026, 3, 1, 8, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_since_and_until_take_dates_and_times_with_or_without_offset(
    asked: list[DecisionFilter], typed: str, moment: datetime
) -> None:
    done = runner.invoke(
        app, ["audit", "query", "--since", typed, "--until", typed, "--format", "json"]
    )
    assert done.exit_code == 0, done.output
    assert asked[0].since == moment
    assert asked[0].until == moment
    assert asked[0].since is not None
    assert asked[0].since.utcoffset() is not None


@pytest.mark.parametrize("typed", ["yesterday", "2026-13-01", "01/03/2026", "", "2026-03-01T25:00"])
def test_a_moment_that_is_not_one_is_refused_naming_the_option(
    asked: list[DecisionFilter], typed: str
) -> None:
    done = runner.invoke(app, ["audit", "query", "--since", typed], env={"COLUMNS": "300"})
    assert done.exit_code == 2
    assert "Invalid value for '--since'" in done.output
    assert "is not a date or time" in done.output
    assert asked == []


def test_every_filter_reaches_the_listing(asked: list[DecisionFilter]) -> None:
    args = ["--shipment", "S", "--exporter", "E", "--outcome", "hold", "--reason", "R"]
    args += ["--control-id", "C", "--license-id", "L", "--limit", "7", "--format", "csv"]
    done = runner.invoke(app, ["audit", "query", *args])
    assert done.exit_code == 0, done.output
    assert asked == [DecisionFilter("S", "E", "hold", "R", "C", "L", None, None)]


def test_an_offset_is_kept_as_the_same_instant() -> None:
    east = utc_moment("2026-03-01T16:00:00+08:00")
    assert east.utcoffset() == timedelta(hours=8)
    assert east == datetime(2026, 3, 1, 8, tzinfo=UTC)
