"""Finding Java, Maven and the PostgreSQL binaries, with errors that say what to install."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

INSTALL_HINT = (
    "On Debian/Ubuntu: apt-get install openjdk-17-jre-headless maven postgresql-15 "
    "(then re-run the command)."
)


class MissingPrerequisiteError(RuntimeError):
    """A tool the local runtime needs is not installed."""


def java() -> str:
    """The ``java`` executable, checked to be Java 17 or newer (Kafka 4.x needs 17+)."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not candidate or not Path(candidate).exists():
        raise MissingPrerequisiteError(f"Java 17+ is required to run Kafka. {INSTALL_HINT}")
    out = subprocess.run(
        [candidate, "-version"], capture_output=True, text=True, check=False
    ).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        raise MissingPrerequisiteError(f"could not read the Java version from: {out.strip()!r}")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8" style
        major = int(match.group(2))
    if major < 17:
        raise MissingPrerequisiteError(
            f"Kafka 4.x needs Java 17 or newer; {candidate} is Java {major}. {INSTALL_HINT}"
        )
    return candidate


def maven() -> str:
    """The ``mvn`` executable (needed only while the Kafka jars are not cached yet)."""
    found = shutil.which("mvn")
    if not found:
        raise MissingPrerequisiteError(
            f"Maven is required to fetch the Kafka jars the first time. {INSTALL_HINT}"
        )
    return found


def _major_version(bindir: Path) -> int:
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=False
    ).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(match.group(1)) if match else 0


def postgres_bindir() -> Path:
    """The directory holding ``initdb``/``pg_ctl``/``postgres`` of PostgreSQL 15 or newer.

    Order: ``LODESTONE_PG_BINDIR``, ``/usr/lib/postgresql/15/bin``, then ``pg_config --bindir``.
    """
    candidates: list[Path] = []
    if env := os.environ.get("LODESTONE_PG_BINDIR"):
        candidates.append(Path(env))
    candidates.append(Path("/usr/lib/postgresql/15/bin"))
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if out:
            candidates.append(Path(out))
    for bindir in candidates:
        tools = ("initdb", "pg_ctl", "postgres")
        if all((bindir / tool).exists() for tool in tools) and _major_version(bindir) >= 15:
            return bindir
    raise MissingPrerequisiteError(
        "PostgreSQL 15 server binaries (initdb, pg_ctl, postgres) were not found "
        f"(looked in {', '.join(map(str, candidates))}; set LODESTONE_PG_BINDIR to override). "
        f"{INSTALL_HINT}"
    )
