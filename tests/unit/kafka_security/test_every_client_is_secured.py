"""Every Kafka client in the code base is built with the one function that adds security.

A consumer, producer, admin client or FastStream broker built without it would speak PLAINTEXT
to a secured cluster (and fail there), or worse, connect unauthenticated to an open listener.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("services", "schemas", "deploy", "benchmarks", "tests")
CLIENTS = {"AIOKafkaConsumer", "AIOKafkaProducer", "AIOKafkaAdminClient", "KafkaBroker"}
OPTION_BUILDERS = {"kafka_client_options", "kafka_broker_options"}


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def unsecured_client_calls(source: str, filename: str) -> list[str]:
    """``file:line Client`` for every client constructor call without the security options."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call) or _name(node.func) not in CLIENTS:
            continue
        expanded = [
            k.value
            for k in node.keywords
            if k.arg is None and isinstance(k.value, ast.Call) and _name(k.value.func)
        ]
        if not any(_name(call.func) in OPTION_BUILDERS for call in expanded):
            found.append(f"{filename}:{node.lineno} {_name(node.func)}")
    return found


def _python_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def test_every_kafka_client_is_built_with_the_security_options() -> None:
    files = _python_files()
    assert len(files) > 50  # the scan really looked at the code base
    calls = sum(
        1
        for p in files
        for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(n, ast.Call) and _name(n.func) in CLIENTS
    )
    assert calls >= 30, calls
    offenders = [
        hit
        for p in files
        for hit in unsecured_client_calls(p.read_text(encoding="utf-8"), str(p.relative_to(ROOT)))
    ]
    assert offenders == [], "build these with **kafka_client_options(...):\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    "source",
    [
        "AIOKafkaProducer(bootstrap_servers=b)",
        "aiokafka.AIOKafkaConsumer('t', bootstrap_servers=b, **other())",
        "AIOKafkaAdminClient(bootstrap_servers=b, **options)",
        "KafkaBroker(b, acks='all')",
    ],
)
def test_the_scan_finds_a_client_built_without_them(source: str) -> None:
    assert len(unsecured_client_calls(source, "x.py")) == 1


@pytest.mark.parametrize(
    "source",
    [
        "AIOKafkaProducer(bootstrap_servers=b, **kafka_client_options())",
        "KafkaBroker(b, **kafka_broker_options(settings))",
    ],
)
def test_the_scan_accepts_a_client_built_with_them(source: str) -> None:
    assert unsecured_client_calls(source, "x.py") == []
