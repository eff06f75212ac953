"""A command that shows decisions refuses to start without a key to check them with (exit 2,
one line naming the setting), rather than show whatever the topic holds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.common.settings import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_decision_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LODESTONE_DECISION_PUBLIC_KEY_FILES", "")
    monkeypatch.setenv("LODESTONE_AUDITOR_DATABASE_URL", "postgresql://nobody:x@127.0.0.1:9/none")
    monkeypatch.setenv("LODESTONE_KAFKA_BOOTSTRAP", "127.0.0.1:9")  # nothing listens
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("args", "reader"),
    [
        (["tail", "--seconds", "1"], "lodestone tail"),
        (["console", "run", "--port", "9"], "the console's live view"),
    ],
)
def test_a_reader_without_decision_keys_exits_2(args: list[str], reader: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: LODESTONE_DECISION_PUBLIC_KEY_FILES is empty")
    assert reader in result.stderr


def test_shadow_screening_without_decision_keys_exits_2(tmp_path: Path) -> None:
    from importlib import resources

    from services.screening.catalogue.loading import BUNDLED_CATALOGUE

    draft = tmp_path / "draft.yaml"
    data = resources.files("services.screening.catalogue.data").joinpath(BUNDLED_CATALOGUE)
    draft.write_text(data.read_text(encoding="utf-8"), encoding="utf-8")
    result = runner.invoke(app, ["screening", "run", "--shadow-catalogue", str(draft)])
    assert result.exit_code == 2, result.output
    assert "shadow screening" in result.stderr
