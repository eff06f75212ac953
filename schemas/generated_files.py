"""Writing generated contract files (JSON Schemas, AsyncAPI, examples) only when they change."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def write_changed(files: Iterable[tuple[Path, str]]) -> int:
    """Write each ``(path, text)`` whose file is missing or differs, saying so; 0 (an exit code).

    Unchanged files are left alone, so that a regeneration leaves ``git status`` clean.
    """
    for path, text in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return 0
