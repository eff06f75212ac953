"""``lodestone screen`` and ``lodestone catalogue`` end to end, without Kafka."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from services.cli import app
from tests.unit.engine.factories import event, line

runner = CliRunner()


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_screen_uses_a_single_licence_once_across_the_run(tmp_path: Path) -> None:
    sm = line("Samarium oxide", "2846901940", quantity="200")
    events = [
        event(sm, shipment_id=f"S{n}", event_id=f"E{n}").model_dump(mode="json") for n in (1, 2)
    ]
    licences = [
        {
            "license_id": "SL",
            "kind": "single",
            "holder_id": "CN-EXP-0001",
            "status": "active",
            "valid_from": "2026-01-01",
            "valid_to": "2026-12-31",
            "control_codes": ["1C902"],
            "max_quantity": {"amount": "1", "unit": "t"},
        }
    ]
    result = runner.invoke(
        app,
        [
            "screen",
            "--licenses",
            str(_write(tmp_path / "l.json", licences)),
            str(_write(tmp_path / "e.json", events)),
        ],
    )
    assert result.exit_code == 0, result.output
    decisions = [json.loads(x) for x in result.stdout.splitlines()]
    assert [d["outcome"] for d in decisions] == ["approve", "hold"]
    assert decisions[0]["lines"][0]["consumed"] == {"amount": "0.2", "unit": "t"}
    assert decisions[1]["lines"][0]["reasons"] == ["LICENSE_EXHAUSTED"]


def test_screen_bad_input_names_file_event_and_field(tmp_path: Path) -> None:
    good = event(line("Copper", "7403110000")).model_dump(mode="json")
    bad = dict(good, event_id="E-BAD", ship_date="not a date")
    path = _write(tmp_path / "e.json", [good, bad])
    result = runner.invoke(app, ["screen", str(path)])
    assert result.exit_code == 2
    assert "e.json [1] event_id='E-BAD': ship_date" in result.stderr
    assert "Traceback" not in result.stderr


def test_catalogue_validate_and_diff() -> None:
    bundled = "services/screening/catalogue/data/cn-mineral-controls.yaml"
    result = runner.invoke(app, ["catalogue", "validate", bundled])
    assert result.exit_code == 0
    assert result.stdout.startswith("ok 2026-11-30.1+sha256:")
    result = runner.invoke(app, ["catalogue", "diff", bundled, bundled])
    assert result.exit_code == 0
    assert "no changes" in result.stdout
