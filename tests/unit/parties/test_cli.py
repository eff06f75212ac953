"""``lodestone parties show|check`` and ``lodestone screen --parties`` (offline, no Kafka)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from services.cli import app
from services.screening.parties import load_bundled_parties
from tests.unit.parties.helpers import shipment

runner = CliRunner()


def test_check_explains_the_match() -> None:
    result = runner.invoke(
        app, ["parties", "check", "MP MATERIALS CORP", "--country", "us", "--on", "2026-07-01"]
    )
    assert result.exit_code == 0, result.output
    assert "cnp-138/CL-2026-23" in result.stdout
    assert "MOFCOM Announcement 2026 No. 23" in result.stdout
    assert "score 100  kind exact" in result.stdout
    assert "effect: prohibited" in result.stdout


def test_check_says_when_nothing_matches() -> None:
    result = runner.invoke(app, ["parties", "check", "American Rare Earths", "--country", "US"])
    assert result.exit_code == 0
    assert result.stdout.startswith("no match")


def test_show_lists_every_listing_with_its_status_on_a_date() -> None:
    result = runner.invoke(app, ["parties", "show", "--on", "2026-07-01"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert f"{len(load_bundled_parties())} listings" in result.stdout
    assert "cnp-138/CL-2026-23" in result.stdout


def test_screen_uses_the_bundled_list_or_the_one_given(tmp_path: Path) -> None:
    event_file = tmp_path / "event.json"
    event_file.write_text(shipment("MP Materials Corp.").model_dump_json())
    bundled = runner.invoke(app, ["screen", str(event_file)])
    assert bundled.exit_code == 0, bundled.output
    assert json.loads(bundled.stdout)["lines"][0]["reasons"] == [
        "LICENSE_REQUIRED",
        "PROHIBITED_END_USER",
    ]
    empty = tmp_path / "parties.json"
    empty.write_text("[]")
    other = runner.invoke(app, ["screen", str(event_file), "--parties", str(empty)])
    assert other.exit_code == 0, other.output
    assert json.loads(other.stdout)["lines"][0]["reasons"] == ["LICENSE_REQUIRED"]


def test_a_bad_party_file_is_refused_with_exit_2_naming_the_entry(tmp_path: Path) -> None:
    bad = tmp_path / "parties.json"
    bad.write_text('[{"entity_id": "x-1", "name": "A\\u202eB"}]')
    event_file = tmp_path / "event.json"
    event_file.write_text(shipment("Acme").model_dump_json())
    for args in (
        ["screen", str(event_file), "--parties", str(bad)],
        ["parties", "check", "Acme", "--parties", str(bad)],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "x-1" in result.stderr
    duplicate = tmp_path / "dup.json"
    duplicate.write_text('{"entities": [], "entities": []}')
    result = runner.invoke(app, ["parties", "show", "--parties", str(duplicate)])
    assert result.exit_code == 2
    assert "duplicate" in result.stderr.lower()
