"""Discovery of migration files needs no database."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.migrations import MigrationError, discover


def test_orders_numerically(tmp_path: Path) -> None:
    for name in ("0010_c.sql", "0002_b.sql", "0001_a.sql"):
        (tmp_path / name).write_text("SELECT 1;")
    assert [m.version for m in discover(tmp_path)] == ["0001_a", "0002_b", "0010_c"]


def test_rejects_badly_named_files(tmp_path: Path) -> None:
    (tmp_path / "schema.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_description"):
        discover(tmp_path)


def test_rejects_duplicate_numbers(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "001_b.sql").write_text("SELECT 2;")
    with pytest.raises(MigrationError, match="share a number"):
        discover(tmp_path)


def test_checksum_tracks_content(tmp_path: Path) -> None:
    path = tmp_path / "0001_a.sql"
    path.write_text("SELECT 1;")
    before = discover(tmp_path)[0].checksum
    path.write_text("SELECT 2;")
    assert discover(tmp_path)[0].checksum != before
