"""The offline CLI reads input under the same rules as the topics: exit 2 naming the field,
never a traceback; careless-but-valid input decided like the plain event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.screening.sample_stream import generate_events
from tests.hostile_corpus import HostileCase, corpus
from tests.unit.engine.factories import event, line

runner = CliRunner()
BASE = generate_events(1, seed=11)[0]
CASES = [c for c in corpus(BASE) if c.value is not None and len(c.value) < 100_000]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_screen_refuses_hostile_files_with_exit_2_or_decides_them(
    case: HostileCase, tmp_path: Path
) -> None:
    assert case.value is not None
    path = tmp_path / "event.json"
    path.write_bytes(case.value)
    result = runner.invoke(app, ["screen", str(path)])
    if case.is_decidable:
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["shipment_id"] == BASE.shipment_id
        return
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not an escaped exception
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.output
    assert case.field in result.stderr


def _single_licence(**changes: Any) -> dict[str, Any]:
    """A single licence for 1,000 kg of samarium items (1C902) held by the factories' exporter."""
    return {
        "license_id": "SL",
        "kind": "single",
        "holder_id": "CN-EXP-0001",
        "status": "active",
        "valid_from": "2026-01-01",
        "valid_to": "2026-12-31",
        "control_codes": ["1C902"],
        "max_quantity": {"amount": "1000", "unit": "kg"},
    } | changes


def _samarium_event(quantity_json: str) -> bytes:
    sm = line("Samarium oxide", "2846901940", quantity="1000")
    text = event(sm, shipment_id="S1", event_id="E1").model_dump_json()
    assert '"quantity":"1000"' in text
    return text.replace('"quantity":"1000"', f'"quantity":{quantity_json}').encode()


@pytest.mark.parametrize(
    ("quantity", "outcome"),
    [
        ("1000", "approve"),
        ('"1000"', "approve"),
        ("1000.0", "approve"),
        ("1000.0000000000000001", "hold"),  # a float would round it to 1000.0 and approve
        ('"1000.0000000000000001"', "hold"),
        ("1E+3", "approve"),
        ("1.0000000000000000001E+3", "hold"),
    ],
)
def test_a_cap_is_checked_against_the_quantity_exactly_as_written(
    quantity: str, outcome: str, tmp_path: Path
) -> None:
    (tmp_path / "licences.json").write_text(json.dumps([_single_licence()]))
    (tmp_path / "event.json").write_bytes(_samarium_event(quantity))
    result = runner.invoke(
        app,
        ["screen", "--licenses", str(tmp_path / "licences.json"), str(tmp_path / "event.json")],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["outcome"] == outcome


def test_a_licence_file_breaking_the_rules_is_refused_naming_the_field(tmp_path: Path) -> None:
    licence = _single_licence(license_id="SL\u0000")
    (tmp_path / "licences.json").write_text(json.dumps([licence]))
    (tmp_path / "event.json").write_bytes(_samarium_event('"1"'))
    result = runner.invoke(
        app,
        ["screen", "--licenses", str(tmp_path / "licences.json"), str(tmp_path / "event.json")],
    )
    assert result.exit_code == 2, result.output
    assert "license_id" in result.stderr


@pytest.mark.parametrize(
    "content",
    [b"[" * 100_000, b'[{"license_id": "A", "license_id": "B"}]', b"\xff", b"{}"],
    ids=["deep nesting", "duplicate key", "not UTF-8", "not an array"],
)
def test_licences_publish_refuses_a_bad_file_before_connecting(
    content: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "licences.json"
    path.write_bytes(content)
    result = runner.invoke(app, ["licenses", "publish", str(path)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ")
