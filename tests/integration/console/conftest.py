"""Fixtures of the console tests: the real stack once per module, and a headless Chromium.

The browser is Debian's ``chromium`` driven by Playwright (its own browser download is not
used); without it the browser tests are skipped with the reason, never silently passed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from deploy.local import RuntimeState
from tests.integration.console.stack import Stack, console_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def stack(
    runtime: RuntimeState, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    async with console_stack(runtime, tmp_path_factory.mktemp("console")) as s:
        yield s


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[object]:
    playwright_api = pytest.importorskip("playwright.async_api")
    executable = shutil.which("chromium")
    if executable is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)  # .ci/run installs it: missing there is a failure
        pytest.skip(message)
    async with playwright_api.async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            await chromium.close()


SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "console"
