"""The commands' offline parts: report formats, the calendar, and bad input."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.screening.whatif import what_if
from services.screening.whatif_cli import print_report
from tests.unit.whatif.drafts import draft, with_oct2025_suspension_ending
from tests.unit.whatif.test_whatif import TODAY, ledger


def test_json_and_csv_reports_hold_every_change(capsys: pytest.CaptureFixture[str]) -> None:
    report = what_if(ledger(), draft("2026-06-30"), today=TODAY)

    print_report(report, "json")
    data = json.loads(capsys.readouterr().out)
    assert data["lines_changed"] == len(report.changes) == 4
    assert data["by_measure"]["CN-2025-55"]["approve_to_hold"] == 3
    assert {c["shipment_id"] for c in data["changes"]} == {"A", "E", "G", "H"}

    print_report(report, "csv")
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 4
    a = next(r for r in rows if r["shipment_id"] == "A")
    assert (a["old_outcome"], a["new_outcome"], a["ahead"]) == ("approve", "hold", "True")
    assert a["new_reasons"].startswith("LICENSE_REQUIRED CN-2025-55/")


def test_calendar_lists_the_coming_changes_offline(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["catalogue", "calendar", "--from", "2026-11-01", "--days", "30"]
    )
    assert result.exit_code == 0, result.output
    assert "2026-11-11  CN-2025-55" in result.output
    assert "2026-11-28  CN-2024-46/Art.2 " in result.output

    moved = tmp_path / "draft.yaml"
    moved.write_text(with_oct2025_suspension_ending("2027-11-10"), encoding="utf-8")
    result = CliRunner().invoke(
        app,
        [
            "catalogue",
            "calendar",
            "--catalogue",
            str(moved),
            "--from",
            "2026-11-01",
            "--days",
            "30",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "CN-2025-55" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["whatif", "--catalogue", "/nonexistent.yaml"],
        ["whatif", "--catalogue", "{draft}", "--from", "not-a-date"],
        ["whatif", "--catalogue", "{draft}", "--format", "xml"],
        ["audit", "replay"],
        ["audit", "replay", "X", "--since", "2026-11-01"],
        ["audit", "replay", "--until", "2026-11-01"],
        ["audit", "replay", "--since", "yesterday"],
        ["screening", "run", "--shadow-catalogue", "/nonexistent.yaml"],
    ],
)
def test_bad_input_exits_2_before_any_connection(args: list[str], tmp_path: Path) -> None:
    path = tmp_path / "draft.yaml"
    path.write_text(with_oct2025_suspension_ending("2027-11-10"), encoding="utf-8")
    result = CliRunner().invoke(app, [a.replace("{draft}", str(path)) for a in args])
    assert result.exit_code == 2, result.output
