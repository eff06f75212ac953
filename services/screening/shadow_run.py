"""``lodestone screening run --shadow-catalogue DRAFT``: the shadow in the foreground."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import typer

from services.common.settings import Settings
from services.common.signing import KeyFileError, decision_keys
from services.screening.catalogue import CatalogueError, load_catalogue_file
from services.screening.config import ScreeningSettings
from services.screening.shadow import ShadowService


def run_shadow(settings: Settings, options: ScreeningSettings, draft_file: Path) -> int:
    """Run until SIGTERM/SIGINT; the exit code (2: the draft or the decision keys do not load)."""
    try:
        draft = load_catalogue_file(draft_file)
        keys = decision_keys(settings, "shadow screening")
    except (CatalogueError, KeyFileError) as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    service = ShadowService(settings, options, draft, keys)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, service.stop)
        await service.run()

    asyncio.run(main())
    return 0
