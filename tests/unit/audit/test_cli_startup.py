"""``lodestone audit …`` starts without the service, the API, Kafka or the screening engine.

Each check runs the console entry point in a fresh interpreter (what an auditor's shell does) and
lists the modules it imported; the budget is what an auditor's query needs, nothing more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import typer.main
from typer.core import TyperGroup

from services.cli import app

ROOT = Path(__file__).resolve().parents[3]
#: what ``lodestone audit query`` must not import (each costs tens of milliseconds or more)
HEAVY = (
    "aiokafka",
    "faststream",
    "fastapi",
    "starlette",
    "uvicorn",
    "structlog",
    "services.screening",
    "services.audit.service",
    "services.audit.api",
    "services.audit.verify",
    "services.audit.evidence_pack",
)

_RUN = """
import json, sys
sys.argv = ["lodestone", *json.loads(sys.argv[1])]
from services.cli import main
try:
    main()
except BaseException:  # the query cannot reach a database here; the imports are what counts
    pass
sys.stdout.write("\\nMODULES " + json.dumps(sorted(sys.modules)))
"""


def _modules_of(*args: str, env: dict[str, str] | None = None) -> set[str]:
    environment = {
        **os.environ,
        # nothing listens there: the query fails at connect, after importing what it needs
        "LODESTONE_AUDITOR_DATABASE_URL": "postgresql://nobody:x@127.0.0.1:9/none",
        "LODESTONE_AUDIT_QUERY_TIMEOUT_MS": "1000",
        **(env or {}),
    }
    done = subprocess.run(
        [sys.executable, "-c", _RUN, json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=60,
        check=True,
    )
    return set(json.loads(done.stdout.rpartition("MODULES ")[2]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_audit_query_help_imports_nothing_heavy() -> None:
    modules = _modules_of("audit", "query", "--help")
    assert _heavy(modules) == []
    assert {"asyncio", "asyncpg", "pydantic_settings"}.isdisjoint(modules)  # nothing to run


def test_an_audit_query_imports_only_what_it_needs() -> None:
    modules = _modules_of("audit", "query", "--exporter", "CN-EXP-0001", "--limit", "1")
    assert "asyncpg" in modules  # it did get as far as connecting
    assert _heavy(modules) == []
    # the settings classes are read only for a value not given plainly (ADR 0007)
    assert {"pydantic", "pydantic_core", "pydantic_settings"}.isdisjoint(modules)
    assert not any(m == "rich" or m.startswith("rich.") for m in modules)


def test_a_typed_timeout_is_still_validated_by_the_settings() -> None:
    """A value the plain reader does not take is the settings' to accept or refuse."""
    modules = _modules_of(
        "audit", "query", "--limit", "1", env={"LODESTONE_AUDIT_QUERY_TIMEOUT_MS": "5_000"}
    )
    assert "pydantic_settings" in modules


def test_other_commands_still_get_every_group() -> None:
    modules = _modules_of("catalogue", "--help")
    assert "services.screening.cli" in modules


def test_the_audit_commands_are_those_of_the_full_command_line() -> None:
    """Registering the audit group alone changes nothing an auditor can type."""
    full = typer.main.get_command(app)
    assert isinstance(full, TyperGroup)
    audit = full.commands["audit"]
    assert isinstance(audit, TyperGroup)
    expected = {
        name: sorted(p.name or "" for p in command.params)
        for name, command in audit.commands.items()
    }
    listing = """
import json, typer.main
from services.cli import command_line
group = typer.main.get_command(command_line("audit")).commands["audit"]
print(json.dumps({n: sorted(p.name or "" for p in c.params) for n, c in group.commands.items()}))
"""
    done = subprocess.run(
        [sys.executable, "-c", listing], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert json.loads(done.stdout) == expected
    assert {"run", "query", "show", "verify", "export", "verify-pack", "api", "recent"} <= set(
        expected
    )
