"""Reading the environment the way the settings classes do, for commands that must start fast.

Pydantic-settings (what :mod:`services.common.settings` builds on) reads only the environment
here, with names matched case-insensitively; :func:`environment_value` does the same, so a
command that needs one or two values can skip importing pydantic (ADR 0007).
"""

from __future__ import annotations

import os


class MissingDatabaseUrlError(RuntimeError):
    """A process was started without the database URL of its own role."""


def environment_value(name: str) -> str | None:
    """``name`` from the environment, matched case-insensitively as pydantic-settings does.

    When several spellings are set, the last in the environment's order wins, as there.
    """
    found: str | None = None
    wanted = name.lower()
    for key, value in os.environ.items():
        if key.lower() == wanted:
            found = value
    return found
