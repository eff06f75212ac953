"""``make demo``: the whole pipeline on the local Kafka and PostgreSQL, with sample traffic.

Publishes the bundled catalogue and the sample licences, starts the screening service, the
audit service and the web console (its address and three demo users are printed), publishes a
generated stream of shipment events — granting a licence half-way, which releases the matching
holds — shows the decisions live, then (on a terminal) keeps the console up until Enter is
pressed, stops what it started and ends with the audit trail's newest entries and its
verification.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

from rich.console import Console

from services.common.settings import Settings
from services.common.signing import decision_keys
from services.screening.catalogue import load_bundled_catalogue
from services.screening.publish import publish_catalogue, publish_licences, publish_records
from services.screening.sample_stream import generate_events, late_licence, sample_licences
from services.screening.tail import tail

EVENTS = int(os.environ.get("LODESTONE_DEMO_EVENTS", "120"))
SHOW_SECONDS = float(os.environ.get("LODESTONE_DEMO_SECONDS", "25"))
LOG_DIR = Path(".local/demo")
console = Console(stderr=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cli() -> str:
    return str(Path(sys.executable).parent / "lodestone")


def _start(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = (LOG_DIR / f"{name}.log").open("wb")
    console.print(f"[bold]starting {name}[/] (logs: {LOG_DIR / (name + '.log')})")
    return subprocess.Popen([_cli(), *args], env=env, stdout=log, stderr=subprocess.STDOUT)


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback only)
        return int(response.status), response.read().decode()


async def _wait_for(url: str, what: str, seconds: float = 60) -> None:
    """Poll ``url`` until it answers 200, or fail saying ``what`` did not come up."""
    for _ in range(int(seconds * 4)):
        try:
            status, _ = await asyncio.to_thread(_get, url)
            if status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.25)
    raise RuntimeError(f"{what} ({url})")


async def _wait_ready(port: int, seconds: float = 60) -> None:
    await _wait_for(
        f"http://127.0.0.1:{port}/readyz", "the screening service is not ready", seconds
    )


def _demo_users() -> tuple[str, list[tuple[str, str, str]]]:
    """``LODESTONE_CONSOLE_USERS`` for three demo users with fresh secrets, and the secrets."""
    from services.console.auth import Role, UserEntry, hash_secret

    people = [
        ("viewer", "Vic Viewer", Role.VIEWER),
        ("reviewer", "Rae Reviewer", Role.REVIEWER),
        ("reviewer2", "Rob Reviewer", Role.REVIEWER),
        ("auditor", "Ada Auditor", Role.AUDITOR),
    ]
    entries, shown = [], []
    for user_id, name, role in people:
        secret = secrets.token_urlsafe(12)
        entries.append(UserEntry(id=user_id, name=name, role=role, secret_hash=hash_secret(secret)))
        shown.append((user_id, role.value, secret))
    return "[" + ",".join(e.model_dump_json() for e in entries) + "]", shown


async def _wait_console(port: int, seconds: float = 60) -> None:
    await _wait_for(f"http://127.0.0.1:{port}/console/login", "the console did not answer", seconds)


async def _publish_stream(settings: Settings) -> None:
    run_id = uuid.uuid4().hex[:6].upper()
    # The seed's event ids, made this run's own: a second demo on the same runtime is screened
    # afresh instead of being answered with the first run's stored decisions (ERP retries
    # within the run keep their shared id).
    events = [
        e.model_copy(
            update={"event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run_id}/{e.event_id}"))}
        )
        for e in generate_events(EVENTS, seed=2026, shipment_prefix=f"SHP-{run_id}")
    ]
    half = len(events) // 2
    for index, event in enumerate(events):
        if index == half:
            licence = late_licence()
            await publish_licences(settings.kafka_bootstrap, settings.topic_licenses, [licence])
            console.print(f"[bold yellow]licence {licence.license_id} granted to "
                          f"{licence.holder_id}: its open holds are re-screened[/]")  # fmt: skip
        key, value = event.exporter.id.encode(), event.model_dump_json().encode()
        await publish_records(settings.kafka_bootstrap, settings.topic_shipments, [(key, value)])
        await asyncio.sleep(0.05)
    console.print(f"[bold]published {len(events)} shipment events[/]")


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


async def run(settings: Settings) -> None:
    catalogue = load_bundled_catalogue()
    await publish_catalogue(settings.kafka_bootstrap, settings.topic_controls, catalogue)
    console.print(f"published catalogue {catalogue.version}")
    licences = sample_licences()
    await publish_licences(settings.kafka_bootstrap, settings.topic_licenses, licences)
    console.print(f"published {len(licences)} sample licences")
    port = _free_port()
    env = os.environ | {
        "LODESTONE_SCREENING_METRICS_PORT": str(port),
        "LODESTONE_LOG_LEVEL": "INFO",
    }
    processes = [_start("screening", ["screening", "run"], env)]
    processes.append(_start("audit", ["audit", "run"], env))
    console_port = int(os.environ.get("LODESTONE_CONSOLE_PORT") or _free_port())
    users, shown_users = _demo_users()
    console_env = env | {
        "LODESTONE_CONSOLE_USERS": users,
        "LODESTONE_CONSOLE_PORT": str(console_port),
    }
    processes.append(_start("console", ["console", "run"], console_env))
    try:
        await _wait_ready(port)
        await _wait_console(console_port)
        console.print(f"[bold green]console: http://127.0.0.1:{console_port}/console[/]")
        for user_id, role, secret in shown_users:
            console.print(f"  sign in as [bold]{user_id}[/] ({role}) with secret {secret}")
        console.print("[bold green]screening service ready[/] — decisions as they happen:")
        shown = Console()
        watcher = asyncio.create_task(
            tail(bootstrap=settings.kafka_bootstrap, topic=settings.topic_decisions,
                 keys=decision_keys(settings, "the demo"), seconds=SHOW_SECONDS, console=shown)
        )  # fmt: skip
        await asyncio.sleep(1.0)
        await _publish_stream(settings)
        count = await watcher
        console.print(f"[bold]{count} decisions shown[/]")
        _, metrics = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics")
        totals = Counter[str]()
        for line in metrics.splitlines():
            if line.startswith("lodestone_screening_decisions_total{"):
                labels, value = line.rsplit(" ", 1)
                totals[labels.split('outcome="')[1].split('"')[0]] += int(float(value))
        console.print(f"decisions by outcome (metrics): {dict(totals)}")
        console.print(f"[bold green]console: http://127.0.0.1:{console_port}/console[/]")
        if sys.stdin.isatty():
            await asyncio.to_thread(input, "the console stays up: press Enter to stop the demo ")
    finally:
        await asyncio.to_thread(_stop, processes)


def _audit_epilogue() -> int:
    console.print("[bold]audit trail: newest decisions and chain verification[/]")
    subprocess.run([_cli(), "audit", "recent"], check=False)
    return subprocess.run([_cli(), "audit", "verify"], check=False).returncode


def main() -> None:
    asyncio.run(run(Settings()))
    raise SystemExit(_audit_epilogue())


if __name__ == "__main__":
    main()
